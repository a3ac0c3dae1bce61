"""The bronze job end to end on generated data: reconciliation, idempotency, drift, failures."""

from __future__ import annotations

import shutil

import pytest
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.bronze import job
from fin360.governance import audit


def _with_raw(cfg, raw):
    return cfg.with_overrides({"paths.raw": str(raw)})


def _job_runs(spark, cfg):
    return lake.read(spark, cfg, audit.JOB_RUNS).where(F.col("job") == "bronze")


def test_every_generated_record_is_landed_or_quarantined(spark, bronze_lake):
    cfg, summary, manifest = bronze_lake
    assert not summary.failed and not summary.skipped

    runs = {
        r["unit"]: r for r in _job_runs(spark, cfg).where("status = 'ok' and unit != '*'").collect()
    }
    quarantine = lake.read(spark, cfg, job.QUARANTINE)
    for source, batches in manifest["sources"].items():
        landed = lake.read(spark, cfg, f"bronze.{source}")
        for batch_id, expected in batches.items():
            run = runs[f"{source}/{batch_id}"]
            assert run["input_rows"] == expected["records"], (source, batch_id)
            assert run["output_rows"] + run["quarantined_rows"] == run["input_rows"]
            # the generator's malformed records are exactly what bronze quarantines
            assert run["quarantined_rows"] == expected["malformed"], (source, batch_id)
            assert landed.where(F.col("_batch_id") == batch_id).count() == run["output_rows"]
            in_quarantine = quarantine.where(
                (F.col("source") == source) & (F.col("_batch_id") == batch_id)
            )
            assert in_quarantine.count() == run["quarantined_rows"]
            assert run["outputs"][f"bronze.{source}"] is not None
    assert quarantine.where(F.col("reason").isNull() | F.col("raw").isNull()).count() == 0

    # a rerun over the same files changes no table and lands nothing
    versions = {s: lake.version(spark, cfg, f"bronze.{s}") for s in manifest["sources"]}
    quarantine_version = lake.version(spark, cfg, job.QUARANTINE)
    again = job.run(spark, cfg)
    assert again.landed == [] and len(again.skipped) == len(runs)
    assert versions == {s: lake.version(spark, cfg, f"bronze.{s}") for s in manifest["sources"]}
    assert lake.version(spark, cfg, job.QUARANTINE) == quarantine_version


def test_new_batch_appends_and_drift_is_recorded(spark, cfg, generated, tmp_path):
    raw, _, manifest = generated
    local_raw = tmp_path / "landing"
    source = "card_transactions"
    shutil.copytree(raw / source / "batch=b0001", local_raw / source / "batch=b0001")
    cfg = _with_raw(cfg, local_raw)
    job.run(spark, cfg, sources=[source])
    table = f"bronze.{source}"
    assert "loyalty_tier" not in lake.read(spark, cfg, table).columns

    # the next delivery carries a field nobody declared: it lands, and the drift is recorded
    shutil.copytree(raw / source / "batch=b0002", local_raw / source / "batch=b0002")
    for part in (local_raw / source / "batch=b0002").iterdir():
        lines = part.read_text(encoding="utf-8").splitlines()
        drifted = [
            line[:-1] + ',"loyalty_tier":"gold"}' if line.endswith("}") else line for line in lines
        ]
        part.write_text("\n".join(drifted) + "\n", encoding="utf-8")
    summary = job.run(spark, cfg, sources=[source])
    assert [(r.batch_id, r.new_columns) for r in summary.landed] == [("b0002", ["loyalty_tier"])]
    landed = lake.read(spark, cfg, table)
    per_batch = {r["_batch_id"]: r["count"] for r in landed.groupBy("_batch_id").count().collect()}
    batches = manifest["sources"][source]
    assert per_batch == {b: v["records"] - v["malformed"] for b, v in batches.items()}
    old_rows = landed.where("_batch_id = 'b0001'")
    assert old_rows.where(F.col("loyalty_tier").isNotNull()).count() == 0
    assert landed.where("_batch_id = 'b0002' and loyalty_tier is not null").count() > 0
    run = _job_runs(spark, cfg).where(f"unit = '{source}/b0002'").first()
    assert '"new_columns": ["loyalty_tier"]' in run["details"]


