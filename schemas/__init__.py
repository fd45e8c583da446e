"""Record models (pydantic) and the Arrow schemas derived from them.

Names are loaded on first use (PEP 562): importing one light module of the package
(`newsbeam.schemas.text` for an error message) must not load pyarrow and pandas, which cost
a usage mistake on the command line 1 s before it was answered."""

from __future__ import annotations

import importlib
import typing as t

if t.TYPE_CHECKING:
    from newsbeam.schemas.arrow import (
        ARTICLE_SCHEMA,
        DUPLICATE_SCHEMA,
        ENTITY_SCHEMA,
        INDEX_SCHEMA,
        INPUT_SCHEMA,
        REJECT_SCHEMA,
        reader_partitioning,
        to_row,
    )
    from newsbeam.schemas.models import (
        MAX_BODY_CHARS,
        SCHEMA_VERSION,
        UNDATED,
        Article,
        Boilerplate,
        Counts,
        Duplicate,
        Entity,
        EntityRow,
        ErrorDetail,
        IndexEntry,
        InputFile,
        Manifest,
        Provenance,
        RawDocument,
        Reject,
        storable,
        valid_unicode,
    )

_MODULES = {
    "ARTICLE_SCHEMA": "arrow",
    "DUPLICATE_SCHEMA": "arrow",
    "ENTITY_SCHEMA": "arrow",
    "INDEX_SCHEMA": "arrow",
    "INPUT_SCHEMA": "arrow",
    "REJECT_SCHEMA": "arrow",
    "reader_partitioning": "arrow",
    "to_row": "arrow",
    "MAX_BODY_CHARS": "models",
    "SCHEMA_VERSION": "models",
    "UNDATED": "models",
    "Article": "models",
    "Boilerplate": "models",
    "Counts": "models",
    "Duplicate": "models",
    "Entity": "models",
    "EntityRow": "models",
    "ErrorDetail": "models",
    "IndexEntry": "models",
    "InputFile": "models",
    "Manifest": "models",
    "Provenance": "models",
    "RawDocument": "models",
    "Reject": "models",
    "storable": "models",
    "valid_unicode": "models",
}

__all__ = [
    "ARTICLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "ENTITY_SCHEMA",
    "INDEX_SCHEMA",
    "INPUT_SCHEMA",
    "MAX_BODY_CHARS",
    "REJECT_SCHEMA",
    "SCHEMA_VERSION",
    "UNDATED",
    "Article",
    "Boilerplate",
    "Counts",
    "Duplicate",
    "Entity",
    "EntityRow",
    "ErrorDetail",
    "IndexEntry",
    "InputFile",
    "Manifest",
    "Provenance",
    "RawDocument",
    "Reject",
    "reader_partitioning",
    "storable",
    "to_row",
    "valid_unicode",
]


def __getattr__(name: str) -> t.Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value
