"""Extract: RawDocument → article fields (body, boilerplate audit, metadata).

HTML goes through several extractors combined by agreement (`transforms.candidates`; page
metadata from trafilatura), then the text cleaner in its content-only mode.
Text goes through the cleaner in `transforms.cleaner`; metadata lines become fields
(`transforms.metadata`). Precedence for every field: given (JSONL) > HTML metadata > text rules.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from newsbeam.schemas import Boilerplate, Provenance, RawDocument, Reject, storable
from newsbeam.schemas.text import WORD as _WORD
from newsbeam.schemas.text import words
from newsbeam.transforms import metadata as meta
from newsbeam.transforms.block_model import BlockModel
from newsbeam.transforms.candidates import (
    DEFAULT,
    LAZY,
    MIN_SUPPORT,
    PRECISION,
    combine,
    run_candidate,
    run_candidates,
)
from newsbeam.transforms.cleaner import clean_text, line_keys
from newsbeam.transforms.routing import SplitOff
from newsbeam.transforms.timing import stage_timer, timed

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


PROSE_WORDS = 8
"""A paragraph of at least this many words is prose for language detection; shorter ones are
mostly table rows, lists of names and scores, which tell little about the language."""


def detect_language(body: str) -> str | None:
    """ISO 639-1 code of the body's language; None when the text is too short to tell. Told from
    the body's prose paragraphs when they hold enough words: a story ending in a results table
    of names and times is read as the language of its sentences, not of its table."""
    if len(_WORD.findall(body[:2000])) < 5:
        return None
    import py3langid

    prose = "\n\n".join(
        p for p in body[:20000].split("\n\n") if len(_WORD.findall(p)) >= PROSE_WORDS
    )
    text = prose if len(_WORD.findall(prose[:2000])) >= 5 else body
    language, _score = py3langid.classify(text[:5000])
    return language


@dataclass(frozen=True)
class PageText:
    """A document's text before cleaning: the text itself, or what trafilatura found in HTML."""

    doc: RawDocument
    text: str
    title: str | None = None
    page: dict[str, Any] = field(default_factory=dict)
    dropped: list[Boilerplate] = field(default_factory=list)
    """What combining the extractors left out of the text (HTML only)."""

    @property
    def template_source(self) -> str | None:
        """The site whose template this text carries: given source, else the URL's host."""
        name = self.doc.source or meta.source_from_url(self.doc.url or self.page.get("url"))
        name = name or self.page.get("host")
        return meta.slugify(name) if name else None


def _parsed(html: str) -> Any:
    """The page parsed once as trafilatura parses it (None when it cannot): both trafilatura runs
    read this tree rather than parse the page twice."""
    from trafilatura.utils import load_html

    try:
        return load_html(html)
    except Exception:  # the runs then get the markup itself, and fail or not on their own
        return None


def html_candidates(doc: RawDocument, lazy: bool = False) -> tuple[dict[str, str], Any]:
    """Every extractor's text for an HTML page (but the lazy ones, `candidates.LAZY`, with
    `lazy`), and trafilatura's document (its metadata; None when trafilatura cannot parse it).

    The page is parsed once for trafilatura's two runs; the precision run prunes the tree it is
    given, so it reads a copy (same texts as from the markup, checked on both dev sets)."""
    import trafilatura  # heavy import, needed only by workers that see HTML

    tree = _parsed(doc.content)
    try:
        document = trafilatura.bare_extraction(
            copy.deepcopy(tree) if tree is not None else doc.content,
            url=doc.url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
        )
    except Exception:  # markup trafilatura cannot parse: the other extractors may
        document = None
    precise = (document.text or "") if document is not None else ""
    given = {PRECISION: precise}
    if tree is not None:
        given[DEFAULT] = run_candidate(DEFAULT, tree)
    skip = LAZY if lazy else ()
    return run_candidates(doc.content, given, skip), document


def page_text(doc: RawDocument, min_support: int = MIN_SUPPORT) -> PageText:
    """The text to clean: HTML goes through several extractors, combined by their agreement
    (`transforms.candidates`); trafilatura's precision run also gives the page's metadata."""
    if doc.kind != "html":
        return PageText(doc=doc, text=doc.content, title=doc.title)
    texts, document = html_candidates(doc, lazy=True)
    return combined_page(doc, texts, document, min_support)


def combined_page(
    doc: RawDocument, texts: dict[str, str], document: Any, min_support: int = MIN_SUPPORT
) -> PageText:
    """The PageText of an HTML page from its extractors' texts (see `html_candidates`); a lazy
    candidate missing from `texts` is run only if the others leave the text undecided (and then
    added to `texts`)."""
    later = {name: partial(run_candidate, name, doc.content) for name in LAZY}
    combined = combine(texts, min_support, later)
    if not combined.text.strip():
        raise ExtractionError(
            "no extractor (trafilatura, readability, resiliparse) found main text in this HTML page"
        )
    page: dict[str, Any] = {"url": doc.url, "extractor": combined.base}
    if document is not None:
        page |= {
            "title": document.title,
            "authors": [a.strip() for a in (document.author or "").split(";") if a.strip()],
            "date": document.date,
            "source_name": document.sitename,
            "url": document.url or doc.url,
            "host": document.hostname,
        }
    dropped = [
        Boilerplate(kind="low_agreement", text=block, rule="held_by_too_few_extractors")
        for block in combined.dropped
    ]
    return PageText(
        doc=doc,
        text=combined.text,
        title=doc.title or page.get("title"),
        page=page,
        dropped=dropped,
    )


