"""Write: partitioned Parquet read back by pyarrow, atomic files, and the manifest ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas import ARTICLE_SCHEMA, REJECT_SCHEMA, Article, Reject
from tests.test_extract import PARAGRAPHS, doc
from transforms.extract import extract_article
from transforms.validate import validate_article
from transforms.write import WriteParquet, build_manifest, merge_manifests, write_parquet


def article(uri: str, source: str, published_at: datetime | None) -> Article:
    return validate_article(
        extract_article(
            doc(
                source_uri=uri,
                content="\n\n".join(PARAGRAPHS),
                source=source,
                published_at=published_at,
            )
        )
    )


def test_write_parquet_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "rejects" / "part-x-00000.parquet"
    reject = Reject(source_uri="in/a.txt", stage="read", reason="empty_file", message="empty")
    write_parquet(str(path), [reject.model_dump()], REJECT_SCHEMA)
    assert [p.name for p in path.parent.iterdir()] == ["part-x-00000.parquet"]
    assert pq.read_table(path).column("reason").to_pylist() == ["empty_file"]


def test_write_parquet_composite_partitions_by_date_and_source(tmp_path):
    articles = [
        article("in/a.txt", "CNN", datetime(2023, 3, 2, 12, tzinfo=UTC)),
        article("in/b.txt", "CNN", datetime(2023, 3, 2, 18, tzinfo=UTC)),
        article("in/c.txt", "ABC News", None),
    ]
    with TestPipeline() as p:
        files = (
            p
            | beam.Create(articles)
            | WriteParquet(
                str(tmp_path),
                "articles",
                ARTICLE_SCHEMA,
                "run1",
                sort_key="article_id",
                partition=lambda a: [("published_date", a.published_date), ("source", a.source)],
            )
        )
        assert_that(
            files | beam.MapTuple(lambda table, path, rows: (path[len(str(tmp_path)) :], rows)),
            equal_to(
                [
                    ("/articles/published_date=2023-03-02/source=cnn/part-run1-00000.parquet", 2),
                    ("/articles/published_date=unknown/source=abc-news/part-run1-00000.parquet", 1),
                ]
            ),
        )
    table = ds.dataset(tmp_path / "articles", partitioning="hive").to_table()
    assert sorted(table.column("source_uri").to_pylist()) == ["in/a.txt", "in/b.txt", "in/c.txt"]
    assert table.schema.field("published_at").type == ARTICLE_SCHEMA.field("published_at").type
    assert sorted(set(table.column("published_date").to_pylist())) == ["2023-03-02", "unknown"]


def test_manifest_counts_add_up():
    manifest = build_manifest(
        "run1",
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        ["b", "a"],
        documents=7,
        reject_counts=[(("read", "empty_file"), 2), (("validate", "too_short"), 1)],
        duplicate_counts=[("exact", 1)],
        files=[("articles", "x/1", 3), ("articles", "x/2", 2), ("entities", "e/1", 9)],
    )
    counts = manifest.counts
    assert (counts.read, counts.written, counts.rejected, counts.duplicates) == (9, 5, 3, 1)
    assert counts.read == counts.written + counts.rejected + counts.duplicates
    assert counts.rejected_by_stage == {"read": 2, "validate": 1}
    assert counts.duplicates_by_reason == {"exact": 1}
    assert manifest.inputs == ["a", "b"] and manifest.files["articles"] == ["x/1", "x/2"]


def test_chunk_ledgers_merge_into_one():
    def part(run_id, read, written, rejected, files):
        return build_manifest(
            run_id,
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 1, 2, tzinfo=UTC),
            [f"{run_id}.txt"],
            documents=read - rejected,
            reject_counts=[(("read", "empty_file"), rejected)],
            duplicate_counts=[],
            files=files,
        )

    merged = merge_manifests(
        [
            part("r-c0001", 3, 3, 0, [("articles", "a/1", 3)]),
            part("r-c0002", 4, 2, 2, [("articles", "a/2", 2)]),
        ]
    )
    assert merged.run_id == "r"
    counts = merged.counts
    assert (counts.read, counts.written, counts.rejected) == (7, 5, 2)
    assert counts.rejected_by_reason == {"empty_file": 2}
    assert merged.inputs == ["r-c0001.txt", "r-c0002.txt"]
    assert merged.files == {"articles": ["a/1", "a/2"]}
