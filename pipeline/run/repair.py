"""Before a run writes: the output folder made whole again, so that what an earlier run left
broken cannot wedge this one or let a copy through.

- An output file that cannot be read (a corrupt Parquet file, one cut short by a full disk or
  copied half-way by hand) is moved to `DIR/_quarantine/`, its path kept, and named on stderr
  and in the run's manifest (`quarantined`). Every reader of the folder (deduplication, the
  ledger, `inspect`) would otherwise fail on it, every run, with an error that names no file.
- An article without its `_index/` row (a run killed between writing `articles/` and
  `_index/`) gets one, so later near copies of it are found as copies.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.schemas import INDEX_SCHEMA, Article, to_row
from newsbeam.schemas.layout import (
    ARTICLES,
    INDEX,
    QUARANTINE,
    TABLE_DEPTHS,
    join,
    move,
    output_files,
    relative,
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
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    write_parquet(join(output, INDEX, f"part-repair-{stamp}.parquet"), rows, INDEX_SCHEMA)
    print(
        f"newsbeam: {len(rows)} articles in {output} had no _index/ row (a run stopped between "
        "the two); written now",
        file=sys.stderr,
    )
    return len(rows)
