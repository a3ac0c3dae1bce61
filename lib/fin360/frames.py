"""DataFrame helpers for data that grows: computed once and cut from its lineage, and a row
number over a whole frame that never moves every row into one task."""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_PART, _ID = "_fin360_partition", "_fin360_id"


def truncated(df: DataFrame) -> DataFrame:
    """``df`` computed once and cut from its lineage (reliable checkpoint when the session has
    a checkpoint folder, else a local one): an algorithm's input, so that the plans of its
    rounds stay small however large the plan that produced the input."""
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    reliable = df.sparkSession.sparkContext.getCheckpointDir() is not None
    cut = df.checkpoint() if reliable else df.localCheckpoint()
    df.unpersist()
    return cut


def with_row_number(df: DataFrame, order: list[Column], name: str) -> DataFrame:
    """``df`` with ``name`` = 1, 2, ... in ``order`` (which must be a total order), as
    ``row_number()`` over an unpartitioned window would give, in bounded memory per task.

    The window would sort every row in one task. Instead: a range-partitioned sort, cut from
    its lineage so that its partitions stay as sorted; a row's number is its position in its
    partition (``monotonically_increasing_id`` counts rows within a partition) plus the rows
    of the partitions before it, from one count per partition.
    """
    spark = df.sparkSession
    ordered = truncated(df.orderBy(*order)).select(
        "*", F.spark_partition_id().alias(_PART), F.monotonically_increasing_id().alias(_ID)
    )
    sizes = ordered.groupBy(_PART).count().collect()  # bounded: one row per partition
    before, offsets = 0, []
    for row in sorted(sizes, key=lambda r: r[_PART]):
        offsets.append((row[_PART], before))
        before += row["count"]
    starts = spark.createDataFrame(offsets, f"{_PART} int, _before long")
    position = F.col(_ID) - F.shiftleft(F.col(_PART).cast("long"), 33)  # the id's low 33 bits
    return (
        ordered.join(F.broadcast(starts), _PART, "left")
        .withColumn(name, F.col("_before") + position + 1)
        .drop(_PART, _ID, "_before")
    )
