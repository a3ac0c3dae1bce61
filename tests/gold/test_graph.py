"""gold.graph_features on a hand-built bank of seven customers, checked column by column
against values worked out by hand and by networkx; and no edge after the date counts."""

from __future__ import annotations

from datetime import date, datetime

import networkx as nx
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from fin360.gold import features
from fin360.gold import graph as gold_graph
from fin360.gold.features import Sources
from fin360.graph import DataFrameEngine
from tests.graph.test_frames import _reference_label_propagation

AS_OF = date(2025, 6, 30)
OPTS = gold_graph.GraphOptions(
    identifier_window_days=365,
    money_window_days=90,
    max_identifier_customers=2,
    pagerank_reset=0.15,
    pagerank_max_iter=200,
    pagerank_tol=1e-4,  # the reference stops by the same rule, so the ranks agree exactly
    label_propagation_max_iter=10,
    ring_max_size=12,
)
CUSTOMERS = list("ABCDEFG")
# in the money window: a 3-cycle A -> B -> C -> A, and C -> D -> E
MONEY = [
    ("A", "B", 100.0),
    ("B", "C", 100.0),
    ("C", "A", 100.0),
    ("C", "D", 50.0),
    ("D", "E", 10.0),
]
LATER = [("E", "D", 999.0, datetime(2025, 7, 5, 9, 0))]  # after the date: must not count
OLD = [("F", "G", 500.0, datetime(2025, 1, 1, 9, 0))]  # before the money window


def _sources(spark, later=()) -> Sources:
    empty = {e: spark.createDataFrame([], s) for e, s in features.PART_INPUTS.items()}
    customers = spark.createDataFrame(
        [
            (c, datetime(2024, 1, 1), "P1" if c in "CG" else f"P-{c}", f"E-{c}", f"ADDR-{c}")
            for c in CUSTOMERS
        ],
        "customer_id string, valid_from timestamp, phone_token string, email_token string, "
        "address_token string",
    )
    accounts = empty["account"].unionByName(
        spark.createDataFrame(
            [(c, f"ac{c}") for c in CUSTOMERS], "customer_id string, account_id string"
        ),
        allowMissingColumns=True,
    )
    money = [(s, d, w, datetime(2025, 6, 1, 10, i)) for i, (s, d, w) in enumerate(MONEY)]
    txns = [
        (s, ts, "transfer", "debit", w, f"ac{d}", None) for s, d, w, ts in [*money, *OLD, *later]
    ] + [
        # F and G pay the same outside account; C uses the device D shares with no one
        ("F", datetime(2025, 3, 1), "transfer", "debit", 20.0, "EXT-1", None),
        ("G", datetime(2025, 3, 2), "transfer", "debit", 20.0, "EXT-1", None),
        ("C", datetime(2025, 6, 2), "card", "debit", 5.0, None, "DEV-C"),
    ]
    transactions = empty["transaction"].unionByName(
        spark.createDataFrame(
            txns,
            "customer_id string, event_ts timestamp, txn_type string, direction string, "
            "amount_base double, counterparty_account string, device_id string",
        ).withColumn("amount_base", F.col("amount_base").cast("decimal(18,2)")),
        allowMissingColumns=True,
    )
    events = [("A", "DEV-1"), ("B", "DEV-1"), ("D", "DEV-2"), ("E", "DEV-2"), ("F", "DEV-2")]
    app_events = empty["app_event"].unionByName(
        spark.createDataFrame(
            [(c, datetime(2025, 5, 1), "login", d) for c, d in events],
            "customer_id string, event_ts timestamp, event_type string, device_id string",
        )
    )
    return Sources(
        customers=customers,
        accounts=accounts,
        transactions=transactions,
        app_events=app_events,
        complaints=empty["complaint"],
        bureau=empty["bureau_record"],
        loans=empty["loan"],
        fx_rates=spark.createDataFrame(
            [], "rate_date date, currency string, rate_to_base decimal(18,8)"
        ),
    )


