"""Nothing lost, nothing doubled: one run at a time per output folder, run ids that never
replace an earlier run's files, and paths that are names, not patterns."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from newsbeam.pipeline.run.cli import EXIT_LOCKED, EXIT_USAGE, main
from newsbeam.pipeline.run.lock import Lease, LockedError, local_lock, output_lock
from tests.conftest import ROOT, read_manifest, run_cli

SEED = ROOT / "seeds" / "001_3041f91bc12e5504.txt"


def article_ids(output: Path) -> list[str]:
    return (
        ds.dataset(output / "articles", format="parquet")
        .to_table()
        .column("article_id")
        .to_pylist()
    )


def test_a_run_into_a_folder_another_run_holds_is_refused_naming_the_holder(tmp_path, capsys):
    output = tmp_path / "out"
    with output_lock(str(output), "first-run", "newsbeam run"):
        status = main(["run", "--input", str(SEED), "--output", str(output)])
    assert status == EXIT_LOCKED
    error = capsys.readouterr().err
    assert "run first-run" in error and f"pid {os.getpid()}" in error
    assert not (output / "articles").exists()


def test_compact_waits_its_turn_too(tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "_manifest.json").write_text("{}")
    with output_lock(str(output), "r1", "newsbeam run"):
        assert main(["compact", str(output)]) == EXIT_LOCKED
    assert "newsbeam run run r1" in capsys.readouterr().err


def test_the_lock_of_a_killed_run_is_free_at_once(tmp_path):
    output = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from newsbeam.pipeline.run.lock import local_lock\n"
            f"with local_lock({str(output)!r}, {{'run_id': 'doomed'}}):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LockedError, match="doomed"), local_lock(str(output), {}):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with local_lock(str(output), {"run_id": "next"}):
        assert json.loads((output / "_lock").read_text())["run_id"] == "next"


class MemoryStore:
    """A LeaseStore in memory, with GCS's generation semantics (GCS cannot run here)."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.generation = 0

    def create(self, data):
        return None if self.data is not None else self._write(data)

    def read(self):
        return None if self.data is None else (self.data, self.generation)

    def replace(self, data, generation):
        return (
            self._write(data) if self.data is not None and generation == self.generation else None
        )

    def delete(self, generation):
        if self.data is None or generation != self.generation:
            return False
        self.data = None
        return True

    def _write(self, data):
        self.data, self.generation = data, self.generation + 1
        return self.generation


def test_a_lease_is_exclusive_renewed_taken_over_when_expired_and_released():
    store, now = MemoryStore(), [1000.0]
    first = Lease("gs://b/out", store, {"run_id": "a"}, lease_seconds=300, clock=lambda: now[0])
    first.acquire()
    second = Lease("gs://b/out", store, {"run_id": "b"}, lease_seconds=300, clock=lambda: now[0])
    now[0] += 299
    with pytest.raises(LockedError, match="run a"):
        second.acquire()
    now[0] += 2  # a's holder stopped renewing: dead
    second.acquire()
    assert json.loads(store.data)["run_id"] == "b"
    first._stop.set()
    second.release()
    assert store.data is None


def test_a_lease_holder_renews_it_while_it_runs():
    store = MemoryStore()
    lease = Lease("gs://b/out", store, {"run_id": "a"}, renew_seconds=0.05)
    lease.acquire()
    generation = store.generation
    time.sleep(0.3)
    assert store.generation > generation
    lease.release()
    assert store.data is None


