"""Analyst views: tokens and masked values only, over the tables' locations."""

from __future__ import annotations

from datetime import date

import pytest
from chispa import assert_df_equality

from fin360 import Fin360Error, lake
from fin360.config import ConfigError, load_config
from fin360.governance import access
from tests.conftest import paths

CUSTOMERS = (
    "customer_id string, customer_src_id string, name_token string, name_masked string, "
    "gender string, birth_year int, phone_token string, phone_masked string, city string, "
    "annual_income double, marketing_consent boolean, profiling_consent boolean, "
    "is_current boolean"
)
SHOWN = (
    "customer_id string, name_masked string, gender string, birth_year int, phone_masked string, "
    "city string, marketing_consent boolean, profiling_consent boolean"
)


@pytest.fixture
def tiny(spark, tmp_path):
    # a backtick in the lakehouse path: it must reach the views' SQL quoted
    cfg = load_config("test").with_overrides(paths(tmp_path / "we`ird"))
    # fmt: off
    customers = [
        ("c1", "CRM1", "tn1", "张*", "F", 1980, "tp1", "138****5678", "Shanghai", 9.0, True, None, False),
        ("c1", "CRM1", "tn1", "张*", "F", 1980, "tp1", "138****5678", "Beijing", 9.0, True, None, True),
        ("c2", "CRM2", "tn2", "J*** S****", "M", 1990, None, None, "Wuhan", 7.0, False, False, True),
    ]
    # fmt: on
    lake.overwrite(spark.createDataFrame(customers, CUSTOMERS), cfg, "silver.customers")
    features = [("c1", date(2025, 6, 30), "tp1", 12.5), ("c2", date(2025, 6, 30), None, 0.0)]
    schema = "customer_id string, as_of_date date, phone_token string, spend_30d double"
    lake.overwrite(spark.createDataFrame(features, schema), cfg, "gold.customer_360")
    yield cfg
    for view in access.VIEWS:
        spark.catalog.dropTempView(view.name)


def test_analyst_views_show_current_masks_and_gold_without_tokens_or_source_keys(spark, tiny):
    assert access.register(spark, tiny) == ["customers", "customer_360"]  # tables that exist

    expected = spark.createDataFrame(
        [
            ("c1", "张*", "F", 1980, "138****5678", "Beijing", True, None),
            ("c2", "J*** S****", "M", 1990, None, "Wuhan", False, False),
        ],
        SHOWN,
    )
    assert_df_equality(spark.table("customers"), expected, ignore_row_order=True)
    expected = spark.createDataFrame(
        [("c1", date(2025, 6, 30), 12.5), ("c2", date(2025, 6, 30), 0.0)],
        "customer_id string, as_of_date date, spend_30d double",
    )
    assert_df_equality(spark.table("customer_360"), expected, ignore_row_order=True)


def test_analyst_view_sql_for_a_catalog(spark, tiny):
    statements = access.statements(spark, tiny)
    root = tiny.path("lakehouse").replace("`", "``")
    assert statements == [
        "CREATE SCHEMA IF NOT EXISTS fin360_analyst",
        "CREATE OR REPLACE VIEW fin360_analyst.customers AS SELECT `customer_id`, `name_masked`, "
        "`gender`, `birth_year`, `phone_masked`, `city`, `marketing_consent`, "
        f"`profiling_consent` FROM delta.`{root}/silver/customers` WHERE is_current",
        "CREATE OR REPLACE VIEW fin360_analyst.customer_360 AS SELECT `customer_id`, "
        f"`as_of_date`, `spend_30d` FROM delta.`{root}/gold/customer_360`",
    ]
    # the embedded lake keeps no views: one clear line, not a half-made schema
    with pytest.raises(Fin360Error, match="no metastore"):
        access.create(spark, tiny)
    with pytest.raises(ConfigError, match="access.analyst_database"):
        access.statements(spark, tiny.with_overrides({"access.analyst_database": "a; DROP b"}))
