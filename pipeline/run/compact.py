"""`newsbeam compact DIR`: merge the small Parquet files that many runs leave in a partition.

Every run (each chunk of a local run, each window of a streaming run) writes one file per
partition, so an hourly schedule leaves 24 files a day in each day partition, and a streaming run
one per window. Readers list and open every file; compaction rewrites the files of a partition
that are smaller than the target size into as few files of about that size as their rows make,
rows sorted as a run sorts them (`schemas.layout.SORT_KEYS`). Files already as large as the
target are left alone, so compacting again does nothing.

Each partition is switched over on its own, with a journal (`DIR/_compacting.json`) so that an
interrupted compaction never loses nor doubles a row: the new files are written under hidden
temporary names, the journal names them and the files they replace, the new files are renamed
into place, the old ones deleted, and the journal removed. `recover(DIR)` (run by `compact` and
by `newsbeam run` before anything else) finishes a switch whose new files are all in place and
undoes one whose are not. A reader that lists the partition in the moment between the renames
and the deletes sees its rows twice: compact when no run writes into DIR, as with runs (one at a
time per folder).

What later runs read stays right: the ledger (`_inputs/`) and the index (`_index/`) are
compacted like the tables, row for row, and the file lists of `_manifest.json` and of a
streaming run's `_manifests/` name the files that now hold their rows. Local folders only.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.pipeline.compose.arguments import DEFAULT_TARGET_MB
from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    INPUT_SCHEMA,
    REJECT_SCHEMA,
)
from newsbeam.schemas.layout import (
    COMPACTED,
    INPUTS,
    MANIFEST,
    MANIFESTS,
    SORT_KEYS,
    TEMPORARY_SUFFIX,
    literal,
    table_patterns,
)
from newsbeam.transforms.write import ROWS_PER_GROUP, remove_temporaries

JOURNAL = "_compacting.json"
SCHEMAS = {
    "articles": ARTICLE_SCHEMA,
    "entities": ENTITY_SCHEMA,
    "rejects": REJECT_SCHEMA,
    "duplicates": DUPLICATE_SCHEMA,
    "_index": INDEX_SCHEMA,
    INPUTS: INPUT_SCHEMA,
}


@dataclass(frozen=True)
class Compacted:
    """One partition rewritten: `replaced` files (paths relative to DIR) → `written` files."""

    table: str
    replaced: list[str]
    written: list[str]


def partitions(output: str, table: str) -> dict[str, list[str]]:
    """Partition folder → its Parquet files (sorted), for every partition of `table`."""
    found: dict[str, list[str]] = {}
    for pattern in table_patterns(output, table):
        for path in sorted(glob.glob(pattern)):
            found.setdefault(os.path.dirname(path), []).append(path)
    return found


def small_files(paths: Iterable[str], target_bytes: int) -> list[str]:
    """The files to merge: those under the target size, when there are at least two."""
    small = [p for p in paths if os.path.getsize(p) < target_bytes]
    return small if len(small) > 1 else []


def merged_table(paths: list[str], table: str) -> pa.Table:
    """The rows of `paths` as one table in the table's schema, sorted by its SORT_KEYS."""
    parts = [pq.read_table(path, partitioning=None) for path in paths]
    merged = pa.concat_tables(parts, promote_options="permissive")
    schema = SCHEMAS[table]
    if set(merged.schema.names) == set(schema.names):
        merged = merged.select(schema.names).cast(schema)
    keys = [(key, "ascending") for key in SORT_KEYS[table] if key in merged.schema.names]
    return merged.sort_by(keys) if keys else merged


def slices(table: pa.Table, sizes: int, target_bytes: int) -> list[pa.Table]:
    """`table` cut into pieces of about `target_bytes` on disk, `sizes` being its rows' bytes on
    disk now."""
    rows = max(1, int(table.num_rows * target_bytes / max(sizes, 1)))
    return [table.slice(start, rows) for start in range(0, table.num_rows, rows)] or [table]


def relative(output: str, path: str) -> str:
    return os.path.relpath(path, output).replace(os.sep, "/")


