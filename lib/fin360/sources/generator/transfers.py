"""Transfers between accounts: salaries, rent, bills, P2P, repayments and fraud-ring cycles
(Parquet)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa

from fin360.sources import catalog, names
from fin360.sources.generator.banking import _Accounts
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    _FAMILY,
    _HOME_OFFSET_MS,
    _MS_PER_DAY,
    _SENIOR,
    _SMALL_BUSINESS,
    _YOUNG,
    INITIAL_BATCH,
    _choose,
    _RunConfig,
    _segment_array,
)
from fin360.sources.generator.people import _SURNAME_WEIGHTS, _People
from fin360.sources.generator.writers import _ChunkOutput, _ids, _write_parquet
from fin360.sources.names import CITIES

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


def _transfers(chunk: _Chunk, rng: np.random.Generator) -> pa.Table:
    """The chunk's transfers (`TRANSFER_SCHEMA`): salaries, rent, bills, family support, P2P, repayments, business income, ring cycles."""
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

    return ledger.table(chunk.spec.index)


def _write_transfers(out: _ChunkOutput, table: pa.Table) -> None:
    """The chunk's transfers as one Parquet file (`TRANSFER_SCHEMA`)."""
    _write_parquet(table, out.path("transfers", INITIAL_BATCH, ".parquet"))
    out.tally("transfers", INITIAL_BATCH, table.num_rows)
