"""Graph features in gold: ``gold.graph_features`` per customer and as-of date.

Two graphs are built from silver, point in time (only what happened on or before the as-of
date counts):

- the **shared-identifier graph**: customers are linked when they used the same device (app
  events, card transactions) or paid the same counterparty account within
  ``graph.identifier_window_days``, or hold the same phone, e-mail or address token in their
  customer record valid at the date. An identifier held by more than
  ``graph.max_identifier_customers`` customers (a branch's public tablet, a utility's account,
  a call-centre number) is a *hub*: it would link thousands of strangers and put all their
  pairs in one task, so it links no one and is recorded in ``gold.graph_hubs`` instead;
- the **money-flow graph**: customer-to-customer transfers (a debit whose counterparty account
  another customer owns) within ``graph.money_window_days``, one directed edge per payer and
  payee weighted by the amount (base currency) and counted.

Features: the component of the identity links (device, phone, e-mail, address; named by its
smallest customer id) and its size; the number of
other customers sharing each kind of identifier; PageRank and in/out strength on the money
graph; the label-propagation community on the money graph and its size; triangles on the
undirected money graph; the directed money cycles of 3 and 4 customers a customer is on; and a
ring score (:func:`ring_score`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from fin360.frames import truncated
from fin360.gold.features import IDENTIFIER_KINDS, Sources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphOptions:
    identifier_window_days: int
    money_window_days: int
    max_identifier_customers: int
    pagerank_reset: float
    pagerank_max_iter: int
    pagerank_tol: float
    label_propagation_max_iter: int
    ring_max_size: int

    @classmethod
    def from_config(cls, section: dict) -> GraphOptions:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__})


def _in_window(ts: str, as_of: date, days: int) -> Column:
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    start = F.lit(as_of - timedelta(days=days - 1)).cast("timestamp")
    return (F.col(ts) >= start) & (F.col(ts) < end)


def _customers_at(customers: DataFrame, as_of: date) -> DataFrame:
    """Each customer's record version valid at the date (SCD2)."""
    latest = Window.partitionBy("customer_id").orderBy(F.desc("valid_from"))
    return (
        customers.where(F.to_date("valid_from") <= F.lit(as_of))
        .withColumn("_n", F.row_number().over(latest))
        .where(F.col("_n") == 1)
        .drop("_n")
    )


def identifier_links(sources: Sources, as_of: date, opts: GraphOptions) -> DataFrame:
    """(customer_id, kind, identifier): every identifier a customer used or held."""
    days = opts.identifier_window_days
    recent_txns = sources.transactions.where(_in_window("event_ts", as_of, days))

    def used(df: DataFrame, kind: str, column: str) -> DataFrame:
        return df.where(F.col(column).isNotNull()).select(
            "customer_id", F.lit(kind).alias("kind"), F.col(column).alias("identifier")
        )

    held = _customers_at(sources.customers, as_of)
    links = [
        used(sources.app_events.where(_in_window("event_ts", as_of, days)), "device", "device_id"),
        used(recent_txns, "device", "device_id"),
        used(recent_txns.where(F.col("direction") == "debit"), "counterparty", "counterparty_account"),
        *(used(held, kind, f"{kind}_token") for kind in ("phone", "email", "address")),
    ]  # fmt: skip
    out = links[0]
    for df in links[1:]:
        out = out.unionByName(df)
    return out.distinct()