def compact_partition(
    output: str, table: str, paths: list[str], target_bytes: int, stem: str
) -> Compacted:
    """Rewrite `paths` (files of one partition folder) as files of about `target_bytes`."""
    merged = merged_table(paths, table)
    folder = os.path.dirname(paths[0])
    moves: list[tuple[str, str]] = []
    for number, piece in enumerate(slices(merged, sum(map(os.path.getsize, paths)), target_bytes)):
        final = os.path.join(folder, f"{stem}-{number:05d}.parquet")
        temporary = os.path.join(folder, f".{os.path.basename(final)}{TEMPORARY_SUFFIX}")
        pq.write_table(piece, temporary, compression="zstd", row_group_size=ROWS_PER_GROUP)
        moves.append((temporary, final))
    journal = {
        "moves": [[relative(output, t), relative(output, f)] for t, f in moves],
        "remove": [relative(output, p) for p in paths],
    }
    _write_journal(output, journal)
    _finish(output, journal)
    return Compacted(table, journal["remove"], [final for _, final in journal["moves"]])


def _write_journal(output: str, journal: dict) -> None:
    temporary = os.path.join(output, f".{JOURNAL}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(journal, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, os.path.join(output, JOURNAL))


def _finish(output: str, journal: dict) -> None:
    """Rename the new files into place, delete the replaced ones, drop the journal."""
    for temporary, final in journal["moves"]:
        os.replace(os.path.join(output, temporary), os.path.join(output, final))
    for old in journal["remove"]:
        path = os.path.join(output, old)
        if os.path.exists(path):
            os.remove(path)
    os.remove(os.path.join(output, JOURNAL))


def recover(output: str) -> str | None:
    """Complete or undo a compaction that was interrupted in `output`; returns what was done
    ("finished" or "undone"), None when there was nothing to do."""
    path = os.path.join(output, JOURNAL)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        journal = json.load(handle)
    placed = [
        os.path.exists(os.path.join(output, final))
        or os.path.exists(os.path.join(output, temporary))
        for temporary, final in journal["moves"]
    ]
    if all(placed):
        # Every new file was written before the journal; the switch was under way.
        for temporary, final in journal["moves"]:
            if not os.path.exists(os.path.join(output, final)):
                os.replace(os.path.join(output, temporary), os.path.join(output, final))
        for old in journal["remove"]:
            if os.path.exists(os.path.join(output, old)):
                os.remove(os.path.join(output, old))
        os.remove(path)
        return "finished"
    for temporary, final in journal["moves"]:
        for name in (temporary, final):
            if os.path.exists(os.path.join(output, name)):
                os.remove(os.path.join(output, name))
    os.remove(path)
    return "undone"


def _rewrite_file_lists(output: str, done: list[Compacted]) -> None:
    """Point the manifests' file lists at the files that now hold their rows."""
    replaced: dict[str, list[str]] = {}
    for compacted in done:
        for old in compacted.replaced:
            replaced[old] = compacted.written
    manifests = [
        os.path.join(output, MANIFEST),
        *glob.glob(os.path.join(literal(output), MANIFESTS, "*")),
    ]
    for path in filter(os.path.isfile, manifests):
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        files = manifest.get("files") or {}
        changed = False
        for table, paths in files.items():
            kept: list[str] = []
            for listed in paths:
                key = _key_in_output(listed, table)
                if key in replaced:
                    prefix = listed[: len(listed) - len(key)]
                    kept.extend(prefix + new for new in replaced[key])
                    changed = True
                else:
                    kept.append(listed)
            files[table] = sorted(set(kept))
        if changed:
            temporary = f"{path}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}"
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(manifest, handle, indent=2)
            os.replace(temporary, path)


def _key_in_output(path: str, table: str) -> str:
    """`table/k=v/…/part-….parquet`: the part of a listed path inside the output folder."""
    parts = path.split("/")
    for start in range(len(parts) - 2, -1, -1):
        if parts[start] == table and all("=" in p for p in parts[start + 1 : -1]):
            return "/".join(parts[start:])
    return path


def compact(output: str, target_mb: float = DEFAULT_TARGET_MB) -> list[Compacted]:
    """Compact every table of `output`; returns the partitions rewritten. New files are named
    like a run's (`part-compact-TIME-HEX-NNNNN.parquet`), so later runs read them as earlier
    output."""
    recover(output)
    remove_temporaries(output)
    target_bytes = int(target_mb * 2**20)
    stem = f"part-{COMPACTED}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    done = []
    for table in SCHEMAS:
        for paths in partitions(output, table).values():
            chosen = small_files(paths, target_bytes)
            if chosen:
                done.append(compact_partition(output, table, chosen, target_bytes, stem))
    _rewrite_file_lists(output, done)
    return done
