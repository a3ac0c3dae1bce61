"""Entity resolution: one ``customer_id`` per real person across CRM duplicates and sources
keyed differently (the bureau is keyed by resident ID).

1. Deterministic: CRM records with the same normalised resident ID are one person.
2. Fuzzy, with blocking: records of different step-1 clusters born on the same day are compared
   (only within that block, so the work grows with duplicates, not with customers squared);
   they match when their names are close (normalised Levenshtein ratio) and they share a phone
   or an email, or their addresses are close too.
3. Clusters linked by fuzzy pairs are merged: connected components of the pair graph
   (``fin360.graph``), so the merge scales with the cluster, not the driver.

``customer_id`` is derived from the smallest source id in the cluster, so it is stable while
the cluster's oldest record stays. Compared in flight on clear values; only tokens are written.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from fin360.frames import truncated
from fin360.graph import DataFrameEngine


@dataclass(frozen=True)
class MatchThresholds:
    name_similarity: float = 0.85
    address_similarity: float = 0.6


def similarity(left: Column, right: Column) -> Column:
    """1 - Levenshtein distance / longer length, in [0, 1]; null if either side is null."""
    longest = F.greatest(F.length(left), F.length(right))
    return F.when(longest > 0, 1 - F.levenshtein(left, right) / longest)


def latest_records(crm: DataFrame, key: str = "customer_src_id") -> DataFrame:
    """The newest CRM record per ``key`` (by ``updated_at``, then batch, then source id)."""
    order = Window.partitionBy(key).orderBy(
        F.col("updated_at").desc_nulls_last(), F.col("_batch_id").desc(), F.col("customer_src_id")
    )
    return crm.withColumn("_v", F.row_number().over(order)).where("_v = 1").drop("_v")


def fuzzy_pairs(records: DataFrame, thresholds: MatchThresholds) -> DataFrame:
    """Candidate pairs of different deterministic clusters that the fuzzy rule accepts:
    ``cluster_l``, ``cluster_r``, ``score``."""
    cols = ["cluster", "birth_date", "name_key", "phone", "email", "address"]
    left = records.select(*(F.col(c).alias(f"{c}_l") for c in cols))
    right = records.select(*(F.col(c).alias(f"{c}_r") for c in cols))
    pairs = left.join(
        right,
        (F.col("birth_date_l") == F.col("birth_date_r"))
        & (F.col("cluster_l") < F.col("cluster_r")),
    )
    name_score = similarity(F.col("name_key_l"), F.col("name_key_r"))
    contact = (F.col("phone_l") == F.col("phone_r")) | (F.col("email_l") == F.col("email_r"))
    address = similarity(F.col("address_l"), F.col("address_r")) >= thresholds.address_similarity
    return (
        pairs.withColumn("score", name_score)
        .where(
            (F.col("score") >= thresholds.name_similarity)
            & F.coalesce(contact | address, F.lit(False))
        )
        .select("cluster_l", "cluster_r", "score")
    )


def resolve(
    records: DataFrame, thresholds: MatchThresholds, engine: DataFrameEngine | None = None
) -> DataFrame:
    """``customer_src_id`` -> ``customer_id``, ``match_rule``, ``confidence`` for every record.

    ``records``: one row per ``customer_src_id`` with clear normalised ``resident_id``,
    ``birth_date``, ``name_key``, ``phone``, ``email``, ``address``."""
    clustered = records.withColumn(
        "cluster",
        F.when(F.col("resident_id").isNotNull(), F.concat(F.lit("rid:"), "resident_id")).otherwise(
            F.concat(F.lit("src:"), "customer_src_id")
        ),
    )
    pairs = truncated(fuzzy_pairs(clustered, thresholds))  # read three times; kept on disk
    ends = pairs.select(F.col("cluster_l").alias("id"), "score").unionByName(
        pairs.select(F.col("cluster_r").alias("id"), "score")
    )
    linked = ends.groupBy("id").agg(F.max("score").alias("fuzzy_score"))
    components, _ = (engine or DataFrameEngine()).connected_components(
        linked.select("id"),
        pairs.select(F.col("cluster_l").alias("src"), F.col("cluster_r").alias("dst")),
    )
    roots = components.join(linked, "id", "inner").select(
        F.col("id").alias("cluster"), F.col("component").alias("root"), "fuzzy_score"
    )
    resolved = clustered.join(roots, "cluster", "left").withColumn(
        "root", F.coalesce("root", "cluster")
    )
    cluster_size = F.count(F.lit(1)).over(Window.partitionBy("cluster"))
    root_size = F.count(F.lit(1)).over(Window.partitionBy("root"))
    # a record is matched by the fuzzy rule when its own cluster was linked to another one
    fuzzy = (F.col("root") != F.col("cluster")) | ((cluster_size == 1) & (root_size > 1))
    return resolved.select(
        "customer_src_id",
        F.concat(
            F.lit("C360-"),
            F.substring(
                F.sha2(F.min("customer_src_id").over(Window.partitionBy("root")), 256), 1, 16
            ),
        ).alias("customer_id"),
        F.when(fuzzy, "fuzzy")
        .when(cluster_size > 1, "resident_id")
        .otherwise("single_record")
        .alias("match_rule"),
        F.when(fuzzy, F.round("fuzzy_score", 3)).otherwise(F.lit(1.0)).alias("confidence"),
    )
