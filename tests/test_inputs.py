"""Input entries that are not readable regular files (FIFOs, sockets, devices, dangling links,
link loops, unreadable folders) are each one reject naming the path, in a real run of the CLI;
file names are escaped wherever they are printed."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.catalogue import story
from tests.conftest import ROOT, read_manifest, run_cli


def _rejects(output: Path) -> dict[str, str]:
    table = pq.read_table(output / "rejects")
    return {
        os.path.basename(row["source_uri"]): row["reason"]
        for row in table.to_pylist()
        if row["stage"] == "read"
    }


@pytest.fixture(scope="module")
def odd_entries_run(tmp_path_factory):
    """One run over a folder holding one good article and every kind of entry that is not a
    regular file; on a reader that opens them, the run blocks (hence the timeout)."""
    root = tmp_path_factory.mktemp("odd")
    inputs = root / "in"
    inputs.mkdir()
    (inputs / "good.txt").write_text(story(1))
    os.mkfifo(inputs / "fifo.txt")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(inputs / "socket.txt"))
    (inputs / "zero.txt").symlink_to("/dev/zero")
    (inputs / "dangling.txt").symlink_to(inputs / "gone.txt")
    (inputs / "loop.txt").symlink_to(inputs / "loop.txt")
    output = root / "out"
    command = [sys.executable, "-m", "newsbeam", "run", "--input", f"{inputs}/*.txt"]
    command += ["--output", str(output)]
    try:
        result = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the run blocked on an input that is not a regular file")
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def test_a_fifo_among_the_inputs_is_rejected_not_waited_on(odd_entries_run):
    assert _rejects(odd_entries_run)["fifo.txt"] == "not_a_regular_file"


def test_sockets_and_devices_among_the_inputs_are_rejected_not_read(odd_entries_run):
    rejects = _rejects(odd_entries_run)
    assert rejects["socket.txt"] == "not_a_regular_file"
    assert rejects["zero.txt"] == "not_a_regular_file"  # /dev/zero: read, it never ends


def test_dangling_symlinks_and_symlink_loops_are_rejects_not_vanished(odd_entries_run):
    rejects = _rejects(odd_entries_run)
    assert rejects["dangling.txt"] == "dangling_symlink"
    assert rejects["loop.txt"] == "symlink_loop"


def test_odd_entries_keep_the_ledger_balanced(odd_entries_run):
    counts = read_manifest(odd_entries_run)["counts"]
    assert counts["read"] == 6
    assert counts["written"] == 1 and counts["rejected"] == 5
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]


def test_a_dangling_symlink_named_literally_is_rejected(tmp_path):
    from newsbeam.transforms.inputs import unlisted_entries

    (tmp_path / "link.txt").symlink_to(tmp_path / "gone.txt")
    assert [m.path for m in unlisted_entries(str(tmp_path / "link.txt"))] == [
        str(tmp_path / "link.txt")
    ]


def _closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to `path` that other users may not enter, if any."""
    for folder in [*reversed(path.resolve().parents), path.resolve()]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def _as_nobody() -> tuple[list[str], dict]:
    """How to run `python -m newsbeam` so that folder permissions apply: as root, as the user
    `nobody`, through the system's Python of the same version with this environment's packages
    (this environment's interpreter may sit under /root, which `nobody` cannot enter)."""
    module = ["-m", "newsbeam"]
    if os.geteuid() != 0:
        return [sys.executable, *module], {}
    system = shutil.which(
        f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin"
    )
    if system is None:
        pytest.skip("running as root and no system Python of this version to run as nobody")
    boot = (
        "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'newsbeam'; "
        "runpy.run_module('newsbeam', run_name='__main__')"
    )
    packages = sysconfig.get_paths()["purelib"]
    closed = _closed_to_others(Path(packages)) or _closed_to_others(ROOT)
    if closed is not None:
        pytest.skip(f"{closed} cannot be entered by `nobody` (a private checkout, e.g. mktemp -d)")
    return [system, "-c", boot, packages], {"user": 65534, "group": 65534, "extra_groups": []}


def test_an_unreadable_sub_folder_is_a_reject_naming_it_not_skipped_silently():
    """Root lists any folder, so as root the run is made as the user `nobody`, for whom a
    folder of mode 000 really cannot be listed."""
    command, switch = _as_nobody()
    root = Path(tempfile.mkdtemp(prefix="newsbeam-unreadable-", dir="/tmp"))
    try:
        root.chmod(0o777)
        inputs = root / "in"
        (inputs / "private").mkdir(parents=True)
        (inputs / "good.txt").write_text(story(2))
        (inputs / "private" / "hidden.txt").write_text(story(3))
        (inputs / "private").chmod(0)
        inputs.chmod(0o755)
        output = root / "out"
        result = subprocess.run(
            [*command, "run", "--input", f"{inputs}/**", "--output", str(output)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "HOME": str(root)},
            **switch,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert _rejects(output) == {"private": "unreadable_folder"}
        counts = read_manifest(output)["counts"]
        assert (counts["read"], counts["written"], counts["rejected"]) == (2, 1, 1)
    finally:
        (root / "in" / "private").chmod(0o755)
        shutil.rmtree(root)


def test_a_sub_folder_the_pattern_cannot_reach_is_not_reported(tmp_path):
    """`in/*.txt` never looks inside `in/private/`: that it cannot be listed is no reject."""
    from newsbeam.transforms.inputs import unlisted_entries

    (tmp_path / "private").mkdir()
    assert unlisted_entries(f"{tmp_path}/*.txt") == []


def test_control_characters_in_a_file_name_are_escaped_for_the_terminal():
    from newsbeam.schemas.text import printable

    assert printable("in/\x1b[31mred\x07.txt") == "in/\\x1b[31mred\\x07.txt"
    assert printable("in/a\nb\u202e.txt") == "in/a\\x0ab\\u202e.txt"
    assert printable("in/café.txt") == "in/café.txt"


def test_control_characters_in_a_file_name_never_reach_the_terminal_through_inspect(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.txt").write_text(story(4))
    (inputs / "\x1b[2J\x1b]0;owned\x07.pdf").write_bytes(b"%PDF-1.4")
    result = run_cli("run", "--input", "in/*", "--output", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = run_cli("inspect", "out", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "unsupported_kind" in shown.stdout
    assert "\x1b" not in shown.stdout + shown.stderr and "\x07" not in shown.stdout
    assert "\\x1b[2J\\x1b]0;owned\\x07.pdf" in shown.stdout
