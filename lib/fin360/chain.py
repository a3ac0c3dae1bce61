"""The whole chain in one session: bronze, silver, gold, train and promote every model family,
score, report. ``fin360 run all`` prints the summary it returns; ``fin360 bench`` runs the same
chain with a probe around each stage."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from fin360.config import Config

if TYPE_CHECKING:  # the CLI imports FAMILIES from here before any Spark is needed
    from pyspark.sql import SparkSession

    from fin360.summary import Probe, RunSummary

FAMILIES = ["segmentation", "risk", "anomaly"]
# the figures a run's summary shows per trained model
HEADLINE_METRICS = ("silhouette", "k", "auc_roc", "ks", "auc_pr", "precision_at_1pct")


def family(name: str) -> Any:
    from fin360.ml import anomaly, risk, segmentation

    return {"segmentation": segmentation, "risk": risk, "anomaly": anomaly}[name]


def family_step(name: str, step: str, spark: SparkSession, cfg: Config, as_of: date | None) -> Any:
    """``train`` or ``promote`` of one family; the anomaly windows end at ``as_of``."""
    function = getattr(family(name), step)
    return function(spark, cfg, as_of=as_of) if name == "anomaly" else function(spark, cfg)


def train_all(spark: SparkSession, cfg: Config, as_of: date | None) -> None:
    for name in FAMILIES:
        family_step(name, "train", spark, cfg, as_of)
        family_step(name, "promote", spark, cfg, as_of)


def run(
    spark: SparkSession,
    cfg: Config,
    as_of: date | None = None,
    probe: Probe | None = None,
    *,
    train: bool = True,
) -> RunSummary:
    """Every stage in order; ``as_of`` defaults to the day of the latest activity in silver.
    Without ``train``, scoring uses the champions as they are (a daily run between
    retrainings)."""
    from fin360 import report
    from fin360 import summary as run_summary
    from fin360.bronze import job as bronze
    from fin360.gold import job as gold
    from fin360.scoring import job as scoring
    from fin360.silver import job as silver

    done = run_summary.RunSummary(probe=probe)
    before = run_summary.table_versions(spark, cfg)
    with done.timed("bronze") as step:
        landed = bronze.run(spark, cfg)
        step.rows_in = sum(b.input_rows for b in landed.landed)
        step.rows_out = sum(b.landed_rows for b in landed.landed)
        step.quarantined = sum(b.quarantined_rows for b in landed.landed)
        step.note = f"{len(landed.landed)} batch(es) landed, {len(landed.skipped)} already landed"
    with done.timed("silver") as step:
        units = silver.run(spark, cfg).values()
        step.rows_in = sum(u.get("input_rows", 0) for u in units)
        step.rows_out = sum(u.get("accepted", 0) for u in units)
        step.quarantined = sum(u.get("quarantined", 0) for u in units)
    as_of = as_of or gold.latest_activity_date(spark, cfg)
    done.as_of = as_of
    with done.timed("gold") as step:
        built = gold.run(spark, cfg, as_of)
        step.rows_out = built["customer_360_rows"]
        step.note = f"as of {as_of}; {built['training_rows']:,} credit-risk training rows"
    with done.timed("train") as step:
        for name in FAMILIES if train else []:
            trained = family_step(name, "train", spark, cfg, as_of)
            decision = family_step(name, "promote", spark, cfg, as_of)
            champion = (
                f"v{decision['challenger_version']} (was v{decision['champion_version']})"
                if decision["promoted"]
                else f"v{decision['champion_version']} stays ({decision['reason']})"
            )
            metrics = {k: v for k, v in trained.items() if k in HEADLINE_METRICS}
            done.models.append({"family": name, "version": trained["version"],
                                "metrics": metrics, "champion": champion})  # fmt: skip
        step.note = f"{len(FAMILIES)} model families" if train else "not asked to: champions kept"
    with done.timed("score") as step:
        scored = scoring.run(spark, cfg, as_of)
        step.rows_in = scored["customers"] + scored["transactions"]
        step.note = (
            f"{scored['alerts']:,} alerts, {scored['rows_per_second']:,} rows/s; customers in "
            f"{scored['customer_seconds']:.1f} s, transactions in {scored['transaction_seconds']:.1f} s"
        )
        step.parts = {k: scored[k] for k in ("customer_seconds", "transaction_seconds")}
    with done.timed("report"):
        page = report.run(spark, cfg, as_of)
    done.quarantine = run_summary.quarantined_by_reason(spark, cfg, done.started_at)
    done.written = run_summary.written_since(before, run_summary.table_versions(spark, cfg))
    done.where = {
        "report": str(page),
        "MLflow": f"fin360 --env {cfg.env} mlflow-ui  (tracking store {cfg['mlflow.tracking_uri']})",
        "lakehouse": cfg.path("lakehouse"),
    }
    return done
