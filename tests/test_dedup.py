"""Deduplicate: exact copies within a run and stories already in the output."""

from __future__ import annotations

from datetime import UTC, datetime

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.test_extract import PARAGRAPHS, doc
from transforms.dedup import Deduplicate, choose_original
from transforms.extract import extract_article
from transforms.validate import validate_article

BODY = "\n\n".join(PARAGRAPHS)


def article(uri: str, content: str = BODY, published_at: datetime | None = None):
    return validate_article(
        extract_article(doc(source_uri=uri, content=content, published_at=published_at))
    )


def test_copies_with_different_banners_are_exact_duplicates():
    a = article("in/a.txt", "Spread the love\n\n" + BODY + "\n\nBack to top button")
    b = article(
        "in/b.txt",
        "Jannah Theme License is not validated, go to the theme options page "
        "to validate the license.\n\n" + BODY + "\n\nRelated Stories",
    )
    assert a.content_sha256 == b.content_sha256
    assert a.article_id != b.article_id


def test_the_earliest_published_copy_is_kept_then_the_smallest_id():
    early = article("in/a.txt", published_at=datetime(2024, 1, 1, tzinfo=UTC))
    late = article("in/b.txt", published_at=datetime(2024, 2, 1, tzinfo=UTC))
    undated_1, undated_2 = article("in/c.txt"), article("in/d.txt")
    kept, duplicates = choose_original([undated_1, late, early, undated_2])
    assert kept == early
    assert {d.duplicate_of for d in duplicates} == {early.article_id}
    assert {d.source_uri for d in duplicates} == {"in/b.txt", "in/c.txt", "in/d.txt"}
    kept, _ = choose_original([undated_1, undated_2])
    assert kept.article_id == min(undated_1.article_id, undated_2.article_id)


def test_a_story_already_in_the_output_is_not_written_again():
    new = article("in/a.txt")
    kept, (duplicate,) = choose_original([new], existing_ids=["0123456789abcdef"])
    assert kept is None
    assert (duplicate.duplicate_of, duplicate.reason) == ("0123456789abcdef", "already_in_output")


def test_deduplicate_composite_reads_the_existing_output(tmp_path):
    old = article("in/old.txt")
    folder = tmp_path / "articles" / "published_date=unknown" / "source=unknown"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"content_sha256": [old.content_sha256], "article_id": [old.article_id]}),
        folder / "part-0.parquet",
    )
    other = article("in/other.txt", BODY.replace("Monday", "Tuesday"))
    copies = [article("in/a.txt"), article("in/b.txt"), other]
    with TestPipeline() as p:
        kept, duplicates = (
            p
            | beam.Create(copies)
            | Deduplicate(str(tmp_path / "articles" / "*" / "*" / "*.parquet"))
        )
        assert_that(
            kept | beam.Map(lambda a: a.source_uri), equal_to(["in/other.txt"]), label="kept"
        )
        assert_that(
            duplicates | beam.Map(lambda d: (d.source_uri, d.duplicate_of)),
            equal_to([("in/a.txt", old.article_id), ("in/b.txt", old.article_id)]),
            label="duplicates",
        )
