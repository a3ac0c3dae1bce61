"""Seeded, chunked ("partitioned numpy") generator of fin360's raw sources and planted truth.

`generate` writes one bank's source-system deliveries under ``raw_dir`` and the ground truth
under ``truth_dir`` (never inside ``raw_dir``)::

    raw_dir/<source>/batch=<batch_id>/part-<chunk:05d>.<ext>
    truth_dir/{persons,customer_identity,bureau_identity,fraud_rings,anomalies,
               loan_labels}.parquet, truth_dir/manifest.json

Customers are split into chunks of ``chunk_customers``. A chunk is generated on its own from
``np.random.default_rng([seed, chunk_index, stream])`` (one stream per source), so output is
byte-identical whatever the number of worker processes, and memory is bounded per chunk.
Reference data (products, FX rates) comes from the chunk-0 slot with streams no chunk uses.

Values are written as the source system would write them, dirty on purpose: mixed date,
phone and timestamp formats, full-width characters, GBK files, exact and fuzzy duplicates,
malformed lines, unknown currencies and a schema drift in the second batch. The manifest
counts every physical record so that ingestion can reconcile exactly.

The bank can be exported in one of `LAYOUTS`: the same seed gives the same bank (persons,
records, accounts, transactions, loans, rates, ids) and the same truth in every layout. The
standard layout's formats (``b0001`` = initial load, ``b0002`` = a later delivery):

- crm_customers: CSV + header, UTF-8; the GZ branch's rows are in ``-gz.gbk.csv`` files in
  GBK. b0002 holds address changes (same id, later updated_at) and new customers.
- core_accounts: fixed width (`CORE_ACCOUNTS_LAYOUT`), ASCII, no header, ``.txt``; daily
  snapshots: b0001 as of the last day of the period (``snapshot_date``), b0002 the snapshot
  `DELTA_DAYS` later with only the accounts that changed (new balance, dormant or closed).
- card_transactions: JSON lines; b0002 adds ``wallet_provider`` and covers `DELTA_DAYS`
  days after the period.
- transfers: Parquet (`TRANSFER_SCHEMA`). app_events: JSON lines.
- loans: CSV + header; b0001 as of the last day of the period (``as_of_date``), b0002 the
  snapshot `DELTA_DAYS` later with only the loans whose arrears moved on (consistent with
  the ``loan_labels`` truth: defaulters only get later, others never reach 90 days).
- complaints, credit_bureau, fx_rates, products: CSV + header, UTF-8.

The b0002 snapshots of core_accounts and loans also re-deliver ~1% of b0001 lines byte for
byte (same snapshot date): the manifest counts them as that batch's ``exact_duplicates``.
The harbour layout (``layout="harbour"``, sources `HARBOUR_SOURCES`) is described in
`fin360.sources.generator.harbour`.

Modules: `plan` (validation, chunk planning, orchestration), `common` (batches, sources,
run config, random streams), `writers`, `people`, `crm`, `banking`, `cards`, `transfers`,
`events`, `service`, `reference`, `truth`, `harbour`.
"""

from __future__ import annotations

from fin360.sources.generator.banking import CORE_ACCOUNTS_LAYOUT, LOAN_COLUMNS
from fin360.sources.generator.cards import ANOMALY_TYPES, CARD_COLUMNS, CARD_DELTA_COLUMNS
from fin360.sources.generator.common import (
    DELTA_BATCH,
    DELTA_DAYS,
    GENERATOR_VERSION,
    HARBOUR_SOURCES,
    INITIAL_BATCH,
    LAYOUT_SOURCES,
    LAYOUTS,
    SOURCES,
)
from fin360.sources.generator.crm import CRM_COLUMNS, CRM_GBK_BRANCH
from fin360.sources.generator.events import APP_EVENT_COLUMNS
from fin360.sources.generator.harbour import (
    HARBOUR_ACCOUNT_COLUMNS,
    HARBOUR_ACCOUNT_STATUS,
    HARBOUR_BASE_CURRENCY,
    HARBOUR_CARD_CHANNELS,
    HARBOUR_CARD_COLUMNS,
    HARBOUR_CLIENT_COLUMNS,
    HARBOUR_COLUMNS,
    HARBOUR_COMMENT,
    HARBOUR_FX_COLUMNS,
    HARBOUR_HOLDER_COLUMNS,
    HARBOUR_LOAN_COLUMNS,
    HARBOUR_LOAN_STATUS,
    HARBOUR_PAYMENT_COLUMNS,
    HARBOUR_PRODUCT_COLUMNS,
    HARBOUR_PRODUCT_FAMILIES,
)
from fin360.sources.generator.people import is_valid_resident_id, resident_id_check_digit
from fin360.sources.generator.plan import generate
from fin360.sources.generator.reference import FX_COLUMNS, PRODUCT_COLUMNS
from fin360.sources.generator.service import BUREAU_COLUMNS, COMPLAINT_COLUMNS
from fin360.sources.generator.transfers import TRANSFER_SCHEMA

__all__ = [
    "ANOMALY_TYPES",
    "APP_EVENT_COLUMNS",
    "BUREAU_COLUMNS",
    "CARD_COLUMNS",
    "CARD_DELTA_COLUMNS",
    "COMPLAINT_COLUMNS",
    "CORE_ACCOUNTS_LAYOUT",
    "CRM_COLUMNS",
    "CRM_GBK_BRANCH",
    "DELTA_BATCH",
    "DELTA_DAYS",
    "FX_COLUMNS",
    "GENERATOR_VERSION",
    "HARBOUR_ACCOUNT_COLUMNS",
    "HARBOUR_ACCOUNT_STATUS",
    "HARBOUR_BASE_CURRENCY",
    "HARBOUR_CARD_CHANNELS",
    "HARBOUR_CARD_COLUMNS",
    "HARBOUR_CLIENT_COLUMNS",
    "HARBOUR_COLUMNS",
    "HARBOUR_COMMENT",
    "HARBOUR_FX_COLUMNS",
    "HARBOUR_HOLDER_COLUMNS",
    "HARBOUR_LOAN_COLUMNS",
    "HARBOUR_LOAN_STATUS",
    "HARBOUR_PAYMENT_COLUMNS",
    "HARBOUR_PRODUCT_COLUMNS",
    "HARBOUR_PRODUCT_FAMILIES",
    "HARBOUR_SOURCES",
    "INITIAL_BATCH",
    "LAYOUTS",
    "LAYOUT_SOURCES",
    "LOAN_COLUMNS",
    "PRODUCT_COLUMNS",
    "SOURCES",
    "TRANSFER_SCHEMA",
    "generate",
    "is_valid_resident_id",
    "resident_id_check_digit",
]
