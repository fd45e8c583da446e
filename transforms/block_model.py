"""A small learned score for the blocks of whole-page text: how likely each is article text.

Whole-page text (a page's menus, sidebars, related links, comments and footer around its
article, as `inscriptis` or resiliparse without its main-content pass give it) has more shapes
than rules name. A logistic regression over general, site-independent features of a block and
of its neighbours (length, sentence endings, capitalisation, digits, link-like tokens, stop-word
share, position in the page, the rule classification, the distance to the densest run of prose)
gives the cleaner a probability per block, which it turns into the region score
(`cleaner._main_region`). The weights live in `block_model.json` beside this module, are a few
dozen numbers, and are rebuilt by one command from data the project may ship (`make
train-cleaner`, `pipeline/bench/train_cleaner.py`). Nothing here names a site or a word list
taken from a page.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from newsbeam.schemas.text import WORD

WEIGHTS_FILE = Path(__file__).with_name("block_model.json")


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOP = _vocabulary(
    "a an and are as at be been but by can could did do does for from had has have he her him "
    "his i if in into is it its just more most no not of on one or our out over she so than "
    "that the their them then there these they this those to under up was we were what when "
    "where which while who will with would"
)
"""English function words: prose is full of them, menus and link lists are not."""
_LINK = re.compile(r"https?://|www\.|\.(?:com|org|net|html?|php)\b|@\w|#\w", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?:\s|$)")
_ALPHA_WORD = re.compile(r"[^\W\d_]+")
WINDOWS = (2, 6)
"""Neighbourhood sizes (blocks each side) whose averages describe a block's surroundings: a
sentence among menu items is a teaser, a short line among paragraphs is the story's own."""


class BlockLike(Protocol):
    """What the features read from a cleaner block (`cleaner.Block`)."""

    text: str
    words: int
    kind: str | None

    @property
    def sentence_like(self) -> bool: ...

    @property
    def list_item(self) -> bool: ...

    @property
    def headline_case(self) -> bool: ...


_OWN = (
    "log_words",
    "sentence_like",
    "sentence_ends_per_word",
    "commas_per_word",
    "capitalised_share",
    "digit_share",
    "link_like",
    "stop_word_share",
    "list_item",
    "headline_case",
    "ends_with_colon",
    "has_bar",
    "classified",
    "barrier",
    "long_prose",
)
FEATURES = (
    *_OWN,
    *(f"{name}_near{w}" for w in WINDOWS for name in ("log_words", "sentence_like", "classified")),
    "prose_words_near6",
    "position",
    "position_squared",
    "in_dense_run",
    "log_distance_to_dense_run",
    "after_dense_run",
    "before_dense_run",
)
BARRIERS = frozenset({"copyright", "byline", "comments"})
"""Kinds of block the article's region never crosses (`cleaner._main_region`)."""


def _own(block: BlockLike) -> list[float]:
    text = block.text
    words = WORD.findall(text)
    count = max(1, len(words))
    alpha = _ALPHA_WORD.findall(text)
    capitalised = sum(w[0].isupper() for w in alpha) / max(1, len(alpha))
    return [
        math.log1p(block.words),
        float(block.sentence_like),
        len(_SENTENCE_END.findall(text)) / count,
        text.count(",") / count,
        capitalised,
        sum(w.isdigit() for w in words) / count,
        float(bool(_LINK.search(text))),
        sum(w.casefold() in _STOP for w in words) / count,
        float(block.list_item),
        float(block.headline_case),
        float(text.endswith(":")),
        float("|" in text),
        float(block.kind is not None),
        float(block.kind in BARRIERS),
        float(block.sentence_like and block.words >= 20),
    ]


def _window_mean(values: np.ndarray, width: int) -> np.ndarray:
    """The mean of each row's neighbours within `width` blocks each side (the row excluded)."""
    padded = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    n = len(values)
    index = np.arange(n)
    low = np.clip(index - width, 0, n)
    high = np.clip(index + width + 1, 0, n)
    sums = padded[high] - padded[low] - values
    counts = (high - low - 1).clip(min=1)[:, None]
    return sums / counts


def features(blocks: Sequence[BlockLike], dense_run: tuple[int, int]) -> np.ndarray:
    """One row of `FEATURES` per block. `dense_run` is the (first, last) block of the run the
    rule scores find densest in prose (`cleaner.densest_run`), (0, -1) for none."""
    n = len(blocks)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    own = np.array([_own(b) for b in blocks], dtype=float)
    columns = [own]
    picked = own[:, [_OWN.index(name) for name in ("log_words", "sentence_like", "classified")]]
    for width in WINDOWS:
        columns.append(_window_mean(picked, width))
    prose = np.array([[b.words if b.sentence_like else 0.0] for b in blocks])
    columns.append(np.log1p(_window_mean(prose, 6)))
    index = np.arange(n, dtype=float)
    position = index / max(1, n - 1)
    first, last = dense_run
    if last < first:
        inside = np.zeros(n)
        distance = np.full(n, float(n))
        after = before = np.zeros(n)
    else:
        inside = ((index >= first) & (index <= last)).astype(float)
        distance = np.where(index < first, first - index, np.where(index > last, index - last, 0))
        after = (index > last).astype(float)
        before = (index < first).astype(float)
    columns.append(
        np.column_stack([position, position**2, inside, np.log1p(distance), after, before])
    )
    return np.hstack(columns)


@dataclass(frozen=True)
class BlockModel:
    """A logistic regression over standardised `FEATURES`."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_json(self) -> dict:
        return {
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(float(self.bias), 6),
        }

    @classmethod
    def from_json(cls, data: dict) -> BlockModel:
        if list(data["features"]) != list(FEATURES):
            raise ValueError("block model weights were trained on other features; retrain them")
        return cls(
            np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]), data["bias"]
        )


def fit(rows: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray, l2: float = 1.0):
    """Weighted L2-regularised logistic regression by Newton's method: deterministic, so the
    same data gives the same weights on every machine (`make train-cleaner`)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    total = sample_weight.sum()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (sample_weight * (p - labels)) / total + penalty * w / total
        hessian = (x.T * (sample_weight * p * (1 - p))) @ x / total + np.diag(penalty) / total
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return BlockModel(mean, scale, w[:-1], float(w[-1]))


@cache
def shipped_model() -> BlockModel:
    """The model whose weights ship with the package (loaded once per process)."""
    return BlockModel.from_json(json.loads(WEIGHTS_FILE.read_text()))
