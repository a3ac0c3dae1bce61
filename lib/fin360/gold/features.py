"""Customer-360 features, point-in-time correct, declared once.

Every feature is a :class:`Feature`: its name, an aggregate expression, a definition, its
window and its source. The aggregation code and the feature dictionary
(``docs/feature_dictionary.md``) both read :func:`all_features`, so they cannot drift apart.

Features are computed for a *spine*: rows of (``customer_id``, ``as_of_date``). An event counts
for a spine row only if it happened before the end of ``as_of_date`` (UTC), so the same code
serves the daily ``gold.customer_360`` (every customer at one date) and training sets (each
loan's customer at its application date) without leakage. Each source is aggregated in one
``groupBy`` over the spine joined with that source's events; windows are conditional
aggregates over that one pass. Spark built-ins only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import catalog

SPINE = ["customer_id", "as_of_date"]
WINDOWS = (30, 90, 365)
CARD_CHANNELS = ("POS", "ECOM", "ATM", "CONTACTLESS")
SPEND_CATEGORIES = (
    "grocery", "dining", "fuel", "electronics", "transport", "travel", "cash", "luxury",
    "gambling", "retail", "health", "education", "utilities", "entertainment", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Feature:
    name: str
    source: str  # the part that computes it: profile, holdings, transactions, ...
    definition: str
    window: str  # "as of date", "30 days", ...
    tables: str  # silver tables read
    expr: Column | None = None  # the aggregate; None when computed after aggregation

    @property
    def entity(self) -> str:
        """The canonical entity the feature needs: without it (a bank that has no such
        source), the feature is null."""
        return PART_ENTITIES[self.source]


# the canonical entity each part of the features is computed from
PART_ENTITIES = {
    "profile": "customer",
    "holdings": "account",
    "transactions": "transaction",
    "digital": "app_event",
    "service": "complaint",
    "credit": "bureau_record",
    "loans": "loan",
    "graph": "transaction",  # gold.graph_features; its identifier part needs customers only
}
# what each part reads of its (customer_id-keyed) silver input: the schema of an absent input
PART_INPUTS = {
    "account": "customer_id string, account_id string, product_code string, open_date date, "
    "status string, product_category string, currency string, balance decimal(18,2), "
    "credit_limit decimal(18,2), valid_from timestamp, is_current boolean",
    "transaction": "customer_id string, account_id string, event_ts timestamp, txn_type string, "
    "direction string, amount_base decimal(18,2), currency string, mcc_category string, "
    "channel string, counterparty_account string, merchant_id string, device_id string",
    "app_event": "customer_id string, event_ts timestamp, event_type string, device_id string",
    "complaint": "customer_id string, created_at timestamp, sentiment double, topic string",
    "bureau_record": "customer_id string, report_date date, bureau_score int, "
    "delinquencies_24m int, inquiries_6m int",
    "loan": "customer_id string, loan_id string, application_date date, "
    "principal decimal(18,2), term_months int, interest_rate decimal(6,3), status string, "
    "max_dpd_12m int, snapshot_date date",
}


def _tables(*entities: str) -> str:
    """The silver tables a feature reads: its entities', and the xref that keys them."""
    return ", ".join([*(catalog.silver(e) for e in entities), catalog.SILVER_CUSTOMER_XREF])


def _days() -> Column:
    """Whole days between a day row's ``day`` and the spine's as-of date (0 = that day)."""
    return F.datediff(F.col("as_of_date"), F.col("day"))


def _within(days: int) -> Column:
    return _days() < days


def _total(column: str, days: int) -> Column:
    """Sum of a day rows' count over the last ``days`` days (0 when there is none)."""
    return F.coalesce(F.sum(F.when(_within(days), F.col(column))), F.lit(0))


def _amount(column: str, days: int) -> Column:
    """Sum of a day rows' amount over the last ``days`` days, typed as a sum of amounts."""
    return F.sum(F.when(_within(days), F.col(column))).cast("decimal(28,2)")