def _build(spark, sources):
    spine = spark.createDataFrame(
        [(c, AS_OF) for c in CUSTOMERS], "customer_id string, as_of_date date"
    )
    return gold_graph.graph_features(DataFrameEngine(), spine, sources, AS_OF, OPTS)


def _expected(spark):
    # shared identifiers: A-B device DEV-1, C-G phone P1, F-G counterparty EXT-1 (counted, but
    # no identity link); DEV-2 (D, E, F) is held by 3 > 2 customers: a hub that links no one
    component = {"A": "A", "B": "A", "C": "C", "G": "C", "D": "D", "E": "E", "F": "F"}
    size = {"A": 2, "B": 2, "C": 2, "G": 2, "D": 1, "E": 1, "F": 1}
    device = {"A": 1, "B": 1}
    phone = {"C": 1, "G": 1}
    counterparty = {"F": 1, "G": 1}
    g = nx.DiGraph()
    g.add_nodes_from(CUSTOMERS)
    g.add_weighted_edges_from(MONEY)
    ranks = nx.pagerank(g, alpha=0.85, weight="weight", tol=OPTS.pagerank_tol, max_iter=1000)
    labels = _reference_label_propagation(g.to_undirected(), OPTS.label_propagation_max_iter)
    community_size = {c: sum(1 for x in labels.values() if x == labels[c]) for c in CUSTOMERS}
    out_s = {"A": 100.0, "B": 100.0, "C": 150.0, "D": 10.0}
    in_s = {"A": 100.0, "B": 100.0, "C": 100.0, "D": 50.0, "E": 10.0}
    out_d = {"A": 1, "B": 1, "C": 2, "D": 1}
    in_d = {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1}
    triangle = {"A": 1, "B": 1, "C": 1}
    cycle3 = {"A": 1, "B": 1, "C": 1}

    def ring(c: str) -> float:
        pays_identity_neighbour = c in "AB"  # A pays B, with whom A shares a device
        return 0.5 * pays_identity_neighbour + 0.3 * (c in cycle3) + 0.2 * (3 <= size[c] <= 12)

    rows = [
        (
            c, AS_OF, component[c], size[c], device.get(c, 0), phone.get(c, 0), 0, 0,
            counterparty.get(c, 0), ranks[c], in_s.get(c, 0.0), out_s.get(c, 0.0),
            in_d.get(c, 0), out_d.get(c, 0), labels[c], community_size[c], triangle.get(c, 0),
            cycle3.get(c, 0), 0, ring(c),
        )
        for c in CUSTOMERS
    ]  # fmt: skip
    schema = (
        "customer_id string, as_of_date date, component_id string, component_size long, "
        "shared_device_customers long, shared_phone_customers long, shared_email_customers long, "
        "shared_address_customers long, shared_counterparty_customers long, money_pagerank double, "
        "money_in_strength double, money_out_strength double, money_in_degree long, "
        "money_out_degree long, community_id string, community_size long, money_triangles long, "
        "money_cycles_3 long, money_cycles_4 long, ring_score double"
    )
    return spark.createDataFrame(rows, schema)


def test_graph_features_by_hand_and_networkx_and_nothing_after_the_date(spark):
    """The expected values leave out the transfer after the date that the input holds."""
    got, hubs, rounds = _build(spark, _sources(spark, later=LATER))
    assert_approx_df_equality(
        got, _expected(spark), precision=1e-6, ignore_row_order=True, ignore_nullable=True
    )
    assert_df_equality(
        hubs,
        spark.createDataFrame(
            [(AS_OF, "device", "DEV-2", 3)],
            "as_of_date date, kind string, identifier string, customers long",
        ),
        ignore_nullable=True,
    )
    assert rounds["pagerank_iterations"] > 1
    assert [f.name for f in features.graph_features()] == got.columns[2:]
