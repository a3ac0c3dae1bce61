"""Credit risk: probability of 90+ days past due within 12 months of a loan application.

Trained on the mature loans of ``gold.training_credit_risk`` with a time-based split (the
latest applications are the test set, the ones before them validation). Two MLlib pipelines
(logistic regression, gradient-boosted trees), each tuned by 3-fold cross-validation on the
training part with class weights for the rare defaults; the one with the better validation
AUC-PR is calibrated (Platt scaling: a one-feature logistic regression on its score, fitted on
the validation part, because class weights inflate the raw probabilities) and evaluated once on
the test part. Everything goes to MLflow: params, metrics (AUC-ROC, AUC-PR, KS, Brier, lift by
decile, fairness gaps), ROC, calibration, lift and fairness plots, input Delta versions, the
reference distributions for drift monitoring, and the model with its signature, registered as
``challenger``.

The inputs are the customer's ``gold.customer_360`` features plus the application's terms, so
the same model scores every customer in ``gold.customer_scores`` (see :func:`as_application`).
Scores become risk bands A-E (``risk.bands``) and reason codes (:mod:`fin360.ml.explain`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import mlflow.spark
import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    LogisticRegressionModel,
)
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
    VectorSlicer,
)
from pyspark.ml.functions import vector_to_array
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config, ConfigError
from fin360.governance import consent
from fin360.logs import stage
from fin360.ml import explain, monitoring, tracking

log = logging.getLogger(__name__)

FAMILY = "risk"
TRAINING_TABLE = catalog.GOLD_TRAINING_CREDIT_RISK
LABEL = "label_default_90dpd_12m"
CATEGORICAL = ["age_band", "income_band", "occupation_band"]
# Groups the fairness metrics compare; gender is never a model input, age band is both.
PROTECTED = ["gender", "age_band"]
NOT_FEATURES = {LABEL, "is_mature", "gender", "region", "top_complaint_topic_365d"}
# The application's own terms are inputs; a customer scored without an application gets them
# as nulls, imputed to the training medians: the PD of a typical application.
APPLICATION_TERMS = ["loan_principal_applied", "term_months", "interest_rate"]
SCALER_STAGE = 4  # index of the scaler in :func:`pipeline`
CLASSIFIER_STAGE = 5  # index of the classifier
MONITORED_FEATURES = 8  # drift is tracked on the score and this many heaviest features
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


def as_application(features: DataFrame) -> DataFrame:
    """``gold.customer_360`` rows as model input: the application terms null (imputed)."""
    missing = [c for c in APPLICATION_TERMS if c not in features.columns]
    return features.select("*", *(F.lit(None).cast("double").alias(c) for c in missing))


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


def candidates(numeric: list[str], names: list[str]) -> dict[str, tuple[Pipeline, list]]:
    """The model types of ``risk.models``, each with the grid cross-validation searches."""
    lr = LogisticRegression(labelCol=LABEL, weightCol="weight", maxIter=100)
    gbt = GBTClassifier(labelCol=LABEL, weightCol="weight", seed=SEED)
    known = {
        "logistic_regression": (
            pipeline(numeric, lr),
            ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build(),
        ),
        "gbt": (
            pipeline(numeric, gbt),
            ParamGridBuilder().addGrid(gbt.maxDepth, [2, 4]).addGrid(gbt.maxIter, [20]).build(),
        ),
    }  # fmt: skip
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(f"risk.models must name some of {sorted(known)}, got {names}")
    return {n: known[n] for n in names}


def calibrated(model: PipelineModel, validation: DataFrame) -> PipelineModel:
    """``model`` followed by Platt scaling fitted on ``validation``: a logistic regression of
    the label on the model's raw default probability, whose output is the calibrated PD."""
    platt = Pipeline(
        stages=[
            VectorSlicer(inputCol="probability", outputCol="raw_pd", indices=[1]),
            LogisticRegression(
                featuresCol="raw_pd",
                labelCol=LABEL,
                rawPredictionCol="calibrated_raw_prediction",
                probabilityCol="calibrated_probability",
                predictionCol="calibrated_prediction",
            ),
        ]
    ).fit(model.transform(validation))
    return PipelineModel(stages=[*model.stages, *platt.stages])


