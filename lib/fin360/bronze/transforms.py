"""Pure bronze transforms: validate raw records, add ingestion metadata, split landed from
quarantined. No I/O: the job reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

METADATA_COLUMNS = ["_ingest_ts", "_source_file", "_batch_id", "_record_hash"]
REASON = "_reject_reason"
FORGOTTEN = "_forgotten"  # a record of a person on the suppression list: neither landed nor kept

QUARANTINE_COLUMNS = [
    "source",
    "_batch_id",
    "_source_file",
    "raw",
    "reason",
    "_ingest_ts",
    "_record_hash",
]


def _forgotten(df: DataFrame) -> Column:
    """A record of a forgotten person (flagged by the job when anyone is on the list)."""
    return F.col(FORGOTTEN) if FORGOTTEN in df.columns else F.lit(False)


def _blank(df: DataFrame, name: str) -> Column:
    col = F.col(name)
    if isinstance(df.schema[name].dataType, T.StringType):
        return col.isNull() | (F.trim(col) == "")
    return col.isNull()


def with_reject_reason(
    required: list[str], columns: list[str], max_chars: int
) -> Callable[[DataFrame], DataFrame]:
    """Add ``_reject_reason``: the parse error; else text the source's encoding could not decode
    (U+FFFD, which Spark's and Java's decoders put in place of such bytes); else fields of
    ``columns`` longer than ``max_chars``; else the required fields that are blank."""

    def transform(df: DataFrame) -> DataFrame:
        text = [c for c in columns if isinstance(df.schema[c].dataType, T.StringType)]
        blanks = [F.when(_blank(df, name), F.lit(name)) for name in required]
        missing = F.concat_ws(", ", *blanks) if blanks else F.lit("")
        longer = F.concat_ws(", ", *(F.when(F.length(c) > max_chars, F.lit(c)) for c in text))
        reason = F.coalesce(
            F.col("_parse_error"),
            F.when(
                F.concat_ws("", *text).contains("\ufffd"),
                F.lit("undecodable text: bytes not valid in the source's encoding"),
            ),
            F.when(
                longer != "",
                F.concat(F.lit(f"field(s) longer than {max_chars:,} characters: "), longer),
            ),
            F.when(missing != "", F.concat(F.lit("missing required field(s): "), missing)),
        )
        return df.withColumn(REASON, reason)

    return transform


def with_ingest_metadata(
    batch_id: str, ingest_ts: datetime, columns: list[str]
) -> Callable[[DataFrame], DataFrame]:
    """Add ``_ingest_ts``, ``_batch_id`` and ``_record_hash`` (SHA-256 of the record's content:
    its original text where there is one, else its fields as JSON)."""

    def transform(df: DataFrame) -> DataFrame:
        content = F.coalesce(F.col("_raw"), F.to_json(F.struct(*columns)))
        return (
            df.withColumn("_ingest_ts", F.lit(ingest_ts).cast("timestamp"))
            .withColumn("_batch_id", F.lit(batch_id))
            .withColumn("_record_hash", F.sha2(content, 256))
        )

    return transform


def landed_records(columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """The records that passed: the source's fields, then the ingestion metadata."""

    def transform(df: DataFrame) -> DataFrame:
        return df.where(F.col(REASON).isNull() & ~_forgotten(df)).select(
            *columns, *METADATA_COLUMNS
        )

    return transform


def quarantined_records(source: str, columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """The records that failed, as raw text with the reason, for ``bronze._quarantine``."""

    def transform(df: DataFrame) -> DataFrame:
        return df.where(F.col(REASON).isNotNull() & ~_forgotten(df)).select(
            F.lit(source).alias("source"),
            "_batch_id",
            "_source_file",
            F.coalesce(F.col("_raw"), F.to_json(F.struct(*columns))).alias("raw"),
            F.col(REASON).alias("reason"),
            "_ingest_ts",
            "_record_hash",
        )

    return transform
