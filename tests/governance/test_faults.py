"""Faults: a job killed with SIGKILL part-way leaves every table readable at a version it
committed, and its rerun ends with exactly the tables of an uninterrupted run; two runs of the
same job at once end with those tables too, each run either done or stopped with one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.bronze import job as bronze
from fin360.config import load_config
from fin360.gold import job as gold
from fin360.scoring import job as scoring
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


def _start(job: str, settings: dict[str, str], as_of: date | None = None) -> subprocess.Popen:
    sets = [x for k, v in settings.items() for x in ("--set", f"{k}={v}")]
    if job == "bronze":
        sets += [x for s in SOURCES for x in ("--source", s)]
    if as_of is not None:
        sets += ["--as-of", as_of.isoformat()]
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


def _contents(
    spark, cfg, layers=("bronze.", "silver.", "gold."), as_of: date | None = None
) -> dict[str, tuple[int, int]]:
    """Rows and an order-free checksum of every table of ``layers`` (of ``as_of`` only, in a
    table with an as-of date)."""
    out = {}
    for name in lake.tables(spark, cfg):
        if not name.startswith(layers):
            continue
        df = lake.read(spark, cfg, name)
        if as_of is not None and "as_of_date" in df.columns:
            df = df.where(F.col("as_of_date") == F.lit(as_of))
        row = F.xxhash64(F.to_json(F.struct(*(c for c in df.columns if c not in VOLATILE))))
        got = df.agg(F.count(F.lit(1)), F.sum(row.cast("decimal(38,0)"))).first()
        out[name] = (got[0], int(got[1] or 0))
    return out


def _readable(spark, cfg, layer: str) -> None:
    """Every table the job writes (its layer's and ``ops``'s) opens at its last commit."""
    for name in lake.tables(spark, cfg):
        if name.startswith((layer, "ops.")):
            lake.read(spark, cfg, name).count()


@pytest.fixture(scope="module")
def references(spark, generated, tmp_path_factory):
    """Uninterrupted runs, and their tables' contents: bronze on ``SOURCES``, and silver on a
    copy of that bronze (silver keeps bronze's landing times, so a silver under test starts
    from a copy of this bronze too)."""
    root = tmp_path_factory.mktemp("faults")
    raw = root / "raw"
    for source in SOURCES:
        shutil.copytree(generated[0] / source, raw / source)
    landed, _ = _lake(root / "bronze", raw)
    bronze.run(spark, landed, sources=list(SOURCES))
    built, _ = _lake(root / "silver", raw)
    shutil.copytree(landed.path("lakehouse"), built.path("lakehouse"))
    silver.run(spark, built)
    return raw, landed, _contents(spark, landed), _contents(spark, built)


def _bronze_copy(references, root: Path):
    """A lake holding a copy of the reference bronze, for silver to run on."""
    raw, landed, _, _ = references
    cfg, settings = _lake(root, raw)
    shutil.copytree(landed.path("lakehouse"), cfg.path("lakehouse"))
    return cfg, settings


def _no_duplicates(spark, cfg) -> None:
    if lake.exists(spark, cfg, "ops.dq_results"):
        dq = lake.read(spark, cfg, "ops.dq_results")
        assert dq.groupBy("table", "batches", "rule").count().where("count > 1").isEmpty()
    runs = lake.read(spark, cfg, "ops.job_runs").where("status = 'ok' and unit != '*'")
    assert runs.groupBy("job", "unit").count().where("count > 1").isEmpty()


def _twice_at_once(run: Callable[[SparkSession], object], spark) -> list[Exception | None]:
    """Two runs at once, each in its own session of this Spark application (as two jobs on
    one shared cluster): Delta sees two writers, as with two processes. Returns their errors."""
    errors: list[Exception | None] = [None, None]

    def one(i: int) -> None:
        try:
            run(spark.newSession())
        except Exception as exc:  # what the run ended with is the result
            errors[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return errors


def _rerun_twice_at_once(spark, cfg, job: str, run: Callable[[SparkSession], object]) -> None:
    """The rerun after a kill is two runs at once (a scheduler's retry and an operator's rerun):
    each ends done, or stopped by a conflict it may not retry with one line; a stopped one
    leaves what a third run completes."""
    errors = _twice_at_once(run, spark)
    for error in errors:
        assert error is None or (isinstance(error, Fin360Error) and "\n" not in str(error)), error
    # the killed run wrote no row for the whole run; the two reruns one each, and overlapped
    whole = lake.read(spark, cfg, "ops.job_runs").where(f"job = '{job}' and unit = '*'")
    (a, b) = sorted((r["started_at"], r["ended_at"]) for r in whole.collect())  # bounded: 2
    assert a[1] > b[0], "the two runs did not overlap"
    if any(errors):
        run(spark)


# job, its kill point: Delta commits of the whole lakehouse (silver's is amid the SCD2 merges,
# where a rerun once merged batches twice)
KILLS = [("bronze", 3), ("silver", 9)]


@pytest.mark.parametrize(("job", "point"), KILLS)
def test_a_killed_job_rerun_twice_at_once_ends_with_the_tables_of_an_uninterrupted_run(
    spark, references, tmp_path, job, point
):
    raw, _, landed, built = references
    cfg, settings = _lake(tmp_path, raw) if job == "bronze" else _bronze_copy(references, tmp_path)
    assert _kill_after(_start(job, settings), Path(cfg.path("lakehouse")), point) >= point
    _readable(spark, cfg, f"{job}.")
    run = {
        "bronze": lambda session: bronze.run(session, cfg, sources=list(SOURCES)),
        "silver": lambda session: silver.run(session, cfg),
    }[job]
    _rerun_twice_at_once(spark, cfg, job, run)
    assert _contents(spark, cfg) == (landed if job == "bronze" else built)
    _no_duplicates(spark, cfg)


def test_gold_and_score_killed_and_rerun_twice_at_once_end_with_the_tables_of_one_run(
    spark, scored_lake, tmp_path
):
    shared, as_of, _, _ = scored_lake  # the session's lake: gold and scores of as_of, once each
    reference = _contents(spark, shared, "gold.", as_of)
    # a copy without gold's and score's tables, and the models' store (scoring logs to it)
    cfg, settings = _lake(tmp_path, Path(shared.path("raw")))
    lakehouse = Path(cfg.path("lakehouse"))
    shutil.copytree(shared.path("lakehouse"), lakehouse, ignore=shutil.ignore_patterns("gold"))
    shutil.copy(shared["mlflow.tracking_uri"].removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    for key in ("paths.mlflow_artifacts", "anomaly.labels"):
        settings[key] = shared[key]
    cfg = cfg.with_overrides(settings)
    lake.delete(spark, cfg, "ops.job_runs", F.col("job").isin("gold", "score"))

    # gold after its first tables (the day tables), score after its customer scores
    for job, point in (("gold", 3), ("score", 1)):
        assert _kill_after(_start(job, settings, as_of=as_of), lakehouse, point) >= point
        _readable(spark, cfg, "gold.")
        run = {"gold": gold.run, "score": scoring.run}[job]
        _rerun_twice_at_once(spark, cfg, job, lambda session, run=run: run(session, cfg, as_of))
    assert _contents(spark, cfg, "gold.", as_of) == reference
    _no_duplicates(spark, cfg)