def scored(model: PipelineModel, df: DataFrame) -> DataFrame:
    """The calibrated probability of default as ``pd``."""
    return model.transform(df).withColumn("pd", vector_to_array("calibrated_probability")[1])


def risk_band(pd_column: Column, bands: dict[str, float]) -> Column:
    """A-E from the configured upper PD bounds; a PD above the last bound gets the next letter."""
    ordered = sorted(bands.items(), key=lambda kv: kv[1])
    if [k for k, _ in ordered] != sorted(bands):
        raise Fin360Error(f"risk.bands must rise with the letter, got {bands}")
    last = chr(ord(ordered[-1][0]) + 1)
    band = F.lit(last)
    for letter, bound in reversed(ordered):
        band = F.when(pd_column < bound, F.lit(letter)).otherwise(band)
    return F.when(pd_column.isNull(), F.lit(None)).otherwise(band)


def reason_weights(model: PipelineModel, predictions: DataFrame) -> list[float]:
    """Per feature slot, how much a unit of it raises the score: the coefficients of a logistic
    regression; for trees, the importance signed by the feature's correlation with the PD."""
    classifier = model.stages[CLASSIFIER_STAGE]
    if isinstance(classifier, LogisticRegressionModel):
        return classifier.coefficients.toArray().tolist()
    importances = classifier.featureImportances.toArray()
    values = vector_to_array("features")
    corr = predictions.select(
        *(F.corr(values[i], "pd").alias(str(i)) for i in range(len(importances)))
    ).first()
    return [float(w * np.sign(c or 0.0)) for w, c in zip(importances, corr, strict=True)]


def reason_centre(model: PipelineModel) -> list[float]:
    """The development population's mean of each feature slot, as the classifier sees it: the
    scaler's training mean over its standard deviation (the scaler does not centre; a slot
    without spread is scaled to 0)."""
    scaler = model.stages[SCALER_STAGE]
    return [m / s if s else 0.0 for m, s in zip(scaler.mean, scaler.std, strict=True)]


def with_reason_codes(model: PipelineModel, predictions: DataFrame, n: int) -> DataFrame:
    """``reason_codes``: the ``n`` features pushing each PD above that of the development
    population's average applicant. The reference is the model's, not the scored batch's, so
    a customer's reasons do not depend on who else is scored that day (and need no pass over
    the batch)."""
    return predictions.withColumn(
        "reason_codes",
        explain.top_contributions(
            "features",
            explain.vector_names(predictions, "raw_features"),
            reason_weights(model, predictions),
            reason_centre(model),
            n,
        ),
    )


def evaluate(predictions: DataFrame, cfg: Config) -> tuple[dict[str, float], pd.DataFrame]:
    """Test metrics; returns them and the (label, pd, protected attributes) frame for plots."""
    roc = BinaryClassificationEvaluator(labelCol=LABEL, rawPredictionCol="pd")
    metrics = {
        "auc_roc": roc.evaluate(predictions, {roc.metricName: "areaUnderROC"}),
        "auc_pr": roc.evaluate(predictions, {roc.metricName: "areaUnderPR"}),
    }
    # the rank statistics and fairness slices below need the test loans together
    # bounded: the test split of the loan book, one row per loan
    local = predictions.select(LABEL, "pd", *PROTECTED).toPandas()
    y, p = local[LABEL].to_numpy(), local["pd"].to_numpy()
    metrics["brier"] = float(np.mean((p - y) ** 2))
    metrics["ks"] = ks_statistic(y, p)
    metrics["default_rate"] = float(y.mean()) if len(y) else 0.0
    lift = lift_by_decile(y, p)
    metrics["lift_top_decile"] = float(lift[0]) if len(lift) else 0.0
    cutoff = cfg["risk.approval_pd_cutoff"]
    for attribute in PROTECTED:
        approval_gap, tpr_gap = fairness_gaps(
            local, attribute, cutoff, cfg["risk.fairness_min_group"]
        )
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


