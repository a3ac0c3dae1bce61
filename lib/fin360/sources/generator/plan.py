"""Validation, chunk planning and orchestration: `generate` and the per-chunk driver."""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from fin360.sources.generator.banking import (
    _account_export,
    _make_accounts,
    _make_loans,
    _snapshot_accounts,
    _snapshot_loans,
    _write_accounts,
    _write_loans,
)
from fin360.sources.generator.cards import _card_batch, _write_card_batch
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    DELTA_BATCH,
    DELTA_DAYS,
    GENERATOR_VERSION,
    INITIAL_BATCH,
    LAYOUT_SOURCES,
    LAYOUTS,
    _ChunkSpec,
    _rng,
    _RunConfig,
    _share,
    _Stream,
)
from fin360.sources.generator.crm import _crm_delta, _crm_initial, _write_crm
from fin360.sources.generator.events import _write_app_events
from fin360.sources.generator.harbour import _write_harbour_chunk, _write_harbour_reference
from fin360.sources.generator.people import (
    _IDENTITY_SPACE,
    _make_devices,
    _make_people,
    _make_records,
    _make_rings,
)
from fin360.sources.generator.reference import _fx_rates, _write_reference
from fin360.sources.generator.service import _bureau, _write_bureau, _write_complaints
from fin360.sources.generator.transfers import _transfers, _write_transfers
from fin360.sources.generator.truth import _TRUTH_SCHEMAS, _chunk_truth
from fin360.sources.generator.writers import _ChunkOutput, _FileSet, _write_parquet

_CRM_FUZZY_DUPLICATE_RATE = 0.05

_CRM_ADDRESS_CHANGE_RATE = 0.01
_CRM_NEW_CUSTOMER_RATE = 0.005

_CUSTOMERS_PER_RING = 1000


