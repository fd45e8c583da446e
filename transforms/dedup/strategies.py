"""The three ways a run deduplicates, one PTransform each: Articles → (Articles to write,
Duplicates).

- `ShuffleDedup`: a batch run of any size (Dataflow). Every row of the earlier output
  is read and joined with the run's articles by CoGroupByKey; candidate pairs are found by a
  GroupByKey on LSH band keys.
- `LookupDedup`: a run of bounded size (a chunk of a local or Dask run). Only the rows of the
  earlier output that may match one of its articles are read (`earlier.OutputLookup`); they, and the
  placements found in memory, reach the articles as side inputs (a CoGroupByKey costs one more
  stage, which decodes and encodes every article).
- `WindowedDedup`: a streaming run, whose articles are in fixed windows: stories are compared
  within each window, and with the output as it is when the window is complete.

Each goes through the same stages: exact copies grouped by content hash (`stories`), one
Sketch per story, near duplicates and revisions placed (`near`), the kept copy chosen.
`choose_strategy` picks one from the run's kind. The DoFns that drop copies emit their
Duplicates beside their results, split by type with `routing.SplitOff` (tagged outputs are not
kept apart by the Dask runner; see `transforms/routing.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from newsbeam.schemas import Article, Duplicate
from newsbeam.transforms.dedup.earlier import ReadExistingAsOfWindow, ReadExistingOutput
from newsbeam.transforms.dedup.near import (
    bucket_keys,
    comparable,
    lsh_buckets,
    place_stories,
    verified_pairs,
)
from newsbeam.transforms.dedup.signature import lsh_bands
from newsbeam.transforms.dedup.stories import (
    Placement,
    Sketch,
    choose_original,
    order_copies,
    resolve_story,
    story_sketch,
)
from newsbeam.transforms.defaults import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from newsbeam.transforms.routing import SplitOff

REASONS = ("exact", "near", "already_in_output", "superseded")


class _ExactCopies:
    """Counting and splitting one content hash's copies (shared by both exact-copy DoFns)."""

    def __init__(self) -> None:
        self._stories = Metrics.counter("dedup", "stories")
        self._in_output = Metrics.counter("dedup", "already_in_output")
        self._copies = Metrics.distribution("dedup", "copies_per_story")

    def split(self, copies: list[Article], earlier: list[Sketch]):
        if not copies:
            return
        if earlier:
            _kept, duplicates = choose_original(copies, earlier)
            self._in_output.inc(len(duplicates))
            yield from duplicates
            return
        self._stories.inc()
        self._copies.update(len(copies))
        yield order_copies(copies)


class JoinedExactCopiesFn(beam.DoFn, _ExactCopies):
    """(content_sha256, {"new": [Article, …], "existing": [Sketch, …]}) → the story (its copies
    in keep order) unless the output has it; else a Duplicate per copy."""

    def __init__(self) -> None:
        beam.DoFn.__init__(self)
        _ExactCopies.__init__(self)

    def process(self, element):
        _sha, grouped = element
        yield from self.split(list(grouped["new"]), list(grouped["existing"]))


class LookedUpExactCopiesFn(beam.DoFn, _ExactCopies):
    """(content_sha256, [Article, …]) and the output's sketches as a side input, `existing`
    ({content_sha256: [Sketch, …]}) → as JoinedExactCopiesFn."""

    def __init__(self) -> None:
        beam.DoFn.__init__(self)
        _ExactCopies.__init__(self)

    def process(self, element, existing: Mapping[str, Iterable[Sketch]]):
        sha, copies = element
        yield from self.split(list(copies), list(existing.get(sha, ())))


class _Choose:
    """Writing or dropping the copies of one story (shared by both choosing DoFns)."""

    def __init__(self) -> None:
        self._kept = Metrics.counter("dedup", "kept")
        self._reasons = {reason: Metrics.counter("dedup", reason) for reason in REASONS}

    def choose(self, story: Sequence[Article], placement: Placement | None):
        kept, duplicates = resolve_story(story, placement)
        if kept is not None:
            self._kept.inc()
            yield kept
        for duplicate in duplicates:
            self._reasons[duplicate.reason].inc()
            yield duplicate


