"""The words of a text, for counting and shingling.

`\\w+` runs, except in the scripts written without spaces between words: each Chinese character
and each Japanese kana is a word of its own (in those scripts a `\\w+` run is a whole clause, so
a minimum length or a 5-word shingle measured in runs means nothing). Korean separates words
with spaces and needs nothing special; Thai, also unspaced, would need a dictionary segmenter
and is counted in runs.
"""

from __future__ import annotations

import re

# Hiragana, katakana (and its phonetic extensions, half-width forms), CJK ideographs (the
# unified block, extension A, compatibility ideographs).
_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


def words(text: str) -> list[str]:
    """The words of `text` in order: `\\w+` runs, a CJK character each."""
    return WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))
