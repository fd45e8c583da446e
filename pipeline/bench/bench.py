"""`make bench`: end-to-end throughput and memory of newsbeam against a plain-Python loop.

    python -m newsbeam.pipeline.bench.bench [--docs 2000] [--memory-docs 1000,10000] [--repeat 5]
                 [--runs loop:1,loop:2,direct:1,direct:2,dask:1,dask:2] [--json out/bench.json]

1. Builds news-like documents from the development texts: English sentences of different
   articles recombined into paragraphs (so no two documents are near duplicates), each under a
   site banner and a headline, followed by a related-news block and a page control — what
   scrapers leave.
2. Runs, each in a fresh process so that peak memory is its own:
   - `loop`: the same work (read, learn per-source templates, clean, validate, deduplicate, NER,
     reconcile names, write the articles, entities and index as Parquet) as a plain Python
     loop over the project's own functions, one process: the limit the pipeline should
     approach; `loop` with 2 workers is two such processes at once, each on half of the
     files: what this machine gives two processes, the ceiling for 2 workers;
   - `direct`: the pipeline on the DirectRunner, 1 worker (in-process) and 2 workers
     (multi_processing);
   - `dask`: the pipeline on a local Dask cluster of 1 and of 2 single-threaded worker
     processes that the bench starts; the time counts from the cluster being up (a Dask user
     runs on a cluster that is already there), its start-up time is reported beside;
   - `direct` with 1 worker again at each of `--memory-docs`, to see whether memory grows with
     the corpus.
   The throughput runs are measured in `--repeat` paired rounds: each round runs `loop 1w`,
   then the runs in turn with `loop 2w` in the middle, so loops and pipelines alternate and
   each round's ratios compare runs made a few minutes apart. Every figure shown (docs/s, and
   each run's ratio to the round's `loop 1w` and `loop 2w`) is the median over the rounds.
3. Prints a table (docs/s, the two ratios, words/s, time per stage, peak RSS of the main
   process and of the largest worker process) and writes the results as JSON.
4. With `--warc-mb N` (default 300; 0: none): builds a crawl-shaped WARC of about N MB from the
   development pages and reports how fast it is read (MB/s) and the reader's peak RSS
   (`newsbeam.pipeline.bench.warc_bench`).

Benchmarks print figures; tests never assert timings.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from newsbeam.pipeline.bench.evaluate import save_results
from newsbeam.pipeline.bench.warc_bench import bench_warc, warc_table
from newsbeam.pipeline.compose.options import DEFAULT_CHUNK_FILES
from newsbeam.schemas.layout import manifest_path, read_manifest_json
from newsbeam.schemas.text import WORD as _WORD

BANNERS = [
    "Spread the love",
    "Sign up for our newsletter to get the latest headlines in your inbox every morning.",
    "Follow us on Facebook and Twitter",
    "Share this article",
    "Advertisement",
]
PARAGRAPHS_PER_DOCUMENT = 6
SENTENCES_PER_PARAGRAPH = 3
STAGES = ("read", "extract", "validate", "enrich", "write")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")


def english_sentences(benchmark: Path) -> list[str]:
    """The development texts' English sentences of 8 to 60 words."""
    import py3langid

    truth = json.loads((benchmark / "ground-truth.json").read_text())
    sentences = set()
    for record in truth.values():
        for paragraph in re.split(r"\n+", record["articleBody"]):
            paragraph = " ".join(paragraph.split())
            if len(_WORD.findall(paragraph)) < 20 or py3langid.classify(paragraph)[0] != "en":
                continue
            for sentence in _SENTENCE_END.split(paragraph):
                if 8 <= len(_WORD.findall(sentence)) <= 60:
                    sentences.add(sentence)
    return sorted(sentences)


def headline(sentence: str) -> str:
    words = sentence.split()[:8]
    return " ".join(w.strip('.,;:!?"“”') for w in words).strip().title()


# Share of a sentence's lower-case words swapped for another word of the pool: at 100,000
# documents each sentence of the pool is drawn about a thousand times, and (a sentence having
# 15 such words) 9 draws in 10 differ from it somewhere.
VARIED_WORDS = 0.15
_LOWER_WORD = re.compile(r"\b[a-z]{3,}\b")


def vocabulary(pool: list[str]) -> list[str]:
    """The pool's distinct lower-case words of three letters or more, sorted."""
    return sorted({word for sentence in pool for word in _LOWER_WORD.findall(sentence)})


