"""Seeded, chunked ("partitioned numpy") generator of fin360's raw sources and planted truth.

`generate` writes ten source systems' deliveries under ``raw_dir`` and the ground truth under
``truth_dir`` (never inside ``raw_dir``)::

    raw_dir/<source>/batch=<batch_id>/part-<chunk:05d>.<ext>
    truth_dir/{persons,customer_identity,bureau_identity,fraud_rings,anomalies,
               loan_labels}.parquet, truth_dir/manifest.json

Customers are split into chunks of ``chunk_customers``. A chunk is generated on its own from
``np.random.default_rng([seed, chunk_index, stream])`` (one stream per source), so output is
byte-identical whatever the number of worker processes, and memory is bounded per chunk.
Reference data (products, FX rates) comes from the chunk-0 slot with streams no chunk uses.

Values are written as the source system would write them, dirty on purpose: mixed date,
phone and timestamp formats, full-width characters, GBK files, exact and fuzzy duplicates,
malformed lines, unknown currencies and a schema drift in the second batch. The manifest
counts every physical record so that ingestion can reconcile exactly.

Formats (``b0001`` = initial load, ``b0002`` = a later delivery):

- crm_customers: CSV + header, UTF-8; the GZ branch's rows are in ``-gz.gbk.csv`` files in
  GBK. b0002 holds address changes (same id, later updated_at) and new customers.
- core_accounts: fixed width (`CORE_ACCOUNTS_LAYOUT`), ASCII, no header, ``.txt``.
- card_transactions: JSON lines; b0002 adds ``wallet_provider`` and covers `DELTA_DAYS`
  days after the period.
- transfers: Parquet (`TRANSFER_SCHEMA`). app_events: JSON lines.
- complaints, credit_bureau, loans, fx_rates, products: CSV + header, UTF-8.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import multiprocessing
import string
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import IntEnum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fin360.sources import catalog, names
from fin360.sources.catalog import MCCS, PRODUCTS, SEGMENTS
from fin360.sources.names import CITIES, FOREIGN_CITIES

GENERATOR_VERSION = "1.0.0"

INITIAL_BATCH = "b0001"
DELTA_BATCH = "b0002"
DELTA_DAYS = 3  # card transactions of the delta batch cover this many days after the period

SOURCES = (
    "crm_customers",
    "core_accounts",
    "card_transactions",
    "transfers",
    "app_events",
    "complaints",
    "credit_bureau",
    "loans",
    "fx_rates",
    "products",
)

CRM_COLUMNS = (
    "customer_src_id",
    "branch_code",
    "full_name",
    "gender",
    "birth_date",
    "resident_id",
    "phone",
    "email",
    "address",
    "city",
    "province",
    "occupation",
    "annual_income",
    "marketing_consent",
    "data_sharing_consent",
    "created_at",
    "updated_at",
)
CRM_GBK_BRANCH = "GZ"
_SEGMENT_INDEX = {s.name: i for i, s in enumerate(SEGMENTS)}
_YOUNG = _SEGMENT_INDEX["young_digital"]
_AFFLUENT = _SEGMENT_INDEX["mass_affluent"]
_FAMILY = _SEGMENT_INDEX["salaried_family"]
_SENIOR = _SEGMENT_INDEX["senior_saver"]
_SMALL_BUSINESS = _SEGMENT_INDEX["small_business"]
_BRANCH_INDEX = {c.branch: i for i, c in enumerate(CITIES)}

CORE_ACCOUNTS_LAYOUT = [
    ("account_id", 16),
    ("customer_src_id", 12),
    ("product_code", 8),
    ("currency", 3),
    ("open_date", 8),
    ("status", 1),
    ("balance", 16),
    ("credit_limit", 16),
]

CARD_COLUMNS = (
    "txn_id",
    "account_id",
    "customer_src_id",
    "amount",
    "currency",
    "merchant_id",
    "merchant_name",
    "mcc",
    "channel",
    "device_id",
    "country",
    "city",
    "lat",
    "lon",
    "local_time",
)
CARD_DELTA_COLUMNS = (*CARD_COLUMNS, "wallet_provider")

TRANSFER_SCHEMA = pa.schema(
    [
        ("transfer_id", pa.string()),
        ("from_account", pa.string()),
        ("to_account", pa.string()),
        ("counterparty_name", pa.string()),
        ("counterparty_bank", pa.string()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
        ("purpose", pa.string()),
    ]
)

APP_EVENT_COLUMNS = (
    "event_id",
    "customer_src_id",
    "device_id",
    "event_type",
    "product_code",
    "platform",
    "ip",
    "ts",
)
COMPLAINT_COLUMNS = ("complaint_id", "customer_src_id", "channel", "category", "text", "created_at")
BUREAU_COLUMNS = (
    "bureau_record_id",
    "resident_id",
    "name",
    "report_date",
    "bureau_score",
    "delinquencies_24m",
    "inquiries_6m",
    "total_debt",
    "open_lines",
)
LOAN_COLUMNS = (
    "loan_id",
    "customer_src_id",
    "account_id",
    "product_code",
    "principal",
    "currency",
    "application_date",
    "term_months",
    "interest_rate",
    "status",
    "days_past_due",
    "max_dpd_12m",
    "as_of_date",
)
FX_COLUMNS = ("rate_date", "currency", "rate_to_cny")
PRODUCT_COLUMNS = ("product_code", "product_name", "category", "min_age", "risk_level", "currency")

ANOMALY_TYPES = ("huge_amount", "foreign_new_device", "night_burst", "unusual_mcc")

# Dirt and volume rates.
_CRM_EXACT_DUPLICATE_RATE = 0.02
_CRM_FUZZY_DUPLICATE_RATE = 0.05
_CRM_MALFORMED_RATE = 0.005
_CRM_ADDRESS_CHANGE_RATE = 0.01
_CRM_NEW_CUSTOMER_RATE = 0.005
_ACCOUNTS_MALFORMED_RATE = 0.003
_CARD_DUPLICATE_RATE = 0.005
_CARD_MALFORMED_RATE = 0.003
_CARD_ANOMALY_RATE = 0.005
_CARD_UNKNOWN_CURRENCY_RATE = 0.002
_APP_MALFORMED_RATE = 0.003
_BUREAU_COVERAGE = 0.9
_CUSTOMERS_PER_RING = 1000

# Currencies: index 0 is the home currency; rates are the fixed levels used to price spend
# abroad (the published fx_rates source random-walks around them).
_CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD")
_FX_BASE = np.array([1.0, 7.18, 7.80, 0.922, 0.0478, 9.10, 5.33])
_CURRENCY_INDEX = {c: i for i, c in enumerate(_CURRENCIES)}
# Text written to the currency field: the codes, then the unknown spellings used as dirt.
_RMB, _XXX = len(_CURRENCIES), len(_CURRENCIES) + 1
_CURRENCY_TEXT = (*_CURRENCIES, "RMB", "XXX", *(f"{c.lower()} " for c in _CURRENCIES[1:]))

_CARD_CHANNELS = ("POS", "ECOM", "ATM", "CONTACTLESS")
_POS, _ECOM, _ATM, _CONTACTLESS = range(4)
_WALLETS = ("alipay", "wechat", "applepay")
_PLATFORMS = ("ios", "android", "web")
_APP_EVENT_TYPES = (
    "login",
    "logout",
    "view_product",
    "apply_product",
    "transfer_init",
    "password_reset",
)
_LOGIN, _LOGOUT, _VIEW, _APPLY, _TRANSFER_INIT, _PASSWORD_RESET = range(6)

_EPOCH = date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400
_MS_PER_DAY = 86_400_000
_HOME_OFFSET_MS = 8 * 3_600_000  # all branch cities are UTC+08:00
_JSON_BLOCK_ROWS = 500_000  # rows rendered at once when writing JSON lines

# Resident ID numbers come from a bijection of the global person index onto
# (birth area, day of birth year, sequence), so they never collide within a run of up to
# _IDENTITY_SPACE persons, whatever the chunking: a collision would merge two people.
_AREA_CODES = (*(d.code for c in CITIES for d in c.districts), *names.OTHER_BIRTH_AREAS)
_AREA_CITY = np.array(
    [ci for ci, c in enumerate(CITIES) for _ in c.districts] + [-1] * len(names.OTHER_BIRTH_AREAS)
)
_IDENTITY_SPACE = len(_AREA_CODES) * 365 * 500
_IDENTITY_MULTIPLIER = 2_147_483_647  # prime, larger than _IDENTITY_SPACE
# Multipliers near 0.618 * modulus (so neighbours land far apart), coprime to the modulus.
_PHONE_MULTIPLIER = 61_803_397
_CUSTOMER_MULTIPLIER = 61_803_398_873
_ACCOUNT_MULTIPLIER = 61_803_398_874_987
_DEVICE_MULTIPLIER = 173_953_596_026_463  # odd, modulus 2**48
_FRESH_DEVICE_BASE = 9_000_000  # device sequence numbers above this are "never seen before"

_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"

_FULLWIDTH = str.maketrans(
    {c: chr(ord(c) + 0xFEE0) for c in string.digits + string.ascii_letters} | {" ": "\u3000"}
)


class _Stream(IntEnum):
    """Random stream constants: ``default_rng([seed, chunk_index, stream])``."""

    PERSONS = 1
    RINGS = 2
    DEVICES = 3
    CRM = 4
    LOANS = 5
    ACCOUNTS = 6
    CARDS = 7
    TRANSFERS = 8
    APP_EVENTS = 9
    COMPLAINTS = 10
    BUREAU = 11
    NEW_PERSONS = 12
    CRM_DELTA = 13
    CARDS_DELTA = 14
    # Reference streams (used with chunk slot 0 only).
    FX = 101
    MERCHANTS = 102
    IDENTITY = 103


# --------------------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------------------


def resident_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC resident ID."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def is_valid_resident_id(s: str) -> bool:
    """True for a canonical 18-character PRC resident ID: digits, a real birth date, a correct
    check character ('X' upper-case). Does not normalise spaces, full-width or lower-case."""
    if len(s) != 18 or not s.isascii() or not s[:17].isdigit():
        return False
    try:
        datetime.strptime(s[6:14], "%Y%m%d")
    except ValueError:
        return False
    return resident_id_check_digit(s[:17]) == s[17]


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
) -> dict:
    """Generate every raw source and the planted truth; return the manifest.

    The manifest (also written to ``truth_dir/manifest.json``) lists, per source and batch,
    the files written (relative to ``raw_dir``) and the exact number of physical records,
    malformed records and exact duplicate records in them. Part files that an earlier run
    left in the batch folders are removed first; nothing else in ``raw_dir`` is touched.

    With ``workers`` > 1 chunks run in spawned processes, so a script that calls this must
    guard its entry point with ``if __name__ == "__main__":`` (console scripts do).

    Raises:
        ValueError: on invalid arguments (customers < 10, days < 7, a start date that is not
            ``YYYY-MM-DD``, ...) or a ``truth_dir`` inside ``raw_dir``.
    """
    start = _validate(
        customers=customers,
        days=days,
        seed=seed,
        start_date=start_date,
        chunk_customers=chunk_customers,
        workers=workers,
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
    )
    specs = _plan_chunks(customers, chunk_customers)
    _prepare_dirs(raw, truth)

    stats: dict[tuple[str, str], _FileSet] = {}
    notes = _write_reference(cfg, stats)
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
            for source in SOURCES
        },
        "truth": truth_rows,
        "notes": notes,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (truth / "manifest.json").write_text(text, encoding="utf-8")
    say(f"done: {sum(f.records for f in stats.values()):,} raw records")
    return manifest


# --------------------------------------------------------------------------------------
# Run planning and orchestration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunConfig:
    """Arguments shared by every chunk (picklable, sent to worker processes)."""

    raw_dir: Path
    seed: int
    customers: int
    days: int
    start: date
    salts: tuple[int, ...]  # identity scrambling offsets derived from the seed

    @property
    def start_day(self) -> int:
        """First day of the period, in days since 1970-01-01."""
        return (self.start - _EPOCH).days

    @property
    def end_day(self) -> int:
        """First day after the period (exclusive end), in days since 1970-01-01."""
        return self.start_day + self.days


@dataclass(frozen=True)
class _ChunkSpec:
    """What one chunk generates: its persons and its share of extra records and rings."""

    index: int
    first_person: int  # global index of the chunk's first person
    persons: int
    fuzzy_duplicates: int
    address_changes: int
    new_customers: int
    first_extra_record: int  # customer-record sequence number of the first fuzzy/new record
    first_new_person: int  # global person index of the first b0002 new customer
    rings: int


@dataclass
class _FileSet:
    """Files written for one source and batch, with their physical record counts."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    malformed: int = 0
    exact_duplicates: int = 0

    def extend(self, other: _FileSet) -> None:
        """Append another chunk's files and counts."""
        self.files.extend(other.files)
        self.records += other.records
        self.malformed += other.malformed
        self.exact_duplicates += other.exact_duplicates

    def as_manifest(self) -> dict:
        """The manifest entry of this source and batch."""
        return {
            "files": self.files,
            "records": self.records,
            "malformed": self.malformed,
            "exact_duplicates": self.exact_duplicates,
        }


@dataclass
class _ChunkResult:
    """What a chunk returns to the parent process: file statistics and truth tables."""

    stats: dict[tuple[str, str], _FileSet]
    truth: dict[str, pa.Table]


@dataclass(frozen=True)
class _Chunk:
    """What the source writers of one chunk share: its plan, output and master data."""

    cfg: _RunConfig
    spec: _ChunkSpec
    out: _ChunkOutput
    people: _People
    records: _Records
    rings: _Rings
    devices: _Devices
    loans: _Loans
    accounts: _Accounts


def _ignore(_line: str) -> None:
    """Default progress sink."""


def _validate(
    *, customers: int, days: int, seed: int, start_date: str, chunk_customers: int, workers: int
) -> date:
    """Check the arguments of `generate` and return the parsed start date."""
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


def _share(count: int, rate: float) -> int:
    """Round ``count * rate`` half up (deterministic, unlike banker's rounding)."""
    return math.floor(count * rate + 0.5)


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
    for source in SOURCES:
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


