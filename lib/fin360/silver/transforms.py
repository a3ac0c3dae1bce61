"""Pure silver transforms on canonical rows (the output of :mod:`fin360.silver.mapping`):
pseudonymisation, enrichment with reference data, deduplication flags, complaint text.

PII never leaves silver in clear: :func:`pseudonymised` replaces every column the canonical
model marks as PII with a keyed token (and a masked value where the model asks for one).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360.canonical import Entity
from fin360.governance import pii

DUPLICATE_RULE = "duplicate"
OUT_OF_ORDER_RULE = "out_of_order_snapshot"

_MASKS = {
    "name": pii.mask_name,
    "phone": pii.mask_phone,
    "email": pii.mask_email,
    "resident_id": pii.mask_resident_id,
}


def token_input(col: Column, kind: str) -> Column:
    """The normalised form a PII value is tokenised in, so that tokens join across sources:
    names without spaces in lower case, addresses without whitespace, dates as ISO text."""
    if kind == "name":
        return F.lower(F.regexp_replace(col, r"\s", ""))
    if kind == "string":
        return F.lower(F.regexp_replace(col, r"\s", ""))
    return col.cast("string")


def pseudonymised(entity: Entity, key: bytes) -> Callable[[DataFrame], DataFrame]:
    """Every PII column of ``entity`` replaced by ``<column>_token`` (keyed HMAC of its
    normalised value) and, where the model defines a mask, ``<column>_masked``; a quasi
    identifier date keeps only its year (``birth_date`` -> ``birth_year``). Other columns pass
    through unchanged."""

    def transform(df: DataFrame) -> DataFrame:
        out = []
        names = {c.name: c for c in entity.columns}
        for name in df.columns:
            col = names.get(name)
            if col is None or col.pii is None:
                out.append(F.col(name))
                continue
            value = F.col(name)
            if col.pii == "quasi" and col.type == "date":
                out.append(F.year(value).alias(name.removesuffix("_date") + "_year"))
            out.append(pii.hmac_token(token_input(value, col.type), key).alias(f"{name}_token"))
            if col.mask:
                out.append(_MASKS[col.mask](value).alias(f"{name}_masked"))
        return df.select(*out)

    return transform


def clear_pii(entity: Entity) -> list[str]:
    """The entity's PII columns in clear (before :func:`pseudonymised`)."""
    return [c.name for c in entity.columns if c.pii]


# --------------------------------------------------------------------------- reference data


def with_product_category(products: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """``product_category`` from the product catalogue (null for an unknown product, which the
    ``product_known`` rule rejects)."""

    def transform(df: DataFrame) -> DataFrame:
        categories = products.where("is_current").select(
            "product_code", F.col("category").alias("product_category")
        )
        return df.join(F.broadcast(categories), "product_code", "left")

    return transform


# --------------------------------------------------------------------------- transactions


def with_fx_converted_amount(
    fx_rates: DataFrame, base_currency: str
) -> Callable[[DataFrame], DataFrame]:
    """``fx_rate`` of the event's (UTC) date and ``amount_base`` in the base currency; a
    missing rate leaves both null for the ``fx_rate_available`` rule to reject."""

    def transform(df: DataFrame) -> DataFrame:
        rates = fx_rates.select(
            F.col("rate_date").alias("_fx_date"),
            F.col("currency").alias("_fx_currency"),
            F.col("rate_to_base").alias("_fx_rate"),
        )
        joined = df.join(
            F.broadcast(rates),
            (F.to_date("event_ts") == F.col("_fx_date"))
            & (F.col("currency") == F.col("_fx_currency")),
            "left",
        )
        rate = F.when(F.col("currency") == base_currency, F.lit(1).cast("decimal(18,8)")).otherwise(
            F.col("_fx_rate")
        )
        return (
            joined.withColumn("fx_rate", rate)
            .withColumn("amount_base", (F.col("amount") * F.col("fx_rate")).cast("decimal(18,2)"))
            .drop("_fx_date", "_fx_currency", "_fx_rate")
        )

    return transform


def with_mcc_category(categories: dict[str, str]) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        mapping = F.create_map(*(F.lit(x) for pair in sorted(categories.items()) for x in pair))
        category = F.when(
            F.col("mcc").isNotNull(), F.coalesce(mapping[F.col("mcc")], F.lit("other"))
        )
        return df.withColumn("mcc_category", category)

    return transform


# --------------------------------------------------------------------------- complaint text masking


def with_masked_text(df: DataFrame) -> DataFrame:
    """Complaint text with digit runs that may be phone or ID numbers masked: free text can
    carry PII that no column declares."""
    return df.withColumn("text", F.regexp_replace("text", r"\d{7,}", "*******"))


# --------------------------------------------------------------------------- deduplication


def with_flag(condition: Column, rule: str) -> Callable[[DataFrame], DataFrame]:
    """Append ``rule`` to ``_dq_failures`` where ``condition`` holds."""

    def transform(df: DataFrame) -> DataFrame:
        flagged = F.array_append("_dq_failures", F.lit(rule))
        return df.withColumn(
            "_dq_failures",
            F.when(F.coalesce(condition, F.lit(False)), flagged).otherwise(F.col("_dq_failures")),
        )

    return transform


def with_duplicates_flagged(
    keys: list[str], newest_first: bool = False
) -> Callable[[DataFrame], DataFrame]:
    """Tag all but one row per ``keys`` with the ``duplicate`` rule: the one kept is the first
    by (source, batch, record hash), or with ``newest_first`` the one of the latest batch, so
    the choice is deterministic whatever the partitioning."""

    def transform(df: DataFrame) -> DataFrame:
        batch = F.col("_batch_id").desc() if newest_first else F.col("_batch_id")
        order = Window.partitionBy(*keys).orderBy(batch, "_source", "_record_hash")
        return df.transform(with_flag(F.row_number().over(order) > 1, DUPLICATE_RULE))

    return transform


# --------------------------------------------------------------------------- complaint text

TEXT_ANALYSIS = T.StructType(
    [
        T.StructField("language", T.StringType()),
        T.StructField("topic", T.StringType()),
        T.StructField("sentiment", T.DoubleType()),
        T.StructField("tokens", T.ArrayType(T.StringType())),
    ]
)


@F.pandas_udf(TEXT_ANALYSIS)
def _analyse_texts(texts: pd.Series) -> pd.DataFrame:
    from fin360.silver.complaint_text import analyse

    return analyse(texts)[["language", "topic", "sentiment", "tokens"]]


def with_text_analysis(df: DataFrame) -> DataFrame:
    """Language, topic, sentiment and word tokens of ``text``: lexicon-based, with jieba word
    segmentation for Chinese, in an Arrow pandas UDF (no Spark built-in segments Chinese)."""
    return df.withColumn("_nlp", _analyse_texts(F.col("text"))).select(
        *(c for c in df.columns),
        *(F.col(f"_nlp.{c}").alias(c) for c in ("language", "topic", "sentiment", "tokens")),
    )
