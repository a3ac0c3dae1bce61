"""The bronze job: land every new batch of every declared source.

Raw files are laid out as ``<paths.raw>/<source.path>/batch=<batch_id>/<files>``; a batch
folder is immutable once delivered. For each batch not yet landed (per ``ops.job_runs``), the
records are read once, checked, and split: good records append to ``bronze.<source>``, the rest
to ``bronze._quarantine`` with their raw text and reason. Both writes are Delta idempotent
writes keyed by source and batch, so a run killed half-way and started again never lands a
batch twice. Input, landed and quarantined counts are recorded per batch.

A batch that cannot be landed (a file Spark cannot read: corrupt, truncated, not the declared
format; a required column missing) fails alone: it is recorded as failed with a one-line
reason, every other batch and source still lands, and the run ends with one error line naming
it (no downstream stage runs on a delivery with a hole in it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.bronze import readers
from fin360.bronze.transforms import (
    FORGOTTEN,
    REASON,
    landed_records,
    quarantined_records,
    with_ingest_metadata,
    with_reject_reason,
)
from fin360.config import Config, SourceSpec, load_sources
from fin360.governance import forget
from fin360.governance.audit import JobRun, succeeded_units, utc_now
from fin360.logs import stage
from fin360.spark import READ_ERRORS, error_line

log = logging.getLogger(__name__)

JOB = "bronze"
QUARANTINE = catalog.BRONZE_QUARANTINE
BATCH_PREFIX = "batch="


@dataclass(frozen=True)
class BatchResult:
    source: str
    batch_id: str
    input_rows: int
    landed_rows: int
    quarantined_rows: int
    forgotten_rows: int = 0
    new_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


@dataclass
class BronzeSummary:
    landed: list[BatchResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # units landed by an earlier run
    failed: dict[str, str] = field(default_factory=dict)  # unit -> error


def source_root(cfg: Config, spec: SourceSpec) -> str:
    return f"{cfg.path('raw').rstrip('/')}/{spec.path}"


def unit_name(source: str, batch_id: str) -> str:
    return f"{source}/{batch_id}"


def run(spark: SparkSession, cfg: Config, sources: list[str] | None = None) -> BronzeSummary:
    specs = load_sources(cfg)
    unknown = sorted(set(sources or []) - set(specs))
    if unknown:
        raise Fin360Error(f"unknown source(s) {unknown}; declared: {sorted(specs)}")
    selected = [specs[name] for name in (sources or specs)]
    for spec in selected:  # fail before landing anything when a source folder is missing
        if not lake.path_exists(spark, source_root(cfg, spec)):
            raise Fin360Error(
                f"raw folder of source '{spec.name}' not found: {source_root(cfg, spec)} "
                "(run `fin360 generate` or set FIN360_RAW)"
            )

    job = JobRun(spark, cfg, JOB)
    done = succeeded_units(spark, cfg, JOB)
    summary = BronzeSummary()
    for spec in selected:
        batches = [
            e for e in lake.list_dir(spark, source_root(cfg, spec))
            if e.is_dir and e.name.startswith(BATCH_PREFIX)
        ]  # fmt: skip
        if not batches:
            log.warning(
                "source=%s has no batch=<id> folders under %s", spec.name, source_root(cfg, spec)
            )
        for batch in batches:
            batch_id = batch.name[len(BATCH_PREFIX) :]
            unit = unit_name(spec.name, batch_id)
            if unit in done:
                summary.skipped.append(unit)
                continue
            started = utc_now()
            try:
                result = land_batch(spark, cfg, spec, batch_id, batch.path, job)
            except (Fin360Error, *READ_ERRORS) as exc:  # a bad file fails its batch only
                reason = str(exc) if isinstance(exc, Fin360Error) else error_line(exc)
                log.error("source=%s batch=%s failed: %s", spec.name, batch_id, reason)
                job.record(unit, "failed", started_at=started, error=reason)
                summary.failed[unit] = reason
                continue
            except Exception as exc:
                job.record(unit, "failed", started_at=started, error=repr(exc)[:2000])
                job.finish("failed", error=f"{unit}: {exc!r}"[:2000])
                raise
            summary.landed.append(result)
        job.flush()  # one ops.job_runs commit per source

    totals = {
        "batches_landed": len(summary.landed),
        "batches_skipped": len(summary.skipped),
        "batches_failed": len(summary.failed),
    }
    job.finish("failed" if summary.failed else "ok", details={**totals, "failed": summary.failed})
    log.info(
        "bronze done: %d batch(es) landed, %d already landed, %d failed",
        *totals.values(),
    )
    if summary.failed:
        first = next(iter(summary.failed.items()))
        raise Fin360Error(f"{len(summary.failed)} batch(es) failed, first {first[0]}: {first[1]}")
    return summary


def land_batch(
    spark: SparkSession, cfg: Config, spec: SourceSpec, batch_id: str, path: str, job: JobRun
) -> BatchResult:
    started = utc_now()
    files = [f for f in lake.list_dir(spark, path) if not f.is_dir and f.name[0] not in "._"]
    with stage(log, "land", source=spec.name, batch=batch_id, files=len(files)) as out:
        raw = readers.read_batch(spark, spec, files)
        missing_required = [c for c in spec.required_columns if c not in raw.columns]
        if missing_required:
            raise Fin360Error(
                f"source '{spec.name}' batch {batch_id}: required column(s) {missing_required} "
                f"missing (found {raw.columns})"
            )
        new_columns = [c for c in raw.columns if c not in spec.column_names]
        missing_columns = [c for c in spec.column_names if c not in raw.columns]
        if new_columns:
            log.warning(
                "source=%s batch=%s schema drift: new column(s) %s",
                spec.name,
                batch_id,
                new_columns,
            )

        forgotten = forget.suppressed(spark, cfg, spec) or (
            lambda df: df.withColumn(FORGOTTEN, F.lit(False))
        )
        checked = (
            raw.df.transform(forgotten)
            .transform(
                with_reject_reason(
                    spec.required_columns, raw.columns, cfg["bronze.max_field_chars"]
                )
            )
            .transform(with_ingest_metadata(batch_id, started, raw.columns))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            counts = checked.agg(
                F.count(F.lit(1)).alias("input"),
                F.count_if(F.col(REASON).isNull() & ~F.col(FORGOTTEN)).alias("landed"),
                F.count_if(F.col(FORGOTTEN)).alias("forgotten"),
            ).first()
            input_rows, landed_rows = counts["input"], counts["landed"]
            forgotten_rows = counts["forgotten"]
            app_id = f"fin360.bronze.{spec.name}.{batch_id}"
            table = catalog.bronze(spec.name)
            lake.append(
                checked.transform(landed_records(raw.columns)),
                cfg,
                table,
                txn_app_id=app_id,
                merge_schema=True,  # drift: a new column is added to the table
            )
            if landed_rows + forgotten_rows < input_rows:  # a commit only when some are kept
                lake.append(
                    checked.transform(quarantined_records(spec.name, raw.columns)),
                    cfg,
                    QUARANTINE,
                    txn_app_id=app_id,
                )
        finally:
            checked.unpersist()
        result = BatchResult(
            source=spec.name,
            batch_id=batch_id,
            input_rows=input_rows,
            landed_rows=landed_rows,
            quarantined_rows=input_rows - landed_rows - forgotten_rows,
            forgotten_rows=forgotten_rows,
            new_columns=new_columns,
            missing_columns=missing_columns,
        )
        out.update(
            rows=input_rows,
            landed=landed_rows,
            quarantined=result.quarantined_rows,
            **({"forgotten": forgotten_rows} if forgotten_rows else {}),
        )
    job.record(
        unit_name(spec.name, batch_id),
        "ok",
        started_at=started,
        input_rows=result.input_rows,
        output_rows=result.landed_rows,
        quarantined_rows=result.quarantined_rows,
        outputs={
            table: lake.version(spark, cfg, table),
            QUARANTINE: lake.version(spark, cfg, QUARANTINE),
        },
        details={
            "files": [f.path for f in files],
            "new_columns": new_columns,
            # records of people on the suppression list (fin360 forget): counted, not kept
            "forgotten_rows": result.forgotten_rows,
            "missing_columns": missing_columns,
        },
    )
    return result
