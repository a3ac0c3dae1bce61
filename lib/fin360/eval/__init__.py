"""``fin360 evaluate``: grade what the pipeline produced against the generator's planted truth.

The generator is a test instrument: production jobs never read its truth folder. This module
does, on request, and only to grade: entity resolution (pairwise precision and recall of
``silver.customer_xref`` against the true person of every source record), segmentation (the
adjusted Rand index of the scored segments against the planted ones), the anomaly alerts
(precision and recall of a date's alerts against the injected anomalies) and the graph's ring
score (precision and recall of the customers at or above ``graph.ring_cutoff`` against the
planted fraud-ring members). Each figure is
logged to MLflow on the run it grades: the segmentation and anomaly champions' training runs
(found through the model versions the scores carry), and a run of the ``fin360-evaluation``
experiment for the data pipeline's own results. Jobs never import this package.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from math import comb
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config
from fin360.ml import tracking

log = logging.getLogger(__name__)

TRUTH_FILES = ("persons", "customer_identity", "bureau_identity", "anomalies", "fraud_rings")


def _truth(spark: SparkSession, cfg: Config, name: str) -> DataFrame:
    path = Path(cfg.path("truth")) / f"{name}.parquet"
    if not path.exists():
        raise Fin360Error(
            f"planted truth {path} not found: `fin360 evaluate` grades generated data only "
            "(set FIN360_TRUTH to the generator's truth folder)"
        )
    return spark.read.parquet(str(path))


def adjusted_rand_index(pairs: pd.DataFrame) -> float:
    """ARI from a contingency table with columns (a, b, n): rows of two labelings' overlap."""
    n = int(pairs["n"].sum())
    if n < 2:
        return 0.0
    index = sum(comb(int(v), 2) for v in pairs["n"])
    a = sum(comb(int(v), 2) for v in pairs.groupby("a")["n"].sum())
    b = sum(comb(int(v), 2) for v in pairs.groupby("b")["n"].sum())
    expected = a * b / comb(n, 2)
    maximum = (a + b) / 2
    return 1.0 if maximum == expected else float((index - expected) / (maximum - expected))


def pairwise_precision_recall(predicted: DataFrame, truth: DataFrame) -> dict[str, float]:
    """Pairwise precision and recall of a clustering (``record``, ``cluster``) against the
    truth (``record``, ``entity``): over all pairs of records put together / truly together."""
    joined = predicted.join(truth, "record", "inner")

    def pairs(df: DataFrame, *keys: str) -> int:
        counts = df.groupBy(*keys).count()
        return counts.select(F.sum(F.col("count") * (F.col("count") - 1) / 2)).first()[0] or 0

    both = pairs(joined, "cluster", "entity")
    found = pairs(joined, "cluster")
    actual = pairs(joined, "entity")
    return {
        "precision": both / found if found else 1.0,
        "recall": both / actual if actual else 1.0,
        "records": joined.count(),
        "predicted_pairs": found,
        "true_pairs": actual,
    }


def entity_resolution(spark: SparkSession, cfg: Config) -> dict[str, float]:
    truth = (
        _truth(spark, cfg, "customer_identity")
        .select(F.concat(F.lit("customer:"), "customer_src_id").alias("record"), "person_id")
        .unionByName(
            _truth(spark, cfg, "bureau_identity").select(
                F.concat(F.lit("bureau_record:"), "bureau_record_id").alias("record"), "person_id"
            )
        )
        .withColumnRenamed("person_id", "entity")
    )
    predicted = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF).select(
        F.concat_ws(":", "entity", "source_key").alias("record"),
        F.col("customer_id").alias("cluster"),
    )
    return pairwise_precision_recall(predicted, truth)


def ring_recovery(spark: SparkSession, cfg: Config, as_of: date) -> dict[str, float]:
    """Precision and recall of ``ring_score >= graph.ring_cutoff`` in ``gold.graph_features``
    at the date against the planted ring members (persons, through the identity truth)."""
    identity = _truth(spark, cfg, "customer_identity")
    xref = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF).where(F.col("entity") == "customer")
    members = (
        _truth(spark, cfg, "fraud_rings")
        .join(identity, "person_id", "inner")
        .join(xref, identity["customer_src_id"] == xref["source_key"], "inner")
        .select("customer_id", F.lit(True).alias("_member"))
        .distinct()
    )
    graded = (
        lake.read(spark, cfg, catalog.GOLD_GRAPH_FEATURES)
        .where(F.col("as_of_date") == F.lit(as_of))
        .join(members, "customer_id", "full")
        .agg(
            F.count_if(F.col("ring_score") >= cfg["graph.ring_cutoff"]).alias("flagged"),
            F.count_if((F.col("ring_score") >= cfg["graph.ring_cutoff"]) & F.col("_member")).alias(
                "hits"
            ),
            F.count_if("_member").alias("members"),
        )
        .first()
    )
    return {
        "ring_precision": graded["hits"] / graded["flagged"] if graded["flagged"] else 0.0,
        "ring_recall": graded["hits"] / graded["members"] if graded["members"] else 0.0,
        "ring_members_planted": float(graded["members"]),
        "ring_members_flagged": float(graded["flagged"]),
        "ring_cutoff": float(cfg["graph.ring_cutoff"]),
    }


