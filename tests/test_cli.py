"""CLI checks that need no pipeline run: flags that could write outside DIR are refused."""

from __future__ import annotations

import pytest

from pipeline.cli import EXIT_USAGE, check_inputs, main
from tests.conftest import SEEDS


@pytest.mark.parametrize("run_id", ["../escape", "a/b", ".hidden", "x\x00y", "", "a" * 101])
def test_a_run_id_that_could_leave_the_output_folder_is_refused(run_id, tmp_path, capsys):
    args = ["run", "--input", str(SEEDS[0]), "--output", str(tmp_path / "out"), "--run-id", run_id]
    assert main(args) == EXIT_USAGE
    assert "--run-id" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_files_matched_twice_are_counted_once(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    patterns = [f"{tmp_path}/*.txt", f"{tmp_path}/./a.txt", f"{tmp_path}/a.txt"]
    assert check_inputs(patterns) == [f"{tmp_path}/a.txt"]
