"""`newsbeam run --streaming`: watch input patterns and write each window as it closes.

    newsbeam run --streaming --input 'incoming/*.txt' --output out --window-seconds 60

On the DirectRunner the watcher is this module: every `--poll-seconds` it lists the `--input`
patterns (what `fileio.MatchContinuously` does on each poll) and stamps each new path with the
time it was first seen; when the clock passes the end of a window that has arrivals, it runs
the streaming pipeline (`build_streaming_pipeline`) over exactly those files, a bounded run
that writes the window's Parquet files, its manifest and its `_inputs/` entries. Each window
is processed once, after it is complete, so nothing a local run reads is ever late.

Why not the unbounded pipeline locally (measured with Beam 2.77 on this project's pins):
the FnApiRunner, which the DirectRunner picks for it, re-invokes `MatchContinuously`'s Watch
without waiting for the poll interval (about 200 listings a second) and runs nothing
downstream until the watch ends; the BundleBasedDirectRunner (`--streaming`) refuses the Watch
splittable DoFn ("…ProcessKeyedElements/GroupByKey… was not replaced as expected") and holds
the watermark at -inf while a splittable DoFn is running, so no window would ever fire; the
Prism runner is a binary downloaded at run time. On Dataflow the same pipeline runs unbounded,
with `MatchContinuously` or Pub/Sub as its source.

Stopping: SIGINT or SIGTERM sets a flag. The watcher stops listing, finishes the window being
written, then writes every file already seen (whether or not its window has closed) and exits
0. A second signal interrupts at once (exit 130); files whose window was not written are then
not in `_inputs/` and are read by the next run. The output's ledger (`_inputs/`) is what makes
each file processed once across restarts: a file already recorded is skipped.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import FrameType

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.pipeline.compose.build import build_streaming_pipeline, new_run_id
from newsbeam.pipeline.compose.options import NewsbeamOptions
from newsbeam.schemas.layout import balanced, read_manifest_json, window_manifest_path
from newsbeam.transforms.read import match_paths

Arrival = tuple[str, float]
EXIT_INTERRUPTED = 130


def window_end(seen_at: float, window_seconds: int) -> float:
    """End (exclusive, epoch seconds) of the fixed window holding `seen_at`; windows are aligned
    to the epoch, as Beam's FixedWindows are."""
    return (math.floor(seen_at / window_seconds) + 1) * window_seconds


def window_tag_of(seen_at: float, window_seconds: int) -> str:
    """The window's name in file names (`transforms.write.window_tag`)."""
    end = window_end(seen_at, window_seconds)
    start, stop = (datetime.fromtimestamp(t, UTC) for t in (end - window_seconds, end))
    return f"{start:%Y%m%dT%H%M%SZ}-{stop:%Y%m%dT%H%M%SZ}"


def due(pending: Iterable[Arrival], now: float, window_seconds: int, flush: bool) -> list[Arrival]:
    """The arrivals whose window has closed by `now` (all of them when `flush`)."""
    return [a for a in pending if flush or window_end(a[1], window_seconds) <= now]


class Watcher:
    """Lists the patterns and remembers when each path was first seen."""

    def __init__(self, patterns: Sequence[str], clock: Callable[[], float] = time.time) -> None:
        self._patterns = list(patterns)
        self._clock = clock
        self._seen: set[str] = set()

    def poll(self) -> list[Arrival]:
        """The paths not seen before, each with the time of this poll."""
        now = self._clock()
        new = []
        for pattern in self._patterns:
            try:
                paths = match_paths([pattern])
            except Exception:  # a folder that does not exist yet is an empty match
                continue
            for path in paths:
                if path not in self._seen:
                    self._seen.add(path)
                    new.append((path, now))
        return new


class StopFlag:
    """Set by the first SIGINT/SIGTERM; a second one raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        print(
            f"newsbeam: {signal.Signals(signum).name}: writing what was read, then stopping",
            file=sys.stderr,
            flush=True,
        )
        self.event.set()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self.handle)
        signal.signal(signal.SIGTERM, self.handle)


def window_line(manifest: dict) -> str:
    counts = manifest["counts"]
    return (
        f"newsbeam: window {manifest['window_start']} – {manifest['window_end']}: "
        f"{counts['read']} read · {counts['written']} written · {counts['rejected']} rejected "
        f"· {counts['duplicates']} duplicates · {counts.get('skipped', 0)} skipped"
    )


def run_windows(
    options: PipelineOptions, output: str, arrivals: list[Arrival], run_id: str, window: int
) -> list[dict]:
    """One bounded run of the streaming pipeline over `arrivals`; their windows' manifests."""
    build_streaming_pipeline(options, arrivals=arrivals, run_id=run_id).run().wait_until_finish()
    manifests = []
    for tag in sorted({window_tag_of(seen_at, window) for _, seen_at in arrivals}):
        path = window_manifest_path(output, tag, run_id)
        if FileSystems.exists(path):
            manifests.append(read_manifest_json(path))
    return manifests


def watch(pipeline_options: PipelineOptions, stop: StopFlag | None = None) -> int:
    """Watch `--input` and write each window once it is closed, until SIGINT/SIGTERM.
    Returns the exit status: 0, 3 when a window's ledger does not add up, 130 when a second
    signal interrupted the writing."""
    options = pipeline_options.view_as(NewsbeamOptions)
    options.check()
    if stop is None:
        stop = StopFlag()
        stop.install()
    run_id = options.run_id or new_run_id()
    # The watcher's runs are bounded: batch runs of the streaming graph.
    pipeline_options.view_as(StandardOptions).streaming = False
    watcher = Watcher(options.input)
    pending: list[Arrival] = []
    status = 0
    print(
        f"newsbeam: watching {', '.join(options.input)} every {options.poll_seconds:g} s; "
        f"windows of {options.window_seconds} s into {options.output} (run {run_id}); "
        "Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    try:
        while True:
            stopping = stop.event.is_set()
            if not stopping:
                pending.extend(watcher.poll())
            ready = due(pending, time.time(), options.window_seconds, flush=stopping)
            if ready:
                for manifest in run_windows(
                    pipeline_options, options.output, ready, run_id, options.window_seconds
                ):
                    print(window_line(manifest), flush=True)
                    if not balanced(manifest["counts"]):
                        status = 3
                pending = [a for a in pending if a not in ready]
            if stopping:
                print(f"newsbeam: stopped; manifests in {options.output}/_manifests", flush=True)
                return status
            stop.event.wait(options.poll_seconds)
    except KeyboardInterrupt:
        print(
            f"newsbeam: interrupted; {len(pending)} files seen but not written are not in "
            "_inputs/ and will be read by the next run",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED
