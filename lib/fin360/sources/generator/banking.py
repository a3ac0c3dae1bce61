"""Core banking: the loan book and the accounts, and their fixed-width and CSV deliveries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fin360.sources import catalog
from fin360.sources.generator.common import (
    _AFFLUENT,
    _SENIOR,
    _SMALL_BUSINESS,
    DELTA_BATCH,
    DELTA_DAYS,
    INITIAL_BATCH,
    _choose,
    _choose_rows,
    _ChunkSpec,
    _RunConfig,
    _scrambled,
    _segment_array,
    _share,
)
from fin360.sources.generator.people import _People, _Records
from fin360.sources.generator.writers import _ChunkOutput, _csv_text, _iso_days

CORE_ACCOUNTS_LAYOUT = [
    ("account_id", 16),
    ("customer_src_id", 12),
    ("product_code", 8),
    ("currency", 3),
    ("open_date", 8),
    ("status", 1),
    ("balance", 16),
    ("credit_limit", 16),
    ("snapshot_date", 8),
]

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

_ACCOUNTS_MALFORMED_RATE = 0.003
# The b0002 snapshots (`DELTA_DAYS` later): which accounts and loans changed, and how many
# b0001 lines the core system sends again unchanged.
_SNAPSHOT_BALANCE_RATE = 0.10  # active non-loan accounts with a new balance
_SNAPSHOT_STATUS_RATE = 0.01  # active deposit accounts turning dormant or closed
_SNAPSHOT_REDELIVERY_RATE = 0.01  # b0001 lines delivered again, of accounts and of loans
_LOAN_SNAPSHOT_ARREARS_RATE = 0.4  # loans in arrears whose later days past due are sent
_LOAN_SNAPSHOT_LATE_RATE = 0.3  # mildly late loans sent again: half cured, half later
_LOAN_SNAPSHOT_NEW_LATE_RATE = 0.005  # current loans of non-defaulters newly late

_ACCOUNT_MULTIPLIER = 61_803_398_874_987


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


@dataclass(frozen=True)
class _AccountExport:
    """How the core system exported b0001: line order and the lines it truncated."""

    order: np.ndarray  # account rows in export order (by customer, then account)
    cut: np.ndarray  # per export line: characters kept, 0 = intact


def _account_export(accounts: _Accounts, rng: np.random.Generator) -> _AccountExport:
    """Export order by customer (so a person's duplicate record's account is not next door)
    and ~0.3% of lines truncated before the end of the balance field."""
    count = len(accounts.account_id)
    order = sorted(
        range(count), key=lambda i: (accounts.customer_src_id[i], accounts.account_id[i])
    )
    cut = np.zeros(count, dtype=np.int64)
    malformed = np.flatnonzero(rng.random(count) < _ACCOUNTS_MALFORMED_RATE)
    cut[malformed] = rng.integers(10, 60, len(malformed))
    return _AccountExport(order=np.array(order, dtype=np.int64), cut=cut)


@dataclass(frozen=True)
class _AccountSnapshot:
    """The b0002 account snapshot: the changed accounts with their new values, and the
    accounts whose b0001 line is delivered again unchanged."""

    changed: np.ndarray  # account rows, ascending
    balance: np.ndarray  # per changed account
    status: list[str]  # per changed account
    redelivered: np.ndarray  # account rows (intact b0001 lines only), ascending


def _snapshot_accounts(
    accounts: _Accounts, export: _AccountExport, rng: np.random.Generator
) -> _AccountSnapshot:
    """~10% of active non-loan accounts get a new balance (deposits drift, card debt moves
    within the limit), ~1% of active deposit accounts turn dormant or close (balance 0.00);
    loan accounts are left as they are. ~1% of intact b0001 lines are re-delivered."""
    count = len(accounts.account_id)
    loan_row = np.zeros(count, dtype=bool)
    loan_row[accounts.loan] = True
    card_row = ~np.isnan(accounts.credit_limit)
    old_status = np.array(accounts.status, dtype=object)
    active = old_status == "A"
    moved = active & ~loan_row & (rng.random(count) < _SNAPSHOT_BALANCE_RATE)
    deposit = accounts.balance * rng.lognormal(0.0, 0.15, count) + rng.normal(0.0, 300.0, count)
    limit = 1.05 * np.nan_to_num(accounts.credit_limit)
    owed = -accounts.balance * rng.lognormal(0.0, 0.25, count) + rng.uniform(0.0, 500.0, count)
    balance = np.where(card_row, -np.minimum(owed, limit), np.maximum(0.0, deposit))
    balance = np.round(balance, 2) + 0.0
    balance = np.where(
        balance == accounts.balance, balance + np.where(card_row, 1.0, -1.0), balance
    )
    balance = np.where(moved, balance, accounts.balance)
    flipped = active & ~loan_row & ~card_row & (rng.random(count) < _SNAPSHOT_STATUS_RATE)
    closing = rng.random(count) < 0.4
    status = np.where(flipped, np.where(closing, "C", "D"), old_status)
    balance = np.where(flipped & closing, 0.0, balance)
    changed = np.flatnonzero(moved | flipped)
    intact = export.order[export.cut == 0]
    wanted = min(len(intact), max(1, _share(count, _SNAPSHOT_REDELIVERY_RATE)))
    return _AccountSnapshot(
        changed=changed,
        balance=balance[changed],
        status=status[changed].tolist(),
        redelivered=np.sort(rng.choice(intact, wanted, replace=False)),
    )


def _account_line(
    accounts: _Accounts, i: int, open_text: str, status: str, balance: float, snapshot: str
) -> str:
    """One fixed-width line of `CORE_ACCOUNTS_LAYOUT`."""
    limit = accounts.credit_limit[i]
    return (
        f"{accounts.account_id[i]:<16}{accounts.customer_src_id[i]:<12}{accounts.product[i]:<8}"
        f"{accounts.currency[i]:<3}{open_text:<8}{status:<1}"
        f"{balance:>16.2f}{'' if np.isnan(limit) else f'{limit:.2f}':>16}{snapshot:<8}"
    )


def _write_accounts(
    out: _ChunkOutput,
    cfg: _RunConfig,
    accounts: _Accounts,
    export: _AccountExport,
    snapshot: _AccountSnapshot,
) -> None:
    """Fixed-width, ASCII, no header. b0001: every account as of the last day of the period
    (~0.3% of lines truncated); b0002: the snapshot `DELTA_DAYS` later, changed accounts
    only, plus the re-delivered b0001 lines (exact duplicates of them)."""
    open_text = np.char.replace(_iso_days(accounts.open_day), "-", "")
    first, second = np.char.replace(
        _iso_days(np.array([cfg.end_day - 1, cfg.snapshot_day])), "-", ""
    )
    lines, intact = [], {}
    for i, cut in zip(export.order.tolist(), export.cut.tolist(), strict=True):
        line = _account_line(
            accounts, i, open_text[i], accounts.status[i], accounts.balance[i], first
        )
        if cut:
            line = line[:cut]
        else:
            intact[i] = line
        lines.append(line)
    path = out.path("core_accounts", INITIAL_BATCH, ".txt")
    path.write_bytes("".join(f"{line}\n" for line in lines).encode("ascii"))
    out.tally("core_accounts", INITIAL_BATCH, len(lines), int((export.cut > 0).sum()))

    keyed = [
        (
            (accounts.customer_src_id[i], accounts.account_id[i], str(second)),
            _account_line(accounts, i, open_text[i], status, balance, second),
        )
        for i, status, balance in zip(
            snapshot.changed.tolist(), snapshot.status, snapshot.balance.tolist(), strict=True
        )
    ]
    keyed += [
        ((accounts.customer_src_id[i], accounts.account_id[i], str(first)), intact[i])
        for i in snapshot.redelivered.tolist()
    ]
    delta = [line for _, line in sorted(keyed)]
    path = out.path("core_accounts", DELTA_BATCH, ".txt")
    path.write_bytes("".join(f"{line}\n" for line in delta).encode("ascii"))
    out.tally("core_accounts", DELTA_BATCH, len(delta), 0, len(snapshot.redelivered))


def _loan_ids(spec: _ChunkSpec, loans: _Loans) -> list[str]:
    """Loan ids of the chunk's loans."""
    return [f"LN{spec.index:05d}{i:06d}" for i in range(len(loans))]


