"""Deduplicate: one article per distinct clean body, within the run and against the output.

Two inputs are exact duplicates when their clean bodies hash the same (`content_sha256`, computed
after boilerplate removal, so copies with different banners match). Stories already in the output
folder (from earlier runs) are read from its Parquet files, so rerunning the same inputs into the
same output adds no row. The kept copy is chosen deterministically: earliest published (undated
last), then smallest `article_id`, so every runner and every rerun gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from schemas import Article, Duplicate
from transforms.routing import SplitOff

NEW, EXISTING = "new", "existing"
_LATEST = datetime.max.replace(tzinfo=UTC)


def _order(article: Article) -> tuple[datetime, str]:
    return (article.published_at or _LATEST, article.article_id)


def choose_original(
    copies: Iterable[Article], existing_ids: Iterable[str] = ()
) -> tuple[Article | None, list[Duplicate]]:
    """(the article to write or None, a Duplicate for every other copy) for one content hash."""
    ordered = sorted(copies, key=_order)
    existing = sorted(set(existing_ids))
    if existing:
        kept, original, reason = None, existing[0], "already_in_output"
        others = ordered
    else:
        if not ordered:
            return None, []
        kept, original, reason = ordered[0], ordered[0].article_id, "exact"
        others = ordered[1:]
    duplicates = [
        Duplicate(
            source_uri=a.source_uri,
            article_id=a.article_id,
            duplicate_of=original,
            similarity=1.0,
            reason=reason,
        )
        for a in others
    ]
    return kept, duplicates


class ReadIndexFn(beam.DoFn):
    """An articles Parquet file of an earlier run → (content_sha256, article_id) pairs."""

    def process(self, readable: fileio.ReadableFile):
        with readable.open() as handle:
            table = pq.read_table(handle, columns=["content_sha256", "article_id"])
        yield from zip(
            table.column("content_sha256").to_pylist(),
            table.column("article_id").to_pylist(),
            strict=True,
        )


class ChooseOriginalFn(beam.DoFn):
    """(content_sha256, [("new", Article) | ("existing", article_id), …]) → the kept Article
    and a Duplicate for every other copy."""

    def __init__(self) -> None:
        self._kept = Metrics.counter("dedup", "kept")
        self._duplicates = Metrics.counter("dedup", "duplicates")

    def process(self, element):
        _sha, tagged = element
        copies = [value for tag, value in tagged if tag == NEW]
        existing = [value for tag, value in tagged if tag == EXISTING]
        kept, duplicates = choose_original(copies, existing)
        if kept is not None:
            self._kept.inc()
            yield kept
        for duplicate in duplicates:
            self._duplicates.inc()
            yield duplicate


class Deduplicate(beam.PTransform):
    """Articles → (one Article per distinct body not yet in the output, Duplicates)."""

    def __init__(self, existing_pattern: str | None) -> None:
        super().__init__()
        self._existing_pattern = existing_pattern

    def expand(self, articles):
        new = articles | "KeyByContent" >> beam.Map(lambda a: (a.content_sha256, (NEW, a)))
        existing = (
            articles.pipeline
            | "ListExistingOutput"
            >> beam.Create([self._existing_pattern] if self._existing_pattern else [])
            | "MatchExistingOutput" >> fileio.MatchAll()
            | "OpenExistingOutput" >> fileio.ReadMatches()
            | "ReadExistingIndex" >> beam.ParDo(ReadIndexFn())
            | "TagExisting" >> beam.MapTuple(lambda sha, article_id: (sha, (EXISTING, article_id)))
        )
        results = (
            (new, existing)
            | "MergeWithExisting" >> beam.Flatten()
            | "GroupCopies" >> beam.GroupByKey()
            | "ChooseOriginal" >> beam.ParDo(ChooseOriginalFn())
        )
        return results | "SplitDuplicates" >> SplitOff(Duplicate)
