"""Write: Hive-partitioned Parquet tables and the run's `_manifest.json`.

Rows are grouped by partition and each group is written with pyarrow (zstd) under a temporary
hidden name (`.part-….parquet.inprogress`), then renamed into place, so a reader that globs
`*.parquet` never sees a partial file, even when the run is killed. Beam's own
`fileio.WriteToFiles` with `k=v/` destinations can lose files on the local filesystem
(apache/beam#21313), and `WriteToParquet` has no partitioning.

A run killed part-way and run again must not double a row. Articles are deduplicated against the
output (`transforms.dedup`); entity rows and rejects already in the output are skipped
(`SkipWritten`); and the pipeline writes an article only after its entity rows are written, so an
article in the output always has its entities.

Layout (DESIGN.md):
    DIR/articles/published_date=YYYY-MM-DD/part-RUN-NNNNN.parquet   rows sorted by source
    DIR/entities/published_date=YYYY-MM-DD/part-RUN-NNNNN.parquet
    DIR/rejects/part-RUN-NNNNN.parquet
    DIR/duplicates/part-RUN-NNNNN.parquet
    DIR/_inputs/part-RUN.parquet        the input files this run read (path, size, checksum)
    DIR/_manifest.json

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

import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import BoundedWindow, IntervalWindow
from pydantic import BaseModel

from newsbeam.schemas import INPUT_SCHEMA, Article, Counts, InputFile, Manifest, to_row
from newsbeam.transforms.defaults import DEFAULT_PARTITION_BY, PARTITION_BY
from newsbeam.transforms.routing import chunked
from newsbeam.transforms.timing import stage_timer, timed

ROWS_PER_FILE = 100_000
ROWS_PER_GROUP = 5_000
MANIFEST = "_manifest.json"
INPUTS = "_inputs"
TEMPORARY_SUFFIX = ".inprogress"
_NEW, _WRITTEN = "new", "written"

# Partition levels under each table's folder, for every --partition-by (an output holds one).
TABLE_DEPTHS = {
    "articles": (1, 2),
    "entities": (1,),
    "rejects": (0,),
    "duplicates": (0,),
    "_index": (0,),
    INPUTS: (0,),
}
# Within a file, the order of its rows: an outlet's articles are together, so row-group
# statistics let a reader skip the rest when it filters on `source`.
SORT_KEYS = {
    "articles": ("source", "article_id"),
    "entities": ("article_id",),
    "rejects": ("source_uri",),
    "duplicates": ("source_uri",),
    "_index": ("article_id",),
    INPUTS: ("path",),
}


def article_partition(article: Article, partition_by: str = DEFAULT_PARTITION_BY):
    """The (column, value) partition levels of an article's row for `--partition-by`."""
    values = {"published_date": article.published_date, "source": article.source}
    return [(column, values[column]) for column in partition_by.split(",")]


def table_patterns(output: str, table: str) -> list[str]:
    """Patterns matching every Parquet file of `table` in `output`, whichever --partition-by
    wrote it."""
    return [
        FileSystems.join(output, table, *["*"] * depth, "*.parquet")
        for depth in TABLE_DEPTHS[table]
    ]


def output_partition_by(output: str) -> str | None:
    """The --partition-by of the articles already in `output` (None when it has none)."""
    for partition_by, depth in zip(PARTITION_BY, TABLE_DEPTHS["articles"], strict=True):
        pattern = FileSystems.join(output, "articles", *["*"] * depth, "*.parquet")
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


def file_stem(run_id: str, window: BoundedWindow, pane_index: int = 0) -> str:
    """`part-RUN` in a batch run; `part-RUN-WINDOW-pPANE` in a streaming run."""
    tag = window_tag(window)
    return f"part-{run_id}" if tag is None else f"part-{run_id}-{tag}-p{pane_index}"


def partition_dir(output: str, table: str, values: Iterable[tuple[str, str]] = ()) -> str:
    """`output/table/k1=v1/k2=v2`; values must already be partition-safe (slugs, ISO dates)."""
    parts = [table, *(f"{key}={value}" for key, value in values)]
    return FileSystems.join(output, *parts)


