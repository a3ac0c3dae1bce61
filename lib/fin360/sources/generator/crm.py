"""The CRM source: customer records with their per-record formatting, fuzzy duplicates,
exact duplicates, malformed lines, and the b0002 address changes and new customers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np

from fin360.sources import names
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    _SECONDS_PER_DAY,
    DELTA_BATCH,
    DELTA_DAYS,
    INITIAL_BATCH,
    _choose,
)
from fin360.sources.generator.people import _DISTRICT_COUNTS, _People
from fin360.sources.generator.writers import _ChunkOutput, _csv_text, _days_to_dates, _fullwidth
from fin360.sources.names import CITIES

CRM_COLUMNS = (
    "customer_src_id",
    "branch_code",
    "full_name",
    "gender",
    "birth_date",
    "resident_id",
    "phone",
    "email",
    "address",
    "city",
    "province",
    "occupation",
    "annual_income",
    "marketing_consent",
    "data_sharing_consent",
    "created_at",
    "updated_at",
)
CRM_GBK_BRANCH = "GZ"

_BRANCH_INDEX = {c.branch: i for i, c in enumerate(CITIES)}

_CRM_EXACT_DUPLICATE_RATE = 0.02

_CRM_MALFORMED_RATE = 0.005


@dataclass
class _CrmStyles:
    """Per-record formatting choices (how the CRM happened to store each value)."""

    phone: np.ndarray
    date: np.ndarray
    updated: np.ndarray
    resident_id: np.ndarray
    email_upper: np.ndarray
    income: np.ndarray
    gender: np.ndarray
    city: np.ndarray
    province_blank: np.ndarray
    marketing: np.ndarray
    sharing: np.ndarray
    branch: np.ndarray  # offset from the home city's branch: 0 (mostly) or another branch

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int) -> _CrmStyles:
        """Draw the styles of ``count`` records."""
        consent = (0.90, 0.03, 0.04, 0.03)
        return cls(
            phone=_choose(rng, (0.55, 0.20, 0.15, 0.05, 0.05), count),
            date=_choose(rng, (0.55, 0.15, 0.15, 0.15), count),
            updated=_choose(rng, (0.40, 0.15, 0.15, 0.15, 0.15), count),
            resident_id=_choose(rng, (0.97, 0.03), count),
            email_upper=rng.random(count) < 0.05,
            income=_choose(rng, (0.85, 0.15), count),
            gender=_choose(rng, (0.85, 0.10, 0.05), count),
            city=_choose(rng, (0.80, 0.10, 0.10), count),
            province_blank=rng.random(count) < 0.03,
            marketing=_choose(rng, consent, count),
            sharing=_choose(rng, consent, count),
            branch=np.where(rng.random(count) < 0.9, 0, rng.integers(1, len(CITIES), count)),
        )


def _format_phone(digits: str, style: int) -> str:
    """A mainland mobile number in one of the CRM's formats."""
    a, b, c = digits[:3], digits[3:7], digits[7:]
    formats = (digits, f"+86 {a} {b} {c}", f"{a}-{b}-{c}", f"+86{digits}", _fullwidth(digits))
    return formats[style]


def _format_date(day: date, style: int) -> str:
    """ISO, dd/mm/yyyy, yyyymmdd or Chinese (1985年3月2日)."""
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if style == 2:
        return f"{day.year}{day.month:02d}{day.day:02d}"
    return f"{day.year}年{day.month}月{day.day}日"


def _format_timestamp(moment: datetime, style: int) -> str:
    """A CRM update time in one of five formats, some without the time."""
    if style == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 2:
        return moment.strftime("%d/%m/%Y %H:%M")
    if style == 3:
        return moment.strftime("%Y%m%d")
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def _format_consent(granted: bool, style: int) -> str:
    """Y/N, y/n, 1/0 or blank (unknown)."""
    return (("N", "Y"), ("n", "y"), ("0", "1"), ("", ""))[style][int(granted)]


