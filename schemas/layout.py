"""The output folder's contract: its tables and their paths, file names, `_manifest.json` and the
ledger it keeps. Every writer, reader and command asks this module; none builds a path or counts
the ledger on its own.

    DIR/articles/published_date=YYYY-MM-DD/part-RUN-NNNNN.parquet   rows sorted by source
    DIR/entities/published_date=YYYY-MM-DD/part-RUN-NNNNN.parquet
    DIR/rejects/part-RUN-NNNNN.parquet
    DIR/duplicates/part-RUN-NNNNN.parquet
    DIR/_index/part-RUN-NNNNN.parquet   one sketch per written article, for later runs' dedup
    DIR/_inputs/part-RUN.parquet        the input files a run read (path, size, checksum)
    DIR/_manifest.json                  the last run's ledger
    DIR/_manifests/WINDOW-RUN.json      a streaming window's ledger
    DIR/_lock                           who writes into the folder now, or last did
    DIR/_quarantine/TABLE/…             output files that could not be read, moved aside

`--partition-by published_date,source` adds `source=SLUG/` under the day. In a streaming run a
file name also carries its window and pane (`part-RUN-WINDOW-pPANE-NNNNN.parquet`). Files are
written under a hidden temporary name (`.NAME.XXXX.inprogress`) and renamed into place.

The ledger: every record a run reads is written, rejected or a duplicate,
`read == written + rejected + duplicates` (`balanced`).

Paths go through Beam's FileSystems (local, gs://, s3://), imported when first needed so that
the command line's `--help` does not load Beam.
"""

from __future__ import annotations

import glob
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.schemas.models import Counts, Manifest

ARTICLES = "articles"
ENTITIES = "entities"
REJECTS = "rejects"
DUPLICATES = "duplicates"
INDEX = "_index"
INPUTS = "_inputs"
# The tables a reader queries, and the two that are the output's memory of itself.
TABLES = (ARTICLES, ENTITIES, REJECTS, DUPLICATES, INDEX)
MANIFEST = "_manifest.json"
MANIFESTS = "_manifests"
TEMPORARY_SUFFIX = ".inprogress"
LOCK = "_lock"  # held by the run that writes (pipeline.run.lock)
QUARANTINE = "_quarantine"  # output files that could not be read (pipeline.run.repair)

# Partition levels under each table's folder, for every --partition-by (an output holds one).
TABLE_DEPTHS = {
    ARTICLES: (1, 2),
    ENTITIES: (1,),
    REJECTS: (0,),
    DUPLICATES: (0,),
    INDEX: (0,),
    INPUTS: (0,),
}
# Within a file, the order of its rows: an outlet's articles are together, so row-group
# statistics let a reader skip the rest when it filters on `source`.
SORT_KEYS = {
    ARTICLES: ("source", "article_id"),
    ENTITIES: ("article_id",),
    REJECTS: ("source_uri",),
    DUPLICATES: ("source_uri",),
    INDEX: ("article_id",),
    INPUTS: ("path",),
}
_CHUNK_SUFFIX = re.compile(r"-c\d{4}$")
COMPACTED = "compact"  # `part-compact-…`: files `newsbeam compact` merged from several runs


class OutputError(ValueError):
    """A file of the output folder cannot be read; the message names it and what to do."""


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def join(output: str, *parts: str) -> str:
    """`output/part/…` for a local path, gs:// or s3://."""
    return _filesystems().join(output, *parts)


def literal(path: str) -> str:
    """`path` as a pattern that matches only itself: `*`, `?` and `[` in a folder's name
    (`news [2024]`, `out?`) are characters, not wildcards, for Beam's FileSystems.match as for
    glob. Only `--input` is a pattern; every other path is escaped before a pattern is built
    on it."""
    return glob.escape(path)


def table_patterns(output: str, table: str) -> list[str]:
    """Patterns matching every Parquet file of `table` in `output`, whichever --partition-by
    wrote it."""
    return [
        join(literal(output), table, *["*"] * depth, "*.parquet") for depth in TABLE_DEPTHS[table]
    ]


def partition_dir(output: str, table: str, values: Iterable[tuple[str, str]] = ()) -> str:
    """`output/table/k1=v1/k2=v2`; values must already be partition-safe (slugs, ISO dates)."""
    return join(output, table, *(f"{key}={value}" for key, value in values))


