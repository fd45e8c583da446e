"""Duplicates end to end: the real CLI, in one process and in several, and rerun into its output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from newsbeam.schemas import reader_partitioning
from tests.conftest import SEEDS, read_manifest, run_cli
from tests.test_dedup import EDITS_000, edit

pytestmark = pytest.mark.slow

OTHER_BANNER = ("Spread the love\n\n", "\n\nBack to top button\n")


def articles(output: Path) -> dict[str, str]:
    """{source file name: article_id} of the articles in `output`."""
    table = ds.dataset(output / "articles", partitioning=reader_partitioning()).to_table()
    return {
        Path(uri).name: article_id
        for uri, article_id in zip(
            table.column("source_uri").to_pylist(),
            table.column("article_id").to_pylist(),
            strict=True,
        )
    }


def duplicates(output: Path) -> list[tuple[str, str, str, float, str]]:
    rows = ds.dataset(output / "duplicates").to_table().to_pylist()
    return sorted(
        (
            Path(r["source_uri"]).name,
            r["article_id"],
            r["duplicate_of"],
            r["similarity"],
            r["reason"],
        )
        for r in rows
    )


def balanced(output: Path) -> dict:
    counts = read_manifest(output)["counts"]
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    return counts


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds 000–002, an exact copy of 000 under other banners, and 000 with a few words edited."""
    folder = tmp_path_factory.mktemp("copies")
    for seed in SEEDS[:3]:
        shutil.copy(seed, folder / seed.name)
    text = SEEDS[0].read_text(encoding="utf-8")
    top, bottom = OTHER_BANNER
    (folder / "100_banner_copy.txt").write_text(top + text + bottom, encoding="utf-8")
    (folder / "101_edited_copy.txt").write_text(edit(text, EDITS_000), encoding="utf-8")
    return folder


def test_one_process_and_several_processes_find_the_same_duplicates(copies, tmp_path):
    outputs = {}
    for mode, extra in (
        ("in_memory", []),
        ("multi_processing", ["--direct_num_workers", "2"]),
    ):
        output = tmp_path / mode
        result = run_cli(
            "run",
            "--input",
            f"{copies}/*.txt",
            "--output",
            str(output),
            "--direct_running_mode",
            mode,
            *extra,
        )
        assert result.returncode == 0, result.stderr
        outputs[mode] = output

    one, several = outputs["in_memory"], outputs["multi_processing"]
    assert articles(one) == articles(several)
    assert duplicates(one) == duplicates(several)
    counts = balanced(one)
    assert (counts["read"], counts["written"], counts["duplicates"]) == (5, 3, 2)

    kept = articles(one)
    found = {name: (of, similarity, reason) for name, _, of, similarity, reason in duplicates(one)}
    ids = kept | {name: article_id for name, article_id, *_ in duplicates(one)}
    assert {SEEDS[1].name, SEEDS[2].name} <= set(kept)  # 000 and 001: same event, both kept
    # 000, its banner copy and its edited copy are one story: all undated, so the smallest id is
    # kept, and the others point at it, "exact" when the body is the same, else "near".
    exact_pair = {SEEDS[0].name, "100_banner_copy.txt"}
    cluster = exact_pair | {"101_edited_copy.txt"}
    (original,) = cluster & set(kept)
    assert ids[original] == min(ids[name] for name in cluster)
    for name in cluster - {original}:
        of, similarity, reason = found[name]
        assert of == ids[original]
        if {name, original} == exact_pair:
            assert (similarity, reason) == (1.0, "exact")
        else:
            assert reason == "near" and 0.9 <= similarity < 1.0
    index = ds.dataset(one / "_index").to_table()
    assert sorted(index.column("article_id").to_pylist()) == sorted(kept.values())


def rebannered_copies(folder: Path) -> Path:
    """Every seed under a new name with other banners; seed 000 also with a few words edited."""
    folder.mkdir()
    top, bottom = OTHER_BANNER
    for seed in SEEDS:
        text = seed.read_text(encoding="utf-8")
        (folder / f"again-{seed.name}").write_text(top + text + bottom, encoding="utf-8")
    edited = edit(SEEDS[0].read_text(encoding="utf-8"), EDITS_000)
    (folder / "again-edited.txt").write_text(top + edited + bottom, encoding="utf-8")
    return folder


def test_a_second_run_over_copies_adds_no_article(seeds_output, tmp_path):
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    before = articles(output)
    inputs = rebannered_copies(tmp_path / "again")

    result = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))

    assert result.returncode == 0, result.stderr
    counts = balanced(output)
    assert (counts["read"], counts["written"], counts["duplicates"]) == (6, 0, 6)
    assert counts["duplicates_by_reason"] == {"already_in_output": 6}
    assert articles(output) == before
    found = {
        name: (of, similarity, reason) for name, _, of, similarity, reason in duplicates(output)
    }
    for seed in SEEDS:
        assert found[f"again-{seed.name}"] == (before[seed.name], 1.0, "already_in_output")
    of, similarity, reason = found["again-edited.txt"]
    assert (of, reason) == (before[SEEDS[0].name], "already_in_output")
    assert 0.9 <= similarity < 1.0


def test_dedup_against_another_output(seeds_output, tmp_path):
    inputs = rebannered_copies(tmp_path / "again")
    output = tmp_path / "elsewhere"
    result = run_cli(
        "run",
        "--input",
        f"{inputs}/*.txt",
        "--output",
        str(output),
        "--dedup-against",
        str(seeds_output),
    )
    assert result.returncode == 0, result.stderr
    counts = balanced(output)
    assert (counts["written"], counts["duplicates"]) == (0, 6)
    assert {of for _, _, of, _, _ in duplicates(output)} == set(articles(seeds_output).values())


def test_bad_dedup_options_are_clear_errors(tmp_path):
    base = ["run", "--input", str(SEEDS[0]), "--output", str(tmp_path / "out")]
    result = run_cli(*base, "--near-duplicate-threshold", "1.5")
    assert result.returncode == 2
    assert "--near-duplicate-threshold must be between 0 and 1" in result.stderr
    result = run_cli(*base, "--dedup-against", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "is not a newsbeam output" in result.stderr
