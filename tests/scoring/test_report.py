"""``fin360 report`` on the scored tiny lake: every section, every image embedded and decodable,
the same figures in MLflow, and the page rendered by headless Chromium with all its images."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest
from pyspark.sql import functions as F

from fin360 import lake, report
from fin360.bench import pipeline as bench
from fin360.cli import main
from fin360.ml import tracking
from fin360.scoring import job

SECTIONS = [
    "Row counts per layer", "Data quality (latest silver run)", "Customer segments",
    "Credit risk", "Transaction anomalies", "Fraud rings", "Score drift (PSI)", "Benchmark",
]  # fmt: skip
IMAGE = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# appended to a copy of the page only: counts the images the browser decoded, into the title
PROBE = """<script>window.addEventListener("load", () => {
  const images = [...document.images];
  const drawn = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.title = `rendered ${drawn}/${images.length} height=${document.body.scrollHeight}`;
});</script>"""


def _bench_results(folder):
    """A results file as `fin360 bench pipeline` writes it, with its plot."""
    seconds = {
        "bronze": 20.0,
        "silver": 15.0,
        "gold": 8.0,
        "train": 40.0,
        "score": 10.0,
        "report": 2.0,
    }
    floors = {"bronze_spark": 10.0, "silver_spark": 5.0, "gold_spark_sql": 4.0, "gold_duckdb": 1.0}
    runs = [
        {"customers": n, "cores": 2,
         "stages": {s: {"seconds": t * n / 1000, "rows_out": n} for s, t in seconds.items()},
         "floors": {f: {"seconds": t * n / 1000} for f, t in floors.items()},
         "increment": {"seconds": n / 1000, "vs_full_build": 0.019}}
        for n in (1000, 2000)
    ]  # fmt: skip
    for run in runs:
        run["stages"]["score"]["customer_seconds"] = run["stages"]["score"]["seconds"] / 4
        run["score_throughput"] = {"customers": 1_000_000, "seconds": 10.0}
    failed = {"customers": 4000, "cores": 2, "failed": "exit code 137, logs in /x",
              "measured": [{"name": "bronze", "seconds": 81.5}]}  # fmt: skip
    results = {"machine": bench.machine(), "started_at": "2026-12-02T10:00:00+00:00",
               "runs": [*runs, failed], **bench.derived(runs)}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2026-12-02-test.json").write_text(json.dumps(results))
    bench.plot(results, folder / "2026-12-02-test.png")


@pytest.fixture(scope="module")
def written(spark, scored_lake, tmp_path_factory):
    cfg, as_of, _, _ = scored_lake
    _bench_results(Path(cfg.path("bench_results")))
    out = report.run(spark, cfg, as_of, tmp_path_factory.mktemp("report") / "report.html")
    return cfg, as_of, out


def test_report_has_every_section_with_embedded_figures(spark, written):
    cfg, as_of, out = written
    page = out.read_text(encoding="utf-8")
    assert [t for t in SECTIONS if f"<h2>{t}</h2>" not in page] == []
    images = IMAGE.findall(page)
    captions = [caption for caption, _ in images]
    for expected in (
        "Rows per Delta table",
        "roc_curve.png",
        "calibration_curve.png",
        "lift_by_decile.png",
        "fairness.png",
        "segment_profiles.png",
        "precision_recall.png",
        "Scored PD and risk bands",
        "Population stability",
        "The largest group over the ring-score cut-off",
        "Seconds per stage against customers",
    ):
        assert any(c.startswith(expected) for c in captions), (expected, captions)  # fmt: skip
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for _, data in images)
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # self-contained: nothing to fetch

    # the top alert and its reasons are listed
    top = (
        lake.read(spark, cfg, job.TRANSACTION_ALERTS)
        .where((F.col("as_of_date") == F.lit(as_of)) & (F.col("alert_rank") == 1))
        .first()
    )
    assert top.txn_id in page and top.reasons[0] in page
    # a bench run that failed is named with what it measured
    assert (
        "4,000 customers on local[2] failed (exit code 137, logs in /x) after measuring: bronze 82 s"
        in page
    )
    assert "No " not in re.sub(r"<table.*?</table>", "", page, flags=re.S)  # no section missed data


def test_report_figures_are_logged_to_mlflow(written):
    cfg, as_of, out = written
    client = tracking.setup(cfg)
    runs = mlflow.search_runs(experiment_names=[tracking.model_name(cfg, "report")])
    run_id = runs[runs["params.as_of"] == as_of.isoformat()]["run_id"].iloc[0]
    figures = {a.path for a in client.list_artifacts(run_id, "figures")}
    assert {"figures/row_counts.png", "figures/psi.png", "figures/pd_distribution.png"} <= figures
    assert out.name in {a.path for a in client.list_artifacts(run_id)}


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(written, tmp_path):
    _, _, out = written
    page = out.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--virtual-time-budget=10000",
               "--dump-dom", probe.as_uri()]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    title = re.search(r"<title>rendered (\d+)/(\d+) height=(\d+)</title>", dom)
    assert title, dom[:500]
    drawn, total, height = map(int, title.groups())
    assert drawn == total == len(IMAGE.findall(page)) >= 10
    assert height > 3000  # laid out: tables and figures take room


def test_report_without_gold_is_a_clear_error(tmp_path, capsys):
    code = main(["--env", "test", "report", "--set", f"paths.lakehouse={tmp_path / 'empty'}",
                 "--set", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'm.db'}"])  # fmt: skip
    assert code == 2
    assert "no gold tables yet" in capsys.readouterr().err
