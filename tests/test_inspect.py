"""`newsbeam inspect` and the run summary: numbers read back from an output, as plain text."""

from __future__ import annotations

import subprocess
import sys

import pytest

from newsbeam.pipeline.inspect.stats import (
    BoilerplateStats,
    CopiedStory,
    DuplicateStats,
    EntityStats,
    Partition,
    RejectStats,
    read_output,
)
from newsbeam.pipeline.inspect.summary import cell, inspect_text, run_summary, size, text_table
from newsbeam.pipeline.run.cli import EXIT_BROKEN_PIPE, EXIT_USAGE, main
from tests.conftest import ROOT, read_manifest
from tests.outputs import A1, write_output


def test_text_tables_align_numbers_right_and_cut_long_text():
    table = text_table(["name", "count"], [("a", 1_234), ("a much longer name", 5)])
    assert table.splitlines() == [
        "  name                count",
        "  ------------------  -----",
        "  a                   1,234",
        "  a much longer name      5",
    ]
    assert cell("x" * 100, 10) == "x" * 9 + "…"
    assert cell(None) == "-"
    assert cell("two\nlines") == "two lines"


def test_sizes_read_like_a_person_writes_them():
    assert [size(n) for n in (0, 999, 64_164, 3_100_000)] == ["0 B", "999 B", "64.2 kB", "3.1 MB"]


def test_an_output_is_read_into_every_figure(tmp_path):
    stats = read_output(str(write_output(tmp_path)))
    assert {t.name: t.rows for t in stats.tables} == {
        "articles": 3,
        "entities": 3,
        "rejects": 2,
        "duplicates": 2,
        "_index": 0,
    }
    assert stats.partitions == [
        Partition("2023-03-02", None, 2, 1),
        Partition("unknown", None, 1, 1),
    ]
    assert stats.per_day == {"2023-03-02": {"bbc": 1, "cnn": 1}, "unknown": {"unknown": 1}}
    assert [(s.source, s.name, s.first_date) for s in stats.sources] == [
        ("bbc", "BBC", "2023-03-02"),
        ("cnn", "CNN", "2023-03-02"),
        ("unknown", None, None),
    ]
    assert stats.entities == [
        EntityStats("Xi Jinping", "PERSON", 2, 5),
        EntityStats("Moscow", "GPE", 1, 2),
    ]
    assert stats.boilerplate == [
        BoilerplateStats("banner", 2, 2, len("Spread the love") + len("Subscribe now")),
        BoilerplateStats("related", 1, 1, len("Similar News")),
    ]
    assert [(r.stage, r.reason, r.count, r.example) for r in stats.rejects] == [
        ("read", "empty_file", 1, "in/empty.txt"),
        ("validate", "word_count:value_error", 1, "in/short.txt"),
    ]
    assert isinstance(stats.rejects[0], RejectStats)
    assert stats.duplicates == [DuplicateStats("exact", 1, 1.0), DuplicateStats("near", 1, 0.5)]
    assert stats.most_copied == [CopiedStory(A1, "Xi goes to <Moscow>", 2)]


def test_an_output_partitioned_by_day_and_source_is_read_by_folder(tmp_path):
    stats = read_output(str(write_output(tmp_path, "published_date,source")))
    assert stats.partitions == [
        Partition("2023-03-02", "bbc", 1, 1),
        Partition("2023-03-02", "cnn", 1, 1),
        Partition("unknown", "unknown", 1, 1),
    ]
    assert stats.per_day == {"2023-03-02": {"bbc": 1, "cnn": 1}, "unknown": {"unknown": 1}}


def test_inspect_prints_every_section_as_a_table(tmp_path, capsys):
    folder = write_output(tmp_path)
    assert main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "last run 20230302T120000-abcdef, finished 2023-03-02 12:00:05 UTC" in out
    for title in (
        "tables",
        "partitions of articles/ (2)",
        "top sources",
        "top entities",
        "boilerplate removed, by kind",
        "rejects by reason",
        "duplicates",
    ):
        assert f"\n{title}" in out, title
    assert "  2023-03-02             2      1" in out
    assert "  Xi Jinping  PERSON         2         5" in out
    assert "  validate  word_count:value_error      1  in/short.txt" in out
    assert "  near         1             0.50" in out


def test_inspect_says_when_a_section_is_empty(tmp_path):
    (tmp_path / "articles").mkdir()
    text = inspect_text(read_output(str(tmp_path)), top=5)
    assert "no _manifest.json" in text
    assert "no rejects: every input became an article or a duplicate" in text
    assert "no duplicates" in text and "no entities" in text


def test_the_run_summary_gives_rows_reasons_and_what_to_do_next():
    manifest = {
        "counts": {
            "read": 10,
            "written": 5,
            "rejected": 3,
            "duplicates": 2,
            "entities": 180,
            "rejected_by_reason": {"empty_file": 1, "invalid_json": 2},
            "duplicates_by_reason": {"exact": 2},
        },
        "files": {"articles": ["a", "b"], "entities": ["c"], "rejects": ["d"]},
    }
    assert run_summary(manifest, 4.0, "out").splitlines() == [
        "newsbeam: 10 read · 5 written · 3 rejected · 2 duplicates · 180 entity rows "
        "in 4.0 s (2.5 docs/s)",
        "  articles    out/articles  (5 rows in 2 new files)",
        "  entities    out/entities  (180 rows in 1 new files)",
        "  rejects     out/rejects  (3 rows in 1 new files)",
        "  rejected: 1 × empty_file",
        "  rejected: 2 × invalid_json",
        "  duplicate: 2 × exact",
        "  manifest    out/_manifest.json",
        "  look at it: newsbeam inspect out  ·  newsbeam report out -o out/report.html",
    ]


@pytest.mark.slow
def test_inspect_on_a_real_run_matches_its_manifest(mixed_output, capsys):
    counts = read_manifest(mixed_output)["counts"]
    stats = read_output(str(mixed_output))
    assert stats.rows("articles") == counts["written"] == 5
    assert stats.rows("rejects") == counts["rejected"] == 3
    assert stats.rows("duplicates") == counts["duplicates"] == 2
    assert stats.rows("entities") == counts["entities"]
    assert sum(r.count for r in stats.rejects) == 3
    assert {r.reason for r in stats.rejects} == set(counts["rejected_by_reason"])
    assert sum(p.articles for p in stats.partitions) == 5
    assert stats.entities[0].articles == 5
    assert main(["inspect", str(mixed_output), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "empty_file" in out and "invalid_json" in out and "exact" in out


def test_a_column_of_nothing_but_gaps_stays_left_aligned():
    assert text_table(["date", "n"], [(None, 1), (None, 22)]).splitlines()[2:] == [
        "  -      1",
        "  -     22",
    ]


def cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_inspect_names_a_folder_that_is_no_output(capsys, tmp_path):
    code, err = cli(capsys, "inspect", str(tmp_path))
    assert code == EXIT_USAGE
    assert "is not a newsbeam output (it has no _manifest.json and no articles/)" in err
    code, err = cli(capsys, "inspect", str(tmp_path / "missing"))
    assert code == EXIT_USAGE
    assert "does not exist. Give the --output folder of a newsbeam run." in err


def test_inspect_into_a_pager_that_quits_early_stops_quietly(tmp_path):
    folder = write_output(tmp_path / "out")
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbeam", "inspect", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert "Traceback" not in errors and "BrokenPipe" not in errors
