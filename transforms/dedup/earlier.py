"""Earlier output: the stories that runs already wrote, as duplicate search compares with them.

A run deduplicates against its output folder's history and, with `--dedup-against DIR`, that
folder's history too (both, never one instead of the other). The history is every
`articles/` row (content hash for exact copies; path and URL for revisions) and every `_index/`
row (the signature, for near copies) (`existing_patterns`). A run of bounded size reads only the
rows that may match one of its articles (`OutputLookup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from newsbeam.schemas import Article, IndexEntry
from newsbeam.schemas.layout import read_output_columns, table_patterns
from newsbeam.transforms.dedup.signature import (
    NUM_PERM,
    SKETCH,
    Signature,
    article_signature,
    band_hashes,
    band_keys,
    lsh_bands,
)
from newsbeam.transforms.dedup.stories import Sketch, revision_keys
from newsbeam.transforms.defaults import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from newsbeam.transforms.skip import EarlierOutputFiles

_NAMES = {"uri:": "source_uri", "url:": "url"}  # revision key prefix → `articles/` column


def index_entry(article: Article) -> IndexEntry:
    """The `_index/` row a written article leaves for later runs."""
    return IndexEntry(
        article_id=article.article_id,
        content_sha256=article.content_sha256,
        published_at=article.published_at,
        sketch=SKETCH,
        signature=list(article_signature(article)),
    )


def existing_patterns(*outputs: str) -> list[str]:
    """Every article and `_index/` file runs wrote into each of `outputs`, whichever
    --partition-by (a folder named twice is read once)."""
    patterns: list[str] = []
    for output in dict.fromkeys(outputs):
        patterns += [*table_patterns(output, "articles"), *table_patterns(output, "_index")]
    return patterns


def lookup_keys(article: Article, bands: int, rows: int) -> list[str]:
    """The keys by which an article finds its matches in an earlier output: its content hash
    (exact copies), its LSH band keys (near duplicates) and its revision keys (path, URL)."""
    return [
        article.content_sha256,
        *band_keys(article_signature(article), bands, rows),
        *sorted(revision_keys(article.source_uri, article.url)),
    ]


def may_match(sha: str, sketch: Sketch, wanted: frozenset[str], bands: int, rows: int) -> bool:
    """Whether a story of an earlier output can match an article with `lookup_keys` in
    `wanted`: the same content hash, a shared band key (the only pairs ever compared) or a
    shared revision key."""
    if sha in wanted or not sketch.names.isdisjoint(wanted):
        return True
    return any(key in wanted for key in band_keys(sketch.signature, bands, rows))


def existing_sketch(row: dict[str, Any]) -> tuple[str, Sketch]:
    """A row of an earlier run's `articles/` or `_index/` file → (content_sha256, Sketch).

    The signature is kept only from an `_index/` row computed with this SKETCH; the source_uri
    and revision keys come from an `articles/` row.
    """
    signature: Signature = ()
    if row.get("sketch") == SKETCH and row.get("signature"):
        signature = tuple(int(v) for v in row["signature"])
    published_at = row.get("published_at")
    if published_at is not None and published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    source_uri = row.get("source_uri") or ""
    names = revision_keys(source_uri, row.get("url"))
    sketch = Sketch(row["article_id"], published_at, signature, True, source_uri, names)
    return row["content_sha256"], sketch


class OutputLookup:
    """The `lookup_keys` of a run's articles, to find the rows of an earlier output's file that
    may match one of them a whole table at a time: content hashes and revision keys with
    Arrow's `is_in`, band keys as 64-bit hashes with numpy, so only those rows become Python
    objects (and get the exact `may_match`). Reading each `_index/` row in Python cost 178 µs
    (200,000 rows: 35.6 s, for every chunk of a local run).
    """

    def __init__(self, wanted: frozenset[str], bands: int, rows: int) -> None:
        self.wanted = wanted
        self._bands, self._rows = bands, rows
        keyed = [key for key in wanted if len(key) == 4 + 8 * rows and key[3] == "-"]
        self._names = {
            column: pa.array(sorted(k[4:] for k in wanted if k.startswith(prefix)), pa.string())
            for prefix, column in _NAMES.items()
        }
        named = {key for key in wanted if key[:4] in _NAMES}
        self._shas = pa.array(sorted(wanted.difference(keyed, named)), pa.string())
        slots = np.frombuffer(bytes.fromhex("".join(key[4:] for key in keyed)), "<u4")
        band = np.array([int(key[:3]) for key in keyed], dtype=np.int64)
        self._hashes = np.unique(band_hashes(band, slots.reshape(len(keyed), rows)))

    def rows(self, table: pa.Table) -> np.ndarray:
        """Which rows of `table` (`content_sha256`, `source_uri` and `url` for `articles/` rows,
        `sketch` and `signature` for `_index/` rows) may match: their hash or a revision key is
        wanted, or a band of a signature of this SKETCH is."""
        found = np.array(pc.is_in(table.column("content_sha256"), value_set=self._shas), bool)
        for column, values in self._names.items():
            if column in table.column_names and len(values):
                named = pc.is_in(table.column(column), value_set=values)
                found |= pc.fill_null(named, False).to_numpy(zero_copy_only=False)
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


class ReadExistingFn(beam.DoFn):
    """A Parquet file of an earlier run (`articles/…` or `_index/…`) → (content_sha256, Sketch)
    per row; Sketches from `_index/` files carry the signature, those from `articles/` files
    the source_uri and revision keys. Given the `wanted` lookup keys of this run's articles (a
    side input), only the rows that may match one of them.

    Example input: the ReadableFile of "out/_index/part-20240101T000000-ab12cd-00000.parquet".
    """

    _COLUMNS = (
        "content_sha256",
        "article_id",
        "published_at",
        "source_uri",
        "url",
        "sketch",
        "signature",
    )

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
    """Output folders of earlier runs → (content_sha256, Sketch) per article in them.

    `articles`: this run's Articles, to read only the rows that may match one of them (their
    `lookup_keys` go to every reader as a side input). Memory then follows the run, not the
    output, which suits runs of bounded size: the chunks of a local run. Without it every row is
    read and matched by GroupByKey, which scales with the runner's shuffle (Dask, Dataflow).
    """

    def __init__(
        self,
        folders: Iterable[str],
        threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        articles: beam.PCollection | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__()
        self._folders = list(folders)
        self._threshold = threshold
        self._articles = articles
        self._run_id = run_id

    def expand(self, pbegin):
        patterns = existing_patterns(*self._folders)
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
    """A window's Articles → (content_sha256, Sketch) per article in the output folders, read
    when the window's articles are complete (once per pane), so a streaming run compares each
    window with what earlier windows wrote. The sketches are in the window of the articles."""

    def __init__(self, folders: Iterable[str]) -> None:
        super().__init__()
        self._folders = list(folders)

    def expand(self, articles):
        patterns = existing_patterns(*self._folders)
        return (
            articles
            | "CountWindowArticles"
            >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults()
            | "ListExistingFiles" >> beam.FlatMap(lambda _count: patterns)
            | "MatchExistingFiles" >> fileio.MatchAll()
            | "OpenExistingFiles" >> fileio.ReadMatches()
            | "ReadExistingRows" >> beam.ParDo(ReadExistingFn())
        )
