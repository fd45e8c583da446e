"""Schemas: Arrow schemas derived from the pydantic models, and a lossless Parquet round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import ARTICLE_SCHEMA, REJECT_SCHEMA, Article, Boilerplate, Entity, Reject, to_row


def test_article_schema_is_explicit_and_complete():
    assert ARTICLE_SCHEMA.names == list(Article.model_fields)
    assert ARTICLE_SCHEMA.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert ARTICLE_SCHEMA.field("published_at").nullable
    assert not ARTICLE_SCHEMA.field("body").nullable
    assert ARTICLE_SCHEMA.field("authors").type == pa.list_(pa.field("item", pa.string(), False))
    entity = ARTICLE_SCHEMA.field("entities").type.value_type
    assert [f.name for f in entity] == ["text", "label", "canonical", "start", "end"]
    assert REJECT_SCHEMA.field("line").type == pa.int64()


text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
timestamps = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
articles = st.builds(
    Article,
    article_id=st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    source_uri=text.filter(bool),
    source=st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    title=st.none() | text,
    authors=st.lists(text, max_size=3),
    published_at=st.none() | timestamps,
    body=text.filter(bool),
    word_count=st.integers(1, 10_000),
    boilerplate=st.lists(
        st.builds(Boilerplate, kind=text.filter(bool), text=text, rule=text.filter(bool)),
        max_size=3,
    ),
    entities=st.lists(
        st.builds(
            Entity,
            text=text.filter(bool),
            label=text.filter(bool),
            canonical=text.filter(bool),
            start=st.integers(0, 100),
            end=st.integers(1, 200),
        ),
        max_size=3,
    ),
    content_sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    ingested_at=timestamps,
)


@settings(max_examples=50, deadline=None)
@given(st.lists(articles, min_size=1, max_size=5))
def test_model_to_arrow_to_parquet_to_model_is_the_identity(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("roundtrip") / "a.parquet"
    pq.write_table(pa.Table.from_pylist([to_row(r) for r in records], schema=ARTICLE_SCHEMA), path)
    back = [Article.model_validate(row) for row in pq.read_table(path).to_pylist()]
    assert back == records


def test_reject_round_trip():
    reject = Reject(
        source_uri="f.jsonl#3", stage="read", reason="invalid_json", message="m", line=3
    )
    table = pa.Table.from_pylist([to_row(reject)], schema=REJECT_SCHEMA)
    assert Reject.model_validate(table.to_pylist()[0]) == reject
