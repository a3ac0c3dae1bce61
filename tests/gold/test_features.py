"""Feature values on tiny hand-built inputs, checked exactly; and no leakage past the date."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chispa import assert_df_equality

from fin360.gold import features
from fin360.gold.features import Sources

AS_OF = date(2025, 6, 30)
TXN_SCHEMA = (
    "customer_id string, event_ts timestamp, txn_type string, direction string, amount_base decimal(18,2), "
    "currency string, mcc_category string, channel string, counterparty_account string, merchant_id string"
)


def _transactions(spark, extra=()):
    rows = [
        # 2025-06-30 14:00 Shanghai, card, grocery
        ("A", datetime(2025, 6, 30, 6, 0), "card", "debit", Decimal("100.00"), "CNY", "grocery", "POS", None, "M1"),
        # 2025-06-29 02:30 Shanghai (night), foreign currency, ECOM, same clock hour x3
        ("A", datetime(2025, 6, 28, 18, 30), "card", "debit", Decimal("50.00"), "USD", "electronics", "ECOM", None, "M2"),
        ("A", datetime(2025, 6, 28, 18, 40), "card", "debit", Decimal("50.00"), "CNY", "electronics", "ECOM", None, "M2"),
        ("A", datetime(2025, 6, 28, 18, 50), "card", "debit", Decimal("50.00"), "CNY", "electronics", "ECOM", None, "M2"),
        # 45 days before: outside 30d, inside 90d
        ("A", datetime(2025, 5, 16, 4, 0), "card", "debit", Decimal("200.00"), "CNY", "dining", "CONTACTLESS", None, "M3"),
        # salary: same payer, 3 months, similar amounts
        *(("A", datetime(2025, m, 10, 2, 0), "transfer", "credit", Decimal("8000.00"), "CNY", None, "ONLINE", "EXT-EMP-1", None) for m in (4, 5, 6)),
    ]  # fmt: skip
    return spark.createDataFrame([*rows, *extra], TXN_SCHEMA)


def _sources(spark, transactions):
    customers = spark.createDataFrame(
        [("A", "F", 1990, date(2020, 1, 15), "广东", "深圳", "engineer", Decimal("150000.00"), True, False,
          datetime(2024, 1, 1), None, True)],
        "customer_id string, gender string, birth_year int, customer_since date, province string, city string, "
        "occupation string, annual_income decimal(18,2), marketing_consent boolean, data_sharing_consent boolean, "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    )  # fmt: skip
    accounts = spark.createDataFrame(
        [("A", "1", date(2020, 1, 15), "active", "savings", "USD", Decimal("10.00"), None),
         ("A", "2", date(2021, 1, 1), "active", "credit_card", "CNY", Decimal("-300.00"), Decimal("1000.00")),
         ("A", "3", date(2026, 1, 1), "active", "wealth", "CNY", Decimal("999.00"), None)],
        "customer_id string, account_id string, open_date date, status string, product_category string, "
        "currency string, balance decimal(18,2), credit_limit decimal(18,2)",
    )  # fmt: skip
    fx = spark.createDataFrame(
        [
            (date(2025, 6, 29), "USD", Decimal("7.00000000")),
            (date(2025, 7, 1), "USD", Decimal("9.00000000")),
        ],
        "rate_date date, currency string, rate_to_cny decimal(18,8)",
    )
    app = spark.createDataFrame(
        [("A", datetime(2025, 6, 20), "login", "D1"), ("A", datetime(2025, 4, 20), "login", "D2"),
         ("A", datetime(2025, 6, 21), "view_product", "D1")],
        "customer_id string, event_ts timestamp, event_type string, device_id string",
    )  # fmt: skip
    complaints = spark.createDataFrame(
        [("A", datetime(2025, 3, 1), -0.5, "fees"), ("A", datetime(2025, 6, 1), 0.5, "fees"),
         ("A", datetime(2023, 1, 1), -1.0, "card")],
        "customer_id string, created_at timestamp, sentiment double, topic string",
    )  # fmt: skip
    bureau = spark.createDataFrame(
        [("A", date(2025, 1, 1), 700, 0, 1), ("A", date(2025, 6, 1), 650, 1, 3), ("A", date(2025, 8, 1), 500, 4, 9)],
        "customer_id string, report_date date, bureau_score int, delinquencies_24m int, inquiries_6m int",
    )  # fmt: skip
    loans = spark.createDataFrame(
        [("A", date(2024, 1, 1), Decimal("50000.00"), 30, date(2025, 6, 1)),
         ("A", date(2025, 2, 1), Decimal("20000.00"), 120, date(2025, 12, 31))],
        "customer_id string, application_date date, principal decimal(18,2), max_dpd_12m int, as_of_date date",
    )  # fmt: skip
    return Sources(customers, accounts, transactions, app, complaints, bureau, loans, fx)


def _features(spark, transactions):
    spine = spark.createDataFrame([("A", AS_OF)], "customer_id string, as_of_date date")
    return features.customer_features(
        spine, _sources(spark, transactions), timezone="Asia/Shanghai", base_currency="CNY"
    )


def test_feature_values(spark):
    out = _features(spark, _transactions(spark))
    assert out.columns == ["customer_id", "as_of_date", *features.feature_names()]
    picked = out.select(
        "age_band", "tenure_months", "region", "income_band",
        "product_count", "balance_savings", "credit_utilisation",
        "txn_count_30d", "txn_count_90d", "spend_30d", "spend_90d", "recency_days",
        "spend_electronics_90d", "night_share_90d", "foreign_currency_share_90d",
        "velocity_max_per_hour_90d", "salary_like_inflow_months", "counterparty_count_90d",
        "logins_30d", "logins_90d", "devices_90d", "complaints_365d", "complaint_sentiment_365d",
        "bureau_score", "bureau_inquiries_6m", "loan_count", "max_days_past_due",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [("35-44", 65, "广东", "100-200k",
          2, Decimal("70.00"), 0.3,
          5, 8, Decimal("250.00"), Decimal("450.00"), 0,
          Decimal("150.00"), 3 / 8, 1 / 8,
          3, 3, 4,
          1, 2, 2, 2, 0.0,
          650, 3, 2, 30)],
        picked.schema,
    )  # fmt: skip
    assert_df_equality(picked, expected, ignore_nullable=True)


def test_events_after_the_date_change_no_feature(spark):
    before = _features(spark, _transactions(spark))
    late = [
        ("A", datetime(2025, 7, 1, 0, 30), "card", "debit", Decimal("9999.00"), "USD", "gambling", "ECOM", None, "M9"),
        ("A", datetime(2025, 7, 2), "transfer", "credit", Decimal("5.00"), "CNY", None, "ONLINE", "X", None),
    ]  # fmt: skip
    after = _features(spark, _transactions(spark, late))
    assert_df_equality(before, after, ignore_nullable=True)


def test_feature_names_are_unique_and_documented():
    names = features.feature_names()
    assert len(names) == len(set(names))
    assert all(f.definition and f.window and f.tables for f in features.all_features())
