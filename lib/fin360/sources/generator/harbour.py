"""The harbour layout: the same bank, exported the way another core system would.

The chunk data are the standard layout's (same seed: same persons, records, accounts,
transactions, loans, FX rates and ids); only the writers differ. Every file is
semicolon-separated CSV, UTF-8, LF line ends, minimal quoting (a field is quoted only when it
holds ``;``, ``"`` or a line break), decimal commas, local times in Asia/Shanghai (UTC+08:00):

- clients (b0001, b0002): ``.csv.gz``, gzip; a comment line `HARBOUR_COMMENT`, then the header
  `HARBOUR_CLIENT_COLUMNS`. The CRM records with their exact and fuzzy duplicates, values
  without full-width forms; ~0.5% of lines cut short (fewer fields).
- accounts (b0001, b0002 snapshot): ``.csv`` WITHOUT a header, `HARBOUR_ACCOUNT_COLUMNS`;
  status letters `HARBOUR_ACCOUNT_STATUS`; ~0.2% of lines with the unknown status ``Z`` and
  ~0.2% with the unparseable opened date ``000000`` (counted in the manifest entry).
- holders (b0001): one ``O`` (owner) row per account, ~2% extra ``U`` (authorised user) rows.
- card_txns (b0001, b0002), payments (b0001), loans (b0001, b0002 snapshot), fx (b0001),
  products (b0001): ``.csv`` with a header (`HARBOUR_COLUMNS`).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fin360.sources import catalog
from fin360.sources.catalog import PRODUCTS
from fin360.sources.generator.banking import (
    _Accounts,
    _AccountSnapshot,
    _loan_ids,
    _loan_snapshots,
    _LoanSnapshot,
)
from fin360.sources.generator.cards import _CARD_CHANNELS, _ECOM, _CardBatch, _merchants
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    _CURRENCIES,
    _CURRENCY_INDEX,
    _HOME_OFFSET_MS,
    DELTA_BATCH,
    INITIAL_BATCH,
    _RunConfig,
    _share,
    _Stream,
)
from fin360.sources.generator.crm import _Client, _CrmBatch
from fin360.sources.generator.reference import _fx_notes, _FxRates
from fin360.sources.generator.writers import (
    _ChunkOutput,
    _compact_days,
    _decimal_comma,
    _delimited_fields,
    _delimited_text,
    _dotted_days,
    _FileSet,
    _halfwidth,
    _write_json_lines,
)
from fin360.sources.names import CITIES

HARBOUR_COMMENT = "# harbour core export v7"
HARBOUR_CLIENT_COLUMNS = (
    "client_no",
    "branch",
    "name",
    "id_number",
    "mobile",
    "mail",
    "street",
    "town",
    "region",
    "profession",
    "income",
    "mkt_optin",
    "share_optin",
    "opened",
    "changed",
)
HARBOUR_ACCOUNT_COLUMNS = (  # file order; the file has no header line
    "account_no",
    "product",
    "currency",
    "opened",
    "status",
    "balance",
    "credit_limit",
    "snapshot",
)
HARBOUR_HOLDER_COLUMNS = ("account_no", "client_no", "role")
HARBOUR_CARD_COLUMNS = (
    "txn_ref",
    "account_no",
    "amount",
    "ccy",
    "merchant_no",
    "merchant",
    "mcc",
    "channel",
    "device",
    "country",
    "city",
    "lat",
    "lon",
    "booked",
)
HARBOUR_PAYMENT_COLUMNS = (
    "payment_ref",
    "debit_account",
    "credit_account",
    "counterparty",
    "counterparty_bank",
    "amount",
    "ccy",
    "value_time",
    "channel",
    "purpose",
)
HARBOUR_LOAN_COLUMNS = (
    "loan_no",
    "client_no",
    "account_no",
    "product",
    "principal",
    "ccy",
    "applied",
    "term",
    "rate",
    "status",
    "dpd",
    "max_dpd_12m",
    "snapshot",
)
HARBOUR_FX_COLUMNS = ("date", "ccy", "per_hkd")
HARBOUR_PRODUCT_COLUMNS = ("code", "label", "family", "min_age", "risk", "ccy")
HARBOUR_COLUMNS = {
    "clients": HARBOUR_CLIENT_COLUMNS,
    "accounts": HARBOUR_ACCOUNT_COLUMNS,
    "holders": HARBOUR_HOLDER_COLUMNS,
    "card_txns": HARBOUR_CARD_COLUMNS,
    "payments": HARBOUR_PAYMENT_COLUMNS,
    "loans": HARBOUR_LOAN_COLUMNS,
    "fx": HARBOUR_FX_COLUMNS,
    "products": HARBOUR_PRODUCT_COLUMNS,
}

HARBOUR_ACCOUNT_STATUS = {"A": "O", "C": "S", "D": "R"}  # active/open, closed, dormant
HARBOUR_LOAN_STATUS = {"current": "C", "delinquent": "L", "default": "D", "closed": "X"}
HARBOUR_CARD_CHANNELS = {"POS": "P", "ECOM": "E", "ATM": "A", "CONTACTLESS": "C"}
HARBOUR_PRODUCT_FAMILIES = {
    "savings": "SAV",
    "current": "CUR",
    "credit_card": "CC",
    "loan": "LN",
    "wealth": "WM",
}
HARBOUR_BASE_CURRENCY = "HKD"

_UNKNOWN_STATUS = "Z"
_UNPARSEABLE_DATE = "000000"
_UNKNOWN_STATUS_RATE = 0.002
_UNPARSEABLE_OPENED_RATE = 0.002
_AUTHORISED_USER_RATE = 0.02
_MULTI_LINE_RATE = 0.005


def _write_harbour_reference(
    cfg: _RunConfig, stats: dict[tuple[str, str], _FileSet], fx: _FxRates
) -> dict:
    """Write products and fx (b0001 only) and return the manifest notes.

    fx gives HKD per unit of every other currency (CNY included) with 6 decimals, computed
    from the rates the standard layout publishes; a currency whose rate the standard layout
    lacks on a day is missing that day, and a day without an HKD rate is missing entirely.
    """
    out = _ChunkOutput(cfg.raw_dir, 0)
    rows = [
        [
            p.code,
            p.name,
            HARBOUR_PRODUCT_FAMILIES[p.category],
            str(p.min_age),
            str(p.risk_level),
            p.currency,
        ]
        for p in PRODUCTS
    ]
    path = out.path("products", INITIAL_BATCH, ".csv")
    path.write_text(_delimited_text(rows, HARBOUR_PRODUCT_COLUMNS), encoding="utf-8")
    out.tally("products", INITIAL_BATCH, len(rows))

    hkd = _CURRENCY_INDEX[HARBOUR_BASE_CURRENCY]
    dates = _dotted_days(fx.days)
    fx_rows = []
    for d, day in enumerate(dates):
        if not fx.published(d, hkd):
            continue
        per_cny = round(fx.rates[d, hkd], 6)  # the standard layout's published HKD rate
        for c, code in enumerate(_CURRENCIES):
            if c == hkd or not fx.published(d, c):
                continue
            rate = 1.0 if c == 0 else round(fx.rates[d, c], 6)
            fx_rows.append([day, code, f"{rate / per_cny:.6f}".replace(".", ",")])
    path = out.path("fx", INITIAL_BATCH, ".csv")
    path.write_text(_delimited_text(fx_rows, HARBOUR_FX_COLUMNS), encoding="utf-8")
    out.tally("fx", INITIAL_BATCH, len(fx_rows))
    stats.update(out.stats)
    return {
        "base_currency": HARBOUR_BASE_CURRENCY,
        "fx_missing": _fx_notes(fx),
    }


def _write_harbour_chunk(
    chunk: _Chunk,
    crm: tuple[_CrmBatch, _CrmBatch],
    account_snapshot: _AccountSnapshot,
    loan_snapshot: _LoanSnapshot,
    cards: list[_CardBatch],
    transfers: pa.Table,
    rng: Callable[[_Stream], np.random.Generator],
) -> None:
    """Write one chunk's harbour sources from the chunk data the standard layout uses."""
    cfg, out = chunk.cfg, chunk.out
    for batch in crm:
        _write_clients(out, batch)
    _write_accounts(out, cfg, chunk.accounts, account_snapshot, rng(_Stream.HARBOUR_ACCOUNTS))
    _write_holders(chunk, rng(_Stream.HARBOUR_HOLDERS))
    for batch in cards:
        _write_card_txns(chunk, batch)
    _write_payments(out, transfers, rng(_Stream.HARBOUR_PAYMENTS))
    _write_loans(chunk, loan_snapshot)


