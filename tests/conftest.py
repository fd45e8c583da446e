"""Shared fixtures: the repository's seeds and a helper that runs the real `newsbeam` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
EXPECTED = ROOT / "seeds" / "expected"


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m newsbeam …` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "newsbeam", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_manifest(output: Path) -> dict:
    return json.loads((output / "_manifest.json").read_text())


@pytest.fixture(scope="session")
def seeds_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds, run once through the whole pipeline on the DirectRunner."""
    output = tmp_path_factory.mktemp("seeds-run") / "out"
    result = run_cli("run", "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(output))
    assert result.returncode == 0, result.stderr
    return output


@pytest.fixture(scope="session")
def mixed_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds plus an exact copy, an empty file, a too-short text and a JSONL file with a
    broken line, run once: an output with articles, entities, rejects and duplicates."""
    inputs = tmp_path_factory.mktemp("mixed-inputs")
    for seed in SEEDS:
        (inputs / seed.name).write_bytes(seed.read_bytes())
    (inputs / "copy_of_000.txt").write_bytes(SEEDS[0].read_bytes())
    (inputs / "empty.txt").write_text("")
    (inputs / "short.txt").write_text("Too short to be an article.")
    (inputs / "feed.jsonl").write_text(json.dumps({"text": SEEDS[1].read_text()}) + "\n{broken\n")
    output = tmp_path_factory.mktemp("mixed-run") / "out"
    result = run_cli(
        "run", "--input", f"{inputs}/*.txt", "--input", f"{inputs}/*.jsonl", "--output", str(output)
    )
    assert result.returncode == 0, result.stderr
    return output
