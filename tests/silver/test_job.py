"""The silver job end to end on generated data."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.bronze import job as bronze
from fin360.governance import audit
from fin360.governance.pii import PII_KEY_ENV
from fin360.silver import job as silver
from fin360.silver import quality

SILVER_TABLES = [
    "customers", "customer_xref", "accounts", "account_holders", "transactions", "app_events",
    "complaints", "bureau", "loans", "products", "fx_rates",
]  # fmt: skip


def _silver_runs(spark, cfg):
    runs = lake.read(spark, cfg, audit.JOB_RUNS).where("job = 'silver' and unit != '*'")
    return {r["unit"]: r for r in runs.collect()}


def test_every_bronze_row_is_accepted_or_quarantined(spark, silver_lake):
    cfg, _, manifest = silver_lake
    for table in SILVER_TABLES:
        assert lake.exists(spark, cfg, f"silver.{table}"), table
    runs = _silver_runs(spark, cfg)
    feeds = {u.split("/", 1)[1] for u in runs}
    assert {f"{s}/{b}" for s, batches in manifest["sources"].items() for b in batches} == feeds
    for unit, run in runs.items():
        table, source, batch = unit.split("/")
        bronze_rows = (
            lake.read(spark, cfg, f"bronze.{source}").where(F.col("_batch_id") == batch).count()
        )
        assert run["input_rows"] == bronze_rows, unit
        assert run["output_rows"] + run["quarantined_rows"] == bronze_rows, unit
    # exact duplicates and repeated events are quarantined as duplicates, not lost
    txn_dups = lake.read(spark, cfg, "silver._quarantine_transactions").where(
        F.array_contains("rules", "duplicate")
    )
    expected = manifest["sources"]["card_transactions"]["b0001"]["exact_duplicates"]
    assert (
        txn_dups.where("_batch_id = 'b0001' and source = 'card_transactions'").count() == expected
    )
    txns = lake.read(spark, cfg, "silver.transactions")
    assert txns.groupBy("txn_id").count().where("count > 1").count() == 0
    assert txns.where("amount_base is null or fx_rate is null or event_ts is null").count() == 0


def test_dq_results_have_a_row_per_rule_per_batch(spark, silver_lake):
    cfg, _, _ = silver_lake
    rules = quality.load_rules(cfg)
    results = lake.read(spark, cfg, silver.DQ_RESULTS)
    got = {(r["table"], r["rule"]) for r in results.collect()}
    for table, table_rules in rules.items():
        for rule in table_rules:
            assert (f"silver.{table}", rule.name) in got
    # the generator's unknown currencies and missing FX days are caught by their rules
    failed = {
        r["rule"]
        for r in results.where("table = 'silver.transactions' and rows_failed > 0").collect()
    }
    assert {"currency_known", "duplicate"} <= failed


def test_entity_resolution_against_truth(spark, silver_lake):
    from fin360 import eval as grading

    cfg, _, _ = silver_lake
    er = grading.entity_resolution(spark, cfg)
    assert er["precision"] >= 0.95 and er["recall"] >= 0.95, er


def test_no_clear_pii_in_silver(spark, silver_lake):
    cfg, _, _ = silver_lake
    clear_names = {
        "full_name",
        "name",
        "resident_id",
        "phone",
        "email",
        "address",
        "birth_date",
        "ip",
    }
    patterns = {
        "resident id": re.compile(r"(?<![\w-])\d{17}[\dXx](?!\w)"),
        "mobile": re.compile(r"(?<![\w-])(\+?86)?1[3-9]\d{9}(?!\w)"),
        "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    }
    layer = f"{cfg.path('lakehouse')}/silver"
    for entry in lake.list_dir(spark, layer):
        df = spark.read.format("delta").load(entry.path)
        assert not clear_names & set(df.columns), (entry.name, clear_names & set(df.columns))
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        sample = df.select(*strings).limit(500).collect() if strings else []
        for row in sample:
            for value in row:
                for what, pattern in patterns.items():
                    if value and "masked" not in str(value):
                        assert not pattern.search(value), (entry.name, what, value)


def test_second_run_changes_nothing(spark, silver_lake):
    cfg, _, _ = silver_lake
    versions = {t: lake.version(spark, cfg, f"silver.{t}") for t in SILVER_TABLES}
    assert silver.run(spark, cfg) == {}
    assert versions == {t: lake.version(spark, cfg, f"silver.{t}") for t in SILVER_TABLES}


def test_scd2_history_of_a_changed_address(spark, cfg, generated, tmp_path):
    raw, _, _ = generated
    landing = tmp_path / "landing"
    for source in ("products", "crm_customers"):
        shutil.copytree(raw / source / "batch=b0001", landing / source / "batch=b0001")
    cfg = cfg.with_overrides({"paths.raw": str(landing)})
    sources = ["products", "crm_customers"]
    bronze.run(spark, cfg, sources=sources)
    silver.run(spark, cfg)
    # a new CRM batch: one customer moved (and nobody else changed)
    header, line, *_ = (
        (raw / "crm_customers" / "batch=b0001" / "part-00000.csv").read_text().splitlines()
    )
    src_id = line.split(",", 1)[0]
    customer_id = (
        lake.read(spark, cfg, "silver.customer_xref")
        .where(F.col("source_key") == src_id)
        .first()["customer_id"]
    )
    person = (
        lake.read(spark, cfg, "silver.customers").where(F.col("customer_id") == customer_id).first()
    )
    fields = next(csv.reader(io.StringIO(line)))
    cols = header.split(",")
    fields[cols.index("address")] = "深圳市南山区科技园1号"
    fields[cols.index("updated_at")] = "2099-01-01 09:00:00"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([cols, fields])
    (landing / "crm_customers" / "batch=b0002").mkdir(parents=True)
    (landing / "crm_customers" / "batch=b0002" / "part-00000.csv").write_text(out.getvalue())
    bronze.run(spark, cfg, sources=sources)
    silver.run(spark, cfg)

    history = lake.read(spark, cfg, "silver.customers").where(
        F.col("customer_id") == person["customer_id"]
    )
    rows = history.orderBy("valid_from").collect()
    assert [r["is_current"] for r in rows] == [False, True]
    assert rows[0]["valid_to"] == rows[1]["valid_from"]
    assert rows[0]["address_token"] != rows[1]["address_token"]
    assert rows[0]["address_token"] == person["address_token"]
    others = lake.read(spark, cfg, "silver.customers").where(
        F.col("customer_id") != person["customer_id"]
    )
    assert others.where("not is_current").count() == 0  # nobody else got a new version


def test_blocking_rule_breach_fails_with_the_rule_named(spark, cfg, tmp_path):
    products = tmp_path / "landing" / "products" / "batch=b0001"
    products.mkdir(parents=True)
    (products / "part-00000.csv").write_text(
        "product_code,product_name,category,min_age,risk_level,currency\n"
        "SAV01,Saver,savings,18,1,CNY\nSAV01,Saver again,savings,18,1,CNY\n"
    )
    cfg = cfg.with_overrides({"paths.raw": str(tmp_path / "landing")})
    bronze.run(spark, cfg, sources=["products"])
    with pytest.raises(
        Fin360Error,
        match="blocking data-quality rule 'product_code_unique' failed on silver.products",
    ):
        silver.run(spark, cfg)
    assert not lake.exists(spark, cfg, "silver.products")
    # the rerun judges the batch again: its results replace those of the attempt before
    with pytest.raises(Fin360Error, match="'product_code_unique' failed"):
        silver.run(spark, cfg)
    results = lake.read(spark, cfg, silver.DQ_RESULTS).where("table = 'silver.products'")
    rules = [r.name for r in quality.load_rules(cfg)["products"]]
    assert sorted(r["rule"] for r in results.collect()) == sorted([*rules, *silver.BUILT_IN_RULES])
    unique = results.where("rule = 'product_code_unique'").first()
    assert (unique["rows_failed"], unique["passed"]) == (2, False)


def test_missing_pii_key_stops_before_any_work(spark, cfg, monkeypatch):
    monkeypatch.delenv(PII_KEY_ENV)
    with pytest.raises(Fin360Error, match="FIN360_PII_KEY is not set"):
        silver.run(spark, cfg)
