"""`make dedup-eval`: precision and recall of near-duplicate detection, per threshold.

    python -m newsbeam.pipeline.bench.dedup_eval [../shared/benchmarks/aeb-dev] [--seeds seeds] \
        [--json FILE]

Texts: the true article bodies of the benchmark folder (`ground-truth.json`) and the clean bodies
of the seed articles. Every text becomes a page: a banner line above it, a navigation line below
it, then through `extract_article`, the path the pipeline's text inputs take.
- Positives: a text against a copy of it with k % of its words edited (each edit replaces, deletes
  or inserts a word; k in EDIT_RATES) and another banner and navigation line; and against a wire
  copy: another outlet's run of the same story, cut from the bottom to a share of its paragraphs
  (WIRE_KEEPS) with 2 % of its words edited (house style) and another banner.
- Negatives: every pair of two different texts, among them the seed pairs, which all report on Xi
  Jinping's dealings with Russia (same topic, different articles); and every text against the
  next one with a passage of the first (QUOTE_WORDS words of its longest paragraph) quoted in the
  middle (a different story that quotes it); and every text against the next one followed by a
  passage of the first's second half as long as itself at most (a follow-up story that reuses an
  earlier one as background for up to half its words: a different story).
Texts come from `ground-truth.json` (`articleBody`) or `truth.json` ({name: text}) of the folder.
The threshold is chosen on aeb-dev by CHOICE_RULE; dragnet-dev is held out to report it (its
data is AGPLv3, evaluation only: nothing derived from it ships).
A pair counts as detected when `near_duplicate` says so: the two MinHash signatures share an LSH
band and their estimated Jaccard is >= the threshold, as in the pipeline. Precision and recall
are over the positives with k <= NEAR_RATE_LIMIT (a few words edited); the recall for heavier
edits is shown beside. Everything is seeded: the same inputs give the same table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from newsbeam.pipeline.bench.evaluate import save_results
from newsbeam.schemas import RawDocument
from newsbeam.transforms.dedup import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    body_signature,
    jaccard,
    lsh_bands,
    near_duplicate,
    word_shingles,
)
from newsbeam.transforms.extract import ExtractionError, extract_article

EDIT_RATES = (0.01, 0.02, 0.05, 0.10, 0.20, 0.30)
NEAR_RATE_LIMIT = 0.10
QUOTE_WORDS = 60
THRESHOLDS = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9)
WIRE_KEEPS = (0.75, 0.5)  # share of paragraphs a wire copy keeps
WIRE_EDIT_RATE = 0.02
CHOICE_RULE = "the lowest threshold whose precision on the development pairs is 1.0"
SEED = 20240601
BANNERS = (
    ("Spread the love", "Back to top button"),
    (
        "Jannah Theme License is not validated, Go to the theme options page to validate the "
        "license, You need a single license for each domain name.",
        "Related Articles",
    ),
    ("Share this article", "Back to top button"),
    ("Subscribe to our newsletter", "Similar News\n\nRead more »"),
)
_TOKEN = re.compile(r"(\s+)")
_ROOT = Path(__file__).resolve().parents[2]  # the repository


def edit_words(text: str, rate: float, vocabulary: list[str], rng: random.Random) -> str:
    """`text` with round(rate × words) words (at least one) edited: each replaced by a word of
    `vocabulary`, deleted, or preceded by an inserted word. Whitespace (paragraphs) is kept."""
    parts = _TOKEN.split(text)
    words = [i for i, part in enumerate(parts) if part and not part.isspace()]
    count = max(1, round(rate * len(words)))
    for index in rng.sample(words, min(count, len(words))):
        operation = rng.choice(("replace", "delete", "insert"))
        if operation == "replace":
            parts[index] = rng.choice(vocabulary)
        elif operation == "delete":
            parts[index] = ""
        else:
            parts[index] = f"{rng.choice(vocabulary)} {parts[index]}"
    return "".join(parts)


def quote_into(body: str, other: str) -> str:
    """`body` with the first QUOTE_WORDS words of `other`'s longest paragraph inserted between
    its middle paragraphs (or after its first half, for a one-paragraph body)."""
    longest = max(other.splitlines(), key=len)
    passage = " ".join(longest.split()[:QUOTE_WORDS])
    paragraphs = [line for line in body.splitlines() if line.strip()]
    if len(paragraphs) > 1:
        middle = len(paragraphs) // 2
        return "\n\n".join([*paragraphs[:middle], f"“{passage}”", *paragraphs[middle:]])
    words = body.split()
    middle = len(words) // 2
    return " ".join([*words[:middle], f"“{passage}”", *words[middle:]])


def page(body: str, banner: tuple[str, str]) -> str:
    """A scraped page as text: the banner line, the body, the navigation line."""
    top, bottom = banner
    return f"{top}\n\n{body}\n\n{bottom}\n"


def clean_body(name: str, text: str) -> str | None:
    """The body extract_article makes of `text`, or None if it finds no article."""
    try:
        return extract_article(
            RawDocument(source_uri=name, kind="text", content=text, encoding="utf-8")
        )["body"]
    except ExtractionError:
        return None


def development_texts(benchmark: Path, seeds: Path) -> dict[str, tuple[str, str]]:
    """{name: (body, group)}: benchmark bodies (group "benchmark"), seed bodies (group "seeds")."""
    texts: dict[str, tuple[str, str]] = {}
    if (benchmark / "ground-truth.json").exists():
        truth = json.loads((benchmark / "ground-truth.json").read_text(encoding="utf-8"))
        bodies = {key: value.get("articleBody") or "" for key, value in truth.items()}
    else:
        bodies = json.loads((benchmark / "truth.json").read_text(encoding="utf-8"))
    for key in sorted(bodies):
        body = bodies[key].strip()
        if body:
            texts[f"{benchmark.name}/{key}"] = (body, "benchmark")
    for path in sorted(seeds.glob("*.txt")):
        body = clean_body(path.name, path.read_text(encoding="utf-8"))
        if body:
            texts[f"seed/{path.name}"] = (body, "seeds")
    return texts


@dataclass(frozen=True)
class Pair:
    kind: str  # "positive" or "negative"
    names: tuple[str, str]
    jaccard: float  # exact Jaccard of the shingle sets
    signatures: tuple[tuple[int, ...], tuple[int, ...]]
    rate: float = 0.0  # edit rate of a positive; 0.0 for a negative
    same_topic: bool = False
    quoting: bool = False  # a negative whose second text quotes a passage of the first
    wire: float = 0.0  # a positive: the share of paragraphs the wire copy keeps
    sharing: bool = False  # a negative whose second text reuses half of the first


def paragraphs(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.strip()]


def wire_copy(body: str, keep: float) -> str:
    """The first `keep` share of `body`'s paragraphs (of its words, for one paragraph)."""
    parts = paragraphs(body)
    if len(parts) > 1:
        return "\n\n".join(parts[: max(1, round(keep * len(parts)))])
    words = body.split()
    return " ".join(words[: max(1, round(keep * len(words)))])


