"""Run a function under a CPU-time limit, in a forked child: a hang or a super-linear case fails
its test once the limit is spent instead of stalling the suite.

Bounds are generous (several times what a linear implementation needs on a slow machine): they
catch runaway regular expressions and quadratic loops, never a few percent of slowdown.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
from collections.abc import Callable
from typing import Any

CPU_BOUND = 20  # seconds of CPU, for the 20 MB inputs
CPU_BOUND_SMALL = 5  # seconds of CPU, for inputs up to about 1 MB (linear code needs < 0.5 s)


class CpuLimitExceeded(AssertionError):
    """The function used more CPU time than its bound."""


def run_bounded(
    fn: Callable[..., Any], *args: Any, cpu_seconds: int = CPU_BOUND
) -> tuple[Any, float]:
    """(fn(*args), CPU seconds it used), computed in a forked child limited to `cpu_seconds` of
    CPU time. Raises CpuLimitExceeded when the child hits the limit; re-raises its exception."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send the pickled outcome, exit without pytest's clean-up
        status = 0
        try:
            os.close(read_end)
            signal.signal(signal.SIGXCPU, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
            try:
                outcome = ("value", fn(*args))
            except Exception as error:
                outcome = ("error", error)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(outcome))
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    if os.WIFSIGNALED(status) or not payload:
        raise CpuLimitExceeded(
            f"{getattr(fn, '__name__', fn)} stopped after {cpu:.1f} s of CPU "
            f"(limit {cpu_seconds} s, exit status {status})"
        )
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise value
    return value, cpu
