"""Hand newsbeam's deploy values to gcloud as data, never spliced into JSON, YAML or a command.

The shell launchers call this script (standard library only, any Python 3.9+):
    gcloud_input.py launch     run the Flex Template once (deploy/dataflow/launch.sh)
    gcloud_input.py schedule   the hourly Cloud Scheduler job (deploy/scheduler/create-job.sh)
    gcloud_input.py build      build the image and the template (deploy/dataflow/build.sh)
Values come from the environment (PROJECT, REGION, BUCKET, INPUT, OUTPUT, ...). Each reaches
gcloud inside a JSON file (`--flags-file`, `--message-body-from-file`, `--config`) written with
json.dumps, so a quote, `|`, `,`, `=` or newline in INPUT stays inside the one value; names that
are spliced into a URL or an image reference (PROJECT, REGION, BUCKET, REPOSITORY, TAG) must
match their service's naming rules or the launch is refused.

Every launch uses one fixed job name, `newsbeam-batch` (the schedule, this script, the Airflow
DAG) or `newsbeam-stream`: Dataflow refuses a job whose name is that of a job still running, so
two batch runs never overlap whoever starts them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping

BATCH_JOB = "newsbeam-batch"
STREAM_JOB = "newsbeam-stream"
SCHEDULER_JOB = "newsbeam-hourly"
SCHEDULE = "0 * * * *"
NAMES = {
    "PROJECT": r"[a-z][a-z0-9-]{4,28}[a-z0-9](:[a-z][a-z0-9-]{4,28}[a-z0-9])?",
    "REGION": r"[a-z]+-[a-z]+[0-9]+",
    "BUCKET": r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]",
    "REPOSITORY": r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    "TAG": r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
    "WINDOW_SECONDS": r"[1-9][0-9]{0,6}",
}


class LaunchError(ValueError):
    """A value that cannot be handed to gcloud safely."""


def value(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    """An environment value; a name from NAMES must match its pattern whole."""
    found = env.get(name) or default
    if found is None:
        raise LaunchError(f"set {name}")
    pattern = NAMES.get(name)
    if pattern and not re.fullmatch(pattern, found):
        raise LaunchError(f"{name}={found!r} is not a valid name for it")
    return found


def template_parameters(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(job name, the template's parameters) of a batch run (INPUT) or a streaming run
    (SUBSCRIPTION)."""
    parameters = {"output": value(env, "OUTPUT")}
    if env.get("SUBSCRIPTION"):
        parameters["pubsub_subscription"] = env["SUBSCRIPTION"]
        parameters["window_seconds"] = value(env, "WINDOW_SECONDS", "60")
        return STREAM_JOB, parameters
    if not env.get("INPUT"):
        raise LaunchError("set INPUT (a gs:// file pattern) or SUBSCRIPTION")
    parameters["input"] = env["INPUT"]
    return BATCH_JOB, parameters


def launch_flags(env: Mapping[str, str]) -> tuple[str, dict]:
    """(job name, the `--flags-file` of `gcloud dataflow flex-template run`)."""
    bucket = value(env, "BUCKET")
    name, parameters = template_parameters(env)
    flags: dict = {
        "--project": value(env, "PROJECT"),
        "--region": value(env, "REGION"),
        "--template-file-gcs-location": f"gs://{bucket}/templates/newsbeam.json",
        "--temp-location": f"gs://{bucket}/tmp",
        "--staging-location": f"gs://{bucket}/staging",
        "--parameters": parameters,
    }
    if env.get("IMAGE"):
        flags["--additional-pipeline-options"] = [f"sdk_container_image={env['IMAGE']}"]
    return name, flags


