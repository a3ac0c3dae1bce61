"""Slowly changing dimension, type 2, by Delta MERGE.

Each key has one current row (``is_current``, ``valid_to`` null) and closed history rows. The
updates may hold several versions of a key (two daily snapshots delivered at once); they are
applied in ``valid_from`` order. A version whose attributes (by ``attr_hash``) equal the
version before it, in the updates or the table's current row, is no change and is dropped; a
change closes the previous version at its ``valid_from`` and opens a new one. Unchanged keys are
not touched, so re-running the same updates changes nothing (and commits nothing).
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from fin360 import lake
from fin360.config import Config

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["attr_hash", "valid_from", "valid_to", "is_current"]


def attr_hash(attributes: list[str]) -> Column:
    return F.sha2(F.to_json(F.struct(*attributes)), 256)


def merge_scd2(
    spark: SparkSession,
    cfg: Config,
    name: str,
    updates: DataFrame,
    *,
    key: str | list[str],
    attributes: list[str],
    valid_from: str,
    carry: list[str] | None = None,
    partition_by: list[str] | None = None,
    txn_app_id: str | None = None,
) -> dict[str, int]:
    """Apply ``updates`` (key, attributes, the ``valid_from`` column, and ``carry`` columns
    stored but not compared, such as lineage) to the SCD2 table ``name``; returns the number
    of rows closed and inserted. ``txn_app_id`` names the updates (their batches): a rerun
    after a crash that followed the commit, or a run at the same time, applies nothing twice.
    Without it, ``updates`` must hold one version per key (a whole current state): applying it
    again changes nothing, so after losing a commit conflict to a concurrent run it is applied
    again to the table as that run left it."""
    keys = [key] if isinstance(key, str) else list(key)
    carry = carry or []

    def apply() -> dict[str, int]:
        staged = updates.select(
            *keys,
            *attributes,
            *carry,
            attr_hash(attributes).alias("attr_hash"),
            F.col(valid_from).cast("timestamp").alias("valid_from"),
        )
        exists = lake.exists(spark, cfg, name)
        if exists:
            current = (
                lake.read(spark, cfg, name)
                .where("is_current")
                .select(*keys, F.col("attr_hash").alias("_prev_hash"))
            )
            staged = staged.join(current, keys, "left")
        else:
            staged = staged.withColumn("_prev_hash", F.lit(None).cast("string"))
        order = Window.partitionBy(*keys).orderBy("valid_from", "attr_hash")
        previous = F.coalesce(F.lag("attr_hash").over(order), F.col("_prev_hash"))
        changes = (
            staged.withColumn("_before", previous)
            .where(F.col("_before").isNull() | (F.col("_before") != F.col("attr_hash")))
            .withColumn("_first", F.row_number().over(order) == 1)
            .withColumn("valid_to", F.lead("valid_from").over(order))
            .withColumn("is_current", F.col("valid_to").isNull())
            .cache()
        )
        try:
            counts = changes.agg(
                F.count(F.lit(1)).alias("inserted"),
                F.count_if(F.col("_first") & F.col("_prev_hash").isNotNull()).alias("closed"),
            ).first()
            if counts["inserted"] == 0:
                return {"closed": 0, "inserted": 0}
            columns = [*keys, *attributes, *carry, *HISTORY_COLUMNS]
            if not exists:
                lake.create(changes.select(*columns), cfg, name, partition_by, txn_app_id)
                return {"closed": 0, "inserted": counts["inserted"]}
            # The first new version of a changed key closes its current row (keyed); every new
            # version is inserted (unkeyed: the merge key is null, so it never matches).
            closing = changes.where(F.col("_first") & F.col("_prev_hash").isNotNull())
            rows = closing.select(
                *columns, *(F.col(k).alias(f"_mk_{k}") for k in keys)
            ).unionByName(
                changes.select(
                    *columns,
                    *(F.lit(None).cast(changes.schema[k].dataType).alias(f"_mk_{k}") for k in keys),
                )
            )
            condition = " AND ".join(f"t.{k} = s._mk_{k}" for k in keys) + " AND t.is_current"
            lake.merge(
                spark,
                cfg,
                name,
                rows,
                condition,
                update={"is_current": F.lit(False), "valid_to": F.col("s.valid_from")},
                insert={c: F.col(f"s.{c}") for c in columns},
                insert_when=f"s._mk_{keys[0]} IS NULL",
                txn_app_id=txn_app_id,
            )
            return {"closed": counts["closed"], "inserted": counts["inserted"]}
        finally:
            changes.unpersist()

    attempt = 1
    while True:
        try:
            return apply()
        except lake.Conflict:
            if txn_app_id is not None and lake.committed(spark, cfg, name, txn_app_id):
                return {"closed": 0, "inserted": 0}  # the other run applied these updates
            if txn_app_id is not None or attempt == lake.ATTEMPTS:
                raise
            attempt += 1
            log.warning("table=%s lost a conflict to a concurrent run: applying again", name)