def fairness_gaps(
    local: pd.DataFrame, attribute: str, cutoff: float, min_group: int = 1
) -> tuple[float, float]:
    """Largest difference between groups of ``attribute`` in approval rate (pd < cutoff) and in
    true-positive rate (defaults that the cutoff flags). Groups with fewer than ``min_group``
    rows (for the TPR: defaults) are left out: their rates are noise, not evidence."""
    flags = local.dropna(subset=[attribute]).assign(
        approved=local["pd"] < cutoff, flagged=local["pd"] >= cutoff
    )

    def span(frame: pd.DataFrame, column: str) -> float:
        groups = frame.groupby(attribute)[column].agg(["mean", "size"])
        rates = groups.loc[groups["size"] >= min_group, "mean"]
        return float(rates.max() - rates.min()) if len(rates) > 1 else 0.0

    return span(flags, "approved"), span(flags[flags[LABEL] == 1], "flagged")


def _plots(local: pd.DataFrame, cutoff: float) -> dict[str, plt.Figure]:
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
    top = max(float(curve.max().max()), 0.05)
    ax.plot(curve["p"], curve["y"], "o-", label="model (calibrated)")
    ax.plot([0, top], [0, top], "--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration (test)")
    ax.legend()
    figures["calibration_curve.png"] = fig
    lift = lift_by_decile(y, p)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(np.arange(1, len(lift) + 1), lift)
    ax.axhline(1.0, color="grey", linestyle="--")
    ax.set(xlabel="score decile (1 = riskiest)", ylabel="lift", title="Lift by decile (test)")
    figures["lift_by_decile.png"] = fig
    fig, axes = plt.subplots(1, len(PROTECTED), figsize=(5 * len(PROTECTED), 4))
    flags = local.assign(approved=local["pd"] < cutoff, flagged=local["pd"] >= cutoff)
    for ax, attribute in zip(np.atleast_1d(axes), PROTECTED, strict=True):
        groups = flags.dropna(subset=[attribute]).groupby(attribute)
        rates = pd.DataFrame(
            {
                "approval rate": groups["approved"].mean(),
                "true positive rate": flags[flags[LABEL] == 1]
                .dropna(subset=[attribute])
                .groupby(attribute)["flagged"]
                .mean(),
            }
        )
        rates.plot.bar(ax=ax, rot=0, ylim=(0, 1), title=f"Fairness by {attribute} (test)")
    figures["fairness.png"] = fig
    return figures


def load_training(spark: SparkSession, cfg: Config) -> DataFrame:
    if not lake.exists(spark, cfg, TRAINING_TABLE):
        raise Fin360Error(f"{TRAINING_TABLE} missing: run `fin360 run gold --as-of ...` first")
    mature = lake.read(spark, cfg, TRAINING_TABLE).where("is_mature")
    return prepared(mature.where(consent.allowed(cfg, "training", mature.columns)))


def _classes(df: DataFrame) -> int:
    return df.agg(F.countDistinct(LABEL)).first()[0]


