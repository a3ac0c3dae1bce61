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
        r["customer_src_id"]: r for r in entity.resolve(records, entity.MatchThresholds()).collect()
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
        for r in entity.resolve(records, entity.MatchThresholds()).collect()
    }
    assert again == ids


def test_fuzzy_links_merge_transitively(spark):
    """C1~C2 by phone, C2~C3 by email, C3~C4 by address: one person, though C1 and C4 share
    nothing (connected components of the pair graph); C5 shares C1's phone, not the name."""
    d = date(1979, 11, 5)
    records = spark.createDataFrame(
        [
            ("C1", None, d, "陈静", "+8613900000001", None, "北京朝阳路1号"),
            ("C2", None, d, "陈静", "+8613900000001", "cj@x.cn", "天津和平路9号"),
            ("C3", None, d, "陈静", None, "cj@x.cn", "广州天河路7号"),
            ("C4", None, d, "陈静", None, None, "广州天河路7号"),
            ("C5", None, d, "赵磊", "+8613900000001", None, "北京朝阳路1号"),
        ],
        SCHEMA,
    )
    got = {
        r["customer_src_id"]: r["customer_id"]
        for r in entity.resolve(records, entity.MatchThresholds()).collect()
    }
    assert got["C1"] == got["C2"] == got["C3"] == got["C4"] != got["C5"]


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