def planted_segments(spark: SparkSession, cfg: Config) -> DataFrame:
    """``customer_id -> planted segment`` through the xref and the identity truth."""
    persons = _truth(spark, cfg, "persons").select("person_id", "segment")
    identity = _truth(spark, cfg, "customer_identity")
    xref = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF).where(F.col("entity") == "customer")
    return (
        xref.join(identity, xref["source_key"] == identity["customer_src_id"], "inner")
        .join(persons, "person_id", "inner")
        .groupBy("customer_id")
        .agg(F.min("segment").alias("planted_segment"))
    )


def segmentation(spark: SparkSession, cfg: Config, as_of: date) -> tuple[dict[str, float], str]:
    scores = lake.read(spark, cfg, catalog.GOLD_CUSTOMER_SCORES).where(
        F.col("as_of_date") == F.lit(as_of)
    )
    pairs = (
        scores.join(planted_segments(spark, cfg), "customer_id", "inner")
        .groupBy(F.col("segment_id").alias("a"), F.col("planted_segment").alias("b"))
        .agg(F.count(F.lit(1)).alias("n"))
        .toPandas()
    )  # one row per (segment, planted segment): a few dozen
    version = scores.select("segmentation_model_version").first()[0]
    return {"ari_planted_segments": adjusted_rand_index(pairs)}, version


def anomaly_alerts(spark: SparkSession, cfg: Config, as_of: date) -> tuple[dict[str, float], str]:
    # each transaction of the window is scored once, on the first date that saw it
    start = as_of - timedelta(days=cfg["anomaly.window_days"] - 1)
    window = lake.read(spark, cfg, catalog.GOLD_TRANSACTION_ALERTS).where(
        F.col("as_of_date").between(F.lit(start), F.lit(as_of))
    )
    cases = _truth(spark, cfg, "anomalies").select("txn_id", F.lit(1).alias("_case"))
    stats = (
        window.join(cases, "txn_id", "left")
        .agg(
            F.count_if("is_alert").alias("alerts"),
            F.count_if(F.col("is_alert") & F.col("_case").isNotNull()).alias("hits"),
            F.count("_case").alias("cases"),
            F.max_by("anomaly_model_version", "as_of_date").alias("version"),
        )
        .first()
    )
    metrics = {
        "planted_alert_precision": stats["hits"] / stats["alerts"] if stats["alerts"] else 0.0,
        "planted_alert_recall": stats["hits"] / stats["cases"] if stats["cases"] else 0.0,
        "planted_cases_in_window": float(stats["cases"]),
    }
    return metrics, stats["version"]


def _log_on_version(cfg: Config, family: str, version: str, metrics: dict[str, float]) -> str:
    client = tracking.setup(cfg)
    run_id = client.get_model_version(tracking.model_name(cfg, family), version).run_id
    for name, value in metrics.items():
        client.log_metric(run_id, name, float(value))
    return run_id


def _latest_graph_date(spark: SparkSession, cfg: Config) -> date | None:
    if not lake.exists(spark, cfg, catalog.GOLD_GRAPH_FEATURES):
        return None
    return lake.read(spark, cfg, catalog.GOLD_GRAPH_FEATURES).agg(F.max("as_of_date")).first()[0]


def latest_scored_date(spark: SparkSession, cfg: Config) -> date:
    if not lake.exists(spark, cfg, catalog.GOLD_CUSTOMER_SCORES):
        raise Fin360Error("no scores yet: run `fin360 run score --as-of ...` first")
    latest = lake.read(spark, cfg, catalog.GOLD_CUSTOMER_SCORES).agg(F.max("as_of_date")).first()
    return latest[0]


def run(spark: SparkSession, cfg: Config, as_of: date | None = None) -> dict[str, Any]:
    """Every grade the lakehouse's current state allows, logged to MLflow; returns them."""
    out: dict[str, Any] = {"entity_resolution": entity_resolution(spark, cfg)}
    client = tracking.setup(cfg)
    experiment = client.get_experiment_by_name(f"{cfg['mlflow.experiment_prefix']}-evaluation")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(f"{cfg['mlflow.experiment_prefix']}-evaluation")
    )
    graph_date = as_of or _latest_graph_date(spark, cfg)
    if graph_date is not None:
        out["rings"] = {"as_of": graph_date.isoformat(), **ring_recovery(spark, cfg, graph_date)}
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name="entity-resolution" + (" and rings" if "rings" in out else ""),
        tags=tracking.run_tags(cfg, "evaluation"),
    ):
        mlflow.log_metrics({f"er_{k}": float(v) for k, v in out["entity_resolution"].items()})
        if "rings" in out:
            mlflow.log_metrics({k: v for k, v in out["rings"].items() if k != "as_of"})
    if lake.exists(spark, cfg, catalog.GOLD_CUSTOMER_SCORES):
        as_of = as_of or latest_scored_date(spark, cfg)
        out["as_of"] = as_of.isoformat()
        seg, version = segmentation(spark, cfg, as_of)
        out["segmentation"] = {**seg, "run_id": _log_on_version(cfg, "segmentation", version, seg)}
        if lake.exists(spark, cfg, catalog.GOLD_TRANSACTION_ALERTS):
            alerts, version = anomaly_alerts(spark, cfg, as_of)
            run_id = _log_on_version(cfg, "anomaly", version, alerts)
            out["anomaly"] = {**alerts, "run_id": run_id}
    else:
        log.info("no scores yet: only entity resolution graded")
    return out
