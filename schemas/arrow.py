"""Arrow schemas derived from the pydantic models: one source of truth for every Parquet table.

Schemas are never inferred from data (a batch whose optional column happens to be all null
would otherwise get a different type from the next batch).
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from pydantic import BaseModel

from newsbeam.schemas.models import Article, Duplicate, EntityRow, IndexEntry, InputFile, Reject

_SCALARS: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of a pydantic field annotation, and whether it is nullable."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _arrow_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"cannot map union {annotation!r} to Arrow")
        return _arrow_type(members[0])[0], True
    if origin is typing.Literal:
        return pa.string(), False
    if origin is list:
        (item,) = typing.get_args(annotation)
        return pa.list_(pa.field("item", *_arrow_type(item))), False
    if origin is dict:
        key, value = typing.get_args(annotation)
        return pa.map_(_arrow_type(key)[0], _arrow_type(value)[0]), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(arrow_fields(annotation)), False
    if annotation in _SCALARS:
        return _SCALARS[annotation], False
    raise TypeError(f"no Arrow type for {annotation!r}")


def arrow_fields(model: type[BaseModel], exclude: frozenset[str] = frozenset()) -> list[pa.Field]:
    fields = []
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        arrow_type, nullable = _arrow_type(info.annotation)
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return fields


def arrow_schema(model: type[BaseModel], exclude: frozenset[str] = frozenset()) -> pa.Schema:
    return pa.schema(arrow_fields(model, exclude))


ARTICLE_SCHEMA = arrow_schema(Article)
ENTITY_SCHEMA = arrow_schema(EntityRow)
REJECT_SCHEMA = arrow_schema(Reject)
DUPLICATE_SCHEMA = arrow_schema(Duplicate)
INDEX_SCHEMA = arrow_schema(IndexEntry)
INPUT_SCHEMA = arrow_schema(InputFile)
# The partition columns (`--partition-by`): in folder names, not in the files.
PARTITION_TYPES = {"published_date": pa.date32(), "source": pa.string()}


def reader_partitioning(partition_by: str = "published_date") -> ds.Partitioning:
    """The Hive partitioning of `articles/` and `entities/` for pyarrow readers
    (`pyarrow.dataset.dataset(..., partitioning=...)`, `pandas.read_parquet(...,
    partitioning=...)`): `published_date` a date, null in the undated partition. pyarrow infers
    no dates from folder names: it would read a string, and fail on an output whose articles
    are all undated."""
    fields = [(column, PARTITION_TYPES[column]) for column in partition_by.split(",")]
    return ds.partitioning(pa.schema(fields), flavor="hive")


def to_row(record: BaseModel) -> dict[str, Any]:
    """A model as a plain dict that `pa.Table.from_pylist(rows, schema)` accepts."""
    return record.model_dump(mode="python")
