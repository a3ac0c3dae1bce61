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


def test_json_lines_are_parsed_once_per_line_not_once_per_field(spark, tmp_path):
    (tmp_path / "a.json").write_text('{"a":"1","b":"2","c":"3"}\n', encoding="utf-8")
    batch = read_batch(spark, spec("json", "a", "b", "c"), lake.list_dir(spark, str(tmp_path)))
    plan = batch.df._jdf.queryExecution().optimizedPlan().toString()
    # one expression with the whole schema, which code generation evaluates once per line;
    # not one pruned to a single field per column, each parsing the line again
    whole = "from_json(" + ", ".join(f"StructField({c},StringType,true)" for c in "abc") + ", value"
    assert plan.count("from_json(") == plan.count(whole) > 0


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


def test_empty_batch_and_encoded_parquet_are_clear_errors(spark):
    with pytest.raises(Fin360Error, match="batch has no data files"):
        read_batch(spark, spec("csv", "id"), [])
    with pytest.raises(Fin360Error, match="Parquet files carry no text encoding"):
        read_batch(
            spark, spec("parquet", "id", encoding="GBK"), [lake.FileEntry("p", "p", 1, False)]
        )


def test_json_lines_and_fixed_width_in_another_encoding(spark, tmp_path):
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.json").write_bytes('{"id":"1","name":"王芳"}\n'.encode("gbk"))
    _, rows = read(spark, spec("json", "id", "name", encoding="GBK"), tmp_path / "j")
    assert [(r["id"], r["name"]) for r in rows] == [("1", "王芳")]
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.txt").write_bytes("AC1李建国\n".encode("gbk"))
    source = spec("fixed_width", "account", "name", widths=[3, 3], encoding="GBK")
    _, rows = read(spark, source, tmp_path / "f")
    assert [(r["account"], r["name"], r["_parse_error"]) for r in rows] == [("AC1", "李建国", None)]


def test_csv_dialect_from_options(spark, tmp_path):
    (tmp_path / "a.csv").write_text(
        "Export of 2025-06-30\n"
        "# generated by core v7\n"
        "id;name;amount\n"
        '1;"Li; Wei";1.234,50\n'
        "2;N/A;-\n"
        '3;"two\nlines";7\n',
        encoding="utf-8",
    )
    options = {"delimiter": ";", "skip_lines": 1, "comment": "#", "null_values": ["N/A", "-"],
               "multiline": True}  # fmt: skip
    columns, rows = read(spark, spec("csv", "id", "name", "amount", options=options), tmp_path)
    assert columns == ["id", "name", "amount"]
    assert [(r["id"], r["name"], r["amount"], r["_parse_error"]) for r in rows] == [
        ("1", "Li; Wei", "1.234,50", None),
        ("2", None, None, None),
        ("3", "two\nlines", "7", None),
    ]


def test_headerless_and_compressed_csv(spark, tmp_path):
    import bz2
    import gzip

    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"A1;O;10,5\nA2;S;3\n"))
    (tmp_path / "b.csv.bz2").write_bytes(bz2.compress(b"A3;R;0\n"))
    options = {"delimiter": ";", "header": False}
    source = spec("csv", "account", "status", "balance", options=options)
    columns, rows = read(spark, source, tmp_path)
    assert columns == ["account", "status", "balance"]
    assert [(r["account"], r["status"], r["balance"]) for r in rows] == [
        ("A1", "O", "10,5"),
        ("A2", "S", "3"),
        ("A3", "R", "0"),
    ]


def test_comment_line_before_the_header_of_a_gzip_file(spark, tmp_path):
    import gzip

    text = "# harbour core export v7\nno;name\nK1;Li\n"
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(text.encode()))
    source = spec("csv", "no", "name", options={"delimiter": ";", "comment": "#"})
    columns, rows = read(spark, source, tmp_path)
    assert columns == ["no", "name"]
    assert [(r["no"], r["name"], r["_parse_error"]) for r in rows] == [("K1", "Li", None)]
