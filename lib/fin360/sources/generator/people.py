"""Persons (latent truth and master data), fraud rings, devices and customer records, with
the PRC resident ID check character."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from fin360.sources import catalog, names
from fin360.sources.catalog import SEGMENTS
from fin360.sources.generator.common import (
    _SECONDS_PER_DAY,
    _SENIOR,
    _YOUNG,
    DELTA_DAYS,
    _choose,
    _ChunkSpec,
    _RunConfig,
    _scrambled,
    _segment_array,
)
from fin360.sources.generator.writers import _iso_days
from fin360.sources.names import CITIES

_PLATFORMS = ("ios", "android", "web")

# Resident ID numbers come from a bijection of the global person index onto
# (birth area, day of birth year, sequence), so they never collide within a run of up to
# _IDENTITY_SPACE persons, whatever the chunking: a collision would merge two people.
_AREA_CODES = (*(d.code for c in CITIES for d in c.districts), *names.OTHER_BIRTH_AREAS)
_AREA_CITY = np.array(
    [ci for ci, c in enumerate(CITIES) for _ in c.districts] + [-1] * len(names.OTHER_BIRTH_AREAS)
)
_IDENTITY_SPACE = len(_AREA_CODES) * 365 * 500
_IDENTITY_MULTIPLIER = 2_147_483_647  # prime, larger than _IDENTITY_SPACE
# Multipliers near 0.618 * modulus (so neighbours land far apart), coprime to the modulus.
_PHONE_MULTIPLIER = 61_803_397
_CUSTOMER_MULTIPLIER = 61_803_398_873

_DEVICE_MULTIPLIER = 173_953_596_026_463  # odd, modulus 2**48
_FRESH_DEVICE_BASE = 9_000_000  # device sequence numbers above this are "never seen before"

_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"


def resident_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC resident ID."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def is_valid_resident_id(s: str) -> bool:
    """True for a canonical 18-character PRC resident ID: digits, a real birth date, a correct
    check character ('X' upper-case). Does not normalise spaces, full-width or lower-case."""
    if len(s) != 18 or not s.isascii() or not s[:17].isdigit():
        return False
    try:
        datetime.strptime(s[6:14], "%Y%m%d")
    except ValueError:
        return False
    return resident_id_check_digit(s[:17]) == s[17]


@dataclass
class _People:
    """The persons of one chunk: latent traits and master data, one array element each."""

    person_id: list[str]
    segment: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # epoch days
    age: np.ndarray
    resident_id: list[str]
    chinese: np.ndarray
    family_name: list[str]
    given_name: list[str]
    name: list[str]
    phone: list[str]
    email: list[str]
    city: np.ndarray
    district: np.ndarray
    road: np.ndarray
    house_number: np.ndarray
    building: np.ndarray
    room: np.ndarray
    english_address: np.ndarray
    occupation: list[str]
    income: np.ndarray
    marketing_consent: np.ndarray
    data_sharing_consent: np.ndarray
    since: np.ndarray  # epoch day the customer relationship started (CRM created_at)
    updated: np.ndarray  # epoch seconds of the last CRM update
    propensity: np.ndarray  # probability that a loan of this person goes 90+ days past due
    traveller: np.ndarray
    trip_start: np.ndarray  # epoch day a traveller's trip abroad starts
    trip_length: np.ndarray
    trip_city: np.ndarray  # index into FOREIGN_CITIES
    gambler: np.ndarray
    jeweller: np.ndarray
    activity: np.ndarray  # multiplies transaction and app usage rates
    amount_shift: np.ndarray  # log-scale shift of this person's card spend

    def __len__(self) -> int:
        return len(self.segment)


_CITY_WEIGHTS = np.array([c.weight for c in CITIES]) / sum(c.weight for c in CITIES)
_DISTRICT_COUNTS = np.array([len(c.districts) for c in CITIES])
_SURNAME_WEIGHTS = np.array([s.weight for s in names.SURNAMES]) / sum(
    s.weight for s in names.SURNAMES
)


def _make_people(
    cfg: _RunConfig, rng: np.random.Generator, first: int, count: int, *, new: bool
) -> _People:
    """Draw ``count`` persons with global indices ``first...``; ``new`` ones join in b0002."""
    segment = rng.choice(len(SEGMENTS), size=count, p=_segment_array("share"))
    age_range = _segment_array("age_range")[segment]
    age = rng.integers(age_range[:, 0], age_range[:, 1] + 1)
    male = rng.random(count) < _segment_array("male_share")[segment]
    global_index = first + np.arange(count, dtype=np.int64)

    slot = np.array(_scrambled(global_index, _IDENTITY_MULTIPLIER, cfg.salts[0], _IDENTITY_SPACE))
    area = slot // (365 * 500)
    day_of_year = (slot // 500) % 365
    sequence = (slot % 500) * 2 + male  # odd for men, even for women
    year = (cfg.start.year - age - 1970).astype("datetime64[Y]")
    birth = (year.astype("datetime64[D]") + day_of_year).astype(np.int64)
    birth_digits = np.char.replace(_iso_days(birth), "-", "")
    resident_id = []
    for a, b, s in zip(area.tolist(), birth_digits.tolist(), sequence.tolist(), strict=True):
        first17 = f"{_AREA_CODES[a]}{b}{s:03d}"
        resident_id.append(first17 + resident_id_check_digit(first17))

    born_in = _AREA_CITY[area]
    city = np.where(
        (born_in >= 0) & (rng.random(count) < 0.7),
        born_in,
        rng.choice(len(CITIES), size=count, p=_CITY_WEIGHTS),
    )
    district = (rng.random(count) * _DISTRICT_COUNTS[city]).astype(np.int64)

    chinese = rng.random(count) < 0.75
    family_name, given_name, full_name, email = _names_and_emails(rng, chinese, male, birth)

    suffix = _scrambled(global_index, _PHONE_MULTIPLIER, cfg.salts[1], 10**8)
    prefix = rng.integers(0, len(names.PHONE_PREFIXES), count)
    phone = [f"{names.PHONE_PREFIXES[p]}{s:08d}" for p, s in zip(prefix, suffix, strict=True)]

    occupation_pick = rng.random(count)
    occupation = [
        SEGMENTS[s].occupations[int(u * len(SEGMENTS[s].occupations))]
        if cn or u < 0.3
        else (
            "Retired"
            if SEGMENTS[s].name == "senior_saver"
            else catalog.ENGLISH_OCCUPATIONS[int(u * len(catalog.ENGLISH_OCCUPATIONS))]
        )
        for s, cn, u in zip(segment.tolist(), chinese.tolist(), occupation_pick, strict=True)
    ]

    median = _segment_array("income_median")[segment]
    income = np.maximum(
        12_000.0,
        np.round(
            median * np.exp(_segment_array("income_sigma")[segment] * rng.normal(size=count)), -3
        ),
    )
    logit = (
        _segment_array("default_logit")[segment]
        + 0.75 * rng.normal(size=count)
        - 0.45 * (np.log(income) - np.log(median))
        + 0.25 * (age < 25)
    )
    propensity = np.clip(1.0 / (1.0 + np.exp(-logit)), 0.002, 0.95)

    if new:
        since = cfg.end_day + rng.integers(0, DELTA_DAYS, count)
        updated = since * _SECONDS_PER_DAY + rng.integers(8 * 3600, 20 * 3600, count)
    else:
        adult = birth + 6575  # 18th birthday, give or take a leap day
        since = np.clip(cfg.start_day - rng.integers(30, 15 * 365, count), adult, cfg.start_day - 1)
        span = (cfg.end_day - since) * _SECONDS_PER_DAY
        updated = since * _SECONDS_PER_DAY + (rng.random(count) * span).astype(np.int64)

    return _People(
        person_id=[f"P{g:010d}" for g in global_index.tolist()],
        segment=segment,
        male=male,
        birth=birth,
        age=age,
        resident_id=resident_id,
        chinese=chinese,
        family_name=family_name,
        given_name=given_name,
        name=full_name,
        phone=phone,
        email=email,
        city=city,
        district=district,
        road=rng.integers(0, len(names.ROADS), count),
        house_number=rng.integers(1, 400, count),
        building=rng.integers(1, 30, count),
        room=rng.integers(1, 33, count) * 100 + rng.integers(1, 9, count),
        english_address=~chinese & (rng.random(count) < 0.5),
        occupation=occupation,
        income=income,
        marketing_consent=rng.random(count) < np.where(segment == _YOUNG, 0.75, 0.55),
        data_sharing_consent=rng.random(count) < 0.45,
        since=since,
        updated=updated,
        propensity=propensity,
        traveller=rng.random(count) < _segment_array("traveller_share")[segment],
        trip_start=rng.integers(cfg.start_day, cfg.end_day + DELTA_DAYS, count),
        trip_length=rng.integers(3, 9, count),
        trip_city=_choose(rng, names.FOREIGN_TRIP_WEIGHTS, count),
        gambler=rng.random(count) < 0.03,
        jeweller=rng.random(count) < 0.04,
        activity=rng.lognormal(0.0, 0.45, count),
        amount_shift=rng.normal(0.0, 0.25, count),
    )


def _names_and_emails(
    rng: np.random.Generator, chinese: np.ndarray, male: np.ndarray, birth: np.ndarray
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Family names, given names, display names and e-mail addresses."""
    count = len(chinese)
    surname = rng.choice(len(names.SURNAMES), size=count, p=_SURNAME_WEIGHTS)
    two_chars = rng.random(count) < 0.7
    picks = rng.random((count, 2))
    domain = rng.integers(0, len(names.EMAIL_DOMAINS), count)
    email_style = rng.random(count)
    number = rng.integers(1, 1000, count)
    qq_number = rng.integers(10_000_000, 3_000_000_000, count)
    birth_year = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970) % 100

    families, givens, fulls, emails = [], [], [], []
    for i in range(count):
        if chinese[i]:
            family = names.SURNAMES[surname[i]]
            pool = names.GIVEN_MALE if male[i] else names.GIVEN_FEMALE
            chars = [pool[int(picks[i, 0] * len(pool))]]
            if two_chars[i]:
                chars.append(pool[int(picks[i, 1] * len(pool))])
            given = "".join(c.hanzi for c in chars)
            families.append(family.hanzi)
            givens.append(given)
            fulls.append(family.hanzi + given)
            handle = family.pinyin + "".join(c.pinyin for c in chars)
        else:
            pool_en = names.ENGLISH_FIRST_MALE if male[i] else names.ENGLISH_FIRST_FEMALE
            first = pool_en[int(picks[i, 0] * len(pool_en))]
            last = names.ENGLISH_LAST[int(picks[i, 1] * len(names.ENGLISH_LAST))]
            families.append(last)
            givens.append(first)
            fulls.append(f"{first} {last}")
            handle = f"{first}.{last}".lower().replace("'", "")
        site = names.EMAIL_DOMAINS[domain[i]]
        if email_style[i] < 0.05:
            emails.append("")
        elif site == "qq.com":
            emails.append(f"{qq_number[i]}@qq.com")
        elif email_style[i] < 0.45:
            emails.append(f"{handle}{birth_year[i]:02d}@{site}")
        elif email_style[i] < 0.8:
            emails.append(f"{handle}{number[i]}@{site}")
        else:
            emails.append(f"{handle}@{site}")
    return families, givens, fulls, emails


