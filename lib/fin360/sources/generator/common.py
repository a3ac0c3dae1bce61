"""Constants and helpers every part of the generator shares: batches, sources, the run
configuration, chunk specs, random streams and small sampling helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from pathlib import Path

import numpy as np

from fin360.sources.catalog import SEGMENTS

GENERATOR_VERSION = "2.0.0"

INITIAL_BATCH = "b0001"
DELTA_BATCH = "b0002"
DELTA_DAYS = 3  # the delta batch covers this many days after the period

LAYOUTS = ("standard", "harbour")  # export layouts of the same bank (see `generate`)

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
HARBOUR_SOURCES = (
    "clients",
    "accounts",
    "holders",
    "card_txns",
    "payments",
    "loans",
    "fx",
    "products",
)
LAYOUT_SOURCES = {"standard": SOURCES, "harbour": HARBOUR_SOURCES}

_SEGMENT_INDEX = {s.name: i for i, s in enumerate(SEGMENTS)}
_YOUNG = _SEGMENT_INDEX["young_digital"]
_AFFLUENT = _SEGMENT_INDEX["mass_affluent"]
_FAMILY = _SEGMENT_INDEX["salaried_family"]
_SENIOR = _SEGMENT_INDEX["senior_saver"]
_SMALL_BUSINESS = _SEGMENT_INDEX["small_business"]

# Currencies: index 0 is the home currency; rates are the fixed levels used to price spend
# abroad (the published fx_rates source random-walks around them).
_CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD")
_FX_BASE = np.array([1.0, 7.18, 7.80, 0.922, 0.0478, 9.10, 5.33])
_CURRENCY_INDEX = {c: i for i, c in enumerate(_CURRENCIES)}

_EPOCH = date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400
_MS_PER_DAY = 86_400_000
_HOME_OFFSET_MS = 8 * 3_600_000  # all branch cities are UTC+08:00


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
    ACCOUNTS_SNAPSHOT = 15  # b0002 account snapshot: balance and status changes, re-deliveries
    LOANS_SNAPSHOT = 16  # b0002 loan snapshot: arrears moving on, cures, re-deliveries
    HARBOUR_ACCOUNTS = 17  # harbour layout only: unknown status letters, unparseable dates
    HARBOUR_HOLDERS = 18  # harbour layout only: authorised users
    HARBOUR_PAYMENTS = 19  # harbour layout only: multi-line purposes
    # Reference streams (used with chunk slot 0 only).
    FX = 101
    MERCHANTS = 102
    IDENTITY = 103


@dataclass(frozen=True)
class _RunConfig:
    """Arguments shared by every chunk (picklable, sent to worker processes)."""

    raw_dir: Path
    seed: int
    customers: int
    days: int
    start: date
    salts: tuple[int, ...]  # identity scrambling offsets derived from the seed
    layout: str = "standard"  # one of LAYOUTS

    @property
    def start_day(self) -> int:
        """First day of the period, in days since 1970-01-01."""
        return (self.start - _EPOCH).days

    @property
    def end_day(self) -> int:
        """First day after the period (exclusive end), in days since 1970-01-01."""
        return self.start_day + self.days

    @property
    def snapshot_day(self) -> int:
        """Day of the b0002 account and loan snapshots (b0001's is ``end_day - 1``)."""
        return self.end_day - 1 + DELTA_DAYS


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


def _share(count: int, rate: float) -> int:
    """Round ``count * rate`` half up (deterministic, unlike banker's rounding)."""
    return math.floor(count * rate + 0.5)


def _rng(seed: int, chunk: int, stream: _Stream) -> np.random.Generator:
    """The random generator of one chunk and stream."""
    return np.random.default_rng([seed, chunk, int(stream)])


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
