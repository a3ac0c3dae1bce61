"""Transaction anomaly detection, unsupervised: no labels at training time.

Each transaction of a window is described relative to its customer's own history (the
``anomaly.history_days`` before the window): the amount's robust z-score against the
customer's median and MAD of log amounts of that kind (card or transfer) and how far it
exceeds their largest so far (both one-sided),
whether the counterparty (merchant or account),
the device, the country and the spend category are new to the customer, how rare the hour of
day is for them, and the velocity (their transactions in the hour up to this one). Spark
built-ins only: aggregates and joins for the baselines, a range window for the velocity.

The model is one MLlib pipeline: median imputation, standardisation, KMeans of normal
behaviour, then a SQL stage computing ``anomaly_score``: the distance to the nearest *large*
cluster (CBLOF-style: a cluster holding under ``MIN_CLUSTER_SHARE`` of the training rows is
itself unusual, so its members are measured from the nearest large one). Evaluated against
confirmed cases (``anomaly.labels``; the generator's injected anomalies here): precision in the
top 0.1% and 1% of scores, and AUC-PR. The model trains on the window before the latest one
and is evaluated on the latest, so the figures are out of time.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import Imputer, SQLTransformer, StandardScaler, VectorAssembler
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config, ConfigError
from fin360.frames import with_row_number
from fin360.logs import stage
from fin360.ml import explain, monitoring, tracking

log = logging.getLogger(__name__)

FAMILY = "anomaly"
FEATURES = [
    "amount_z",
    "amount_over_max",
    "new_counterparty",
    "new_device",
    "new_country",
    "new_spend_category",
    "hour_rarity",
    "velocity_1h",
]
MIN_CLUSTER_SHARE = 0.02
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation
MAD_FLOOR = 0.25  # log-amount spread below this is treated as this (customers with fixed bills)
SEED = 42
TOP_SHARES = (0.001, 0.01)


def transaction_features(
    txns: DataFrame,
    as_of: date,
    window_days: int,
    history_days: int,
    timezone: str,
    scored: DataFrame | None = None,
) -> DataFrame:
    """One row per transaction of the ``window_days`` up to ``as_of`` (inclusive), with
    :data:`FEATURES` against the customer's ``history_days`` before the window. ``txns``:
    silver.transactions with ``customer_id``. Customers without history get nulls (imputed).
    ``scored`` (``txn_id``): transactions already scored, left out (the velocity still counts
    them), so a daily run scores each transaction once, a late arrival of the window too."""
    start = as_of - timedelta(days=window_days - 1)
    history_start = start - timedelta(days=history_days)
    day = F.to_date("event_ts")
    events = txns.select(
        "txn_id",
        "customer_id",
        "txn_type",
        "direction",
        "event_ts",
        F.col("amount_base").cast("double").alias("amount_base"),
        F.ln(1 + F.abs(F.col("amount_base").cast("double"))).alias("log_amount"),
        F.coalesce("merchant_id", "counterparty_account").alias("counterparty"),
        "device_id",
        "country",
        "mcc_category",
        F.hour(F.from_utc_timestamp("event_ts", timezone)).alias("local_hour"),
        day.alias("day"),
    )
    history = events.where((F.col("day") >= history_start) & (F.col("day") < start))
    velocity = Window.partitionBy("customer_id").orderBy(F.col("event_ts").cast("long"))
    window = events.where((F.col("day") >= start) & (F.col("day") <= as_of)).withColumn(
        "velocity_1h", F.count(F.lit(1)).over(velocity.rangeBetween(-3600, 0)).cast("double")
    )
    if scored is not None:
        window = window.join(scored.select("txn_id"), "txn_id", "left_anti")

    # amounts against the same kind of transaction: card purchases and transfers differ
    kind = ["customer_id", "txn_type"]
    median = history.groupBy(*kind).agg(
        F.percentile_approx("log_amount", 0.5).alias("median_log"),
        F.max("log_amount").alias("max_log"),
    )
    deviation = F.abs(F.col("log_amount") - F.col("median_log"))
    amounts = (
        history.join(median, kind, "inner")
        .groupBy(*kind)
        .agg(
            F.max("median_log").alias("median_log"),  # one value per group
            F.max("max_log").alias("max_log"),
            F.percentile_approx(deviation, 0.5).alias("mad"),
        )
    )
    # one pass over the history for everything keyed by the customer alone: its size, what it
    # has seen (sets without nulls) and its transactions per local hour of day
    seen = {"counterparty": "_cps", "device_id": "_devices", "country": "_countries",
            "mcc_category": "_categories"}  # fmt: skip
    known = history.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("history_n"),
        *(F.collect_set(column).alias(name) for column, name in seen.items()),
        F.array(*(F.count_if(F.col("local_hour") == h) for h in range(24))).alias("_hours"),
    )
    has_history = F.col("history_n").isNotNull()

    def new(column: str) -> F.Column:
        return (
            F.when(~has_history, None)
            .when(F.col(column).isNull(), 0.0)
            .otherwise(F.when(F.array_contains(seen[column], F.col(column)), 0.0).otherwise(1.0))
        )

    return (
        window.join(known, "customer_id", "left")
        .join(amounts, kind, "left")
        .withColumn("hour_n", F.col("_hours")[F.col("local_hour")])
        .select(
            "txn_id",
            "customer_id",
            "txn_type",
            "event_ts",
            "amount_base",
            # one-sided: an unusually small amount is not a risk
            F.greatest(
                (F.col("log_amount") - F.col("median_log"))
                / F.greatest(F.col("mad") * MAD_TO_SD, F.lit(MAD_FLOOR)),
                F.lit(0.0),
            ).alias("amount_z"),
            F.greatest(F.col("log_amount") - F.col("max_log"), F.lit(0.0)).alias("amount_over_max"),
            new("counterparty").alias("new_counterparty"),
            new("device_id").alias("new_device"),
            new("country").alias("new_country"),
            new("mcc_category").alias("new_spend_category"),
            F.when(
                has_history,
                -F.ln((F.coalesce("hour_n", F.lit(0)) + 1) / (F.col("history_n") + 24)),
            ).alias("hour_rarity"),
            "velocity_1h",
        )
    )


def features(cfg: Config) -> list[str]:
    """The model's inputs: :data:`FEATURES` and the ``anomaly.graph_features`` of the customer."""
    return [*FEATURES, *(cfg.get("anomaly.graph_features") or [])]