@dataclass
class _Rings:
    """Fraud rings of one chunk."""

    ring_ids: list[str]
    ring_of: np.ndarray  # per person: ring number or -1
    members: list[np.ndarray]  # per ring: person indices, organiser first


def _make_rings(spec: _ChunkSpec, count: int, rng: np.random.Generator) -> _Rings:
    """Pick disjoint groups of 4-8 persons as fraud rings."""
    ring_of = np.full(count, -1)
    candidates = rng.permutation(count)
    members, used = [], 0
    for ring in range(spec.rings):
        size = int(min(rng.integers(4, 9), count - used))
        group = candidates[used : used + size]
        used += size
        ring_of[group] = ring
        members.append(group)
    ring_ids = [f"RING-{spec.index:05d}-{r:03d}" for r in range(spec.rings)]
    return _Rings(ring_ids=ring_ids, ring_of=ring_of, members=members)


@dataclass
class _Devices:
    """Devices of one chunk: every person has 1-2, every fraud ring shares one more."""

    ids: list[str]
    platform: np.ndarray  # index into _PLATFORMS
    ip: np.ndarray  # (devices, 4) octets of the usual address
    primary: np.ndarray  # per person
    secondary: np.ndarray  # per person, -1 when none
    ring_device: np.ndarray  # per ring