def train(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """Train, calibrate, evaluate, log and register a challenger; returns the run id, version
    and test metrics."""
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
    if observed.pop("_classes") < 2 or _classes(split.validation) < 2:
        raise Fin360Error(
            "the training or validation part has a single class: not enough mature loans to train"
        )
    # a feature never observed in training cannot be imputed
    numeric = [c for c, n in observed.items() if n > 0]
    train_df = with_class_weight(split.train).cache()
    try:
        evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderPR")
        with mlflow.start_run(experiment_id=tracking.experiment_id(cfg, FAMILY)) as run:
            tracking.log_lineage(spark, cfg, FAMILY, inputs, data.count())
            best_name, best_model, best_score = None, None, -1.0
            models = candidates(numeric, cfg["risk.models"])
            for i, (name, (estimator, grid)) in enumerate(models.items(), 1):
                folds = cfg["risk.cv_folds"]
                progress = f"{i}/{len(models)}"
                with stage(log, FAMILY, candidate=name, grid=len(grid), folds=folds,
                           progress=progress) as out:  # fmt: skip
                    cv = CrossValidator(
                        estimator=estimator,
                        estimatorParamMaps=grid,
                        evaluator=evaluator,
                        numFolds=folds,
                        seed=SEED,
                    )
                    model = cv.fit(train_df).bestModel
                    score = evaluator.evaluate(model.transform(split.validation))
                    mlflow.log_metric(f"validation_auc_pr_{name}", score)
                    out.update(validation_auc_pr=f"{score:.4f}")
                if score > best_score:
                    best_name, best_model, best_score = name, model, score
            final = calibrated(best_model, split.validation)
            test = scored(final, split.test)
            metrics, local = evaluate(test, cfg)
            mlflow.log_params(
                {
                    "model_type": best_name,
                    "features": len(numeric) + len(CATEGORICAL),
                    "calibration": "platt_on_validation",
                    "features.unobserved": ",".join(sorted(set(observed) - set(numeric)))[:6000],
                    **{
                        f"best.{p.name}": v
                        for p, v in best_model.stages[CLASSIFIER_STAGE].extractParamMap().items()
                        if p.name in ("regParam", "elasticNetParam", "maxDepth", "maxIter")
                    },
                }
            )
            mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
            for file, figure in _plots(local, cfg["risk.approval_pd_cutoff"]).items():
                mlflow.log_figure(figure, file)
                plt.close(figure)
            train_scored = scored(final, split.train)
            weights = reason_weights(final, train_scored)
            names = explain.vector_names(train_scored, "raw_features")
            heaviest = [
                n for _, n in sorted(zip(np.abs(weights), names, strict=True), reverse=True)
                if n in numeric and n not in APPLICATION_TERMS  # null when scoring customers
            ][:MONITORED_FEATURES]  # fmt: skip
            mlflow.log_dict(
                monitoring.reference(train_scored, ["pd", *heaviest], cfg["monitoring.psi_bins"]),
                monitoring.REFERENCE_ARTIFACT,
            )
            # the model's inputs, typed as scoring will send them (all-null columns stay typed)
            rows = split.test.select(*numeric, *CATEGORICAL).limit(5)
            example = rows.toPandas().astype({c: "float64" for c in numeric})  # bounded: 5 rows
            example[CATEGORICAL] = example[CATEGORICAL].fillna("unknown")
            output = scored(final, rows).select("pd").toPandas()  # bounded: 5 rows
            version = tracking.log_and_register(client, cfg, FAMILY, final, example, output)
    finally:
        train_df.unpersist()
    log.info(
        "risk run=%s model=%s version=%s test_auc_roc=%.4f test_ks=%.4f test_brier=%.4f",
        run.info.run_id, best_name, version, metrics["auc_roc"], metrics["ks"], metrics["brier"],
    )  # fmt: skip
    return {"run_id": run.info.run_id, "version": version, "model_type": best_name, **metrics}


def promote(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """Make the challenger champion only if it beats the champion's test AUC-ROC on the same
    (current) test data and its fairness gaps stay within ``risk.max_fairness_gap``."""
    data = data if data is not None else load_training(spark, cfg)
    test = time_split(data, cfg["risk.validation_fraction"], cfg["risk.test_fraction"]).test
    bound = cfg["risk.max_fairness_gap"]

    def unfair(metrics: dict[str, float]) -> str | None:
        gaps = {k: v for k, v in metrics.items() if k.startswith(("approval_rate_gap", "tpr_gap"))}
        over = {k: round(v, 3) for k, v in gaps.items() if v > bound}
        return f"fairness gaps over {bound}: {over}" if over else None

    return tracking.promote(
        cfg, FAMILY, "auc_roc", lambda model: evaluate(scored(model, test), cfg)[0], unfair
    )
