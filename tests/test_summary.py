"""`fin360 run all` ends by telling the user what it did and where to look."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

from fin360 import catalog, chain, cli, lake, summary
from fin360.bronze import job as bronze
from fin360.gold import job as gold
from fin360.scoring import job as scoring
from fin360.silver import job as silver


def test_quarantined_rows_by_reason_since_the_run_started(spark, cfg):
    since = datetime(2025, 3, 1, 12, 0)
    bronze_rows = [
        ("cards", "b1", "bad json", datetime(2025, 3, 1, 12, 5)),
        ("cards", "b1", "bad json", datetime(2025, 3, 1, 12, 5)),
        ("cards", "b1", "missing txn_id", datetime(2025, 3, 1, 12, 5)),
        ("cards", "b1", "line of length 27, expected 88", datetime(2025, 3, 1, 12, 5)),
        ("cards", "b1", "line of length 9, expected 88", datetime(2025, 3, 1, 12, 5)),
        ("cards", "b0", "bad json", datetime(2025, 2, 1, 9, 0)),  # an earlier run
    ]
    lake.append(
        spark.createDataFrame(
            bronze_rows, "source string, _batch_id string, reason string, _ingest_ts timestamp"
        ),
        cfg,
        catalog.BRONZE_QUARANTINE,
    )
    dq = [
        ("silver.transactions", "currency_known", 3, datetime(2025, 3, 1, 12, 9)),
        ("silver.transactions", "amount_positive", 0, datetime(2025, 3, 1, 12, 9)),  # passed
        ("silver.transactions", "currency_known", 7, datetime(2025, 2, 1, 9, 9)),  # earlier
    ]
    lake.append(
        spark.createDataFrame(
            dq, "table string, rule string, rows_failed long, evaluated_at timestamp"
        ),
        cfg,
        catalog.OPS_DQ_RESULTS,
    )
    assert summary.quarantined_by_reason(spark, cfg, since) == [
        ("bronze", "bronze.cards", "bad json", 2),
        ("bronze", "bronze.cards", "line of length N, expected N", 2),
        ("bronze", "bronze.cards", "missing txn_id", 1),
        ("silver", "silver.transactions", "currency_known", 3),
    ]


def test_run_all_prints_stages_models_tables_and_where_to_look(spark, cfg, monkeypatch, capsys):
    as_of = date(2025, 1, 14)
    landed = bronze.BronzeSummary(
        landed=[
            bronze.BatchResult("cards", "b1", 100, 97, 3),
            bronze.BatchResult("crm", "b1", 10, 10, 0),
        ],
        skipped=["cards/b0"],
    )

    def fake_bronze(spark, cfg):
        lake.append(spark.createDataFrame([(1,)], "id int"), cfg, "bronze.cards")
        return landed

    monkeypatch.setattr(bronze, "run", fake_bronze)
    monkeypatch.setattr(silver, "run", lambda spark, cfg: {
        "transactions/cards/b1": {"input_rows": 97, "accepted": 95, "quarantined": 2},
        "customers": {"input_rows": 10, "accepted": 10, "quarantined": 0},
    })  # fmt: skip
    monkeypatch.setattr(
        gold, "run", lambda spark, cfg, d: {"customer_360_rows": 10, "training_rows": 4}
    )
    monkeypatch.setattr(gold, "latest_activity_date", lambda spark, cfg: as_of)

    def fake_step(name, step, spark, cfg, d):
        if step == "train":
            return {"run_id": "r", "version": 2, "auc_pr": 0.5, "brier": 0.1}
        return {"promoted": name == "risk", "reason": "auc_pr 0.4 does not beat 0.5",
                "champion_version": 1, "challenger_version": 2}  # fmt: skip

    monkeypatch.setattr(chain, "family_step", fake_step)
    monkeypatch.setattr(scoring, "run", lambda spark, cfg, d: {
        "customers": 10, "transactions": 40, "alerts": 1, "rows_per_second": 25,
        "customer_seconds": 0.5, "transaction_seconds": 1.5})  # fmt: skip
    from fin360 import report

    monkeypatch.setattr(report, "run", lambda spark, cfg, d: Path("/r/fin360-report.html"))
    cli._all(spark, cfg, argparse.Namespace(as_of=None, no_train=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fin360 run all: done in ")
    stages = {line.split()[0]: line.split() for line in lines[3:9]}
    assert stages["bronze"][2:5] == ["110", "107", "3"]
    assert stages["silver"][2:5] == ["107", "105", "2"]
    assert "2 batch(es) landed, 1 already landed" in " ".join(stages["bronze"])
    assert stages["score"][2] == "50"
    assert (
        "  segmentation  trained v2  auc_pr=0.5  champion: v1 stays (auc_pr 0.4 does not beat 0.5)"
        in lines
    )
    assert "  risk          trained v2  auc_pr=0.5  champion: v2 (was v1)" in lines
    assert "tables written (1): bronze.cards" in lines
    assert "report:     /r/fin360-report.html" in lines
    assert any(line.startswith("MLflow:     fin360 --env test mlflow-ui") for line in lines)