def _device_ids(cfg: _RunConfig, chunk: int, local: np.ndarray) -> list[str]:
    """Unique, random-looking device ids ``DEV-<12 hex>`` for chunk-local sequence numbers."""
    codes = _scrambled(chunk * 10**7 + local, _DEVICE_MULTIPLIER, cfg.salts[2], 2**48)
    return [f"DEV-{c:012x}" for c in codes]


def _make_devices(
    cfg: _RunConfig, chunk: int, people: _People, rings: _Rings, rng: np.random.Generator
) -> _Devices:
    """Assign devices, platforms and usual IP addresses."""
    count = len(people)
    has_second = rng.random(count) < 0.3
    primary = np.arange(count)
    secondary = np.where(has_second, count + np.cumsum(has_second) - 1, -1)
    total = count + int(has_second.sum()) + len(rings.ring_ids)
    ring_device = np.arange(count + int(has_second.sum()), total)
    senior_person = people.segment == _SENIOR
    senior = np.concatenate(
        [senior_person, senior_person[has_second], np.zeros(len(ring_device), dtype=bool)]
    )
    platform = np.where(
        senior, _choose(rng, (0.15, 0.55, 0.30), total), _choose(rng, (0.45, 0.45, 0.10), total)
    )
    ip = np.column_stack(
        [
            np.asarray(names.IP_FIRST_OCTETS)[rng.integers(0, len(names.IP_FIRST_OCTETS), total)],
            rng.integers(1, 255, (total, 3)),
        ]
    )
    return _Devices(
        ids=_device_ids(cfg, chunk, np.arange(total)),
        platform=platform,
        ip=ip,
        primary=primary,
        secondary=secondary,
        ring_device=ring_device,
    )


