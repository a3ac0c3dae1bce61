"""Batch scoring: every customer and each new transaction of the window, with the champions.

Each family's ``champion`` is loaded as its native Spark pipeline
(``mlflow.spark.load_model("models:/<name>@champion")``), so scoring is plain DataFrame
transforms that run in the executors and scale with the cluster (``mlflow.pyfunc.spark_udf``
would start a Spark session inside every Python worker). For one as-of date it writes:

- ``gold.customer_scores``: segment id and name, calibrated PD, risk band, reason codes;
- ``gold.transaction_alerts``: each transaction of the last ``anomaly.window_days`` that no
  earlier date scored (the first run scores the whole window, a daily run the day's and any
  late arrival, so each transaction is scored and alerted once), with its score and reasons
  (``fraud_ring_member`` first for a customer at or above ``graph.ring_cutoff`` in
  ``gold.graph_features`` as of the date); the top ``anomaly.alert_rate`` are alerts, ranked
  1 (most anomalous) upwards;
- ``gold.next_best_offer``: up to ``scoring.offers_per_customer`` products the customer does
  not hold, ranked by how common they are in the customer's segment, offered only with the
  consents ``consent.gates.offers`` names (profiling and marketing), at the product's minimum
  age, and for credit products only to the risk bands of ``scoring.credit_offer_bands``;
- ``ops.model_monitoring``: PSI of each model's score and key inputs against its training data.

Every row carries the model names and versions. Each table's partition of the date is
replaced, so a rerun for the same date is idempotent.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import mlflow
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config
from fin360.frames import with_row_number
from fin360.governance import consent
from fin360.governance.audit import JobRun, utc_now
from fin360.logs import stage
from fin360.ml import anomaly, monitoring, risk, segmentation, tracking

log = logging.getLogger(__name__)

JOB = "score"
CUSTOMER_SCORES = catalog.GOLD_CUSTOMER_SCORES
TRANSACTION_ALERTS = catalog.GOLD_TRANSACTION_ALERTS
NEXT_BEST_OFFER = catalog.GOLD_NEXT_BEST_OFFER
CREDIT_CATEGORIES = ("credit_card", "loan")


def _model_columns(cfg: Config, family: str, version: str) -> list[F.Column]:
    return [
        F.lit(tracking.model_name(cfg, family)).alias(f"{family}_model"),
        F.lit(version).alias(f"{family}_model_version"),
    ]


# gold.customer_scores' own columns, in its order (the model names and versions follow)
SCORE_COLUMNS = [
    "customer_id", "as_of_date", "pd", "risk_band", "reason_codes", "segment_id", "segment_name",
]  # fmt: skip
# and the consent state of each purpose (consent.columns), as the score used it


def apply_customer_models(
    segmentation_model: Any, risk_model: Any, features: DataFrame, cfg: Config
) -> DataFrame:
    """The customer-level champions on ``features`` (:func:`risk.prepared` customer-360 rows),
    one after the other on the same rows (no join): ``features``' columns with the segment, the
    calibrated PD, its band and reason codes, and the consent state of each purpose; no segment
    without the consents ``consent.gates.segments`` names. Inputs and outputs together, so one
    frame feeds the scores, the offers and both families' drift monitoring."""
    segmented = segmentation_model.transform(features).select(
        *features.columns, "segment_id", "segment_name"
    )
    scored = risk.with_reason_codes(
        risk_model,
        risk.scored(risk_model, risk.as_application(segmented)),
        cfg["risk.reason_codes"],
    )
    return scored.select(
        *features.columns,
        "segment_id",
        "segment_name",
        "pd",
        risk.risk_band(F.col("pd"), cfg["risk.bands"]).alias("risk_band"),
        "reason_codes",
    ).transform(with_consent(cfg))


def with_consent(cfg: Config) -> Callable[[DataFrame], DataFrame]:
    """Scored customers with the state of each consent purpose as the scores use it (the
    configured default where the bank delivers none), and no segment for a customer without
    the consents ``consent.gates.segments`` names."""

    def transform(df: DataFrame) -> DataFrame:
        profiled = consent.allowed(cfg, "segments", df.columns)
        gated = {c: F.when(profiled, F.col(c)) for c in ("segment_id", "segment_name")}
        states = consent.states(cfg, df.columns)
        return df.select(
            *(
                gated[c].alias(c) if c in gated else states[c] if c in states else F.col(c)
                for c in df.columns
            ),
            *(states[c] for c in states if c not in df.columns),
        )

    return transform