def shared_identifier_edges(links: DataFrame, max_customers: int) -> tuple[DataFrame, DataFrame]:
    """Customer pairs sharing an identifier ``(src, dst, kind)`` with ``src < dst``, and the
    hubs left out ``(kind, identifier, customers)``."""
    # counted with map-side combining, so a hub's links are never gathered in one task; the
    # hubs (few: each stands for many links) are broadcast to drop their links before the
    # pairs are formed, so no identifier yields more than max_customers^2 pairs
    counts = links.groupBy("kind", "identifier").agg(F.count(F.lit(1)).alias("customers"))
    hubs = counts.where(F.col("customers") > max_customers)
    shared = links.join(F.broadcast(hubs), ["kind", "identifier"], "left_anti")
    a, b = shared.alias("a"), shared.alias("b")
    pairs = (
        a.join(
            b,
            (F.col("a.kind") == F.col("b.kind"))
            & (F.col("a.identifier") == F.col("b.identifier"))
            & (F.col("a.customer_id") < F.col("b.customer_id")),
            "inner",
        )
        .select(
            F.col("a.customer_id").alias("src"),
            F.col("b.customer_id").alias("dst"),
            F.col("a.kind").alias("kind"),
        )
        .distinct()
    )
    return pairs, hubs


def money_edges(sources: Sources, as_of: date, opts: GraphOptions) -> DataFrame:
    """(src, dst, weight, transfers): money sent from one customer to another in the window."""
    owners = sources.accounts.select(
        F.col("account_id").alias("counterparty_account"), F.col("customer_id").alias("dst")
    ).distinct()
    return (
        sources.transactions.where(
            _in_window("event_ts", as_of, opts.money_window_days)
            & (F.col("direction") == "debit")
            & F.col("counterparty_account").isNotNull()
        )
        .join(owners, "counterparty_account", "inner")
        .where(F.col("customer_id") != F.col("dst"))
        .groupBy(F.col("customer_id").alias("src"), "dst")
        .agg(
            F.sum(F.col("amount_base").cast("double")).alias("weight"),
            F.count(F.lit(1)).alias("transfers"),
        )
    )


def ring_score(ring_max_size: int) -> Column:
    """A fraud ring moves money among a small group of people who share devices or other
    identifiers. The score adds three signs:

    - 0.5 when the customer sends money to, or receives it from, a customer they share a
      device, phone, e-mail or address with (``pays_identity_neighbour``, computed
      beforehand). A household does that too: this is a lead for an investigator, not a
      verdict;
    - 0.3 when the customer is on a directed money cycle of 3 or 4 customers;
    - 0.2 when the customer's shared-identifier component is small (3 to
      ``graph.ring_max_size`` customers).
    """
    on_cycle = (F.col("money_cycles_3") + F.col("money_cycles_4")) > 0
    small = F.col("component_size").between(3, ring_max_size)
    return (
        F.when(F.col("pays_identity_neighbour"), 0.5).otherwise(0.0)
        + F.when(on_cycle, 0.3).otherwise(0.0)
        + F.when(small, 0.2).otherwise(0.0)
    )


