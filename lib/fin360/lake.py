"""The lakehouse: table names to locations, Delta reads and writes, file listing.

Tables are path-based Delta tables named ``<layer>.<table>``; ``bronze.card_transactions``
lives at ``<paths.lakehouse>/bronze/card_transactions`` unless ``tables`` in config gives it
another location. Path-based tables need no metastore, so the same code runs on a laptop, a
standalone cluster or object storage. Files are listed through Hadoop's FileSystem, so local
paths, HDFS and s3a:// all work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession

from fin360.config import Config, ConfigError

LAYERS = ("bronze", "silver", "gold", "ops")


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
    # the Delta log's latest snapshot: no Spark job, unlike DeltaTable.history(1)
    jvm = spark.sparkContext._jvm
    log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(
        spark._jsparkSession, table_path(cfg, name)
    )
    none = jvm.scala.Option.empty()
    return int(log.update(False, none, none).version())


def append(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    txn_app_id: str | None = None,
    txn_version: int = 0,
    merge_schema: bool = False,
    partition_by: list[str] | None = None,
) -> None:
    """Append ``df`` to a Delta table (created on first write).

    With ``txn_app_id``, the write is idempotent: Delta commits it only if this table has not
    already committed ``txn_version`` (or a later one) for that application id, so a rerun
    after a crash cannot append the same data twice.
    """
    writer = df.write.format("delta").mode("append")
    if txn_app_id is not None:
        writer = writer.option("txnAppId", txn_app_id).option("txnVersion", txn_version)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(table_path(cfg, name))


def replace_where(
    df: DataFrame, cfg: Config, name: str, predicate: str, partition_by: list[str] | None = None
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (created on first write):
    a rerun for the same date replaces that date's rows and leaves every other date alone."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(table_path(cfg, name))


def overwrite(df: DataFrame, cfg: Config, name: str, partition_by: list[str] | None = None) -> None:
    """Replace the whole table, schema included (created on first write): for tables rebuilt
    from their inputs on every run."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(table_path(cfg, name))


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
    if txn_app_id is not None:
        for key, value in conf.items():
            spark.conf.set(key, value)
    try:
        (
            DeltaTable.forPath(spark, table_path(cfg, name))
            .alias("t")
            .merge(source.alias("s"), condition)
            .whenMatchedUpdate(set=update)
            .whenNotMatchedInsert(condition=insert_when, values=insert)
            .execute()
        )
    finally:
        if txn_app_id is not None:
            for key in conf:
                spark.conf.unset(key)


def delete(spark: SparkSession, cfg: Config, name: str, condition: Column) -> None:
    """``DELETE FROM name WHERE condition``; a condition built from columns, never SQL text."""
    DeltaTable.forPath(spark, table_path(cfg, name)).delete(condition)


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
