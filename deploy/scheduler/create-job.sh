#!/usr/bin/env bash
# Cloud Scheduler job that launches newsbeam's Flex Template at minute 0 of every hour.
#   PROJECT=p REGION=r BUCKET=b INPUT='gs://b/raw/*.txt' OUTPUT=gs://b/newsbeam \
#     SERVICE_ACCOUNT=scheduler@p.iam.gserviceaccount.com deploy/scheduler/create-job.sh
# The service account needs roles/dataflow.developer (and to act as the workers' account).
# A run skips the files already in OUTPUT/_inputs/, so each hour processes what arrived since.
# The job name is fixed: Dataflow refuses a second job of that name while one is still running,
# so two hourly runs never overlap.
set -euo pipefail
cd "$(dirname "$0")"

: "${PROJECT:?}" "${REGION:?}" "${BUCKET:?}" "${INPUT:?}" "${OUTPUT:?}" "${SERVICE_ACCOUNT:?}"
SCHEDULE="0 * * * *"
export BUCKET INPUT OUTPUT

body="$(envsubst '${BUCKET} ${INPUT} ${OUTPUT}' < launch-body.json)"
gcloud scheduler jobs create http newsbeam-hourly \
    --project "${PROJECT}" \
    --location "${REGION}" \
    --schedule "${SCHEDULE}" \
    --time-zone "Etc/UTC" \
    --http-method POST \
    --uri "https://dataflow.googleapis.com/v1b3/projects/${PROJECT}/locations/${REGION}/flexTemplates:launch" \
    --oauth-service-account-email "${SERVICE_ACCOUNT}" \
    --oauth-token-scope "https://www.googleapis.com/auth/cloud-platform" \
    --headers "Content-Type=application/json" \
    --message-body "${body}"