def pipeline(clusters: int, inputs: list[str]) -> Pipeline:
    return Pipeline(
        stages=[
            Imputer(
                inputCols=inputs,
                outputCols=[f"{c}{explain.IMPUTED_SUFFIX}" for c in inputs],
                strategy="median",
            ),
            VectorAssembler(
                inputCols=[f"{c}{explain.IMPUTED_SUFFIX}" for c in inputs],
                outputCol="raw_features",
            ),
            StandardScaler(
                inputCol="raw_features", outputCol="features", withMean=True, withStd=True
            ),
            KMeans(k=clusters, seed=SEED, featuresCol="features", predictionCol="cluster"),
        ]
    )


def score_stage(model: PipelineModel, fitted_on: DataFrame, inputs: list[str]) -> SQLTransformer:
    """``anomaly_score``: distance (standardised units) to the nearest large cluster's centre,
    as SQL over the imputed columns so the registered model computes it by itself."""
    scaler, kmeans = model.stages[2], model.stages[3]
    sizes = model.transform(fitted_on).groupBy("cluster").count().toPandas()  # bounded: k rows
    share = sizes.set_index("cluster")["count"] / sizes["count"].sum()
    large = [int(c) for c in share.index if share[c] >= MIN_CLUSTER_SHARE]
    mean, std = scaler.mean.toArray().tolist(), scaler.std.toArray().tolist()
    centres = [c.tolist() for c in kmeans.clusterCenters()]
    standardised = [
        f"((`{c}{explain.IMPUTED_SUFFIX}` - {mean[i]!r}) / {max(std[i], 1e-12)!r})"
        for i, c in enumerate(inputs)
    ]
    distances = [
        "sqrt(" + " + ".join(f"pow({z} - {centres[k][i]!r}, 2)" for i, z in enumerate(standardised)) + ")"
        for k in large
    ]  # fmt: skip
    score = distances[0] if len(distances) == 1 else f"least({', '.join(distances)})"
    return SQLTransformer(
        statement=(
            f"SELECT *, {score} AS anomaly_score, "
            # MLflow's pyfunc interface returns the column named prediction
            f"{score} AS prediction FROM __THIS__"
        )
    )


def with_reasons(scored: DataFrame, n: int = 3) -> DataFrame:
    """``reasons``: the features furthest above the population, in standard deviations."""
    names = explain.vector_names(scored, "raw_features")
    return scored.withColumn(
        "reasons",
        explain.top_contributions("features", names, [1.0] * len(names), [0.0] * len(names), n),
    )


def load_transactions(spark: SparkSession, cfg: Config) -> DataFrame:
    from fin360.gold.job import load_sources  # silver keyed by customer_id, as gold reads it

    return load_sources(spark, cfg).transactions


def window_features(
    spark: SparkSession,
    cfg: Config,
    as_of: date,
    txns: DataFrame | None = None,
    scored: DataFrame | None = None,
) -> DataFrame:
    txns = txns if txns is not None else load_transactions(spark, cfg)
    out = transaction_features(
        txns,
        as_of,
        cfg["anomaly.window_days"],
        cfg["anomaly.history_days"],
        cfg["silver.default_timezone"],
        scored,
    )
    extra = cfg.get("anomaly.graph_features") or []
    return with_graph_features(spark, cfg, out, as_of, extra) if extra else out