RING_REASON = "fraud_ring_member"


def _ring_members(spark: SparkSession, cfg: Config, as_of: date) -> DataFrame | None:
    """Customers at or above ``graph.ring_cutoff`` in ``gold.graph_features`` as of the date
    (its latest graph on or before it)."""
    from fin360.gold.job import graph_at

    graph = graph_at(spark, cfg, as_of)
    if graph is None:
        return None
    return graph.where(F.col("ring_score") >= cfg["graph.ring_cutoff"]).select("customer_id")


def with_ring_reason(scored: DataFrame, ring_members: DataFrame | None) -> DataFrame:
    """A transaction of a fraud-ring member names that first among its reasons."""
    if ring_members is None:
        return scored
    flagged = ring_members.select("customer_id", F.lit(True).alias("_ring"))
    return (
        scored.join(flagged, "customer_id", "left")
        .withColumn(
            "reasons",
            F.when(F.col("_ring"), F.concat(F.array(F.lit(RING_REASON)), "reasons")).otherwise(
                F.col("reasons")
            ),
        )
        .drop("_ring")
    )


def scored_before(spark: SparkSession, cfg: Config, as_of: date) -> DataFrame | None:
    """``txn_id`` of the transactions of the anomaly window already scored on an earlier date
    (its partitions of ``gold.transaction_alerts`` within the window), or None."""
    if not lake.exists(spark, cfg, TRANSACTION_ALERTS):
        return None
    start = as_of - timedelta(days=cfg["anomaly.window_days"] - 1)
    return (
        lake.read(spark, cfg, TRANSACTION_ALERTS)
        .where((F.col("as_of_date") >= F.lit(start)) & (F.col("as_of_date") < F.lit(as_of)))
        .select("txn_id")
    )


def transaction_alerts(scored: DataFrame, alert_rate: float) -> DataFrame:
    """Alerts are the scores at or above the ``1 - alert_rate`` quantile; only they are ranked
    (a global rank of every transaction would sort the whole window in one partition), in
    bounded memory per task."""
    unranked = F.lit(None).cast("int").alias("alert_rank")
    if scored.isEmpty():
        return scored.select("*", F.lit(False).alias("is_alert"), unranked)
    threshold = scored.approxQuantile("anomaly_score", [1 - alert_rate], 0.0001)[0]
    alert = F.col("anomaly_score") >= threshold
    alerts = with_row_number(
        scored.where(alert).withColumn("is_alert", F.lit(True)),
        [F.desc("anomaly_score"), F.asc("txn_id")],
        "alert_rank",
    ).withColumn("alert_rank", F.col("alert_rank").cast("int"))
    return alerts.unionByName(
        scored.where(~alert).select("*", F.lit(False).alias("is_alert"), unranked)
    )


def next_best_offers(
    scores: DataFrame,
    holdings: DataFrame,
    products: DataFrame,
    ages: DataFrame,
    per_customer: int,
    credit_bands: list[str],
    recorded: list[str] = (),
) -> DataFrame:
    """``scores``: customer_id, segment_id, risk_band, ``may_offer`` (the consent gate of
    offers) and the consent states each offer records (``recorded``); ``holdings``:
    customer_id, product_code (open accounts); ``products``: the catalogue; ``ages``:
    customer_id, age. Propensity = share of the segment's customers holding the product."""
    segment_size = scores.groupBy("segment_id").agg(F.count(F.lit(1)).alias("segment_size"))
    propensity = (
        holdings.join(scores.select("customer_id", "segment_id"), "customer_id")
        .groupBy("segment_id", "product_code")
        .agg(F.countDistinct("customer_id").alias("holders"))
        .join(segment_size, "segment_id")
        .select(
            "segment_id", "product_code", (F.col("holders") / F.col("segment_size")).alias("propensity")
        )
    )  # fmt: skip
    eligible = (
        scores.where(F.col("may_offer"))
        .join(ages, "customer_id", "left")
        .crossJoin(F.broadcast(products))
        .join(holdings, ["customer_id", "product_code"], "left_anti")
        .where(F.col("age") >= F.coalesce("min_age", F.lit(0)))
        .where(~F.col("category").isin(*CREDIT_CATEGORIES) | F.col("risk_band").isin(*credit_bands))
        .join(propensity, ["segment_id", "product_code"], "left")
        .withColumn("propensity", F.coalesce("propensity", F.lit(0.0)))
    )  # fmt: skip
    order = Window.partitionBy("customer_id").orderBy(F.desc("propensity"), "product_code")
    return (
        eligible.withColumn("offer_rank", F.row_number().over(order))
        .where(F.col("offer_rank") <= per_customer)
        .select(
            "customer_id", "offer_rank", "product_code", "product_name", "category",
            "propensity", "segment_id", "risk_band", *recorded,
        )
    )  # fmt: skip


