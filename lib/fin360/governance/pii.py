"""Pseudonymisation and masking of PII, in Spark built-ins (no Python UDF).

Tokens are keyed HMAC-SHA256 of a normalised value, hex-encoded: deterministic for one key, so
tokenised join keys (resident ID, phone, email) still join across sources, and worthless
without the key. The key comes from the ``FIN360_PII_KEY`` environment variable only.
HMAC is built from ``sha2`` over binary input (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)).
"""

from __future__ import annotations

import hashlib
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

from fin360 import Fin360Error

PII_KEY_ENV = "FIN360_PII_KEY"
MIN_KEY_LENGTH = 16
_BLOCK = 64  # SHA-256 block size in bytes


def pii_key() -> bytes:
    """The pseudonymisation key, from the environment; a clear error when it is missing."""
    key = os.environ.get(PII_KEY_ENV, "")
    if len(key) < MIN_KEY_LENGTH:
        raise Fin360Error(
            f"{PII_KEY_ENV} is not set (or shorter than {MIN_KEY_LENGTH} characters): silver and "
            "forget need the pseudonymisation secret, e.g. from your secret store; never put it "
            "in conf/"
        )
    return key.encode("utf-8")


def hmac_token(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column as 64 hex characters; null stays null."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in key)
    outer_pad = bytes(b ^ 0x5C for b in key)
    message = F.encode(value, "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    return F.when(value.isNotNull(), F.sha2(F.concat(F.lit(outer_pad), inner), 256))


def mask_name(name: Column) -> Column:
    """``张伟`` -> ``张*``, ``James Smith`` -> ``J*** S****``."""
    latin = F.regexp_replace(name, r"(?<=\p{L})\p{L}", "*")
    chinese = F.concat(F.substring(name, 1, 1), F.repeat(F.lit("*"), F.length(name) - 1))
    return F.when(name.rlike(r"^[\p{IsHan}·]+$"), chinese).otherwise(latin)


def mask_phone(phone: Column) -> Column:
    """E.164 ``+8613812345678`` -> ``138****5678``."""
    digits = F.regexp_replace(phone, r"^\+86", "")
    return F.concat(F.substring(digits, 1, 3), F.lit("****"), F.substring(digits, -4, 4))


def mask_email(email: Column) -> Column:
    """``zhang.wei@example.com`` -> ``z***@example.com``."""
    return F.regexp_replace(email, r"^(.)[^@]*@", "$1***@")


def mask_resident_id(resident_id: Column) -> Column:
    """``110101198503021234`` -> ``110101********1234``."""
    return F.concat(
        F.substring(resident_id, 1, 6), F.lit("********"), F.substring(resident_id, -4, 4)
    )
