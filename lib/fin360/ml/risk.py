"""Credit risk: probability of 90+ days past due within 12 months of a loan application.

Trained on the mature loans of ``gold.training_credit_risk`` with a time-based split (the
latest applications are the test set, the ones before them validation). Two MLlib pipelines
(logistic regression, gradient-boosted trees), each tuned by 3-fold cross-validation on the
training part with class weights for the rare defaults; the one with the better validation
AUC-PR is refitted and evaluated once on the test part. Everything goes to MLflow: params,
metrics (AUC-ROC, AUC-PR, KS, Brier, lift by decile, fairness gaps), ROC and calibration
plots, input Delta versions, and the model with its signature, registered as ``challenger``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import mlflow.spark
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import Fin360Error, lake
from fin360.config import Config
from fin360.ml import tracking

log = logging.getLogger(__name__)

FAMILY = "risk"
TRAINING_TABLE = "gold.training_credit_risk"
LABEL = "label_default_90dpd_12m"
CATEGORICAL = ["age_band", "income_band", "occupation_band"]
# Groups the fairness metrics compare; gender is never a model input, age band is both.
PROTECTED = ["gender", "age_band"]
NOT_FEATURES = {LABEL, "is_mature", "gender", "region", "top_complaint_topic_365d"}
SEED = 42


@dataclass(frozen=True)
class Split:
    train: DataFrame
    validation: DataFrame
    test: DataFrame


def numeric_columns(df: DataFrame) -> list[str]:
    numeric = (T.IntegerType, T.LongType, T.DoubleType, T.FloatType, T.DecimalType)
    return [
        f.name for f in df.schema.fields
        if isinstance(f.dataType, numeric) and f.name not in NOT_FEATURES
    ]  # fmt: skip


def prepared(df: DataFrame) -> DataFrame:
    """Numeric inputs as double (Imputer and the assembler need them so)."""
    numeric = numeric_columns(df)
    return df.select(
        *(c for c in df.columns if c not in numeric),
        *(F.col(c).cast("double").alias(c) for c in numeric),
    )


def time_split(df: DataFrame, validation_fraction: float, test_fraction: float) -> Split:
    """By application date: the latest ``test_fraction`` is test, the ``validation_fraction``
    before it validation, the rest training (no future loan informs a past one)."""
    day = F.datediff("application_date", F.lit("1970-01-01"))
    cuts = df.select(day.alias("d")).approxQuantile(
        "d", [1 - test_fraction - validation_fraction, 1 - test_fraction], 0.0
    )
    return Split(
        train=df.where(day < cuts[0]),
        validation=df.where((day >= cuts[0]) & (day < cuts[1])),
        test=df.where(day >= cuts[1]),
    )


def with_class_weight(df: DataFrame) -> DataFrame:
    """Weights so that defaults and non-defaults weigh the same in total."""
    rate = df.agg(F.avg(LABEL)).first()[0] or 0.5
    return df.withColumn(
        "weight", F.when(F.col(LABEL) == 1, 0.5 / rate).otherwise(0.5 / (1 - rate))
    )


def pipeline(numeric: list[str], classifier: Any) -> Pipeline:
    imputed = [f"{c}__imp" for c in numeric]
    indexed = [f"{c}__idx" for c in CATEGORICAL]
    encoded = [f"{c}__ohe" for c in CATEGORICAL]
    return Pipeline(
        stages=[
            Imputer(inputCols=numeric, outputCols=imputed, strategy="median"),
            StringIndexer(inputCols=CATEGORICAL, outputCols=indexed, handleInvalid="keep"),
            OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"),
            VectorAssembler(
                inputCols=imputed + encoded, outputCol="raw_features", handleInvalid="keep"
            ),
            StandardScaler(inputCol="raw_features", outputCol="features"),
            classifier,
        ]
    )


def candidates(numeric: list[str]) -> dict[str, tuple[Pipeline, list]]:
    lr = LogisticRegression(labelCol=LABEL, weightCol="weight", maxIter=100)
    gbt = GBTClassifier(labelCol=LABEL, weightCol="weight", seed=SEED)
    return {
        "logistic_regression": (
            pipeline(numeric, lr),
            ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build(),
        ),
        "gbt": (
            pipeline(numeric, gbt),
            ParamGridBuilder().addGrid(gbt.maxDepth, [2, 4]).addGrid(gbt.maxIter, [20]).build(),
        ),
    }  # fmt: skip


def scored(model: PipelineModel, df: DataFrame) -> DataFrame:
    return model.transform(df).withColumn("pd", vector_to_array("probability")[1])


def evaluate(predictions: DataFrame, cfg: Config) -> tuple[dict[str, float], pd.DataFrame]:
    """Test metrics; returns them and the (label, pd, protected attributes) frame for plots."""
    roc = BinaryClassificationEvaluator(labelCol=LABEL, rawPredictionCol="rawPrediction")
    metrics = {
        "auc_roc": roc.evaluate(predictions, {roc.metricName: "areaUnderROC"}),
        "auc_pr": roc.evaluate(predictions, {roc.metricName: "areaUnderPR"}),
    }
    local = predictions.select(LABEL, "pd", *PROTECTED).toPandas()
    y, p = local[LABEL].to_numpy(), local["pd"].to_numpy()
    metrics["brier"] = float(np.mean((p - y) ** 2))
    metrics["ks"] = ks_statistic(y, p)
    metrics["default_rate"] = float(y.mean()) if len(y) else 0.0
    lift = lift_by_decile(y, p)
    metrics["lift_top_decile"] = float(lift[0]) if len(lift) else 0.0
    cutoff = cfg["risk.approval_pd_cutoff"]
    for attribute in PROTECTED:
        approval_gap, tpr_gap = fairness_gaps(local, attribute, cutoff)
        metrics[f"approval_rate_gap_{attribute}"] = approval_gap
        metrics[f"tpr_gap_{attribute}"] = tpr_gap
    return metrics, local


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Max distance between the score distributions of defaults and non-defaults."""
    if y.min(initial=0) == y.max(initial=0):
        return 0.0
    order = np.argsort(-p)
    y_sorted = y[order]
    tpr = np.cumsum(y_sorted) / y_sorted.sum()
    fpr = np.cumsum(1 - y_sorted) / (1 - y_sorted).sum()
    return float(np.max(np.abs(tpr - fpr)))


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Default rate in each score decile (highest scores first) over the overall rate."""
    if len(y) < 10 or y.mean() == 0:
        return np.array([])
    deciles = np.array_split(y[np.argsort(-p)], 10)
    return np.array([d.mean() / y.mean() for d in deciles])


def fairness_gaps(local: pd.DataFrame, attribute: str, cutoff: float) -> tuple[float, float]:
    """Largest difference between groups of ``attribute`` in approval rate (pd < cutoff) and in
    true-positive rate (defaults that the cutoff flags)."""
    approved = local.assign(approved=local["pd"] < cutoff, flagged=local["pd"] >= cutoff)
    groups = approved.dropna(subset=[attribute]).groupby(attribute)
    approval = groups["approved"].mean()
    tpr = (
        approved[approved[LABEL] == 1]
        .dropna(subset=[attribute])
        .groupby(attribute)["flagged"]
        .mean()
    )
    span = lambda s: float(s.max() - s.min()) if len(s) > 1 else 0.0  # noqa: E731
    return span(approval), span(tpr)


def _plots(local: pd.DataFrame) -> dict[str, plt.Figure]:
    y, p = local[LABEL].to_numpy(), local["pd"].to_numpy()
    figures = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    order = np.argsort(-p)
    if 0 < y.sum() < len(y):
        tpr = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
        fpr = np.concatenate([[0], np.cumsum(1 - y[order]) / (1 - y).sum()])
        ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend()
    figures["roc_curve.png"] = fig
    fig, ax = plt.subplots(figsize=(5, 5))
    bins = pd.qcut(pd.Series(p), q=min(10, max(1, len(np.unique(p)))), duplicates="drop")
    curve = pd.DataFrame({"p": p, "y": y}).groupby(bins, observed=True).mean()
    ax.plot(curve["p"], curve["y"], "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration (test)")
    ax.legend()
    figures["calibration_curve.png"] = fig
    return figures


def load_training(spark: SparkSession, cfg: Config) -> DataFrame:
    if not lake.exists(spark, cfg, TRAINING_TABLE):
        raise Fin360Error(f"{TRAINING_TABLE} missing: run `fin360 run gold --as-of ...` first")
    return prepared(lake.read(spark, cfg, TRAINING_TABLE).where("is_mature"))


def train(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """Train, evaluate, log and register a challenger; returns the run id, version, metrics."""
    client = tracking.setup(cfg)
    inputs = [TRAINING_TABLE] if data is None else []
    data = data if data is not None else load_training(spark, cfg)
    split = time_split(data, cfg["risk.validation_fraction"], cfg["risk.test_fraction"])
    observed = (
        split.train.agg(
            F.countDistinct(LABEL).alias("_classes"),
            *(F.count(c).alias(c) for c in numeric_columns(data)),
        )
        .first()
        .asDict()
    )
    if observed.pop("_classes") < 2:
        raise Fin360Error("the training part has a single class: not enough mature loans to train")
    numeric = [
        c for c, n in observed.items() if n > 0
    ]  # a feature never observed cannot be imputed
    train_df = with_class_weight(split.train).cache()
    try:
        evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderPR")
        with mlflow.start_run(experiment_id=tracking.experiment_id(cfg, FAMILY)) as run:
            tracking.log_lineage(spark, cfg, inputs, data.count())
            best_name, best_model, best_score = None, None, -1.0
            for name, (estimator, grid) in candidates(numeric).items():
                cv = CrossValidator(
                    estimator=estimator,
                    estimatorParamMaps=grid,
                    evaluator=evaluator,
                    numFolds=3,
                    seed=SEED,
                )
                model = cv.fit(train_df).bestModel
                score = evaluator.evaluate(model.transform(split.validation))
                mlflow.log_metric(f"validation_auc_pr_{name}", score)
                log.info("risk candidate=%s validation_auc_pr=%.4f", name, score)
                if score > best_score:
                    best_name, best_model, best_score = name, model, score
            metrics, local = evaluate(scored(best_model, split.test), cfg)
            mlflow.log_params(
                {"model_type": best_name, "features": len(numeric) + len(CATEGORICAL)}
            )
            mlflow.log_param(
                "features.unobserved", ",".join(sorted(set(observed) - set(numeric)))[:6000]
            )
            mlflow.log_params(
                {
                    f"best.{p.name}": v
                    for p, v in best_model.stages[-1].extractParamMap().items()
                    if p.name in ("regParam", "elasticNetParam", "maxDepth", "maxIter")
                }
            )
            mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
            for file, figure in _plots(local).items():
                mlflow.log_figure(figure, file)
                plt.close(figure)
            # the model's inputs, typed as scoring will send them (all-null columns stay typed)
            rows = split.test.select(*numeric, *CATEGORICAL).limit(5)
            example = rows.toPandas().astype({c: "float64" for c in numeric})
            example[CATEGORICAL] = example[CATEGORICAL].fillna("unknown")
            signature = infer_signature(example, scored(best_model, rows).select("pd").toPandas())
            info = mlflow.spark.log_model(
                best_model, artifact_path="model", signature=signature, input_example=example
            )
            version = tracking.register_challenger(
                client, tracking.model_name(cfg, FAMILY), info.model_uri
            )
    finally:
        train_df.unpersist()
    log.info(
        "risk run=%s model=%s version=%s test_auc_roc=%.4f test_ks=%.4f",
        run.info.run_id,
        best_name,
        version,
        metrics["auc_roc"],
        metrics["ks"],
    )
    return {"run_id": run.info.run_id, "version": version, "model_type": best_name, **metrics}


def promote(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """Make the challenger champion only if it beats the champion's test AUC-ROC on the same
    (current) test data and its fairness gaps stay within ``risk.max_fairness_gap``."""
    client = tracking.setup(cfg)
    name = tracking.model_name(cfg, FAMILY)
    champion = tracking.require_alias(client, name, tracking.CHAMPION)
    challenger = tracking.require_alias(client, name, tracking.CHALLENGER)
    data = data if data is not None else load_training(spark, cfg)
    test = time_split(data, cfg["risk.validation_fraction"], cfg["risk.test_fraction"]).test
    results = {}
    for alias in (tracking.CHAMPION, tracking.CHALLENGER):
        model = mlflow.spark.load_model(f"models:/{name}@{alias}")
        results[alias], _ = evaluate(scored(model, test), cfg)
    bound = cfg["risk.max_fairness_gap"]
    gaps = [
        v
        for k, v in results[tracking.CHALLENGER].items()
        if k.startswith(("approval_rate_gap", "tpr_gap"))
    ]
    better = results[tracking.CHALLENGER]["auc_roc"] > results[tracking.CHAMPION]["auc_roc"]
    fair = all(g <= bound for g in gaps)
    promoted = champion != challenger and better and fair
    if promoted:
        client.set_registered_model_alias(name, tracking.CHAMPION, challenger)
    decision = {
        "promoted": promoted,
        "champion_version": champion,
        "challenger_version": challenger,
        "champion_auc_roc": results[tracking.CHAMPION]["auc_roc"],
        "challenger_auc_roc": results[tracking.CHALLENGER]["auc_roc"],
        "challenger_max_fairness_gap": max(gaps, default=0.0),
    }
    with mlflow.start_run(experiment_id=tracking.experiment_id(cfg, FAMILY), run_name="promotion"):
        mlflow.log_params({k: v for k, v in decision.items() if k.endswith("version")})
        mlflow.log_metrics({k: float(v) for k, v in decision.items() if not k.endswith("version")})
    log.info("risk promotion: %s", decision)
    return decision