def graph_features(
    engine, spine: DataFrame, sources: Sources, as_of: date, opts: GraphOptions
) -> tuple[DataFrame, DataFrame, dict]:
    """``gold.graph_features`` rows for ``spine`` (customer_id, as_of_date), the hubs left out
    of the shared-identifier graph, and what the algorithms took (rounds)."""
    vertices = spine.select(F.col("customer_id").alias("id"))
    links = identifier_links(sources, as_of, opts)
    shared, hubs = shared_identifier_edges(links, opts.max_identifier_customers)
    # both feed several algorithms: computed once, kept on disk (not in memory) while needed
    shared = truncated(shared)
    money = truncated(money_edges(sources, as_of, opts))

    # a counterparty several customers pay says they pay the same party, not that they are
    # linked people: counted below, but components follow identity links only
    identity = shared.where(F.col("kind") != "counterparty")
    components, cc_rounds = engine.connected_components(vertices, identity)
    sizes = components.groupBy("component").agg(F.count(F.lit(1)).alias("component_size"))
    per_kind = (
        shared.select("src", "dst", "kind")
        .unionByName(shared.select(F.col("dst").alias("src"), F.col("src").alias("dst"), "kind"))
        .groupBy(F.col("src").alias("id"))
        .pivot("kind", list(IDENTIFIER_KINDS))
        .agg(F.countDistinct("dst"))
    )
    ranks, pr_rounds = engine.pagerank(
        vertices,
        money,
        reset=opts.pagerank_reset,
        max_iter=opts.pagerank_max_iter,
        tol=opts.pagerank_tol,
    )
    outgoing = money.groupBy(F.col("src").alias("id")).agg(
        F.sum("weight").alias("money_out_strength"), F.count(F.lit(1)).alias("money_out_degree")
    )
    incoming = money.groupBy(F.col("dst").alias("id")).agg(
        F.sum("weight").alias("money_in_strength"), F.count(F.lit(1)).alias("money_in_degree")
    )
    communities, lpa_rounds = engine.label_propagation(
        vertices, money, max_iter=opts.label_propagation_max_iter
    )
    communities = communities.withColumnRenamed("label", "community_id")
    community_sizes = communities.groupBy("community_id").agg(
        F.count(F.lit(1)).alias("community_size")
    )
    triangles = engine.triangle_count(vertices, money)
    on_cycles = [
        engine.cycles(money, k)
        .select(F.explode("cycle").alias("id"))
        .groupBy("id")
        .agg(F.count(F.lit(1)).alias(f"money_cycles_{k}"))
        for k in (3, 4)
    ]
    # identity links (not a counterparty both pay) between customers who exchange money
    money_pairs = money.select(
        F.least("src", "dst").alias("src"), F.greatest("src", "dst").alias("dst")
    ).distinct()
    paying = identity.select("src", "dst").distinct().join(money_pairs, ["src", "dst"], "inner")
    sharing = (
        paying.select(F.col("src").alias("id"))
        .unionByName(paying.select(F.col("dst").alias("id")))
        .distinct()
        .withColumn("pays_identity_neighbour", F.lit(True))
    )

    out = (
        vertices.join(components, "id", "left")
        .join(sizes, "component", "left")
        .join(per_kind, "id", "left")
        .join(ranks, "id", "left")
        .join(incoming, "id", "left")
        .join(outgoing, "id", "left")
        .join(communities, "id", "left")
        .join(community_sizes, "community_id", "left")
        .join(triangles, "id", "left")
        .join(on_cycles[0], "id", "left")
        .join(on_cycles[1], "id", "left")
        .join(sharing, "id", "left")
    )
    zero = F.lit(0)
    out = out.select(
        F.col("id").alias("customer_id"),
        F.lit(as_of).cast("date").alias("as_of_date"),
        F.col("component").alias("component_id"),
        F.col("component_size").cast("long").alias("component_size"),
        *(
            F.coalesce(F.col(k), zero).cast("long").alias(f"shared_{k}_customers")
            for k in IDENTIFIER_KINDS
        ),
        F.col("pagerank").alias("money_pagerank"),
        F.coalesce("money_in_strength", F.lit(0.0)).alias("money_in_strength"),
        F.coalesce("money_out_strength", F.lit(0.0)).alias("money_out_strength"),
        F.coalesce("money_in_degree", zero).cast("long").alias("money_in_degree"),
        F.coalesce("money_out_degree", zero).cast("long").alias("money_out_degree"),
        "community_id",
        F.col("community_size").cast("long").alias("community_size"),
        F.coalesce("triangles", zero).cast("long").alias("money_triangles"),
        F.coalesce("money_cycles_3", zero).cast("long").alias("money_cycles_3"),
        F.coalesce("money_cycles_4", zero).cast("long").alias("money_cycles_4"),
        F.coalesce("pays_identity_neighbour", F.lit(False)).alias("pays_identity_neighbour"),
    )
    out = out.withColumn("ring_score", ring_score(opts.ring_max_size)).drop(
        "pays_identity_neighbour"
    )
    hubs = hubs.select(F.lit(as_of).cast("date").alias("as_of_date"), "*")
    rounds = {
        "components_rounds": cc_rounds,
        "pagerank_iterations": pr_rounds,
        "label_propagation_rounds": lpa_rounds,
    }
    return out, hubs, rounds
