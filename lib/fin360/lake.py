"""The lakehouse: table names to locations, Delta reads and writes, file listing.

Tables are path-based Delta tables named ``<layer>.<table>``; ``bronze.card_transactions``
lives at ``<paths.lakehouse>/bronze/card_transactions`` unless ``tables`` in config gives it
another location. Path-based tables need no metastore, so the same code runs on a laptop, a
standalone cluster or object storage. Files are listed through Hadoop's FileSystem, so local
paths, HDFS and s3a:// all work.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from delta import exceptions as delta_errors
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession

from fin360 import Fin360Error
from fin360.config import Config, ConfigError

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold", "ops")

# Delta's commit conflicts: another run committed to the table after this write read it. A
# write that fails with one has committed nothing.
CONFLICTS: tuple[type[Exception], ...] = (
    delta_errors.DeltaConcurrentModificationException,
    delta_errors.ConcurrentWriteException,
    delta_errors.MetadataChangedException,
    delta_errors.ProtocolChangedException,
    delta_errors.ConcurrentAppendException,
    delta_errors.ConcurrentDeleteReadException,
    delta_errors.ConcurrentDeleteDeleteException,
    delta_errors.ConcurrentTransactionException,
)
ATTEMPTS = 4


class Conflict(Fin360Error):
    """A write lost a Delta commit conflict to a concurrent run and was not retried."""


def table_path(cfg: Config, name: str) -> str:
    layer, _, table = name.partition(".")
    if layer not in LAYERS or not table or "." in table:
        raise ConfigError(f"table name '{name}' must be <layer>.<table> with layer in {LAYERS}")
    override = (cfg.get("tables") or {}).get(name)
    return override or f"{cfg.path('lakehouse').rstrip('/')}/{layer}/{table}"


def tables(spark: SparkSession, cfg: Config) -> list[str]:
    """Names of the Delta tables under the lakehouse root (``<layer>.<table>``)."""
    root = cfg.path("lakehouse").rstrip("/")
    return [
        f"{layer}.{entry.name}"
        for layer in LAYERS
        for entry in list_dir(spark, f"{root}/{layer}")
        if entry.is_dir and path_exists(spark, f"{entry.path}/_delta_log")
    ]


def exists(spark: SparkSession, cfg: Config, name: str) -> bool:
    return DeltaTable.isDeltaTable(spark, table_path(cfg, name))


def read(spark: SparkSession, cfg: Config, name: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_path(cfg, name))


def version(spark: SparkSession, cfg: Config, name: str) -> int | None:
    """The table's latest Delta version, or None when it does not exist yet."""
    if not exists(spark, cfg, name):
        return None
    return int(_snapshot(spark, cfg, name).version())


def _snapshot(spark: SparkSession, cfg: Config, name: str) -> Any:
    """The Delta log's latest snapshot: no Spark job, unlike DeltaTable.history(1)."""
    jvm = spark.sparkContext._jvm
    log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(
        spark._jsparkSession, table_path(cfg, name)
    )
    none = jvm.scala.Option.empty()
    return log.update(False, none, none)


def committed(spark: SparkSession, cfg: Config, name: str, txn_app_id: str) -> bool:
    """Whether the table has committed a write of the Delta transaction id ``txn_app_id``."""
    return bool(_snapshot(spark, cfg, name).transactions().contains(txn_app_id))


