"""The README's query examples run verbatim against a real output folder."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import ROOT

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