def file_stem(run_id: str, window_tag: str | None = None, pane_index: int = 0) -> str:
    """`part-RUN` in a batch run; `part-RUN-WINDOW-pPANE` in a streaming run."""
    return f"part-{run_id}" if window_tag is None else f"part-{run_id}-{window_tag}-p{pane_index}"


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


_RUN_FILE = re.compile(r"part-(?P<run>.+?)(?:-\d{5})?\.parquet")


def run_of(path: str) -> str | None:
    """The run (or chunk) id in a file's name (`part-RUN-00000.parquet`, a ledger's
    `part-RUN.parquet`); None for a file `newsbeam compact` merged from several runs."""
    match = _RUN_FILE.fullmatch(path.rsplit("/", 1)[-1])
    return None if match is None or match["run"].startswith(f"{COMPACTED}-") else match["run"]


def recorded(run: str, finished: set[str]) -> bool:
    """Whether the files of `run` (from `run_of`) belong to a run whose ledger was written:
    `finished` holds the ledger's run ids and its files' (a streaming window's ledger is
    `part-RUN-WINDOW`, its tables' files `part-RUN-WINDOW-pPANE-…`)."""
    parts = run.split("-")
    return any("-".join(parts[:count]) in finished for count in range(1, len(parts) + 1))


def output_files(output: str, table: str) -> list[str]:
    """The Parquet files of `table` in `output`, sorted."""
    matched = _filesystems().match(table_patterns(output, table))
    return sorted({m.path for result in matched for m in result.metadata_list})


def relative(output: str, path: str) -> str:
    """`path` (a file in `output`) relative to `output`, with `/` separators."""
    return path[len(output.rstrip("/")) :].lstrip("/")


def move(source: str, destination: str) -> None:
    """Rename a file, creating the destination's folder (local) as needed."""
    if "://" in source:
        _filesystems().rename([source], [destination])
        return
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.replace(source, destination)


def delete(paths: list[str]) -> None:
    """Delete files by name. Beam's local `FileSystems.delete` matches its arguments as
    patterns, which a folder named `news [2024]` does not match."""
    local = [path for path in paths if "://" not in path]
    for path in local:
        os.remove(path)
    if len(local) < len(paths):
        _filesystems().delete([path for path in paths if "://" in path])


def run_files(output: str, run_id: str) -> list[str]:
    """The files run `run_id` (or a chunk of it) wrote in `output`: its tables' and `_inputs/`'
    `part-RUN…` files and a streaming run's `_manifests/WINDOW-RUN.json`."""
    FileSystems = _filesystems()
    stem = glob.escape(f"part-{run_id}")
    patterns = [
        join(literal(output), table, *["*"] * depth, name)
        for table, depths in TABLE_DEPTHS.items()
        for depth in depths
        for name in (f"{stem}.parquet", f"{stem}-*.parquet")
    ]
    patterns.append(join(literal(output), MANIFESTS, f"*-{glob.escape(run_id)}.json"))
    return sorted({m.path for result in FileSystems.match(patterns) for m in result.metadata_list})


def temporary_path(path: str) -> str:
    """A hidden name beside `path`, unique to this attempt: a runner may run the same write twice
    at once (the Dask runner recomputes what a side input needs), and two attempts must never
    share, or rename away, each other's temporary file."""
    directory, name = path.rsplit("/", 1)
    return join(directory, f".{name}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}")


def temporary_patterns(output: str, depth: int = 3) -> list[str]:
    """Patterns matching the temporary files a killed run can leave in `output`: the manifest's,
    and those of every table down to `depth` folders (articles/DATE/SOURCE/ is 3)."""
    return [
        join(literal(output), *["*"] * level, f".*{TEMPORARY_SUFFIX}") for level in range(depth + 1)
    ]


def ledger_pattern(output: str) -> str:
    """Every `_inputs/` file of an output."""
    return join(literal(output), INPUTS, "*.parquet")


def manifest_path(output: str) -> str:
    return join(output, MANIFEST)


def window_manifest_path(output: str, window_tag: str, run_id: str) -> str:
    """`DIR/_manifests/WINDOW-RUN.json`: a streaming window's ledger."""
    return join(output, MANIFESTS, f"{window_tag}-{run_id}.json")


def has_manifest(output: str) -> bool:
    return _filesystems().exists(manifest_path(output))


def read_manifest(path: str) -> Manifest:
    """The Manifest in the JSON file at `path` (`manifest_path(output)` for an output's own).

    Raises OutputError naming the file when it is missing, truncated or not a manifest."""
    try:
        with _filesystems().open(path) as handle:
            return Manifest.model_validate(json.load(handle))
    except (OSError, ValueError) as error:
        raise OutputError(
            f"cannot read the manifest {path}: {error}. If a run was killed while writing it, "
            "run newsbeam again into the same --output: it rewrites the manifest."
        ) from error