def _share(numerator: str, base: str, days: int) -> Column:
    return F.try_divide(_total(numerator, days).cast("double"), _total(base, days))


def _distinct(column: str, days: int) -> Column:
    """Distinct values over the last ``days`` days of a day rows' array of distinct values."""
    return F.size(
        F.array_distinct(F.flatten(F.collect_list(F.when(_within(days), F.col(column)))))
    ).cast("bigint")


def _transaction_features() -> list[Feature]:
    tables = _tables("transaction", "account_holder")
    out = []
    for d in WINDOWS:
        out += [
            Feature(f"txn_count_{d}d", "transactions", "transactions (card and transfer, both directions)", f"{d} days", tables, _total("txns", d)),
            Feature(f"spend_{d}d", "transactions", "sum of debit amounts in base currency", f"{d} days", tables, _amount("debit_amount", d)),
        ]  # fmt: skip
    out += [
        Feature("recency_days", "transactions", "days since the last transaction", "365 days", tables, F.min(_days())),
        Feature("avg_ticket_90d", "transactions", "mean debit amount in base currency", "90 days", tables, (_amount("debit_amount", 90) / _total("debits", 90).cast("decimal(20,0)")).cast("decimal(22,6)")),
        *(
            Feature(f"spend_{c}_90d", "transactions", f"card spend in MCC category '{c}', base currency", "90 days", tables, _amount(f"card_{c}_amount", 90))
            for c in SPEND_CATEGORIES
        ),
        *(
            Feature(f"channel_share_{ch.lower()}_90d", "transactions", f"share of card transactions made via {ch}", "90 days", tables, _share(f"card_{ch.lower()}_txns", "card_txns", 90))
            for ch in CARD_CHANNELS
        ),
        Feature("night_share_90d", "transactions", "share of transactions between 00:00 and 06:00 local time", "90 days", tables, _share("night_txns", "txns", 90)),
        Feature("weekend_share_90d", "transactions", "share of transactions on Saturday or Sunday, local time", "90 days", tables, _share("weekend_txns", "txns", 90)),
        Feature("foreign_currency_share_90d", "transactions", "share of transactions not in the base currency", "90 days", tables, _share("foreign_txns", "txns", 90)),
        Feature("counterparty_count_90d", "transactions", "distinct counterparties (accounts or merchants)", "90 days", tables, _distinct("counterparties", 90)),
        Feature("inflow_outflow_ratio_90d", "transactions", "credits / debits, base currency", "90 days", tables, F.try_divide(_amount("other_amount", 90), _amount("debit_amount", 90)).cast("double")),
        Feature("velocity_max_per_hour_90d", "transactions", "most transactions on one account in one clock hour", "90 days", tables, F.max(F.when(_within(90), F.col("max_txns_per_hour")))),
        Feature("salary_like_inflow_months", "transactions", "months with a credit from the payer that pays most regularly (same payer in 3+ months, amounts within 15% of their mean)", "365 days", tables),
    ]  # fmt: skip
    return out


def _profile_features() -> list[Feature]:
    t = _tables("customer")
    return [
        Feature("gender", "profile", "gender (M/F) as recorded in the CRM", "as of date", t),
        Feature("age_band", "profile", "age in years at the as-of date, banded", "as of date", t),
        Feature("tenure_months", "profile", "months since the customer's first CRM record", "as of date", t),
        Feature("region", "profile", "province (city when the province is missing)", "as of date", t),
        Feature("occupation_band", "profile", "occupation as recorded", "as of date", t),
        Feature("income_band", "profile", "declared annual income, banded (CNY)", "as of date", t),
        Feature("marketing_consent", "profile", "consent to marketing", "as of date", t),
        Feature("data_sharing_consent", "profile", "consent to data sharing", "as of date", t),
        Feature("profiling_consent", "profile", "consent to profiling; null when not delivered", "as of date", t),
    ]  # fmt: skip


