"""Progress: the counting side channel, the status line, and the CLI on a terminal and a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.pipeline.compose.build import build_pipeline
from newsbeam.pipeline.run.progress import (
    STAGES,
    ProgressState,
    Stage,
    append_count,
    attach_progress,
    current_rate,
    parse_counts,
    progress_line,
    show_progress,
)
from tests.conftest import ROOT, read_manifest, run_cli

STATUS = re.compile(r"\rnewsbeam: (\d+) files │ ([^\r\n]*?)(?:\x1b\[K)")


def test_counts_are_summed_per_stage_and_partial_lines_ignored():
    assert parse_counts("read 3\ncleaned 2\nread 4\nbroken\nread x\n\nread 1") == {
        "read": 8,
        "cleaned": 2,
    }


def test_appends_from_many_threads_lose_nothing(tmp_path):
    path = str(tmp_path / "counts")

    def append_many() -> None:
        for _ in range(200):
            append_count(path, "read", 1)

    threads = [threading.Thread(target=append_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert parse_counts(Path(path).read_text()) == {"read": 1600}


def test_the_rate_is_that_of_the_furthest_stage_moving():
    history = [
        (10.0, {"read": 100, "cleaned": 40}),
        (12.0, {"read": 100, "cleaned": 80}),
    ]
    assert current_rate(history, ["read", "cleaned", "enriched"]) == 20.0
    assert current_rate(history[:1], ["read", "cleaned"]) is None
    waited = [(0.0, {"cleaned": 0}), (4.0, {"cleaned": 0}), (5.0, {"cleaned": 10})]
    assert current_rate(waited, ["cleaned"]) == 10.0
    assert current_rate([(1.0, {"read": 5}), (2.0, {"read": 5})], ["read"]) is None


def test_the_status_line_shows_files_counts_rate_and_time():
    state = ProgressState(files=240, stages=["read", "cleaned"], started=0.0)
    state.update({"read": 100, "cleaned": 10}, now=70.0)
    state.update({"read": 160, "cleaned": 40}, now=72.0)
    assert progress_line(state, now=72.0) == (
        "newsbeam: 240 files │ read 160 · cleaned 40 │ 15 docs/s │ 1:12"
    )
    cut = progress_line(state, now=72.0, width=30)
    assert len(cut) == 30 and cut.endswith("…")


def test_old_history_leaves_the_rate_window():
    state = ProgressState(files=1, stages=["read"], started=0.0)
    state.update({"read": 1}, now=0.0)
    state.update({"read": 2}, now=100.0)
    assert [t for t, _ in state.history] == [100.0]


class ReadOnly(beam.PTransform):
    """A stand-in for ReadInputFiles with the inner label the progress line counts."""

    def __init__(self, items: list[str]) -> None:
        super().__init__()
        self._items = items

    def expand(self, pbegin):
        return pbegin | "SplitRejects" >> beam.Create(self._items)


def test_counting_leaves_the_pipeline_output_unchanged(tmp_path):
    path = str(tmp_path / "counts")
    with TestPipeline() as p:
        read = p | "ReadInputFiles" >> ReadOnly(["a", "b", "c"])
        cleaned = read | "ExtractArticles" >> beam.Map(str.upper)
        files = cleaned | "WriteArticles" >> beam.Map(lambda s: ("articles", s, 2))
        attached = attach_progress(p, path, STAGES)
        assert_that(cleaned, equal_to(["A", "B", "C"]), label="CheckCleaned")
        assert_that(files, equal_to([("articles", s, 2) for s in "ABC"]), label="CheckFiles")
    assert attached == ["read", "cleaned", "written"]
    assert parse_counts(Path(path).read_text()) == {"read": 3, "cleaned": 3, "written": 6}


def test_every_stage_of_the_real_pipeline_is_found(tmp_path):
    pipeline = build_pipeline(
        PipelineOptions(["--input", str(ROOT / "seeds" / "*.txt"), "--output", str(tmp_path)])
    )
    assert attach_progress(pipeline, str(tmp_path / "counts")) == [s.name for s in STAGES]


def test_a_missing_stage_is_skipped(tmp_path):
    p = beam.Pipeline()
    _ = p | "ReadDocuments" >> beam.Create([1])
    assert attach_progress(
        p, str(tmp_path / "c"), [Stage("read", "ReadDocuments"), Stage("x", "Nowhere")]
    ) == ["read"]


def test_disabled_progress_leaves_the_pipeline_alone(tmp_path):
    p = beam.Pipeline()
    _ = p | "ReadDocuments" >> beam.Create([1])
    labels = set(p.applied_labels)
    with show_progress(1, sys.stderr, enabled=False) as attach:
        assert attach(p) is p
    assert set(p.applied_labels) == labels


def run_in_terminal(*args: str, timeout: float = 600) -> tuple[int, str]:
    """`python -m newsbeam ARGS` with stdin, stdout and stderr on a pseudo-terminal, as a person
    runs it; returns the exit code and everything the terminal received."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbeam", *args],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                break
            if not data:
                break
            received.extend(data)
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(controller)
    return code, received.decode("utf-8", "replace")


def status_lines(screen: str) -> list[tuple[int, str]]:
    return [(int(files), rest) for files, rest in STATUS.findall(screen)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [[], ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]],
    ids=["in_memory", "multi_processing"],
)
def test_a_run_on_a_terminal_shows_progress_then_the_summary(tmp_path, mode):
    output = tmp_path / "out"
    code, screen = run_in_terminal(
        "run", "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(output), *mode
    )
    assert code == 0, screen
    lines = status_lines(screen)
    assert len(lines) >= 2, screen
    assert {files for files, _ in lines} == {5}
    final = lines[-1][1]
    assert "read 5 · cleaned 5 · deduplicated 5 · enriched 5 · written 5" in final, final
    erased = screen.rindex("\r\x1b[K")
    assert screen.index("newsbeam: 5 read · 5 written", erased) > erased
    assert read_manifest(output)["counts"]["written"] == 5


@pytest.mark.slow
def test_a_run_into_a_pipe_prints_no_progress(tmp_path):
    result = run_cli(
        "run", "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
    assert "│" not in result.stderr
    assert "newsbeam: 5 read · 5 written" in result.stdout
