"""Customer segmentation: MLlib clustering of ``gold.customer_360``.

One MLlib pipeline: signed log of the (heavy-tailed) features, median imputation, assembly,
standardisation, then a clusterer. Every algorithm of ``segmentation.algorithms`` (KMeans,
BisectingKMeans, GaussianMixture) is fitted for every k in ``k_min..k_max``, each as a child
run under one parent run; the best silhouette wins. Its segments are profiled (size, feature
means against the population), named from that profile ("high balance wealth, high tenure
months"), and given ids that stay stable across retrains: new centroids are matched to the
champion's (Hungarian assignment on the standardised centroids), unmatched ones get new ids.
The fitted pipeline ends in a SQL stage that maps the cluster to ``segment_id`` and
``segment_name``, so the registered model alone scores customers.

The agreement with the generator's planted segments is graded by ``fin360 evaluate``, which
logs it on this run.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import BisectingKMeans, GaussianMixture, KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import Imputer, SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from scipy.optimize import linear_sum_assignment

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config
from fin360.governance import consent
from fin360.logs import stage
from fin360.ml import monitoring, tracking

log = logging.getLogger(__name__)

FAMILY = "segmentation"
SOURCE_TABLE = catalog.GOLD_CUSTOMER_360
CENTROIDS_ARTIFACT = "segment_centroids.json"
SEED = 42
# a standardised segment mean this far from the population's makes it into the segment's name
NAME_THRESHOLD = 0.5


def clusterer(algorithm: str, k: int) -> Any:
    common = {"k": k, "seed": SEED, "featuresCol": "features", "predictionCol": "cluster"}
    if algorithm == "kmeans":
        return KMeans(**common)
    if algorithm == "bisecting_kmeans":
        return BisectingKMeans(**common)
    if algorithm == "gaussian_mixture":
        return GaussianMixture(**common, probabilityCol="cluster_probability")
    raise Fin360Error(
        f"segmentation.algorithms: unknown '{algorithm}' "
        "(kmeans, bisecting_kmeans, gaussian_mixture)"
    )


def preprocessing(features: list[str]) -> Pipeline:
    """Signed log (spend and balances span orders of magnitude), median imputation, scaling."""
    logged = ", ".join(
        f"sign(`{c}`) * ln(1 + abs(cast(`{c}` as double))) AS `{c}__log`" for c in features
    )
    return Pipeline(
        stages=[
            SQLTransformer(statement=f"SELECT *, {logged} FROM __THIS__"),
            Imputer(
                inputCols=[f"{c}__log" for c in features],
                outputCols=[f"{c}__imp" for c in features],
                strategy="median",
            ),
            VectorAssembler(inputCols=[f"{c}__imp" for c in features], outputCol="raw_features"),
            StandardScaler(
                inputCol="raw_features", outputCol="features", withMean=True, withStd=True
            ),
        ]
    )


def segment_mapping(ids: dict[int, int], names: dict[int, str]) -> SQLTransformer:
    """The last stage: cluster index -> stable ``segment_id`` and its ``segment_name``."""
    id_cases = " ".join(f"WHEN {c} THEN {ids[c]}" for c in sorted(ids))
    name_cases = " ".join(
        "WHEN {} THEN '{}'".format(c, names[c].replace("'", "''")) for c in sorted(names)
    )
    return SQLTransformer(
        statement=(
            f"SELECT *, CAST(CASE cluster {id_cases} END AS INT) AS segment_id, "
            f"CASE cluster {name_cases} END AS segment_name, "
            # MLflow's pyfunc interface returns the column named prediction
            f"CAST(CASE cluster {id_cases} END AS DOUBLE) AS prediction FROM __THIS__"
        )
    )


def load_features(
    spark: SparkSession, cfg: Config, as_of: date | None = None
) -> tuple[DataFrame, date]:
    """The customers of one ``gold.customer_360`` date (default: the latest) who may be in a
    training set (``consent.gates.training``)."""
    if not lake.exists(spark, cfg, SOURCE_TABLE):
        raise Fin360Error(f"{SOURCE_TABLE} missing: run `fin360 run gold --as-of ...` first")
    table = lake.read(spark, cfg, SOURCE_TABLE)
    as_of = as_of or table.agg(F.max("as_of_date")).first()[0]
    features = cfg["segmentation.features"]
    missing = sorted(set(features) - set(table.columns))
    if missing:
        raise Fin360Error(f"segmentation.features not in {SOURCE_TABLE}: {missing}")
    on_date = table.where(
        (F.col("as_of_date") == F.lit(as_of)) & consent.allowed(cfg, "training", table.columns)
    )
    data = on_date.select("customer_id", *(F.col(c).cast("double").alias(c) for c in features))
    return data, as_of


def silhouette(predictions: DataFrame) -> float:
    """Mean silhouette (squared Euclidean) of the clusters; -1 when fewer than two are used."""
    if predictions.select("cluster").distinct().limit(2).count() < 2:
        return -1.0
    return ClusteringEvaluator(featuresCol="features", predictionCol="cluster").evaluate(
        predictions
    )


def profile(predictions: DataFrame, features: list[str]) -> pd.DataFrame:
    """Per cluster: size, share, raw feature means, and the standardised centroid (``z_*``)."""
    z = vector_to_array("features")
    rows = (
        predictions.groupBy("cluster")
        .agg(
            F.count(F.lit(1)).alias("size"),
            *(F.avg(c).alias(c) for c in features),
            *(F.avg(z[i]).alias(f"z_{c}") for i, c in enumerate(features)),
        )
        .toPandas()
        .sort_values("cluster")
        .set_index("cluster")
    )
    rows["share"] = rows["size"] / rows["size"].sum()
    return rows


def _label(feature: str) -> str:
    for suffix in ("_30d", "_90d", "_365d"):
        feature = feature.removesuffix(suffix)
    return feature.replace("_", " ")


def segment_names(prof: pd.DataFrame, features: list[str]) -> dict[int, str]:
    """Name each cluster by the (up to) two features that set it furthest from the population."""
    names: dict[int, str] = {}
    for cluster, row in prof.iterrows():
        z = pd.Series({c: row[f"z_{c}"] for c in features})
        strongest = z[z.abs() >= NAME_THRESHOLD].abs().sort_values(ascending=False).index[:2]
        words = [f"{'high' if z[c] > 0 else 'low'} {_label(c)}" for c in strongest]
        name = ", ".join(words) if words else "typical"
        names[int(cluster)] = name if name not in names.values() else f"{name} ({cluster})"
    return names


def stable_ids(
    centroids: np.ndarray, previous: dict[str, Any] | None, features: list[str]
) -> dict[int, int]:
    """Cluster index -> segment id: the id of the previous champion's closest centroid (one to
    one, minimum total distance), new ids for clusters left over."""
    if not previous or previous.get("features") != features:
        return {c: c for c in range(len(centroids))}
    old_ids = [int(i) for i in previous["segments"]]
    old = np.array([previous["segments"][str(i)] for i in old_ids])
    cost = np.linalg.norm(centroids[:, None, :] - old[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    ids = {int(r): old_ids[c] for r, c in zip(rows, cols, strict=True)}
    fresh = iter(range(max(old_ids) + 1, max(old_ids) + 1 + len(centroids)))
    return {c: ids[c] if c in ids else next(fresh) for c in range(len(centroids))}


def _previous_centroids(cfg: Config) -> dict[str, Any] | None:
    try:
        _, _, run_id = tracking.load(cfg, FAMILY, tracking.CHAMPION)
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{CENTROIDS_ARTIFACT}")
    except (Fin360Error, MlflowException, OSError):
        return None


def _profile_plot(prof: pd.DataFrame, features: list[str], names: dict[int, str]) -> plt.Figure:
    z = prof[[f"z_{c}" for c in features]].to_numpy()
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(features), 1.5 + 0.6 * len(prof)))
    image = ax.imshow(z, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(len(features)), [_label(c) for c in features], rotation=60, ha="right")
    ax.set_yticks(
        range(len(prof)),
        [f"{names[c]} ({prof.loc[c, 'share']:.0%})" for c in prof.index],
    )
    ax.set_title("Segment profiles: mean vs. population (standard deviations)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def _silhouette_plot(results: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    for algorithm, group in results.groupby("algorithm"):
        ax.plot(group["k"], group["silhouette"], "o-", label=algorithm)
    ax.set(xlabel="k", ylabel="silhouette", title="Silhouette by algorithm and k")
    ax.legend()
    return fig


def train(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """Fit every candidate as a child run, keep the best silhouette, profile, name, register."""
    client = tracking.setup(cfg)
    features = cfg["segmentation.features"]
    ks = range(cfg["segmentation.k_min"], cfg["segmentation.k_max"] + 1)
    algorithms = cfg["segmentation.algorithms"]
    for algorithm in algorithms:
        clusterer(algorithm, 2)  # a misspelt algorithm fails before any work
    inputs = [SOURCE_TABLE] if data is None else []
    if data is None:
        data, _ = load_features(spark, cfg)
    counts = data.agg(*(F.count(c).alias(c) for c in features)).first().asDict()
    unobserved = [c for c in features if not counts[c]]  # nothing to impute them from
    features = [c for c in features if counts[c]]
    if len(features) < 2:
        raise Fin360Error(f"segmentation needs 2+ observed features; all null: {unobserved}")
    prep = preprocessing(features).fit(data)
    prepared = prep.transform(data).cache()
    try:
        rows = prepared.count()
        if rows < 2 * max(ks):
            raise Fin360Error(f"{rows} customers are too few to segment into {max(ks)} segments")
        experiment = tracking.experiment_id(cfg, FAMILY)
        with mlflow.start_run(experiment_id=experiment) as parent:
            tracking.log_lineage(spark, cfg, FAMILY, inputs, rows)
            mlflow.log_params(
                {
                    "features": ",".join(features),
                    "features.unobserved": ",".join(unobserved),
                    "k_range": f"{min(ks)}-{max(ks)}",
                    "seed": SEED,
                }
            )
            results, best = [], None
            grid = [(algorithm, k) for algorithm in algorithms for k in ks]
            for i, (algorithm, k) in enumerate(grid, 1):
                with (
                    stage(
                        log, FAMILY, candidate=algorithm, k=k, progress=f"{i}/{len(grid)}"
                    ) as out,
                    mlflow.start_run(
                        experiment_id=experiment, run_name=f"{algorithm}-k{k}", nested=True
                    ),
                ):
                    model = clusterer(algorithm, k).fit(prepared)
                    score = silhouette(model.transform(prepared))
                    mlflow.log_params({"algorithm": algorithm, "k": k})
                    mlflow.log_metric("silhouette", score)
                    out.update(silhouette=f"{score:.4f}")
                results.append({"algorithm": algorithm, "k": k, "silhouette": score})
                if best is None or score > best[0]:
                    best = (score, algorithm, k, model)
            score, algorithm, k, model = best
            predictions = model.transform(prepared)
            prof = profile(predictions, features)
            centroids = prof[[f"z_{c}" for c in features]].to_numpy()
            # profiles hold the clusters that got customers; a cluster left empty (KMeans and
            # mixtures can leave one) still gets an id and a name, so scoring never misses one
            row_ids = stable_ids(centroids, _previous_centroids(cfg), features)
            ids = {int(c): row_ids[i] for i, c in enumerate(prof.index)}
            names = segment_names(prof, features)
            for c in sorted(set(range(k)) - set(ids)):
                ids[c], names[c] = max(ids.values()) + 1, f"empty at training ({c})"
            final = PipelineModel(stages=[*prep.stages, model, segment_mapping(ids, names)])
            metrics = {"silhouette": score, "k": float(k)}
            mlflow.log_params({"best.algorithm": algorithm, "best.k": k})
            mlflow.log_metrics(metrics)
            table = prof.assign(
                segment_id=[ids[c] for c in prof.index], segment_name=[names[c] for c in prof.index]
            )
            mlflow.log_table(table.reset_index(), "segment_profiles.json")
            mlflow.log_text(table.to_csv(), "segment_profiles.csv")
            mlflow.log_dict(
                {"features": features, "segments": {str(ids[c]): list(centroids[i]) for i, c in enumerate(prof.index)}},
                CENTROIDS_ARTIFACT,
            )  # fmt: skip
            for file, figure in {
                "segment_profiles.png": _profile_plot(prof, features, names),
                "silhouette_by_k.png": _silhouette_plot(pd.DataFrame(results)),
            }.items():
                mlflow.log_figure(figure, file)
                plt.close(figure)
            assigned = final.transform(data)
            mlflow.log_dict(
                monitoring.reference(
                    assigned, ["segment_id", *features], cfg["monitoring.psi_bins"]
                ),
                monitoring.REFERENCE_ARTIFACT,
            )
            example = data.select(*features).limit(5).toPandas().astype("float64")
            output = assigned.select("segment_id", "segment_name").limit(5).toPandas()
            version = tracking.log_and_register(client, cfg, FAMILY, final, example, output)
    finally:
        prepared.unpersist()
    log.info(
        "segmentation run=%s algorithm=%s k=%d silhouette=%.4f version=%s",
        parent.info.run_id, algorithm, k, score, version,
    )  # fmt: skip
    return {
        "run_id": parent.info.run_id,
        "version": version,
        "algorithm": algorithm,
        "segments": {ids[c]: names[c] for c in prof.index},
        "features_unobserved": unobserved,
        **metrics,
    }


def promote(spark: SparkSession, cfg: Config, data: DataFrame | None = None) -> dict[str, Any]:
    """The challenger becomes champion only with a higher silhouette on the same customers."""
    if data is None:
        data, _ = load_features(spark, cfg)
    return tracking.promote(
        cfg, FAMILY, "silhouette", lambda model: {"silhouette": silhouette(model.transform(data))}
    )
