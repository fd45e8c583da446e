"""`newsbeam compact`: the small files of many runs merged, nothing lost or doubled, what later
runs read (ledger, index, manifest) still right, and the README's queries unchanged."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline.inspect.stats import read_output
from newsbeam.pipeline.run import compact as compaction
from newsbeam.pipeline.run.cli import EXIT_USAGE, main
from newsbeam.pipeline.run.compact import JOURNAL, compact, partitions, recover
from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    INPUT_SCHEMA,
    REJECT_SCHEMA,
    Article,
    Duplicate,
    EntityRow,
    IndexEntry,
    InputFile,
    Reject,
    to_row,
)
from newsbeam.schemas.layout import SORT_KEYS, partition_dir
from newsbeam.transforms.write import article_partition, write_parquet
from tests.conftest import SEEDS, read_manifest, run_cli
from tests.outputs import write_output
from tests.test_readme import examples

RUNS = 10
DAY = datetime(2024, 5, 1, 8, tzinfo=UTC)
TABLES = ("articles", "entities", "rejects", "duplicates", "_index", "_inputs")


def hex_id(run: int, number: int) -> str:
    return f"{run:02x}{number:02x}" * 4


def write_run(output: Path, run: int) -> dict[str, list[str]]:
    """One run's files, as the pipeline lays them out: three articles (two days and undated,
    two outlets), their entity rows and index entries, a reject, a duplicate, the ledger."""
    run_id = f"20240501T{run:02d}0000-abcdef"
    articles = [
        Article(
            article_id=hex_id(run, n),
            source_uri=f"in/{run}-{n}.txt",
            source=("cnn", "bbc", "cnn")[n],
            published_at=(DAY, DAY + timedelta(days=1), None)[n],
            body=f"run {run} story {n} " * 10,
            word_count=40,
            content_sha256=hex_id(run, n) * 4,
        )
        for n in range(3)
    ]
    files: dict[str, list[str]] = {}

    def write(table: str, folder: str, rows: list, schema) -> None:
        path = f"{folder}/part-{run_id}-00000.parquet"
        rows = sorted(rows, key=lambda r: tuple(str(r[k]) for k in SORT_KEYS[table]))
        write_parquet(path, rows, schema)
        files.setdefault(table, []).append(path)

    out = str(output)
    by_partition: dict[str, list] = {}
    for a in articles:
        by_partition.setdefault(partition_dir(out, "articles", article_partition(a)), []).append(
            to_row(a)
        )
    for folder, rows in by_partition.items():
        write("articles", folder, rows, ARTICLE_SCHEMA)
    for a in articles:
        entity = EntityRow(
            article_id=a.article_id,
            canonical=f"Person {run}",
            label="PERSON",
            mentions=run + 1,  # no ties: the README's top-5 query picks the same rows
            first_offset=0,
            source=a.source,
        )
        write(
            "entities",
            partition_dir(out, "entities", [("published_date", a.published_date)]),
            [to_row(entity)],
            ENTITY_SCHEMA,
        )
    write(
        "_index",
        f"{out}/_index",
        [
            to_row(
                IndexEntry(
                    article_id=a.article_id,
                    content_sha256=a.content_sha256,
                    published_at=a.published_at,
                    sketch="test",
                    signature=[run, 1, 2],
                )
            )
            for a in articles
        ],
        INDEX_SCHEMA,
    )
    reject = Reject(source_uri=f"in/{run}.txt", stage="read", reason="empty_file", message="x")
    write("rejects", f"{out}/rejects", [to_row(reject)], REJECT_SCHEMA)
    duplicate = Duplicate(
        source_uri=f"in/{run}-copy.txt",
        article_id=hex_id(run, 9),
        duplicate_of=hex_id(run, 0),
        similarity=1.0,
        reason="exact",
    )
    write("duplicates", f"{out}/duplicates", [to_row(duplicate)], DUPLICATE_SCHEMA)
    ledger = InputFile(path=f"in/{run}-0.txt", size=10, sha256="0" * 64, run_id=run_id)
    write_parquet(f"{out}/_inputs/part-{run_id}.parquet", [to_row(ledger)], INPUT_SCHEMA)
    manifest = {
        "run_id": run_id,
        "counts": {"read": 5, "written": 3, "rejected": 1, "duplicates": 1, "entities": 3},
        "files": {t: paths for t, paths in files.items() if t != "_inputs"},
    }
    (output / "_manifest.json").write_text(json.dumps(manifest))
    return files


@pytest.fixture
def ten_runs(tmp_path) -> Path:
    output = tmp_path / "out"
    for run in range(RUNS):
        write_run(output, run)
    return output


def rows(output: Path, table: str) -> list[tuple]:
    data = ds.dataset(output / table, format="parquet", partitioning="hive").to_table()
    return sorted(tuple(map(str, r.values())) for r in data.to_pylist())


def readme_queries(output: Path) -> list[list[tuple]]:
    """Every DuckDB query of the README and docs/, run against `output` (which is named `out`);
    rows sorted, as ties may come in any order."""
    os.chdir(output.parent)
    con = duckdb.connect()
    return [
        sorted(con.sql(statement).fetchall(), key=str)
        for _page, block in examples("sql")
        for statement in filter(str.strip, block.split(";"))
    ]


def test_ten_runs_compact_to_one_file_per_partition(ten_runs, monkeypatch):
    monkeypatch.chdir(ten_runs.parent)
    before = {table: rows(ten_runs, table) for table in TABLES}
    queries = readme_queries(ten_runs)
    assert len(partitions(str(ten_runs), "articles")) == 3
    assert all(len(p) == RUNS for p in partitions(str(ten_runs), "articles").values())

    done = compact(str(ten_runs))

    assert {c.table for c in done} == set(TABLES)
    for table in TABLES:
        found = partitions(str(ten_runs), table)
        assert found and all(len(files) == 1 for files in found.values()), table
        assert rows(ten_runs, table) == before[table], table
    assert readme_queries(ten_runs) == queries
    day = next(iter(partitions(str(ten_runs), "articles").values()))[0]
    sources = pq.read_table(day, columns=["source"])["source"].to_pylist()
    assert sources == sorted(sources)
    manifest = read_manifest(ten_runs)
    listed = [p for paths in manifest["files"].values() for p in paths]
    assert listed and all(os.path.isfile(p) for p in listed)
    assert len(manifest["files"]["articles"]) == 3
    assert not list(ten_runs.rglob("*inprogress")) and not (ten_runs / JOURNAL).exists()
    assert read_output(str(ten_runs)).rows("articles") == 3 * RUNS
    assert compact(str(ten_runs)) == []  # nothing small is left


def test_files_at_the_target_size_are_left_alone(ten_runs):
    assert compact(str(ten_runs), target_mb=1 / 2**20) == []  # a 1-byte target: all are large


@pytest.mark.parametrize("crash_after", ["journal", "renames"])
def test_an_interrupted_compaction_is_finished_without_losing_or_doubling_rows(
    ten_runs, monkeypatch, crash_after
):
    before = rows(ten_runs, "articles")
    finish = compaction._finish

    def crash(output: str, journal: dict) -> None:
        if crash_after == "renames":
            for temporary, final in journal["moves"]:
                os.replace(os.path.join(output, temporary), os.path.join(output, final))
        raise KeyboardInterrupt

    monkeypatch.setattr(compaction, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(str(ten_runs))
    assert (ten_runs / JOURNAL).exists()
    monkeypatch.setattr(compaction, "_finish", finish)

    assert recover(str(ten_runs)) == "finished"
    assert rows(ten_runs, "articles") == before
    assert recover(str(ten_runs)) is None


def test_compact_refuses_what_is_not_an_output(tmp_path, capsys):
    assert main(["compact", str(tmp_path)]) == EXIT_USAGE
    assert "is not a newsbeam output" in capsys.readouterr().err
    assert main(["compact", "gs://bucket/out"]) == EXIT_USAGE
    assert "compact works on local folders" in capsys.readouterr().err


NEW_STORY = """Harbour town opens its new lifeboat station

