"""Pure silver transforms: bronze rows (strings as delivered) to canonical, typed rows.

Each ``*_standardised`` function ends in a ``select`` that is its table's schema contract; it
keeps the bronze lineage columns ``_batch_id`` and ``_record_hash``. PII never leaves these
functions in clear: ``pseudonymised_customers`` replaces it with tokens and masks.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360.governance import pii
from fin360.silver import standardise as s

LINEAGE = ["_batch_id", "_record_hash"]
DUPLICATE_RULE = "duplicate"


def _opt(df: DataFrame, name: str) -> Column:
    """A column that a drifted or older batch may lack."""
    return F.col(name) if name in df.columns else F.lit(None).cast("string")


def _int(col: Column) -> Column:
    return s.clean_text(col).cast("int")


# --------------------------------------------------------------------------- customers


def customers_standardised(timezone: str) -> Callable[[DataFrame], DataFrame]:
    """CRM records typed and normalised. Still clear-text PII: for entity resolution only,
    never written (``pseudonymised_customers`` follows)."""

    def transform(df: DataFrame) -> DataFrame:
        gender = F.upper(s.clean_text(F.col("gender")))
        return df.select(
            s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
            s.clean_text(F.col("branch_code")).alias("branch_code"),
            s.clean_text(F.col("full_name")).alias("full_name"),
            s.name_key(F.col("full_name")).alias("name_key"),
            F.when(gender.isin("M", "男"), "M").when(gender.isin("F", "女"), "F").alias("gender"),
            s.parse_date(F.col("birth_date")).alias("birth_date"),
            s.resident_id_clean(F.col("resident_id")).alias("resident_id"),
            s.phone_e164(F.col("phone")).alias("phone"),
            s.email_clean(F.col("email")).alias("email"),
            s.clean_text(F.col("address")).alias("address"),
            F.regexp_replace(s.clean_text(F.col("city")), "市$", "").alias("city"),
            s.clean_text(F.col("province")).alias("province"),
            s.clean_text(F.col("occupation")).alias("occupation"),
            s.amount(F.col("annual_income")).alias("annual_income"),
            s.flag(F.col("marketing_consent")).alias("marketing_consent"),
            s.flag(F.col("data_sharing_consent")).alias("data_sharing_consent"),
            s.parse_date(F.col("created_at")).alias("created_at"),
            s.parse_local_timestamp(F.col("updated_at"), timezone).alias("updated_at"),
            *LINEAGE,
        )

    return transform


CUSTOMER_ATTRIBUTES = [
    "name_token",
    "name_masked",
    "gender",
    "birth_year",
    "birth_date_token",
    "resident_id_token",
    "resident_id_masked",
    "phone_token",
    "phone_masked",
    "email_token",
    "email_masked",
    "address_token",
    "city",
    "province",
    "occupation",
    "annual_income",
    "marketing_consent",
    "data_sharing_consent",
    "branch_code",
]


def pseudonymised_customers(key: bytes) -> Callable[[DataFrame], DataFrame]:
    """Clear PII replaced by keyed tokens (join keys) and masked display values."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            "customer_id",
            "customer_src_id",
            pii.hmac_token(F.col("name_key"), key).alias("name_token"),
            pii.mask_name(F.col("full_name")).alias("name_masked"),
            "gender",
            F.year("birth_date").alias("birth_year"),
            pii.hmac_token(F.col("birth_date").cast("string"), key).alias("birth_date_token"),
            pii.hmac_token(F.col("resident_id"), key).alias("resident_id_token"),
            pii.mask_resident_id(F.col("resident_id")).alias("resident_id_masked"),
            pii.hmac_token(F.col("phone"), key).alias("phone_token"),
            pii.mask_phone(F.col("phone")).alias("phone_masked"),
            pii.hmac_token(F.col("email"), key).alias("email_token"),
            pii.mask_email(F.col("email")).alias("email_masked"),
            pii.hmac_token(F.lower(F.regexp_replace("address", r"\s", "")), key).alias(
                "address_token"
            ),
            "city",
            "province",
            "occupation",
            "annual_income",
            "marketing_consent",
            "data_sharing_consent",
            "branch_code",
            "created_at",
            "updated_at",
        )

    return transform


# --------------------------------------------------------------------------- accounts, products


