"""The whole hostile-input catalogue in one run of the real CLI (DirectRunner): nothing crashes,
every good article reaches articles/, every bad record is a reject naming its file, line, stage
and reason, the ledger adds up, and no file is written outside the output folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.schemas import reader_partitioning
from tests import catalogue
from tests.conftest import read_manifest, run_cli

pytestmark = pytest.mark.slow

LAYOUT = re.compile(
    r"(articles|entities)/published_date=(\d{4}-\d{2}-\d{2}|__HIVE_DEFAULT_PARTITION__)/"
    r"part-[\w.-]+\.parquet"
    r"|(rejects|duplicates|_index|_inputs)/part-[\w.-]+\.parquet"
    r"|_manifest\.json"
    r"|_lock"  # the run's lock file stays: removing it would race the next run's flock
)


def _files(root: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names
    }


@pytest.fixture(scope="module")
def catalogue_run(tmp_path_factory):
    """Build the catalogue, run newsbeam once over it, read every table back."""
    root = tmp_path_factory.mktemp("catalogue")
    inputs = root / "in"
    expected = catalogue.build(inputs)
    output = root / "sandbox" / "out"
    before = _files(root)
    args = ["run", "--output", str(output)]
    for pattern in catalogue.patterns(inputs):
        args += ["--input", pattern]
    result = run_cli(*args)
    return {
        "root": root,
        "inputs": inputs,
        "output": output,
        "expected": expected,
        "result": result,
        "new_files": _files(root) - before,
    }


def _key(run, uri: str) -> str:
    return os.path.relpath(uri, run["inputs"])


def _table(run, name: str, hive: bool = False) -> list[dict]:
    folder = run["output"] / name
    if not folder.exists():
        return []
    return (
        ds.dataset(folder, partitioning=reader_partitioning() if hive else None)
        .to_table()
        .to_pylist()
    )


def test_the_run_finishes_and_the_ledger_adds_up(catalogue_run):
    result = catalogue_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    counts = read_manifest(catalogue_run["output"])["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    assert counts["read"] == len(catalogue_run["expected"])


def test_every_good_article_reaches_articles(catalogue_run):
    articles = {
        _key(catalogue_run, row["source_uri"]): row
        for row in _table(catalogue_run, "articles", True)
    }
    wanted = {k: v for k, v in catalogue_run["expected"].items() if v[0] == "written"}
    assert sorted(articles) == sorted(wanted)
    failed = {n: articles[n] for n, (_, check) in wanted.items() if not check(articles[n])}
    assert not failed, {
        n: (r["body"][:300], r["boilerplate"], r["source"]) for n, r in failed.items()
    }


def test_every_bad_record_is_a_reject_naming_file_line_stage_and_reason(catalogue_run):
    rejects = _table(catalogue_run, "rejects")
    found = {_key(catalogue_run, r["source_uri"]): (r["stage"], r["reason"]) for r in rejects}
    wanted = {k: v[1:] for k, v in catalogue_run["expected"].items() if v[0] == "rejected"}
    assert found == wanted
    assert len(rejects) == len(found)
    for reject in rejects:
        name = reject["source_uri"]
        path, _, line = name.partition("#")
        where = f"{path} line {line}" if line else path
        assert reject["message"].startswith(f"{where}: "), reject
        assert reject["line"] == (int(line) if line else None)


def test_copies_are_duplicates_and_a_file_matched_three_times_is_read_once(catalogue_run):
    duplicates = _table(catalogue_run, "duplicates")
    assert [(_key(catalogue_run, d["source_uri"]), d["reason"]) for d in duplicates] == [
        (k, v[1]) for k, v in catalogue_run["expected"].items() if v[0] == "duplicate"
    ]
    inputs = read_manifest(catalogue_run["output"])["inputs"]
    assert sum(Path(p).name == "plain.txt" for p in inputs) == 1


def test_nothing_is_written_outside_the_output_folder(catalogue_run):
    output = catalogue_run["output"].relative_to(catalogue_run["root"])
    new = catalogue_run["new_files"]
    outside = sorted(f for f in new if not f.startswith(f"{output}/"))
    assert outside == []
    inside = sorted(os.path.relpath(f, output) for f in new)
    assert [f for f in inside if not LAYOUT.fullmatch(f)] == []
    for name in inside:
        if name.endswith(".parquet"):
            pq.read_metadata(catalogue_run["output"] / name)  # every file is whole
