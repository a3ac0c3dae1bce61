"""Graph algorithms for gold and entity resolution: one interface, two engines.

``engine(spark, cfg)`` gives the engine ``spark.graph_engine`` asks for:

- ``dataframe``: fin360's own algorithms on Spark DataFrames (``fin360.graph.frames``), which
  run wherever Spark does;
- ``graphframes``: GraphFrames (``connectedComponents``, ``pageRank``, ``labelPropagation``,
  ``triangleCount``, ``find``); its jar must be loaded in the session, else a clear error;
- ``auto`` (default): GraphFrames when its jar is loaded, the DataFrame engine otherwise.

Every method takes a vertex frame with an ``id`` column and an edge frame with ``src`` and
``dst`` (and ``weight`` for PageRank), and returns a frame keyed by ``id`` (cycles: one row per
cycle) plus, for the iterative algorithms, the number of rounds it took.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error
from fin360.config import Config
from fin360.graph import frames

log = logging.getLogger(__name__)


class DataFrameEngine:
    name = "dataframe"

    def connected_components(self, vertices: DataFrame, edges: DataFrame):
        return frames.connected_components(vertices, edges)

    def pagerank(
        self, vertices: DataFrame, edges: DataFrame, *, reset: float, max_iter: int, tol: float
    ):
        return frames.pagerank(vertices, edges, reset=reset, max_iter=max_iter, tol=tol)

    def label_propagation(self, vertices: DataFrame, edges: DataFrame, *, max_iter: int):
        return frames.label_propagation(vertices, edges, max_iter=max_iter)

    def triangle_count(self, vertices: DataFrame, edges: DataFrame) -> DataFrame:
        return frames.triangle_count(vertices, edges)

    def cycles(self, edges: DataFrame, length: int) -> DataFrame:
        return frames.cycles(edges, length)


@dataclass
class GraphFramesEngine:
    """GraphFrames, normalised to the DataFrame engine's conventions: components are named by
    their smallest id, PageRank sums to 1, triangles and labels keyed by ``id``. GraphX's
    PageRank drops the rank of dangling vertices before normalising, so the two engines agree
    exactly only on graphs where every vertex has an out-edge."""

    name = "graphframes"

    def _graph(self, vertices: DataFrame, edges: DataFrame):
        from graphframes import GraphFrame

        return GraphFrame(vertices.select("id").distinct(), edges)

    def connected_components(self, vertices: DataFrame, edges: DataFrame):
        found = self._graph(vertices, frames.undirected(edges)).connectedComponents()
        smallest = found.groupBy("component").agg(F.min("id").alias("root"))
        out = found.join(smallest, "component", "inner").select(
            "id", F.col("root").alias("component")
        )
        return out, None

    def pagerank(
        self, vertices: DataFrame, edges: DataFrame, *, reset: float, max_iter: int, tol: float
    ):
        ranked = self._graph(vertices, edges).pageRank(resetProbability=reset, tol=tol)
        total = ranked.vertices.agg(F.sum("pagerank")).first()[0] or 1.0
        return ranked.vertices.select("id", (F.col("pagerank") / total).alias("pagerank")), max_iter

    def label_propagation(self, vertices: DataFrame, edges: DataFrame, *, max_iter: int):
        graph = self._graph(vertices, frames.undirected(edges))
        return graph.labelPropagation(maxIter=max_iter).select("id", "label"), max_iter

    def triangle_count(self, vertices: DataFrame, edges: DataFrame) -> DataFrame:
        found = self._graph(vertices, frames.undirected(edges)).triangleCount()
        return found.select("id", F.col("count").alias("triangles"))

    def cycles(self, edges: DataFrame, length: int) -> DataFrame:
        graph = self._graph(
            edges.select(F.col("src").alias("id")).union(edges.select(F.col("dst").alias("id"))),
            edges.where(F.col("src") != F.col("dst")).select("src", "dst").distinct(),
        )
        names = [f"v{i}" for i in range(length)]
        pattern = "; ".join(
            f"({a})-[]->({b})" for a, b in zip(names, names[1:] + names[:1], strict=True)
        )
        found = graph.find(pattern)
        first = F.col("v0.id")
        keep = F.lit(True)
        for i, a in enumerate(names):
            if i:
                keep = keep & (F.col(f"{a}.id") > first)
            for b in names[i + 1 :]:
                keep = keep & (F.col(f"{a}.id") != F.col(f"{b}.id"))
        return found.where(keep).select(F.array(*(f"{n}.id" for n in names)).alias("cycle"))


def engine(spark: SparkSession, cfg: Config) -> DataFrameEngine | GraphFramesEngine:
    from fin360.spark import graph_engine_mode, graphframes_enabled

    mode = graph_engine_mode(cfg)
    if mode == "dataframe":
        return DataFrameEngine()
    loaded = graphframes_enabled(spark)
    if mode == "graphframes" and not loaded:
        raise Fin360Error(
            "spark.graph_engine is 'graphframes' but the GraphFrames jar is not loaded in this "
            "session: add it to spark.packages (or --packages), or set spark.graph_engine: auto"
        )
    return GraphFramesEngine() if loaded else DataFrameEngine()
