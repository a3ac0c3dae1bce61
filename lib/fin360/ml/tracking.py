"""MLflow: the tracking store and model registry from config, experiments per model family,
run lineage (input Delta versions, code version), and champion/challenger aliases.

The embedded default is a SQLite tracking store with a registry and a local artifact root;
the cluster and docker environments point ``mlflow.tracking_uri`` at an MLflow server.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pyspark.sql import SparkSession

from fin360 import Fin360Error, code_version, lake
from fin360.config import Config

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


def model_name(cfg: Config, family: str) -> str:
    return f"{cfg['mlflow.experiment_prefix']}-{family}"


def experiment_id(cfg: Config, family: str) -> str:
    """The family's experiment, created on first use with the configured artifact root."""
    name = model_name(cfg, family)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    root = cfg.path("mlflow_artifacts")
    location = root if "://" in root else Path(root).resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=f"{location}/{name}")


def log_lineage(spark: SparkSession, cfg: Config, tables: list[str], rows: int) -> None:
    """Tag the active run with the Delta versions it read, the code version and the data scale."""
    for table in tables:
        mlflow.log_param(f"input.{table}.version", lake.version(spark, cfg, table))
    mlflow.set_tags({"fin360.code_version": code_version(), "fin360.env": cfg.env})
    mlflow.log_param("data.rows", rows)


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
