"""`make eval`: score newsbeam's extraction on article-extraction benchmark folders.

    python -m newsbeam.pipeline.bench.evaluate ../shared/benchmarks/aeb-dev \
        ../shared/benchmarks/dragnet-dev [--json eval.json]

A folder holds either `html/ID.html.gz` and `ground-truth.json` ({ID: {articleBody, url}}),
with `peer-output/NAME.json` ({"output": {ID: {articleBody}}}), or `ID.html.gz` and
`truth.json` ({ID: text}). On each folder, newsbeam is scored:
- on the HTML pages: every extractor it combines alone, and the combination under each setting
  of its choices (how many extractors must hold a line; whether the cleaner also removes lines
  by position); the pages read by the pipeline's own Read and Extract functions;
- cross-validated: a setting chosen on one folder and scored on the other, and chosen on four
  fifths of a folder and scored on the fifth left out (5 folds);
- where the folder has peer output, on whole-page text (`inscriptis`, `html-text`) and
  residual-boilerplate text (`readability`, `goose3`, `newspaper`) given as `.txt` input,
  each beside the score of the input as given; on every folder, the whole page's text
  (resiliparse without its main-content pass) and readability's article. Where the folder can
  train the cleaner's whole-page block model (it has the whole-page peers: the model's own
  training folder), each text input is also scored with the model trained on four fifths of
  the pages and applied to the fifth left out (5 folds); elsewhere the shipped model is the
  held-out figure;
- for speed: extraction time per page against the time NER takes on the same bodies.

The metric is the benchmark's: `\\w+` tokens, multisets of 4-token shingles, per-document true
positive / false positive / false negative counts scaled to sum to one, precision and recall
averaged over documents, F1 from the two averages.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from newsbeam.schemas import RawDocument
from newsbeam.schemas.text import shingle_counts
from newsbeam.transforms.block_model import BlockModel
from newsbeam.transforms.candidates import (
    EXTRACTORS,
    LAZY,
    MIN_SUPPORT,
    PRECISION,
    READABILITY,
    run_candidates,
)
from newsbeam.transforms.extract import (
    ExtractionError,
    PageText,
    article_fields,
    combined_page,
    extract_article,
    html_candidates,
)
from newsbeam.transforms.read import parse_file

__all__ = ["evaluate", "score", "shingle_counts"]

TEXT_INPUTS = ("inscriptis", "html-text", "readability", "goose3", "newspaper")
WHOLE_PAGE_INPUTS = ("inscriptis", "html-text", "whole page")
"""The whole-page texts the cleaner's block model trains on (`train_cleaner`)."""
CANDIDATES = (PRECISION, *EXTRACTORS)
SETTINGS = tuple((k, p) for k in (1, 2, 3) for p in (False, True))
"""(extractors that must hold a line, cleaner removes by position): every setting is scored."""
SHIPPED = (MIN_SUPPORT, False)
CHOICES = tuple(s for s in SETTINGS if s[0] == MIN_SUPPORT)
"""What cross-validation chooses among. How many extractors must hold a line is fixed, not
chosen: a majority of the others, the rule that stays meaningful however many there are
(unanimity of three scored 0.002 higher on aeb-dev and lost 0.040 on dragnet-dev: the `k of 3`
rows show that sensitivity on every set)."""
FOLDS = 5


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


@dataclass
class Benchmark:
    """A folder's pages (as the pipeline reads them), true bodies and peers' output."""

    name: str
    folder: Path
    truth: dict[str, str]
    documents: dict[str, RawDocument | None]
    peers: dict[str, dict[str, str]] = field(default_factory=dict)


def _read_page(path: Path, name: str, url: str | None) -> RawDocument | None:
    """The page as `newsbeam run` reads an `.html` file (None when Read rejects it)."""
    record = next(iter(parse_file(f"{name}.html", gzip.decompress(path.read_bytes()))))
    if not isinstance(record, RawDocument):
        return None
    return record.model_copy(update={"url": url}) if url else record


def load(folder: Path) -> Benchmark:
    if (folder / "ground-truth.json").exists():
        truth = json.loads((folder / "ground-truth.json").read_text())
        peers = {
            path.stem: {
                k: v.get("articleBody") or ""
                for k, v in json.loads(path.read_text())["output"].items()
            }
            for path in sorted((folder / "peer-output").glob("*.json"))
        }
        documents = {
            i: _read_page(folder / "html" / f"{i}.html.gz", i, truth[i].get("url")) for i in truth
        }
        bodies = {i: truth[i]["articleBody"] for i in truth}
        return Benchmark(folder.name, folder, bodies, documents, peers)
    truth = json.loads((folder / "truth.json").read_text())
    documents = {i: _read_page(folder / f"{i}.html.gz", i, None) for i in truth}
    return Benchmark(folder.name, folder, truth, documents)


