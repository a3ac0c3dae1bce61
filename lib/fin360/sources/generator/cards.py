"""The merchant catalogue and card transactions, with planted anomalies (JSON lines)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fin360.sources import catalog, names
from fin360.sources.catalog import MCCS, SEGMENTS
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    _CURRENCIES,
    _CURRENCY_INDEX,
    _FX_BASE,
    _MS_PER_DAY,
    DELTA_DAYS,
    INITIAL_BATCH,
    _choose,
    _rng,
    _segment_array,
    _share,
    _Stream,
)
from fin360.sources.generator.people import _FRESH_DEVICE_BASE, _device_ids, _People
from fin360.sources.generator.truth import _TRUTH_SCHEMAS
from fin360.sources.generator.writers import (
    _day_and_clock,
    _dirty_line_plan,
    _ids,
    _json_dictionary,
    _offset_text,
    _write_json_lines,
)
from fin360.sources.names import CITIES, FOREIGN_CITIES

CARD_COLUMNS = (
    "txn_id",
    "account_id",
    "customer_src_id",
    "amount",
    "currency",
    "merchant_id",
    "merchant_name",
    "mcc",
    "channel",
    "device_id",
    "country",
    "city",
    "lat",
    "lon",
    "local_time",
)
CARD_DELTA_COLUMNS = (*CARD_COLUMNS, "wallet_provider")

ANOMALY_TYPES = ("huge_amount", "foreign_new_device", "night_burst", "unusual_mcc")

_CARD_DUPLICATE_RATE = 0.005
_CARD_MALFORMED_RATE = 0.003
_CARD_ANOMALY_RATE = 0.005
_CARD_UNKNOWN_CURRENCY_RATE = 0.002

# Text written to the currency field: the codes, then the unknown spellings used as dirt.
_RMB, _XXX = len(_CURRENCIES), len(_CURRENCIES) + 1
_CURRENCY_TEXT = (*_CURRENCIES, "RMB", "XXX", *(f"{c.lower()} " for c in _CURRENCIES[1:]))

_CARD_CHANNELS = ("POS", "ECOM", "ATM", "CONTACTLESS")
_POS, _ECOM, _ATM, _CONTACTLESS = range(4)
_WALLETS = ("alipay", "wechat", "applepay")

_N_LOCATIONS = len(CITIES) + len(FOREIGN_CITIES)  # domestic cities first, then abroad
_MACAU = len(CITIES) + [c.en for c in FOREIGN_CITIES].index("Macau")
_MCC_ATM = catalog.MCC_INDEX["6011"]
_MCC_GAMBLING = catalog.MCC_INDEX["7995"]
_MCC_JEWELLERY = catalog.MCC_INDEX["5944"]
_MCC_ONLINE_GOODS = np.array([catalog.MCC_INDEX[c] for c in ("5732", "5999", "5691", "5311")])
_MCC_MEDIAN = np.array([m.median_amount for m in MCCS])
_MCC_SIGMA = np.array([m.sigma for m in MCCS])
_MCC_ECOM = np.array([m.ecom for m in MCCS])


@dataclass(frozen=True)
class _Merchants:
    """The merchant catalogue (shared by all chunks), as JSON literals and as plain text."""

    text: dict[str, pa.Array]  # id, name, mcc, country, city, lat, lon as plain strings
    json_id: pa.Array
    json_name: pa.Array
    json_mcc: pa.Array
    json_country: pa.Array
    json_city: pa.Array
    json_lat: pa.Array
    json_lon: pa.Array
    offset_text: pa.Array
    offset_minutes: np.ndarray
    currency: np.ndarray  # index into _CURRENCIES
    first: np.ndarray  # (location, mcc) -> first merchant row
    count: np.ndarray  # (location, mcc) -> number of merchants


def _merchant_count(location: int, mcc: str) -> int:
    """How many merchants of an MCC a location has (gambling only in Macau)."""
    if mcc == "7995":
        return 3 if location == _MACAU else 0
    if location < len(CITIES):
        return {"5411": 4, "5812": 4, "5814": 3, "4511": 1}.get(mcc, 2)
    return 2 if mcc in ("5812", "7011", "5311", "5999") else 1


def _domestic_merchant_name(
    brand: str, mcc: str, city: names.City, district: names.District
) -> str:
    """A Chinese merchant name: chains carry the branch district, platforms do not."""
    if mcc in ("4511", "5999") or brand == "滴滴出行":
        return brand
    if mcc == "4111":
        return city.cn.removesuffix("市") + brand
    return f"{brand}({district.cn.removesuffix('区')}店)"


@functools.lru_cache(maxsize=2)
def _merchants(seed: int) -> _Merchants:
    """A few hundred merchants in every city and MCC, deterministic for a seed."""
    rng = _rng(seed, 0, _Stream.MERCHANTS)
    rows: list[tuple] = []  # (name, mcc, country, city, lat, lon, offset minutes, currency)
    first = np.zeros((_N_LOCATIONS, len(MCCS)), dtype=np.int64)
    count = np.zeros((_N_LOCATIONS, len(MCCS)), dtype=np.int64)
    for location in range(_N_LOCATIONS):
        for m, mcc in enumerate(MCCS):
            cn_brands, en_brands = catalog.MERCHANT_BRANDS[mcc.code]
            first[location, m] = len(rows)
            count[location, m] = _merchant_count(location, mcc.code)
            for _ in range(count[location, m]):
                if location < len(CITIES):
                    city = CITIES[location]
                    district = city.districts[rng.integers(0, len(city.districts))]
                    if cn_brands and rng.random() < 0.75:
                        brand = cn_brands[rng.integers(0, len(cn_brands))]
                        name = _domestic_merchant_name(brand, mcc.code, city, district)
                    else:
                        name = f"{en_brands[rng.integers(0, len(en_brands))]} {district.en}"
                    place = ("CN", city.en, city.lat, city.lon, 480, 0)
                else:
                    abroad = FOREIGN_CITIES[location - len(CITIES)]
                    name = f"{en_brands[rng.integers(0, len(en_brands))]} {abroad.en}"
                    place = (
                        abroad.country,
                        abroad.en,
                        abroad.lat,
                        abroad.lon,
                        abroad.utc_offset_minutes,
                        _CURRENCY_INDEX[abroad.currency],
                    )
                country, city_name, lat, lon, offset, currency = place
                lat += rng.normal(0.0, 0.04)
                lon += rng.normal(0.0, 0.04)
                rows.append((name, mcc.code, country, city_name, lat, lon, offset, currency))
    numbers = 10_000_000 + rng.choice(90_000_000, size=len(rows), replace=False)
    text = {
        "id": [f"M{n}" for n in numbers.tolist()],
        "name": [r[0] for r in rows],
        "mcc": [r[1] for r in rows],
        "country": [r[2] for r in rows],
        "city": [r[3] for r in rows],
        "lat": [f"{r[4]:.5f}" for r in rows],
        "lon": [f"{r[5]:.5f}" for r in rows],
    }
    return _Merchants(
        text={k: pa.array(v, pa.string()) for k, v in text.items()},
        json_id=_json_dictionary([f"M{n}" for n in numbers.tolist()]),
        json_name=_json_dictionary([r[0] for r in rows]),
        json_mcc=_json_dictionary([r[1] for r in rows]),
        json_country=_json_dictionary([r[2] for r in rows]),
        json_city=_json_dictionary([r[3] for r in rows]),
        json_lat=pa.array([f"{r[4]:.5f}" for r in rows]),
        json_lon=pa.array([f"{r[5]:.5f}" for r in rows]),
        offset_text=pa.array([_offset_text(r[6]) for r in rows]),
        offset_minutes=np.array([r[6] for r in rows]),
        currency=np.array([r[7] for r in rows]),
        first=first,
        count=count,
    )


def _pick_merchants(
    merchants: _Merchants, location: np.ndarray, mcc: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random merchant of the given MCC at each location."""
    available = merchants.count[location, mcc]
    return merchants.first[location, mcc] + (rng.random(len(mcc)) * available).astype(np.int64)


