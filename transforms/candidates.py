"""Main text of an HTML page from several independent extractors, combined by their agreement.

No single extractor is best on every page: trafilatura's precision mode sometimes returns a
sidebar, a lead sentence or nothing; its default keeps more furniture; readability and
resiliparse fail on other pages. Each runs on its own, and the text is chosen by evidence that
does not depend on the site:

1. The base is one of trafilatura's two modes, precision or default: whichever the independent
   extractors (readability, resiliparse) agree with more, precision on a tie.
2. A block (line) of the base stays when at least `min_support` of the other candidates also
   hold it (most of its 4-token shingles, or the whole of a block under four tokens).
3. A candidate whose parser fails on a page is empty; the page is rejected only when every
   candidate is empty, so a page one parser cannot read goes to the next.

Agreement is the benchmark's own unit, shingles of `\\w+` tokens (`schemas.text`), so a block
counts as held by a candidate whatever its line breaks or punctuation. `make eval` measures each
candidate alone and the combination, cross-validated (docs/how-it-works.md).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from newsbeam.schemas.text import shingles, tokens

PRECISION, DEFAULT, READABILITY, RESILIPARSE = (
    "trafilatura_precision",
    "trafilatura_default",
    "readability",
    "resiliparse",
)
BASES = (PRECISION, DEFAULT)
JUDGES = (READABILITY, RESILIPARSE)
MIN_SUPPORT = 2
"""Blocks of the base held by at least this many of the other three candidates: a majority."""

_log = logging.getLogger(__name__)


def _trafilatura(html: Any, **mode: bool) -> str:
    """trafilatura's text of a page, given as markup or as the tree trafilatura parsed it to."""
    import trafilatura  # heavy import, needed only by workers that see HTML

    return trafilatura.extract(html, include_comments=False, include_tables=True, **mode) or ""


def _readability(html: str) -> str:
    from readability import Document
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(Document(html).summary(html_partial=True), main_content=False)


_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
MAX_DEPTH = 1000
"""Deeper pages skip resiliparse: its main-content pass grows faster than the square of the
depth (10,000 nested divs: 1.8 s; 30,000: 35 s), and no real page nests this deep."""


def nesting_depth(html: str, limit: int = MAX_DEPTH) -> int:
    """How deep the page's tags nest, counted from its tags alone (unclosed ones count), up to
    `limit` + 1: a linear scan that stops as soon as the limit is passed."""
    depth = deepest = 0
    for closing, name in _TAG.findall(html):
        if name.lower() in _VOID:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    if nesting_depth(html) > MAX_DEPTH:
        return ""
    return extract_plain_text(html, main_content=True)


EXTRACTORS: dict[str, Callable[[str], str]] = {
    DEFAULT: lambda html: _trafilatura(html, fast=True),
    READABILITY: _readability,
    RESILIPARSE: _resiliparse,
}
"""The candidates besides trafilatura's precision mode, which the caller runs with metadata."""


LAZY = (READABILITY,)
"""Candidates run only when the others leave the combined text undecided (`combine`): readability
costs as much as trafilatura's default run, and on most pages the others settle every choice."""


def run_candidate(name: str, html: Any) -> str:
    """One candidate's text for a page (its markup, or trafilatura's tree of it for trafilatura);
    empty (and logged) when it fails."""
    try:
        return EXTRACTORS[name](html) or ""
    except Exception as error:  # one parser's failure must leave the others their chance
        _log.debug("%s failed on a page: %s: %s", name, type(error).__name__, error)
        return ""


def run_candidates(
    html: str, given: Mapping[str, str] | None = None, skip: tuple[str, ...] = ()
) -> dict[str, str]:
    """Every candidate's text for a page but those in `skip`; a candidate that fails is empty."""
    texts = dict(given or {})
    for name in EXTRACTORS:
        if name not in texts and name not in skip:
            texts[name] = run_candidate(name, html)
    return texts


@dataclass(frozen=True)
class _Block:
    """A line of the base: its text, and what a witness must hold of it (its shingles, or the
    whole of a line under four tokens)."""

    text: str
    joined: str
    shingles: Counter[tuple[str, ...]] | None

    @classmethod
    def of(cls, line: str) -> _Block:
        words = [w.casefold() for w in tokens(line)]
        return cls(
            line.strip(), f" {' '.join(words)} ", shingles(words) if len(words) >= 4 else None
        )


def _blocks(text: str) -> list[_Block]:
    return [_Block.of(line) for line in text.split("\n") if tokens(line)]


