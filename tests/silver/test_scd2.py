from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import lake
from fin360.silver.scd2 import merge_scd2

TABLE = "silver.customers"
SCHEMA = "customer_id string, city string, segment string, updated_at timestamp"


def _merge(spark, cfg, rows):
    df = spark.createDataFrame(rows, SCHEMA)
    return merge_scd2(
        spark,
        cfg,
        TABLE,
        df,
        key="customer_id",
        attributes=["city", "segment"],
        valid_from="updated_at",
    )


def test_changes_close_and_open_rows_unchanged_rows_untouched(spark, cfg):
    path = lake.table_path(cfg, TABLE)
    t1, t2 = datetime(2025, 1, 1), datetime(2025, 6, 1)
    assert _merge(spark, cfg, [("A", "上海", "x", t1), ("B", "北京", "y", t1)]) == {
        "closed": 0,
        "inserted": 2,
    }
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()

    # the same batch again: nothing changes, nothing is committed
    assert _merge(spark, cfg, [("A", "上海", "x", t1), ("B", "北京", "y", t1)]) == {
        "closed": 0,
        "inserted": 0,
    }
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == version

    # A moves, B unchanged, C new
    got = _merge(
        spark, cfg, [("A", "深圳", "x", t2), ("B", "北京", "y", t2), ("C", "广州", "z", t2)]
    )
    assert got == {"closed": 1, "inserted": 2}
    rows = spark.read.format("delta").load(path).orderBy("customer_id", "valid_from")
    assert [
        (r.customer_id, r.city, r.valid_from, r.valid_to, r.is_current) for r in rows.collect()
    ] == [
        ("A", "上海", t1, t2, False),
        ("A", "深圳", t2, None, True),
        ("B", "北京", t1, None, True),
        ("C", "广州", t2, None, True),
    ]
    assert (
        rows.where(F.col("is_current")).groupBy("customer_id").count().where("count > 1").count()
        == 0
    )


def test_several_versions_in_one_update_chain_in_time_order(spark, cfg):
    path = lake.table_path(cfg, "silver.account_holders")
    t1, t2, t3 = datetime(2025, 1, 1), datetime(2025, 2, 1), datetime(2025, 3, 1)
    schema = "account_id string, customer_src_id string, role string, seen timestamp"

    def merge(rows):
        return merge_scd2(
            spark,
            cfg,
            "silver.account_holders",
            spark.createDataFrame(rows, schema),
            key=["account_id", "customer_src_id"],
            attributes=["role"],
            valid_from="seen",
        )

    assert merge([("A", "C1", "owner", t1)]) == {"closed": 0, "inserted": 1}
    # three snapshots at once: unchanged at t2 (no version), changed at t3; and a new holder
    got = merge([("A", "C1", "joint", t3), ("A", "C1", "owner", t2), ("A", "C2", "user", t2)])
    assert got == {"closed": 1, "inserted": 2}
    rows = spark.read.format("delta").load(path).orderBy("customer_src_id", "valid_from")
    assert [
        (r.account_id, r.customer_src_id, r.role, r.valid_from, r.valid_to, r.is_current)
        for r in rows.collect()
    ] == [
        ("A", "C1", "owner", t1, t3, False),
        ("A", "C1", "joint", t3, None, True),
        ("A", "C2", "user", t2, None, True),
    ]


def test_a_whole_state_applied_by_two_runs_at_once_is_stored_once(spark, cfg):
    """Two runs creating the table, then changing it, at the same time: the one that loses
    the Delta commit conflict applies the state again to what the other left, which is no
    change."""
    t1, t2 = datetime(2025, 1, 1), datetime(2025, 6, 1)
    states = ([("A", "上海", "x", t1), ("B", "北京", "y", t1)], [("A", "深圳", "x", t2)])
    for rows, done in zip(states, ({"closed": 0, "inserted": 2}, {"closed": 1, "inserted": 1}), strict=True):  # fmt: skip
        with ThreadPoolExecutor(2) as pool:  # each run in its own session, as two jobs would
            sessions = [spark.newSession(), spark.newSession()]
            runs = list(pool.map(_merge, sessions, [cfg, cfg], [rows, rows]))
        assert sorted(runs, key=lambda r: r["inserted"]) == [{"closed": 0, "inserted": 0}, done]
    got = lake.read(spark, cfg, TABLE).select("customer_id", "city", "valid_from", "is_current")
    expected = spark.createDataFrame(
        [("A", "上海", t1, False), ("A", "深圳", t2, True), ("B", "北京", t1, True)],
        "customer_id string, city string, valid_from timestamp, is_current boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
