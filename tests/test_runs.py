"""How a local run is cut into chunks: `--chunk-files` per worker process."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import platform

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.io.filesystem import FileMetadata
from apache_beam.options.pipeline_options import PipelineOptions, TypeOptions

from newsbeam.pipeline.compose.build import new_pipeline
from newsbeam.pipeline.run import runs
from newsbeam.pipeline.run.runs import (
    chunk_inputs,
    chunk_size,
    release_memory,
    run_in_chunks,
    run_pipeline,
)
from newsbeam.schemas import reader_partitioning
from newsbeam.transforms.read import jsonl_parts, match_files, split_inputs
from tests.catalogue import story
from tests.conftest import ROOT


def test_a_chunk_holds_chunk_files_for_each_worker():
    assert chunk_size(1000, 1, 5000) == 1000
    assert chunk_size(1000, 2, 5000) == 2000
    assert chunk_size(0, 2, 5000) == 5000  # 0: everything at once
    assert chunk_size(0, 1, 0) == 1


def test_the_workers_of_a_local_run_come_from_the_direct_runner_options():
    def local_workers(args: list[str]) -> int:
        return runs.local_workers(PipelineOptions(args))

    assert local_workers([]) == 1
    assert local_workers(["--direct_num_workers=4"]) == 1  # in-process unless a mode says so
    multi = ["--direct_running_mode=multi_processing"]
    assert local_workers([*multi, "--direct_num_workers=2"]) == 2
    assert local_workers([*multi, "--direct_num_workers=0"]) == (os.cpu_count() or 1)


def test_local_pipelines_never_try_the_prism_runner(tmp_path, caplog):
    # Beam 2.77's DirectRunner tries Prism first, which downloads a binary at run time.
    options = PipelineOptions([f"--output={tmp_path}"])
    logger = "apache_beam.runners.direct.direct_runner"
    with caplog.at_level(logging.INFO, logger=logger), new_pipeline(options) as p:
        _ = p | beam.Create([1, 2]) | beam.Map(lambda x: x + 1)
    assert "Prism" not in caplog.text
    runner = "newsbeam.pipeline.beam_internals.dask_runner.DaskRunner"
    dask = new_pipeline(PipelineOptions([f"--runner={runner}"]))
    assert type(dask.runner).__name__ == "DaskRunner"


def test_between_chunks_freed_memory_goes_back_to_the_system():
    # glibc keeps freed pages unless asked (malloc_trim); other C libraries have no such call.
    assert release_memory() is (platform.libc_ver()[0] == "glibc")


def test_the_first_chunk_type_checks_the_graph_every_chunk_builds(tmp_path):
    checked = []

    def run(options, files):
        checked.append(options.view_as(TypeOptions).pipeline_type_check)
        return run_pipeline(options, files)

    files = match_files([str(ROOT / "seeds" / "*.txt")])
    output = str(tmp_path / "out")
    options = PipelineOptions(["--output", output, "--chunk-files=2"])
    manifest = run_in_chunks(options, files, run=run)
    assert checked == [True, False, False]
    assert manifest.counts.read == manifest.counts.written == 5


def _feed(path, records: int) -> None:
    """A JSONL file of `records` distinct stories, with a blank line after every seventh."""
    lines = []
    for n in range(1, records + 1):
        lines.append(json.dumps({"text": story(n), "url": f"https://example.org/{n}"}))
        if n % 7 == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")


def test_one_large_jsonl_is_read_in_chunks_of_bounded_records_not_as_one_file(tmp_path):
    """Memory follows the records of a chunk: one JSONL file of many records is cut into parts
    of at most --chunk-files records, each line still named by its number in the whole file,
    and the file is recorded in the ledger of inputs once, after its last part."""
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 25)
    chunks = []

    def run(options, files):
        chunks.append(sum(getattr(f, "documents", 1) for f in files))
        return run_pipeline(options, files)

    output = tmp_path / "out"
    options = PipelineOptions(["--output", str(output), "--chunk-files=10"])
    manifest = run_in_chunks(options, match_files([str(feed)]), run=run)
    assert chunks == [10, 10, 5]
    assert manifest.counts.read == manifest.counts.written == 25
    articles = ds.dataset(output / "articles", partitioning=reader_partitioning())
    uris = articles.to_table(columns=["source_uri"]).column(0).to_pylist()
    numbers = sorted(int(uri.rpartition("#")[2]) for uri in uris)
    assert numbers == [n + (n - 1) // 7 for n in range(1, 26)]  # blank lines keep their numbers
    recorded = pq.read_table(output / "_inputs").to_pylist()
    assert [(os.path.basename(r["path"]), r["size"]) for r in recorded] == [
        ("feed.jsonl", feed.stat().st_size)
    ]
    assert recorded[0]["sha256"] == hashlib.sha256(feed.read_bytes()).hexdigest()
    again = run_in_chunks(
        PipelineOptions(["--output", str(output), "--chunk-files=10"]), match_files([str(feed)])
    )
    assert again.counts.read == 0 and again.counts.skipped > 0


def test_chunks_are_bounded_by_bytes_as_well_as_records():
    files = [FileMetadata(f"in/{n}.txt", 40_000_000) for n in range(4)]
    assert [len(c) for c in chunk_inputs(files, 1000, 64_000_000)] == [1, 1, 1, 1]
    small = [FileMetadata(f"in/{n}.txt", 1_000) for n in range(5)]
    assert [len(c) for c in chunk_inputs(small, 2, 64_000_000)] == [2, 2, 1]


def test_jsonl_parts_cut_at_line_boundaries_and_reassemble_the_file(tmp_path):
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 25)
    (whole,) = match_files([str(feed)])
    parts = jsonl_parts(whole, 10, 10_000_000)
    data = feed.read_bytes()
    assert b"".join(data[p.start : p.stop] for p in parts) == data
    assert [p.documents for p in parts] == [10, 10, 5]
    assert [p.last for p in parts] == [False, False, True]
    for part in parts:
        assert data[: part.start].count(b"\n") + 1 == part.first_line
    by_bytes = jsonl_parts(whole, 1000, len(data) // 3)
    assert len(by_bytes) in (3, 4) and sum(p.documents for p in by_bytes) == 25


def test_jsonl_files_that_cannot_be_cut_at_newline_bytes_stay_whole(tmp_path):
    text = "\n".join(json.dumps({"text": story(n)}) for n in range(1, 30))
    (tmp_path / "packed.jsonl").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "wide.jsonl").write_bytes(text.encode("utf-16"))
    files = match_files([f"{tmp_path}/*.jsonl"])
    assert split_inputs(files, 5, 1_000_000) == files
