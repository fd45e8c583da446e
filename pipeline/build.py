"""build_pipeline(): the newsbeam pipeline, wired stage by stage and returned without running.

documents = Read → Extract → Validate → Deduplicate → Enrich → Write Parquet → _manifest.json
every stage's failures → rejects/, every copy not written → duplicates/,
every article written → _index/ (what later runs deduplicate against)

Entity rows are written before their articles, and the index after them; entity rows and rejects
already in the output are not written again; so a run killed part-way and run again leaves one
row per fact, and never an index entry without its article.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import NewsbeamOptions
from schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    REJECT_SCHEMA,
    to_row,
)
from transforms.dedup import Deduplicate, index_entry
from transforms.enrich import EnrichEntities, entity_rows
from transforms.extract import ExtractArticles
from transforms.read import MatchInputs, ReadDocuments, display_path
from transforms.validate import ValidateArticles
from transforms.write import SkipWritten, WriteManifest, WriteParquet


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def table_pattern(output: str, table: str, depth: int) -> str:
    """Every Parquet file of `table` in `output`, `depth` partition levels down."""
    return FileSystems.join(output, table, *["*"] * depth, "*.parquet")


def _after(record, _written_first):
    """`record` unchanged; the side input it is given makes Beam finish writing that first."""
    return record


def build_pipeline(
    options: PipelineOptions, files: list[FileMetadata] | None = None
) -> beam.Pipeline:
    """The whole newsbeam pipeline for `options`; the caller runs it. `files`, when given, are
    the inputs (already matched, see `transforms.read.match_files`) instead of the --input
    patterns."""
    nb = options.view_as(NewsbeamOptions)
    if not (nb.input or files) or not nb.output:
        raise ValueError("newsbeam needs --input PATTERN and --output DIR")
    started_at = datetime.now(UTC)
    run_id = nb.run_id or new_run_id(started_at)
    output = nb.output

    p = beam.Pipeline(options=options)
    on_dask = (options.view_as(StandardOptions).runner or "").endswith("DaskRunner")
    if files is not None:
        matched = p | "ListInputs" >> beam.Create(files)
    else:
        matched = p | "MatchInputs" >> MatchInputs(nb.input, match_now=on_dask)
    documents, read_rejects = matched | "ReadDocuments" >> ReadDocuments(nb.max_bytes)
    drafts, extract_rejects = documents | "ExtractArticles" >> ExtractArticles()
    articles, invalid = drafts | "ValidateArticles" >> ValidateArticles(nb.min_words)
    originals, duplicates = articles | "Deduplicate" >> Deduplicate(
        nb.dedup_against or output, nb.near_duplicate_threshold
    )
    enriched, enrich_rejects = originals | "EnrichEntities" >> EnrichEntities(
        nb.spacy_model, nb.batch_size
    )
    rejects = (
        read_rejects,
        extract_rejects,
        invalid,
        enrich_rejects,
    ) | "CollectRejects" >> beam.Flatten()

    entities = enriched | "EntityRows" >> beam.FlatMap(
        lambda a: [(a.published_date, row) for row in entity_rows(a)]
    )
    entity_files = (
        entities
        | "SkipWrittenEntities"
        >> SkipWritten(
            "entities",
            table_pattern(output, "entities", 1),
            ["article_id"],
            key=lambda pair: [pair[1].article_id],
        )
        | "WriteEntities"
        >> WriteParquet(
            output,
            "entities",
            ENTITY_SCHEMA,
            run_id,
            sort_key="article_id",
            partition=lambda pair: [("published_date", pair[0])],
            to_dict=lambda pair: to_row(pair[1]),
        )
    )
    article_files = (
        enriched
        | "WaitForEntities" >> beam.Map(_after, beam.pvalue.AsList(entity_files))
        | "WriteArticles"
        >> WriteParquet(
            output,
            "articles",
            ARTICLE_SCHEMA,
            run_id,
            sort_key="article_id",
            partition=lambda a: [("published_date", a.published_date), ("source", a.source)],
        )
    )
    files_written = (
        article_files,
        entity_files,
        rejects
        | "SkipWrittenRejects"
        >> SkipWritten(
            "rejects",
            table_pattern(output, "rejects", 0),
            ["source_uri", "stage", "reason", "line"],
            key=lambda r: [r.source_uri, r.stage, r.reason, r.line],
        )
        | "WriteRejects"
        >> WriteParquet(
            output, "rejects", REJECT_SCHEMA, run_id, sort_key="source_uri", partition=lambda r: []
        ),
        enriched
        | "WaitForArticles" >> beam.Map(_after, beam.pvalue.AsList(article_files))
        | "IndexArticles" >> beam.Map(index_entry)
        | "WriteIndex"
        >> WriteParquet(
            output, "_index", INDEX_SCHEMA, run_id, sort_key="article_id", partition=lambda e: []
        ),
        duplicates
        | "WriteDuplicates"
        >> WriteParquet(
            output,
            "duplicates",
            DUPLICATE_SCHEMA,
            run_id,
            sort_key="source_uri",
            partition=lambda d: [],
        ),
    ) | "CollectFiles" >> beam.Flatten()

    _ = {
        "inputs": matched | "NameInputs" >> beam.Map(lambda match: display_path(match.path)),
        "documents": documents,
        "rejects": rejects,
        "duplicates": duplicates,
        "files": files_written,
    } | "WriteManifest" >> WriteManifest(output, run_id, started_at)
    return p
