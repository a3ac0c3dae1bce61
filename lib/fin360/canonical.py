"""The canonical model: the entities every bank's sources are mapped onto, declared once.

Silver holds one table per entity. A source's mapping (in the sources file, see
:mod:`fin360.silver.mapping`) gives each canonical column a source column, a Spark SQL
expression over the source's declared columns, or a constant; the column's canonical *type*
decides how the mapped value is parsed and cleaned, so every bank's data arrives in silver in
the same form. ``docs/canonical_model.md`` is rendered from this module
(``fin360 canonical-doc``); a test fails when it is stale.

Two kinds of entity:

- ``event``: an immutable fact with its own key (a card authorisation, a login). Appended once;
  a key delivered again is a duplicate.
- ``snapshot``: the state of a thing at a time (an account's balance, a loan's days past due).
  Each key keeps its history in silver as SCD2 versions (``valid_from``, ``valid_to``,
  ``is_current``): a newer snapshot whose attributes changed opens a new version; only an
  identical re-delivery of a record is a duplicate. ``time`` names the column that dates the
  snapshot; where a source cannot map it, the delivery's ingestion time stands in.

PII classes: ``direct`` identifies a person on its own (name, resident ID, phone, email,
address, IP): silver keeps only a keyed token and, where a mask is defined, a masked value.
``quasi`` identifies in combination (birth date): silver keeps a token and a coarsened value.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = {
    "id": "string",  # identifiers: text cleaned, nothing else
    "string": "string",  # text cleaned: half-width, whitespace collapsed, blank -> null
    "code": "string",  # a code, upper-cased (currencies, channels, countries)
    "category": "string",  # a category, lower-cased
    "name": "string",  # a person's or company's name
    "phone": "string",  # a mobile number, to E.164
    "email": "string",  # lower-cased, null unless well formed
    "resident_id": "string",  # an 18-character resident identity number
    "currency": "string",  # an ISO 4217 code, known aliases mapped
    "amount": "decimal(18,2)",
    "rate": "decimal(18,8)",
    "percent": "decimal(6,3)",
    "int": "int",
    "double": "double",
    "boolean": "boolean",  # Y/N, 1/0, true/false, yes/no; blank -> null
    "date": "date",
    "timestamp": "timestamp",  # UTC
}
PII_CLASSES = ("direct", "quasi")
MASKS = ("name", "phone", "email", "resident_id")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = False  # a mapping must map it; null values fail the entity's key rules
    pii: str | None = None  # direct | quasi
    mask: str | None = None  # a masked display value is kept beside the token

    @property
    def spark_type(self) -> str:
        return TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str  # event | snapshot
    table: str  # the silver table, without the layer
    keys: tuple[str, ...]
    time: str | None  # event time, or the date of the snapshot
    description: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _c(name: str, type_: str, description: str, **kw) -> Column:
    return Column(name, type_, description, **kw)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "customer", "snapshot", "customers", ("customer_src_id",), "updated_at",
            "A customer master record from the CRM. Records of one person (branch duplicates, "
            "other systems) are resolved into one `customer_id` in silver.",
            (
                _c("customer_src_id", "id", "the customer's id in the source system", required=True),
                _c("branch_code", "code", "branch that keeps the record"),
                _c("name", "name", "full name", pii="direct", mask="name"),
                _c("gender", "code", "M or F"),
                _c("birth_date", "date", "date of birth", pii="quasi"),
                _c("resident_id", "resident_id", "resident identity number", pii="direct", mask="resident_id"),
                _c("phone", "phone", "mobile phone number", pii="direct", mask="phone"),
                _c("email", "email", "e-mail address", pii="direct", mask="email"),
                _c("address", "string", "postal address", pii="direct"),
                _c("city", "string", "city of residence"),
                _c("province", "string", "province of residence"),
                _c("occupation", "string", "occupation as declared"),
                _c("annual_income", "amount", "declared annual income, base currency"),
                _c("marketing_consent", "boolean", "consents to marketing"),
                _c("data_sharing_consent", "boolean", "consents to data sharing"),
                _c("profiling_consent", "boolean", "consents to profiling (segments, model training, offers)"),
                _c("created_at", "date", "date the customer relationship began"),
                _c("updated_at", "timestamp", "last change of the record in the source", required=True),
            ),
        ),
        Entity(
            "account", "snapshot", "accounts", ("account_id",), "snapshot_date",
            "An account or product held at the bank, as of a snapshot date. Who holds it is "
            "the `account_holder` entity.",
            (
                _c("account_id", "id", "account number", required=True),
                _c("product_code", "id", "product, a `product.product_code`", required=True),
                _c("currency", "currency", "account currency"),
                _c("open_date", "date", "date opened"),
                _c("status", "category", "active, dormant or closed"),
                _c("balance", "amount", "balance in the account currency (negative: owed)"),
                _c("credit_limit", "amount", "credit limit in the account currency"),
                _c("snapshot_date", "date", "the day the snapshot describes"),
            ),
        ),
        Entity(
            "account_holder", "snapshot", "account_holders", ("account_id", "customer_src_id"), "snapshot_date",
            "Who holds an account, and how: owners and joint holders own it (its balances and "
            "transactions are theirs); users may operate it but do not own it.",
            (
                _c("account_id", "id", "account number", required=True),
                _c("customer_src_id", "id", "the holder, a `customer.customer_src_id`", required=True),
                _c("role", "category", "owner, joint or user", required=True),
                _c("snapshot_date", "date", "the day the holding is known for"),
            ),
        ),
        Entity(
            "transaction", "event", "transactions", ("txn_id",), "event_ts",
            "A movement of money on an account: a card authorisation or a transfer, seen from "
            "the bank's own account.",
            (
                _c("txn_id", "id", "transaction id", required=True),
                _c("txn_type", "category", "card or transfer", required=True),
                _c("account_id", "id", "the bank's own account", required=True),
                _c("direction", "category", "debit (money out) or credit (money in)", required=True),
                _c("event_ts", "timestamp", "when it happened, UTC", required=True),
                _c("amount", "amount", "amount in the transaction currency", required=True),
                _c("currency", "currency", "transaction currency", required=True),
                _c("counterparty_account", "id", "the other account of a transfer"),
                _c("counterparty_name", "string", "name of the other party or merchant"),
                _c("counterparty_bank", "string", "bank of the other party"),
                _c("merchant_id", "id", "card acceptor id"),
                _c("merchant_name", "string", "card acceptor name"),
                _c("mcc", "id", "merchant category code (ISO 18245)"),
                _c("channel", "code", "POS, ECOM, ATM, CONTACTLESS; transfers: the initiating channel"),
                _c("device_id", "id", "device used"),
                _c("country", "code", "country of the acceptor (ISO 3166 alpha-2)"),
                _c("city", "string", "city of the acceptor"),
                _c("lat", "double", "latitude"),
                _c("lon", "double", "longitude"),
                _c("wallet_provider", "category", "mobile wallet, when one was used"),
                _c("purpose", "string", "payment purpose text"),
            ),
        ),
        Entity(
            "app_event", "event", "app_events", ("event_id",), "event_ts",
            "A mobile or web banking event.",
            (
                _c("event_id", "id", "event id", required=True),
                _c("customer_src_id", "id", "the customer, a `customer.customer_src_id`", required=True),
                _c("device_id", "id", "device id"),
                _c("event_type", "category", "login, logout, view_product, apply_product, ...", required=True),
                _c("product_code", "id", "product concerned"),
                _c("platform", "category", "ios, android or web"),
                _c("ip", "id", "IP address", pii="direct"),
                _c("event_ts", "timestamp", "when it happened, UTC", required=True),
            ),
        ),
        Entity(
            "complaint", "event", "complaints", ("complaint_id",), "created_at",
            "Feedback or a complaint, with its free text (any language).",
            (
                _c("complaint_id", "id", "complaint id", required=True),
                _c("customer_src_id", "id", "the customer, a `customer.customer_src_id`"),
                _c("channel", "category", "channel it came through"),
                _c("category", "string", "category given by the source"),
                _c("text", "string", "the text; digit runs that may be phone numbers are masked"),
                _c("created_at", "timestamp", "when it was filed, UTC"),
            ),
        ),
        Entity(
            "bureau_record", "event", "bureau", ("bureau_record_id",), "report_date",
            "A credit bureau report on a person, keyed by resident ID (resolved to a customer "
            "by entity resolution).",
            (
                _c("bureau_record_id", "id", "report id", required=True),
                _c("resident_id", "resident_id", "resident identity number", required=True, pii="direct"),
                _c("name", "name", "name on the report", pii="direct", mask="name"),
                _c("report_date", "date", "date of the report"),
                _c("bureau_score", "int", "bureau score (300-850)"),
                _c("delinquencies_24m", "int", "delinquencies in the last 24 months"),
                _c("inquiries_6m", "int", "credit inquiries in the last 6 months"),
                _c("total_debt", "amount", "total debt, base currency"),
                _c("open_lines", "int", "open credit lines"),
            ),
        ),
        Entity(
            "loan", "snapshot", "loans", ("loan_id",), "snapshot_date",
            "A loan of the loan book with its repayment state on a snapshot date; its SCD2 "
            "history is the loan's repayment history (the credit-risk label).",
            (
                _c("loan_id", "id", "loan id", required=True),
                _c("customer_src_id", "id", "the borrower, a `customer.customer_src_id`", required=True),
                _c("account_id", "id", "the loan account"),
                _c("product_code", "id", "loan product"),
                _c("principal", "amount", "principal lent"),
                _c("currency", "currency", "loan currency"),
                _c("application_date", "date", "date of the application", required=True),
                _c("term_months", "int", "term in months"),
                _c("interest_rate", "percent", "annual interest rate, percent"),
                _c("status", "category", "current, delinquent, default or closed"),
                _c("days_past_due", "int", "days past due on the snapshot date"),
                _c("max_dpd_12m", "int", "worst days past due in the 12 months before the snapshot"),
                _c("snapshot_date", "date", "the day the snapshot describes", required=True),
            ),
        ),
        Entity(
            "fx_rate", "event", "fx_rates", ("rate_date", "currency"), "rate_date",
            "A daily reference rate: units of the bank's base currency for one unit of `currency`.",
            (
                _c("rate_date", "date", "the day", required=True),
                _c("currency", "currency", "the quoted currency", required=True),
                _c("rate_to_base", "rate", "base-currency units per unit of `currency`", required=True),
            ),
        ),
        Entity(
            "product", "snapshot", "products", ("product_code",), None,
            "The product catalogue.",
            (
                _c("product_code", "id", "product code", required=True),
                _c("product_name", "string", "product name"),
                _c("category", "category", "savings, current, credit_card, loan or wealth", required=True),
                _c("min_age", "int", "minimum age of a holder"),
                _c("risk_level", "int", "product risk level (1 low .. 5 high)"),
                _c("currency", "currency", "product currency"),
            ),
        ),
    )
}  # fmt: skip


def entity(name: str) -> Entity:
    return ENTITIES[name]


def render_doc() -> str:
    """``docs/canonical_model.md``: every entity with its columns, types, keys and PII class."""
    lines = [
        "# The canonical model",
        "",
        "Generated from `fin360.canonical.ENTITIES` by `fin360 canonical-doc`; do not edit.",
        "Every source is mapped onto these entities in the sources file (`conf/sources.yml`, or",
        "`conf/banks/<bank>/sources.yml`); each entity is one silver table.",
        "",
        "- **event**: immutable facts, appended once per key; a key delivered again is a duplicate.",
        "- **snapshot**: states of a thing, kept as SCD2 history (`valid_from`, `valid_to`, "
        "`is_current`); only an identical re-delivery is a duplicate.",
        "- **PII** `direct`: only a keyed token (and a masked value where noted) reaches silver; "
        "`quasi`: a token and a coarsened value.",
        "",
        "| entity | kind | silver table | keys | dated by |",
        "|---|---|---|---|---|",
    ]
    for e in ENTITIES.values():
        time = f"`{e.time}`" if e.time else "ingestion time"
        keys = ", ".join(f"`{k}`" for k in e.keys)
        lines.append(f"| `{e.name}` | {e.kind} | `silver.{e.table}` | {keys} | {time} |")
    for e in ENTITIES.values():
        lines += [
            "",
            f"## `{e.name}`",
            "",
            e.description,
            "",
            "| column | type | Spark type | required | PII | description |",
            "|---|---|---|---|---|---|",
        ]
        for c in e.columns:
            pii = c.pii or ""
            if c.mask:
                pii += " (masked)"
            req = "yes" if c.required else ""
            lines.append(
                f"| `{c.name}` | {c.type} | {c.spark_type} | {req} | {pii} | {c.description} |"
            )
    lines += [
        "",
        "## Types",
        "",
        "| type | Spark type |",
        "|---|---|",
        *(f"| {name} | {spark} |" for name, spark in TYPES.items()),
    ]
    return "\n".join(lines) + "\n"