def vary(sentence: str, rng: random.Random, words: list[str]) -> str:
    """`sentence` with about VARIED_WORDS of its lower-case words swapped for others of
    `words`; names, numbers and punctuation stay, so NER finds as much to do."""
    return _LOWER_WORD.sub(
        lambda m: rng.choice(words) if rng.random() < VARIED_WORDS else m.group(), sentence
    )


def make_document(rng: random.Random, pool: list[str], words: list[str] | None = None) -> str:
    """Paragraphs of sentences drawn from different articles, each varied word by word when
    `words` is given: two documents share a sentence or two at most, far below the
    near-duplicate threshold, and with `words` not even those word for word."""
    sentences = rng.sample(pool, PARAGRAPHS_PER_DOCUMENT * SENTENCES_PER_PARAGRAPH + 2)
    if words:
        sentences = [vary(sentence, rng, words) for sentence in sentences]
    body = [
        " ".join(sentences[i : i + SENTENCES_PER_PARAGRAPH])
        for i in range(
            0, PARAGRAPHS_PER_DOCUMENT * SENTENCES_PER_PARAGRAPH, SENTENCES_PER_PARAGRAPH
        )
    ]
    teasers = sentences[-2:]
    lines = [rng.choice(BANNERS), "", headline(body[0]), ""]
    for paragraph in body:
        lines += [paragraph, ""]
    lines.append("Related Stories")
    for teaser in teasers:
        lines += [" ".join(teaser.split()[:18]) + "…", "Read more »"]
    lines += ["", "Back to top button"]
    return "\n".join(lines)


def build_corpus(folder: Path, documents: int, benchmark: Path, seed: int = 7) -> dict:
    """Write `documents` distinct .txt files into `folder`; returns their count and words."""
    pool = english_sentences(benchmark)
    swaps = vocabulary(pool)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    words = 0
    for number in range(documents):
        text = make_document(rng, pool, swaps)
        words += len(_WORD.findall(text))
        (folder / f"doc-{number:06d}.txt").write_text(text)
    return {"documents": documents, "input_words": words, "sentence_pool": len(pool)}


