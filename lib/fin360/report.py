"""``fin360 report``: one self-contained HTML page on the state of the lakehouse and its models.

Sections: row counts per layer, data-quality results of the latest silver run, the scored
population's segments, the risk champion (ROC, calibration, lift, fairness) and the scored PD
distribution, the top anomaly alerts with their reasons, and score drift (PSI). Every image is
embedded as a data URI, so the file can be mailed or archived as it is. The figures drawn here
and the HTML are logged to MLflow (experiment ``<prefix>-report``); the model figures are the
champions' own, downloaded from their training runs.

A section whose inputs do not exist yet (no scores before ``fin360 run score``) says so instead
of failing the report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, code_version, lake
from fin360.config import Config
from fin360.gold import graph as gold_graph
from fin360.gold.job import CUSTOMER_360, GRAPH_FEATURES, graph_date, load_sources
from fin360.logs import stage
from fin360.ml import monitoring, tracking
from fin360.scoring.job import CUSTOMER_SCORES, TRANSACTION_ALERTS
from fin360.silver.job import DQ_RESULTS

log = logging.getLogger(__name__)

# champion figures shown per family, as their training runs logged them
CHAMPION_FIGURES = {
    "segmentation": ["segment_profiles.png"],
    "risk": ["roc_curve.png", "calibration_curve.png", "lift_by_decile.png", "fairness.png"],
    "anomaly": ["precision_recall.png", "score_distribution.png"],
}
TOP_ALERTS = 20
PD_BINS = 40
DRAWN_MEMBERS = 30  # a drawn ring: more would not be readable


@dataclass
class Section:
    title: str
    blocks: list[str] = field(default_factory=list)  # HTML fragments, in order
    figures: dict[str, bytes] = field(default_factory=dict)  # drawn here: logged to MLflow

    def text(self, message: str) -> None:
        self.blocks.append(f"<p>{html.escape(message)}</p>")

    def table(self, frame: pd.DataFrame) -> None:
        table = frame.to_html(index=False, border=0, classes="data", na_rep="",
                              float_format=lambda v: f"{v:,.4g}")  # fmt: skip
        self.blocks.append(f'<div class="scroll">{table}</div>')

    def image(self, png: bytes, caption: str) -> None:
        data = base64.b64encode(png).decode("ascii")
        self.blocks.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def plot(self, name: str, figure: plt.Figure, caption: str) -> None:
        """Draw a figure of this report: embedded, and kept for MLflow under ``name``."""
        buffer = io.BytesIO()
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        self.figures[name] = buffer.getvalue()
        self.image(self.figures[name], caption)


def default_as_of(spark: SparkSession, cfg: Config) -> date:
    """The latest scoring date, else the latest customer-360 date."""
    for table in (CUSTOMER_SCORES, CUSTOMER_360):
        if lake.exists(spark, cfg, table):
            latest = lake.read(spark, cfg, table).agg(F.max("as_of_date")).first()[0]
            if latest is not None:
                return latest
    raise Fin360Error("no gold tables yet: run `fin360 run gold` (or `run all`) first")


def row_counts(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    """Rows and Delta version of every table (as they are now: ``as_of`` is not a filter)."""
    section = Section("Row counts per layer")
    rows = [
        (name.partition(".")[0], name, lake.read(spark, cfg, name).count(),
         lake.version(spark, cfg, name))
        for name in lake.tables(spark, cfg)
    ]  # fmt: skip
    if not rows:
        section.text(f"No Delta tables under {cfg.path('lakehouse')}.")
        return section
    counts = pd.DataFrame(rows, columns=["layer", "table", "rows", "delta_version"])
    section.table(counts)
    fig, ax = plt.subplots(figsize=(8, max(3, 0.28 * len(counts))))
    colours = dict(zip(lake.LAYERS, plt.get_cmap("tab10").colors, strict=False))
    ax.barh(counts["table"], counts["rows"].clip(lower=1), color=counts["layer"].map(colours))
    ax.set(xscale="log", xlabel="rows (log scale)", title="Rows per table")
    ax.invert_yaxis()
    section.plot("row_counts.png", fig, "Rows per Delta table, coloured by layer")
    return section


def data_quality(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    """The rules of the latest silver run, failing ones first (the run, not ``as_of``)."""
    section = Section("Data quality (latest silver run)")
    if not lake.exists(spark, cfg, DQ_RESULTS):
        section.text("No data-quality results yet: run `fin360 run silver`.")
        return section
    results = lake.read(spark, cfg, DQ_RESULTS)
    latest = results.orderBy(F.col("evaluated_at").desc()).select("run_id").first()[0]
    frame = (
        results.where(F.col("run_id") == latest)
        .groupBy("table", "rule", "check", "blocking")
        .agg(
            F.sum("rows_checked").alias("rows_checked"),
            F.sum("rows_failed").alias("rows_failed"),
            F.min("passed").alias("passed"),
        )
        .withColumn("failure_rate", F.col("rows_failed") / F.greatest(F.col("rows_checked"), F.lit(1)))
        .orderBy(F.col("rows_failed").desc(), "table", "rule")
        .toPandas()
    )  # fmt: skip
    failed = frame[frame["rows_failed"] > 0]
    section.text(
        f"{len(frame)} rules checked in run {latest}; {len(failed)} found failing rows, "
        f"{int((~frame['passed']).sum())} breached their threshold."
    )
    if len(failed):
        top = failed.head(15).iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, max(3, 0.35 * len(top))))
        ax.barh(top["table"] + " · " + top["rule"], top["rows_failed"],
                color=np.where(top["passed"], "tab:orange", "tab:red"))  # fmt: skip
        ax.set(xlabel="rows failed (quarantined or flagged)", title="Failing rows by rule")
        section.plot("dq_failures.png", fig, "Rows failing each rule (red: threshold breached)")
    section.table(frame)
    return section


def _champion_run(cfg: Config, family: str) -> tuple[str, str] | None:
    client = tracking.setup(cfg)
    name = tracking.model_name(cfg, family)
    version = tracking.alias_version(client, name, tracking.CHAMPION)
    if version is None:
        return None
    return version, client.get_model_version(name, version).run_id


def _champion_figures(section: Section, cfg: Config, family: str) -> dict[str, float]:
    """Embed the champion's logged figures; return its metrics."""
    found = _champion_run(cfg, family)
    if found is None:
        section.text(f"No {family} champion registered yet: run `fin360 train {family}`.")
        return {}
    version, run_id = found
    run = mlflow.get_run(run_id)
    section.text(f"Champion: {tracking.model_name(cfg, family)} version {version} (run {run_id}).")
    with tempfile.TemporaryDirectory() as tmp:
        for name in CHAMPION_FIGURES[family]:
            try:
                path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name,
                                                           dst_path=tmp)  # fmt: skip
            except (MlflowException, OSError):
                section.text(f"The champion's run has no {name}.")
                continue
            section.image(Path(path).read_bytes(), f"{name} (champion run)")
    return run.data.metrics


