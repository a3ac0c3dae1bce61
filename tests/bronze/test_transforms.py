from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from fin360.bronze.transforms import (
    landed_records,
    quarantined_records,
    with_ingest_metadata,
    with_reject_reason,
)

RAW_SCHEMA = "id string, amount string, _source_file string, _raw string, _parse_error string"
TS = datetime(2026, 1, 2, 3, 4, 5)


def _raw(spark):
    return spark.createDataFrame(
        [
            ("t1", "10.5", "f1", None, None),
            ("t2", " ", "f1", None, None),
            (None, None, "f2", "{bad", "invalid JSON: not a complete JSON object"),
            ("", None, "f2", None, None),
        ],
        RAW_SCHEMA,
    )


def test_reject_reason_names_parse_errors_bad_text_and_blank_required_fields(spark):
    bad_text = spark.createDataFrame(
        [
            ("t5", "1\ufffd0", "f3", None, None),  # what a decoder makes of bytes it cannot read
            ("t6", "123456789", "f3", None, None),
        ],
        RAW_SCHEMA,
    )
    out = (
        _raw(spark)
        .unionByName(bad_text)
        .transform(with_reject_reason(["id", "amount"], ["id", "amount"], 8))
        .select("id", "_reject_reason")
    )
    expected = spark.createDataFrame(
        [
            ("t1", None),
            ("t2", "missing required field(s): amount"),
            (None, "invalid JSON: not a complete JSON object"),
            ("", "missing required field(s): id, amount"),
            ("t5", "undecodable text: bytes not valid in the source's encoding"),
            ("t6", "field(s) longer than 8 characters: amount"),
        ],
        "id string, _reject_reason string",
    )
    assert_df_equality(out, expected, ignore_nullable=True)


def test_split_is_a_partition_with_metadata_and_stable_hash(spark):
    checked = (
        _raw(spark)
        .transform(with_reject_reason(["id", "amount"], ["id", "amount"], 100))
        .transform(with_ingest_metadata("b0001", TS, ["id", "amount"]))
    )
    landed = checked.transform(landed_records(["id", "amount"]))
    assert landed.columns == [
        "id",
        "amount",
        "_ingest_ts",
        "_source_file",
        "_batch_id",
        "_record_hash",
    ]
    expected_hash = (
        spark.range(1).select(F.sha2(F.lit('{"id":"t1","amount":"10.5"}'), 256)).first()[0]
    )
    expected = spark.createDataFrame(
        [("t1", "10.5", TS, "f1", "b0001", expected_hash)],
        "id string, amount string, _ingest_ts timestamp, _source_file string, "
        "_batch_id string, _record_hash string",
    )
    assert_df_equality(landed, expected, ignore_nullable=True)

    quarantined = checked.transform(quarantined_records("card_transactions", ["id", "amount"]))
    rows = quarantined.select("source", "raw", "reason").orderBy("raw").collect()
    assert [tuple(r) for r in rows] == [
        ("card_transactions", '{"id":""}', "missing required field(s): id, amount"),
        ("card_transactions", '{"id":"t2","amount":" "}', "missing required field(s): amount"),
        ("card_transactions", "{bad", "invalid JSON: not a complete JSON object"),
    ]
    assert landed.count() + quarantined.count() == _raw(spark).count()
