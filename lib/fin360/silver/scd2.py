"""Slowly changing dimension, type 2, by Delta MERGE.

Each key has one current row (``is_current``, ``valid_to`` null) and closed history rows. A
changed attribute (by ``attr_hash``) closes the current row at the new version's
``valid_from`` and inserts the new version; unchanged keys are not touched, so re-running the
same batch changes nothing (and commits nothing).
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F


def attr_hash(attributes: list[str]) -> Column:
    return F.sha2(F.to_json(F.struct(*attributes)), 256)


def merge_scd2(
    spark: SparkSession,
    path: str,
    updates: DataFrame,
    *,
    key: str,
    attributes: list[str],
    valid_from: str,
) -> dict[str, int]:
    """Apply ``updates`` (one row per key: key, attributes, ``valid_from`` column) to the SCD2
    table at ``path``; returns the number of rows closed and inserted."""
    staged = updates.select(
        key,
        *attributes,
        attr_hash(attributes).alias("attr_hash"),
        F.col(valid_from).alias("valid_from"),
    )
    if not DeltaTable.isDeltaTable(spark, path):
        first = staged.withColumn("valid_to", F.lit(None).cast("timestamp")).withColumn(
            "is_current", F.lit(True)
        )
        first.write.format("delta").save(path)
        return {"closed": 0, "inserted": first.count()}

    target = DeltaTable.forPath(spark, path)
    current = target.toDF().where("is_current").select(key, F.col("attr_hash").alias("_old_hash"))
    cached = (
        staged.join(current, key, "left")
        .where(F.col("_old_hash").isNull() | (F.col("_old_hash") != F.col("attr_hash")))
        .cache()
    )
    counts = cached.agg(
        F.count(F.lit(1)).alias("changed"), F.count("_old_hash").alias("closed")
    ).first()
    if counts["changed"] == 0:
        cached.unpersist()
        return {"closed": 0, "inserted": 0}
    changes = cached.drop("_old_hash")
    # Each change twice: keyed, to close the current row; unkeyed, to insert the new version.
    rows = changes.withColumn("_merge_key", F.col(key)).unionByName(
        changes.withColumn("_merge_key", F.lit(None).cast(changes.schema[key].dataType))
    )
    values = {c: F.col(f"s.{c}") for c in [key, *attributes, "attr_hash", "valid_from"]}
    (
        target.alias("t")
        .merge(rows.alias("s"), f"t.{key} = s._merge_key AND t.is_current")
        .whenMatchedUpdate(
            condition="t.attr_hash <> s.attr_hash",
            set={"is_current": F.lit(False), "valid_to": F.col("s.valid_from")},
        )
        .whenNotMatchedInsert(
            condition="s._merge_key IS NULL",
            values={**values, "valid_to": F.lit(None).cast("timestamp"), "is_current": F.lit(True)},
        )
        .execute()
    )
    cached.unpersist()
    return {"closed": counts["closed"], "inserted": counts["changed"]}
