"""Dask clusters for `newsbeam run --runner DaskRunner`: a local one, or a check of a given one.

Beam's Dask runner groups keys with `dask.bag.groupby`, which partitions by Python's `hash()`.
String hashes differ between processes unless PYTHONHASHSEED is fixed, so on a multi-process
cluster a GroupByKey on string keys silently splits groups (apache/beam#29365). newsbeam starts
its local workers with PYTHONHASHSEED=0 and refuses a cluster whose workers disagree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

HASH_SEED = "0"


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


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A local Dask cluster of `workers` single-threaded processes; yields its address."""
    from distributed import LocalCluster

    previous = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = HASH_SEED  # inherited by the worker processes
    try:
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            yield cluster.scheduler_address
    finally:
        if previous is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = previous
