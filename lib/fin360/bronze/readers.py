"""Read one batch of one source into a DataFrame of raw records.

Every reader returns the same contract, whatever the format:

- one column per field found in the files (declared or drifted): strings for text formats
  (a JSON number as Spark's JSON parser renders it: ``12.50`` lands as ``12.5``; a nested
  object as JSON text), the file's own types for Parquet;
- ``_source_file``: the file the record came from;
- ``_raw``: the record's original text where the format has one (a JSON or fixed-width line,
  a malformed CSV line), else null;
- ``_parse_error``: why the record could not be parsed, null when it could.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import Fin360Error
from fin360.config import ConfigError, SourceSpec
from fin360.lake import FileEntry

CORRUPT = "_corrupt_record"


@dataclass(frozen=True)
class RawBatch:
    df: DataFrame
    columns: list[str]  # the fields found in the files, in file order


def read_batch(spark: SparkSession, spec: SourceSpec, files: list[FileEntry]) -> RawBatch:
    """Read one batch's files. Compressed files (``.gz``, ``.bz2``) are decompressed by
    Hadoop's codecs, chosen by file extension, for every text format."""
    if not files:
        raise Fin360Error(f"source '{spec.name}': batch has no data files")
    readers = {
        "csv": _read_csv,
        "json": _read_json_lines,
        "parquet": _read_parquet,
        "fixed_width": _read_fixed_width,
    }
    if spec.format == "parquet" and (spec.encodings or not _utf8(spec.encoding)):
        raise ConfigError(f"source '{spec.name}': Parquet files carry no text encoding")
    return readers[spec.format](spark, spec, [f.path for f in files])


def encoding_groups(spec: SourceSpec, paths: list[str]) -> dict[str, list[str]]:
    """Files grouped by encoding: the first matching glob of ``encodings``, else the default."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        encoding = next(
            (enc for glob, enc in spec.encodings.items() if fnmatch.fnmatch(name, glob)),
            spec.encoding,
        )
        groups.setdefault(encoding, []).append(path)
    return groups


def _utf8(encoding: str) -> bool:
    return encoding.upper().replace("-", "") == "UTF8"


def _source_file() -> Column:
    return F.col("_metadata.file_path").alias("_source_file")


def _text_lines(spark: SparkSession, paths: list[str], encoding: str) -> DataFrame:
    """``value`` (one line, newline removed) and ``_source_file`` of text files in any encoding.
    Spark's text source reads UTF-8 only; other encodings go through the CSV source with a
    delimiter and quote that cannot occur in text (NUL), which decodes with Java's charsets
    and still splits large files."""
    if _utf8(encoding):
        return spark.read.text(paths).select("value", _source_file())
    schema = T.StructType([T.StructField("value", T.StringType())])
    return (
        spark.read.options(
            encoding=encoding,
            sep="\u0000",
            quote="\u0000",
            escape="\u0000",
            header=False,
            nullValue=None,
            ignoreLeadingWhiteSpace=False,
            ignoreTrailingWhiteSpace=False,
        )
        .schema(schema)
        .csv(paths)
        .select(F.coalesce("value", F.lit("")).alias("value"), _source_file())
    )


def _with_null_markers(df: DataFrame, columns: list[str], markers: list[str]) -> DataFrame:
    """Values equal to one of the source's null markers (after trimming) become null."""
    if not markers:
        return df
    return df.select(
        *(
            F.when(~F.trim(F.col(c)).isin(markers), F.col(c)).alias(c) if c in columns else c
            for c in df.columns
        )
    )


def _drop_leading_records(df: DataFrame, count: int) -> DataFrame:
    """Drop the first ``count`` records of every file (a report title, a banner...); ``df``
    has ``_source_file`` and ``_split`` (the start of the record's file split).

    A file's first split is read by one task in file order, so within it
    ``monotonically_increasing_id`` counts the file's records from the first one: the records
    to drop are the ``count`` smallest ids of split 0 of each file, found by one aggregate."""
    with_id = df.withColumn("_rec", F.monotonically_increasing_id())
    first = (
        with_id.where(F.col("_split") == 0)
        .groupBy("_source_file")
        .agg(F.min("_rec").alias("_first"))
    )
    return (
        with_id.join(F.broadcast(first), "_source_file", "left")
        .where((F.col("_split") > 0) | (F.col("_rec") >= F.col("_first") + count))
        .drop("_rec", "_split", "_first")
    )


def _csv_options(spec: SourceSpec, encoding: str) -> dict[str, object]:
    return {
        "encoding": encoding,
        "sep": spec.option("delimiter", ","),
        "quote": spec.option("quote", '"'),
        "escape": spec.option("escape", '"'),
        "comment": spec.option("comment"),
        "multiLine": spec.option("multiline", False),
        "ignoreLeadingWhiteSpace": False,
        "ignoreTrailingWhiteSpace": False,
    }


