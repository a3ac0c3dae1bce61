"""``fin360 bench pipeline``: the whole chain at several scale factors, measured against floors.

For each number of customers the generator writes a bank (kept under ``--work`` and reused
when asked for again), then each run starts a fresh process, with its own JVM, that runs the
chain of ``fin360 run all`` on a new lakehouse and measures every stage:

- wall seconds, rows in and out, rows per second;
- Spark's own task metrics of the stage's Spark jobs, summed from the application's status
  store (the REST API of the driver's UI on 127.0.0.1): executor run time, input bytes,
  shuffle read and write bytes, bytes spilled from memory and to disk;
- peak resident memory of the driver JVM (which runs every task in local mode) and of the
  Python driver, sampled every 0.2 s.

In the same process, on the same files, the floors:

- ``bronze``: plain Spark reads each source's raw files with the declared format (strings
  for text formats, no checks, no lineage columns) and writes them once as Delta;
- ``silver``: plain Spark reads every bronze table and writes it once as Delta, a lower bound
  for any transform of that data;
- ``gold``: :data:`GOLD_SQL`, the core of gold's transaction features (30/90/365-day
  counts, spend, ticket size, distinct counterparties per customer), run as Spark SQL into a
  Delta table and by DuckDB over the same silver Parquet files into a Parquet file, with
  DuckDB given as many threads as Spark has cores.

Training and scoring have no floor; scoring is reported in customers per second per core.

Then the daily run: the full build lands every delivery but each source's latest (a view of
hard links), and once the floors are measured the chain runs again without training on every
delivery, so bronze, silver, gold and scoring take just the latest one, as a scheduled run
does the day after; its seconds are compared with the same stages of the full build.

The results (``<date>-<machine>.json`` in ``paths.bench_results``) give per run the stages
and floors, per stage the scaling exponent between the two largest factors
(``log(t2/t1) / log(n2/n1)``: 1 is linear) and, when several core counts ran, the speed-up.
A plot of seconds against customers is written next to the JSON; ``fin360 report`` shows both.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fin360 import Fin360Error, catalog
from fin360.config import Config, ConfigError, load_config

log = logging.getLogger("fin360.bench")  # also when run as a module

STAGES = ("bronze", "silver", "gold", "train", "score", "report")
# what a day costs between retrainings: the increment runs these, and they are compared with
# the same stages of the full build
DAILY_STAGES = ("bronze", "silver", "gold", "score")
FLOORS = {"bronze": "bronze_spark", "silver": "silver_spark", "gold": "gold_spark_sql"}
FLOOR_COLUMNS = {
    "bronze_spark": "floor bronze",
    "silver_spark": "floor silver",
    "gold_spark_sql": "floor gold (Spark SQL)",
    "gold_duckdb": "floor gold (DuckDB)",
}
SAMPLE_SECONDS = 0.2
# Spark's status store keeps this many stages and jobs (default 1,000): a whole chain has more
STATUS_CONF = {
    "spark.ui.enabled": "true",
    "spark.ui.port": "0",  # any free port: a bench never collides with another Spark UI
    "spark.ui.retainedStages": "100000",
    "spark.ui.retainedJobs": "100000",
    "spark.ui.retainedTasks": "1000",
    "spark.sql.ui.retainedExecutions": "100",
}
# summed over a stage's Spark stages: (REST field, result key, scale)
TASK_METRICS = (
    ("executorRunTime", "executor_run_seconds", 1e-3),
    ("inputBytes", "input_bytes", 1),
    ("outputBytes", "output_bytes", 1),
    ("shuffleReadBytes", "shuffle_read_bytes", 1),
    ("shuffleWriteBytes", "shuffle_write_bytes", 1),
    ("memoryBytesSpilled", "spill_memory_bytes", 1),
    ("diskBytesSpilled", "spill_disk_bytes", 1),
)

# The core of gold's transaction features, in the SQL both Spark and DuckDB speak. {as_of} and
# the window starts are date literals; the tables are views over silver.
GOLD_SQL = """
WITH owners AS (
    SELECT DISTINCT h.account_id, x.customer_id
    FROM account_holder h
    JOIN customer_xref x ON x.entity = 'customer' AND x.source_key = h.customer_src_id
    WHERE h.role IN ('owner', 'joint')
),
events AS (
    SELECT o.customer_id, t.direction, CAST(t.amount_base AS DOUBLE) AS amount,
           CAST(t.event_ts AS DATE) AS day,
           COALESCE(t.counterparty_account, t.merchant_id) AS counterparty
    FROM transactions t
    JOIN owners o ON t.account_id = o.account_id
    WHERE CAST(t.event_ts AS DATE) BETWEEN DATE '{from_365}' AND DATE '{as_of}'
)
SELECT customer_id,
    SUM(CASE WHEN day >= DATE '{from_30}' THEN 1 ELSE 0 END) AS txn_count_30d,
    SUM(CASE WHEN day >= DATE '{from_90}' THEN 1 ELSE 0 END) AS txn_count_90d,
    COUNT(*) AS txn_count_365d,
    SUM(CASE WHEN day >= DATE '{from_30}' AND direction = 'debit' THEN amount END) AS spend_30d,
    SUM(CASE WHEN day >= DATE '{from_90}' AND direction = 'debit' THEN amount END) AS spend_90d,
    SUM(CASE WHEN direction = 'debit' THEN amount END) AS spend_365d,
    AVG(CASE WHEN day >= DATE '{from_90}' AND direction = 'debit' THEN amount END)
        AS avg_ticket_90d,
    COUNT(DISTINCT CASE WHEN day >= DATE '{from_90}' THEN counterparty END)
        AS counterparty_count_90d,
    MAX(day) AS last_day
