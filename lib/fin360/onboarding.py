"""``fin360 sources check``: a bank's onboarding loop, without writing any table.

For the configured sources file and raw folder, per source: the reader and mapping
configuration checked (the one-line error a run would stop with), the columns found in the
latest batch against the declared ones, the rows read and those bronze would quarantine, and
the rows silver would quarantine (unmapped values, unparseable dates, row data-quality rules
on the entity's own columns; not references to other tables, duplicates across batches, or
rules on what silver joins in, such as the FX rate) with a sample of them and their reasons. Personal data (the source's ``pii`` columns) is never
printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, canonical, lake
from fin360.bronze import readers
from fin360.bronze.job import BATCH_PREFIX, source_root
from fin360.bronze.transforms import REASON, with_ingest_metadata, with_reject_reason
from fin360.config import Config, ConfigError, SourceSpec, load_sources, read_yaml, sources_file
from fin360.config import _parse_source as parse_source_spec
from fin360.silver import mapping, quality


@dataclass
class SourceReport:
    name: str
    batch: str | None = None
    error: str | None = None
    found: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # declared, not in the files
    undeclared: list[str] = field(default_factory=list)  # in the files, not declared
    rows: int = 0
    bronze_rejected: int = 0
    entities: dict[str, dict] = field(default_factory=dict)  # entity -> counts and samples

    @property
    def ok(self) -> bool:
        return self.error is None


def _specs(cfg: Config) -> tuple[dict[str, SourceSpec | None], dict[str, str]]:
    """Every declared source; one whose declaration is wrong maps to None with its error."""
    file = sources_file(cfg)
    try:
        load_sources(cfg)
    except ConfigError as exc:
        if "source '" not in str(exc):
            raise  # the file itself is missing or not YAML: nothing to check per source
    raw = read_yaml(file).get("sources") or {}
    specs: dict[str, SourceSpec | None] = {}
    errors: dict[str, str] = {}
    for name, body in raw.items():
        try:
            specs[name] = parse_source_spec(name, body, str(file))
        except ConfigError as exc:
            specs[name], errors[name] = None, str(exc)
    return specs, errors


def check(
    spark: SparkSession, cfg: Config, only: list[str] | None = None, sample: int = 5
) -> list[SourceReport]:
    specs, errors = _specs(cfg)
    unknown = sorted(set(only or []) - set(specs))
    if unknown:
        raise Fin360Error(f"unknown source(s) {unknown}; declared: {sorted(specs)}")
    rules = quality.load_rules(cfg)
    tz = cfg["silver.default_timezone"]
    reports = []
    for name in only or specs:
        report = SourceReport(name)
        reports.append(report)
        spec = specs[name]
        if spec is None:
            report.error = errors[name]
            continue
        try:
            mappings = mapping.parse_source(spark, spec)
            _check_source(spark, cfg, spec, mappings, rules, tz, sample, report)
        except Fin360Error as exc:
            report.error = str(exc)
    return reports


def _check_source(
    spark: SparkSession,
    cfg: Config,
    spec: SourceSpec,
    mappings: list[mapping.EntityMapping],
    rules: dict[str, list[quality.Rule]],
    tz: str,
    sample: int,
    report: SourceReport,
) -> None:
    root = source_root(cfg, spec)
    batches = [
        e for e in lake.list_dir(spark, root) if e.is_dir and e.name.startswith(BATCH_PREFIX)
    ]
    if not batches:
        raise Fin360Error(f"no batch=<id> folders under {root}")
    batch = batches[-1]
    report.batch = batch.name[len(BATCH_PREFIX) :]
    files = [f for f in lake.list_dir(spark, batch.path) if not f.is_dir and f.name[0] not in "._"]
    raw = readers.read_batch(spark, spec, files)
    report.found = raw.columns
    report.missing = [c for c in spec.column_names if c not in raw.columns]
    report.undeclared = [c for c in raw.columns if c not in spec.column_names]
    required = [c for c in spec.required_columns if c in report.missing]
    if required:
        raise Fin360Error(f"required column(s) {required} missing from batch {report.batch}")
    now = datetime.now(UTC).replace(tzinfo=None)
    checked = (
        raw.df.transform(
            with_reject_reason(spec.required_columns, raw.columns, cfg["bronze.max_field_chars"])
        )
        .transform(with_ingest_metadata(report.batch, now, raw.columns))
        .cache()
    )
    try:
        counts = checked.agg(
            F.count(F.lit(1)).alias("rows"), F.count(REASON).alias("rejected")
        ).first()
        report.rows, report.bronze_rejected = counts["rows"], counts["rejected"]
        landed = checked.where(F.col(REASON).isNull())
        for declared in spec.column_names:  # a declared column a batch lacks lands as null
            if declared not in landed.columns:
                landed = landed.withColumn(declared, F.lit(None).cast("string"))
        for m in mappings:
            report.entities[m.entity.name] = _check_mapping(
                landed, m, rules, tz, mapping.date_bounds(cfg), sample
            )
    finally:
        checked.unpersist()


def _check_mapping(
    df: DataFrame,
    m: mapping.EntityMapping,
    rules: dict[str, list[quality.Rule]],
    tz: str,
    dates: tuple[date, date],
    sample: int,
) -> dict:
    entity_rules = [
        r
        for r in rules.get(m.entity.table, [])
        if r.check in quality.ROW_CHECKS - {"references"}
        and set(r.columns) <= set(m.entity.column_names)
    ]
    mapped = quality.with_rule_failures(df.transform(mapping.mapped(m, tz, dates)), entity_rules)
    failing = mapped.where(F.size(quality.FAILURES) > 0)
    reasons = {
        r["reason"]: r["count"]
        for r in failing.select(F.explode(quality.FAILURES).alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    }  # bounded: one row per reason
    hidden = {c.name for c in m.entity.columns if c.pii}
    shown = [c for c in m.entity.column_names if c in mapped.columns and c not in hidden]
    rows = failing.select(*shown, quality.FAILURES).limit(sample).collect()
    return {
        "rows": mapped.count(),
        "quarantined": failing.count(),
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "sample": [
            {**{c: r[c] for c in shown if r[c] is not None}, "reasons": list(r[quality.FAILURES])}
            for r in rows
        ],
        "hidden": sorted(hidden),
    }


def render(reports: list[SourceReport]) -> str:
    lines = []
    for r in reports:
        status = "OK" if r.ok else "ERROR"
        lines.append(f"== {r.name}: {status}" + (f" (batch {r.batch})" if r.batch else ""))
        if r.error:
            lines.append(f"   error: {r.error}")
        if r.found:
            lines.append(f"   columns found: {len(r.found)}")
            if r.missing:
                lines.append(f"   declared, not found: {', '.join(r.missing)}")
            if r.undeclared:
                lines.append(f"   found, not declared (lands as drift): {', '.join(r.undeclared)}")
            lines.append(f"   rows read: {r.rows:,}, rejected by bronze: {r.bronze_rejected:,}")
        for entity, e in r.entities.items():
            share = e["quarantined"] / e["rows"] if e["rows"] else 0.0
            lines.append(
                f"   -> {entity} (silver.{canonical.entity(entity).table}): {e['rows']:,} rows, "
                f"{e['quarantined']:,} would be quarantined ({share:.1%})"
            )
            for reason, count in e["reasons"].items():
                lines.append(f"      {count:>8,}  {reason}")
            for row in e["sample"]:
                values = ", ".join(f"{k}={v}" for k, v in row.items() if k != "reasons")
                lines.append(f"      e.g. [{', '.join(row['reasons'])}] {values}")
            if e["hidden"] and e["sample"]:
                lines.append(f"      (PII not shown: {', '.join(e['hidden'])})")
    ok = sum(r.ok for r in reports)
    lines.append(f"{ok} of {len(reports)} source(s) OK")
    return "\n".join(lines)
