"""Mappings from a source's columns onto canonical entities, declared in YAML.

Each source in the sources file may map onto one or more entities of
:mod:`fin360.canonical`::

    entities:
      account:
        account_id: acct_no                       # a declared source column
        status: {column: st, values: {A: active, C: closed}, unmapped: quarantine}
        open_date: {column: opened, format: yyMMdd, century_window: 1950}
        balance: {expr: "bal_cents / 100"}        # Spark SQL over declared columns
        snapshot_date: {column: as_of, format: [dd.MM.yyyy, yyyy-MM-dd]}
      account_holder:
        role: {const: owner}

Per canonical column, exactly one of ``column``, ``expr`` or ``const``; then optionally
``format`` (dates and timestamps: Spark datetime patterns, tried in order, or
``epoch_seconds`` / ``epoch_millis``), ``century_window`` (first year of the 100-year window
that two-digit years fall in), ``timezone`` (of wall-clock times without a zone), ``values``
(a value map) with ``unmapped`` (``quarantine``: the row goes to quarantine with reason
``unmapped_value:<column>``; ``default``: the ``default`` value; ``null``), ``default`` (used
when the value is missing), ``decimal`` (decimal separator of numbers) and ``type`` (must be
the canonical type: a check). Every mapping is parsed and checked at start, against the
canonical model and the source's declared columns: expressions are parsed and resolved by
Spark against an empty frame of those columns, never built from data.

A value that is present but cannot be parsed as the column's date or timestamp is quarantined
with reason ``unparseable_date:<column>``, and a date or time outside ``silver.dates``
(``earliest`` to ``latest``: year 0001 or 9999 is a placeholder, not a date, and other readers
of the table may not represent it) with ``implausible_date:<column>``; a number that is not
one (``NaN``, text) or does not fit the column's type with ``invalid_number:<column>``. Other
problems (a negative amount where none may be) are left to the table's data-quality rules.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import canonical
from fin360.canonical import Entity
from fin360.config import Config, ConfigError, SourceSpec
from fin360.silver import standardise as s

FAILURES = "_dq_failures"
LINEAGE = ["_batch_id", "_record_hash", "_ingest_ts"]
MAPPING_KEYS = {
    "column", "expr", "const", "format", "century_window", "timezone", "values", "unmapped",
    "default", "decimal", "type",
}  # fmt: skip
UNMAPPED = ("quarantine", "default", "null")
EPOCH_FORMATS = {"epoch_seconds", "epoch_millis"}
DEFAULT_DATE_FORMATS = ("yyyy-MM-dd",)
DEFAULT_TIMESTAMP_FORMATS = (
    "yyyy-MM-dd'T'HH:mm:ssXXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss",
)
_ZONE_LETTERS = set("XxZOVz")


@dataclass(frozen=True)
class ColumnMapping:
    target: str
    column: str | None = None
    expr: str | None = None
    const: Any = None
    formats: tuple[str, ...] = ()
    century_window: int | None = None
    timezone: str | None = None
    values: dict[str, Any] | None = None
    unmapped: str = "quarantine"
    default: Any = None
    decimal: str | None = None


@dataclass(frozen=True)
class EntityMapping:
    """How one source maps onto one entity."""

    source: SourceSpec
    entity: Entity
    columns: dict[str, ColumnMapping] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.source.name} -> {self.entity.name}"


def parse(spark: SparkSession, sources: dict[str, SourceSpec]) -> dict[str, list[EntityMapping]]:
    """Every source's mappings, checked; entity name -> the mappings that feed it."""
    by_entity: dict[str, list[EntityMapping]] = {}
    for spec in sources.values():
        for mapping in parse_source(spark, spec):
            by_entity.setdefault(mapping.entity.name, []).append(mapping)
    return by_entity


