"""Reference sources: the product catalogue and the FX rates (batch b0001 only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fin360.sources.catalog import PRODUCTS
from fin360.sources.generator.common import (
    _CURRENCIES,
    _CURRENCY_INDEX,
    _FX_BASE,
    DELTA_DAYS,
    INITIAL_BATCH,
    _rng,
    _RunConfig,
    _Stream,
)
from fin360.sources.generator.crm import CRM_GBK_BRANCH
from fin360.sources.generator.writers import _ChunkOutput, _csv_text, _FileSet, _iso_days

FX_COLUMNS = ("rate_date", "currency", "rate_to_cny")
PRODUCT_COLUMNS = ("product_code", "product_name", "category", "min_age", "risk_level", "currency")


@dataclass(frozen=True)
class _FxRates:
    """Published daily FX rates over the period and the delta days, with one gap."""

    dates: list[str]  # ISO dates, one per row of ``rates``
    days: np.ndarray  # the same dates as epoch days
    rates: np.ndarray  # (days, currencies): CNY per unit of each of _CURRENCIES
    missing_currency: int  # index into _CURRENCIES (never CNY) of the currency with gaps
    missing_days: frozenset[int]  # rows on which that currency's rate is not published

    def published(self, day: int, currency: int) -> bool:
        """Whether the rate of ``currency`` on row ``day`` is in the fx_rates source."""
        return not (currency == self.missing_currency and day in self.missing_days)


def _fx_rates(cfg: _RunConfig) -> _FxRates:
    """Rates that random-walk around `_FX_BASE`; HKD follows USD (the peg)."""
    rng = _rng(cfg.seed, 0, _Stream.FX)
    n_days = cfg.days + DELTA_DAYS
    steps = rng.normal(0.0, 0.003, size=(n_days, len(_CURRENCIES)))
    steps[0] = 0.0
    rates = _FX_BASE * np.exp(np.cumsum(steps, axis=0))
    # The Hong Kong dollar is pegged to the US dollar.
    rates[:, _CURRENCY_INDEX["HKD"]] = (
        rates[:, _CURRENCY_INDEX["USD"]] / 7.80 * (1 + rng.normal(0.0, 0.0004, n_days))
    )
    missing_currency = 1 + int(rng.integers(0, len(_CURRENCIES) - 1))
    missing_days = set(rng.choice(np.arange(1, n_days - 1), size=2, replace=False).tolist())
    days = cfg.start_day + np.arange(n_days)
    return _FxRates(
        dates=[str(d) for d in _iso_days(days).tolist()],
        days=days,
        rates=rates,
        missing_currency=missing_currency,
        missing_days=frozenset(missing_days),
    )


def _fx_notes(fx: _FxRates) -> dict:
    """The manifest note on the FX gap."""
    return {
        "currency": _CURRENCIES[fx.missing_currency],
        "dates": sorted(fx.dates[d] for d in fx.missing_days),
    }


def _write_reference(cfg: _RunConfig, stats: dict[tuple[str, str], _FileSet], fx: _FxRates) -> dict:
    """Write products and fx_rates (batch b0001 only) and return the manifest notes."""
    out = _ChunkOutput(cfg.raw_dir, 0)
    rows = [
        [p.code, p.name, p.category, str(p.min_age), str(p.risk_level), p.currency]
        for p in PRODUCTS
    ]
    path = out.path("products", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(PRODUCT_COLUMNS, rows), encoding="utf-8")
    out.tally("products", INITIAL_BATCH, len(rows))

    fx_rows = [
        [fx.dates[d], _CURRENCIES[c], f"{fx.rates[d, c]:.6f}"]
        for d in range(len(fx.dates))
        for c in range(1, len(_CURRENCIES))
        if fx.published(d, c)
    ]
    path = out.path("fx_rates", INITIAL_BATCH, ".csv")
    path.write_text(_csv_text(FX_COLUMNS, fx_rows), encoding="utf-8")
    out.tally("fx_rates", INITIAL_BATCH, len(fx_rows))
    stats.update(out.stats)
    return {
        "fx_rates_missing": _fx_notes(fx),
        "unknown_currency_codes": ["XXX", "RMB", "<lower-case code with trailing space>"],
        "crm_gbk_branch": CRM_GBK_BRANCH,
    }
