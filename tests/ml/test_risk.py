"""Risk training, MLflow logging and registry, and promotion, on a small synthetic loan book."""

from __future__ import annotations

import mlflow
import numpy as np
import pyspark
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import Fin360Error
from fin360.ml import explain, monitoring, risk, tracking
from tests.ml.synthetic import synthetic_loans


def test_train_logs_registers_and_a_worse_challenger_is_not_promoted(spark, cfg):
    good = risk.prepared(synthetic_loans(spark))
    first = risk.train(spark, cfg, good)
    assert first["auc_roc"] > 0.75 and first["ks"] > 0.3
    assert 0 <= first["brier"] < 0.25

    client = tracking.setup(cfg)
    name = tracking.model_name(cfg, risk.FAMILY)
    assert tracking.alias_version(client, name, tracking.CHAMPION) == first["version"]
    assert tracking.alias_version(client, name, tracking.CHALLENGER) == first["version"]

    runs = mlflow.search_runs(experiment_names=[name])
    run = runs[runs["run_id"] == first["run_id"]].iloc[0]
    assert run["metrics.test_auc_roc"] == pytest.approx(first["auc_roc"])
    assert {
        "metrics.test_ks",
        "metrics.test_auc_pr",
        "metrics.test_approval_rate_gap_gender",
    } <= set(runs.columns)
    artifacts = {a.path for a in client.list_artifacts(first["run_id"])}
    assert {
        "roc_curve.png",
        "calibration_curve.png",
        "lift_by_decile.png",
        "fairness.png",
        monitoring.REFERENCE_ARTIFACT,
    } <= artifacts
    # what the logged model needs to load: this pyspark and this MLflow, pinned
    requirements = mlflow.artifacts.load_text(f"runs:/{first['run_id']}/model/requirements.txt")
    assert sorted(requirements.split()) == sorted(
        [f"mlflow=={mlflow.__version__}", f"pyspark=={pyspark.__version__}"]
    )

    # the champion scores customers: calibrated PD, a band, and reasons that make sense here
    model, version, run_id = tracking.load(cfg, risk.FAMILY, tracking.CHAMPION)
    assert (version, run_id) == (first["version"], first["run_id"])
    scored = risk.with_reason_codes(model, risk.scored(model, good), n=2)
    assert_df_equality(
        scored.select("loan_id", "reason_codes"),
        _reasons_by_hand(model, scored, n=2),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    worst = scored.orderBy(F.desc("pd")).first()
    assert worst["pd"] > 0.5
    # a low bureau score or a high utilisation drives the planted default risk
    assert worst["reason_codes"][0] in {"bureau_score", "credit_utilisation"}
    mean_pd = scored.agg(F.avg("pd")).first()[0]
    observed = good.agg(F.avg(risk.LABEL)).first()[0]
    assert mean_pd == pytest.approx(observed, abs=0.08)  # calibrated, not inflated by weights

    worse = risk.train(spark, cfg, risk.prepared(synthetic_loans(spark, informative=False)))
    assert tracking.alias_version(client, name, tracking.CHALLENGER) == worse["version"]
    decision = risk.promote(spark, cfg, good)
    assert not decision["promoted"] and "does not beat" in decision["reason"]
    assert decision["challenger_auc_roc"] < decision["champion_auc_roc"]
    assert tracking.alias_version(client, name, tracking.CHAMPION) == first["version"]


def _reasons_by_hand(model, scored, n):
    """The logistic regression's reasons in numpy: per slot, coefficient times the distance of
    the scaled value from the development mean (the scaler's mean over its deviation)."""
    weights = model.stages[risk.CLASSIFIER_STAGE].coefficients.toArray()
    scaler = model.stages[risk.SCALER_STAGE]
    mean, std = scaler.mean.toArray(), scaler.std.toArray()
    centre = np.divide(mean, std, out=np.zeros_like(mean), where=std != 0)
    names = explain.vector_names(scored, "raw_features")
    rows = []
    for row in scored.select("loan_id", "features").collect():  # bounded: the synthetic book
        pushes = (row["features"].toArray() - centre) * weights
        order = [i for i in np.argsort(-pushes, kind="stable") if pushes[i] > 0][:n]
        rows.append((row["loan_id"], [names[i] for i in order]))
    return scored.sparkSession.createDataFrame(rows, "loan_id string, reason_codes array<string>")


def test_fairness_gaps_and_ks():
    import pandas as pd

    local = pd.DataFrame(
        {
            "label_default_90dpd_12m": [1, 0, 1, 0],
            "pd": [0.9, 0.1, 0.1, 0.1],
            "gender": ["M", "M", "F", "F"],
        }
    )
    approval_gap, tpr_gap = risk.fairness_gaps(local, "gender", 0.5)
    assert (approval_gap, tpr_gap) == (0.5, 1.0)
    # groups smaller than min_group are left out: one default per group is too few for a TPR
    assert risk.fairness_gaps(local, "gender", 0.5, min_group=2) == (0.5, 0.0)
    assert risk.ks_statistic(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 1.0


def test_risk_band_follows_the_configured_bounds(spark):
    bands = {"A": 0.02, "B": 0.05, "C": 0.10, "D": 0.20}
    df = spark.createDataFrame([(0.01,), (0.02,), (0.07,), (0.19,), (0.5,), (None,)], "pd double")
    got = [r[0] for r in df.select(risk.risk_band(F.col("pd"), bands)).collect()]
    assert got == ["A", "B", "C", "D", "E", None]
    with pytest.raises(Fin360Error, match="must rise"):
        risk.risk_band(F.col("pd"), {"A": 0.5, "B": 0.1})


def test_risk_models_come_from_config():
    from fin360.config import ConfigError

    assert list(risk.candidates(["bureau_score"], ["gbt", "logistic_regression"])) == [
        "gbt", "logistic_regression",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="risk.models must name some of"):
        risk.candidates(["bureau_score"], ["xgboost"])
