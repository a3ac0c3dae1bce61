"""The daily chain spark-submitted to a real standalone cluster: a master and two worker JVMs
on 127.0.0.1, the packaged code shipped with ``--py-files``, MLflow as a tracking server.

``spark-submit jobs/all.py --env cluster --no-train`` exactly as the README gives it, on the tiny
generated data: bronze, silver, gold, score and the report in one application. Executors run
in the workers' JVMs and Python workers, so anything that only works in one process (closures
over driver state, driver-local paths, a missing checkpoint dir, code not shipped) fails here.
``jobs/<job>.py`` are the same ``fin360 run <job>`` code path, one application each.

Scoring uses the champions the session trained on the same generated data (``scored_lake``),
served by the tracking server from a copy of their store. ``jobs/train.py`` runs on such a
cluster too, but takes 4.5 minutes here (see the README), too long for every test run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fin360 import lake, packaging
from fin360.config import load_config
from fin360.governance.audit import JOB_RUNS
from fin360.scoring import job as scoring
from tests.cluster.standalone import SPARK_HOME, Cluster, leftovers

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
# test-sized windows (conf/test.yml); everything else is conf/cluster.yml as users run it
OVERRIDES = [
    "spark.shuffle_partitions=4",
    "anomaly.window_days=4",
    "anomaly.history_days=6",
    "graph.pagerank_tol=1e-4",
]

# where the executors import fin360 from, and in which worker's directory they run
PROBE = """
import json
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
def where(_):
    import os, fin360
    return fin360.__file__, os.getcwd()
print("PROBE", json.dumps(spark.sparkContext.parallelize(range(8), 8).map(where).collect()))
spark.stop()
"""


def submit(cluster: Cluster, dist: Path, script: Path, *args: str) -> str:
    packages = (dist / packaging.PACKAGES_FILE).read_text().strip()
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master", cluster.master_url, "--deploy-mode", "client",
        "--packages", packages, "--py-files", str(dist / packaging.ZIP_NAME),
        "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=1g",
        "--conf", "spark.cores.max=2", "--conf", "spark.ui.enabled=false",
        # Delta rebuilds table state in 50 partitions by default: far too many for tiny tables
        "--conf", "spark.databricks.delta.snapshotPartitions=2",
        str(script), *args,
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cluster.root, env=cluster.env, capture_output=True, text=True, timeout=900
    )
    seconds = time.monotonic() - started
    (cluster.root / "logs" / f"{script.stem}.log").write_text(result.stderr + result.stdout)
    print(f"spark-submit {script.name}: exit {result.returncode} in {seconds:.0f} s")
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).splitlines()[-40:])
        pytest.fail(f"{script.name} {' '.join(args)} exited {result.returncode}:\n{tail}")
    return result.stdout


def test_pipeline_runs_on_a_standalone_cluster(spark, generated, scored_lake, tmp_path):
    raw, truth, manifest = generated
    trained_cfg, _, trained, _ = scored_lake
    as_of = manifest["end_date"]
    root = tmp_path / "cluster"
    (root / "mlflow").mkdir(parents=True)
    # the session's champions, served by the tracking server from a copy of their store
    shutil.copy(trained_cfg["mlflow.tracking_uri"].removeprefix("sqlite:///"), root / "mlflow")
    dist = root / "dist"
    # conf/cluster.yml reads every location from the environment
    env = {
        "FIN360_CONF_DIR": str(REPO / "conf"),  # the driver imports fin360 from the zip
        "FIN360_LAKEHOUSE": str(root / "lakehouse"),
        "FIN360_RAW": str(raw),
        "FIN360_TRUTH": str(truth),
        "FIN360_CHECKPOINTS": str(root / "checkpoints"),
        "PYTHONPATH": "",  # only what spark-submit puts there: the zip and pyspark
    }
    packaging.package(load_config("test"), dist, wheel=False)
    cluster = Cluster(root, env=env)
    with cluster:
        cluster.env["MLFLOW_TRACKING_URI"] = cluster.mlflow_url
        probe = root / "probe.py"
        probe.write_text(PROBE)
        where = json.loads(submit(cluster, dist, probe).split("PROBE ", 1)[1])
        assert all(path.endswith("fin360.zip/fin360/__init__.py") for path, _ in where), where
        workers = {Path(cwd).relative_to(root).parts[0] for _, cwd in where}
        assert workers == {"worker-0", "worker-1"}, where

        options = ["--env", "cluster", *(f"--set={o}" for o in OVERRIDES)]
        reports = root / "reports"
        summary = submit(cluster, dist, REPO / "jobs/all.py", *options, "--as-of", as_of,
                         "--no-train", f"--set=paths.reports={reports}")  # fmt: skip
        apps = cluster.applications()
    groups = [p.popen.pid for p in cluster.processes]

    # every process we started is gone, with its executors and Python workers
    assert all(p.popen.returncode is not None for p in cluster.processes)
    assert leftovers(root, groups) == []

    # two applications (the probe, the chain), each with executors in both worker JVMs
    assert len(apps) == 2 and all(a["state"] == "FINISHED" for a in apps), apps
    for worker in ("worker-0", "worker-1"):
        assert {d.name for d in (root / worker).iterdir()} == {a["id"] for a in apps}
    # the chain's summary, and its report on the driver's disk
    assert "fin360 run all: done" in summary and "not asked to: champions kept" in summary
    assert (reports / f"fin360-report-{as_of}.html").is_file(), sorted(reports.iterdir())

    cfg = load_config("test").with_overrides(
        {"paths.lakehouse": str(root / "lakehouse"), "paths.checkpoints": str(root / "ck")}
    )
    runs = lake.read(spark, cfg, JOB_RUNS).where("unit = '*'").toPandas()
    assert sorted(runs["job"]) == ["bronze", "gold", "score", "silver"]
    assert set(runs["status"]) == {"ok"} and set(runs["env"]) == {"cluster"}

    customers = lake.read(spark, cfg, "gold.customer_360").count()
    scores = lake.read(spark, cfg, scoring.CUSTOMER_SCORES).where(f"as_of_date = '{as_of}'")
    assert customers > 0 and scores.count() == customers
    versions = {r[0] for r in scores.select("risk_model_version").distinct().collect()}
    assert versions == {trained["risk"]["version"]}
    alerts = lake.read(spark, cfg, scoring.TRANSACTION_ALERTS).where(f"as_of_date = '{as_of}'")
    assert alerts.where("is_alert").count() >= 1
    assert lake.read(spark, cfg, scoring.NEXT_BEST_OFFER).count() > 0
