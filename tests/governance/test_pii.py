from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from fin360 import Fin360Error
from fin360.governance import pii


@pytest.mark.parametrize("key", [b"k" * 20, b"a-much-longer-secret-key-" * 4])
def test_hmac_token_is_rfc2104_hmac_sha256(spark, key):
    values = ["110101198503021234", "+8613812345678", "王芳", None]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(pii.hmac_token(F.col("v"), key)).collect()]
    expected = [
        hmac.new(key, v.encode(), hashlib.sha256).hexdigest() if v is not None else None
        for v in values
    ]
    assert got == expected


def test_masks(spark):
    df = spark.createDataFrame(
        [("张伟", "+8613812345678", "Zhang.Wei@example.com", "110101198503021234"),
         ("James Smith", "+8615900001111", "j@x.cn", "11010119850302123X")],
        "name string, phone string, email string, rid string",
    )  # fmt: skip
    rows = df.select(
        pii.mask_name(F.col("name")),
        pii.mask_phone(F.col("phone")),
        pii.mask_email(F.col("email")),
        pii.mask_resident_id(F.col("rid")),
    ).collect()
    assert [tuple(r) for r in rows] == [
        ("张*", "138****5678", "Z***@example.com", "110101********1234"),
        ("J**** S****", "159****1111", "j***@x.cn", "110101********123X"),
    ]


def test_missing_key_is_one_clear_error(monkeypatch):
    monkeypatch.delenv(pii.PII_KEY_ENV, raising=False)
    with pytest.raises(Fin360Error, match="FIN360_PII_KEY is not set"):
        pii.pii_key()
    monkeypatch.setenv(pii.PII_KEY_ENV, "short")
    with pytest.raises(Fin360Error, match="shorter than 16"):
        pii.pii_key()
