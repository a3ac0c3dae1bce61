"""Column standardisers shared by the silver transforms: Column -> Column, Spark built-ins only."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space, to their ASCII forms.
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

CURRENCY_ALIASES = {"RMB": "CNY"}


def halfwidth(text: Column) -> Column:
    return F.translate(text, _FULL, _HALF)


def clean_text(text: Column) -> Column:
    """Half-width, whitespace collapsed and trimmed; blank becomes null."""
    value = F.trim(F.regexp_replace(halfwidth(text), r"\s+", " "))
    return F.when(value != "", value)


def phone_e164(phone: Column) -> Column:
    """Mainland mobile numbers in any delivered layout to E.164 (``+8613812345678``)."""
    digits = F.regexp_replace(halfwidth(phone), r"\D", "")
    national = F.regexp_replace(digits, r"^86(?=1\d{10}$)", "")
    return F.when(national.rlike(r"^1[3-9]\d{9}$"), F.concat(F.lit("+86"), national))


def email_clean(email: Column) -> Column:
    value = F.lower(clean_text(email))
    return F.when(value.rlike(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"), value)


def resident_id_clean(resident_id: Column) -> Column:
    """Half-width, no spaces, upper-case check character; null unless 17 digits + digit/X."""
    value = F.upper(F.regexp_replace(halfwidth(resident_id), r"\s", ""))
    return F.when(value.rlike(r"^\d{17}[\dX]$"), value)


def number_text(text: Column, decimal: str = ".") -> Column:
    """A delivered number as plain text Spark casts exactly (``-1234.50``): spaces and
    apostrophes (thousands separators) removed; with ``decimal`` ``,``, dots are thousands
    separators and the comma is the decimal point (``1.234,50``), else commas are thousands
    separators (``1,234.50``). Null when not a number."""
    value = F.regexp_replace(text, r"[\s']", "")
    if decimal == ",":
        value = F.regexp_replace(F.regexp_replace(value, r"\.", ""), ",", ".")
    else:
        value = F.regexp_replace(value, ",", "")
    return F.when(value.rlike(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$"), value)


def currency_code(text: Column) -> Column:
    """ISO code upper-cased and trimmed, known aliases (``RMB``) mapped; unknown codes are
    kept for the data-quality rule to reject."""
    value = F.upper(clean_text(text))
    for alias, code in CURRENCY_ALIASES.items():
        value = F.when(value == alias, F.lit(code)).otherwise(value)
    return value


def flag(text: Column) -> Column:
    """Consent-style flags (Y/N, y/n, 1/0, true/false) as boolean; blank is null."""
    value = F.upper(clean_text(text))
    return F.when(value.isin("Y", "YES", "1", "TRUE"), True).when(
        value.isin("N", "NO", "0", "FALSE"), False
    )
