"""Record models (pydantic) and the Arrow schemas derived from them."""

from schemas.arrow import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    REJECT_SCHEMA,
    to_row,
)
from schemas.models import (
    SCHEMA_VERSION,
    Article,
    Boilerplate,
    Counts,
    Duplicate,
    Entity,
    EntityRow,
    ErrorDetail,
    IndexEntry,
    Manifest,
    Provenance,
    RawDocument,
    Reject,
)

__all__ = [
    "ARTICLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "ENTITY_SCHEMA",
    "INDEX_SCHEMA",
    "REJECT_SCHEMA",
    "SCHEMA_VERSION",
    "Article",
    "Boilerplate",
    "Counts",
    "Duplicate",
    "Entity",
    "EntityRow",
    "ErrorDetail",
    "IndexEntry",
    "Manifest",
    "Provenance",
    "RawDocument",
    "Reject",
    "to_row",
]
