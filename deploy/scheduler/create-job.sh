#!/usr/bin/env bash
# Cloud Scheduler job that launches newsbeam's Flex Template at minute 0 of every hour.
#   PROJECT=p REGION=r BUCKET=b INPUT='gs://b/raw/*.txt' OUTPUT=gs://b/newsbeam \
#     SERVICE_ACCOUNT=scheduler@p.iam.gserviceaccount.com deploy/scheduler/create-job.sh
# The service account needs roles/dataflow.developer (and to act as the workers' account).
# A run skips the files already in OUTPUT/_inputs/, so each hour processes what arrived since.
# The launch request (launch-body.json's shape, written by gcloud_input.py with json.dumps)
# names the job newsbeam-batch, as every batch launcher does: Dataflow refuses a second job of
# that name while one is still running, so two runs never overlap.
set -euo pipefail
exec python3 "$(dirname "$0")/../dataflow/gcloud_input.py" schedule
