"""Anomaly features relative to the customer's own history, on hand-made transactions."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime

import pytest
from chispa import assert_df_equality

from fin360.ml import anomaly

SCHEMA = (
    "txn_id string, customer_id string, txn_type string, direction string, event_ts timestamp, "
    "amount_base decimal(18,2), merchant_id string, counterparty_account string, "
    "device_id string, country string, mcc_category string"
)


def _txn(txn_id, day, hour, amount, merchant="m1", device="d1", country="CN", category="grocery"):
    ts = datetime(2025, 3, day, hour, 0)
    return (txn_id, "C1", "card", "debit", ts, amount, merchant, None, device, country, category)


def test_window_transactions_are_described_against_the_customer_history(spark):
    from decimal import Decimal

    history = [_txn(f"h{i}", 1 + i, 10, Decimal(a)) for i, a in enumerate(["100", "100", "120"])]
    window = [
        _txn("usual", 8, 10, Decimal("100")),
        _txn("odd", 9, 3, Decimal("5000"), merchant="m9", device="d9", country="MO", category="gambling"),
        _txn("odd2", 9, 3, Decimal("80"), merchant="m9", device="d9", country="MO", category="gambling"),
        _txn("nodevice", 9, 10, Decimal("100"), device=None),  # nothing to compare: not new
    ]  # fmt: skip
    newcomer = ("fresh", "C2", "card", "debit", datetime(2025, 3, 9, 10), Decimal("100"), "m1",
                None, "d1", "CN", "grocery")  # fmt: skip
    txns = spark.createDataFrame([*history, *window, newcomer], SCHEMA)
    got = {
        r["txn_id"]: r.asDict()
        for r in anomaly.transaction_features(txns, date(2025, 3, 10), 3, 7, "UTC").collect()
    }
    assert set(got) == {"usual", "odd", "odd2", "nodevice", "fresh"}  # history is not scored
    usual, odd, odd2 = got["usual"], got["odd"], got["odd2"]
    new_flags = ("new_counterparty", "new_device", "new_country", "new_spend_category")
    assert [got["nodevice"][c] for c in new_flags] == [0.0] * 4
    # a customer without history: nothing is new or rare, the model imputes
    assert [got["fresh"][c] for c in (*new_flags, "hour_rarity")] == [None] * 5
    assert (usual["amount_z"], usual["amount_over_max"]) == (0.0, 0.0)
    assert [
        usual[c] for c in ("new_counterparty", "new_device", "new_country", "new_spend_category")
    ] == [0.0] * 4
    assert [
        odd[c] for c in ("new_counterparty", "new_device", "new_country", "new_spend_category")
    ] == [1.0] * 4
    # median log(101); MAD 0 floored at 0.25
    assert odd["amount_z"] == pytest.approx((math.log(5001) - math.log(101)) / 0.25)
    assert odd["amount_over_max"] == pytest.approx(math.log(5001) - math.log(121))
    assert odd2["amount_z"] == 0.0  # smaller than usual is not suspicious
    # 3 history rows, none at 03:00 -> -ln(1 / 27); two at 03:00 in the same hour
    assert odd["hour_rarity"] == pytest.approx(math.log(27))
    assert usual["hour_rarity"] == pytest.approx(-math.log(4 / 27))
    velocity = (usual["velocity_1h"], odd2["velocity_1h"], got["nodevice"]["velocity_1h"])
    assert velocity == (1.0, 2.0, 1.0)


def test_transactions_scored_before_are_left_out_and_still_count_for_velocity(spark):
    from decimal import Decimal

    history = [_txn(f"h{i}", 1 + i, 10, Decimal("100")) for i in range(3)]
    window = [
        _txn("yesterday", 8, 23, Decimal("100")),  # scored on an earlier date
        _txn("late", 8, 10, Decimal("100"), country="MO"),  # arrived late: never scored
        _txn("today", 9, 0, Decimal("100")),  # 23:00 the day before counts
    ]
    txns = spark.createDataFrame([*history, *window], SCHEMA)
    scored = spark.createDataFrame([("yesterday",)], "txn_id string")
    got = anomaly.transaction_features(txns, date(2025, 3, 9), 2, 7, "UTC", scored).select(
        "txn_id", "new_country", "velocity_1h"
    )
    expected = spark.createDataFrame(
        [("late", 1.0, 1.0), ("today", 0.0, 2.0)],
        "txn_id string, new_country double, velocity_1h double",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_graph_features_come_from_the_latest_graph_date_on_or_before_the_window(spark, cfg):
    from chispa import assert_df_equality

    from fin360 import Fin360Error, catalog, lake
    from fin360.config import ConfigError

    graph = spark.createDataFrame(
        [
            ("C1", date(2025, 3, 1), 0.0, 1),
            ("C1", date(2025, 3, 8), 0.7, 4),  # the latest on or before 2025-03-10
            ("C2", date(2025, 3, 8), 0.2, 1),
            ("C1", date(2025, 3, 11), 1.0, 9),  # after the window: never used
        ],
        "customer_id string, as_of_date date, ring_score double, component_size long",
    )
    lake.overwrite(graph, cfg, catalog.GOLD_GRAPH_FEATURES, ["as_of_date"])
    window = spark.createDataFrame(
        [("t1", "C1"), ("t2", "C1"), ("t3", "C3")], "txn_id string, customer_id string"
    )
    got = anomaly.with_graph_features(
        spark, cfg, window, date(2025, 3, 10), ["ring_score", "component_size"]
    )
    expected = spark.createDataFrame(
        [("C1", "t1", 0.7, 4.0), ("C1", "t2", 0.7, 4.0), ("C3", "t3", None, None)],
        "customer_id string, txn_id string, ring_score double, component_size double",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_column_order=True)
    with pytest.raises(ConfigError, match="not columns"):
        anomaly.with_graph_features(spark, cfg, window, date(2025, 3, 10), ["ring_size"])
    with pytest.raises(Fin360Error, match="no date on or before 2025-02-28"):
        anomaly.with_graph_features(spark, cfg, window, date(2025, 2, 28), ["ring_score"])


def test_evaluation_ranks_the_whole_window_and_measures_the_top(spark):
    # 200 transactions, scores 200..1 for t000..t199; confirmed cases at ranks 1, 3 and 100
    scored = spark.createDataFrame(
        [(f"t{i:03d}", float(200 - i)) for i in range(200)], "txn_id string, anomaly_score double"
    )
    cases = spark.createDataFrame(
        [("t000", "burst"), ("t002", "new_country"), ("t099", "burst")],
        "txn_id string, anomaly_type string",
    )
    metrics, ranked = anomaly.evaluate(scored, cases)
    # Spark's area under the PR curve: trapezoids from (0, first precision) through each score
    hits = [1 if rank in (1, 3, 100) else 0 for rank in range(1, 201)]
    points, found = [(0.0, 1.0)], 0
    for rank, hit in enumerate(hits, start=1):
        found += hit
        points.append((found / 3, found / rank))
    auc_pr = sum((r2 - r1) * (p1 + p2) / 2 for (r1, p1), (r2, p2) in itertools.pairwise(points))
    assert metrics == pytest.approx(
        {
            "transactions": 200.0,
            "known_anomalies": 3.0,
            "precision_at_0.1pct": 1.0,  # the top 1 (round(0.2) -> at least 1)
            "precision_at_1pct": 0.5,  # the top 2: ranks 1 and 2
            "recall_at_1pct_burst": 0.5,  # rank 1 in, rank 100 out
            "recall_at_1pct_new_country": 0.0,  # rank 3 is outside the top 2
            "auc_pr": auc_pr,
        }
    )
    top = ranked.where("rank <= 3").select("txn_id", "rank", "label")
    expected = spark.createDataFrame(
        [("t000", 1, 1.0), ("t001", 2, 0.0), ("t002", 3, 1.0)],
        "txn_id string, rank long, label double",
    )
    assert_df_equality(top, expected, ignore_row_order=True, ignore_nullable=True)
    figures = anomaly._plots(ranked, 200)
    assert sorted(figures) == ["precision_recall.png", "score_distribution.png"]
    (line,) = figures["precision_recall.png"].axes[0].get_lines()
    assert line.get_xdata()[-1] == pytest.approx(1.0)  # the curve reaches full recall
    assert line.get_ydata()[-1] == pytest.approx(3 / 200)
