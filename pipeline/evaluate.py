"""`make eval`: score newsbeam's extraction on an article-extraction benchmark folder.

    python -m pipeline.evaluate ../shared/benchmarks/aeb-dev [--json eval.json]

The folder holds `html/ID.html.gz`, `ground-truth.json` ({ID: {articleBody, url}}) and
`peer-output/NAME.json` ({"output": {ID: {articleBody}}}). newsbeam is scored on:
- the HTML pages (the path `.html` inputs take);
- whole-page text (`inscriptis`, `html-text` peer output) given as `.txt` input;
- residual-boilerplate text (`readability`, `goose3`, `newspaper`) given as `.txt` input;
each beside the score of the input as given. The extraction is `extract_article`, the function
the pipeline's Extract stage runs.

The metric is the benchmark's: `\\w+` tokens, multisets of 4-token shingles, per-document true
positive / false positive / false negative counts scaled to sum to one, precision and recall
averaged over documents, F1 from the two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas import RawDocument
from transforms.extract import ExtractionError, extract_article

_TOKEN = re.compile(r"\w+")
TEXT_INPUTS = ("inscriptis", "html-text", "readability", "goose3", "newspaper")


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over 4-token shingles, scaled to sum to one (all zero for two empty texts)."""
    true, predicted = _shingles(truth), _shingles(prediction)
    tp = sum((true & predicted).values())
    fp = sum((predicted - true).values())
    fn = sum((true - predicted).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    documents: int


def score(pairs: Iterable[tuple[str, str]]) -> Score:
    """The benchmark score of (truth, prediction) pairs: per-document precision and recall,
    averaged. An empty prediction has recall 0 and does not count against precision; with that,
    this reproduces the published scores of all eight peers on the development pages."""
    counts = [shingle_counts(truth, prediction) for truth, prediction in pairs]
    if not counts:
        return Score(0.0, 0.0, 0.0, 0)
    precision = sum(tp / (tp + fp) if tp + fp else 1.0 for tp, fp, _ in counts) / len(counts)
    recall = sum(tp / (tp + fn) if tp + fn else 0.0 for tp, _, fn in counts) / len(counts)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, len(counts))


def _fields(doc: RawDocument) -> dict | None:
    try:
        return extract_article(doc)
    except ExtractionError:
        return None


def metadata_coverage(articles: list[dict | None]) -> dict[str, float]:
    """Share of pages with a title, a publication date, a source, authors and a language."""
    found = [a for a in articles if a]
    total = len(articles) or 1
    return {
        "title": sum(bool(a["title"]) for a in found) / total,
        "published_at": sum(a["published_at"] is not None for a in found) / total,
        "source": sum(a["source"] != "unknown" for a in found) / total,
        "authors": sum(bool(a["authors"]) for a in found) / total,
        "language": sum(bool(a["language"]) for a in found) / total,
    }


def load(folder: Path) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    truth = json.loads((folder / "ground-truth.json").read_text())
    peers = {
        path.stem: {
            k: v.get("articleBody") or "" for k, v in json.loads(path.read_text())["output"].items()
        }
        for path in sorted((folder / "peer-output").glob("*.json"))
    }
    return truth, peers


def evaluate(folder: Path) -> dict:
    truth, peers = load(folder)
    ids = sorted(truth)

    def run(make_doc: Callable[[str], RawDocument]) -> tuple[Score, float, list[dict | None]]:
        started = time.perf_counter()
        articles = {i: _fields(make_doc(i)) for i in ids}
        seconds = time.perf_counter() - started
        bodies = {i: (articles[i] or {}).get("body", "") for i in ids}
        return (
            score((truth[i]["articleBody"], bodies[i]) for i in ids),
            seconds,
            list(articles.values()),
        )

    def html_doc(i: str) -> RawDocument:
        html = gzip.decompress((folder / "html" / f"{i}.html.gz").read_bytes()).decode(
            "utf-8", "replace"
        )
        return RawDocument(
            source_uri=f"{i}.html",
            kind="html",
            content=html,
            encoding="utf-8",
            url=truth[i].get("url"),
        )

    rows = []
    newsbeam_html, seconds, html_articles = run(html_doc)
    rows.append(
        {
            "input": "html",
            "as_given": None,
            "newsbeam": asdict(newsbeam_html),
            "seconds": round(seconds, 2),
        }
    )
    for name in TEXT_INPUTS:
        if name not in peers:
            continue
        texts = peers[name]

        def text_doc(i: str, texts=texts, name=name) -> RawDocument:
            return RawDocument(
                source_uri=f"{name}/{i}.txt",
                kind="text",
                content=texts.get(i, ""),
                encoding="utf-8",
            )

        as_given = score((truth[i]["articleBody"], texts.get(i, "")) for i in ids)
        ours, seconds, _ = run(text_doc)
        rows.append(
            {
                "input": name,
                "as_given": asdict(as_given),
                "newsbeam": asdict(ours),
                "seconds": round(seconds, 2),
            }
        )
    peer_scores = {
        name: asdict(score((truth[i]["articleBody"], texts.get(i, "")) for i in ids))
        for name, texts in peers.items()
    }
    return {
        "benchmark": str(folder),
        "documents": len(ids),
        "rows": rows,
        "peers_on_html": peer_scores,
        "html_metadata_coverage": metadata_coverage(html_articles),
    }


def table(results: dict) -> str:
    lines = [
        f"newsbeam extraction on {results['benchmark']} ({results['documents']} pages)",
        "",
        f"{'input':<14}{'as given F1':>12}{'newsbeam F1':>13}{'precision':>11}{'recall':>9}"
        f"{'seconds':>9}",
    ]
    for row in results["rows"]:
        given = f"{row['as_given']['f1']:.3f}" if row["as_given"] else "-"
        ours = row["newsbeam"]
        lines.append(
            f"{row['input']:<14}{given:>12}{ours['f1']:>13.3f}{ours['precision']:>11.3f}"
            f"{ours['recall']:>9.3f}{row['seconds']:>9.1f}"
        )
    lines += [
        "",
        "peers on the same HTML pages (their published output, same metric):",
        f"{'extractor':<16}{'F1':>7}{'precision':>11}{'recall':>9}",
    ]
    for name, s in sorted(results["peers_on_html"].items(), key=lambda kv: -kv[1]["f1"]):
        lines.append(f"{name:<16}{s['f1']:>7.3f}{s['precision']:>11.3f}{s['recall']:>9.3f}")
    html = results["rows"][0]["newsbeam"]
    lines.append(
        f"{'newsbeam':<16}{html['f1']:>7.3f}{html['precision']:>11.3f}{html['recall']:>9.3f}"
    )
    coverage = results["html_metadata_coverage"]
    shares = ", ".join(f"{name} {share:.0%}" for name, share in coverage.items())
    lines += ["", f"metadata found on the HTML pages: {shares}"]

    return "\n".join(lines)


def save_results(path: Path | None, results: object) -> None:
    """Write a measurement's results as JSON (`--json`), creating the folder; nothing for None."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "benchmark", type=Path, help="benchmark folder (html/, ground-truth.json, peer-output/)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if not (args.benchmark / "ground-truth.json").exists():
        print(
            f"evaluate: {args.benchmark} has no ground-truth.json; pass the benchmark folder",
            file=sys.stderr,
        )
        return 2
    results = evaluate(args.benchmark)
    print(table(results))
    save_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
