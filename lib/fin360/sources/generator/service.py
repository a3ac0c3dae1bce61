"""Customer service and external data: complaints and the credit bureau (CSV)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from fin360.sources import catalog
from fin360.sources.catalog import PRODUCTS, SEGMENTS
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.common import INITIAL_BATCH, _choose, _segment_array
from fin360.sources.generator.transfers import _random_times
from fin360.sources.generator.truth import _TRUTH_SCHEMAS
from fin360.sources.generator.writers import _ChunkOutput, _csv_text, _fullwidth, _iso_days
from fin360.sources.names import CITIES

COMPLAINT_COLUMNS = ("complaint_id", "customer_src_id", "channel", "category", "text", "created_at")
BUREAU_COLUMNS = (
    "bureau_record_id",
    "resident_id",
    "name",
    "report_date",
    "bureau_score",
    "delinquencies_24m",
    "inquiries_6m",
    "total_debt",
    "open_lines",
)

_BUREAU_COVERAGE = 0.9


def _product_name(code: str, chinese: bool) -> str:
    """The Chinese or English half of a bilingual product name."""
    english, _, local = PRODUCTS[catalog.PRODUCT_INDEX[code]].name.rpartition(" ")
    return local if chinese else english


def _write_complaints(chunk: _Chunk, rng: np.random.Generator) -> None:
    """~3% of customers complain (small businesses most); text from varied templates."""
    cfg, people, records, loans = chunk.cfg, chunk.people, chunk.records, chunk.loans
    segment = people.segment
    chance = np.clip(_segment_array("complaint_rate")[segment] * cfg.days / 180, 0, 0.9)
    who = np.repeat(
        np.arange(len(people)),
        (rng.random(len(people)) < chance) * (1 + rng.poisson(0.3, len(people))),
    )
    duplicate_of = dict(zip(records.fuzzy_person.tolist(), records.fuzzy_id, strict=True))
    borrower = np.zeros(len(people), dtype=bool)
    borrower[loans.person] = True
    categories = list(catalog.COMPLAINT_TEMPLATES)
    when = _random_times(cfg, rng, len(who)) // 1000
    rows = []
    for p, moment in zip(who.tolist(), np.sort(when).tolist(), strict=True):
        category = categories[_choose(rng, catalog.COMPLAINT_MIX[SEGMENTS[segment[p]].name], 1)[0]]
        if category == "loan_rate" and not borrower[p]:
            category = "fees"
        chinese = rng.random() < (0.7 if people.chinese[p] else 0.25)
        templates = catalog.COMPLAINT_TEMPLATES[category][0 if chinese else 1]
        stamp = datetime(1970, 1, 1) + timedelta(seconds=moment)
        incident = stamp - timedelta(days=int(rng.integers(0, 10)))
        city = CITIES[people.city[p]]
        district = city.districts[people.district[p]]
        product = SEGMENTS[segment[p]].product_interest[0]
        openers = catalog.COMPLAINT_OPENERS[0 if chinese else 1]
        closers = catalog.COMPLAINT_CLOSERS[0 if chinese else 1]
        opener = openers[rng.integers(0, len(openers))]
        closer = closers[rng.integers(0, len(closers))]
        body = templates[rng.integers(0, len(templates))].format(
            amount=rng.choice((10, 15, 20, 25, 50, 80, 120, 200, 300)),
            month=incident.month,
            day=incident.day,
            minutes=rng.integers(15, 121),
            times=rng.integers(2, 7),
            branch=(
                f"{city.cn.removesuffix('市')}{district.cn}支行"
                if chinese
                else f"the {district.en} branch"
            ),
            product=_product_name(product, chinese),
        )
        text = " ".join(part for part in (opener, body, closer) if part)
        # Some complaints are filed under the person's duplicate record from another branch.
        src = records.primary[p]
        if p in duplicate_of and rng.random() < 0.3:
            src = duplicate_of[p]
        rows.append(
            [
                "",
                src,
                catalog.COMPLAINT_CHANNELS[_choose(rng, (0.3, 0.25, 0.2, 0.1, 0.15), 1)[0]],
                category,
                text,
                stamp.strftime("%Y/%m/%d %H:%M" if rng.random() < 0.05 else "%Y-%m-%d %H:%M:%S"),
            ]
        )
    for number, row in enumerate(rows):
        row[0] = f"CMP{chunk.spec.index:05d}{number:07d}"
    path = chunk.out.path("complaints", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(COMPLAINT_COLUMNS, rows), encoding="utf-8")
    chunk.out.tally("complaints", INITIAL_BATCH, len(rows))


def _bureau_resident_id(resident_id: str, style: int) -> str:
    """The bureau's spelling of a resident ID: plain, spaced, full-width or lower-case x."""
    if style == 1:
        return f"{resident_id[:6]} {resident_id[6:14]} {resident_id[14:]}"
    if style == 2:
        return _fullwidth(resident_id)
    if style == 3:
        return resident_id.lower()
    return resident_id


