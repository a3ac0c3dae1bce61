"""What a run of the whole chain did, for the person who started it: per stage seconds and
rows, quarantined rows by reason, models and whether their champion moved, the tables written,
and where to look next (report, MLflow UI, Spark's log)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from fin360 import catalog, lake
from fin360.config import Config
from fin360.governance.audit import utc_now


@dataclass
class Stage:
    name: str
    seconds: float
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    note: str = ""
    parts: dict[str, float] = field(default_factory=dict)  # seconds of the stage's own parts
    measured: dict[str, Any] = field(default_factory=dict)  # what a probe saw (fin360 bench)


# Wraps each stage; the dict it yields is filled in by the time the block exits.
Probe = Callable[[str], AbstractContextManager[dict[str, Any]]]


@dataclass
class RunSummary:
    probe: Probe | None = None
    started_at: datetime = field(default_factory=utc_now)
    as_of: date | None = None
    stages: list[Stage] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[tuple[str, str, str, int]] = field(
        default_factory=list
    )  # layer, table, reason, rows
    written: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)
    _clock: float = field(default_factory=time.monotonic)

    @contextmanager
    def timed(self, name: str) -> Iterator[Stage]:
        """Times the block; the block fills in the stage's rows and note."""
        stage = Stage(name, 0.0)
        with self.probe(name) if self.probe else _nothing() as measured:
            started = time.monotonic()
            yield stage
            stage.seconds = time.monotonic() - started
        stage.measured = measured
        self.stages.append(stage)

    def render(self) -> str:
        total = time.monotonic() - self._clock
        lines = [f"fin360 run all: done in {_duration(total)}", ""]
        lines.append(
            f"{'stage':<8} {'seconds':>8} {'rows in':>12} {'rows out':>12} {'quarantined':>12}  note"
        )
        for s in self.stages:
            lines.append(
                f"{s.name:<8} {s.seconds:>8.1f} {_n(s.rows_in):>12} {_n(s.rows_out):>12} "
                f"{_n(s.quarantined):>12}  {s.note}"
            )
        if self.quarantine:
            lines += ["", "quarantined rows by reason:"]
            for layer, table, reason, rows in self.quarantine:
                lines.append(f"  {layer:<7} {table:<32} {reason:<40} {rows:>10,}")
        if self.models:
            lines += ["", "models:"]
            for m in self.models:
                metrics = " ".join(f"{k}={v:.4g}" for k, v in m["metrics"].items())
                lines.append(
                    f"  {m['family']:<13} trained v{m['version']}  {metrics}  champion: {m['champion']}"
                )
        if self.written:
            lines += ["", f"tables written ({len(self.written)}): " + ", ".join(self.written)]
        if self.where:
            lines += [""] + [f"{k + ':':<11} {v}" for k, v in self.where.items()]
        return "\n".join(lines)


@contextmanager
def _nothing() -> Iterator[dict[str, Any]]:
    yield {}


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def table_versions(spark: SparkSession, cfg: Config) -> dict[str, int | None]:
    """The Delta version of every table the lakehouse holds now."""
    return {name: lake.version(spark, cfg, name) for name in lake.tables(spark, cfg)}


def written_since(before: dict[str, int | None], after: dict[str, int | None]) -> list[str]:
    return sorted(name for name, version in after.items() if before.get(name) != version)


def quarantined_by_reason(
    spark: SparkSession, cfg: Config, since: datetime
) -> list[tuple[str, str, str, int]]:
    """Rows quarantined since ``since``: bronze by reason, silver by failed rule."""
    found: list[tuple[str, str, str, int]] = []
    if lake.exists(spark, cfg, catalog.BRONZE_QUARANTINE):
        rows = (
            lake.read(spark, cfg, catalog.BRONZE_QUARANTINE)
            .where(F.col("_ingest_ts") >= F.lit(since))
            # "fixed-width line of length 27, expected 88" and its kin count as one reason
            .groupBy("source", F.regexp_replace("reason", "[0-9]+", "N").alias("reason"))
            .count()
            .orderBy("source", "reason")
            .collect()
        )  # bounded: one row per source and reason
        found += [("bronze", catalog.bronze(r["source"]), r["reason"], r["count"]) for r in rows]
    if lake.exists(spark, cfg, catalog.OPS_DQ_RESULTS):
        rows = (
            lake.read(spark, cfg, catalog.OPS_DQ_RESULTS)
            .where((F.col("evaluated_at") >= F.lit(since)) & (F.col("rows_failed") > 0))
            .groupBy("table", "rule")
            .agg(F.sum("rows_failed").alias("rows"))
            .orderBy("table", "rule")
            .collect()
        )  # bounded: one row per table and rule
        found += [("silver", r["table"], r["rule"], r["rows"]) for r in rows]
    return found