@dataclass
class Page:
    """One HTML page's extractor texts and trafilatura document, computed once for all settings.

    `seconds` is the CPU time of the pipeline's own path to the combined text (the lazy
    candidates run only where the others leave it undecided); `skipped_seconds` what the lazy
    candidates it did not need took afterwards (run for their scores alone): the two add up to
    running every candidate on every page."""

    doc: RawDocument | None
    texts: dict[str, str]
    document: Any
    seconds: float
    skipped_seconds: float = 0.0
    ran_lazy: bool = False


def warm_up(docs: Iterable[RawDocument | None]) -> None:
    """Run the extraction once over the pages, untimed: dateparser (under trafilatura's date
    search and the cleaner's date lines) compiles its patterns for each language the first time
    it meets one, a cost a long-running worker pays once and a per-page figure must not carry."""
    for doc in docs:
        if doc is not None:
            with contextlib.suppress(ExtractionError):
                extract_article(doc)


def extract_pages(bench: Benchmark) -> dict[str, Page]:
    warm_up(bench.documents.values())
    pages = {}
    for i, doc in bench.documents.items():
        if doc is None:
            pages[i] = Page(None, {}, None, 0.0)
            continue
        started = time.process_time()
        texts, document = html_candidates(doc, lazy=True)
        with contextlib.suppress(ExtractionError):
            combined_page(doc, texts, document)  # adds the lazy candidates it had to run
        seconds = time.process_time() - started
        ran_lazy = all(name in texts for name in LAZY)
        started = time.process_time()
        texts = run_candidates(doc.content, texts)
        pages[i] = Page(doc, texts, document, seconds, time.process_time() - started, ran_lazy)
    return pages


def fields(page: Page, setting: tuple[int, bool]) -> dict | None:
    """The article fields the pipeline gives a page under a setting (None when rejected)."""
    if page.doc is None:
        return None
    min_support, by_position = setting
    try:
        text = combined_page(page.doc, page.texts, page.document, min_support)
    except ExtractionError:
        return None
    return article_fields(text, by_position=by_position)


def body(page: Page, setting: tuple[int, bool]) -> str:
    """The article body the pipeline writes for a page under a setting ("" when rejected)."""
    return (fields(page, setting) or {}).get("body", "")


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


def _f1(truth: dict[str, str], bodies: dict[str, str], ids: Iterable[str]) -> float:
    return score((truth[i], bodies[i]) for i in ids).f1


def page_f1(truth: str, prediction: str) -> float:
    tp, fp, fn = shingle_counts(truth, prediction)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_setting(truth: dict[str, str], bodies: dict, ids: Sequence[str]) -> tuple[int, bool]:
    """The setting chosen on these pages: the one with the highest F1, unless it beats the
    shipped setting by less than one standard error of their paired per-page difference (on a
    few dozen pages, a smaller gain is noise, and switching on noise is how rules overfit)."""
    best = max(CHOICES, key=lambda s: (_f1(truth, bodies[s], ids), s == SHIPPED))
    if best == SHIPPED or len(ids) < 2:
        return best
    gains = [
        page_f1(truth[i], bodies[best][i]) - page_f1(truth[i], bodies[SHIPPED][i]) for i in ids
    ]
    return best if statistics.fmean(gains) > statistics.stdev(gains) / len(ids) ** 0.5 else SHIPPED


def fold_of(page_id: str) -> int:
    return int(hashlib.sha256(page_id.encode()).hexdigest(), 16) % FOLDS


def folds_score(truth: dict[str, str], bodies: dict) -> tuple[Score, list]:
    """Each fold scored with the setting chosen on the other folds; the folds' pages pooled."""
    ids = sorted(truth)
    pairs, chosen = [], []
    for fold in range(FOLDS):
        held = [i for i in ids if fold_of(i) == fold]
        rest = [i for i in ids if fold_of(i) != fold]
        setting = best_setting(truth, bodies, rest)
        chosen.append(list(setting))
        pairs += [(truth[i], bodies[setting][i]) for i in held]
    return score(pairs), chosen


def ner_seconds(bodies: Iterable[str]) -> float:
    """Seconds spaCy's NER (as the pipeline loads it) takes on these bodies, in one process."""
    from newsbeam.transforms.enrich import DEFAULT_MODEL, load_ner

    nlp = load_ner(DEFAULT_MODEL)
    texts = [b for b in bodies if b]
    started = time.process_time()
    for _ in nlp.pipe(texts, batch_size=64):
        pass
    return time.process_time() - started


