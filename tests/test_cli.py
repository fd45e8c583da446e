"""CLI checks that need no pipeline run: flags that could write outside DIR are refused, usage
mistakes answered (exit 2) with a message that names the fix, before Beam loads."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from newsbeam.pipeline.compose.arguments import cli_parser
from newsbeam.pipeline.inspect.summary import invoked_as, run_summary
from newsbeam.pipeline.run import cli
from newsbeam.pipeline.run.cli import EXIT_USAGE, check_inputs, main
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


def newsbeam_command(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `newsbeam` command, as a user types it."""
    command = Path(sys.executable).with_name("newsbeam")
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=120)


def test_bare_newsbeam_prints_usage_and_exits_2():
    result = newsbeam_command()
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith("usage: newsbeam")
    assert "required: command" in result.stderr


def loads_beam(*args: str, module: str = "apache_beam") -> tuple[str, bool]:
    """`main(args)` in a fresh process: what it printed, and whether it imported Beam (or
    `module`)."""
    script = (
        "import sys\nfrom newsbeam.pipeline.run.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print({module!r} in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    *printed, loaded = result.stderr.strip().splitlines()
    return result.stdout + "\n".join(printed), loaded == "True"


def test_version_and_help_answer_without_loading_beam():
    result = newsbeam_command("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"newsbeam {version('newsbeam')}")
    for args in (["--help"], ["run", "--help"], ["--version"], []):
        printed, loaded = loads_beam(*args)
        assert printed.strip() and not loaded, args
    assert "--partition-by" in loads_beam("run", "--help")[0]


def test_a_usage_mistake_in_newsbeam_flags_is_answered_before_beam_loads(tmp_path):
    printed, loaded = loads_beam(
        "run", "--input", "x.txt", "--chunk_files", "-1", "--output", str(tmp_path)
    )
    assert "--chunk-files must be 0 (all at once) or positive" in printed and not loaded
    printed, _ = loads_beam(
        "run", "--input", "x.txt", "--dask-restart-every", "-1", "--output", str(tmp_path)
    )
    assert "--dask-restart-every must be 0 (never) or positive" in printed


def test_a_usage_mistake_is_answered_without_loading_pyarrow():
    # The error is printed through newsbeam.schemas.text; the package loads its Arrow schemas
    # (pyarrow, pandas: 1 s of CPU) only when one is used.
    printed, loaded = loads_beam("run", "--input", "x.txt", module="pyarrow")
    assert "needs --input PATTERN and --output DIR" in printed and not loaded


def test_every_flag_has_a_hyphen_and_an_underscore_spelling():
    parser = cli_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    for name, subparser in subcommands.items():
        for action in subparser._actions:
            long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            words = [o for o in long if "-" in o[2:] or "_" in o[2:]]
            if words:
                spelled = {o.replace("_", "-") for o in long}
                assert any("_" in o for o in long) and any("-" in o[2:] for o in long), (
                    name,
                    long,
                )
                assert len(spelled) == 1, (name, long)
    args, _ = parser.parse_known_args(
        ["run", "--chunk_files", "5", "--partition_by", "published_date"]
    )
    assert (args.chunk_files, args.partition_by) == (5, "published_date")


def test_an_output_path_that_is_a_file_is_refused_by_name(tmp_path, capsys):
    target = tmp_path / "out.txt"
    target.write_text("x")
    assert main(["run", "--input", str(SEEDS[0]), "--output", str(target)]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"newsbeam: error: --output {str(target)!r} is a file; give a folder "
        "(newsbeam creates it if missing)"
    )


@pytest.mark.parametrize("command", ["inspect", "report", "compact"])
def test_inspect_report_and_compact_on_a_file_say_it_is_a_file(command, tmp_path, capsys):
    target = tmp_path / "manifest.json"
    target.write_text("{}")
    assert main([command, str(target)]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"newsbeam: error: {str(target)!r} is a file, not a folder. "
        "Give the --output folder of a newsbeam run."
    )


@pytest.mark.parametrize(
    ("option", "path", "extra", "module"),
    [
        ("--input", "s3://bucket/raw/*.txt", "aws", "boto3"),
        ("--output", "s3://bucket/out", "aws", "boto3"),
        ("--input", "gs://bucket/raw/*.txt", "gcp", "google.cloud.storage"),
    ],
)
def test_a_cloud_path_without_its_extra_names_the_extra(option, path, extra, module, capsys):
    if cli._installed(module):
        pytest.skip(f"{module} is installed: Beam's filesystem for it is there")
    args = {"--input": str(SEEDS[0]), "--output": "out", option: path}
    assert main(["run", "--input", args["--input"], "--output", args["--output"]]) == EXIT_USAGE
    scheme = path.split("//")[0] + "//"
    assert capsys.readouterr().err.strip() == (
        f"newsbeam: error: {option} {path!r}: reading and writing {scheme} needs the "
        f"{extra!r} extra: pip install 'newsbeam[{extra}]'"
    )


def test_the_summary_names_newsbeam_as_this_shell_reaches_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    command = venv / "newsbeam"
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as(str(command), "") == ".venv/bin/newsbeam"
    monkeypatch.setenv("PATH", f"{venv}:/usr/bin:/bin")
    assert invoked_as(str(command), "") == "newsbeam"
    assert invoked_as("x", "newsbeam.__main__").endswith(" -m newsbeam")
    summary = run_summary(
        {
            "counts": {
                "read": 1,
                "written": 1,
                "rejected": 0,
                "duplicates": 0,
                "entities": 0,
                "rejected_by_reason": {},
            },
            "files": {},
        },
        1.0,
        "my out",
        ".venv/bin/newsbeam",
    )
    assert "look at it: .venv/bin/newsbeam inspect 'my out'" in summary


def test_the_defaults_help_shows_are_the_ones_the_stages_use():
    from newsbeam.transforms import defaults, read

    assert defaults.DEFAULT_MAX_BYTES == read.DEFAULT_MAX_BYTES
