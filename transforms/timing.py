"""Stage latency as a Beam metric: `with timed(distribution): …` adds the microseconds spent.

Wrap only the work, never a `yield`: a fused downstream stage runs inside the yield, and its
time would be counted here too. `make bench` reads these distributions to report time per stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from apache_beam.metrics import Metrics

METRIC = "usecs"


def stage_timer(namespace: str):
    """The distribution a stage's DoFns add their working time to (microseconds)."""
    return Metrics.distribution(namespace, METRIC)


@contextmanager
def timed(distribution) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        distribution.update(int((time.perf_counter() - started) * 1_000_000))
