"""Data-quality rules declared in YAML (``conf/dq_rules.yml``), evaluated with Spark built-ins.

Row rules (not_null, unique, range, allowed_values, regex, references) tag each failing row
in an array column ``_dq_failures``; table rules (freshness, row_count_change) judge the batch
as a whole. All rule outcomes of a batch come from one aggregation pass
(:func:`failure_profile`). A ``blocking`` rule whose failure rate exceeds its ``threshold``
stops the job.

Why not a library: Databricks Labs DQX 0.17 cannot build its engine on open-source Spark
without a reachable Databricks workspace (its constructor probes the workspace API), and
soda-core-spark-df pins pyspark < 4; the rules needed here are a few Spark expressions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from fin360 import Fin360Error
from fin360.config import Config, ConfigError, read_yaml

FAILURES = "_dq_failures"
ROW_CHECKS = {"not_null", "unique", "range", "allowed_values", "regex", "references"}
# rows the job tagged itself (duplicates, unmapped values): counted, not evaluated here
FLAG_CHECK = "flag"
TABLE_CHECKS = {"freshness", "row_count_change"}
PARAMS = {
    "not_null": set(),
    "unique": set(),
    "range": {"min", "max"},
    "allowed_values": {"values"},
    "regex": {"pattern"},
    "references": {"table", "ref_column"},
    "freshness": {"max_age_days"},
    "row_count_change": {"max_change"},
}
RULE_KEYS = {"name", "check", "column", "columns", "blocking", "threshold", "description"}


@dataclass(frozen=True)
class Rule:
    name: str
    check: str
    columns: tuple[str, ...] = ()
    blocking: bool = False
    threshold: float = 0.0  # failure rate a blocking rule tolerates
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return self.columns[0]


def load_rules(cfg: Config) -> dict[str, list[Rule]]:
    """Rules per silver table name (``transactions``), validated with clear errors."""
    file = cfg.conf_dir / cfg["silver.dq_rules_file"]
    if not file.is_file():
        raise ConfigError(f"data-quality rules file {file} not found (silver.dq_rules_file)")
    tables = read_yaml(file).get("tables") or {}
    return {t: [_parse_rule(t, r, str(file)) for r in rules or []] for t, rules in tables.items()}


def _parse_rule(table: str, raw: Any, origin: str) -> Rule:
    where = f"{origin}: table '{table}'"
    if not isinstance(raw, dict) or "name" not in raw or "check" not in raw:
        raise ConfigError(f"{where}: each rule needs 'name' and 'check', got {raw!r}")
    where = f"{where} rule '{raw['name']}'"
    check = raw["check"]
    if check not in PARAMS:
        close = difflib.get_close_matches(str(check), sorted(PARAMS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown check '{check}'{hint}")
    unknown = set(raw) - RULE_KEYS - PARAMS[check]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} for check '{check}'")
    missing = {p for p in PARAMS[check] if p not in raw} - {"min", "max"}
    if missing:
        raise ConfigError(f"{where}: check '{check}' needs {sorted(missing)}")
    columns = tuple(raw.get("columns") or ([raw["column"]] if "column" in raw else []))
    if not columns and check != "row_count_change":
        raise ConfigError(f"{where}: needs 'column' or 'columns'")
    threshold = float(raw.get("threshold", 0.0))
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"{where}: threshold must be a rate between 0 and 1, got {threshold}")
    return Rule(
        name=raw["name"],
        check=check,
        columns=columns,
        blocking=bool(raw.get("blocking", False)),
        threshold=threshold,
        params={p: raw[p] for p in PARAMS[check] if p in raw},
    )


def _failed(rule: Rule) -> Column:
    """True where the row breaks a row rule (null-safe: a null only fails not_null)."""
    col = F.col(rule.column)
    p = rule.params
    if rule.check == "not_null":
        return F.greatest(*(F.col(c).isNull() for c in rule.columns), F.lit(False))
    if rule.check == "range":
        low = col < p["min"] if "min" in p else F.lit(False)
        high = col > p["max"] if "max" in p else F.lit(False)
        return F.coalesce(low | high, F.lit(False))
    if rule.check == "allowed_values":
        return F.coalesce(~col.isin(list(p["values"])), F.lit(False))
    if rule.check == "regex":
        return F.coalesce(~col.cast("string").rlike(p["pattern"]), F.lit(False))
    if rule.check == "unique":
        return F.count(F.lit(1)).over(Window.partitionBy(*rule.columns)) > 1
    if rule.check == "references":
        return col.isNotNull() & F.col(_ref_flag(rule)).isNull()
    raise ValueError(rule.check)


def _ref_flag(rule: Rule) -> str:
    return f"_ref_{rule.name}"


def with_rule_failures(
    df: DataFrame, rules: list[Rule], references: dict[str, DataFrame] | None = None
) -> DataFrame:
    """Append the names of the row rules each row fails to ``_dq_failures`` (created if absent).

    ``references`` maps a rule's ``table`` to the DataFrame holding its keys."""
    references = references or {}
    out = df if FAILURES in df.columns else df.withColumn(FAILURES, F.array().cast("array<string>"))
    row_rules = [r for r in rules if r.check in ROW_CHECKS]
    for rule in row_rules:
        if rule.check == "references":
            if rule.params["table"] not in references:
                raise Fin360Error(
                    f"rule '{rule.name}': reference table {rule.params['table']} is missing"
                )
            keys = (
                references[rule.params["table"]]
                .select(F.col(rule.params["ref_column"]).alias(rule.column))
                .distinct()
                .withColumn(_ref_flag(rule), F.lit(True))
            )
            out = out.join(keys, on=rule.column, how="left")
    tags = [F.when(_failed(r), F.lit(r.name)) for r in row_rules]
    if tags:
        out = out.withColumn(
            FAILURES, F.concat(FAILURES, F.filter(F.array(*tags), lambda x: x.isNotNull()))
        )
    return out.drop(*(_ref_flag(r) for r in row_rules if r.check == "references"))


