"""Analyst views: what the analyst role reads instead of the tables (docs/access_roles.md).

A view shows pseudonymous tokens and masked values only: the current customer record's masks
and attributes that identify nobody, and gold's per-customer tables keyed by the
``customer_id`` token. It leaves out every other token (name, birth date, resident id, phone,
e-mail, address: they link a person across data sets), the keys of the bank's systems (CRM,
account and transaction ids) and any clear value. Silver holds no clear value; its tokens and
source keys are what the views drop.

The same ``SELECT`` of each view is created either in the metastore a cluster's catalog keeps
(``fin360 analyst-views --create``, into ``access.analyst_database``), printed for the platform
team to run in Unity Catalog or Hive (``--sql``), or registered as temporary views of one
session, such as an analyst's notebook on the embedded lake (:func:`register`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pyspark.sql import SparkSession

from fin360 import Fin360Error, catalog, lake
from fin360.config import Config, ConfigError
from fin360.governance import consent

log = logging.getLogger(__name__)

# columns an analyst never sees: tokens other than customer_id, and keys of the bank's systems
IDENTIFYING = re.compile(r".+_token|.+_src_id|source_key|account_id|txn_id|counterparty_.+")
# the customer record's columns that identify nobody on their own (with the consents)
CUSTOMER_ATTRIBUTES = ("gender", "birth_year", "city", "province", "occupation", "customer_since")
DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


@dataclass(frozen=True)
class View:
    name: str
    table: str
    current_only: bool = False  # an SCD2 table: the current version of each key


VIEWS = (
    View("customers", catalog.silver("customer"), current_only=True),
    View("customer_360", catalog.GOLD_CUSTOMER_360),
    View("graph_features", catalog.GOLD_GRAPH_FEATURES),
    View("customer_scores", catalog.GOLD_CUSTOMER_SCORES),
    View("next_best_offer", catalog.GOLD_NEXT_BEST_OFFER),
)


def shown(cfg: Config, view: View, columns: list[str]) -> list[str]:
    """The columns of ``view``'s table (which has ``columns``) an analyst may see."""
    if view.table == catalog.silver("customer"):
        keep = {"customer_id", *CUSTOMER_ATTRIBUTES, *consent.columns(cfg)}
        return [c for c in columns if c in keep or c.endswith("_masked")]
    return [c for c in columns if not IDENTIFYING.fullmatch(c)]


def _identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def select(spark: SparkSession, cfg: Config, view: View) -> str | None:
    """The view's ``SELECT``, over the table's location; None when the table does not exist."""
    if not lake.exists(spark, cfg, view.table):
        return None
    columns = ", ".join(
        map(_identifier, shown(cfg, view, lake.read(spark, cfg, view.table).columns))
    )
    source = f"delta.{_identifier(lake.table_path(cfg, view.table))}"
    return f"SELECT {columns} FROM {source}" + (" WHERE is_current" if view.current_only else "")


def database(cfg: Config) -> str:
    name = cfg["access.analyst_database"]
    if not DATABASE.fullmatch(name):
        raise ConfigError(
            f"access.analyst_database: expected a name or catalog.schema of letters, digits and "
            f"_, got {name!r}"
        )
    return name


def statements(spark: SparkSession, cfg: Config) -> list[str]:
    """``CREATE`` statements of the analyst database and of every view whose table exists."""
    db = database(cfg)
    out = [f"CREATE SCHEMA IF NOT EXISTS {db}"]
    for view in VIEWS:
        query = select(spark, cfg, view)
        if query is None:
            log.warning("view=%s.%s skipped: %s does not exist yet", db, view.name, view.table)
            continue
        out.append(f"CREATE OR REPLACE VIEW {db}.{view.name} AS {query}")
    return out


def create(spark: SparkSession, cfg: Config) -> list[str]:
    """Create the views in the session's metastore; returns their names."""
    if spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "in-memory":
        raise Fin360Error(
            "this Spark session has no metastore to keep views (the embedded lake): print them "
            "with `fin360 analyst-views --sql` for your catalog, or register them for one "
            "session with fin360.governance.access.register(spark, cfg)"
        )
    done = []
    for statement in statements(spark, cfg):
        spark.sql(statement)
        done.append(statement.split(" AS ", 1)[0].rsplit(" ", 1)[1])
    return done[1:]


def register(spark: SparkSession, cfg: Config) -> list[str]:
    """Register the views as temporary views of this session (``customer_360``, ...); returns
    their names."""
    done = []
    for view in VIEWS:
        query = select(spark, cfg, view)
        if query is not None:
            spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {view.name} AS {query}")
            done.append(view.name)
    return done