def scheduler_body(env: Mapping[str, str]) -> dict:
    """The Flex Template launch request that Cloud Scheduler posts every hour."""
    bucket = value(env, "BUCKET")
    return {
        "launchParameter": {
            "jobName": BATCH_JOB,
            "containerSpecGcsPath": f"gs://{bucket}/templates/newsbeam.json",
            "parameters": {"input": value(env, "INPUT"), "output": value(env, "OUTPUT")},
            "environment": {
                "tempLocation": f"gs://{bucket}/tmp",
                "stagingLocation": f"gs://{bucket}/staging",
            },
        }
    }


def image(env: Mapping[str, str]) -> str:
    return (
        f"{value(env, 'REGION')}-docker.pkg.dev/{value(env, 'PROJECT')}/"
        f"{value(env, 'REPOSITORY', 'newsbeam')}/newsbeam:{value(env, 'TAG')}"
    )


def cloudbuild_config(env: Mapping[str, str]) -> dict:
    """The Cloud Build config (JSON is YAML) that builds the image from the repository root."""
    tagged = image(env)
    return {
        "steps": [
            {
                "name": "gcr.io/cloud-builders/docker",
                "args": ["build", "-f", "deploy/dataflow/Dockerfile", "-t", tagged, "."],
            }
        ],
        "images": [tagged],
    }


def _json_file(folder: str, name: str, data: object) -> str:
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    return path


def _gcloud(*args: str) -> None:
    subprocess.run(["gcloud", *args], check=True)


def launch(env: Mapping[str, str], folder: str) -> None:
    name, flags = launch_flags(env)
    flags_file = _json_file(folder, "flags.json", flags)
    _gcloud("dataflow", "flex-template", "run", name, f"--flags-file={flags_file}")


def schedule(env: Mapping[str, str], folder: str) -> None:
    project, region = value(env, "PROJECT"), value(env, "REGION")
    body = _json_file(folder, "body.json", scheduler_body(env))
    flags = {
        "--project": project,
        "--location": region,
        "--schedule": SCHEDULE,
        "--time-zone": "Etc/UTC",
        "--http-method": "POST",
        "--uri": f"https://dataflow.googleapis.com/v1b3/projects/{project}/locations/{region}"
        "/flexTemplates:launch",
        "--oauth-service-account-email": value(env, "SERVICE_ACCOUNT"),
        "--oauth-token-scope": "https://www.googleapis.com/auth/cloud-platform",
        "--headers": {"Content-Type": "application/json"},
        "--message-body-from-file": body,
    }
    flags_file = _json_file(folder, "flags.json", flags)
    _gcloud("scheduler", "jobs", "create", "http", SCHEDULER_JOB, f"--flags-file={flags_file}")


def build(env: Mapping[str, str], folder: str) -> None:
    project, region = value(env, "PROJECT"), value(env, "REGION")
    repository = value(env, "REPOSITORY", "newsbeam")
    template = f"gs://{value(env, 'BUCKET')}/templates/newsbeam.json"
    where = [f"--project={project}", f"--location={region}"]
    described = subprocess.run(
        ["gcloud", "artifacts", "repositories", "describe", repository, *where],
        capture_output=True,
    )
    if described.returncode != 0:
        _gcloud(
            "artifacts", "repositories", "create", repository, *where, "--repository-format=docker"
        )
    config = _json_file(folder, "cloudbuild.json", cloudbuild_config(env))
    _gcloud(
        "builds", "submit", f"--project={project}", f"--region={region}", f"--config={config}", "."
    )
    _gcloud(
        "dataflow", "flex-template", "build", template, f"--project={project}",
        f"--image={image(env)}", "--sdk-language=PYTHON",
        "--metadata-file=deploy/dataflow/metadata.json",
    )  # fmt: skip
    print(f"template: {template}\nimage:    {image(env)}")


COMMANDS = {"launch": launch, "schedule": schedule, "build": build}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: gcloud_input.py {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="newsbeam-deploy-") as folder:
            COMMANDS[argv[0]](os.environ, folder)
    except LaunchError as error:
        print(f"newsbeam deploy: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
