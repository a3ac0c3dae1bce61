"""Lineage: OpenLineage run events for every job run, and ``fin360 lineage TABLE``.

Every run of bronze, silver, gold and score, and every model family's training, emits a
``START`` and a ``COMPLETE`` (or ``FAIL``) OpenLineage run event with the ``openlineage-python``
client. An event names the job (namespace ``lineage.namespace``) and its run (the
``ops.job_runs`` run id, or the MLflow run id for training), and lists its input and output
datasets by storage location, as OpenLineage names them: namespace ``file`` and the absolute
path for a local lakehouse, ``s3://bucket`` and the key on S3. Each dataset carries its Delta
version (the ``version`` facet); an output whose rows a unit counted carries them
(``outputStatistics``); a training run carries its MLflow run id and experiment (``tags``) and
outputs the registered model version. Bronze's inputs are the raw batch folders it read.

Transport (``lineage.transport``): ``file`` (default: JSON lines appended to
``paths.lineage``), ``http`` (``lineage.url``, for example Marquez), or ``none``. An event that
cannot be sent is logged as a warning; it never fails the job that emits it.

``fin360 lineage TABLE`` answers where a table's current version came from, from
``ops.job_runs``, which holds the same facts inside the lakehouse: the run that wrote the
version, the versions that run read, and so on back to the raw files bronze landed.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    tags_run,
)
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet as OutputStatistics,
)
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, lake
from fin360.config import Config

log = logging.getLogger(__name__)

PRODUCER = "https://github.com/fin360/fin360"
TRANSPORTS = ("file", "http", "none")


@dataclass
class Datasets:
    """What one job run read and wrote: table -> Delta version, and the rows of its outputs."""

    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    output_rows: dict[str, int] = field(default_factory=dict)
    raw_folders: set[str] = field(default_factory=set)


@functools.cache
def _client(transport: str, target: str) -> OpenLineageClient | None:
    if transport == "file":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        config = {"type": "file", "log_file_path": target, "append": True}
    elif transport == "http":
        config = {"type": "http", "url": target}
    else:
        return None
    return OpenLineageClient(config={"transport": config})


def client(cfg: Config) -> OpenLineageClient | None:
    transport = cfg["lineage.transport"]
    if transport not in TRANSPORTS:
        raise Fin360Error(f"lineage.transport must be one of {TRANSPORTS}, got {transport!r}")
    if transport == "http" and not cfg.get("lineage.url"):
        raise Fin360Error("lineage.transport http needs lineage.url")
    target = cfg.path("lineage") if transport == "file" else cfg.get("lineage.url") or ""
    return _client(transport, target)


def location(path: str) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a storage location: ``file`` and the absolute path
    for a local one (``/x``, ``file:/x``), ``scheme://authority`` and the key for a remote one."""
    url = urlparse(path)
    if url.scheme in ("", "file") or len(url.scheme) == 1:  # a Windows drive is no scheme
        return "file", str(Path(url.path if url.scheme == "file" else path).resolve())
    return f"{url.scheme}://{url.netloc}", url.path.lstrip("/")


def _dataset(cls: type, path: str, version: int | None, **facets: Any) -> Any:
    namespace, name = location(path)
    extra = (
        {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))}
        if version is not None
        else {}
    )
    return cls(namespace=namespace, name=name, facets=extra, **facets)


def emit(
    cfg: Config,
    job: str,
    run_id: str,
    state: str,
    datasets: Datasets | None = None,
    *,
    tags: dict[str, str] | None = None,
    models: list[str] | None = None,
    error: str | None = None,
) -> None:
    """One run event of ``job`` (``START``, ``COMPLETE`` or ``FAIL``); never raises."""
    try:
        sender = client(cfg)
        if sender is None:
            return
        sender.emit(_event(cfg, job, run_id, state, datasets or Datasets(), tags, models, error))
    except Exception as exc:  # lineage is a record of the work, never a reason to fail it
        log.warning("lineage: %s event of %s run %s not sent: %s", state, job, run_id, exc)


