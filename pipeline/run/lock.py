"""One run at a time per output folder.

Two runs writing into one folder would each deduplicate against what the other has not yet
written, and double every row; the second's start-up cleanup would delete the first's temporary
files. A run (`newsbeam run`, `run --streaming`, `compact`) therefore holds the folder's lock for
as long as it writes, and a second one is refused with the holder's details.

- Local folders: an advisory `flock` on `DIR/_lock`. The kernel releases it when the holding
  process ends, however it ends (SIGKILL included), so a dead run's lock is never in the way;
  the file stays, and its JSON says who held it last.
- gs:// folders: a lease object `DIR/_lock` created only if absent (a generation-match
  precondition, which GCS applies atomically), renewed every `RENEW_SECONDS` by the holder and
  taken over once it has not been renewed for `LEASE_SECONDS` (its holder is dead).
- Other filesystems (s3://) have no lock here: the run warns that it cannot exclude another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

# Only the standard library at import: the command line imports this module before Beam.
LOCK = "_lock"  # = schemas.layout.LOCK

LEASE_SECONDS = 300
RENEW_SECONDS = 60


class LockedError(RuntimeError):
    """Another run holds the output folder; the message names it."""


def holder(run_id: str | None, command: str) -> dict[str, Any]:
    """What a lock says of the run that holds it."""
    return {
        "run_id": run_id,
        "command": command,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def describe(details: dict[str, Any] | None) -> str:
    if not details:
        return "another newsbeam process (it has not written its details yet)"
    run = f"run {details.get('run_id')} " if details.get("run_id") else ""
    return (
        f"{details.get('command', 'newsbeam')} {run}(pid {details.get('pid')} on "
        f"{details.get('host')}, since {details.get('since')})"
    )


def _refusal(output: str, details: dict[str, Any] | None) -> LockedError:
    return LockedError(
        f"{output} is being written by {describe(details)}. Two runs into one folder would "
        "double its rows: wait for that run to finish, or write to another --output."
    )


@contextlib.contextmanager
def local_lock(output: str, details: dict[str, Any]) -> Iterator[None]:
    """Hold `flock` on `output/_lock` for the block; LockedError when another process does."""
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(output, _read_details(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(details).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_details(fd: int) -> dict[str, Any] | None:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return None


class LeaseStore(Protocol):
    """The conditional operations on one object that a lease needs (GCS has them all)."""

    def create(self, data: bytes) -> int | None:
        """Create the object if absent; its generation, or None when it exists."""

    def read(self) -> tuple[bytes, int] | None:
        """The object's data and generation; None when absent."""

    def replace(self, data: bytes, generation: int) -> int | None:
        """Overwrite the object if still at `generation`; the new generation, or None."""

    def delete(self, generation: int) -> bool:
        """Delete the object if still at `generation`."""


class GcsLeaseStore:
    """`LeaseStore` on one GCS object, with google-cloud-storage's generation preconditions.
    Not exercised by the tests (no GCS here); `Lease` is, on an in-memory store."""

    def __init__(self, path: str) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed
        from google.cloud import storage

        bucket, _, name = path.removeprefix("gs://").partition("/")
        self._blob = storage.Client().bucket(bucket).blob(name)
        self._conflicts = (NotFound, PreconditionFailed)

    def create(self, data: bytes) -> int | None:
        return self.replace(data, 0)

    def read(self) -> tuple[bytes, int] | None:
        try:
            self._blob.reload()
            generation = self._blob.generation
            return self._blob.download_as_bytes(if_generation_match=generation), generation
        except self._conflicts:
            return None

    def replace(self, data: bytes, generation: int) -> int | None:
        try:
            self._blob.upload_from_string(data, if_generation_match=generation)
        except self._conflicts:
            return None
        return self._blob.generation

    def delete(self, generation: int) -> bool:
        try:
            self._blob.delete(if_generation_match=generation)
        except self._conflicts:
            return False
        return True


class Lease:
    """An expiring lock held in one object of a `LeaseStore`: taken when absent or expired,
    renewed by a background thread, deleted on release."""

    def __init__(
        self,
        output: str,
        store: LeaseStore,
        details: dict[str, Any],
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        clock=time.time,
    ) -> None:
        self._output = output
        self._store = store
        self._details = details
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._clock = clock
        self._generation: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _data(self) -> bytes:
        return json.dumps({**self._details, "renewed": self._clock()}).encode()

    def acquire(self) -> None:
        """Take the lease, or raise LockedError naming the live holder."""
        for _ in range(3):
            generation = self._store.create(self._data())
            if generation is not None:
                self._generation = generation
                break
            current = self._store.read()
            if current is None:
                continue  # released between the two calls
            data, generation = current
            try:
                details = json.loads(data)
            except ValueError:
                details = {}
            renewed = details.get("renewed", 0) if isinstance(details, dict) else 0
            if self._clock() - renewed < self._lease_seconds:
                raise _refusal(self._output, details)
            # Expired: its holder died. Take it over unless someone else just did.
            taken = self._store.replace(self._data(), generation)
            if taken is not None:
                self._generation = taken
                break
        else:
            raise _refusal(self._output, None)
        self._thread = threading.Thread(target=self._renew, daemon=True, name="newsbeam-lease")
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self._renew_seconds):
            renewed = self._store.replace(self._data(), self._generation)
            if renewed is None:
                print(
                    f"newsbeam: lost the lease on {self._output}: another run took it over",
                    file=sys.stderr,
                )
                return
            self._generation = renewed

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._generation is not None:
            self._store.delete(self._generation)
            self._generation = None


@contextlib.contextmanager
def output_lock(output: str, run_id: str | None, command: str) -> Iterator[None]:
    """Hold the lock of `output` for the block (see the module docstring)."""
    details = holder(run_id, command)
    if "://" not in output:
        with local_lock(output, details):
            yield
        return
    if output.startswith("gs://"):
        lease = Lease(output, GcsLeaseStore(f"{output.rstrip('/')}/{LOCK}"), details)
        lease.acquire()
        try:
            yield
        finally:
            lease.release()
        return
    print(
        f"newsbeam: {output.split('://')[0]}:// has no lock here; make sure no other run writes "
        f"into {output} at the same time",
        file=sys.stderr,
    )
    yield
