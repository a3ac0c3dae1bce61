"""Output helpers: part-file naming and record tallies, CSV, JSON lines and Parquet writing,
and the value formatting shared by several sources."""

from __future__ import annotations

import csv
import io
import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_JSON_BLOCK_ROWS = 500_000  # rows rendered at once when writing JSON lines

_HALFWIDTH = str.maketrans(
    {chr(ord(c) + 0xFEE0): c for c in string.digits + string.ascii_letters} | {"\u3000": " "}
)
_FULLWIDTH = str.maketrans(
    {c: chr(ord(c) + 0xFEE0) for c in string.digits + string.ascii_letters} | {" ": "\u3000"}
)


@dataclass
class _FileSet:
    """Files written for one source and batch, with their physical record counts."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    malformed: int = 0
    exact_duplicates: int = 0
    extra: dict[str, int] = field(default_factory=dict)  # source-specific counts, if any

    def extend(self, other: _FileSet) -> None:
        """Append another chunk's files and counts."""
        self.files.extend(other.files)
        self.records += other.records
        self.malformed += other.malformed
        self.exact_duplicates += other.exact_duplicates
        for key, value in other.extra.items():
            self.extra[key] = self.extra.get(key, 0) + value

    def as_manifest(self) -> dict:
        """The manifest entry of this source and batch."""
        return {
            "files": self.files,
            "records": self.records,
            "malformed": self.malformed,
            "exact_duplicates": self.exact_duplicates,
            **self.extra,
        }


class _ChunkOutput:
    """Names a chunk's files and tallies their records per source and batch."""

    def __init__(self, raw_dir: Path, chunk: int) -> None:
        self.raw_dir = raw_dir
        self.chunk = chunk
        self.stats: dict[tuple[str, str], _FileSet] = {}

    def path(self, source: str, batch: str, suffix: str) -> Path:
        """Register and return the path of this chunk's file ``part-<chunk><suffix>``."""
        relative = f"{source}/batch={batch}/part-{self.chunk:05d}{suffix}"
        self.stats.setdefault((source, batch), _FileSet()).files.append(relative)
        target = self.raw_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def tally(
        self, source: str, batch: str, records: int, malformed: int = 0, duplicates: int = 0
    ) -> None:
        """Add physical record counts for a file registered with `path`."""
        files = self.stats.setdefault((source, batch), _FileSet())
        files.records += records
        files.malformed += malformed
        files.exact_duplicates += duplicates

    def count(self, source: str, batch: str, **counts: int) -> None:
        """Add source-specific counts (listed in the manifest entry by name)."""
        files = self.stats.setdefault((source, batch), _FileSet())
        for key, value in counts.items():
            files.extra[key] = files.extra.get(key, 0) + value


def _csv_text(header: tuple[str, ...], rows: list[list[str]]) -> str:
    """CSV with a header, minimal quoting and LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Parquet with fixed options (snappy), so identical tables give identical bytes."""
    pq.write_table(table, path, compression="snappy", version="2.6")