def _address(people: _People, i: int, variant: int = -1) -> str:
    """Person ``i``'s address; ``variant`` >= 0 gives a slightly different spelling of it."""
    city = CITIES[people.city[i]]
    district = city.districts[people.district[i]]
    road_cn, road_en = names.ROADS[people.road[i]]
    number, building, room = people.house_number[i], people.building[i], people.room[i]
    if people.english_address[i]:
        street = f"{number} {road_en}"
        if variant == 0:
            street = street.replace("Road", "Rd").replace("Avenue", "Ave")
            return f"Rm {room}, Bldg {building}, {street}, {district.en}, {city.en}"
        if variant == 1:
            return f"{street}, {district.en} District, {city.en}".lower()
        text = f"Room {room}, Building {building}, {street}, {district.en} District, {city.en}"
        return f"{text} " if variant == 2 else text
    if variant == 0:
        return f"{district.cn}{road_cn}{number}号{building}栋{room}室"
    if variant == 1:
        return _fullwidth(f"{city.cn}{district.cn}{road_cn}{number}号{building}栋{room}室")
    if variant == 2:
        return f"{city.cn} {district.cn} {road_cn}{number}號 {building}栋{room}"
    return f"{city.cn}{district.cn}{road_cn}{number}号{building}栋{room}室"


def _name_variant(people: _People, i: int, variant: int) -> str:
    """A fuzzy spelling of person ``i``'s name, as typed at another branch."""
    family, given = people.family_name[i], people.given_name[i]
    if people.chinese[i]:
        return (f"{family} {given}", f"{family}{given} ", f"{family}\u3000{given}")[variant % 3]
    return (
        f"{given} {family}".upper(),
        f"{given} {family}".lower(),
        f"{given}  {family}",
        _fullwidth(f"{given} {family}"),
    )[variant % 4]


class _Client(NamedTuple):
    """The values of one CRM record, whatever the layout that exports them."""

    src_id: str
    branch: int  # index into CITIES
    name: str  # as spelled in this record (may hold full-width forms: see `_halfwidth`)
    resident_id: str  # canonical
    phone: str  # 11 digits
    email: str  # "" when unknown
    address: str  # as spelled in this record (may hold full-width forms)
    city: int  # index into CITIES
    occupation: str
    income: float
    marketing: bool
    sharing: bool
    created: date
    updated: datetime  # local time


@dataclass
class _CrmBatch:
    """One batch of CRM records in export order, with its exact duplicates and cut lines."""

    batch: str
    rows: list[list[str]]  # the standard layout's rows, sorted by customer_src_id
    clients: list[_Client]  # the same records' values, same order
    placed: list[int]  # row per output line; a row placed twice is an exact duplicate
    malformed: np.ndarray  # per row: exported cut short
    keep: np.ndarray  # per row: fields a cut-short line keeps (of the standard columns)


def _client(people: _People, i: int, src_id: str, branch: int) -> _Client:
    """Person ``i``'s own record kept at ``branch`` (the values behind `_crm_row`)."""
    return _Client(
        src_id=src_id,
        branch=branch,
        name=people.name[i],
        resident_id=people.resident_id[i],
        phone=people.phone[i],
        email=people.email[i],
        address=_address(people, i),
        city=int(people.city[i]),
        occupation=people.occupation[i],
        income=float(people.income[i]),
        marketing=bool(people.marketing_consent[i]),
        sharing=bool(people.data_sharing_consent[i]),
        created=_days_to_dates(people.since[i : i + 1])[0],
        updated=datetime(1970, 1, 1) + timedelta(seconds=int(people.updated[i])),
    )


def _crm_row(people: _People, i: int, src_id: str, branch: int, styles: _CrmStyles) -> list[str]:
    """Person ``i``'s CRM record, kept at ``branch``, formatted with the person's styles."""
    city = CITIES[people.city[i]]
    resident_id = people.resident_id[i]
    email = people.email[i].upper() if styles.email_upper[i] else people.email[i]
    income = int(people.income[i])
    city_text = (city.cn, city.cn.removesuffix("市"), city.en)[styles.city[i]]
    created = _days_to_dates(people.since[i : i + 1])[0]
    updated = datetime(1970, 1, 1) + timedelta(seconds=int(people.updated[i]))
    return [
        src_id,
        CITIES[branch].branch,
        people.name[i],
        (("F", "M"), ("女", "男"), ("f", "m"))[styles.gender[i]][int(people.male[i])],
        _format_date(_days_to_dates(people.birth[i : i + 1])[0], styles.date[i]),
        _fullwidth(resident_id) if styles.resident_id[i] else resident_id,
        _format_phone(people.phone[i], styles.phone[i]),
        email,
        _address(people, i),
        city_text,
        "" if styles.province_blank[i] else city.province,
        people.occupation[i],
        f"{income:,}" if styles.income[i] else str(income),
        _format_consent(bool(people.marketing_consent[i]), styles.marketing[i]),
        _format_consent(bool(people.data_sharing_consent[i]), styles.sharing[i]),
        _format_date(created, styles.date[i]),
        _format_timestamp(updated, styles.updated[i]),
    ]