class JoinedChooseOriginalFn(beam.DoFn, _Choose):
    """(story article_id, {"story": [[Article, …]], "placement": [Placement]}) → the kept
    Article, and a Duplicate for every copy not written and every earlier article superseded."""

    def __init__(self) -> None:
        beam.DoFn.__init__(self)
        _Choose.__init__(self)

    def process(self, element):
        _id, grouped = element
        found = list(grouped["placement"])
        for story in grouped["story"]:
            yield from self.choose(story, found[0] if found else None)


class LookedUpChooseOriginalFn(beam.DoFn, _Choose):
    """A story ([Article, …]) and the placements as a side input, `placements` ({story
    article_id: Placement}) → as JoinedChooseOriginalFn."""

    def __init__(self) -> None:
        beam.DoFn.__init__(self)
        _Choose.__init__(self)

    def process(self, story, placements: Mapping[str, Placement]):
        yield from self.choose(story, placements.get(story[0].article_id))


class VerifyCandidatesFn(beam.DoFn):
    """(bucket key, [Sketch, …]) → the verified pairs of the bucket, keyed by the pair's nodes."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._buckets = Metrics.distribution("dedup", "candidate_bucket_size")
        self._pairs = Metrics.counter("dedup", "verified_pairs_per_band")

    def process(self, element):
        _key, bucket = element
        bucket = list(bucket)
        if not comparable(bucket):
            return
        self._buckets.update(len(bucket))
        for edge in verified_pairs(bucket, self._threshold):
            self._pairs.inc()
            yield (edge[0].node, edge[1].node), edge


class PlaceInMemoryFn(beam.DoFn):
    """All Sketches of a bounded run, in one list → (story article_id, Placement): the buckets
    and pairs of the band shuffle, found in a dict instead.

    Example input: [Sketch("9f…", …), Sketch("a0…", …, existing=True), …]
    """

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._buckets = Metrics.distribution("dedup", "candidate_bucket_size")
        self._pairs = Metrics.counter("dedup", "verified_pairs_per_band")

    def process(self, sketches: list[Sketch]):
        bands, rows = lsh_bands(self._threshold)
        edges: set = set()
        for bucket in lsh_buckets(sketches, bands, rows):
            self._buckets.update(len(bucket))
            pairs = verified_pairs(bucket, self._threshold)
            self._pairs.inc(len(pairs))
            edges.update(pairs)
        yield from place_stories(edges, self._threshold)


class ShufflePlacements(beam.PTransform):
    """Sketches (this run's stories and the output's) → (story article_id, Placement) for every
    story of this run that copies a kept story or supersedes an earlier one. Each sketch goes to
    the bucket of each of its keys (a GroupByKey), which scales with the runner's shuffle."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self._threshold = threshold

    def expand(self, sketches):
        threshold = self._threshold
        bands, rows = lsh_bands(threshold)
        return (
            sketches
            | "KeyByBand"
            >> beam.FlatMap(lambda s: [(key, s) for key in bucket_keys(s, bands, rows)])
            | "GroupByBand" >> beam.GroupByKey()
            | "VerifyCandidates" >> beam.ParDo(VerifyCandidatesFn(threshold))
            # One constant string key: None hashes differently in each process on Python 3.11,
            # which a multi-process Dask cluster's grouping would split. One worker holds the
            # verified pairs of the run: only the actual near-duplicate pairs, few beside the
            # articles. A pair found in several bands is gathered once (the set is combined on
            # each worker before the shuffle).
            | "KeyAllPairs" >> beam.MapTuple(lambda _nodes, edge: ("all-pairs", edge))
            | "GatherPairs" >> beam.CombinePerKey(beam.combiners.ToSetCombineFn())
            | "PlaceStories"
            >> beam.FlatMapTuple(lambda _key, edges: place_stories(edges, threshold))
        )


def _sketches(stories, existing):
    """This run's stories and the output's stories that can be compared (a signature) or
    revised (a path or URL), as Sketches."""
    return (
        stories | "ComputeSignatures" >> beam.Map(story_sketch),
        existing
        | "ExistingSketches"
        >> beam.FlatMapTuple(
            lambda _sha, sketch: [sketch] if sketch.signature or sketch.names else []
        ),
    ) | "CollectSketches" >> beam.Flatten()