def failure_profile(checked: DataFrame, rules: list[Rule], by: tuple[str, ...] = ()) -> list[Row]:
    """``checked`` (the output of :func:`with_rule_failures`) in one pass: its rows per ``by``
    and distinct set of failed rules (``_rows``), with each freshness rule's newest value.
    Small (``by`` groups x failure combinations): every rule's outcome (:func:`rule_results`)
    and the rows accepted per group follow from it without another pass."""
    newest = [F.max(r.column).alias(f"_newest{i}") for i, r in enumerate(rules) if r.check == "freshness"]  # fmt: skip
    return (
        checked.groupBy(*by, F.array_sort(FAILURES).alias(FAILURES))
        .agg(F.count(F.lit(1)).alias("_rows"), *newest)
        .collect()
    )


def rule_results(
    profile: list[Row],
    rules: list[Rule],
    *,
    now: datetime,
    previous_rows: int | None = None,
) -> list[dict[str, Any]]:
    """Every rule's outcome on the batch of ``profile`` (:func:`failure_profile`)."""
    rows = sum(p["_rows"] for p in profile)
    results = []
    for i, rule in enumerate(rules):
        observed: Any = None
        if rule.check in ROW_CHECKS or rule.check == FLAG_CHECK:
            failed = sum(p["_rows"] for p in profile if rule.name in p[FAILURES])
        elif rule.check == "freshness":
            newest = max((p[f"_newest{i}"] for p in profile if p[f"_newest{i}"] is not None),
                         default=None)  # fmt: skip
            observed = newest
            oldest_allowed = now - timedelta(days=float(rule.params["max_age_days"]))
            failed = rows if newest is None or _as_datetime(newest) < oldest_allowed else 0
        else:  # row_count_change against the previous batch of this table
            observed = previous_rows
            change = abs(rows - previous_rows) / previous_rows if previous_rows else 0.0
            failed = rows if change > float(rule.params["max_change"]) else 0
        rate = failed / rows if rows else 0.0
        results.append(
            {
                "rule": rule.name,
                "check": rule.check,
                "columns": ",".join(rule.columns),
                "blocking": rule.blocking,
                "threshold": rule.threshold,
                "rows_checked": rows,
                "rows_failed": failed,
                "failure_rate": rate,
                "passed": rate <= rule.threshold if rule.blocking else failed == 0,
                "observed": None if observed is None else str(observed),
            }
        )
    return results


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def blocking_breaches(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r["blocking"] and r["failure_rate"] > r["threshold"]]
