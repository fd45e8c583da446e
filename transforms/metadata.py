"""Recognisers for the header and footer lines of scraped news text that are really metadata.

Each function looks at one line (or the opening of one paragraph) and returns the value it
carries, or None. They name general patterns of English-language news pages (date lines,
bylines, outlet lines, copyright notices, datelines), never a particular site.
Every regular expression here is linear: no nested quantifiers, and lines are length-capped.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from slugify import slugify as _slugify

from newsbeam.schemas.text import WORD as _WORD

MAX_META_LINE = 300
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)


STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "not",
        "no",
        "do",
        "does",
        "did",
        "been",
        "had",
        "would",
        "could",
        "should",
        "about",
        "after",
        "before",
        "into",
        "over",
        "under",
    ]
)

# --- dates -----------------------------------------------------------------------------------

_DATE_LABEL = re.compile(
    r"^(?:(?:first\s+|last\s+)?(?:date|published|updated|posted|modified)(?:\s+on|\s+at)?\s*:?\s*)",
    re.IGNORECASE,
)
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_DATE_SETTINGS = {
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PREFER_DATES_FROM": "past",
}


@lru_cache(maxsize=4096)
def parse_date(text: str) -> datetime | None:
    """A date with day, month and a four-digit year, in UTC; None for anything else."""
    import dateparser  # imported on first use: it is slow to import and only header lines need it

    if len(text) > 80 or not YEAR.search(text):
        return None
    return dateparser.parse(text, languages=["en"], settings=_DATE_SETTINGS)


def parse_date_line(line: str) -> datetime | None:
    """`date 2023-03-02`, `Published March 2, 2023 at 4:05 pm ET`, `Updated …`, or a bare date."""
    line = line.strip()
    if len(line) > 100:
        return None
    rest = _DATE_LABEL.sub("", line, count=1).strip(" |·•-–—")
    if len(_WORD.findall(rest)) > 12:
        return None
    return parse_date(rest)


def date_in_range(value: datetime, now: datetime | None = None) -> bool:
    """Publication dates before 1990 or more than a day in the future are not believed."""
    now = now or datetime.now(UTC)
    return EARLIEST_DATE <= value <= now + timedelta(days=1)


# --- people ----------------------------------------------------------------------------------

_NAME_PARTICLES = r"(?:de|da|del|della|der|den|di|du|van|von|bin|ibn|al|la|le|st\.?)"
_NAME_WORD = r"(?:[A-Z][\w'’.-]*|" + _NAME_PARTICLES + r")"
_NAME = rf"[A-Z][\w'’.-]*(?:\s+{_NAME_WORD}){{1,4}}"
_BYLINE = re.compile(
    rf"^(?i:by|written\s+by|words\s+by|reporting\s+by)\s*:?\s+(?P<names>{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*)"
    r"\s*(?:[,|–—-]\s*[\w .&'-]{2,40})?\.?$"
)
_CONTRIBUTED = re.compile(
    r"^(?P<names>[^!?]{3,400}?)\s+(?:also\s+)?contributed\s+"
    r"(?:reporting|research|additional reporting|to this (?:report|article|story))\.?$",
    re.IGNORECASE,
)
_SPLIT_NAMES = re.compile(r"\s*(?:,\s*and\s+|,|\band\b|&)\s*")


def _tidy_name(name: str) -> str:
    name = " ".join(name.split()).strip(" .,;")
    return name.title() if name.islower() else name


def _looks_like_name(name: str) -> bool:
    words = name.split()
    return (
        2 <= len(words) <= 5
        and all(w[0].isalpha() for w in words)
        and any(w[0].isupper() for w in words)
    )


def parse_byline(line: str) -> list[str] | None:
    """`By Teilor Stone`, `By Jane Doe and John Roe, Reuters` → the names."""
    names = _byline_names(line.strip())
    return list(names) if names else None


@lru_cache(maxsize=4096)
def _byline_names(line: str) -> tuple[str, ...]:
    if len(line) > 160:
        return ()
    match = _BYLINE.match(line)
    if not match:
        return ()
    names = [_tidy_name(n) for n in _SPLIT_NAMES.split(match.group("names")) if n.strip()]
    return tuple(n for n in names if _looks_like_name(n))


def parse_contributors(line: str) -> list[str] | None:
    """`X, Y and Z contributed reporting.` → [X, Y, Z]."""
    line = line.strip()
    if len(line) > 500:
        return None
    match = _CONTRIBUTED.match(line)
    if not match:
        return None
    names = [_tidy_name(n) for n in _SPLIT_NAMES.split(match.group("names")) if n.strip()]
    if not names or not all(_looks_like_name(n) for n in names):
        return None
    return names


# --- outlets, copyright ----------------------------------------------------------------------

OUTLET_WORDS = frozenset(
    [
        "news",
        "times",
        "post",
        "press",
        "journal",
        "herald",
        "tribune",
        "telegraph",
        "guardian",
        "gazette",
        "daily",
        "agency",
        "wire",
        "network",
        "radio",
        "tv",
        "television",
        "magazine",
        "chronicle",
        "observer",
        "examiner",
        "independent",
        "mail",
        "express",
        "today",
        "review",
        "insider",
        "reuters",
        "bloomberg",
        "xinhua",
        "associated",
        "presse",
    ]
)
_COPYRIGHT = re.compile(
    r"(?:\bcopyright\b\s*(?:©|\(c\))?|©|\(c\))\s*\(?(?P<year>(?:19|20)\d\d)?\)?(?:\s*[-–]\s*(?:19|20)\d\d)?"
    r"\s*(?P<holder>[^.©]{0,80})",
    re.IGNORECASE,
)
_RIGHTS_RESERVED = re.compile(r"\brights\b[^.]{0,60}\breserved\b", re.IGNORECASE)


def parse_outlet_line(line: str) -> str | None:
    """A lone outlet line: `CNN`, `ABC News`, `The Washington Post`, `Agence France-Presse`."""
    line = line.strip().strip("|·•")
    words = line.split()
    if not 1 <= len(words) <= 5 or len(line) > 60 or re.search(r"[,.:;!?\"“”]$|[,:;\"“”]", line):
        return None
    if len(words) == 1 and re.fullmatch(r"[A-Z]{2,5}", line):
        vowels = sum(c in "AEIOU" for c in line)
        return line if vowels / len(line) < 0.34 else None
    if not all(w[0].isupper() or w.lower() in {"the", "of", "and", "&"} for w in words):
        return None
    last = re.sub(r"\W", "", words[-1]).lower()
    parts = {p.lower() for w in words for p in re.split(r"[-–]", w)}
    return (
        line
        if last in OUTLET_WORDS or parts & {"reuters", "bloomberg", "xinhua", "presse"}
        else None
    )


def is_copyright(line: str) -> bool:
    """A copyright notice: `© 2023 Acme`, `Copyright (c) 2021`, `All rights reserved.`"""
    if len(line) > MAX_META_LINE:
        return False
    if _RIGHTS_RESERVED.search(line):
        return True
    match = _COPYRIGHT.search(line)
    return bool(match and match.group("year"))


def copyright_holder(line: str) -> str | None:
    """The holder named after the year in a copyright notice, if any."""
    for match in _COPYRIGHT.finditer(line):
        holder = match.group("holder").strip(" .,;:-–—|")
        holder = _RIGHTS_RESERVED.sub("", holder).strip(" .,;:-–—|")
        if match.group("year") and holder and len(holder.split()) <= 6:
            return holder
    return None


# --- places ----------------------------------------------------------------------------------

_DATELINE = re.compile(
    r"^(?:(?P<place>[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+){0,3})"
    r"(?:,\s+[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+)?)?\s*)?"
    r"(?:\((?P<credit>[A-Z][A-Za-z .&-]{1,30})\))?\s*[—–-]{1,2}\s+\S"
)


def parse_place_line(line: str) -> str | None:
    """A lone place line in a header: `hong kong`, `BEIJING`, `New York` (Title Case: ≤ 3 words,
    so a short capitalised headline is not taken for a place)."""
    line = line.strip()
    words = line.split()
    if not 1 <= len(words) <= 4 or len(line) > 40 or not re.fullmatch(r"[^\W\d_][\w .'’-]*", line):
        return None
    if any(w.lower() in STOP_WORDS for w in words):
        return None
    title_case = len(words) <= 3 and all(w[0].isupper() for w in words)
    if not (line.isupper() or line.islower() or title_case):
        return None
    return line.title() if line.islower() else line


def leading_dateline(paragraph: str) -> str | None:
    """The dateline opening a first paragraph: `BEIJING — …`, `WASHINGTON (AP) — …`."""
    return parse_leading_dateline(paragraph)[0]


def parse_leading_dateline(paragraph: str) -> tuple[str | None, str | None]:
    """(place, wire credit) opening a first paragraph: `WASHINGTON (AP) — …` → (WASHINGTON, AP);
    `(Reuters) - …` → (None, Reuters)."""
    match = _DATELINE.match(paragraph[:120])
    if not match or not (match.group("place") or match.group("credit")):
        return None, None
    return match.group("place"), match.group("credit")


# --- slugs -----------------------------------------------------------------------------------


def slugify(name: str | None, max_length: int = 64) -> str:
    """A partition-safe slug: lowercase ASCII letters, digits and single hyphens; never empty.

    Other scripts are transliterated (python-slugify: `Лента.ру` → `lenta-ru`, `新华社` →
    `xin-hua-she`), so outlets that do not write in Latin letters keep names of their own; a
    name with letters that have no transliteration gets a stable `x-HASH` slug. `unknown` only
    when there is no name, or nothing in it but punctuation.
    """
    if not name:
        return "unknown"
    slug = _slugify(name, max_length=max_length).strip("-")
    if slug:
        return slug
    if any(c.isalnum() for c in name):
        return f"x-{hashlib.sha256(name.encode('utf-8', 'replace')).hexdigest()[:12]}"
    return "unknown"


def source_from_url(url: str | None) -> str | None:
    """The outlet's host name (`www.` dropped) from an article URL."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")
