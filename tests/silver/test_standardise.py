from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import functions as F

from fin360 import canonical
from fin360.config import load_config, load_sources
from fin360.silver import mapping
from fin360.silver import standardise as s


def _one(spark, fn, values, dtype="string"):
    df = spark.createDataFrame([(v,) for v in values], f"v {dtype}")
    return [r[0] for r in df.select(fn(F.col("v"))).collect()]


def _standard_formats(source: str, entity: str, column: str) -> tuple[str, ...]:
    """The date formats the standard layout's sources file gives a column."""
    spec = load_sources(load_config("test"))[source]
    return mapping._parse_column(
        "t", canonical.entity(entity), column, spec.entities[entity][column]
    ).formats


def _times(kind: str, formats: tuple[str, ...]):
    m = mapping.ColumnMapping("v", formats=formats)
    return lambda c: mapping._parse_time(s.clean_text(c), kind, m, "Asia/Shanghai")


def test_dates_in_every_delivered_layout(spark):
    formats = _standard_formats("crm_customers", "customer", "birth_date")
    got = _one(
        spark,
        _times("date", formats),
        ["1985-03-02", "02/03/1985", "19850302", "1985年3月2日", "１９８５-03-02", "n/a", None],
    )
    assert got == [date(1985, 3, 2)] * 5 + [None, None]


def test_local_timestamps_are_converted_to_utc(spark):
    formats = _standard_formats("crm_customers", "customer", "updated_at")
    got = _one(
        spark,
        _times("timestamp", formats),
        [
            "2024-11-03 10:22:00",
            "2024-11-03T10:22:00",
            "03/11/2024 10:22",
            "2024年11月3日 10:22",
            "20241103",
        ],
    )
    assert got == [datetime(2024, 11, 3, 2, 22)] * 4 + [datetime(2024, 11, 2, 16, 0)]


def test_event_timestamps_with_offsets_epochs_and_local_times(spark):
    formats = _standard_formats("card_transactions", "transaction", "event_ts")
    got = _one(
        spark,
        _times("timestamp", formats),
        [
            "2025-03-01T21:14:05+08:00",
            "2025-03-01T08:14:05-05:00",
            "1740834845000",
            "2025/03/01 21:14:05",
            "garbage",
        ],
    )
    assert got == [datetime(2025, 3, 1, 13, 14, 5)] * 4 + [None]


def test_phones_emails_resident_ids(spark):
    phones = [
        "13812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "１３８１２３４５６７８",
        "12345",
    ]
    assert _one(spark, s.phone_e164, phones) == ["+8613812345678"] * 5 + [None]
    assert _one(spark, s.email_clean, [" Zhang.Wei@Example.COM ", "not-an-email"]) == [
        "zhang.wei@example.com",
        None,
    ]
    ids = ["110101 19850302 123x", "１１０１０１１９８５０３０２１２３Ｘ", "11010119850302"]
    assert _one(spark, s.resident_id_clean, ids) == [
        "11010119850302123X",
        "11010119850302123X",
        None,
    ]


def test_text_amounts_currencies_flags(spark):
    assert _one(spark, s.clean_text, ["  王　芳  ", "ＡＢＣ１２３", "   "]) == [
        "王 芳",
        "ABC123",
        None,
    ]
    assert _one(spark, s.number_text, ["1,200,000", "12.345", "1.5E3", "abc"]) == [
        "1200000", "12.345", "1.5E3", None
    ]  # fmt: skip
    assert _one(spark, lambda c: s.number_text(c, ","), ["1.234,50", "-12,5", "1 000"]) == [
        "1234.50", "-12.5", "1000"
    ]  # fmt: skip
    assert _one(spark, s.currency_code, ["RMB", "usd ", "XXX"]) == ["CNY", "USD", "XXX"]
    assert _one(spark, s.flag, ["Y", "y", "1", "N", "0", "", None]) == [
        True,
        True,
        True,
        False,
        False,
        None,
        None,
    ]
