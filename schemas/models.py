"""pydantic models for every record that flows through newsbeam.

RawDocument → (extract) → Article → (enrich) Article with entities → Parquet.
Anything that fails on the way becomes a Reject; every copy not written becomes a Duplicate;
every article written also leaves an IndexEntry, so later runs recognise its copies.
The Arrow schemas in `schemas.arrow` are derived from these classes.

Every record holds only text that Parquet can store: surrogate code points (from JSON escapes
such as `"\\ud83d"`, literal `\\uXXXX` escapes in scraped text, or file names that are not
UTF-8) are made valid when a record is built, so one odd string can never stop a write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = "1"
# Hive's name for a null partition value: DuckDB, Polars, pyarrow and Spark read it as null.
UNDATED = "__HIVE_DEFAULT_PARTITION__"
MAX_BODY_CHARS = 1_000_000  # = transforms.enrich.MAX_NER_CHARS: entities cover the whole body
_SURROGATE = re.compile("[\ud800-\udfff]")

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ArticleId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]

InputKind = Literal["text", "html"]
Stage = Literal["read", "extract", "validate", "enrich", "write"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def valid_unicode(text: str) -> str:
    """`text` with its surrogate code points made valid: a high and low pair becomes the character
    it encodes (`\\ud83d\\ude00` → 😀), a lone one becomes U+FFFD. Other text is returned as is."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def storable(value: Any) -> Any:
    """`value` with `valid_unicode` applied to every string in it (through lists, tuples and
    dicts). Beam's coders and Parquet both refuse surrogates."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, list | tuple):
        return type(value)(storable(v) for v in value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"timestamp {value.isoformat()} is out of range in UTC") from error


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Surrogates in any string field are made valid (see `valid_unicode`)."""
        return storable(data) if isinstance(data, dict) else data


class Boilerplate(_Record):
    """A segment removed from (or rewritten in) the body, and why."""

    kind: str = Field(min_length=1, description="banner, related, caption, encoding_repair, …")
    text: str
    rule: str = Field(min_length=1, description="the rule or signal that removed it")


class RawDocument(_Record):
    """One input record as read: a whole .txt/.html file, one JSONL line or one WARC record.
    Flows to Extract."""

    source_uri: str = Field(min_length=1, description="input file, '#N' appended for record N")
    kind: InputKind
    content: str
    encoding: str = Field(description="encoding the bytes were decoded with")
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    crawled_at: datetime | None = Field(
        default=None, description="when a crawler fetched the page (a WARC record's WARC-Date)"
    )
    repairs: list[Boilerplate] = Field(
        default_factory=list,
        description="what Read repaired in the text (encoding_repair); Extract adds it to the "
        "article's boilerplate audit",
    )


class JsonlRecord(BaseModel):
    """One line of a `.jsonl` input, before it becomes a RawDocument. Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str | None = None
    html: str | None = None
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        """`"published_at": ""` (common in scraped feeds) means no date, not a bad record."""
        if not isinstance(data, dict):
            return data
        optional = ("url", "title", "published_at", "source")
        return {
            k: None if k in optional and isinstance(v, str) and not v.strip() else v
            for k, v in data.items()
        }

    @model_validator(mode="after")
    def _has_content(self) -> JsonlRecord:
        if not (self.text or "").strip() and not (self.html or "").strip():
            raise ValueError("record has no 'text' or 'html' field with content")
        return self


class Provenance(_Record):
    """Where each metadata field came from: `given` (a JSONL field), `html_metadata` (the page's
    metadata), a kind of text line (`headline_line`, `date_line`, `outlet_line`, `copyright_line`,
    `wire_credit`, `byline`, `place_line`, `opening_dateline`) or `url_host`; null when unknown."""

    title: str | None = None
    source: str | None = None
    published_at: str | None = None
    authors: str | None = None
    dateline: str | None = None


class Entity(_Record):
    """A named-entity mention; `body[start:end] == text`."""

    text: str = Field(min_length=1)
    label: str = Field(min_length=1)
    canonical: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=1)


class Article(_Record):
    """A clean article: built by Extract, checked by Validate, enriched, then written."""

    article_id: ArticleId
    source_uri: str = Field(min_length=1)
    url: str | None = None
    source: Slug = Field(
        description="outlet slug; files are sorted by it (and partitioned by it on request)"
    )
    source_name: str | None = Field(default=None, description="outlet as written in the input")
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    contributors: list[str] = Field(default_factory=list)
    published_at: UtcDatetime | None = None
    date_source: str | None = Field(default=None, description="where published_at came from")
    crawled_at: UtcDatetime | None = Field(
        default=None, description="when a crawler fetched the page (WARC-Date); null otherwise"
    )
    dateline: str | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    language: str | None = Field(default=None, max_length=8)
    body: str = Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description="paragraphs separated by a blank line; longer bodies are rejected, not cut",
    )
    word_count: int = Field(ge=1)
    boilerplate: list[Boilerplate] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    content_sha256: Sha256
    schema_version: str = SCHEMA_VERSION
    ingested_at: UtcDatetime = Field(default_factory=utc_now)

    @field_validator("word_count")
    @classmethod
    def _long_enough(cls, value: int, info: ValidationInfo) -> int:
        minimum = (info.context or {}).get("min_words", 1)
        if value < minimum:
            raise ValueError(
                f"article has {value} words after boilerplate removal, fewer than {minimum}"
            )
        return value

    @property
    def published_date(self) -> str:
        """The `published_date=` partition value: the UTC day, or Hive's null partition for an
        undated article, so that every reader types the column as a date (null when undated)."""
        return self.published_at.date().isoformat() if self.published_at else UNDATED


class ErrorDetail(_Record):
    """One validation error, as pydantic's `ValidationError.errors()` gives it."""

    type: str
    loc: str
    msg: str


