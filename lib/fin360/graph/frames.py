"""Graph algorithms on Spark DataFrames, with built-in functions only.

Vertices are a frame with an ``id`` column; edges a frame with ``src``, ``dst`` and, for
PageRank, an optional ``weight``. Ids may be of any orderable type (strings, longs); every
result is keyed by ``id``. No edge or vertex is collected to the driver: each iteration is a
few joins and aggregations, persisted, and checkpointed every ``checkpoint_every`` rounds so
that the plan's lineage stays short however many rounds a graph needs.

Skew: aggregations by vertex combine map-side, so a hub's edges are summed in every task
before the shuffle; the joins of edges to per-vertex values are sort-merge joins that Spark's
adaptive execution splits when one vertex's partition is much larger than the others
(``spark.sql.adaptive.skewJoin.enabled``, on by default). Triangle counting orients each edge
from the lower- to the higher-degree end, so a hub enumerates no wedges of its own. Shared
identifiers held by very many customers are capped before a graph is built (see
``fin360.gold.graph``).
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from fin360.frames import truncated


class Rounds:
    """Persists each round's frame and checkpoints every ``every`` rounds (reliable checkpoint
    when the session has a checkpoint folder, else a local one), so an iteration's lineage
    never grows with the number of rounds. A round's frame is released two rounds later: by
    then the caller's action on the round after it has read it, and releasing it sooner would
    make Spark recompute the whole chain."""

    def __init__(self, every: int = 3):
        self.every, self.count, self._held = every, 0, []

    def keep(self, df: DataFrame) -> DataFrame:
        self.count += 1
        if self.count % self.every == 0:
            df = truncated(df)
        else:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._held.append((self.count, df))
        for _, old in [h for h in self._held if h[0] < self.count - 1]:
            old.unpersist()
        self._held = [h for h in self._held if h[0] >= self.count - 1]
        return df

    def done(self, df: DataFrame) -> DataFrame:
        """The algorithm's result (computed from the last rounds) cut from its lineage, and
        every round's frame released: nothing stays in memory once the caller has it."""
        out = truncated(df)
        for _, held in self._held:
            held.unpersist()
        self._held = []
        return out


def undirected(edges: DataFrame) -> DataFrame:
    """Simple undirected edges ``(src, dst)`` with ``src < dst``: no self-loops, no repeats."""
    return (
        edges.where(F.col("src") != F.col("dst"))
        .select(F.least("src", "dst").alias("src"), F.greatest("src", "dst").alias("dst"))
        .distinct()
    )


def _both_ways(edges: DataFrame) -> DataFrame:
    return edges.select("src", "dst").unionByName(
        edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))
    )


# --------------------------------------------------------------------- connected components


