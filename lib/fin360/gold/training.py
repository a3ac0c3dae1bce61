"""``gold.training_credit_risk`` kept up to date without recomputing the loan book every day.

The features of a loan are the customer's features the day before the application. Loans
accumulate for years, so computing them all again on every run would make the daily run grow
with the history. A stored row's features are reused when nothing that went into them can have
changed since they were computed:

- no silver batch folded since then holds data dated on or before its feature date (an
  event's time, a snapshot's ``valid_from``): features as of a date only see data up to it;
- the customer is the same: ``customer_hash``, a digest of the customer's source keys
  (``silver.customer_xref``: a merge or split changes whose data they are) and of its
  record versions (``silver.customers``: a new version, such as a new address, changes the
  profile from its date on).

Every other row (new loans, loans whose customer changed, features dated on or after the
earliest day the new batches bring) is computed again; labels and maturity always come fresh
from the loan snapshots. The gold job records each silver batch it folded as a unit
``gold.training_credit_risk/<settings>/<silver unit>``; a change of the feature list or of
the day rows' settings finds nothing folded and rebuilds the whole table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import canonical, catalog, lake
from fin360.config import Config
from fin360.gold import daily, features
from fin360.governance.audit import succeeded_units

TABLE = catalog.GOLD_TRAINING_CREDIT_RISK
LAYOUT = 1  # bump when the stored rows' meaning changes: the table is rebuilt
CUSTOMER_HASH = "customer_hash"
# the silver tables whose rows reach the features by date (silver units are
# "<table>/<source>/<batch>"); silver.customers reaches them through CUSTOMER_HASH
DATED_ENTITIES = (
    "account", "account_holder", "transaction", "app_event", "complaint", "bureau_record", "loan",
    "fx_rate",
)  # fmt: skip


def settings_tag(cfg: Config) -> str:
    """What stored features depend on besides the data: the feature list and the day rows'
    settings."""
    settings = {
        "layout": LAYOUT,
        "days": daily.settings_tag(cfg),
        "features": features.feature_names(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def customer_hashes(xref: DataFrame, customers: DataFrame) -> DataFrame:
    """customer_id, customer_hash: a digest of the source keys the customer is resolved from
    and of its record versions (``valid_from`` and ``attr_hash`` of each)."""
    keys = F.concat_ws("\u001f", F.lit("key"), "entity", "source", "source_key")
    versions = F.concat_ws(
        "\u001f", F.lit("version"), F.col("valid_from").cast("string"), "attr_hash"
    )
    parts = xref.select("customer_id", keys.alias("_part")).unionByName(
        customers.select("customer_id", versions.alias("_part"))
    )
    digest = F.sha2(F.concat_ws("\u001e", F.sort_array(F.collect_list("_part"))), 256)
    return parts.groupBy("customer_id").agg(digest.alias(CUSTOMER_HASH))


def reusable(stored: DataFrame, customers: DataFrame, since: date | None) -> DataFrame:
    """customer_id, feature_date and the features of the stored rows that still hold: same
    ``customer_hash`` as in ``customers``, dated before ``since`` (every date when None). One
    row per customer and date."""
    kept = stored.join(customers, ["customer_id", CUSTOMER_HASH], "left_semi")
    if since is not None:
        kept = kept.where(F.col("feature_date") < F.lit(since))
    return kept.select("customer_id", "feature_date", *features.feature_names()).dropDuplicates(
        ["customer_id", "feature_date"]
    )


def _date_column(entity: canonical.Entity) -> str:
    return entity.time if entity.kind == "event" else "valid_from"


def earliest_day(spark: SparkSession, cfg: Config, units: list[str]) -> date | None:
    """The earliest date of the silver rows these units wrote (None when they wrote none)."""
    by_table: dict[str, list[str]] = {}
    for unit in units:
        by_table.setdefault(unit.split("/", 1)[0], []).append(unit)
    days = []
    for entity in (canonical.entity(e) for e in DATED_ENTITIES):
        if entity.table not in by_table:
            continue
        day = (
            lake.read(spark, cfg, catalog.silver(entity.name))
            .where(daily.of_batches(by_table[entity.table]))
            .agg(F.min(F.to_date(_date_column(entity))))
            .first()[0]
        )
        days.append(day)
    found = [d for d in days if d is not None]
    return min(found) if found else None


@dataclass(frozen=True)
class Plan:
    """What the gold run does to the training table: the stored rows it keeps (None: build
    all) and the silver units it folds in (to record once written)."""

    kept: DataFrame | None
    pending: list[str]
    prefix: str
    since: date | None


def plan(spark: SparkSession, cfg: Config, gold_units: set[str], customers: DataFrame) -> Plan:
    """``customers``: :func:`customer_hashes` of silver now."""
    prefix = f"{TABLE}/{settings_tag(cfg)}/"
    tables = {f"{canonical.entity(e).table}/" for e in DATED_ENTITIES}
    landed = {
        u for u in succeeded_units(spark, cfg, daily.SILVER_JOB) if u.startswith(tuple(tables))
    }
    folded = {u.removeprefix(prefix) for u in gold_units if u.startswith(prefix)}
    pending = sorted(landed - folded)
    stored = lake.read(spark, cfg, TABLE) if lake.exists(spark, cfg, TABLE) else None
    if not folded or stored is None or CUSTOMER_HASH not in stored.columns:
        return Plan(None, pending, prefix, None)  # nothing to keep: built whole
    since = earliest_day(spark, cfg, pending) if pending else None
    kept = reusable(stored, customers, since)
    return Plan(kept, pending, prefix, since)