@dataclass
class _CardTxns:
    """Card transactions of one chunk and batch (one element per transaction)."""

    person: np.ndarray
    account: np.ndarray  # row in _Accounts
    mcc: np.ndarray
    merchant: np.ndarray
    channel: np.ndarray
    device: np.ndarray  # device number; -1 = none; >= len(devices) = never seen before
    amount_cny: np.ndarray
    utc_ms: np.ndarray
    anomaly: np.ndarray  # 0 = none, else 1 + index into ANOMALY_TYPES

    def take(self, rows: np.ndarray) -> _CardTxns:
        """The transactions at ``rows``, in that order."""
        return _CardTxns(**{k: v[rows] for k, v in vars(self).items()})

    def append(self, other: _CardTxns) -> _CardTxns:
        """These transactions followed by ``other``."""
        return _CardTxns(
            **{k: np.concatenate([v, getattr(other, k)]) for k, v in vars(self).items()}
        )


def _spend(rng: np.random.Generator, mcc: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Log-normal card spend in CNY for MCCs and per-transaction log shifts."""
    return np.exp(np.log(_MCC_MEDIAN[mcc]) + shift + _MCC_SIGMA[mcc] * rng.normal(size=len(mcc)))


def _everyday_card_txns(
    chunk: _Chunk, merchants: _Merchants, rng: np.random.Generator, first_day: int, n_days: int
) -> _CardTxns:
    """Normal card use: weekly and daily rhythm, segment spend mix, trips abroad, habits."""
    people, accounts, devices = chunk.people, chunk.accounts, chunk.devices
    segment = people.segment
    rate = _segment_array("card_txn_rate")[segment] * people.activity
    person = np.repeat(np.arange(len(people)), rng.poisson(rate * n_days))
    n = len(person)
    weekday = (first_day + np.arange(n_days) + 3) % 7  # 1970-01-01 was a Thursday
    day_weight = np.where(weekday >= 5, 1.15, 1.0)
    day = first_day + rng.choice(n_days, size=n, p=day_weight / day_weight.sum())
    weekend = (day + 3) % 7 >= 5
    trip_start = people.trip_start[person]
    abroad = (
        people.traveller[person]
        & (day >= trip_start)
        & (day < trip_start + people.trip_length[person])
    )

    mix = np.array([catalog.MCC_MIX[s.name] for s in SEGMENTS])
    weekend_factor = np.array([m.weekend_factor for m in MCCS])
    travel_factor = np.array([m.travel_factor for m in MCCS])
    group = segment[person] * 4 + weekend * 2 + abroad
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(SEGMENTS) * 4 + 1))
    mcc = np.empty(n, dtype=np.int64)
    for g in range(len(SEGMENTS) * 4):
        rows = order[bounds[g] : bounds[g + 1]]
        weights = (
            mix[g // 4] * (weekend_factor if g & 2 else 1.0) * (travel_factor if g & 1 else 1.0)
        )
        mcc[rows] = rng.choice(len(MCCS), size=len(rows), p=weights / weights.sum())
    habit = rng.random(n)
    mcc[people.gambler[person] & (habit < 0.04)] = _MCC_GAMBLING
    mcc[people.jeweller[person] & (habit > 0.97)] = _MCC_JEWELLERY

    ecom = _MCC_ECOM[mcc] & (rng.random(n) < _segment_array("ecom_share")[segment[person]])
    tap = rng.random(n) < _segment_array("contactless_share")[segment[person]]
    channel = np.select([mcc == _MCC_ATM, ecom, tap], [_ATM, _ECOM, _CONTACTLESS], _POS)
    location = np.where(
        ~ecom & (rng.random(n) < 0.04), rng.integers(0, len(CITIES), n), people.city[person]
    )
    location = np.where(abroad & ~ecom, len(CITIES) + people.trip_city[person], location)
    location = np.where(mcc == _MCC_GAMBLING, _MACAU, location)
    merchant = _pick_merchants(merchants, location, mcc, rng)

    hour = np.where(
        weekend,
        _choose(rng, catalog.CARD_HOURS_WEEKEND, n),
        _choose(rng, catalog.CARD_HOURS_WEEKDAY, n),
    )
    local_ms = day * _MS_PER_DAY + hour * 3_600_000 + rng.integers(0, 3_600_000, n)
    second = devices.secondary[person]
    own_device = np.where((second >= 0) & (rng.random(n) < 0.3), second, devices.primary[person])
    card = accounts.card[person]
    return _CardTxns(
        person=person,
        account=np.where((card >= 0) & (rng.random(n) < 0.75), card, accounts.savings[person]),
        mcc=mcc,
        merchant=merchant,
        channel=channel,
        device=np.where((channel == _ECOM) | (channel == _CONTACTLESS), own_device, -1),
        amount_cny=_spend(rng, mcc, _spend_shift(people, person)),
        utc_ms=local_ms - merchants.offset_minutes[merchant] * 60_000,
        anomaly=np.zeros(n, dtype=np.int8),
    )


def _spend_shift(people: _People, person: np.ndarray) -> np.ndarray:
    """Log-scale spend level of the given persons (segment plus personal habit)."""
    return _segment_array("amount_log_shift")[people.segment[person]] + people.amount_shift[person]


def _inject_anomalies(
    chunk: _Chunk,
    txns: _CardTxns,
    merchants: _Merchants,
    rng: np.random.Generator,
    first_day: int,
    n_days: int,
) -> tuple[_CardTxns, int]:
    """Plant ~0.5% anomalous transactions; return them with the number of fresh devices.

    huge_amount: 25-60x the amount of a normal purchase. foreign_new_device: a purchase in a
    country a non-travelling customer never visits, from a device never seen before.
    unusual_mcc: jewellery or gambling for a customer without that habit. night_burst: 5-8
    online purchases between 02:00 and 04:00 local time, seconds to minutes apart.
    """
    people, accounts, devices = chunk.people, chunk.accounts, chunk.devices
    n = len(txns.person)
    target = max(len(ANOMALY_TYPES), _share(n, _CARD_ANOMALY_RATE))
    free = np.ones(n, dtype=bool)

    def pick(eligible: np.ndarray, wanted: int) -> np.ndarray:
        candidates = np.flatnonzero(eligible & free)
        chosen = np.sort(rng.choice(candidates, min(wanted, len(candidates)), replace=False))
        free[chosen] = False
        return chosen

    not_atm = txns.mcc != _MCC_ATM
    huge = pick(not_atm, max(1, _share(target, 0.3)))
    txns.amount_cny[huge] *= rng.uniform(25, 60, len(huge))
    txns.anomaly[huge] = 1 + ANOMALY_TYPES.index("huge_amount")

    foreign = pick(not_atm & ~people.traveller[txns.person], max(1, _share(target, 0.25)))
    k = len(foreign)
    txns.mcc[foreign] = rng.choice(_MCC_ONLINE_GOODS, k)
    abroad = len(CITIES) + rng.integers(0, len(FOREIGN_CITIES), k)
    txns.merchant[foreign] = _pick_merchants(merchants, abroad, txns.mcc[foreign], rng)
    txns.channel[foreign] = np.where(rng.random(k) < 0.5, _ECOM, _CONTACTLESS)
    txns.device[foreign] = len(devices.ids) + np.arange(k)
    txns.amount_cny[foreign] = 2 * _spend(
        rng, txns.mcc[foreign], _spend_shift(people, txns.person[foreign])
    )
    txns.anomaly[foreign] = 1 + ANOMALY_TYPES.index("foreign_new_device")

    no_habit = ~people.gambler[txns.person] & ~people.jeweller[txns.person]
    unusual = pick(not_atm & no_habit, max(1, _share(target, 0.2)))
    gamble = rng.random(len(unusual)) < 0.4
    who = txns.person[unusual]
    txns.mcc[unusual] = np.where(gamble, _MCC_GAMBLING, _MCC_JEWELLERY)
    where = np.where(gamble, _MACAU, people.city[who])
    txns.merchant[unusual] = _pick_merchants(merchants, where, txns.mcc[unusual], rng)
    txns.channel[unusual] = np.where(gamble, _ECOM, _POS)
    txns.device[unusual] = np.where(gamble, devices.primary[who], -1)
    txns.amount_cny[unusual] = 1.5 * _spend(rng, txns.mcc[unusual], _spend_shift(people, who))
    txns.anomaly[unusual] = 1 + ANOMALY_TYPES.index("unusual_mcc")

    bursts = max(1, _share(target * 0.25, 1 / 6.5))
    sizes = rng.integers(5, 9, bursts)
    person = np.repeat(rng.choice(len(people), bursts), sizes)
    start = (first_day + rng.integers(0, n_days, bursts)) * _MS_PER_DAY + rng.integers(
        2 * 3_600_000, 4 * 3_600_000, bursts
    )
    gaps = rng.integers(15_000, 120_000, int(sizes.sum()))
    elapsed = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(sizes) - sizes], sizes)
    m = len(person)
    mcc = rng.choice(_MCC_ONLINE_GOODS, m)
    merchant = _pick_merchants(merchants, people.city[person], mcc, rng)
    card = accounts.card[person]
    burst = _CardTxns(
        person=person,
        account=np.where(card >= 0, card, accounts.savings[person]),
        mcc=mcc,
        merchant=merchant,
        channel=np.full(m, _ECOM),
        device=devices.primary[person],
        amount_cny=_spend(rng, mcc, _spend_shift(people, person)),
        utc_ms=np.repeat(start, sizes) + elapsed - merchants.offset_minutes[merchant] * 60_000,
        anomaly=np.full(m, 1 + ANOMALY_TYPES.index("night_burst"), dtype=np.int8),
    )
    return txns.append(burst), k


@dataclass
class _CardBatch:
    """One batch of card transactions as exported: values, dirt and export plan."""

    batch: str
    prefix: str  # a transaction's id is the prefix and its row number
    txns: _CardTxns  # in time order
    amount: np.ndarray  # in the merchant's currency
    currency: np.ndarray  # the merchant's currency: index into _CURRENCIES
    currency_text: np.ndarray  # as the standard layout spells it: index into _CURRENCY_TEXT
    time_style: np.ndarray  # standard layout: ISO with offset, local slashes, epoch ms
    wallet: np.ndarray | None  # b0002 only: index into _WALLETS, len(_WALLETS) = none
    order: np.ndarray  # row per exported line (duplicates repeat)
    cut: np.ndarray  # per line: fraction kept of a malformed line, 0 = intact
    malformed: int
    duplicates: int
    device_ids: list[str | None]  # device number -> id; the last entry (None) = no device
    anomalies: pa.Table  # truth

    def txn_ids(self, rows: np.ndarray, quote: str = "") -> pa.Array:
        """The transaction ids of ``rows``."""
        return _ids(self.prefix, rows, 10, quote)


def _card_batch(chunk: _Chunk, batch: str, rng: np.random.Generator) -> _CardBatch:
    """Generate one batch of card transactions with their anomalies, dirt and export plan."""
    cfg, spec = chunk.cfg, chunk.spec
    devices = chunk.devices
    initial = batch == INITIAL_BATCH
    first_day = cfg.start_day if initial else cfg.end_day
    n_days = cfg.days if initial else DELTA_DAYS
    merchants = _merchants(cfg.seed)
    txns = _everyday_card_txns(chunk, merchants, rng, first_day, n_days)
    txns, fresh = _inject_anomalies(chunk, txns, merchants, rng, first_day, n_days)
    txns = txns.take(np.argsort(txns.utc_ms, kind="stable"))
    n = len(txns.person)

    currency = merchants.currency[txns.merchant]
    amount = txns.amount_cny / _FX_BASE[currency]
    jpy = currency == _CURRENCY_INDEX["JPY"]
    cash_unit = np.where(jpy, 10_000.0, 100.0)
    atm = txns.mcc == _MCC_ATM
    amount[atm] = np.maximum(
        cash_unit[atm], np.round(amount[atm] / cash_unit[atm]) * cash_unit[atm]
    )
    amount = np.where(jpy, np.round(amount), np.round(amount, 2))
    unknown = (rng.random(n) < _CARD_UNKNOWN_CURRENCY_RATE) & (txns.anomaly == 0)
    spelled = np.where(
        currency == 0,
        np.where(rng.random(n) < 0.6, _RMB, _XXX),
        np.where(rng.random(n) < 0.6, _XXX + currency, _XXX),
    )
    currency_text = np.where(unknown, spelled, currency)
    time_style = _choose(rng, (0.90, 0.05, 0.05), n)  # ISO with offset, local slashes, epoch ms
    # The delta batch's schema drift: which wallet (if any) paid, on online and tap payments.
    wallet = (
        np.select(
            [txns.channel == _ECOM, txns.channel == _CONTACTLESS],
            [_choose(rng, (0.45, 0.40, 0.0, 0.15), n), _choose(rng, (0.3, 0.3, 0.3, 0.1), n)],
            len(_WALLETS),
        )
        if not initial
        else None
    )
    order, cut, malformed, duplicates = _dirty_line_plan(
        rng, n, _CARD_DUPLICATE_RATE, _CARD_MALFORMED_RATE, protected=txns.anomaly > 0
    )

    batch_digit = 1 if initial else 2
    prefix = f"TX{spec.index:05d}{batch_digit}"
    fresh_ids = _device_ids(
        cfg, spec.index, _FRESH_DEVICE_BASE + 100_000 * batch_digit + np.arange(fresh)
    )
    anomalous = np.flatnonzero(txns.anomaly > 0)
    return _CardBatch(
        batch=batch,
        prefix=prefix,
        txns=txns,
        amount=amount,
        currency=currency,
        currency_text=currency_text,
        time_style=time_style,
        wallet=wallet,
        order=order,
        cut=cut,
        malformed=malformed,
        duplicates=duplicates,
        device_ids=[*devices.ids, *fresh_ids, None],
        anomalies=pa.table(
            {
                "txn_id": [f"{prefix}{i:010d}" for i in anomalous.tolist()],
                "anomaly_type": [ANOMALY_TYPES[a - 1] for a in txns.anomaly[anomalous].tolist()],
            },
            schema=_TRUTH_SCHEMAS["anomalies"],
        ),
    )


def _write_card_batch(chunk: _Chunk, cards: _CardBatch) -> None:
    """Write a batch of card transactions as JSON lines."""
    records, accounts = chunk.records, chunk.accounts
    txns, amount, currency_text, wallet = (
        cards.txns,
        cards.amount,
        cards.currency_text,
        cards.wallet,
    )
    time_style = cards.time_style
    merchants = _merchants(chunk.cfg.seed)
    account_ids = _json_dictionary(accounts.account_id)
    customer_ids = _json_dictionary(records.primary)
    device_ids = _json_dictionary(cards.device_ids)
    currencies = _json_dictionary(list(_CURRENCY_TEXT))
    channels = _json_dictionary(list(_CARD_CHANNELS))
    wallets = _json_dictionary([*_WALLETS, None])

    def render(rows: np.ndarray) -> pa.Array:
        merchant = pa.array(txns.merchant[rows])
        ecom = pa.array(txns.channel[rows] == _ECOM)
        utc_ms = txns.utc_ms[rows]
        day, clock = _day_and_clock(
            utc_ms + merchants.offset_minutes[txns.merchant[rows]] * 60_000, millis=False
        )
        iso = pc.binary_join_element_wise(
            '"', day, "T", clock, merchants.offset_text.take(merchant), '"', ""
        )
        slashed = pc.binary_join_element_wise(
            '"', pc.replace_substring(day, "-", "/"), " ", clock, '"', ""
        )
        style = time_style[rows]
        local_time = pc.if_else(
            pa.array(style == 2),
            pc.cast(pa.array(utc_ms), pa.string()),
            pc.if_else(pa.array(style == 1), slashed, iso),
        )
        device = txns.device[rows]
        parts = [
            '{"txn_id":',
            cards.txn_ids(rows, '"'),
            ',"account_id":',
            account_ids.take(pa.array(txns.account[rows])),
            ',"customer_src_id":',
            customer_ids.take(pa.array(txns.person[rows])),
            ',"amount":',
            pc.cast(pa.array(amount[rows]), pa.string()),
            ',"currency":',
            currencies.take(pa.array(currency_text[rows])),
            ',"merchant_id":',
            merchants.json_id.take(merchant),
            ',"merchant_name":',
            merchants.json_name.take(merchant),
            ',"mcc":',
            merchants.json_mcc.take(merchant),
            ',"channel":',
            channels.take(pa.array(txns.channel[rows])),
            ',"device_id":',
            device_ids.take(pa.array(np.where(device < 0, len(device_ids) - 1, device))),
            ',"country":',
            merchants.json_country.take(merchant),
            ',"city":',
            merchants.json_city.take(merchant),
            ',"lat":',
            pc.if_else(ecom, "null", merchants.json_lat.take(merchant)),
            ',"lon":',
            pc.if_else(ecom, "null", merchants.json_lon.take(merchant)),
            ',"local_time":',
            local_time,
        ]
        if wallet is not None:
            parts += [',"wallet_provider":', wallets.take(pa.array(wallet[rows]))]
        return pc.binary_join_element_wise(*parts, "}", "")

    path = chunk.out.path("card_transactions", cards.batch, ".json")
    _write_json_lines(path, render, cards.order, cards.cut)
    chunk.out.tally(
        "card_transactions", cards.batch, len(cards.order), cards.malformed, cards.duplicates
    )
