"""A row number over a whole frame, without a single-partition window."""

from __future__ import annotations

import random

from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360.frames import with_row_number


def test_row_number_matches_a_sort_across_many_partitions(spark):
    rng = random.Random(7)
    rows = [(f"t{i:03d}", rng.choice([0.5, 1.0, 2.0, rng.random()])) for i in range(300)]
    df = spark.createDataFrame(rows, "txn_id string, score double").repartition(5)
    expected_order = sorted(rows, key=lambda r: (-r[1], r[0]))  # score desc, ties by id
    expected = spark.createDataFrame(
        [(t, s, n) for n, (t, s) in enumerate(expected_order, start=1)],
        "txn_id string, score double, rank long",
    )
    saved = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions",
                                             "spark.sql.adaptive.coalescePartitions.enabled")}  # fmt: skip
    spark.conf.set("spark.sql.shuffle.partitions", "7")  # several sorted ranges, not coalesced
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    try:
        ranked = with_row_number(df, [F.desc("score"), F.asc("txn_id")], "rank")
        assert ranked.rdd.getNumPartitions() > 1
        assert_df_equality(ranked, expected, ignore_row_order=True, ignore_nullable=True)
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)


def test_row_number_of_an_empty_frame(spark):
    empty = spark.createDataFrame([], "txn_id string, score double")
    ranked = with_row_number(empty, [F.desc("score")], "rank")
    assert ranked.columns == ["txn_id", "score", "rank"]
    assert ranked.isEmpty()
