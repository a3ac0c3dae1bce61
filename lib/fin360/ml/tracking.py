"""MLflow: the tracking store and model registry from config, experiments per model family,
run lineage (input Delta versions, code version), and champion/challenger aliases.

The embedded default is a SQLite tracking store with a registry and a local artifact root;
the cluster and docker environments point ``mlflow.tracking_uri`` at an MLflow server.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import mlflow.spark
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from fin360 import Fin360Error, code_version, lake
from fin360.config import Config
from fin360.governance import lineage

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


def setup(cfg: Config) -> MlflowClient:
    uri = cfg["mlflow.tracking_uri"]
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def is_server(cfg: Config) -> bool:
    return cfg["mlflow.tracking_uri"].startswith(("http://", "https://"))


def model_name(cfg: Config, family: str) -> str:
    return f"{cfg['mlflow.experiment_prefix']}-{family}"


def experiment_id(cfg: Config, family: str) -> str:
    """The family's experiment, created on first use. A tracking server keeps the artifacts where
    it was told to (``--artifacts-destination``, served to clients through the server); the
    embedded store puts them under ``paths.mlflow_artifacts``."""
    name = model_name(cfg, family)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    if is_server(cfg):
        return mlflow.create_experiment(name)
    root = cfg.path("mlflow_artifacts")
    location = root if "://" in root else Path(root).resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=f"{location}/{name}")


def run_tags(cfg: Config, run_type: str) -> dict[str, str]:
    """Tags of every fin360 run; ``fin360.run_type`` (training, promotion, monitoring, report)
    lets the UI and ``mlflow.search_runs`` tell the runs of an experiment apart."""
    return {
        "fin360.run_type": run_type,
        "fin360.code_version": code_version(),
        "fin360.env": cfg.env,
    }


def log_lineage(
    spark: SparkSession, cfg: Config, family: str, tables: list[str], rows: int
) -> None:
    """Tag the active run with the Delta versions it read, the code version and the data scale,
    and emit the training's OpenLineage ``START`` event (``COMPLETE`` follows in
    :func:`log_and_register`)."""
    versions = {table: lake.version(spark, cfg, table) for table in tables}
    for table, version in versions.items():
        mlflow.log_param(f"input.{table}.version", version)
    mlflow.set_tags({**run_tags(cfg, "training")})
    mlflow.log_param("data.rows", rows)
    _training_event(cfg, family, "START")


def _training_event(cfg: Config, family: str, state: str, models: list[str] | None = None) -> None:
    """The active training run's OpenLineage event: its MLflow run, the tables it read."""
    run = mlflow.active_run()
    params = mlflow.get_run(run.info.run_id).data.params
    read = {
        key[len("input.") : -len(".version")]: int(value)
        for key, value in params.items()
        if key.startswith("input.") and key.endswith(".version") and value not in ("None", "")
    }
    lineage.emit(
        cfg,
        f"train_{family}",
        run.info.run_id,
        state,
        lineage.Datasets(inputs=read),
        tags={"mlflow_run_id": run.info.run_id, "mlflow_experiment_id": run.info.experiment_id},
        models=models,
    )


def register_challenger(client: MlflowClient, name: str, model_uri: str) -> str:
    """Register a model version as ``challenger``; the family's first model is also ``champion``."""
    version = mlflow.register_model(model_uri, name).version
    client.set_registered_model_alias(name, CHALLENGER, version)
    if alias_version(client, name, CHAMPION) is None:
        client.set_registered_model_alias(name, CHAMPION, version)
    return str(version)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def require_alias(client: MlflowClient, name: str, alias: str) -> str:
    version = alias_version(client, name, alias)
    if version is None:
        raise Fin360Error(f"registered model {name} has no '{alias}' version: train it first")
    return version


def log_and_register(
    client: MlflowClient,
    cfg: Config,
    family: str,
    model: PipelineModel,
    example: pd.DataFrame,
    output: pd.DataFrame,
) -> str:
    """Log the fitted Spark pipeline with its signature and input example into the active run,
    register it as the family's ``challenger``; returns the new version.

    Integer inputs are declared as doubles: a count feature is null for a customer without
    that source, and an integer column could not carry it. Outputs (a cluster id, a label) are
    never missing, so their integer type stays."""
    example = example.astype({c: "float64" for c in example.select_dtypes("integer").columns})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        outputs = infer_signature(output).inputs
    info = mlflow.spark.log_model(
        model,
        artifact_path="model",
        signature=ModelSignature(inputs=infer_signature(example).inputs, outputs=outputs),
        input_example=example,
        # built-in MLlib stages only: pyspark (MLflow adds itself). Left to infer them, MLflow
        # loads the model in a subprocess with a Spark JVM of its own: logging a risk model
        # took 32.2 s instead of 7.6 s (2026-12-07, tests' size, this 2-core machine)
        pip_requirements=mlflow.spark.get_default_pip_requirements(),
    )
    version = register_challenger(client, model_name(cfg, family), info.model_uri)
    _training_event(cfg, family, "COMPLETE", [f"models:/{model_name(cfg, family)}/{version}"])
    return version


def load(cfg: Config, family: str, alias: str) -> tuple[PipelineModel, str, str]:
    """The native Spark model behind an alias, with its version and the run that logged it."""
    client = setup(cfg)
    name = model_name(cfg, family)
    version = require_alias(client, name, alias)
    run_id = client.get_model_version(name, version).run_id
    return mlflow.spark.load_model(f"models:/{name}@{alias}"), version, run_id


def promote(
    cfg: Config,
    family: str,
    primary: str,
    evaluate: Callable[[PipelineModel], dict[str, float]],
    guard: Callable[[dict[str, float]], str | None] = lambda metrics: None,
) -> dict[str, Any]:
    """Move ``champion`` to the challenger only if it beats the champion on the ``primary``
    metric, both evaluated now on the same data, and ``guard`` finds nothing against it (it
    returns the reason to refuse, or None). The decision and both figures are logged."""
    client = setup(cfg)
    name = model_name(cfg, family)
    versions = {alias: require_alias(client, name, alias) for alias in (CHAMPION, CHALLENGER)}
    results = {
        alias: evaluate(mlflow.spark.load_model(f"models:/{name}@{alias}"))
        for alias in (CHAMPION, CHALLENGER)
    }
    champion, challenger = results[CHAMPION][primary], results[CHALLENGER][primary]
    refusal = (
        "challenger is the champion"
        if versions[CHAMPION] == versions[CHALLENGER]
        else f"{primary} {challenger:.4f} does not beat {champion:.4f}"
        if not challenger > champion
        else guard(results[CHALLENGER])
    )
    promoted = refusal is None
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, versions[CHALLENGER])
    decision = {
        "promoted": promoted,
        "reason": refusal or f"{primary} {challenger:.4f} beats {champion:.4f}",
        "champion_version": versions[CHAMPION],
        "challenger_version": versions[CHALLENGER],
        f"champion_{primary}": champion,
        f"challenger_{primary}": challenger,
    }
    with mlflow.start_run(
        experiment_id=experiment_id(cfg, family),
        run_name="promotion",
        tags=run_tags(cfg, "promotion"),
    ):
        mlflow.log_params({k: v for k, v in decision.items() if not isinstance(v, float)})
        mlflow.log_metrics({k: v for k, v in decision.items() if isinstance(v, float)})
        mlflow.log_metric("promoted", float(promoted))
    log.info(
        "promotion family=%s promoted=%s champion=%s challenger=%s reason=%s",
        family, promoted, versions[CHAMPION], versions[CHALLENGER], decision["reason"],
    )  # fmt: skip
    return decision
