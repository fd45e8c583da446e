"""Progress of a local run, shown on a terminal while the pipeline runs.

Beam's DirectRunner reports metrics only once a run is over, so progress travels through a side
channel: `attach_progress` hangs a counting ParDo off the outputs of a few stages of a built
pipeline (found by their labels; a stage that is not there is skipped), and each counting
DoFn appends lines such as `cleaned 12` to one local file. Appends of one short line are atomic,
so the DoFns of every worker process (`--direct_running_mode multi_processing`) and every thread
share the file. The counting DoFns emit nothing, so the pipeline's output does not change.

`ProgressDisplay` reads the file from a background thread and rewrites one status line:

    newsbeam: 240 files │ read 240 · cleaned 240 · deduplicated 180 · enriched 64 · written 0
              │ 31 docs/s │ 0:12                                                  (on one line)

Progress is best effort: a failed append is ignored, and the cost is a clock read per element
and one append per stage and worker every FLUSH_SECONDS. The CLI attaches it only on the
DirectRunner and only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import apache_beam as beam
from apache_beam.pipeline import PipelineVisitor

FLUSH_SECONDS = 0.25
REFRESH_SECONDS = 0.5
RATE_WINDOW_SECONDS = 5.0
COUNTS_FILE = "counts"


@dataclass(frozen=True)
class Stage:
    """A counted stage: its name on the status line, the full label of the transform whose
    outputs it counts, and how much one element of those outputs weighs (1 when None)."""

    name: str
    label: str
    weigh: Callable[[Any], int] | None = None


def _file_rows(element: tuple[str, str, int]) -> int:
    return element[2]


STAGES: tuple[Stage, ...] = (
    Stage("read", "ReadInputFiles/SplitRejects"),
    Stage("cleaned", "ExtractArticles"),
    Stage("deduplicated", "Deduplicate"),
    # NER itself: EnrichEntities' own outputs wait for a pass over the whole run (one name per
    # person), which would hide the longest stage.
    Stage("enriched", "EnrichEntities/RecognizeEntities"),
    Stage("written", "WriteArticles", _file_rows),
)


def append_count(path: str, stage: str, count: int) -> None:
    """Append `stage count` as one line, in a single write (atomic between appenders)."""
    line = f"{stage} {count}\n".encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def parse_counts(text: str) -> dict[str, int]:
    """Totals per stage of complete `stage count` lines; malformed lines are ignored."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        name, _, number = line.partition(" ")
        if name and number.isdigit():
            totals[name] = totals.get(name, 0) + int(number)
    return totals


class CountProgressFn(beam.DoFn):
    """Counts the elements going past and appends the count to the progress file; emits nothing.

    Example input: any element of a counted stage's output; the file gets `cleaned 7`.
    """

    def __init__(self, path: str, stage: str, weigh: Callable[[Any], int] | None = None) -> None:
        self._path = path
        self._stage = stage
        self._weigh = weigh

    def start_bundle(self) -> None:
        self._pending = 0
        self._flushed_at = time.monotonic()

    def process(self, element: Any) -> Iterator[Any]:
        self._pending += self._weigh(element) if self._weigh else 1
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self._flush()
        return iter(())

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._pending:
            # Progress is a courtesy: a full disk or a removed folder must not fail the run.
            with contextlib.suppress(OSError):
                append_count(self._path, self._stage, self._pending)
            self._pending = 0
        self._flushed_at = time.monotonic()


