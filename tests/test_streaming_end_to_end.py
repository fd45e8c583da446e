"""End to end: the real CLI watching a folder (streaming) and running incrementally (batch).

A streaming run is started as a user starts it, the five seeds are dropped into the watched
folder one by one (each written elsewhere, then renamed in), all five articles must appear in the
output within a bounded time, and SIGINT must stop it with exit 0 and no row written twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.schemas import reader_partitioning
from tests.conftest import ROOT, SEEDS, read_manifest, run_cli

pytestmark = pytest.mark.slow
APPEAR_WITHIN = 180.0
STOP_WITHIN = 120.0


def article_rows(output: Path) -> list[dict]:
    folder = output / "articles"
    if not folder.exists():
        return []
    return (
        ds.dataset(folder, partitioning=reader_partitioning())
        .to_table(columns=["article_id"])
        .to_pylist()
    )


def test_a_streaming_run_writes_files_as_they_arrive_and_stops_cleanly_on_sigint(tmp_path):
    watched, staging, output = tmp_path / "incoming", tmp_path / "staging", tmp_path / "out"
    watched.mkdir()
    staging.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsbeam",
            "run",
            "--streaming",
            "--input",
            f"{watched}/*.txt",
            "--output",
            str(output),
            "--window-seconds",
            "2",
            "--poll-seconds",
            "0.5",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = time.monotonic()
        for seed in SEEDS:
            shutil.copy(seed, staging / seed.name)
            os.rename(staging / seed.name, watched / seed.name)  # appears whole, at once
            time.sleep(1.0)
        while len(article_rows(output)) < len(SEEDS):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() - started < APPEAR_WITHIN, "articles did not appear in time"
            time.sleep(0.5)
        appeared = time.monotonic() - started
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=STOP_WITHIN)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert appeared < APPEAR_WITHIN

    ids = [row["article_id"] for row in article_rows(output)]
    assert len(ids) == len(set(ids)) == len(SEEDS)  # each written once
    manifests = [json.loads(p.read_text()) for p in sorted((output / "_manifests").glob("*.json"))]
    assert manifests and all(m["window_start"] and m["window_end"] for m in manifests)
    assert sum(m["counts"]["read"] for m in manifests) == len(SEEDS)
    for manifest in manifests:
        counts = manifest["counts"]
        assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    recorded = pq.read_table(output / "_inputs").column("path").to_pylist()
    assert sorted(Path(p).name for p in recorded) == sorted(seed.name for seed in SEEDS)
    assert "SIGINT: writing what was read, then stopping" in stderr
    assert stdout.count("newsbeam: window ") == len(manifests)
    assert not list(output.rglob(".*inprogress"))


def test_an_incremental_run_reads_only_the_files_added_since_the_last(tmp_path):
    inputs, output = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for seed in SEEDS[:3]:
        shutil.copy(seed, inputs / seed.name)
    first = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))
    assert first.returncode == 0, first.stderr
    assert read_manifest(output)["counts"]["read"] == 3

    for seed in SEEDS[3:]:
        shutil.copy(seed, inputs / seed.name)
    second = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))

    assert second.returncode == 0, second.stderr
    manifest = read_manifest(output)
    counts = manifest["counts"]
    assert (counts["read"], counts["written"], counts["skipped"]) == (2, 2, 3)
    assert sorted(Path(p).name for p in manifest["inputs"]) == [s.name for s in SEEDS[3:]]
    assert sorted(Path(p).name for p in manifest["skipped_inputs"]) == [s.name for s in SEEDS[:3]]
    assert len(article_rows(output)) == 5
    ledgers = sorted((output / "_inputs").glob("*.parquet"))
    assert [pq.read_table(p).num_rows for p in ledgers] == [3, 2]

    # A file changed in place is read again; its story is checked against the output.
    changed = inputs / SEEDS[0].name
    changed.write_text(changed.read_text() + "\n\nAn added closing paragraph of the story.\n")
    third = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))
    assert third.returncode == 0, third.stderr
    counts = read_manifest(output)["counts"]
    assert (counts["read"], counts["skipped"]) == (1, 4)
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
