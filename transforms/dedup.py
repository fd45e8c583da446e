"""Deduplicate: one article per story, within the run and against an existing output.

Every copy that is not written goes to `duplicates/`, pointing at the article kept:
- "exact": the same clean body (`content_sha256` ignores case, spacing and punctuation, and is
  computed after boilerplate removal, so copies with other banners match); similarity 1.0.
- "near": a MinHash near-duplicate (a few words edited, added or cut); similarity is the
  estimated Jaccard similarity of the two bodies' word shingles.
- "already_in_output": the story is in the output of an earlier run (`--dedup-against DIR`, by
  default the output itself): read from `DIR/articles/` (exact matches) and `DIR/_index/`
  (signatures, for near matches); similarity 1.0 when exact.

Near duplicates, every step deterministic so that every runner and every rerun agree:
1. Exact copies are grouped by content hash; the first in keep order represents the story.
2. Each story gets a MinHash signature: NUM_PERM slots, datasketch's "affine32" scheme with a fixed
   seed, SHA-1 of each SHINGLE_WORDS-word shingle of the case-folded words (`schemas.text.words`:
   `\\w+` runs, a CJK character each; equal `\\w+` runs, which `content_sha256` hashes, give
   equal words, so exact copies always have equal signatures).
3. The signature is cut into b bands of r slots (datasketch's optimum for the threshold, weighted
   towards recall: a candidate costs one comparison, a missed pair is a duplicate row); stories
   are grouped by band key (GroupByKey).
4. Within a band bucket every pair with at least one story of this run is verified: estimated
   Jaccard (the share of equal signature slots) >= threshold.
5. The verified pairs are gathered as a set under one key and resolved into connected
   components by union-find, so copies of copies form one cluster. One worker holds the verified
   pairs of the run: they are only the actual near-duplicate pairs, few beside the articles; a run
   with tens of millions of them would need iterative min-label propagation instead.
6. The kept article is the first of its cluster in keep order: a story already in the output,
   then the earliest published (undated last), then the smallest `article_id`. A copy's
   similarity is its estimated Jaccard to the kept article, which can fall below the threshold
   for a copy that joined the cluster through another copy.

Every written article also leaves an IndexEntry (`index_entry`) in `DIR/_index/`.
"""

from __future__ import annotations

import functools
import struct
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io import fileio
from apache_beam.metrics import Metrics
from datasketch import MinHash, MinHashLSH

from newsbeam.schemas import Article, Duplicate, IndexEntry
from newsbeam.schemas.layout import read_output_columns, table_patterns
from newsbeam.schemas.text import WORDS
from newsbeam.transforms.defaults import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from newsbeam.transforms.routing import SplitOff
from newsbeam.transforms.skip import EarlierOutputFiles

SHINGLE_WORDS = 5
NUM_PERM = 128
MINHASH_SEED = 1
LSH_WEIGHTS = (0.2, 0.8)  # (false positive, false negative) weights of the band/row optimum
SKETCH = f"minhash-affine32-sha1-seed{MINHASH_SEED}-perm{NUM_PERM}-words{SHINGLE_WORDS}"

Signature = tuple[int, ...]

_WORD = WORDS  # `\w+` runs and each CJK character (`schemas.text.words`)
_LATEST = datetime.max.replace(tzinfo=UTC)


# ---- signatures


