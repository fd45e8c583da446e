"""`make bench`: its corpus, and that its plain loop does the same work as the pipeline.

Benchmarks print figures; nothing here asserts a timing.
"""

from __future__ import annotations

import itertools

import pyarrow.dataset as ds
import pytest

from newsbeam.pipeline.bench.bench import (
    BANNERS,
    build_corpus,
    claims,
    fastest,
    measure,
    measure_loop,
    measure_pipeline,
    table,
)
from newsbeam.pipeline.bench.warc_bench import bench_warc, warc_table
from newsbeam.schemas import reader_partitioning
from newsbeam.transforms.dedup import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    body_signature,
    near_duplicate,
)
from tests.conftest import ROOT

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "aeb-dev"
needs_benchmark = pytest.mark.skipif(
    not BENCHMARK.exists(), reason="needs ../shared/benchmarks/aeb-dev beside the repo"
)


@needs_benchmark
def test_the_corpus_is_distinct_news_like_documents(tmp_path):
    described = build_corpus(tmp_path, 30, BENCHMARK)
    texts = [path.read_text() for path in sorted(tmp_path.glob("*.txt"))]
    assert described["documents"] == len(texts) == 30
    assert all(text.splitlines()[0] in BANNERS and "Read more" in text for text in texts)
    signatures = [body_signature(text) for text in texts]
    for a, b in itertools.combinations(signatures, 2):
        assert not near_duplicate(a, b, DEFAULT_NEAR_DUPLICATE_THRESHOLD)


def rows(output, name, columns):
    dataset = ds.dataset(output / name, partitioning=reader_partitioning())
    return sorted(map(tuple, dataset.to_table(columns=columns).to_pylist()), key=str)


@pytest.mark.slow
@needs_benchmark
def test_the_loop_writes_what_the_pipeline_writes(tmp_path):
    corpus = tmp_path / "corpus"
    build_corpus(corpus, 12, BENCHMARK)
    loop = measure_loop(corpus, tmp_path / "loop")
    pipeline = measure_pipeline(corpus, tmp_path / "pipeline", "direct", 1, chunk_files=5)
    assert loop["written"] == pipeline["written"] == 12
    assert loop["words"] == pipeline["words"]
    for name, columns in [
        ("articles", ["article_id", "content_sha256", "word_count"]),
        ("entities", ["article_id", "canonical", "label", "mentions", "first_offset"]),
        ("_index", ["article_id", "signature"]),
    ]:
        assert rows(tmp_path / "loop", name, columns) == rows(
            tmp_path / "pipeline", name, columns
        ), name


def test_claims_compare_the_runs_the_issue_names():
    def run(mode, workers, documents, docs_per_second, rss):
        return {
            "mode": mode,
            "workers": workers,
            "documents": documents,
            "docs_per_second": docs_per_second,
            "words_per_second": docs_per_second * 400,
            "seconds": documents / docs_per_second,
            "peak_rss_mb": rss,
            "peak_child_rss_mb": 0.0,
            "stage_seconds": {"enrich": 1.0},
        }

    runs = [
        run("loop", 1, 2000, 20.0, 500),
        run("loop", 2, 2000, 36.0, 500),
        run("direct", 1, 2000, 18.0, 580),
        run("direct", 2, 2000, 34.2, 590),
        run("direct", 1, 1000, 18.5, 550),
        run("direct", 1, 10000, 18.0, 605),
    ]
    found = claims(runs, 2000, [1000, 10000])
    assert found["DirectRunner 1 worker vs plain loop"] == "0.900× the loop's docs/s"
    assert found["DirectRunner 2 workers vs 1"] == "1.900×"
    ceiling = "two plain loops at once vs one (this machine's ceiling for 2 workers)"
    assert found[ceiling] == "1.800×"
    assert found["peak RSS at 10000 vs 1000 documents"] == "605 / 550 MiB = 1.10×"
    text = table(
        {
            "corpus": {"documents": 2000, "input_words": 8000},
            "cpus": 2,
            "runs": runs,
            "claims": found,
        }
    )
    assert "direct 2w (2000 docs)" in text and "1.71×" in text  # against the 1-process loop
    assert "loop 2w (2000 docs)" in text and "1.80×" in text


def test_the_fastest_of_repeated_runs_counts_and_every_repeat_is_kept():
    runs = [{"seconds": 80.5, "docs_per_second": 24.8}, {"seconds": 74.0, "docs_per_second": 27.0}]
    assert fastest(runs) == {"seconds": 74.0, "docs_per_second": 27.0, "repeats": [80.5, 74.0]}


@pytest.mark.slow
@needs_benchmark
def test_two_plain_loops_at_once_share_the_files_between_them(tmp_path):
    corpus = tmp_path / "corpus"
    build_corpus(corpus, 7, BENCHMARK)
    one, two = measure("loop", 1, corpus), measure("loop", 2, corpus)
    assert one["written"] == two["written"] == 7
    assert one["words"] == two["words"]
    assert len(two["process_seconds"]) == 2 and two["peak_child_rss_mb"] > 0
    assert max(two["process_seconds"]) <= two["seconds"]


@needs_benchmark
def test_the_warc_bench_reads_back_every_response_it_wrote(tmp_path):
    result = bench_warc(BENCHMARK / "html", 2, tmp_path)
    assert result["file"]["bytes"] >= 2_000_000
    counts = {run["reader"]: run["records"] for run in result["readers"]}
    assert counts["newsbeam"] == counts["warcio"] == result["file"]["responses"] > 60
    assert "MB/s" in warc_table(result)
