"""Airflow: launch the newsbeam Dataflow Flex Template every hour, as Cloud Scheduler does
(deploy/scheduler). Each run reads the files under the input pattern that the output's ledger
(`_inputs/`) does not record yet, so an hour's new files are processed once.

Configuration is read from Airflow Variables when the task runs (templated, never at parse time):
newsbeam_project, newsbeam_region, newsbeam_bucket (holds templates/newsbeam.json, tmp/ and
staging/), newsbeam_input (a gs:// file pattern), newsbeam_output (a gs:// folder).
Needs apache-airflow-providers-google (and, for its Dataflow hook, -apache-beam).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator
from airflow.sdk import DAG

PROJECT = "{{ var.value.newsbeam_project }}"
REGION = "{{ var.value.newsbeam_region }}"
BUCKET = "{{ var.value.newsbeam_bucket }}"

with DAG(
    dag_id="newsbeam_hourly",
    description="newsbeam: the files that arrived in the last hour → partitioned Parquet",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    # One run at a time: a run records its inputs only once its outputs are written.
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["newsbeam", "dataflow"],
) as dag:
    launch = DataflowStartFlexTemplateOperator(
        task_id="launch_newsbeam",
        project_id=PROJECT,
        location=REGION,
        body={
            "launchParameter": {
                "jobName": "newsbeam-batch",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/newsbeam.json",
                "parameters": {
                    "input": "{{ var.value.newsbeam_input }}",
                    "output": "{{ var.value.newsbeam_output }}",
                },
                "environment": {
                    "tempLocation": f"gs://{BUCKET}/tmp",
                    "stagingLocation": f"gs://{BUCKET}/staging",
                },
            }
        },
        append_job_name=False,
        wait_until_finished=True,
    )
