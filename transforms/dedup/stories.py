"""Stories: exact copies grouped, the copy to keep chosen, and a Duplicate for every other.

A story is the copies of one clean body (`content_sha256`). Keep order decides which copy is
written: a story already in the output first, then the earliest published (undated last), then
the smallest `article_id`. A `Placement` says what near-duplicate search decided for a story of
this run: the kept story it copies (its copies then all point there) and the stories of earlier
runs it revises (each of those gets a "superseded" row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newsbeam.schemas import Article, Duplicate
from newsbeam.transforms.dedup.signature import Signature, article_signature

_LATEST = datetime.max.replace(tzinfo=UTC)
# `#N` ends the source_uri of the N-th record of a multi-record file (JSONL, WARC): a record's
# place in a file is not its identity, so only whole-file paths and URLs name a document.
_RECORD = re.compile(r"#\d+$")


def revision_keys(source_uri: str, url: str | None) -> frozenset[str]:
    """What names a document across runs: "uri:PATH" for a whole-file input, "url:URL" when it
    has one. An article of this run with a key of an earlier article but other content is a
    revision of it."""
    keys = set()
    if source_uri and not _RECORD.search(source_uri):
        keys.add(f"uri:{source_uri}")
    if url:
        keys.add(f"url:{url}")
    return frozenset(keys)


@dataclass(frozen=True)
class Sketch:
    """A story as duplicate search sees it: its (representative) article's id and date, its
    signature (() when unknown), whether an earlier run wrote it (`existing`), its source_uri
    and its `revision_keys` (empty when unknown)."""

    article_id: str
    published_at: datetime | None
    signature: Signature = ()
    existing: bool = False
    source_uri: str = ""
    names: frozenset[str] = frozenset()

    @property
    def node(self) -> tuple[bool, str]:
        """Identity in the similarity graph (a new story may share an id with an old one)."""
        return (self.existing, self.article_id)

    def order(self) -> tuple[int, datetime, str]:
        """Keep order: stories in the output first, then earliest published, then smallest id."""
        return (0 if self.existing else 1, self.published_at or _LATEST, self.article_id)


@dataclass(frozen=True)
class Placement:
    """What near-duplicate search decided for one story of this run: `kept`, the kept story it
    copies with their estimated Jaccard `similarity` (None: the story is written), and
    `supersedes`, the (Sketch, similarity) of each story of an earlier run it revises."""

    kept: Sketch | None = None
    similarity: float = 0.0
    supersedes: tuple[tuple[Sketch, float], ...] = ()


def _order(article: Article) -> tuple[datetime, str]:
    return (article.published_at or _LATEST, article.article_id)


def order_copies(copies: Iterable[Article]) -> list[Article]:
    """Copies in keep order: earliest published (undated last), then smallest article_id."""
    return sorted(copies, key=_order)


def story_sketch(story: Sequence[Article]) -> Sketch:
    """The Sketch of a story of this run: its first copy's id, date and source_uri, the body's
    signature, and the revision keys of all its copies."""
    first = story[0]
    names = frozenset().union(*(revision_keys(a.source_uri, a.url) for a in story))
    return Sketch(
        first.article_id,
        first.published_at,
        article_signature(first),
        source_uri=first.source_uri,
        names=names,
    )


def _duplicate(copy: Article, kept: str, similarity: float, reason: str) -> Duplicate:
    return Duplicate(
        source_uri=copy.source_uri,
        article_id=copy.article_id,
        duplicate_of=kept,
        similarity=similarity,
        reason=reason,
    )


def superseded(old: Sketch, newer: str, similarity: float) -> Duplicate:
    """The row of an earlier run's article that a newer version (`newer`) replaces."""
    return Duplicate(
        source_uri=old.source_uri,
        article_id=old.article_id,
        duplicate_of=newer,
        similarity=similarity,
        reason="superseded",
    )


def resolve_story(
    story: Sequence[Article], placement: Placement | None = None
) -> tuple[Article | None, list[Duplicate]]:
    """A story's copies (in keep order) → (the article to write or None, a Duplicate per copy
    not written and per earlier article it supersedes). With a `placement` whose `kept` is set,
    every copy points at that story, as "already_in_output" when an earlier run wrote it, else
    as "near"."""
    if not story:
        return None, []
    placement = placement or Placement()
    if placement.kept is not None:
        sketch, similarity = placement.kept, placement.similarity
        reason = "already_in_output" if sketch.existing else "near"
        duplicates = [_duplicate(copy, sketch.article_id, similarity, reason) for copy in story]
        written: Article | None = None
        newer = sketch.article_id
    else:
        written = story[0]
        duplicates = [_duplicate(copy, written.article_id, 1.0, "exact") for copy in story[1:]]
        newer = written.article_id
    duplicates += [superseded(old, newer, sim) for old, sim in placement.supersedes]
    return written, duplicates


def choose_original(
    copies: Iterable[Article], existing: Iterable[Sketch] = ()
) -> tuple[Article | None, list[Duplicate]]:
    """For the copies of one content hash: (the article to write or None, a Duplicate for every
    other copy). With stories of that hash in the output (`existing`), nothing is written and
    every copy points at the first of them ("already_in_output")."""
    earlier = sorted(existing, key=Sketch.order)
    if earlier:
        original = earlier[0].article_id
        return None, [
            _duplicate(copy, original, 1.0, "already_in_output") for copy in order_copies(copies)
        ]
    return resolve_story(order_copies(copies))