FROM events
GROUP BY customer_id
"""
GOLD_SQL_TABLES = {
    "transactions": catalog.silver("transaction"),
    "account_holder": catalog.silver("account_holder"),
    "customer_xref": catalog.SILVER_CUSTOMER_XREF,
}


def gold_sql(as_of: date) -> str:
    """:data:`GOLD_SQL` for features as of ``as_of`` (windows end on that day, inclusive)."""
    start = {f"from_{d}": (as_of - timedelta(days=d - 1)).isoformat() for d in (30, 90, 365)}
    return GOLD_SQL.format(as_of=as_of.isoformat(), **start)


def scaling_exponent(small: tuple[int, float], large: tuple[int, float]) -> float | None:
    """``b`` of ``seconds ~ customers^b`` through two (customers, seconds) points."""
    (n1, t1), (n2, t2) = small, large
    if n1 == n2 or min(n1, n2, t1, t2) <= 0:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def stage_task_metrics(stages: list[dict[str, Any]], after: int, upto: int) -> dict[str, Any]:
    """Task metrics summed over the Spark stages with ``after < stageId <= upto`` (every
    attempt), from the status store's ``/stages`` list."""
    mine = [s for s in stages if after < s["stageId"] <= upto]
    totals: dict[str, Any] = {"spark_stages": len({s["stageId"] for s in mine})}
    totals["tasks"] = sum(s.get("numCompleteTasks", 0) + s.get("numFailedTasks", 0) for s in mine)
    for field, key, scale in TASK_METRICS:
        totals[key] = round(sum(s.get(field, 0) for s in mine) * scale, 3)
    totals["peak_task_execution_memory_bytes"] = max(
        (s.get("peakExecutionMemory", 0) for s in mine), default=0
    )
    return totals


# --------------------------------------------------------------------------- in the run's process


