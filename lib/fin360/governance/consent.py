"""Consent per purpose, and what each purpose gates.

Each purpose in ``consent.purposes`` (profiling, marketing, data sharing) is a boolean column
of the canonical customer, mapped from whichever source column a bank's mapping names. In
``silver.customers`` (SCD2) a change of consent opens a new version: its ``valid_from`` is the
date the new state took effect, and the table's versions are the history. ``gold.customer_360``
carries the state in force on each as-of date. A purpose the bank's export does not deliver
takes the purpose's ``missing`` state (for example: marketing is opt-in, so a missing state is
no consent).

``consent.gates`` names the purposes each use needs: ``segments`` (a customer's segment),
``training`` (rows of a model's training set: segmentation and credit risk), ``offers``
(next-best offers). Fraud scoring is not gated: it is done under the bank's legal obligation,
not under consent.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from fin360.config import Config, ConfigError

USES = ("segments", "training", "offers")


def purposes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Purpose -> ``{column, missing}``, checked."""
    found = cfg["consent.purposes"] or {}
    for name, spec in found.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
            raise ConfigError(f"consent.purposes.{name}: needs column (a customer_360 column)")
        if not isinstance(spec.get("missing"), bool):
            raise ConfigError(f"consent.purposes.{name}.missing: must be true or false")
    return found


def granted(cfg: Config, purpose: str, columns: list[str]) -> Column:
    """Whether the customer consents to ``purpose``, on a frame of ``columns``: the delivered
    state, else (a null, or no such column) the purpose's ``missing`` state."""
    spec = purposes(cfg).get(purpose)
    if spec is None:
        raise ConfigError(f"consent: unknown purpose '{purpose}' (known: {sorted(purposes(cfg))})")
    if spec["column"] not in columns:
        return F.lit(spec["missing"])
    return F.coalesce(F.col(spec["column"]), F.lit(spec["missing"]))


def allowed(cfg: Config, use: str, columns: list[str]) -> Column:
    """Whether a customer may be used for ``use``: every purpose it needs is granted."""
    if use not in USES:
        raise ConfigError(f"consent: unknown use '{use}' (known: {list(USES)})")
    out = F.lit(True)
    for purpose in (cfg["consent.gates"] or {}).get(use) or []:
        out = out & granted(cfg, purpose, columns)
    return out


def states(cfg: Config, columns: list[str]) -> dict[str, Column]:
    """Column name -> the state of its purpose: what a score or an offer records."""
    return {
        spec["column"]: granted(cfg, p, columns).alias(spec["column"])
        for p, spec in purposes(cfg).items()
    }


def columns(cfg: Config) -> list[str]:
    return [spec["column"] for spec in purposes(cfg).values()]
