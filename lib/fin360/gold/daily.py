"""Day rows of the event sources, maintained batch by batch.

``gold.transaction_days`` (per account and day) and ``gold.app_event_days`` (per CRM customer
record and day) hold :func:`~fin360.gold.features.transaction_days` and
:func:`~fin360.gold.features.app_event_days` of silver's events. They are keyed by the event's
own source key, not by customer, so a change of who holds an account or of the customer a CRM
record resolves to changes nothing in them: the gold job keys them to customers when it reads
them.

A silver event table only ever gains rows (a key already stored is a duplicate), so a day's
rows change only when a new silver batch brings events of that day. Each gold run folds in the
silver batches it has not folded yet: it finds the days they touch, rebuilds exactly those days
(Delta ``replaceWhere`` on the tables' ``day`` partitions) and records each batch as a unit of the gold job, so the daily run
costs the day's volume, not the history. A table built under other settings (time zone, base
currency) or another layout of its rows is rebuilt whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import canonical, catalog, lake
from fin360.config import Config
from fin360.gold import features
from fin360.governance.audit import JobRun, succeeded_units, utc_now
from fin360.silver import entities

SILVER_JOB = "silver"
PARTITION_BY = ["day"]  # a new batch rewrites the files of its days, no others
LAYOUT = 1  # bump when the day rows' columns or meaning change: every table is rebuilt


@dataclass(frozen=True)
class DayTable:
    table: str  # the gold table
    entity: str  # the silver event entity it adds up
    key: str  # the event's source key
    build: Callable[[DataFrame, Config], DataFrame]  # silver events -> day rows


DAY_TABLES = (
    DayTable(
        catalog.GOLD_TRANSACTION_DAYS,
        "transaction",
        "account_id",
        lambda events, cfg: features.transaction_days(
            events, ["account_id"], cfg["silver.default_timezone"], cfg["silver.base_currency"]
        ),
    ),
    DayTable(
        catalog.GOLD_APP_EVENT_DAYS,
        "app_event",
        "customer_src_id",
        lambda events, _cfg: features.app_event_days(events, ["customer_src_id"]),
    ),
)


def settings_tag(cfg: Config) -> str:
    """What the day rows depend on besides the events: folded units carry it, so a change of
    settings or layout finds nothing folded and rebuilds."""
    settings = {
        "layout": LAYOUT,
        "timezone": cfg["silver.default_timezone"],
        "base_currency": cfg["silver.base_currency"],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def _by_day(rows: DataFrame) -> DataFrame:
    """Each day's rows in one task, so a day is one file, not one per shuffle partition."""
    return rows.repartition(*PARTITION_BY)


def of_batches(units: list[str]) -> Column:
    """Rows of the silver units ``<table>/<source>/<batch>``."""
    by_source: dict[str, list[str]] = {}
    for unit in units:
        _, source, batch = unit.split("/", 2)
        by_source.setdefault(source, []).append(batch)
    return entities.from_batches(by_source)


def refresh(
    spark: SparkSession, cfg: Config, run: JobRun, day_table: DayTable, gold_units: set[str]
) -> dict[str, Any]:
    """Fold the silver batches not folded yet into ``day_table``; ``gold_units``: the gold
    job's completed units. Returns what it did."""
    silver = catalog.silver(day_table.entity)
    if not lake.exists(spark, cfg, silver):
        return {"mode": "absent"}
    name = silver.partition(".")[2]  # silver's units are "<table>/<source>/<batch>"
    landed = {u for u in succeeded_units(spark, cfg, SILVER_JOB) if u.startswith(f"{name}/")}
    prefix = f"{day_table.table}/{settings_tag(cfg)}/"
    folded = {u.removeprefix(prefix) for u in gold_units if u.startswith(prefix)}
    pending = sorted(landed - folded)
    if not pending and lake.exists(spark, cfg, day_table.table):
        return {"mode": "current", "batches": 0}
    started = utc_now()
    events = lake.read(spark, cfg, silver)
    ts = canonical.entity(day_table.entity).time
    if not folded or not lake.exists(spark, cfg, day_table.table):
        lake.overwrite(_by_day(day_table.build(events, cfg)), cfg, day_table.table, PARTITION_BY)
        result: dict[str, Any] = {"mode": "full", "batches": len(pending)}
    else:
        touched = sorted(
            r["day"]
            for r in events.where(of_batches(pending))
            .select(F.to_date(ts).alias("day"))
            .distinct()
            .collect()  # bounded: the days a few new batches hold events of
            if r["day"] is not None
        )
        result = {"mode": "days", "batches": len(pending), "days": len(touched)}
        if touched:
            first, last = touched[0], touched[-1]
            in_range = (F.col(ts) >= F.lit(first).cast("timestamp")) & (
                F.col(ts) < F.lit(last + timedelta(days=1)).cast("timestamp")
            )
            if catalog.PARTITION_COLUMN in events.columns:
                in_range &= F.col(catalog.PARTITION_COLUMN).between(
                    first.replace(day=1), last.replace(day=1)
                )
            slice_ = events.where(in_range & F.to_date(ts).isin(touched))
            listed = ", ".join(f"'{d.isoformat()}'" for d in touched)
            lake.replace_where(
                _by_day(day_table.build(slice_, cfg)),
                cfg,
                day_table.table,
                f"day IN ({listed})",
                PARTITION_BY,
            )
    inputs = {silver: lake.version(spark, cfg, silver)}
    outputs = {day_table.table: lake.version(spark, cfg, day_table.table)}
    for unit in pending:
        run.record(prefix + unit, "ok", started_at=started, inputs=inputs, outputs=outputs)
    run.flush()  # one ops.job_runs commit per table
    return result


def keyed(day_rows: DataFrame, keys: DataFrame, key: str) -> DataFrame:
    """Day rows keyed by ``customer_id`` through ``keys`` (``key`` -> ``customer_id``)."""
    return day_rows.join(keys, key, "inner")
