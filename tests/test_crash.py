"""Crash safety, for real: the CLI is killed with SIGKILL while it writes articles, then run again
into the same output. No partial file is ever visible, an article on disk always has its entity
rows, and after the rerun every article, entity row, reject and duplicate row is there exactly
once.

Determinism: the input spreads over 200 partitions, so writing articles takes hundreds of files;
the test polls for the first visible article file and kills the process group at once, then
checks that the run was indeed unfinished (no `_manifest.json`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.catalogue import story
from tests.conftest import ROOT, read_manifest, run_cli

pytestmark = pytest.mark.slow
ARTICLES = 200


def _feed(folder: Path) -> Path:
    lines = []
    for n in range(ARTICLES):
        lines.append(
            json.dumps(
                {
                    "text": story(n).replace(
                        "The mayor said", "Mayor Ana Ruiz told Reuters in London"
                    ),
                    "source": f"Outlet {n}",
                    "published_at": (date(2020, 1, 1) + timedelta(days=n)).isoformat(),
                }
            )
        )
        if n % 50 == 0:
            lines.append("{a broken line")
    path = folder / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _visible(output: Path, table: str) -> list[Path]:
    return sorted((output / table).rglob("*.parquet")) if (output / table).exists() else []


def _rows(output: Path, table: str) -> list[dict]:
    return [row for path in _visible(output, table) for row in pq.read_table(path).to_pylist()]


def _kill_when_articles_appear(args: list[str], output: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbeam", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while not _visible(output, "articles"):
            assert process.poll() is None, "the run ended before writing any article"
            assert time.monotonic() < deadline, "no article file appeared in 300 s"
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_run_killed_mid_write_leaves_no_partial_file_and_a_rerun_doubles_no_row(tmp_path):
    feed = _feed(tmp_path)
    output = tmp_path / "out"
    args = ["run", "--input", str(feed), "--output", str(output)]

    _kill_when_articles_appear(args, output)

    assert not (output / "_manifest.json").exists(), "the run finished before it was killed"
    for table in ("articles", "entities", "rejects", "duplicates"):
        for path in _visible(output, table):
            pq.read_table(path)  # every visible file is whole
    killed_articles = {row["article_id"] for row in _rows(output, "articles")}
    assert 0 < len(killed_articles) < ARTICLES
    killed_entities = {row["article_id"] for row in _rows(output, "entities")}
    assert killed_articles <= killed_entities, "an article is on disk without its entity rows"

    result = run_cli(*args)

    assert result.returncode == 0, result.stderr[-3000:]
    assert not list(output.rglob("*.inprogress"))
    articles = _rows(output, "articles")
    assert len(articles) == ARTICLES
    assert Counter(row["source_uri"] for row in articles).most_common(1)[0][1] == 1
    entities = _rows(output, "entities")
    keys = Counter((e["article_id"], e["canonical"], e["label"]) for e in entities)
    assert keys.most_common(1)[0][1] == 1, "an entity row was written twice"
    assert {e["article_id"] for e in entities} == {a["article_id"] for a in articles}
    rejects = Counter((r["source_uri"], r["reason"]) for r in _rows(output, "rejects"))
    assert len(rejects) == ARTICLES // 50 and set(rejects.values()) == {1}
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    copies = Counter((d["source_uri"], d["article_id"]) for d in _rows(output, "duplicates"))
    assert set(copies.values()) == {1} and len(copies) == counts["duplicates"]
    assert (counts["written"], counts["duplicates"]) == (
        ARTICLES - len(killed_articles),
        len(killed_articles),
    )
