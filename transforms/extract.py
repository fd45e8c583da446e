"""Extract: RawDocument → article fields (body, boilerplate audit, metadata).

HTML goes through trafilatura (body and page metadata), then the same text cleaner as plain text.
Text goes through the cleaner in `transforms.cleaner`; metadata lines become fields
(`transforms.metadata`). Precedence for every field: given (JSONL) > HTML metadata > text rules.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import Boilerplate, RawDocument, Reject, storable
from transforms import metadata as meta
from transforms.cleaner import CleanResult, clean_text

_WORD = re.compile(r"\w+")
NO_ARTICLE = "no_article_found"


class ExtractionError(ValueError):
    """The input holds no article text to extract."""


def content_sha256(body: str) -> str:
    """Hash of the normalised body: case, punctuation and spacing do not change it."""
    normalised = " ".join(_WORD.findall(body.casefold()))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def article_id(doc: RawDocument) -> str:
    """Stable id: the same input (location and content) always gets the same id."""
    digest = hashlib.sha256()
    digest.update(doc.source_uri.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(doc.content.encode("utf-8", errors="replace"))
    return digest.hexdigest()[:16]


def detect_language(body: str) -> str | None:
    """ISO 639-1 code of the body's language; None when the text is too short to tell."""
    if len(_WORD.findall(body[:2000])) < 5:
        return None
    import py3langid

    language, _score = py3langid.classify(body[:5000])
    return language


def extract_html(html: str, url: str | None) -> tuple[CleanResult, dict[str, Any]]:
    """trafilatura's body and metadata, then the text cleaner over the body."""
    import trafilatura  # heavy import, needed only by workers that see HTML

    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if document is None or not (document.text or "").strip():
        raise ExtractionError("trafilatura found no main text in this HTML page")
    page = {
        "title": document.title,
        "authors": [a.strip() for a in (document.author or "").split(";") if a.strip()],
        "date": document.date,
        "source_name": document.sitename,
        "url": document.url or url,
        "host": document.hostname,
    }
    return clean_text(document.text, title=document.title), page


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return meta.parse_date(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def extract_article(doc: RawDocument, now: datetime | None = None) -> dict[str, Any]:
    """The fields of an Article for one document (Validate checks them).

    Raises ExtractionError when there is no article text at all.
    """
    now = now or datetime.now(UTC)
    page: dict[str, Any] = {}
    if doc.kind == "html":
        cleaned, page = extract_html(doc.content, doc.url)
    else:
        cleaned = clean_text(doc.content, title=doc.title)
    audit = [*doc.repairs, *cleaned.boilerplate]  # what Read repaired, then the cleaner

    published_at, date_source = None, None
    for candidate, origin in (
        (doc.published_at, "given"),
        (_page_date(page.get("date")), "html_metadata"),
        (cleaned.published_at, "date_line"),
    ):
        if candidate is None:
            continue
        if meta.date_in_range(candidate, now):
            published_at, date_source = candidate, origin
            break
        audit.append(
            Boilerplate(
                kind="date_rejected", text=candidate.isoformat(), rule=f"date_out_of_range:{origin}"
            )
        )

    url = doc.url or page.get("url")
    source_name = doc.source or page.get("source_name") or cleaned.source_name
    source_name = source_name or meta.source_from_url(url) or page.get("host")
    body = cleaned.body
    fields = {
        "article_id": article_id(doc),
        "source_uri": doc.source_uri,
        "url": url,
        "source": meta.slugify(source_name),
        "source_name": source_name,
        "title": doc.title or page.get("title") or cleaned.title,
        "authors": page.get("authors") or cleaned.authors,
        "contributors": cleaned.contributors,
        "published_at": published_at,
        "date_source": date_source,
        "dateline": cleaned.dateline,
        "language": detect_language(body),
        "body": body,
        "word_count": len(_WORD.findall(body)),
        "boilerplate": audit,
        "content_sha256": content_sha256(body),
        "ingested_at": now,
    }
    return storable(fields)  # the cleaner can emit lone surrogates; Beam's coders refuse them


class ExtractArticleFn(beam.DoFn):
    """RawDocument → article fields; a document with no article text goes to the rejects.

    Example input: RawDocument(source_uri="seeds/003_15fbcc62132ba955.txt", kind="text", …).
    """

    REJECTS = "rejects"

    def __init__(self) -> None:
        self._extracted = Metrics.counter("extract", "articles")
        self._rejected = Metrics.counter("extract", "rejected")
        self._removed = Metrics.distribution("extract", "boilerplate_segments")

    def process(self, doc: RawDocument):
        try:
            fields = extract_article(doc)
        except ExtractionError as error:
            reason, message = (
                NO_ARTICLE,
                f"{doc.source_uri}: {error}; check that it is an article page",
            )
        except Exception as error:  # a parser failure on one document must not stop the run
            reason = "extractor_error"
            message = (
                f"{doc.source_uri}: extraction failed ({type(error).__name__}: {error}); "
                "the input is malformed; please report it if it is a normal article"
            )
        else:
            self._extracted.inc()
            self._removed.update(len(fields["boilerplate"]))
            yield fields
            return
        self._rejected.inc()
        yield beam.pvalue.TaggedOutput(
            self.REJECTS,
            Reject(
                source_uri=doc.source_uri,
                stage="extract",
                reason=reason,
                message=message,
                excerpt=doc.content[:300],
            ),
        )


class ExtractArticles(beam.PTransform):
    """RawDocuments → (article field dicts, Rejects)."""

    def expand(self, documents):
        results = documents | "StripBoilerplate" >> beam.ParDo(ExtractArticleFn()).with_outputs(
            ExtractArticleFn.REJECTS, main="articles"
        )
        return results.articles, results[ExtractArticleFn.REJECTS]
