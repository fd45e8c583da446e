"""What an output folder holds, in numbers: read with pyarrow, for `inspect` and `report`.

`read_output(folder)` scans every table of a newsbeam output (all runs written into it, not just
the last) and returns an `OutputStats` of plain values; nothing here prints or draws. Only the
columns each figure needs are read; the `boilerplate` texts are read to measure their length.
"""

from __future__ import annotations

import bisect
import glob
import itertools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from newsbeam.pipeline.compose.arguments import DEFAULT_TOP
from newsbeam.schemas import reader_partitioning
from newsbeam.schemas.layout import (
    MANIFEST,
    TABLES,
    OutputError,
    manifest_path,
    read_manifest_json,
)
from newsbeam.transforms.inputs import printable
from newsbeam.transforms.write import PARTITION_BY

UNKNOWN_DATE = "unknown"  # how an undated article's day is shown
_PARTITIONS = {
    # Every level an output may have: a level a path lacks is read from the file (`source`).
    "articles": reader_partitioning(PARTITION_BY[-1]),
    "entities": reader_partitioning("published_date"),
}


class NotAnOutputError(ValueError):
    """The folder is not a newsbeam output; the message says what to pass instead."""


@dataclass(frozen=True)
class TableStats:
    name: str
    rows: int
    files: int
    bytes: int


@dataclass(frozen=True)
class Partition:
    """A folder of articles/: a day, or a day and an outlet (`--partition-by`)."""

    published_date: str
    source: str | None
    articles: int
    files: int


@dataclass(frozen=True)
class SourceStats:
    source: str
    name: str | None
    articles: int
    words: int
    first_date: str | None
    last_date: str | None


@dataclass(frozen=True)
class EntityStats:
    canonical: str
    label: str
    articles: int
    mentions: int


@dataclass(frozen=True)
class BoilerplateStats:
    kind: str
    segments: int
    articles: int
    characters: int


@dataclass(frozen=True)
class RejectStats:
    stage: str
    reason: str
    count: int
    example: str
    message: str


@dataclass(frozen=True)
class DuplicateStats:
    reason: str
    count: int
    mean_similarity: float


@dataclass(frozen=True)
class CopiedStory:
    article_id: str
    title: str | None
    copies: int


@dataclass(frozen=True)
class OutputStats:
    """Everything `inspect` prints and `report` draws. Lists are sorted for display: partitions
    by date (unknown last) then source, the others by count, largest first."""

    folder: str
    manifest: dict[str, Any] | None
    tables: list[TableStats]
    partitions: list[Partition]
    sources: list[SourceStats]
    entities: list[EntityStats]
    boilerplate: list[BoilerplateStats]
    rejects: list[RejectStats]
    duplicates: list[DuplicateStats]
    most_copied: list[CopiedStory]
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)
    languages: list[tuple[str, int]] = field(default_factory=list)
    body_words: list[tuple[str, int]] = field(default_factory=list)

    def rows(self, table: str) -> int:
        return next((t.rows for t in self.tables if t.name == table), 0)


def _readable(path: str) -> bool:
    try:
        pq.ParquetFile(path).schema_arrow  # noqa: B018  (reads and checks the footer)
    except (OSError, pa.ArrowException):
        return False
    return True


def _dataset(folder: str, table: str) -> ds.Dataset | None:
    """The table's files as one dataset; a file that cannot be read is left out with a warning
    that names it (the next run moves it to `_quarantine/`)."""
    path = os.path.join(folder, table)
    if not os.path.isdir(path):
        return None
    found = sorted(glob.glob(os.path.join(glob.escape(path), "**", "*.parquet"), recursive=True))
    files = []
    for file in found:
        if _readable(file):
            files.append(file)
        else:
            print(f"newsbeam: warning: {printable(file)} cannot be read; left out", file=sys.stderr)
    return ds.dataset(
        files, format="parquet", partitioning=_PARTITIONS.get(table), partition_base_dir=path
    )


def _table_stats(name: str, dataset: ds.Dataset | None) -> TableStats:
    if dataset is None:
        return TableStats(name, 0, 0, 0)
    files = dataset.files
    size = sum(os.path.getsize(path) for path in files)
    return TableStats(name, dataset.count_rows(), len(files), size)


def _columns(dataset: ds.Dataset | None, columns: Sequence[str]) -> pa.Table | None:
    """The columns of a table that it has; `published_date` as text, undated as UNKNOWN_DATE."""
    if dataset is None:
        return None
    present = [c for c in columns if c in dataset.schema.names]
    table = dataset.to_table(columns=present)
    if "published_date" in present:
        day = pc.fill_null(table["published_date"].cast(pa.string()), UNKNOWN_DATE)
        table = table.set_column(present.index("published_date"), "published_date", day)
    return table if table.num_rows else None


