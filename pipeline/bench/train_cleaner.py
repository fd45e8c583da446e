"""`make train-cleaner`: rebuild the cleaner's whole-page block model (`block_model.json`).

    python -m newsbeam.pipeline.bench.train_cleaner ../shared/benchmarks/aeb-dev \
        [--out transforms/block_model.json]

Training data is only what the project may ship a model of: the article-extraction benchmark's
development pages (MIT licence), whose folder holds the true article bodies and two whole-page
texts of each page (`peer-output/inscriptis.json`, `peer-output/html-text.json`); a third is the
page through resiliparse without its main-content pass. Each text is split and classified by the
cleaner exactly as at run time, and each block is labelled by the share of the 4-token shingles
touching its tokens that occur in the true body (the benchmark's own unit). Only texts that look
like a whole page (`cleaner.whole_page`) are used: they are where the model is applied. Each page
counts once whatever its length: a block weighs its words over its text's words. The fit is
deterministic (Newton's method), so the same folder gives the same weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from newsbeam.schemas.text import SHINGLE, tokens
from newsbeam.transforms.block_model import WEIGHTS_FILE, BlockModel, features, fit
from newsbeam.transforms.cleaner import (
    Block,
    classified_blocks,
    densest_run,
    rule_scores,
    whole_page,
)

WHOLE_PAGE_PEERS = ("inscriptis", "html-text")
L2 = 1.0


def whole_page_texts(folder: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(true bodies, whole-page texts per page) of a benchmark folder with peer output."""
    from resiliparse.extract.html2text import extract_plain_text

    from newsbeam.pipeline.bench.evaluate import load

    bench = load(folder)
    texts: dict[str, list[str]] = {i: [] for i in bench.truth}
    for name in WHOLE_PAGE_PEERS:
        for i, text in bench.peers.get(name, {}).items():
            if i in texts and text:
                texts[i].append(text)
    for i, doc in bench.documents.items():
        if doc is not None:
            texts[i].append(extract_plain_text(doc.content, main_content=False))
    return bench.truth, texts


def block_labels(blocks: Sequence[Block], truth: str) -> np.ndarray:
    """Each block's share of the shingles touching its tokens that are in the true body."""
    true = {tuple(s) for s in _windows(tokens(truth))}
    owner: list[int] = []
    stream: list[str] = []
    for index, block in enumerate(blocks):
        words = tokens(block.text)
        stream += words
        owner += [index] * len(words)
    hits = np.zeros(len(blocks))
    seen = np.zeros(len(blocks))
    for start, shingle in enumerate(_windows(stream)):
        touched = set(owner[start : start + SHINGLE])
        found = float(tuple(shingle) in true)
        for index in touched:
            hits[index] += found
            seen[index] += 1
    return np.divide(hits, seen, out=np.zeros(len(blocks)), where=seen > 0)


def _windows(words: list[str]) -> Iterable[list[str]]:
    return (words[i : i + SHINGLE] for i in range(len(words) - SHINGLE + 1))


def page_rows(text: str, truth: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(features, labels, weights) of one whole-page text's blocks; None if not a whole page."""
    blocks, _ = classified_blocks(text)
    if not whole_page(blocks):
        return None
    rows = features(blocks, densest_run(rule_scores(blocks)))
    labels = (block_labels(blocks, truth) >= 0.5).astype(float)
    words = np.array([max(1, b.words) for b in blocks], dtype=float)
    return rows, labels, words / words.sum()


def train(truth: Mapping[str, str], texts: Mapping[str, list[str]], ids: Iterable[str]):
    """The block model fitted on the whole-page texts of these pages."""
    parts = [page_rows(text, truth[i]) for i in sorted(ids) for text in texts[i]]
    found = [p for p in parts if p is not None]
    rows = np.vstack([p[0] for p in found])
    labels = np.concatenate([p[1] for p in found])
    weights = np.concatenate([p[2] for p in found])
    return fit(rows, labels, weights, L2)


def save(model: BlockModel, path: Path) -> None:
    path.write_text(json.dumps(model.to_json(), indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsbeam.pipeline.bench.train_cleaner", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "benchmark", type=Path, help="a folder with html/, ground-truth.json and peer-output/"
    )
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_FILE, help="where to write the weights (JSON)"
    )
    args = parser.parse_args(argv)
    if not (args.benchmark / "peer-output").is_dir():
        print(f"train_cleaner: {args.benchmark} has no peer-output/", file=sys.stderr)
        return 2
    truth, texts = whole_page_texts(args.benchmark)
    model = train(truth, texts, truth)
    save(model, args.out)
    print(f"train_cleaner: {len(model.weights)} weights written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
