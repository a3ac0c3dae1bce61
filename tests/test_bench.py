"""fin360 bench: the gold floor's SQL gives the same, hand-computed, answer in Spark and in
DuckDB over the same Delta files; scaling, ratios and Spark's task metrics are summed right."""

from __future__ import annotations

import argparse
import json
import math
from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.bench import pipeline as bench
from fin360.scoring.job import CUSTOMER_SCORES

AS_OF = date(2025, 6, 30)  # windows from 2025-06-01 (30 d), 2025-04-02 (90 d), 2024-07-01 (365 d)


def _silver(spark, cfg):
    xref = [("customer", "S1", "C1"), ("customer", "S2", "C2"), ("bureau_record", "S1", "C9")]
    holders = [("A1", "S1", "owner"), ("A2", "S1", "joint"), ("A3", "S2", "owner"),
               ("A1", "S2", "authorised_user")]  # fmt: skip
    t = datetime
    txns = [
        ("A1", t(2025, 6, 30, 23, 30), "debit", Decimal("10.50"), None, "M1"),
        ("A1", t(2025, 6, 1, 0, 0), "debit", Decimal("2.25"), None, "M2"),  # first day of 30 d
        ("A2", t(2025, 5, 31, 12, 0), "credit", Decimal("100.00"), "P1", None),
        ("A2", t(2025, 4, 1, 8, 0), "debit", Decimal("4.00"), None, "M1"),  # before the 90 d
        ("A1", t(2025, 7, 1, 0, 0), "debit", Decimal("99.00"), None, "M1"),  # after as_of
        ("A1", t(2024, 6, 30, 10, 0), "debit", Decimal("1.00"), None, "M1"),  # before 365 d
        ("A3", t(2025, 6, 15, 9, 0), "debit", Decimal("5.00"), None, "M3"),
        ("A9", t(2025, 6, 15, 9, 0), "debit", Decimal("7.00"), None, "M3"),  # no owner
    ]
    tables = {
        catalog.SILVER_CUSTOMER_XREF: (xref, "entity string, source_key string, customer_id string"),
        catalog.silver("account_holder"): (holders, "account_id string, customer_src_id string, role string"),
        catalog.silver("transaction"): (txns, "account_id string, event_ts timestamp, direction string, "
                                        "amount_base decimal(18,2), counterparty_account string, merchant_id string"),
    }  # fmt: skip
    for name, (rows, schema) in tables.items():
        lake.overwrite(spark.createDataFrame(rows, schema), cfg, name)


EXPECTED = [
    # customer, count 30/90/365, spend 30/90/365, avg ticket 90, counterparties 90, last day
    ("C1", 2, 3, 4, 12.75, 12.75, 16.75, 6.375, 3, date(2025, 6, 30)),
    ("C2", 1, 1, 1, 5.0, 5.0, 5.0, 5.0, 1, date(2025, 6, 15)),
]
SCHEMA = (
    "customer_id string, txn_count_30d long, txn_count_90d long, txn_count_365d long, "
    "spend_30d double, spend_90d double, spend_365d double, avg_ticket_90d double, "
    "counterparty_count_90d long, last_day date"
)


def test_gold_floor_sql_gives_the_same_features_in_spark_and_duckdb(spark, cfg, tmp_path):
    _silver(spark, cfg)
    expected = spark.createDataFrame(EXPECTED, SCHEMA)

    bench._floor_gold_spark(spark, cfg, AS_OF, str(tmp_path / "spark"))
    in_spark = spark.read.format("delta").load(str(tmp_path / "spark"))
    bench._floor_gold_duckdb(spark, cfg, AS_OF, str(tmp_path / "duck.parquet"))
    in_duckdb = spark.read.parquet(str(tmp_path / "duck.parquet"))
    for found in (in_spark, in_duckdb):
        assert_df_equality(
            found.select([found[c].cast(t) for c, t in (f.split() for f in SCHEMA.split(", "))]),
            expected,
            ignore_row_order=True,
            ignore_nullable=True,
        )


