"""``ops.job_runs``: one row per unit of work a job did (a source batch, a table), plus one
row per job run; with row counts, the Delta versions read and written, the code version and
the error of a failed unit. Bronze also uses it as its ingestion log: a batch with an ``ok``
row is not landed again. A run also emits its OpenLineage events
(:mod:`fin360.governance.lineage`): ``START`` when it begins, ``COMPLETE`` or ``FAIL`` with
every dataset it read and wrote when it finishes."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import catalog, code_version, lake
from fin360.config import Config
from fin360.governance import lineage

JOB_RUNS = catalog.OPS_JOB_RUNS
JOB_RUN_ALL = "*"  # the unit of the row that sums up a whole job run

JOB_RUNS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("job", T.StringType(), False),
        T.StructField("unit", T.StringType(), False),
        T.StructField("env", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), False),
        T.StructField("input_rows", T.LongType(), True),
        T.StructField("output_rows", T.LongType(), True),
        T.StructField("quarantined_rows", T.LongType(), True),
        T.StructField("inputs", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("outputs", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("details", T.StringType(), True),  # JSON: drift, files, dq results...
        T.StructField("code_version", T.StringType(), False),
        T.StructField("error", T.StringType(), True),
    ]
)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class JobRun:
    """Records the units of one run of one job into ``ops.job_runs``.

    Rows are held until :meth:`flush` (or :meth:`finish`) and appended in one Delta commit: a
    job flushes after each group of units it writes together (a source's batches, a table),
    not once per unit. A unit whose row a crash lost is simply done again on the next run;
    the writes it repeats are idempotent (Delta transaction ids, merges).
    """

    spark: SparkSession
    cfg: Config
    job: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=utc_now)
    code: str = field(default_factory=code_version)
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    datasets: lineage.Datasets = field(default_factory=lineage.Datasets)

    def __post_init__(self) -> None:
        lineage.emit(self.cfg, self.job, self.run_id, "START")

    def record(
        self,
        unit: str,
        status: str,
        *,
        started_at: datetime,
        input_rows: int | None = None,
        output_rows: int | None = None,
        quarantined_rows: int | None = None,
        inputs: dict[str, int] | None = None,
        outputs: dict[str, int] | None = None,
        details: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        row = (
            self.run_id,
            self.job,
            unit,
            self.cfg.env,
            status,
            started_at,
            utc_now(),
            input_rows,
            output_rows,
            quarantined_rows,
            inputs or {},
            outputs or {},
            json.dumps(details or {}, sort_keys=True, default=str),
            self.code,
            error,
        )
        self.pending.append(row)
        self._track(inputs or {}, outputs or {}, output_rows, quarantined_rows, details or {})

    def _track(
        self,
        inputs: dict[str, int],
        outputs: dict[str, int],
        output_rows: int | None,
        quarantined_rows: int | None,
        details: dict[str, Any],
    ) -> None:
        """What the run's lineage events list: every table read and written (the latest
        version), the rows of a unit's one table and one quarantine, the raw folders read."""
        seen = self.datasets
        for known, read in ((seen.inputs, inputs), (seen.outputs, outputs)):
            for table, version in read.items():
                if version is not None:  # None: a table not written (yet)
                    known[table] = max(version, known.get(table, version))
        quarantines = [t for t in outputs if "._quarantine" in t]
        tables = [t for t in outputs if t not in quarantines]
        for names, rows in ((tables, output_rows), (quarantines, quarantined_rows)):
            if len(names) == 1 and rows is not None:
                seen.output_rows[names[0]] = seen.output_rows.get(names[0], 0) + rows
        seen.raw_folders.update(f.rsplit("/", 1)[0] for f in details.get("files", []))

    def flush(self) -> None:
        """Append the rows recorded since the last flush, in one commit (two when some units
        failed). The units done are appended under a Delta transaction id named for them:
        when a run of the same job at the same time has recorded the same units, Delta skips
        the append, so no unit is recorded as done twice."""
        status, unit = JOB_RUNS_SCHEMA.fieldNames().index("status"), JOB_RUNS_SCHEMA.fieldNames().index("unit")  # fmt: skip
        done = [r for r in self.pending if r[status] == "ok" and r[unit] != JOB_RUN_ALL]
        rest = [r for r in self.pending if r not in done]
        if done:
            units = ",".join(sorted(r[unit] for r in done)).encode()
            txn = f"fin360.{JOB_RUNS}.{self.job}.{hashlib.sha256(units).hexdigest()[:24]}"
            df = self.spark.createDataFrame(done, JOB_RUNS_SCHEMA)
            lake.append(df, self.cfg, JOB_RUNS, txn_app_id=txn)
        if rest:  # this run's own rows (its run_id): appending them again cannot duplicate
            df = self.spark.createDataFrame(rest, JOB_RUNS_SCHEMA)
            lake.append(df, self.cfg, JOB_RUNS, retry=True)
        self.pending = []

    @contextmanager
    def failing(self, details: dict[str, Any] | None = None) -> Iterator[None]:
        """The run's work: when it raises, the run is recorded as failed (its lineage too),
        with ``details`` as they stand then, and the error goes on."""
        try:
            yield
        except Exception as exc:
            self.finish("failed", details=details, error=str(exc)[:2000])
            raise

    def finish(
        self, status: str, *, details: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        self.record(JOB_RUN_ALL, status, started_at=self.started_at, details=details, error=error)
        self.flush()
        state = "COMPLETE" if status == "ok" else "FAIL"
        lineage.emit(self.cfg, self.job, self.run_id, state, self.datasets, error=error)


def succeeded_units(spark: SparkSession, cfg: Config, job: str) -> set[str]:
    """Units of ``job`` that some earlier run completed."""
    if not lake.exists(spark, cfg, JOB_RUNS):
        return set()
    rows = (
        lake.read(spark, cfg, JOB_RUNS)
        .where((F.col("job") == job) & (F.col("status") == "ok") & (F.col("unit") != JOB_RUN_ALL))
        .select("unit")
        .distinct()
        .collect()
    )  # bounded: one row per batch ever landed (a few per source and day)
    return {r["unit"] for r in rows}