def _commit(name: str, write: Callable[[], None], *, retry: bool | Callable[[], bool]) -> None:
    """Run ``write``; on a commit conflict with a concurrent run, run it again when ``retry``
    (or what it returns then) is true, for a write whose result does not depend on what the
    other run committed; otherwise stop with one line."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            write()
            return
        except (*CONFLICTS, Conflict) as exc:
            kind = type(exc).__name__
            again = retry() if callable(retry) else retry
            if again and attempt < ATTEMPTS:
                log.warning("table=%s conflict=%s attempt=%d: retrying", name, kind, attempt)
                time.sleep(random.uniform(0.2, 1.0) * attempt)  # not in step with the other
                continue
            raise _conflict(name, kind) from None


def _conflict(name: str, kind: str) -> Conflict:
    return Conflict(
        f"{name} was written by another run at the same time ({kind}); this write committed "
        "nothing: run the job again once the other run has ended"
    )


def append(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    txn_app_id: str | None = None,
    txn_version: int = 0,
    merge_schema: bool = False,
    partition_by: list[str] | None = None,
    retry: bool | None = None,
) -> None:
    """Append ``df`` to a Delta table (created on first write).

    With ``txn_app_id``, the write is idempotent: Delta commits it only if this table has not
    already committed ``txn_version`` (or a later one) for that application id, so a rerun
    after a crash cannot append the same data twice, and a conflict with a concurrent run is
    retried. Without it, a conflict (two runs creating the table at once) raises
    :class:`Conflict`, as appending again could append what the other run did, unless
    ``retry`` says the rows cannot be the other run's.
    """
    writer = df.write.format("delta").mode("append")
    if txn_app_id is not None:
        writer = writer.option("txnAppId", txn_app_id).option("txnVersion", txn_version)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    again = txn_app_id is not None if retry is None else retry
    _commit(name, lambda: writer.save(table_path(cfg, name)), retry=again)


def create(
    df: DataFrame,
    cfg: Config,
    name: str,
    partition_by: list[str] | None = None,
    txn_app_id: str | None = None,
) -> None:
    """Create the table with ``df``'s rows (under the Delta transaction id ``txn_app_id``, as
    :func:`append`). When another run created it after this one found it missing, raises
    :class:`Conflict` and writes nothing: what this run computed for an empty table must be
    computed again against the table as it is."""
    writer = df.write.format("delta").mode("errorifexists")
    if txn_app_id is not None:
        writer = writer.option("txnAppId", txn_app_id).option("txnVersion", 0)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    try:
        _commit(name, lambda: writer.save(table_path(cfg, name)), retry=False)
    except AnalysisException:
        if not exists(df.sparkSession, cfg, name):
            raise
        raise _conflict(name, "created by it") from None


def replace_where(
    df: DataFrame, cfg: Config, name: str, predicate: str, partition_by: list[str] | None = None
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (created on first write):
    a rerun for the same date replaces that date's rows and leaves every other date alone."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    _commit(name, lambda: writer.save(table_path(cfg, name)), retry=True)


def overwrite(df: DataFrame, cfg: Config, name: str, partition_by: list[str] | None = None) -> None:
    """Replace the whole table, schema included (created on first write): for tables rebuilt
    from their inputs on every run."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    _commit(name, lambda: writer.save(table_path(cfg, name)), retry=True)


def merge(
    spark: SparkSession,
    cfg: Config,
    name: str,
    source: DataFrame,
    condition: str,
    *,
    update: dict[str, Column],
    insert: dict[str, Column],
    insert_when: str | None = None,
    txn_app_id: str | None = None,
) -> None:
    """``MERGE INTO name AS t USING source AS s ON condition``: matched rows get ``update``,
    unmatched source rows (those meeting ``insert_when``) are inserted with ``insert``.

    With ``txn_app_id``, the merge is idempotent as :func:`append` is: Delta skips it when
    the table has already committed that application id, so a job killed after its merge
    committed does not merge the same rows again when it is rerun."""
    conf = {"spark.databricks.delta.write.txnAppId": txn_app_id, "spark.databricks.delta.write.txnVersion": "0"}  # fmt: skip

    def write() -> None:
        (
            DeltaTable.forPath(spark, table_path(cfg, name))
            .alias("t")
            .merge(source.alias("s"), condition)
            .whenMatchedUpdate(set=update)
            .whenNotMatchedInsert(condition=insert_when, values=insert)
            .execute()
        )

    if txn_app_id is not None:
        for key, value in conf.items():
            spark.conf.set(key, value)
    try:
        # ``source`` may be computed from the table as it was: retried only when the other
        # run committed these very rows (the same transaction id), so the retry is a no-op
        _commit(
            name,
            write,
            retry=lambda: txn_app_id is not None and committed(spark, cfg, name, txn_app_id),
        )
    finally:
        if txn_app_id is not None:
            for key in conf:
                spark.conf.unset(key)


