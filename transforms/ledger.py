"""The ledger of inputs: which files an output already holds, so later runs skip them.

Every run records the input files it read in `DIR/_inputs/` (one Parquet file per run, or per
window in a streaming run: path, size, SHA-256 of the bytes, run id), written atomically and only
after the outputs made from those files (`transforms.manifest.write_inputs`). A later run into the
same output skips a matched file whose path, size and checksum are recorded there: an hourly
schedule over a growing folder reads each file once. A file changed in place (other size or
checksum) is read again. Skipped files are not read, so they are not in `read`; the manifest lists
them in `skipped_inputs` and counts them in `counts.skipped`.

A streaming run's ledger is per window (`WriteWindowLedger`): `DIR/_manifests/WINDOW-RUN.json`
and `DIR/_inputs/part-RUN-WINDOW.parquet`, rewritten at each firing of the window with everything
the window holds so far, so the last firing (normally the only one) is complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from newsbeam.schemas.layout import (
    balanced,
    build_manifest,
    ledger_pattern,
    literal,
    read_output_columns,
    window_manifest_path,
    write_json,
)
from newsbeam.transforms.manifest import write_inputs
from newsbeam.transforms.read import display_path, read_head
from newsbeam.transforms.routing import SplitOff
from newsbeam.transforms.skip import EarlierOutputFiles
from newsbeam.transforms.stream import stream_windows
from newsbeam.transforms.write import window_tag

LEDGER_KEY = "ledger"

Recorded = dict[str, list[tuple[int, str]]]


class SkippedInput(NamedTuple):
    """A matched input file not read: the output's ledger already records it."""

    path: str


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes as stored (no decompression), read in chunks."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return read_head(handle, 0)[2]


def is_recorded(size: int, entries: Iterable[tuple[int, str]], checksum) -> bool:
    """Whether a file of `size` bytes is one of the recorded (size, sha256) `entries` of its
    path. `checksum()` gives the file's SHA-256 and is called only when a size matches."""
    sizes = {recorded_size for recorded_size, _ in entries}
    if size not in sizes:
        return False
    sha256 = checksum()
    return any((size, sha256) == (s, h) for s, h in entries)


class ReadLedgerFn(beam.DoFn):
    """An `_inputs/` Parquet file → (path, (size, sha256)) per row.

    Example input: the ReadableFile of "out/_inputs/part-20240501T120000-ab12cd.parquet".
    """

    def process(self, readable: fileio.ReadableFile):
        rows = read_output_columns(readable, ["path", "size", "sha256"]).to_pylist()
        for row in rows:
            yield row["path"], (row["size"], row["sha256"])


class ReadInputLedger(beam.PTransform):
    """An output folder → (path, [(size, sha256), …]) per input file its ledger records."""

    def __init__(self, output: str, run_id: str | None = None) -> None:
        super().__init__()
        self._output = output
        self._run_id = run_id

    def expand(self, pbegin):
        return (
            pbegin
            | "LedgerFiles" >> EarlierOutputFiles([ledger_pattern(self._output)], self._run_id)
            | "ReadLedgerRows" >> beam.ParDo(ReadLedgerFn())
            | "GroupByPath" >> beam.GroupByKey()
            | "ListEntries" >> beam.MapTuple(lambda path, entries: (path, sorted(set(entries))))
        )


class CheckLedgerFn(beam.DoFn):
    """An input path → the path if it is to be read, or a SkippedInput when the ledger (a side
    input: path → [(size, sha256)]) records the file with the same size and checksum.

    Example input: FileMetadata("in/000_383991272e6f6611.txt", 8123), or the bare path.
    """

    def __init__(self) -> None:
        self._new = Metrics.counter("ledger", "new_inputs")
        self._skipped = Metrics.counter("ledger", "skipped_inputs")

    def process(self, element: str | FileMetadata, recorded: Recorded):
        path = element.path if isinstance(element, FileMetadata) else element
        name = display_path(path)
        entries = recorded.get(name)
        if entries:
            matches = FileSystems.match([literal(path)])[0].metadata_list
            # A part of a split archive carries its file's checksum: no part reads the file again.
            sha256 = getattr(element, "sha256", None)
            if matches and is_recorded(
                matches[0].size_in_bytes, entries, lambda: sha256 or file_sha256(path)
            ):
                self._skipped.inc()
                yield SkippedInput(name)
                return
        self._new.inc()
        yield element


class SkipRecordedInputs(beam.PTransform):
    """Input paths → (paths to read, SkippedInputs): files the output's ledger records with the
    same path, size and checksum are skipped. `enabled=False` reads every path again."""

    def __init__(self, output: str, enabled: bool = True, run_id: str | None = None) -> None:
        super().__init__()
        self._output = output
        self._enabled = enabled
        self._run_id = run_id

    def expand(self, paths):
        if not self._enabled:
            return paths, paths.pipeline | "NothingSkipped" >> beam.Create([])
        recorded = paths.pipeline | "ReadInputLedger" >> ReadInputLedger(self._output, self._run_id)
        return (
            paths
            | "CheckLedger" >> beam.ParDo(CheckLedgerFn(), recorded=beam.pvalue.AsDict(recorded))
            | "SplitSkipped" >> SplitOff(SkippedInput)
        )