def _arrow_text(lines: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without nulls."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, stop = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:stop]


def _write_json_lines(
    path: Path,
    render: Callable[[np.ndarray], pa.Array],
    rows: np.ndarray,
    cut: np.ndarray,
    truncate: Callable[[str, float], str] | None = None,
    preamble: str = "",
) -> None:
    """Write one rendered line (JSON, or CSV without a header) per entry of ``rows`` (row
    indices, repeats allowed).

    A line whose ``cut`` is > 0 is truncated to that fraction of its characters (a malformed
    record, as if the export had been interrupted), or by ``truncate(line, cut)`` when given.
    ``preamble`` (e.g. a header line) is written first. Rendering goes block by block.
    """
    with path.open("wb") as out:
        out.write(preamble.encode("utf-8"))
        for low in range(0, len(rows), _JSON_BLOCK_ROWS):
            lines = render(rows[low : low + _JSON_BLOCK_ROWS])
            block_cut = cut[low : low + _JSON_BLOCK_ROWS]
            broken = np.flatnonzero(block_cut > 0)
            if broken.size:
                texts = lines.take(pa.array(broken)).to_pylist()
                truncated = [
                    truncate(text, c) if truncate else text[: max(1, int(len(text) * c))]
                    for text, c in zip(texts, block_cut[broken], strict=True)
                ]
                mask = np.zeros(len(lines), dtype=bool)
                mask[broken] = True
                lines = pc.replace_with_mask(
                    lines, pa.array(mask), pa.array(truncated, pa.string())
                )
            out.write(_arrow_text(pc.binary_join_element_wise(lines, "\n", "")))


def _json_dictionary(values: list) -> pa.Array:
    """JSON literals (``"text"``, numbers, ``null``) of a small list of values."""
    return pa.array([json.dumps(v, ensure_ascii=False) for v in values], pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int, quote: str = "") -> pa.Array:
    """Ids ``<prefix><number zero-padded to width>``, optionally quoted as JSON literals."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(f"{quote}{prefix}", digits, quote, "")


def _dirty_line_plan(
    rng: np.random.Generator,
    rows: int,
    duplicate_rate: float,
    malformed_rate: float,
    protected: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Decide which rows land twice (next to each other) and which lines are truncated.

    Returns (row index per output line, cut fraction per line (0 = intact), number of
    malformed lines, number of exact duplicate lines). Duplicated and ``protected`` rows are
    never truncated, so a duplicate is always an identical, valid record.
    """
    duplicated = rng.random(rows) < duplicate_rate
    malformed = (rng.random(rows) < malformed_rate) & ~duplicated
    if protected is not None:
        malformed &= ~protected
    cut_fraction = np.where(malformed, rng.uniform(0.15, 0.85, rows), 0.0)
    order = np.repeat(np.arange(rows), 1 + duplicated)
    return order, cut_fraction[order], int(malformed.sum()), int(duplicated.sum())


def _day_and_clock(local_ms: np.ndarray, *, millis: bool) -> tuple[pa.Array, pa.Array]:
    """``YYYY-MM-DD`` and ``HH:MM:SS`` (``HH:MM:SS.fff`` with ``millis``) of epoch ms."""
    stamps = (
        local_ms.astype("datetime64[ms]") if millis else (local_ms // 1000).astype("datetime64[s]")
    )
    text = pc.cast(pa.array(stamps), pa.string())  # "YYYY-MM-DD HH:MM:SS[.fff]"
    return pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11)


def _offset_text(minutes: int) -> str:
    """UTC offset as ``+08:00``."""
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _days_to_dates(days: np.ndarray) -> list[date]:
    """Epoch day numbers to `datetime.date` objects."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(object).tolist()


def _iso_days(days: np.ndarray) -> np.ndarray:
    """Epoch day numbers to ``YYYY-MM-DD`` strings."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"))


def _fullwidth(text: str) -> str:
    """ASCII letters, digits and spaces as their full-width forms."""
    return text.translate(_FULLWIDTH)


def _halfwidth(text: str) -> str:
    """Undo `_fullwidth`: full-width letters, digits and spaces as ASCII."""
    return text.translate(_HALFWIDTH)


def _delimited_text(
    rows: list[list[str]], header: tuple[str, ...] | None = None, *, preamble: str = ""
) -> str:
    """Semicolon-separated text, minimal quoting (``;``, ``"``, line breaks), LF line ends;
    ``preamble`` (e.g. a comment line) goes before the optional header."""
    buffer = io.StringIO()
    buffer.write(preamble)
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _delimited_fields(values: pa.Array) -> pa.Array:
    """Strings as semicolon-separated CSV fields: quoted (quotes doubled) only when they
    contain ``;``, ``"`` or a line break; nulls as empty fields."""
    values = pc.fill_null(values, "")
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(pc.match_substring_regex(values, '[;"\r\n]'), quoted, values)


def _decimal_comma(values: np.ndarray, decimals: int = 2) -> pa.Array:
    """Numbers with a fixed number of decimals, a decimal comma and no thousands separator
    (``-1234,50``); NaN gives an empty string."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    scaled = np.round(np.where(missing, 0.0, values) * 10**decimals).astype(np.int64)
    whole = pc.cast(pa.array(np.abs(scaled) // 10**decimals), pa.string())
    fraction = pc.utf8_lpad(
        pc.cast(pa.array(np.abs(scaled) % 10**decimals), pa.string()), decimals, "0"
    )
    sign = pa.array(np.where(scaled < 0, "-", ""))
    text = pc.binary_join_element_wise(sign, whole, ",", fraction, "")
    return pc.if_else(pa.array(missing), "", text)


def _compact_days(days: np.ndarray) -> list[str]:
    """Epoch day numbers to ``yyMMdd`` strings (two-digit year)."""
    return [f"{d[2:4]}{d[5:7]}{d[8:10]}" for d in _iso_days(days).tolist()]


def _dotted_days(days: np.ndarray) -> list[str]:
    """Epoch day numbers to ``dd.MM.yyyy`` strings."""
    return [f"{d[8:10]}.{d[5:7]}.{d[0:4]}" for d in _iso_days(days).tolist()]
