"""newsbeam's options; Beam's own flags (--runner, --direct_num_workers, …) pass through."""

from __future__ import annotations

import argparse
from functools import cache

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.pipeline.compose.arguments import (
    DEFAULT_CHUNK_FILES,
    DEFAULT_MIN_WORDS,
    add_run_arguments,
    value_errors,
)

__all__ = ["DEFAULT_CHUNK_FILES", "DEFAULT_MIN_WORDS", "NewsbeamOptions", "OptionsError"]


class OptionsError(ValueError):
    """Values of newsbeam's flags that cannot run; the message names each flag."""


@cache
def run_option_names() -> tuple[str, ...]:
    """The attribute names of newsbeam's own flags."""
    parser = argparse.ArgumentParser(add_help=False)
    add_run_arguments(parser)
    return tuple(vars(parser.parse_args([])))


class NewsbeamOptions(PipelineOptions):
    """newsbeam's flags (pipeline/compose/arguments.py). Streaming runs use Beam's own `--streaming`
    flag with the window and source flags; everything else applies to batch and streaming runs
    alike. Every flag also has an underscore spelling (`--spacy_model`), as Dataflow template
    parameters need.

    Parse once, `options = PipelineOptions(argv)`, check with
    `options.view_as(NewsbeamOptions).check()`, and pass `options` on; a step that needs another
    value (a chunk's run id, the Dask scheduler's address) sets it on its view."""

    input: list[str] | None
    output: str | None
    spacy_model: str
    batch_size: int
    min_words: int
    max_bytes: int
    dask_workers: int
    dask_restart_every: int | None
    near_duplicate_threshold: float
    dedup_against: str | None
    partition_by: str
    chunk_files: int
    run_id: str | None
    reprocess_inputs: bool
    window_seconds: int
    poll_seconds: float
    allowed_lateness_seconds: int
    pubsub_subscription: str | None

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        add_run_arguments(parser)

    def values(self) -> dict[str, object]:
        """newsbeam's flags by name, as these options hold them."""
        return {name: getattr(self, name) for name in run_option_names()}

    def check(self) -> None:
        """Raise OptionsError when a value cannot run (the same checks as the command line's)."""
        errors = value_errors(self.values(), streaming=self.view_as(StandardOptions).streaming)
        if errors:
            raise OptionsError("; ".join(errors))
