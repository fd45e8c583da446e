"""The Dataflow Flex Template's entry point: build the pipeline from the template's parameters
and submit it, without waiting (the template launcher only submits).

    python -m newsbeam.pipeline.run.launch --input 'gs://BUCKET/raw/*.txt' \\
        --output gs://BUCKET/newsbeam \\
        --runner DataflowRunner --project PROJECT --region REGION --temp_location gs://BUCKET/tmp

With `--pubsub_subscription` the job is a streaming one (Pub/Sub source); otherwise a batch run
over `--input` that skips the files already in the output's `_inputs/` ledger, which is what the
hourly schedule launches (deploy/scheduler, deploy/airflow).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.pipeline.compose.build import build_pipeline, build_streaming_pipeline
from newsbeam.pipeline.compose.options import NewsbeamOptions, OptionsError


def template_options(argv: Sequence[str]) -> PipelineOptions:
    """The pipeline options of a launch: a Pub/Sub subscription makes it a streaming job.
    Raises OptionsError for values the command line would refuse."""
    options = PipelineOptions(list(argv))
    newsbeam = options.view_as(NewsbeamOptions)
    if newsbeam.pubsub_subscription:
        options.view_as(StandardOptions).streaming = True
    newsbeam.check()
    return options


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    try:
        options = template_options(sys.argv[1:] if argv is None else argv)
    except OptionsError as error:
        sys.exit(f"newsbeam: {error}")
    if options.view_as(StandardOptions).streaming:
        build_streaming_pipeline(options).run()
    else:
        build_pipeline(options).run()


if __name__ == "__main__":
    main()
