"""Each reader on small hand-written files: what lands, what is malformed, drift, encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from fin360 import Fin360Error, lake
from fin360.bronze.readers import encoding_groups, read_batch
from fin360.config import ColumnSpec, SourceSpec


def spec(fmt: str, *names: str, **kw) -> SourceSpec:
    widths = kw.pop("widths", None)
    columns = tuple(
        ColumnSpec(n, required=(i == 0), width=widths[i] if widths else None)
        for i, n in enumerate(names)
    )
    return SourceSpec(name="s", format=fmt, path="s", columns=columns, **kw)


def read(spark, source: SourceSpec, folder: Path):
    batch = read_batch(spark, source, lake.list_dir(spark, str(folder)))
    rows = batch.df.drop("_source_file").orderBy("_raw", *batch.columns).collect()
    return batch.columns, [r.asDict() for r in rows]


def test_csv_keeps_values_as_text_and_flags_wrong_field_counts(spark, tmp_path):
    (tmp_path / "a.csv").write_text(
        'id,name,income\n1,"Smith, J","1,200"\n2,Li\n3,王芳,10,extra\n', encoding="utf-8"
    )
    columns, rows = read(spark, spec("csv", "id", "name", "income"), tmp_path)
    assert columns == ["id", "name", "income"]
    assert rows[0] == {
        "id": "1",
        "name": "Smith, J",
        "income": "1,200",
        "_raw": None,
        "_parse_error": None,
    }
    malformed = {r["_raw"]: r["_parse_error"] for r in rows if r["_parse_error"]}
    assert set(malformed) == {"2,Li", "3,王芳,10,extra"}
    assert all("not 3 fields" in e for e in malformed.values())


def test_csv_files_are_decoded_by_their_encoding(spark, tmp_path):
    (tmp_path / "part-0.csv").write_text("id,name\n1,王芳\n", encoding="utf-8")
    (tmp_path / "part-1-gz.gbk.csv").write_bytes("id,name\n2,李建国\n".encode("gbk"))
    source = spec("csv", "id", "name", encodings={"*.gbk.csv": "GBK"})
    assert encoding_groups(source, ["x/part-0.csv", "x/part-1-gz.gbk.csv"]) == {
        "UTF-8": ["x/part-0.csv"],
        "GBK": ["x/part-1-gz.gbk.csv"],
    }
    _, rows = read(spark, source, tmp_path)
    assert [(r["id"], r["name"]) for r in rows] == [("1", "王芳"), ("2", "李建国")]


def test_csv_new_column_is_drift_not_an_error(spark, tmp_path):
    (tmp_path / "a.csv").write_text("id,name,tier\n1,Li,gold\n", encoding="utf-8")
    columns, rows = read(spark, spec("csv", "id", "name"), tmp_path)
    assert columns == ["id", "name", "tier"]
    assert rows[0]["tier"] == "gold"


def test_json_lines_fields_as_text_invalid_lines_kept_raw(spark, tmp_path):
    (tmp_path / "a.json").write_text(
        '{"txn_id":"t1","amount":12.50,"geo":{"lat":1}}\n'
        '{"txn_id":"t2","amount":3,"wallet":"alipay"}\n'
        '{"txn_id":"t3","amou\n',
        encoding="utf-8",
    )
    columns, rows = read(spark, spec("json", "txn_id", "amount"), tmp_path)
    assert columns == ["txn_id", "amount", "geo", "wallet"]  # declared first, drift sorted
    by_id = {r["txn_id"]: r for r in rows}
    assert by_id["t1"]["amount"] == "12.5"  # numbers as the JSON parser renders them
    assert by_id["t1"]["geo"] == '{"lat":1}'
    assert by_id["t2"]["wallet"] == "alipay"
    bad = [r for r in rows if r["_parse_error"]]
    assert [(b["_raw"], b["_parse_error"]) for b in bad] == [
        ('{"txn_id":"t3","amou', "invalid JSON: not a complete JSON object")
    ]


def test_fixed_width_slices_trims_and_checks_line_length(spark, tmp_path):
    (tmp_path / "a.txt").write_text(
        "AC1  C9    12.50\nAC2  C8   \nAC3  C7     1.00\n", encoding="utf-8"
    )
    source = spec("fixed_width", "account", "customer", "balance", widths=[5, 5, 6])
    _, rows = read(spark, source, tmp_path)
    good = [(r["account"], r["customer"], r["balance"]) for r in rows if not r["_parse_error"]]
    assert good == [("AC1", "C9", "12.50"), ("AC3", "C7", "1.00")]
    bad = [r["_parse_error"] for r in rows if r["_parse_error"]]
    assert bad == ["fixed-width line of length 10, expected 16"]


def test_parquet_keeps_its_types(spark, tmp_path):
    spark.createDataFrame([("x1", 10.5)], "transfer_id string, amount double").write.parquet(
        str(tmp_path / "p")
    )
    columns, rows = read(spark, spec("parquet", "transfer_id", "amount"), tmp_path / "p")
    assert columns == ["transfer_id", "amount"]
    assert rows[0]["amount"] == 10.5


def test_empty_batch_and_non_utf8_text_formats_are_clear_errors(spark, tmp_path):
    with pytest.raises(Fin360Error, match="batch has no data files"):
        read_batch(spark, spec("csv", "id"), [])
    (tmp_path / "a.json").write_text("{}\n")
    with pytest.raises(Fin360Error, match="supported for csv only"):
        read(spark, spec("json", "id", encoding="GBK"), tmp_path)