def _rng(seed: int, chunk: int, stream: _Stream) -> np.random.Generator:
    """The random generator of one chunk and stream."""
    return np.random.default_rng([seed, chunk, int(stream)])


# --------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------


class _ChunkOutput:
    """Names a chunk's files and tallies their records per source and batch."""

    def __init__(self, raw_dir: Path, chunk: int) -> None:
        self.raw_dir = raw_dir
        self.chunk = chunk
        self.stats: dict[tuple[str, str], _FileSet] = {}

    def path(self, source: str, batch: str, suffix: str) -> Path:
        """Register and return the path of this chunk's file ``part-<chunk><suffix>``."""
        relative = f"{source}/batch={batch}/part-{self.chunk:05d}{suffix}"
        self.stats.setdefault((source, batch), _FileSet()).files.append(relative)
        target = self.raw_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def tally(
        self, source: str, batch: str, records: int, malformed: int = 0, duplicates: int = 0
    ) -> None:
        """Add physical record counts for a file registered with `path`."""
        files = self.stats.setdefault((source, batch), _FileSet())
        files.records += records
        files.malformed += malformed
        files.exact_duplicates += duplicates


def _csv_text(header: tuple[str, ...], rows: list[list[str]]) -> str:
    """CSV with a header, minimal quoting and LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Parquet with fixed options (snappy), so identical tables give identical bytes."""
    pq.write_table(table, path, compression="snappy", version="2.6")


def _arrow_text(lines: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without nulls."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, stop = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:stop]


def _write_json_lines(
    path: Path, render: Callable[[np.ndarray], pa.Array], rows: np.ndarray, cut: np.ndarray
) -> None:
    """Write one rendered JSON line per entry of ``rows`` (row indices, repeats allowed).

    A line whose ``cut`` is > 0 is truncated to that fraction of its characters (a malformed
    record, as if the export had been interrupted). Rendering goes block by block.
    """
    with path.open("wb") as out:
        for low in range(0, len(rows), _JSON_BLOCK_ROWS):
            lines = render(rows[low : low + _JSON_BLOCK_ROWS])
            block_cut = cut[low : low + _JSON_BLOCK_ROWS]
            broken = np.flatnonzero(block_cut > 0)
            if broken.size:
                texts = lines.take(pa.array(broken)).to_pylist()
                truncated = [
                    text[: max(1, int(len(text) * c))]
                    for text, c in zip(texts, block_cut[broken], strict=True)
                ]
                mask = np.zeros(len(lines), dtype=bool)
                mask[broken] = True
                lines = pc.replace_with_mask(
                    lines, pa.array(mask), pa.array(truncated, pa.string())
                )
            out.write(_arrow_text(pc.binary_join_element_wise(lines, "\n", "")))


def _json_dictionary(values: list) -> pa.Array:
    """JSON literals (``"text"``, numbers, ``null``) of a small list of values."""
    return pa.array([json.dumps(v, ensure_ascii=False) for v in values], pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int, quote: str = "") -> pa.Array:
    """Ids ``<prefix><number zero-padded to width>``, optionally quoted as JSON literals."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(f"{quote}{prefix}", digits, quote, "")


def _dirty_line_plan(
    rng: np.random.Generator,
    rows: int,
    duplicate_rate: float,
    malformed_rate: float,
    protected: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Decide which rows land twice (next to each other) and which lines are truncated.

    Returns (row index per output line, cut fraction per line (0 = intact), number of
    malformed lines, number of exact duplicate lines). Duplicated and ``protected`` rows are
    never truncated, so a duplicate is always an identical, valid record.
    """
    duplicated = rng.random(rows) < duplicate_rate
    malformed = (rng.random(rows) < malformed_rate) & ~duplicated
    if protected is not None:
        malformed &= ~protected
    cut_fraction = np.where(malformed, rng.uniform(0.15, 0.85, rows), 0.0)
    order = np.repeat(np.arange(rows), 1 + duplicated)
    return order, cut_fraction[order], int(malformed.sum()), int(duplicated.sum())


def _day_and_clock(local_ms: np.ndarray, *, millis: bool) -> tuple[pa.Array, pa.Array]:
    """``YYYY-MM-DD`` and ``HH:MM:SS`` (``HH:MM:SS.fff`` with ``millis``) of epoch ms."""
    stamps = (
        local_ms.astype("datetime64[ms]") if millis else (local_ms // 1000).astype("datetime64[s]")
    )
    text = pc.cast(pa.array(stamps), pa.string())  # "YYYY-MM-DD HH:MM:SS[.fff]"
    return pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11)


def _offset_text(minutes: int) -> str:
    """UTC offset as ``+08:00``."""
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _days_to_dates(days: np.ndarray) -> list[date]:
    """Epoch day numbers to `datetime.date` objects."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(object).tolist()


def _iso_days(days: np.ndarray) -> np.ndarray:
    """Epoch day numbers to ``YYYY-MM-DD`` strings."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"))


def _choose(rng: np.random.Generator, weights: tuple[float, ...], size: int) -> np.ndarray:
    """Indices drawn with the given relative weights."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One index per row of a 2-D weight matrix (rows need not be normalised)."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return (u[:, None] >= cumulative).sum(axis=1)


def _segment_array(name: str) -> np.ndarray:
    """One parameter of every segment, indexable by segment number."""
    return np.array([getattr(s, name) for s in SEGMENTS])


def _scrambled(seq: np.ndarray, multiplier: int, salt: int, modulus: int) -> list[int]:
    """A random-looking bijection of 0..modulus-1 (``multiplier`` coprime to ``modulus``).

    Python integers: the products do not fit in 64 bits.
    """
    return [(int(s) * multiplier + salt) % modulus for s in np.asarray(seq).tolist()]


def _fullwidth(text: str) -> str:
    """ASCII letters, digits and spaces as their full-width forms."""
    return text.translate(_FULLWIDTH)


# --------------------------------------------------------------------------------------
# Reference sources: products and FX rates
# --------------------------------------------------------------------------------------


def _write_reference(cfg: _RunConfig, stats: dict[tuple[str, str], _FileSet]) -> dict:
    """Write products and fx_rates (batch b0001 only) and return the manifest notes."""
    out = _ChunkOutput(cfg.raw_dir, 0)
    rows = [
        [p.code, p.name, p.category, str(p.min_age), str(p.risk_level), p.currency]
        for p in PRODUCTS
    ]
    path = out.path("products", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(PRODUCT_COLUMNS, rows), encoding="utf-8")
    out.tally("products", INITIAL_BATCH, len(rows))

    rng = _rng(cfg.seed, 0, _Stream.FX)
    n_days = cfg.days + DELTA_DAYS
    steps = rng.normal(0.0, 0.003, size=(n_days, len(_CURRENCIES)))
    steps[0] = 0.0
    rates = _FX_BASE * np.exp(np.cumsum(steps, axis=0))
    # The Hong Kong dollar is pegged to the US dollar.
    rates[:, _CURRENCY_INDEX["HKD"]] = (
        rates[:, _CURRENCY_INDEX["USD"]] / 7.80 * (1 + rng.normal(0.0, 0.0004, n_days))
    )
    missing_currency = 1 + int(rng.integers(0, len(_CURRENCIES) - 1))
    missing_days = set(rng.choice(np.arange(1, n_days - 1), size=2, replace=False).tolist())
    dates = _iso_days(cfg.start_day + np.arange(n_days))
    fx_rows = [
        [str(dates[d]), _CURRENCIES[c], f"{rates[d, c]:.6f}"]
        for d in range(n_days)
        for c in range(1, len(_CURRENCIES))
        if not (c == missing_currency and d in missing_days)
    ]
    path = out.path("fx_rates", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(FX_COLUMNS, fx_rows), encoding="utf-8")
    out.tally("fx_rates", INITIAL_BATCH, len(fx_rows))
    stats.update(out.stats)
    return {
        "fx_rates_missing": {
            "currency": _CURRENCIES[missing_currency],
            "dates": sorted(str(dates[d]) for d in missing_days),
        },
        "unknown_currency_codes": ["XXX", "RMB", "<lower-case code with trailing space>"],
        "crm_gbk_branch": CRM_GBK_BRANCH,
    }


# --------------------------------------------------------------------------------------
# Persons (latent truth and master data)
# --------------------------------------------------------------------------------------


@dataclass
class _People:
    """The persons of one chunk: latent traits and master data, one array element each."""

    person_id: list[str]
    segment: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # epoch days
    age: np.ndarray
    resident_id: list[str]
    chinese: np.ndarray
    family_name: list[str]
    given_name: list[str]
    name: list[str]
    phone: list[str]
    email: list[str]
    city: np.ndarray
    district: np.ndarray
    road: np.ndarray
    house_number: np.ndarray
    building: np.ndarray
    room: np.ndarray
    english_address: np.ndarray
    occupation: list[str]
    income: np.ndarray
    marketing_consent: np.ndarray
    data_sharing_consent: np.ndarray
    since: np.ndarray  # epoch day the customer relationship started (CRM created_at)
    updated: np.ndarray  # epoch seconds of the last CRM update
    propensity: np.ndarray  # probability that a loan of this person goes 90+ days past due
    traveller: np.ndarray
    trip_start: np.ndarray  # epoch day a traveller's trip abroad starts
    trip_length: np.ndarray
    trip_city: np.ndarray  # index into FOREIGN_CITIES
    gambler: np.ndarray
    jeweller: np.ndarray
    activity: np.ndarray  # multiplies transaction and app usage rates
    amount_shift: np.ndarray  # log-scale shift of this person's card spend

    def __len__(self) -> int:
        return len(self.segment)


_CITY_WEIGHTS = np.array([c.weight for c in CITIES]) / sum(c.weight for c in CITIES)
_DISTRICT_COUNTS = np.array([len(c.districts) for c in CITIES])
_SURNAME_WEIGHTS = np.array([s.weight for s in names.SURNAMES]) / sum(
    s.weight for s in names.SURNAMES
)


def _make_people(
    cfg: _RunConfig, rng: np.random.Generator, first: int, count: int, *, new: bool
) -> _People:
    """Draw ``count`` persons with global indices ``first...``; ``new`` ones join in b0002."""
    segment = rng.choice(len(SEGMENTS), size=count, p=_segment_array("share"))
    age_range = _segment_array("age_range")[segment]
    age = rng.integers(age_range[:, 0], age_range[:, 1] + 1)
    male = rng.random(count) < _segment_array("male_share")[segment]
    global_index = first + np.arange(count, dtype=np.int64)

    slot = np.array(_scrambled(global_index, _IDENTITY_MULTIPLIER, cfg.salts[0], _IDENTITY_SPACE))
    area = slot // (365 * 500)
    day_of_year = (slot // 500) % 365
    sequence = (slot % 500) * 2 + male  # odd for men, even for women
    year = (cfg.start.year - age - 1970).astype("datetime64[Y]")
    birth = (year.astype("datetime64[D]") + day_of_year).astype(np.int64)
    birth_digits = np.char.replace(_iso_days(birth), "-", "")
    resident_id = []
    for a, b, s in zip(area.tolist(), birth_digits.tolist(), sequence.tolist(), strict=True):
        first17 = f"{_AREA_CODES[a]}{b}{s:03d}"
        resident_id.append(first17 + resident_id_check_digit(first17))

    born_in = _AREA_CITY[area]
    city = np.where(
        (born_in >= 0) & (rng.random(count) < 0.7),
        born_in,
        rng.choice(len(CITIES), size=count, p=_CITY_WEIGHTS),
    )
    district = (rng.random(count) * _DISTRICT_COUNTS[city]).astype(np.int64)

    chinese = rng.random(count) < 0.75
    family_name, given_name, full_name, email = _names_and_emails(rng, chinese, male, birth)

    suffix = _scrambled(global_index, _PHONE_MULTIPLIER, cfg.salts[1], 10**8)
    prefix = rng.integers(0, len(names.PHONE_PREFIXES), count)
    phone = [f"{names.PHONE_PREFIXES[p]}{s:08d}" for p, s in zip(prefix, suffix, strict=True)]

    occupation_pick = rng.random(count)
    occupation = [
        SEGMENTS[s].occupations[int(u * len(SEGMENTS[s].occupations))]
        if cn or u < 0.3
        else (
            "Retired"
            if SEGMENTS[s].name == "senior_saver"
            else catalog.ENGLISH_OCCUPATIONS[int(u * len(catalog.ENGLISH_OCCUPATIONS))]
        )
        for s, cn, u in zip(segment.tolist(), chinese.tolist(), occupation_pick, strict=True)
    ]

    median = _segment_array("income_median")[segment]
    income = np.maximum(
        12_000.0,
        np.round(
            median * np.exp(_segment_array("income_sigma")[segment] * rng.normal(size=count)), -3
        ),
    )
    logit = (
        _segment_array("default_logit")[segment]
        + 0.75 * rng.normal(size=count)
        - 0.45 * (np.log(income) - np.log(median))
        + 0.25 * (age < 25)
    )
    propensity = np.clip(1.0 / (1.0 + np.exp(-logit)), 0.002, 0.95)

    if new:
        since = cfg.end_day + rng.integers(0, DELTA_DAYS, count)
        updated = since * _SECONDS_PER_DAY + rng.integers(8 * 3600, 20 * 3600, count)
    else:
        adult = birth + 6575  # 18th birthday, give or take a leap day
        since = np.clip(cfg.start_day - rng.integers(30, 15 * 365, count), adult, cfg.start_day - 1)
        span = (cfg.end_day - since) * _SECONDS_PER_DAY
        updated = since * _SECONDS_PER_DAY + (rng.random(count) * span).astype(np.int64)

    return _People(
        person_id=[f"P{g:010d}" for g in global_index.tolist()],
        segment=segment,
        male=male,
        birth=birth,
        age=age,
        resident_id=resident_id,
        chinese=chinese,
        family_name=family_name,
        given_name=given_name,
        name=full_name,
        phone=phone,
        email=email,
        city=city,
        district=district,
        road=rng.integers(0, len(names.ROADS), count),
        house_number=rng.integers(1, 400, count),
        building=rng.integers(1, 30, count),
        room=rng.integers(1, 33, count) * 100 + rng.integers(1, 9, count),
        english_address=~chinese & (rng.random(count) < 0.5),
        occupation=occupation,
        income=income,
        marketing_consent=rng.random(count) < np.where(segment == _YOUNG, 0.75, 0.55),
        data_sharing_consent=rng.random(count) < 0.45,
        since=since,
        updated=updated,
        propensity=propensity,
        traveller=rng.random(count) < _segment_array("traveller_share")[segment],
        trip_start=rng.integers(cfg.start_day, cfg.end_day + DELTA_DAYS, count),
        trip_length=rng.integers(3, 9, count),
        trip_city=_choose(rng, names.FOREIGN_TRIP_WEIGHTS, count),
        gambler=rng.random(count) < 0.03,
        jeweller=rng.random(count) < 0.04,
        activity=rng.lognormal(0.0, 0.45, count),
        amount_shift=rng.normal(0.0, 0.25, count),
    )


def _names_and_emails(
    rng: np.random.Generator, chinese: np.ndarray, male: np.ndarray, birth: np.ndarray
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Family names, given names, display names and e-mail addresses."""
    count = len(chinese)
    surname = rng.choice(len(names.SURNAMES), size=count, p=_SURNAME_WEIGHTS)
    two_chars = rng.random(count) < 0.7
    picks = rng.random((count, 2))
    domain = rng.integers(0, len(names.EMAIL_DOMAINS), count)
    email_style = rng.random(count)
    number = rng.integers(1, 1000, count)
    qq_number = rng.integers(10_000_000, 3_000_000_000, count)
    birth_year = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970) % 100

    families, givens, fulls, emails = [], [], [], []
    for i in range(count):
        if chinese[i]:
            family = names.SURNAMES[surname[i]]
            pool = names.GIVEN_MALE if male[i] else names.GIVEN_FEMALE
            chars = [pool[int(picks[i, 0] * len(pool))]]
            if two_chars[i]:
                chars.append(pool[int(picks[i, 1] * len(pool))])
            given = "".join(c.hanzi for c in chars)
            families.append(family.hanzi)
            givens.append(given)
            fulls.append(family.hanzi + given)
            handle = family.pinyin + "".join(c.pinyin for c in chars)
        else:
            pool_en = names.ENGLISH_FIRST_MALE if male[i] else names.ENGLISH_FIRST_FEMALE
            first = pool_en[int(picks[i, 0] * len(pool_en))]
            last = names.ENGLISH_LAST[int(picks[i, 1] * len(names.ENGLISH_LAST))]
            families.append(last)
            givens.append(first)
            fulls.append(f"{first} {last}")
            handle = f"{first}.{last}".lower().replace("'", "")
        site = names.EMAIL_DOMAINS[domain[i]]
        if email_style[i] < 0.05:
            emails.append("")
        elif site == "qq.com":
            emails.append(f"{qq_number[i]}@qq.com")
        elif email_style[i] < 0.45:
            emails.append(f"{handle}{birth_year[i]:02d}@{site}")
        elif email_style[i] < 0.8:
            emails.append(f"{handle}{number[i]}@{site}")
        else:
            emails.append(f"{handle}@{site}")
    return families, givens, fulls, emails