def _holding_features() -> list[Feature]:
    t = _tables("account", "account_holder", "fx_rate")
    open_ = F.col("status") != "closed"
    out = [
        Feature("product_count", "holdings", "distinct product categories held in open accounts", "as of date", t, F.count_distinct(F.when(open_, F.col("product_category")))),
        Feature("credit_utilisation", "holdings", "credit card balance / credit limit", "as of date", t, F.try_divide(F.sum(F.when(open_ & (F.col("product_category") == "credit_card"), F.abs("balance_base"))), F.sum(F.when(open_ & (F.col("product_category") == "credit_card"), F.col("limit_base")))).cast("double")),
    ]  # fmt: skip
    for c in ("savings", "current", "credit_card", "loan", "wealth"):
        out.append(Feature(f"balance_{c}", "holdings", f"balance of open {c} accounts in base currency (account snapshot valid at the date)", "as of date", t, F.sum(F.when(open_ & (F.col("product_category") == c), F.col("balance_base")))))  # fmt: skip
    return out


def _digital_features() -> list[Feature]:
    t = _tables("app_event")
    return [
        *(Feature(f"logins_{d}d", "digital", "app and web logins", f"{d} days", t, _total("logins", d)) for d in (30, 90)),
        Feature("product_views_90d", "digital", "product pages viewed", "90 days", t, _total("product_views", 90)),
        Feature("applications_90d", "digital", "product applications started", "90 days", t, _total("applications", 90)),
        Feature("devices_90d", "digital", "distinct devices used", "90 days", t, _distinct("devices", 90)),
        Feature("days_since_last_login", "digital", "days since the last login", "365 days", t, F.min(F.when(F.col("logins") > 0, _days()))),
    ]  # fmt: skip


def _service_features() -> list[Feature]:
    t = _tables("complaint")
    return [
        Feature("complaints_365d", "service", "complaints and feedback filed", "365 days", t, F.count(F.lit(1))),
        Feature("complaint_sentiment_365d", "service", "mean lexicon sentiment of their texts (-1..1)", "365 days", t, F.avg("sentiment")),
        Feature("top_complaint_topic_365d", "service", "most frequent topic", "365 days", t, F.mode("topic")),
    ]  # fmt: skip


def _credit_features() -> list[Feature]:
    bureau, loans = _tables("bureau_record"), _tables("loan")
    return [
        Feature("bureau_score", "credit", "score of the latest bureau report on or before the date", "latest report", bureau, F.max_by("bureau_score", "report_date")),
        Feature("bureau_delinquencies_24m", "credit", "delinquencies in the latest bureau report", "latest report", bureau, F.max_by("delinquencies_24m", "report_date")),
        Feature("bureau_inquiries_6m", "credit", "credit inquiries in the latest bureau report", "latest report", bureau, F.max_by("inquiries_6m", "report_date")),
        Feature("loan_count", "loans", "loans applied for on or before the date", "as of date", loans, F.count_distinct("loan_id")),
        Feature("loan_principal", "loans", "total principal of those loans", "as of date", loans, F.sum(F.when(F.col("_first_version"), F.col("principal")))),
        Feature("max_days_past_due", "loans", "worst days past due in loan snapshots taken on or before the date", "as of date", loans, F.max(F.when(F.col("snapshot_date") <= F.col("as_of_date"), F.col("max_dpd_12m")))),
    ]  # fmt: skip


@functools.cache
def all_features() -> tuple[Feature, ...]:
    """Every feature, in dictionary order (built on first use: Columns need a SparkContext)."""
    return (
        *_profile_features(),
        *_holding_features(),
        *_transaction_features(),
        *_digital_features(),
        *_service_features(),
        *_credit_features(),
    )


def feature_names() -> list[str]:
    return [f.name for f in all_features()]


def aggregates(source: str) -> list[Column]:
    return [
        f.expr.alias(f.name) for f in all_features() if f.source == source and f.expr is not None
    ]