def test_delta_files_are_the_current_version_only(spark, cfg):
    name = catalog.SILVER_CUSTOMER_XREF
    lake.overwrite(spark.createDataFrame([("customer", "S1", "C1")], "entity string, source_key string, customer_id string"), cfg, name)  # fmt: skip
    lake.overwrite(spark.createDataFrame([("customer", "S2", "C2")], "entity string, source_key string, customer_id string"), cfg, name)  # fmt: skip
    files = bench.delta_files(spark, cfg, name)
    assert_df_equality(
        spark.read.parquet(*files),
        spark.createDataFrame(
            [("customer", "S2", "C2")], "entity string, source_key string, customer_id string"
        ),
        ignore_nullable=True,
    )


def test_scaling_exponent():
    assert math.isclose(bench.scaling_exponent((1000, 10.0), (10_000, 100.0)), 1.0)
    assert math.isclose(bench.scaling_exponent((1000, 10.0), (2000, 40.0)), 2.0)
    assert math.isclose(bench.scaling_exponent((1000, 10.0), (4000, 10.0)), 0.0)
    assert bench.scaling_exponent((1000, 10.0), (1000, 20.0)) is None


def test_stage_task_metrics_sum_the_stages_of_one_bench_stage():
    store = [
        {"stageId": 3, "numCompleteTasks": 9, "executorRunTime": 9000, "shuffleWriteBytes": 1},
        {"stageId": 4, "attemptId": 0, "numCompleteTasks": 2, "numFailedTasks": 1,
         "executorRunTime": 1500, "inputBytes": 100, "shuffleReadBytes": 7, "shuffleWriteBytes": 5,
         "memoryBytesSpilled": 64, "diskBytesSpilled": 32, "peakExecutionMemory": 1000},
        {"stageId": 4, "attemptId": 1, "numCompleteTasks": 1, "executorRunTime": 500,
         "shuffleReadBytes": 3, "peakExecutionMemory": 3000},
        {"stageId": 5, "status": "SKIPPED", "numCompleteTasks": 0},
        {"stageId": 6, "numCompleteTasks": 5, "executorRunTime": 5},  # the next bench stage's
    ]  # fmt: skip
    assert bench.stage_task_metrics(store, after=3, upto=5) == {
        "spark_stages": 2, "tasks": 4, "executor_run_seconds": 2.0, "input_bytes": 100,
        "output_bytes": 0, "shuffle_read_bytes": 10, "shuffle_write_bytes": 5,
        "spill_memory_bytes": 64, "spill_disk_bytes": 32, "peak_task_execution_memory_bytes": 3000,
    }  # fmt: skip


def _run(customers, cores, seconds, floors, gold_rows):
    stages = {s: {"seconds": float(t)} for s, t in zip(bench.STAGES, seconds, strict=True)}
    stages["gold"]["rows_out"] = gold_rows
    stages["score"]["customer_seconds"] = stages["score"]["seconds"] / 5  # the customer part
    floors = {f: {"seconds": t} for f, t in floors.items()}
    increment = {"seconds": 5.0, "vs_full_build": round(5 / bench.daily_seconds(stages), 3)}
    throughput = {"customers": 1_000_000, "seconds": 5.0}
    return {"customers": customers, "cores": cores, "stages": stages, "floors": floors,
            "increment": increment, "score_throughput": throughput}  # fmt: skip


