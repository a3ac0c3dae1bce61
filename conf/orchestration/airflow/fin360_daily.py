"""fin360 daily chain on Airflow 3: bronze -> silver -> gold -> (weekly) train -> score.

Each step is one ``spark-submit`` of a thin entrypoint in ``jobs/`` (the same code path as
``fin360 run ...``), through the Spark connection ``FIN360_SPARK_CONN_ID``. The jobs are
idempotent (a rerun on the same inputs leaves the same tables), so retries are safe.

- ``{{ ds }}`` (the run's logical date) is the ``--as-of`` of gold and score: the run for day D
  starts after D ends and builds the features and scores as of D.
- Training runs once a week (``FIN360_TRAIN_WEEKDAY``, Monday=0) or when the run is triggered
  with ``{"force_train": true}``. On other days ``train`` is skipped and ``score`` still runs with
  the current ``champion``; on a training day a failed ``train`` stops ``score`` (a model that
  cannot train on today's gold usually means today's gold is wrong).
- One run at a time, no catch-up: the jobs share one lakehouse, and bronze/silver pick up every
  batch not yet processed anyway.

Deployment settings come from the scheduler's environment, read when the file is parsed:

    FIN360_SPARK_CONN_ID  Airflow Spark connection (default ``spark_default``): master URL,
                          deploy mode ``client`` (standalone clusters run Python apps in client
                          mode), ``spark_binary`` of a Spark 4.1 distribution
    FIN360_JOBS_DIR       folder holding ``jobs/*.py`` on the machine running spark-submit
    FIN360_ENV            fin360 environment, ``cluster`` by default (conf/cluster.yml)
    FIN360_PYTHON         Python 3.11 with fin360 installed, used by the driver and executors
    FIN360_TRAIN_WEEKDAY  weekday of the training run, Monday=0 (default 6, Sunday)

The driver runs on the Airflow worker (client mode), so that worker needs the conf/cluster.yml
environment variables (FIN360_LAKEHOUSE, FIN360_RAW, FIN360_CHECKPOINTS, MLFLOW_TRACKING_URI)
and FIN360_PII_KEY from a secrets backend; see conf/orchestration/README.md.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param, chain

SPARK_CONN_ID = os.environ.get("FIN360_SPARK_CONN_ID", "spark_default")
JOBS_DIR = os.environ.get("FIN360_JOBS_DIR", "/opt/fin360/jobs")
FIN360_ENV = os.environ.get("FIN360_ENV", "cluster")
FIN360_PYTHON = os.environ.get("FIN360_PYTHON", "/opt/fin360/venv/bin/python")
TRAIN_WEEKDAY = int(os.environ.get("FIN360_TRAIN_WEEKDAY", "6"))

AS_OF = "{{ ds }}"
SPARK_CONF = {
    # fin360 is installed in its own Python, not in Airflow's: the driver and the executors must
    # run the same Python minor (3.11) with the same pyspark as the cluster.
    "spark.pyspark.python": FIN360_PYTHON,
    "spark.pyspark.driver.python": FIN360_PYTHON,
}

default_args = {
    "owner": "fin360",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=2),
}


def is_training_day(ds: str, weekday: int, force_train: bool | str = False) -> bool:
    """Whether the weekly training runs in the run of logical date ``ds``.

    ``force_train`` arrives rendered from a template, so as the string ``"True"``/``"False"``.
    """
    forced = force_train is True or str(force_train).strip().lower() == "true"
    return forced or date.fromisoformat(ds).weekday() == weekday


def spark_job(task_id: str, args: list[str], timeout: timedelta, **kwargs) -> SparkSubmitOperator:
    """One ``spark-submit jobs/<task_id>.py --env ENV ARGS`` step."""
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=f"{JOBS_DIR}/{task_id}.py",
        application_args=["--env", FIN360_ENV, *args],
        name=f"fin360-{task_id}-{AS_OF}",
        conf=SPARK_CONF,
        execution_timeout=timeout,
        **kwargs,
    )


with DAG(
    dag_id="fin360_daily",
    description="fin360 lakehouse: bronze, silver, gold, weekly training, scoring",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=8),
    default_args=default_args,
    params={"force_train": Param(False, type="boolean", description="train even off-schedule")},
    tags=["fin360", "spark"],
) as dag:
    bronze = spark_job("bronze", [], timedelta(hours=1))
    silver = spark_job("silver", [], timedelta(hours=1))
    gold = spark_job("gold", ["--as-of", AS_OF], timedelta(hours=1))
    should_train = ShortCircuitOperator(
        task_id="is_training_day",
        python_callable=is_training_day,
        op_kwargs={
            "ds": AS_OF,
            "weekday": TRAIN_WEEKDAY,
            "force_train": "{{ params.force_train }}",
        },
        # skip only `train`; `score` decides by its own trigger rule
        ignore_downstream_trigger_rules=False,
        retries=0,
        execution_timeout=timedelta(minutes=5),
    )
    train = spark_job("train", [], timedelta(hours=3))
    score = spark_job(
        "score",
        ["--as-of", AS_OF],
        timedelta(hours=1),
        trigger_rule="none_failed",  # runs after a skipped train, not after a failed one
    )

    chain(bronze, silver, gold, should_train, train, score)
