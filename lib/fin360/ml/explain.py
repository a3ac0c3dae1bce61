"""Reason codes: the features that push one row's score up the most.

A linear attribution over the model's assembled feature vector: feature ``i`` contributes
``weight[i] * (x[i] - centre[i])``; the reasons are the names of the largest positive
contributions. For a logistic regression on standardised features with ``centre`` the
population mean, that is exactly each feature's share of the log-odds above the average
customer. Spark built-ins only, so it runs in the executors at any scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

IMPUTED_SUFFIX = "__imp"
ENCODED_SUFFIX = "__ohe"


def vector_names(df: DataFrame, column: str) -> list[str]:
    """Readable names of the slots of an assembled vector column, from its ML attributes:
    ``bureau_score__imp`` -> ``bureau_score``, ``age_band__ohe_25-34`` -> ``age_band=25-34``."""
    attrs = df.schema[column].metadata["ml_attr"]["attrs"]
    slots = sorted((a["idx"], a["name"]) for group in attrs.values() for a in group)
    return [_readable(name) for _, name in slots]


def _readable(name: str) -> str:
    if f"{ENCODED_SUFFIX}_" in name:
        column, _, value = name.partition(f"{ENCODED_SUFFIX}_")
        return f"{column}={value}"
    return name.removesuffix(IMPUTED_SUFFIX)


def top_contributions(
    vector: str,
    names: Sequence[str],
    weights: Sequence[float],
    centre: Sequence[float],
    n: int,
) -> Column:
    """array<string>: the ``n`` features with the largest positive contribution, largest first."""
    if not len(names) == len(weights) == len(centre):
        raise ValueError("names, weights and centre must have one entry per vector slot")
    w = F.array(*(F.lit(float(v)) for v in weights))
    c = F.array(*(F.lit(float(v)) for v in centre))
    label = F.array(*(F.lit(v) for v in names))
    contributions = F.transform(
        vector_to_array(vector),
        lambda x, i: F.struct(
            ((x - F.element_at(c, i + 1)) * F.element_at(w, i + 1)).alias("contribution"),
            F.element_at(label, i + 1).alias("feature"),
        ),
    )
    positive = F.filter(contributions, lambda s: s["contribution"] > 0)
    return F.transform(F.slice(F.sort_array(positive, asc=False), 1, n), lambda s: s["feature"])