class Reject(_Record):
    """An input that could not become an article, with where and why. Flows to `rejects/`."""

    source_uri: str
    stage: Stage
    reason: str = Field(min_length=1, description="machine-readable reason, e.g. 'empty_file'")
    message: str = Field(description="what went wrong and what to do about it")
    errors: list[ErrorDetail] = Field(default_factory=list)
    line: int | None = Field(default=None, ge=1, description="line number inside a JSONL file")
    excerpt: str = Field(default="", max_length=500)
    rejected_at: UtcDatetime = Field(default_factory=utc_now)


class Duplicate(_Record):
    """A copy of a story that was not written. Flows to `duplicates/`.

    `reason`: "exact" (same clean body as `duplicate_of`, written by this run), "near" (MinHash
    near-duplicate of `duplicate_of`, written by this run), "already_in_output" (`duplicate_of`
    was written by an earlier run; `similarity` < 1 when it is a near copy), "superseded" (an
    article an earlier run wrote, replaced by `duplicate_of`, a newer version of the same path or
    URL that this run wrote; not counted in the ledger's `duplicates`, as its run counted it
    written).
    """

    source_uri: str
    article_id: ArticleId
    duplicate_of: ArticleId
    similarity: float = Field(ge=0.0, le=1.0, description="estimated Jaccard; 1.0 when exact")
    reason: Literal["exact", "near", "already_in_output", "superseded"]
    detected_at: UtcDatetime = Field(default_factory=utc_now)


class IndexEntry(_Record):
    """One row of `_index/`: an article written to the output, as later runs compare against it.

    Written beside every article; read back by Deduplicate (`--dedup-against`).
    """

    article_id: ArticleId
    content_sha256: Sha256
    published_at: datetime | None = None
    sketch: str = Field(
        min_length=1, description="how `signature` was computed; other sketches are not compared"
    )
    signature: list[int] = Field(description="MinHash of the body's word shingles")


class EntityRow(_Record):
    """One row of `entities/`: an entity as it occurs in one article."""

    article_id: ArticleId
    canonical: str
    label: str
    mentions: int = Field(ge=1)
    first_offset: int = Field(ge=0)
    source: Slug


class InputFile(_Record):
    """One row of `_inputs/`: an input file a run read, by path, size and checksum.

    Written after the run's (or the window's) outputs; later runs skip a file recorded here with
    the same path, size and checksum (`--reprocess-inputs` reads it again)."""

    path: str = Field(min_length=1)
    size: int = Field(ge=0)
    sha256: Sha256
    run_id: str = Field(min_length=1)
    recorded_at: datetime = Field(default_factory=utc_now)


class Counts(_Record):
    """`read == written + rejected + duplicates`; `skipped` input files were not read at all."""

    read: int = Field(ge=0)
    written: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    entities: int = Field(ge=0)
    rejected_by_stage: dict[str, int] = Field(default_factory=dict)
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    duplicates_by_reason: dict[str, int] = Field(default_factory=dict)
    skipped: int = Field(default=0, ge=0, description="input files already in `_inputs/`")
    superseded: int = Field(
        default=0,
        ge=0,
        description="earlier runs' articles replaced by a newer version this run wrote (rows "
        "of `duplicates/` with reason `superseded`); outside the equation, as their runs counted "
        "them written",
    )
    without_entity_model_by_language: dict[str, int] = Field(
        default_factory=dict,
        description="articles written without entities, no model being configured for their "
        "language (`und`: not told), per language",
    )


class Manifest(_Record):
    """`_manifest.json`: what one run read and wrote. `read == written + rejected + duplicates`.

    A streaming run writes one per window (`_manifests/`), with `window_start`/`window_end`."""

    run_id: str
    schema_version: str = SCHEMA_VERSION
    started_at: datetime
    finished_at: datetime
    inputs: list[str]
    counts: Counts
    files: dict[str, list[str]] = Field(description="table name → files written by this run")
    skipped_inputs: list[str] = Field(
        default_factory=list, description="matched files skipped: already in the output's ledger"
    )
    window_start: datetime | None = Field(default=None, description="streaming: window start")
    window_end: datetime | None = Field(default=None, description="streaming: window end")
    quarantined: list[str] = Field(
        default_factory=list,
        description="output files that could not be read, moved to `_quarantine/` before the run",
    )
