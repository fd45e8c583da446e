"""The README runs: its queries against a real output, its troubleshooting messages against the
command, and its schema tables against the Arrow schemas."""

from __future__ import annotations

import re
import shlex
import shutil

import duckdb
import pytest

from pipeline.cli import EXIT_USAGE, main
from schemas import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, ENTITY_SCHEMA, INDEX_SCHEMA, REJECT_SCHEMA
from tests.conftest import ROOT

TESTS = ROOT / "tests"

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_has_query_examples():
    assert blocks("sql") and blocks("python")


@pytest.mark.slow
def test_sql_examples_run_in_duckdb(seeds_output, monkeypatch):
    monkeypatch.chdir(seeds_output.parent)
    con = duckdb.connect()
    for block in blocks("sql"):
        for statement in filter(str.strip, block.split(";")):
            assert con.sql(statement).fetchall(), statement


@pytest.mark.slow
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


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else len(README)]


def troubleshooting_examples() -> list[tuple[str, str]]:
    """(command, the message printed) for each `$ newsbeam …` line of Troubleshooting."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", section("Troubleshooting"), flags=re.S):
        lines = block.splitlines()
        for number, line in enumerate(lines):
            if line.startswith("$ newsbeam "):
                examples.append((line[2:], lines[number + 1]))
    return examples


def test_troubleshooting_has_examples():
    assert len(troubleshooting_examples()) >= 10


@pytest.mark.parametrize(("command", "message"), troubleshooting_examples())
def test_troubleshooting_quotes_what_the_command_prints(
    command, message, tmp_path, monkeypatch, capsys
):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command)[1:]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == message


@pytest.mark.parametrize(
    "schema", [ARTICLE_SCHEMA, ENTITY_SCHEMA, REJECT_SCHEMA, DUPLICATE_SCHEMA, INDEX_SCHEMA]
)
def test_every_output_column_is_documented(schema):
    output = section("Output")
    missing = [name for name in schema.names if f"`{name}`" not in output]
    assert not missing, f"columns not described under ## Output: {missing}"
