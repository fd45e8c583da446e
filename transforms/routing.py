"""Routing records: a stage's results and Rejects (or Duplicates) split by type; lazy chunks.

Stages emit their rejects in the same output as their results and split them by type here,
rather than with tagged outputs (`ParDo.with_outputs`): Beam 2.77's Dask runner maps a ParDo to
one Dask bag whatever its outputs, so every consumer of any tagged output would receive all of
them. Splitting with two Filters runs the same on every runner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import apache_beam as beam

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items, reading `items` lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class SplitOff(beam.PTransform):
    """PCollection of mixed records → (records that are not `kind`, records that are `kind`)."""

    def __init__(self, kind: type) -> None:
        super().__init__()
        self._kind = kind

    def expand(self, records):
        kind = self._kind
        kept = records | "KeepResults" >> beam.Filter(lambda r: not isinstance(r, kind))
        split = records | f"Keep{kind.__name__}s" >> beam.Filter(lambda r: isinstance(r, kind))
        return kept, split
