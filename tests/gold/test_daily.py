"""Day rows maintained batch by batch: a new batch rebuilds exactly the days it touches, and the
table always equals the day rows of every event built from scratch."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import catalog, lake
from fin360.gold import daily, features
from fin360.governance.audit import JobRun, succeeded_units, utc_now

SILVER = catalog.silver("transaction")
TXNS = (
    "account_id string, event_ts timestamp, txn_type string, direction string, "
    "amount_base decimal(18,2), currency string, mcc_category string, channel string, "
    "counterparty_account string, merchant_id string, _source string, _batch_id string"
)
CARD, APP = daily.DAY_TABLES


def _land(spark, cfg, batch, rows):
    """Rows as silver lands a batch: appended to the month-partitioned table, then its unit."""
    df = spark.createDataFrame(rows, TXNS).withColumn(
        catalog.PARTITION_COLUMN, F.trunc(F.to_date("event_ts"), "month")
    )
    lake.append(df, cfg, SILVER, partition_by=[catalog.PARTITION_COLUMN])
    run = JobRun(spark, cfg, daily.SILVER_JOB)
    run.record(f"transactions/cards/{batch}", "ok", started_at=utc_now())
    run.flush()


def _refresh(spark, cfg):
    run = JobRun(spark, cfg, "gold")
    return daily.refresh(spark, cfg, run, CARD, succeeded_units(spark, cfg, "gold"))


def _sorted(df):
    """Arrays in a fixed order (sets have none)."""
    return df.withColumn("counterparties", F.array_sort("counterparties")).withColumn(
        "credits", F.array_sort("credits")
    )


def _files_of_day(spark, cfg, day):
    path = lake.table_path(cfg, CARD.table)
    rows = spark.read.format("delta").load(path).where(F.col("day") == F.lit(day))
    return {r[0] for r in rows.select(F.input_file_name()).distinct().collect()}


def _txn(account, ts, amount, direction="debit", merchant="M1", payer=None):
    txn_type = "transfer" if direction == "credit" else "card"
    mcc, channel = ("grocery", "POS") if txn_type == "card" else (None, "ONLINE")
    return (account, ts, txn_type, direction, Decimal(amount), "CNY", mcc, channel, payer,
            merchant if txn_type == "card" else None)  # fmt: skip


def test_a_new_batch_rebuilds_only_its_days_and_matches_a_full_build(spark, cfg):
    first = [
        (*_txn("1", datetime(2025, 3, 1, 9, 5), "10.00"), "cards", "b1"),
        (*_txn("1", datetime(2025, 3, 1, 9, 40), "20.00", merchant="M2"), "cards", "b1"),
        (*_txn("1", datetime(2025, 3, 2, 23, 0), "5.00"), "cards", "b1"),
        (*_txn("2", datetime(2025, 3, 2, 8, 0), "900.00", "credit", payer="EMP"), "cards", "b1"),
    ]
    _land(spark, cfg, "b1", first)
    assert _refresh(spark, cfg) == {"mode": "full", "batches": 1}
    day_one = _files_of_day(spark, cfg, date(2025, 3, 1))

    # a late event of 2 March and a new day, 1 April
    second = [
        (*_txn("1", datetime(2025, 3, 2, 23, 30), "7.00"), "cards", "b2"),
        (*_txn("2", datetime(2025, 4, 1, 8, 0), "950.00", "credit", payer="EMP"), "cards", "b2"),
    ]
    _land(spark, cfg, "b2", second)
    assert _refresh(spark, cfg) == {"mode": "days", "batches": 1, "days": 2}
    assert _refresh(spark, cfg) == {"mode": "current", "batches": 0}
    assert _files_of_day(spark, cfg, date(2025, 3, 1)) == day_one  # untouched

    stored = lake.read(spark, cfg, CARD.table)
    # by hand: account, day, transactions, debit amount, most in one clock hour, credits
    picked = stored.select(
        "account_id", "day", "txns", "debit_amount", "max_txns_per_hour",
        F.transform("credits", lambda c: c["amount_base"]).alias("credit_amounts"),
    )  # fmt: skip
    expected = spark.createDataFrame(
        [("1", date(2025, 3, 1), 2, Decimal("30.00"), 2, []),
         ("1", date(2025, 3, 2), 2, Decimal("12.00"), 2, []),
         ("2", date(2025, 3, 2), 1, None, 1, [Decimal("900.00")]),
         ("2", date(2025, 4, 1), 1, None, 1, [Decimal("950.00")])],
        picked.schema,
    )  # fmt: skip
    assert_df_equality(picked, expected, ignore_row_order=True, ignore_nullable=True)
    # and the whole table: what a build from every event gives
    events = lake.read(spark, cfg, SILVER)
    scratch = CARD.build(events, cfg).withColumn(catalog.PARTITION_COLUMN, F.trunc("day", "month"))
    assert_df_equality(
        _sorted(stored),
        _sorted(scratch).select(stored.columns),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_other_settings_rebuild_the_whole_table(spark, cfg):
    _land(spark, cfg, "b1", [(*_txn("1", datetime(2025, 3, 1, 9, 5), "10.00"), "cards", "b1")])
    assert _refresh(spark, cfg)["mode"] == "full"
    moved = cfg.with_overrides({"silver.default_timezone": "Europe/London"})
    run = JobRun(spark, moved, "gold")
    done = succeeded_units(spark, moved, "gold")
    assert daily.refresh(spark, moved, run, CARD, done) == {"mode": "full", "batches": 1}


def test_without_the_silver_table_there_is_nothing_to_fold(spark, cfg):
    run = JobRun(spark, cfg, "gold")
    assert daily.refresh(spark, cfg, run, APP, set()) == {"mode": "absent"}


def test_day_rows_feed_the_same_features_as_events(spark):
    """The rollup over day rows of two accounts of one customer gives the features of their
    events (spot check of the sums; the hand values are in test_features)."""
    rows = [
        ("A", *_txn("1", datetime(2025, 6, 1, 9, 0), "10.00")),
        ("A", *_txn("9", datetime(2025, 6, 1, 9, 10), "30.00", merchant="M2")),
        ("A", *_txn("9", datetime(2025, 1, 1, 9, 10), "99.00", merchant="M3")),
    ]
    events = spark.createDataFrame(rows, f"customer_id string, {TXNS.rsplit(', _source', 1)[0]}")
    days = features.transaction_days(events, ["customer_id", "account_id"], "UTC", "CNY")
    spine = spark.createDataFrame([("A", date(2025, 6, 30))], "customer_id string, as_of_date date")
    out = features.transaction_part(spine, days).select(
        "txn_count_30d", "txn_count_365d", "spend_90d", "avg_ticket_90d",
        "counterparty_count_90d", "velocity_max_per_hour_90d", "recency_days",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [(2, 3, Decimal("40.00"), Decimal("20.000000"), 2, 1, 29)], out.schema
    )
    assert_df_equality(out, expected, ignore_nullable=True)