def test_missing_required_column_fails_that_batch_only(spark, cfg, tmp_path):
    products = tmp_path / "landing" / "products"
    (products / "batch=b0001").mkdir(parents=True)
    (products / "batch=b0001" / "part-00000.csv").write_text(
        "product_code,product_name,category,min_age,risk_level,currency\nSAV01,Saver,savings,18,1,CNY\n"
    )
    (products / "batch=b0002").mkdir()
    (products / "batch=b0002" / "part-00000.csv").write_text("product_name,category\nGold,wealth\n")
    cfg = _with_raw(cfg, tmp_path / "landing")
    with pytest.raises(
        Fin360Error, match=r"products/b0002: .*required column\(s\) \['product_code'\]"
    ):
        job.run(spark, cfg, sources=["products"])
    assert lake.read(spark, cfg, "bronze.products").count() == 1
    statuses = {r["unit"]: r["status"] for r in _job_runs(spark, cfg).collect()}
    assert statuses == {"products/b0001": "ok", "products/b0002": "failed", "*": "failed"}


def test_a_corrupt_file_fails_its_batch_and_every_other_source_lands(
    spark, cfg, generated, tmp_path
):
    raw, _, _ = generated
    landing = tmp_path / "landing"
    shutil.copytree(raw / "transfers" / "batch=b0001", landing / "transfers" / "batch=b0001")
    good = sorted((landing / "transfers" / "batch=b0001").glob("*.parquet"))[0].read_bytes()
    (landing / "transfers" / "batch=b0002").mkdir()
    (landing / "transfers" / "batch=b0002" / "part-00000.parquet").write_bytes(good[:100])
    (landing / "products" / "batch=b0001").mkdir(parents=True)
    (landing / "products" / "batch=b0001" / "part-00000.csv").write_text(
        "product_code,product_name,category,min_age,risk_level,currency\nSAV01,Saver,savings,18,1,CNY\n"
    )
    cfg = _with_raw(cfg, landing)
    with pytest.raises(Fin360Error) as failed:
        job.run(spark, cfg, sources=["transfers", "products"])
    assert str(failed.value).startswith("1 batch(es) failed, first transfers/b0002: ")
    assert "\n" not in str(failed.value) and "Traceback" not in str(failed.value)
    assert "parquet" in str(failed.value).lower()
    expected = spark.read.parquet(str(raw / "transfers" / "batch=b0001")).count()
    assert lake.read(spark, cfg, "bronze.transfers").count() == expected
    assert lake.read(spark, cfg, "bronze.products").count() == 1
    statuses = {r["unit"]: r["status"] for r in _job_runs(spark, cfg).collect()}
    assert statuses == {
        "transfers/b0001": "ok", "transfers/b0002": "failed", "products/b0001": "ok", "*": "failed"
    }  # fmt: skip


def test_missing_source_folder_is_a_clear_error(spark, cfg, tmp_path):
    cfg = _with_raw(cfg, tmp_path / "nothing-here")
    with pytest.raises(Fin360Error, match="raw folder of source 'products' not found"):
        job.run(spark, cfg, sources=["products"])
    with pytest.raises(Fin360Error, match="unknown source"):
        job.run(spark, cfg, sources=["crm"])


def test_run_killed_after_landing_does_not_land_twice(spark, cfg, generated, monkeypatch):
    raw, _, manifest = generated
    cfg = _with_raw(cfg, raw)
    source = "complaints"
    record = audit.JobRun.record

    def crash_on_success(self, unit, status, **kw):
        if status == "ok":
            raise RuntimeError("driver killed")
        return record(self, unit, status, **kw)

    monkeypatch.setattr(audit.JobRun, "record", crash_on_success)
    with pytest.raises(RuntimeError, match="driver killed"):
        job.run(spark, cfg, sources=[source])  # both tables written, job_runs not
    monkeypatch.setattr(audit.JobRun, "record", record)
    job.run(spark, cfg, sources=[source])
    expected = manifest["sources"][source]["b0001"]
    assert (
        lake.read(spark, cfg, f"bronze.{source}").count()
        == expected["records"] - expected["malformed"]
    )