@dataclass
class _Rings:
    """Fraud rings of one chunk."""

    ring_ids: list[str]
    ring_of: np.ndarray  # per person: ring number or -1
    members: list[np.ndarray]  # per ring: person indices, organiser first


def _make_rings(spec: _ChunkSpec, count: int, rng: np.random.Generator) -> _Rings:
    """Pick disjoint groups of 4-8 persons as fraud rings."""
    ring_of = np.full(count, -1)
    candidates = rng.permutation(count)
    members, used = [], 0
    for ring in range(spec.rings):
        size = int(min(rng.integers(4, 9), count - used))
        group = candidates[used : used + size]
        used += size
        ring_of[group] = ring
        members.append(group)
    ring_ids = [f"RING-{spec.index:05d}-{r:03d}" for r in range(spec.rings)]
    return _Rings(ring_ids=ring_ids, ring_of=ring_of, members=members)


@dataclass
class _Devices:
    """Devices of one chunk: every person has 1-2, every fraud ring shares one more."""

    ids: list[str]
    platform: np.ndarray  # index into _PLATFORMS
    ip: np.ndarray  # (devices, 4) octets of the usual address
    primary: np.ndarray  # per person
    secondary: np.ndarray  # per person, -1 when none
    ring_device: np.ndarray  # per ring


def _device_ids(cfg: _RunConfig, chunk: int, local: np.ndarray) -> list[str]:
    """Unique, random-looking device ids ``DEV-<12 hex>`` for chunk-local sequence numbers."""
    codes = _scrambled(chunk * 10**7 + local, _DEVICE_MULTIPLIER, cfg.salts[2], 2**48)
    return [f"DEV-{c:012x}" for c in codes]


def _make_devices(
    cfg: _RunConfig, chunk: int, people: _People, rings: _Rings, rng: np.random.Generator
) -> _Devices:
    """Assign devices, platforms and usual IP addresses."""
    count = len(people)
    has_second = rng.random(count) < 0.3
    primary = np.arange(count)
    secondary = np.where(has_second, count + np.cumsum(has_second) - 1, -1)
    total = count + int(has_second.sum()) + len(rings.ring_ids)
    ring_device = np.arange(count + int(has_second.sum()), total)
    senior_person = people.segment == _SENIOR
    senior = np.concatenate(
        [senior_person, senior_person[has_second], np.zeros(len(ring_device), dtype=bool)]
    )
    platform = np.where(
        senior, _choose(rng, (0.15, 0.55, 0.30), total), _choose(rng, (0.45, 0.45, 0.10), total)
    )
    ip = np.column_stack(
        [
            np.asarray(names.IP_FIRST_OCTETS)[rng.integers(0, len(names.IP_FIRST_OCTETS), total)],
            rng.integers(1, 255, (total, 3)),
        ]
    )
    return _Devices(
        ids=_device_ids(cfg, chunk, np.arange(total)),
        platform=platform,
        ip=ip,
        primary=primary,
        secondary=secondary,
        ring_device=ring_device,
    )


# --------------------------------------------------------------------------------------
# Customer records (CRM)
# --------------------------------------------------------------------------------------


@dataclass
class _Records:
    """CRM customer records of one chunk and the persons behind them."""

    primary: list[str]  # per person: customer_src_id of the person's own record
    fuzzy_person: np.ndarray  # persons that also have a duplicate record at another branch
    fuzzy_id: list[str]
    new_id: list[str]  # records of the b0002 new persons


def _customer_ids(cfg: _RunConfig, seq: np.ndarray) -> list[str]:
    """Unique, random-looking customer ids ``C<11 digits>`` for global record numbers."""
    codes = _scrambled(seq, _CUSTOMER_MULTIPLIER, cfg.salts[3], 10**11)
    return [f"C{c:011d}" for c in codes]


def _make_records(cfg: _RunConfig, spec: _ChunkSpec, rng: np.random.Generator) -> _Records:
    """Number the chunk's primary, fuzzy-duplicate and new customer records."""
    fuzzy_seq = spec.first_extra_record + np.arange(spec.fuzzy_duplicates)
    new_seq = spec.first_extra_record + spec.fuzzy_duplicates + np.arange(spec.new_customers)
    return _Records(
        primary=_customer_ids(cfg, spec.first_person + np.arange(spec.persons)),
        fuzzy_person=np.sort(rng.choice(spec.persons, spec.fuzzy_duplicates, replace=False)),
        fuzzy_id=_customer_ids(cfg, fuzzy_seq),
        new_id=_customer_ids(cfg, new_seq),
    )


@dataclass
class _CrmStyles:
    """Per-record formatting choices (how the CRM happened to store each value)."""

    phone: np.ndarray
    date: np.ndarray
    updated: np.ndarray
    resident_id: np.ndarray
    email_upper: np.ndarray
    income: np.ndarray
    gender: np.ndarray
    city: np.ndarray
    province_blank: np.ndarray
    marketing: np.ndarray
    sharing: np.ndarray
    branch: np.ndarray  # offset from the home city's branch: 0 (mostly) or another branch

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int) -> _CrmStyles:
        """Draw the styles of ``count`` records."""
        consent = (0.90, 0.03, 0.04, 0.03)
        return cls(
            phone=_choose(rng, (0.55, 0.20, 0.15, 0.05, 0.05), count),
            date=_choose(rng, (0.55, 0.15, 0.15, 0.15), count),
            updated=_choose(rng, (0.40, 0.15, 0.15, 0.15, 0.15), count),
            resident_id=_choose(rng, (0.97, 0.03), count),
            email_upper=rng.random(count) < 0.05,
            income=_choose(rng, (0.85, 0.15), count),
            gender=_choose(rng, (0.85, 0.10, 0.05), count),
            city=_choose(rng, (0.80, 0.10, 0.10), count),
            province_blank=rng.random(count) < 0.03,
            marketing=_choose(rng, consent, count),
            sharing=_choose(rng, consent, count),
            branch=np.where(rng.random(count) < 0.9, 0, rng.integers(1, len(CITIES), count)),
        )


def _format_phone(digits: str, style: int) -> str:
    """A mainland mobile number in one of the CRM's formats."""
    a, b, c = digits[:3], digits[3:7], digits[7:]
    formats = (digits, f"+86 {a} {b} {c}", f"{a}-{b}-{c}", f"+86{digits}", _fullwidth(digits))
    return formats[style]


def _format_date(day: date, style: int) -> str:
    """ISO, dd/mm/yyyy, yyyymmdd or Chinese (1985年3月2日)."""
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if style == 2:
        return f"{day.year}{day.month:02d}{day.day:02d}"
    return f"{day.year}年{day.month}月{day.day}日"


def _format_timestamp(moment: datetime, style: int) -> str:
    """A CRM update time in one of five formats, some without the time."""
    if style == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 2:
        return moment.strftime("%d/%m/%Y %H:%M")
    if style == 3:
        return moment.strftime("%Y%m%d")
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def _format_consent(granted: bool, style: int) -> str:
    """Y/N, y/n, 1/0 or blank (unknown)."""
    return (("N", "Y"), ("n", "y"), ("0", "1"), ("", ""))[style][int(granted)]


def _address(people: _People, i: int, variant: int = -1) -> str:
    """Person ``i``'s address; ``variant`` >= 0 gives a slightly different spelling of it."""
    city = CITIES[people.city[i]]
    district = city.districts[people.district[i]]
    road_cn, road_en = names.ROADS[people.road[i]]
    number, building, room = people.house_number[i], people.building[i], people.room[i]
    if people.english_address[i]:
        street = f"{number} {road_en}"
        if variant == 0:
            street = street.replace("Road", "Rd").replace("Avenue", "Ave")
            return f"Rm {room}, Bldg {building}, {street}, {district.en}, {city.en}"
        if variant == 1:
            return f"{street}, {district.en} District, {city.en}".lower()
        text = f"Room {room}, Building {building}, {street}, {district.en} District, {city.en}"
        return f"{text} " if variant == 2 else text
    if variant == 0:
        return f"{district.cn}{road_cn}{number}号{building}栋{room}室"
    if variant == 1:
        return _fullwidth(f"{city.cn}{district.cn}{road_cn}{number}号{building}栋{room}室")
    if variant == 2:
        return f"{city.cn} {district.cn} {road_cn}{number}號 {building}栋{room}"
    return f"{city.cn}{district.cn}{road_cn}{number}号{building}栋{room}室"


def _name_variant(people: _People, i: int, variant: int) -> str:
    """A fuzzy spelling of person ``i``'s name, as typed at another branch."""
    family, given = people.family_name[i], people.given_name[i]
    if people.chinese[i]:
        return (f"{family} {given}", f"{family}{given} ", f"{family}\u3000{given}")[variant % 3]
    return (
        f"{given} {family}".upper(),
        f"{given} {family}".lower(),
        f"{given}  {family}",
        _fullwidth(f"{given} {family}"),
    )[variant % 4]


def _crm_row(people: _People, i: int, src_id: str, branch: int, styles: _CrmStyles) -> list[str]:
    """Person ``i``'s CRM record, kept at ``branch``, formatted with the person's styles."""
    city = CITIES[people.city[i]]
    resident_id = people.resident_id[i]
    email = people.email[i].upper() if styles.email_upper[i] else people.email[i]
    income = int(people.income[i])
    city_text = (city.cn, city.cn.removesuffix("市"), city.en)[styles.city[i]]
    created = _days_to_dates(people.since[i : i + 1])[0]
    updated = datetime(1970, 1, 1) + timedelta(seconds=int(people.updated[i]))
    return [
        src_id,
        CITIES[branch].branch,
        people.name[i],
        (("F", "M"), ("女", "男"), ("f", "m"))[styles.gender[i]][int(people.male[i])],
        _format_date(_days_to_dates(people.birth[i : i + 1])[0], styles.date[i]),
        _fullwidth(resident_id) if styles.resident_id[i] else resident_id,
        _format_phone(people.phone[i], styles.phone[i]),
        email,
        _address(people, i),
        city_text,
        "" if styles.province_blank[i] else city.province,
        people.occupation[i],
        f"{income:,}" if styles.income[i] else str(income),
        _format_consent(bool(people.marketing_consent[i]), styles.marketing[i]),
        _format_consent(bool(people.data_sharing_consent[i]), styles.sharing[i]),
        _format_date(created, styles.date[i]),
        _format_timestamp(updated, styles.updated[i]),
    ]


