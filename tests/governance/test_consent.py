"""Consent per purpose: the state each use reads (the configured default where none was
delivered), and what each purpose gates: segments, training sets, offers."""

from __future__ import annotations

from datetime import date

import pytest
from chispa import assert_df_equality

from fin360 import lake
from fin360.config import ConfigError
from fin360.governance import consent
from fin360.ml import risk, segmentation
from fin360.scoring import job as scoring

# customer, profiling, marketing: every combination of granted, refused and not delivered
STATES = [
    ("A", True, True), ("B", True, False), ("C", True, None),
    ("D", False, True), ("E", None, True), ("F", None, None),
]  # fmt: skip
SCHEMA = "customer_id string, profiling_consent boolean, marketing_consent boolean"


def test_each_use_needs_the_purposes_its_gate_names(spark, cfg):
    df = spark.createDataFrame(STATES, SCHEMA)
    out = df.select(
        "customer_id",
        *(consent.allowed(cfg, use, df.columns).alias(use) for use in consent.USES),
    )
    # profiling defaults to granted, marketing to refused; offers need both
    expected = [
        ("A", True, True, True), ("B", True, True, False), ("C", True, True, False),
        ("D", False, False, False), ("E", True, True, True), ("F", True, True, False),
    ]  # fmt: skip
    assert_df_equality(
        out,
        spark.createDataFrame(expected, "customer_id string, segments boolean, training boolean, offers boolean"),
        ignore_nullable=True,
    )  # fmt: skip


def test_a_purpose_the_export_does_not_deliver_takes_its_default(spark, cfg):
    df = spark.createDataFrame([("A",)], "customer_id string")
    states = consent.states(cfg, df.columns)
    assert_df_equality(
        df.select("customer_id", *states.values()),
        spark.createDataFrame(
            [("A", True, False, False)],
            "customer_id string, profiling_consent boolean, marketing_consent boolean, data_sharing_consent boolean",
        ),
        ignore_nullable=True,
    )  # fmt: skip


def test_an_unknown_purpose_or_use_is_a_config_error(spark, cfg):
    with pytest.raises(ConfigError, match="unknown use 'mailing'"):
        consent.allowed(cfg, "mailing", [])
    bad = cfg.with_overrides({"consent.gates.offers": ["profiling", "telemarketing"]})
    with pytest.raises(ConfigError, match="unknown purpose 'telemarketing'"):
        consent.allowed(bad, "offers", [])


def test_scores_record_the_consent_they_used_and_no_segment_without_profiling(spark, cfg):
    df = spark.createDataFrame(
        [(c, p, m, 2, "savers") for c, p, m in STATES],
        f"{SCHEMA}, segment_id int, segment_name string",
    )
    expected = [
        (c, p is not False, bool(m), None if p is False else 2, None if p is False else "savers", False)
        for c, p, m in STATES
    ]  # fmt: skip
    assert_df_equality(
        df.transform(scoring.with_consent(cfg)),
        spark.createDataFrame(
            expected,
            f"{SCHEMA}, segment_id int, segment_name string, data_sharing_consent boolean",
        ),
        ignore_nullable=True,
    )


def test_offers_only_with_the_consents_of_the_gate_and_record_them(spark):
    scores = spark.createDataFrame(
        [("A", 1, "A", True, True), ("B", 1, "A", False, False)],
        "customer_id string, segment_id int, risk_band string, may_offer boolean, marketing_consent boolean",
    )  # fmt: skip
    holdings = spark.createDataFrame([("B", "SAV01")], "customer_id string, product_code string")
    products = spark.createDataFrame(
        [("SAV01", "Saver", "savings", 18)],
        "product_code string, product_name string, category string, min_age int",
    )
    ages = spark.createDataFrame([("A", 40), ("B", 40)], "customer_id string, age int")

    offers = scoring.next_best_offers(
        scores, holdings, products, ages, 3, ["A"], ["marketing_consent"]
    )

    assert_df_equality(
        offers,
        spark.createDataFrame(
            [
                ("A", 1, "SAV01", "Saver", "savings", 0.5, 1, "A", True)
            ],  # 1 of segment 1's 2 holds it
            "customer_id string, offer_rank int, product_code string, product_name string, "
            "category string, propensity double, segment_id int, risk_band string, "
            "marketing_consent boolean",
        ),
        ignore_nullable=True,
    )


def test_training_sets_leave_out_customers_without_profiling_consent(spark, cfg):
    features = cfg["segmentation.features"]
    rows = [(c, date(2025, 1, 14), p, *([1.0] * len(features))) for c, p, _ in STATES]
    schema = ", ".join(
        ["customer_id string", "as_of_date date", "profiling_consent boolean"]
        + [f"{f} double" for f in features]
    )
    lake.append(spark.createDataFrame(rows, schema), cfg, segmentation.SOURCE_TABLE)
    loans = spark.createDataFrame(
        [(c, f"L{c}", True, p, 0) for c, p, _ in STATES],
        f"customer_id string, loan_id string, is_mature boolean, profiling_consent boolean, {risk.LABEL} int",
    )  # fmt: skip
    lake.append(loans, cfg, risk.TRAINING_TABLE)
    consenting = ["A", "B", "C", "E", "F"]  # D refused profiling; a missing state is consent

    data, _ = segmentation.load_features(spark, cfg)
    training = risk.load_training(spark, cfg)

    assert_df_equality(
        data.select("customer_id"),
        spark.createDataFrame([(c,) for c in consenting], "customer_id string"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(
        training.select("loan_id"),
        spark.createDataFrame([(f"L{c}",) for c in consenting], "loan_id string"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