def reuse_half(body: str, earlier: str) -> str:
    """`body` followed by a passage of `earlier` from its middle on, as long as `body` at most:
    the new story shares at most half its words with the earlier one."""
    words = earlier.split()
    passage = words[len(words) // 2 :][: len(body.split())]
    return "\n\n".join([*paragraphs(body), " ".join(passage)])


def build_pairs(texts: dict[str, tuple[str, str]]) -> list[Pair]:
    """The positive and negative pairs described in the module docstring."""
    rng = random.Random(SEED)
    vocabulary = sorted({w for body, _ in texts.values() for w in body.split() if w.isalpha()})
    originals: dict[str, str] = {}
    for number, (name, (body, _group)) in enumerate(texts.items()):
        cleaned = clean_body(name, page(body, BANNERS[number % len(BANNERS)]))
        if cleaned:
            originals[name] = cleaned
    signatures = {name: body_signature(body) for name, body in originals.items()}
    shingles = {name: word_shingles(body) for name, body in originals.items()}

    def against(kind: str, original: str, label: str, text: str, **fields: Any) -> Pair:
        """`original` paired with `text` (named `label`), compared as the pipeline would."""
        return Pair(
            kind,
            (original, label),
            jaccard(shingles[original], word_shingles(text)),
            (signatures[original], body_signature(text)),
            **fields,
        )

    pairs = []
    for number, name in enumerate(originals):
        source = texts[name][0]
        for rate in EDIT_RATES:
            banner = BANNERS[(number + 1) % len(BANNERS)]
            copy = clean_body(name, page(edit_words(source, rate, vocabulary, rng), banner))
            if copy is not None:
                pairs.append(against("positive", name, f"{name}~{rate:.0%}", copy, rate=rate))
        for keep in WIRE_KEEPS:
            banner = BANNERS[(number + 3) % len(BANNERS)]
            wired = edit_words(wire_copy(source, keep), WIRE_EDIT_RATE, vocabulary, rng)
            copy = clean_body(name, page(wired, banner))
            if copy is not None:
                pairs.append(against("positive", name, f"{name}~wire{keep:.0%}", copy, wire=keep))
    for a, b in combinations(sorted(originals), 2):
        same_topic = texts[a][1] == texts[b][1] == "seeds"
        pairs.append(
            Pair(
                "negative",
                (a, b),
                jaccard(shingles[a], shingles[b]),
                (signatures[a], signatures[b]),
                same_topic=same_topic,
            )
        )
    names = sorted(originals)
    for number, (a, b) in enumerate(zip(names, names[1:] + names[:1], strict=True)):
        banner = BANNERS[(number + 2) % len(BANNERS)]
        quoting = clean_body(b, page(quote_into(texts[b][0], texts[a][0]), banner))
        if quoting is None:
            continue
        pairs.append(against("negative", a, f"{b}+quote", quoting, quoting=True))
        sharing = clean_body(b, page(reuse_half(texts[b][0], texts[a][0]), banner))
        if sharing is None:
            continue
        pairs.append(against("negative", a, f"{b}+half", sharing, sharing=True))
    return pairs


@dataclass(frozen=True)
class Row:
    threshold: float
    bands: int
    rows: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    recall_by_rate: dict[str, float]
    same_topic_fp: int
    quoting_fp: int
    sharing_fp: int = 0


def measure(pairs: list[Pair], threshold: float) -> Row:
    """Precision and recall of `near_duplicate` at `threshold` over `pairs`."""
    detected = [near_duplicate(*pair.signatures, threshold) for pair in pairs]
    near = [p.kind == "positive" and p.rate <= NEAR_RATE_LIMIT for p in pairs]
    negative = [p.kind == "negative" for p in pairs]
    tp = sum(d and n for d, n in zip(detected, near, strict=True))
    fp = sum(d and n for d, n in zip(detected, negative, strict=True))
    fn = sum(n and not d for d, n in zip(detected, near, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_rate = {}
    for rate in EDIT_RATES:
        hits = [
            d
            for d, p in zip(detected, pairs, strict=True)
            if p.kind == "positive" and p.rate == rate
        ]
        by_rate[f"{rate:.0%}"] = sum(hits) / len(hits) if hits else 0.0
    for keep in WIRE_KEEPS:
        hits = [d for d, p in zip(detected, pairs, strict=True) if p.wire == keep]
        by_rate[f"wire{keep:.0%}"] = sum(hits) / len(hits) if hits else 0.0
    same_topic_fp = sum(d and p.same_topic for d, p in zip(detected, pairs, strict=True))
    quoting_fp = sum(d and p.quoting for d, p in zip(detected, pairs, strict=True))
    sharing_fp = sum(d and p.sharing for d, p in zip(detected, pairs, strict=True))
    bands, rows = lsh_bands(threshold)
    return Row(
        threshold,
        bands,
        rows,
        tp,
        fp,
        fn,
        precision,
        recall,
        f1,
        by_rate,
        same_topic_fp,
        quoting_fp,
        sharing_fp,
    )


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    rates = list(rows[0].recall_by_rate) if rows else []
    head = ["threshold", "bands×rows", "TP", "FP", "FN", "precision", "recall", "F1"]
    head += [f"R@{rate}" for rate in rates] + ["same-topic FP", "quoting FP", "half-shared FP"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            f"{row.threshold:.2f}",
            f"{row.bands}×{row.rows}",
            str(row.tp),
            str(row.fp),
            str(row.fn),
            f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            f"{row.f1:.3f}",
            *(f"{row.recall_by_rate[rate]:.2f}" for rate in rates),
            str(row.same_topic_fp),
            str(row.quoting_fp),
            str(row.sharing_fp),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(pairs: list[Pair]) -> str:
    """Exact Jaccard of the pairs: the range of each positive rate, the top of the negatives."""
    lines = []
    for rate in EDIT_RATES:
        values = sorted(p.jaccard for p in pairs if p.kind == "positive" and p.rate == rate)
        if values:
            lines.append(
                f"  positives, {rate:.0%} edited: {len(values)} pairs, exact Jaccard "
                f"min {values[0]:.3f} median {values[len(values) // 2]:.3f}"
            )
    negatives = sorted((p for p in pairs if p.kind == "negative"), key=lambda p: -p.jaccard)
    for keep in WIRE_KEEPS:
        values = sorted(p.jaccard for p in pairs if p.wire == keep)
        if values:
            lines.append(
                f"  positives, wire copies keeping {keep:.0%}: {len(values)} pairs, exact Jaccard "
                f"min {values[0]:.3f} median {values[len(values) // 2]:.3f}"
            )
    for label, group in (
        ("same-topic", [p for p in negatives if p.same_topic]),
        ("quoting", [p for p in negatives if p.quoting]),
        ("reusing half", [p for p in negatives if p.sharing]),
        ("all", negatives),
    ):
        if group:
            top = group[0]
            lines.append(
                f"  negatives, {label}: {len(group)} pairs, max exact Jaccard {top.jaccard:.3f} "
                f"({top.names[0]} vs {top.names[1]})"
            )
    return "\n".join(lines)


def chosen_threshold(rows: list[Row]) -> float | None:
    """The threshold CHOICE_RULE picks among `rows` (None if none has precision 1.0)."""
    perfect = [row.threshold for row in rows if row.precision == 1.0]
    return min(perfect) if perfect else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsbeam.pipeline.bench.dedup_eval",
        description="Precision and recall of newsbeam's near-duplicate detection per threshold.",
    )
    parser.add_argument(
        "benchmark",
        nargs="?",
        default=str(_ROOT.parent / "shared" / "benchmarks" / "aeb-dev"),
        help="folder with ground-truth.json (default: ../shared/benchmarks/aeb-dev)",
    )
    parser.add_argument("--seeds", default=str(_ROOT / "seeds"), help="folder of seed .txt files")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    texts = development_texts(Path(args.benchmark), Path(args.seeds))
    pairs = build_pairs(texts)
    rows = [measure(pairs, threshold) for threshold in THRESHOLDS]
    positives = sum(p.kind == "positive" and p.rate <= NEAR_RATE_LIMIT for p in pairs)
    texts_paired = len({p.names[0] for p in pairs if p.kind == "positive"})
    negatives = sum(p.kind == "negative" for p in pairs)
    print(
        f"{len(texts)} texts ({len(texts) - texts_paired} without an article after cleaning); "
        f"{positives} positive pairs (<= {NEAR_RATE_LIMIT:.0%} of words "
        f"edited), {negatives} negative pairs; R@k: recall on copies with k % edited"
    )
    print(summary(pairs))
    print()
    print(table(rows))
    print(f"\nchosen by {CHOICE_RULE}: {chosen_threshold(rows)}")
    print(f"newsbeam's default --near-duplicate-threshold: {DEFAULT_NEAR_DUPLICATE_THRESHOLD}")
    save_results(Path(args.json) if args.json else None, [asdict(row) for row in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
