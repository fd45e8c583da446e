"""Write: partitioned Parquet read back by pyarrow, atomic files, and the manifest ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import apache_beam as beam
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    REJECT_SCHEMA,
    Article,
    Reject,
    reader_partitioning,
    to_row,
)
from newsbeam.schemas.layout import (
    build_manifest,
    merge_manifests,
    read_output_columns,
    written_by_run,
)
from newsbeam.transforms.extract import extract_article
from newsbeam.transforms.skip import ReadWrittenKeysFn, SkipWritten, record_key
from newsbeam.transforms.validate import validate_article
from newsbeam.transforms.write import (
    DEFAULT_PARTITION_BY,
    WriteParquet,
    article_partition,
    remove_temporaries,
    write_parquet,
)
from tests.test_extract import PARAGRAPHS, doc


def article(uri: str, source: str, published_at: datetime | None) -> Article:
    return validate_article(
        extract_article(
            doc(
                source_uri=uri,
                content="\n\n".join(PARAGRAPHS),
                source=source,
                published_at=published_at,
            )
        )
    )


def test_write_parquet_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "rejects" / "part-x-00000.parquet"
    reject = Reject(source_uri="in/a.txt", stage="read", reason="empty_file", message="empty")
    write_parquet(str(path), [reject.model_dump()], REJECT_SCHEMA)
    assert [p.name for p in path.parent.iterdir()] == ["part-x-00000.parquet"]
    assert pq.read_table(path).column("reason").to_pylist() == ["empty_file"]


def test_a_table_written_after_another_waits_for_all_of_its_files(tmp_path):
    # Without `after`, the runner writes "second" first here (its stage is ready as soon).
    rejects = [
        Reject(source_uri=f"in/{n}.txt", stage="read", reason="empty_file", message="empty")
        for n in range(3)
    ]

    def write(table: str, records, after=None):
        return records | table >> WriteParquet(
            str(tmp_path),
            table,
            REJECT_SCHEMA,
            "r1",
            partition=lambda r: [],
            after=after,
        )

    with TestPipeline() as p:
        first = write("first", p | "First" >> beam.Create(rejects))
        write("second", p | "Second" >> beam.Create(rejects), after=first)

    def written_at(table: str) -> list[int]:
        return [path.stat().st_mtime_ns for path in (tmp_path / table).glob("*.parquet")]

    assert written_at("first") and written_at("second")
    assert max(written_at("first")) < min(written_at("second"))


def write_articles(folder, articles, partition_by=DEFAULT_PARTITION_BY) -> list[tuple[str, int]]:
    """Write `articles` with WriteParquet; returns (path under folder, rows) per file."""
    with TestPipeline() as p:
        files = (
            p
            | beam.Create(articles)
            | WriteParquet(
                str(folder),
                "articles",
                ARTICLE_SCHEMA,
                "run1",
                partition=lambda a: article_partition(a, partition_by),
            )
        )
        written = files | beam.MapTuple(lambda table, path, rows: (path[len(str(folder)) :], rows))
        assert_that(written, equal_to(expected_files[partition_by]))
    return expected_files[partition_by]


MARCH_2 = datetime(2023, 3, 2, 12, tzinfo=UTC)
ARTICLES = [
    article("in/a.txt", "CNN", MARCH_2),
    article("in/b.txt", "ABC News", MARCH_2 + timedelta(hours=6)),
    article("in/c.txt", "ABC News", None),
]
expected_files = {
    "published_date": [
        ("/articles/published_date=2023-03-02/part-run1-00000.parquet", 2),
        ("/articles/published_date=__HIVE_DEFAULT_PARTITION__/part-run1-00000.parquet", 1),
    ],
    "published_date,source": [
        ("/articles/published_date=2023-03-02/source=abc-news/part-run1-00000.parquet", 1),
        ("/articles/published_date=2023-03-02/source=cnn/part-run1-00000.parquet", 1),
        (
            "/articles/published_date=__HIVE_DEFAULT_PARTITION__/source=abc-news/"
            "part-run1-00000.parquet",
            1,
        ),
    ],
}


def test_articles_are_partitioned_by_day_and_sorted_by_source_inside_a_file(tmp_path):
    write_articles(tmp_path, ARTICLES)
    day = pq.read_table(tmp_path / "articles/published_date=2023-03-02/part-run1-00000.parquet")
    assert day.column("source").to_pylist() == ["abc-news", "cnn"]
    table = ds.dataset(tmp_path / "articles", partitioning=reader_partitioning()).to_table()
    assert sorted(table.column("source_uri").to_pylist()) == ["in/a.txt", "in/b.txt", "in/c.txt"]
    assert table.schema.field("published_at").type == ARTICLE_SCHEMA.field("published_at").type
    assert sorted(table.column("published_date").to_pylist(), key=str) == [
        date(2023, 3, 2),
        date(2023, 3, 2),
        None,
    ]


def test_partition_by_day_and_source_adds_a_folder_per_outlet(tmp_path):
    write_articles(tmp_path, ARTICLES, "published_date,source")
    partitioning = reader_partitioning("published_date,source")
    table = ds.dataset(tmp_path / "articles", partitioning=partitioning).to_table()
    assert sorted(
        zip(table["source"].to_pylist(), table["source_uri"].to_pylist(), strict=True)
    ) == [
        ("abc-news", "in/b.txt"),
        ("abc-news", "in/c.txt"),
        ("cnn", "in/a.txt"),
    ]


@pytest.fixture(scope="module")
def dated_and_undated(tmp_path_factory):
    """Two outputs written by WriteParquet: one with an undated article, one without."""
    folders = {}
    for name, articles in (("mixed", ARTICLES), ("dated", ARTICLES[:1])):
        folders[name] = tmp_path_factory.mktemp(name)
        with TestPipeline() as p:
            _ = (
                p
                | beam.Create(articles)
                | WriteParquet(
                    str(folders[name]), "articles", ARTICLE_SCHEMA, "run1", article_partition
                )
            )
    return folders


@pytest.mark.parametrize("output", ["mixed", "dated"])
def test_published_date_reads_as_a_date_in_duckdb_polars_pyarrow_and_pandas(
    dated_and_undated, output
):
    """The README's readers: DuckDB and Polars as they are; pyarrow and pandas with the
    partitioning newsbeam documents (they infer no dates from paths)."""
    articles = dated_and_undated[output] / "articles"
    days = [date(2023, 3, 2), date(2023, 3, 2), None][: 3 if output == "mixed" else 1]
    con = duckdb.connect()
    rows = con.sql(
        "select typeof(published_date), published_date from "
        f"read_parquet('{articles}/**/*.parquet', hive_partitioning = true) order by all"
    ).fetchall()
    assert rows == [("DATE", day) for day in sorted(days, key=lambda d: (d is None, str(d)))]
    frame = pl.scan_parquet(f"{articles}/**/*.parquet", hive_partitioning=True).collect()
    assert frame.schema["published_date"] == pl.Date
    assert sorted(frame["published_date"].to_list(), key=str) == sorted(days, key=str)
    table = ds.dataset(articles, partitioning=reader_partitioning()).to_table()
    assert table.schema.field("published_date").type == pa.date32()
    assert sorted(table["published_date"].to_pylist(), key=str) == sorted(days, key=str)
    pandas = pd.read_parquet(articles, partitioning=reader_partitioning(), dtype_backend="pyarrow")
    assert pandas["published_date"].dtype == pd.ArrowDtype(pa.date32())
    assert pandas["published_date"].isna().sum() == days.count(None)


def test_manifest_counts_add_up():
    manifest = build_manifest(
        "run1",
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        ["b", "a"],
        documents=7,
        reject_counts=[(("read", "empty_file"), 2), (("validate", "too_short"), 1)],
        duplicate_counts=[("exact", 1), ("superseded", 2)],
        files=[("articles", "x/1", 3), ("articles", "x/2", 2), ("entities", "e/1", 9)],
    )
    counts = manifest.counts
    assert (counts.read, counts.written, counts.rejected, counts.duplicates) == (9, 5, 3, 1)
    assert counts.read == counts.written + counts.rejected + counts.duplicates
    assert counts.rejected_by_stage == {"read": 2, "validate": 1}
    # Earlier runs' articles replaced: counted apart, no record of this run.
    assert counts.duplicates_by_reason == {"exact": 1} and counts.superseded == 2
    assert manifest.inputs == ["a", "b"] and manifest.files["articles"] == ["x/1", "x/2"]


def test_chunk_ledgers_merge_into_one():
    def part(run_id, read, written, rejected, files):
        return build_manifest(
            run_id,
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 1, 2, tzinfo=UTC),
            [f"{run_id}.txt"],
            documents=read - rejected,
            reject_counts=[(("read", "empty_file"), rejected)],
            duplicate_counts=[("superseded", 1)],
            files=files,
        )

    merged = merge_manifests(
        [
            part("r-c0001", 3, 3, 0, [("articles", "a/1", 3)]),
            part("r-c0002", 4, 2, 2, [("articles", "a/2", 2)]),
        ]
    )
    assert merged.run_id == "r"
    counts = merged.counts
    assert (counts.read, counts.written, counts.rejected, counts.superseded) == (7, 5, 2, 2)
    assert counts.rejected_by_reason == {"empty_file": 2}
    assert merged.inputs == ["r-c0001.txt", "r-c0002.txt"]
    assert merged.files == {"articles": ["a/1", "a/2"]}


def reject(uri: str, reason: str = "empty_file", line: int | None = None) -> Reject:
    return Reject(source_uri=uri, stage="read", reason=reason, message=f"{uri}: m", line=line)


@pytest.mark.parametrize(
    ("lookup", "among"),
    [(False, False), (True, False), (True, True)],
    ids=["shuffle", "lookup", "lookup-among-known-values"],
)
def test_skip_written_passes_only_rows_no_earlier_run_wrote(tmp_path, lookup, among):
    folder = tmp_path / "rejects"
    write_parquet(
        str(folder / "part-old-00000.parquet"),
        [to_row(reject("a.txt")), to_row(reject("f.jsonl#2", "invalid_json", 2))],
        REJECT_SCHEMA,
    )
    # Written by this very run (a runner computing the step twice): not a reason to skip.
    write_parquet(
        str(folder / "part-now-00000.parquet"),
        [to_row(reject("f.jsonl#3", "invalid_json", 3))],
        REJECT_SCHEMA,
    )
    (folder / "part-broken-00000.parquet").write_bytes(b"PAR1 not really parquet")
    (folder / ".part-killed-00000.parquet.inprogress").write_bytes(b"PAR1 half")
    new = [
        reject("a.txt"),  # already written
        reject("f.jsonl#2", "invalid_json", 2),  # already written
        reject("f.jsonl#3", "invalid_json", 3),
        reject("a.txt", "binary_file"),  # same file, another reason: a new fact
    ]
    with TestPipeline() as p:
        uris = p | "Uris" >> beam.Create(sorted({r.source_uri for r in new})) if among else None
        kept = (
            p
            | beam.Create(new)
            | SkipWritten(
                "rejects",
                [str(folder / "*.parquet")],
                ["source_uri", "stage", "reason", "line"],
                key=lambda r: [r.source_uri, r.stage, r.reason, r.line],
                run_id="now",
                lookup=lookup,
                among=uris,
            )
        )
        assert_that(
            kept | beam.Map(lambda r: (r.source_uri, r.reason)),
            equal_to([("f.jsonl#3", "invalid_json"), ("a.txt", "binary_file")]),
        )


@pytest.mark.parametrize(
    ("name", "run_id", "own"),
    [
        ("part-R-00000.parquet", "R", True),
        ("part-R-c0002-00003.parquet", "R-c0001", True),  # another chunk of the same run
        ("part-R-c0001-00000.parquet", "R", True),
        ("part-R2-00000.parquet", "R", False),
        ("part-Q-c0001-00000.parquet", "R-c0001", False),
        ("part-R-20240501T120000Z-20240501T120100Z-p0-00000.parquet", "R", False),
        (".part-R-00000.parquet.inprogress", "R", False),
        ("part-R-c0001.parquet", "R-c0002", True),  # a chunk's ledger in _inputs/
    ],
)
def test_a_runs_own_files_are_told_from_earlier_output(name, run_id, own):
    assert written_by_run(f"gs://b/out/entities/published_date=2024-05-01/{name}", run_id) is own


@pytest.mark.parametrize(
    ("name", "own"),
    [
        ("part-R-c0002-00000.parquet", True),
        ("part-R-c0002.parquet", True),
        ("part-R-c0001-00000.parquet", False),  # an earlier chunk: deduplicated against
        ("part-R-c0001.parquet", False),
    ],
)
def test_without_other_chunks_only_the_chunks_own_files_are_its_own(name, own):
    assert written_by_run(f"out/_index/{name}", "R-c0002", other_chunks=False) is own


def test_written_keys_are_read_once_per_file(tmp_path):
    path = tmp_path / "part-old-00000.parquet"
    rows = [reject("a.txt", reason) for reason in ("empty_file", "binary_file", "empty_file")]
    write_parquet(str(path), [to_row(r) for r in rows], REJECT_SCHEMA)
    keys = list(ReadWrittenKeysFn(["source_uri"]).process(readable(path)))
    assert keys == [record_key(["a.txt"])]


def test_given_first_values_only_the_keys_among_them_are_read(tmp_path):
    path = tmp_path / "part-old-00000.parquet"
    rows = [reject(uri, line=line) for uri, line in [("a.txt", None), ("b.txt", 1), ("b.txt", 2)]]
    write_parquet(str(path), [to_row(r) for r in rows], REJECT_SCHEMA)
    read = ReadWrittenKeysFn(["source_uri", "line"])
    keys = list(read.process(readable(path), among=["b.txt", "c.txt"]))
    assert keys == [record_key(["b.txt", 1]), record_key(["b.txt", 2])]
    assert list(read.process(readable(path), among=[])) == []


def readable(path) -> fileio.ReadableFile:
    return fileio.ReadableFile(FileSystems.match([str(path)])[0].metadata_list[0])


def test_earlier_output_is_read_column_by_column(tmp_path):
    path = tmp_path / "part-old-00000.parquet"
    write_parquet(str(path), [to_row(reject("a.txt", "empty_file"))], REJECT_SCHEMA)
    table = read_output_columns(readable(path), ["source_uri", "sketch"], present_only=True)
    assert table.column_names == ["source_uri"]
    assert table.to_pylist() == [{"source_uri": "a.txt"}]
    with pytest.raises(pa.ArrowInvalid):  # ReadWrittenKeysFn skips such a file as unreadable
        read_output_columns(readable(path), ["source_uri", "sketch"])


def test_temporary_files_of_a_killed_run_are_found_at_every_depth_and_removed(tmp_path):
    kept = [
        tmp_path / "articles/published_date=2024-01-01/source=cnn/part-r-00000.parquet",
        tmp_path / "rejects/part-r-00000.parquet",
        tmp_path / "_manifest.json",
    ]
    stale = [
        tmp_path / "articles/published_date=2024-01-01/source=cnn/.part-r-00001.parquet.inprogress",
        tmp_path / "entities/published_date=unknown/.part-r-00000.parquet.inprogress",
        tmp_path / "rejects/.part-r-00001.parquet.inprogress",
        tmp_path / "._manifest.json.inprogress",
    ]
    for path in kept + stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert sorted(remove_temporaries(str(tmp_path))) == sorted(str(p) for p in stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    assert remove_temporaries(str(tmp_path)) == []
    assert remove_temporaries(str(tmp_path / "does-not-exist")) == []
