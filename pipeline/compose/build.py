"""build_pipeline() and build_streaming_pipeline(): the newsbeam pipelines, wired stage by stage
and returned without running.

Batch:
    documents = Read → Extract → Validate → Deduplicate → Enrich → Write Parquet → _manifest.json
    every stage's failures → rejects/, every copy not written → duplicates/,
    every article written → _index/ (what later runs deduplicate against),
    every file read → _inputs/ (what later runs skip)

Streaming: the same stages on fixed windows of arrival time, each window written and accounted
for on its own (`transforms.stream`, `transforms.ledger`).

Entity rows are written before their articles, and the index after them; entity rows and rejects
already in the output are not written again; so a run killed part-way and run again leaves one
row per fact, and never an index entry without its article.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import DirectRunner

from newsbeam.pipeline.compose.options import NewsbeamOptions
from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    REJECT_SCHEMA,
    to_row,
)
from newsbeam.schemas.layout import table_patterns
from newsbeam.transforms.dedup import choose_strategy, index_entry
from newsbeam.transforms.enrich import EnrichEntities, entity_rows, language_key, model_map
from newsbeam.transforms.extract import ExtractArticles
from newsbeam.transforms.ledger import SkipRecordedInputs, WriteWindowLedger
from newsbeam.transforms.manifest import WriteManifest
from newsbeam.transforms.read import MatchInputs, ReadInputFiles, display_path
from newsbeam.transforms.skip import SkipWritten
from newsbeam.transforms.stream import ArrivedFiles, ReadMessages, WatchInputs, stream_windows
from newsbeam.transforms.validate import ValidateArticles
from newsbeam.transforms.write import WriteParquet, article_partition


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def new_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A Pipeline for `options`. On the DirectRunner (the default), one that never tries the
    Prism runner: Beam 2.77's DirectRunner tries Prism first, which downloads its binary from
    GitHub at run time (and without network fails, and falls back, on every run). It runs on
    the FnApiRunner, or Beam's bundle-based runner for what that cannot run, as before."""
    runner = options.view_as(StandardOptions).runner
    if runner not in (None, "DirectRunner", "SwitchingDirectRunner"):
        return beam.Pipeline(options=options)
    direct = DirectRunner()
    direct.is_interactive()  # the DirectRunner's own switch: no Prism (as for notebooks)
    return beam.Pipeline(runner=direct, options=options)


@dataclass(frozen=True)
class StreamOutputs:
    """What `apply_streaming` returns: files written ((table, path, rows) each, in their
    windows) and the Manifest of each window firing."""

    files: beam.PCollection
    manifests: beam.PCollection


@dataclass(frozen=True)
class Outcomes:
    """What a run produces: files written ((table, path, rows) each), Rejects of every stage,
    every Duplicate (of the records it read, and the "superseded" rows of articles earlier runs
    wrote and counted, which the ledger counts apart), and the language of each article written
    without entities (no model for it)."""

    files: beam.PCollection
    rejects: beam.PCollection
    duplicates: beam.PCollection
    without_model: beam.PCollection