def upsert(
    spark: SparkSession,
    cfg: Config,
    name: str,
    df: DataFrame,
    on: str,
    *,
    update: bool = True,
    delete_unmatched: Column | None = None,
) -> None:
    """Write ``df``'s rows by the ``on`` condition (``t.`` the table, ``s.`` the rows) in one
    commit: a matched table row is replaced (``update``) or kept, and the row left out; other
    rows are inserted; table rows matching ``delete_unmatched`` that no row matched are
    deleted. Creates the table on first write. The result does not depend on what a concurrent
    run committed, so a conflict is retried: two runs writing the same rows leave them once."""

    def write() -> None:
        if not exists(spark, cfg, name):
            create(df, cfg, name)
            return
        merge = DeltaTable.forPath(spark, table_path(cfg, name)).alias("t").merge(df.alias("s"), on)
        if update:
            merge = merge.whenMatchedUpdateAll()
        merge = merge.whenNotMatchedInsertAll()
        if delete_unmatched is not None:
            merge = merge.whenNotMatchedBySourceDelete(delete_unmatched)
        merge.execute()

    _commit(name, write, retry=True)


def delete(spark: SparkSession, cfg: Config, name: str, condition: Column) -> None:
    """``DELETE FROM name WHERE condition``; a condition built from columns, never SQL text."""
    _commit(
        name, lambda: DeltaTable.forPath(spark, table_path(cfg, name)).delete(condition), retry=True
    )


@dataclass(frozen=True)
class FileEntry:
    path: str
    name: str
    size: int
    is_dir: bool


def list_dir(spark: SparkSession, path: str) -> list[FileEntry]:
    """Entries of a folder (sorted by name); an empty list when the folder does not exist."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        return []
    entries = [
        FileEntry(
            path=status.getPath().toString(),
            name=status.getPath().getName(),
            size=status.getLen(),
            is_dir=status.isDirectory(),
        )
        for status in fs.listStatus(hadoop_path)
    ]
    return sorted(entries, key=lambda e: e.name)


def path_exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(
        hadoop_path
    )


class FileSystem:
    """Files under one root through Hadoop's FileSystem (local, HDFS, s3a:// alike): for the
    few jobs that handle a table's files themselves (``fin360 forget``)."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        self._jvm = spark.sparkContext._jvm
        self._fs = self._path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def size(self, path: str) -> int:
        return int(self._fs.getFileStatus(self._path(path)).getLen())

    def walk(self, root: str, recursive: bool = True) -> list[str]:
        """Files under ``root``, as paths relative to it (sorted), without Hadoop's ``.crc``
        side files."""
        if not self.exists(root):
            return []
        base = self._fs.makeQualified(self._path(root)).toString().rstrip("/") + "/"
        found = self._fs.listFiles(self._path(root), recursive)
        out = []
        while found.hasNext():
            path = found.next().getPath()
            if not (path.getName().startswith(".") and path.getName().endswith(".crc")):
                out.append(path.toString().removeprefix(base))
        return sorted(out)

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def rename(self, source: str, target: str) -> None:
        parent = self._path(target).getParent()
        self._fs.mkdirs(parent)
        if not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not move {source} to {target}")

    def replace(self, source: str, target: str) -> None:
        """Move ``source`` over ``target``: the one step where a crash leaves ``target``
        missing, which a rerun that still has ``source`` repairs."""
        self.delete(target)
        self.rename(source, target)

    def write_parquet(self, df: DataFrame, path: str) -> None:
        """``df`` as one Parquet file at exactly ``path``: a file Delta does not manage (forget
        stages a table's rewritten files and checkpoints this way)."""
        folder = f"{path}.dir"
        df.coalesce(1).write.parquet(folder)
        part = next(p for p in self.walk(folder) if p.endswith(".parquet"))
        self.rename(f"{folder}/{part}", path)
        self.delete(folder)

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._path(path))
        try:
            return str(self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        stream = self._fs.create(self._path(path), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
