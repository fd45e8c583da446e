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
            _: None,
            inputs,
            documents,
            reject_counts,
            duplicate_counts,
            files,
            fingerprints,
            skipped,
            without_model,
        ) -> Manifest:
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

        count = beam.combiners.Count
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
                documents=beam.pvalue.AsSingleton(
                    ledger["documents"] | "CountDocuments" >> count.Globally()
                ),
                reject_counts=beam.pvalue.AsList(
                    ledger["rejects"]
                    | "RejectReasons" >> beam.Map(lambda r: (r.stage, r.reason))
                    | "CountRejects" >> count.PerElement()
                ),
                duplicate_counts=beam.pvalue.AsList(
                    ledger["duplicates"]
                    | "DuplicateReasons" >> beam.Map(lambda d: d.reason)
                    | "CountDuplicates" >> count.PerElement()
                ),
                files=beam.pvalue.AsList(ledger["files"]),
                fingerprints=beam.pvalue.AsList(optional["fingerprints"]),
                skipped=beam.pvalue.AsList(optional["skipped"]),
                without_model=beam.pvalue.AsList(optional["without_model"]),
            )
        )