def date_order(value: str | None) -> tuple[bool, str]:
    """Sort key for `published_date` values: dates in order, `unknown` (or none) last."""
    return (value in (None, UNKNOWN_DATE), value or "")


def _partitions(dataset: ds.Dataset | None) -> list[Partition]:
    if dataset is None:
        return []
    files: dict[tuple[str, str | None], int] = {}
    by_source = False
    for fragment in dataset.get_fragments():
        values = ds.get_partition_keys(fragment.partition_expression)
        day = values.get("published_date")
        key = (UNKNOWN_DATE if day is None else day.isoformat(), values.get("source"))
        by_source = by_source or key[1] is not None
        files[key] = files.get(key, 0) + 1
    levels = ["published_date", "source"] if by_source else ["published_date"]
    table = _columns(dataset, ["published_date", "source", "article_id"])
    counts: dict[tuple[str, str | None], int] = {}
    if table is not None:
        grouped = table.group_by(levels).aggregate([("article_id", "count")])
        for row in grouped.to_pylist():
            counts[(row["published_date"], row.get("source"))] = row["article_id_count"]
    return sorted(
        (
            Partition(date, source, counts.get((date, source), 0), n)
            for (date, source), n in files.items()
        ),
        key=lambda p: (date_order(p.published_date), p.source or ""),
    )


def _per_day(articles: pa.Table | None) -> dict[str, dict[str, int]]:
    if articles is None:
        return {}
    grouped = articles.group_by(["published_date", "source"]).aggregate([("article_id", "count")])
    days: dict[str, dict[str, int]] = {}
    for row in sorted(grouped.to_pylist(), key=lambda r: date_order(r["published_date"])):
        days.setdefault(row["published_date"], {})[row["source"]] = row["article_id_count"]
    return days


# Upper bounds of the body-length histogram's bins, in words (validation rejects fewer than 20).
WORD_BINS = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000)


