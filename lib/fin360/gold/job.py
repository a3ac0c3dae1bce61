"""The gold job: ``gold.customer_360`` and ``gold.graph_features`` (with ``gold.graph_hubs``)
for one as-of date, and ``gold.training_credit_risk``.

The per-date tables are partitioned by ``as_of_date``; a run replaces exactly its date's
partition (Delta ``replaceWhere``), so reruns are idempotent and other dates are untouched.
The training set puts each loan's customer at the day before the application and labels the
loan by ``risk.label`` (by default 1 when it reached 90+ days past due, or a default status,
within 12 months), from the loan's snapshot history; only loans observed for the whole window
are ``mature``. Entities a bank does not have are empty inputs: their features are null.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, graph, lake
from fin360.config import Config
from fin360.gold import daily, features, training
from fin360.gold import graph as gold_graph
from fin360.governance.audit import JobRun, succeeded_units, utc_now
from fin360.logs import stage

log = logging.getLogger(__name__)

JOB = "gold"
CUSTOMER_360 = catalog.GOLD_CUSTOMER_360
TRAINING_CREDIT_RISK = catalog.GOLD_TRAINING_CREDIT_RISK
GRAPH_FEATURES = catalog.GOLD_GRAPH_FEATURES
GRAPH_HUBS = catalog.GOLD_GRAPH_HUBS
REQUIRED_INPUTS = [catalog.silver("customer"), catalog.SILVER_CUSTOMER_XREF]
OPTIONAL_ENTITIES = [
    "account", "account_holder", "transaction", "app_event", "complaint", "bureau_record",
    "loan", "fx_rate",
]  # fmt: skip
OWNING_ROLES = ("owner", "joint")  # an account's balances and transactions are theirs


def silver_inputs() -> list[str]:
    return [*REQUIRED_INPUTS, *(catalog.silver(e) for e in OPTIONAL_ENTITIES)]


def parse_as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Fin360Error(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None


def latest_activity_date(spark: SparkSession, cfg: Config) -> date:
    """The day of the latest silver transaction (else account snapshot): the natural as-of
    date of a full run."""
    for entity, column in (("transaction", "event_ts"), ("account", "valid_from")):
        if lake.exists(spark, cfg, catalog.silver(entity)):
            latest = (
                lake.read(spark, cfg, catalog.silver(entity))
                .agg(F.max(F.to_date(column)))
                .first()[0]
            )
            if latest is not None:
                return latest
    raise Fin360Error("silver has no transactions or account snapshots: pass --as-of")


def load_sources(spark: SparkSession, cfg: Config) -> features.Sources:
    """Silver tables, and the day rows of its events (:mod:`fin360.gold.daily`), keyed by
    ``customer_id`` (through the xref and the account holders). An entity the bank does not
    have is an empty input, logged once as unavailable."""
    missing = [t for t in REQUIRED_INPUTS if not lake.exists(spark, cfg, t)]
    if missing:
        raise Fin360Error(f"silver table(s) {missing} missing: run `fin360 run silver` first")
    absent = [e for e in OPTIONAL_ENTITIES if not lake.exists(spark, cfg, catalog.silver(e))]
    if absent:
        log.info("unavailable entities (their features are null): %s", ", ".join(absent))

    def read(entity: str) -> DataFrame | None:
        return None if entity in absent else lake.read(spark, cfg, catalog.silver(entity))

    def empty(entity: str) -> DataFrame:
        return spark.createDataFrame([], features.PART_INPUTS[entity])

    xref = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF)
    customer_keys = xref.where(F.col("entity") == "customer").select(
        F.col("source_key").alias("customer_src_id"), "customer_id"
    )
    bureau_keys = xref.where(F.col("entity") == "bureau_record").select(
        F.col("source_key").alias("bureau_record_id"), "customer_id"
    )
    holders = read("account_holder")
    owners = (
        holders.where(F.col("role").isin(*OWNING_ROLES))
        .select("account_id", "customer_src_id")
        .distinct()
        .join(customer_keys, "customer_src_id", "inner")
        .select("account_id", "customer_id")
        .distinct()
        if holders is not None
        else None
    )

    def by_customer(entity: str, how: DataFrame | None, on: str) -> DataFrame:
        df = read(entity)
        if df is None or how is None:
            return empty(entity)
        return df.join(how, on, "inner")

    def days(day_table: daily.DayTable, keys: DataFrame | None) -> DataFrame | None:
        if day_table.entity in absent or keys is None:
            return None  # the features build (empty) day rows from the empty events
        return daily.keyed(lake.read(spark, cfg, day_table.table), keys, day_table.key)

    txn_days, app_days = daily.DAY_TABLES
    fx = read("fx_rate")
    return features.Sources(
        customers=lake.read(spark, cfg, catalog.silver("customer")),
        accounts=by_customer("account", owners, "account_id"),
        transactions=by_customer("transaction", owners, "account_id"),
        app_events=by_customer("app_event", customer_keys, "customer_src_id"),
        complaints=by_customer("complaint", customer_keys, "customer_src_id"),
        bureau=by_customer("bureau_record", bureau_keys, "bureau_record_id"),
        loans=by_customer("loan", customer_keys, "customer_src_id"),
        fx_rates=fx
        if fx is not None
        else spark.createDataFrame(
            [], "rate_date date, currency string, rate_to_base decimal(18,8)"
        ),
        transaction_days=days(txn_days, owners),
        app_event_days=days(app_days, customer_keys),
    )


def customer_spine(customers: DataFrame, as_of: date) -> DataFrame:
    """Every customer known on the date: first CRM record on or before it."""
    return (
        customers.where(F.col("customer_since") <= F.lit(as_of))
        .select("customer_id")
        .distinct()
        .withColumn("as_of_date", F.lit(as_of).cast("date"))
    )


def credit_risk_spine(loans: DataFrame, label: dict) -> DataFrame:
    """One row per loan: its customer the day before the application, its terms, the label
    and whether it is mature.

    ``loans``: every snapshot version of every loan (SCD2 history). The loan defaulted when a
    snapshot taken within ``observation_months`` of the application shows a worst days past
    due of ``dpd_threshold`` or more, or a status in ``default_statuses`` (when no snapshot
    falls in that window, the first one after it decides); it is mature once a snapshot
    ``observation_months`` after the application exists."""
    window_end = F.add_months("application_date", label["observation_months"])
    bad = (F.col("max_dpd_12m") >= label["dpd_threshold"]) | F.col("status").isin(
        *label["default_statuses"]
    )
    bad = F.coalesce(bad, F.lit(False)).cast("int")
    per_loan = loans.groupBy("loan_id", "customer_id").agg(
        F.min_by(F.struct("application_date", "principal", "term_months", "interest_rate"),
                 "snapshot_date").alias("terms"),
        F.max(F.when(F.col("snapshot_date") <= window_end, bad)).alias("_in_window"),
        F.min_by(bad, "snapshot_date").alias("_first"),
        F.max(F.col("snapshot_date") >= window_end).alias("is_mature"),
    )  # fmt: skip
    return per_loan.select(
        "loan_id",
        "customer_id",
        F.date_sub("terms.application_date", 1).alias("feature_date"),
        F.col("terms.application_date").alias("application_date"),
        F.col("terms.principal").alias("loan_principal_applied"),
        F.col("terms.term_months").alias("term_months"),
        F.col("terms.interest_rate").alias("interest_rate"),
        F.coalesce("_in_window", "_first").alias("label_default_90dpd_12m"),
        "is_mature",
    )


def build_graph_features(
    spark: SparkSession, cfg: Config, sources: features.Sources, spine: DataFrame, as_of: date
) -> dict:
    """Replace the date's partitions of ``gold.graph_features`` and ``gold.graph_hubs``."""
    engine = graph.engine(spark, cfg)
    opts = gold_graph.GraphOptions.from_config(cfg["graph"])
    rows, hubs, rounds = gold_graph.graph_features(engine, spine, sources, as_of, opts)
    predicate = f"as_of_date = '{as_of.isoformat()}'"
    lake.replace_where(rows, cfg, GRAPH_FEATURES, predicate, ["as_of_date"])
    lake.replace_where(hubs, cfg, GRAPH_HUBS, predicate, ["as_of_date"])
    stats = (
        lake.read(spark, cfg, GRAPH_FEATURES)
        .where(F.col("as_of_date") == F.lit(as_of))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_if(F.col("ring_score") >= cfg["graph.ring_cutoff"]).alias("ring_members"),
            F.countDistinct("component_id").alias("components"),
        )
        .first()
    )
    hub_count = lake.read(spark, cfg, GRAPH_HUBS).where(F.col("as_of_date") == F.lit(as_of))
    return {
        "engine": engine.name,
        **stats.asDict(),
        "hubs": hub_count.count(),
        **{k: v for k, v in rounds.items() if v is not None},
    }