# ------------------------------------------------------------------ day rows of the event sources
# Transactions and app events reach the features through day rows: one row per source key (an
# account, a CRM customer record) and day, holding what the features add up. Every window of
# every spine row is a sum over day rows, so the daily run only has to build the new days' rows
# (``fin360.gold.daily``) and the features of a date read day rows, not events.


def transaction_days(
    txns: DataFrame, keys: list[str], timezone: str, base_currency: str
) -> DataFrame:
    """Day rows of ``txns`` (silver.transactions) per ``keys`` (the account, and the customer
    when already keyed) and UTC day; the hourly grouping gives ``max_txns_per_hour``, and the
    day adds up the hours."""
    local = F.from_utc_timestamp("event_ts", timezone)
    debit = F.col("direction") == "debit"
    card = F.col("txn_type") == "card"
    counts = {
        "txns": F.lit(True),
        "debits": debit,
        "card_txns": card,
        **{f"card_{ch.lower()}_txns": card & (F.col("channel") == ch) for ch in CARD_CHANNELS},
        "night_txns": F.hour(local) < 6,
        "weekend_txns": F.dayofweek(local).isin(1, 7),
        "foreign_txns": F.col("currency") != base_currency,
    }
    amounts = {
        "debit_amount": debit,
        "other_amount": ~debit,
        **{f"card_{c}_amount": card & (F.col("mcc_category") == c) for c in SPEND_CATEGORIES},
    }
    hours = txns.groupBy(*keys, F.to_date("event_ts").alias("day"), F.date_trunc("hour", "event_ts")).agg(
        *(F.count_if(c).alias(n) for n, c in counts.items()),
        *(F.sum(F.when(c, F.col("amount_base"))).alias(n) for n, c in amounts.items()),
        F.collect_set(F.coalesce("counterparty_account", "merchant_id")).alias("counterparties"),
        F.collect_list(
            F.when(F.col("direction") == "credit", F.struct(F.col("counterparty_account").alias("payer"), "amount_base"))
        ).alias("credits"),
    )  # fmt: skip
    return hours.groupBy(*keys, "day").agg(
        *(F.sum(n).alias(n) for n in counts),
        *(F.sum(n).cast("decimal(28,2)").alias(n) for n in amounts),
        F.max("txns").alias("max_txns_per_hour"),
        F.array_distinct(F.flatten(F.collect_list("counterparties"))).alias("counterparties"),
        F.flatten(F.collect_list("credits")).alias("credits"),
    )


def app_event_days(app_events: DataFrame, keys: list[str]) -> DataFrame:
    """Day rows of ``app_events`` (silver.app_events) per ``keys`` and UTC day."""
    kind = F.col("event_type")
    return app_events.groupBy(*keys, F.to_date("event_ts").alias("day")).agg(
        F.count_if(kind == "login").alias("logins"),
        F.count_if(kind == "view_product").alias("product_views"),
        F.count_if(kind == "apply_product").alias("applications"),
        F.collect_set("device_id").alias("devices"),
    )


# --------------------------------------------------------------------------- per-source parts


def _days_before(spine: DataFrame, days: DataFrame, lookback_days: int) -> DataFrame:
    """Spine rows joined with their customer's day rows of the ``lookback_days`` days up to and
    including as_of_date."""
    return spine.join(days, "customer_id", "inner").where(
        (F.col("day") <= F.col("as_of_date")) & (_days() < lookback_days)
    )


def _events_before(
    spine: DataFrame, events: DataFrame, ts: str, lookback_days: int | None
) -> DataFrame:
    """Spine rows joined with their customer's events strictly before the end of as_of_date."""
    joined = spine.join(events, "customer_id")
    visible = F.to_date(F.col(ts)) <= F.col("as_of_date")
    if lookback_days is not None:
        visible = visible & (F.datediff(F.col("as_of_date"), F.to_date(F.col(ts))) < lookback_days)
    return joined.where(visible)