def window_manifest(
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
    window: tuple[datetime, datetime],
    grouped: dict[str, list[Any]],
):
    """A window's Manifest from its co-grouped ledger entries: "paths" (inputs read), "documents"
    (one 1 per document), "rejects" ((stage, reason) each), "duplicates" (reason each), "files"
    ((table, path, rows) each), "skipped" (paths), "without_model" (languages of articles
    written without entities)."""
    return build_manifest(
        run_id,
        started_at,
        finished_at,
        sorted(set(grouped["paths"])),
        sum(grouped["documents"]),
        list(Counter(tuple(r) for r in grouped["rejects"]).items()),
        list(Counter(grouped["duplicates"]).items()),
        [tuple(f) for f in grouped["files"]],
        grouped["skipped"],
        window=window,
        without_model=grouped.get("without_model", ()),
    )


class WriteWindowLedgerFn(beam.DoFn):
    """("ledger", {tag: [entries]}) of one window → `_inputs/part-RUN-WINDOW.parquet`, then
    `_manifests/WINDOW-RUN.json`; emits the Manifest. Runs after the window's files are written
    (its "files" entries come from the writers), once per firing, each time with all the
    window's entries so far (accumulating panes).
    """

    def __init__(self, output: str, run_id: str, started_at: datetime) -> None:
        self._output = output
        self._run_id = run_id
        self._started_at = started_at
        self._unbalanced = Metrics.counter("ledger", "unbalanced_windows")

    def process(self, element, window=beam.DoFn.WindowParam):
        _key, grouped = element
        grouped = {name: list(values) for name, values in grouped.items()}
        tag = window_tag(window)
        if tag is None:
            raise ValueError("WriteWindowLedger needs the fixed windows of a streaming run")
        span = (
            window.start.to_utc_datetime().replace(tzinfo=UTC),
            window.end.to_utc_datetime().replace(tzinfo=UTC),
        )
        manifest = window_manifest(self._run_id, self._started_at, datetime.now(UTC), span, grouped)
        counts = manifest.counts
        if not balanced(counts):
            self._unbalanced.inc()
        write_inputs(
            self._output,
            f"part-{self._run_id}-{tag}",
            [tuple(f) for f in grouped["fingerprints"]],
            self._run_id,
        )
        write_json(window_manifest_path(self._output, tag, self._run_id), manifest)
        yield manifest


class WriteWindowLedger(beam.PTransform):
    """The per-window ledger of a streaming run: a dict of PCollections ("inputs": paths read,
    "fingerprints", "documents", "rejects", "duplicates", "files", "skipped") → one Manifest per
    window firing, written with the window's `_inputs/` file.

    The entries are re-windowed into the data's windows with ACCUMULATING panes, so a late
    firing rewrites the window's ledger with everything so far instead of a fragment.
    """

    def __init__(
        self,
        output: str,
        run_id: str,
        started_at: datetime,
        window_seconds: int,
        allowed_lateness_seconds: int,
    ) -> None:
        super().__init__()
        self._output = output
        self._run_id = run_id
        self._started_at = started_at
        self._window_seconds = window_seconds
        self._allowed_lateness_seconds = allowed_lateness_seconds

    def expand(self, ledger: dict[str, beam.PCollection]):
        entries = {
            "paths": ledger["inputs"],
            "fingerprints": ledger["fingerprints"] | "FingerprintTuples" >> beam.Map(tuple),
            "documents": ledger["documents"] | "OnePerDocument" >> beam.Map(lambda _: 1),
            "rejects": ledger["rejects"]
            | "RejectReasons" >> beam.Map(lambda r: (r.stage, r.reason)),
            "duplicates": ledger["duplicates"] | "DuplicateReasons" >> beam.Map(lambda d: d.reason),
            "files": ledger["files"],
            "skipped": ledger["skipped"] | "SkippedPaths" >> beam.Map(lambda s: s.path),
        }
        if "without_model" in ledger:
            entries["without_model"] = ledger["without_model"]
        keyed = {
            name: pcoll
            | f"Key{name.title()}" >> beam.Map(lambda value: (LEDGER_KEY, value))
            | f"Accumulate{name.title()}"
            >> stream_windows(self._window_seconds, self._allowed_lateness_seconds, accumulate=True)
            for name, pcoll in entries.items()
        }
        return (
            keyed
            | "GroupWindowLedger" >> beam.CoGroupByKey()
            | "WriteWindowLedger"
            >> beam.ParDo(WriteWindowLedgerFn(self._output, self._run_id, self._started_at))
        )
