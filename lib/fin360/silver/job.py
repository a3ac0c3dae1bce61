"""The silver job: new bronze batches -> canonical, checked, pseudonymised silver tables.

For each silver table, the bronze batches not yet processed for it (per ``ops.job_runs``) are
standardised, deduplicated (within the batch and against the table), checked against the
table's data-quality rules, then merged on the table's keys. Every bronze row ends in the
table or in ``silver._quarantine_<table>`` with the rules it failed, and the counts are
recorded per batch. ``silver.customers`` is resolved across CRM duplicates and the bureau
and kept as SCD2 history. With no new bronze batch, the job changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import Fin360Error, lake
from fin360.bronze.job import JOB as BRONZE_JOB
from fin360.config import Config, load_sources
from fin360.governance import pii
from fin360.governance.audit import JobRun, succeeded_units, utc_now
from fin360.logs import stage
from fin360.silver import entity, quality, scd2
from fin360.silver import transforms as t

log = logging.getLogger(__name__)

JOB = "silver"
DQ_RESULTS = "ops.dq_results"

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


@dataclass
class Context:
    spark: SparkSession
    cfg: Config
    run: JobRun
    key: bytes
    rules: dict[str, list[quality.Rule]]
    timezones: dict[str, str]
    landed: set[str]  # bronze units ("source/batch") landed so far
    done: set[str]  # silver units ("table/source/batch") processed so far
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> DataFrame:
        return lake.read(self.spark, self.cfg, name)

    def pending(self, table: str, source: str) -> list[str]:
        batches = [u.split("/", 1)[1] for u in self.landed if u.startswith(f"{source}/")]
        return sorted(b for b in batches if f"{table}/{source}/{b}" not in self.done)

    def bronze(self, source: str, batches: list[str]) -> DataFrame:
        return self.table(f"bronze.{source}").where(F.col("_batch_id").isin(batches))


@dataclass(frozen=True)
class TableSpec:
    """A silver table fed by one or more bronze sources."""

    name: str  # without the layer: "transactions"
    keys: tuple[str, ...]
    sources: dict[str, Callable[[Context], Callable[[DataFrame], DataFrame]]]
    enrich: Callable[[Context], Callable[[DataFrame], DataFrame]] | None = None
    references: tuple[str, ...] = ()


TABLES = [
    TableSpec("products", ("product_code",), {"products": lambda ctx: t.products_standardised}),
    TableSpec(
        "fx_rates", ("rate_date", "currency"), {"fx_rates": lambda ctx: t.fx_rates_standardised}
    ),
    TableSpec(
        "accounts",
        ("account_id",),
        {"core_accounts": lambda ctx: t.accounts_standardised},
        enrich=lambda ctx: t.with_product_category(ctx.table("silver.products")),
        references=("silver.products",),
    ),
    TableSpec(
        "transactions",
        ("txn_id",),
        {
            "card_transactions": lambda ctx: t.card_transactions_standardised(
                ctx.timezones["card_transactions"]
            ),
            "transfers": lambda ctx: t.transfers_standardised,
        },
        enrich=lambda ctx: (
            lambda df: df.transform(
                t.with_fx_converted_amount(
                    ctx.table("silver.fx_rates"), ctx.cfg["silver.base_currency"]
                )
            ).transform(t.with_mcc_category(ctx.cfg["silver.mcc_categories"]))
        ),
        references=("silver.accounts",),
    ),
    TableSpec(
        "app_events",
        ("event_id",),
        {"app_events": lambda ctx: t.app_events_standardised(ctx.timezones["app_events"], ctx.key)},
    ),
    TableSpec(
        "complaints",
        ("complaint_id",),
        {"complaints": lambda ctx: t.complaints_standardised(ctx.timezones["complaints"])},
        enrich=lambda ctx: t.with_text_analysis,
    ),
    TableSpec(
        "bureau",
        ("bureau_record_id",),
        {"credit_bureau": lambda ctx: t.bureau_standardised(ctx.key)},
    ),
    TableSpec("loans", ("loan_id",), {"loans": lambda ctx: t.loans_standardised}),
]


def run(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    key = pii.pii_key()  # fail before any work when the secret is missing
    sources = load_sources(cfg)
    default_tz = cfg["silver.default_timezone"]
    ctx = Context(
        spark=spark,
        cfg=cfg,
        run=JobRun(spark, cfg, JOB),
        key=key,
        rules=quality.load_rules(cfg),
        timezones={name: spec.timezone or default_tz for name, spec in sources.items()},
        landed=succeeded_units(spark, cfg, BRONZE_JOB),
        done=succeeded_units(spark, cfg, JOB),
    )
    if not ctx.landed:
        raise Fin360Error("bronze has no landed batch yet: run `fin360 run bronze` first")
    try:
        for spec in TABLES:
            load_table(ctx, spec)
        load_customers(ctx)
    except Exception as exc:
        ctx.run.finish("failed", details=ctx.summary, error=str(exc)[:2000])
        raise
    ctx.run.finish("ok", details=ctx.summary)
    return ctx.summary


def _quarantine_table(name: str) -> str:
    return f"silver._quarantine_{name}"


def load_table(ctx: Context, spec: TableSpec) -> None:
    table = f"silver.{spec.name}"
    pending = {src: ctx.pending(spec.name, src) for src in spec.sources}
    pending = {src: b for src, b in pending.items() if b}
    if not pending:
        log.info("table=%s up to date", table)
        return
    started = utc_now()
    with stage(log, "silver", table=table, batches=_units(pending)) as out:
        frames = [
            ctx.bronze(src, batches)
            .transform(spec.sources[src](ctx))
            .withColumn("_source", F.lit(src))
            for src, batches in pending.items()
        ]
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame)
        if spec.enrich:
            df = df.transform(spec.enrich(ctx))
        columns = [c for c in df.columns if c not in ("_source", "_batch_id", "_record_hash")]
        flagged = df.transform(t.with_duplicates_flagged(list(spec.keys)))
        if lake.exists(ctx.spark, ctx.cfg, table):
            flagged = _flag_existing_keys(flagged, ctx.table(table), spec.keys)
        references = {r: ctx.table(r) for r in spec.references}
        counts = _check_and_write(ctx, spec.name, flagged, columns, spec.keys, references, pending)
        out.update(**counts)
    _record_units(ctx, spec.name, pending, started)


def _flag_existing_keys(df: DataFrame, existing: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """A key already in the table (landed again in a later batch) is a duplicate too."""
    marker = existing.select(*keys).withColumn("_exists", F.lit(True))
    return (
        df.join(marker, list(keys), "left")
        .withColumn(
            "_dq_failures",
            F.when(
                F.col("_exists") & ~F.array_contains("_dq_failures", t.DUPLICATE_RULE),
                F.array_append("_dq_failures", F.lit(t.DUPLICATE_RULE)),
            ).otherwise(F.col("_dq_failures")),
        )
        .drop("_exists")
    )


def _check_and_write(
    ctx: Context,
    name: str,
    flagged: DataFrame,
    columns: list[str],
    keys: tuple[str, ...],
    references: dict[str, DataFrame],
    pending: dict[str, list[str]],
) -> dict[str, int]:
    """DQ rules, then MERGE of the accepted rows; see :func:`_judge` for the rest."""
    table = f"silver.{name}"
    rules = ctx.rules.get(name, [])
    checked = quality.with_rule_failures(flagged, rules, references).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        counts = _judge(
            ctx, name, checked, [*rules, quality.Rule(t.DUPLICATE_RULE, "unique", keys)],
            pending, record=F.to_json(F.struct(*columns)),
        )  # fmt: skip
        accepted = checked.where(F.size("_dq_failures") == 0)
        _merge_insert(ctx, table, accepted.select(*columns, "_batch_id", "_record_hash"), keys)
    finally:
        checked.unpersist()
    return counts


def _judge(
    ctx: Context,
    name: str,
    checked: DataFrame,
    rules: list[quality.Rule],
    pending: dict[str, list[str]],
    record: Column,
) -> dict[str, int]:
    """Record every rule's result in ``ops.dq_results``, stop on a blocking breach, append the
    failing rows (``record`` is what is kept of each) to the table's quarantine, and count
    accepted and quarantined rows per source batch into ``ctx.summary``."""
    table, quarantine = f"silver.{name}", _quarantine_table(name)
    results = quality.rule_results(
        checked, rules, now=utc_now(), previous_rows=_previous_rows(ctx, table)
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
    rejected = checked.where(~ok).select(
        F.col("_source").alias("source"),
        "_batch_id",
        "_record_hash",
        record.alias("record"),
        F.col("_dq_failures").alias("rules"),
        F.lit(utc_now()).alias("quarantined_at"),
    )
    lake.append(rejected, ctx.cfg, quarantine, txn_app_id=f"fin360.{quarantine}.{_units(pending)}")
    per_batch = (
        checked.groupBy("_source", "_batch_id")
        .agg(F.count(F.lit(1)).alias("rows"), F.count_if(ok).alias("accepted"))
        .collect()
    )
    for row in per_batch:
        ctx.summary[f"{name}/{row['_source']}/{row['_batch_id']}"] = {
            "input_rows": row["rows"],
            "accepted": row["accepted"],
            "quarantined": row["rows"] - row["accepted"],
        }
    accepted_rows = sum(r["accepted"] for r in per_batch)
    return {
        "accepted": accepted_rows,
        "quarantined": sum(r["rows"] for r in per_batch) - accepted_rows,
    }


def _merge_insert(ctx: Context, table: str, rows: DataFrame, keys: tuple[str, ...]) -> None:
    """Insert rows whose key is new; a rerun after a crash inserts nothing twice."""
    path = lake.table_path(ctx.cfg, table)
    if not DeltaTable.isDeltaTable(ctx.spark, path):
        rows.write.format("delta").save(path)
        return
    condition = " AND ".join(f"t.{k} <=> s.{k}" for k in keys)
    DeltaTable.forPath(ctx.spark, path).alias("t").merge(
        rows.alias("s"), condition
    ).whenNotMatchedInsertAll().execute()


def _previous_rows(ctx: Context, table: str) -> int | None:
    if not lake.exists(ctx.spark, ctx.cfg, DQ_RESULTS):
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
    lake.append(ctx.spark.createDataFrame(rows, DQ_RESULTS_SCHEMA), ctx.cfg, DQ_RESULTS)
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


def _record_units(
    ctx: Context, name: str, pending: dict[str, list[str]], started: datetime
) -> None:
    outputs = {
        f"silver.{name}": lake.version(ctx.spark, ctx.cfg, f"silver.{name}"),
        _quarantine_table(name): lake.version(ctx.spark, ctx.cfg, _quarantine_table(name)),
    }
    for src, batches in pending.items():
        for batch in batches:
            counts = ctx.summary.get(f"{name}/{src}/{batch}", {})
            ctx.run.record(
                f"{name}/{src}/{batch}",
                "ok",
                started_at=started,
                input_rows=counts.get("input_rows", 0),
                output_rows=counts.get("accepted", 0),
                quarantined_rows=counts.get("quarantined", 0),
                inputs={f"bronze.{src}": lake.version(ctx.spark, ctx.cfg, f"bronze.{src}")},
                outputs=outputs,
            )


# --------------------------------------------------------------------------- customers


def load_customers(ctx: Context) -> None:
    """CRM -> standardised -> checked -> resolved -> pseudonymised -> SCD2 ``silver.customers``
    and ``silver.customer_xref``. Entity resolution needs every CRM record, so a new CRM or
    bureau batch re-resolves all of them; SCD2 then touches only the customers that changed."""
    name = "customers"
    pending = {"crm_customers": ctx.pending(name, "crm_customers")}
    bureau_changed = any(k.startswith("bureau/") for k in ctx.summary)
    if not pending["crm_customers"] and not bureau_changed:
        log.info("table=silver.customers up to date")
        return
    started = utc_now()
    with stage(log, "silver", table="silver.customers", batches=_units(pending)) as out:
        crm = (
            ctx.table("bronze.crm_customers")
            .transform(t.customers_standardised(ctx.timezones["crm_customers"]))
            .withColumn("_source", F.lit("crm_customers"))
            .transform(t.with_duplicates_flagged(["_record_hash"]))
        )
        checked = quality.with_rule_failures(crm, ctx.rules.get(name, [])).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            new_rows = checked.where(F.col("_batch_id").isin(pending["crm_customers"]))
            rules = [
                *ctx.rules.get(name, []),
                quality.Rule(t.DUPLICATE_RULE, "unique", ("_record_hash",)),
            ]
            # the quarantined record keeps no clear PII: only its source id
            record = F.to_json(F.struct("customer_src_id"))
            counts = _judge(ctx, name, new_rows, rules, pending, record)
            records = entity.latest_records(checked.where(F.size("_dq_failures") == 0))
            thresholds = entity.MatchThresholds(**ctx.cfg["silver.er"])
            resolved = entity.resolve(ctx.spark, records, thresholds).persist()
            changes = _write_scd2(ctx, records.join(resolved, "customer_src_id"))
            _write_xref(ctx, resolved)
            ctx.summary["customers"] = {**counts, **changes}
            er = evaluate_resolution(ctx)
            if er:
                ctx.summary["entity_resolution"] = er
                log.info(
                    "entity resolution vs truth: precision=%.4f recall=%.4f over %d records",
                    er["precision"], er["recall"], er["records"],
                )  # fmt: skip
            resolved.unpersist()
        finally:
            checked.unpersist()
        out.update(**counts, **changes)
    _record_units(ctx, name, pending, started)


def _write_xref(ctx: Context, resolved: DataFrame) -> None:
    """Every source key -> customer_id, rebuilt whole (it follows the latest resolution)."""
    crm = resolved.select(
        F.lit("crm_customers").alias("source"),
        F.col("customer_src_id").alias("source_key"),
        "customer_id",
        "match_rule",
        "confidence",
    )
    tokens = (
        ctx.table("silver.customers").where("is_current").select("customer_id", "resident_id_token")
        if lake.exists(ctx.spark, ctx.cfg, "silver.customers")
        else None
    )
    frames = [crm]
    if tokens is not None and lake.exists(ctx.spark, ctx.cfg, "silver.bureau"):
        bureau = (
            ctx.table("silver.bureau")
            .join(tokens, "resident_id_token")
            .select(
                F.lit("credit_bureau").alias("source"),
                F.col("bureau_record_id").alias("source_key"),
                "customer_id",
                F.lit("resident_id").alias("match_rule"),
                F.lit(1.0).alias("confidence"),
            )
        )
        frames.append(bureau)
    xref = frames[0]
    for frame in frames[1:]:
        xref = xref.unionByName(frame)
    xref.write.format("delta").mode("overwrite").save(
        lake.table_path(ctx.cfg, "silver.customer_xref")
    )


def _write_scd2(ctx: Context, members: DataFrame) -> dict[str, int]:
    """One current row per customer_id: the cluster's newest record, pseudonymised."""
    survivors = entity.latest_records(members, key="customer_id")
    since = members.groupBy("customer_id").agg(
        F.min("created_at").alias("customer_since"), F.max("updated_at").alias("source_updated_at")
    )
    tokenised = survivors.transform(t.pseudonymised_customers(ctx.key)).join(since, "customer_id")
    counts = scd2.merge_scd2(
        ctx.spark,
        lake.table_path(ctx.cfg, "silver.customers"),
        tokenised,
        key="customer_id",
        attributes=[*t.CUSTOMER_ATTRIBUTES, "customer_since"],
        valid_from="source_updated_at",
    )
    return counts


def evaluate_resolution(ctx: Context) -> dict[str, float] | None:
    """Pairwise precision/recall of the xref against the generator's truth, when present."""
    truth_dir = Path(ctx.cfg.path("truth"))
    files = {
        "crm_customers": truth_dir / "customer_identity.parquet",
        "credit_bureau": truth_dir / "bureau_identity.parquet",
    }
    if not all(f.exists() for f in files.values()):
        return None
    crm_truth = ctx.spark.read.parquet(str(files["crm_customers"])).select(
        F.concat(F.lit("crm_customers:"), "customer_src_id").alias("record"),
        F.col("person_id").alias("entity"),
    )
    bureau_truth = ctx.spark.read.parquet(str(files["credit_bureau"])).select(
        F.concat(F.lit("credit_bureau:"), "bureau_record_id").alias("record"),
        F.col("person_id").alias("entity"),
    )
    predicted = ctx.table("silver.customer_xref").select(
        F.concat_ws(":", "source", "source_key").alias("record"),
        F.col("customer_id").alias("cluster"),
    )
    return entity.pairwise_precision_recall(predicted, crm_truth.unionByName(bureau_truth))