def _bureau(chunk: _Chunk, rng: np.random.Generator) -> tuple[list[list[str]], pa.Table]:
    """One bureau record for ~90% of persons, keyed by resident ID: the CSV rows and the
    identity truth."""
    cfg, people, accounts, loans = chunk.cfg, chunk.people, chunk.accounts, chunk.loans
    count = len(people)
    covered = rng.permutation(np.flatnonzero(rng.random(count) < _BUREAU_COVERAGE))
    p = people.propensity
    logit = np.log(p / (1 - p))
    score = np.clip(np.round(705 - 75 * (logit + 2.8) + rng.normal(0, 30, count)), 300, 850)
    debt = np.zeros(count)
    np.add.at(debt, loans.person, loans.outstanding)
    card = accounts.card
    debt[card >= 0] += np.maximum(0.0, -accounts.balance[card[card >= 0]])
    debt += np.where(rng.random(count) < 0.4, people.income * rng.lognormal(-2.0, 0.8, count), 0)
    lines = (card >= 0).astype(int) + rng.poisson(0.8 + 2 * p)
    np.add.at(lines, loans.person, (loans.status != "closed").astype(int))
    report = cfg.start_day + rng.integers(0, min(14, cfg.days), count)
    recent = np.zeros(count, dtype=int)  # loan applications in the 6 months before the report
    since_application = report[loans.person] - loans.application_day
    np.add.at(recent, loans.person, (since_application >= 0) & (since_application < 180))
    inquiries = rng.poisson(0.4 + 3 * p) + recent
    delinquencies = rng.poisson(5 * p)
    style = _choose(rng, (0.85, 0.05, 0.05, 0.05), count)
    shout = rng.random(count) < 0.5
    report_text = _iso_days(report)
    rows, record_ids = [], []
    for number, i in enumerate(covered.tolist()):
        record_id = f"BUR{chunk.spec.index:05d}{number:07d}"
        record_ids.append(record_id)
        name = people.name[i].upper() if not people.chinese[i] and shout[i] else people.name[i]
        rows.append(
            [
                record_id,
                _bureau_resident_id(people.resident_id[i], int(style[i])),
                name,
                str(report_text[i]),
                str(int(score[i])),
                str(int(delinquencies[i])),
                str(int(inquiries[i])),
                f"{debt[i]:.2f}",
                str(int(lines[i])),
            ]
        )
    return rows, pa.table(
        {"bureau_record_id": record_ids, "person_id": [people.person_id[i] for i in covered]},
        schema=_TRUTH_SCHEMAS["bureau_identity"],
    )


def _write_bureau(out: _ChunkOutput, rows: list[list[str]]) -> None:
    """The bureau records as CSV with a header."""
    path = out.path("credit_bureau", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(BUREAU_COLUMNS, rows), encoding="utf-8")
    out.tally("credit_bureau", INITIAL_BATCH, len(rows))