def _on(spark: SparkSession, cfg: Config, table: str, as_of: date) -> DataFrame | None:
    if not lake.exists(spark, cfg, table):
        return None
    frame = lake.read(spark, cfg, table).where(F.col("as_of_date") == F.lit(as_of))
    return frame if frame.limit(1).count() else None


def segments(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    section = Section("Customer segments")
    scores = _on(spark, cfg, CUSTOMER_SCORES, as_of)
    features = _on(spark, cfg, CUSTOMER_360, as_of)
    if scores is None or features is None:
        section.text(f"No customer scores for {as_of}: run `fin360 run score --as-of {as_of}`.")
    else:
        columns = [c for c in cfg["segmentation.features"] if c in features.columns]
        profile = (
            scores.select("customer_id", "segment_name")
            .join(features, "customer_id")
            .groupBy("segment_name")
            .agg(
                F.count(F.lit(1)).alias("customers"),
                *(F.avg(F.col(c).cast("double")).alias(c) for c in columns),
            )
            .orderBy(F.col("customers").desc())
            .toPandas()
        )
        profile.insert(2, "share", profile["customers"] / profile["customers"].sum())
        section.table(profile[["segment_name", "customers", "share", *columns[:8]]])
        means = profile.set_index("segment_name")[columns].astype(float)
        z = (means - means.mean()) / means.std(ddof=0).replace(0, 1)
        fig, ax = plt.subplots(figsize=(10, 1.2 + 0.5 * len(z)))
        image = ax.imshow(z.fillna(0).to_numpy(), cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=70, ha="right", fontsize=7)
        ax.set_yticks(range(len(z)), z.index)
        fig.colorbar(image, ax=ax, label="z-score across segments")
        ax.set_title(f"Segment profiles of the scored population ({as_of})")
        section.plot("segment_profiles_scored.png", fig, "Feature means per segment, standardised")
    _champion_figures(section, cfg, "segmentation")
    return section


def credit_risk(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    section = Section("Credit risk")
    metrics = _champion_figures(section, cfg, "risk")
    shown = {k: v for k, v in sorted(metrics.items()) if k.startswith("test_")}
    if shown:
        section.table(pd.DataFrame({"metric": list(shown), "value": list(shown.values())}))
    scores = _on(spark, cfg, CUSTOMER_SCORES, as_of)
    if scores is None:
        section.text(f"No customer scores for {as_of}.")
        return section
    bins = np.linspace(0.0, 1.0, PD_BINS + 1)
    pd_bin = F.least(F.floor(F.col("pd") * PD_BINS), F.lit(PD_BINS - 1)).cast("int")
    counts = scores.groupBy(pd_bin.alias("bin")).count().toPandas()  # bounded: PD_BINS rows
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.hist(bins[counts["bin"].to_numpy()], bins=bins, weights=counts["count"], color="tab:blue")
    left.axvline(cfg["risk.approval_pd_cutoff"], color="tab:red", linestyle="--", label="cutoff")
    left.set(xlabel="calibrated PD", ylabel="customers", title=f"PD distribution ({as_of})")
    left.legend()
    bands = scores.groupBy("risk_band").count().orderBy("risk_band").toPandas()  # bounded: bands
    right.bar(bands["risk_band"], bands["count"], color="tab:purple")
    right.set(xlabel="risk band", ylabel="customers", title="Customers per risk band")
    section.plot("pd_distribution.png", fig, "Scored PD and risk bands")
    return section


def anomalies(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    section = Section("Transaction anomalies")
    alerts = _on(spark, cfg, TRANSACTION_ALERTS, as_of)
    if alerts is None:
        section.text(f"No transaction scores for {as_of}.")
    else:
        top = (
            alerts.where("is_alert")
            .orderBy("alert_rank")
            .limit(TOP_ALERTS)
            .select("alert_rank", "txn_id", "customer_id", "event_ts", "txn_type",
                    "amount_base", "anomaly_score", F.array_join("reasons", "; ").alias("reasons"))
            .toPandas()
        )  # fmt: skip
        section.text(f"Top {len(top)} alerts of {as_of}, with the features that made them unusual.")
        section.table(top)
    _champion_figures(section, cfg, "anomaly")
    return section


def fraud_rings(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    """Customers over the ring-score cut-off, grouped by identity component, and the largest
    group drawn with the money it moved among its members."""
    section = Section("Fraud rings")
    built = graph_date(spark, cfg, as_of)  # rebuilt every graph.refresh_days
    if built is None:
        section.text(f"No graph features for {as_of}: run `fin360 run gold --as-of {as_of}`.")
        return section
    graph = lake.read(spark, cfg, GRAPH_FEATURES).where(F.col("as_of_date") == F.lit(built))
    cutoff = cfg["graph.ring_cutoff"]
    flagged = graph.where(F.col("ring_score") >= cutoff)
    groups = (
        flagged.groupBy("component_id")
        .agg(
            F.count(F.lit(1)).alias("members"),
            F.round(F.avg("ring_score"), 2).alias("mean_ring_score"),
            F.sum(F.col("money_cycles_3") + F.col("money_cycles_4")).alias("cycle_memberships"),
            F.round(F.sum("money_out_strength"), 2).alias("money_sent"),
        )
        .orderBy(F.desc("members"), "component_id")
        .limit(TOP_ALERTS)
        .toPandas()
    )  # a few groups
    section.text(
        f"{int(groups['members'].sum()) if len(groups) else 0} customers at ring_score >= "
        f"{cutoff} in the graph of {built}, in {len(groups)} groups of linked identities "
        "(largest first)."
    )
    if groups.empty:
        return section
    section.table(groups)
    top = groups.iloc[0]["component_id"]
    members = sorted(
        r["customer_id"]
        for r in flagged.where(F.col("component_id") == top)
        .select("customer_id")
        .limit(DRAWN_MEMBERS)
        .collect()
    )  # one group's members, at most DRAWN_MEMBERS
    opts = gold_graph.GraphOptions.from_config(cfg["graph"])
    links = (
        gold_graph.money_edges(load_sources(spark, cfg), built, opts)
        .where(F.col("src").isin(members) & F.col("dst").isin(members))
        .toPandas()
    )  # bounded: transfers among those few members
    angle = {c: 2 * np.pi * i / len(members) for i, c in enumerate(members)}
    fig, ax = plt.subplots(figsize=(6, 6))
    for link in links.itertuples():
        start = (np.cos(angle[link.src]), np.sin(angle[link.src]))
        end = (np.cos(angle[link.dst]), np.sin(angle[link.dst]))
        width = 1 + 3 * link.weight / max(links["weight"].max(), 1)
        ax.annotate("", xy=end, xytext=start, arrowprops={
            "arrowstyle": "->", "color": "tab:red", "lw": width,
            "connectionstyle": "arc3,rad=0.1"})  # fmt: skip
    for customer, a in angle.items():
        ax.scatter(np.cos(a), np.sin(a), s=500, color="tab:orange", zorder=3)
        ax.annotate(customer[-6:], (np.cos(a), np.sin(a)), xytext=(0, 16),
                    textcoords="offset points", ha="center")  # fmt: skip
    ax.set_axis_off()
    ax.set_title(f"{len(members)} linked customers and their transfers ({built})")
    section.plot("fraud_ring.png", fig, "The largest group over the ring-score cut-off")
    return section


def drift(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    section = Section("Score drift (PSI)")
    rows = _on(spark, cfg, monitoring.MODEL_MONITORING, as_of)
    if rows is None:
        section.text(f"No monitoring rows for {as_of}.")
        return section
    frame = (
        rows.select("model_name", "model_version", "column", "psi", "rows", "is_drift")
        .orderBy("model_name", F.col("psi").desc())
        .toPandas()
    )  # bounded: one row per model and monitored column
    warning = cfg["monitoring.psi_warning"]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * len(frame))))
    labels = frame["model_name"] + " · " + frame["column"]
    ax.barh(labels, frame["psi"], color=np.where(frame["is_drift"], "tab:red", "tab:green"))
    ax.axvline(warning, color="grey", linestyle="--", label=f"warning ({warning})")
    ax.set(xlabel="PSI against the training reference", title=f"Drift on {as_of}")
    ax.invert_yaxis()
    ax.legend()
    section.plot("psi.png", fig, "Population stability index per model input and score")
    section.table(frame)
    return section


def benchmark(spark: SparkSession, cfg: Config, as_of: date) -> Section:
    """The latest ``fin360 bench pipeline`` results in ``paths.bench_results``."""
    from fin360.bench import pipeline as bench

    section = Section("Benchmark")
    found = bench.latest(cfg.path("bench_results"))
    if found is None:
        section.text(
            f"No benchmark results in {cfg.path('bench_results')}: run `fin360 bench pipeline`."
        )
        return section
    results = json.loads(found.read_text(encoding="utf-8"))
    m = results["machine"]
    section.text(
        f"{found.name}, started {results['started_at']} on {m['name']} ({m['cores']} cores, "
        f"{m['memory_gib']} GiB). Seconds per stage of the chain and per floor:"
    )
    section.table(pd.DataFrame(bench.seconds_table(results)))
    for r in results["runs"]:
        if "failed" in r:
            done = (
                ", ".join(f"{m['name']} {m['seconds']:.0f} s" for m in r["measured"]) or "nothing"
            )
            section.text(
                f"The run of {r['customers']:,} customers on local[{r['cores']}] failed "
                f"({r['failed']}) after measuring: {done}."
            )
    section.text("Ratios to the floors, and scoring throughput:")
    section.table(pd.DataFrame(results["ratios"]))
    if results["scaling_exponent"]:
        exponents = ", ".join(f"{k} {v}" for k, v in results["scaling_exponent"].items())
        section.text(f"Scaling exponent between the two largest factors: {exponents}.")
    png = found.with_suffix(".png")
    if png.is_file():
        section.image(png.read_bytes(), "Seconds per stage against customers; floors dashed")
    return section


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-top: 1rem; }
table.data { border-collapse: collapse; font-size: 0.8rem; margin: 0.8rem 0; }
table.data th, table.data td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.6rem; }
table.data th { background: #f4f4f4; text-align: left; }
figure { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; vertical-align: top; }
figure img { max-width: 100%; } figcaption { font-size: 0.8rem; color: #555; }
.meta { color: #555; } .scroll { overflow-x: auto; }
"""


def render(title: str, meta: dict[str, str], sections: list[Section]) -> str:
    facts = " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in meta.items())
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>'
                  for i, s in enumerate(sections))  # fmt: skip
    body = "".join(
        f'<section id="s{i}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}</section>'
        for i, s in enumerate(sections)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="meta">{facts}</p><ol>{toc}</ol>{body}'
        f"</body></html>\n"
    )


def run(spark: SparkSession, cfg: Config, as_of: date | None = None,
        out: Path | None = None) -> Path:  # fmt: skip
    """Write the report for ``as_of`` (default: the latest scoring date) and log it to MLflow."""
    tracking.setup(cfg)
    as_of = as_of or default_as_of(spark, cfg)
    out = out or Path(cfg.path("reports")) / f"fin360-report-{as_of.isoformat()}.html"
    sections = []
    builds = (
        row_counts,
        data_quality,
        segments,
        credit_risk,
        anomalies,
        fraud_rings,
        drift,
        benchmark,
    )
    for build in builds:
        with stage(log, "report", section=build.__name__, as_of=as_of) as done:
            sections.append(build(spark, cfg, as_of))
            done.update(figures=len(sections[-1].figures))
    meta = {
        "as of": as_of.isoformat(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": cfg.env,
        "code": code_version(),
    }
    page = render(f"fin360 report, {as_of.isoformat()}", meta, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    with (
        mlflow.start_run(
            experiment_id=tracking.experiment_id(cfg, "report"),
            run_name=f"report-{as_of}",
            tags=tracking.run_tags(cfg, "report"),
        ),
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_param("as_of", as_of.isoformat())
        for section in sections:
            for name, png in section.figures.items():
                (Path(tmp) / name).write_bytes(png)
        mlflow.log_artifacts(tmp, artifact_path="figures")
        mlflow.log_artifact(str(out))
    log.info("report written to %s", out)
    return out