def _client_row(client: _Client) -> list[str]:
    """A clients line: clean values, canonical resident ID, 11-digit mobile, J/N flags."""
    city = CITIES[client.city]
    return [
        client.src_id,
        CITIES[client.branch].branch,
        _halfwidth(client.name),
        client.resident_id,
        client.phone,
        client.email,
        _halfwidth(client.address),
        city.cn,
        city.province,
        client.occupation,
        f"{client.income:.2f}".replace(".", ","),
        "J" if client.marketing else "N",
        "J" if client.sharing else "N",
        client.created.strftime("%d.%m.%Y"),
        client.updated.strftime("%d.%m.%Y %H:%M:%S"),
    ]


def _write_clients(out: _ChunkOutput, crm: _CrmBatch) -> None:
    """One gzip file per chunk and batch: the CRM batch's lines in the same order, with the
    same exact duplicates and the same lines cut short (fewer fields than the header)."""
    rows = [_client_row(client) for client in crm.clients]
    lines, malformed, duplicates = [], 0, 0
    seen: set[int] = set()
    for r in crm.placed:
        row = rows[r]
        if crm.malformed[r]:
            row = row[: min(int(crm.keep[r]), len(HARBOUR_CLIENT_COLUMNS) - 1)]
            row[-1] = row[-1][: max(1, len(row[-1]) // 2)]
            malformed += 1
        duplicates += r in seen
        seen.add(r)
        lines.append(row)
    text = _delimited_text(lines, HARBOUR_CLIENT_COLUMNS, preamble=f"{HARBOUR_COMMENT}\n")
    path = out.path("clients", crm.batch, ".csv.gz")
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    out.tally("clients", crm.batch, len(lines), malformed, duplicates)


def _write_accounts(
    out: _ChunkOutput,
    cfg: _RunConfig,
    accounts: _Accounts,
    snapshot: _AccountSnapshot,
    rng: np.random.Generator,
) -> None:
    """b0001: every account by account number; b0002: the snapshot's changed accounts plus
    its re-delivered accounts (their b0001 lines again, byte for byte). No client id, no
    header."""
    opened = _compact_days(accounts.open_day)
    limits = _decimal_comma(accounts.credit_limit).to_pylist()
    first, second = _compact_days(np.array([cfg.end_day - 1, cfg.snapshot_day]))

    def lines(rows: list[int], status: list[str], balance: np.ndarray, day: str) -> list[list[str]]:
        u = rng.random(len(rows))
        unknown = u < _UNKNOWN_STATUS_RATE
        undated = (u >= _UNKNOWN_STATUS_RATE) & (
            u < _UNKNOWN_STATUS_RATE + _UNPARSEABLE_OPENED_RATE
        )
        balances = _decimal_comma(balance).to_pylist()
        return [
            [
                accounts.account_id[i],
                accounts.product[i],
                accounts.currency[i],
                _UNPARSEABLE_DATE if undated[k] else opened[i],
                _UNKNOWN_STATUS if unknown[k] else HARBOUR_ACCOUNT_STATUS[status[k]],
                balances[k],
                limits[i],
                day,
            ]
            for k, i in enumerate(rows)
        ]

    order = sorted(range(len(accounts.account_id)), key=accounts.account_id.__getitem__)
    initial = lines(order, [accounts.status[i] for i in order], accounts.balance[order], first)
    line_of = dict(zip(order, initial, strict=True))
    changed = snapshot.changed.tolist()
    delta = lines(changed, snapshot.status, snapshot.balance, second)
    delta += [line_of[i] for i in snapshot.redelivered.tolist()]
    delta.sort(key=lambda row: (row[0], row[-1]))
    for batch, rows, duplicates in (
        (INITIAL_BATCH, initial, 0),
        (DELTA_BATCH, delta, len(snapshot.redelivered)),
    ):
        path = out.path("accounts", batch, ".csv")
        path.write_text(_delimited_text(rows), encoding="utf-8")
        out.tally("accounts", batch, len(rows), 0, duplicates)
        out.count(
            "accounts",
            batch,
            unknown_status=sum(row[4] == _UNKNOWN_STATUS for row in rows),
            unparseable_opened=sum(row[3] == _UNPARSEABLE_DATE for row in rows),
        )


def _write_holders(chunk: _Chunk, rng: np.random.Generator) -> None:
    """One owner row per account (the record the account belongs to) and, for ~2% of the
    non-loan accounts, an authorised user: another person of the chunk, by their own record."""
    accounts, records = chunk.accounts, chunk.records
    count, persons = len(accounts.account_id), len(chunk.people)
    loan_row = np.zeros(count, dtype=bool)
    loan_row[accounts.loan] = True
    other = (accounts.person + rng.integers(1, max(2, persons), count)) % persons
    user = (rng.random(count) < _AUTHORISED_USER_RATE) & ~loan_row & (other != accounts.person)
    rows = []
    for i in sorted(range(count), key=accounts.account_id.__getitem__):
        rows.append([accounts.account_id[i], accounts.customer_src_id[i], "O"])
        if user[i]:
            rows.append([accounts.account_id[i], records.primary[other[i]], "U"])
    path = chunk.out.path("holders", INITIAL_BATCH, ".csv")
    path.write_text(_delimited_text(rows, HARBOUR_HOLDER_COLUMNS), encoding="utf-8")
    chunk.out.tally("holders", INITIAL_BATCH, len(rows))


def _cut_fields(line: str, keep: float) -> str:
    """A CSV line cut after a share of its fields (a malformed record: too few fields)."""
    fields = next(csv.reader([line], delimiter=";"))
    return _delimited_text([fields[: max(1, min(len(fields) - 1, int(len(fields) * keep)))]])[:-1]


def _write_card_txns(chunk: _Chunk, cards: _CardBatch) -> None:
    """The card batch's lines in the same order, with the same duplicates and malformed lines
    (cut after some fields). Amounts in the merchant's currency (its ISO code), booked time
    in epoch seconds (UTC); lat/lon empty for online purchases."""
    txns = cards.txns
    merchants = _merchants(chunk.cfg.seed)
    text = {k: _delimited_fields(v) for k, v in merchants.text.items()}
    account_ids = pa.array(chunk.accounts.account_id, pa.string())
    device_ids = _delimited_fields(pa.array(cards.device_ids, pa.string()))
    currencies = pa.array(_CURRENCIES)
    channels = pa.array([HARBOUR_CARD_CHANNELS[c] for c in _CARD_CHANNELS])

    def render(rows: np.ndarray) -> pa.Array:
        merchant = pa.array(txns.merchant[rows])
        ecom = pa.array(txns.channel[rows] == _ECOM)
        device = txns.device[rows]
        return pc.binary_join_element_wise(
            cards.txn_ids(rows),
            account_ids.take(pa.array(txns.account[rows])),
            _decimal_comma(cards.amount[rows]),
            currencies.take(pa.array(cards.currency[rows])),
            text["id"].take(merchant),
            text["name"].take(merchant),
            text["mcc"].take(merchant),
            channels.take(pa.array(txns.channel[rows])),
            device_ids.take(pa.array(np.where(device < 0, len(device_ids) - 1, device))),
            text["country"].take(merchant),
            text["city"].take(merchant),
            pc.if_else(ecom, "", text["lat"].take(merchant)),
            pc.if_else(ecom, "", text["lon"].take(merchant)),
            pc.cast(pa.array(txns.utc_ms[rows] // 1000), pa.string()),
            ";",
        )

    path = chunk.out.path("card_txns", cards.batch, ".csv")
    header = _delimited_text([], HARBOUR_CARD_COLUMNS)
    _write_json_lines(path, render, cards.order, cards.cut, _cut_fields, preamble=header)
    chunk.out.tally("card_txns", cards.batch, len(cards.order), cards.malformed, cards.duplicates)


def _write_payments(out: _ChunkOutput, transfers: pa.Table, rng: np.random.Generator) -> None:
    """The transfers as payments: value time in local time, ~0.5% of purposes carrying a
    second line (``REF <payment_ref>``) inside quotes, so that the record spans two lines."""
    n = transfers.num_rows
    ref = transfers.column("transfer_id").combine_chunks()
    purpose = transfers.column("purpose").combine_chunks()
    multi = np.zeros(n, dtype=bool)
    multi[rng.choice(n, min(n, max(1, _share(n, _MULTI_LINE_RATE))), replace=False)] = True
    purpose = pc.if_else(
        pa.array(multi), pc.binary_join_element_wise(purpose, ref, "\nREF "), purpose
    )
    utc_us = transfers.column("ts").combine_chunks().cast(pa.int64()).to_numpy()
    local_s = (utc_us // 1_000_000 + _HOME_OFFSET_MS // 1000).astype("datetime64[s]")
    value_time = pc.strftime(pa.array(local_s), format="%d.%m.%Y %H:%M:%S")
    fields = [
        ref,
        transfers.column("from_account").combine_chunks(),
        transfers.column("to_account").combine_chunks(),
        _delimited_fields(transfers.column("counterparty_name").combine_chunks()),
        _delimited_fields(transfers.column("counterparty_bank").combine_chunks()),
        _decimal_comma(transfers.column("amount").to_numpy()),
        transfers.column("currency").combine_chunks(),
        value_time,
        transfers.column("channel").combine_chunks(),
        _delimited_fields(purpose),
    ]
    lines = pc.binary_join_element_wise(*fields, ";") if n else pa.array([], pa.string())
    text = _delimited_text([], HARBOUR_PAYMENT_COLUMNS) + "".join(
        f"{line}\n" for line in lines.to_pylist()
    )
    path = out.path("payments", INITIAL_BATCH, ".csv")
    path.write_text(text, encoding="utf-8")
    out.tally("payments", INITIAL_BATCH, n)
    out.count("payments", INITIAL_BATCH, multi_line_records=int(multi.sum()))


def _write_loans(chunk: _Chunk, snapshot: _LoanSnapshot) -> None:
    """The loan book as of the last day of the period (b0001) and the snapshot (b0002:
    changed loans plus re-delivered b0001 lines), status letters, yyMMdd dates."""
    cfg, out, records, accounts, loans = (
        chunk.cfg,
        chunk.out,
        chunk.records,
        chunk.accounts,
        chunk.loans,
    )
    first, second = _compact_days(np.array([cfg.end_day - 1, cfg.snapshot_day]))
    applied = _compact_days(loans.application_day)
    loan_ids = _loan_ids(chunk.spec, loans)

    def row(i: int, status: str, dpd: int, max_dpd: int, day: str) -> list[str]:
        return [
            loan_ids[i],
            records.primary[loans.person[i]],
            accounts.account_id[accounts.loan[i]],
            catalog.LOAN_PRODUCTS[loans.product[i]],
            f"{loans.principal[i]:.2f}".replace(".", ","),
            "CNY",
            applied[i],
            str(int(loans.term_months[i])),
            f"{loans.rate[i]:.2f}".replace(".", ","),
            HARBOUR_LOAN_STATUS[str(status)],
            str(int(dpd)),
            str(int(max_dpd)),
            day,
        ]

    initial, delta = _loan_snapshots(loans, snapshot, row, first, second)
    for batch, rows, duplicates in (
        (INITIAL_BATCH, initial, 0),
        (DELTA_BATCH, delta, len(snapshot.redelivered)),
    ):
        path = out.path("loans", batch, ".csv")
        path.write_text(_delimited_text(rows, HARBOUR_LOAN_COLUMNS), encoding="utf-8")
        out.tally("loans", batch, len(rows), 0, duplicates)
