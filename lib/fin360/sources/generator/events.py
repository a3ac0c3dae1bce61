"""Mobile and web app sessions (JSON lines)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fin360.sources import catalog
from fin360.sources.catalog import PRODUCTS, SEGMENTS
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import (
    _HOME_OFFSET_MS,
    _MS_PER_DAY,
    INITIAL_BATCH,
    _choose,
    _segment_array,
)
from fin360.sources.generator.people import _PLATFORMS
from fin360.sources.generator.writers import (
    _day_and_clock,
    _dirty_line_plan,
    _ids,
    _json_dictionary,
    _write_json_lines,
)

APP_EVENT_COLUMNS = (
    "event_id",
    "customer_src_id",
    "device_id",
    "event_type",
    "product_code",
    "platform",
    "ip",
    "ts",
)

_APP_MALFORMED_RATE = 0.003

_APP_EVENT_TYPES = (
    "login",
    "logout",
    "view_product",
    "apply_product",
    "transfer_init",
    "password_reset",
)
_LOGIN, _LOGOUT, _VIEW, _APPLY, _TRANSFER_INIT, _PASSWORD_RESET = range(6)


def _write_app_events(chunk: _Chunk, rng: np.random.Generator) -> None:
    """Sessions of login, product views, applications, transfers and logout; fraud ring
    members also log in from their ring's shared device."""
    cfg, people, devices, rings, loans = (
        chunk.cfg,
        chunk.people,
        chunk.devices,
        chunk.rings,
        chunk.loans,
    )
    count = len(people)
    segment = people.segment
    rate = _segment_array("app_session_rate")[segment] * people.activity
    member = rings.ring_of >= 0
    own = np.repeat(np.arange(count), rng.poisson(rate * cfg.days))
    shared = np.repeat(
        np.arange(count), np.where(member, 2 + rng.poisson(0.05 * cfg.days, count), 0)
    )
    applied = np.flatnonzero(
        (loans.application_day >= cfg.start_day) & (loans.application_day < cfg.end_day)
    )
    person = np.concatenate([own, shared, loans.person[applied]])
    sessions = len(person)
    second = devices.secondary[person]
    device = np.where((second >= 0) & (rng.random(sessions) < 0.3), second, devices.primary[person])
    ring_session = np.zeros(sessions, dtype=bool)
    ring_session[: len(own)] = member[own] & (rng.random(len(own)) < 0.3)
    ring_session[len(own) : len(own) + len(shared)] = True
    device[ring_session] = devices.ring_device[rings.ring_of[person[ring_session]]]
    application = np.zeros(sessions, dtype=bool)
    application[len(own) + len(shared) :] = True
    day = np.concatenate(
        [
            rng.integers(cfg.start_day, cfg.end_day, len(own) + len(shared)),
            loans.application_day[applied],
        ]
    )
    start_ms = (
        day * _MS_PER_DAY
        + _choose(rng, catalog.APP_HOURS, sessions) * 3_600_000
        + rng.integers(0, 3_600_000, sessions)
    )

    reset = ~application & (rng.random(sessions) < 0.02)
    middle = np.where(application, 2, rng.poisson(1.6, sessions))
    logout = rng.random(sessions) < 0.6
    per_session = reset + 1 + middle + logout
    session = np.repeat(np.arange(sessions), per_session)
    events = len(session)
    position = np.arange(events) - np.repeat(np.cumsum(per_session) - per_session, per_session)
    login_at = reset[session].astype(np.int64)
    random_type = np.array([_VIEW, _APPLY, _TRANSFER_INIT])[
        _choose(rng, (0.6, 0.005, 0.395), events)
    ]
    is_application = application[session]
    event_type = np.select(
        [
            position < login_at,
            position == login_at,
            logout[session] & (position == per_session[session] - 1),
            is_application & (position == 1),
            is_application & (position == 2),
        ],
        [_PASSWORD_RESET, _LOGIN, _LOGOUT, _VIEW, _APPLY],
        random_type,
    )
    # Products a segment looks at, repeated to 5 per segment so that they form a matrix.
    interest = np.array(
        [[catalog.PRODUCT_INDEX[c] for c in np.resize(s.product_interest, 5)] for s in SEGMENTS]
    )
    product = np.where(
        rng.random(events) < 0.7,
        interest[segment[person[session]], rng.integers(0, 5, events)],
        rng.integers(0, len(PRODUCTS), events),
    )
    loan_product = np.full(sessions, -1)
    loan_product[application] = [
        catalog.PRODUCT_INDEX[catalog.LOAN_PRODUCTS[p]] for p in loans.product[applied].tolist()
    ]
    product = np.where(is_application, loan_product[session], product)
    product = np.where(np.isin(event_type, (_VIEW, _APPLY)), product, len(PRODUCTS))

    gaps = rng.exponential(40_000, events).astype(np.int64) + 500
    gaps[position == 0] = 0
    elapsed = np.cumsum(gaps) - np.repeat(
        np.cumsum(gaps)[np.cumsum(per_session) - per_session], per_session
    )
    utc_ms = start_ms[session] + elapsed - _HOME_OFFSET_MS
    order = np.argsort(utc_ms, kind="stable")
    session, event_type, product, utc_ms = (
        session[order],
        event_type[order],
        product[order],
        utc_ms[order],
    )
    ip = devices.ip[device[session]].copy()
    mobile = devices.platform[device[session]] != _PLATFORMS.index("web")
    ip[mobile, 3] = rng.integers(1, 255, events)[mobile]  # mobile networks change addresses
    as_iso = rng.random(events) < 0.1

    customer_ids = _json_dictionary(chunk.records.primary)
    device_ids = _json_dictionary(devices.ids)
    event_types = _json_dictionary(list(_APP_EVENT_TYPES))
    products = _json_dictionary([p.code for p in PRODUCTS] + [None])
    platforms = _json_dictionary(list(_PLATFORMS))

    def render(rows: np.ndarray) -> pa.Array:
        octets = [pc.cast(pa.array(ip[rows, k]), pa.string()) for k in range(4)]
        day, clock = _day_and_clock(utc_ms[rows] + _HOME_OFFSET_MS, millis=True)
        iso = pc.binary_join_element_wise('"', day, "T", clock, '+08:00"', "")
        ts = pc.if_else(pa.array(as_iso[rows]), iso, pc.cast(pa.array(utc_ms[rows]), pa.string()))
        sessions_of = session[rows]
        return pc.binary_join_element_wise(
            '{"event_id":',
            _ids(f"EV{chunk.spec.index:05d}", rows, 10, '"'),
            ',"customer_src_id":',
            customer_ids.take(pa.array(person[sessions_of])),
            ',"device_id":',
            device_ids.take(pa.array(device[sessions_of])),
            ',"event_type":',
            event_types.take(pa.array(event_type[rows])),
            ',"product_code":',
            products.take(pa.array(product[rows])),
            ',"platform":',
            platforms.take(pa.array(devices.platform[device[sessions_of]])),
            ',"ip":"',
            pc.binary_join_element_wise(*octets, "."),
            '","ts":',
            ts,
            "}",
            "",
        )

    lines, cut, malformed, _ = _dirty_line_plan(rng, events, 0.0, _APP_MALFORMED_RATE)
    _write_json_lines(chunk.out.path("app_events", INITIAL_BATCH, ".json"), render, lines, cut)
    chunk.out.tally("app_events", INITIAL_BATCH, events, malformed)