The harbour town of Port Elwyn opened its new lifeboat station on Saturday, after three years of
fundraising by local families, fishermen and the sailing club.

Mayor Anna Pritchard thanked the volunteers who crew the boat in every season. "They go out when
everyone else comes in," she said at the ceremony, which drew several hundred people to the quay.

The station replaces a wooden shed that had stood since 1921. It houses a faster inshore boat, a
training room and a small museum about the rescues of the last century.
"""


@pytest.mark.slow
def test_after_compaction_a_run_skips_recorded_inputs_and_finds_earlier_stories(
    seeds_output, tmp_path
):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    inputs = tmp_path / "in"
    inputs.mkdir()
    # A second run writes a new story (undated, like most seeds: the same partition).
    story = inputs / "new.txt"
    story.write_text(NEW_STORY)
    second = run_cli("run", "--input", str(story), "--output", str(output))
    assert second.returncode == 0, second.stderr
    assert read_manifest(output)["counts"]["written"] == 1
    small = {t: sum(map(len, partitions(str(output), t).values())) for t in ("_index", "_inputs")}
    assert small == {"_index": 2, "_inputs": 2}
    assert max(map(len, partitions(str(output), "articles").values())) == 2

    assert main(["compact", str(output)]) == 0
    for table in TABLES:
        assert all(len(files) == 1 for files in partitions(str(output), table).values()), table

    # Every input so far is in the compacted ledger; a copy of the new story is in the
    # compacted articles and index.
    shutil.copy(story, inputs / "copy-of-new.txt")
    third = run_cli(
        "run",
        "--input",
        str(SEEDS[0].parent / "*.txt"),
        "--input",
        f"{inputs}/*.txt",
        "--output",
        str(output),
    )
    assert third.returncode == 0, third.stderr
    counts = read_manifest(output)["counts"]
    assert counts["skipped"] == len(SEEDS) + 1
    assert counts["read"] == 1 and counts["duplicates_by_reason"] == {"already_in_output": 1}
    assert read_output(str(output)).rows("articles") == len(SEEDS) + 1


def test_a_run_keeps_the_partitioning_of_the_output_it_writes_into(tmp_path, capsys):
    output = write_output(tmp_path / "out", "published_date,source")
    command = ["run", "--input", str(SEEDS[0]), "--output", str(output)]
    assert main(command) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"newsbeam: error: --output {str(output)!r} holds articles partitioned by "
        "published_date,source; pass --partition-by published_date,source, or write to a new "
        "folder"
    )