class StatusStore:
    """The application's stage list through the driver UI's REST API on 127.0.0.1."""

    def __init__(self, spark: Any) -> None:
        url = spark.sparkContext.uiWebUrl
        if not url:
            raise Fin360Error("fin360 bench needs the Spark UI (spark.ui.enabled)")
        port = url.rsplit(":", 1)[1].rstrip("/")
        app = spark.sparkContext.applicationId
        self.url = f"http://127.0.0.1:{port}/api/v1/applications/{app}/stages"

    def stages(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url, timeout=60) as response:
            return json.load(response)

    def last_stage_id(self) -> int:
        return max((s["stageId"] for s in self.stages()), default=-1)


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak resident memory of the given processes while the block runs (Linux ``/proc``)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], _rss_bytes(pid))
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Probe:
    """Measures each stage of :func:`fin360.chain.run` and each floor (a ``summary.Probe``).

    Every finished measurement is also written to ``journal`` at once (JSON, rewritten each
    time), so a run that dies half-way still leaves what it measured before."""

    def __init__(self, spark: Any, journal: Path | None = None) -> None:
        self.store = StatusStore(spark)
        self.pids = {
            "jvm": int(spark.sparkContext._jvm.ProcessHandle.current().pid()),
            "python": os.getpid(),
        }
        self.journal = journal
        self.completed: list[dict[str, Any]] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[dict[str, Any]]:
        measured: dict[str, Any] = {}
        first = self.store.last_stage_id()
        log.info("bench: %s starts", name)
        started = time.monotonic()
        with MemorySampler(self.pids) as memory:
            yield measured
        measured["seconds"] = round(time.monotonic() - started, 2)
        stages = self.store.stages()
        last = max((s["stageId"] for s in stages), default=-1)
        measured |= stage_task_metrics(stages, first, last)
        measured |= {f"peak_{k}_rss_bytes": v for k, v in memory.peaks.items()}
        log.info("bench: %s took %.1f s", name, measured["seconds"])
        self.completed.append({"name": name, **measured})
        if self.journal is not None:
            self.journal.write_text(json.dumps(self.completed, indent=2, default=str) + "\n")


def _floor_bronze(spark: Any, cfg: Config, target: str) -> dict[str, Any]:
    """Each source's raw files, read plainly with their declared format, written once as
    Delta. Rows out: the rows written."""
    from fin360.bronze.job import BATCH_PREFIX, source_root
    from fin360.config import load_sources

    rows = 0
    for spec in load_sources(cfg).values():
        files = f"{source_root(cfg, spec)}/{BATCH_PREFIX}*"
        reader = spark.read
        if spec.format == "csv":
            options = spec.options
            df = reader.csv(
                files,
                header=options.get("header", True),
                sep=options.get("delimiter", ","),
                encoding=spec.encoding,
            )
        elif spec.format == "json":
            df = reader.json(files, encoding=spec.encoding)
        elif spec.format == "parquet":
            df = reader.parquet(files)
        else:
            df = reader.text(files)
        df.write.format("delta").mode("overwrite").save(f"{target}/{spec.name}")
        rows += spark.read.format("delta").load(f"{target}/{spec.name}").count()
    return {"rows_out": rows}


def _floor_silver(spark: Any, cfg: Config, target: str) -> dict[str, Any]:
    """Every bronze table read and written once as Delta."""
    from fin360 import lake

    rows = 0
    for name in lake.tables(spark, cfg):
        if not name.startswith("bronze."):
            continue
        lake.read(spark, cfg, name).write.format("delta").mode("overwrite").save(f"{target}/{name}")
        rows += spark.read.format("delta").load(f"{target}/{name}").count()
    return {"rows_out": rows}


def _floor_gold_spark(spark: Any, cfg: Config, as_of: date, target: str) -> dict[str, Any]:
    from fin360 import lake

    for view, table in GOLD_SQL_TABLES.items():
        lake.read(spark, cfg, table).createOrReplaceTempView(view)
    spark.sql(gold_sql(as_of)).write.format("delta").mode("overwrite").save(target)
    return {"rows_out": spark.read.format("delta").load(target).count()}