@pytest.mark.slow
def test_two_runs_started_together_write_each_article_once(tmp_path):
    output = tmp_path / "out"
    command = [sys.executable, "-m", "newsbeam", "run"]
    runs = [
        subprocess.Popen(
            [*command, "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(output)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    statuses = sorted(run.wait(timeout=600) for run in runs)
    assert statuses == [0, EXIT_LOCKED]
    ids = article_ids(output)
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.slow
def test_a_run_id_already_in_the_output_is_refused_and_its_files_kept(tmp_path):
    output = tmp_path / "out"
    first = run_cli("run", "--input", str(SEED), "--output", str(output), "--run-id", "r1")
    assert first.returncode == 0, first.stderr
    before = sorted(p.name for p in output.rglob("*.parquet"))
    other = ROOT / "seeds" / "002_d7c9a3f24f921db4.txt"
    again = run_cli("run", "--input", str(other), "--output", str(output), "--run-id", "r1")
    assert again.returncode == EXIT_USAGE
    assert "--run-id 'r1' is already in" in again.stderr
    assert sorted(p.name for p in output.rglob("*.parquet")) == before
    assert len(article_ids(output)) == 1


@pytest.mark.slow
def test_folder_names_with_wildcard_characters_are_names_not_patterns(tmp_path):
    # A sibling `outA` that `out?` would match as a pattern, holding the same input already.
    sibling = tmp_path / "outA"
    assert run_cli("run", "--input", str(SEED), "--output", str(sibling)).returncode == 0
    output = tmp_path / "out?"
    result = run_cli("run", "--input", str(SEED), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert read_manifest(output)["counts"]["written"] == 1
    assert len(article_ids(output)) == 1

    # An input whose name holds brackets, into a folder whose name holds brackets: the second
    # run finds it in the ledger and reads nothing.
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEED, inputs / "a[1].txt")
    bracketed = tmp_path / "news [2024]"
    for expected_read, expected_skipped in ((1, 0), (0, 1)):
        result = run_cli("run", "--input", str(inputs / "*.txt"), "--output", str(bracketed))
        assert result.returncode == 0, result.stderr
        counts = read_manifest(bracketed)["counts"]
        assert (counts["read"], counts["skipped"]) == (expected_read, expected_skipped)
    assert len(article_ids(bracketed)) == 1


def near_copy(tmp_path: Path) -> Path:
    """A seed with a few words changed: a near copy of it, not an exact one."""
    text = SEED.read_text(encoding="utf-8")
    folder = tmp_path / "updates"
    folder.mkdir()
    copy = folder / "update.txt"
    copy.write_text(text.replace(" the ", " a ", 3), encoding="utf-8")
    return copy


@pytest.mark.slow
def test_articles_left_without_index_rows_by_a_crash_get_them_on_the_next_run(
    seeds_output, tmp_path
):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    shutil.rmtree(output / "_index")  # killed between writing articles/ and _index/
    result = run_cli("run", "--input", str(near_copy(tmp_path)), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "5 articles in" in result.stderr and "had no _index/ row" in result.stderr
    index = ds.dataset(output / "_index", format="parquet").to_table()
    assert sorted(index.column("article_id").to_pylist()) == sorted(article_ids(output))
    counts = read_manifest(output)["counts"]
    assert (counts["written"], counts["duplicates"]) == (0, 1), counts  # found as a copy


@pytest.mark.slow
def test_a_corrupt_output_file_and_manifest_are_named_quarantined_and_do_not_wedge_runs(
    seeds_output, tmp_path
):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    broken = sorted((output / "entities").rglob("*.parquet"))[0]
    broken.write_bytes(broken.read_bytes()[:100])  # cut short, as by a full disk
    (output / "_manifest.json").write_text('{"run_id": "x", "counts": {"re')

    looked = run_cli("inspect", str(output))
    assert looked.returncode == 0, looked.stderr
    assert str(broken) in looked.stderr and "_manifest.json" in looked.stderr

    result = run_cli("run", "--input", str(near_copy(tmp_path)), "--output", str(output))
    assert result.returncode == 0, result.stderr
    name = broken.relative_to(output).as_posix()
    assert name in result.stderr
    assert (output / "_quarantine" / name).exists() and not broken.exists()
    manifest = read_manifest(output)
    assert manifest["quarantined"] == [name]
    assert (manifest["counts"]["read"], manifest["counts"]["duplicates"]) == (1, 1)
    assert run_cli("inspect", str(output)).returncode == 0


def test_published_files_are_synced_to_disk_before_their_rename(tmp_path, monkeypatch):
    from newsbeam.schemas import INPUT_SCHEMA
    from newsbeam.transforms.write import write_parquet

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or real_fsync(fd)
    )
    write_parquet(str(tmp_path / "part-x.parquet"), [], INPUT_SCHEMA)
    assert len(synced) == 2  # the file, then its folder (the rename)
    assert [stat.S_ISDIR(mode) for mode in synced] == [False, True]


@pytest.mark.parametrize(
    ("name", "run"),
    [
        ("part-20240101T000000-ab12cd-00000.parquet", "20240101T000000-ab12cd"),
        ("part-20240101T000000-ab12cd-c0003-00012.parquet", "20240101T000000-ab12cd-c0003"),
        ("part-20240101T000000-ab12cd-c0003.parquet", "20240101T000000-ab12cd-c0003"),
        ("part-nightly-00000.parquet", "nightly"),
        ("part-compact-20240101T000000-ab12cd-00000.parquet", None),
        ("notes.parquet", None),
    ],
)
def test_the_run_of_an_output_file_is_read_from_its_name(name, run):
    from newsbeam.schemas.layout import run_of

    assert run_of(f"out/articles/published_date=2024-01-01/{name}") == run


def test_a_run_counts_as_finished_when_its_ledger_or_its_run_s_names_it():
    from newsbeam.schemas.layout import recorded

    finished = {"20240101T000000-ab12cd-c0001", "20240102T000000-ef34ab-20240102T0100"}
    assert recorded("20240101T000000-ab12cd-c0001", finished)
    assert not recorded("20240101T000000-ab12cd-c0002", finished)  # the chunk killed
    assert recorded("20240102T000000-ef34ab-20240102T0100-p0", finished)  # a window's pane
    assert not recorded("20240103T000000-0a0b0c", finished)
