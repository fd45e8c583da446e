"""The pipeline on a real dask.distributed cluster gives the same output as the DirectRunner.

A `dask scheduler` and two `dask worker` processes are started on 127.0.0.1 for real; the CLI
runs against them, and the articles, entities, rejects and duplicates are compared row by row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from warcio.warcwriter import WARCWriter

from newsbeam.pipeline.bench.warc_bench import sample_pages, write_response
from tests.conftest import ROOT, SEEDS, read_manifest, run_cli

pytestmark = pytest.mark.slow
HTML = ROOT.parent / "shared" / "benchmarks" / "aeb-dev" / "html"
DASK = Path(sys.executable).with_name("dask")


def rows(output: Path, table: str, columns: list[str]) -> list[tuple]:
    folder = output / table
    if not folder.exists():
        return []
    data = ds.dataset(folder, partitioning="hive").to_table(columns=columns).to_pylist()
    return sorted(tuple(str(r[c]) for c in columns) for r in data)


def snapshot(output: Path) -> dict[str, list[tuple]]:
    return {
        "articles": rows(output, "articles", ["article_id", "source", "published_date", "body"]),
        "entities": rows(
            output, "entities", ["article_id", "canonical", "label", "mentions", "first_offset"]
        ),
        "rejects": rows(output, "rejects", ["source_uri", "stage", "reason"]),
        "duplicates": rows(output, "duplicates", ["source_uri", "duplicate_of", "reason"]),
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dask-inputs")
    for seed in SEEDS:
        shutil.copy(seed, folder / seed.name)
    shutil.copy(SEEDS[0], folder / "copy_of_000.txt")  # a duplicate
    (folder / "empty.txt").write_text("")  # a reject
    for page in sorted(HTML.glob("*.html.gz"))[:20]:
        shutil.copy(page, folder / page.name)
    # A WARC of three other pages and a 404: its records are spread over the workers by a
    # GroupByKey, which the Dask runner must translate without losing any.
    with (folder / "crawl.warc.gz").open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, body in sample_pages(HTML)[20:23]:
            write_response(writer, url, body)
        write_response(
            writer, "https://news.example/gone", b"<html></html>", status="404 Not Found"
        )
    return folder


def patterns(folder: Path) -> list[str]:
    return [
        "--input",
        f"{folder}/*.txt",
        "--input",
        f"{folder}/*.html.gz",
        "--input",
        f"{folder}/*.warc.gz",
    ]


@pytest.fixture(scope="module")
def direct_output(inputs, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("direct") / "out"
    result = run_cli("run", *patterns(inputs), "--output", str(output))
    assert result.returncode == 0, result.stderr
    return output


class Cluster:
    """A scheduler and workers started as separate processes, as on a real cluster."""

    def __init__(
        self, folder: Path, workers: int, hash_seed: str | None, nanny: bool = True
    ) -> None:
        """`hash_seed` None: workers without a nanny and without PYTHONHASHSEED, so each
        process hashes strings its own way (a nanny would give them all the same seed)."""
        nanny = nanny and hash_seed is not None
        self.scheduler_file = folder / "scheduler.json"
        env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
        self.processes = [
            subprocess.Popen(
                [
                    DASK,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--dashboard-address",
                    ":0",
                    "--scheduler-file",
                    str(self.scheduler_file),
                ],
                env=env,
                cwd=ROOT,
            )
        ]
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.2)
        for number in range(workers):
            worker_env = dict(env)
            worker_env.pop("PYTHONHASHSEED", None)
            if hash_seed is not None:
                worker_env["PYTHONHASHSEED"] = hash_seed
            self.processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        "--scheduler-file",
                        str(self.scheduler_file),
                        "--nthreads",
                        "1",
                        "--name",
                        f"w{number}",
                        "--dashboard-address",
                        ":0",
                        "--preload",  # as deploy/dask/README.md starts workers
                        "newsbeam.pipeline.run.worker_setup",
                        *([] if nanny else ["--no-nanny"]),
                    ],
                    env=worker_env,
                    cwd=ROOT,
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(self.scheduler_file), timeout="60s") as client:
            client.wait_for_workers(workers, timeout=60)
            self.address = client.scheduler.address

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a worker without a nanny may hang on shutdown
                process.kill()
                process.wait(timeout=10)


def run_on(cluster: Cluster, inputs: list[str], output: Path, *flags: str):
    """`newsbeam run` of the `--input` flags `inputs` on `cluster`."""
    return run_cli(
        "run",
        *inputs,
        "--output",
        str(output),
        "--runner",
        "DaskRunner",
        "--dask_client_address",
        cluster.address,
        *flags,
    )


@pytest.fixture
def cluster(tmp_path, request):
    started = Cluster(tmp_path, workers=2, hash_seed=request.param)
    yield started
    started.close()


@pytest.mark.skipif(not HTML.exists(), reason="needs ../shared/benchmarks/aeb-dev beside the repo")
@pytest.mark.parametrize("cluster", ["0"], indirect=True)
def test_a_real_dask_cluster_gives_the_direct_runners_output(
    inputs, direct_output, cluster, tmp_path
):
    output = tmp_path / "out"
    result = run_on(cluster, patterns(inputs), output)
    assert result.returncode == 0, result.stderr
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"] == 31
    dask, direct = snapshot(output), snapshot(direct_output)
    for table in dask:
        assert dask[table] == direct[table], table
    assert len(dask["articles"]) >= 20 and dask["rejects"] and dask["duplicates"]
    # The model is loaded once per worker process, although the Dask runner calls DoFn.setup
    # once per partition: every load of load_ner is still in its cache.
    from distributed import Client

    from newsbeam.transforms.enrich import load_ner

    with Client(cluster.address, timeout="60s") as client:
        loads = client.run(load_ner.cache_info)
    assert len(loads) == 2
    assert all(info.misses == info.currsize == 1 for info in loads.values()), loads


@pytest.mark.parametrize("cluster", [None], indirect=True)
def test_workers_that_hash_strings_differently_are_refused(cluster, tmp_path):
    result = run_on(cluster, ["--input", str(SEEDS[0])], tmp_path / "out")
    assert result.returncode == 2
    assert "PYTHONHASHSEED=0" in result.stderr


def test_workers_without_a_nanny_are_not_restarted(tmp_path):
    # Their hashes agree (one seed for all), but a restart would only stop them.
    cluster = Cluster(tmp_path, workers=1, hash_seed="0", nanny=False)
    try:
        output = tmp_path / "out"
        result = run_on(cluster, ["--input", str(SEEDS[0])], output, "--dask-restart-every", "5")
        assert result.returncode == 2, result.stderr
        assert "run without a nanny" in result.stderr
        assert "--dask-restart-every 0" in result.stderr
        assert not (output / "articles").exists()
    finally:
        cluster.close()


@pytest.mark.skipif(not HTML.exists(), reason="needs ../shared/benchmarks/aeb-dev beside the repo")
def test_dask_runner_without_an_address_starts_and_closes_a_local_cluster(
    inputs, direct_output, tmp_path
):
    output = tmp_path / "out"
    result = run_cli(
        "run",
        *patterns(inputs),
        "--output",
        str(output),
        "--runner",
        "DaskRunner",
        "--dask-workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "started a local Dask cluster of 2 workers" in result.stderr
    assert snapshot(output) == snapshot(direct_output)


@pytest.mark.skipif(not HTML.exists(), reason="needs ../shared/benchmarks/aeb-dev beside the repo")
@pytest.mark.parametrize("cluster", ["0"], indirect=True)
def test_a_dask_run_goes_through_its_input_in_chunks_and_loses_nothing(
    inputs, direct_output, cluster, tmp_path
):
    # 10 records per worker: chunks of 20 records, so 31 inputs (the WARC in parts) take 2.
    # Templates and person names are learned within a chunk: the DirectRunner's run to compare
    # with goes through the same chunks (20 records for its one worker).
    direct = tmp_path / "direct"
    chunked = run_cli("run", *patterns(inputs), "--output", str(direct), "--chunk-files", "20")
    assert chunked.returncode == 0, chunked.stderr
    # Restarted after every chunk (a cluster given by address is never restarted by default),
    # the workers come back with the same string hashes, so the groups hold as before.
    from distributed import Client

    with Client(cluster.address, timeout="60s") as client:
        before = set(client.run(os.getpid).values())
    output = tmp_path / "out"
    result = run_on(
        cluster, patterns(inputs), output, "--chunk-files", "10", "--dask-restart-every", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "chunk 2/2" in result.stderr
    assert result.stderr.count("restarted the Dask workers") == 1  # not after the last chunk
    with Client(cluster.address, timeout="60s") as client:
        after = set(client.run(os.getpid).values())
    assert len(after) == 2 and not before & after
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"] == 31
    assert snapshot(output) == snapshot(direct)
    assert snapshot(output)["articles"] == snapshot(direct_output)["articles"]
