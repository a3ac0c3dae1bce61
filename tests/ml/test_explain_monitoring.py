"""Reason codes and population stability on hand-made data."""

from __future__ import annotations

import math
from datetime import date

import pytest
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from fin360 import lake
from fin360.ml import explain, monitoring


def test_top_contributions_ranks_positive_pushes(spark):
    df = spark.createDataFrame(
        [(1, Vectors.dense([3.0, 0.0, 1.0])), (2, Vectors.dense([0.0, 0.0, 0.0]))],
        ["id", "v"],
    )
    reasons = explain.top_contributions(
        "v", ["income", "age", "debt"], weights=[-1.0, 2.0, 4.0], centre=[1.0, 1.0, 0.0], n=2
    )
    got = {r["id"]: r["r"] for r in df.select("id", reasons.alias("r")).collect()}
    # row 1: income -2, age -2, debt +4 -> only debt pushes up
    # row 2: income +1, age -2, debt 0 -> only income
    assert got == {1: ["debt"], 2: ["income"]}
    with pytest.raises(ValueError, match="one entry per vector slot"):
        explain.top_contributions("v", ["a"], [1.0, 2.0], [0.0, 0.0], 1)


def test_psi_is_zero_on_the_same_data_and_grows_with_a_shift(spark, cfg):
    base = spark.range(1000).select((F.col("id") % 100).cast("double").alias("x"))
    ref = monitoring.reference(base, ["x"], bins=10)
    same, rows = monitoring.psi(base, ref)
    assert rows == 1000 and same["x"] == pytest.approx(0.0, abs=1e-9)
    shifted, _ = monitoring.psi(base.select((F.col("x") + 30).alias("x")), ref)
    # 30% of the mass moves out of the bottom three bins into the top one
    expected = 3 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + (0.4 - 0.1) * math.log(0.4 / 0.1)
    assert shifted["x"] == pytest.approx(expected, rel=0.05)
    nulls, _ = monitoring.psi(base.select(F.lit(None).cast("double").alias("x")), ref)
    assert nulls["x"] > 1.0  # a column gone missing is drift too

    day = date(2025, 6, 30)
    for _ in range(2):  # idempotent per date and model
        drifted = monitoring.record(spark, cfg, day, "m", "1", {"x": shifted["x"], "y": 0.01}, 1000)
    assert drifted == ["x"]
    rows = lake.read(spark, cfg, monitoring.MODEL_MONITORING).orderBy("column").collect()
    assert [(r["column"], r["is_drift"]) for r in rows] == [("x", True), ("y", False)]
