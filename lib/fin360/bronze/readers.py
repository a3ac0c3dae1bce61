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
    if not files:
        raise Fin360Error(f"source '{spec.name}': batch has no data files")
    readers = {
        "csv": _read_csv,
        "json": _read_json_lines,
        "parquet": _read_parquet,
        "fixed_width": _read_fixed_width,
    }
    if spec.format != "csv" and (spec.encodings or spec.encoding.upper() not in {"UTF-8", "UTF8"}):
        raise ConfigError(
            f"source '{spec.name}': encodings other than UTF-8 are supported for csv only"
        )
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


def _source_file() -> Column:
    return F.col("_metadata.file_path").alias("_source_file")


def _read_csv(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    frames, header = [], None
    for encoding, group in encoding_groups(spec, paths).items():
        options = {"header": True, "encoding": encoding, "escape": '"', "multiLine": False}
        columns = [c.strip() for c in spark.read.options(**options).csv(group).columns]
        if header is not None and columns != header:
            raise Fin360Error(
                f"source '{spec.name}': {encoding} files have header {columns}, others {header}"
            )
        header = columns
        schema = T.StructType(
            [T.StructField(c, T.StringType()) for c in columns]
            + [T.StructField(CORRUPT, T.StringType())]
        )
        frames.append(
            spark.read.options(
                **options,
                mode="PERMISSIVE",
                columnNameOfCorruptRecord=CORRUPT,
                # a file whose header differs from the batch's fails instead of shifting columns
                enforceSchema=False,
            )
            .schema(schema)
            .csv(group)
            .select(
                *columns,
                _source_file(),
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
    return RawBatch(df, header or [])


def _read_json_lines(spark: SparkSession, spec: SourceSpec, paths: list[str]) -> RawBatch:
    lines = spark.read.text(paths).select(F.col("value"), _source_file())
    keys = F.json_object_keys("value")  # null for anything that is not a JSON object
    found = [r[0] for r in lines.select(F.explode(keys)).distinct().collect()]
    declared = spec.column_names
    columns = [c for c in declared if c in found] + sorted(set(found) - set(declared))
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
    df = spark.read.text(paths).select(
        *fields,
        _source_file(),
        F.col("value").alias("_raw"),
        F.when(
            F.length(line) != width,
            F.concat(
                F.lit("fixed-width line of length "), F.length(line), F.lit(f", expected {width}")
            ),
        ).alias("_parse_error"),
    )
    return RawBatch(df, spec.column_names)