def transaction_part(spine: DataFrame, days: DataFrame) -> DataFrame:
    """``days``: :func:`transaction_days` keyed by ``customer_id``. One pass over the day rows
    for the windowed sums, and one over their credits for the per-payer regularity."""
    rows = _days_before(spine, days, 365)
    main = rows.groupBy(*SPINE).agg(*aggregates("transactions"))
    payers = (
        rows.select(*SPINE, "day", F.explode("credits").alias("credit"))
        .groupBy(*SPINE, "credit.payer")
        .agg(
            F.count_distinct(F.trunc("day", "month")).alias("months"),
            F.try_divide(F.stddev_pop("credit.amount_base"), F.avg("credit.amount_base")).alias(
                "cv"
            ),
        )
        .where((F.col("months") >= 3) & (F.col("cv") <= 0.15))
        .groupBy(*SPINE)
        .agg(F.max("months").alias("salary_like_inflow_months"))
    )
    return main.join(payers, SPINE, "left")


def profile_part(spine: DataFrame, customers: DataFrame) -> DataFrame:
    """The customer's SCD2 version valid at the date (the first version when the CRM history
    starts later); customers whose first record is after the date are not in the spine."""
    versions = spine.join(customers, "customer_id").withColumn(
        "_valid", F.to_date("valid_from") <= F.col("as_of_date")
    )
    pick = F.row_number().over(
        Window.partitionBy(*SPINE).orderBy(
            F.col("_valid").desc(),
            F.when(F.col("_valid"), F.col("valid_from")).desc_nulls_last(),
            "valid_from",
        )
    )
    age = F.year("as_of_date") - F.col("birth_year")
    income = F.col("annual_income")
    return (
        versions.withColumn("_pick", pick)
        .where("_pick = 1")
        .select(
            *SPINE,
            "gender",
            F.when(age < 25, "<25").when(age < 35, "25-34").when(age < 45, "35-44").when(age < 55, "45-54")
            .when(age < 65, "55-64").when(age.isNotNull(), "65+").alias("age_band"),
            F.floor(F.months_between("as_of_date", "customer_since")).cast("int").alias("tenure_months"),
            F.coalesce("province", "city").alias("region"),
            F.col("occupation").alias("occupation_band"),
            F.when(income < 50_000, "<50k").when(income < 100_000, "50-100k").when(income < 200_000, "100-200k")
            .when(income < 500_000, "200-500k").when(income.isNotNull(), "500k+").alias("income_band"),
            "marketing_consent",
            "data_sharing_consent",
            # new in the canonical model: a lake whose customers predate it has none yet
            F.col("profiling_consent") if "profiling_consent" in customers.columns
            else F.lit(None).cast("boolean").alias("profiling_consent"),
        )
    )  # fmt: skip


def valid_at_date(keys: list[str]) -> Column:
    """Row number 1 marks, per spine row and ``keys``, the SCD2 version valid at the as-of date
    (the latest one that started on or before it); before a thing's first version, the first
    version stands in."""
    valid = F.to_date("valid_from") <= F.col("as_of_date")
    return F.row_number().over(
        Window.partitionBy(*SPINE, *keys).orderBy(
            valid.desc(), F.when(valid, F.col("valid_from")).desc_nulls_last(), "valid_from"
        )
    )


