"""The gold job: ``gold.customer_360`` for one as-of date and ``gold.training_credit_risk``.

``gold.customer_360`` is partitioned by ``as_of_date``; a run replaces exactly its date's
partition (Delta ``replaceWhere``), so reruns are idempotent and other dates are untouched.
The training set puts each loan's customer at the day before the application and labels the
loan 1 when it reached 90+ days past due (or default) within 12 months; only loans observed
for 12 months by the loan snapshot are ``mature``.
"""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.config import Config
from fin360.gold import features
from fin360.governance.audit import JobRun, utc_now
from fin360.logs import stage

log = logging.getLogger(__name__)

JOB = "gold"
CUSTOMER_360 = "gold.customer_360"
TRAINING_CREDIT_RISK = "gold.training_credit_risk"
SILVER_INPUTS = [
    "silver.customers", "silver.customer_xref", "silver.accounts", "silver.transactions",
    "silver.app_events", "silver.complaints", "silver.bureau", "silver.loans", "silver.fx_rates",
]  # fmt: skip


def parse_as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Fin360Error(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None


def latest_activity_date(spark: SparkSession, cfg: Config) -> date:
    """The day of the latest silver transaction: the natural as-of date of a full run."""
    latest = (
        lake.read(spark, cfg, "silver.transactions").agg(F.max(F.to_date("event_ts"))).first()[0]
    )
    if latest is None:
        raise Fin360Error("silver.transactions is empty: pass --as-of")
    return latest


def load_sources(spark: SparkSession, cfg: Config) -> features.Sources:
    """Silver tables keyed by ``customer_id`` (through the xref and the accounts)."""
    missing = [t for t in SILVER_INPUTS if not lake.exists(spark, cfg, t)]
    if missing:
        raise Fin360Error(f"silver table(s) {missing} missing: run `fin360 run silver` first")
    read = lambda name: lake.read(spark, cfg, name)  # noqa: E731
    xref = read("silver.customer_xref")
    crm = xref.where(F.col("source") == "crm_customers").select(
        F.col("source_key").alias("customer_src_id"), "customer_id"
    )
    bureau_keys = xref.where(F.col("source") == "credit_bureau").select(
        F.col("source_key").alias("bureau_record_id"), "customer_id"
    )
    accounts = read("silver.accounts").join(crm, "customer_src_id")
    owners = accounts.select("account_id", "customer_id")
    return features.Sources(
        customers=read("silver.customers"),
        accounts=accounts,
        transactions=read("silver.transactions").drop("customer_src_id").join(owners, "account_id"),
        app_events=read("silver.app_events").join(crm, "customer_src_id"),
        complaints=read("silver.complaints").join(crm, "customer_src_id"),
        bureau=read("silver.bureau").join(bureau_keys, "bureau_record_id"),
        loans=read("silver.loans").join(crm, "customer_src_id"),
        fx_rates=read("silver.fx_rates"),
    )


def customer_spine(customers: DataFrame, as_of: date) -> DataFrame:
    """Every customer known on the date: first CRM record on or before it."""
    return (
        customers.where(F.col("customer_since") <= F.lit(as_of))
        .select("customer_id")
        .distinct()
        .withColumn("as_of_date", F.lit(as_of).cast("date"))
    )


def credit_risk_spine(loans: DataFrame) -> DataFrame:
    """One row per loan: its customer the day before the application, the label, maturity."""
    observed_until = F.col("as_of_date")  # the loan snapshot's date
    defaulted = (F.col("max_dpd_12m") >= 90) | (F.col("status") == "default")
    return loans.select(
        "loan_id",
        "customer_id",
        F.date_sub("application_date", 1).alias("feature_date"),
        "application_date",
        F.col("principal").alias("loan_principal_applied"),
        "term_months",
        "interest_rate",
        defaulted.cast("int").alias("label_default_90dpd_12m"),
        (F.add_months("application_date", 12) <= observed_until).alias("is_mature"),
    )


def run(spark: SparkSession, cfg: Config, as_of: date) -> dict[str, int]:
    job = JobRun(spark, cfg, JOB)
    started = utc_now()
    sources = load_sources(spark, cfg)
    options = {
        "timezone": cfg["silver.default_timezone"],
        "base_currency": cfg["silver.base_currency"],
    }
    inputs = {t: lake.version(spark, cfg, t) for t in SILVER_INPUTS}
    with stage(log, "gold", table=CUSTOMER_360, as_of=as_of) as out:
        spine = customer_spine(sources.customers, as_of)
        c360 = features.customer_features(spine, sources, **options)
        lake.replace_where(
            c360, cfg, CUSTOMER_360, f"as_of_date = '{as_of.isoformat()}'", ["as_of_date"]
        )
        rows = (
            lake.read(spark, cfg, CUSTOMER_360).where(F.col("as_of_date") == F.lit(as_of)).count()
        )
        out.update(rows=rows)
    with stage(log, "gold", table=TRAINING_CREDIT_RISK) as out:
        loans = credit_risk_spine(sources.loans)
        spine = loans.select("customer_id", F.col("feature_date").alias("as_of_date")).distinct()
        feats = features.customer_features(spine, sources, **options).withColumnRenamed(
            "as_of_date", "feature_date"
        )
        training = loans.join(feats, ["customer_id", "feature_date"], "left")
        training.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(
            lake.table_path(cfg, TRAINING_CREDIT_RISK)
        )
        stats = (
            lake.read(spark, cfg, TRAINING_CREDIT_RISK)
            .agg(
                F.count(F.lit(1)).alias("rows"),
                F.count_if("is_mature").alias("mature"),
                F.sum(F.when(F.col("is_mature"), F.col("label_default_90dpd_12m"))).alias(
                    "defaults"
                ),
            )
            .first()
        )
        out.update(rows=stats["rows"], mature=stats["mature"], defaults=stats["defaults"])
    summary = {
        "customer_360_rows": rows,
        "training_rows": stats["rows"],
        "training_mature": stats["mature"],
    }
    job.record(
        f"{CUSTOMER_360}/{as_of.isoformat()}",
        "ok",
        started_at=started,
        output_rows=rows,
        inputs=inputs,
        outputs={t: lake.version(spark, cfg, t) for t in (CUSTOMER_360, TRAINING_CREDIT_RISK)},
        details=summary,
    )
    job.finish("ok", details=summary)
    return summary
