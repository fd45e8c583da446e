"""The run's ledger written into the output: `_inputs/part-RUN.parquet` (the input files read,
so later runs skip them) and then `_manifest.json` (the counts of `schemas.layout`), once every
table is written. A streaming run's per-window ledger is `transforms.ledger.WriteWindowLedger`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam

from newsbeam.schemas import INPUT_SCHEMA, InputFile, Manifest, to_row
from newsbeam.schemas.layout import INPUTS, build_manifest, join, manifest_path, write_json
from newsbeam.transforms.write import write_parquet


def input_rows(fingerprints: Iterable[tuple[str, int, str]], run_id: str) -> list[dict[str, Any]]:
    """`_inputs/` rows for the files a run read: (path, size, sha256) each, sorted by path."""
    now = datetime.now(UTC)
    return [
        to_row(InputFile(path=path, size=size, sha256=sha256, run_id=run_id, recorded_at=now))
        for path, size, sha256 in sorted(set(fingerprints))
    ]


def write_inputs(output: str, stem: str, fingerprints: Iterable[tuple[str, int, str]], run_id: str):
    """Record the input files read in `output/_inputs/STEM.parquet` (atomically); nothing when
    no file was read. Call only once the outputs made from them are written."""
    rows = input_rows(fingerprints, run_id)
    if rows:
        write_parquet(join(output, INPUTS, f"{stem}.parquet"), rows, INPUT_SCHEMA)


DOCUMENT, REJECT, DUPLICATE = "document", "reject", "duplicate"


def split_tallies(
    tallies: Iterable[tuple[tuple[str, ...], int]],
) -> tuple[int, list[tuple[tuple[str, str], int]], list[tuple[str, int]]]:
    """(documents, (stage, reason) counts of rejects, reason counts of duplicates) from the
    counts of (DOCUMENT,), (REJECT, stage, reason) and (DUPLICATE, reason) tallies."""
    documents, rejects, duplicates = 0, [], []
    for tally, count in tallies:
        if tally[0] == DOCUMENT:
            documents += count
        elif tally[0] == REJECT:
            rejects.append(((tally[1], tally[2]), count))
        else:
            duplicates.append((tally[1], count))
    return documents, rejects, duplicates


class WriteManifest(beam.PTransform):
    """Writes `_inputs/part-RUN.parquet` (the files read), then `_manifest.json`, once every
    table is written (the file list is a side input). Optional ledger entries: "fingerprints"
    (what `_inputs/` records), "skipped" (input paths not read, already recorded) and
    "without_model" (the language of each article written without entities)."""

    def __init__(self, output: str, run_id: str, started_at: datetime) -> None:
        super().__init__()
        self._output = output
        self._run_id = run_id
        self._started_at = started_at

    def expand(self, ledger: dict[str, beam.PCollection]):
        output, run_id, started_at = self._output, self._run_id, self._started_at

        def write(
            _: None, inputs, tallies, files, fingerprints, skipped, without_model
        ) -> Manifest:
            documents, reject_counts, duplicate_counts = split_tallies(tallies)
            manifest = build_manifest(
                run_id,
                started_at,
                datetime.now(UTC),
                inputs,
                documents,
                reject_counts,
                duplicate_counts,
                files,
                skipped,
                without_model=without_model,
            )
            write_inputs(output, f"part-{run_id}", fingerprints, run_id)
            write_json(manifest_path(output), manifest)
            return manifest

        pipeline = ledger["inputs"].pipeline
        optional = {
            name: ledger[name]
            if name in ledger
            else pipeline | f"No{name.title()}" >> beam.Create([])
            for name in ("fingerprints", "skipped", "without_model")
        }
        return (
            pipeline
            | "Start" >> beam.Create([None])
            | "WriteLedger"
            >> beam.Map(
                write,
                inputs=beam.pvalue.AsList(ledger["inputs"]),
                # One count for the three tallies: one grouping stage, not three.
                tallies=beam.pvalue.AsList(
                    (
                        ledger["documents"] | "TallyDocuments" >> beam.Map(lambda _: (DOCUMENT,)),
                        ledger["rejects"]
                        | "TallyRejects" >> beam.Map(lambda r: (REJECT, r.stage, r.reason)),
                        ledger["duplicates"]
                        | "TallyDuplicates" >> beam.Map(lambda d: (DUPLICATE, d.reason)),
                    )
                    | "CollectTallies" >> beam.Flatten()
                    | "CountTallies" >> beam.combiners.Count.PerElement()
                ),
                files=beam.pvalue.AsList(ledger["files"]),
                fingerprints=beam.pvalue.AsList(optional["fingerprints"]),
                skipped=beam.pvalue.AsList(optional["skipped"]),
                without_model=beam.pvalue.AsList(optional["without_model"]),
            )
        )
