"""Words and shingles: the one tokenizer for word counts, content hashes, agreement between
extractors and the extraction benchmark's score (`\\w+` runs, 4-token shingles); and `words`,
which also splits the scripts written without spaces, for near-duplicate shingles; and
`printable`, the one way a file name or message reaches a terminal (control characters in a name
— an escape sequence, a bell, a newline — are shown escaped, never sent to the terminal)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"\w+")
SHINGLE = 4


def tokens(text: str | None) -> list[str]:
    """The `\\w+` runs of a text, in order."""
    return WORD.findall(text or "")


# Hiragana, katakana (and its phonetic extensions, half-width forms), CJK ideographs (the
# unified block, extension A, compatibility ideographs): scripts written without spaces between
# words, in which a `\\w+` run is a whole clause, so a 5-word shingle of runs means nothing.
# Korean separates words with spaces; Thai, also unspaced, would need a dictionary segmenter.
_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORDS = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


def words(text: str | None) -> list[str]:
    """The words of a text in order: `\\w+` runs, and each Chinese character and Japanese kana
    on its own. Equal `tokens` give equal `words`."""
    return WORDS.findall(text or "")


def shingles(words: Sequence[str], n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The multiset of n-token shingles of a token list."""
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def shingle_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over 4-token shingles, scaled to sum to one (all zero for two empty texts)."""
    true, predicted = shingles(tokens(truth)), shingles(tokens(prediction))
    tp = sum((true & predicted).values())
    fp = sum((predicted - true).values())
    fn = sum((true - predicted).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators and bidi overrides,
# which move or rewrite what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, lines: bool = False) -> str:
    """`text` (a file name, or a message naming files) as it may be printed to a terminal: each
    control character as `\\xNN` (or `\\uNNNN`), everything else as it is; with `lines`, line
    breaks are kept (a message of several lines)."""
    if not _CONTROL.search(text):
        return text
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)
