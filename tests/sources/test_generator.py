"""Tests of the synthetic source generator: pure Python, tiny scale, no Spark."""

from __future__ import annotations

import csv
import hashlib
import json
import unicodedata
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fin360.sources import catalog, names
from fin360.sources.generator import (
    ANOMALY_TYPES,
    APP_EVENT_COLUMNS,
    BUREAU_COLUMNS,
    CARD_COLUMNS,
    CARD_DELTA_COLUMNS,
    COMPLAINT_COLUMNS,
    CORE_ACCOUNTS_LAYOUT,
    CRM_COLUMNS,
    DELTA_BATCH,
    DELTA_DAYS,
    FX_COLUMNS,
    INITIAL_BATCH,
    LOAN_COLUMNS,
    PRODUCT_COLUMNS,
    SOURCES,
    TRANSFER_SCHEMA,
    generate,
    is_valid_resident_id,
    resident_id_check_digit,
)

TINY = {"customers": 200, "days": 10, "chunk_customers": 100}
LINE_WIDTH = sum(width for _, width in CORE_ACCOUNTS_LAYOUT)
FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """One generated tiny dataset shared by the read-only tests: (raw, truth, manifest)."""
    root = tmp_path_factory.mktemp("tiny")
    manifest = generate(root / "raw", root / "truth", **TINY)
    return root / "raw", root / "truth", manifest


def digests(*folders: Path) -> dict[str, str]:
    """sha256 of every file under the folders, keyed by folder name and relative path."""
    return {
        f"{folder.name}/{path.relative_to(folder)}": hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def source_files(raw: Path, source: str, batch: str = INITIAL_BATCH) -> list[Path]:
    """The part files of one source and batch."""
    return sorted((raw / source / f"batch={batch}").glob("part-*"))


def csv_rows(path: Path) -> list[list[str]]:
    """Data rows (header dropped) of a CSV file in its declared encoding."""
    encoding = "gbk" if path.name.endswith(".gbk.csv") else "utf-8"
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))[1:]


def crm_rows(raw: Path, batch: str = INITIAL_BATCH) -> list[list[str]]:
    """Well-formed CRM rows of a batch, GBK files included."""
    rows = [row for path in source_files(raw, "crm_customers", batch) for row in csv_rows(path)]
    return [row for row in rows if len(row) == len(CRM_COLUMNS)]


