"""Feature values on tiny hand-built inputs, checked exactly; and no leakage past the date."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

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
    df = spark.createDataFrame([*rows, *extra], TXN_SCHEMA)
    # card transactions on the credit card, transfers on the current account
    return df.withColumn("account_id", F.when(F.col("txn_type") == "card", "2").otherwise("4"))


def _sources(spark, transactions):
    customers = spark.createDataFrame(
        [("A", "F", 1990, date(2020, 1, 15), "广东", "深圳", "engineer", Decimal("150000.00"), True, False,
          datetime(2024, 1, 1), None, True)],
        "customer_id string, gender string, birth_year int, customer_since date, province string, city string, "
        "occupation string, annual_income decimal(18,2), marketing_consent boolean, data_sharing_consent boolean, "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    )  # fmt: skip
    accounts = spark.createDataFrame(
        # SCD2 versions: the one valid at the date counts (a later one does not, an earlier one
        # is superseded); before an account's first snapshot, the first one stands in
        [("A", "1", "SAV01", date(2020, 1, 15), "active", "savings", "USD", Decimal("10.00"), None, datetime(2025, 6, 1), False),
         ("A", "1", "SAV01", date(2020, 1, 15), "active", "savings", "USD", Decimal("99.00"), None, datetime(2025, 7, 1), True),
         ("A", "2", "CC01", date(2021, 1, 1), "active", "credit_card", "CNY", Decimal("-900.00"), Decimal("1000.00"), datetime(2024, 1, 1), False),
         ("A", "2", "CC01", date(2021, 1, 1), "active", "credit_card", "CNY", Decimal("-300.00"), Decimal("1000.00"), datetime(2025, 6, 1), True),
         ("A", "3", "WM01", date(2026, 1, 1), "active", "wealth", "CNY", Decimal("999.00"), None, datetime(2026, 1, 1), True),
         ("A", "4", "CUR01", date(2019, 1, 1), "active", "current", "CNY", Decimal("5.00"), None, datetime(2025, 8, 1), True)],
        features.PART_INPUTS["account"],
    )  # fmt: skip
    fx = spark.createDataFrame(
        [
            (date(2025, 6, 29), "USD", Decimal("7.00000000")),
            (date(2025, 7, 1), "USD", Decimal("9.00000000")),
        ],
        "rate_date date, currency string, rate_to_base decimal(18,8)",
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
        # loan L1: two snapshots, only the first on or before the date; L2: one, after it
        [("A", "L1", date(2024, 1, 1), Decimal("50000.00"), 36, Decimal("5.000"), "current", 30, date(2025, 6, 1)),
         ("A", "L1", date(2024, 1, 1), Decimal("50000.00"), 36, Decimal("5.000"), "delinquent", 95, date(2025, 7, 15)),
         ("A", "L2", date(2025, 2, 1), Decimal("20000.00"), 12, Decimal("7.000"), "default", 120, date(2025, 12, 31))],
        features.PART_INPUTS["loan"],
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
        "bureau_score", "bureau_inquiries_6m", "loan_count", "loan_principal", "max_days_past_due",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [("35-44", 65, "广东", "100-200k",
          3, Decimal("70.00"), 0.3,
          5, 8, Decimal("250.00"), Decimal("450.00"), 0,
          Decimal("150.00"), 3 / 8, 1 / 8,
          3, 3, 4,
          1, 2, 2, 2, 0.0,
          650, 3, 2, Decimal("70000.00"), 30)],
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


def test_credit_risk_label_and_maturity_come_from_the_snapshot_history(spark):
    from fin360.gold.job import credit_risk_spine

    rows = [
        # dpd reaches 95 within 12 months of the application: a default; observed past 12m
        ("A", "L1", date(2024, 1, 1), Decimal("1000.00"), 12, Decimal("5.000"), "current", 30, date(2024, 6, 30)),
        ("A", "L1", date(2024, 1, 1), Decimal("1000.00"), 12, Decimal("5.000"), "delinquent", 95, date(2024, 12, 31)),
        ("A", "L1", date(2024, 1, 1), Decimal("1000.00"), 12, Decimal("5.000"), "current", 0, date(2025, 3, 31)),
        # arrears only after the window: no default
        ("B", "L2", date(2024, 1, 1), Decimal("2000.00"), 24, Decimal("6.000"), "current", 0, date(2024, 6, 30)),
        ("B", "L2", date(2024, 1, 1), Decimal("2000.00"), 24, Decimal("6.000"), "delinquent", 120, date(2025, 6, 30)),
        # a default status counts whatever the dpd; not observed for 12 months yet
        ("B", "L3", date(2025, 3, 1), Decimal("3000.00"), 36, Decimal("7.000"), "default", 0, date(2025, 6, 30)),
        # no snapshot inside the window: the first one after it decides
        ("C", "L4", date(2023, 1, 1), Decimal("4000.00"), 48, Decimal("8.000"), "delinquent", 100, date(2025, 6, 30)),
    ]  # fmt: skip
    loans = spark.createDataFrame(rows, features.PART_INPUTS["loan"])
    label = {"default_statuses": ["default"], "dpd_threshold": 90, "observation_months": 12}
    got = credit_risk_spine(loans, label).orderBy("loan_id")
    expected = spark.createDataFrame(
        [
            ("L1", "A", date(2023, 12, 31), date(2024, 1, 1), Decimal("1000.00"), 12, Decimal("5.000"), 1, True),
            ("L2", "B", date(2023, 12, 31), date(2024, 1, 1), Decimal("2000.00"), 24, Decimal("6.000"), 0, True),
            ("L3", "B", date(2025, 2, 28), date(2025, 3, 1), Decimal("3000.00"), 36, Decimal("7.000"), 1, False),
            ("L4", "C", date(2022, 12, 31), date(2023, 1, 1), Decimal("4000.00"), 48, Decimal("8.000"), 1, True),
        ],
        "loan_id string, customer_id string, feature_date date, application_date date, "
        "loan_principal_applied decimal(18,2), term_months int, interest_rate decimal(6,3), "
        "label_default_90dpd_12m int, is_mature boolean",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_nullable=True)
