"""Anomaly features relative to the customer's own history, on hand-made transactions."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

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
    ]  # fmt: skip
    txns = spark.createDataFrame(history + window, SCHEMA)
    got = {
        r["txn_id"]: r.asDict()
        for r in anomaly.transaction_features(txns, date(2025, 3, 10), 3, 7, "UTC").collect()
    }
    assert set(got) == {"usual", "odd", "odd2"}  # history rows are not scored
    usual, odd, odd2 = got["usual"], got["odd"], got["odd2"]
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
    assert (usual["velocity_1h"], odd2["velocity_1h"]) == (1.0, 2.0)
