"""The silver job: new bronze batches -> canonical, checked, pseudonymised silver tables.

Every source's mapping (the ``entities`` of the sources file) is parsed and checked first; a
bad mapping stops the job before any work. Then, entity by entity (reference data first, so
that rules referring to it see this run's rows), the bronze batches not yet processed for the
entity (per ``ops.job_runs``) are mapped onto it, enriched (:mod:`fin360.silver.entities`),
deduplicated, checked against its data-quality rules and written: events appended, snapshots
merged as SCD2 history. Every bronze row ends in the table or in
``silver._quarantine_<table>`` with the rules it failed, and the counts are recorded per batch.
Customers are resolved across sources and kept as SCD2 history
(:mod:`fin360.silver.customers`). An entity no source maps is absent, and says so once.
With no new bronze batch, the job changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import Fin360Error, canonical, catalog, lake
from fin360.bronze.job import JOB as BRONZE_JOB
from fin360.canonical import Entity
from fin360.config import Config, load_sources
from fin360.governance import pii
from fin360.governance.audit import JobRun, succeeded_units, utc_now
from fin360.logs import stage
from fin360.silver import customers, entities, mapping, quality, scd2
from fin360.silver import transforms as t

log = logging.getLogger(__name__)

JOB = "silver"
DQ_RESULTS = catalog.OPS_DQ_RESULTS
# entities in build order: reference data before what refers to it; customers last
ORDER = [
    "product", "fx_rate", "account", "account_holder", "transaction", "app_event", "complaint",
    "bureau_record", "loan",
]  # fmt: skip

DQ_RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("table", T.StringType(), False),
        T.StructField("batches", T.StringType(), False),
        T.StructField("rule", T.StringType(), False),
        T.StructField("check", T.StringType(), False),
        T.StructField("columns", T.StringType(), True),
        T.StructField("blocking", T.BooleanType(), False),
        T.StructField("threshold", T.DoubleType(), False),
        T.StructField("rows_checked", T.LongType(), False),
        T.StructField("rows_failed", T.LongType(), False),
        T.StructField("failure_rate", T.DoubleType(), False),
        T.StructField("passed", T.BooleanType(), False),
        T.StructField("observed", T.StringType(), True),
        T.StructField("evaluated_at", T.TimestampType(), False),
    ]
)
# rules the job applies itself, besides the configured ones (their results are recorded too)
BUILT_IN_RULES = (t.DUPLICATE_RULE, t.OUT_OF_ORDER_RULE)


@dataclass
class Context:
    spark: SparkSession
    cfg: Config
    run: JobRun
    key: bytes
    rules: dict[str, list[quality.Rule]]
    mappings: dict[str, list[mapping.EntityMapping]]
    landed: set[str]  # bronze units ("source/batch") landed so far
    done: set[str]  # silver units ("table/source/batch") processed so far
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> DataFrame:
        return lake.read(self.spark, self.cfg, name)

    def exists(self, name: str) -> bool:
        return lake.exists(self.spark, self.cfg, name)

    def pending(self, table: str, source: str) -> list[str]:
        batches = [u.split("/", 1)[1] for u in self.landed if u.startswith(f"{source}/")]
        return sorted(b for b in batches if f"{table}/{source}/{b}" not in self.done)

    def mapped(self, entity: Entity, pending: dict[str, list[str]]) -> DataFrame:
        """The pending batches of every source feeding ``entity``, mapped onto it."""
        tz = self.cfg["silver.default_timezone"]
        dates = mapping.date_bounds(self.cfg)
        frames = [
            self.table(catalog.bronze(m.source.name))
            .where(F.col("_batch_id").isin(pending[m.source.name]))
            .transform(mapping.mapped(m, tz, dates))
            for m in self.mappings[entity.name]
            if pending.get(m.source.name)
        ]
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame)
        return df


def run(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    key = pii.pii_key()  # fail before any work when the secret is missing
    mappings = mapping.parse(spark, load_sources(cfg))  # and when a mapping is wrong
    ctx = Context(
        spark=spark,
        cfg=cfg,
        run=JobRun(spark, cfg, JOB),
        key=key,
        rules=quality.load_rules(cfg),
        mappings=mappings,
        landed=succeeded_units(spark, cfg, BRONZE_JOB),
        done=succeeded_units(spark, cfg, JOB),
    )
    if not ctx.landed:
        raise Fin360Error("bronze has no landed batch yet: run `fin360 run bronze` first")
    absent = [e for e in [*ORDER, "customer"] if e not in mappings]
    if absent:
        log.info("entities not mapped by any source (absent for this bank): %s", ", ".join(absent))
    with ctx.run.failing(ctx.summary):
        for name in ORDER:
            if name in mappings:
                load_entity(ctx, canonical.entity(name))
        if "customer" in mappings:
            customers.load(ctx)
    ctx.run.finish("ok", details=ctx.summary)
    return ctx.summary


def pending_batches(ctx: Context, entity: Entity) -> dict[str, list[str]]:
    table = entity.table
    pending = {m.source.name: ctx.pending(table, m.source.name) for m in ctx.mappings[entity.name]}
    return {src: b for src, b in pending.items() if b}


def load_entity(ctx: Context, entity: Entity) -> None:
    table = catalog.silver(entity.name)
    pending = pending_batches(ctx, entity)
    if not pending:
        log.info("table=%s up to date", table)
        return
    missing = [r for r in entities.references(entity) if not ctx.exists(r)]
    if missing:
        raise Fin360Error(f"{table} needs {missing}: map a source onto them in the sources file")
    started = utc_now()
    inputs = entities.Inputs(
        table=ctx.table,
        key=ctx.key,
        base_currency=ctx.cfg["silver.base_currency"],
        mcc_categories=ctx.cfg["silver.mcc_categories"],
    )
    with stage(log, "silver", table=table, batches=_units(pending)) as out:
        df = ctx.mapped(entity, pending).transform(entities.enrich(entity, inputs))
        existing = ctx.table(table) if ctx.exists(table) else None
        snapshot = entity.kind == "snapshot"
        if snapshot:
            df = df.transform(entities.with_valid_from(entity))
            flagged = entities.flag_snapshots(df, existing, entity, pending)
        else:
            flagged = entities.flag_events(df, existing, entity, pending)
        columns = [c for c in df.columns if not c.startswith("_")]
        refs = {r: ctx.table(r) for r in entities.references(entity)}
        rules = ctx.rules.get(entity.table, [])
        checked = quality.with_rule_failures(flagged, rules, refs).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            counts = judge(ctx, table, checked, rules, pending, record=_record(entity, columns))
            accepted = checked.where(F.size("_dq_failures") == 0)
            if snapshot:
                changes = scd2.merge_scd2(
                    ctx.spark,
                    ctx.cfg,
                    table,
                    accepted,
                    key=list(entity.keys),
                    attributes=entities.snapshot_attributes(entity, columns),
                    valid_from=entities.VALID_FROM,
                    carry=[c for c in [entity.time] if c] + entities.LINEAGE,
                    txn_app_id=f"fin360.{table}.{_units(pending)}",
                )
                counts.update(changes)
            else:
                partitions = list(catalog.silver_table(entity.name).partition_by)
                lake.append(
                    accepted.select(*columns, *entities.LINEAGE),
                    ctx.cfg,
                    table,
                    txn_app_id=f"fin360.{table}.{_units(pending)}",
                    partition_by=partitions,
                )
        finally:
            checked.unpersist()
        out.update(**counts)
    record_units(ctx, table, pending, started)


def _record(entity: Entity, columns: list[str]) -> Column:
    """What a quarantined row keeps: its silver columns, without clear PII."""
    clear = set(t.clear_pii(entity))
    return F.to_json(F.struct(*(c for c in columns if c not in clear)))


def judge(
    ctx: Context,
    table: str,
    checked: DataFrame,
    rules: list[quality.Rule],
    pending: dict[str, list[str]],
    record: Column,
) -> dict[str, int]:
    """Record every rule's result in ``ops.dq_results`` (configured rules, the job's own
    duplicate and ordering checks, and the mapping's unmapped values and unparseable dates),
    stop on a blocking breach, append the failing rows (``record`` is what is kept of each) to
    the table's quarantine, and count accepted and quarantined rows per source batch into
    ``ctx.summary``."""
    quarantine = catalog.silver_quarantine(table)
    # the one pass over the batch: rows per source batch and set of failed rules
    profile = quality.failure_profile(checked, rules, by=("_source", "_batch_id"))
    mapping_rules = sorted({f for p in profile for f in p[quality.FAILURES] if ":" in f})
    built_in = [
        *(quality.Rule(name, "flag") for name in BUILT_IN_RULES),
        *(quality.Rule(name, "flag", (name.split(":", 1)[1],)) for name in mapping_rules),
    ]
    results = quality.rule_results(
        profile, [*rules, *built_in], now=utc_now(), previous_rows=_previous_rows(ctx, table)
    )
    _write_dq_results(ctx, table, pending, results)
    breaches = quality.blocking_breaches(results)
    if breaches:
        b = breaches[0]
        raise Fin360Error(
            f"blocking data-quality rule '{b['rule']}' failed on {table}: "
            f"{b['rows_failed']} of {b['rows_checked']} rows ({b['failure_rate']:.2%}) "
            f"> threshold {b['threshold']:.2%}"
        )
    ok = F.size("_dq_failures") == 0
    per_batch: dict[tuple[str, str], dict[str, int]] = {}  # (source, batch) -> rows, accepted
    for p in profile:
        counts = per_batch.setdefault((p["_source"], p["_batch_id"]), {"rows": 0, "accepted": 0})
        counts["rows"] += p["_rows"]
        counts["accepted"] += 0 if p[quality.FAILURES] else p["_rows"]
    if any(
        r["accepted"] < r["rows"] for r in per_batch.values()
    ):  # a commit only when there are some
        rejected = checked.where(~ok).select(
            F.col("_source").alias("source"),
            "_batch_id",
            "_record_hash",
            record.alias("record"),
            F.col("_dq_failures").alias("rules"),
            F.lit(utc_now()).alias("quarantined_at"),
        )
        txn = f"fin360.{quarantine}.{_units(pending)}"
        lake.append(rejected, ctx.cfg, quarantine, txn_app_id=txn)
    name = table.partition(".")[2]
    for (source, batch_id), counts in per_batch.items():
        ctx.summary[f"{name}/{source}/{batch_id}"] = {
            "input_rows": counts["rows"],
            "accepted": counts["accepted"],
            "quarantined": counts["rows"] - counts["accepted"],
        }
    accepted_rows = sum(r["accepted"] for r in per_batch.values())
    return {
        "accepted": accepted_rows,
        "quarantined": sum(r["rows"] for r in per_batch.values()) - accepted_rows,
    }


def _previous_rows(ctx: Context, table: str) -> int | None:
    if not ctx.exists(DQ_RESULTS):
        return None
    last = (
        ctx.table(DQ_RESULTS)
        .where(F.col("table") == table)
        .orderBy(F.col("evaluated_at").desc())
        .select("rows_checked")
        .first()
    )
    return last["rows_checked"] if last else None


def _write_dq_results(
    ctx: Context, table: str, pending: dict[str, list[str]], results: list[dict[str, Any]]
) -> None:
    now = utc_now()
    rows = [
        (ctx.run.run_id, table, _units(pending), r["rule"], r["check"], r["columns"], r["blocking"],
         float(r["threshold"]), r["rows_checked"], r["rows_failed"], float(r["failure_rate"]),
         r["passed"], r["observed"], now)
        for r in results
    ]  # fmt: skip
    # one commit: the rules of an earlier attempt at these batches (killed, breached, or a
    # concurrent run) are replaced, and a rule it had that this one has not is deleted
    lake.upsert(
        ctx.spark,
        ctx.cfg,
        DQ_RESULTS,
        ctx.spark.createDataFrame(rows, DQ_RESULTS_SCHEMA),
        "t.table = s.table AND t.batches = s.batches AND t.rule = s.rule",
        delete_unmatched=(F.col("t.table") == table) & (F.col("t.batches") == _units(pending)),
    )
    for r in results:
        if not r["passed"]:
            log.warning(
                "table=%s rule=%s failed rows=%d/%d",
                table,
                r["rule"],
                r["rows_failed"],
                r["rows_checked"],
            )


def _units(pending: dict[str, list[str]]) -> str:
    return ",".join(f"{src}/{b}" for src, batches in sorted(pending.items()) for b in batches)


def record_units(
    ctx: Context,
    table: str,
    pending: dict[str, list[str]],
    started: datetime,
    extra_outputs: tuple[str, ...] = (),
) -> None:
    name = table.partition(".")[2]
    outputs = {
        t: lake.version(ctx.spark, ctx.cfg, t)
        for t in (table, catalog.silver_quarantine(table), *extra_outputs)
    }
    for src, batches in pending.items():
        inputs = {catalog.bronze(src): lake.version(ctx.spark, ctx.cfg, catalog.bronze(src))}
        for batch in batches:
            counts = ctx.summary.get(f"{name}/{src}/{batch}", {})
            ctx.run.record(
                f"{name}/{src}/{batch}",
                "ok",
                started_at=started,
                input_rows=counts.get("input_rows", 0),
                output_rows=counts.get("accepted", 0),
                quarantined_rows=counts.get("quarantined", 0),
                inputs=inputs,
                outputs=outputs,
            )
    ctx.run.flush()  # one ops.job_runs commit per table
