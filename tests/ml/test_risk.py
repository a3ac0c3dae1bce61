"""Risk training, MLflow logging and registry, and promotion, on a small synthetic loan book."""

from __future__ import annotations

from datetime import date, timedelta

import mlflow
import numpy as np
import pytest

from fin360.ml import risk, tracking


def _loans(spark, n=400, informative=True, seed=7):
    rng = np.random.default_rng(seed)
    score = rng.normal(650, 60, n)
    util = rng.uniform(0, 1, n)
    pd_true = 1 / (1 + np.exp((score - 560) / 25 - 2 * util))
    label = (rng.uniform(size=n) < pd_true).astype(int)
    if not informative:  # a model trained on shuffled labels learns nothing
        rng.shuffle(label)
    rows = [
        (f"L{i}", f"C{i}", date(2023, 1, 1) + timedelta(days=int(i * 700 / n)), int(label[i]), True,
         "M" if i % 2 else "F", ["25-34", "35-44", "45-54"][i % 3], ["<50k", "50-100k"][i % 2], "clerk",
         float(score[i]), float(util[i]), None)
        for i in range(n)
    ]  # fmt: skip
    return spark.createDataFrame(
        rows,
        "loan_id string, customer_id string, application_date date, label_default_90dpd_12m int, "
        "is_mature boolean, gender string, age_band string, income_band string, occupation_band string, "
        "bureau_score double, credit_utilisation double, spend_90d double",
    )


def test_train_logs_registers_and_a_worse_challenger_is_not_promoted(spark, cfg):
    good = risk.prepared(_loans(spark))
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
    assert {"roc_curve.png", "calibration_curve.png"} <= artifacts

    worse = risk.train(spark, cfg, risk.prepared(_loans(spark, informative=False)))
    assert tracking.alias_version(client, name, tracking.CHALLENGER) == worse["version"]
    decision = risk.promote(spark, cfg, good)
    assert not decision["promoted"]
    assert decision["challenger_auc_roc"] < decision["champion_auc_roc"]
    assert tracking.alias_version(client, name, tracking.CHAMPION) == first["version"]


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
    assert risk.ks_statistic(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
