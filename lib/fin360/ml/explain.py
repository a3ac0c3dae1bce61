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
    """array<string>: the ``n`` features with the largest positive contribution, largest first.

    Plain column expressions (no higher-order function over the vector), so they compile with
    the rest of the projection; a slot whose weight is 0 can never push the score up and is
    left out."""
    if not len(names) == len(weights) == len(centre):
        raise ValueError("names, weights and centre must have one entry per vector slot")
    values = vector_to_array(vector)
    pushes = []
    for i, (name, w, c) in enumerate(zip(names, weights, centre, strict=True)):
        if w == 0:
            continue
        contribution = (values[i] - F.lit(float(c))) * F.lit(float(w))
        pushes.append(
            F.when(
                contribution > 0,
                F.struct(contribution.alias("contribution"), F.lit(name).alias("feature")),
            )
        )
    if not pushes:
        return F.array().cast("array<string>")
    # descending order puts the nulls (no push) last; the slice keeps at most n of them
    top = F.slice(F.sort_array(F.array(*pushes), asc=False), 1, n)
    return F.array_compact(top.getField("feature"))