def holdings_part(
    spine: DataFrame, accounts: DataFrame, fx_rates: DataFrame, base_currency: str
) -> DataFrame:
    """Accounts open at the date, each at its snapshot valid then, balances converted at the
    latest rate on or before it."""
    held = (
        spine.join(accounts, "customer_id", "inner")
        .where(F.col("open_date") <= F.col("as_of_date"))
        .withColumn("_version", valid_at_date(["account_id"]))
        .where("_version = 1")
    )
    rates = fx_rates.select(F.col("currency"), "rate_date", "rate_to_base")
    # the rate depends on the date and the currency only: look it up once per pair, not per
    # customer (a customer-level join paired every holding with the whole rate history)
    latest = (
        held.select("as_of_date", "currency").distinct()
        .join(rates, "currency", "left")
        .where(F.col("rate_date").isNull() | (F.col("rate_date") <= F.col("as_of_date")))
        .groupBy("as_of_date", "currency")
        .agg(F.max_by("rate_to_base", "rate_date").alias("rate"))
    )  # fmt: skip
    rate = F.when(F.col("currency") == base_currency, F.lit(1)).otherwise(F.col("rate"))
    priced = held.join(latest, ["as_of_date", "currency"], "left").select(
        *SPINE,
        "status",
        "product_category",
        (F.col("balance") * rate).cast("decimal(18,2)").alias("balance_base"),
        (F.col("credit_limit") * rate).cast("decimal(18,2)").alias("limit_base"),
    )
    return priced.groupBy(*SPINE).agg(*aggregates("holdings"))


def digital_part(spine: DataFrame, days: DataFrame) -> DataFrame:
    """``days``: :func:`app_event_days` keyed by ``customer_id``."""
    return _days_before(spine, days, 365).groupBy(*SPINE).agg(*aggregates("digital"))


def service_part(spine: DataFrame, complaints: DataFrame) -> DataFrame:
    events = _events_before(
        spine, complaints.withColumnRenamed("created_at", "event_ts"), "event_ts", 365
    )
    return events.groupBy(*SPINE).agg(*aggregates("service"))


def credit_part(spine: DataFrame, bureau: DataFrame, loans: DataFrame) -> DataFrame:
    """``loans``: every snapshot version of every loan (``snapshot_date``); principal counts
    once per loan, days past due from the snapshots taken on or before the date."""
    reports = spine.join(bureau, "customer_id").where(F.col("report_date") <= F.col("as_of_date"))
    first = F.row_number().over(Window.partitionBy(*SPINE, "loan_id").orderBy("snapshot_date")) == 1
    applied = (
        spine.join(loans, "customer_id", "inner")
        .where(F.col("application_date") <= F.col("as_of_date"))
        .withColumn("_first_version", first)
    )
    return (
        reports.groupBy(*SPINE)
        .agg(*aggregates("credit"))
        .join(applied.groupBy(*SPINE).agg(*aggregates("loans")), SPINE, "full")
    )


@dataclass(frozen=True)
class Sources:
    """The silver inputs, each already keyed by ``customer_id``; an entity the bank does not
    have is an empty frame of :data:`PART_INPUTS`' schema, so its features are null.

    ``transaction_days`` and ``app_event_days`` are the day rows of the two event sources,
    keyed by ``customer_id`` (the gold job reads them from their maintained tables); without
    them, the features build them from the events."""

    customers: DataFrame
    accounts: DataFrame
    transactions: DataFrame
    app_events: DataFrame
    complaints: DataFrame
    bureau: DataFrame
    loans: DataFrame
    fx_rates: DataFrame
    transaction_days: DataFrame | None = None
    app_event_days: DataFrame | None = None


def customer_features(
    spine: DataFrame, sources: Sources, *, timezone: str, base_currency: str
) -> DataFrame:
    """Every feature of :func:`all_features` for each spine row, in dictionary order."""
    txn_days = sources.transaction_days
    if txn_days is None:
        keys = ["customer_id", "account_id"]  # an account's day rows, as the gold job keys them
        txn_days = transaction_days(sources.transactions, keys, timezone, base_currency)
    app_days = sources.app_event_days
    if app_days is None:
        app_days = app_event_days(sources.app_events, ["customer_id"])
    parts: list[Callable[[], DataFrame]] = [
        lambda: holdings_part(spine, sources.accounts, sources.fx_rates, base_currency),
        lambda: transaction_part(spine, txn_days),
        lambda: digital_part(spine, app_days),
        lambda: service_part(spine, sources.complaints),
        lambda: credit_part(spine, sources.bureau, sources.loans),
    ]
    out = profile_part(spine, sources.customers)
    for part in parts:
        out = out.join(part(), SPINE, "left")
    return out.select(*SPINE, *feature_names())


