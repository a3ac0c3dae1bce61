"""Score the shared tiny lake with the three champions and check the score tables."""

from __future__ import annotations

from datetime import timedelta

import mlflow
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import lake
from fin360.cli import main
from fin360.ml import anomaly, monitoring, segmentation, tracking
from fin360.scoring import job


def test_three_champions_with_their_figures_in_mlflow(spark, scored_lake):
    cfg, _, trained, summary = scored_lake
    client = tracking.setup(cfg)
    for family, result in trained.items():
        name = tracking.model_name(cfg, family)
        assert tracking.alias_version(client, name, tracking.CHAMPION) == result["version"]
        assert summary["model_versions"][family] == result["version"]

    seg = trained["segmentation"]
    assert seg["k"] in (2, 3) and -1 <= seg["silhouette"] <= 1
    runs = mlflow.search_runs(experiment_names=[tracking.model_name(cfg, "segmentation")])
    children = runs[runs["tags.mlflow.parentRunId"] == seg["run_id"]]
    assert len(children) == 4  # 2 algorithms x k in 2..3
    assert children["metrics.silhouette"].max() == pytest.approx(seg["silhouette"])
    artifacts = {a.path for a in client.list_artifacts(seg["run_id"])}
    assert {
        "segment_profiles.png",
        "segment_profiles.csv",
        segmentation.CENTROIDS_ARTIFACT,
    } <= artifacts

    found = trained["anomaly"]
    base_rate = found["known_anomalies"] / found["transactions"]
    assert found["known_anomalies"] > 0
    assert found["precision_at_1pct"] > 10 * base_rate  # far better than random alerts
    assert 0 < found["auc_pr"] <= 1
    artifacts = {a.path for a in client.list_artifacts(found["run_id"])}
    assert {"score_distribution.png", "precision_recall.png"} <= artifacts


def test_score_tables_cover_every_customer_and_transaction(spark, scored_lake):
    cfg, as_of, trained, summary = scored_lake
    on_date = lambda t: lake.read(spark, cfg, t).where(F.col("as_of_date") == F.lit(as_of))  # noqa: E731
    c360 = on_date("gold.customer_360")
    scores = on_date(job.CUSTOMER_SCORES)
    assert scores.count() == c360.count() == summary["customers"]
    assert scores.join(c360, "customer_id", "left_anti").count() == 0
    bad = scores.where(
        (F.col("pd") < 0) | (F.col("pd") > 1) | ~F.col("risk_band").isin("A", "B", "C", "D", "E")
    )
    assert bad.count() == 0
    segment_ids = {int(i) for i in trained["segmentation"]["segments"]}
    assert {r[0] for r in scores.select("segment_id").distinct().collect()} <= segment_ids
    assert {r[0] for r in scores.select("risk_model_version").distinct().collect()} == {
        trained["risk"]["version"]
    }

    alerts = on_date(job.TRANSACTION_ALERTS)
    window = anomaly.window_features(spark, cfg, as_of)
    assert alerts.count() == window.count() == summary["transactions"]
    flagged = alerts.where("is_alert")
    ranks = sorted(r[0] for r in flagged.select("alert_rank").collect())
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) == summary["alerts"] > 0
    lowest_alert = flagged.agg(F.min("anomaly_score")).first()[0]
    assert alerts.where(~F.col("is_alert") & (F.col("anomaly_score") > lowest_alert)).count() == 0
    assert flagged.where(F.size("reasons") == 0).count() == 0

    offers = on_date(job.NEXT_BEST_OFFER)
    assert offers.count() > 0
    assert (
        offers.groupBy("customer_id")
        .count()
        .where(F.col("count") > cfg["scoring.offers_per_customer"])
        .count()
        == 0
    )
    no_consent = c360.where(~F.col("marketing_consent")).select("customer_id")
    assert offers.join(no_consent, "customer_id").count() == 0
    credit = offers.where(F.col("category").isin("credit_card", "loan"))
    assert credit.where(~F.col("risk_band").isin(*cfg["scoring.credit_offer_bands"])).count() == 0
    from fin360.gold.job import load_sources

    held = load_sources(spark, cfg).accounts.where(
        F.col("is_current") & (F.col("status") != "closed")
    )
    assert offers.join(held, ["customer_id", "product_code"]).count() == 0

    monitored = lake.read(spark, cfg, monitoring.MODEL_MONITORING).where(
        F.col("as_of_date") == F.lit(as_of)
    )
    assert {r[0] for r in monitored.select("model_name").distinct().collect()} == {
        tracking.model_name(cfg, f) for f in ("segmentation", "risk", "anomaly")
    }
    assert monitored.where(F.col("column").isin("pd", "anomaly_score", "segment_id")).count() == 3


def test_a_daily_run_scores_each_transaction_once_and_a_rerun_replaces_its_date(spark, scored_lake):
    cfg, as_of, _, summary = scored_lake
    alerts = lake.read(spark, cfg, job.TRANSACTION_ALERTS)
    first = alerts.where(F.col("as_of_date") == F.lit(as_of))
    today = [r["txn_id"] for r in first.where(F.to_date("event_ts") == F.lit(as_of)).collect()]
    assert 0 < len(today) < summary["transactions"]
    # yesterday's run scored the window's earlier days: today's scores only what it did not
    yesterday = as_of - timedelta(days=1)
    earlier = first.where(F.to_date("event_ts") < F.lit(as_of))
    where_yesterday = f"as_of_date = '{yesterday.isoformat()}'"
    lake.replace_where(
        earlier.withColumn("as_of_date", F.lit(yesterday)), cfg, job.TRANSACTION_ALERTS,
        where_yesterday, ["as_of_date"],
    )  # fmt: skip
    daily = job.run(spark, cfg, as_of)
    assert daily["transactions"] == len(today)
    assert_df_equality(
        lake.read(spark, cfg, job.TRANSACTION_ALERTS)
        .where(F.col("as_of_date") == F.lit(as_of))
        .select("txn_id"),
        spark.createDataFrame([(t,) for t in today], "txn_id string"),
        ignore_row_order=True,
        ignore_nullable=True,
    )

    # without yesterday's run, a rerun of the date scores the whole window again, replacing it
    lake.delete(spark, cfg, job.TRANSACTION_ALERTS, F.col("as_of_date") == F.lit(yesterday))
    again = job.run(spark, cfg, as_of)
    assert (again["customers"], again["transactions"]) == (
        summary["customers"],
        summary["transactions"],
    )
    for table in (job.CUSTOMER_SCORES, job.TRANSACTION_ALERTS, job.NEXT_BEST_OFFER):
        rows = lake.read(spark, cfg, table).where(F.col("as_of_date") == F.lit(as_of))
        key = {"gold.customer_scores": ["customer_id"], "gold.transaction_alerts": ["txn_id"]}.get(
            table, ["customer_id", "offer_rank"]
        )
        assert rows.groupBy(*key).count().where("count > 1").count() == 0


def test_scoring_without_champions_is_a_clear_error(spark, gold_lake, tmp_path, capsys):
    cfg, as_of, _ = gold_lake
    code = main(
        [
            "--env", "test", "run", "score", "--as-of", as_of.isoformat(),
            "--set", f"paths.lakehouse={cfg.path('lakehouse')}",
            "--set", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'empty.db'}",
            "--set", f"paths.mlflow_artifacts={tmp_path / 'art'}",
        ]
    )  # fmt: skip
    assert code == 2
    assert "has no 'champion' version: train it first" in capsys.readouterr().err