def read_manifest_json(path: str) -> dict[str, Any]:
    """The manifest at `path` as the JSON document it is, for code that shows it rather than
    computes with it. Raises OutputError naming the file when it is missing or not JSON."""
    try:
        with _filesystems().open(path) as handle:
            document = json.load(handle)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        raise OutputError(
            f"cannot read the manifest {path}: {error}. If a run was killed while writing it, "
            "run newsbeam again into the same --output: it rewrites the manifest."
        ) from error
    return document


def synced(handle: Any) -> None:
    """Flush a local file's bytes to the disk before it is renamed into place: after a power
    cut, a published name then never points at a file the disk had not yet written. (Objects on
    gs:// and s3:// are whole once their upload closes.)"""
    if hasattr(handle, "fileno"):
        handle.flush()
        os.fsync(handle.fileno())


def publish(temporary: str, path: str) -> None:
    """Rename a finished temporary file to its name, and (locally) make the rename itself
    durable by syncing the folder."""
    _filesystems().rename([temporary], [path])
    if "://" not in path:
        folder = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_json(path: str, record: Any) -> None:
    """Write a pydantic record as JSON atomically: a temporary name, then a rename that replaces
    the file, so a reader sees the old document or the new one, never part of one."""
    temporary = temporary_path(path)
    with _filesystems().create(temporary) as handle:
        handle.write(json.dumps(record.model_dump(mode="json"), indent=2).encode("utf-8"))
        synced(handle)
    publish(temporary, path)


def read_output_columns(
    readable: Any, columns: Sequence[str], present_only: bool = False
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


def balanced(counts: Counts | dict[str, Any]) -> bool:
    """The ledger's equation: every record read is written, rejected or a duplicate."""
    if isinstance(counts, Counts):
        counts = counts.model_dump()
    return counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]


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
    documents read plus read rejects; `duplicate_counts` is (reason, count) per duplicate
    reason (a `superseded` count is the earlier articles replaced, not records read);
    `without_model` the language of each article written without entities."""
    copies = dict(duplicate_counts)
    superseded = copies.pop("superseded", 0)  # an earlier run's article, not a record read
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
        written=rows[ARTICLES],
        rejected=sum(by_stage.values()),
        duplicates=sum(copies.values()),
        entities=rows[ENTITIES],
        rejected_by_stage=dict(sorted(by_stage.items())),
        rejected_by_reason=dict(sorted(by_reason.items())),
        duplicates_by_reason=dict(sorted(copies.items())),
        skipped=len(set(skipped)),
        superseded=superseded,
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


_TOTALS = ("read", "written", "rejected", "duplicates", "entities", "skipped", "superseded")
_BREAKDOWNS = (
    "rejected_by_stage",
    "rejected_by_reason",
    "duplicates_by_reason",
    "without_entity_model_by_language",
)


def merge_manifests(parts: list[Manifest]) -> Manifest:
    """One ledger for a run made of several pipeline runs (chunks): counts added up, inputs and
    files gathered, from the first start to the last finish. A file read in parts (a large WARC
    split over chunks) is one input, and skipped once."""
    totals: Counter[str] = Counter()
    by: dict[str, Counter[str]] = {name: Counter() for name in _BREAKDOWNS}
    files: dict[str, list[str]] = {}
    for part in parts:
        totals.update({name: getattr(part.counts, name) for name in _TOTALS})
        for name, counter in by.items():
            counter.update(getattr(part.counts, name))
        for table, paths in part.files.items():
            files.setdefault(table, []).extend(paths)
    skipped = sorted({i for p in parts for i in p.skipped_inputs})
    totals["skipped"] = len(skipped)
    counts = Counts(
        **{name: totals[name] for name in _TOTALS},
        **{name: dict(sorted(counter.items())) for name, counter in by.items()},
    )
    return Manifest(
        run_id=_CHUNK_SUFFIX.sub("", parts[0].run_id),
        started_at=min(p.started_at for p in parts),
        finished_at=max(p.finished_at for p in parts),
        inputs=sorted({i for p in parts for i in p.inputs}),
        counts=counts,
        files={table: sorted(paths) for table, paths in sorted(files.items())},
        skipped_inputs=skipped,
    )
