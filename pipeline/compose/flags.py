"""Command-line mistakes that Beam would let through: misspelled options, stray words, runners.

Beam parses its options leniently: an unknown flag such as `--direct_num_worker 2` is dropped
with a log line ("Discarding unparseable args") and the run goes on without it, and a file
list that the shell expanded from an unquoted pattern leaves every file but the first behind.
`check_arguments` turns both into usage errors that name the closest valid option.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.pipeline.beam_internals import BeamArgumentParser

DASK_RUNNER_NAME = "DaskRunner"


class FlagError(ValueError):
    """A mistake in the arguments; the message names it and says what to write instead."""


def _register_runner_options() -> None:
    """Import the modules whose PipelineOptions subclasses are not loaded by default."""
    with contextlib.suppress(ImportError):
        import apache_beam.runners.dask.dask_runner  # noqa: F401  (registers DaskOptions)


def beam_parser() -> argparse.ArgumentParser:
    """A parser of every registered PipelineOptions flag, newsbeam's included, built as Beam's
    own `get_all_options` builds it but without abbreviations (Beam accepts none either)."""
    _register_runner_options()
    parser = BeamArgumentParser(allow_abbrev=False, add_help=False, conflict_handler="resolve")
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    return parser


def known_flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every long option string the parser accepts."""
    return sorted(
        {
            option
            for action in parser._actions
            for option in action.option_strings
            if option.startswith("--")
        }
    )


def closest(word: str, candidates: Sequence[str], key=str.lower) -> str | None:
    """The candidate most like `word` when compared through `key` (difflib ratio ≥ 0.7)."""
    keyed = {key(candidate): candidate for candidate in candidates}
    matches = difflib.get_close_matches(key(word), list(keyed), n=1, cutoff=0.7)
    return keyed[matches[0]] if matches else None


def check_arguments(args: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """Raise FlagError for the first flag the parser does not know, or the first word that
    belongs to no flag (usually a file of an unquoted pattern that the shell expanded)."""
    _known, unknown = parser.parse_known_args(list(args))
    if not unknown:
        return
    word = unknown[0]
    if not word.startswith("-"):
        raise FlagError(
            f"unexpected argument {word!r}: every value needs its option. If it is a file the "
            "shell expanded from a pattern, quote the pattern (e.g. --input 'data/*.txt') so "
            "newsbeam reads every file it matches."
        )
    name = word.split("=", 1)[0]
    suggestion = closest(name, known_flags(parser))
    hint = (
        f"did you mean {suggestion}?"
        if suggestion
        else "it is neither a newsbeam option (see newsbeam run --help) nor a Beam pipeline option"
    )
    raise FlagError(f"unknown option {name}: {hint} (Beam would drop it and run without it)")


def _runner_stem(name: str) -> str:
    return name.lower().removesuffix("runner")


def check_runner(runner: str | None) -> None:
    """The runner must be one Beam knows (Beam ignores case and a missing `Runner` suffix),
    `DaskRunner` (which newsbeam runs itself), or a dotted class path."""
    if not runner or "." in runner or runner.endswith(DASK_RUNNER_NAME):
        return
    known = StandardOptions.KNOWN_RUNNER_NAMES
    if _runner_stem(runner) in {_runner_stem(name) for name in known}:
        return
    suggestion = closest(runner, [*known, DASK_RUNNER_NAME], key=_runner_stem)
    hint = f"did you mean {suggestion}? " if suggestion else ""
    raise FlagError(
        f"unknown runner {runner!r}: {hint}newsbeam runs on DirectRunner (the default), "
        "DaskRunner and DataflowRunner"
    )
