#!/usr/bin/env bash
# Launch newsbeam's Flex Template once.
#   Batch (what the hourly schedule does):
#     PROJECT=p REGION=r BUCKET=b INPUT='gs://b/raw/*.txt' OUTPUT=gs://b/newsbeam deploy/dataflow/launch.sh
#   Streaming from Pub/Sub (runs until drained: gcloud dataflow jobs drain JOB_ID):
#     PROJECT=p REGION=r BUCKET=b OUTPUT=gs://b/newsbeam \
#       SUBSCRIPTION=projects/p/subscriptions/news deploy/dataflow/launch.sh
set -euo pipefail

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}" "${OUTPUT:?set OUTPUT}"
IMAGE="${IMAGE:-}"  # the template's image; pass it to run workers in it too (no setup.py build)

# Joined with "|" (gcloud's ^|^ delimiter syntax), so a pattern may contain commas.
parameters="output=${OUTPUT}"
if [[ -n "${SUBSCRIPTION:-}" ]]; then
    parameters+="|pubsub_subscription=${SUBSCRIPTION}|window_seconds=${WINDOW_SECONDS:-60}"
    name="newsbeam-stream-$(date -u +%Y%m%d-%H%M%S)"
else
    : "${INPUT:?set INPUT (a gs:// file pattern) or SUBSCRIPTION}"
    parameters+="|input=${INPUT}"
    name="newsbeam-$(date -u +%Y%m%d-%H%M%S)"
fi

args=(
    --project "${PROJECT}"
    --region "${REGION}"
    --template-file-gcs-location "gs://${BUCKET}/templates/newsbeam.json"
    --temp-location "gs://${BUCKET}/tmp"
    --staging-location "gs://${BUCKET}/staging"
    --parameters "^|^${parameters}"
)
if [[ -n "${IMAGE}" ]]; then
    args+=(--additional-pipeline-options "sdk_container_image=${IMAGE}")
fi
gcloud dataflow flex-template run "${name}" "${args[@]}"