def _customer_inputs(spark: SparkSession, cfg: Config, as_of: date) -> tuple[DataFrame, ...]:
    from fin360.gold.job import load_sources

    sources = load_sources(spark, cfg)
    holdings = (
        sources.accounts.where(F.col("is_current") & (F.col("status") != "closed"))
        .select("customer_id", "product_code")
        .distinct()
    )
    products = (
        lake.read(spark, cfg, catalog.silver("product"))
        .where("is_current")
        .select("product_code", "product_name", "category", "min_age")
    )
    ages = (
        sources.customers.where("is_current")
        .groupBy("customer_id")
        .agg((F.lit(as_of.year) - F.max("birth_year")).alias("age"))
    )
    return holdings, products, ages


def _monitor(
    spark: SparkSession,
    cfg: Config,
    as_of: date,
    family: str,
    version: str,
    run_id: str,
    batch: DataFrame,
) -> dict[str, float]:
    ref = mlflow.artifacts.load_dict(f"runs:/{run_id}/{monitoring.REFERENCE_ARTIFACT}")
    values, rows = monitoring.psi(batch, ref)
    name = tracking.model_name(cfg, family)
    drifted = monitoring.record(spark, cfg, as_of, name, version, values, rows)
    with mlflow.start_run(
        experiment_id=tracking.experiment_id(cfg, family),
        run_name=f"monitoring-{as_of}",
        tags=tracking.run_tags(cfg, "monitoring"),
    ):
        mlflow.log_params({"as_of": as_of.isoformat(), "model_version": version, "rows": rows})
        mlflow.log_metrics({f"psi_{c}": v for c, v in values.items()})
        mlflow.log_metric("drifted_columns", len(drifted))
    return values


def run(spark: SparkSession, cfg: Config, as_of: date) -> dict[str, Any]:
    job = JobRun(spark, cfg, JOB)
    with job.failing():
        summary = _score(spark, cfg, as_of, job)
    job.finish("ok", details=summary)
    return summary


