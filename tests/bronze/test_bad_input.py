"""The bad-input corpus (tests/data/bad/, described in its README): every kind of bad delivery
lands in quarantine with a reason or fails its batch with one line; nothing is dropped."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360 import Fin360Error, canonical, lake
from fin360.bronze import job
from fin360.config import load_config, load_sources
from fin360.governance import audit
from fin360.silver import entities, mapping, quality
from tests.conftest import paths

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
SOURCES = ["card_transactions", "products", "transfers"]
INVALID_JSON = "invalid JSON: not a complete JSON object"
UNDECODABLE = "undecodable text: bytes not valid in the source's encoding"

# per batch: the records in its files (counted by hand) and the reasons of those quarantined
LANDED_BATCHES = {
    "card_transactions/01_truncated": (3, [INVALID_JSON]),
    "card_transactions/02_binary_garbage": (3, [INVALID_JSON] * 3),
    "card_transactions/03_empty": (0, []),
    "card_transactions/04_nested_json": (2, []),
    "card_transactions/05_placeholder_dates": (2, []),
    "card_transactions/06_bad_amounts": (3, []),
    "card_transactions/07_duplicate_keys": (2, []),
    "card_transactions/08_sql_and_paths_in_ids": (1, []),
    "card_transactions/09_very_long_field": (
        2, ["field(s) longer than 100,000 characters: merchant_name"]
    ),
    "card_transactions/10_wrong_encoding": (2, [UNDECODABLE] * 2),
    "card_transactions/11_mixed_encodings": (2, [UNDECODABLE]),
    "card_transactions/12_blank_required_field": (1, ["missing required field(s): account_id"]),
    "products/13_header_only": (0, []),
    "products/15_wrong_field_count": (2, ["malformed CSV record: not 6 fields as in the header"]),
}  # fmt: skip
FAILED_BATCHES = {
    "products/14_wrong_delimiter": r"required column\(s\) \['product_code'\] missing",
    "transfers/16_truncated_parquet": r"\[FAILED_READ_FILE\..*part-00000\.parquet",
}


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    """Bronze run once over the corpus, on a lake of its own: (cfg, the run's error line)."""
    root = tmp_path_factory.mktemp("bad")
    shutil.copytree(CORPUS, root / "raw", ignore=shutil.ignore_patterns("*.md"))
    cfg = load_config("test").with_overrides(paths(root))
    with pytest.raises(Fin360Error) as failed:
        job.run(spark, cfg, sources=SOURCES)
    return cfg, str(failed.value)


def test_every_bad_file_is_quarantined_with_a_reason_or_fails_its_batch_in_one_line(spark, landed):
    cfg, error = landed
    assert error.startswith(f"{len(FAILED_BATCHES)} batch(es) failed, first products/14_")
    assert "\n" not in error and "Traceback" not in error
    runs = {r["unit"]: r for r in lake.read(spark, cfg, audit.JOB_RUNS).collect()}
    for unit, pattern in FAILED_BATCHES.items():
        assert runs[unit]["status"] == "failed"
        assert "\n" not in runs[unit]["error"]
        assert re.search(pattern, runs[unit]["error"]), runs[unit]["error"]
    quarantine = lake.read(spark, cfg, job.QUARANTINE)
    for unit, (records, reasons) in LANDED_BATCHES.items():
        source, batch = unit.split("/")
        got = sorted(
            r["reason"]
            for r in quarantine.where((F.col("source") == source) & (F.col("_batch_id") == batch))
            .select("reason")
            .collect()
        )
        landed_rows = (
            lake.read(spark, cfg, f"bronze.{source}").where(F.col("_batch_id") == batch).count()
            if lake.exists(spark, cfg, f"bronze.{source}")
            else 0
        )
        run = runs[unit]
        assert (unit, run["status"], got) == (unit, "ok", sorted(reasons))
        # nothing dropped: every record of the files is landed or quarantined
        assert (run["input_rows"], run["output_rows"], run["quarantined_rows"]) == (
            records, landed_rows, len(reasons)
        ), unit  # fmt: skip
        assert records == landed_rows + len(reasons), unit


def test_what_lands_is_flagged_in_silver_with_its_reason(spark, landed):
    """The landed card transactions mapped and checked as silver maps and checks them (row
    rules that need no other table)."""
    cfg, _ = landed
    entity = canonical.entity("transaction")
    (m,) = [
        m
        for m in mapping.parse_source(spark, load_sources(cfg)["card_transactions"])
        if m.entity.name == entity.name
    ]
    rules = [
        r
        for r in quality.load_rules(cfg)["transactions"]
        if r.check in quality.ROW_CHECKS - {"references"} and r.column in entity.column_names
        and r.column != "fx_rate"
    ]  # fmt: skip
    bronze = lake.read(spark, cfg, "bronze.card_transactions")
    tz = cfg["silver.default_timezone"]
    checked = quality.with_rule_failures(
        entities.flag_events(
            bronze.transform(mapping.mapped(m, tz, mapping.date_bounds(cfg))),
            None,
            entity,
            {"card_transactions": []},
        ),
        rules,
    )
    got = checked.select("txn_id", F.array_sort(quality.FAILURES).alias("failures"))
    number = ["amount_parsed", "invalid_number:amount"]
    expected = spark.createDataFrame(
        [
            ("TR1", []), ("TR2", []),
            ("NE1", number), ("NE2", number),  # {"value": ...} and [1, 2] where a number goes
            ("DA1", ["implausible_date:event_ts"]), ("DA2", ["implausible_date:event_ts"]),
            ("AM1", ["amount_positive"]), ("AM2", number), ("AM3", number),  # -5, NaN, 1e30
            ("DU1", []), ("DU1", ["duplicate"]),
            ("x'; DROP TABLE silver.transactions; --", []),  # data, never SQL
            ("LO2", []), ("MX1", []),
        ],
        "txn_id string, failures array<string>",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    traversal = checked.where(F.col("txn_id").startswith("x'")).first()["account_id"]
    assert traversal == "../../../../etc/passwd"  # kept as a value, used as no path