@dataclass(frozen=True)
class _Holder:
    """One candidate's text, as the shingles and the token string a block is looked up in."""

    pool: Counter[tuple[str, ...]]
    joined: str

    @classmethod
    def of(cls, text: str) -> _Holder:
        words = [w.casefold() for w in tokens(text)]
        return cls(shingles(words), f" {' '.join(words)} ")

    def holds(self, block: _Block) -> bool:
        if block.shingles is None:
            return block.joined in self.joined
        shared = sum(min(n, self.pool[s]) for s, n in block.shingles.items() if s in self.pool)
        return shared * 2 >= block.shingles.total()

    def agreement(self, other: _Holder) -> float:
        """F1 of the two texts' shingles (0.0 when they share none)."""
        shared = sum((self.pool & other.pool).values())
        total = self.pool.total() + other.pool.total()
        return 2 * shared / total if shared else 0.0

    def distance(self, other: _Holder) -> float:
        """Weighted Jaccard distance of the two shingle multisets: a metric, so how much any third
        text can agree more with one than with the other is bounded by it (`choose_base`)."""
        shared = sum((self.pool & other.pool).values())
        union = self.pool.total() + other.pool.total() - shared
        return 1.0 - shared / union if union else 0.0


_MARGIN = 1e-9
"""Below this, a float comparison could go either way: the missing judge is run."""


def choose_base(holders: Mapping[str, _Holder], missing: int = 0) -> str | None:
    """The trafilatura mode that the independent extractors agree with more (precision on a tie
    or when the default is empty); None when `missing` judges not yet run could change it.

    Agreement is the F1 of shingles, f(J) = 2J / (1 + J) of their weighted Jaccard similarity J.
    Jaccard distance d is a metric, so a judge's similarity to the two modes differs by at most
    d(precision, default) = δ, and as f is concave its F1 by at most f(δ) = 2δ / (1 + δ)."""
    if DEFAULT not in holders:
        return PRECISION
    if PRECISION not in holders:
        return DEFAULT
    agreement = {
        base: sum(holders[base].agreement(holders[j]) for j in JUDGES if j in holders)
        for base in BASES
    }
    lead = agreement[DEFAULT] - agreement[PRECISION]
    if missing:
        delta = holders[PRECISION].distance(holders[DEFAULT])
        swing = missing * 2 * delta / (1 + delta)
        if lead - swing > _MARGIN:
            return DEFAULT
        if lead + swing <= -_MARGIN or (delta == 0.0 and lead <= 0.0):
            return PRECISION
        return None
    return DEFAULT if lead > 0 else PRECISION


@dataclass(frozen=True)
class Combined:
    """The combined text, the candidate it was cut from, and the base's blocks left out."""

    text: str
    base: str | None
    dropped: tuple[str, ...] = ()


class _Undecided(Exception):
    """The candidates run so far leave the combined text open: the lazy ones must run."""


def combine(
    texts: Mapping[str, str],
    min_support: int = MIN_SUPPORT,
    later: Mapping[str, Callable[[], str]] | None = None,
) -> Combined:
    """The combined text of the candidates' texts (empty, with no base, when all are empty).

    With no trafilatura text at all, the longest other candidate is the base; a block needs
    the support of at most as many candidates as have any text. `later` holds candidates not yet
    run: they are run (their texts added to `texts` when it is a dict) only if the others
    leave the base or a block undecided, so the result is the same as with every text given."""
    pending = {name: run for name, run in (later or {}).items() if name not in texts}
    if pending:
        try:
            return _combine(texts, min_support, missing=len(pending))
        except _Undecided:
            ran = {name: run() for name, run in pending.items()}
            if isinstance(texts, dict):
                texts.update(ran)  # the caller sees every text that was run
            texts = {**texts, **ran}
    return _combine(texts, min_support)


def _combine(texts: Mapping[str, str], min_support: int, missing: int = 0) -> Combined:
    holders = {name: _Holder.of(text) for name, text in texts.items() if tokens(text)}
    if not holders:
        if missing:
            raise _Undecided
        return Combined("", None)
    base = choose_base(holders, missing)
    if base is None or (missing and base not in holders):
        raise _Undecided
    if base not in holders:  # the longest; on a tie, the first in the order candidates run
        rank = {name: -k for k, name in enumerate((*BASES, *JUDGES))}
        base = max(holders, key=lambda name: (len(texts[name]), rank.get(name, -len(rank))))
    witnesses = [holder for name, holder in holders.items() if name != base]
    if missing and len(witnesses) < min_support:
        raise _Undecided  # how many must hold a block depends on whether the others have text
    needed = min(min_support, len(witnesses))  # with fewer witnesses, as many as there are
    kept, dropped = [], []
    for block in _blocks(texts[base]):
        count = sum(witness.holds(block) for witness in witnesses)
        if missing and needed - missing <= count < needed:
            raise _Undecided
        (kept if count >= needed else dropped).append(block.text)
    return Combined("\n".join(kept), base, tuple(dropped))