def test_ratios_scaling_and_speedup_from_the_runs():
    floors = {"bronze_spark": 10.0, "silver_spark": 5.0, "gold_spark_sql": 4.0, "gold_duckdb": 1.0}
    runs = [
        _run(1000, 2, [20, 15, 8, 40, 10, 2], floors, 1000),
        _run(1000, 1, [30, 30, 16, 60, 20, 2], floors, 1000),
        _run(4000, 2, [80, 60, 16, 160, 40, 2], {k: 4 * v for k, v in floors.items()}, 4000),
    ]
    found = bench.derived(runs)
    assert found["ratios"][0] == {
        "customers": 1000, "cores": 2, "bronze_vs_bronze_spark": 2.0, "silver_vs_silver_spark": 3.0,
        "gold_vs_gold_spark_sql": 2.0, "gold_vs_gold_duckdb": 8.0,
        "gold_spark_sql_vs_gold_duckdb": 4.0, "score_customers_per_second_per_core": 250,
        "score_copies_customers_per_second_per_core": 100_000, "increment_vs_full_build": 0.094,
    }  # fmt: skip
    assert found["ratios"][2]["gold_vs_gold_duckdb"] == 4.0
    # between 1,000 and 4,000 customers on 2 cores: bronze x4 -> 1.0, gold x2 -> 0.5
    assert found["scaling_exponent"] == {
        "bronze": 1.0,
        "silver": 1.0,
        "gold": 0.5,
        "train": 1.0,
        "score": 1.0,
        "report": 0.0,
    }
    assert found["speedup"] == {
        "customers": 1000, "from_cores": 1, "to_cores": 2,
        "bronze": 1.5, "silver": 2.0, "gold": 2.0, "train": 1.5, "score": 2.0, "report": 1.0,
    }  # fmt: skip
    text = bench.render({**found, "runs": runs})
    assert (
        "| 4,000 | 2 | 80.0 | 60.0 | 16.0 | 160.0 | 40.0 | 2.0 | 40.0 | 20.0 | 16.0 | 4.0 | 5.0 |"
        in text
    )
    assert "bronze 1.0, silver 1.0, gold 0.5" in text


def test_a_failed_run_leaves_the_runs_before_it_and_what_it_measured(cfg, tmp_path, monkeypatch):
    """The results file is written after every run: a run that dies keeps the earlier runs and
    the stages it measured itself, and the user is told where they are."""
    floors = {"bronze_spark": 10.0, "silver_spark": 5.0, "gold_spark_sql": 4.0, "gold_duckdb": 1.0}
    finished = _run(1000, 2, [20, 15, 8, 40, 10, 2], floors, 1000)
    measured = [{"name": "bronze", "seconds": 81.5, "rows_in": 40}]
    failed = {"failed": "exit code 1, logs in /x/logs", "measured": measured}
    monkeypatch.setattr(bench, "prepare", lambda cfg, folder, n, days: {"raw_bytes": n})
    monkeypatch.setattr(
        bench, "_child", lambda cfg, args, work, n, k: finished if n == 1000 else failed
    )
    args = argparse.Namespace(
        work=str(tmp_path / "work"), out=str(tmp_path / "out"), customers=[4000, 1000], cores=[2],
        days=3,
    )  # fmt: skip

    with pytest.raises(Fin360Error, match=r"4,000 customers on local\[2\] failed \(exit code 1"):
        bench.run(cfg, args)
    [path] = (tmp_path / "out").glob("*.json")
    results = json.loads(path.read_text())
    assert results["complete"] is False
    assert results["runs"] == [
        {**finished, "raw_bytes": 1000},
        {"customers": 4000, "cores": 2, "raw_bytes": 4000, **failed},
    ]
    assert results["ratios"] == bench.derived([finished])["ratios"]
    assert bench.seconds_table(results) == bench.seconds_table({"runs": [finished]})


def test_scoring_throughput_scores_every_copy_as_the_score_job_does(spark, scored_lake, tmp_path):
    """Each copy of a customer gets the segment, PD, band and reasons the score job wrote."""
    cfg, as_of, _, summary = scored_lake
    target = str(tmp_path / "scores")
    found = bench.scoring_throughput(spark, cfg, as_of, 2 * summary["customers"], target)
    assert found["customers"] == 2 * summary["customers"] and found["seconds"] > 0
    columns = ["customer_id", "as_of_date", "pd", "risk_band", "reason_codes", "segment_id",
               "segment_name"]  # fmt: skip
    job = lake.read(spark, cfg, CUSTOMER_SCORES).where(F.col("as_of_date") == F.lit(as_of))
    written = spark.read.format("delta").load(target)
    for copy in (0, 1):
        assert_df_equality(
            written.where(F.col("customer_id").endswith(f"#{copy}"))
            .withColumn("customer_id", F.regexp_replace("customer_id", "#[0-9]+$", ""))
            .select(columns),
            job.select(columns),
            ignore_row_order=True,
            ignore_nullable=True,
        )
