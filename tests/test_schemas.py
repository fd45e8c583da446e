"""Schemas: Arrow schemas derived from the pydantic models, and a lossless Parquet round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    MAX_BODY_CHARS,
    REJECT_SCHEMA,
    Article,
    Boilerplate,
    Duplicate,
    Entity,
    EntityRow,
    ErrorDetail,
    RawDocument,
    Reject,
    to_row,
)
from newsbeam.transforms.enrich import MAX_NER_CHARS


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


# --- every table round-trips, whatever its strings hold ------------------------------------

any_text = st.text(max_size=40)  # surrogates included: records make them valid on the way in
hex16 = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)
slug = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
any_timestamps = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)
rejects = st.builds(
    Reject,
    source_uri=any_text,
    stage=st.sampled_from(["read", "extract", "validate", "enrich", "write"]),
    reason=any_text.filter(bool),
    message=any_text,
    errors=st.lists(st.builds(ErrorDetail, type=any_text, loc=any_text, msg=any_text), max_size=3),
    line=st.none() | st.integers(1, 2**62),
    excerpt=st.text(max_size=500),
    rejected_at=any_timestamps,
)
duplicates = st.builds(
    Duplicate,
    source_uri=any_text,
    article_id=hex16,
    duplicate_of=hex16,
    similarity=st.floats(0.0, 1.0),
    reason=st.sampled_from(["exact", "already_in_output"]),
    detected_at=any_timestamps,
)
entity_rows = st.builds(
    EntityRow,
    article_id=hex16,
    canonical=any_text,
    label=any_text,
    mentions=st.integers(1, 2**62),
    first_offset=st.integers(0, 2**62),
    source=slug,
)


def round_trip(path, records: list[BaseModel], schema: pa.Schema) -> list[BaseModel]:
    pq.write_table(pa.Table.from_pylist([to_row(r) for r in records], schema=schema), path)
    model = type(records[0])
    return [model.model_validate(row) for row in pq.read_table(path).to_pylist()]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.lists(rejects, min_size=1, max_size=4),
    st.lists(duplicates, min_size=1, max_size=4),
    st.lists(entity_rows, min_size=1, max_size=4),
)
def test_reject_duplicate_and_entity_rows_round_trip(tmp_path_factory, rej, dup, ent):
    folder = tmp_path_factory.mktemp("roundtrip")
    assert round_trip(folder / "r.parquet", rej, REJECT_SCHEMA) == rej
    assert round_trip(folder / "d.parquet", dup, DUPLICATE_SCHEMA) == dup
    assert round_trip(folder / "e.parquet", ent, ENTITY_SCHEMA) == ent


def test_surrogates_in_any_field_become_storable_text():
    reject = Reject(
        source_uri="caf\udce9.txt",
        stage="read",
        reason="x",
        message="\ud83d\ude00",
        excerpt="\ud800" * 500,
    )
    assert (reject.source_uri, reject.message) == ("caf\ufffd.txt", "😀")
    assert reject.excerpt == "\ufffd" * 500
    boilerplate = Boilerplate(kind="escape", text="a\udfffb", rule="r")
    assert boilerplate.text == "a\ufffdb"
    doc = RawDocument(source_uri="a", kind="text", content="x", encoding="utf-8", title="\ud800")
    assert doc.title == "\ufffd"


def test_timestamps_are_utc_and_must_carry_a_zone():
    plus5 = datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    reject = Reject(source_uri="a", stage="read", reason="x", message="m", rejected_at=plus5)
    assert reject.rejected_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert reject.rejected_at.tzinfo is UTC
    with pytest.raises(ValidationError, match="time zone"):
        Reject(
            source_uri="a", stage="read", reason="x", message="m", rejected_at=datetime(2024, 1, 1)
        )
    with pytest.raises(ValidationError, match="out of range"):
        Reject(
            source_uri="a",
            stage="read",
            reason="x",
            message="m",
            rejected_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        )


def test_the_body_limit_is_the_ner_limit():
    assert MAX_BODY_CHARS == MAX_NER_CHARS
    assert ARTICLE_SCHEMA.field("body").type == pa.string()
