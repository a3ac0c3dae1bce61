"""Column standardisers shared by the silver transforms: Column -> Column, Spark built-ins only."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space, to their ASCII forms.
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

DATE_FORMATS = ("yyyy-MM-dd", "dd/MM/yyyy", "yyyyMMdd", "yyyy年M月d日", "yyyy/MM/dd")
LOCAL_TIMESTAMP_FORMATS = (
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy/MM/dd HH:mm:ss",
    "yyyy/MM/dd HH:mm",
    "dd/MM/yyyy HH:mm",
    "yyyy年M月d日 HH:mm",
    *DATE_FORMATS,
)
ZONED_TIMESTAMP_FORMATS = ("yyyy-MM-dd'T'HH:mm:ssXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX")

CURRENCY_ALIASES = {"RMB": "CNY"}


def halfwidth(text: Column) -> Column:
    return F.translate(text, _FULL, _HALF)


def clean_text(text: Column) -> Column:
    """Half-width, whitespace collapsed and trimmed; blank becomes null."""
    value = F.trim(F.regexp_replace(halfwidth(text), r"\s+", " "))
    return F.when(value != "", value)


def name_key(name: Column) -> Column:
    """A name in the form records are compared and tokenised in: half-width, lower case, no
    spaces (``王 芳``, ``王　芳`` and ``王芳`` agree; so do ``JAMES SMITH`` and ``James Smith``)."""
    return F.lower(F.regexp_replace(clean_text(name), " ", ""))


def parse_date(text: Column) -> Column:
    value = clean_text(text)
    return F.coalesce(*(F.try_to_date(value, fmt) for fmt in DATE_FORMATS))


def parse_local_timestamp(text: Column, timezone: str) -> Column:
    """A wall-clock time in ``timezone`` (any of the known layouts) as a UTC timestamp."""
    value = clean_text(text)
    local = F.coalesce(*(F.try_to_timestamp(value, F.lit(fmt)) for fmt in LOCAL_TIMESTAMP_FORMATS))
    return F.to_utc_timestamp(local, timezone)


def parse_event_timestamp(text: Column, timezone: str) -> Column:
    """An event time as delivered by source systems, to UTC: ISO-8601 with an offset, epoch
    milliseconds, or a local wall-clock time without zone (taken in ``timezone``)."""
    value = clean_text(text)
    zoned = F.coalesce(*(F.try_to_timestamp(value, F.lit(fmt)) for fmt in ZONED_TIMESTAMP_FORMATS))
    epoch_ms = F.when(value.rlike(r"^\d{12,14}$"), F.timestamp_millis(value.cast("long")))
    return F.coalesce(zoned, epoch_ms, parse_local_timestamp(value, timezone))


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


def amount(text: Column, scale: int = 2) -> Column:
    """A delivered amount (``1,200.50``) as decimal(18, scale); null when not a number."""
    value = F.regexp_replace(clean_text(text.cast("string")), ",", "")
    number = value.rlike(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
    return F.when(number, value.cast(f"decimal(18,{scale})"))


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
