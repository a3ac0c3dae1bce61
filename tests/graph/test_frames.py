"""fin360's DataFrame graph engine against networkx (the reference, a test dependency only) on
generated graphs: random, power-law with hubs, a long chain (many rounds of connected
components), disconnected pieces, self-loops and repeated edges."""

from __future__ import annotations

import random
from collections import Counter

import networkx as nx
import pytest
from chispa import assert_approx_df_equality, assert_df_equality

from fin360.graph import frames

VERTEX_SCHEMA = "id long"
EDGE_SCHEMA = "src long, dst long, weight double"


def _mixed_graph() -> tuple[list[int], list[tuple[int, int, float]]]:
    """One graph with every awkward shape: a power-law piece with hubs, a random piece, a chain
    of 40, a few isolated vertices, self-loops and repeated edges."""
    rng = random.Random(7)
    edges: list[tuple[int, int]] = []
    hubs = nx.barabasi_albert_graph(60, 2, seed=1)  # vertices 0..59
    edges += list(hubs.edges())
    randomg = nx.gnm_random_graph(40, 70, seed=2, directed=True)  # 100..139
    edges += [(u + 100, v + 100) for u, v in randomg.edges()]
    edges += [(200 + i, 201 + i) for i in range(40)]  # chain 200..240
    edges += [(5, 5), (120, 120), (210, 210)]  # self-loops
    edges += [edges[3], edges[10], (edges[80][1], edges[80][0])]  # repeats, one reversed
    vertices = sorted({v for e in edges for v in e} | {300, 301, 302})  # 300.. isolated
    weighted = [(u, v, float(rng.randint(1, 5))) for u, v in edges]
    rng.shuffle(weighted)
    return vertices, weighted


@pytest.fixture(scope="module")
def mixed(spark):
    vertices, edges = _mixed_graph()
    return (
        vertices,
        edges,
        spark.createDataFrame([(v,) for v in vertices], VERTEX_SCHEMA),
        spark.createDataFrame(edges, EDGE_SCHEMA),
    )


def _undirected_nx(vertices, edges) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(vertices)
    g.add_edges_from((u, v) for u, v, _ in edges if u != v)
    return g


def test_connected_components_match_networkx(spark, mixed):
    vertices, edges, v, e = mixed
    got, rounds = frames.connected_components(v, e)
    expected = [
        (node, min(part))
        for part in nx.connected_components(_undirected_nx(vertices, edges))
        for node in part
    ]
    assert_df_equality(
        got,
        spark.createDataFrame(expected, "id long, component long"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert rounds >= 3  # the chain of 40 takes several rounds to collapse into a star


def test_triangle_counts_match_networkx(spark, mixed):
    vertices, edges, v, e = mixed
    expected = sorted(nx.triangles(_undirected_nx(vertices, edges)).items())
    assert sum(t for _, t in expected) > 0
    assert_df_equality(
        frames.triangle_count(v, e),
        spark.createDataFrame(expected, "id long, triangles long"),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_pagerank_matches_networkx_with_uniform_dangling_mass(spark, mixed):
    vertices, edges, v, e = mixed
    g = nx.DiGraph()
    g.add_nodes_from(vertices)
    for u, w, weight in edges:  # repeated edges add their weights, as the engine does
        previous = g.get_edge_data(u, w, {"weight": 0.0})["weight"]
        g.add_edge(u, w, weight=previous + weight)
    # the same iteration and stopping rule as networkx: both stop at the same round
    expected = nx.pagerank(g, alpha=0.85, weight="weight", tol=1e-6, max_iter=1000)
    assert any(g.out_degree(n) == 0 for n in g)  # dangling vertices are part of the test
    got, iterations = frames.pagerank(v, e, reset=0.15, tol=1e-6, max_iter=300)
    assert 1 < iterations < 300
    assert_approx_df_equality(
        got,
        spark.createDataFrame(sorted(expected.items()), "id long, pagerank double"),
        precision=1e-6,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def _reference_label_propagation(g: nx.Graph, max_iter: int) -> dict[int, int]:
    """The same synchronous rule, in plain Python: the most frequent neighbour label of the
    previous round, the smallest on a tie; no neighbours, no change."""
    labels = {n: n for n in g}
    for _ in range(max_iter):
        new = {}
        for n in g:
            votes = Counter(labels[m] for m in g.neighbors(n))
            if votes:
                top = max(votes.values())
                new[n] = min(label for label, c in votes.items() if c == top)
            else:
                new[n] = labels[n]
        if new == labels:
            break
        labels = new
    return labels


def test_label_propagation_matches_the_synchronous_rule(spark, mixed):
    vertices, edges, v, e = mixed
    expected = _reference_label_propagation(_undirected_nx(vertices, edges), max_iter=6)
    got, _ = frames.label_propagation(v, e, max_iter=6)
    assert_df_equality(
        got,
        spark.createDataFrame(sorted(expected.items()), "id long, label long"),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_cycles_match_networkx_simple_cycles(spark):
    g = nx.gnm_random_graph(30, 110, seed=5, directed=True)
    edges = [*g.edges(), (3, 3), *list(g.edges())[:5]]  # a self-loop and repeats
    e = spark.createDataFrame([(u, w, 1.0) for u, w in edges], EDGE_SCHEMA)
    for length in (3, 4):
        expected = []
        for cycle in nx.simple_cycles(g, length_bound=length):
            if len(cycle) == length:
                start = cycle.index(min(cycle))
                expected.append((cycle[start:] + cycle[:start],))
        assert expected, length
        assert_df_equality(
            frames.cycles(e, length),
            spark.createDataFrame(expected, "cycle array<long>"),
            ignore_row_order=True,
            ignore_nullable=True,
        )