def generate(
    raw_dir: str | Path,
    truth_dir: str | Path,
    *,
    customers: int = 2000,
    days: int = 180,
    seed: int = 42,
    start_date: str = "2025-01-01",
    chunk_customers: int = 50_000,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    layout: str = "standard",
) -> dict:
    """Generate every raw source and the planted truth; return the manifest.

    ``layout`` (one of `LAYOUTS`) chooses how the bank exports its data: ``"standard"`` (the
    ten sources of `SOURCES`) or ``"harbour"`` (another core system's exports, the sources of
    `HARBOUR_SOURCES`, see `fin360.sources.generator.harbour`). The same seed gives the same
    bank, the same ids and the same planted truth in every layout.

    The manifest (also written to ``truth_dir/manifest.json``) lists, per source and batch,
    the files written (relative to ``raw_dir``) and the exact number of physical records,
    malformed records and exact duplicate records in them. Part files that an earlier run
    left in the batch folders of any layout's sources are removed first; nothing else in
    ``raw_dir`` is touched. ``manifest["layout"]`` names the layout.

    With ``workers`` > 1 chunks run in spawned processes, so a script that calls this must
    guard its entry point with ``if __name__ == "__main__":`` (console scripts do).

    Raises:
        ValueError: on invalid arguments (customers < 10, days < 7, a start date that is not
            ``YYYY-MM-DD``, an unknown layout, ...) or a ``truth_dir`` inside ``raw_dir``.
    """
    start = _validate(
        customers=customers,
        days=days,
        seed=seed,
        start_date=start_date,
        chunk_customers=chunk_customers,
        workers=workers,
        layout=layout,
    )
    raw, truth = Path(raw_dir), Path(truth_dir)
    if truth.resolve().is_relative_to(raw.resolve()):
        raise ValueError(f"truth_dir {truth} must not be inside raw_dir {raw}")
    say = progress or _ignore
    identity = _rng(seed, 0, _Stream.IDENTITY).integers(0, 2**40, size=5)
    cfg = _RunConfig(
        raw_dir=raw,
        seed=seed,
        customers=customers,
        days=days,
        start=start,
        salts=tuple(int(s) for s in identity),
        layout=layout,
    )
    specs = _plan_chunks(customers, chunk_customers)
    _prepare_dirs(raw, truth)

    stats: dict[tuple[str, str], _FileSet] = {}
    write_reference = _write_harbour_reference if layout == "harbour" else _write_reference
    notes = write_reference(cfg, stats, _fx_rates(cfg))
    for (source, batch), files in stats.items():
        say(f"reference {source} {batch} {files.records:,} rows")
    truth_parts: dict[str, list[pa.Table]] = {name: [] for name in _TRUTH_SCHEMAS}
    for spec, result in zip(specs, _run_chunks(cfg, specs, workers), strict=True):
        for (source, batch), files in result.stats.items():
            stats.setdefault((source, batch), _FileSet()).extend(files)
            say(f"chunk {spec.index + 1}/{len(specs)} {source} {batch} {files.records:,} rows")
        for name, table in result.truth.items():
            truth_parts[name].append(table)

    truth_rows = {}
    for name, schema in _TRUTH_SCHEMAS.items():
        table = pa.concat_tables(truth_parts[name]).cast(schema)
        _write_parquet(table, truth / f"{name}.parquet")
        truth_rows[name] = table.num_rows
    manifest = {
        "layout": layout,
        "seed": seed,
        "customers": customers,
        "days": days,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "delta_days": DELTA_DAYS,
        "chunk_customers": chunk_customers,
        "generator_version": GENERATOR_VERSION,
        "sources": {
            source: {
                batch: stats[source, batch].as_manifest()
                for batch in (INITIAL_BATCH, DELTA_BATCH)
                if (source, batch) in stats
            }
            for source in LAYOUT_SOURCES[layout]
        },
        "truth": truth_rows,
        "notes": notes,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (truth / "manifest.json").write_text(text, encoding="utf-8")
    say(f"done: {sum(f.records for f in stats.values()):,} raw records")
    return manifest


@dataclass
class _ChunkResult:
    """What a chunk returns to the parent process: file statistics and truth tables."""

    stats: dict[tuple[str, str], _FileSet]
    truth: dict[str, pa.Table]


def _ignore(_line: str) -> None:
    """Default progress sink."""


def _validate(
    *,
    customers: int,
    days: int,
    seed: int,
    start_date: str,
    chunk_customers: int,
    workers: int,
    layout: str,
) -> date:
    """Check the arguments of `generate` and return the parsed start date."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    for name, value, minimum in (
        ("customers", customers, 10),
        ("days", days, 7),
        ("seed", seed, 0),
        ("chunk_customers", chunk_customers, 10),
        ("workers", workers, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if chunk_customers > 5_000_000:
        raise ValueError(f"chunk_customers must be <= 5,000,000, got {chunk_customers}")
    if customers >= _IDENTITY_SPACE // 2:
        raise ValueError(f"customers must be < {_IDENTITY_SPACE // 2:,} (unique resident IDs)")
    try:
        start = datetime.strptime(start_date, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        raise ValueError(f"start_date must be an ISO date YYYY-MM-DD, got {start_date!r}") from None
    if start.isoformat() != start_date:
        raise ValueError(f"start_date must be an ISO date YYYY-MM-DD, got {start_date!r}")
    return start


def _plan_chunks(customers: int, chunk_customers: int) -> list[_ChunkSpec]:
    """Split the customers into chunks and give each its deterministic counts and offsets."""
    specs = []
    extra_record = customers
    new_person = customers
    for index in range(math.ceil(customers / chunk_customers)):
        first = index * chunk_customers
        size = min(chunk_customers, customers - first)
        spec = _ChunkSpec(
            index=index,
            first_person=first,
            persons=size,
            fuzzy_duplicates=_share(size, _CRM_FUZZY_DUPLICATE_RATE),
            address_changes=max(1, _share(size, _CRM_ADDRESS_CHANGE_RATE)),
            new_customers=max(1, _share(size, _CRM_NEW_CUSTOMER_RATE)),
            first_extra_record=extra_record,
            first_new_person=new_person,
            rings=min(size // 10, _share(size, 1 / _CUSTOMERS_PER_RING)),
        )
        specs.append(spec)
        extra_record += spec.fuzzy_duplicates + spec.new_customers
        new_person += spec.new_customers
    if customers >= 100 and not any(s.rings for s in specs):
        specs[0] = replace(specs[0], rings=1)
    return specs


def _prepare_dirs(raw: Path, truth: Path) -> None:
    """Create the output folders and remove part files a previous run left in them."""
    truth.mkdir(parents=True, exist_ok=True)
    for source in dict.fromkeys(name for names in LAYOUT_SOURCES.values() for name in names):
        for batch in (INITIAL_BATCH, DELTA_BATCH):
            folder = raw / source / f"batch={batch}"
            for stale in folder.glob("part-*"):
                stale.unlink()
    raw.mkdir(parents=True, exist_ok=True)


def _run_chunks(cfg: _RunConfig, specs: list[_ChunkSpec], workers: int) -> Iterator[_ChunkResult]:
    """Generate the chunks, in parallel when asked; results come back in chunk order."""
    if workers == 1 or len(specs) == 1:
        for spec in specs:
            yield _generate_chunk(cfg, spec)
        return
    # spawn, not fork: the parent may already run Arrow's thread pools.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context) as pool:
        yield from pool.map(_generate_chunk, [cfg] * len(specs), specs)


def _generate_chunk(cfg: _RunConfig, spec: _ChunkSpec) -> _ChunkResult:
    """Generate and write every source of one chunk; return its statistics and truth."""

    def rng(stream: _Stream) -> np.random.Generator:
        return _rng(cfg.seed, spec.index, stream)

    people = _make_people(cfg, rng(_Stream.PERSONS), spec.first_person, spec.persons, new=False)
    newcomers = _make_people(
        cfg, rng(_Stream.NEW_PERSONS), spec.first_new_person, spec.new_customers, new=True
    )
    rings = _make_rings(spec, len(people), rng(_Stream.RINGS))
    crm_rng = rng(_Stream.CRM)
    records = _make_records(cfg, spec, crm_rng)
    loans = _make_loans(cfg, people, rng(_Stream.LOANS))
    accounts_rng = rng(_Stream.ACCOUNTS)
    chunk = _Chunk(
        cfg=cfg,
        spec=spec,
        out=_ChunkOutput(cfg.raw_dir, spec.index),
        people=people,
        records=records,
        rings=rings,
        devices=_make_devices(cfg, spec.index, people, rings, rng(_Stream.DEVICES)),
        loans=loans,
        accounts=_make_accounts(cfg, spec, people, records, loans, accounts_rng),
    )

    # The bank's data: the same whatever the layout (the standard layout's formatting choices
    # are drawn too, so that every stream is consumed the same way).
    crm_initial, primary_rows, primary_clients = _crm_initial(chunk, crm_rng)
    crm_delta = _crm_delta(chunk, primary_rows, primary_clients, newcomers, rng(_Stream.CRM_DELTA))
    export = _account_export(chunk.accounts, accounts_rng)
    account_snapshot = _snapshot_accounts(chunk.accounts, export, rng(_Stream.ACCOUNTS_SNAPSHOT))
    loan_snapshot = _snapshot_loans(cfg, loans, rng(_Stream.LOANS_SNAPSHOT))
    cards = [
        _card_batch(chunk, batch, rng(stream))
        for batch, stream in ((INITIAL_BATCH, _Stream.CARDS), (DELTA_BATCH, _Stream.CARDS_DELTA))
    ]
    transfers = _transfers(chunk, rng(_Stream.TRANSFERS))
    bureau_rows, bureau_identity = _bureau(chunk, rng(_Stream.BUREAU))

    if cfg.layout == "harbour":
        crm = (crm_initial, crm_delta)
        _write_harbour_chunk(chunk, crm, account_snapshot, loan_snapshot, cards, transfers, rng)
    else:
        out = chunk.out
        _write_crm(out, crm_initial)
        _write_crm(out, crm_delta)
        _write_accounts(out, cfg, chunk.accounts, export, account_snapshot)
        for batch in cards:
            _write_card_batch(chunk, batch)
        _write_transfers(out, transfers)
        _write_app_events(chunk, rng(_Stream.APP_EVENTS))
        _write_complaints(chunk, rng(_Stream.COMPLAINTS))
        _write_bureau(out, bureau_rows)
        _write_loans(out, cfg, spec, records, chunk.accounts, loans, loan_snapshot)

    anomalies = [batch.anomalies for batch in cards]
    truth = _chunk_truth(chunk, newcomers, anomalies, bureau_identity)
    return _ChunkResult(stats=chunk.out.stats, truth=truth)
