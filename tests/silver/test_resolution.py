from __future__ import annotations

from datetime import date

from fin360 import eval as grading
from fin360.silver import resolution as entity

SCHEMA = "customer_src_id string, resident_id string, birth_date date, name_key string, phone string, email string, address string"


def test_resident_id_then_fuzzy_then_distinct_people(spark):
    d1, d2 = date(1985, 3, 2), date(1990, 7, 1)
    records = spark.createDataFrame(
        [
            ("C1", "11010119850302123X", d1, "王芳", "+8613800000001", None, "上海市浦东新区1号"),
            (
                "C2",
                "11010119850302123X",
                d1,
                "王芳",
                "+8613800000009",
                None,
                "上海浦东新区1号",
            ),  # same ID
            ("C3", None, d1, "王芳", "+8613800000001", None, "x"),  # no ID: fuzzy via phone
            ("C4", None, d1, "李强", "+8613800000001", None, "x"),  # same phone, other name
            ("C5", "11010119900701001X", d2, "jamessmith", None, "j@x.cn", "1 high st"),
            ("C6", None, d2, "jamessmyth", None, None, "1 high st."),  # fuzzy via address
        ],
        SCHEMA,
    )
    out = {
        r["customer_src_id"]: r
        for r in entity.resolve(spark, records, entity.MatchThresholds()).collect()
    }
    ids = {k: v["customer_id"] for k, v in out.items()}
    assert ids["C1"] == ids["C2"] == ids["C3"]
    assert ids["C4"] != ids["C1"]
    assert ids["C5"] == ids["C6"]
    assert len(set(ids.values())) == 3
    assert (out["C1"]["match_rule"], out["C3"]["match_rule"], out["C4"]["match_rule"]) == (
        "resident_id",
        "fuzzy",
        "single_record",
    )
    assert out["C4"]["confidence"] == 1.0 and 0.85 <= out["C6"]["confidence"] < 1.0
    # the master id follows the smallest source id of the cluster, so it is stable
    again = {
        r["customer_src_id"]: r["customer_id"]
        for r in entity.resolve(spark, records, entity.MatchThresholds()).collect()
    }
    assert again == ids


def test_pairwise_precision_recall(spark):
    predicted = spark.createDataFrame(
        [("a", 1), ("b", 1), ("c", 1), ("d", 2)], "record string, cluster int"
    )
    truth = spark.createDataFrame(
        [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")], "record string, entity string"
    )
    got = grading.pairwise_precision_recall(predicted, truth)
    # predicted pairs ab ac bc; true pairs ab cd; correct: ab
    assert (got["precision"], got["recall"]) == (1 / 3, 1 / 2)
