"""The README's query examples run verbatim against a real output folder."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import ROOT

TESTS = ROOT / "tests"

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_has_query_examples():
    assert blocks("sql") and blocks("python")


def test_sql_examples_run_in_duckdb(seeds_output, monkeypatch):
    monkeypatch.chdir(seeds_output.parent)
    con = duckdb.connect()
    for block in blocks("sql"):
        for statement in filter(str.strip, block.split(";")):
            assert con.sql(statement).fetchall(), statement


def test_python_examples_run(seeds_output, monkeypatch):
    monkeypatch.chdir(seeds_output.parent)
    for block in blocks("python"):
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)


def test_every_row_of_the_hostile_input_catalogue_names_tests_that_exist():
    section = README.split("## Hostile input", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) > 30
    for row in rows:
        named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", row.rsplit("|", 2)[-2])
        assert named, f"no test named for: {row[:80]}"
        for file, function in named:
            assert f"def {function}(" in (TESTS / file).read_text(), f"{file}::{function}"