def _csv_header(spark: SparkSession, spec: SourceSpec, path: str, encoding: str) -> list[str]:
    """The header of one file: its first line after ``skip_lines`` leading records (comment
    and blank lines do not count), split with the source's delimiter and quote."""
    skip = spec.option("skip_lines", 0)
    lines = _text_lines(spark, [path], encoding).where(F.trim("value") != "")
    comment = spec.option("comment")
    if comment:
        lines = lines.where(~F.col("value").startswith(comment))
    rows = lines.limit(skip + 1).collect()  # the first few lines of one file
    if len(rows) <= skip:
        raise Fin360Error(f"source '{spec.name}': {path} has no header line")
    dialect = {"delimiter": spec.option("delimiter", ","), "quotechar": spec.option("quote", '"')}
    fields = next(csv.reader([rows[skip]["value"]], **dialect))
    return [f.strip() for f in fields]


def _read_csv(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    header_on = spec.option("header", True)
    skip = spec.option("skip_lines", 0)
    frames, header = [], None
    for encoding, group in encoding_groups(spec, paths).items():
        options = _csv_options(spec, encoding)
        # a headerless file has the declared columns, in order
        columns = _csv_header(spark, spec, group[0], encoding) if header_on else spec.column_names
        if header is not None and columns != header:
            raise Fin360Error(
                f"source '{spec.name}': {encoding} files have header {columns}, others {header}"
            )
        header = columns
        schema = T.StructType(
            [T.StructField(c, T.StringType()) for c in columns]
            + [T.StructField(CORRUPT, T.StringType())]
        )
        reader = spark.read.options(
            **{k: v for k, v in options.items() if v is not None},
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT,
        ).schema(schema)
        if header_on and skip == 0:
            # Spark skips each file's header; a file whose header differs fails, not shifts
            df = reader.options(header=True, enforceSchema=False).csv(group)
            df = df.select("*", _source_file())
        else:
            records = reader.option("header", False).csv(group)
            records = records.select(
                "*", _source_file(), F.col("_metadata.file_block_start").alias("_split")
            )
            df = _drop_leading_records(records, skip + (1 if header_on else 0))
        frames.append(
            df.select(
                *columns,
                "_source_file",
                F.col(CORRUPT).alias("_raw"),
                F.when(
                    F.col(CORRUPT).isNotNull(),
                    F.lit(f"malformed CSV record: not {len(columns)} fields as in the header"),
                ).alias("_parse_error"),
            )
        )
    df = frames[0]
    for frame in frames[1:]:
        df = df.unionByName(frame)
    markers = spec.option("null_values", [])
    return RawBatch(_with_null_markers(df, header or [], markers), header or [])


def _read_json_lines(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    lines = _lines(spark, spec, paths)
    keys = F.json_object_keys("value")  # null for anything that is not a JSON object
    found = [r[0] for r in lines.select(F.explode(keys)).distinct().collect()]  # bounded: keys
    # every declared field, found or not: a JSON record names its own fields, so one that lacks
    # a required field is quarantined for it (and a batch of garbage line by line), not failed
    declared = spec.column_names
    columns = declared + sorted(set(found) - set(declared))
    # all fields as strings: numbers keep their text, nested objects stay JSON
    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns])
    parsed = F.from_json("value", schema)
    df = lines.select(
        *(parsed[c].alias(c) for c in columns),
        "_source_file",
        F.col("value").alias("_raw"),
        F.when(keys.isNull(), F.lit("invalid JSON: not a complete JSON object")).alias(
            "_parse_error"
        ),
    )
    return RawBatch(df, columns)


def _read_parquet(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    df = spark.read.option("mergeSchema", "true").parquet(*paths)
    columns = df.columns
    df = df.select(
        *columns,
        _source_file(),
        F.lit(None).cast("string").alias("_raw"),
        F.lit(None).cast("string").alias("_parse_error"),
    )
    return RawBatch(df, columns)


def _read_fixed_width(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    width = sum(c.width or 0 for c in spec.columns)
    line = F.regexp_replace("value", "\r$", "")
    fields, start = [], 1
    for col in spec.columns:
        text = F.trim(F.substring(line, start, col.width or 0))
        fields.append(F.when(text != "", text).alias(col.name))
        start += col.width or 0
    df = _lines(spark, spec, paths).select(
        *fields,
        "_source_file",
        F.col("value").alias("_raw"),
        F.when(
            F.length(line) != width,
            F.concat(
                F.lit("fixed-width line of length "), F.length(line), F.lit(f", expected {width}")
            ),
        ).alias("_parse_error"),
    )
    markers = spec.option("null_values", [])
    return RawBatch(_with_null_markers(df, spec.column_names, markers), spec.column_names)


def _lines(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> DataFrame:
    frames = [_text_lines(spark, group, enc) for enc, group in encoding_groups(spec, paths).items()]
    df = frames[0]
    for frame in frames[1:]:
        df = df.unionByName(frame)
    return df