def temporary_path(path: str) -> str:
    """A hidden name beside `path`, unique to this attempt: a runner may run the same write twice
    at once (the Dask runner recomputes what a side input needs), and two attempts must never
    share, or rename away, each other's temporary file."""
    directory, name = path.rsplit("/", 1)
    return FileSystems.join(directory, f".{name}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}")


def write_parquet(path: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Write rows to `path` atomically: a hidden temporary file, then a rename, which replaces an
    earlier file of the same name (the same rows, from a retried or repeated attempt)."""
    temporary = temporary_path(path)
    table = pa.Table.from_pylist(rows, schema=schema)
    with FileSystems.create(temporary) as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROWS_PER_GROUP)
    FileSystems.rename([temporary], [path])


def read_output_columns(
    readable: fileio.ReadableFile, columns: Sequence[str], present_only: bool = False
) -> pa.Table:
    """`columns` of a Parquet file an earlier run wrote; a missing one is an ArrowInvalid
    error unless `present_only`, which reads those the file has.

    Read on the calling thread: these readers take a few small columns of many files, and
    Arrow's thread pool would leave a malloc arena in each of its threads that keeps what it
    freed. Measured on a local run of 1,000-file chunks (memory released between them): peaks
    of 666, 690, 690 MiB after chunks 2 to 4 with Arrow's threads, 664, 664, 664 without.
    """
    with readable.open() as handle:
        if not present_only:
            return pq.read_table(handle, columns=list(columns), use_threads=False)
        parquet = pq.ParquetFile(handle)
        names = parquet.schema_arrow.names
        return parquet.read(columns=[c for c in columns if c in names], use_threads=False)


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
        stem = file_stem(self._run_id, window, pane.index)
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


def temporary_patterns(output: str, depth: int = 3) -> list[str]:
    """Patterns matching the temporary files a killed run can leave in `output`: the manifest's,
    and those of every table down to `depth` folders (articles/DATE/SOURCE/ is 3). Readers never
    see them; `remove_temporaries` clears them."""
    return [
        FileSystems.join(output, *["*"] * level, f".*{TEMPORARY_SUFFIX}")
        for level in range(depth + 1)
    ]


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
        FileSystems.delete(found)
    return found


def record_key(values: Iterable[Any]) -> str:
    """A deterministic string key for GroupByKey from column values."""
    return json.dumps(list(values), default=str)


class ReadWrittenKeysFn(beam.DoFn):
    """A Parquet file of an earlier run → the keys of its rows (`record_key` of `columns`).
    Given `among` (a side input: values of the first column), only the keys of the rows whose
    first column is one of them.

    Example input: a fileio.ReadableFile for `out/rejects/part-RUN-00000.parquet`.
    """

    def __init__(self, columns: list[str]) -> None:
        self._columns = columns
        self._unreadable = Metrics.counter("write", "unreadable_output_files")

    def process(self, readable: fileio.ReadableFile, among: Sequence[Any] | None = None):
        try:
            table = read_output_columns(readable, self._columns)
        except (OSError, pa.ArrowException) as error:
            # Not written by newsbeam (its files are renamed into place only when complete).
            self._unreadable.inc()
            logging.warning("newsbeam: skipping unreadable %s: %s", readable.metadata.path, error)
            return
        if among is not None:
            first = table.column(self._columns[0])
            table = table.filter(pc.is_in(first, value_set=pa.array(among, type=first.type)))
        columns = [table.column(c).to_pylist() for c in self._columns]
        # Once per file: an article's entity rows share its key.
        yield from map(record_key, dict.fromkeys(zip(*columns, strict=True)))


class KeepUnwrittenFn(beam.DoFn):
    """(key, [("new", record) | ("written", None), …]) → the new records, unless the key is
    already in the output.

    With `written` (a side input of the keys in the output, in a lookup run) the element is
    (key, ("new", record)) and the record passes unless its key is among them."""

    def __init__(self, table: str) -> None:
        self._skipped = Metrics.counter("write", f"{table}_already_written")

    def process(self, element, written: Mapping[str, Any] | None = None):
        key, tagged = element
        if written is not None:
            new, seen = [tagged[1]], key in written
        else:
            tagged = list(tagged)
            new = [record for tag, record in tagged if tag == _NEW]
            seen = len(new) < len(tagged)
        if seen:
            self._skipped.inc(len(new))
            return
        yield from new


_CHUNK_SUFFIX = re.compile(r"-c\d{4}$")


def written_by_run(path: str, run_id: str, other_chunks: bool = True) -> bool:
    """Whether `path` is a file that batch run `run_id` writes (`…/part-RUN-00000.parquet`, or
    its ledger `_inputs/part-RUN.parquet`), or (`other_chunks`) one that another chunk of the
    same local run writes (`RUN-c0001`, `RUN-c0002`, … : `pipeline.run.runs`)."""
    run = (
        re.escape(_CHUNK_SUFFIX.sub("", run_id)) + r"(-c\d{4})?"
        if other_chunks
        else re.escape(run_id)
    )
    name = path.rsplit("/", 1)[-1]
    return re.fullmatch(rf"part-{run}(-\d{{5}})?\.parquet", name) is not None


class EarlierOutputFiles(beam.PTransform):
    """The files matching `patterns` → those of them that earlier runs wrote, opened
    (fileio.ReadableFile).

    A run never reads its own files as earlier output: the Dask runner recomputes what a side
    input needs, and a second computation must not find (and skip, or take for duplicates) what
    the first has just written. `other_chunks`: nor the files of the other chunks of the same
    local run. `run_id` None: every file.
    """

    def __init__(self, patterns: list[str], run_id: str | None, other_chunks: bool = False) -> None:
        super().__init__()
        self._patterns = patterns
        self._run_id = run_id
        self._other_chunks = other_chunks

    def expand(self, pbegin):
        run_id, other_chunks = self._run_id, self._other_chunks
        files = pbegin | "List" >> beam.Create(self._patterns) | "Match" >> fileio.MatchAll()
        if run_id is not None:
            files = files | "OfEarlierRuns" >> beam.Filter(
                lambda m: not written_by_run(m.path, run_id, other_chunks)
            )
        return files | "Open" >> fileio.ReadMatches()


class SkipWritten(beam.PTransform):
    """Records → those whose key is not yet in the table's files matching `patterns`.

    `columns` name the key in the Parquet files and `key(record)` gives the same values for a
    record, so a rerun into the same output (after a crash, or on purpose) writes a row once.
    Files of run `run_id` itself are not earlier output: a runner may compute a step twice (the
    Dask runner recomputes what a side input needs), and the second attempt must not skip the
    rows the first has just written, and then write the same file again without them. Nor are
    those of the run's other chunks, which never hold the same rows (each chunk reads its own
    files, and an article already written is a duplicate before it reaches NER), so a long local
    run does not read all its earlier chunks' files again for every chunk.
    `lookup`: the run is bounded (a chunk of a local run): of the output, only the keys whose
    first value is one of the records' are read, and they reach the records as a side input,
    not through a shuffle with them. Memory and time then follow the chunk, not the output
    (an output of 500,000 articles' entity rows cost each chunk 18.7 s and 340 MiB when every
    key was read). `among`: those first values, when they are known before the records are (a
    side input from the records themselves waits for the last of them, a stage boundary).
    """

    def __init__(
        self,
        table: str,
        patterns: list[str],
        columns: list[str],
        key: Callable[[Any], Iterable[Any]],
        run_id: str,
        lookup: bool = False,
        among: beam.PCollection | None = None,
    ) -> None:
        super().__init__()
        self._table = table
        self._patterns = patterns
        self._columns = columns
        self._key = key
        self._run_id = run_id
        self._lookup = lookup
        self._among = among

    def expand(self, records):
        key = self._key
        files = records.pipeline | "WrittenFiles" >> EarlierOutputFiles(
            self._patterns, self._run_id, other_chunks=True
        )
        read = ReadWrittenKeysFn(self._columns)
        new = records | "KeyNewRows" >> beam.Map(lambda r: (record_key(key(r)), (_NEW, r)))
        if self._lookup:
            # A bounded run (a local chunk): the keys that may match, as a side input; the
            # records stay in their stage instead of going through a shuffle with the keys.
            among = self._among
            if among is None:
                among = records | "FirstKeyValues" >> beam.Map(lambda r: key(r)[0])
            written = files | "ReadWrittenKeys" >> beam.ParDo(read, among=beam.pvalue.AsList(among))
            return new | "KeepUnwritten" >> beam.ParDo(
                KeepUnwrittenFn(self._table),
                written=beam.pvalue.AsDict(written | "AsKeys" >> beam.Map(lambda k: (k, True))),
            )
        written = (
            files
            | "ReadWrittenKeys" >> beam.ParDo(read)
            | "TagWritten" >> beam.Map(lambda k: (k, (_WRITTEN, None)))
        )
        return (
            (new, written)
            | "MergeWithWritten" >> beam.Flatten()
            | "GroupWithWritten" >> beam.GroupByKey()
            | "KeepUnwritten" >> beam.ParDo(KeepUnwrittenFn(self._table))
        )


def build_manifest(
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
    inputs: list[str],
    documents: int,
    reject_counts: list[tuple[tuple[str, str], int]],
    duplicate_counts: list[tuple[str, int]],
    files: list[tuple[str, str, int]],
    skipped: Iterable[str] = (),
    window: tuple[datetime, datetime] | None = None,
    without_model: Iterable[str] = (),
) -> Manifest:
    """The run's (or the window's) ledger; `skipped` are the input files not read because the
    output already recorded them (not counted in `read`). `read` counts every input record:
    documents read plus read rejects;
    `duplicate_counts` is (reason, count) per duplicate reason; `without_model` the language of
    each article written without entities (no model for it)."""
    by_stage: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for (stage, reason), count in reject_counts:
        by_stage[stage] += count
        by_reason[reason] += count
    rows: Counter[str] = Counter()
    by_table: dict[str, list[str]] = {}
    for table, path, count in sorted(files):
        rows[table] += count
        by_table.setdefault(table, []).append(path)
    counts = Counts(
        read=documents + by_stage["read"],
        written=rows["articles"],
        rejected=sum(by_stage.values()),
        duplicates=sum(count for _, count in duplicate_counts),
        entities=rows["entities"],
        rejected_by_stage=dict(sorted(by_stage.items())),
        rejected_by_reason=dict(sorted(by_reason.items())),
        duplicates_by_reason=dict(sorted(duplicate_counts)),
        skipped=len(set(skipped)),
        without_entity_model_by_language=dict(sorted(Counter(without_model).items())),
    )
    return Manifest(
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        inputs=sorted(set(inputs)),  # the parts of a split archive are one input
        counts=counts,
        files=by_table,
        skipped_inputs=sorted(set(skipped)),
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
    )


def merge_manifests(parts: list[Manifest]) -> Manifest:
    """One ledger for a run made of several pipeline runs (chunks): counts added up, inputs and
    files gathered, from the first start to the last finish. A file read in parts (a large WARC
    split over chunks) is one input, and skipped once."""
    totals: Counter[str] = Counter()
    by: dict[str, Counter[str]] = {
        "rejected_by_stage": Counter(),
        "rejected_by_reason": Counter(),
        "duplicates_by_reason": Counter(),
        "without_entity_model_by_language": Counter(),
    }
    files: dict[str, list[str]] = {}
    for part in parts:
        counts = part.counts
        totals.update(
            read=counts.read,
            written=counts.written,
            rejected=counts.rejected,
            duplicates=counts.duplicates,
            entities=counts.entities,
            skipped=counts.skipped,
        )
        for name, counter in by.items():
            counter.update(getattr(counts, name))
        for table, paths in part.files.items():
            files.setdefault(table, []).extend(paths)
    skipped = sorted({i for p in parts for i in p.skipped_inputs})
    totals["skipped"] = len(skipped)
    counts = Counts(
        **{
            name: totals[name]
            for name in ("read", "written", "rejected", "duplicates", "entities", "skipped")
        },
        **{name: dict(sorted(counter.items())) for name, counter in by.items()},
    )
    return Manifest(
        run_id=parts[0].run_id.rsplit("-c", 1)[0],
        started_at=min(p.started_at for p in parts),
        finished_at=max(p.finished_at for p in parts),
        inputs=sorted({i for p in parts for i in p.inputs}),
        counts=counts,
        files={table: sorted(paths) for table, paths in sorted(files.items())},
        skipped_inputs=skipped,
    )


def input_rows(fingerprints: Iterable[tuple[str, int, str]], run_id: str) -> list[dict[str, Any]]:
    """`_inputs/` rows for the files a run read: (path, size, sha256) each, sorted by path."""
    now = datetime.now(UTC)
    return [
        to_row(InputFile(path=path, size=size, sha256=sha256, run_id=run_id, recorded_at=now))
        for path, size, sha256 in sorted(set(fingerprints))
    ]


def write_inputs(output: str, stem: str, fingerprints: Iterable[tuple[str, int, str]], run_id: str):
    """Record the input files read in `output/_inputs/STEM.parquet` (atomically); nothing when
    no file was read. Call only once the outputs made from them are written."""
    rows = input_rows(fingerprints, run_id)
    if rows:
        write_parquet(FileSystems.join(output, INPUTS, f"{stem}.parquet"), rows, INPUT_SCHEMA)


class WriteManifest(beam.PTransform):
    """Writes `_inputs/part-RUN.parquet` (the files read), then `_manifest.json`, once every
    table is written (the file list is a side input). Optional ledger entries: "fingerprints"
    (what `_inputs/` records), "skipped" (input paths not read, already recorded) and
    "without_model" (the language of each article written without entities)."""

    def __init__(self, output: str, run_id: str, started_at: datetime) -> None:
        super().__init__()
        self._output = output
        self._run_id = run_id
        self._started_at = started_at

    def expand(self, ledger: dict[str, beam.PCollection]):
        output, run_id, started_at = self._output, self._run_id, self._started_at

        def write(
            _: None,
            inputs,
            documents,
            reject_counts,
            duplicate_counts,
            files,
            fingerprints,
            skipped,
            without_model,
        ) -> Manifest:
            manifest = build_manifest(
                run_id,
                started_at,
                datetime.now(UTC),
                inputs,
                documents,
                reject_counts,
                duplicate_counts,
                files,
                skipped,
                without_model=without_model,
            )
            write_inputs(output, f"part-{run_id}", fingerprints, run_id)
            write_json(FileSystems.join(output, MANIFEST), manifest)
            return manifest

        count = beam.combiners.Count
        pipeline = ledger["inputs"].pipeline
        optional = {
            name: ledger[name]
            if name in ledger
            else pipeline | f"No{name.title()}" >> beam.Create([])
            for name in ("fingerprints", "skipped", "without_model")
        }
        return (
            pipeline
            | "Start" >> beam.Create([None])
            | "WriteLedger"
            >> beam.Map(
                write,
                inputs=beam.pvalue.AsList(ledger["inputs"]),
                documents=beam.pvalue.AsSingleton(
                    ledger["documents"] | "CountDocuments" >> count.Globally()
                ),
                reject_counts=beam.pvalue.AsList(
                    ledger["rejects"]
                    | "RejectReasons" >> beam.Map(lambda r: (r.stage, r.reason))
                    | "CountRejects" >> count.PerElement()
                ),
                duplicate_counts=beam.pvalue.AsList(
                    ledger["duplicates"]
                    | "DuplicateReasons" >> beam.Map(lambda d: d.reason)
                    | "CountDuplicates" >> count.PerElement()
                ),
                files=beam.pvalue.AsList(ledger["files"]),
                fingerprints=beam.pvalue.AsList(optional["fingerprints"]),
                skipped=beam.pvalue.AsList(optional["skipped"]),
                without_model=beam.pvalue.AsList(optional["without_model"]),
            )
        )


def write_json(path: str, record: BaseModel) -> None:
    """Write a JSON document atomically (temporary name, then a rename that replaces it)."""
    temporary = temporary_path(path)
    with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(record.model_dump(mode="json"), indent=2).encode("utf-8"))
    FileSystems.rename([temporary], [path])