def process_documents(
    documents: beam.PCollection,
    read_rejects: beam.PCollection,
    nb: NewsbeamOptions,
    run_id: str,
    per_window: bool = False,
    lookup: bool = False,
) -> Outcomes:
    """Extract → Validate → Deduplicate → Enrich → Write, applied to `documents` (RawDocuments);
    `read_rejects` are written with the rejects of the later stages. `per_window`: the documents
    are in the fixed windows of a streaming run. `lookup`: the run is one chunk of a local run,
    which reads from the output only what may match its articles (`transforms.dedup`)."""
    output = nb.output
    partition_by = nb.partition_by
    drafts, extract_rejects = documents | "ExtractArticles" >> ExtractArticles(
        per_window=per_window
    )
    articles, invalid = drafts | "ValidateArticles" >> ValidateArticles(nb.min_words)
    # The output's own history always; --dedup-against adds another folder's, never replaces it.
    originals, duplicates = articles | "Deduplicate" >> choose_strategy(
        [output, *([nb.dedup_against] if nb.dedup_against else [])],
        nb.near_duplicate_threshold,
        per_window=per_window,
        lookup=lookup,
        run_id=run_id,
    )
    enriched, enrich_rejects = originals | "EnrichEntities" >> EnrichEntities(
        nb.spacy_model, nb.batch_size, per_window=per_window
    )
    rejects = (
        read_rejects,
        extract_rejects,
        invalid,
        enrich_rejects,
    ) | "CollectRejects" >> beam.Flatten()

    # One element per article (its rows together), not one per row: far fewer for the runner;
    # the rows as plain dicts, which the runner encodes and decodes several times faster.
    entities = enriched | "EntityRows" >> beam.FlatMap(
        lambda a: (
            [(a.published_date, a.article_id, [to_row(r) for r in rows])]
            if (rows := entity_rows(a))
            else []
        )
    )
    # All of them are counted; those already written (by a killed run) are not written again.
    new_rejects, new_duplicates = rejects, duplicates
    if not per_window:
        # A rerun skips what a killed run wrote (a streaming window reads its inputs once).
        entities = entities | "SkipWrittenEntities" >> SkipWritten(
            "entities",
            table_patterns(output, "entities"),
            ["article_id"],
            key=lambda entry: [entry[1]],
            run_id=run_id,
            lookup=lookup,
            # Known before NER: the lookup is ready when the entity rows are.
            among=originals | "ArticleIds" >> beam.Map(lambda a: a.article_id) if lookup else None,
        )
        new_rejects = rejects | "SkipWrittenRejects" >> SkipWritten(
            "rejects",
            table_patterns(output, "rejects"),
            ["source_uri", "stage", "reason", "line"],
            key=lambda r: [r.source_uri, r.stage, r.reason, r.line],
            run_id=run_id,
            lookup=lookup,
        )
        # A record is a copy once, and an earlier article is superseded once.
        new_duplicates = duplicates | "SkipWrittenDuplicates" >> SkipWritten(
            "duplicates",
            table_patterns(output, "duplicates"),
            ["source_uri", "article_id"],
            key=lambda d: [d.source_uri, d.article_id],
            run_id=run_id,
            lookup=lookup,
        )
    entity_files = entities | "WriteEntities" >> WriteParquet(
        output,
        "entities",
        ENTITY_SCHEMA,
        run_id,
        partition=lambda entry: [("published_date", entry[0])],
        to_rows=lambda entry: entry[2],
    )
    article_files = enriched | "WriteArticles" >> WriteParquet(
        output,
        "articles",
        ARTICLE_SCHEMA,
        run_id,
        partition=lambda a: article_partition(a, partition_by),
        after=entity_files,
    )
    files = (
        article_files,
        entity_files,
        new_rejects
        | "WriteRejects"
        >> WriteParquet(output, "rejects", REJECT_SCHEMA, run_id, partition=lambda r: []),
        enriched
        | "IndexArticles" >> beam.Map(index_entry)
        | "WriteIndex"
        >> WriteParquet(
            output,
            "_index",
            INDEX_SCHEMA,
            run_id,
            partition=lambda e: [],
            after=article_files,
        ),
        new_duplicates
        | "WriteDuplicates"
        >> WriteParquet(
            output,
            "duplicates",
            DUPLICATE_SCHEMA,
            run_id,
            partition=lambda d: [],
        ),
    ) | "CollectFiles" >> beam.Flatten()
    models = model_map(nb.spacy_model)
    without_model = originals | "LanguagesWithoutModel" >> beam.FlatMap(
        lambda a: [] if language_key(a) in models else [language_key(a)]
    )
    return Outcomes(
        files=files, rejects=rejects, duplicates=duplicates, without_model=without_model
    )


def build_pipeline(
    options: PipelineOptions, files: list[FileMetadata] | None = None
) -> beam.Pipeline:
    """The whole batch pipeline for `options`; the caller runs it. `files`, when given, are the
    inputs (already matched, see `transforms.read.match_files`) instead of the --input
    patterns."""
    nb = options.view_as(NewsbeamOptions)
    if not (nb.input or files) or not nb.output:
        raise ValueError("newsbeam needs --input PATTERN and --output DIR")
    started_at = datetime.now(UTC)
    run_id = nb.run_id or new_run_id(started_at)
    output = nb.output

    p = new_pipeline(options)
    on_dask = (options.view_as(StandardOptions).runner or "").endswith("DaskRunner")
    if files is not None:
        matched = p | "ListInputs" >> beam.Create(files)
    else:
        matched = p | "MatchInputs" >> MatchInputs(nb.input, match_now=on_dask)
    paths, skipped = matched | "SkipRecordedInputs" >> SkipRecordedInputs(
        output, enabled=not nb.reprocess_inputs, run_id=run_id
    )
    documents, read_rejects, fingerprints = paths | "ReadInputFiles" >> ReadInputFiles(nb.max_bytes)
    outcomes = process_documents(documents, read_rejects, nb, run_id, lookup=files is not None)

    _ = {
        "inputs": paths | "NameInputs" >> beam.Map(lambda match: display_path(match.path)),
        "documents": documents,
        "rejects": outcomes.rejects,
        "duplicates": outcomes.duplicates,
        "files": outcomes.files,
        "fingerprints": fingerprints,
        "skipped": skipped | "SkippedPaths" >> beam.Map(lambda s: s.path),
        "without_model": outcomes.without_model,
    } | "WriteManifest" >> WriteManifest(output, run_id, started_at)
    return p


