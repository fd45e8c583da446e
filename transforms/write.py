"""Write: Hive-partitioned Parquet tables (the layout is `schemas.layout`'s).

Rows are grouped by partition and each group is written with pyarrow (zstd) under a temporary
hidden name (`.part-….parquet.XXXX.inprogress`), then renamed into place, so a reader that globs
`*.parquet` never sees a partial file, even when the run is killed. Beam's own
`fileio.WriteToFiles` with `k=v/` destinations can lose files on the local filesystem
(apache/beam#21313), and `WriteToParquet` has no partitioning.

A run killed part-way and run again must not double a row: articles are deduplicated against the
output (`transforms.dedup`); entity rows and rejects already in the output are skipped
(`transforms.skip`); and the pipeline writes an article only after its entity rows are written,
so an article in the output always has its entities. The run's ledger is written last
(`transforms.manifest`).

Partitions are by day only (`--partition-by published_date,source` adds `source=SLUG/` under
the day, for those who want it): outlets are many and small, and a partition per outlet and day
makes one file per article. A run writes one file per partition per chunk or window;
`newsbeam compact` merges those of many runs (`pipeline.run.compact`). Undated articles are in
Hive's null partition (`published_date=__HIVE_DEFAULT_PARTITION__`), so that DuckDB and Polars
type `published_date` as a DATE (null when undated) whether or not an output holds one; pyarrow
and pandas infer no dates from paths and are given `schemas.reader_partitioning()`.

In a streaming run every file name also carries its window and pane
(`part-RUN-20240501T120000Z-20240501T120100Z-p0-NNNNN.parquet`), so two windows, or an on-time
and a late pane of one window, never write the same file; the ledger is per window
(`transforms/ledger.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import BoundedWindow, IntervalWindow

from newsbeam.schemas import Article, to_row
from newsbeam.schemas.layout import (
    ARTICLES,
    SORT_KEYS,
    delete,
    file_stem,
    partition_dir,
    publish,
    synced,
    table_patterns,
    temporary_path,
    temporary_patterns,
)
from newsbeam.transforms.defaults import DEFAULT_PARTITION_BY, PARTITION_BY
from newsbeam.transforms.routing import chunked
from newsbeam.transforms.timing import stage_timer, timed

ROWS_PER_FILE = 100_000
ROWS_PER_GROUP = 5_000


def article_partition(article: Article, partition_by: str = DEFAULT_PARTITION_BY):
    """The (column, value) partition levels of an article's row for `--partition-by`."""
    values = {"published_date": article.published_date, "source": article.source}
    return [(column, values[column]) for column in partition_by.split(",")]


def output_partition_by(output: str) -> str | None:
    """The --partition-by of the articles already in `output` (None when it has none)."""
    patterns = table_patterns(output, ARTICLES)
    for partition_by, pattern in zip(PARTITION_BY, patterns, strict=True):
        if FileSystems.match([pattern], limits=[1])[0].metadata_list:
            return partition_by
    return None


def window_tag(window: BoundedWindow) -> str | None:
    """`20240501T120000Z-20240501T120100Z` for a window of a streaming run; None for the global
    window of a batch run."""
    if not isinstance(window, IntervalWindow):
        return None
    start, end = window.start.to_utc_datetime(), window.end.to_utc_datetime()
    return f"{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"


def write_parquet(path: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Write rows to `path` atomically: a hidden temporary file, then a rename, which replaces an
    earlier file of the same name (the same rows, from a retried or repeated attempt)."""
    temporary = temporary_path(path)
    table = pa.Table.from_pylist(rows, schema=schema)
    with FileSystems.create(temporary) as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROWS_PER_GROUP)
        synced(handle)
    publish(temporary, path)


class WritePartitionFn(beam.DoFn):
    """(partition directory, lists of rows) → Parquet files; emits (table, path, row count) per
    file. File names carry the window and pane in a streaming run (`file_stem`).

    Example input: ("out/articles/published_date=2023-03-02", [[{"article_id": …}], …]).
    """

    def __init__(
        self, table: str, schema: pa.Schema, run_id: str, sort_keys: Sequence[str]
    ) -> None:
        self._table = table
        self._schema = schema
        self._run_id = run_id
        self._sort_keys = tuple(sort_keys)
        self._rows = Metrics.counter("write", f"{table}_rows")
        self._files = Metrics.counter("write", f"{table}_files")
        self._time = stage_timer("write")

    def process(
        self,
        element: tuple[str, Iterable[dict[str, Any]]],
        window=beam.DoFn.WindowParam,
        pane=beam.DoFn.PaneInfoParam,
        written_first: object = None,
    ):
        """`written_first`: a side input (`WriteParquet(after=…)`) whose only purpose is to
        make Beam finish writing it before this writes."""
        directory, row_lists = element
        stem = file_stem(self._run_id, window_tag(window), pane.index)
        rows = (row for row_list in row_lists for row in row_list)
        for number, chunk in enumerate(chunked(rows, ROWS_PER_FILE)):
            chunk.sort(key=lambda row: tuple(str(row[key]) for key in self._sort_keys))
            path = FileSystems.join(directory, f"{stem}-{number:05d}.parquet")
            with timed(self._time):
                write_parquet(path, chunk, self._schema)
            self._rows.inc(len(chunk))
            self._files.inc()
            yield self._table, path, len(chunk)


class WriteParquet(beam.PTransform):
    """Records → Parquet files of one table, partitioned by `partition(record)`, rows sorted by
    the table's SORT_KEYS; `to_rows(record)` gives a record's rows (one per record by default; an
    article's entity rows travel as one record, which spares the runner an element per row).

    `after`: files written by another WriteParquet that must all be written before this table's
    (entity rows before their articles, articles before their index entries). It waits at the
    last step, after the grouping, so that the records are not decoded and encoded once more
    for a barrier of their own.

    Returns a PCollection of (table, path, rows), one element per file written.
    """

    def __init__(
        self,
        output: str,
        table: str,
        schema: pa.Schema,
        run_id: str,
        partition: Callable[[Any], list[tuple[str, str]]],
        to_rows: Callable[[Any], list[dict[str, Any]]] = lambda record: [to_row(record)],
        after: beam.PCollection | None = None,
    ) -> None:
        super().__init__()
        self._after = after
        self._output = output
        self._table = table
        self._schema = schema
        self._run_id = run_id
        self._partition = partition
        self._to_rows = to_rows

    def expand(self, records):
        output, table, partition, to_rows = (
            self._output,
            self._table,
            self._partition,
            self._to_rows,
        )
        after = {} if self._after is None else {"written_first": beam.pvalue.AsList(self._after)}
        return (
            records
            | "KeyByPartition"
            >> beam.Map(lambda r: (partition_dir(output, table, partition(r)), to_rows(r)))
            | "GroupByPartition" >> beam.GroupByKey()
            | "WriteFiles"
            >> beam.ParDo(
                WritePartitionFn(table, self._schema, self._run_id, SORT_KEYS.get(table, ())),
                **after,
            )
        )


def remove_temporaries(output: str) -> list[str]:
    """Delete the temporary files an interrupted run left in `output`; returns their paths.
    Call it only when no other run writes into `output` (one run at a time per folder)."""
    found = sorted(
        {
            m.path
            for result in FileSystems.match(temporary_patterns(output))
            for m in result.metadata_list
        }
    )
    if found:
        delete(found)
    return found
