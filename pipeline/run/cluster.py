"""Dask clusters for `newsbeam run --runner DaskRunner`: a local one, or a check of a given one.

Beam's Dask runner groups keys with `dask.bag.groupby`, which partitions by Python's `hash()`.
String hashes differ between processes unless PYTHONHASHSEED is fixed, so on a multi-process
cluster a GroupByKey on string keys silently splits groups (apache/beam#29365). Workers started
by a nanny (`dask worker`, the default) get a fixed PYTHONHASHSEED from distributed; workers
started with `--no-nanny` do not. newsbeam refuses a cluster whose workers hash strings
differently, and starts its own local workers with a fixed seed.

Local workers also run without distributed's statistical profiler, which samples every
worker's stack every 10 ms for the dashboard: with it on, a worker took 87 s for 1,000
documents, without it 79 s (`newsbeam.pipeline.bench.bench`, one worker; the DirectRunner 64 s).
On a cluster of your own, start workers with `DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False`.
They preload `newsbeam.pipeline.run.worker_setup` too (the garbage collector set for batch work;
`dask worker --preload newsbeam.pipeline.run.worker_setup` on your own cluster).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

HASH_SEED = "0"
WORKER_SETUP = "newsbeam.pipeline.run.worker_setup"
"""Preloaded by local workers: the garbage collector's threshold for batch work (see there)."""


class ClusterError(RuntimeError):
    """The Dask cluster cannot run newsbeam correctly; the message says how to fix it."""


def _probe() -> int:
    return hash("newsbeam: are string hashes the same on every worker?")


def check_hash_seeds(address: str, timeout: str = "20s") -> int:
    """Connect to the cluster and make sure all workers hash strings alike; returns how many
    workers there are."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout)
    except OSError as error:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({error}); check the address and "
            "that `dask scheduler` is running"
        ) from error
    with client:
        hashes = client.run(_probe)
    if not hashes:
        raise ClusterError(f"the Dask cluster at {address} has no workers; start `dask worker`s")
    if len(set(hashes.values())) > 1:
        raise ClusterError(
            f"the workers of the Dask cluster at {address} hash strings differently, so "
            "GroupByKey would split groups (apache/beam#29365). Start every worker with "
            "PYTHONHASHSEED=0, e.g. `PYTHONHASHSEED=0 dask worker tcp://…`."
        )
    return len(hashes)


def check_restartable(client: Client) -> None:
    """Raise ClusterError when a worker has no nanny: a restart would only stop it."""
    workers = client.scheduler_info()["workers"].values()
    alone = sum(1 for worker in workers if not worker.get("nanny"))
    if alone:
        raise ClusterError(
            f"{alone} of the {len(workers)} Dask workers run without a nanny (`dask worker "
            "--no-nanny`), so --dask-restart-every cannot restart them (it would only stop "
            "them); pass --dask-restart-every 0, or start the workers with a nanny"
        )


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A local Dask cluster of `workers` single-threaded processes; yields its address.

    Workers inherit PYTHONHASHSEED (see the module docstring), log only errors, run without
    the profiler and preload `WORKER_SETUP`."""
    import dask
    from distributed import LocalCluster

    settings = {
        "PYTHONHASHSEED": HASH_SEED,
        "DASK_LOGGING__DISTRIBUTED": "error",
    }
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # inherited by the worker processes
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        with (
            dask.config.set(
                {
                    "logging.distributed": "error",
                    "distributed.worker.profile.enabled": False,
                    "distributed.worker.preload": [WORKER_SETUP],
                }
            ),
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
        ):
            yield cluster.scheduler_address
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