def own_peak_rss_mb() -> float:
    """Peak resident memory of the calling process, in MiB (run on each Dask worker)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest child, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_child_rss_mb": round(children, 1)}


# --- one measurement, in its own process ------------------------------------------------------


def measure_loop(corpus: Path, output: Path, batch_size: int = 64) -> dict:
    """The work of the pipeline as a plain loop over the project's functions: read, learn each
    source's template, clean, validate, deduplicate (exact copies, then MinHash near
    duplicates), NER, one name per person, write the articles, entities and index."""
    from newsbeam.schemas import ARTICLE_SCHEMA, ENTITY_SCHEMA, INDEX_SCHEMA, Article, to_row
    from newsbeam.schemas.layout import partition_dir
    from newsbeam.transforms.dedup import (
        DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        article_signature,
        band_keys,
        estimated_jaccard,
        index_entry,
        lsh_bands,
        order_copies,
    )
    from newsbeam.transforms.enrich import (
        DEFAULT_MODEL,
        entities_from_spans,
        entity_rows,
        load_ner,
        reconcile_people,
        rename_people,
    )
    from newsbeam.transforms.extract import article_fields, find_templates, page_text, template_keys
    from newsbeam.transforms.read import parse_file
    from newsbeam.transforms.validate import validate_article
    from newsbeam.transforms.write import article_partition, write_parquet

    seconds: dict[str, float] = defaultdict(float)

    def timed(stage, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        seconds[stage] += time.perf_counter() - started
        return result

    started = time.perf_counter()
    nlp = load_ner(DEFAULT_MODEL)
    texts = []
    for path in sorted(corpus.glob("*.txt")):
        records = timed("read", lambda p: list(parse_file(str(p), p.read_bytes())), path)
        texts += [timed("extract", page_text, doc) for doc in records]
    # Each source's template: the lines that recur across its pages (as ExtractArticles learns it).
    templates = find_templates(
        Counter(key for text in texts for key in template_keys(text)).items(),
        Counter(text.template_source for text in texts if text.template_source),
    )
    articles: list[Article] = []
    for text in texts:
        template = templates.get(text.template_source or "", frozenset())
        fields = timed("extract", article_fields, text, None, template)
        article = timed("validate", validate_article, fields, 20)
        if isinstance(article, Article):
            articles.append(article)

    bands, rows = lsh_bands(DEFAULT_NEAR_DUPLICATE_THRESHOLD)
    hashes: set[str] = set()
    buckets: dict[str, list] = defaultdict(list)
    originals = []
    for article in order_copies(articles):
        if article.content_sha256 in hashes:
            continue
        hashes.add(article.content_sha256)
        signature = article_signature(article)
        keys = band_keys(signature, bands, rows)
        # Candidates share a band with it already: only their similarity is left to check.
        candidates = {other for key in keys for other in buckets[key]}
        if any(
            estimated_jaccard(signature, other) >= DEFAULT_NEAR_DUPLICATE_THRESHOLD
            for other in candidates
        ):
            continue
        for key in keys:
            buckets[key].append(signature)
        originals.append(article)

    enriched = []
    for start in range(0, len(originals), batch_size):
        batch = originals[start : start + batch_size]
        docs = timed(
            "enrich", lambda b: list(nlp.pipe([a.body for a in b], batch_size=len(b))), batch
        )
        for article, doc in zip(batch, docs, strict=True):
            spans = [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
            enriched.append(article.model_copy(update={"entities": entities_from_spans(spans)}))
    names = Counter(
        name
        for article in enriched
        for name in {e.canonical for e in article.entities if e.label == "PERSON"}
    )
    people = reconcile_people(names.items())
    enriched = [rename_people(article, people) for article in enriched]

    partitions: dict[str, list] = defaultdict(list)
    entities: dict[str, list] = defaultdict(list)
    for article in enriched:
        partitions[partition_dir(str(output), "articles", article_partition(article))].append(
            to_row(article)
        )
        entities[
            partition_dir(str(output), "entities", [("published_date", article.published_date)])
        ].extend(to_row(row) for row in entity_rows(article))
    index = {str(output / "_index"): [to_row(index_entry(article)) for article in enriched]}
    for schema, folders in [
        (ARTICLE_SCHEMA, partitions),
        (ENTITY_SCHEMA, entities),
        (INDEX_SCHEMA, index),
    ]:
        for folder, table_rows in folders.items():
            timed("write", write_parquet, f"{folder}/part-loop-00000.parquet", table_rows, schema)
    total = time.perf_counter() - started
    return {
        "written": len(enriched),
        "seconds": total,
        "stage_seconds": dict(seconds),
        "words": sum(a.word_count for a in enriched),
    }


def measure_pipeline(
    corpus: Path, output: Path, runner: str, workers: int, chunk_files: int = DEFAULT_CHUNK_FILES
) -> dict:
    """The newsbeam pipeline on `runner` with `workers` workers, run as the CLI runs it (local
    runs in chunks of `chunk_files` files)."""
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipeline.run.runs import run_in_chunks, run_pipeline
    from newsbeam.transforms.read import match_files
    from newsbeam.transforms.timing import METRIC

    args = ["--input", f"{corpus}/*.txt", "--output", str(output)]
    started = time.perf_counter()
    if runner == "dask":
        from distributed import Client

        from newsbeam.pipeline.compose.arguments import DEFAULT_DASK_RESTART_EVERY
        from newsbeam.pipeline.run.cli import DASK_RUNNER, run_on_cluster
        from newsbeam.pipeline.run.cluster import local_cluster

        with local_cluster(workers) as address:
            cluster_started = time.perf_counter()
            cluster_start_seconds = cluster_started - started
            options = PipelineOptions(
                [
                    *args,
                    f"--runner={DASK_RUNNER}",
                    f"--dask_client_address={address}",
                    f"--chunk-files={chunk_files}",
                ]
            )
            # As `newsbeam run --runner DaskRunner` runs it; a worker's peak is its process's,
            # so each generation of workers is read before a restart replaces it.
            generations: list[list[float]] = []

            def read_peaks(client: Client) -> None:
                generations.append(sorted(client.run(own_peak_rss_mb).values()))

            run_on_cluster(options, workers, DEFAULT_DASK_RESTART_EVERY, read_peaks)
            seconds = time.perf_counter() - cluster_started
            with Client(address) as client:
                read_peaks(client)
            worker_rss = [max(peaks) for peaks in zip(*generations, strict=True)]
        stage_seconds = {}
        extra = {"cluster_start_seconds": round(cluster_start_seconds, 2)}
    else:
        mode = (
            ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
            if workers > 1
            else []
        )
        stage_seconds: dict[str, float] = defaultdict(float)

        def run_chunk(options: PipelineOptions, files: list[str]):
            result = run_pipeline(options, files)
            query = result.metrics().query(MetricsFilter().with_name(METRIC))
            for distribution in query["distributions"]:
                stage_seconds[distribution.key.metric.namespace] += distribution.committed.sum / 1e6
            return result

        files = match_files([f"{corpus}/*.txt"])
        options = PipelineOptions([*args, *mode, f"--chunk-files={chunk_files}"])
        run_in_chunks(options, files, run=run_chunk)
        seconds = time.perf_counter() - started
        # The multi_processing workers are children: only the largest one's peak is known.
        worker_rss = [peak_rss_mb()["peak_child_rss_mb"]] if workers > 1 else []
        extra = {}
    manifest = read_manifest_json(manifest_path(str(output)))
    import pyarrow.dataset as ds

    from newsbeam.schemas import reader_partitioning

    articles = ds.dataset(output / "articles", partitioning=reader_partitioning())
    words = sum(articles.to_table(columns=["word_count"]).column("word_count").to_pylist())
    written = manifest["counts"]["written"]
    return {
        "written": written,
        # What readers list and open: a run writes one file per day partition and chunk.
        "files_per_1000_articles": round(1000 * len(articles.files) / max(written, 1), 1),
        "seconds": seconds,
        "stage_seconds": stage_seconds,
        "words": words,
        "counts": manifest["counts"],
        "worker_peak_rss_mb": worker_rss,
        **extra,
    }


def measure_parallel_loops(corpus: Path, folder: Path, processes: int) -> dict:
    """`processes` plain loops at once, each in its own process on its share of the files (no
    deduplication across shares; the corpus has no duplicates): the speed-up this machine gives
    CPU-bound Python processes, which no number of pipeline workers can beat."""
    files = sorted(corpus.glob("*.txt"))
    shares = []
    for number in range(processes):
        share = folder / f"share-{number}"
        share.mkdir(parents=True)
        for path in files[number::processes]:
            (share / path.name).symlink_to(path.resolve())
        shares.append(share)
    started = time.perf_counter()
    running = [
        subprocess.Popen(measure_command("loop", 1, share), stdout=subprocess.PIPE, text=True)
        for share in shares
    ]
    results = [finished(process) for process in running]
    seconds = time.perf_counter() - started
    stage_seconds: dict[str, float] = defaultdict(float)
    for result in results:
        for stage, value in result["stage_seconds"].items():
            stage_seconds[stage] += value
    return {
        "written": sum(r["written"] for r in results),
        "seconds": seconds,
        "stage_seconds": stage_seconds,
        "words": sum(r["words"] for r in results),
        "process_seconds": [r["seconds"] for r in results],
        "process_peak_rss_mb": [r["peak_rss_mb"] for r in results],
        "worker_peak_rss_mb": [r["peak_rss_mb"] for r in results],
    }


def measure(mode: str, workers: int, corpus: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-") as folder:
        output = Path(folder) / "out"
        if mode == "loop" and workers > 1:
            result = measure_parallel_loops(corpus, Path(folder), workers)
        elif mode == "loop":
            result = measure_loop(corpus, output)
        else:
            result = measure_pipeline(corpus, output, mode, workers)
    documents = len(list(corpus.glob("*.txt")))
    result.update(
        mode=mode,
        workers=workers,
        documents=documents,
        docs_per_second=round(documents / result["seconds"], 2),
        words_per_second=round(result["words"] / result["seconds"], 1),
        seconds=round(result["seconds"], 2),
        **peak_rss_mb(),
    )
    result["stage_seconds"] = {k: round(v, 2) for k, v in result["stage_seconds"].items()}
    return result


# --- the whole benchmark ----------------------------------------------------------------------


def measure_command(mode: str, workers: int, corpus: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "newsbeam.pipeline.bench.bench",
        "measure",
        mode,
        str(workers),
        str(corpus),
    ]


def measurement_result(stdout: str) -> dict:
    """The result a `measure` process printed: the last line of its output, as JSON."""
    return json.loads(stdout.strip().splitlines()[-1])


def finished(process: subprocess.Popen) -> dict:
    """The result of a `measure` process once it ends; its error output (not captured, so that
    processes running at once cannot block on a full pipe) is on the console. Raises when it
    failed."""
    stdout, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, process.args))} failed (exit {process.returncode})")
    return measurement_result(stdout)


def run_measurement(mode: str, workers: int, corpus: Path) -> dict:
    """One measurement in a fresh Python process (its own peak memory, no warm caches)."""
    command = measure_command(mode, workers, corpus)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return measurement_result(completed.stdout)


def round_order(pairs: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The order of the runs in one round: `loop 1w`, the 1-worker pipelines, `loop 2w`, the
    other pipelines; each pipeline run is then next to the loop it is compared with."""
    loops = [pair for pair in pairs if pair[0] == "loop"]
    pipelines = [pair for pair in pairs if pair[0] != "loop"]
    ones = [pair for pair in pipelines if pair[1] == 1]
    return (
        [pair for pair in loops if pair[1] == 1]
        + ones
        + [pair for pair in loops if pair[1] != 1]
        + [pair for pair in pipelines if pair[1] != 1]
    )


