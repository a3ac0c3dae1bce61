"""The gold job on the shared silver lake: partitions, idempotency, training set, dictionary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.gold import features, job, training
from fin360.governance.audit import succeeded_units

DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "feature_dictionary.md"


def test_customer_360_partition_per_date_and_idempotent_rerun(spark, gold_lake):
    cfg, as_of, summary = gold_lake
    c360 = lake.read(spark, cfg, job.CUSTOMER_360)
    day = c360.where(F.col("as_of_date") == F.lit(as_of))
    assert day.count() == summary["customer_360_rows"] > 0
    assert day.groupBy("customer_id").count().where("count > 1").count() == 0
    current = (
        lake.read(spark, cfg, "silver.customers")
        .where("is_current")
        .select("customer_id")
        .distinct()
    )
    assert day.join(current, "customer_id", "left_anti").count() == 0

    built = lake.version(spark, cfg, job.TRAINING_CREDIT_RISK)
    # the same date again: that partition replaced, not appended (that another date adds its
    # own partition beside the others is tests/silver/test_snapshots.py's before and after)
    job.run(spark, cfg, as_of)
    # no silver batch since the first build: the training set reuses every stored row, and
    # equals the one built from scratch
    assert_df_equality(
        lake.read(spark, cfg, job.TRAINING_CREDIT_RISK),
        lake.read(spark, cfg, job.TRAINING_CREDIT_RISK, version=built),
        ignore_row_order=True,
    )
    hashes = training.customer_hashes(
        lake.read(spark, cfg, "silver.customer_xref"), lake.read(spark, cfg, "silver.customers")
    )
    plan = training.plan(spark, cfg, succeeded_units(spark, cfg, job.JOB), hashes)
    assert plan.pending == [] and plan.since is None
    assert plan.kept.count() == plan.kept.select("customer_id", "feature_date").distinct().count()
    counts = {
        r["as_of_date"]: r["count"]
        for r in lake.read(spark, cfg, job.CUSTOMER_360).groupBy("as_of_date").count().collect()
    }
    assert counts[as_of] == summary["customer_360_rows"]
    assert set(counts) == {as_of}
    graph_counts = {
        r["as_of_date"]: r["count"]
        for r in lake.read(spark, cfg, job.GRAPH_FEATURES).groupBy("as_of_date").count().collect()
    }
    assert graph_counts == counts  # one graph row per customer-360 row, replaced on rerun


def test_features_from_the_maintained_day_rows_equal_those_from_the_events(spark, gold_lake):
    """gold.customer_360 reads the day tables, keyed to customers at read time; the same
    features built straight from silver's events (joint holders, resolved CRM records) agree."""
    cfg, as_of, _ = gold_lake
    sources = job.load_sources(spark, cfg)
    from_events = dataclasses.replace(sources, transaction_days=None, app_event_days=None)
    spine = job.customer_spine(sources.customers, as_of)
    options = {
        "timezone": cfg["silver.default_timezone"],
        "base_currency": cfg["silver.base_currency"],
    }
    built = features.customer_features(spine, from_events, **options)
    stored = lake.read(spark, cfg, job.CUSTOMER_360).where(F.col("as_of_date") == F.lit(as_of))
    assert_df_equality(
        stored.select(built.columns), built, ignore_row_order=True, ignore_nullable=True
    )


def test_training_set_is_point_in_time(spark, gold_lake):
    cfg, _, summary = gold_lake
    training = lake.read(spark, cfg, job.TRAINING_CREDIT_RISK)
    assert (
        training.count()
        == lake.read(spark, cfg, "silver.loans").select("loan_id").distinct().count()
        == summary["training_rows"]
    )
    assert set(features.feature_names()) <= set(training.columns)
    assert training.where(F.col("feature_date") >= F.col("application_date")).count() == 0
    labels = {r["label_default_90dpd_12m"] for r in training.collect()}
    assert labels <= {0, 1}


def test_bad_as_of_is_a_clear_error():
    with pytest.raises(Fin360Error, match="--as-of must be a date YYYY-MM-DD, got '2025-13-01'"):
        job.parse_as_of("2025-13-01")


def test_feature_dictionary_is_generated_from_the_code(spark, gold_lake):
    cfg, _, _ = gold_lake
    schema = lake.read(spark, cfg, job.CUSTOMER_360).schema
    graph_schema = lake.read(spark, cfg, job.GRAPH_FEATURES).schema
    text = features.render_dictionary(schema, graph_schema)
    assert DICTIONARY.read_text(encoding="utf-8") == text, (
        "docs/feature_dictionary.md is stale: run `fin360 features-doc`"
    )