@dataclass
class _Records:
    """CRM customer records of one chunk and the persons behind them."""

    primary: list[str]  # per person: customer_src_id of the person's own record
    fuzzy_person: np.ndarray  # persons that also have a duplicate record at another branch
    fuzzy_id: list[str]
    new_id: list[str]  # records of the b0002 new persons


def _customer_ids(cfg: _RunConfig, seq: np.ndarray) -> list[str]:
    """Unique, random-looking customer ids ``C<11 digits>`` for global record numbers."""
    codes = _scrambled(seq, _CUSTOMER_MULTIPLIER, cfg.salts[3], 10**11)
    return [f"C{c:011d}" for c in codes]


def _make_records(cfg: _RunConfig, spec: _ChunkSpec, rng: np.random.Generator) -> _Records:
    """Number the chunk's primary, fuzzy-duplicate and new customer records."""
    fuzzy_seq = spec.first_extra_record + np.arange(spec.fuzzy_duplicates)
    new_seq = spec.first_extra_record + spec.fuzzy_duplicates + np.arange(spec.new_customers)
    return _Records(
        primary=_customer_ids(cfg, spec.first_person + np.arange(spec.persons)),
        fuzzy_person=np.sort(rng.choice(spec.persons, spec.fuzzy_duplicates, replace=False)),
        fuzzy_id=_customer_ids(cfg, fuzzy_seq),
        new_id=_customer_ids(cfg, new_seq),
    )
