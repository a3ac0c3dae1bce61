"""Tests of the harbour export layout: the same bank as the standard layout, exported the way
another core system would. Pure Python, tiny scale, no Spark."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fin360.sources.generator import (
    CORE_ACCOUNTS_LAYOUT,
    CRM_COLUMNS,
    DELTA_BATCH,
    HARBOUR_ACCOUNT_COLUMNS,
    HARBOUR_ACCOUNT_STATUS,
    HARBOUR_CARD_CHANNELS,
    HARBOUR_CARD_COLUMNS,
    HARBOUR_CLIENT_COLUMNS,
    HARBOUR_COLUMNS,
    HARBOUR_COMMENT,
    HARBOUR_FX_COLUMNS,
    HARBOUR_HOLDER_COLUMNS,
    HARBOUR_LOAN_COLUMNS,
    HARBOUR_LOAN_STATUS,
    HARBOUR_PAYMENT_COLUMNS,
    HARBOUR_PRODUCT_COLUMNS,
    HARBOUR_PRODUCT_FAMILIES,
    HARBOUR_SOURCES,
    INITIAL_BATCH,
    LAYOUTS,
    generate,
    is_valid_resident_id,
)

TINY = {"customers": 200, "days": 10, "chunk_customers": 100}
CURRENCIES = {"CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD"}
DECIMAL = re.compile(r"^-?\d+,\d\d$")
NO_HEADER = {"accounts"}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, dict]]:
    """Both layouts of one tiny bank: layout -> (raw, truth, manifest)."""
    out = {}
    for layout in LAYOUTS:
        root = tmp_path_factory.mktemp(layout)
        manifest = generate(root / "raw", root / "truth", layout=layout, **TINY)
        out[layout] = (root / "raw", root / "truth", manifest)
    return out


@pytest.fixture(scope="module")
def harbour(layouts: dict) -> tuple[Path, Path, dict]:
    return layouts["harbour"]


@pytest.fixture(scope="module")
def standard(layouts: dict) -> tuple[Path, Path, dict]:
    return layouts["standard"]


def digests(folder: Path, pattern: str = "*") -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob(pattern))
        if path.is_file()
    }


def files(raw: Path, source: str, batch: str = INITIAL_BATCH) -> list[Path]:
    return sorted((raw / source / f"batch={batch}").glob("part-*"))


def text_of(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")


def records(path: Path, source: str) -> list[list[str]]:
    """Every record of a harbour file (comment and header dropped; a quoted line break stays
    inside its record)."""
    text = text_of(path)
    if source == "clients":
        comment, text = text.split("\n", 1)
        assert comment == HARBOUR_COMMENT
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    if source not in NO_HEADER:
        assert tuple(rows.pop(0)) == HARBOUR_COLUMNS[source]
    return rows


def well_formed(raw: Path, source: str, batch: str = INITIAL_BATCH) -> list[list[str]]:
    width = len(HARBOUR_COLUMNS[source])
    rows = [row for path in files(raw, source, batch) for row in records(path, source)]
    return [row for row in rows if len(row) == width]


def by_name(source: str, row: list[str]) -> dict[str, str]:
    return dict(zip(HARBOUR_COLUMNS[source], row, strict=True))


def comma(text: str) -> float:
    assert DECIMAL.match(text), text
    return float(text.replace(",", "."))


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="standard, harbour"):
        generate(tmp_path / "raw", tmp_path / "truth", customers=50, days=7, layout="mainframe")
    assert not (tmp_path / "raw").exists()


def test_same_seed_gives_the_same_truth_in_both_layouts(layouts: dict) -> None:
    (_, std_truth, std_manifest), (_, hb_truth, hb_manifest) = (
        layouts["standard"],
        layouts["harbour"],
    )
    assert len(digests(hb_truth, "*.parquet")) == 6
    assert digests(hb_truth, "*.parquet") == digests(std_truth, "*.parquet")
    assert hb_manifest["truth"] == std_manifest["truth"]
    assert (hb_manifest["layout"], std_manifest["layout"]) == ("harbour", "standard")


def test_harbour_output_is_reproducible(harbour: tuple, tmp_path: Path) -> None:
    raw, truth, manifest = harbour
    again = generate(tmp_path / "raw", tmp_path / "truth", layout="harbour", **TINY)
    assert again == manifest
    assert digests(tmp_path / "raw") == digests(raw)
    assert digests(tmp_path / "truth") == digests(truth)


def test_harbour_manifest_counts_match_the_files(harbour: tuple) -> None:
    raw, truth, manifest = harbour
    assert json.loads((truth / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert tuple(manifest["sources"]) == HARBOUR_SOURCES
    listed = set()
    for source, batches in manifest["sources"].items():
        width = len(HARBOUR_COLUMNS[source])
        for batch, entry in batches.items():
            listed.update(entry["files"])
            earlier: set[tuple[str, ...]] = set()
            if batch == DELTA_BATCH and source in ("accounts", "loans"):
                earlier = {tuple(r) for p in files(raw, source) for r in records(p, source)}
            rows = [row for name in entry["files"] for row in records(raw / name, source)]
            assert len(rows) == entry["records"], (source, batch)
            assert sum(len(row) != width for row in rows) == entry["malformed"], source
            seen = Counter(tuple(row) for row in rows)
            repeats = sum(n - 1 for n in seen.values())
            repeats += sum(n for row, n in seen.items() if row in earlier)
            assert repeats == entry["exact_duplicates"], (source, batch)
            if source == "accounts":
                assert entry["unknown_status"] == sum(row[4] == "Z" for row in rows)
                assert entry["unparseable_opened"] == sum(row[3] == "000000" for row in rows)
            if source == "payments":
                assert entry["multi_line_records"] == sum("\n" in row[-1] for row in rows) > 0
    on_disk = {str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()}
    assert on_disk == listed
    for source in ("clients", "card_txns"):
        assert manifest["sources"][source][INITIAL_BATCH]["exact_duplicates"] > 0
        assert manifest["sources"][source][INITIAL_BATCH]["malformed"] > 0
    for source in ("accounts", "loans"):
        assert manifest["sources"][source][DELTA_BATCH]["exact_duplicates"] > 0


def test_clients_are_gzip_csv_without_gender_or_birth_date(harbour: tuple) -> None:
    raw, _, _ = harbour
    paths = files(raw, "clients") + files(raw, "clients", DELTA_BATCH)
    assert paths and all(p.name.endswith(".csv.gz") for p in paths)
    for path in paths:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        head = text_of(path).split("\n", 2)
        assert head[0] == HARBOUR_COMMENT
        assert head[1] == ";".join(HARBOUR_CLIENT_COLUMNS)
    assert not {"gender", "birth_date", "birth"} & set(HARBOUR_CLIENT_COLUMNS)
    rows = well_formed(raw, "clients") + well_formed(raw, "clients", DELTA_BATCH)
    assert rows
    for row in rows:
        client = by_name("clients", row)
        assert is_valid_resident_id(client["id_number"])
        assert re.fullmatch(r"1\d{10}", client["mobile"])
        assert client["income"] == "" or DECIMAL.match(client["income"])
        assert client["mkt_optin"] in "JN" and client["share_optin"] in "JN"
        assert len(client["mkt_optin"]) == len(client["share_optin"]) == 1
        datetime.strptime(client["opened"], "%d.%m.%Y")
        datetime.strptime(client["changed"], "%d.%m.%Y %H:%M:%S")
        for text in (client["name"], client["street"]):  # no full-width forms
            assert not any("\uff00" <= ch <= "\uffef" or ch == "\u3000" for ch in text)
    assert any(by_name("clients", row)["mail"] == "" for row in rows)  # unknown e-mail


def test_clients_keep_the_crm_duplicates(layouts: dict) -> None:
    (std_raw, std_truth, std_manifest), (hb_raw, _, hb_manifest) = (
        layouts["standard"],
        layouts["harbour"],
    )
    for batch in (INITIAL_BATCH, DELTA_BATCH):
        standard = [
            row
            for path in files(std_raw, "crm_customers", batch)
            for row in csv.reader(
                io.StringIO(
                    path.read_bytes().decode("gbk" if path.name.endswith(".gbk.csv") else "utf-8"),
                    newline="",
                )
            )
        ]
        standard = [
            row for row in standard if len(row) == len(CRM_COLUMNS) and row[0] != CRM_COLUMNS[0]
        ]
        clients = well_formed(hb_raw, "clients", batch)
        assert Counter(row[0] for row in clients) == Counter(row[0] for row in standard)
        std_entry = std_manifest["sources"]["crm_customers"][batch]
        hb_entry = hb_manifest["sources"]["clients"][batch]
        for key in ("records", "malformed", "exact_duplicates"):
            assert hb_entry[key] == std_entry[key]
    person_of = {
        r["customer_src_id"]: r["person_id"]
        for r in pq.read_table(std_truth / "customer_identity.parquet").to_pylist()
    }
    ids_of = defaultdict(set)
    for row in well_formed(hb_raw, "clients"):
        ids_of[person_of[row[0]]].add((row[0], row[1], row[3]))
    twins = [ids for ids in ids_of.values() if len({i for i, _, _ in ids}) > 1]
    assert twins  # fuzzy duplicates: same person, another branch, the same resident ID
    assert all(
        len({b for _, b, _ in ids}) > 1 and len({r for _, _, r in ids}) == 1 for ids in twins
    )


def test_accounts_have_no_header_and_documented_codes(harbour: tuple) -> None:
    raw, _, manifest = harbour
    for batch in (INITIAL_BATCH, DELTA_BATCH):
        rows = [row for path in files(raw, "accounts", batch) for row in records(path, "accounts")]
        assert rows and all(len(row) == len(HARBOUR_ACCOUNT_COLUMNS) for row in rows)
        for row in rows:
            account = by_name("accounts", row)
            assert account["account_no"].isdigit()  # no header line
            assert account["status"] in {*HARBOUR_ACCOUNT_STATUS.values(), "Z"}
            if account["opened"] != "000000":
                datetime.strptime(account["opened"], "%y%m%d")
            comma(account["balance"])
            assert account["credit_limit"] == "" or comma(account["credit_limit"]) > 0
            datetime.strptime(account["snapshot"], "%y%m%d")
    assert manifest["sources"]["accounts"][INITIAL_BATCH]["unknown_status"] >= 0
    assert "customer_src_id" not in HARBOUR_ACCOUNT_COLUMNS
    assert "client_no" not in HARBOUR_ACCOUNT_COLUMNS


def test_account_and_customer_ids_agree_between_layouts(layouts: dict) -> None:
    (std_raw, std_truth, std_manifest), (hb_raw, _, _) = layouts["standard"], layouts["harbour"]
    owner = {}
    for path in files(std_raw, "core_accounts"):
        for line in path.read_text(encoding="ascii").splitlines():
            if len(line) == sum(width for _, width in CORE_ACCOUNTS_LAYOUT):
                owner[line[:16].strip()] = line[16:28].strip()
    accounts = [row[0] for p in files(hb_raw, "accounts") for row in records(p, "accounts")]
    assert len(accounts) == len(set(accounts))
    assert len(accounts) == std_manifest["sources"]["core_accounts"][INITIAL_BATCH]["records"]
    assert set(owner) <= set(accounts)

    person_of = {
        r["customer_src_id"]: r["person_id"]
        for r in pq.read_table(std_truth / "customer_identity.parquet").to_pylist()
    }
    holders = [
        by_name("holders", r) for p in files(hb_raw, "holders") for r in records(p, "holders")
    ]
    owners = Counter(h["account_no"] for h in holders if h["role"] == "O")
    assert set(owners) == set(accounts) and set(owners.values()) == {1}  # one owner each
    owner_of = {h["account_no"]: h["client_no"] for h in holders if h["role"] == "O"}
    assert all(owner_of[a] == c for a, c in owner.items())
    users = [h for h in holders if h["role"] == "U"]
    assert users and {h["role"] for h in holders} == {"O", "U"}
    for user in users:  # a user is another person, never the owner
        assert person_of[user["client_no"]] != person_of[owner_of[user["account_no"]]]
    assert set(owner_of.values()) <= set(person_of)

    loans_std = {
        row[0]: row
        for p in files(std_raw, "loans")
        for row in csv.reader(io.StringIO(p.read_text(encoding="utf-8"), newline=""))
    }
    for row in well_formed(hb_raw, "loans"):
        std = loans_std[row[0]]
        assert (row[1], row[2], row[3]) == (std[1], std[2], std[3])
        assert set(owner_of) >= {row[2]}


def test_card_txns_are_the_standard_transactions(layouts: dict) -> None:
    (std_raw, _, std_manifest), (hb_raw, _, hb_manifest) = layouts["standard"], layouts["harbour"]
    channel_of = {v: k for k, v in HARBOUR_CARD_CHANNELS.items()}
    for batch in (INITIAL_BATCH, DELTA_BATCH):
        standard = {}
        for path in files(std_raw, "card_transactions", batch):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    txn = json.loads(line)
                except json.JSONDecodeError:
                    continue
                standard[txn["txn_id"]] = txn
        rows = well_formed(hb_raw, "card_txns", batch)
        assert {row[0] for row in rows} == set(standard)
        for row in rows:
            txn, std = by_name("card_txns", row), standard[row[0]]
            assert txn["account_no"] == std["account_id"]
            assert comma(txn["amount"]) == pytest.approx(std["amount"], abs=0.005)
            assert txn["ccy"] in CURRENCIES  # the real code, also where standard has dirt
            if std["currency"] in CURRENCIES:
                assert txn["ccy"] == std["currency"]
            assert channel_of[txn["channel"]] == std["channel"]
            assert txn["merchant_no"] == std["merchant_id"]
            assert txn["merchant"] == std["merchant_name"]
            assert txn["device"] == (std["device_id"] or "")
            assert int(txn["booked"]) > 1_700_000_000
            if std["lat"] is None:
                assert txn["lat"] == txn["lon"] == ""
            else:
                assert float(txn["lat"]) == pytest.approx(std["lat"])
                assert "," not in txn["lat"] + txn["lon"]
        for key in ("records", "malformed", "exact_duplicates"):
            assert (
                hb_manifest["sources"]["card_txns"][batch][key]
                == std_manifest["sources"]["card_transactions"][batch][key]
            )


def test_payments_are_the_transfers_with_multi_line_purposes(layouts: dict) -> None:
    (std_raw, _, _), (hb_raw, _, _) = layouts["standard"], layouts["harbour"]
    transfers = {
        t["transfer_id"]: t
        for p in files(std_raw, "transfers")
        for t in pq.read_table(p).to_pylist()
    }
    rows = well_formed(hb_raw, "payments")
    assert {row[0] for row in rows} == set(transfers)
    multi = 0
    for row in rows:
        payment, t = by_name("payments", row), transfers[row[0]]
        assert (payment["debit_account"], payment["credit_account"]) == (
            t["from_account"],
            t["to_account"],
        )
        assert comma(payment["amount"]) == pytest.approx(t["amount"], abs=0.005)
        local = datetime.strptime(payment["value_time"], "%d.%m.%Y %H:%M:%S")
        assert abs((local - t["ts"].replace(tzinfo=None)).total_seconds() - 8 * 3600) < 1
        assert payment["counterparty_bank"] == (t["counterparty_bank"] or "")
        first, *rest = payment["purpose"].split("\n")
        assert first == t["purpose"]
        multi += bool(rest)
    assert multi > 0
    text = text_of(files(hb_raw, "payments")[0])
    assert text.split("\n", 1)[0] == ";".join(HARBOUR_PAYMENT_COLUMNS)


def test_loans_use_letters_decimal_commas_and_short_dates(layouts: dict) -> None:
    (std_raw, _, _), (hb_raw, _, _) = layouts["standard"], layouts["harbour"]
    letter = HARBOUR_LOAN_STATUS
    for batch in (INITIAL_BATCH, DELTA_BATCH):
        standard = [
            row
            for p in files(std_raw, "loans", batch)
            for row in list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"), newline="")))[1:]
        ]
        rows = well_formed(hb_raw, "loans", batch)
        assert len(rows) == len(standard) > 0
        for row, std in zip(rows, standard, strict=True):
            loan = by_name("loans", row)
            assert loan["loan_no"] == std[0]
            assert comma(loan["principal"]) == float(std[4])
            assert comma(loan["rate"]) == float(std[8])
            assert loan["status"] == letter[std[9]]
            assert (loan["dpd"], loan["max_dpd_12m"]) == (std[10], std[11])
            applied = datetime.strptime(loan["applied"], "%y%m%d").date()
            assert applied.isoformat() == std[6]
            snapshot = datetime.strptime(loan["snapshot"], "%y%m%d").date()
            assert snapshot.isoformat() == std[12]
    assert tuple(HARBOUR_LOAN_COLUMNS)[-1] == "snapshot"


def test_fx_is_hkd_per_unit_of_each_currency(layouts: dict) -> None:
    (std_raw, _, std_manifest), (hb_raw, _, hb_manifest) = layouts["standard"], layouts["harbour"]
    to_cny = {
        (row[0], row[1]): float(row[2])
        for row in list(csv.reader(io.StringIO(files(std_raw, "fx_rates")[0].read_text())))[1:]
    }
    rows = well_formed(hb_raw, "fx")
    assert tuple(HARBOUR_FX_COLUMNS) == ("date", "ccy", "per_hkd")
    assert "HKD" not in {row[1] for row in rows} and "CNY" in {row[1] for row in rows}
    have = set()
    for day, ccy, per_hkd in rows:
        iso = datetime.strptime(day, "%d.%m.%Y").date().isoformat()
        have.add((iso, ccy))
        assert re.fullmatch(r"\d+,\d{6}", per_hkd)
        value = float(per_hkd.replace(",", "."))
        expected = (1.0 if ccy == "CNY" else to_cny[iso, ccy]) / to_cny[iso, "HKD"]
        # 6 decimals: relative 1e-6 where the value is >= 0.5, else the rounding of 6 decimals
        assert abs(value - expected) <= max(1e-6 * expected, 5.01e-7)
    days = {iso for iso, _ in to_cny}
    expected_keys = {
        (iso, ccy)
        for iso in days
        if (iso, "HKD") in to_cny
        for ccy in ("CNY", "USD", "EUR", "JPY", "GBP", "SGD")
        if ccy == "CNY" or (iso, ccy) in to_cny
    }
    assert have == expected_keys  # the same gaps as the standard layout's fx_rates
    assert hb_manifest["notes"]["fx_missing"] == std_manifest["notes"]["fx_rates_missing"]


def test_products_carry_family_codes(harbour: tuple) -> None:
    raw, _, _ = harbour
    rows = well_formed(raw, "products")
    assert tuple(HARBOUR_PRODUCT_COLUMNS) == ("code", "label", "family", "min_age", "risk", "ccy")
    assert {row[2] for row in rows} == set(HARBOUR_PRODUCT_FAMILIES.values())
    assert tuple(HARBOUR_HOLDER_COLUMNS) == ("account_no", "client_no", "role")
    assert tuple(HARBOUR_CARD_COLUMNS)[-1] == "booked"
