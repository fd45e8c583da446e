"""newsbeam's options; Beam's own flags (--runner, --direct_num_workers, …) pass through."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.dedup import DEFAULT_NEAR_DUPLICATE_THRESHOLD
from transforms.enrich import DEFAULT_MODEL
from transforms.read import DEFAULT_MAX_BYTES
from transforms.stream import (
    DEFAULT_ALLOWED_LATENESS_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_WINDOW_SECONDS,
)
from transforms.write import DEFAULT_PARTITION_BY, PARTITION_BY

DEFAULT_MIN_WORDS = 20
DEFAULT_CHUNK_FILES = 1000


class NewsbeamOptions(PipelineOptions):
    """newsbeam's flags. Streaming runs use Beam's own `--streaming` flag with the window and
    source flags below; everything else applies to batch and streaming runs alike. Every flag
    also has an underscore spelling (`--spacy_model`), as Dataflow template parameters need."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
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
            help=f"installed spaCy model package used for entities (default: {DEFAULT_MODEL})",
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
            help="earlier newsbeam output whose stories are not written again "
            "(default: the --output folder itself)",
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
            "time, each chunk a pipeline run, so memory stays flat on any input size; 0: all at "
            f"once (default: {DEFAULT_CHUNK_FILES})",
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
