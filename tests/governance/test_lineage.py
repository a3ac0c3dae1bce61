"""OpenLineage run events of the jobs (file and HTTP transports) and ``fin360 lineage TABLE``."""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from fin360 import Fin360Error, lake
from fin360.bronze import job as bronze
from fin360.governance import audit, lineage
from fin360.ml import tracking
from fin360.silver import job as silver


def _events(cfg) -> list[dict]:
    return [json.loads(line) for line in Path(cfg.path("lineage")).read_text().splitlines()]


def _datasets(found: list[dict]) -> list[tuple]:
    return [
        (
            d["namespace"],
            d["name"],
            d["facets"].get("version", {}).get("datasetVersion"),
            d.get("outputFacets", {}).get("outputStatistics", {}).get("rowCount"),
        )
        for d in found
    ]


def test_each_run_emits_its_datasets_and_lineage_traces_a_table_to_its_raw_files(
    spark, cfg, tmp_path
):
    batch = tmp_path / "landing" / "products" / "batch=b0001"
    batch.mkdir(parents=True)
    (batch / "part-00000.csv").write_text(
        "product_code,product_name,category,min_age,risk_level,currency\nSAV01,Saver,savings,18,1,CNY\n"
    )
    cfg = cfg.with_overrides({"paths.raw": str(tmp_path / "landing")})
    bronze.run(spark, cfg, sources=["products"])
    silver.run(spark, cfg)

    events = _events(cfg)
    assert [(e["job"]["namespace"], e["job"]["name"], e["eventType"]) for e in events] == [
        ("fin360", "bronze", "START"), ("fin360", "bronze", "COMPLETE"),
        ("fin360", "silver", "START"), ("fin360", "silver", "COMPLETE"),
    ]  # fmt: skip
    runs = lake.read(spark, cfg, audit.JOB_RUNS).where(f"unit = '{audit.JOB_RUN_ALL}'")
    run_ids = {r["job"]: str(uuid.UUID(r["run_id"])) for r in runs.collect()}
    assert [e["run"]["runId"] for e in events] == [run_ids["bronze"]] * 2 + [run_ids["silver"]] * 2
    bronze_table = lake.table_path(cfg, "bronze.products")
    silver_table = lake.table_path(cfg, "silver.products")
    assert _datasets(events[1]["inputs"]) == [("file", str(batch), None, None)]
    assert _datasets(events[1]["outputs"]) == [("file", bronze_table, "0", 1)]
    assert _datasets(events[3]["inputs"]) == [("file", bronze_table, "0", None)]
    assert _datasets(events[3]["outputs"]) == [("file", silver_table, "0", 1)]

    lines = lineage.trace(spark, cfg, "silver.products")
    expected = [
        r"silver\.products v0 <- silver run [0-9a-f]{12} unit products/products/b0001 at [0-9: -]+, 1 rows \(code .+\)",
        r"  bronze\.products v0 <- bronze run [0-9a-f]{12} unit products/b0001 at [0-9: -]+, 1 rows \(code .+\)",
        rf"    raw file (file:)?{re.escape(str(batch))}/part-00000\.csv",
    ]  # fmt: skip
    assert len(lines) == len(expected) and all(
        re.fullmatch(p, line) for p, line in zip(expected, lines, strict=True)
    ), lines
    with pytest.raises(Fin360Error, match="table gold.customer_360 does not exist"):
        lineage.trace(spark, cfg, "gold.customer_360")


def test_gold_traces_back_through_silver_and_bronze_to_the_raw_files(spark, gold_lake):
    from fin360.gold import job as gold

    cfg, _, _ = gold_lake
    lines = lineage.trace(spark, cfg, gold.CUSTOMER_360)
    read_by_gold = {
        line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")
    }
    present = {t for t in gold.silver_inputs() if lake.exists(spark, cfg, t)}
    assert read_by_gold == present | {"gold.transaction_days", "gold.app_event_days"}
    assert any(line.strip().startswith("raw file") for line in lines)
    assert any(re.match(r"\s+bronze\.card_transactions v\d+ <- bronze run", x) for x in lines)


def test_training_runs_emit_their_mlflow_run_and_registered_model(scored_lake):
    cfg, _, trained, _ = scored_lake
    done = [
        e for e in _events(cfg) if e["job"]["name"] == "train_risk" and e["eventType"] == "COMPLETE"
    ]
    event = done[-1]
    tags = {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}
    assert tags["mlflow_run_id"] == trained["risk"]["run_id"]
    assert event["run"]["runId"] == str(uuid.UUID(trained["risk"]["run_id"]))
    name = tracking.model_name(cfg, "risk")
    assert [o["name"] for o in event["outputs"]] == [f"models:/{name}/{trained['risk']['version']}"]


def test_a_run_that_fails_is_recorded_and_emitted_as_failed(spark, cfg):
    from datetime import date

    from fin360.gold import job as gold

    with pytest.raises(Fin360Error, match="run `fin360 run silver` first") as failed:
        gold.run(spark, cfg, date(2025, 6, 30))
    events = _events(cfg)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("gold", "START"),
        ("gold", "FAIL"),
    ]
    assert events[1]["run"]["facets"]["errorMessage"]["message"] == str(failed.value)
    [run] = lake.read(spark, cfg, audit.JOB_RUNS).collect()
    assert (run["job"], run["unit"], run["status"], run["error"]) == (
        "gold", audit.JOB_RUN_ALL, "failed", str(failed.value)
    )  # fmt: skip


def test_http_transport_posts_each_event_to_the_endpoint(cfg):
    received: list[tuple[str, dict]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        cfg = cfg.with_overrides({"lineage.transport": "http", "lineage.url": url})
        run_id = uuid.uuid4().hex
        lineage.emit(cfg, "gold", run_id, "FAIL", error="silver table(s) missing")
    finally:
        server.shutdown()
    [(path, event)] = received
    assert path == "/api/v1/lineage"
    assert (event["job"]["name"], event["eventType"], event["run"]["runId"]) == (
        "gold", "FAIL", str(uuid.UUID(run_id))
    )  # fmt: skip
    assert event["run"]["facets"]["errorMessage"]["message"] == "silver table(s) missing"
