"""Per-entity silver logic: what each canonical entity adds to its mapped rows (reference
data, pseudonymisation, text analysis), and how event and snapshot tables take a batch.

- Events are appended once per key. A key already in the table is a ``duplicate``: the check
  reads only the months the batch touches where the table is month-partitioned, so its cost
  follows the batch, not the history.
- Snapshots keep SCD2 history (:mod:`fin360.silver.scd2`). A record identical to one already
  stored (same record hash) is a ``duplicate``; a snapshot older than the key's current
  version is ``out_of_order_snapshot``; a newer one whose attributes changed opens a version.

Rows of the batches being processed are never counted against themselves, so a run killed
after its table commit and started again reaches the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from fin360 import catalog
from fin360.canonical import Entity
from fin360.silver import transforms as t

LINEAGE = ["_source", "_batch_id", "_record_hash"]
VALID_FROM = "_valid_from"


@dataclass(frozen=True)
class Inputs:
    """What enrichment may read: silver reference tables, settings, the PII key."""

    table: Callable[[str], DataFrame]  # silver table name -> DataFrame
    key: bytes
    base_currency: str
    mcc_categories: dict[str, str]


def _with_month(entity: Entity) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn(
            catalog.PARTITION_COLUMN, F.trunc(F.to_date(F.col(entity.time)), "month")
        )

    return transform


def enrich(entity: Entity, inputs: Inputs) -> Callable[[DataFrame], DataFrame]:
    """The entity's silver form of its mapped rows (``customer`` has its own pipeline)."""
    name = entity.name
    steps: list[Callable[[DataFrame], DataFrame]] = []
    if name == "account":
        steps.append(t.with_product_category(inputs.table(catalog.silver("product"))))
    if name == "transaction":
        steps += [
            t.with_fx_converted_amount(
                inputs.table(catalog.silver("fx_rate")), inputs.base_currency
            ),
            t.with_mcc_category(inputs.mcc_categories),
        ]
    if name == "complaint":
        steps += [t.with_masked_text, t.with_text_analysis]
    if catalog.silver_table(name).partition_by:
        steps.append(_with_month(entity))
    steps.append(t.pseudonymised(entity, inputs.key))

    def transform(df: DataFrame) -> DataFrame:
        for step in steps:
            df = step(df)
        return df

    return transform


def references(entity: Entity) -> tuple[str, ...]:
    """Silver tables this entity's data-quality rules refer to (they must be built first)."""
    return {
        "account": (catalog.silver("product"),),
        "transaction": (catalog.silver("account"),),
    }.get(entity.name, ())


# --------------------------------------------------------------------------- events


def from_batches(batches_by_source: dict[str, list[str]]) -> Column:
    """Rows of a silver table written by these batches (its lineage columns)."""
    own = F.lit(False)
    for source, batches in sorted(batches_by_source.items()):
        own = own | ((F.col("_source") == source) & F.col("_batch_id").isin(batches))
    return own


def _not_from(pending: dict[str, list[str]]) -> Column:
    """Rows of the table that the batches being processed did not write (a crashed attempt)."""
    return ~from_batches(pending)


def flag_events(
    df: DataFrame, existing: DataFrame | None, entity: Entity, pending: dict[str, list[str]]
) -> DataFrame:
    """``duplicate``: every row of a key after the first in the batch, and keys already stored."""
    keys = list(entity.keys)
    flagged = df.transform(t.with_duplicates_flagged(keys))
    if existing is None:
        return flagged
    partitions = catalog.silver_table(entity.name).partition_by
    if partitions:
        part = partitions[0]
        # bounded: the months the batch touches, a handful of values; the stored side is pruned
        touched = [r[0] for r in df.select(part).distinct().collect() if r[0] is not None]
        existing = existing.where(F.col(part).isin(touched))
    marker = (
        existing.where(_not_from(pending)).select(*keys).distinct().withColumn("_exists", F.lit(1))
    )
    return (
        flagged.join(marker, keys, "left")
        .transform(t.with_flag(F.col("_exists").isNotNull(), t.DUPLICATE_RULE))
        .drop("_exists")
    )


# --------------------------------------------------------------------------- snapshots


def with_valid_from(entity: Entity) -> Callable[[DataFrame], DataFrame]:
    """``_valid_from``: the snapshot's own date where the source has one, else the time the
    delivery was landed."""

    def transform(df: DataFrame) -> DataFrame:
        dated = F.col(entity.time).cast("timestamp") if entity.time else F.lit(None)
        return df.withColumn(VALID_FROM, F.coalesce(dated, F.col("_ingest_ts")))

    return transform


def flag_snapshots(
    df: DataFrame, existing: DataFrame | None, entity: Entity, pending: dict[str, list[str]]
) -> DataFrame:
    """``duplicate``: a record delivered twice (in the batch or already stored), or a second
    version of a key for the same snapshot time (the latest batch's wins);
    ``out_of_order_snapshot``: older than the key's current version."""
    keys = list(entity.keys)
    flagged = df.transform(t.with_duplicates_flagged([*keys, "_record_hash"])).transform(
        t.with_duplicates_flagged([*keys, VALID_FROM], newest_first=True)
    )
    if existing is None:
        return flagged
    stored = existing.where(_not_from(pending))
    seen = stored.select(*keys, "_record_hash").distinct().withColumn("_seen", F.lit(1))
    current = stored.where("is_current").select(*keys, F.col("valid_from").alias("_current_from"))
    return (
        flagged.join(seen, [*keys, "_record_hash"], "left")
        .join(current, keys, "left")
        .transform(t.with_flag(F.col("_seen").isNotNull(), t.DUPLICATE_RULE))
        .transform(
            t.with_flag(
                F.col("_seen").isNull() & (F.col(VALID_FROM) < F.col("_current_from")),
                t.OUT_OF_ORDER_RULE,
            )
        )
        .drop("_seen", "_current_from")
    )


def snapshot_attributes(entity: Entity, columns: list[str]) -> list[str]:
    """The columns whose change makes a new version: all but keys, the snapshot's date and
    lineage."""
    skip = {*entity.keys, entity.time, *LINEAGE, VALID_FROM}
    return [c for c in columns if c not in skip]