def accounts_standardised(df: DataFrame) -> DataFrame:
    status = s.clean_text(F.col("status"))
    return df.select(
        s.clean_text(F.col("account_id")).alias("account_id"),
        s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
        s.clean_text(F.col("product_code")).alias("product_code"),
        s.currency_code(F.col("currency")).alias("currency"),
        F.try_to_date(s.clean_text(F.col("open_date")), "yyyyMMdd").alias("open_date"),
        F.when(status == "A", "active").when(status == "C", "closed").when(status == "D", "dormant")
        .alias("status"),
        s.amount(F.col("balance")).alias("balance"),
        s.amount(F.col("credit_limit")).alias("credit_limit"),
        *LINEAGE,
    )  # fmt: skip


def with_product_category(products: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """``product_category`` from the product catalogue (null for an unknown product, which the
    ``product_known`` rule rejects)."""

    def transform(df: DataFrame) -> DataFrame:
        categories = products.select("product_code", F.col("category").alias("product_category"))
        return df.join(F.broadcast(categories), "product_code", "left")

    return transform


def products_standardised(df: DataFrame) -> DataFrame:
    return df.select(
        s.clean_text(F.col("product_code")).alias("product_code"),
        s.clean_text(F.col("product_name")).alias("product_name"),
        F.lower(s.clean_text(F.col("category"))).alias("category"),
        _int(F.col("min_age")).alias("min_age"),
        _int(F.col("risk_level")).alias("risk_level"),
        s.currency_code(F.col("currency")).alias("currency"),
        *LINEAGE,
    )


def fx_rates_standardised(df: DataFrame) -> DataFrame:
    return df.select(
        s.parse_date(F.col("rate_date")).alias("rate_date"),
        s.currency_code(F.col("currency")).alias("currency"),
        s.clean_text(F.col("rate_to_cny")).cast("decimal(18,8)").alias("rate_to_cny"),
        *LINEAGE,
    )


# --------------------------------------------------------------------------- transactions


def card_transactions_standardised(timezone: str) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            s.clean_text(F.col("txn_id")).alias("txn_id"),
            F.lit("card").alias("txn_type"),
            s.clean_text(F.col("account_id")).alias("account_id"),
            s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
            F.lit("debit").alias("direction"),
            s.parse_event_timestamp(F.col("local_time"), timezone).alias("event_ts"),
            s.amount(F.col("amount")).alias("amount"),
            s.currency_code(F.col("currency")).alias("currency"),
            F.lit(None).cast("string").alias("counterparty_account"),
            s.clean_text(F.col("merchant_name")).alias("counterparty_name"),
            F.lit(None).cast("string").alias("counterparty_bank"),
            s.clean_text(F.col("merchant_id")).alias("merchant_id"),
            s.clean_text(F.col("merchant_name")).alias("merchant_name"),
            s.clean_text(F.col("mcc")).alias("mcc"),
            F.upper(s.clean_text(F.col("channel"))).alias("channel"),
            s.clean_text(F.col("device_id")).alias("device_id"),
            F.upper(s.clean_text(F.col("country"))).alias("country"),
            s.clean_text(F.col("city")).alias("city"),
            s.clean_text(F.col("lat")).cast("double").alias("lat"),
            s.clean_text(F.col("lon")).cast("double").alias("lon"),
            F.lower(s.clean_text(_opt(df, "wallet_provider"))).alias("wallet_provider"),
            F.lit(None).cast("string").alias("purpose"),
            *LINEAGE,
        )

    return transform


def transfers_standardised(df: DataFrame) -> DataFrame:
    """One row per transfer, seen from the bank's own account: an outgoing or internal
    transfer debits ``from_account``; an incoming external one credits ``to_account``."""
    external_source = F.col("from_account").startswith("EXT-")
    own = F.when(external_source, F.col("to_account")).otherwise(F.col("from_account"))
    other = F.when(external_source, F.col("from_account")).otherwise(F.col("to_account"))
    return df.select(
        F.col("transfer_id").alias("txn_id"),
        F.lit("transfer").alias("txn_type"),
        own.alias("account_id"),
        F.lit(None).cast("string").alias("customer_src_id"),
        F.when(external_source, "credit").otherwise("debit").alias("direction"),
        F.col("ts").cast("timestamp").alias("event_ts"),
        s.amount(F.col("amount")).alias("amount"),
        s.currency_code(F.col("currency")).alias("currency"),
        other.alias("counterparty_account"),
        s.clean_text(F.col("counterparty_name")).alias("counterparty_name"),
        s.clean_text(F.col("counterparty_bank")).alias("counterparty_bank"),
        *(F.lit(None).cast("string").alias(c) for c in ("merchant_id", "merchant_name", "mcc")),
        F.upper(s.clean_text(F.col("channel"))).alias("channel"),
        *(F.lit(None).cast("string").alias(c) for c in ("device_id", "country", "city")),
        *(F.lit(None).cast("double").alias(c) for c in ("lat", "lon")),
        F.lit(None).cast("string").alias("wallet_provider"),
        s.clean_text(F.col("purpose")).alias("purpose"),
        *LINEAGE,
    )


