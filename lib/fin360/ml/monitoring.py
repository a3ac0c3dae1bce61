"""Population stability: how far a scoring batch has drifted from the training data.

At training time :func:`reference` records, per monitored column, the quantile bin edges and
the share of rows in each bin (plus the share of nulls); it is logged with the model run. At
scoring time :func:`psi` bins the batch with the same edges in one aggregation pass and
returns PSI = sum((actual - expected) * ln(actual / expected)) per column.
Rule of thumb: below 0.1 stable, 0.1-0.2 a shift worth watching, above 0.2 a real shift.
"""

from __future__ import annotations

import logging
import math
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import catalog, lake
from fin360.config import Config
from fin360.governance.audit import utc_now

log = logging.getLogger(__name__)

MODEL_MONITORING = catalog.OPS_MODEL_MONITORING
REFERENCE_ARTIFACT = "reference_distribution.json"
EPSILON = 1e-4  # an empty bin counts as this share, so PSI stays finite
MISSING = -1

SCHEMA = T.StructType(
    [
        T.StructField("as_of_date", T.DateType(), False),
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("column", T.StringType(), False),
        T.StructField("psi", T.DoubleType(), False),
        T.StructField("rows", T.LongType(), False),
        T.StructField("is_drift", T.BooleanType(), False),
        T.StructField("measured_at", T.TimestampType(), False),
    ]
)


def _bucket(column: str, edges: list[float]) -> Column:
    """Bin index: the number of edges at or below the value; nulls in their own bin."""
    value = F.col(column).cast("double")
    index = sum((F.when(value >= e, 1).otherwise(0) for e in edges), F.lit(0))
    return F.when(value.isNull(), F.lit(MISSING)).otherwise(index)


def _shares(df: DataFrame, edges: dict[str, list[float]]) -> tuple[dict[str, list[float]], int]:
    """Per column, the share of rows in each bin (nulls last); one pass over ``df``."""
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for column, cuts in edges.items():
        bucket = _bucket(column, cuts)
        aggs += [F.count_if(bucket == b).alias(f"{column}#{b}") for b in range(len(cuts) + 1)]
        aggs.append(F.count_if(bucket == MISSING).alias(f"{column}#{MISSING}"))
    row = df.agg(*aggs).first().asDict()
    rows = row.pop("_rows")
    shares = {
        column: [row[f"{column}#{b}"] / rows if rows else 0.0 for b in [*range(len(cuts) + 1), MISSING]]
        for column, cuts in edges.items()
    }  # fmt: skip
    return shares, rows


def reference(df: DataFrame, columns: list[str], bins: int) -> dict[str, Any]:
    """Quantile edges and bin shares of ``columns`` in ``df`` (the training data)."""
    probabilities = [i / bins for i in range(1, bins)]
    quantiles = df.select(*(F.col(c).cast("double").alias(c) for c in columns)).approxQuantile(
        columns, probabilities, 0.001
    )
    edges = {c: sorted(set(q)) for c, q in zip(columns, quantiles, strict=True)}
    shares, rows = _shares(df, edges)
    return {
        "rows": rows,
        "columns": {c: {"edges": edges[c], "expected": shares[c]} for c in columns},
    }


def psi(df: DataFrame, ref: dict[str, Any]) -> tuple[dict[str, float], int]:
    """PSI of every reference column in ``df``, and the number of rows of ``df``."""
    edges = {c: spec["edges"] for c, spec in ref["columns"].items()}
    actual, rows = _shares(df, edges)
    values = {}
    for column, spec in ref["columns"].items():
        pairs = zip(actual[column], spec["expected"], strict=True)
        values[column] = sum(
            (max(a, EPSILON) - max(e, EPSILON)) * math.log(max(a, EPSILON) / max(e, EPSILON))
            for a, e in pairs
        )
    return values, rows


def record(
    spark: SparkSession,
    cfg: Config,
    as_of: date,
    model_name: str,
    model_version: str,
    values: dict[str, float],
    rows: int,
) -> list[str]:
    """Write one row per column to ``ops.model_monitoring`` (replacing this date's rows of this
    model) and warn about every column past ``monitoring.psi_warning``; returns those columns."""
    threshold = cfg["monitoring.psi_warning"]
    drifted = sorted(c for c, v in values.items() if v > threshold)
    for column in drifted:
        log.warning(
            "drift model=%s version=%s column=%s psi=%.3f threshold=%.2f as_of=%s",
            model_name, model_version, column, values[column], threshold, as_of,
        )  # fmt: skip
    now = utc_now()
    frame = spark.createDataFrame(
        [(as_of, model_name, model_version, c, float(v), rows, v > threshold, now) for c, v in sorted(values.items())],
        SCHEMA,
    )  # fmt: skip
    lake.replace_where(
        frame,
        cfg,
        MODEL_MONITORING,
        f"as_of_date = '{as_of.isoformat()}' AND model_name = '{model_name}'",
    )
    return drifted
