"""``silver.customers`` and ``silver.customer_xref``: customer records of every source that
maps onto the ``customer`` entity, mapped -> checked -> resolved -> pseudonymised -> SCD2.

Entity resolution needs every customer record, so a new customer or bureau batch re-resolves
all of them; SCD2 then touches only the customers that changed. Clear PII exists here only in
flight: the resolution compares clear values, the tables get tokens and masks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fin360 import canonical, catalog, graph, lake
from fin360.governance.audit import utc_now
from fin360.logs import stage
from fin360.silver import quality, scd2
from fin360.silver import resolution as er
from fin360.silver import transforms as t

if TYPE_CHECKING:
    from fin360.silver.job import Context

log = logging.getLogger(__name__)

ENTITY = canonical.entity("customer")
TABLE = catalog.silver("customer")
# columns of a resolved record that are not attributes of the customer's SCD2 version
_NOT_ATTRIBUTES = {"customer_src_id", "created_at", "updated_at"}


def load(ctx: Context) -> None:
    from fin360.silver.job import judge, pending_batches, record_units

    pending = pending_batches(ctx, ENTITY)
    bureau = catalog.silver("bureau_record").partition(".")[2]
    bureau_changed = any(k.startswith(f"{bureau}/") for k in ctx.summary)
    if not pending and not bureau_changed:
        log.info("table=%s up to date", TABLE)
        return
    started = utc_now()
    every_batch = {
        m.source.name: sorted(
            u.split("/", 1)[1] for u in ctx.landed if u.startswith(f"{m.source.name}/")
        )
        for m in ctx.mappings[ENTITY.name]
    }
    with stage(log, "silver", table=TABLE, batches=",".join(sorted(pending))) as out:
        records = (
            ctx.mapped(ENTITY, every_batch)
            .withColumn("name_key", F.lower(F.regexp_replace("name", r"\s", "")))
            .transform(t.with_duplicates_flagged(["_record_hash"]))
        )
        rules = ctx.rules.get(ENTITY.table, [])
        checked = quality.with_rule_failures(records, rules).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            is_new = F.lit(False)
            for source, batches in pending.items():
                is_new = is_new | ((F.col("_source") == source) & F.col("_batch_id").isin(batches))
            columns = [c for c in ENTITY.column_names if c in records.columns]
            clear = set(t.clear_pii(ENTITY))
            record = F.to_json(F.struct(*(c for c in columns if c not in clear)))
            counts = (
                judge(ctx, TABLE, checked.where(is_new), rules, pending, record) if pending else {}
            )
            latest = er.latest_records(checked.where(F.size("_dq_failures") == 0))
            thresholds = er.MatchThresholds(**ctx.cfg["silver.er"])
            engine = graph.engine(ctx.spark, ctx.cfg)
            resolved = er.resolve(latest, thresholds, engine).persist()
            changes = _write_scd2(ctx, latest.join(resolved, "customer_src_id", "inner"))
            _write_xref(
                ctx,
                latest.select("customer_src_id", "_source").join(
                    resolved, "customer_src_id", "inner"
                ),
            )
            resolved.unpersist()
        finally:
            checked.unpersist()
        ctx.summary["customers"] = {**counts, **changes}
        out.update(**counts, **changes)
    record_units(ctx, TABLE, pending, started, extra_outputs=(catalog.SILVER_CUSTOMER_XREF,))


def _write_xref(ctx: Context, resolved: DataFrame) -> None:
    """Every source key -> customer_id, rebuilt whole (it follows the latest resolution)."""
    frames = [
        resolved.select(
            F.lit(ENTITY.name).alias("entity"),
            F.col("_source").alias("source"),
            F.col("customer_src_id").alias("source_key"),
            "customer_id",
            "match_rule",
            "confidence",
        )
    ]
    bureau = catalog.silver("bureau_record")
    if ctx.exists(TABLE) and ctx.exists(bureau):
        tokens = ctx.table(TABLE).where("is_current").select("customer_id", "resident_id_token")
        frames.append(
            ctx.table(bureau)
            .join(tokens, "resident_id_token", "inner")
            .select(
                F.lit("bureau_record").alias("entity"),
                F.col("_source").alias("source"),
                F.col("bureau_record_id").alias("source_key"),
                "customer_id",
                F.lit("resident_id").alias("match_rule"),
                F.lit(1.0).alias("confidence"),
            )
        )
    xref = frames[0]
    for frame in frames[1:]:
        xref = xref.unionByName(frame)
    lake.overwrite(xref, ctx.cfg, catalog.SILVER_CUSTOMER_XREF)


def _write_scd2(ctx: Context, members: DataFrame) -> dict[str, int]:
    """One current row per customer_id: the cluster's newest record, pseudonymised."""
    survivors = er.latest_records(members, key="customer_id")
    since = members.groupBy("customer_id").agg(
        F.min("created_at").alias("customer_since"), F.max("updated_at").alias("source_updated_at")
    )
    present = [c for c in ENTITY.column_names if c in members.columns]
    tokenised = (
        survivors.select("customer_id", *present)
        .transform(t.pseudonymised(ENTITY, ctx.key))
        .join(since, "customer_id", "inner")
    )
    attributes = [
        c
        for c in tokenised.columns
        if c not in {"customer_id", "source_updated_at", *_NOT_ATTRIBUTES}
    ]
    return scd2.merge_scd2(
        ctx.spark,
        ctx.cfg,
        TABLE,
        tokenised,
        key="customer_id",
        attributes=attributes,
        valid_from="source_updated_at",
    )