def _score(spark: SparkSession, cfg: Config, as_of: date, job: JobRun) -> dict[str, Any]:
    started = utc_now()
    tracking.setup(cfg)
    if not lake.exists(spark, cfg, segmentation.SOURCE_TABLE):
        raise Fin360Error(
            f"{catalog.GOLD_CUSTOMER_360} missing: run `fin360 run gold --as-of ...` first"
        )
    features = risk.prepared(
        lake.read(spark, cfg, segmentation.SOURCE_TABLE).where(F.col("as_of_date") == F.lit(as_of))
    ).cache()
    try:
        if features.isEmpty():
            raise Fin360Error(
                f"{catalog.GOLD_CUSTOMER_360} has no rows for {as_of}: run `fin360 run gold --as-of {as_of}`"
            )
        models = {
            family: tracking.load(cfg, family, tracking.CHAMPION)
            for family in (segmentation.FAMILY, risk.FAMILY, anomaly.FAMILY)
        }
        versions = {family: version for family, (_, version, _) in models.items()}
        clock = time.monotonic()
        scored = apply_customer_models(
            models[segmentation.FAMILY][0], models[risk.FAMILY][0], features, cfg
        ).persist(StorageLevel.MEMORY_AND_DISK)
        with stage(log, JOB, table=CUSTOMER_SCORES, as_of=as_of) as out:
            lake.replace_where(
                scored.select(
                    *SCORE_COLUMNS,
                    *consent.columns(cfg),
                    *_model_columns(cfg, segmentation.FAMILY, versions[segmentation.FAMILY]),
                    *_model_columns(cfg, risk.FAMILY, versions[risk.FAMILY]),
                ),
                cfg,
                CUSTOMER_SCORES,
                f"as_of_date = '{as_of.isoformat()}'",
                ["as_of_date"],
            )
            customers = (
                lake.read(spark, cfg, CUSTOMER_SCORES)
                .where(F.col("as_of_date") == F.lit(as_of))
                .count()
            )
            out.update(rows=customers)
        # what the customer-level families cost: both champions applied, reasons, written
        customer_seconds = time.monotonic() - clock
        with stage(log, JOB, table=NEXT_BEST_OFFER, as_of=as_of) as out:
            offers = next_best_offers(
                scored.select(
                    "customer_id", "segment_id", "risk_band",
                    consent.allowed(cfg, "offers", scored.columns).alias("may_offer"), *consent.columns(cfg),
                ),
                *_customer_inputs(spark, cfg, as_of),
                cfg["scoring.offers_per_customer"],
                cfg["scoring.credit_offer_bands"],
                consent.columns(cfg),
            )  # fmt: skip
            lake.replace_where(
                offers.select(
                    F.lit(as_of).cast("date").alias("as_of_date"),
                    "*",
                    *_model_columns(cfg, segmentation.FAMILY, versions[segmentation.FAMILY]),
                    *_model_columns(cfg, risk.FAMILY, versions[risk.FAMILY]),
                ),
                cfg,
                NEXT_BEST_OFFER,
                f"as_of_date = '{as_of.isoformat()}'",
                ["as_of_date"],
            )
            out.update(rows=lake.read(spark, cfg, NEXT_BEST_OFFER).where(F.col("as_of_date") == F.lit(as_of)).count())  # fmt: skip
        with stage(log, JOB, table=TRANSACTION_ALERTS, as_of=as_of) as out:
            transactions_started = time.monotonic()
            window = anomaly.window_features(
                spark, cfg, as_of, scored=scored_before(spark, cfg, as_of)
            )
            txns = anomaly.with_reasons(models[anomaly.FAMILY][0].transform(window))
            txns = with_ring_reason(txns, _ring_members(spark, cfg, as_of)).cache()
            alerts = transaction_alerts(txns, cfg["anomaly.alert_rate"]).select(
                F.lit(as_of).cast("date").alias("as_of_date"),
                "txn_id", "customer_id", "event_ts", "txn_type", "amount_base",
                "anomaly_score", "is_alert", "alert_rank", "reasons",
                *_model_columns(cfg, anomaly.FAMILY, versions[anomaly.FAMILY]),
            )  # fmt: skip
            lake.replace_where(
                alerts, cfg, TRANSACTION_ALERTS, f"as_of_date = '{as_of.isoformat()}'", ["as_of_date"]
            )  # fmt: skip
            stats = (
                lake.read(spark, cfg, TRANSACTION_ALERTS)
                .where(F.col("as_of_date") == F.lit(as_of))
                .agg(F.count(F.lit(1)).alias("rows"), F.count_if("is_alert").alias("alerts"))
                .first()
            )
            out.update(rows=stats["rows"], alerts=stats["alerts"])
        transaction_seconds = time.monotonic() - transactions_started
        seconds = time.monotonic() - clock
        rows_per_second = (customers + stats["rows"]) / seconds if seconds else math.inf
        log.info(
            "score as_of=%s customers=%d (%.1f s) transactions=%d (%.1f s) seconds=%.1f "
            "rows_per_second=%.0f",
            as_of, customers, customer_seconds, stats["rows"], transaction_seconds, seconds,
            rows_per_second,
        )  # fmt: skip
        with stage(log, JOB, table=monitoring.MODEL_MONITORING, as_of=as_of) as out:
            psi = {
                family: _monitor(spark, cfg, as_of, family, versions[family], models[family][2], batch)
                for family, batch in (
                    (segmentation.FAMILY, scored),
                    (risk.FAMILY, scored),
                    (anomaly.FAMILY, txns),
                )
            }  # fmt: skip
            out.update(columns=sum(len(v) for v in psi.values()))
        for batch in (txns, scored):
            batch.unpersist()
    finally:
        features.unpersist()
    summary = {
        "customers": customers,
        "transactions": stats["rows"],
        "alerts": stats["alerts"],
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows_per_second),
        "customer_seconds": round(customer_seconds, 2),
        "transaction_seconds": round(transaction_seconds, 2),
        "model_versions": versions,
        "max_psi": {f: round(max(v.values(), default=0.0), 4) for f, v in psi.items()},
    }
    outputs = (CUSTOMER_SCORES, NEXT_BEST_OFFER, TRANSACTION_ALERTS, monitoring.MODEL_MONITORING)
    job.record(
        f"scores/{as_of.isoformat()}",
        "ok",
        started_at=started,
        output_rows=customers + stats["rows"],
        inputs={segmentation.SOURCE_TABLE: lake.version(spark, cfg, segmentation.SOURCE_TABLE)},
        outputs={t: lake.version(spark, cfg, t) for t in outputs},
        details=summary,
    )
    return summary