def _large_star(edges: DataFrame) -> DataFrame:
    """Each vertex u links its larger neighbours to the smallest of u and its neighbours."""
    both = _both_ways(edges)
    smallest = both.groupBy("src").agg(F.min("dst").alias("m"))
    return (
        both.join(smallest, "src", "inner")
        .where(F.col("dst") > F.col("src"))
        .select(F.col("dst").alias("src"), F.least("m", "src").alias("dst"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Each vertex u links itself and its smaller neighbours to the smallest of them."""
    down = edges.select(
        F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst")
    )  # u -> a smaller neighbour
    smallest = down.groupBy("src").agg(F.min("dst").alias("m"))
    linked = (
        down.join(smallest, "src", "inner")
        .where(F.col("dst") != F.col("m"))
        .select(F.col("dst").alias("src"), F.col("m").alias("dst"))
    )
    return linked.unionByName(smallest.select("src", F.col("m").alias("dst"))).distinct()


def _signature(edges: DataFrame) -> tuple[int, int]:
    """Edge count and a sum of edge hashes: equal signatures in consecutive rounds mean the edge
    set did not change (a 64-bit hash sum colliding by chance is not a practical concern)."""
    row = edges.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.xxhash64("src", "dst").cast("decimal(38,0)")).alias("h"),
    ).first()
    return row["n"], row["h"]


def connected_components(
    vertices: DataFrame, edges: DataFrame, *, checkpoint_every: int = 2, max_rounds: int = 200
) -> tuple[DataFrame, int]:
    """Connected components by alternating large-star and small-star rounds (Kiveris et al.,
    "Connected Components in MapReduce and Beyond", SoCC 2014) until the edge set stops
    changing; it then is a star per component around its smallest id. Returns ``(id,
    component)`` with ``component`` the smallest id of the vertex's component (a vertex with no
    edge is its own component), and the number of rounds."""
    rounds = Rounds(checkpoint_every)
    current = rounds.keep(truncated(undirected(edges)))
    before = _signature(current)
    while True:
        if rounds.count > max_rounds:
            raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
        current = rounds.keep(_small_star(_large_star(current)))
        after = _signature(current)
        if after == before:
            break
        before = after
    parent = rounds.done(current.select(F.col("src").alias("id"), F.col("dst").alias("component")))
    out = (
        vertices.select("id")
        .distinct()
        .join(parent, "id", "left")
        .select("id", F.coalesce("component", "id").alias("component"))
    )
    return out, rounds.count - 1


# --------------------------------------------------------------------------------- PageRank


def pagerank(
    vertices: DataFrame,
    edges: DataFrame,
    *,
    reset: float = 0.15,
    max_iter: int = 100,
    tol: float = 1e-6,
    checkpoint_every: int = 5,
) -> tuple[DataFrame, int]:
    """PageRank by power iteration; ranks sum to 1.

    Edge weights: repeated ``(src, dst)`` edges are summed, and a vertex passes its rank to
    its out-neighbours in proportion to the weights (``weight`` column, 1 when absent).
    Dangling vertices (no out-edge) give their rank to every vertex uniformly, as networkx
    does, so no rank is lost. Iterates until the L1 change of the rank vector is below
    ``n * tol`` (networkx's criterion) or ``max_iter`` rounds. Returns ``(id, pagerank)`` and
    the number of iterations."""
    damping = 1.0 - reset
    weight = F.col("weight") if "weight" in edges.columns else F.lit(1.0)
    summed = edges.groupBy("src", "dst").agg(F.sum(weight.cast("double")).alias("w"))
    out_weight = summed.groupBy("src").agg(F.sum("w").alias("out"))
    transition = truncated(
        summed.join(out_weight, "src", "inner").select(
            "src", "dst", (F.col("w") / F.col("out")).alias("p")
        )
    )
    ids = truncated(vertices.select("id").distinct())
    senders = transition.select(F.col("src").alias("id")).distinct()
    n = ids.count()
    if n == 0:
        return ids.withColumn("pagerank", F.lit(None).cast("double")), 0
    rounds = Rounds(checkpoint_every)
    ranks = rounds.keep(
        ids.join(senders, "id", "left_anti")
        .select("id", F.lit(True).alias("dangling"))
        .unionByName(senders.select("id", F.lit(False).alias("dangling")))
        .join(ids, "id", "inner")  # an edge to or from an unknown vertex is ignored
        .withColumn("rank", F.lit(1.0 / n))
    )
    dangling_mass = ranks.agg(F.sum(F.when(F.col("dangling"), F.col("rank")))).first()[0] or 0.0
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        received = (
            transition.join(ranks.select(F.col("id").alias("src"), "rank"), "src", "inner")
            .groupBy(F.col("dst").alias("id"))
            .agg(F.sum(F.col("p") * F.col("rank")).alias("received"))
        )
        base = reset / n + damping * dangling_mass / n
        ranks = rounds.keep(
            ranks.join(received, "id", "left").select(
                "id",
                "dangling",
                (F.lit(base) + F.lit(damping) * F.coalesce("received", F.lit(0.0))).alias("rank"),
                F.col("rank").alias("previous"),
            )
        )
        stats = ranks.agg(
            F.sum(F.abs(F.col("rank") - F.col("previous"))).alias("change"),
            F.sum(F.when(F.col("dangling"), F.col("rank"))).alias("dangling"),
        ).first()
        dangling_mass = stats["dangling"] or 0.0
        ranks = ranks.drop("previous")
        if stats["change"] < n * tol:
            break
    return rounds.done(ranks.select("id", F.col("rank").alias("pagerank"))), iterations


# ------------------------------------------------------------------------ label propagation


def label_propagation(
    vertices: DataFrame, edges: DataFrame, *, max_iter: int = 10, checkpoint_every: int = 3
) -> tuple[DataFrame, int]:
    """Synchronous label propagation (Raghavan, Albert and Kumara 2007) on the undirected simple
    graph: every vertex starts with its own id as label; in each round every vertex takes the
    label most frequent among its neighbours' labels of the previous round, the smallest such
    label on a tie; a vertex without neighbours keeps its label. Stops when no label changes or
    after ``max_iter`` rounds (the synchronous rule can oscillate). Returns ``(id, label)`` and
    the number of rounds."""
    from pyspark.sql import Window

    neighbours = truncated(_both_ways(undirected(edges)))
    rounds = Rounds(checkpoint_every)
    labels = rounds.keep(
        truncated(vertices.select("id").distinct().withColumn("label", F.col("id")))
    )
    best = Window.partitionBy("src").orderBy(F.desc("votes"), F.asc("label"))
    done = 0
    for done in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        votes = (
            neighbours.join(labels.select(F.col("id").alias("dst"), "label"), "dst", "inner")
            .groupBy("src", "label")
            .agg(F.count(F.lit(1)).alias("votes"))
        )
        winner = (
            votes.withColumn("_rank", F.row_number().over(best))
            .where(F.col("_rank") == 1)
            .select(F.col("src").alias("id"), F.col("label").alias("new"))
        )
        labels = rounds.keep(
            labels.join(winner, "id", "left").select(
                "id",
                F.coalesce("new", "label").alias("label"),
                (F.col("new").isNotNull() & (F.col("new") != F.col("label"))).alias("changed"),
            )
        )
        changed = labels.where("changed").limit(1).count()
        labels = labels.drop("changed")
        if not changed:
            break
    return rounds.done(labels), done


# ------------------------------------------------------------------------ triangles, cycles


def triangle_count(vertices: DataFrame, edges: DataFrame) -> DataFrame:
    """Triangles of the undirected simple graph each vertex is on: ``(id, triangles)``.

    Each edge is oriented from its lower- to its higher-ranked end, rank being (degree, id);
    every triangle is then found once, from its lowest-ranked vertex, as two out-edges closed by
    a third, and no vertex enumerates more than O(sqrt(edges)) wedges."""
    simple = undirected(edges)
    degree = _both_ways(simple).groupBy("src").agg(F.count(F.lit(1)).alias("deg"))
    ends = simple.join(
        degree.select(F.col("src"), F.col("deg").alias("deg_s")), "src", "inner"
    ).join(degree.select(F.col("src").alias("dst"), F.col("deg").alias("deg_d")), "dst", "inner")
    lower = (F.col("deg_s") < F.col("deg_d")) | (
        (F.col("deg_s") == F.col("deg_d")) & (F.col("src") < F.col("dst"))
    )
    oriented = ends.select(
        F.when(lower, F.col("src")).otherwise(F.col("dst")).alias("x"),
        F.when(lower, F.col("dst")).otherwise(F.col("src")).alias("y"),
        F.when(lower, F.col("deg_d")).otherwise(F.col("deg_s")).alias("deg_y"),
    )
    a, b = oriented.alias("a"), oriented.alias("b")
    wedges = a.join(b, F.col("a.x") == F.col("b.x"), "inner").where(
        (F.col("a.deg_y") < F.col("b.deg_y"))
        | ((F.col("a.deg_y") == F.col("b.deg_y")) & (F.col("a.y") < F.col("b.y")))
    )
    closing = oriented.select(F.col("x").alias("cx"), F.col("y").alias("cy"))
    triangles = wedges.join(
        closing,
        (F.col("a.y") == F.col("cx")) & (F.col("b.y") == F.col("cy")),
        "inner",
    ).select(F.array(F.col("a.x"), F.col("a.y"), F.col("b.y")).alias("members"))
    per_vertex = triangles.select(F.explode("members").alias("id")).groupBy("id").count()
    out = (
        vertices.select("id")
        .distinct()
        .join(per_vertex, "id", "left")
        .select("id", F.coalesce("count", F.lit(0)).alias("triangles"))
    )
    return out


def cycles(edges: DataFrame, length: int) -> DataFrame:
    """Directed simple cycles of ``length`` (3 or 4) distinct vertices: ``(cycle)``, an array
    starting at the cycle's smallest id, so each cycle is reported once, not once per
    rotation (the reverse cycle is another directed cycle)."""
    if length not in (3, 4):
        raise ValueError(f"cycle length must be 3 or 4, got {length}")
    e = edges.where(F.col("src") != F.col("dst")).select("src", "dst").distinct()

    def hop(i: int) -> DataFrame:
        return e.select(F.col("src").alias(f"v{i}"), F.col("dst").alias(f"v{i + 1}"))

    path = hop(0).where(F.col("v0") < F.col("v1"))
    for i in range(1, length - 1):
        nxt = F.col(f"v{i + 1}")
        distinct: Column = nxt > F.col("v0")
        for j in range(1, i + 1):
            distinct = distinct & (nxt != F.col(f"v{j}"))
        path = path.join(hop(i), f"v{i}", "inner").where(distinct)
    last = e.select(F.col("src").alias(f"v{length - 1}"), F.col("dst").alias("v0"))
    closed = path.join(last, [f"v{length - 1}", "v0"], "inner")
    return closed.select(F.array(*(f"v{i}" for i in range(length))).alias("cycle"))