def per_round(run: dict) -> list[float]:
    """A run's docs/s in each round (one value for a run measured once)."""
    return run["rounds"] if "rounds" in run else [run["docs_per_second"]]


def paired_ratio(run: dict, reference: dict) -> float:
    """The median over rounds of `run`'s docs/s over `reference`'s in the same round: the
    machine's drift from one round to the next cancels out."""
    return statistics.median(
        a / b for a, b in zip(per_round(run), per_round(reference), strict=False)
    )


def summarise(measurements: Sequence[dict]) -> dict:
    """One run's rounds as one row: the round of median seconds, with the median docs/s and
    words/s, every round's docs/s (`rounds`) and seconds (`repeats`), and the largest peak
    memory of any round."""
    measured = sorted(measurements, key=lambda m: m["seconds"])
    middle = measured[(len(measured) - 1) // 2]
    workers = [rss for m in measured for rss in m.get("worker_peak_rss_mb", [])]
    return {
        **middle,
        "docs_per_second": round(statistics.median(m["docs_per_second"] for m in measured), 2),
        "words_per_second": round(statistics.median(m["words_per_second"] for m in measured), 1),
        "seconds": round(statistics.median(m["seconds"] for m in measured), 2),
        "rounds": [m["docs_per_second"] for m in measurements],
        "repeats": [m["seconds"] for m in measurements],
        "peak_rss_mb": max(m["peak_rss_mb"] for m in measured),
        "peak_child_rss_mb": max(m["peak_child_rss_mb"] for m in measured),
        "worker_peak_rss_mb": max(workers) if workers else None,
    }


def find(runs: Iterable[dict], mode: str, workers: int, documents: int) -> dict | None:
    return next(
        (
            r
            for r in runs
            if (r["mode"], r["workers"], r["documents"]) == (mode, workers, documents)
        ),
        None,
    )


def table(results: dict) -> str:
    lines = [
        f"newsbeam bench: {results['corpus']['documents']} documents, "
        f"{results['corpus']['input_words']:,} input words, {results['cpus']} CPUs"
        + (
            f", load average {results['load_average'][0]:.2f} at the end"
            if results.get("load_average")
            else ""
        ),
        "",
        f"{'run':<22}{'docs/s':>8}{'vs loop':>9}{'vs loop 2w':>11}{'words/s':>9}{'seconds':>9}"
        f"{'RSS main':>10}{'RSS worker':>11}" + "".join(f"{s:>10}" for s in STAGES),
    ]
    for run in results["runs"]:
        name = f"{run['mode']} {run['workers']}w ({run['documents']} docs)"
        loop, loops = (find(results["runs"], "loop", n, run["documents"]) for n in (1, 2))
        ratios = "".join(
            f"{paired_ratio(run, ref):>{width}.2f}×" if ref else f"{'-':>{width + 1}}"
            for ref, width in [(loop, 8), (loops, 10)]
        )
        worker = run.get("worker_peak_rss_mb")
        if isinstance(worker, list):
            worker = max(worker, default=None)
        stages = "".join(f"{run['stage_seconds'].get(s, float('nan')):>10.1f}" for s in STAGES)
        lines.append(
            f"{name:<22}{run['docs_per_second']:>8.1f}{ratios}{run['words_per_second']:>9.0f}"
            f"{run['seconds']:>9.1f}{run['peak_rss_mb']:>10.0f}"
            + (f"{worker:>11.0f}" if worker else f"{'-':>11}")
            + stages
        )
    lines += [
        "",
        "docs/s, seconds and ratios: medians over the paired rounds (a ratio compares runs of the "
        "same round); RSS: peak MiB of the main process and of the largest worker process "
        "(loop 2w: of the two loops), the largest of any round; stage columns: seconds of work "
        "summed over workers (Beam metrics for the DirectRunner; the Dask runner reports none).",
    ]
    for claim, value in results["claims"].items():
        lines.append(f"{claim}: {value}")
    return "\n".join(lines)


CLI_CASES = {
    "newsbeam --help": ["--help"],
    "newsbeam --version": ["--version"],
    "newsbeam (no command)": [],
    "newsbeam run (usage mistake)": ["run", "--input", "x.txt"],
}


def cli_seconds(repeat: int = 3) -> dict[str, float]:
    """Wall time of the installed `newsbeam` command answering help, version and usage
    mistakes (the fastest of `repeat`; the target is under half a second)."""
    command = str(Path(sys.executable).with_name("newsbeam"))
    timings = {}
    for name, args in CLI_CASES.items():
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([command, *args], capture_output=True, check=False)
            best = min(best, time.perf_counter() - started)
        timings[name] = round(best, 3)
    return timings


def claims(
    runs: list[dict], docs: int, memory_docs: Sequence[int] = (), scale_docs: Sequence[int] = ()
) -> dict[str, str]:
    """The issue's comparisons at `docs` documents, each the median of paired rounds, with its
    target; peak memory of the 1-worker DirectRunner from the smallest to the largest of
    `memory_docs`, and of the largest of 2 Dask workers from the smallest to the largest of
    `scale_docs`."""
    loop, loops = find(runs, "loop", 1, docs), find(runs, "loop", 2, docs)
    one, two = find(runs, "direct", 1, docs), find(runs, "direct", 2, docs)
    dask_one, dask_two = find(runs, "dask", 1, docs), find(runs, "dask", 2, docs)
    out = {}

    def compare(name: str, run: dict | None, reference: dict | None, target: float | None):
        if run and reference:
            ratio = paired_ratio(run, reference)
            verdict = "" if target is None else f" (target ≥ {target:.2f}: "
            verdict += "" if target is None else ("met)" if ratio >= target else "NOT met)")
            out[name] = f"{ratio:.3f}×{verdict}"

    compare("DirectRunner 1 worker vs plain loop", one, loop, 0.95)
    compare("DirectRunner 2 workers vs loop 2w", two, loops, 0.95)
    compare("DirectRunner 2 workers vs 1", two, one, None)
    compare(
        "two plain loops at once vs one (this machine's ceiling for 2 workers)", loops, loop, None
    )
    compare("Dask 1 worker vs DirectRunner 1 worker", dask_one, one, 0.85)
    compare("Dask 2 workers vs loop 2w", dask_two, loops, 0.90)
    compare("Dask 2 workers vs 1", dask_two, dask_one, None)
    for run in (dask_one, dask_two):
        if run and "cluster_start_seconds" in run:
            out[f"Dask {run['workers']} worker(s): cluster start, not in the row's time"] = (
                f"{run['cluster_start_seconds']:.1f} s"
            )
    for run in runs:
        if "files_per_1000_articles" in run:
            name = f"article files per 1,000 articles ({run['mode']} {run['workers']}w, "
            out[name + f"{run['documents']} docs)"] = f"{run['files_per_1000_articles']:g}"
    if len(memory_docs) > 1:
        small, big = (
            find(runs, "direct", 1, min(memory_docs)),
            find(runs, "direct", 1, max(memory_docs)),
        )
        if small and big:
            ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
            out[f"peak RSS at {big['documents']} vs {small['documents']} documents"] = (
                f"{big['peak_rss_mb']:.0f} / {small['peak_rss_mb']:.0f} MiB = {ratio:.2f}×"
            )
    if len(scale_docs) > 1:
        small, big = (
            find(runs, "dask", 2, min(scale_docs)),
            find(runs, "dask", 2, max(scale_docs)),
        )
        if small and big and small["worker_peak_rss_mb"] and big["worker_peak_rss_mb"]:
            low, high = max(small["worker_peak_rss_mb"]), max(big["worker_peak_rss_mb"])
            verdict = "met" if high / low <= 1.2 else "NOT met"
            name = f"Dask 2 workers: peak RSS per worker at {big['documents']} vs "
            out[name + f"{small['documents']} documents"] = (
                f"{high:.0f} / {low:.0f} MiB = {high / low:.2f}× (target ≤ 1.20: {verdict})"
            )
            out[f"Dask 2 workers on {big['documents']} documents"] = (
                f"{big['seconds']:.0f} s, {big['docs_per_second']:.1f} docs/s"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["measure"]:
        mode, workers, corpus = argv[1], int(argv[2]), Path(argv[3])
        print(json.dumps(measure(mode, workers, corpus)))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m newsbeam.pipeline.bench.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--docs",
        type=int,
        default=2000,
        help="documents per throughput run (2,000: one full chunk per worker with 2 workers)",
    )
    parser.add_argument(
        "--memory-docs",
        default="1000,10000",
        help="comma-separated corpus sizes of the 1-worker memory runs ('': none)",
    )
    parser.add_argument(
        "--scale-docs",
        default="",
        help="comma-separated corpus sizes run on 2 Dask workers for their peak memory and time, "
        "e.g. 1000,100000 ('': none, the default; 100,000 documents take hours on 2 cores)",
    )
    parser.add_argument(
        "--benchmark",
        type=Path,
        default=Path("../shared/benchmarks/aeb-dev"),
        help="development texts to build documents from",
    )
    parser.add_argument(
        "--runs",
        default="loop:1,loop:2,direct:1,direct:2,dask:1,dask:2",
        help="MODE:WORKERS pairs to measure (modes: loop, direct, dask; '': none)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="paired rounds of the throughput runs; the medians count (default: 5)",
    )
    parser.add_argument(
        "--warc-mb",
        type=int,
        default=300,
        help="size in MB of the synthetic WARC whose read throughput is measured (0: none)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    import os

    with tempfile.TemporaryDirectory(prefix="newsbeam-corpus-") as folder:
        corpus = Path(folder) / f"docs-{args.docs}"
        description = build_corpus(corpus, args.docs, args.benchmark)
        pairs = [(mode, int(n)) for mode, n in (p.split(":") for p in args.runs.split(",") if p)]
        measured: dict[tuple[str, int], list[dict]] = defaultdict(list)
        for round_ in range(1, args.repeat + 1):
            for mode, workers in round_order(pairs):
                print(
                    f"bench: {mode} with {workers} worker(s) on {args.docs} documents "
                    f"(round {round_}/{args.repeat}, load average {os.getloadavg()[0]:.2f}) …",
                    file=sys.stderr,
                )
                measured[mode, workers].append(run_measurement(mode, workers, corpus))
                print(f"bench: {json.dumps(measured[mode, workers][-1])}", file=sys.stderr)
        runs = [summarise(measured[pair]) for pair in pairs]
        memory_docs = [int(n) for n in args.memory_docs.split(",") if n.strip()]
        for size in memory_docs:
            if size == args.docs and ("direct", 1) in pairs:
                continue  # measured above
            sized = Path(folder) / f"docs-{size}"
            build_corpus(sized, size, args.benchmark)
            print(f"bench: direct with 1 worker on {size} documents …", file=sys.stderr)
            runs.append(run_measurement("direct", 1, sized))
            print(f"bench: {json.dumps(runs[-1])}", file=sys.stderr)
        scale_docs = [int(n) for n in args.scale_docs.split(",") if n.strip()]
        for size in scale_docs:
            sized = Path(folder) / f"docs-{size}"
            if not sized.exists():
                build_corpus(sized, size, args.benchmark)
            print(f"bench: dask with 2 workers on {size} documents …", file=sys.stderr)
            runs.append(run_measurement("dask", 2, sized))
            print(f"bench: {json.dumps(runs[-1])}", file=sys.stderr)
        warc = None
        if args.warc_mb > 0:
            print(f"bench: reading a {args.warc_mb} MB WARC …", file=sys.stderr)
            warc = bench_warc(args.benchmark / "html", args.warc_mb, Path(folder))
    results = {
        "corpus": description,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "runs": runs,
        "claims": claims(runs, args.docs, memory_docs, scale_docs),
        "cli_seconds": cli_seconds(),
        "warc": warc,
    }
    for name, seconds in results["cli_seconds"].items():
        verdict = "under" if seconds < 0.5 else "OVER"
        results["claims"][name] = f"{seconds:.2f} s ({verdict} the 0.5 s target)"
    print(table(results))
    if warc is not None:
        print()
        print(warc_table(warc))
    save_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