def json_records(raw: Path, source: str, batch: str = INITIAL_BATCH) -> list[dict]:
    """Parseable objects of a JSON lines source."""
    records = []
    for path in source_files(raw, source, batch):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def normalised_resident_id(text: str) -> str:
    """Undo the dirt of resident IDs: full-width forms, spaces, lower-case x."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").upper()


def data_lines(path: Path) -> list[str]:
    """The record lines of a CSV or fixed-width raw file (header dropped); lines end with LF."""
    encoding = "gbk" if path.name.endswith(".gbk.csv") else "utf-8"
    lines = path.read_bytes().decode(encoding).split("\n")
    assert lines.pop() == ""  # the last line is terminated too
    return lines[1:] if path.suffix == ".csv" else lines


def physical_counts(path: Path, earlier: set[str] | None = None) -> tuple[int, int, int]:
    """(records, malformed, exact duplicates) actually in a raw file; lines end with LF. A
    line that is also in ``earlier`` (the lines of an earlier batch) is a duplicate too."""
    if path.suffix == ".parquet":
        return pq.read_metadata(path).num_rows, 0, 0
    encoding = "gbk" if path.name.endswith(".gbk.csv") else "utf-8"
    lines = path.read_bytes().decode(encoding).split("\n")
    assert lines.pop() == ""  # the last line is terminated too
    redelivered = sum(line in earlier for line in lines) if earlier else 0
    if path.suffix == ".csv":
        header, *lines = lines
        width = len(next(csv.reader([header])))
        malformed = sum(len(row) != width for row in csv.reader(lines))
    elif path.suffix == ".txt":
        malformed = sum(len(line) != LINE_WIDTH for line in lines)
    else:
        malformed = 0
        for line in lines:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                malformed += 1
    return len(lines), malformed, len(lines) - len(set(lines)) + redelivered


def test_check_digit_matches_the_standard_examples() -> None:
    assert resident_id_check_digit("11010519491231002") == "X"
    assert resident_id_check_digit("44052418800101001") == "4"
    assert is_valid_resident_id("11010519491231002X")
    assert is_valid_resident_id("440524188001010014")


@pytest.mark.parametrize(
    "candidate",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002x",  # lower-case x is not canonical
        "11010519491231002X".translate(FULLWIDTH),
        "110105 19491231 002X",  # spaced
        "1101051949123100",  # too short
    ],
)
def test_non_canonical_resident_ids_are_rejected(candidate: str) -> None:
    assert not is_valid_resident_id(candidate)


def test_resident_id_with_impossible_birth_date_is_rejected() -> None:
    first17 = "11010519491332002"  # month 13
    assert not is_valid_resident_id(first17 + resident_id_check_digit(first17))


def test_check_digit_needs_17_digits() -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_digit("1101051949123100X")


def test_every_resident_id_is_valid_once_normalised(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    crm = crm_rows(raw) + crm_rows(raw, DELTA_BATCH)
    clear = [row[5] for row in crm if row[5].isascii() and row[5] == row[5].upper()]
    assert len(clear) > 0.9 * len(crm)
    assert all(is_valid_resident_id(rid) for rid in clear)
    bureau = [row[1] for path in source_files(raw, "credit_bureau") for row in csv_rows(path)]
    dirty = [row[5] for row in crm] + bureau
    assert all(is_valid_resident_id(normalised_resident_id(rid)) for rid in dirty)
    assert any(not rid.isascii() for rid in dirty)  # the dirt is really there


def test_same_seed_gives_identical_files(tiny: tuple[Path, Path, dict], tmp_path: Path) -> None:
    raw, truth, manifest = tiny
    again = generate(tmp_path / "raw", tmp_path / "truth", **TINY)
    assert again == manifest
    assert digests(tmp_path / "raw", tmp_path / "truth") == digests(raw, truth)


def test_different_seed_gives_different_data(tiny: tuple[Path, Path, dict], tmp_path: Path) -> None:
    raw, _, _ = tiny
    generate(tmp_path / "raw", tmp_path / "truth", seed=7, **TINY)
    before, after = digests(raw), digests(tmp_path / "raw")
    assert before.keys() == after.keys()
    header_only = {
        f"raw/{p.relative_to(raw)}"
        for p in raw.rglob("*.csv")
        if len(p.read_bytes().splitlines()) == 1
    }
    fixed = {"raw/products/batch=b0001/part-00000.csv"} | header_only
    assert {path for path in before if before[path] != after[path]} == set(before) - fixed


def test_workers_do_not_change_the_output(tiny: tuple[Path, Path, dict], tmp_path: Path) -> None:
    raw, truth, manifest = tiny
    assert len(manifest["sources"]["loans"][INITIAL_BATCH]["files"]) == 2  # two chunks
    parallel = generate(tmp_path / "raw", tmp_path / "truth", workers=2, **TINY)
    assert parallel == manifest
    assert digests(tmp_path / "raw", tmp_path / "truth") == digests(raw, truth)


def test_manifest_counts_match_the_files(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, manifest = tiny
    assert json.loads((truth / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert list(manifest["sources"]) == list(SOURCES)
    listed = set()
    for source, batches in manifest["sources"].items():
        for batch, entry in batches.items():
            earlier = None
            if batch == DELTA_BATCH and source in ("core_accounts", "loans"):  # re-deliveries
                earlier = {line for path in source_files(raw, source) for line in data_lines(path)}
            counts = [physical_counts(raw / name, earlier) for name in entry["files"]]
            listed.update(entry["files"])
            assert sum(c[0] for c in counts) == entry["records"], source
            assert sum(c[1] for c in counts) == entry["malformed"], source
            assert sum(c[2] for c in counts) == entry["exact_duplicates"], source
    on_disk = {str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()}
    assert on_disk == listed
    assert manifest["sources"]["card_transactions"][INITIAL_BATCH]["exact_duplicates"] > 0
    assert manifest["sources"]["card_transactions"][INITIAL_BATCH]["malformed"] > 0
    assert set(manifest["sources"]["fx_rates"]) == {INITIAL_BATCH}
    assert manifest["layout"] == "standard"
    for source in ("core_accounts", "loans"):  # the b0002 snapshots re-deliver b0001 lines
        assert manifest["sources"][source][DELTA_BATCH]["exact_duplicates"] > 0


def test_fraud_rings_share_devices_and_move_money_in_circles(
    tiny: tuple[Path, Path, dict],
) -> None:
    raw, truth, _ = tiny
    rings = pq.read_table(truth / "fraud_rings.parquet").to_pylist()
    assert rings
    person_of = {
        r["customer_src_id"]: r["person_id"]
        for r in pq.read_table(truth / "customer_identity.parquet").to_pylist()
    }
    owner_of = {}
    for path in source_files(raw, "core_accounts"):
        for line in path.read_text(encoding="ascii").splitlines():
            if len(line) == LINE_WIDTH:
                owner_of[line[:16].strip()] = person_of[line[16:28].strip()]
    users_of_device = defaultdict(set)
    for event in json_records(raw, "app_events"):
        users_of_device[event["device_id"]].add(person_of[event["customer_src_id"]])
    edges = defaultdict(set)
    for path in source_files(raw, "transfers"):
        for t in pq.read_table(path, columns=["from_account", "to_account"]).to_pylist():
            if t["from_account"] in owner_of and t["to_account"] in owner_of:
                edges[owner_of[t["from_account"]]].add(owner_of[t["to_account"]])

    members_of = defaultdict(set)
    for row in rings:
        members_of[row["ring_id"]].add(row["person_id"])
    for members in members_of.values():
        assert 4 <= len(members) <= 8
        assert any(members <= users for users in users_of_device.values())
        start = next(iter(members))
        reached, frontier = set(), {start}
        while frontier:  # walk ring-internal transfers; a cycle brings us back to start
            frontier = {b for a in frontier for b in edges[a] & members} - reached
            reached |= frontier
        assert start in reached


def test_anomalies_are_real_card_transactions(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, _ = tiny
    anomalies = pq.read_table(truth / "anomalies.parquet").to_pylist()
    assert {a["anomaly_type"] for a in anomalies} == set(ANOMALY_TYPES)
    txn_ids = {
        t["txn_id"]
        for batch in (INITIAL_BATCH, DELTA_BATCH)
        for t in json_records(raw, "card_transactions", batch)
    }
    assert {a["txn_id"] for a in anomalies} <= txn_ids


def test_every_raw_customer_id_is_in_the_identity_truth(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, _ = tiny
    identity = pq.read_table(truth / "customer_identity.parquet").to_pylist()
    known = {r["customer_src_id"] for r in identity}
    persons = {r["person_id"] for r in pq.read_table(truth / "persons.parquet").to_pylist()}
    assert {r["person_id"] for r in identity} == persons
    crm = crm_rows(raw) + crm_rows(raw, DELTA_BATCH)
    assert {row[0] for row in crm} <= known
    assert len({row[0] for row in crm}) > len(persons)  # fuzzy duplicates add records
    used = {t["customer_src_id"] for t in json_records(raw, "card_transactions")}
    used |= {e["customer_src_id"] for e in json_records(raw, "app_events")}
    for source in ("complaints", "loans"):
        used |= {row[1] for path in source_files(raw, source) for row in csv_rows(path)}
    assert used <= known
    bureau = {row[0] for path in source_files(raw, "credit_bureau") for row in csv_rows(path)}
    truth_bureau = pq.read_table(truth / "bureau_identity.parquet").column(0).to_pylist()
    assert bureau == set(truth_bureau)


def test_complaints_are_quoted_single_line_csv(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "raw", tmp_path / "truth", customers=1500, days=60)
    path = tmp_path / "raw" / manifest["sources"]["complaints"][INITIAL_BATCH]["files"][0]
    rows = csv_rows(path)
    assert len(rows) == len(path.read_text(encoding="utf-8").splitlines()) - 1 > 10
    assert all(len(row) == 6 for row in rows)
    texts = [row[4] for row in rows]
    assert any("," in text for text in texts)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts)
    assert any(text.isascii() for text in texts)
    assert {row[3] for row in rows} <= set(catalog.COMPLAINT_TEMPLATES)


def test_fuzzy_duplicates_are_the_same_person_at_another_branch(
    tiny: tuple[Path, Path, dict],
) -> None:
    raw, truth, _ = tiny
    person_of = {
        r["customer_src_id"]: r["person_id"]
        for r in pq.read_table(truth / "customer_identity.parquet").to_pylist()
    }
    records = defaultdict(list)
    for row in crm_rows(raw):
        records[person_of[row[0]]].append(row)
    twins = [rows for rows in records.values() if len({r[0] for r in rows}) > 1]
    assert twins
    for rows in twins:
        assert len({normalised_resident_id(r[5]) for r in rows}) == 1
        assert len({r[1] for r in rows}) > 1  # different branches


def test_delta_crm_has_address_changes_and_new_customers(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, _ = tiny
    person_of = {
        r["customer_src_id"]: r["person_id"]
        for r in pq.read_table(truth / "customer_identity.parquet").to_pylist()
    }
    initial = {row[0]: row for row in crm_rows(raw)}
    delta = crm_rows(raw, DELTA_BATCH)
    changed = [row for row in delta if row[0] in initial]
    new = [row for row in delta if row[0] not in initial]
    assert changed
    assert new
    assert all(row[8] != initial[row[0]][8] for row in changed)  # new address
    assert all(row[16] != initial[row[0]][16] for row in changed)  # new updated_at
    assert {person_of[row[0]] for row in new}.isdisjoint(person_of[i] for i in initial)


def fixed_width_fields(line: str) -> dict[str, str]:
    """The fields of a core_accounts line, by `CORE_ACCOUNTS_LAYOUT`."""
    fields, at = {}, 0
    for name, width in CORE_ACCOUNTS_LAYOUT:
        fields[name] = line[at : at + width]
        at += width
    return fields


def test_core_accounts_follow_the_fixed_width_layout(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, manifest = tiny
    known = {
        r["customer_src_id"] for r in pq.read_table(truth / "customer_identity.parquet").to_pylist()
    }
    assert CORE_ACCOUNTS_LAYOUT[-1] == ("snapshot_date", 8)
    last_day = manifest["end_date"].replace("-", "")
    snapshot_day = (date.fromisoformat(manifest["end_date"]) + timedelta(days=DELTA_DAYS)).strftime(
        "%Y%m%d"
    )
    for batch, days in ((INITIAL_BATCH, {last_day}), (DELTA_BATCH, {last_day, snapshot_day})):
        data = b"".join(path.read_bytes() for path in source_files(raw, "core_accounts", batch))
        assert data.isascii()
        assert b"\r" not in data
        lines = [line for line in data.decode("ascii").splitlines() if len(line) == LINE_WIDTH]
        assert lines
        for line in lines:
            fields = fixed_width_fields(line)
            assert fields["account_id"].strip().isdigit()
            assert fields["customer_src_id"].strip() in known
            assert fields["status"] in "ACD"
            assert fields["balance"].startswith(" ")  # right-aligned
            float(fields["balance"])
            assert not fields["credit_limit"].strip() or float(fields["credit_limit"]) > 0
            datetime.strptime(fields["snapshot_date"], "%Y%m%d")
        assert {fixed_width_fields(line)["snapshot_date"] for line in lines} == days
        if batch == INITIAL_BATCH:
            assert {line[36:39] for line in lines} > {"CNY"}


def test_delta_snapshots_hold_changes_and_redeliveries(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, manifest = tiny
    snapshot_day = date.fromisoformat(manifest["end_date"]) + timedelta(days=DELTA_DAYS)

    initial = {}
    for path in source_files(raw, "core_accounts"):
        initial |= {line[:16]: line for line in data_lines(path) if len(line) == LINE_WIDTH}
    changed, redelivered = [], []
    for path in source_files(raw, "core_accounts", DELTA_BATCH):
        for line in data_lines(path):
            assert len(line) == LINE_WIDTH  # the snapshot has no truncated lines
            fields = fixed_width_fields(line)
            if fields["snapshot_date"] == snapshot_day.strftime("%Y%m%d"):
                changed.append(fields)
            else:
                assert line in initial.values()  # byte-identical re-delivery
                redelivered.append(line)
    assert changed and redelivered
    assert len(changed) < 0.2 * len(initial)  # only the accounts that changed
    for fields in changed:
        before = fixed_width_fields(initial[fields["account_id"]])
        assert {
            k: v for k, v in fields.items() if k not in ("balance", "status", "snapshot_date")
        } == {k: v for k, v in before.items() if k not in ("balance", "status", "snapshot_date")}
        assert (fields["balance"], fields["status"]) != (before["balance"], before["status"])
        assert fields["status"] == before["status"] or before["status"] == "A"
        if fields["status"] == "C" and before["status"] != "C":
            assert float(fields["balance"]) == 0.0
        if fields["credit_limit"].strip():  # card debt stays within the limit
            assert -1.05 * float(fields["credit_limit"]) <= float(fields["balance"]) <= 0
    assert any(
        f["balance"] != fixed_width_fields(initial[f["account_id"]])["balance"] for f in changed
    )

    labels = {
        r["loan_id"]: r["defaulted_90dpd_12m"]
        for r in pq.read_table(truth / "loan_labels.parquet").to_pylist()
    }
    loans = {row[0]: row for path in source_files(raw, "loans") for row in csv_rows(path)}
    moved, copies = [], 0
    for path in source_files(raw, "loans", DELTA_BATCH):
        for row in csv_rows(path):
            if row[12] == snapshot_day.isoformat():
                moved.append(row)
            else:
                assert row == loans[row[0]]
                copies += 1
    assert moved and copies
    for row in moved:
        before = loans[row[0]]
        assert row[:9] == before[:9]
        assert row[9:12] != before[9:12]
        dpd, max_dpd, old_dpd, old_max = (
            int(row[10]),
            int(row[11]),
            int(before[10]),
            int(before[11]),
        )
        assert max_dpd >= max(dpd, old_max)
        assert (dpd == 0) == (row[9] == "current")
        assert (row[9] == "default") == (dpd >= 90)
        if labels[row[0]]:  # defaulters only get later
            assert dpd > old_dpd
        else:  # the others never reach 90 days, and a cure keeps the 12-month maximum
            assert max_dpd < 90
            assert dpd == 0 or dpd <= old_dpd + DELTA_DAYS


def test_time_fields_mix_the_documented_forms(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    card_times = [t["local_time"] for t in json_records(raw, "card_transactions")]
    assert any(isinstance(v, int) for v in card_times)
    assert any(isinstance(v, str) and v[4] == "/" for v in card_times)
    assert any(isinstance(v, str) and v[10] == "T" and v[-6] in "+-" for v in card_times)
    app_times = [e["ts"] for e in json_records(raw, "app_events")]
    assert any(isinstance(v, int) for v in app_times)
    assert any(isinstance(v, str) and v.endswith("+08:00") for v in app_times)


def test_files_have_the_published_columns(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    headers = {
        "crm_customers": CRM_COLUMNS,
        "complaints": COMPLAINT_COLUMNS,
        "credit_bureau": BUREAU_COLUMNS,
        "loans": LOAN_COLUMNS,
        "fx_rates": FX_COLUMNS,
        "products": PRODUCT_COLUMNS,
    }
    for source, columns in headers.items():
        for path in source_files(raw, source) + source_files(raw, source, DELTA_BATCH):
            encoding = "gbk" if path.name.endswith(".gbk.csv") else "utf-8"
            assert path.read_bytes().decode(encoding).split("\n", 1)[0] == ",".join(columns)
    assert {tuple(t) for t in json_records(raw, "card_transactions")} == {CARD_COLUMNS}
    assert {tuple(t) for t in json_records(raw, "card_transactions", DELTA_BATCH)} == {
        CARD_DELTA_COLUMNS
    }
    assert {tuple(e) for e in json_records(raw, "app_events")} == {APP_EVENT_COLUMNS}
    for path in source_files(raw, "transfers"):
        assert pq.read_schema(path).remove_metadata() == TRANSFER_SCHEMA


def test_gbk_branch_file_is_gbk_not_utf8(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    gbk_files = [p for p in source_files(raw, "crm_customers") if p.name.endswith(".gbk.csv")]
    assert gbk_files
    for path in gbk_files:
        data = path.read_bytes()
        text = data.decode("gbk")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert all(row[1] == "GZ" for row in csv_rows(path) if len(row) > 1)


def test_delta_card_lines_carry_the_drifted_field(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    delta = json_records(raw, "card_transactions", DELTA_BATCH)
    assert delta
    assert all("wallet_provider" in t for t in delta)
    assert not any("wallet_provider" in t for t in json_records(raw, "card_transactions"))


def test_codes_come_from_the_reference_sources(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, _ = tiny
    products = {row[0] for row in csv_rows(source_files(raw, "products")[0])}
    account_products = set()
    for path in source_files(raw, "core_accounts"):
        for line in path.read_text(encoding="ascii").splitlines():
            if len(line) == LINE_WIDTH:
                account_products.add(line[28:36].strip())
    loans = {row[3] for path in source_files(raw, "loans") for row in csv_rows(path)}
    viewed = {e["product_code"] for e in json_records(raw, "app_events")} - {None}
    assert account_products | loans | viewed <= products
    fx = {row[1] for row in csv_rows(source_files(raw, "fx_rates")[0])}
    spent = {t["currency"] for t in json_records(raw, "card_transactions")}
    assert {c for c in spent if c.isupper() and c not in ("RMB", "XXX")} <= fx | {"CNY"}


def test_fx_gaps_are_recorded_in_the_notes(tiny: tuple[Path, Path, dict]) -> None:
    raw, _, manifest = tiny
    missing = manifest["notes"]["fx_rates_missing"]
    rows = csv_rows(source_files(raw, "fx_rates")[0])
    dates = {row[0] for row in rows}
    assert len(dates) == TINY["days"] + 3
    have = {row[0] for row in rows if row[1] == missing["currency"]}
    assert sorted(dates - have) == missing["dates"]


def test_labels_agree_with_observed_arrears(tiny: tuple[Path, Path, dict]) -> None:
    raw, truth, _ = tiny
    labels = {
        r["loan_id"]: r["defaulted_90dpd_12m"]
        for r in pq.read_table(truth / "loan_labels.parquet").to_pylist()
    }
    loans = [row for path in source_files(raw, "loans") for row in csv_rows(path)]
    assert {row[0] for row in loans} == set(labels)
    delta = [row for path in source_files(raw, "loans", DELTA_BATCH) for row in csv_rows(path)]
    assert all(labels[row[0]] for row in loans + delta if int(row[11]) >= 90)


def test_vocabulary_is_gbk_encodable() -> None:
    texts = [p.hanzi for p in names.SURNAMES + names.GIVEN_MALE + names.GIVEN_FEMALE]
    texts += [c.cn + c.province + "".join(d.cn for d in c.districts) for c in names.CITIES]
    texts += [cn for cn, _ in names.ROADS] + ["号號栋室\u3000年月日男女"]
    for brands, _ in catalog.MERCHANT_BRANDS.values():
        texts += brands
    "".join(texts).encode("gbk")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"customers": 9}, "customers"),
        ({"days": 6}, "days"),
        ({"start_date": "2025-13-01"}, "start_date"),
        ({"start_date": "01/01/2025"}, "start_date"),
        ({"start_date": "2025-1-1"}, "start_date"),
        ({"chunk_customers": 5}, "chunk_customers"),
        ({"workers": 0}, "workers"),
        ({"customers": 100.5}, "customers"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "raw", tmp_path / "truth", **{"customers": 50, "days": 7} | arguments)
    assert not (tmp_path / "raw").exists()


def test_a_one_customer_last_chunk_works(tmp_path: Path) -> None:
    manifest = generate(
        tmp_path / "raw", tmp_path / "truth", customers=21, days=7, chunk_customers=10
    )
    assert len(manifest["sources"]["transfers"][INITIAL_BATCH]["files"]) == 3
    assert manifest["truth"]["persons"] == 21 + 3  # plus one new b0002 customer per chunk


def test_truth_inside_raw_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="truth_dir"):
        generate(tmp_path / "raw", tmp_path / "raw" / "truth", customers=50, days=7)
