#!/usr/bin/env bash
# Build newsbeam's Flex Template: the image (launcher + workers) and the template spec.
#   PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket deploy/dataflow/build.sh
# Optional: REPOSITORY (Artifact Registry, default newsbeam), TAG (default: the commit).
# Needs gcloud, authenticated, with Cloud Build, Artifact Registry and Dataflow enabled.
# The Cloud Build config is written as JSON by gcloud_input.py, the image name checked first.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG="${TAG:-$(git rev-parse --short HEAD)}"
export TAG
exec python3 deploy/dataflow/gcloud_input.py build
