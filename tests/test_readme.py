"""The README and docs/ run: their queries against a real output, their troubleshooting messages
against the command, their schema tables against the Arrow schemas, and the map of the source tree
against the folders."""

from __future__ import annotations

import posixpath
import re
import shlex
import shutil

import duckdb
import pytest

from newsbeam.pipeline.run.cli import EXIT_USAGE, main
from newsbeam.schemas import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    ENTITY_SCHEMA,
    INDEX_SCHEMA,
    REJECT_SCHEMA,
)
from tests.conftest import ROOT

TESTS = ROOT / "tests"
DOCS = ROOT / "docs"
README_MAX_BYTES = 15_000

README = (ROOT / "README.md").read_text()
PAGES = {
    path.relative_to(ROOT).as_posix(): path.read_text()
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
}


def page(name: str) -> str:
    return PAGES[f"docs/{name}"]


def blocks(language: str, text: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def examples(language: str) -> list[tuple[str, str]]:
    """(page, block) for every `language` code block of the README and docs/."""
    return [(name, block) for name, text in PAGES.items() for block in blocks(language, text)]


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_readme_is_short_and_points_to_every_docs_page():
    assert len(README.encode()) < README_MAX_BYTES
    for path in DOCS.glob("*.md"):
        assert f"](docs/{path.name})" in README, f"README does not link docs/{path.name}"


def test_readme_has_query_examples():
    assert blocks("sql", README) and blocks("python", README)


def test_relative_links_between_pages_lead_to_files_that_exist():
    for name, text in PAGES.items():
        folder = (ROOT / name).parent
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (folder / target).exists(), f"{name} links to missing {target}"


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_links_to_sections_lead_to_headings_that_exist():
    for name, text in PAGES.items():
        for target, fragment in re.findall(r"\]\(([^)#:]*)#([^)]+)\)", text):
            folder = posixpath.dirname(name)
            linked = posixpath.normpath(posixpath.join(folder, target)) if target else name
            headings = re.findall(r"^#+ (.+)$", PAGES[linked], flags=re.M)
            assert fragment in {anchor(h) for h in headings}, f"{name} → {target}#{fragment}"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "block"), examples("sql"))
def test_sql_examples_run_in_duckdb(name, block, seeds_output, monkeypatch):
    monkeypatch.chdir(seeds_output.parent)
    con = duckdb.connect()
    for statement in filter(str.strip, block.split(";")):
        assert con.sql(statement).fetchall(), f"{name}: {statement}"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "block"), examples("python"))
def test_python_examples_run(name, block, seeds_output, monkeypatch):
    monkeypatch.chdir(seeds_output.parent)
    exec(compile(block, name, "exec"), {})


def test_every_row_of_the_hostile_input_catalogue_names_tests_that_exist():
    text = page("hostile-input.md")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) > 30
    for row in rows:
        named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", row.rsplit("|", 2)[-2])
        assert named, f"no test named for: {row[:80]}"
        for file, function in named:
            assert f"def {function}(" in (TESTS / file).read_text(), f"{file}::{function}"


def troubleshooting_examples(text: str) -> list[tuple[str, str]]:
    """(command, the message printed) for each `$ newsbeam …` line of Troubleshooting."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", section(text, "Troubleshooting"), flags=re.S):
        lines = block.splitlines()
        for number, line in enumerate(lines):
            if line.startswith("$ newsbeam "):
                found.append((line[2:], lines[number + 1]))
    return found


def test_troubleshooting_has_examples():
    assert len(troubleshooting_examples(page("operations.md"))) >= 10
    assert troubleshooting_examples(README)


@pytest.mark.parametrize(
    ("command", "message"),
    sorted(set(troubleshooting_examples(page("operations.md")) + troubleshooting_examples(README))),
)
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
    output = page("output.md")
    missing = [name for name in schema.names if f"`{name}`" not in output]
    assert not missing, f"columns not described in docs/output.md: {missing}"


MAPPED = ("schemas", "transforms", "pipeline", "deploy")
FILE_NAME = re.compile(r"\b(?:[\w-]+\.(?:py|sh|json|txt|md|toml)|Dockerfile|Makefile)\b")


def source_map() -> set[str]:
    """The files named in the map of docs/how-it-works.md, as paths: a line that starts at the
    margin with `folder/` opens a folder, an indented `sub/` a subfolder of it."""
    text = section(page("how-it-works.md"), "The source tree")
    named: set[str] = set()
    folder = sub = ""
    for line in blocks("text", text)[0].splitlines():
        first = line.split()[0] if line.strip() else ""
        if first.endswith("/") and not line.startswith(" "):
            folder, sub = first, ""
        elif first.endswith("/"):
            sub = first
        elif not line.startswith(" "):
            folder = sub = ""
        named.update(folder + sub + name for name in FILE_NAME.findall(line))
    return named


def test_the_source_map_names_every_module_and_only_files_that_exist():
    named = source_map()
    missing_files = sorted(path for path in named if not (ROOT / path).is_file())
    assert not missing_files, f"the map names files that do not exist: {missing_files}"
    present = {
        path.relative_to(ROOT).as_posix()
        for folder in MAPPED
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    unmapped = sorted(present - named)
    assert not unmapped, f"docs/how-it-works.md's map does not name: {unmapped}"


def test_the_source_map_fits_on_one_screen():
    text = section(page("how-it-works.md"), "The source tree")
    lines = blocks("text", text)[0].splitlines()
    assert len(lines) <= 50
    assert max(map(len, lines)) <= 100