IDENTIFIER_KINDS = ("device", "phone", "email", "address", "counterparty")
_TABLES_ID = ", ".join(catalog.silver(e) for e in ("customer", "app_event", "transaction"))
_TABLES_MONEY = ", ".join(catalog.silver(e) for e in ("transaction", "account", "account_holder"))


def _f(name: str, definition: str, window: str, tables: str) -> Feature:
    return Feature(name, "graph", definition, window, tables)


def graph_features() -> list[Feature]:
    """``gold.graph_features``' columns, for the feature dictionary."""
    ident, money = "identifier window", "money window"
    return [
        _f("component_id", "component of device, phone, e-mail and address links: its smallest customer_id", ident, _TABLES_ID),
        _f("component_size", "customers in that component (1: linked to no one)", ident, _TABLES_ID),
        *(
            _f(f"shared_{k}_customers", f"other customers sharing a {k} with the customer (hubs excluded)", ident, _TABLES_ID)
            for k in IDENTIFIER_KINDS
        ),
        _f("money_pagerank", "PageRank on the money-flow graph, weighted by amount (ranks sum to 1)", money, _TABLES_MONEY),
        _f("money_in_strength", "amount received from other customers, base currency", money, _TABLES_MONEY),
        _f("money_out_strength", "amount sent to other customers, base currency", money, _TABLES_MONEY),
        _f("money_in_degree", "customers who sent the customer money", money, _TABLES_MONEY),
        _f("money_out_degree", "customers the customer sent money to", money, _TABLES_MONEY),
        _f("community_id", "label-propagation community on the money-flow graph", money, _TABLES_MONEY),
        _f("community_size", "customers in that community", money, _TABLES_MONEY),
        _f("money_triangles", "triangles on the undirected money-flow graph", money, _TABLES_MONEY),
        _f("money_cycles_3", "directed money cycles of 3 customers the customer is on", money, _TABLES_MONEY),
        _f("money_cycles_4", "directed money cycles of 4 customers the customer is on", money, _TABLES_MONEY),
        _f("ring_score", "fraud-ring score in [0, 1] (see fin360.gold.graph.ring_score)", "both", _TABLES_MONEY),
    ]  # fmt: skip


def render_dictionary(schema: T.StructType, graph_schema: T.StructType) -> str:
    """The feature dictionary (Markdown) from :func:`all_features` and :func:`graph_features`
    and the built tables' schemas."""
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    graph_types = {f.name: f.dataType.simpleString() for f in graph_schema.fields}
    lines = [
        "# gold.customer_360 feature dictionary",
        "",
        "Generated from `fin360.gold.features.all_features()` by `fin360 features-doc`; do not edit.",
        "One row per `customer_id` and `as_of_date`; only events on or before `as_of_date` count.",
        "",
        "A feature needs its entity: for a bank without it (no source maps onto it), the feature",
        "is null, and the gold job logs it once as unavailable.",
        "",
        "| feature | type | part | needs entity | definition | window | source tables |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in all_features():
        lines.append(
            f"| `{f.name}` | {types[f.name]} | {f.source} | `{f.entity}` | {f.definition} "
            f"| {f.window} | {f.tables} |"
        )
    lines += [
        "",
        "# gold.graph_features",
        "",
        "One row per `customer_id` and `as_of_date`, from the shared-identifier graph and the",
        "money-flow graph as they were on the date (`fin360.gold.graph`). Identifier window:",
        "`graph.identifier_window_days`; money window: `graph.money_window_days`.",
        "",
        "| feature | type | definition | window | source tables |",
        "|---|---|---|---|---|",
    ]
    for f in graph_features():
        lines.append(
            f"| `{f.name}` | {graph_types[f.name]} | {f.definition} | {f.window} | {f.tables} |"
        )
    return "\n".join(lines) + "\n"