def word_shingles(body: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of `size`-word shingles of the case-folded words of `body` (`schemas.text.words`).

    A body of `size` words or fewer is one shingle; a body without a word has none.
    """
    tokens = _WORD.findall(body.casefold())
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@functools.cache
def _permutations() -> Any:
    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32").permutations


def minhash_signature(shingles: Iterable[str]) -> Signature:
    """The MinHash of a set of shingles (NUM_PERM slots, fixed seed); () for an empty set.

    The same shingles give the same signature in every process and on every machine.
    """
    encoded = [shingle.encode("utf-8") for shingle in shingles]
    if not encoded:
        return ()
    minhash = MinHash(
        num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32", permutations=_permutations()
    )
    minhash.update_batch(encoded)
    return tuple(int(value) for value in minhash.hashvalues)


def body_signature(body: str) -> Signature:
    """`minhash_signature(word_shingles(body))`."""
    return minhash_signature(word_shingles(body))


# A worker signs an article up to three times (lookup keys, story sketch, index entry); it
# remembers the signatures of the last RECENT_SIGNATURES content hashes, packed as 32-bit
# values (512 bytes each; a tuple of 128 Python ints takes about 5 KB).
RECENT_SIGNATURES = 4096
_recent_signatures: dict[str, array] = {}


def article_signature(article: Article) -> Signature:
    """`body_signature(article.body)`, computed once per content hash in a worker: the
    signature depends only on the tokens `content_sha256` hashes."""
    packed = _recent_signatures.get(article.content_sha256)
    if packed is not None:
        return tuple(packed)
    signature = body_signature(article.body)
    if len(_recent_signatures) >= RECENT_SIGNATURES:
        _recent_signatures.pop(next(iter(_recent_signatures), ""), None)
    _recent_signatures[article.content_sha256] = array("I", signature)
    return signature


def estimated_jaccard(a: Signature, b: Signature) -> float:
    """The share of slots where two signatures agree: MinHash's estimate of the Jaccard
    similarity of the two shingle sets (datasketch's `MinHash.jaccard`). 0.0 if either is empty."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two sets (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@functools.cache
def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH chooses for `threshold` with
    LSH_WEIGHTS. Raises ValueError unless 0 < threshold < 1."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the near-duplicate threshold must be between 0 and 1, not {threshold}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


def band_keys(signature: Signature, bands: int, rows: int) -> list[str]:
    """One key per band: "BBB-" and the band's slots in hex (4 bytes each, little-endian). Two
    signatures share a key exactly when one of their bands is equal. [] if empty."""
    if not signature:
        return []
    keys = []
    for band in range(bands):
        values = signature[band * rows : (band + 1) * rows]
        keys.append(f"{band:03d}-{struct.pack(f'<{rows}I', *values).hex()}")
    return keys


# Fixed odd multipliers of a 64-bit hash of a band (its slots and its number), for comparing the
# bands of many rows at once; any collision is caught by the exact check that follows.
_BAND_MIX = np.random.default_rng(20240501).integers(
    1, 2**63, size=NUM_PERM + 1, dtype=np.uint64
) | np.uint64(1)


def band_hashes(band: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of (band number, the band's `rows` slots): equal bands give equal
    hashes. `band`: shape (n,); `slots`: shape (n, rows); arithmetic wraps modulo 2^64."""
    rows = slots.shape[1]
    mixed = (slots.astype(np.uint64) * _BAND_MIX[:rows]).sum(axis=1, dtype=np.uint64)
    return mixed + band.astype(np.uint64) * _BAND_MIX[NUM_PERM]


class OutputLookup:
    """The `lookup_keys` of a run's articles, to find the rows of an earlier output's file that
    may match one of them a whole table at a time: content hashes with Arrow's `is_in`, band
    keys as 64-bit hashes with numpy, so only those rows become Python objects (and get the
    exact `may_match`). Reading each `_index/` row in Python cost 178 µs (200,000 rows: 35.6 s,
    for every chunk of a local run).
    """

    def __init__(self, wanted: frozenset[str], bands: int, rows: int) -> None:
        self.wanted = wanted
        self._bands, self._rows = bands, rows
        keyed = [key for key in wanted if len(key) == 4 + 8 * rows and key[3] == "-"]
        self._shas = pa.array(sorted(wanted.difference(keyed)), pa.string())
        slots = np.frombuffer(bytes.fromhex("".join(key[4:] for key in keyed)), "<u4")
        band = np.array([int(key[:3]) for key in keyed], dtype=np.int64)
        self._hashes = np.unique(band_hashes(band, slots.reshape(len(keyed), rows)))

    def rows(self, table: pa.Table) -> np.ndarray:
        """Which rows of `table` (`content_sha256`, and `sketch` and `signature` for `_index/`
        rows) may match: their hash is wanted, or a band of a signature of this SKETCH is."""
        found = np.array(pc.is_in(table.column("content_sha256"), value_set=self._shas), bool)
        if "signature" not in table.column_names or "sketch" not in table.column_names:
            return found
        signatures = table.column("signature")
        usable = pc.and_(
            pc.equal(table.column("sketch"), SKETCH),
            pc.equal(pc.list_value_length(signatures), NUM_PERM),
        )
        index = np.flatnonzero(pc.fill_null(usable, False).to_numpy(zero_copy_only=False) & ~found)
        if not len(index) or not len(self._hashes):
            return found
        flat = pc.list_flatten(signatures.take(pa.array(index)))
        slots = flat.to_numpy().astype(np.uint64).reshape(len(index), NUM_PERM)
        banded = np.zeros(len(index), dtype=bool)
        for band in range(self._bands):
            block = slots[:, band * self._rows : (band + 1) * self._rows]
            hashes = band_hashes(np.full(len(index), band), block)
            # A binary search in the sorted hashes (np.isin re-derives both arrays every call)
            at = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
            banded |= self._hashes[at] == hashes
        found[index[banded]] = True
        return found


def near_duplicate(a: Signature, b: Signature, threshold: float) -> bool:
    """What the pipeline decides for one pair: the signatures share an LSH band key (so the pair
    is compared at all) and their estimated Jaccard is >= threshold."""
    bands, rows = lsh_bands(threshold)
    if estimated_jaccard(a, b) < threshold:
        return False
    return not set(band_keys(a, bands, rows)).isdisjoint(band_keys(b, bands, rows))


# ---- choosing the kept copy


def _order(article: Article) -> tuple[datetime, str]:
    return (article.published_at or _LATEST, article.article_id)


@dataclass(frozen=True)
class Sketch:
    """A story as duplicate search sees it: its (representative) article's id and date, its
    signature (() when unknown), and whether an earlier run wrote it (`existing`)."""

    article_id: str
    published_at: datetime | None
    signature: Signature = ()
    existing: bool = False

    @property
    def node(self) -> tuple[bool, str]:
        """Identity in the similarity graph (a new story may share an id with an old one)."""
        return (self.existing, self.article_id)

    def order(self) -> tuple[int, datetime, str]:
        """Keep order: stories in the output first, then earliest published, then smallest id."""
        return (0 if self.existing else 1, self.published_at or _LATEST, self.article_id)


Edge = tuple[Sketch, Sketch, float]


def order_copies(copies: Iterable[Article]) -> list[Article]:
    """Copies in keep order: earliest published (undated last), then smallest article_id."""
    return sorted(copies, key=_order)


def story_sketch(story: Sequence[Article]) -> Sketch:
    """The Sketch of a story of this run: its first copy's id and date, the body's signature."""
    first = story[0]
    return Sketch(first.article_id, first.published_at, article_signature(first))


def index_entry(article: Article) -> IndexEntry:
    """The `_index/` row a written article leaves for later runs."""
    return IndexEntry(
        article_id=article.article_id,
        content_sha256=article.content_sha256,
        published_at=article.published_at,
        sketch=SKETCH,
        signature=list(article_signature(article)),
    )


def lookup_keys(article: Article, bands: int, rows: int) -> list[str]:
    """The keys by which an article finds its matches in an earlier output: its content hash
    (exact copies) and its LSH band keys (near duplicates)."""
    return [article.content_sha256, *band_keys(article_signature(article), bands, rows)]


def may_match(sha: str, sketch: Sketch, wanted: frozenset[str], bands: int, rows: int) -> bool:
    """Whether a story of an earlier output can match an article with `lookup_keys` in
    `wanted`: the same content hash, or a shared band key (the only pairs ever compared)."""
    if sha in wanted:
        return True
    return any(key in wanted for key in band_keys(sketch.signature, bands, rows))


def existing_sketch(row: dict[str, Any]) -> tuple[str, Sketch]:
    """A row of an earlier run's `articles/` or `_index/` file → (content_sha256, Sketch).

    The signature is kept only from an `_index/` row computed with this SKETCH.
    """
    signature: Signature = ()
    if row.get("sketch") == SKETCH and row.get("signature"):
        signature = tuple(int(v) for v in row["signature"])
    published_at = row.get("published_at")
    if published_at is not None and published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return row["content_sha256"], Sketch(row["article_id"], published_at, signature, True)


def _duplicate(copy: Article, kept: str, similarity: float, reason: str) -> Duplicate:
    return Duplicate(
        source_uri=copy.source_uri,
        article_id=copy.article_id,
        duplicate_of=kept,
        similarity=similarity,
        reason=reason,
    )


def resolve_story(
    story: Sequence[Article], kept_elsewhere: tuple[Sketch, float] | None = None
) -> tuple[Article | None, list[Duplicate]]:
    """A story's copies (in keep order) → (the article to write or None, a Duplicate per copy
    not written). `kept_elsewhere`: the (kept Sketch, similarity) of the near-duplicate cluster
    this story lost to; then every copy points at it, as "already_in_output" when an earlier
    run wrote it, else as "near"."""
    if kept_elsewhere is None:
        if not story:
            return None, []
        kept = story[0]
        return kept, [_duplicate(copy, kept.article_id, 1.0, "exact") for copy in story[1:]]
    sketch, similarity = kept_elsewhere
    reason = "already_in_output" if sketch.existing else "near"
    return None, [_duplicate(copy, sketch.article_id, similarity, reason) for copy in story]


def choose_original(
    copies: Iterable[Article], existing: Iterable[Sketch] = ()
) -> tuple[Article | None, list[Duplicate]]:
    """For the copies of one content hash: (the article to write or None, a Duplicate for every
    other copy). With stories of that hash in the output (`existing`), nothing is written and
    every copy points at the first of them ("already_in_output")."""
    earlier = sorted(existing, key=Sketch.order)
    if earlier:
        original = earlier[0].article_id
        return None, [
            _duplicate(copy, original, 1.0, "already_in_output") for copy in order_copies(copies)
        ]
    return resolve_story(order_copies(copies))


def comparable(bucket: Sequence[Sketch]) -> bool:
    """Whether an LSH bucket has pairs to verify: two stories at least, one of this run."""
    return len(bucket) > 1 and not all(sketch.existing for sketch in bucket)


def lsh_buckets(sketches: Iterable[Sketch], bands: int, rows: int) -> list[list[Sketch]]:
    """The comparable buckets of `sketches` by LSH band key, as GroupByBand forms them."""
    buckets: dict[str, list[Sketch]] = defaultdict(list)
    for sketch in sketches:
        for key in band_keys(sketch.signature, bands, rows):
            buckets[key].append(sketch)
    return [bucket for bucket in buckets.values() if comparable(bucket)]


def verified_pairs(bucket: Iterable[Sketch], threshold: float) -> list[Edge]:
    """The pairs of one LSH bucket whose estimated Jaccard is >= threshold, each as
    (first in keep order, second, similarity). Two stories of earlier runs are not compared."""
    unique: dict[tuple[bool, str], Sketch] = {}
    for sketch in sorted(bucket, key=Sketch.order):
        unique.setdefault(sketch.node, sketch)
    old = [sketch for sketch in unique.values() if sketch.existing]
    new = [sketch for sketch in unique.values() if not sketch.existing]
    # Stories in the output sort first, so each pair is already (first, second) in keep order.
    candidates = [(a, b) for a in old for b in new]
    candidates += [(a, b) for i, a in enumerate(new) for b in new[i + 1 :]]
    edges = []
    for first, second in candidates:
        similarity = estimated_jaccard(first.signature, second.signature)
        if similarity >= threshold:
            edges.append((first, second, similarity))
    return edges


def resolve_clusters(edges: Iterable[Edge]) -> list[tuple[str, Sketch, float]]:
    """Connected components of the verified pairs → for every story of this run that is not
    first (in keep order) in its component: (its article_id, the component's first Sketch, the
    estimated Jaccard between them), sorted. Depends only on the set of edges, not their order."""
    parent: dict[tuple[bool, str], tuple[bool, str]] = {}
    sketches: dict[tuple[bool, str], Sketch] = {}

    def find(node: tuple[bool, str]) -> tuple[bool, str]:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second, _ in edges:
        for sketch in (first, second):
            sketches.setdefault(sketch.node, sketch)
            parent.setdefault(sketch.node, sketch.node)
        root_a, root_b = find(first.node), find(second.node)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    components: dict[tuple[bool, str], list[Sketch]] = {}
    for node, sketch in sketches.items():
        components.setdefault(find(node), []).append(sketch)
    assignments = []
    for members in components.values():
        kept = min(members, key=Sketch.order)
        for sketch in members:
            if sketch is not kept and not sketch.existing:
                similarity = estimated_jaccard(sketch.signature, kept.signature)
                assignments.append((sketch.article_id, kept, similarity))
    return sorted(assignments, key=lambda a: a[0])


# ---- Beam


def existing_patterns(output: str) -> list[str]:
    """Every article and `_index/` file runs wrote into `output`, whichever --partition-by."""
    return [*table_patterns(output, "articles"), *table_patterns(output, "_index")]


class ReadExistingFn(beam.DoFn):
    """A Parquet file of an earlier run (`articles/…` or `_index/…`) → (content_sha256, Sketch)
    per row; Sketches from `_index/` files carry the signature. Given the `wanted` lookup keys
    of this run's articles (a side input), only the rows that may match one of them.

    Example input: the ReadableFile of "out/_index/part-20240101T000000-ab12cd-00000.parquet".
    """

    _COLUMNS = ("content_sha256", "article_id", "published_at", "sketch", "signature")

    def __init__(self, threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD) -> None:
        self._bands, self._band_rows = lsh_bands(threshold)
        self._rows = Metrics.counter("dedup", "existing_rows")
        self._kept = Metrics.counter("dedup", "existing_rows_looked_up")
        self._lookup: OutputLookup | None = None  # of the last `wanted` seen

    def process(
        self, readable: fileio.ReadableFile, wanted: frozenset[str] | None = None
    ) -> Iterator[tuple[str, Sketch]]:
        table = read_output_columns(readable, self._COLUMNS, present_only=True)
        self._rows.inc(table.num_rows)
        if wanted is not None:
            if self._lookup is None or self._lookup.wanted is not wanted:
                self._lookup = OutputLookup(wanted, self._bands, self._band_rows)
            table = table.filter(pa.array(self._lookup.rows(table)))
        for row in table.to_pylist():
            sha, sketch = existing_sketch(row)
            if wanted is None or may_match(sha, sketch, wanted, self._bands, self._band_rows):
                self._kept.inc()
                yield sha, sketch


class ReadExistingOutput(beam.PTransform):
    """An output folder of earlier runs (or None) → (content_sha256, Sketch) per article in it.

    `articles`: this run's Articles, to read only the rows that may match one of them (their
    `lookup_keys` go to every reader as a side input). Memory then follows the run, not the
    output, which suits runs of bounded size: the chunks of a local run. Without it every row is
    read and matched by GroupByKey, which scales with the runner's shuffle (Dask, Dataflow).
    """

    def __init__(
        self,
        folder: str | None,
        threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        articles: beam.PCollection | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__()
        self._folder = folder
        self._threshold = threshold
        self._articles = articles
        self._run_id = run_id

    def expand(self, pbegin):
        folder = self._folder
        patterns = existing_patterns(folder) if folder else []
        # Earlier chunks of a local run are earlier output: the chunk deduplicates against them.
        files = pbegin | "ExistingFiles" >> EarlierOutputFiles(patterns, self._run_id)
        read = ReadExistingFn(self._threshold)
        if self._articles is None:
            return files | "ReadExistingRows" >> beam.ParDo(read)
        bands, rows = lsh_bands(self._threshold)
        wanted = (
            self._articles
            | "LookupKeys" >> beam.FlatMap(lookup_keys, bands, rows)
            | "CollectLookupKeys" >> beam.combiners.ToSet()
            | "FreezeLookupKeys" >> beam.Map(frozenset)
        )
        return files | "ReadExistingRows" >> beam.ParDo(
            read, wanted=beam.pvalue.AsSingleton(wanted)
        )


class ReadExistingAsOfWindow(beam.PTransform):
    """A window's Articles → (content_sha256, Sketch) per article in the output folder, read when
    the window's articles are complete (once per pane), so a streaming run compares each window
    with what earlier windows wrote. The sketches are in the window of the articles."""

    def __init__(self, folder: str | None) -> None:
        super().__init__()
        self._folder = folder

    def expand(self, articles):
        folder = self._folder
        patterns = existing_patterns(folder) if folder else []
        return (
            articles
            | "CountWindowArticles"
            >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults()
            | "ListExistingFiles" >> beam.FlatMap(lambda _count: patterns)
            | "MatchExistingFiles" >> fileio.MatchAll()
            | "OpenExistingFiles" >> fileio.ReadMatches()
            | "ReadExistingRows" >> beam.ParDo(ReadExistingFn())
        )


class SplitExactCopiesFn(beam.DoFn):
    """(content_sha256, {"new": [Article, …], "existing": [Sketch, …]}) → the story (its copies
    in keep order) unless the output has it; copies of a story in the output become Duplicates.

    In a lookup run the element is (content_sha256, [Article, …]) and the output's sketches come
    as a side input, `existing`: {content_sha256: [Sketch, …]} (the few rows of the output that
    may match need no shuffle with the articles)."""

    def __init__(self) -> None:
        self._stories = Metrics.counter("dedup", "stories")
        self._in_output = Metrics.counter("dedup", "already_in_output")
        self._copies = Metrics.distribution("dedup", "copies_per_story")

    def process(self, element, existing: Mapping[str, Iterable[Sketch]] | None = None):
        sha, grouped = element
        if existing is None:
            copies, earlier = list(grouped["new"]), list(grouped["existing"])
        else:
            copies, earlier = list(grouped), list(existing.get(sha, ()))
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


class VerifyCandidatesFn(beam.DoFn):
    """(band key, [Sketch, …]) → the verified pairs of the bucket, keyed by the pair's nodes."""

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


class ChooseOriginalFn(beam.DoFn):
    """(representative article_id, {"story": [[Article, …]], "cluster": [(Sketch, similarity)]})
    → the kept Article, and a Duplicate for every other copy.

    In a lookup run the element is the story ([Article, …]) and the near-duplicate clusters come
    as a side input, `clusters`: {story article_id: (kept Sketch, similarity)}."""

    def __init__(self) -> None:
        self._kept = Metrics.counter("dedup", "kept")
        self._reasons = {
            reason: Metrics.counter("dedup", reason)
            for reason in ("exact", "near", "already_in_output")
        }

    def process(self, element, clusters: Mapping[str, tuple[Sketch, float]] | None = None):
        if clusters is None:
            _id, grouped = element
            found = list(grouped["cluster"])
            stories, cluster = grouped["story"], found[0] if found else None
        else:
            stories, cluster = [element], clusters.get(element[0].article_id)
        for story in stories:
            kept, duplicates = resolve_story(story, cluster)
            if kept is not None:
                self._kept.inc()
                yield kept
            for duplicate in duplicates:
                self._reasons[duplicate.reason].inc()
                yield duplicate


class ClusterInMemoryFn(beam.DoFn):
    """All Sketches of a bounded run, in one list → (story article_id, (kept Sketch,
    similarity)) for every story of this run that is a near duplicate of one kept: the buckets
    and pairs of the band shuffle, found in a dict instead.

    Example input: [Sketch("9f…", …), Sketch("a0…", …, existing=True), …]
    """

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._buckets = Metrics.distribution("dedup", "candidate_bucket_size")
        self._pairs = Metrics.counter("dedup", "verified_pairs_per_band")

    def process(self, sketches: list[Sketch]):
        bands, rows = lsh_bands(self._threshold)
        edges: set[Edge] = set()
        for bucket in lsh_buckets(sketches, bands, rows):
            self._buckets.update(len(bucket))
            pairs = verified_pairs(bucket, self._threshold)
            self._pairs.inc(len(pairs))
            edges.update(pairs)
        for story_id, kept, similarity in resolve_clusters(edges):
            yield story_id, (kept, similarity)


class FindNearDuplicates(beam.PTransform):
    """Sketches (this run's stories and the output's) → (story article_id, (kept Sketch,
    similarity)) for every story of this run that is a near duplicate of one kept.

    Each sketch goes to the bucket of each of its LSH bands (a GroupByKey), which scales with
    the runner's shuffle. `in_memory`: the run is bounded (a chunk of a local run, whose
    sketches fit in memory), so they are gathered in one list and bucketed in a dict: one
    element per sketch instead of one per band.
    """

    def __init__(self, threshold: float, in_memory: bool = False) -> None:
        super().__init__()
        self._threshold = threshold
        self._in_memory = in_memory
        self._bands, self._rows = lsh_bands(threshold)

    def expand(self, sketches):
        bands, rows = self._bands, self._rows
        if self._in_memory:
            return (
                sketches
                | "GatherSketches" >> beam.combiners.ToList()
                | "ClusterInMemory" >> beam.ParDo(ClusterInMemoryFn(self._threshold))
            )
        return (
            sketches
            | "KeyByBand"
            >> beam.FlatMap(lambda s: [(key, s) for key in band_keys(s.signature, bands, rows)])
            | "GroupByBand" >> beam.GroupByKey()
            | "VerifyCandidates" >> beam.ParDo(VerifyCandidatesFn(self._threshold))
            # One constant string key: None hashes differently in each process on Python 3.11,
            # which a multi-process Dask cluster's grouping would split. A pair found in several
            # bands is gathered once (the set is combined on each worker before the shuffle).
            | "KeyAllPairs" >> beam.MapTuple(lambda _nodes, edge: ("all-pairs", edge))
            | "GatherPairs" >> beam.CombinePerKey(beam.combiners.ToSetCombineFn())
            | "ResolveClusters" >> beam.FlatMapTuple(lambda _key, edges: resolve_clusters(edges))
            | "KeyByStory" >> beam.Map(lambda a: (a[0], (a[1], a[2])))
        )


class Deduplicate(beam.PTransform):
    """Articles → (one Article per story not yet in the output, Duplicates).

    `existing`: an output folder of earlier runs to deduplicate against (None: none).
    `threshold`: the estimated Jaccard similarity from which two stories are near duplicates.
    `per_window`: the articles are in non-global windows (a streaming run): stories are compared
    within each window, and with the output as it is when the window is complete.
    `run_id`: this run's, whose own files in the output are not read as earlier output.
    `lookup`: read from the output only the rows that may match this run's articles (see
    `ReadExistingOutput`), and find candidate pairs in memory (see `FindNearDuplicates`): for
    runs of bounded size, such as the chunks of a local run. Those rows and the clusters found
    then reach the articles as side inputs, not through a CoGroupByKey with them.
    """

    def __init__(
        self,
        existing: str | None,
        threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        per_window: bool = False,
        lookup: bool = False,
        run_id: str | None = None,
    ) -> None:
        super().__init__()
        lsh_bands(threshold)  # fails here, at construction, on a threshold out of range
        self._existing = existing
        self._threshold = threshold
        self._per_window = per_window
        self._lookup = lookup
        self._run_id = run_id

    def expand(self, articles):
        if self._per_window:
            existing = articles | "ReadExistingOutput" >> ReadExistingAsOfWindow(self._existing)
        else:
            existing = articles.pipeline | "ReadExistingOutput" >> ReadExistingOutput(
                self._existing, self._threshold, articles if self._lookup else None, self._run_id
            )
        by_content = articles | "KeyByContent" >> beam.Map(lambda a: (a.content_sha256, a))
        if self._lookup:
            # The output's few matching rows as a side input: no shuffle of the articles with
            # them (a CoGroupByKey costs one more stage, which decodes and encodes every article).
            exact = (
                by_content
                | "GroupExactCopies" >> beam.GroupByKey()
                | "SplitExactCopies"
                >> beam.ParDo(
                    SplitExactCopiesFn(),
                    # AsDict: read once per bundle (AsMultiMap asks the runner once per key).
                    existing=beam.pvalue.AsDict(existing | "GroupExisting" >> beam.GroupByKey()),
                )
            )
        else:
            exact = (
                {"new": by_content, "existing": existing}
                | "GroupExactCopies" >> beam.CoGroupByKey()
                | "SplitExactCopies" >> beam.ParDo(SplitExactCopiesFn())
            )
        stories, in_output = exact | "SplitInOutput" >> SplitOff(Duplicate)
        sketches = (
            stories | "ComputeSignatures" >> beam.Map(story_sketch),
            existing
            | "ExistingSignatures"
            >> beam.FlatMapTuple(lambda _sha, sketch: [sketch] if sketch.signature else []),
        ) | "CollectSketches" >> beam.Flatten()
        clusters = sketches | "FindNearDuplicates" >> FindNearDuplicates(
            self._threshold, in_memory=self._lookup
        )
        if self._lookup:
            chosen = stories | "ChooseOriginal" >> beam.ParDo(
                ChooseOriginalFn(), clusters=beam.pvalue.AsDict(clusters)
            )
        else:
            chosen = (
                {
                    "story": stories | "KeyStories" >> beam.Map(lambda s: (s[0].article_id, s)),
                    "cluster": clusters,
                }
                | "JoinClusters" >> beam.CoGroupByKey()
                | "ChooseOriginal" >> beam.ParDo(ChooseOriginalFn())
            )
        kept, near_or_exact = chosen | "SplitDuplicates" >> SplitOff(Duplicate)
        duplicates = (in_output, near_or_exact) | "CollectDuplicates" >> beam.Flatten()
        return kept, duplicates