def with_graph_features(
    spark: SparkSession, cfg: Config, window: DataFrame, as_of: date, columns: list[str]
) -> DataFrame:
    """``window`` with the customer's ``columns`` of ``gold.graph_features`` from its latest
    date on or before ``as_of`` (point in time: no graph of a later day)."""
    table = catalog.GOLD_GRAPH_FEATURES
    hint = f"run `fin360 run gold --as-of {as_of}` first, or set anomaly.graph_features: []"
    if not lake.exists(spark, cfg, table):
        raise Fin360Error(f"anomaly.graph_features needs {table}: {hint}")
    graph = lake.read(spark, cfg, table)
    unknown = sorted(set(columns) - set(graph.columns))
    if unknown:
        raise ConfigError(f"anomaly.graph_features: {unknown} are not columns of {table}")
    from fin360.gold.job import graph_date

    latest = graph_date(spark, cfg, as_of)
    if latest is None:
        raise Fin360Error(
            f"anomaly.graph_features: {table} has no date on or before {as_of}: {hint}"
        )
    per_customer = graph.where(F.col("as_of_date") == F.lit(latest)).select(
        "customer_id", *(F.col(c).cast("double").alias(c) for c in columns)
    )
    return window.join(per_customer, "customer_id", "left")


def labels(spark: SparkSession, cfg: Config) -> DataFrame | None:
    """Confirmed cases (``txn_id``, ``anomaly_type``), or None when there are none."""
    path = cfg.get("anomaly.labels")
    if not path or not lake.path_exists(spark, path):
        return None
    return spark.read.parquet(path).select("txn_id", "anomaly_type")


PR_CURVE_POINTS = 500
HISTOGRAM_BINS = 60


def evaluate(scored: DataFrame, cases: DataFrame) -> tuple[dict[str, float], DataFrame]:
    """Precision in the top 0.1% / 1% of scores, AUC-PR, recall in the top 1% per case type;
    and the window ranked by score (``rank`` 1 = most anomalous) for the plots."""
    labelled = scored.join(cases.withColumn("label", F.lit(1.0)), "txn_id", "left").select(
        "txn_id", "anomaly_type", "anomaly_score", F.coalesce("label", F.lit(0.0)).alias("label")
    )
    ranked = with_row_number(labelled, [F.desc("anomaly_score"), F.asc("txn_id")], "rank")
    totals = ranked.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("positives")).first()
    n, positives = totals["n"], float(totals["positives"] or 0.0)
    metrics = {"transactions": float(n), "known_anomalies": positives}
    cut = {share: max(1, round(n * share)) for share in (*TOP_SHARES, 0.01)}
    precision = ranked.agg(
        *(F.avg(F.when(F.col("rank") <= cut[s], F.col("label"))).alias(str(s)) for s in TOP_SHARES)
    ).first()
    for share in TOP_SHARES:
        metrics[f"precision_at_{share * 100:g}pct"] = float(precision[str(share)] or 0.0)
    if 0 < positives < n:
        metrics["auc_pr"] = BinaryClassificationEvaluator(
            labelCol="label", rawPredictionCol="anomaly_score", metricName="areaUnderPR"
        ).evaluate(ranked)
    recall = (
        ranked.where(F.col("label") == 1)
        .groupBy("anomaly_type")
        .agg(F.avg((F.col("rank") <= cut[0.01]).cast("double")).alias("recall"))
        .collect()  # bounded: one row per case type
    )
    for row in recall:
        metrics[f"recall_at_1pct_{row['anomaly_type']}"] = float(row["recall"])
    return metrics, ranked