def _fuzzy_row(
    people: _People, i: int, row: list[str], src_id: str, rng: np.random.Generator
) -> tuple[list[str], _Client]:
    """Another branch's record of person ``i`` (whose own record is ``row``): same person,
    different spelling. Returns the standard row and the record's values."""
    variant = rng.integers(0, 12, size=8)
    home = _BRANCH_INDEX[row[1]]
    branch = (home + 1 + int(variant[0]) % (len(CITIES) - 1)) % len(CITIES)
    resident_id = people.resident_id[i]
    if variant[1] % 3 == 0:
        resident_id = _fullwidth(resident_id)
    elif variant[1] % 3 == 1:
        resident_id = resident_id.lower()
    since = int(people.since[i]) + int(rng.integers(1, 900))
    created = _days_to_dates(np.array([min(since, int(people.updated[i]) // _SECONDS_PER_DAY)]))[0]
    fuzzy = list(row)
    fuzzy[0] = src_id
    fuzzy[1] = CITIES[branch].branch
    fuzzy[2] = _name_variant(people, i, int(variant[2]))
    fuzzy[4] = _format_date(_days_to_dates(people.birth[i : i + 1])[0], int(variant[3]) % 4)
    fuzzy[5] = resident_id
    fuzzy[6] = _format_phone(people.phone[i], int(variant[4]) % 5)
    fuzzy[7] = people.email[i].upper() if variant[5] % 4 == 0 else people.email[i]
    fuzzy[8] = _address(people, i, int(variant[6]) % 3)
    fuzzy[13] = _format_consent(bool(variant[7] % 2), 0)
    fuzzy[15] = _format_date(created, int(variant[3]) % 4)
    client = _client(people, i, src_id, branch)._replace(
        name=fuzzy[2], address=fuzzy[8], marketing=bool(variant[7] % 2), created=created
    )
    return fuzzy, client


def _crm_batch(
    batch: str,
    rows: list[list[str]],
    clients: list[_Client],
    rng: np.random.Generator,
    *,
    dirty: bool,
) -> _CrmBatch:
    """Sort a batch's records by id and, with ``dirty``, let ~2% of them land twice (at a
    random later position) and ~0.5% be cut short."""
    order = np.argsort(np.array([row[0] for row in rows]), kind="stable")
    rows = [rows[i] for i in order]
    clients = [clients[i] for i in order]
    duplicated = (rng.random(len(rows)) < _CRM_EXACT_DUPLICATE_RATE) & dirty
    malformed = (rng.random(len(rows)) < _CRM_MALFORMED_RATE) & ~duplicated & dirty
    keep = rng.integers(1, len(CRM_COLUMNS) - 1, len(rows))
    # A duplicate is placed at a random later position; sorting by (key, original) keeps
    # the original order for everything else.
    keys = np.concatenate(
        [np.arange(len(rows), dtype=float), rng.uniform(0, len(rows), int(duplicated.sum()))]
    )
    sources = np.concatenate([np.arange(len(rows)), np.flatnonzero(duplicated)])
    placed = sources[np.argsort(keys, kind="stable")].tolist()
    return _CrmBatch(batch, rows, clients, placed, malformed, keep)


def _write_crm(out: _ChunkOutput, crm: _CrmBatch) -> None:
    """Write a batch of CRM rows: UTF-8 CSV, and the GZ branch's rows as a separate GBK file;
    a cut-short line has fewer fields than the header."""
    rows, malformed, keep = crm.rows, crm.malformed, crm.keep
    by_branch: dict[bool, list[list[str]]] = {False: [], True: []}
    counts = {False: [0, 0, 0], True: [0, 0, 0]}  # records, malformed, duplicates
    seen: set[int] = set()
    for r in crm.placed:
        row = rows[r]
        gbk = row[1] == CRM_GBK_BRANCH
        if malformed[r]:
            cut = row[: keep[r]]
            cut[-1] = cut[-1][: max(1, len(cut[-1]) // 2)]
            row = cut
            counts[gbk][1] += 1
        if r in seen:
            counts[gbk][2] += 1
        seen.add(r)
        by_branch[gbk].append(row)
        counts[gbk][0] += 1
    for gbk in (False, True):
        if gbk and not by_branch[gbk]:
            continue
        text = _csv_text(CRM_COLUMNS, by_branch[gbk])
        path = out.path("crm_customers", crm.batch, "-gz.gbk.csv" if gbk else ".csv")
        path.write_bytes(text.encode("gbk" if gbk else "utf-8"))
        out.tally("crm_customers", crm.batch, *counts[gbk])


def _crm_initial(
    chunk: _Chunk, rng: np.random.Generator
) -> tuple[_CrmBatch, list[list[str]], list[_Client]]:
    """The b0001 CRM batch, and the clean primary rows and values (changed in b0002)."""
    people, records = chunk.people, chunk.records
    count = len(people)
    styles = _CrmStyles.draw(rng, count)
    branch = (people.city + styles.branch) % len(CITIES)
    primary = [
        _crm_row(people, i, records.primary[i], int(branch[i]), styles) for i in range(count)
    ]
    clients = [_client(people, i, records.primary[i], int(branch[i])) for i in range(count)]
    fuzzy = [
        _fuzzy_row(people, i, primary[i], src, rng)
        for i, src in zip(records.fuzzy_person.tolist(), records.fuzzy_id, strict=True)
    ]
    rows = primary + [row for row, _ in fuzzy]
    batch = _crm_batch(INITIAL_BATCH, rows, clients + [c for _, c in fuzzy], rng, dirty=True)
    return batch, primary, clients


def _crm_delta(
    chunk: _Chunk,
    primary: list[list[str]],
    primary_clients: list[_Client],
    newcomers: _People,
    rng: np.random.Generator,
) -> _CrmBatch:
    """The b0002 CRM batch: address changes of existing customers and new customers."""
    cfg, people, records = chunk.cfg, chunk.people, chunk.records
    movers = np.sort(rng.choice(len(people), chunk.spec.address_changes, replace=False))
    moved = replace(
        people,
        city=np.where(
            rng.random(len(people)) < 0.25, rng.integers(0, len(CITIES), len(people)), people.city
        ),
        road=rng.integers(0, len(names.ROADS), len(people)),
        house_number=rng.integers(1, 400, len(people)),
        building=rng.integers(1, 30, len(people)),
        room=rng.integers(1, 33, len(people)) * 100 + rng.integers(1, 9, len(people)),
    )
    moved.district = (rng.random(len(people)) * _DISTRICT_COUNTS[moved.city]).astype(np.int64)
    change_time = cfg.end_day * _SECONDS_PER_DAY + rng.integers(
        0, DELTA_DAYS * _SECONDS_PER_DAY, len(people)
    )
    styles = _CrmStyles.draw(rng, len(people))
    rows, clients = [], []
    for i in movers.tolist():
        row = list(primary[i])
        city = CITIES[moved.city[i]]
        row[8] = _address(moved, i)
        row[9] = city.cn
        row[10] = city.province
        moment = datetime(1970, 1, 1) + timedelta(seconds=int(change_time[i]))
        row[16] = _format_timestamp(moment, int(styles.updated[i]))
        rows.append(row)
        clients.append(
            primary_clients[i]._replace(address=row[8], city=int(moved.city[i]), updated=moment)
        )
    new_styles = _CrmStyles.draw(rng, len(newcomers))
    new_branch = (newcomers.city + new_styles.branch) % len(CITIES)
    for i in range(len(newcomers)):
        rows.append(_crm_row(newcomers, i, records.new_id[i], int(new_branch[i]), new_styles))
        clients.append(_client(newcomers, i, records.new_id[i], int(new_branch[i])))
    return _crm_batch(DELTA_BATCH, rows, clients, rng, dirty=False)
