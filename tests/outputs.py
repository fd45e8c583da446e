"""A small newsbeam output folder written directly with the real schemas, without a pipeline:
three articles on two days and three sources, entities, two rejects, two duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    REJECT_SCHEMA,
    Article,
    Boilerplate,
    Duplicate,
    EntityRow,
    Reject,
    to_row,
)
from newsbeam.schemas.layout import partition_dir
from newsbeam.transforms.defaults import DEFAULT_PARTITION_BY
from newsbeam.transforms.write import article_partition, write_parquet

A1, A2, A3 = "a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3"


def article(article_id: str, source: str, published: datetime | None, **fields) -> Article:
    return Article(
        article_id=article_id,
        source_uri=f"in/{article_id}.txt",
        source=source,
        published_at=published,
        body="word " * 30,
        word_count=30,
        content_sha256=article_id * 4,
        **fields,
    )


def write_output(folder: Path, partition_by: str = DEFAULT_PARTITION_BY) -> Path:
    march = datetime(2023, 3, 2, 12, tzinfo=UTC)
    articles = [
        article(
            A1,
            "cnn",
            march,
            source_name="CNN",
            title="Xi goes to <Moscow>",
            boilerplate=[
                Boilerplate(kind="banner", text="Spread the love", rule="reader_address"),
                Boilerplate(kind="related", text="Similar News", rule="related_header"),
            ],
        ),
        article(
            A2,
            "bbc",
            march,
            source_name="BBC",
            boilerplate=[Boilerplate(kind="banner", text="Subscribe now", rule="reader_address")],
        ),
        article(A3, "unknown", None),
    ]
    output = str(folder)
    by_directory: dict[str, list[Article]] = {}
    for a in articles:
        directory = partition_dir(output, "articles", article_partition(a, partition_by))
        by_directory.setdefault(directory, []).append(a)
    for directory, members in by_directory.items():
        rows = sorted((to_row(a) for a in members), key=lambda row: row["source"])
        write_parquet(f"{directory}/part-t-00000.parquet", rows, ARTICLE_SCHEMA)
    entities = [
        EntityRow(
            article_id=A1,
            canonical="Xi Jinping",
            label="PERSON",
            mentions=4,
            first_offset=0,
            source="cnn",
        ),
        EntityRow(
            article_id=A2,
            canonical="Xi Jinping",
            label="PERSON",
            mentions=1,
            first_offset=5,
            source="bbc",
        ),
        EntityRow(
            article_id=A1, canonical="Moscow", label="GPE", mentions=2, first_offset=9, source="cnn"
        ),
    ]
    by_date = {A1: "2023-03-02", A2: "2023-03-02"}
    write_parquet(
        partition_dir(output, "entities", [("published_date", by_date[A1])])
        + "/part-t-00000.parquet",
        [to_row(e) for e in entities if by_date[e.article_id] == "2023-03-02"],
        ENTITY_SCHEMA,
    )
    rejects = [
        Reject(
            source_uri="in/empty.txt",
            stage="read",
            reason="empty_file",
            message="in/empty.txt: the file is empty or only white space; nothing to read",
        ),
        Reject(
            source_uri="in/short.txt",
            stage="validate",
            reason="word_count:value_error",
            message="article has 5 words after boilerplate removal, fewer than 20",
        ),
    ]
    write_parquet(
        f"{output}/rejects/part-t-00000.parquet", [to_row(r) for r in rejects], REJECT_SCHEMA
    )
    duplicates = [
        Duplicate(
            source_uri="in/copy.txt",
            article_id="d4d4d4d4d4d4d4d4",
            duplicate_of=A1,
            similarity=1.0,
            reason="exact",
        ),
        Duplicate(
            source_uri="in/edit.txt",
            article_id="e5e5e5e5e5e5e5e5",
            duplicate_of=A1,
            similarity=0.5,
            reason="near",
        ),
    ]
    write_parquet(
        f"{output}/duplicates/part-t-00000.parquet",
        [to_row(d) for d in duplicates],
        DUPLICATE_SCHEMA,
    )
    manifest = {
        "run_id": "20230302T120000-abcdef",
        "finished_at": "2023-03-02T12:00:05Z",
        "counts": {
            "read": 7,
            "written": 3,
            "rejected": 2,
            "duplicates": 2,
            "entities": 3,
            "rejected_by_stage": {"read": 1, "validate": 1},
            "rejected_by_reason": {"empty_file": 1, "word_count:value_error": 1},
            "duplicates_by_reason": {"exact": 1, "near": 1},
        },
        "files": {},
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    return folder
