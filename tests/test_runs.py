"""How a local run is cut into chunks: `--chunk-files` per worker process."""

from __future__ import annotations

import logging
import os
import platform

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, TypeOptions

from newsbeam.pipeline.compose.build import new_pipeline
from newsbeam.pipeline.run import runs
from newsbeam.pipeline.run.runs import (
    chunk_size,
    release_memory,
    run_in_chunks,
    run_pipeline,
)
from newsbeam.transforms.read import match_files
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
    dask = new_pipeline(PipelineOptions(["--runner=newsbeam.pipeline.beam_internals.DaskRunner"]))
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
