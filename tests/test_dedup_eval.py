"""`python -m newsbeam.pipeline.bench.dedup_eval`: the pairs it builds and the measurement, on the
seeds."""

from __future__ import annotations

import random

from newsbeam.pipeline.bench.dedup_eval import (
    EDIT_RATES,
    NEAR_RATE_LIMIT,
    WIRE_KEEPS,
    build_pairs,
    chosen_threshold,
    clean_body,
    edit_words,
    measure,
    table,
)
from newsbeam.transforms.dedup import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from tests.conftest import SEEDS


def test_edit_words_edits_the_requested_share_and_keeps_paragraphs():
    text = "\n\n".join(" ".join(f"w{p}x{i}" for i in range(50)) for p in range(4))
    edited = edit_words(text, 0.10, ["new"], random.Random(0))
    assert edited.count("\n\n") == 3
    before, after = text.split(), edited.split()
    changed = len(set(before) - set(after)) + after.count("new")
    assert 20 <= changed <= 40  # 20 edits; a replacement both removes and adds a word
    assert edit_words(text, 0.10, ["new"], random.Random(0)) == edited
    assert edit_words("one two", 0.01, ["new"], random.Random(0)) != "one two"


def test_the_default_threshold_separates_the_seed_pairs():
    texts = {f"seed/{s.name}": (clean_body(s.name, s.read_text()), "seeds") for s in SEEDS}
    pairs = build_pairs(texts)
    assert sum(p.kind == "positive" for p in pairs) == len(SEEDS) * (
        len(EDIT_RATES) + len(WIRE_KEEPS)
    )
    assert sum(p.same_topic for p in pairs) == 10
    assert sum(p.quoting for p in pairs) == sum(p.sharing for p in pairs) == len(SEEDS)
    row = measure(pairs, DEFAULT_NEAR_DUPLICATE_THRESHOLD)
    assert (row.fp, row.same_topic_fp, row.quoting_fp, row.sharing_fp) == (0, 0, 0, 0)
    assert row.recall >= 0.8  # the 10 % edits and the wire copies cut to half miss some
    assert all(row.recall_by_rate[f"{r:.0%}"] == 1.0 for r in EDIT_RATES if r < NEAR_RATE_LIMIT)
    assert f"| {DEFAULT_NEAR_DUPLICATE_THRESHOLD:.2f} |" in table([row])


def test_the_threshold_is_chosen_as_the_lowest_with_perfect_precision():
    texts = {f"seed/{s.name}": (clean_body(s.name, s.read_text()), "seeds") for s in SEEDS}
    pairs = build_pairs(texts)
    rows = [measure(pairs, threshold) for threshold in (0.2, 0.4, 0.6)]
    perfect = [row.threshold for row in rows if row.precision == 1.0]
    assert chosen_threshold(rows) == min(perfect)
    assert chosen_threshold([]) is None
