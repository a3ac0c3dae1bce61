"""The table catalog: every table of the lakehouse, by layer, with its keys and partitioning.

Code names tables only through this module (``catalog.GOLD_CUSTOMER_360``,
``catalog.bronze(source)``, ``catalog.silver(entity)``); :mod:`fin360.lake` maps a name to its
location. Silver's entity tables follow the canonical model (:mod:`fin360.canonical`): one
table per entity, snapshots with SCD2 history. Event tables that grow with history are
partitioned by the month of their event time, so a batch's deduplication and MERGE read only
the months it touches.
"""

from __future__ import annotations

from dataclasses import dataclass

from fin360 import canonical

LAYERS = ("bronze", "silver", "gold", "ops")


@dataclass(frozen=True)
class Table:
    name: str  # <layer>.<table>
    description: str
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    history: bool = False  # SCD2: valid_from, valid_to, is_current


def bronze(source: str) -> str:
    """The bronze table of a source: its records as delivered, plus ``_ingest_*`` columns."""
    return f"bronze.{source}"


BRONZE_QUARANTINE = "bronze._quarantine"

# event entities whose silver table is partitioned by the month of their time column
PARTITION_COLUMN = "event_month"
_MONTH_PARTITIONED = {"transaction", "app_event"}


def silver_table(entity: str) -> Table:
    e = canonical.ENTITIES[entity]
    return Table(
        name=f"silver.{e.table}",
        description=e.description,
        keys=e.keys,
        partition_by=(PARTITION_COLUMN,) if entity in _MONTH_PARTITIONED else (),
        history=e.kind == "snapshot",
    )


def silver(entity: str) -> str:
    """The silver table of a canonical entity (``silver("account")`` -> ``silver.accounts``)."""
    return silver_table(entity).name


def silver_quarantine(table: str) -> str:
    """Rows of a silver table's batches that failed a rule, with the rules they failed."""
    return f"silver._quarantine_{table.partition('.')[2]}"


def is_silver_quarantine(name: str) -> bool:
    return name.startswith(silver_quarantine("silver."))


SILVER_CUSTOMER_XREF = "silver.customer_xref"

GOLD_CUSTOMER_360 = "gold.customer_360"
GOLD_TRAINING_CREDIT_RISK = "gold.training_credit_risk"
GOLD_CUSTOMER_SCORES = "gold.customer_scores"
GOLD_TRANSACTION_ALERTS = "gold.transaction_alerts"
GOLD_NEXT_BEST_OFFER = "gold.next_best_offer"
GOLD_GRAPH_FEATURES = "gold.graph_features"
GOLD_GRAPH_HUBS = "gold.graph_hubs"
GOLD_TRANSACTION_DAYS = "gold.transaction_days"
GOLD_APP_EVENT_DAYS = "gold.app_event_days"

OPS_JOB_RUNS = "ops.job_runs"
OPS_DQ_RESULTS = "ops.dq_results"
OPS_MODEL_MONITORING = "ops.model_monitoring"
OPS_FORGET_REQUESTS = "ops.forget_requests"
OPS_FORGET_SUPPRESSION = "ops.forget_suppression"

TABLES: tuple[Table, ...] = (
    Table(BRONZE_QUARANTINE, "records of any source that could not be landed, raw, with the reason"),
    *(silver_table(name) for name in canonical.ENTITIES),
    Table(SILVER_CUSTOMER_XREF, "every source key of a person -> customer_id", ("source", "source_key")),
    Table(GOLD_TRANSACTION_DAYS, "transactions added up per account and day, maintained batch by batch", ("account_id", "day"), ("day",)),
    Table(GOLD_APP_EVENT_DAYS, "app events added up per CRM customer record and day, maintained batch by batch", ("customer_src_id", "day"), ("day",)),
    Table(GOLD_CUSTOMER_360, "customer-360 features per customer and as-of date", ("customer_id", "as_of_date"), ("as_of_date",)),
    Table(GOLD_GRAPH_FEATURES, "shared-identifier and money-flow graph features per customer and as-of date", ("customer_id", "as_of_date"), ("as_of_date",)),
    Table(GOLD_GRAPH_HUBS, "identifiers shared by too many customers to link them, per as-of date", ("as_of_date", "kind", "identifier"), ("as_of_date",)),
    Table(GOLD_TRAINING_CREDIT_RISK, "one row per loan: features the day before application, label", ("loan_id",)),
    Table(GOLD_CUSTOMER_SCORES, "segment, PD, band and reasons per customer and date", ("customer_id", "as_of_date"), ("as_of_date",)),
    Table(GOLD_TRANSACTION_ALERTS, "anomaly scores of the window's transactions first scored on a date; the top share are alerts", ("txn_id", "as_of_date"), ("as_of_date",)),
    Table(GOLD_NEXT_BEST_OFFER, "ranked product offers per customer and date", ("customer_id", "as_of_date", "product_code"), ("as_of_date",)),
    Table(OPS_JOB_RUNS, "one row per unit of work of every job run", ("run_id", "unit")),
    Table(OPS_DQ_RESULTS, "every data-quality rule's result per silver batch (set of batches)", ("table", "batches", "rule")),
    Table(OPS_MODEL_MONITORING, "drift (PSI) of scores and inputs per scoring date", ()),
    Table(OPS_FORGET_REQUESTS, "each forget request when received and when done, as a keyed hash, with counts", ("request_id", "status")),
    Table(OPS_FORGET_SUPPRESSION, "keyed hashes of forgotten people's keys: bronze does not land their records again", ("key_hash",)),
)  # fmt: skip
