"""newsbeam's options; Beam's own flags (--runner, --direct_num_workers, …) pass through."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.pipeline.compose.arguments import (
    DEFAULT_CHUNK_FILES,
    DEFAULT_MIN_WORDS,
    add_run_arguments,
)

__all__ = ["DEFAULT_CHUNK_FILES", "DEFAULT_MIN_WORDS", "NewsbeamOptions"]


class NewsbeamOptions(PipelineOptions):
    """newsbeam's flags (pipeline/compose/arguments.py). Streaming runs use Beam's own `--streaming`
    flag with the window and source flags; everything else applies to batch and streaming runs
    alike. Every flag also has an underscore spelling (`--spacy_model`), as Dataflow template
    parameters need."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        add_run_arguments(parser)
