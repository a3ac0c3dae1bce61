"""One SparkSession for the whole test run (local[2], UI off, Delta, UTC), built by the same
factory the jobs use; every test that writes tables gets its own lakehouse folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fin360.config import Config, load_config

# the pseudonymisation secret comes from the environment; tests use a fixed one
os.environ.setdefault("FIN360_PII_KEY", "test-only-pii-key-0123456789abcdef")


def paths(root) -> dict[str, str]:
    return {
        "paths.lakehouse": str(root / "lakehouse"),
        "paths.raw": str(root / "raw"),
        "paths.truth": str(root / "truth"),
        "paths.checkpoints": str(root / "checkpoints"),
        "paths.mlflow_artifacts": str(root / "mlartifacts"),
        "paths.reports": str(root / "reports"),
        "paths.logs": str(root / "logs"),
        "paths.bench_results": str(root / "bench"),
        "paths.lineage": str(root / "lineage" / "openlineage.jsonl"),
        "mlflow.tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
    }


# Spark's warning when a window has no partitionBy: it sorts the whole input in one task
UNPARTITIONED_WINDOW = "No Partition Defined for Window operation"
_spark_logs: list[Path] = []  # the shared session's log folder, once it is started


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from fin360.spark import build_session

    cfg = load_config("test").with_overrides(paths(tmp_path_factory.mktemp("session")))
    session = build_session(cfg)
    _spark_logs.append(Path(cfg.path("logs")))
    yield session
    session.stop()


def _spark_log() -> Path | None:
    files = sorted(_spark_logs[0].glob("spark-*.log")) if _spark_logs else []
    return files[-1] if files else None


@pytest.fixture(autouse=True)
def no_unpartitioned_window():
    """The plan check: a test whose Spark work ran a window without ``partitionBy`` fails (the
    window would move every row of a growing table into one task)."""
    before = _spark_log()
    offset = before.stat().st_size if before else 0
    yield
    log = _spark_log()
    if log is None:
        return
    with log.open("rb") as f:
        f.seek(offset if log == before else 0)
        found = [line for line in f.read().decode(errors="replace").splitlines()
                 if UNPARTITIONED_WINDOW in line]  # fmt: skip
    assert not found, f"an unpartitioned window ran in this test: {found[0]}"


@pytest.fixture
def cfg(tmp_path) -> Config:
    """Test config with a fresh, empty lakehouse and raw folder under ``tmp_path``."""
    return load_config("test").with_overrides(paths(tmp_path))


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A tiny generated data set, shared read-only by the tests: (raw dir, truth dir, manifest)."""
    from fin360.sources.generator import generate

    root = tmp_path_factory.mktemp("generated")
    gen = load_config("test")["generator"]
    manifest = generate(
        root / "raw",
        root / "truth",
        customers=gen["customers"],
        days=gen["days"],
        seed=gen["seed"],
        start_date=gen["start_date"],
        chunk_customers=gen["chunk_customers"],
        workers=1,
    )
    return root / "raw", root / "truth", manifest


@pytest.fixture(scope="session")
def bronze_lake(spark, tmp_path_factory, generated):
    """Bronze landed once from the generated data: (cfg, bronze summary, manifest)."""
    from fin360.bronze import job as bronze

    raw, truth, manifest = generated
    root = tmp_path_factory.mktemp("lake")
    cfg = load_config("test").with_overrides(
        {
            **paths(root),
            "paths.raw": str(raw),
            "paths.truth": str(truth),
            # the generator's injected anomalies stand in for a bank's confirmed cases
            "anomaly.labels": str(truth / "anomalies.parquet"),
        }
    )
    return cfg, bronze.run(spark, cfg), manifest


@pytest.fixture(scope="session")
def silver_lake(spark, bronze_lake):
    """Silver built once on ``bronze_lake``: (cfg, silver summary, manifest). Read only."""
    from fin360.silver import job as silver

    cfg, _, manifest = bronze_lake
    return cfg, silver.run(spark, cfg), manifest


@pytest.fixture(scope="session")
def gold_lake(spark, silver_lake):
    """Gold built once on ``silver_lake`` at the generated data's last day: (cfg, as_of, summary)."""
    from datetime import date

    from fin360.gold import job

    cfg, _, manifest = silver_lake
    as_of = date.fromisoformat(manifest["end_date"])
    return cfg, as_of, job.run(spark, cfg, as_of)


@pytest.fixture(scope="session")
def scored_lake(spark, gold_lake, tmp_path_factory):
    """The three families trained on ``gold_lake`` (champions in a SQLite MLflow store) and the
    lake scored at its as-of date: (cfg, as_of, training results, scoring summary)."""
    from fin360.ml import anomaly, risk, segmentation
    from fin360.scoring import job
    from tests.ml.synthetic import synthetic_loans

    cfg, as_of, _ = gold_lake
    root = tmp_path_factory.mktemp("scoring")
    cfg = cfg.with_overrides(
        {
            "mlflow.tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
            "paths.mlflow_artifacts": str(root / "mlartifacts"),
        }
    )
    trained = {
        "segmentation": segmentation.train(spark, cfg),
        # the tiny lake has too few mature loans: the risk model learns from a synthetic book
        # whose columns are customer_360 features
        "risk": risk.train(spark, cfg, risk.prepared(synthetic_loans(spark))),
        "anomaly": anomaly.train(spark, cfg, as_of=as_of),
    }
    return cfg, as_of, trained, job.run(spark, cfg, as_of)