def _event(
    cfg: Config,
    job: str,
    run_id: str,
    state: str,
    datasets: Datasets,
    tags: dict[str, str] | None,
    models: list[str] | None,
    error: str | None,
) -> RunEvent:
    run_facets: dict[str, Any] = {}
    if tags:
        fields = [tags_run.TagsRunFacetFields(key=k, value=v, source="FIN360") for k, v in tags.items()]  # fmt: skip
        run_facets["tags"] = tags_run.TagsRunFacet(tags=fields)
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="PYTHON"
        )
    inputs = [_dataset(InputDataset, lake.table_path(cfg, t), v) for t, v in sorted(datasets.inputs.items())]  # fmt: skip
    inputs += [_dataset(InputDataset, folder, None) for folder in sorted(datasets.raw_folders)]
    outputs = []
    for table, version in sorted(datasets.outputs.items()):
        stats = {}
        if table in datasets.output_rows:
            stats["outputStatistics"] = OutputStatistics(rowCount=datasets.output_rows[table])
        outputs.append(_dataset(OutputDataset, lake.table_path(cfg, table), version, outputFacets=stats))  # fmt: skip
    registry = f"mlflow:{cfg['mlflow.tracking_uri']}"
    outputs += [OutputDataset(namespace=registry, name=model) for model in models or []]
    kind = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="SPARK", jobType="JOB")
    return RunEvent(
        eventType=RunState[state],
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=str(uuid.UUID(run_id)), facets=run_facets),
        job=Job(namespace=cfg["lineage.namespace"], name=job, facets={"jobType": kind}),
        producer=PRODUCER,
        inputs=inputs,
        outputs=outputs,
    )


# --------------------------------------------------------------------------- fin360 lineage


def trace(spark: SparkSession, cfg: Config, table: str) -> list[str]:
    """Lines of where ``table``'s current version came from, back to the raw files."""
    from fin360.governance.audit import JOB_RUNS

    if not lake.exists(spark, cfg, table):
        raise Fin360Error(f"table {table} does not exist in {cfg.path('lakehouse')}")
    if not lake.exists(spark, cfg, JOB_RUNS):
        raise Fin360Error(f"{JOB_RUNS} does not exist: no job has run on this lakehouse")
    runs = lake.read(spark, cfg, JOB_RUNS).where(F.col("status") == "ok")
    lines: list[str] = []
    seen: set[tuple[str, int]] = set()

    def writers(name: str, version: int) -> list[Any]:
        """The units of the run that committed this version (one commit may hold several
        batches), else of the latest one before it (an idempotent rerun commits nothing)."""
        written = F.col("outputs")[name]
        candidates = runs.where(written.isNotNull() & (written <= version))
        latest = candidates.agg(F.max(written)).first()[0]
        if latest is None:
            return []
        return (
            candidates.where(written == latest).orderBy("ended_at", "unit").collect()
        )  # bounded: the units of one commit (a table's batches of one run)

    def walk(name: str, version: int | None, depth: int) -> None:
        pad = "  " * depth
        if version is None:
            lines.append(f"{pad}{name}: not written yet when it was read")
            return
        if (name, version) in seen:
            lines.append(f"{pad}{name} v{version} (above)")
            return
        seen.add((name, version))
        units = writers(name, version)
        if not units:
            lines.append(f"{pad}{name} v{version}: no recorded run wrote it")
            return
        last = units[-1]
        counted = [u["output_rows"] for u in units if u["output_rows"] is not None]
        rows = f", {sum(counted):,} rows" if counted else ""
        lines.append(
            f"{pad}{name} v{version} <- {last['job']} run {last['run_id'][:12]} "
            f"unit{'s' if len(units) > 1 else ''} {', '.join(u['unit'] for u in units)} "
            f"at {last['ended_at']:%Y-%m-%d %H:%M:%S}{rows} (code {last['code_version']})"
        )
        read: dict[str, int | None] = {}
        for unit in units:
            for source, source_version in (unit["inputs"] or {}).items():
                known = [v for v in (source_version, read.get(source)) if v is not None]
                read[source] = max(known) if known else None  # None: not written yet
        for source, source_version in sorted(read.items()):
            walk(source, source_version, depth + 1)
        for unit in units:
            for path in json.loads(unit["details"] or "{}").get("files", []):
                lines.append(f"{pad}  raw file {path}")

    walk(table, lake.version(spark, cfg, table), 0)
    return lines
