"""The credit-risk training set kept up to date: which stored rows still hold, by hand."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import catalog, lake
from fin360.gold import features, training


def _with_features(df, value_column="value"):
    """Every feature column, each holding the row's ``value``."""
    return df.select(
        "*", *(F.col(value_column).cast("double").alias(n) for n in features.feature_names())
    ).drop(value_column)


def test_stored_rows_hold_before_the_earliest_change_and_for_an_unchanged_customer(spark):
    stored = _with_features(
        spark.createDataFrame(
            [
                ("L1", "C1", date(2025, 1, 10), "h1", 1.0),  # before the change, same keys: kept
                ("L2", "C1", date(2025, 1, 15), "h1", 2.0),  # on the day of the change
                ("L3", "C2", date(2025, 1, 5), "h2-old", 3.0),  # C2 changed since
                ("L4", "C3", date(2025, 1, 5), "h3", 4.0),  # two loans of one customer and day:
                ("L5", "C3", date(2025, 1, 5), "h3", 4.0),  # one feature row
            ],
            "loan_id string, customer_id string, feature_date date, customer_hash string, "
            "value double",
        )
    )
    customers = spark.createDataFrame(
        [("C1", "h1"), ("C2", "h2-new"), ("C3", "h3")], "customer_id string, customer_hash string"
    )
    kept = training.reusable(stored, customers, since=date(2025, 1, 15))
    expected = _with_features(
        spark.createDataFrame(
            [("C1", date(2025, 1, 10), 1.0), ("C3", date(2025, 1, 5), 4.0)],
            "customer_id string, feature_date date, value double",
        )
    )
    assert_df_equality(kept, expected, ignore_row_order=True, ignore_nullable=True)
    # nothing new since: every row whose customer kept its keys
    everything = training.reusable(stored, customers, since=None)
    assert sorted(r["customer_id"] for r in everything.collect()) == ["C1", "C1", "C3"]


def test_customer_hash_is_the_digest_of_source_keys_and_record_versions_in_any_order(spark):
    xref = spark.createDataFrame(
        [
            ("customer", "crm_b", "K2", "C1"),
            ("customer", "crm_a", "K1", "C1"),
            ("bureau_record", "bureau", "B9", "C1"),
            ("customer", "crm_a", "K3", "C2"),
        ],
        "entity string, source string, source_key string, customer_id string",
    )
    customers = spark.createDataFrame(
        [
            ("C1", datetime(2025, 2, 1, 9, 30), "new-address"),
            ("C1", datetime(2025, 1, 1, 0, 0), "first"),
            ("C2", datetime(2025, 1, 3, 0, 0), "only"),
        ],
        "customer_id string, valid_from timestamp, attr_hash string",
    )

    def digest(*parts):
        text = "\u001e".join(sorted("\u001f".join(p) for p in parts))
        return hashlib.sha256(text.encode()).hexdigest()

    expected = spark.createDataFrame(
        [
            (
                "C1",
                digest(
                    ("key", "customer", "crm_a", "K1"),
                    ("key", "customer", "crm_b", "K2"),
                    ("key", "bureau_record", "bureau", "B9"),
                    ("version", "2025-01-01 00:00:00", "first"),
                    ("version", "2025-02-01 09:30:00", "new-address"),
                ),
            ),
            (
                "C2",
                digest(
                    ("key", "customer", "crm_a", "K3"), ("version", "2025-01-03 00:00:00", "only")
                ),
            ),
        ],
        "customer_id string, customer_hash string",
    )
    assert_df_equality(
        training.customer_hashes(xref, customers),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_earliest_day_of_the_rows_new_batches_wrote(spark, cfg):
    """Events date by their time, snapshots by ``valid_from``; batches not asked for and
    tables that reach the features otherwise (customers) or not at all are left out."""
    txns = spark.createDataFrame(
        [
            ("T1", datetime(2025, 3, 9, 23, 0), "cards", "b2"),
            ("T2", datetime(2025, 3, 7, 8, 0), "cards", "b2"),
            ("T3", datetime(2025, 1, 1, 8, 0), "cards", "b1"),  # an older batch, folded before
        ],
        "txn_id string, event_ts timestamp, _source string, _batch_id string",
    )
    loans = spark.createDataFrame(
        [("N1", datetime(2025, 3, 8, 0, 0), "loans", "b2")],
        "loan_id string, valid_from timestamp, _source string, _batch_id string",
    )
    lake.append(txns, cfg, catalog.silver("transaction"))
    lake.append(loans, cfg, catalog.silver("loan"))
    assert training.earliest_day(spark, cfg, ["transactions/cards/b2"]) == date(2025, 3, 7)
    assert training.earliest_day(spark, cfg, ["loans/loans/b2"]) == date(2025, 3, 8)
    assert training.earliest_day(
        spark,
        cfg,
        ["loans/loans/b2", "transactions/cards/b2", "products/catalogue/b2", "customers/crm/b2"],
    ) == date(2025, 3, 7)
    assert training.earliest_day(spark, cfg, ["transactions/cards/b9"]) is None