def duckdb_gold(files: dict[str, list[str]], as_of: date, threads: int, target: str) -> int:
    """:data:`GOLD_SQL` by DuckDB over the given Parquet files per view, into ``target``."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"SET threads = {int(threads)}")
        con.execute("SET TimeZone = 'UTC'")
        for view, paths in files.items():
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listed}])")
        con.execute(f"COPY ({gold_sql(as_of)}) TO '{target}' (FORMAT parquet)")
        return con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]


def delta_files(spark: Any, cfg: Config, table: str) -> list[str]:
    """The Parquet files of a Delta table's current version (refuses deletion vectors, which
    a plain Parquet reader would not apply)."""
    from fin360 import lake

    detail = spark.sql(f"DESCRIBE DETAIL delta.`{lake.table_path(cfg, table)}`").first()
    if (detail["properties"] or {}).get("delta.enableDeletionVectors") == "true":
        raise Fin360Error(f"{table} uses deletion vectors: DuckDB cannot read it as Parquet")
    return [f.removeprefix("file:") for f in lake.read(spark, cfg, table).inputFiles()]


def _floor_gold_duckdb(spark: Any, cfg: Config, as_of: date, target: str) -> dict[str, Any]:
    from fin360.spark import local_cores

    files = {view: delta_files(spark, cfg, table) for view, table in GOLD_SQL_TABLES.items()}
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows = duckdb_gold(files, as_of, local_cores(cfg), target)
    return {"rows_out": rows, "seconds_duckdb": round(time.monotonic() - started, 2)}


def scoring_throughput(
    spark: Any, cfg: Config, as_of: date, rows: int, target: str
) -> dict[str, Any]:
    """The customer-level champions (segmentation, risk with reason codes) applied as the score
    job applies them to the date's customer-360 rows copied up to ``rows`` customers (each
    copy under its own id), written once as Delta: seconds from the first transform to the
    written table, the input already in memory."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from fin360 import lake
    from fin360.ml import risk, segmentation, tracking
    from fin360.scoring.job import SCORE_COLUMNS, apply_customer_models

    day = risk.prepared(
        lake.read(spark, cfg, catalog.GOLD_CUSTOMER_360).where(F.col("as_of_date") == F.lit(as_of))
    )
    copies = spark.range(max(1, math.ceil(rows / max(day.count(), 1)))).withColumnRenamed(
        "id", "_copy"
    )
    # bounded: the copy numbers are a few hundred rows at most
    features = (
        day.crossJoin(F.broadcast(copies))
        .withColumn("customer_id", F.concat_ws("#", "customer_id", "_copy"))
        .drop("_copy")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    customers = features.count()
    seg_model = tracking.load(cfg, segmentation.FAMILY, tracking.CHAMPION)[0]
    risk_model = tracking.load(cfg, risk.FAMILY, tracking.CHAMPION)[0]
    started = time.monotonic()
    scores = apply_customer_models(seg_model, risk_model, features, cfg).select(*SCORE_COLUMNS)
    scores.write.format("delta").mode("overwrite").save(target)
    seconds = time.monotonic() - started
    features.unpersist()
    return {"customers": customers, "seconds": round(seconds, 2)}


def _stages(done: Any) -> dict[str, dict[str, Any]]:
    stages = {}
    for s in done.stages:
        rows = s.rows_in if s.rows_in is not None else s.rows_out
        stages[s.name] = {
            **s.measured,
            "seconds": round(s.seconds, 2),
            "rows_in": s.rows_in,
            "rows_out": s.rows_out,
            "quarantined": s.quarantined,
            "rows_per_second": round(rows / s.seconds) if rows and s.seconds else None,
            **s.parts,
        }
    return stages


def daily_seconds(stages: dict[str, dict[str, Any]]) -> float:
    return round(sum(stages[s]["seconds"] for s in DAILY_STAGES), 2)


def measure(
    spark: Any, cfg: Config, probe: Probe, work: Path, increment_raw: str, score_rows: int
) -> dict[str, Any]:
    """The chain and the floors in this session, then the increment: the chain again, without
    training, once ``increment_raw`` (every delivery) replaces ``paths.raw`` (all but each
    source's latest). ``work`` holds the floors' outputs."""
    from fin360 import chain

    done = chain.run(spark, cfg, probe=probe)
    stages = _stages(done)
    floors = {}
    as_of = done.as_of
    for name, build in (
        ("bronze_spark", lambda: _floor_bronze(spark, cfg, str(work / "bronze"))),
        ("silver_spark", lambda: _floor_silver(spark, cfg, str(work / "silver"))),
        ("gold_spark_sql", lambda: _floor_gold_spark(spark, cfg, as_of, str(work / "gold"))),
        (
            "gold_duckdb",
            lambda: _floor_gold_duckdb(spark, cfg, as_of, str(work / "duckdb.parquet")),
        ),
    ):
        with probe(f"floor {name}") as measured:
            measured |= build()
        floors[name] = measured
    # DuckDB's own clock, without the Delta log reads that list its input files
    floors["gold_duckdb"]["seconds"] = floors["gold_duckdb"].pop("seconds_duckdb")
    throughput = scoring_throughput(spark, cfg, as_of, score_rows, str(work / "scores"))
    later = cfg.with_overrides({"paths.raw": increment_raw}, origin="fin360 bench increment")
    increment = _stages(chain.run(spark, later, probe=probe, train=False))
    return {
        "as_of": as_of.isoformat(),
        "stages": stages,
        "floors": floors,
        "increment": {
            "stages": increment,
            "seconds": daily_seconds(increment),
            "vs_full_build": round(daily_seconds(increment) / daily_seconds(stages), 3),
        },
        "models": done.models,
        "score_throughput": throughput,
        "total_seconds": round(sum(s.seconds for s in done.stages), 1),
    }


def _run_in_this_process(spec_file: str) -> None:
    """Entry point of one run's process: ``python -m fin360.bench.pipeline SPEC.json``."""
    from fin360.logs import setup_logging
    from fin360.spark import build_session

    spec = json.loads(Path(spec_file).read_text())
    setup_logging(spec["log_level"])
    cfg = load_config(spec["env"], spec["conf_dir"], spec["bank"])
    cfg = cfg.with_overrides(dict(spec["overrides"]), origin="fin360 bench")
    spark = build_session(cfg)
    probe = Probe(spark, journal=Path(spec["journal"]))
    result = measure(
        spark, cfg, probe, Path(spec["floors"]), spec["increment_raw"], spec["score_rows"]
    )
    result["spark_version"] = spark.version
    result["java_version"] = spark.sparkContext._jvm.System.getProperty("java.version")
    Path(spec["out"]).write_text(json.dumps(result, indent=2, default=str) + "\n")
    spark.stop()


# --------------------------------------------------------------------------- the orchestrator


def prepare(cfg: Config, folder: Path, customers: int, days: int) -> dict[str, Any]:
    """The generator's bank of ``customers`` in ``folder`` (reused when its parameters match);
    returns the parameters and the raw files' total size."""
    from fin360.sources.generator import generate

    params = {
        "customers": customers,
        "days": days,
        "seed": cfg["generator.seed"],
        "start_date": cfg["generator.start_date"],
    }
    marker = folder / "generated.json"
    if not (marker.is_file() and json.loads(marker.read_text()) == params):
        shutil.rmtree(folder, ignore_errors=True)
        log.info("bench: generating %s customers into %s", f"{customers:,}", folder)
        generate(
            folder / "raw",
            folder / "truth",
            chunk_customers=cfg["generator.chunk_customers"],
            workers=cfg["generator.workers"],
            progress=lambda line: log.info("generate %s", line),
            **params,
        )
        marker.write_text(json.dumps(params))
    held_back = initial_view(folder / "raw", folder / "initial")
    raw_bytes = sum(f.stat().st_size for f in (folder / "raw").rglob("*") if f.is_file())
    return {**params, "raw_bytes": raw_bytes, "increment_batches": held_back}


def initial_view(raw: Path, view: Path) -> list[str]:
    """``view``: ``raw`` without each source's latest batch when it has several (hard links,
    no copies), so the full build lands the history and the increment lands the latest
    delivery. Returns the held-back ``source/batch`` folders."""
    shutil.rmtree(view, ignore_errors=True)
    held_back = []
    for source in sorted(d for d in raw.iterdir() if d.is_dir()):
        batches = sorted(b for b in source.iterdir() if b.is_dir())
        if len(batches) > 1:
            held_back.append(f"{source.name}/{batches[-1].name}")
            batches = batches[:-1]
        for batch in batches:
            for f in batch.rglob("*"):
                if f.is_file():
                    target = view / f.relative_to(raw)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(f, target)
    return held_back


def machine() -> dict[str, Any]:
    from fin360.spark import machine_memory_bytes

    return {
        "name": platform.node(),
        "cores": os.cpu_count(),
        "memory_gib": round(machine_memory_bytes() / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def run(cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Every (customers, cores) run in its own process, then the scaling and the floors'
    ratios; writes the JSON and the plot to ``out`` and returns the results."""
    from fin360.governance.pii import pii_key
    from fin360.spark import is_local

    pii_key()  # silver's secret: fail before generating anything
    if not is_local(cfg):
        raise Fin360Error("fin360 bench runs on a local master (spark.master: local[N])")
    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise Fin360Error(
            "fin360 bench needs DuckDB for its gold floor: pip install duckdb"
        ) from None
    work = Path(args.work).resolve()
    out = Path(args.out or cfg.path("bench_results"))
    factors = sorted(set(args.customers))
    cores = sorted(set(args.cores), reverse=True)
    started = datetime.now(UTC)
    path = out / f"{started.date().isoformat()}-{platform.node()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {n: prepare(cfg, work / f"customers={n}", n, args.days) for n in factors}
    planned = [(n, k) for n in factors for k in (cores if n == factors[0] else cores[:1])]
    results: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    for n, k in planned:
        log.info("bench: run %s customers on local[%d]", f"{n:,}", k)
        runs.append({"customers": n, "cores": k, **data[n], **_child(cfg, args, work, n, k)})
        failed = runs[-1].get("failed")
        results = {
            "machine": machine(),
            "started_at": started.isoformat(timespec="seconds"),
            # the file is rewritten after every run: a later failure keeps the earlier ones
            "complete": len(runs) == len(planned) and not failed,
            "runs": runs,
            **derived([r for r in runs if "failed" not in r]),
        }
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        if failed:
            raise Fin360Error(
                f"bench run of {n:,} customers on local[{k}] failed ({failed}); "
                f"what it measured before is in {path}"
            )
    plot(results, path.with_suffix(".png"))
    results["written_to"] = str(path)
    return results


def _child(cfg: Config, args: argparse.Namespace, work: Path, n: int, k: int) -> dict[str, Any]:
    folder = work / f"customers={n}"
    run_dir = folder / f"local-{k}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    overrides = [
        *(args.overrides or []),
        ("spark.master", f"local[{k}]"),
        ("paths.raw", str(folder / "initial")),
        ("paths.truth", str(folder / "truth")),
        # the generator's injected anomalies stand in for the bank's confirmed cases
        ("anomaly.labels", str(folder / "truth" / "anomalies.parquet")),
        *((f"paths.{p}", str(run_dir / p)) for p in ("lakehouse", "checkpoints", "reports", "logs")),
        ("paths.mlflow_artifacts", str(run_dir / "mlartifacts")),
        ("mlflow.tracking_uri", f"sqlite:///{run_dir / 'mlflow.db'}"),
        ("spark.conf", STATUS_CONF),
    ]  # fmt: skip
    spec = {
        "increment_raw": str(folder / "raw"),
        "env": cfg.env,
        "conf_dir": str(cfg.conf_dir),
        "bank": cfg.get("bank"),
        "overrides": overrides,
        "log_level": args.log_level,
        "score_rows": args.score_rows,
        "floors": str(run_dir / "floors"),
        "out": str(run_dir / "result.json"),
        "journal": str(run_dir / "measured.json"),
    }
    spec_file = run_dir / "spec.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    done = subprocess.run(
        [sys.executable, "-m", "fin360.bench.pipeline", str(spec_file)], check=False
    )
    if done.returncode != 0:
        journal = Path(spec["journal"])
        measured = json.loads(journal.read_text()) if journal.is_file() else []
        return {"failed": f"exit code {done.returncode}, logs in {run_dir / 'logs'}",
                "measured": measured}  # fmt: skip
    return json.loads(Path(spec["out"]).read_text())


def derived(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios to the floors per run, scaling exponents between the two largest factors (at
    the most cores) and the speed-up per stage from fewer to more cores."""
    ratios = []
    for r in runs:
        row = {"customers": r["customers"], "cores": r["cores"]}
        for stage, floor in FLOORS.items():
            row[f"{stage}_vs_{floor}"] = round(
                r["stages"][stage]["seconds"] / r["floors"][floor]["seconds"], 2
            )
        row["gold_vs_gold_duckdb"] = round(
            r["stages"]["gold"]["seconds"] / r["floors"]["gold_duckdb"]["seconds"], 2
        )
        row["gold_spark_sql_vs_gold_duckdb"] = round(
            r["floors"]["gold_spark_sql"]["seconds"] / r["floors"]["gold_duckdb"]["seconds"], 2
        )
        # the customer-level families (segmentation, risk) from the champions' first transform
        # to the written customer_scores: the score stage's customer part
        row["score_customers_per_second_per_core"] = round(
            r["stages"]["gold"]["rows_out"] / r["stages"]["score"]["customer_seconds"] / r["cores"]
        )
        throughput = r["score_throughput"]
        row["score_copies_customers_per_second_per_core"] = round(
            throughput["customers"] / throughput["seconds"] / r["cores"]
        )
        row["increment_vs_full_build"] = r["increment"]["vs_full_build"]
        ratios.append(row)  # fmt: skip
    most = max((r["cores"] for r in runs), default=0)
    at_most = sorted((r for r in runs if r["cores"] == most), key=lambda r: r["customers"])
    scaling = {}
    if len(at_most) >= 2:
        small, large = at_most[-2], at_most[-1]
        for stage in STAGES:
            b = scaling_exponent(
                (small["customers"], small["stages"][stage]["seconds"]),
                (large["customers"], large["stages"][stage]["seconds"]),
            )
            scaling[stage] = None if b is None else round(b, 2)
    speedup = {}
    smallest = min((r["customers"] for r in runs), default=0)
    by_cores = sorted((r for r in runs if r["customers"] == smallest), key=lambda r: r["cores"])
    if len(by_cores) >= 2:
        few, many = by_cores[0], by_cores[-1]
        speedup = {
            "customers": smallest,
            "from_cores": few["cores"],
            "to_cores": many["cores"],
            **{
                s: round(few["stages"][s]["seconds"] / many["stages"][s]["seconds"], 2)
                for s in STAGES
            },
        }
    return {"ratios": ratios, "scaling_exponent": scaling, "speedup": speedup}


def plot(results: dict[str, Any], path: Path) -> None:
    """Seconds per stage against customers (log-log), the floors dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finished = [r for r in results["runs"] if "failed" not in r]
    most = max(r["cores"] for r in finished)
    runs = sorted((r for r in finished if r["cores"] == most), key=lambda r: r["customers"])
    x = [r["customers"] for r in runs]
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in STAGES:
        ax.plot(x, [r["stages"][stage]["seconds"] for r in runs], marker="o", label=stage)
    for floor in FLOOR_COLUMNS:
        ax.plot(x, [r["floors"][floor]["seconds"] for r in runs], ls="--", marker=".",
                label=f"floor: {floor}")  # fmt: skip
    ax.plot(x, [r["increment"]["seconds"] for r in runs], ls=":", marker="s", color="black",
            label="increment: " + " + ".join(DAILY_STAGES))  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers")
    ax.set_ylabel("seconds")
    m = results["machine"]
    ax.set_title(
        f"fin360 bench on {m['name']}: {m['cores']} cores, {m['memory_gib']} GiB, local[{most}]"
    )
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def seconds_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per finished run: customers, cores, seconds per stage, per floor and of the
    increment."""
    return [
        {
            "customers": r["customers"],
            "cores": r["cores"],
            **{s: round(r["stages"][s]["seconds"], 1) for s in STAGES},
            **{label: round(r["floors"][f]["seconds"], 1) for f, label in FLOOR_COLUMNS.items()},
            "increment": round(r["increment"]["seconds"], 1),
        }
        for r in results["runs"]
        if "failed" not in r
    ]


def _markdown(rows: list[dict[str, Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:,}" if isinstance(v, int) else f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return lines + ["| " + " | ".join(cell(v) for v in row.values()) + " |" for row in rows]


def render(results: dict[str, Any]) -> str:
    """Markdown: seconds per stage and floor per run, the ratios, scaling and speed-up."""
    lines = [*_markdown(seconds_table(results)), "", *_markdown(results["ratios"])]
    if results["scaling_exponent"]:
        lines += ["", "scaling exponent (seconds ~ customers^b) between the two largest factors: "
                  + ", ".join(f"{k} {v}" for k, v in results["scaling_exponent"].items())]  # fmt: skip
    if results["speedup"]:
        s = results["speedup"]
        lines += ["", f"speed-up from local[{s['from_cores']}] to local[{s['to_cores']}] at {s['customers']:,} customers: "
                  + ", ".join(f"{k} {s[k]}" for k in STAGES)]  # fmt: skip
    return "\n".join(lines)


def latest(folder: str) -> Path | None:
    """The newest pipeline results file in ``folder`` (graph results are ``*-graph.json``)."""
    found = sorted(p for p in Path(folder).glob("*.json") if not p.stem.endswith("-graph"))
    return found[-1] if found else None


if __name__ == "__main__":
    try:
        _run_in_this_process(sys.argv[1])
    except (Fin360Error, ConfigError) as exc:
        print(f"fin360: error: {exc}", file=sys.stderr)
        sys.exit(2)
