"""Validate: article fields that break the schema become Rejects carrying pydantic's errors."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import Article, Reject
from newsbeam.transforms.extract import extract_article
from newsbeam.transforms.validate import ValidateArticles, validate_article
from tests.test_extract import PARAGRAPHS, doc


def fields(**overrides):
    return {**extract_article(doc(content="\n\n".join(PARAGRAPHS))), **overrides}


def test_good_fields_make_an_article():
    assert isinstance(validate_article(fields()), Article)


def test_short_articles_are_rejected_with_the_threshold_in_the_message():
    reject = validate_article(fields(), min_words=500)
    assert isinstance(reject, Reject)
    assert (reject.stage, reject.reason) == ("validate", "word_count:value_error")
    assert "fewer than 500" in reject.message and reject.source_uri == "in/a.txt"


def test_every_error_is_listed():
    reject = validate_article(fields(body="", word_count=0, source="../etc", published_at="soon"))
    assert {e.loc for e in reject.errors} == {"body", "word_count", "source", "published_at"}


def test_validate_articles_composite():
    with TestPipeline() as p:
        good, bad = (
            p
            | beam.Create([fields(), fields(source_uri="in/b.txt", body="")])
            | (ValidateArticles(min_words=20))
        )
        assert_that(good | beam.Map(lambda a: a.source_uri), equal_to(["in/a.txt"]), label="good")
        assert_that(
            bad | beam.Map(lambda r: (r.source_uri, r.reason)),
            equal_to([("in/b.txt", "body:string_too_short")]),
            label="rejects",
        )
