"""Settings for a Dask worker that runs newsbeam, loaded by distributed's preload mechanism.

`newsbeam run --runner DaskRunner` starts its local workers with this module preloaded; on a
cluster of your own, start each worker with `dask worker --preload
newsbeam.pipeline.run.worker_setup tcp://…`.

A worker allocates about three times as many container objects as the DirectRunner's process
for the same documents (Beam's Dask translation wraps and copies every element between stages),
so Python's cyclic garbage collector, which runs after every 700 net allocations by default,
ran 1,586 young-generation passes over 1,000 documents and took 4.2 s of the worker's time
(the DirectRunner: 566 passes, 1.4 s). With a first threshold of 10,000 it ran 90 passes
taking 1.6 s (`gc.callbacks` in the worker; objects still live after the run: the same 243,000).
Reference counting frees almost everything as before; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
from typing import Any

GC_THRESHOLD = (10_000, 10, 10)
"""The first generation's threshold raised; the older generations' left at Python's default."""


def dask_setup(worker: Any = None) -> None:
    """Called by distributed in each worker process that preloads this module."""
    gc.set_threshold(*GC_THRESHOLD)
