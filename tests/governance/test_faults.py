"""Faults: a job killed with SIGKILL part-way leaves every table readable at a version it
committed, and its rerun ends with exactly the tables of an uninterrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from fin360 import lake
from fin360.bronze import job as bronze
from fin360.config import load_config
from fin360.silver import job as silver
from tests.conftest import paths

# small sources that still take silver's paths: reference data, SCD2 snapshots of accounts
# and holders, entity resolution of the CRM
SOURCES = ("products", "fx_rates", "crm_customers", "core_accounts")
# columns that hold when a run happened, not what it wrote
VOLATILE = {"_ingest_ts", "quarantined_at", "evaluated_at"}


def _lake(tmp_path: Path, raw: Path):
    settings = {**paths(tmp_path), "paths.raw": str(raw)}
    return load_config("test").with_overrides(settings), settings


def _start(job: str, settings: dict[str, str]) -> subprocess.Popen:
    sets = [x for k, v in settings.items() for x in ("--set", f"{k}={v}")]
    if job == "bronze":
        sets += [x for s in SOURCES for x in ("--source", s)]
    code = "import sys; from fin360.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", job, "--env", "test", *sets],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def _commits(lakehouse: Path) -> int:
    return sum(1 for _ in lakehouse.glob("*/*/_delta_log/*.json"))


def _kill_after(process: subprocess.Popen, lakehouse: Path, commits: int) -> int:
    """SIGKILL the job once the lakehouse has ``commits`` more Delta commits than at its start;
    returns the commits it made."""
    start = _commits(lakehouse)
    deadline = time.monotonic() + 600
    while _commits(lakehouse) < start + commits:
        assert process.poll() is None, "the job ended before the kill point"
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return _commits(lakehouse) - start


def _contents(spark, cfg) -> dict[str, tuple[int, int]]:
    """Rows and an order-free checksum of every bronze and silver table."""
    out = {}
    for name in lake.tables(spark, cfg):
        if name.startswith("ops."):
            continue
        df = lake.read(spark, cfg, name)
        row = F.xxhash64(F.to_json(F.struct(*(c for c in df.columns if c not in VOLATILE))))
        got = df.agg(F.count(F.lit(1)), F.sum(row.cast("decimal(38,0)"))).first()
        out[name] = (got[0], int(got[1] or 0))
    return out


def _readable(spark, cfg) -> None:
    for name in lake.tables(spark, cfg):
        lake.read(spark, cfg, name).count()  # every table opens at its last committed version


def test_jobs_killed_part_way_rerun_to_the_tables_of_an_uninterrupted_run(
    spark, generated, tmp_path
):
    raw = tmp_path / "raw"
    for source in SOURCES:
        shutil.copytree(generated[0] / source, raw / source)
    reference, _ = _lake(tmp_path / "reference", raw)
    cfg, settings = _lake(tmp_path / "killed", raw)
    lakehouse = Path(cfg.path("lakehouse"))
    kills = []

    # bronze: killed after its third commit, then run again
    bronze.run(spark, reference, sources=list(SOURCES))
    kills.append(_kill_after(_start("bronze", settings), lakehouse, 3))
    _readable(spark, cfg)
    bronze.run(spark, cfg, sources=list(SOURCES))
    landed = _contents(spark, cfg)
    assert landed == _contents(spark, reference)

    # silver on the same bronze (silver keeps bronze's landing times): uninterrupted...
    shutil.rmtree(reference.path("lakehouse"))
    shutil.copytree(lakehouse, reference.path("lakehouse"))
    silver.run(spark, reference)
    # ...and killed twice: after the first table's commits, and amid the snapshot tables'
    for point in (9,):
        kills.append(_kill_after(_start("silver", settings), lakehouse, point))
        _readable(spark, cfg)
    silver.run(spark, cfg)

    assert _contents(spark, cfg) == _contents(spark, reference)
    dq = lake.read(spark, cfg, "ops.dq_results")
    assert dq.groupBy("table", "batches", "rule").count().where("count > 1").isEmpty()
    runs = lake.read(spark, cfg, "ops.job_runs").where("status = 'ok' and unit != '*'")
    assert runs.groupBy("job", "unit").count().where("count > 1").isEmpty()
    assert [k >= p for k, p in zip(kills, (3, 9), strict=True)] == [True] * 2