def _languages(articles: pa.Table | None) -> list[tuple[str, int]]:
    """(language, articles) for every language, largest first; `und` when it was not told."""
    if articles is None or "language" not in articles.column_names:
        return []
    counts: dict[str, int] = {}
    for language in articles["language"].to_pylist():
        counts[language or "und"] = counts.get(language or "und", 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _body_words(articles: pa.Table | None) -> list[tuple[str, int]]:
    """The body-length histogram: (bin label, articles) for every bin of WORD_BINS."""
    if articles is None or "word_count" not in articles.column_names:
        return []
    labels = [f"<{WORD_BINS[0]}"] + [
        f"{low:,}–{high - 1:,}" for low, high in itertools.pairwise(WORD_BINS)
    ]
    labels.append(f"{WORD_BINS[-1]:,}+")
    counts = [0] * len(labels)
    for words in articles["word_count"].to_pylist():
        counts[bisect.bisect_right(WORD_BINS, words or 0)] += 1
    return list(zip(labels, counts, strict=True))


def _sources(articles: pa.Table | None) -> list[SourceStats]:
    if articles is None:
        return []
    dated = articles.append_column(
        "date",
        pc.if_else(
            pc.equal(articles["published_date"], UNKNOWN_DATE),
            pa.scalar(None, pa.string()),
            articles["published_date"],
        ),
    )
    grouped = dated.group_by("source", use_threads=False).aggregate(
        [
            ("article_id", "count"),
            ("word_count", "sum"),
            ("source_name", "first"),
            ("date", "min"),
            ("date", "max"),
        ]
    )
    sources = [
        SourceStats(
            row["source"],
            row["source_name_first"],
            row["article_id_count"],
            row["word_count_sum"] or 0,
            row["date_min"],
            row["date_max"],
        )
        for row in grouped.to_pylist()
    ]
    return sorted(sources, key=lambda s: (-s.articles, s.source))


def _entities(entities: pa.Table | None, top: int) -> list[EntityStats]:
    if entities is None:
        return []
    grouped = entities.group_by(["canonical", "label"]).aggregate(
        [("article_id", "count_distinct"), ("mentions", "sum")]
    )
    ranked = sorted(
        grouped.to_pylist(),
        key=lambda r: (-r["article_id_count_distinct"], -r["mentions_sum"], r["canonical"]),
    )
    return [
        EntityStats(r["canonical"], r["label"], r["article_id_count_distinct"], r["mentions_sum"])
        for r in ranked[:top]
    ]


def _boilerplate(articles: pa.Table | None) -> list[BoilerplateStats]:
    if articles is None or "boilerplate" not in articles.column_names:
        return []
    column = articles["boilerplate"].combine_chunks()
    segments = pc.list_flatten(column)
    if not len(segments):
        return []
    owners = pc.list_parent_indices(column)
    flat = pa.table(
        {
            "kind": segments.field("kind"),
            "characters": pc.utf8_length(segments.field("text")),
            "article": owners,
        }
    )
    grouped = flat.group_by("kind").aggregate(
        [("kind", "count"), ("article", "count_distinct"), ("characters", "sum")]
    )
    stats = [
        BoilerplateStats(
            r["kind"], r["kind_count"], r["article_count_distinct"], r["characters_sum"]
        )
        for r in grouped.to_pylist()
    ]
    return sorted(stats, key=lambda b: (-b.segments, b.kind))


def _rejects(rejects: pa.Table | None) -> list[RejectStats]:
    if rejects is None:
        return []
    ordered = rejects.sort_by("source_uri")
    grouped = ordered.group_by(["stage", "reason"], use_threads=False).aggregate(
        [("source_uri", "count"), ("source_uri", "first"), ("message", "first")]
    )
    stats = [
        RejectStats(
            r["stage"],
            r["reason"],
            r["source_uri_count"],
            r["source_uri_first"],
            r["message_first"] or "",
        )
        for r in grouped.to_pylist()
    ]
    return sorted(stats, key=lambda r: (-r.count, r.stage, r.reason))


def _duplicates(duplicates: pa.Table | None) -> list[DuplicateStats]:
    if duplicates is None:
        return []
    grouped = duplicates.group_by("reason").aggregate(
        [("source_uri", "count"), ("similarity", "mean")]
    )
    stats = [
        DuplicateStats(r["reason"], r["source_uri_count"], r["similarity_mean"] or 0.0)
        for r in grouped.to_pylist()
    ]
    return sorted(stats, key=lambda d: (-d.count, d.reason))


def _most_copied(
    duplicates: pa.Table | None, articles: pa.Table | None, top: int
) -> list[CopiedStory]:
    if duplicates is None:
        return []
    grouped = duplicates.group_by("duplicate_of").aggregate([("source_uri", "count")])
    ranked = sorted(grouped.to_pylist(), key=lambda r: (-r["source_uri_count"], r["duplicate_of"]))
    titles: dict[str, str | None] = {}
    if articles is not None and "title" in articles.column_names:
        titles = dict(
            zip(articles["article_id"].to_pylist(), articles["title"].to_pylist(), strict=True)
        )
    return [
        CopiedStory(r["duplicate_of"], titles.get(r["duplicate_of"]), r["source_uri_count"])
        for r in ranked[:top]
    ]


def read_manifest(folder: str) -> dict[str, Any] | None:
    """The folder's `_manifest.json`; None when it has none, or (with a warning) when it cannot
    be read: the tables are what `inspect` shows, and the next run rewrites the manifest."""
    path = manifest_path(folder)
    if not os.path.isfile(path):
        return None
    try:
        return read_manifest_json(path)
    except OutputError as error:
        print(f"newsbeam: warning: {printable(str(error), lines=True)}", file=sys.stderr)
        return None


def read_output(folder: str, top: int = DEFAULT_TOP) -> OutputStats:
    """The numbers of a local newsbeam output folder (every run written into it).

    Raises NotAnOutputError when the folder has neither `_manifest.json` nor `articles/`."""
    if not os.path.isdir(folder):
        raise NotAnOutputError(
            f"{folder!r} does not exist. Give the --output folder of a newsbeam run."
        )
    manifest = read_manifest(folder)
    datasets = {table: _dataset(folder, table) for table in TABLES}
    if manifest is None and datasets["articles"] is None:
        raise NotAnOutputError(
            f"{folder!r} is not a newsbeam output (it has no {MANIFEST} and no articles/). "
            "Give the --output folder of a newsbeam run."
        )
    articles = _columns(
        datasets["articles"],
        [
            "article_id",
            "published_date",
            "source",
            "source_name",
            "title",
            "word_count",
            "language",
            "boilerplate",
        ],
    )
    entities = _columns(datasets["entities"], ["article_id", "canonical", "label", "mentions"])
    rejects = _columns(datasets["rejects"], ["source_uri", "stage", "reason", "message"])
    duplicates = _columns(
        datasets["duplicates"], ["source_uri", "duplicate_of", "similarity", "reason"]
    )
    return OutputStats(
        folder=folder,
        manifest=manifest,
        tables=[_table_stats(name, datasets[name]) for name in TABLES],
        partitions=_partitions(datasets["articles"]),
        sources=_sources(articles),
        entities=_entities(entities, top),
        boilerplate=_boilerplate(articles),
        rejects=_rejects(rejects),
        duplicates=_duplicates(duplicates),
        most_copied=_most_copied(duplicates, articles, top),
        per_day=_per_day(articles),
        languages=_languages(articles),
        body_words=_body_words(articles),
    )
