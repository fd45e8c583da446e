#!/usr/bin/env bash
# Build newsbeam's Flex Template: the image (launcher + workers) and the template spec.
#   PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket deploy/dataflow/build.sh
# Needs gcloud, authenticated, with Cloud Build, Artifact Registry and Dataflow enabled.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}"
REPOSITORY="${REPOSITORY:-newsbeam}"
TAG="${TAG:-$(git rev-parse --short HEAD)}"
IMAGE="${REGION}-docker.pkg.dev/${PROJECT}/${REPOSITORY}/newsbeam:${TAG}"
TEMPLATE="gs://${BUCKET}/templates/newsbeam.json"

gcloud artifacts repositories describe "${REPOSITORY}" --project "${PROJECT}" \
    --location "${REGION}" >/dev/null 2>&1 ||
    gcloud artifacts repositories create "${REPOSITORY}" --project "${PROJECT}" \
        --location "${REGION}" --repository-format docker

# The Dockerfile copies pyproject.toml, setup.py and the three packages from the repository root.
gcloud builds submit --project "${PROJECT}" --region "${REGION}" \
    --config /dev/stdin . <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, -f, deploy/dataflow/Dockerfile, -t, "${IMAGE}", .]
images: ["${IMAGE}"]
YAML

gcloud dataflow flex-template build "${TEMPLATE}" \
    --project "${PROJECT}" \
    --image "${IMAGE}" \
    --sdk-language PYTHON \
    --metadata-file deploy/dataflow/metadata.json

echo "template: ${TEMPLATE}"
echo "image:    ${IMAGE}"
