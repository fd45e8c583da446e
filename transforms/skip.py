"""Skipping what an earlier run already wrote, so that a rerun into the same output (after a
crash, or on purpose) writes each entity row, reject and duplicate once.

Records are keyed by the columns that identify a row; the keys of the table's earlier files are
read back and the records whose key is among them are dropped. A run never reads its own files
(or those of its other chunks) as earlier output (`EarlierOutputFiles`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from newsbeam.schemas.layout import read_output_columns, written_by_run

_NEW, _WRITTEN = "new", "written"


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