def template_keys(page: PageText) -> list[tuple[str, str]]:
    """(source, normalised line) for every distinct short line of a page with a known source."""
    source = page.template_source
    if source is None:
        return []
    return [(source, key) for key in sorted(line_keys(page.text))]


def template_tallies(page: PageText) -> list[tuple[str, str | None]]:
    """`template_keys`, after one (source, None) for the page itself: counted together, they
    give each line's documents and each source's in one grouping."""
    source = page.template_source
    return [] if source is None else [(source, None), *template_keys(page)]


def templates_from_tallies(
    counts: Iterable[tuple[tuple[str, str | None], int]],
    min_documents: int = 3,
    min_share: float = 0.2,
) -> dict[str, frozenset[str]]:
    """`find_templates` over the counts of `template_tallies`."""
    lines: list[tuple[tuple[str, str], int]] = []
    documents: dict[str, int] = {}
    for (source, line), count in counts:
        if line is None:
            documents[source] = count
        else:
            lines.append(((source, line), count))
    return find_templates(lines, documents, min_documents, min_share)


def find_templates(
    line_counts: Iterable[tuple[tuple[str, str], int]],
    documents_per_source: dict[str, int],
    min_documents: int = 3,
    min_share: float = 0.2,
) -> dict[str, frozenset[str]]:
    """Lines that recur in at least `min_documents` documents of a source, and in at least
    `min_share` of them, are that source's template."""
    templates: dict[str, set[str]] = {}
    for (source, line), count in line_counts:
        documents = documents_per_source.get(source, 0)
        if count >= min_documents and count >= min_share * documents:
            templates.setdefault(source, set()).add(line)
    return {source: frozenset(lines) for source, lines in templates.items()}


def merge_templates(panes: Iterable[dict[str, frozenset[str]]]) -> dict[str, frozenset[str]]:
    """The templates found in each pane of a window (one pane in a batch run), as one: a line is a
    source's template if any pane found it so."""
    panes = list(panes)
    if len(panes) == 1:
        return panes[0]
    merged: dict[str, frozenset[str]] = {}
    for pane in panes:
        for source, lines in pane.items():
            merged[source] = merged.get(source, frozenset()) | lines
    return merged