def _plots(ranked: DataFrame, n: int) -> dict[str, plt.Figure]:
    """Score histograms per label and the precision-recall curve, from aggregates of a bounded
    size (``HISTOGRAM_BINS`` per label, ``PR_CURVE_POINTS`` along the ranking)."""
    figures = {}
    top = ranked.approxQuantile("anomaly_score", [0.999], 0.0001)
    edge = (top[0] if top else 0.0) * 1.2 + 1e-9
    width = edge / HISTOGRAM_BINS
    binned = F.least(F.floor(F.col("anomaly_score") / width), F.lit(HISTOGRAM_BINS - 1))
    counts = (
        ranked.groupBy("label", binned.cast("int").alias("bin")).count().toPandas()
    )  # bounded: bins
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, edge, HISTOGRAM_BINS + 1)
    for label, name in ((0.0, "normal"), (1.0, "known anomaly")):
        group = counts[counts["label"] == label]
        if len(group):
            ax.hist(bins[group["bin"].to_numpy()], bins=bins, weights=group["count"], alpha=0.6, label=name, density=True)  # fmt: skip
    ax.set(xlabel="anomaly score", ylabel="density", title="Score distribution (test window)")
    ax.set_yscale("log")
    ax.legend()
    figures["score_distribution.png"] = fig
    step = F.ceil(F.col("rank") * PR_CURVE_POINTS / F.lit(max(n, 1)))
    curve = (
        ranked.groupBy(step.alias("step"))
        .agg(F.max("rank").alias("rank"), F.sum("label").alias("hits"))
        .toPandas()  # bounded: PR_CURVE_POINTS rows
        .sort_values("rank")
    )
    fig, ax = plt.subplots(figsize=(5, 5))
    hits = curve["hits"].cumsum().to_numpy()
    if hits[-1:].sum() > 0:
        ax.plot(hits / hits[-1], hits / curve["rank"].to_numpy())
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test window)")
    figures["precision_recall.png"] = fig
    return figures


def train(spark: SparkSession, cfg: Config, as_of: date | None = None) -> dict[str, Any]:
    """Fit on the window before the latest, evaluate on the latest, log, register."""
    from fin360.gold.job import latest_activity_date

    client = tracking.setup(cfg)
    txns = load_transactions(spark, cfg)
    as_of = as_of or latest_activity_date(spark, cfg)
    window_days = cfg["anomaly.window_days"]
    inputs = features(cfg)
    train_df = window_features(spark, cfg, as_of - timedelta(days=window_days), txns).cache()
    test_df = window_features(spark, cfg, as_of, txns)
    cases = labels(spark, cfg)
    try:
        rows = train_df.count()
        clusters = cfg["anomaly.clusters"]
        if rows < 10 * clusters:
            raise Fin360Error(f"{rows} transactions in the training window are too few to train")
        with mlflow.start_run(experiment_id=tracking.experiment_id(cfg, FAMILY)) as run:
            tracking.log_lineage(spark, cfg, FAMILY, [catalog.silver("transaction")], rows)
            mlflow.log_params(
                {
                    "features": ",".join(inputs),
                    "clusters": clusters,
                    "min_cluster_share": MIN_CLUSTER_SHARE,
                    "window_days": window_days,
                    "history_days": cfg["anomaly.history_days"],
                    "train_window_end": (as_of - timedelta(days=window_days)).isoformat(),
                    "test_window_end": as_of.isoformat(),
                }
            )
            with stage(log, FAMILY, step="fit", rows=rows, clusters=clusters):
                fitted = pipeline(clusters, inputs).fit(train_df)
                model = PipelineModel(
                    stages=[*fitted.stages, score_stage(fitted, train_df, inputs)]
                )
            metrics: dict[str, float] = {}
            if cases is not None:
                metrics, ranked = evaluate(model.transform(test_df), cases)
                mlflow.log_metrics(metrics)
                for file, figure in _plots(ranked, int(metrics["transactions"])).items():
                    mlflow.log_figure(figure, file)
                    plt.close(figure)
            else:
                log.warning("anomaly: no labels (anomaly.labels): trained without evaluation")
            mlflow.log_dict(
                monitoring.reference(
                    model.transform(train_df),
                    ["anomaly_score", *inputs],
                    cfg["monitoring.psi_bins"],
                ),
                monitoring.REFERENCE_ARTIFACT,
            )
            example = train_df.select(*inputs).limit(5).toPandas().astype("float64")
            output = (
                model.transform(train_df.limit(5)).select("anomaly_score").toPandas()
            )  # bounded: 5
            version = tracking.log_and_register(client, cfg, FAMILY, model, example, output)
    finally:
        train_df.unpersist()
    log.info(
        "anomaly run=%s version=%s precision_at_1pct=%s auc_pr=%s",
        run.info.run_id, version, metrics.get("precision_at_1pct"), metrics.get("auc_pr"),
    )  # fmt: skip
    return {"run_id": run.info.run_id, "version": version, **metrics}


def promote(spark: SparkSession, cfg: Config, as_of: date | None = None) -> dict[str, Any]:
    """The challenger becomes champion only with a higher AUC-PR on the latest window."""
    from fin360.gold.job import latest_activity_date

    cases = labels(spark, cfg)
    if cases is None:
        raise Fin360Error(
            "anomaly promotion compares AUC-PR on confirmed cases: set anomaly.labels"
        )
    as_of = as_of or latest_activity_date(spark, cfg)
    test_df = window_features(spark, cfg, as_of).cache()
    try:
        return tracking.promote(
            cfg, FAMILY, "auc_pr", lambda model: evaluate(model.transform(test_df), cases)[0]
        )
    finally:
        test_df.unpersist()