def with_fx_converted_amount(
    fx_rates: DataFrame, base_currency: str
) -> Callable[[DataFrame], DataFrame]:
    """``fx_rate`` of the event's (UTC) date and ``amount_base`` in the base currency; a
    missing rate leaves both null for the ``fx_rate_available`` rule to reject."""

    def transform(df: DataFrame) -> DataFrame:
        rates = fx_rates.select(
            F.col("rate_date").alias("_fx_date"),
            F.col("currency").alias("_fx_currency"),
            F.col("rate_to_cny").alias("_fx_rate"),
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


# --------------------------------------------------------------------------- events, service, credit


def app_events_standardised(timezone: str, key: bytes) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            s.clean_text(F.col("event_id")).alias("event_id"),
            s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
            s.clean_text(F.col("device_id")).alias("device_id"),
            F.lower(s.clean_text(F.col("event_type"))).alias("event_type"),
            s.clean_text(F.col("product_code")).alias("product_code"),
            F.lower(s.clean_text(F.col("platform"))).alias("platform"),
            pii.hmac_token(s.clean_text(F.col("ip")), key).alias("ip_token"),
            s.parse_event_timestamp(F.col("ts"), timezone).alias("event_ts"),
            *LINEAGE,
        )

    return transform


def complaints_standardised(timezone: str) -> Callable[[DataFrame], DataFrame]:
    """Complaint text cleaned, with phone-like digit runs masked (free text can carry PII)."""

    def transform(df: DataFrame) -> DataFrame:
        text = F.regexp_replace(s.clean_text(F.col("text")), r"\d{7,}", "*******")
        return df.select(
            s.clean_text(F.col("complaint_id")).alias("complaint_id"),
            s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
            F.lower(s.clean_text(F.col("channel"))).alias("channel"),
            s.clean_text(F.col("category")).alias("category"),
            text.alias("text"),
            s.parse_local_timestamp(F.col("created_at"), timezone).alias("created_at"),
            *LINEAGE,
        )

    return transform


def bureau_standardised(key: bytes) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            s.clean_text(F.col("bureau_record_id")).alias("bureau_record_id"),
            pii.hmac_token(s.resident_id_clean(F.col("resident_id")), key).alias(
                "resident_id_token"
            ),
            pii.mask_name(s.clean_text(F.col("name"))).alias("name_masked"),
            s.parse_date(F.col("report_date")).alias("report_date"),
            _int(F.col("bureau_score")).alias("bureau_score"),
            _int(F.col("delinquencies_24m")).alias("delinquencies_24m"),
            _int(F.col("inquiries_6m")).alias("inquiries_6m"),
            s.amount(F.col("total_debt")).alias("total_debt"),
            _int(F.col("open_lines")).alias("open_lines"),
            *LINEAGE,
        )

    return transform


def loans_standardised(df: DataFrame) -> DataFrame:
    return df.select(
        s.clean_text(F.col("loan_id")).alias("loan_id"),
        s.clean_text(F.col("customer_src_id")).alias("customer_src_id"),
        s.clean_text(F.col("account_id")).alias("account_id"),
        s.clean_text(F.col("product_code")).alias("product_code"),
        s.amount(F.col("principal")).alias("principal"),
        s.currency_code(F.col("currency")).alias("currency"),
        s.parse_date(F.col("application_date")).alias("application_date"),
        _int(F.col("term_months")).alias("term_months"),
        s.clean_text(F.col("interest_rate")).cast("decimal(6,3)").alias("interest_rate"),
        F.lower(s.clean_text(F.col("status"))).alias("status"),
        _int(F.col("days_past_due")).alias("days_past_due"),
        _int(F.col("max_dpd_12m")).alias("max_dpd_12m"),
        s.parse_date(F.col("as_of_date")).alias("as_of_date"),
        *LINEAGE,
    )


# --------------------------------------------------------------------------- deduplication


def with_duplicates_flagged(keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Tag all but one row per key with the ``duplicate`` rule: the one kept is the first by
    (batch, record hash), so the choice is deterministic whatever the partitioning."""

    def transform(df: DataFrame) -> DataFrame:
        order = Window.partitionBy(*keys).orderBy("_batch_id", "_record_hash")
        rank = F.row_number().over(order)
        failures = F.when(rank > 1, F.array(F.lit(DUPLICATE_RULE))).otherwise(
            F.array().cast("array<string>")
        )
        return df.withColumn("_dq_failures", failures)

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