def text_inputs(bench: Benchmark, pages: dict[str, Page]) -> dict[str, dict[str, str]]:
    """Text as scrapers hand it over: the peers' output where the folder has it, and on every
    folder the whole page's text (resiliparse, no main-content pass) and readability's article."""
    from resiliparse.extract.html2text import extract_plain_text

    inputs = {name: bench.peers[name] for name in TEXT_INPUTS if name in bench.peers}
    inputs["whole page"] = {
        i: extract_plain_text(page.doc.content, main_content=False) if page.doc else ""
        for i, page in pages.items()
    }
    inputs.setdefault(
        READABILITY, {i: page.texts.get(READABILITY, "") for i, page in pages.items()}
    )
    return inputs


def fold_models(
    bench: Benchmark, inputs: dict[str, dict[str, str]]
) -> dict[int, BlockModel] | None:
    """The block model trained on each fold's other pages, for a folder that has the
    whole-page peers the shipped model trains on; None for any other folder (scored with the
    shipped model, trained on none of its pages)."""
    from newsbeam.pipeline.bench.train_cleaner import train

    if not all(name in bench.peers for name in WHOLE_PAGE_INPUTS if name != "whole page"):
        return None
    ids = sorted(bench.truth)
    texts = {i: [inputs[n][i] for n in WHOLE_PAGE_INPUTS if inputs[n].get(i)] for i in ids}
    return {
        fold: train(bench.truth, texts, [i for i in ids if fold_of(i) != fold])
        for fold in range(FOLDS)
    }


def text_bodies(
    name: str,
    texts: dict[str, str],
    ids: Sequence[str],
    models: dict[int, BlockModel] | None = None,
) -> dict[str, str]:
    """Each text's body as `newsbeam run` writes it for a `.txt` file; with `models`, each page
    cleaned with its fold's model."""
    bodies = {}
    for i in ids:
        doc = RawDocument(
            source_uri=f"{name}/{i}.txt",
            kind="text",
            content=texts.get(i, ""),
            encoding="utf-8",
        )
        model = models[fold_of(i)] if models else None
        try:
            bodies[i] = extract_article(doc, model=model)["body"]
        except ExtractionError:
            bodies[i] = ""
    return bodies


def text_rows(bench: Benchmark, pages: dict[str, Page]) -> list[dict]:
    rows = []
    ids = sorted(bench.truth)
    inputs = text_inputs(bench, pages)
    models = fold_models(bench, inputs)
    for name, texts in inputs.items():
        started = time.process_time()
        bodies = text_bodies(name, texts, ids)
        seconds = time.process_time() - started
        row = {
            "input": name,
            "as_given": asdict(score((bench.truth[i], texts.get(i, "")) for i in ids)),
            "newsbeam": asdict(score((bench.truth[i], bodies[i]) for i in ids)),
            "seconds": round(seconds, 2),
        }
        if models:
            held_out = text_bodies(name, texts, ids, models)
            row["cross_validated"] = asdict(score((bench.truth[i], held_out[i]) for i in ids))
        rows.append(row)
    return rows


def evaluate_html(bench: Benchmark, pages: dict[str, Page]) -> tuple[dict, dict]:
    """(results, bodies per setting) for a folder's HTML pages."""
    ids = sorted(bench.truth)
    alone = {
        name: asdict(score((bench.truth[i], pages[i].texts.get(name, "")) for i in ids))
        for name in CANDIDATES
    }
    bodies = {s: {i: body(pages[i], s) for i in ids} for s in SETTINGS}
    texts: dict[str, PageText | None] = {}
    for i in ids:
        page = pages[i]
        try:
            texts[i] = combined_page(page.doc, page.texts, page.document) if page.doc else None
        except ExtractionError:
            texts[i] = None
    started = time.process_time()
    shipped = [article_fields(texts[i], by_position=False) if texts[i] else None for i in ids]
    clean_seconds = time.process_time() - started
    extract_seconds = sum(pages[i].seconds for i in ids) + clean_seconds
    every_candidate = extract_seconds + sum(pages[i].skipped_seconds for i in ids)
    ner = ner_seconds(bodies[SHIPPED].values())
    folds, chosen = folds_score(bench.truth, bodies)
    return {
        "candidates": alone,
        "settings": {
            f"{k} of 3{', by position' if p else ''}": asdict(
                score((bench.truth[i], bodies[(k, p)][i]) for i in ids)
            )
            for k, p in SETTINGS
        },
        "newsbeam": asdict(score((bench.truth[i], bodies[SHIPPED][i]) for i in ids)),
        "folds": {"score": asdict(folds), "chosen": chosen},
        "metadata_coverage": metadata_coverage(shipped),
        "ms_per_page": {
            "extraction": round(1000 * extract_seconds / len(ids), 1),
            "extraction_every_candidate": round(1000 * every_candidate / len(ids), 1),
            "ner": round(1000 * ner / len(ids), 1),
        },
        "lazy_candidates_run": sum(pages[i].ran_lazy for i in ids) / len(ids),
    }, bodies


