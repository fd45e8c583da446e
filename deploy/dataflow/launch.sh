#!/usr/bin/env bash
# Launch newsbeam's Flex Template once.
#   Batch (what the hourly schedule does), as job newsbeam-batch:
#     PROJECT=p REGION=r BUCKET=b INPUT='gs://b/raw/*.txt' OUTPUT=gs://b/newsbeam deploy/dataflow/launch.sh
#   Streaming from Pub/Sub, as job newsbeam-stream (runs until drained: gcloud dataflow jobs drain JOB_ID):
#     PROJECT=p REGION=r BUCKET=b OUTPUT=gs://b/newsbeam \
#       SUBSCRIPTION=projects/p/subscriptions/news deploy/dataflow/launch.sh
# IMAGE (optional): the template's image, to run the workers in it too (no setup.py build).
# The job name is fixed, so Dataflow refuses a launch while the same kind of job still runs.
# Values reach gcloud as data in a JSON flags file (gcloud_input.py), never spliced into flags.
set -euo pipefail
exec python3 "$(dirname "$0")/gcloud_input.py" launch