def _fuzzy_row(
    people: _People, i: int, row: list[str], src_id: str, rng: np.random.Generator
) -> list[str]:
    """Another branch's record of person ``i`` (whose own record is ``row``): same person,
    different spelling."""
    variant = rng.integers(0, 12, size=8)
    home = _BRANCH_INDEX[row[1]]
    branch = (home + 1 + int(variant[0]) % (len(CITIES) - 1)) % len(CITIES)
    resident_id = people.resident_id[i]
    if variant[1] % 3 == 0:
        resident_id = _fullwidth(resident_id)
    elif variant[1] % 3 == 1:
        resident_id = resident_id.lower()
    since = int(people.since[i]) + int(rng.integers(1, 900))
    created = _days_to_dates(np.array([min(since, int(people.updated[i]) // _SECONDS_PER_DAY)]))[0]
    fuzzy = list(row)
    fuzzy[0] = src_id
    fuzzy[1] = CITIES[branch].branch
    fuzzy[2] = _name_variant(people, i, int(variant[2]))
    fuzzy[4] = _format_date(_days_to_dates(people.birth[i : i + 1])[0], int(variant[3]) % 4)
    fuzzy[5] = resident_id
    fuzzy[6] = _format_phone(people.phone[i], int(variant[4]) % 5)
    fuzzy[7] = people.email[i].upper() if variant[5] % 4 == 0 else people.email[i]
    fuzzy[8] = _address(people, i, int(variant[6]) % 3)
    fuzzy[13] = _format_consent(bool(variant[7] % 2), 0)
    fuzzy[15] = _format_date(created, int(variant[3]) % 4)
    return fuzzy


def _write_crm(
    out: _ChunkOutput, batch: str, rows: list[list[str]], rng: np.random.Generator, *, dirty: bool
) -> None:
    """Write a batch of CRM rows: UTF-8 CSV, and the GZ branch's rows as a separate GBK file.

    With ``dirty``, ~2% of rows land twice in the same file and ~0.5% are cut short (fewer
    fields than the header).
    """
    order = np.argsort(np.array([row[0] for row in rows]), kind="stable")
    rows = [rows[i] for i in order]
    duplicated = (rng.random(len(rows)) < _CRM_EXACT_DUPLICATE_RATE) & dirty
    malformed = (rng.random(len(rows)) < _CRM_MALFORMED_RATE) & ~duplicated & dirty
    keep = rng.integers(1, len(CRM_COLUMNS) - 1, len(rows))
    # A duplicate is placed at a random later position; sorting by (key, original) keeps
    # the original order for everything else.
    keys = np.concatenate(
        [np.arange(len(rows), dtype=float), rng.uniform(0, len(rows), int(duplicated.sum()))]
    )
    sources = np.concatenate([np.arange(len(rows)), np.flatnonzero(duplicated)])
    placed = sources[np.argsort(keys, kind="stable")]
    by_branch: dict[bool, list[list[str]]] = {False: [], True: []}
    counts = {False: [0, 0, 0], True: [0, 0, 0]}  # records, malformed, duplicates
    seen: set[int] = set()
    for r in placed.tolist():
        row = rows[r]
        gbk = row[1] == CRM_GBK_BRANCH
        if malformed[r]:
            cut = row[: keep[r]]
            cut[-1] = cut[-1][: max(1, len(cut[-1]) // 2)]
            row = cut
            counts[gbk][1] += 1
        if r in seen:
            counts[gbk][2] += 1
        seen.add(r)
        by_branch[gbk].append(row)
        counts[gbk][0] += 1
    for gbk in (False, True):
        if gbk and not by_branch[gbk]:
            continue
        text = _csv_text(CRM_COLUMNS, by_branch[gbk])
        path = out.path("crm_customers", batch, "-gz.gbk.csv" if gbk else ".csv")
        path.write_bytes(text.encode("gbk" if gbk else "utf-8"))
        out.tally("crm_customers", batch, *counts[gbk])


def _crm_initial(chunk: _Chunk, rng: np.random.Generator) -> list[list[str]]:
    """Write b0001 CRM files; return the clean primary rows (re-delivered in b0002)."""
    people, records = chunk.people, chunk.records
    count = len(people)
    styles = _CrmStyles.draw(rng, count)
    branch = (people.city + styles.branch) % len(CITIES)
    primary = [
        _crm_row(people, i, records.primary[i], int(branch[i]), styles) for i in range(count)
    ]
    fuzzy = [
        _fuzzy_row(people, i, primary[i], src, rng)
        for i, src in zip(records.fuzzy_person.tolist(), records.fuzzy_id, strict=True)
    ]
    _write_crm(chunk.out, INITIAL_BATCH, primary + fuzzy, rng, dirty=True)
    return primary


def _crm_delta(
    chunk: _Chunk, primary: list[list[str]], newcomers: _People, rng: np.random.Generator
) -> None:
    """Write b0002 CRM files: address changes of existing customers and new customers."""
    cfg, people, records = chunk.cfg, chunk.people, chunk.records
    movers = np.sort(rng.choice(len(people), chunk.spec.address_changes, replace=False))
    moved = replace(
        people,
        city=np.where(
            rng.random(len(people)) < 0.25, rng.integers(0, len(CITIES), len(people)), people.city
        ),
        road=rng.integers(0, len(names.ROADS), len(people)),
        house_number=rng.integers(1, 400, len(people)),
        building=rng.integers(1, 30, len(people)),
        room=rng.integers(1, 33, len(people)) * 100 + rng.integers(1, 9, len(people)),
    )
    moved.district = (rng.random(len(people)) * _DISTRICT_COUNTS[moved.city]).astype(np.int64)
    change_time = cfg.end_day * _SECONDS_PER_DAY + rng.integers(
        0, DELTA_DAYS * _SECONDS_PER_DAY, len(people)
    )
    styles = _CrmStyles.draw(rng, len(people))
    rows = []
    for i in movers.tolist():
        row = list(primary[i])
        city = CITIES[moved.city[i]]
        row[8] = _address(moved, i)
        row[9] = city.cn
        row[10] = city.province
        moment = datetime(1970, 1, 1) + timedelta(seconds=int(change_time[i]))
        row[16] = _format_timestamp(moment, int(styles.updated[i]))
        rows.append(row)
    new_styles = _CrmStyles.draw(rng, len(newcomers))
    new_branch = (newcomers.city + new_styles.branch) % len(CITIES)
    rows += [
        _crm_row(newcomers, i, records.new_id[i], int(new_branch[i]), new_styles)
        for i in range(len(newcomers))
    ]
    _write_crm(chunk.out, DELTA_BATCH, rows, rng, dirty=False)


# --------------------------------------------------------------------------------------
# Loans
# --------------------------------------------------------------------------------------


@dataclass
class _Loans:
    """The loan book of one chunk: one loan per borrowing person."""

    person: np.ndarray
    product: np.ndarray  # index into catalog.LOAN_PRODUCTS
    application_day: np.ndarray
    open_day: np.ndarray
    principal: np.ndarray
    term_months: np.ndarray
    rate: np.ndarray  # annual percent
    defaulted: np.ndarray  # the label: 90+ days past due within 12 months of application
    delinquent_from: np.ndarray  # epoch day of the first missed payment (defaulters)
    status: np.ndarray
    days_past_due: np.ndarray
    max_dpd_12m: np.ndarray
    outstanding: np.ndarray

    def __len__(self) -> int:
        return len(self.person)


_LOAN_TERMS = ((12, 24, 36), (240, 360), (36, 60), (12, 24, 36))
_LOAN_RATE_BASE = np.array([6.0, 3.6, 4.8, 5.5])
_LOAN_RATE_SPREAD = np.array([12.0, 1.5, 6.0, 8.0])
_LOAN_DEFAULT_FACTOR = np.array([1.35, 0.45, 0.9, 1.25])


def _make_loans(cfg: _RunConfig, people: _People, rng: np.random.Generator) -> _Loans:
    """Draw loans (application up to 24 months before the period) and their outcomes."""
    segment = people.segment
    borrower = np.flatnonzero(rng.random(len(people)) < _segment_array("loan")[segment])
    n = len(borrower)
    product = _choose_rows(rng, _segment_array("loan_mix")[segment[borrower]])
    last_day = cfg.end_day - 1
    application = rng.integers(cfg.start_day - 730, cfg.end_day, n)
    application = np.clip(application, people.since[borrower] + 1, last_day)
    open_day = np.minimum(application + rng.integers(1, 15, n), last_day)
    income = people.income[borrower]
    principal = np.select(
        [product == 0, product == 1, product == 2],
        [
            np.clip(income * rng.uniform(0.2, 0.8, n), 10_000, 500_000),
            income * rng.uniform(3.0, 8.0, n),
            rng.lognormal(np.log(150_000), 0.4, n),
        ],
        income * rng.uniform(0.5, 3.0, n),
    )
    principal = np.round(principal, -3)
    term = np.array([rng.choice(_LOAN_TERMS[p]) for p in product.tolist()], dtype=np.int64)
    propensity = people.propensity[borrower]
    risk = np.clip(propensity / 0.25, 0.0, 1.0)
    rate = np.round(
        np.maximum(
            2.5,
            _LOAN_RATE_BASE[product] + _LOAN_RATE_SPREAD[product] * risk + rng.normal(0.0, 0.25, n),
        ),
        2,
    )
    defaulted = rng.random(n) < np.clip(propensity * _LOAN_DEFAULT_FACTOR[product], 0.0, 0.95)
    delinquent_from = application + rng.integers(30, 271, n)
    elapsed = last_day - delinquent_from  # days in arrears as of the end of the period
    matured = application + np.round(term * 30.44).astype(np.int64) <= last_day
    repaid_early = (application < last_day - 365) & (rng.random(n) < 0.05)
    mild = ~defaulted & (rng.random(n) < 0.1 + 2 * propensity)
    mild_dpd = rng.integers(1, 60, n)
    in_arrears = defaulted & (elapsed > 0)
    closed = ~defaulted & (matured | repaid_early)
    late_now = mild & ~closed & (rng.random(n) < 0.35)
    status = np.select(
        [in_arrears & (elapsed >= 90), in_arrears, closed, late_now],
        ["default", "delinquent", "closed", "delinquent"],
        "current",
    )
    dpd = np.select([in_arrears, late_now], [elapsed, mild_dpd], 0)
    max_dpd = np.select([in_arrears, mild], [elapsed, mild_dpd], 0)
    paid_until = np.where(defaulted, np.minimum(delinquent_from, last_day), last_day)
    months_paid = np.maximum(0, paid_until - open_day) / 30.44
    outstanding = np.where(
        closed, 0.0, np.round(principal * np.clip(1 - months_paid / term, 0.0, 1.0), 2)
    )
    return _Loans(
        person=borrower,
        product=product,
        application_day=application,
        open_day=open_day,
        principal=principal,
        term_months=term,
        rate=rate,
        defaulted=defaulted,
        delinquent_from=delinquent_from,
        status=status,
        days_past_due=dpd,
        max_dpd_12m=max_dpd,
        outstanding=outstanding,
    )


# --------------------------------------------------------------------------------------
# Accounts (core banking)
# --------------------------------------------------------------------------------------


@dataclass
class _Accounts:
    """Accounts of one chunk plus, per person, the row of each account kind (-1 = none)."""

    account_id: list[str]
    person: np.ndarray
    customer_src_id: list[str]
    product: list[str]
    currency: list[str]
    open_day: np.ndarray
    status: list[str]
    balance: np.ndarray
    credit_limit: np.ndarray  # NaN when not a credit card
    savings: np.ndarray
    card: np.ndarray
    current: np.ndarray
    loan: np.ndarray  # per loan (same order as _Loans), not per person


_SAVINGS, _LOAN, _CARD, _CURRENT, _WEALTH, _FX_SAVINGS, _DUPLICATE_SAVINGS = range(7)


def _make_accounts(
    cfg: _RunConfig,
    spec: _ChunkSpec,
    people: _People,
    records: _Records,
    loans: _Loans,
    rng: np.random.Generator,
) -> _Accounts:
    """Open 1-4 accounts per person (savings always, then loan, card, current, wealth, FX)
    and one savings account per fuzzy-duplicate record."""
    count = len(people)
    segment = people.segment
    income = people.income
    slots = np.ones(count, dtype=np.int64)
    slots[loans.person] += 1

    def holders(wanted: np.ndarray) -> np.ndarray:
        """The persons who want an account of a kind and still have a free slot."""
        granted = wanted & (slots < 4)
        slots[granted] += 1
        return np.flatnonzero(granted)

    def block(kind: int, person: np.ndarray, **columns: object) -> dict[str, np.ndarray]:
        """Accounts of one kind; scalar columns apply to all of them."""
        owners = [records.primary[p] for p in person.tolist()]
        values = {"kind": kind, "person": person, "owner": np.array(owners, dtype=object)}
        values |= {"currency": "CNY", "status": "A", "limit": np.nan} | columns
        return {k: np.broadcast_to(v, len(person)) for k, v in values.items()}

    card = holders(rng.random(count) < _segment_array("credit_card")[segment])
    current = holders(rng.random(count) < _segment_array("current_account")[segment])
    wealth = holders(rng.random(count) < _segment_array("wealth")[segment])
    fx = holders((people.traveller | (segment == _AFFLUENT)) & (rng.random(count) < 0.3))
    everyone = np.arange(count)
    opened = people.since + (rng.random(count) * (cfg.start_day - people.since)).astype(np.int64)
    savings_factor = _segment_array("savings_factor")[segment]
    card_limit = np.clip(np.round(income * 0.25, -3), 5_000, 300_000)
    utilisation = np.clip(0.1 + 1.4 * people.propensity + rng.normal(0, 0.12, count), 0, 1.05)
    n_fuzzy = len(records.fuzzy_person)
    blocks = [
        block(
            _SAVINGS,
            everyone,
            product=np.where(people.age < 26, "SAV002", "SAV001"),
            open_day=people.since,
            status=np.where(rng.random(count) < 0.02, "D", "A"),
            balance=income * savings_factor * rng.lognormal(0, 0.8, count),
        ),
        block(
            _LOAN,
            loans.person,
            product=np.asarray(catalog.LOAN_PRODUCTS)[loans.product],
            open_day=loans.open_day,
            status=np.where(loans.status == "closed", "C", "A"),
            balance=-loans.outstanding,
        ),
        block(
            _CARD,
            card,
            product=np.select(
                [income[card] > 400_000, people.traveller[card]], ["CC002", "CC003"], "CC001"
            ),
            open_day=opened[card],
            balance=-utilisation[card] * card_limit[card],
            limit=card_limit[card],
        ),
        block(
            _CURRENT,
            current,
            product=np.where(segment[current] == _SMALL_BUSINESS, "CUR002", "CUR001"),
            open_day=opened[current],
            balance=income[current] * 0.08 * rng.lognormal(0, 0.7, len(current)),
        ),
        block(
            _WEALTH,
            wealth,
            product=np.select(
                [segment[wealth] == _SENIOR, segment[wealth] == _AFFLUENT],
                ["WM001", "WM003"],
                "WM002",
            ),
            open_day=opened[wealth],
            balance=income[wealth] * rng.lognormal(0, 0.7, len(wealth)),
        ),
        block(
            _FX_SAVINGS,
            fx,
            product="SAV003",
            currency=np.array(["USD", "HKD", "EUR"])[_choose(rng, (0.6, 0.25, 0.15), len(fx))],
            open_day=opened[fx],
            balance=rng.lognormal(np.log(8_000), 1.0, len(fx)),
        ),
        block(
            _DUPLICATE_SAVINGS,
            records.fuzzy_person,
            owner=np.array(records.fuzzy_id, dtype=object),
            product="SAV001",
            open_day=np.minimum(people.since[records.fuzzy_person] + 30, cfg.start_day - 1),
            balance=rng.lognormal(np.log(3_000), 1.0, n_fuzzy),
        ),
    ]
    table = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    order = np.lexsort((table["kind"], table["person"]))  # a customer's accounts together
    table = {k: v[order] for k, v in table.items()}
    kind, person = table["kind"], table["person"]
    local = np.arange(len(order))
    codes = _scrambled(spec.index * 10**8 + local, _ACCOUNT_MULTIPLIER, cfg.salts[4], 10**14)

    def lookup(wanted: int) -> np.ndarray:
        rows = np.full(count, -1)
        hits = np.flatnonzero(kind == wanted)
        rows[person[hits]] = hits
        return rows

    return _Accounts(
        account_id=[f"62{c:014d}" for c in codes],
        person=person,
        customer_src_id=table["owner"].tolist(),
        product=table["product"].tolist(),
        currency=table["currency"].tolist(),
        open_day=table["open_day"].astype(np.int64),
        status=table["status"].tolist(),
        balance=np.round(table["balance"].astype(float), 2) + 0.0,  # + 0.0: no "-0.00"
        credit_limit=table["limit"].astype(float),
        savings=lookup(_SAVINGS),
        card=lookup(_CARD),
        current=lookup(_CURRENT),
        loan=lookup(_LOAN)[loans.person],
    )


def _write_accounts(out: _ChunkOutput, accounts: _Accounts, rng: np.random.Generator) -> None:
    """Fixed-width, ASCII, no header; ~0.3% of lines are truncated."""
    open_text = np.char.replace(_iso_days(accounts.open_day), "-", "")
    # Export order: by customer, so a person's duplicate record's account is not next door.
    export = sorted(
        range(len(accounts.account_id)),
        key=lambda i: (accounts.customer_src_id[i], accounts.account_id[i]),
    )
    lines = []
    for i in export:
        limit = accounts.credit_limit[i]
        lines.append(
            f"{accounts.account_id[i]:<16}{accounts.customer_src_id[i]:<12}{accounts.product[i]:<8}"
            f"{accounts.currency[i]:<3}{open_text[i]:<8}{accounts.status[i]:<1}"
            f"{accounts.balance[i]:>16.2f}{'' if np.isnan(limit) else f'{limit:.2f}':>16}"
        )
    # Truncated lines stop before the end of the balance field: clearly incomplete.
    malformed = np.flatnonzero(rng.random(len(lines)) < _ACCOUNTS_MALFORMED_RATE)
    for i, cut in zip(malformed.tolist(), rng.integers(10, 60, len(malformed)), strict=True):
        lines[i] = lines[i][:cut]
    path = out.path("core_accounts", INITIAL_BATCH, ".txt")
    path.write_bytes("".join(f"{line}\n" for line in lines).encode("ascii"))
    out.tally("core_accounts", INITIAL_BATCH, len(lines), len(malformed))


# --------------------------------------------------------------------------------------
# Merchants and card transactions
# --------------------------------------------------------------------------------------

_N_LOCATIONS = len(CITIES) + len(FOREIGN_CITIES)  # domestic cities first, then abroad
_MACAU = len(CITIES) + [c.en for c in FOREIGN_CITIES].index("Macau")
_MCC_ATM = catalog.MCC_INDEX["6011"]
_MCC_GAMBLING = catalog.MCC_INDEX["7995"]
_MCC_JEWELLERY = catalog.MCC_INDEX["5944"]
_MCC_ONLINE_GOODS = np.array([catalog.MCC_INDEX[c] for c in ("5732", "5999", "5691", "5311")])
_MCC_MEDIAN = np.array([m.median_amount for m in MCCS])
_MCC_SIGMA = np.array([m.sigma for m in MCCS])
_MCC_ECOM = np.array([m.ecom for m in MCCS])


@dataclass(frozen=True)
class _Merchants:
    """The merchant catalogue (shared by all chunks), as JSON literals for rendering."""

    json_id: pa.Array
    json_name: pa.Array
    json_mcc: pa.Array
    json_country: pa.Array
    json_city: pa.Array
    json_lat: pa.Array
    json_lon: pa.Array
    offset_text: pa.Array
    offset_minutes: np.ndarray
    currency: np.ndarray  # index into _CURRENCIES
    first: np.ndarray  # (location, mcc) -> first merchant row
    count: np.ndarray  # (location, mcc) -> number of merchants


def _merchant_count(location: int, mcc: str) -> int:
    """How many merchants of an MCC a location has (gambling only in Macau)."""
    if mcc == "7995":
        return 3 if location == _MACAU else 0
    if location < len(CITIES):
        return {"5411": 4, "5812": 4, "5814": 3, "4511": 1}.get(mcc, 2)
    return 2 if mcc in ("5812", "7011", "5311", "5999") else 1


def _domestic_merchant_name(
    brand: str, mcc: str, city: names.City, district: names.District
) -> str:
    """A Chinese merchant name: chains carry the branch district, platforms do not."""
    if mcc in ("4511", "5999") or brand == "滴滴出行":
        return brand
    if mcc == "4111":
        return city.cn.removesuffix("市") + brand
    return f"{brand}({district.cn.removesuffix('区')}店)"


@functools.lru_cache(maxsize=2)
def _merchants(seed: int) -> _Merchants:
    """A few hundred merchants in every city and MCC, deterministic for a seed."""
    rng = _rng(seed, 0, _Stream.MERCHANTS)
    rows: list[tuple] = []  # (name, mcc, country, city, lat, lon, offset minutes, currency)
    first = np.zeros((_N_LOCATIONS, len(MCCS)), dtype=np.int64)
    count = np.zeros((_N_LOCATIONS, len(MCCS)), dtype=np.int64)
    for location in range(_N_LOCATIONS):
        for m, mcc in enumerate(MCCS):
            cn_brands, en_brands = catalog.MERCHANT_BRANDS[mcc.code]
            first[location, m] = len(rows)
            count[location, m] = _merchant_count(location, mcc.code)
            for _ in range(count[location, m]):
                if location < len(CITIES):
                    city = CITIES[location]
                    district = city.districts[rng.integers(0, len(city.districts))]
                    if cn_brands and rng.random() < 0.75:
                        brand = cn_brands[rng.integers(0, len(cn_brands))]
                        name = _domestic_merchant_name(brand, mcc.code, city, district)
                    else:
                        name = f"{en_brands[rng.integers(0, len(en_brands))]} {district.en}"
                    place = ("CN", city.en, city.lat, city.lon, 480, 0)
                else:
                    abroad = FOREIGN_CITIES[location - len(CITIES)]
                    name = f"{en_brands[rng.integers(0, len(en_brands))]} {abroad.en}"
                    place = (
                        abroad.country,
                        abroad.en,
                        abroad.lat,
                        abroad.lon,
                        abroad.utc_offset_minutes,
                        _CURRENCY_INDEX[abroad.currency],
                    )
                country, city_name, lat, lon, offset, currency = place
                lat += rng.normal(0.0, 0.04)
                lon += rng.normal(0.0, 0.04)
                rows.append((name, mcc.code, country, city_name, lat, lon, offset, currency))
    numbers = 10_000_000 + rng.choice(90_000_000, size=len(rows), replace=False)
    return _Merchants(
        json_id=_json_dictionary([f"M{n}" for n in numbers.tolist()]),
        json_name=_json_dictionary([r[0] for r in rows]),
        json_mcc=_json_dictionary([r[1] for r in rows]),
        json_country=_json_dictionary([r[2] for r in rows]),
        json_city=_json_dictionary([r[3] for r in rows]),
        json_lat=pa.array([f"{r[4]:.5f}" for r in rows]),
        json_lon=pa.array([f"{r[5]:.5f}" for r in rows]),
        offset_text=pa.array([_offset_text(r[6]) for r in rows]),
        offset_minutes=np.array([r[6] for r in rows]),
        currency=np.array([r[7] for r in rows]),
        first=first,
        count=count,
    )


def _pick_merchants(
    merchants: _Merchants, location: np.ndarray, mcc: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random merchant of the given MCC at each location."""
    available = merchants.count[location, mcc]
    return merchants.first[location, mcc] + (rng.random(len(mcc)) * available).astype(np.int64)


@dataclass
class _CardTxns:
    """Card transactions of one chunk and batch (one element per transaction)."""

    person: np.ndarray
    account: np.ndarray  # row in _Accounts
    mcc: np.ndarray
    merchant: np.ndarray
    channel: np.ndarray
    device: np.ndarray  # device number; -1 = none; >= len(devices) = never seen before
    amount_cny: np.ndarray
    utc_ms: np.ndarray
    anomaly: np.ndarray  # 0 = none, else 1 + index into ANOMALY_TYPES

    def take(self, rows: np.ndarray) -> _CardTxns:
        """The transactions at ``rows``, in that order."""
        return _CardTxns(**{k: v[rows] for k, v in vars(self).items()})

    def append(self, other: _CardTxns) -> _CardTxns:
        """These transactions followed by ``other``."""
        return _CardTxns(
            **{k: np.concatenate([v, getattr(other, k)]) for k, v in vars(self).items()}
        )


def _spend(rng: np.random.Generator, mcc: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Log-normal card spend in CNY for MCCs and per-transaction log shifts."""
    return np.exp(np.log(_MCC_MEDIAN[mcc]) + shift + _MCC_SIGMA[mcc] * rng.normal(size=len(mcc)))


def _everyday_card_txns(
    chunk: _Chunk, merchants: _Merchants, rng: np.random.Generator, first_day: int, n_days: int
) -> _CardTxns:
    """Normal card use: weekly and daily rhythm, segment spend mix, trips abroad, habits."""
    people, accounts, devices = chunk.people, chunk.accounts, chunk.devices
    segment = people.segment
    rate = _segment_array("card_txn_rate")[segment] * people.activity
    person = np.repeat(np.arange(len(people)), rng.poisson(rate * n_days))
    n = len(person)
    weekday = (first_day + np.arange(n_days) + 3) % 7  # 1970-01-01 was a Thursday
    day_weight = np.where(weekday >= 5, 1.15, 1.0)
    day = first_day + rng.choice(n_days, size=n, p=day_weight / day_weight.sum())
    weekend = (day + 3) % 7 >= 5
    trip_start = people.trip_start[person]
    abroad = (
        people.traveller[person]
        & (day >= trip_start)
        & (day < trip_start + people.trip_length[person])
    )

    mix = np.array([catalog.MCC_MIX[s.name] for s in SEGMENTS])
    weekend_factor = np.array([m.weekend_factor for m in MCCS])
    travel_factor = np.array([m.travel_factor for m in MCCS])
    group = segment[person] * 4 + weekend * 2 + abroad
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(SEGMENTS) * 4 + 1))
    mcc = np.empty(n, dtype=np.int64)
    for g in range(len(SEGMENTS) * 4):
        rows = order[bounds[g] : bounds[g + 1]]
        weights = (
            mix[g // 4] * (weekend_factor if g & 2 else 1.0) * (travel_factor if g & 1 else 1.0)
        )
        mcc[rows] = rng.choice(len(MCCS), size=len(rows), p=weights / weights.sum())
    habit = rng.random(n)
    mcc[people.gambler[person] & (habit < 0.04)] = _MCC_GAMBLING
    mcc[people.jeweller[person] & (habit > 0.97)] = _MCC_JEWELLERY

    ecom = _MCC_ECOM[mcc] & (rng.random(n) < _segment_array("ecom_share")[segment[person]])
    tap = rng.random(n) < _segment_array("contactless_share")[segment[person]]
    channel = np.select([mcc == _MCC_ATM, ecom, tap], [_ATM, _ECOM, _CONTACTLESS], _POS)
    location = np.where(
        ~ecom & (rng.random(n) < 0.04), rng.integers(0, len(CITIES), n), people.city[person]
    )
    location = np.where(abroad & ~ecom, len(CITIES) + people.trip_city[person], location)
    location = np.where(mcc == _MCC_GAMBLING, _MACAU, location)
    merchant = _pick_merchants(merchants, location, mcc, rng)

    hour = np.where(
        weekend,
        _choose(rng, catalog.CARD_HOURS_WEEKEND, n),
        _choose(rng, catalog.CARD_HOURS_WEEKDAY, n),
    )
    local_ms = day * _MS_PER_DAY + hour * 3_600_000 + rng.integers(0, 3_600_000, n)
    second = devices.secondary[person]
    own_device = np.where((second >= 0) & (rng.random(n) < 0.3), second, devices.primary[person])
    card = accounts.card[person]
    return _CardTxns(
        person=person,
        account=np.where((card >= 0) & (rng.random(n) < 0.75), card, accounts.savings[person]),
        mcc=mcc,
        merchant=merchant,
        channel=channel,
        device=np.where((channel == _ECOM) | (channel == _CONTACTLESS), own_device, -1),
        amount_cny=_spend(rng, mcc, _spend_shift(people, person)),
        utc_ms=local_ms - merchants.offset_minutes[merchant] * 60_000,
        anomaly=np.zeros(n, dtype=np.int8),
    )


def _spend_shift(people: _People, person: np.ndarray) -> np.ndarray:
    """Log-scale spend level of the given persons (segment plus personal habit)."""
    return _segment_array("amount_log_shift")[people.segment[person]] + people.amount_shift[person]


def _inject_anomalies(
    chunk: _Chunk,
    txns: _CardTxns,
    merchants: _Merchants,
    rng: np.random.Generator,
    first_day: int,
    n_days: int,
) -> tuple[_CardTxns, int]:
    """Plant ~0.5% anomalous transactions; return them with the number of fresh devices.

    huge_amount: 25-60x the amount of a normal purchase. foreign_new_device: a purchase in a
    country a non-travelling customer never visits, from a device never seen before.
    unusual_mcc: jewellery or gambling for a customer without that habit. night_burst: 5-8
    online purchases between 02:00 and 04:00 local time, seconds to minutes apart.
    """
    people, accounts, devices = chunk.people, chunk.accounts, chunk.devices
    n = len(txns.person)
    target = max(len(ANOMALY_TYPES), _share(n, _CARD_ANOMALY_RATE))
    free = np.ones(n, dtype=bool)

    def pick(eligible: np.ndarray, wanted: int) -> np.ndarray:
        candidates = np.flatnonzero(eligible & free)
        chosen = np.sort(rng.choice(candidates, min(wanted, len(candidates)), replace=False))
        free[chosen] = False
        return chosen

    not_atm = txns.mcc != _MCC_ATM
    huge = pick(not_atm, max(1, _share(target, 0.3)))
    txns.amount_cny[huge] *= rng.uniform(25, 60, len(huge))
    txns.anomaly[huge] = 1 + ANOMALY_TYPES.index("huge_amount")

    foreign = pick(not_atm & ~people.traveller[txns.person], max(1, _share(target, 0.25)))
    k = len(foreign)
    txns.mcc[foreign] = rng.choice(_MCC_ONLINE_GOODS, k)
    abroad = len(CITIES) + rng.integers(0, len(FOREIGN_CITIES), k)
    txns.merchant[foreign] = _pick_merchants(merchants, abroad, txns.mcc[foreign], rng)
    txns.channel[foreign] = np.where(rng.random(k) < 0.5, _ECOM, _CONTACTLESS)
    txns.device[foreign] = len(devices.ids) + np.arange(k)
    txns.amount_cny[foreign] = 2 * _spend(
        rng, txns.mcc[foreign], _spend_shift(people, txns.person[foreign])
    )
    txns.anomaly[foreign] = 1 + ANOMALY_TYPES.index("foreign_new_device")

    no_habit = ~people.gambler[txns.person] & ~people.jeweller[txns.person]
    unusual = pick(not_atm & no_habit, max(1, _share(target, 0.2)))
    gamble = rng.random(len(unusual)) < 0.4
    who = txns.person[unusual]
    txns.mcc[unusual] = np.where(gamble, _MCC_GAMBLING, _MCC_JEWELLERY)
    where = np.where(gamble, _MACAU, people.city[who])
    txns.merchant[unusual] = _pick_merchants(merchants, where, txns.mcc[unusual], rng)
    txns.channel[unusual] = np.where(gamble, _ECOM, _POS)
    txns.device[unusual] = np.where(gamble, devices.primary[who], -1)
    txns.amount_cny[unusual] = 1.5 * _spend(rng, txns.mcc[unusual], _spend_shift(people, who))
    txns.anomaly[unusual] = 1 + ANOMALY_TYPES.index("unusual_mcc")

    bursts = max(1, _share(target * 0.25, 1 / 6.5))
    sizes = rng.integers(5, 9, bursts)
    person = np.repeat(rng.choice(len(people), bursts), sizes)
    start = (first_day + rng.integers(0, n_days, bursts)) * _MS_PER_DAY + rng.integers(
        2 * 3_600_000, 4 * 3_600_000, bursts
    )
    gaps = rng.integers(15_000, 120_000, int(sizes.sum()))
    elapsed = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(sizes) - sizes], sizes)
    m = len(person)
    mcc = rng.choice(_MCC_ONLINE_GOODS, m)
    merchant = _pick_merchants(merchants, people.city[person], mcc, rng)
    card = accounts.card[person]
    burst = _CardTxns(
        person=person,
        account=np.where(card >= 0, card, accounts.savings[person]),
        mcc=mcc,
        merchant=merchant,
        channel=np.full(m, _ECOM),
        device=devices.primary[person],
        amount_cny=_spend(rng, mcc, _spend_shift(people, person)),
        utc_ms=np.repeat(start, sizes) + elapsed - merchants.offset_minutes[merchant] * 60_000,
        anomaly=np.full(m, 1 + ANOMALY_TYPES.index("night_burst"), dtype=np.int8),
    )
    return txns.append(burst), k


def _card_batch(chunk: _Chunk, batch: str, rng: np.random.Generator) -> pa.Table:
    """Generate and write one batch of card transactions; return its anomaly truth."""
    cfg, spec, out = chunk.cfg, chunk.spec, chunk.out
    records, accounts, devices = chunk.records, chunk.accounts, chunk.devices
    initial = batch == INITIAL_BATCH
    first_day = cfg.start_day if initial else cfg.end_day
    n_days = cfg.days if initial else DELTA_DAYS
    merchants = _merchants(cfg.seed)
    txns = _everyday_card_txns(chunk, merchants, rng, first_day, n_days)
    txns, fresh = _inject_anomalies(chunk, txns, merchants, rng, first_day, n_days)
    txns = txns.take(np.argsort(txns.utc_ms, kind="stable"))
    n = len(txns.person)

    currency = merchants.currency[txns.merchant]
    amount = txns.amount_cny / _FX_BASE[currency]
    jpy = currency == _CURRENCY_INDEX["JPY"]
    cash_unit = np.where(jpy, 10_000.0, 100.0)
    atm = txns.mcc == _MCC_ATM
    amount[atm] = np.maximum(
        cash_unit[atm], np.round(amount[atm] / cash_unit[atm]) * cash_unit[atm]
    )
    amount = np.where(jpy, np.round(amount), np.round(amount, 2))
    unknown = (rng.random(n) < _CARD_UNKNOWN_CURRENCY_RATE) & (txns.anomaly == 0)
    spelled = np.where(
        currency == 0,
        np.where(rng.random(n) < 0.6, _RMB, _XXX),
        np.where(rng.random(n) < 0.6, _XXX + currency, _XXX),
    )
    currency_text = np.where(unknown, spelled, currency)
    time_style = _choose(rng, (0.90, 0.05, 0.05), n)  # ISO with offset, local slashes, epoch ms
    # The delta batch's schema drift: which wallet (if any) paid, on online and tap payments.
    wallet = (
        np.select(
            [txns.channel == _ECOM, txns.channel == _CONTACTLESS],
            [_choose(rng, (0.45, 0.40, 0.0, 0.15), n), _choose(rng, (0.3, 0.3, 0.3, 0.1), n)],
            len(_WALLETS),
        )
        if not initial
        else None
    )
    order, cut, malformed, duplicates = _dirty_line_plan(
        rng, n, _CARD_DUPLICATE_RATE, _CARD_MALFORMED_RATE, protected=txns.anomaly > 0
    )

    batch_digit = 1 if initial else 2
    prefix = f"TX{spec.index:05d}{batch_digit}"
    account_ids = _json_dictionary(accounts.account_id)
    customer_ids = _json_dictionary(records.primary)
    device_ids = _json_dictionary(
        devices.ids
        + _device_ids(
            cfg, spec.index, _FRESH_DEVICE_BASE + 100_000 * batch_digit + np.arange(fresh)
        )
        + [None]
    )
    currencies = _json_dictionary(list(_CURRENCY_TEXT))
    channels = _json_dictionary(list(_CARD_CHANNELS))
    wallets = _json_dictionary([*_WALLETS, None])

    def render(rows: np.ndarray) -> pa.Array:
        merchant = pa.array(txns.merchant[rows])
        ecom = pa.array(txns.channel[rows] == _ECOM)
        utc_ms = txns.utc_ms[rows]
        day, clock = _day_and_clock(
            utc_ms + merchants.offset_minutes[txns.merchant[rows]] * 60_000, millis=False
        )
        iso = pc.binary_join_element_wise(
            '"', day, "T", clock, merchants.offset_text.take(merchant), '"', ""
        )
        slashed = pc.binary_join_element_wise(
            '"', pc.replace_substring(day, "-", "/"), " ", clock, '"', ""
        )
        style = time_style[rows]
        local_time = pc.if_else(
            pa.array(style == 2),
            pc.cast(pa.array(utc_ms), pa.string()),
            pc.if_else(pa.array(style == 1), slashed, iso),
        )
        device = txns.device[rows]
        parts = [
            '{"txn_id":',
            _ids(prefix, rows, 10, '"'),
            ',"account_id":',
            account_ids.take(pa.array(txns.account[rows])),
            ',"customer_src_id":',
            customer_ids.take(pa.array(txns.person[rows])),
            ',"amount":',
            pc.cast(pa.array(amount[rows]), pa.string()),
            ',"currency":',
            currencies.take(pa.array(currency_text[rows])),
            ',"merchant_id":',
            merchants.json_id.take(merchant),
            ',"merchant_name":',
            merchants.json_name.take(merchant),
            ',"mcc":',
            merchants.json_mcc.take(merchant),
            ',"channel":',
            channels.take(pa.array(txns.channel[rows])),
            ',"device_id":',
            device_ids.take(pa.array(np.where(device < 0, len(device_ids) - 1, device))),
            ',"country":',
            merchants.json_country.take(merchant),
            ',"city":',
            merchants.json_city.take(merchant),
            ',"lat":',
            pc.if_else(ecom, "null", merchants.json_lat.take(merchant)),
            ',"lon":',
            pc.if_else(ecom, "null", merchants.json_lon.take(merchant)),
            ',"local_time":',
            local_time,
        ]
        if wallet is not None:
            parts += [',"wallet_provider":', wallets.take(pa.array(wallet[rows]))]
        return pc.binary_join_element_wise(*parts, "}", "")

    path = out.path("card_transactions", batch, ".json")
    _write_json_lines(path, render, order, cut)
    out.tally("card_transactions", batch, len(order), malformed, duplicates)

    anomalous = np.flatnonzero(txns.anomaly > 0)
    return pa.table(
        {
            "txn_id": [f"{prefix}{i:010d}" for i in anomalous.tolist()],
            "anomaly_type": [ANOMALY_TYPES[a - 1] for a in txns.anomaly[anomalous].tolist()],
        },
        schema=_TRUTH_SCHEMAS["anomalies"],
    )


# --------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------

_TRANSFER_CHANNELS = ("mobile", "online", "branch", "batch")
_MOBILE, _ONLINE, _BRANCH, _BATCH = range(4)
_PURPOSES: dict[str, tuple[str, ...]] = {
    "salary": ("工资", "代发工资", "SALARY"),
    "pension": ("养老金",),
    "rent": ("房租", "rent"),
    "utilities": tuple(purpose for _, purpose in names.UTILITY_PAYEES),
    "family": ("生活费", "家用", "family support"),
    "p2p": ("转账", "AA饭钱", "还钱", "红包", "dinner"),
    "card": ("信用卡还款",),
    "loan": ("贷款还款",),
    "goods": ("货款", "payment for goods", "invoice"),
    "ring": ("投资款", "借款", "货款", ""),
}
_PURPOSE_TEXT = [text for texts in _PURPOSES.values() for text in texts]


class _TransferLedger:
    """Collects transfers between parties: internal accounts first, then external ones."""

    def __init__(self, accounts: _Accounts, people: _People, rng: np.random.Generator) -> None:
        self.rng = rng
        self.party_id = list(accounts.account_id)
        self.party_name = [people.name[p] for p in accounts.person.tolist()]
        self.party_bank: list[str | None] = [None] * len(self.party_id)  # null = our bank
        self.columns: dict[str, list[np.ndarray]] = {
            k: []
            for k in ("source", "target", "counterparty", "amount", "utc_ms", "channel", "purpose")
        }

    def external(self, name: str) -> int:
        """Register an external party with an account at a random other bank."""
        code, bank = names.EXTERNAL_BANKS[self.rng.integers(0, len(names.EXTERNAL_BANKS))]
        self.party_id.append(f"EXT-{code}-{self.rng.integers(10**11, 10**12)}")
        self.party_name.append(name)
        self.party_bank.append(bank)
        return len(self.party_id) - 1

    def add(
        self,
        source: np.ndarray,
        target: np.ndarray,
        amount: np.ndarray,
        local_ms: np.ndarray,
        channel: int | np.ndarray,
        purpose: str,
        *,
        counterparty: np.ndarray | None = None,
        wording: np.ndarray | None = None,
    ) -> None:
        """Record transfers; the counterparty shown defaults to the receiving party and the
        wording of the purpose (index into ``_PURPOSES[purpose]``) to a random one."""
        n = len(source)
        texts = _PURPOSES[purpose]
        offset = sum(len(t) for t in list(_PURPOSES.values())[: list(_PURPOSES).index(purpose)])
        if wording is None:
            wording = self.rng.integers(0, len(texts), n)
        values = {
            "source": source,
            "target": target,
            "counterparty": target if counterparty is None else counterparty,
            "amount": np.round(amount, 2),
            "utc_ms": local_ms - _HOME_OFFSET_MS,
            "channel": np.broadcast_to(channel, n),
            "purpose": offset + wording,
        }
        for key, value in values.items():
            self.columns[key].append(np.asarray(value))

    def table(self, chunk: int) -> pa.Table:
        """All transfers in time order as the typed Parquet table."""
        data = {k: np.concatenate(v) for k, v in self.columns.items()}
        utc_us = data["utc_ms"] * 1000 + self.rng.integers(0, 1000, len(data["utc_ms"]))
        order = np.argsort(utc_us, kind="stable")
        data = {k: v[order] for k, v in data.items()}
        party_id = pa.array(self.party_id, pa.string())
        return pa.table(
            [
                _ids(f"TR{chunk:05d}", np.arange(len(order)), 10),
                party_id.take(pa.array(data["source"])),
                party_id.take(pa.array(data["target"])),
                pa.array(self.party_name, pa.string()).take(pa.array(data["counterparty"])),
                pa.array(self.party_bank, pa.string()).take(pa.array(data["counterparty"])),
                pa.array(data["amount"], pa.float64()),
                pa.array(np.full(len(order), "CNY")),
                pa.array(utc_us[order], pa.timestamp("us", tz="UTC")),
                pa.array(_TRANSFER_CHANNELS).take(pa.array(data["channel"])),
                pa.array(_PURPOSE_TEXT).take(pa.array(data["purpose"])),
            ],
            schema=TRANSFER_SCHEMA,
        )


def _company_name(rng: np.random.Generator, city: names.City) -> str:
    """A Chinese or English company name."""
    if rng.random() < 0.8:
        word = names.COMPANY_WORDS_CN[rng.integers(0, len(names.COMPANY_WORDS_CN))]
        trade = names.COMPANY_TRADES_CN[rng.integers(0, len(names.COMPANY_TRADES_CN))]
        return f"{city.cn.removesuffix('市')}{word}{trade}有限公司"
    word = names.COMPANY_WORDS_EN[rng.integers(0, len(names.COMPANY_WORDS_EN))]
    trade = names.COMPANY_TRADES_EN[rng.integers(0, len(names.COMPANY_TRADES_EN))]
    return f"{word} {trade} Co., Ltd."


def _private_name(rng: np.random.Generator) -> str:
    """A Chinese person's name for an external payee."""
    family = names.SURNAMES[rng.choice(len(names.SURNAMES), p=_SURNAME_WEIGHTS)].hanzi
    pool = names.GIVEN_MALE if rng.random() < 0.5 else names.GIVEN_FEMALE
    return family + "".join(pool[i].hanzi for i in rng.integers(0, len(pool), rng.integers(1, 3)))


def _month_days(cfg: _RunConfig) -> np.ndarray:
    """Epoch day of the 1st of every month that overlaps the period."""
    first = np.datetime64(cfg.start, "M")
    last = np.datetime64(cfg.start + timedelta(days=cfg.days - 1), "M")
    return np.arange(first, last + 1).astype("datetime64[D]").astype(np.int64)


def _monthly(
    cfg: _RunConfig, day_of_month: np.ndarray, rng: np.random.Generator, hours: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly payments on the given day of month (one per payer) between ``hours`` local
    time: (payer number, local epoch ms) of every payment inside the period."""
    when = _month_days(cfg)[None, :] + day_of_month[:, None] - 1
    inside = (when >= cfg.start_day) & (when < cfg.end_day)
    payer, _ = np.nonzero(inside)
    day = when[inside]
    ms = day * _MS_PER_DAY + rng.integers(hours[0] * 3_600_000, hours[1] * 3_600_000, len(day))
    return payer, ms


def _random_times(cfg: _RunConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Local epoch ms spread over the period's days, 07:00-23:00."""
    day = rng.integers(cfg.start_day, cfg.end_day, n)
    return day * _MS_PER_DAY + rng.integers(7 * 3_600_000, 23 * 3_600_000, n)


def _write_transfers(chunk: _Chunk, rng: np.random.Generator) -> None:
    """Salaries, rent, bills, family support, P2P, repayments, business income, ring cycles."""
    cfg, people, accounts, loans = chunk.cfg, chunk.people, chunk.accounts, chunk.loans
    count = len(people)
    ledger = _TransferLedger(accounts, people, rng)
    savings = accounts.savings
    segment = people.segment
    months = cfg.days / 30.44

    # Salaries from a few employers per chunk (same day each month), pensions for seniors.
    employers = [
        ledger.external(_company_name(rng, CITIES[rng.integers(0, len(CITIES))]))
        for _ in range(max(3, count // 300))
    ]
    payday = _choose(rng, (0.3, 0.3, 0.2, 0.2), len(employers)) * 5 + 5  # 5th..20th
    pension = ledger.external(catalog.PENSION_PAYER)
    salaried = np.flatnonzero(rng.random(count) < _segment_array("salaried")[segment])
    employer = rng.integers(0, len(employers), len(salaried))
    senior = segment[salaried] == _SENIOR
    payer = np.where(senior, pension, np.asarray(employers)[employer])
    monthly_pay = people.income[salaried] / 12 * rng.uniform(0.97, 1.03, len(salaried))
    row, when = _monthly(cfg, np.where(senior, 15, payday[employer]), rng, (9, 11))
    amount = monthly_pay[row] * (1 + rng.normal(0, 0.01, len(row)))
    for pensioner, purpose in ((False, "salary"), (True, "pension")):
        mine = senior[row] == pensioner
        ledger.add(
            payer[row[mine]],
            savings[salaried[row[mine]]],
            amount[mine],
            when[mine],
            _BATCH,
            purpose,
        )

    # Rent to a private landlord.
    renters = np.flatnonzero(
        rng.random(count) < np.where(np.isin(segment, (_YOUNG, _FAMILY)), 0.35, 0.1)
    )
    landlord = np.array([ledger.external(_private_name(rng)) for _ in renters], dtype=np.int64)
    rent = np.round(people.income[renters] / 12 * rng.uniform(0.2, 0.35, len(renters)), -2)
    row, when = _monthly(cfg, rng.integers(1, 6, len(renters)), rng, (8, 22))
    ledger.add(savings[renters[row]], landlord[row], rent[row], when, _MOBILE, "rent")

    # Utility bills.
    utilities = np.array([ledger.external(name) for name, _ in names.UTILITY_PAYEES])
    payer_of_bill = np.repeat(np.arange(count), rng.poisson(1.5 * months, count))
    utility = rng.integers(0, len(utilities), len(payer_of_bill))
    ledger.add(
        savings[payer_of_bill],
        utilities[utility],
        rng.lognormal(np.log(150), 0.6, len(payer_of_bill)),
        _random_times(cfg, rng, len(payer_of_bill)),
        np.where(rng.random(len(payer_of_bill)) < 0.7, _MOBILE, _ONLINE),
        "utilities",
        wording=utility,
    )

    # Family support to a relative at another bank.
    supporters = np.flatnonzero(rng.random(count) < 0.5)
    relative = np.array([ledger.external(_private_name(rng)) for _ in supporters], dtype=np.int64)
    sender = np.repeat(np.arange(len(supporters)), rng.poisson(0.6 * months, len(supporters)))
    ledger.add(
        savings[supporters[sender]],
        relative[sender],
        rng.lognormal(np.log(2_000), 0.8, len(sender)),
        _random_times(cfg, rng, len(sender)),
        np.where(rng.random(len(sender)) < 0.9, _MOBILE, _BRANCH),
        "family",
    )

    # Person-to-person payments between customers of the bank (none in a 1-person chunk).
    p2p = np.repeat(np.arange(count), rng.poisson(0.8 * months * people.activity * (count > 1)))
    recipient = (p2p + rng.integers(1, max(2, count), len(p2p))) % count
    ledger.add(
        savings[p2p],
        savings[recipient],
        rng.lognormal(np.log(300), 1.0, len(p2p)),
        _random_times(cfg, rng, len(p2p)),
        _MOBILE,
        "p2p",
    )

    # Credit card repayments from the customer's own savings account.
    holders = np.flatnonzero(accounts.card >= 0)
    owed = -accounts.balance[accounts.card[holders]]
    row, when = _monthly(cfg, rng.integers(20, 26, len(holders)), rng, (8, 23))
    ledger.add(
        savings[holders[row]],
        accounts.card[holders[row]],
        np.maximum(100.0, owed[row] * rng.uniform(0.3, 1.0, len(row))),
        when,
        _MOBILE,
        "card",
    )

    # Loan instalments until the first missed payment.
    active = np.flatnonzero(loans.status != "closed")
    instalment = (
        loans.principal[active]
        / loans.term_months[active]
        * (1 + loans.rate[active] / 100 * loans.term_months[active] / 24)
    )
    row, when = _monthly(cfg, 1 + loans.application_day[active] % 28, rng, (6, 8))
    paid = (when // _MS_PER_DAY > loans.open_day[active[row]]) & (
        ~loans.defaulted[active[row]] | (when // _MS_PER_DAY < loans.delinquent_from[active[row]])
    )
    row, when = row[paid], when[paid]
    ledger.add(
        savings[loans.person[active[row]]],
        accounts.loan[active[row]],
        instalment[row],
        when,
        _BATCH,
        "loan",
    )

    # Income of small businesses from their clients.
    owners = np.flatnonzero(segment == _SMALL_BUSINESS)
    client_cities = rng.integers(0, len(CITIES), min(500, 5 + len(owners)))
    clients = np.array([ledger.external(_company_name(rng, CITIES[c])) for c in client_cities])
    paid_owner = np.repeat(owners, rng.poisson(8 * months, len(owners)))
    client = rng.choice(clients, len(paid_owner))
    current = accounts.current[paid_owner]
    ledger.add(
        client,
        np.where(current >= 0, current, savings[paid_owner]),
        rng.lognormal(np.log(6_000), 1.0, len(paid_owner)),
        _random_times(cfg, rng, len(paid_owner)),
        _ONLINE,
        "goods",
        counterparty=client,
    )

    # Fraud rings: money goes round A -> B -> ... -> A, similar amounts, minutes apart.
    for members in chunk.rings.members:
        for _ in range(max(2, min(6, cfg.days // 25))):
            cycle = rng.permutation(members)
            hops = len(cycle)
            amount = np.round(rng.uniform(30_000, 90_000), -2) * (1 - 0.004 * np.arange(hops))
            start = _random_times(cfg, rng, 1)[0]
            ledger.add(
                savings[cycle],
                savings[np.roll(cycle, -1)],
                amount * (1 + rng.normal(0, 0.002, hops)),
                start + np.cumsum(rng.integers(3, 40, hops)) * 60_000,
                _MOBILE,
                "ring",
            )

    table = ledger.table(chunk.spec.index)
    _write_parquet(table, chunk.out.path("transfers", INITIAL_BATCH, ".parquet"))
    chunk.out.tally("transfers", INITIAL_BATCH, table.num_rows)


# --------------------------------------------------------------------------------------
# App events
# --------------------------------------------------------------------------------------


def _write_app_events(chunk: _Chunk, rng: np.random.Generator) -> None:
    """Sessions of login, product views, applications, transfers and logout; fraud ring
    members also log in from their ring's shared device."""
    cfg, people, devices, rings, loans = (
        chunk.cfg,
        chunk.people,
        chunk.devices,
        chunk.rings,
        chunk.loans,
    )
    count = len(people)
    segment = people.segment
    rate = _segment_array("app_session_rate")[segment] * people.activity
    member = rings.ring_of >= 0
    own = np.repeat(np.arange(count), rng.poisson(rate * cfg.days))
    shared = np.repeat(
        np.arange(count), np.where(member, 2 + rng.poisson(0.05 * cfg.days, count), 0)
    )
    applied = np.flatnonzero(
        (loans.application_day >= cfg.start_day) & (loans.application_day < cfg.end_day)
    )
    person = np.concatenate([own, shared, loans.person[applied]])
    sessions = len(person)
    second = devices.secondary[person]
    device = np.where((second >= 0) & (rng.random(sessions) < 0.3), second, devices.primary[person])
    ring_session = np.zeros(sessions, dtype=bool)
    ring_session[: len(own)] = member[own] & (rng.random(len(own)) < 0.3)
    ring_session[len(own) : len(own) + len(shared)] = True
    device[ring_session] = devices.ring_device[rings.ring_of[person[ring_session]]]
    application = np.zeros(sessions, dtype=bool)
    application[len(own) + len(shared) :] = True
    day = np.concatenate(
        [
            rng.integers(cfg.start_day, cfg.end_day, len(own) + len(shared)),
            loans.application_day[applied],
        ]
    )
    start_ms = (
        day * _MS_PER_DAY
        + _choose(rng, catalog.APP_HOURS, sessions) * 3_600_000
        + rng.integers(0, 3_600_000, sessions)
    )

    reset = ~application & (rng.random(sessions) < 0.02)
    middle = np.where(application, 2, rng.poisson(1.6, sessions))
    logout = rng.random(sessions) < 0.6
    per_session = reset + 1 + middle + logout
    session = np.repeat(np.arange(sessions), per_session)
    events = len(session)
    position = np.arange(events) - np.repeat(np.cumsum(per_session) - per_session, per_session)
    login_at = reset[session].astype(np.int64)
    random_type = np.array([_VIEW, _APPLY, _TRANSFER_INIT])[
        _choose(rng, (0.6, 0.005, 0.395), events)
    ]
    is_application = application[session]
    event_type = np.select(
        [
            position < login_at,
            position == login_at,
            logout[session] & (position == per_session[session] - 1),
            is_application & (position == 1),
            is_application & (position == 2),
        ],
        [_PASSWORD_RESET, _LOGIN, _LOGOUT, _VIEW, _APPLY],
        random_type,
    )
    # Products a segment looks at, repeated to 5 per segment so that they form a matrix.
    interest = np.array(
        [[catalog.PRODUCT_INDEX[c] for c in np.resize(s.product_interest, 5)] for s in SEGMENTS]
    )
    product = np.where(
        rng.random(events) < 0.7,
        interest[segment[person[session]], rng.integers(0, 5, events)],
        rng.integers(0, len(PRODUCTS), events),
    )
    loan_product = np.full(sessions, -1)
    loan_product[application] = [
        catalog.PRODUCT_INDEX[catalog.LOAN_PRODUCTS[p]] for p in loans.product[applied].tolist()
    ]
    product = np.where(is_application, loan_product[session], product)
    product = np.where(np.isin(event_type, (_VIEW, _APPLY)), product, len(PRODUCTS))

    gaps = rng.exponential(40_000, events).astype(np.int64) + 500
    gaps[position == 0] = 0
    elapsed = np.cumsum(gaps) - np.repeat(
        np.cumsum(gaps)[np.cumsum(per_session) - per_session], per_session
    )
    utc_ms = start_ms[session] + elapsed - _HOME_OFFSET_MS
    order = np.argsort(utc_ms, kind="stable")
    session, event_type, product, utc_ms = (
        session[order],
        event_type[order],
        product[order],
        utc_ms[order],
    )
    ip = devices.ip[device[session]].copy()
    mobile = devices.platform[device[session]] != _PLATFORMS.index("web")
    ip[mobile, 3] = rng.integers(1, 255, events)[mobile]  # mobile networks change addresses
    as_iso = rng.random(events) < 0.1

    customer_ids = _json_dictionary(chunk.records.primary)
    device_ids = _json_dictionary(devices.ids)
    event_types = _json_dictionary(list(_APP_EVENT_TYPES))
    products = _json_dictionary([p.code for p in PRODUCTS] + [None])
    platforms = _json_dictionary(list(_PLATFORMS))

    def render(rows: np.ndarray) -> pa.Array:
        octets = [pc.cast(pa.array(ip[rows, k]), pa.string()) for k in range(4)]
        day, clock = _day_and_clock(utc_ms[rows] + _HOME_OFFSET_MS, millis=True)
        iso = pc.binary_join_element_wise('"', day, "T", clock, '+08:00"', "")
        ts = pc.if_else(pa.array(as_iso[rows]), iso, pc.cast(pa.array(utc_ms[rows]), pa.string()))
        sessions_of = session[rows]
        return pc.binary_join_element_wise(
            '{"event_id":',
            _ids(f"EV{chunk.spec.index:05d}", rows, 10, '"'),
            ',"customer_src_id":',
            customer_ids.take(pa.array(person[sessions_of])),
            ',"device_id":',
            device_ids.take(pa.array(device[sessions_of])),
            ',"event_type":',
            event_types.take(pa.array(event_type[rows])),
            ',"product_code":',
            products.take(pa.array(product[rows])),
            ',"platform":',
            platforms.take(pa.array(devices.platform[device[sessions_of]])),
            ',"ip":"',
            pc.binary_join_element_wise(*octets, "."),
            '","ts":',
            ts,
            "}",
            "",
        )

    lines, cut, malformed, _ = _dirty_line_plan(rng, events, 0.0, _APP_MALFORMED_RATE)
    _write_json_lines(chunk.out.path("app_events", INITIAL_BATCH, ".json"), render, lines, cut)
    chunk.out.tally("app_events", INITIAL_BATCH, events, malformed)


# --------------------------------------------------------------------------------------
# Complaints, credit bureau, loans
# --------------------------------------------------------------------------------------


def _product_name(code: str, chinese: bool) -> str:
    """The Chinese or English half of a bilingual product name."""
    english, _, local = PRODUCTS[catalog.PRODUCT_INDEX[code]].name.rpartition(" ")
    return local if chinese else english


def _write_complaints(chunk: _Chunk, rng: np.random.Generator) -> None:
    """~3% of customers complain (small businesses most); text from varied templates."""
    cfg, people, records, loans = chunk.cfg, chunk.people, chunk.records, chunk.loans
    segment = people.segment
    chance = np.clip(_segment_array("complaint_rate")[segment] * cfg.days / 180, 0, 0.9)
    who = np.repeat(
        np.arange(len(people)),
        (rng.random(len(people)) < chance) * (1 + rng.poisson(0.3, len(people))),
    )
    duplicate_of = dict(zip(records.fuzzy_person.tolist(), records.fuzzy_id, strict=True))
    borrower = np.zeros(len(people), dtype=bool)
    borrower[loans.person] = True
    categories = list(catalog.COMPLAINT_TEMPLATES)
    when = _random_times(cfg, rng, len(who)) // 1000
    rows = []
    for p, moment in zip(who.tolist(), np.sort(when).tolist(), strict=True):
        category = categories[_choose(rng, catalog.COMPLAINT_MIX[SEGMENTS[segment[p]].name], 1)[0]]
        if category == "loan_rate" and not borrower[p]:
            category = "fees"
        chinese = rng.random() < (0.7 if people.chinese[p] else 0.25)
        templates = catalog.COMPLAINT_TEMPLATES[category][0 if chinese else 1]
        stamp = datetime(1970, 1, 1) + timedelta(seconds=moment)
        incident = stamp - timedelta(days=int(rng.integers(0, 10)))
        city = CITIES[people.city[p]]
        district = city.districts[people.district[p]]
        product = SEGMENTS[segment[p]].product_interest[0]
        openers = catalog.COMPLAINT_OPENERS[0 if chinese else 1]
        closers = catalog.COMPLAINT_CLOSERS[0 if chinese else 1]
        opener = openers[rng.integers(0, len(openers))]
        closer = closers[rng.integers(0, len(closers))]
        body = templates[rng.integers(0, len(templates))].format(
            amount=rng.choice((10, 15, 20, 25, 50, 80, 120, 200, 300)),
            month=incident.month,
            day=incident.day,
            minutes=rng.integers(15, 121),
            times=rng.integers(2, 7),
            branch=(
                f"{city.cn.removesuffix('市')}{district.cn}支行"
                if chinese
                else f"the {district.en} branch"
            ),
            product=_product_name(product, chinese),
        )
        text = " ".join(part for part in (opener, body, closer) if part)
        # Some complaints are filed under the person's duplicate record from another branch.
        src = records.primary[p]
        if p in duplicate_of and rng.random() < 0.3:
            src = duplicate_of[p]
        rows.append(
            [
                "",
                src,
                catalog.COMPLAINT_CHANNELS[_choose(rng, (0.3, 0.25, 0.2, 0.1, 0.15), 1)[0]],
                category,
                text,
                stamp.strftime("%Y/%m/%d %H:%M" if rng.random() < 0.05 else "%Y-%m-%d %H:%M:%S"),
            ]
        )
    for number, row in enumerate(rows):
        row[0] = f"CMP{chunk.spec.index:05d}{number:07d}"
    path = chunk.out.path("complaints", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(COMPLAINT_COLUMNS, rows), encoding="utf-8")
    chunk.out.tally("complaints", INITIAL_BATCH, len(rows))


def _bureau_resident_id(resident_id: str, style: int) -> str:
    """The bureau's spelling of a resident ID: plain, spaced, full-width or lower-case x."""
    if style == 1:
        return f"{resident_id[:6]} {resident_id[6:14]} {resident_id[14:]}"
    if style == 2:
        return _fullwidth(resident_id)
    if style == 3:
        return resident_id.lower()
    return resident_id


def _write_bureau(chunk: _Chunk, rng: np.random.Generator) -> pa.Table:
    """One bureau record for ~90% of persons, keyed by resident ID; return the identity truth."""
    cfg, people, accounts, loans = chunk.cfg, chunk.people, chunk.accounts, chunk.loans
    count = len(people)
    covered = rng.permutation(np.flatnonzero(rng.random(count) < _BUREAU_COVERAGE))
    p = people.propensity
    logit = np.log(p / (1 - p))
    score = np.clip(np.round(705 - 75 * (logit + 2.8) + rng.normal(0, 30, count)), 300, 850)
    debt = np.zeros(count)
    np.add.at(debt, loans.person, loans.outstanding)
    card = accounts.card
    debt[card >= 0] += np.maximum(0.0, -accounts.balance[card[card >= 0]])
    debt += np.where(rng.random(count) < 0.4, people.income * rng.lognormal(-2.0, 0.8, count), 0)
    lines = (card >= 0).astype(int) + rng.poisson(0.8 + 2 * p)
    np.add.at(lines, loans.person, (loans.status != "closed").astype(int))
    report = cfg.start_day + rng.integers(0, min(14, cfg.days), count)
    recent = np.zeros(count, dtype=int)  # loan applications in the 6 months before the report
    since_application = report[loans.person] - loans.application_day
    np.add.at(recent, loans.person, (since_application >= 0) & (since_application < 180))
    inquiries = rng.poisson(0.4 + 3 * p) + recent
    delinquencies = rng.poisson(5 * p)
    style = _choose(rng, (0.85, 0.05, 0.05, 0.05), count)
    shout = rng.random(count) < 0.5
    report_text = _iso_days(report)
    rows, record_ids = [], []
    for number, i in enumerate(covered.tolist()):
        record_id = f"BUR{chunk.spec.index:05d}{number:07d}"
        record_ids.append(record_id)
        name = people.name[i].upper() if not people.chinese[i] and shout[i] else people.name[i]
        rows.append(
            [
                record_id,
                _bureau_resident_id(people.resident_id[i], int(style[i])),
                name,
                str(report_text[i]),
                str(int(score[i])),
                str(int(delinquencies[i])),
                str(int(inquiries[i])),
                f"{debt[i]:.2f}",
                str(int(lines[i])),
            ]
        )
    path = chunk.out.path("credit_bureau", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(BUREAU_COLUMNS, rows), encoding="utf-8")
    chunk.out.tally("credit_bureau", INITIAL_BATCH, len(rows))
    return pa.table(
        {"bureau_record_id": record_ids, "person_id": [people.person_id[i] for i in covered]},
        schema=_TRUTH_SCHEMAS["bureau_identity"],
    )


def _loan_ids(spec: _ChunkSpec, loans: _Loans) -> list[str]:
    """Loan ids of the chunk's loans."""
    return [f"LN{spec.index:05d}{i:06d}" for i in range(len(loans))]


def _write_loans(chunk: _Chunk) -> None:
    """The loan book as of the last day of the period."""
    records, accounts, loans = chunk.records, chunk.accounts, chunk.loans
    as_of = _iso_days(np.array([chunk.cfg.end_day - 1]))[0]
    applied = _iso_days(loans.application_day)
    rows = [
        [
            loan_id,
            records.primary[loans.person[i]],
            accounts.account_id[accounts.loan[i]],
            catalog.LOAN_PRODUCTS[loans.product[i]],
            f"{loans.principal[i]:.2f}",
            "CNY",
            str(applied[i]),
            str(int(loans.term_months[i])),
            f"{loans.rate[i]:.2f}",
            str(loans.status[i]),
            str(int(loans.days_past_due[i])),
            str(int(loans.max_dpd_12m[i])),
            str(as_of),
        ]
        for i, loan_id in enumerate(_loan_ids(chunk.spec, loans))
    ]
    path = chunk.out.path("loans", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(LOAN_COLUMNS, rows), encoding="utf-8")
    chunk.out.tally("loans", INITIAL_BATCH, len(rows))


# --------------------------------------------------------------------------------------
# Truth and the chunk driver
# --------------------------------------------------------------------------------------

_TRUTH_SCHEMAS = {
    "persons": pa.schema(
        [
            ("person_id", pa.string()),
            ("segment", pa.string()),
            ("gender", pa.string()),
            ("birth_date", pa.string()),
            ("default_propensity", pa.float64()),
            ("fraud_ring_id", pa.string()),
        ]
    ),
    "customer_identity": pa.schema([("customer_src_id", pa.string()), ("person_id", pa.string())]),
    "bureau_identity": pa.schema([("bureau_record_id", pa.string()), ("person_id", pa.string())]),
    "fraud_rings": pa.schema(
        [("ring_id", pa.string()), ("person_id", pa.string()), ("role", pa.string())]
    ),
    "anomalies": pa.schema([("txn_id", pa.string()), ("anomaly_type", pa.string())]),
    "loan_labels": pa.schema([("loan_id", pa.string()), ("defaulted_90dpd_12m", pa.bool_())]),
}


def _persons_truth(people: _People, rings: _Rings | None) -> pa.Table:
    """Latent truth of persons."""
    ring_ids = (
        [rings.ring_ids[r] if r >= 0 else None for r in rings.ring_of.tolist()]
        if rings
        else [None] * len(people)
    )
    return pa.table(
        {
            "person_id": people.person_id,
            "segment": [SEGMENTS[s].name for s in people.segment.tolist()],
            "gender": np.where(people.male, "M", "F").tolist(),
            "birth_date": _iso_days(people.birth).tolist(),
            "default_propensity": people.propensity,
            "fraud_ring_id": ring_ids,
        },
        schema=_TRUTH_SCHEMAS["persons"],
    )


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

    primary_rows = _crm_initial(chunk, crm_rng)
    _crm_delta(chunk, primary_rows, newcomers, rng(_Stream.CRM_DELTA))
    _write_accounts(chunk.out, chunk.accounts, accounts_rng)
    anomalies = [
        _card_batch(chunk, batch, rng(stream))
        for batch, stream in ((INITIAL_BATCH, _Stream.CARDS), (DELTA_BATCH, _Stream.CARDS_DELTA))
    ]
    _write_transfers(chunk, rng(_Stream.TRANSFERS))
    _write_app_events(chunk, rng(_Stream.APP_EVENTS))
    _write_complaints(chunk, rng(_Stream.COMPLAINTS))
    bureau_identity = _write_bureau(chunk, rng(_Stream.BUREAU))
    _write_loans(chunk)

    identity_ids = records.primary + records.fuzzy_id + records.new_id
    identity_persons = (
        people.person_id
        + [people.person_id[i] for i in records.fuzzy_person.tolist()]
        + newcomers.person_id
    )
    truth = {
        "persons": pa.concat_tables(
            [_persons_truth(people, rings), _persons_truth(newcomers, None)]
        ),
        "customer_identity": pa.table(
            {"customer_src_id": identity_ids, "person_id": identity_persons},
            schema=_TRUTH_SCHEMAS["customer_identity"],
        ),
        "bureau_identity": bureau_identity,
        "fraud_rings": pa.table(
            {
                "ring_id": [rings.ring_ids[r] for r, m in enumerate(rings.members) for _ in m],
                "person_id": [people.person_id[p] for m in rings.members for p in m.tolist()],
                "role": [
                    "organiser" if k == 0 else "mule" for m in rings.members for k in range(len(m))
                ],
            },
            schema=_TRUTH_SCHEMAS["fraud_rings"],
        ),
        "anomalies": pa.concat_tables(anomalies),
        "loan_labels": pa.table(
            {"loan_id": _loan_ids(spec, loans), "defaulted_90dpd_12m": loans.defaulted},
            schema=_TRUTH_SCHEMAS["loan_labels"],
        ),
    }
    return _ChunkResult(stats=chunk.out.stats, truth=truth)