@dataclass(frozen=True)
class _LoanSnapshot:
    """The b0002 loan snapshot: the loans whose arrears moved on, with their new state, and
    the loans whose b0001 line is delivered again unchanged."""

    changed: np.ndarray  # loan rows, ascending
    status: np.ndarray  # per changed loan
    days_past_due: np.ndarray
    max_dpd_12m: np.ndarray
    redelivered: np.ndarray  # loan rows, ascending


def _snapshot_loans(cfg: _RunConfig, loans: _Loans, rng: np.random.Generator) -> _LoanSnapshot:
    """The loan book `DELTA_DAYS` after b0001, consistent with the default labels.

    Defaulters (label true) only get later: days past due = days since their first missed
    payment, default from 90 on; every defaulter whose arrears start or reach 90 days in the
    window is sent, and ~40% of the other defaulters in arrears. Non-defaulters never reach 90
    days: ~30% of the mildly late ones are sent, half of them cured (0 days, current, the
    12-month maximum kept) and half later by `DELTA_DAYS`; ~0.5% of current ones fall 1 to
    `DELTA_DAYS` days behind. Closed loans do not change. ~1% of b0001 lines are re-delivered.
    """
    count = len(loans)
    arrears = cfg.snapshot_day - loans.delinquent_from
    defaulter = loans.defaulted & (loans.status != "closed") & (arrears > 0)
    milestone = defaulter & (
        (loans.days_past_due == 0) | ((loans.days_past_due < 90) & (arrears >= 90))
    )
    late = ~loans.defaulted & (loans.status == "delinquent")
    current = ~loans.defaulted & (loans.status == "current")
    pick = rng.random(count)
    cured = rng.random(count) < 0.5
    behind = rng.integers(1, DELTA_DAYS + 1, count)
    worse = defaulter & (milestone | (pick < _LOAN_SNAPSHOT_ARREARS_RATE))
    moved = late & (pick < _LOAN_SNAPSHOT_LATE_RATE)
    newly_late = current & (pick < _LOAN_SNAPSHOT_NEW_LATE_RATE)
    dpd = np.where(worse, arrears, loans.days_past_due)
    dpd = np.where(moved, np.where(cured, 0, dpd + DELTA_DAYS), dpd)
    dpd = np.where(newly_late, behind, dpd)
    status = np.where(worse, np.where(dpd >= 90, "default", "delinquent"), loans.status)
    status = np.where(moved, np.where(cured, "current", "delinquent"), status)
    status = np.where(newly_late, "delinquent", status)
    changed = np.flatnonzero(worse | moved | newly_late)
    wanted = min(count, max(1, _share(count, _SNAPSHOT_REDELIVERY_RATE)))
    return _LoanSnapshot(
        changed=changed,
        status=status[changed],
        days_past_due=dpd[changed],
        max_dpd_12m=np.maximum(loans.max_dpd_12m, dpd)[changed],
        redelivered=np.sort(rng.choice(count, wanted, replace=False)),
    )


