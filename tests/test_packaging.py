"""`pip install .` puts one import package, newsbeam, into a fresh environment; the licence is
an SPDX expression with its LICENSE file; dependencies are ranges, pinned in constraints.txt."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

# Offline: the dev extra installs the build backend, so no isolated build environment is fetched.
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_licence_is_an_spdx_expression_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_dependencies_are_ranges_and_constraints_pin_each_within_its_range():
    pins = dict(
        re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    )
    pinned = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    project = PYPROJECT["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == "newsbeam":
            continue
        name = requirement.name.lower().replace("_", "-")
        assert not any(s.operator == "==" for s in requirement.specifier), text
        assert name in pinned, f"{name} is not in constraints.txt"
        assert pinned[name] in requirement.specifier, (text, pinned[name])
    assert set(project["optional-dependencies"]) >= {"gcp", "aws", "dask", "dev"}


@pytest.mark.slow
def test_pip_install_puts_only_newsbeam_into_a_fresh_environment(tmp_path):
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [*PIP_WHEEL, "--wheel-dir", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("newsbeam-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        names = archive.namelist()
    assert tops == {"newsbeam", wheel.name.split("-py3")[0] + ".dist-info"}
    for module in (
        "pipeline/run/cli.py",
        "schemas/arrow.py",
        "transforms/write.py",
        "transforms/block_model.json",  # the cleaner's weights, read at run time
        "__main__.py",
    ):
        assert f"newsbeam/{module}" in names

    environment = tmp_path / "fresh"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    added = {p.name for p in site.iterdir()} - {
        "pip",
        "_distutils_hack",
        "distutils-precedence.pth",
    }
    added = {name for name in added if not name.startswith(("pip-", "setuptools", "pkg_resources"))}
    assert added == {"newsbeam", wheel.name.split("-py3")[0] + ".dist-info"}
    record = site / (wheel.name.split("-py3")[0] + ".dist-info") / "top_level.txt"
    assert not record.exists() or record.read_text().split() == ["newsbeam"]


@pytest.mark.slow
def test_a_run_needs_no_dask_installed(tmp_path):
    """`make run` installs the runtime without the `dask` extra: a local run, its usage errors
    and --help must not import Dask (here made unimportable, as in that environment)."""
    blocked = "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
    seed = ROOT / "seeds" / "001_3041f91bc12e5504.txt"
    run = (
        "from newsbeam.pipeline.run.cli import main\n"
        f"sys.exit(main(['run', '--input', {str(seed)!r}, '--output', {str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked + run], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 read · 1 written" in result.stdout + result.stderr


def test_the_dask_runner_without_dask_installed_is_a_usage_error_naming_the_extra(tmp_path):
    blocked = "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
    seed = ROOT / "seeds" / "001_3041f91bc12e5504.txt"
    run = (
        "from newsbeam.pipeline.run.cli import main\n"
        f"sys.exit(main(['run', '--input', {str(seed)!r}, '--output', {str(tmp_path / 'out')!r},"
        " '--runner', 'DaskRunner']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked + run], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "pip install 'newsbeam[dask]'" in result.stderr
    assert not (tmp_path / "out").exists()