class _TransformsByLabel(PipelineVisitor):
    """Collects every applied transform, composites and their parts, by full label."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def enter_composite_transform(self, transform_node: Any) -> None:
        self.visit_transform(transform_node)

    def visit_transform(self, transform_node: Any) -> None:
        self.found[transform_node.full_label] = transform_node


def _applied_transforms(pipeline: beam.Pipeline) -> dict[str, Any]:
    """Every applied transform of the pipeline, composites and their parts, by full label."""
    visitor = _TransformsByLabel()
    pipeline.visit(visitor)
    return visitor.found


def attach_progress(
    pipeline: beam.Pipeline, path: str, stages: Sequence[Stage] = STAGES
) -> list[str]:
    """Count the outputs of `stages` of a built, not yet run pipeline into the file at `path`.

    Returns the names of the stages found (in pipeline order); the others are skipped."""
    transforms = _applied_transforms(pipeline)
    attached = []
    for stage in stages:
        applied = transforms.get(stage.label)
        if applied is None:
            continue
        for number, pcollection in enumerate(applied.outputs.values()):
            label = f"Count{stage.name.capitalize()}Progress{number}"
            _ = pcollection | label >> beam.ParDo(CountProgressFn(path, stage.name, stage.weigh))
        attached.append(stage.name)
    return attached


@dataclass
class ProgressState:
    """What the status line shows: files matched, totals per stage in pipeline order, and the
    recent history of totals for the rate."""

    files: int
    stages: list[str]
    started: float
    totals: dict[str, int] = field(default_factory=dict)
    history: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def update(self, totals: Mapping[str, int], now: float) -> None:
        self.totals = dict(totals)
        self.history.append((now, self.totals))
        self.history = [(t, c) for t, c in self.history if now - t <= RATE_WINDOW_SECONDS]


def current_rate(
    history: Sequence[tuple[float, Mapping[str, int]]], stages: Sequence[str]
) -> float | None:
    """Elements per second through the furthest stage that advanced within `history` (oldest
    first), timed from its last reading before it moved, so a stage that just started is not
    averaged with the time it waited; None when no stage advanced."""
    if len(history) < 2:
        return None
    last_time, last = history[-1]
    for stage in reversed(stages):
        before = history[0][1].get(stage, 0)
        advanced = last.get(stage, 0) - before
        if advanced > 0:
            moved_from = max(t for t, counts in history if counts.get(stage, 0) == before)
            return advanced / (last_time - moved_from) if last_time > moved_from else None
    return None


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def progress_line(state: ProgressState, now: float, width: int = 0) -> str:
    """The status line for `state`, cut to `width` characters when width > 0."""
    counts = " · ".join(f"{name} {state.totals.get(name, 0):,}" for name in state.stages)
    parts = [f"newsbeam: {state.files:,} files"]
    if counts:
        parts.append(counts)
    rate = current_rate(state.history, state.stages)
    if rate is not None:
        parts.append(f"{rate:,.1f} docs/s" if rate < 10 else f"{rate:,.0f} docs/s")
    parts.append(_clock(now - state.started))
    line = " │ ".join(parts)
    if width > 0 and len(line) > width:
        line = line[: max(width - 1, 0)] + "…"
    return line


class ProgressDisplay:
    """A background thread that redraws the status line on `stream` from the counts file."""

    def __init__(self, path: str, state: ProgressState, stream: TextIO) -> None:
        self._path = path
        self._state = state
        self._stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
        self._offset = 0
        self._totals: dict[str, int] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, draw the final counts once, then erase the line."""
        self._stop.set()
        self._thread.join()
        self._draw()
        self._stream.write("\r\x1b[K")
        self._stream.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._draw()
            self._stop.wait(REFRESH_SECONDS)

    def _read(self) -> None:
        try:
            with open(self._path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for name, count in parse_counts(complete.decode("utf-8", "replace")).items():
            self._totals[name] = self._totals.get(name, 0) + count

    def _draw(self) -> None:
        self._read()
        now = time.monotonic()
        self._state.update(self._totals, now)
        try:
            width = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        self._stream.write("\r" + progress_line(self._state, now, width) + "\x1b[K")
        self._stream.flush()


Attach = Callable[[beam.Pipeline], beam.Pipeline]


def _unchanged(pipeline: beam.Pipeline) -> beam.Pipeline:
    return pipeline


@contextlib.contextmanager
def show_progress(files: int, stream: TextIO, enabled: bool) -> Iterator[Attach]:
    """Yields a function that prepares a built pipeline for progress display; while the block
    runs, the status line is drawn on `stream`. When not `enabled` the function returns the
    pipeline untouched and nothing is drawn."""
    if not enabled:
        yield _unchanged
        return
    folder = tempfile.mkdtemp(prefix="newsbeam-progress-")
    path = os.path.join(folder, COUNTS_FILE)
    state = ProgressState(files=files, stages=[], started=time.monotonic())
    display = ProgressDisplay(path, state, stream)

    def attach(pipeline: beam.Pipeline) -> beam.Pipeline:
        state.stages = attach_progress(pipeline, path)
        return pipeline

    display.start()
    try:
        yield attach
    finally:
        display.stop()
        shutil.rmtree(folder, ignore_errors=True)
