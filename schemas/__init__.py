"""Record models (pydantic) and the Arrow schemas derived from them."""

from schemas.arrow import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, ENTITY_SCHEMA, REJECT_SCHEMA, to_row
from schemas.models import (
    MAX_BODY_CHARS,
    SCHEMA_VERSION,
    Article,
    Boilerplate,
    Counts,
    Duplicate,
    Entity,
    EntityRow,
    ErrorDetail,
    Manifest,
    RawDocument,
    Reject,
    storable,
    valid_unicode,
)

__all__ = [
    "ARTICLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "ENTITY_SCHEMA",
    "MAX_BODY_CHARS",
    "REJECT_SCHEMA",
    "SCHEMA_VERSION",
    "Article",
    "Boilerplate",
    "Counts",
    "Duplicate",
    "Entity",
    "EntityRow",
    "ErrorDetail",
    "Manifest",
    "RawDocument",
    "Reject",
    "storable",
    "to_row",
    "valid_unicode",
]