def _first(*candidates: tuple[Any, str | None]) -> tuple[Any, str | None]:
    """The first candidate with a value, and where it came from (given > HTML > text > URL)."""
    for value, origin in candidates:
        if value:
            return value, origin
    return None, None


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return meta.parse_date(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def extract_article(
    doc: RawDocument,
    now: datetime | None = None,
    template: frozenset[str] = frozenset(),
    model: BlockModel | None = None,
) -> dict[str, Any]:
    """The fields of an Article for one document (Validate checks them). `model` scores the
    blocks of whole-page text (None: the shipped one; `make eval` passes others to
    cross-validate it).

    Raises ExtractionError when there is no article text at all.
    """
    return article_fields(page_text(doc), now, template, model=model)


def article_fields(
    text: PageText,
    now: datetime | None = None,
    template: frozenset[str] = frozenset(),
    by_position: bool | None = None,
    model: BlockModel | None = None,
) -> dict[str, Any]:
    """Clean a page's text and gather its fields; `template` holds its source's template lines.
    The cleaner removes lines by position in text input only (`by_position` None), not in text
    an HTML extractor already cut to the article."""
    now = now or datetime.now(UTC)
    doc, page = text.doc, text.page
    if by_position is None:
        by_position = doc.kind != "html"
    cleaned = clean_text(
        text.text, title=text.title, template=template, by_position=by_position, model=model
    )
    audit = [*doc.repairs, *text.dropped, *cleaned.boilerplate]  # Read, extractors, cleaner

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
    title, title_origin = _first(
        (doc.title, "given"),
        (page.get("title"), "html_metadata"),
        (cleaned.title, cleaned.origins.get("title")),
    )
    source_name, source_origin = _first(
        (doc.source, "given"),
        (page.get("source_name"), "html_metadata"),
        (cleaned.source_name, cleaned.origins.get("source")),
        (meta.source_from_url(url) or page.get("host"), "url_host"),
    )
    authors, authors_origin = _first(
        (page.get("authors"), "html_metadata"), (cleaned.authors, cleaned.origins.get("authors"))
    )
    provenance = Provenance(
        title=title_origin,
        source=source_origin,
        published_at=date_source,
        authors=authors_origin,
        dateline=cleaned.origins.get("dateline"),
    )
    body = cleaned.body
    fields = {
        "article_id": article_id(doc),
        "source_uri": doc.source_uri,
        "url": url,
        "source": meta.slugify(source_name),
        "source_name": source_name,
        "title": title,
        "authors": authors or [],
        "contributors": cleaned.contributors,
        "published_at": published_at,
        "date_source": date_source,
        "crawled_at": doc.crawled_at,
        "dateline": cleaned.dateline,
        "provenance": provenance,
        "language": detect_language(body),
        "body": body,
        "word_count": len(words(body)),  # each CJK character a word, as for shingles
        "boilerplate": audit,
        "content_sha256": content_sha256(body),
        "ingested_at": now,
    }
    return storable(fields)  # the cleaner can emit lone surrogates; Beam's coders refuse them


def _reject(doc: RawDocument, error: Exception) -> Reject:
    if isinstance(error, ExtractionError):
        reason = NO_ARTICLE
        message = f"{doc.source_uri}: {error}; check that it is an article page"
    else:
        reason = "extractor_error"
        message = (
            f"{doc.source_uri}: extraction failed ({type(error).__name__}: {error}); "
            "the input is malformed; please report it if it is a normal article"
        )
    return Reject(
        source_uri=doc.source_uri,
        stage="extract",
        reason=reason,
        message=message,
        excerpt=doc.content[:300],
    )


class ExtractTextFn(beam.DoFn):
    """RawDocument → PageText (trafilatura for HTML); a page without text goes to the rejects.

    Example input: RawDocument(source_uri="pages/a.html", kind="html", content="<html>…").
    """

    def __init__(self) -> None:
        self._rejected = Metrics.counter("extract", "rejected")
        self._time = stage_timer("extract")

    def process(self, doc: RawDocument):
        try:
            with timed(self._time):
                text = page_text(doc)
        except Exception as error:  # a parser failure on one document must not stop the run
            self._rejected.inc()
            yield _reject(doc, error)
            return
        yield text


class StripBoilerplateFn(beam.DoFn):
    """PageText → article fields, given the per-source templates as a side input (a list: one
    dict per pane of the window, one in a batch run).

    Example input: PageText(doc=RawDocument(source_uri="seeds/003_….txt", …), text="date …").
    """

    def __init__(self) -> None:
        self._extracted = Metrics.counter("extract", "articles")
        self._rejected = Metrics.counter("extract", "rejected")
        self._removed = Metrics.distribution("extract", "boilerplate_segments")
        self._template_lines = Metrics.counter("extract", "template_lines_removed")
        self._time = stage_timer("extract")

    def process(self, text: PageText, templates: list[dict[str, frozenset[str]]]):
        template = merge_templates(templates).get(text.template_source or "", frozenset())
        try:
            with timed(self._time):
                fields = article_fields(text, template=template)
        except Exception as error:  # a cleaner failure on one document must not stop the run
            self._rejected.inc()
            yield _reject(text.doc, error)
            return
        self._extracted.inc()
        self._removed.update(len(fields["boilerplate"]))
        self._template_lines.inc(sum(b.kind == "template" for b in fields["boilerplate"]))
        yield fields


class ExtractArticles(beam.PTransform):
    """RawDocuments → (article field dicts, Rejects).

    Two passes: the text of every page, then the lines that recur across many pages of one source
    (that site's template, counted with one combine over (source, line) and (source, None), the
    source's pages), then the cleaner with the templates as a side input.

    `per_window`: the input is in non-global windows (a streaming run); the templates are then
    learned per window, from the documents of that window.
    """

    def __init__(
        self,
        min_template_documents: int = 3,
        min_template_share: float = 0.2,
        per_window: bool = False,
    ) -> None:
        super().__init__()
        self._min_documents = min_template_documents
        self._min_share = min_template_share
        self._per_window = per_window

    def expand(self, documents):
        texts, text_rejects = (
            documents
            | "ExtractText" >> beam.ParDo(ExtractTextFn())
            | "SplitTextRejects" >> SplitOff(Reject)
        )
        min_documents, min_share = self._min_documents, self._min_share
        templates = (
            texts
            | "TemplateCandidates" >> beam.FlatMap(template_tallies)
            | "CountTemplateLines" >> beam.combiners.Count.PerElement()
            # A source's own tally is its document count: kept whatever it is.
            | "KeepRecurringLines"
            >> beam.Filter(lambda tally: tally[0][1] is None or tally[1] >= min_documents)
            | "CollectLineCounts" >> beam.combiners.ToList().with_defaults(not self._per_window)
            | "FindTemplates"
            >> beam.Map(lambda counts: templates_from_tallies(counts, min_documents, min_share))
        )
        articles, clean_rejects = (
            texts
            | "StripBoilerplate"
            >> beam.ParDo(StripBoilerplateFn(), templates=beam.pvalue.AsList(templates))
            | "SplitCleanRejects" >> SplitOff(Reject)
        )
        rejects = (text_rejects, clean_rejects) | "CollectExtractRejects" >> beam.Flatten()
        return articles, rejects
