"""Before a run writes: the output folder made whole again, so that what an earlier run left
broken cannot wedge this one or let a copy through.

- An output file that cannot be read (a corrupt Parquet file, one cut short by a full disk or
  copied half-way by hand) is moved to `DIR/_quarantine/`, its path kept, and named on stderr
  and in the run's manifest (`quarantined`). Every reader of the folder (deduplication, the
  ledger, `inspect`) would otherwise fail on it, every run, with an error that names no file.
- An article without its `_index/` row (a run killed between writing `articles/` and
  `_index/`) gets one, so later near copies of it are found as copies.
- An earlier article revised by a run killed before it wrote `duplicates/` gets its
  `superseded` row: the rerun finds the revision already written, a copy, not a revision.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.schemas import DUPLICATE_SCHEMA, INDEX_SCHEMA, Article, to_row
from newsbeam.schemas.layout import (
    ARTICLES,
    DUPLICATES,
    INDEX,
    INPUTS,
    QUARANTINE,
    TABLE_DEPTHS,
    join,
    move,
    output_files,
    recorded,
    relative,
    run_of,
)
from newsbeam.transforms.write import write_parquet


def _open(path: str):
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, mime_type="application/octet-stream")


def readable(path: str) -> bool:
    """Whether `path` is a Parquet file whose footer and schema can be read."""
    try:
        with _open(path) as handle:
            pq.ParquetFile(handle).schema_arrow  # noqa: B018  (reads and checks the footer)
    except (OSError, pa.ArrowException, ValueError):
        return False
    return True


def quarantine_unreadable(output: str) -> list[str]:
    """Move every output file that cannot be read to `DIR/_quarantine/` (same relative path);
    returns their paths relative to `output`."""
    moved = []
    for table in TABLE_DEPTHS:
        for path in output_files(output, table):
            if readable(path):
                continue
            name = relative(output, path)
            move(path, join(output, QUARANTINE, name))
            moved.append(name)
            print(
                f"newsbeam: warning: {join(output, name)} cannot be read; moved it to "
                f"{join(output, QUARANTINE, name)} (restore it from a backup, or delete it)",
                file=sys.stderr,
            )
    return moved


def _column(paths: list[str], column: str) -> set[str]:
    values: set[str] = set()
    for path in paths:
        with _open(path) as handle:
            values.update(pq.read_table(handle, columns=[column]).column(column).to_pylist())
    return values


def _articles(paths: list[str], ids: set[str]) -> list[Article]:
    """The articles of `ids` in the files at `paths`."""
    found = []
    for path in paths:
        with _open(path) as handle:
            table = pq.read_table(handle)
        for row in table.to_pylist():
            if row["article_id"] in ids:
                row.pop("published_date", None)  # a partition column, not a field
                found.append(Article.model_validate(row))
    return found


def repair_index(output: str) -> int:
    """Write the `_index/` rows of the articles that have none (`_index/part-repair-…`);
    returns how many. Reads the `article_id` column of both tables, and whole rows only of the
    files that hold an article without its row."""
    from newsbeam.transforms.dedup import index_entry

    article_files = output_files(output, ARTICLES)
    missing = _column(article_files, "article_id") - _column(
        output_files(output, INDEX), "article_id"
    )
    if not missing:
        return 0
    holding = [path for path in article_files if _column([path], "article_id") & missing]
    rows = [to_row(index_entry(article)) for article in _articles(holding, missing)]
    return _write_repair(
        output,
        INDEX,
        rows,
        INDEX_SCHEMA,
        f"{len(rows)} articles in {output} had no _index/ row (a run stopped between the two); "
        "written now",
    )


def _write_repair(output: str, table: str, rows: list[dict], schema: pa.Schema, said: str) -> int:
    """Write the rows a repair adds as `table/part-repair-TIME-HEX.parquet` and say so."""
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    write_parquet(join(output, table, f"part-repair-{stamp}.parquet"), rows, schema)
    print(f"newsbeam: {said}", file=sys.stderr)
    return len(rows)


def _rows(paths: list[str], columns: list[str]) -> list[dict]:
    found = []
    for path in paths:
        with _open(path) as handle:
            rows = pq.read_table(handle, columns=columns).to_pylist()
        found += [{**row, "run": run_of(path)} for row in rows]
    return found


def repair_superseded(output: str) -> int:
    """Write the `superseded` rows (`duplicates/part-repair-…`) that a killed run owed: an
    article of a run without a ledger (`_inputs/`) that shares a path or URL with an earlier
    run's article supersedes it, unless a row says so already. Returns how many. Reads only the
    ledger's run ids and the listing when no run was killed."""
    from newsbeam.schemas import Duplicate
    from newsbeam.transforms.dedup.signature import SKETCH, estimated_jaccard
    from newsbeam.transforms.dedup.stories import revision_keys

    article_files = output_files(output, ARTICLES)
    ledgers = output_files(output, INPUTS)
    finished = _column(ledgers, "run_id") | {run for path in ledgers if (run := run_of(path))}
    killed = {
        run for path in article_files if (run := run_of(path)) and not recorded(run, finished)
    }
    if not killed:
        return 0
    articles = _rows(article_files, ["article_id", "source_uri", "url", "ingested_at"])
    by_key: dict[str, list[dict]] = {}
    for row in articles:
        for key in revision_keys(row["source_uri"], row["url"]):
            by_key.setdefault(key, []).append(row)
    revisions: dict[str, list[dict]] = {}  # earlier article_id → killed runs' articles
    for new in (row for row in articles if row["run"] in killed):
        for key in revision_keys(new["source_uri"], new["url"]):
            for old in by_key[key]:
                if old["run"] != new["run"] and old["ingested_at"] < new["ingested_at"]:
                    revisions.setdefault(old["article_id"], []).append(new)
    duplicates = _rows(output_files(output, DUPLICATES), ["article_id", "reason"])
    superseded = {row["article_id"] for row in duplicates if row["reason"] == "superseded"}
    newest = {
        old: max(news, key=lambda row: row["ingested_at"])
        for old, news in revisions.items()
        if old not in superseded
    }
    if not newest:
        return 0
    involved = set(newest) | {new["article_id"] for new in newest.values()}
    signatures = {
        row["article_id"]: tuple(row["signature"])
        for row in _rows(output_files(output, INDEX), ["article_id", "sketch", "signature"])
        if row["article_id"] in involved and row["sketch"] == SKETCH
    }
    uris = {row["article_id"]: row["source_uri"] for row in articles if row["article_id"] in newest}
    rows = [
        to_row(
            Duplicate(
                source_uri=uris[old],
                article_id=old,
                duplicate_of=new["article_id"],
                similarity=estimated_jaccard(
                    signatures.get(old, ()), signatures.get(new["article_id"], ())
                ),
                reason="superseded",
            )
        )
        for old, new in sorted(newest.items())
    ]
    return _write_repair(
        output,
        DUPLICATES,
        rows,
        DUPLICATE_SCHEMA,
        f"{len(rows)} earlier articles in {output} were revised by a run stopped before it wrote "
        "duplicates/; their superseded rows written now",
    )