def graph_date(spark: SparkSession, cfg: Config, as_of: date) -> date | None:
    """The latest date of ``gold.graph_features`` on or before ``as_of``, or None."""
    if not lake.exists(spark, cfg, GRAPH_FEATURES):
        return None
    graph = lake.read(spark, cfg, GRAPH_FEATURES).where(F.col("as_of_date") <= F.lit(as_of))
    return graph.agg(F.max("as_of_date")).first()[0]


def graph_at(spark: SparkSession, cfg: Config, as_of: date) -> DataFrame | None:
    """``gold.graph_features`` as of ``as_of``: its latest date on or before it (the graph is
    rebuilt every ``graph.refresh_days``), or None when there is none."""
    latest = graph_date(spark, cfg, as_of)
    if latest is None:
        return None
    return lake.read(spark, cfg, GRAPH_FEATURES).where(F.col("as_of_date") == F.lit(latest))


def run(spark: SparkSession, cfg: Config, as_of: date) -> dict[str, Any]:
    job = JobRun(spark, cfg, JOB)
    with job.failing():
        summary = _build(spark, cfg, as_of, job)
    job.finish("ok", details=summary)
    return summary


def _build(spark: SparkSession, cfg: Config, as_of: date, job: JobRun) -> dict[str, Any]:
    started = utc_now()
    done = succeeded_units(spark, cfg, JOB)
    for day_table in daily.DAY_TABLES:
        with stage(log, "gold", table=day_table.table) as out:
            out.update(daily.refresh(spark, cfg, job, day_table, done))
    sources = load_sources(spark, cfg)
    options = {
        "timezone": cfg["silver.default_timezone"],
        "base_currency": cfg["silver.base_currency"],
    }
    day_tables = [d.table for d in daily.DAY_TABLES]
    inputs = {t: lake.version(spark, cfg, t) for t in [*silver_inputs(), *day_tables]}
    spine = customer_spine(sources.customers, as_of)
    loans = credit_risk_spine(sources.loans, cfg["risk.label"])
    customer_hashes = training.customer_hashes(
        lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF), sources.customers
    )
    kept = training.plan(spark, cfg, done, customer_hashes)
    # one feature pass for both spines: the day's customers and the day before applying of each
    # loan whose stored features do not hold any more
    loan_days = loans.select("customer_id", F.col("feature_date").alias("as_of_date"))
    if kept.kept is not None:
        kept.kept.persist(StorageLevel.MEMORY_AND_DISK)
        stored_days = kept.kept.select("customer_id", F.col("feature_date").alias("as_of_date"))
        loan_days = loan_days.join(stored_days, features.SPINE, "left_anti")
    feats = features.customer_features(
        spine.unionByName(loan_days).distinct(), sources, **options
    ).persist(StorageLevel.MEMORY_AND_DISK)
    with stage(log, "gold", table=CUSTOMER_360, as_of=as_of) as out:
        c360 = feats.join(spine, features.SPINE, "left_semi")
        lake.replace_where(
            c360, cfg, CUSTOMER_360, f"as_of_date = '{as_of.isoformat()}'", ["as_of_date"]
        )
        rows = (
            lake.read(spark, cfg, CUSTOMER_360).where(F.col("as_of_date") == F.lit(as_of)).count()
        )
        out.update(rows=rows)
    with stage(log, "gold", table=GRAPH_FEATURES, as_of=as_of) as out:
        latest = graph_date(spark, cfg, as_of)
        age = (as_of - latest).days if latest is not None else None
        if age is not None and 0 < age < cfg["graph.refresh_days"]:
            # a year of identifiers and 90 days of transfers: a day moves little (README)
            out.update(kept=latest.isoformat(), age_days=age)
        else:
            out.update(build_graph_features(spark, cfg, sources, spine, as_of))
            latest = as_of
    with stage(log, "gold", table=TRAINING_CREDIT_RISK, since=kept.since) as out:
        loan_feats = feats.join(loan_days, features.SPINE, "left_semi").withColumnRenamed(
            "as_of_date", "feature_date"
        )
        if kept.kept is not None:
            loan_feats = loan_feats.unionByName(kept.kept)
        labelled = loans.join(loan_feats, ["customer_id", "feature_date"], "left").join(
            customer_hashes, "customer_id", "left"
        )
        lake.overwrite(labelled, cfg, TRAINING_CREDIT_RISK)
        for unit in kept.pending:
            job.record(kept.prefix + unit, "ok", started_at=started, inputs=inputs)
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
        out.update(rows=stats["rows"], mature=stats["mature"], defaults=stats["defaults"],
                   kept_stored=kept.kept is not None)  # fmt: skip
    summary = {
        "customer_360_rows": rows,
        "graph_as_of": latest.isoformat(),
        "training_rows": stats["rows"],
        "training_mature": stats["mature"],
    }
    job.record(
        f"{CUSTOMER_360}/{as_of.isoformat()}",
        "ok",
        started_at=started,
        output_rows=rows,
        inputs=inputs,
        outputs={
            t: lake.version(spark, cfg, t)
            for t in (CUSTOMER_360, GRAPH_FEATURES, GRAPH_HUBS, TRAINING_CREDIT_RISK)
        },
        details=summary,
    )
    feats.unpersist()
    if kept.kept is not None:
        kept.kept.unpersist()
    return summary
