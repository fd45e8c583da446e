"""The benchmark metric on hand-computed cases, and the extraction quality on the dev pages."""

from __future__ import annotations

import pytest

from newsbeam.pipeline.bench.evaluate import evaluate, fold_of, score, shingle_counts
from tests.conftest import ROOT

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "aeb-dev"


def test_shingle_counts_are_scaled_to_sum_to_one():
    truth = "a b c d e"  # shingles: abcd, bcde
    assert shingle_counts(truth, truth) == (1.0, 0.0, 0.0)
    assert shingle_counts(truth, "a b c d x") == (1 / 3, 1 / 3, 1 / 3)
    assert shingle_counts(truth, "") == (0.0, 0.0, 1.0)


def test_score_averages_precision_and_recall_over_documents():
    result = score([("a b c d e", "a b c d e"), ("a b c d e", "a b c d x")])
    assert result.precision == pytest.approx(0.75)
    assert result.recall == pytest.approx(0.75)
    assert result.f1 == pytest.approx(0.75)
    assert score([("a b c d e", "")]).recall == 0.0


def test_folds_are_stable_and_all_used():
    ids = [f"page-{n}" for n in range(200)]
    assert {fold_of(i) for i in ids} == set(range(5))
    assert [fold_of(i) for i in ids] == [fold_of(i) for i in ids]


@pytest.mark.slow
@pytest.mark.skipif(
    not BENCHMARK.exists(), reason="needs ../shared/benchmarks/aeb-dev beside the repo"
)
def test_extraction_quality_on_the_development_pages():
    results = evaluate([BENCHMARK])
    entry = results["sets"]["aeb-dev"]
    peers = entry["peers_on_html"]
    assert round(peers["trafilatura"]["f1"], 3) == 0.969  # the published score, reproduced
    html = entry["html"]
    best_alone = max(s["f1"] for s in html["candidates"].values())
    assert html["newsbeam"]["f1"] > best_alone
    assert html["folds"]["score"]["f1"] > best_alone - 0.005
    rows = {row["input"]: row for row in entry["text_inputs"]}
    assert rows["inscriptis"]["newsbeam"]["f1"] >= 0.90
    for name in ("readability", "goose3", "newspaper"):
        assert rows[name]["newsbeam"]["f1"] >= rows[name]["as_given"]["f1"], name


def test_the_block_model_is_cross_validated_only_on_a_folder_it_can_train_on(tmp_path):
    """A folder without the whole-page peers (an evaluation-only set) is scored with the shipped
    model alone: no model is ever trained on its pages."""
    from newsbeam.pipeline.bench.evaluate import Benchmark, fold_models

    bench = Benchmark("held-out", tmp_path, {"a": "text"}, {"a": None})
    assert fold_models(bench, {"whole page": {"a": "text"}}) is None
