"""End to end: the real CLI on the DirectRunner, output read back by DuckDB, Polars and pyarrow."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pytest

from newsbeam.schemas import reader_partitioning
from tests.conftest import ROOT, SEEDS, read_manifest, run_cli

pytestmark = pytest.mark.slow


def test_seeds_become_five_articles_in_hive_partitions(seeds_output):
    manifest = read_manifest(seeds_output)
    assert manifest["counts"] | {"entities": 0} == {
        "read": 5,
        "written": 5,
        "rejected": 0,
        "duplicates": 0,
        "entities": 0,
        "rejected_by_stage": {},
        "rejected_by_reason": {},
        "duplicates_by_reason": {},
        "skipped": 0,
        "superseded": 0,
        "without_entity_model_by_language": {},
    }
    assert manifest["counts"]["entities"] > 50
    assert len(manifest["inputs"]) == 5
    assert not list(seeds_output.rglob(".*inprogress"))


def test_duckdb_reads_articles_and_entities_with_hive_partitioning(seeds_output):
    con = duckdb.connect()
    rows = con.sql(f"""
        select published_date, source, count(*) as n
        from read_parquet('{seeds_output}/articles/**/*.parquet', hive_partitioning = true)
        group by all order by all""").fetchall()
    assert rows == [
        (date(2023, 3, 2), "cnn", 1),
        (None, "abc-news", 1),
        (None, "agence-france-presse", 1),
        (None, "unknown", 2),
    ]
    people = con.sql(f"""
        select canonical, count(distinct article_id) as articles
        from read_parquet('{seeds_output}/entities/**/*.parquet', hive_partitioning = true)
        where label = 'PERSON'
        group by canonical order by articles desc, canonical limit 2""").fetchall()
    assert people == [("Vladimir Putin", 5), ("Xi Jinping", 5)]


def test_polars_reads_the_same_rows(seeds_output):
    frame = (
        pl.scan_parquet(f"{seeds_output}/articles/**/*.parquet", hive_partitioning=True)
        .select("article_id", "published_date", "source", "title", "word_count")
        .collect()
    )
    assert frame.height == 5
    assert frame["article_id"].n_unique() == 5
    assert set(frame["source"]) == {"cnn", "abc-news", "agence-france-presse", "unknown"}
    assert frame.filter(pl.col("source") == "cnn")["published_date"].to_list() == [date(2023, 3, 2)]
    assert frame["word_count"].min() > 200


def test_running_again_into_the_same_output_skips_the_files_it_read(seeds_output, tmp_path):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    result = run_cli("run", "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(output))
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(output)
    assert (manifest["counts"]["read"], manifest["counts"]["skipped"]) == (0, 5)
    assert len(manifest["skipped_inputs"]) == 5 and manifest["inputs"] == []
    assert "skipped:   5 input files already read" in result.stdout


def test_reprocessing_the_same_files_never_doubles_rows(seeds_output, tmp_path):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    result = run_cli(
        "run",
        "--input",
        str(ROOT / "seeds" / "*.txt"),
        "--output",
        str(output),
        "--reprocess-inputs",
    )
    assert result.returncode == 0, result.stderr
    counts = read_manifest(output)["counts"]
    assert (counts["read"], counts["written"], counts["duplicates"]) == (5, 0, 5)
    assert counts["duplicates_by_reason"] == {"already_in_output": 5}
    articles = ds.dataset(output / "articles", partitioning=reader_partitioning()).to_table()
    assert articles.num_rows == 5
    duplicates = ds.dataset(output / "duplicates").to_table().to_pylist()
    assert {d["reason"] for d in duplicates} == {"already_in_output"}
    assert {d["duplicate_of"] for d in duplicates} == set(articles.column("article_id").to_pylist())


def test_bad_files_among_good_ones_are_rejected_and_the_ledger_adds_up(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for seed in SEEDS[:2]:
        shutil.copy(seed, inputs / seed.name)
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "binary.txt").write_bytes(bytes(range(256)) * 50)
    good_line = json.dumps({"text": SEEDS[3].read_text(), "url": "https://edition.cnn.com/x"})
    (inputs / "feed.jsonl").write_text("\n".join([good_line, "{broken", json.dumps({"text": 7})]))
    (inputs / "cut.txt.gz").write_bytes(gzip.compress(SEEDS[4].read_bytes())[:500])
    (inputs / "short.txt").write_text("Too short to be an article.")
    output = tmp_path / "out"

    result = run_cli(
        "run",
        "--input",
        f"{inputs}/*.txt",
        "--input",
        f"{inputs}/*.jsonl",
        "--input",
        f"{inputs}/*.gz",
        "--output",
        str(output),
    )

    assert result.returncode == 0, result.stderr
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    assert (counts["read"], counts["written"], counts["rejected"]) == (9, 3, 6)
    rejects = {
        (Path(r["source_uri"]).name, r["stage"], r["reason"])
        for r in ds.dataset(output / "rejects").to_table().to_pylist()
    }
    assert rejects == {
        ("empty.txt", "read", "empty_file"),
        ("binary.txt", "read", "binary_file"),
        ("feed.jsonl#2", "read", "invalid_json"),
        ("feed.jsonl#3", "read", "invalid_record"),
        ("cut.txt.gz", "read", "corrupt_gzip"),
        ("short.txt", "validate", "word_count:value_error"),
    }
    written = ds.dataset(output / "articles", partitioning=reader_partitioning()).to_table()
    assert sorted(Path(u).name for u in written.column("source_uri").to_pylist()) == [
        SEEDS[0].name,
        SEEDS[1].name,
        "feed.jsonl#1",
    ]
    assert "rejected: 1 × empty_file" in result.stdout


def test_a_pattern_that_matches_nothing_is_a_clear_error(tmp_path):
    result = run_cli(
        "run", "--input", str(tmp_path / "nothing" / "*.txt"), "--output", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert "no file matches --input" in result.stderr and "quote the pattern" in result.stderr


def test_an_unknown_model_is_a_clear_error(tmp_path):
    result = run_cli(
        "run",
        "--input",
        str(SEEDS[0]),
        "--output",
        str(tmp_path / "out"),
        "--spacy-model",
        "en_core_web_nope",
    )
    assert result.returncode == 2
    assert "spaCy model 'en_core_web_nope' is not installed" in result.stderr


def test_the_newsbeam_command_is_installed():
    newsbeam = Path(sys.executable).with_name("newsbeam")
    result = subprocess.run([newsbeam, "run", "--help"], capture_output=True, text=True, check=True)
    assert "--input" in result.stdout and "--spacy-model" in result.stdout


def test_a_run_in_chunks_writes_what_one_pass_writes(seeds_output, tmp_path):
    output = tmp_path / "out"
    result = run_cli(
        "run",
        "--input",
        str(ROOT / "seeds" / "*.txt"),
        "--output",
        str(output),
        "--chunk-files",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "chunk 3/3" in result.stderr
    counts = read_manifest(output)["counts"]
    assert (counts["read"], counts["written"], counts["rejected"], counts["duplicates"]) == (
        5,
        5,
        0,
        0,
    )
    columns = ["article_id", "body", "source", "published_date"]
    chunked = ds.dataset(output / "articles", partitioning=reader_partitioning()).to_table(
        columns=columns
    )
    whole = ds.dataset(seeds_output / "articles", partitioning=reader_partitioning()).to_table(
        columns=columns
    )
    assert sorted(chunked.to_pylist(), key=str) == sorted(whole.to_pylist(), key=str)
    assert len(read_manifest(output)["inputs"]) == 5