def evaluate(folders: Sequence[Path]) -> dict:
    benches = [load(folder) for folder in folders]
    results: dict[str, Any] = {"shipped_setting": list(SHIPPED), "sets": {}}
    all_bodies = {}
    for bench in benches:
        pages = extract_pages(bench)
        html, all_bodies[bench.name] = evaluate_html(bench, pages)
        entry: dict[str, Any] = {"documents": len(bench.truth), "html": html}
        entry["text_inputs"] = text_rows(bench, pages)
        if bench.peers:
            entry["peers_on_html"] = {
                name: asdict(score((bench.truth[i], texts.get(i, "")) for i in bench.truth))
                for name, texts in bench.peers.items()
            }
        results["sets"][bench.name] = entry
    for chooser in benches:
        for scored in benches:
            if scored is chooser:
                continue
            setting = best_setting(chooser.truth, all_bodies[chooser.name], sorted(chooser.truth))
            bodies = all_bodies[scored.name][setting]
            results["sets"][scored.name]["html"][f"chosen on {chooser.name}"] = {
                "setting": list(setting),
                **asdict(score((scored.truth[i], bodies[i]) for i in scored.truth)),
            }
    return results


def _setting_name(setting: Sequence) -> str:
    return f"{setting[0]} of 3{', by position' if setting[1] else ''}"


def table(results: dict) -> str:
    lines = [f"shipped setting: lines held by {_setting_name(results['shipped_setting'])} others"]
    for name, entry in results["sets"].items():
        html = entry["html"]
        lines += [
            "",
            f"{name} ({entry['documents']} pages): HTML",
            f"{'':<34}{'F1':>7}{'P':>7}{'R':>7}",
        ]

        def row(label: str, s: dict) -> str:
            return f"{label:<34}{s['f1']:>7.3f}{s['precision']:>7.3f}{s['recall']:>7.3f}"

        for candidate, s in sorted(html["candidates"].items(), key=lambda kv: -kv[1]["f1"]):
            lines.append(row(f"  alone: {candidate}", s))
        for setting, s in html["settings"].items():
            lines.append(row(f"  combined, {setting}", s))
        lines.append(row("  newsbeam (shipped setting)", html["newsbeam"]))
        lines.append(row(f"  cross-validated, {FOLDS} folds", html["folds"]["score"]))
        for key, s in html.items():
            if key.startswith("chosen on"):
                lines.append(row(f"  {key} ({_setting_name(s['setting'])})", s))
        shares = ", ".join(f"{k} {v:.0%}" for k, v in html["metadata_coverage"].items())
        lines.append(f"  metadata found: {shares}")
        ms = html["ms_per_page"]
        lines.append(
            f"  ms per page: extraction {ms['extraction']}, NER {ms['ner']} "
            f"({ms['extraction'] / ms['ner']:.0%} of NER); every candidate on every page "
            f"{ms['extraction_every_candidate']} "
            f"({ms['extraction_every_candidate'] / ms['ner']:.0%}); readability run on "
            f"{html['lazy_candidates_run']:.0%} of pages"
        )
        folds = any("cross_validated" in r for r in entry["text_inputs"])
        lines += [
            "",
            f"{name}: text input",
            f"{'':<16}{'as given F1':>12}{'newsbeam F1':>13}"
            + (f"{f'{FOLDS}-fold CV F1':>15}" if folds else ""),
        ]
        for r in entry["text_inputs"]:
            held_out = f"{r['cross_validated']['f1']:>15.3f}" if "cross_validated" in r else ""
            lines.append(
                f"  {r['input']:<14}{r['as_given']['f1']:>12.3f}{r['newsbeam']['f1']:>13.3f}"
                + held_out
            )
        if "peers_on_html" in entry:
            lines += ["", f"{name}: peers' published output on the same pages"]
            for peer, s in sorted(entry["peers_on_html"].items(), key=lambda kv: -kv[1]["f1"]):
                lines.append(row(f"  {peer}", s))
    return "\n".join(lines)


def save_results(path: Path | None, results: object) -> None:
    """Write a measurement's results as JSON (`--json`), creating the folder; nothing for None."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsbeam.pipeline.bench.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "benchmarks",
        type=Path,
        nargs="+",
        help="benchmark folders (html/ and ground-truth.json, or *.html.gz and truth.json)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    for folder in args.benchmarks:
        if not ((folder / "ground-truth.json").exists() or (folder / "truth.json").exists()):
            print(
                f"evaluate: {folder} has no ground-truth.json or truth.json; "
                "pass a benchmark folder",
                file=sys.stderr,
            )
            return 2
    results = evaluate(args.benchmarks)
    print(table(results))
    save_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