def build_streaming_pipeline(
    options: PipelineOptions,
    arrivals: list[tuple[str, float]] | None = None,
    run_id: str | None = None,
) -> beam.Pipeline:
    """The streaming pipeline for `options`; the caller runs it.

    Source: `arrivals` ((path, seen_at) pairs a local watcher saw: a bounded run over them),
    else `--pubsub-subscription` (Beam's ReadFromPubSub), else `fileio.MatchContinuously` over
    `--input`. Each window of `--window-seconds` is written with its own manifest.
    """
    nb = options.view_as(NewsbeamOptions)
    if not nb.output or not (nb.input or nb.pubsub_subscription or arrivals is not None):
        raise ValueError("a streaming run needs --output and --input or --pubsub-subscription")
    p = new_pipeline(options)
    if arrivals is not None:
        source = {"files": ArrivedFiles(arrivals)}
    elif nb.pubsub_subscription:
        source = {"messages": None}
    else:
        source = {"files": WatchInputs(nb.input, nb.poll_seconds)}
    apply_streaming(p, nb, run_id, **source)
    return p


def apply_streaming(
    p: beam.Pipeline,
    nb: NewsbeamOptions,
    run_id: str | None = None,
    files: beam.PTransform | None = None,
    messages: beam.PTransform | None = None,
) -> StreamOutputs:
    """The streaming stages applied to `p`; returns the files and the Manifest of each window
    firing.

    `files`: a transform yielding input paths stamped with their arrival time (ArrivedFiles,
    WatchInputs, or a TestStream); otherwise the records come from `--pubsub-subscription`,
    through `messages` (e.g. a TestStream of PubsubMessages) or Beam's ReadFromPubSub.
    """
    started_at = datetime.now(UTC)
    run_id = run_id or nb.run_id or new_run_id(started_at)
    output = nb.output

    def windows() -> beam.WindowInto:
        return stream_windows(nb.window_seconds, nb.allowed_lateness_seconds)

    message_parts: list[beam.PCollection] = []
    if files is not None:
        new_paths, skipped = (
            p
            | "WatchFiles" >> files
            | "SkipRecordedInputs" >> SkipRecordedInputs(output, enabled=not nb.reprocess_inputs)
        )
        paths = new_paths | "WindowFiles" >> windows()
    else:
        documents, rejects, fingerprints, paths = p | "ReadMessages" >> ReadMessages(
            nb.pubsub_subscription, source=messages
        )
        message_parts = [
            documents | "WindowMessageDocuments" >> windows(),
            rejects | "WindowMessageRejects" >> windows(),
            fingerprints | "WindowMessageFingerprints" >> windows(),
        ]
        message_parts.append(message_parts[2] | "MessageUris" >> beam.Map(lambda f: f.path))
        paths = paths | "WindowMessagePaths" >> windows()
        skipped = p | "NothingSkipped" >> beam.Create([])
    paths = paths | "DropRepeatedPaths" >> beam.Distinct()
    file_documents, file_rejects, file_fingerprints = paths | "ReadInputFiles" >> ReadInputFiles(
        nb.max_bytes, spread=False
    )
    if message_parts:
        documents = (file_documents, message_parts[0]) | "CollectDocuments" >> beam.Flatten()
        read_rejects = (file_rejects, message_parts[1]) | "CollectReadRejects" >> beam.Flatten()
        fingerprints = (file_fingerprints, message_parts[2]) | "CollectFingerprints" >> (
            beam.Flatten()
        )
        inputs = (paths, message_parts[3]) | "CollectInputs" >> beam.Flatten()
    else:
        documents, read_rejects, fingerprints = file_documents, file_rejects, file_fingerprints
        inputs = paths

    outcomes = process_documents(documents, read_rejects, nb, run_id, per_window=True)
    manifests = {
        "inputs": inputs,
        "fingerprints": fingerprints,
        "documents": documents,
        "rejects": outcomes.rejects,
        "duplicates": outcomes.duplicates,
        "files": outcomes.files,
        "skipped": skipped | "WindowSkipped" >> windows(),
        "without_model": outcomes.without_model,
    } | "WriteWindowLedger" >> WriteWindowLedger(
        output, run_id, started_at, nb.window_seconds, nb.allowed_lateness_seconds
    )
    return StreamOutputs(files=outcomes.files, manifests=manifests)