def parse_source(spark: SparkSession, spec: SourceSpec) -> list[EntityMapping]:
    out = []
    for entity_name, raw in spec.entities.items():
        where = f"{spec.origin}: source '{spec.name}' entity '{entity_name}'"
        if entity_name not in canonical.ENTITIES:
            close = difflib.get_close_matches(str(entity_name), sorted(canonical.ENTITIES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}: unknown entity{hint}")
        entity = canonical.ENTITIES[entity_name]
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: the mapping must be canonical column -> source")
        columns = {}
        for target, value in raw.items():
            if target not in entity.column_names:
                close = difflib.get_close_matches(str(target), entity.column_names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{where}: '{target}' is not a column of {entity_name}{hint}")
            columns[target] = _parse_column(f"{where} column '{target}'", entity, target, value)
        missing = [c for c in entity.required if c not in columns]
        if missing:
            raise ConfigError(f"{where}: required canonical column(s) {missing} not mapped")
        mapping = EntityMapping(spec, entity, columns)
        _check_references(spark, where, mapping)
        out.append(mapping)
    return out


def _parse_column(where: str, entity: Entity, target: str, value: Any) -> ColumnMapping:
    if isinstance(value, str):
        value = {"column": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a source column name or a mapping, got {value!r}")
    unknown = sorted(set(value) - MAPPING_KEYS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(MAPPING_KEYS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'{hint}")
    given = [k for k in ("column", "expr", "const") if k in value]
    if len(given) != 1:
        raise ConfigError(f"{where}: needs exactly one of 'column', 'expr' or 'const'")
    col = entity.column(target)
    if "type" in value and value["type"] != col.type:
        raise ConfigError(
            f"{where}: wrong type '{value['type']}': canonical {entity.name}.{target} is {col.type}"
        )
    formats = value.get("format") or ()
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    if formats and col.type not in ("date", "timestamp"):
        raise ConfigError(f"{where}: 'format' applies to date and timestamp columns only")
    window = value.get("century_window")
    for fmt in formats:
        if _two_digit_year(fmt) and window is None:
            raise ConfigError(
                f"{where}: format '{fmt}' has a two-digit year: set 'century_window' "
                "(the first year of the window, e.g. 1950 for 1950-2049)"
            )
    if window is not None and not isinstance(window, int):
        raise ConfigError(f"{where}: 'century_window' must be a year, got {window!r}")
    unmapped = value.get("unmapped", "quarantine")
    if unmapped not in UNMAPPED:
        raise ConfigError(f"{where}: 'unmapped' must be one of {list(UNMAPPED)}, got {unmapped!r}")
    values = value.get("values")
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{where}: 'values' must be a mapping of source value -> canonical value")
    if unmapped == "default" and "default" not in value:
        raise ConfigError(f"{where}: 'unmapped: default' needs a 'default' value")
    decimal = value.get("decimal")
    if decimal is not None and (not isinstance(decimal, str) or len(decimal) != 1):
        raise ConfigError(f"{where}: 'decimal' must be one character")
    return ColumnMapping(
        target=target,
        column=value.get("column"),
        expr=value.get("expr"),
        const=value.get("const"),
        formats=formats,
        century_window=window,
        timezone=value.get("timezone"),
        values={str(k): v for k, v in values.items()} if values is not None else None,
        unmapped=unmapped,
        default=value.get("default"),
        decimal=decimal,
    )


def _two_digit_year(fmt: str) -> bool:
    if fmt in EPOCH_FORMATS:
        return False
    runs = [len(r) for r in _letter_runs(fmt) if r[0] in "yu"]
    return any(n == 2 for n in runs)


def _letter_runs(fmt: str) -> list[str]:
    """Pattern letters of a datetime format, quoted literals left out."""
    runs, quoted, prev = [], False, ""
    for ch in fmt:
        if ch == "'":
            quoted = not quoted
            prev = ""
            continue
        if quoted or not ch.isalpha():
            prev = ""
            continue
        if ch == prev:
            runs[-1] += ch
        else:
            runs.append(ch)
        prev = ch
    return runs


def _check_references(spark: SparkSession, where: str, mapping: EntityMapping) -> None:
    """Columns must be declared; expressions must parse and resolve over the declared columns."""
    declared = mapping.source.column_names
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in declared]
        + [T.StructField(c, T.StringType()) for c in ("_batch_id", "_source_file")]
    )
    empty = spark.createDataFrame([], schema)
    for target, col in mapping.columns.items():
        if col.column is not None and col.column not in declared:
            close = difflib.get_close_matches(col.column, declared, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{where} column '{target}': unknown source column '{col.column}'{hint}"
            )
        if col.expr is not None:
            try:
                empty.select(F.expr(col.expr)).schema  # noqa: B018  (analysis happens here)
            except (ParseException, AnalysisException) as exc:
                reason = str(exc).strip().splitlines()[0][:300]
                raise ConfigError(
                    f"{where} column '{target}': invalid expression {col.expr!r}: {reason}"
                ) from None


# --------------------------------------------------------------------------- applying


def date_bounds(cfg: Config) -> tuple[date, date]:
    """``silver.dates``: the earliest and latest date a date or time column may hold."""
    try:
        earliest, latest = (date.fromisoformat(str(cfg[f"silver.dates.{k}"])) for k in ("earliest", "latest"))  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"silver.dates: earliest and latest must be YYYY-MM-DD ({exc})") from None
    if earliest >= latest:
        raise ConfigError(f"silver.dates: earliest {earliest} is not before latest {latest}")
    return earliest, latest


def mapped(
    mapping: EntityMapping, default_timezone: str, dates: tuple[date, date]
) -> Callable[[DataFrame], DataFrame]:
    """Bronze rows of the source -> the entity's canonical columns, typed and cleaned, with
    ``_source``, the bronze lineage columns and ``_dq_failures`` (unmapped values, unparseable
    dates and dates outside ``dates``, :func:`date_bounds`)."""

    def transform(df: DataFrame) -> DataFrame:
        values, failures = [], []
        source_tz = mapping.source.timezone or default_timezone
        decimal = mapping.source.option("decimal", ".")
        for col in mapping.entity.columns:
            m = mapping.columns.get(col.name)
            value, problems = _typed(df, col, m, source_tz, decimal, dates)
            values.append(value.cast(col.spark_type).alias(col.name))
            failures += problems
        flags = F.filter(F.array(*failures), lambda x: x.isNotNull()) if failures else None
        return df.select(
            *values,
            F.lit(mapping.source.name).alias("_source"),
            *(F.col(c) for c in LINEAGE),
            (flags if flags is not None else F.array().cast("array<string>")).alias(FAILURES),
        )

    return transform


def canonical_value(
    df: DataFrame,
    mapping: EntityMapping,
    column: canonical.Column,
    default_timezone: str,
    dates: tuple[date, date],
) -> Column:
    """One canonical column as :func:`mapped` computes it from ``df``'s raw columns."""
    value, _ = _typed(
        df,
        column,
        mapping.columns.get(column.name),
        mapping.source.timezone or default_timezone,
        mapping.source.option("decimal", "."),
        dates,
    )
    return value.cast(column.spark_type)


def standardised(text: Column, kind: str) -> Column:
    """Raw text standardised as a value of canonical type ``kind`` (e.g. a phone as E.164)."""
    return _standardised(s.clean_text(text), kind, ".")


def _raw_value(df: DataFrame, m: ColumnMapping | None) -> Column:
    if m is None:
        return F.lit(None)
    if m.column is not None:
        # a declared column that this batch's files lack (older layout) is null
        return F.col(m.column) if m.column in df.columns else F.lit(None).cast("string")
    if m.expr is not None:
        return F.expr(m.expr)
    return F.lit(m.const)


def _typed(
    df: DataFrame,
    col: canonical.Column,
    m: ColumnMapping | None,
    source_tz: str,
    decimal: str,
    dates: tuple[date, date],
) -> tuple[Column, list[Column]]:
    raw = _raw_value(df, m)
    native = _native_type(df, raw) if m is not None and m.const is None else None
    problems: list[Column] = []
    text = s.clean_text(raw.cast("string"))
    if m is not None and m.values is not None:
        lookup = F.create_map(*(F.lit(x) for k, v in m.values.items() for x in (k, _text(v))))
        hit = lookup[text]
        known = F.array_contains(F.map_keys(lookup), text)
        if m.unmapped == "quarantine":
            problems.append(F.when(text.isNotNull() & ~known, F.lit(f"unmapped_value:{col.name}")))
            text = F.when(known, hit)
        elif m.unmapped == "default":
            text = F.when(known, hit).when(text.isNotNull(), F.lit(_text(m.default)))
        else:
            text = F.when(known, hit)
    if m is not None and m.default is not None:
        text = F.coalesce(text, F.lit(_text(m.default)))

    kind = col.type
    if kind in ("date", "timestamp"):
        if native in ("date", "timestamp") and (m is None or m.values is None):
            value = raw.cast(kind)
        else:
            value = _parse_time(text, kind, m, source_tz)
            problems.append(
                F.when(text.isNotNull() & value.isNull(), F.lit(f"unparseable_date:{col.name}"))
            )
        day = F.to_date(value)
        outside = (day < F.lit(dates[0])) | (day > F.lit(dates[1]))
        problems.append(F.when(outside, F.lit(f"implausible_date:{col.name}")))
        return value, problems
    numeric = ("amount", "rate", "percent", "int", "double")
    sep = (m.decimal if m is not None and m.decimal else None) or decimal
    if kind not in numeric:
        return _standardised(text, kind, sep), problems
    if native == "number" and (m is None or m.values is None):
        given, value = raw, raw.try_cast(col.spark_type)
    else:
        given, value = text, _standardised(text, kind, sep).try_cast(col.spark_type)
    # not a number (NaN, text) or too large for the column's type
    problems.append(F.when(given.isNotNull() & value.isNull(), F.lit(f"invalid_number:{col.name}")))
    return value, problems


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _native_type(df: DataFrame, value: Column) -> str | None:
    """The Spark type of the mapped source value (Parquet sources carry their own types)."""
    try:
        dtype = df.select(value.alias("v")).schema["v"].dataType
    except AnalysisException:
        return None
    if isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        return "timestamp"
    if isinstance(dtype, T.DateType):
        return "date"
    if isinstance(dtype, T.NumericType):
        return "number"
    return "string"


def _standardised(text: Column, kind: str, decimal: str) -> Column:
    if kind in ("id", "string", "name"):
        return text
    if kind == "code":
        return F.upper(text)
    if kind == "category":
        return F.lower(text)
    if kind == "phone":
        return s.phone_e164(text)
    if kind == "email":
        return s.email_clean(text)
    if kind == "resident_id":
        return s.resident_id_clean(text)
    if kind == "currency":
        return s.currency_code(text)
    if kind == "boolean":
        return s.flag(text)
    if kind in ("amount", "rate", "percent", "int", "double"):
        number = s.number_text(text, decimal)
        return number.try_cast("double").try_cast("int") if kind == "int" else number
    raise ValueError(kind)


def _parse_time(text: Column, kind: str, m: ColumnMapping | None, source_tz: str) -> Column:
    formats = (m.formats if m is not None else ()) or (
        DEFAULT_DATE_FORMATS if kind == "date" else DEFAULT_TIMESTAMP_FORMATS
    )
    tz = (m.timezone if m is not None else None) or source_tz
    window = m.century_window if m is not None else None
    parsed = []
    for fmt in formats:
        if fmt in EPOCH_FORMATS:
            # at least 9 (seconds) or 12 (milliseconds) digits: from 1973 on, never a yyyyMMdd
            least = 9 if fmt == "epoch_seconds" else 12
            digits = F.when(text.rlike(rf"^\d{{{least},}}$"), text.cast("long"))
            ts = (
                F.timestamp_seconds(digits)
                if fmt == "epoch_seconds"
                else F.timestamp_millis(digits)
            )
            parsed.append(F.to_date(ts) if kind == "date" else ts)
            continue
        if kind == "date":
            value = F.try_to_date(text, fmt)
        else:
            value = F.try_to_timestamp(text, F.lit(fmt))
            if not _has_zone(fmt):
                value = F.to_utc_timestamp(value, tz)  # a wall-clock time in the source's zone
        if _two_digit_year(fmt) and window is not None:
            # Spark reads two-digit years as 2000-2099; fold them into the declared window
            century = F.make_ym_interval(F.lit(100), F.lit(0))
            value = F.when(F.year(value) >= window + 100, value - century).otherwise(value)
        parsed.append(value)
    return F.coalesce(*parsed) if len(parsed) > 1 else parsed[0]


def _has_zone(fmt: str) -> bool:
    return any(r[0] in _ZONE_LETTERS for r in _letter_runs(fmt))
