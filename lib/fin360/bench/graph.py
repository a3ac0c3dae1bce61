"""``fin360 bench graph``: connected components and PageRank of the configured graph engine on
a generated graph of N vertices and M edges, timed.

The graph: edge sources uniform over the vertices, destinations skewed towards small ids
(``floor(N * u^3)`` for uniform ``u``), so a few vertices are hubs with tens of thousands of
in-edges, as a payroll account or a shared device is; some vertices get no edge at all.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360.config import Config
from fin360.graph import engine as graph_engine

log = logging.getLogger(__name__)


def synthetic_graph(
    spark: SparkSession, vertices: int, edges: int, seed: int = 7
) -> tuple[DataFrame, DataFrame]:
    v = spark.range(vertices).select(F.col("id"))
    e = spark.range(edges).select(
        F.floor(F.rand(seed) * vertices).cast("long").alias("src"),
        F.floor(F.pow(F.rand(seed + 1), 3) * vertices).cast("long").alias("dst"),
    )
    return v, e


def run(
    spark: SparkSession,
    cfg: Config,
    vertices: int,
    edges: int,
    out_dir: str | None,
    pagerank_iterations: int = 10,
) -> dict:
    """PageRank runs a fixed number of iterations (tolerance 0): with ``n * tol`` as the
    stopping rule, a million vertices would stop after one."""
    engine = graph_engine(spark, cfg)
    v, e = synthetic_graph(spark, vertices, edges)
    e = e.cache()
    e.count()
    results: dict = {
        "engine": engine.name,
        "vertices": vertices,
        "edges": edges,
        "machine": f"{platform.node()} ({spark.sparkContext.defaultParallelism} cores for Spark)",
        "spark_master": spark.sparkContext.master,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    clock = time.monotonic()
    components, rounds = engine.connected_components(v, e)
    stats = components.agg(
        F.countDistinct("component").alias("components"),
    ).first()
    results["connected_components"] = {
        "seconds": round(time.monotonic() - clock, 1),
        "rounds": rounds,
        "components": stats["components"],
    }
    log.info("bench graph connected_components %s", results["connected_components"])
    clock = time.monotonic()
    ranks, iterations = engine.pagerank(
        v,
        e,
        reset=cfg["graph.pagerank_reset"],
        max_iter=pagerank_iterations,
        tol=0.0,
    )
    top = ranks.agg(F.max("pagerank").alias("max"), F.sum("pagerank").alias("sum")).first()
    results["pagerank"] = {
        "seconds": round(time.monotonic() - clock, 1),
        "iterations": iterations,
        "seconds_per_iteration": round((time.monotonic() - clock) / max(iterations, 1), 2),
        "max_rank": top["max"],
        "rank_sum": top["sum"],
    }
    log.info("bench graph pagerank %s", results["pagerank"])
    e.unpersist()
    if out_dir:
        day = datetime.now(UTC).date().isoformat()
        path = Path(out_dir) / f"{day}-{platform.node()}-graph.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        results["written_to"] = str(path)
    return results