def _shuffled(articles, existing, threshold: float):
    """The stages of ShuffleDedup and WindowedDedup once the earlier output is read."""
    by_content = articles | "KeyByContent" >> beam.Map(lambda a: (a.content_sha256, a))
    exact = (
        {"new": by_content, "existing": existing}
        | "GroupExactCopies" >> beam.CoGroupByKey()
        | "SplitExactCopies" >> beam.ParDo(JoinedExactCopiesFn())
    )
    stories, in_output = exact | "SplitInOutput" >> SplitOff(Duplicate)
    placements = _sketches(stories, existing) | "PlaceNearDuplicates" >> ShufflePlacements(
        threshold
    )
    chosen = (
        {
            "story": stories | "KeyStories" >> beam.Map(lambda s: (s[0].article_id, s)),
            "placement": placements,
        }
        | "JoinPlacements" >> beam.CoGroupByKey()
        | "ChooseOriginal" >> beam.ParDo(JoinedChooseOriginalFn())
    )
    kept, copies = chosen | "SplitDuplicates" >> SplitOff(Duplicate)
    return kept, (in_output, copies) | "CollectDuplicates" >> beam.Flatten()


class _Strategy(beam.PTransform):
    def __init__(
        self,
        folders: Iterable[str],
        threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        run_id: str | None = None,
    ) -> None:
        super().__init__()
        lsh_bands(threshold)  # fails here, at construction, on a threshold out of range
        self._folders = list(folders)
        self._threshold = threshold
        self._run_id = run_id


class ShuffleDedup(_Strategy):
    """Articles → (one Article per story not yet in `folders`, Duplicates), by shuffles.

    `folders`: output folders of earlier runs (the run's own, and any `--dedup-against`).
    `run_id`: this run's, whose own files in the output are not read as earlier output.
    """

    def expand(self, articles):
        existing = articles.pipeline | "ReadExistingOutput" >> ReadExistingOutput(
            self._folders, self._threshold, None, self._run_id
        )
        return _shuffled(articles, existing, self._threshold)


class WindowedDedup(_Strategy):
    """Windowed Articles → (one Article per story not yet in `folders`, Duplicates), each
    window compared with the output as it is when the window's articles are complete."""

    def expand(self, articles):
        existing = articles | "ReadExistingOutput" >> ReadExistingAsOfWindow(self._folders)
        return _shuffled(articles, existing, self._threshold)


class LookupDedup(_Strategy):
    """Articles of a bounded run → (one Article per story not yet in `folders`, Duplicates),
    reading only the rows of the output that may match them, and placing stories in memory."""

    def expand(self, articles):
        threshold = self._threshold
        existing = articles.pipeline | "ReadExistingOutput" >> ReadExistingOutput(
            self._folders, threshold, articles, self._run_id
        )
        exact = (
            articles
            | "KeyByContent" >> beam.Map(lambda a: (a.content_sha256, a))
            | "GroupExactCopies" >> beam.GroupByKey()
            | "SplitExactCopies"
            >> beam.ParDo(
                LookedUpExactCopiesFn(),
                # AsDict: read once per bundle (AsMultiMap asks the runner once per key).
                existing=beam.pvalue.AsDict(existing | "GroupExisting" >> beam.GroupByKey()),
            )
        )
        stories, in_output = exact | "SplitInOutput" >> SplitOff(Duplicate)
        placements = (
            _sketches(stories, existing)
            | "GatherSketches" >> beam.combiners.ToList()
            | "PlaceInMemory" >> beam.ParDo(PlaceInMemoryFn(threshold))
        )
        chosen = stories | "ChooseOriginal" >> beam.ParDo(
            LookedUpChooseOriginalFn(), placements=beam.pvalue.AsDict(placements)
        )
        kept, copies = chosen | "SplitDuplicates" >> SplitOff(Duplicate)
        return kept, (in_output, copies) | "CollectDuplicates" >> beam.Flatten()


def choose_strategy(
    folders: str | Iterable[str] | None,
    threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    per_window: bool = False,
    lookup: bool = False,
    run_id: str | None = None,
) -> _Strategy:
    """The strategy for a run: `per_window` (a streaming run) → WindowedDedup; `lookup` (a
    chunk of a local or Dask run) → LookupDedup; else ShuffleDedup. `folders`: the earlier
    outputs to deduplicate against (one folder, several, or None)."""
    if folders is None:
        folders = []
    elif isinstance(folders, str):
        folders = [folders]
    if per_window:
        return WindowedDedup(folders, threshold, run_id)
    if lookup:
        return LookupDedup(folders, threshold, run_id)
    return ShuffleDedup(folders, threshold, run_id)
