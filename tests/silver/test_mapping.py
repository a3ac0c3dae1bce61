"""Source -> canonical mappings: parsing and checking at start, and the typed values they give."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from fin360.config import ColumnSpec, ConfigError, SourceSpec, _parse_source
from fin360.silver import mapping

LINEAGE = "_batch_id string, _record_hash string, _ingest_ts timestamp"


def _spec(columns: list[str], entities: dict, **kw) -> SourceSpec:
    return SourceSpec(
        name="core2",
        format="csv",
        path="core2",
        columns=tuple(ColumnSpec(c) for c in columns),
        entities=entities,
        origin="banks/x/sources.yml",
        **kw,
    )


def _map(spark, spec: SourceSpec, rows: list[tuple], entity: str):
    (m,) = [m for m in mapping.parse_source(spark, spec) if m.entity.name == entity]
    schema = ", ".join(f"{c} string" for c in spec.column_names) + ", " + LINEAGE
    df = spark.createDataFrame([(*r, "b1", f"h{i}", None) for i, r in enumerate(rows)], schema)
    return df.transform(mapping.mapped(m, "Asia/Shanghai", DATES))


DATES = (date(1900, 1, 1), date(2100, 12, 31))  # conf/base.yml's silver.dates
ACCOUNT = {
    "account_id": "acct",
    "product_code": "prod",
    "currency": "ccy",
    "open_date": {"column": "opened", "format": "yyMMdd", "century_window": 1950},
    "status": {"column": "st", "values": {"O": "active", "S": "closed", "R": "dormant"}},
    "balance": "bal",
    "snapshot_date": {"column": "snap", "format": ["dd.MM.yyyy", "yyyy-MM-dd"]},
}
ACCOUNT_COLUMNS = ["acct", "prod", "ccy", "opened", "st", "bal", "snap"]


def test_account_values_are_typed_mapped_and_flagged(spark):
    spec = _spec(ACCOUNT_COLUMNS, {"account": ACCOUNT}, options={"decimal": ","})
    got = _map(
        spark,
        spec,
        [
            ("A1", "SAV01", "cny", "850315", "O", "-1.234,50", "30.06.2025"),
            ("A2", "CUR01", "RMB", "250101", "Z", "12,5", "2025-06-30"),
            ("A3", "CUR01", "USD", "000000", "S", "", "31.13.2025"),
            ("A4", "CUR01", "CNY", "010101", "O", "1", "31.12.9999"),  # placeholders, not dates
            ("A5", "CUR01", "CNY", "010101", "O", "1", "01.01.0001"),
        ],
        "account",
    ).select(
        "account_id", "currency", "open_date", "status", "balance", "snapshot_date", "_dq_failures",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("A1", "CNY", date(1985, 3, 15), "active", Decimal("-1234.50"), date(2025, 6, 30), []),
            ("A2", "CNY", date(2025, 1, 1), None, Decimal("12.50"), date(2025, 6, 30), ["unmapped_value:status"]),
            ("A3", "USD", None, "closed", None, None, ["unparseable_date:open_date", "unparseable_date:snapshot_date"]),
            ("A4", "CNY", date(2001, 1, 1), "active", Decimal("1.00"), date(9999, 12, 31), ["implausible_date:snapshot_date"]),
            ("A5", "CNY", date(2001, 1, 1), "active", Decimal("1.00"), date(1, 1, 1), ["implausible_date:snapshot_date"]),
        ],
        "account_id string, currency string, open_date date, status string, balance decimal(18,2), "
        "snapshot_date date, _dq_failures array<string>",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_nullable=True)


def test_birth_date_and_gender_derived_from_the_resident_id(spark):
    customer = {
        "customer_src_id": "no",
        "resident_id": "idn",
        "birth_date": {"expr": "substring(idn, 7, 8)", "format": "yyyyMMdd"},
        "gender": {"expr": "element_at(array('F', 'M'), pmod(int(substring(idn, 17, 1)), 2) + 1)"},
        "updated_at": {"column": "changed", "format": "dd.MM.yyyy HH:mm:ss"},
        "marketing_consent": {"column": "mkt", "values": {"J": True, "N": False}},
        "annual_income": {"column": "inc", "decimal": ","},
    }
    spec = _spec(["no", "idn", "changed", "mkt", "inc"], {"customer": customer})
    got = _map(
        spark,
        spec,
        [
            ("K1", "110101198503021234", "03.11.2024 10:22:00", "J", "85000,00"),
            ("K2", "44030019991231002X", "03.11.2024 10:22:00", "N", None),
            ("K3", None, "3.11.24", "J", "1"),
        ],
        "customer",
    ).select(
        "customer_src_id", "birth_date", "gender", "updated_at", "marketing_consent",
        "annual_income", "_dq_failures",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            # 17th digit 3: odd, male; 2: even, female; Shanghai 10:22 is 02:22 UTC
            ("K1", date(1985, 3, 2), "M", datetime(2024, 11, 3, 2, 22), True, Decimal("85000.00"), []),
            ("K2", date(1999, 12, 31), "F", datetime(2024, 11, 3, 2, 22), False, None, []),
            ("K3", None, None, None, True, Decimal("1.00"), ["unparseable_date:updated_at"]),
        ],
        "customer_src_id string, birth_date date, gender string, updated_at timestamp, "
        "marketing_consent boolean, annual_income decimal(18,2), _dq_failures array<string>",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_nullable=True)


def test_epoch_seconds_zoned_times_constants_and_defaults(spark):
    txn = {
        "txn_id": "ref",
        "txn_type": {"const": "card"},
        "account_id": "acct",
        "direction": {"const": "debit"},
        "event_ts": {"column": "booked", "format": ["yyyy-MM-dd'T'HH:mm:ssXXX", "epoch_seconds"]},
        "amount": "amt",
        "currency": {"column": "ccy", "default": "HKD"},
        "channel": {
            "column": "ch",
            "values": {"P": "POS"},
            "unmapped": "default",
            "default": "OTHER",
        },
    }
    spec = _spec(["ref", "acct", "booked", "amt", "ccy", "ch"], {"transaction": txn})
    got = _map(
        spark,
        spec,
        [
            ("T1", "A1", "1740834845", "10.00", None, "P"),
            ("T2", "A1", "2025-03-01T21:14:05+08:00", "1,000.00", "usd", "X"),
            ("T3", "A1", "20250301", "7", "CNY", None),
            ("T4", "A1", "1740834845", "NaN", "CNY", "P"),
            ("T5", "A1", "1740834845", "1e30", "CNY", "P"),  # beyond decimal(18,2)
            ("T6", "A1", "1740834845", "-0.01", "CNY", "P"),  # negative: the rules' business
        ],
        "transaction",
    ).select(
        "txn_id",
        "txn_type",
        "direction",
        "event_ts",
        "amount",
        "currency",
        "channel",
        "_dq_failures",
    )
    expected = spark.createDataFrame(
        [
            ("T1", "card", "debit", datetime(2025, 3, 1, 13, 14, 5), Decimal("10.00"), "HKD", "POS", []),
            ("T2", "card", "debit", datetime(2025, 3, 1, 13, 14, 5), Decimal("1000.00"), "USD", "OTHER", []),
            # eight digits are never taken for epoch seconds: unparseable; a missing channel
            # gets the default
            ("T3", "card", "debit", None, Decimal("7.00"), "CNY", "OTHER", ["unparseable_date:event_ts"]),
            ("T4", "card", "debit", datetime(2025, 3, 1, 13, 14, 5), None, "CNY", "POS", ["invalid_number:amount"]),
            ("T5", "card", "debit", datetime(2025, 3, 1, 13, 14, 5), None, "CNY", "POS", ["invalid_number:amount"]),
            ("T6", "card", "debit", datetime(2025, 3, 1, 13, 14, 5), Decimal("-0.01"), "CNY", "POS", []),
        ],
        "txn_id string, txn_type string, direction string, event_ts timestamp, amount decimal(18,2), "
        "currency string, channel string, _dq_failures array<string>",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_nullable=True)


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        ({"acount": {}}, "entity 'acount': unknown entity (did you mean 'account'?)"),
        ({"account": {**ACCOUNT, "balance": "balance"}}, "column 'balance': unknown source column 'balance' (did you mean 'bal'?)"),
        ({"account": {**ACCOUNT, "balance": {"expr": "bal +* 1"}}}, "column 'balance': invalid expression 'bal +* 1'"),
        ({"account": {**ACCOUNT, "balance": {"expr": "nosuch * 100"}}}, "column 'balance': invalid expression 'nosuch * 100'"),
        ({"account": {**ACCOUNT, "balance": {"column": "bal", "type": "int"}}}, "wrong type 'int': canonical account.balance is amount"),
        ({"account": {k: v for k, v in ACCOUNT.items() if k != "product_code"}}, "required canonical column(s) ['product_code'] not mapped"),
        ({"account": {**ACCOUNT, "open_date": {"column": "opened", "format": "yyMMdd"}}}, "two-digit year: set 'century_window'"),
        ({"account": {**ACCOUNT, "balanse": "bal"}}, "'balanse' is not a column of account (did you mean 'balance'?)"),
        ({"account": {**ACCOUNT, "balance": {"column": "bal", "expr": "bal"}}}, "needs exactly one of 'column', 'expr' or 'const'"),
    ],
)  # fmt: skip
def test_bad_mappings_fail_at_start_naming_file_source_and_key(spark, entities, message):
    with pytest.raises(ConfigError, match="^banks/x/sources.yml: source 'core2' entity") as err:
        mapping.parse_source(spark, _spec(ACCOUNT_COLUMNS, entities))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimeter": ";"}, "unknown csv option 'delimeter' (did you mean 'delimiter'?)"),
        ({"header": "no"}, "option 'header' must be bool, got 'no'"),
        ({"delimiter": ";;"}, "option 'delimiter' must be one character"),
    ],
)
def test_bad_reader_options_name_the_file_and_key(options, message):
    raw = {"format": "csv", "options": options, "columns": ["a"]}
    with pytest.raises(ConfigError, match="^f.yml: source 's'") as err:
        _parse_source("s", raw, "f.yml")
    assert message in str(err.value)