def _loan_snapshots(
    loans: _Loans,
    snapshot: _LoanSnapshot,
    row: Callable[[int, str, int, int, str], list[str]],
    first: str,
    second: str,
) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of the two loan-book snapshots, made by any layout's ``row(loan, status, dpd,
    max_dpd, snapshot_day)``: every loan on ``first``; changed loans on ``second`` plus the
    re-delivered lines of the first, sorted by loan and day."""
    initial = [
        row(i, loans.status[i], loans.days_past_due[i], loans.max_dpd_12m[i], first)
        for i in range(len(loans))
    ]
    changed = zip(
        snapshot.changed.tolist(),
        snapshot.status.tolist(),
        snapshot.days_past_due.tolist(),
        snapshot.max_dpd_12m.tolist(),
        strict=True,
    )
    delta = [row(i, status, dpd, max_dpd, second) for i, status, dpd, max_dpd in changed]
    delta += [initial[i] for i in snapshot.redelivered.tolist()]
    delta.sort(key=lambda r: (r[0], r[-1]))
    return initial, delta


def _write_loans(
    out: _ChunkOutput,
    cfg: _RunConfig,
    spec: _ChunkSpec,
    records: _Records,
    accounts: _Accounts,
    loans: _Loans,
    snapshot: _LoanSnapshot,
) -> None:
    """The loan book as of the last day of the period (b0001) and the snapshot `DELTA_DAYS`
    later (b0002: changed loans plus re-delivered b0001 lines), CSV with a header."""
    first, second = _iso_days(np.array([cfg.end_day - 1, cfg.snapshot_day])).tolist()
    applied = _iso_days(loans.application_day)
    loan_ids = _loan_ids(spec, loans)

    def row(i: int, status: str, dpd: int, max_dpd: int, as_of: str) -> list[str]:
        return [
            loan_ids[i],
            records.primary[loans.person[i]],
            accounts.account_id[accounts.loan[i]],
            catalog.LOAN_PRODUCTS[loans.product[i]],
            f"{loans.principal[i]:.2f}",
            "CNY",
            str(applied[i]),
            str(int(loans.term_months[i])),
            f"{loans.rate[i]:.2f}",
            str(status),
            str(int(dpd)),
            str(int(max_dpd)),
            as_of,
        ]

    rows, delta = _loan_snapshots(loans, snapshot, row, first, second)
    path = out.path("loans", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(LOAN_COLUMNS, rows), encoding="utf-8")
    out.tally("loans", INITIAL_BATCH, len(rows))
    path = out.path("loans", DELTA_BATCH, ".csv")
    path.write_text(_csv_text(LOAN_COLUMNS, delta), encoding="utf-8")
    out.tally("loans", DELTA_BATCH, len(delta), 0, len(snapshot.redelivered))
