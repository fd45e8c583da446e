"""Duplicates that must not swallow stories, revisions and an output's history, end to end:
rolling updates of a story, a file read half-written then whole, and `--dedup-against` on a
rerun into an output that already holds the run's articles."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from newsbeam.schemas import reader_partitioning
from newsbeam.transforms.dedup import jaccard, word_shingles
from newsbeam.transforms.defaults import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from tests.conftest import SEEDS, read_manifest, run_cli

pytestmark = pytest.mark.slow


def rows(output: Path, table: str) -> list[dict]:
    if not (output / table).exists():
        return []
    partitioning = reader_partitioning() if table == "articles" else None
    return ds.dataset(output / table, partitioning=partitioning).to_table().to_pylist()


def balanced(output: Path) -> dict:
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    return counts


def sentences(seed: Path) -> list[str]:
    body = seed.read_text(encoding="utf-8").split("\n\n", 1)[1]
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.split()) >= 8]


def test_a_chain_of_rolling_updates_is_not_one_story(tmp_path):
    # Twelve updates of one story, an hour apart: each drops its first sentence and adds one.
    lines = sentences(SEEDS[0])
    start = datetime(2024, 5, 1, tzinfo=UTC)
    updates = [" ".join(lines[i : i + 8]) for i in range(12)]
    feed = tmp_path / "in" / "updates.jsonl"
    feed.parent.mkdir()
    feed.write_text(
        "".join(
            json.dumps(
                {
                    "text": text,
                    "title": "Xi to visit Putin",
                    "published_at": (start + timedelta(hours=i)).isoformat(),
                }
            )
            + "\n"
            for i, text in enumerate(updates)
        ),
        encoding="utf-8",
    )
    output = tmp_path / "out"
    result = run_cli("run", "--input", str(feed), "--output", str(output))
    assert result.returncode == 0, result.stderr
    counts = balanced(output)
    bodies = {r["article_id"]: r["body"] for r in rows(output, "articles")}
    duplicates = rows(output, "duplicates")
    assert counts["read"] == 12 and counts["written"] == len(bodies) >= 2
    uri_to_text = {f"{feed}#{i + 1}": text for i, text in enumerate(updates)}
    for duplicate in duplicates:
        # Each copy resembles, at the threshold, the written story it is said to copy.
        assert duplicate["reason"] == "near"
        assert duplicate["similarity"] >= DEFAULT_NEAR_DUPLICATE_THRESHOLD
        kept = word_shingles(bodies[duplicate["duplicate_of"]])
        copy = word_shingles(uri_to_text[duplicate["source_uri"]])
        assert jaccard(kept, copy) >= DEFAULT_NEAR_DUPLICATE_THRESHOLD - 0.1


def _half_then_whole(tmp_path: Path) -> tuple[list[str], Path, dict, str]:
    """A story read half-written by one run, then whole by the next: (the run's arguments, the
    output, the first run's article, the second run's summary)."""
    whole = SEEDS[0].read_text(encoding="utf-8")
    paragraphs = whole.split("\n\n")
    half = "\n\n".join(paragraphs[: len(paragraphs) // 2])
    inputs, output = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    story = inputs / "story.txt"
    story.write_text(half, encoding="utf-8")  # the crawler is still writing it
    args = ["run", "--input", f"{inputs}/*.txt", "--output", str(output)]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    (first,) = rows(output, "articles")

    story.write_text(whole, encoding="utf-8")  # the same path, now whole
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return args, output, first, result.stdout


def _unfinish_last_run(output: Path, tables: tuple[str, ...]) -> None:
    """Make the last run look killed before it wrote `tables` and its ledger: those files of
    its run (the newest run id) removed, with its `_inputs/` file."""
    last = sorted(output.glob("_inputs/part-*.parquet"))[-1]
    run = last.name.removesuffix(".parquet")
    for table in tables:
        for path in (output / table).rglob(f"{run}-*.parquet"):
            path.unlink()
    last.unlink()


def test_a_file_read_half_written_is_superseded_by_its_whole_version(tmp_path):
    _args, output, first, summary = _half_then_whole(tmp_path)
    counts = balanced(output)
    assert (counts["read"], counts["written"], counts["duplicates"]) == (1, 1, 0)
    assert counts["superseded"] == 1
    assert "superseded: 1 earlier articles replaced by a newer version" in summary
    articles = {r["article_id"]: r for r in rows(output, "articles")}
    (newer,) = set(articles) - {first["article_id"]}
    assert len(articles[newer]["body"]) > len(first["body"])
    (superseded,) = rows(output, "duplicates")
    assert (superseded["article_id"], superseded["duplicate_of"], superseded["reason"]) == (
        first["article_id"],
        newer,
        "superseded",
    )
    assert superseded["source_uri"] == first["source_uri"]
    assert _current(output) == {newer}


def _superseded(output: Path) -> list[tuple[str, str]]:
    return [
        (d["article_id"], d["duplicate_of"])
        for d in rows(output, "duplicates")
        if d["reason"] == "superseded"
    ]


def _current(output: Path) -> set[str]:
    """The current version of every story (docs/output.md): articles without a superseded row."""
    return {r["article_id"] for r in rows(output, "articles")} - {
        old for old, _newer in _superseded(output)
    }


def test_a_revision_whose_run_was_killed_before_its_superseded_row_gets_it_on_the_rerun(
    tmp_path,
):
    args, output, first, _summary = _half_then_whole(tmp_path)
    (newer,) = {r["article_id"] for r in rows(output, "articles")} - {first["article_id"]}
    _unfinish_last_run(output, ("duplicates",))  # killed after articles/ and _index/
    assert _superseded(output) == []

    for rerun in range(2):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert ("1 earlier articles in" in result.stderr) == (rerun == 0), result.stderr
        assert _superseded(output) == [(first["article_id"], newer)]
        assert _current(output) == {newer}
        counts = balanced(output)  # the second run finds the file in the ledger
        assert (counts["read"], counts["duplicates"], counts["skipped"]) == (
            1 - rerun,
            1 - rerun,
            rerun,
        )


def test_a_revision_whose_run_was_killed_before_its_article_is_superseded_once(tmp_path):
    args, output, first, _summary = _half_then_whole(tmp_path)
    _unfinish_last_run(output, ("articles", "entities", "_index"))  # duplicates/ written first
    assert len(_superseded(output)) == 1

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    (newer,) = {r["article_id"] for r in rows(output, "articles")} - {first["article_id"]}
    assert _superseded(output) == [(first["article_id"], newer)]
    assert _current(output) == {newer}
    assert balanced(output)["superseded"] == 1  # counted by the run, its row not written twice


def test_dedup_against_adds_to_the_output_history_never_replaces_it(tmp_path):
    inputs, other, output = tmp_path / "in", tmp_path / "other", tmp_path / "out"
    inputs.mkdir()
    for seed in SEEDS[:3]:
        shutil.copy(seed, inputs / seed.name)
    result = run_cli("run", "--input", str(SEEDS[4]), "--output", str(other))
    assert result.returncode == 0, result.stderr
    result = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))
    assert result.returncode == 0, result.stderr
    written = sorted(r["article_id"] for r in rows(output, "articles"))
    assert len(written) == 3
    # Killed after writing its articles, before its ledger: the inputs are not recorded as read.
    shutil.rmtree(output / "_inputs")
    for _ in range(2):
        result = run_cli(
            "run",
            "--input",
            f"{inputs}/*.txt",
            "--output",
            str(output),
            "--dedup-against",
            str(other),
        )
        assert result.returncode == 0, result.stderr
        counts = balanced(output)
        assert counts["duplicates_by_reason"] == {"already_in_output": 3}
        shutil.rmtree(output / "_inputs")
    # Counted by each run, each copy's row written once.
    assert len(rows(output, "duplicates")) == 3
    assert sorted(r["article_id"] for r in rows(output, "articles")) == written
