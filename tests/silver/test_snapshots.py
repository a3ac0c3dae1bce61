"""A re-delivered account and loan snapshot reaches silver as SCD2 history, and gold sees each
version on its own dates: the balance before and after, and the training label once the loan
falls behind."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import functions as F

from fin360 import catalog, lake
from fin360.bronze import job as bronze
from fin360.gold import job as gold
from fin360.silver import job as silver
from fin360.sources.generator import CORE_ACCOUNTS_LAYOUT

SOURCES = ["products", "fx_rates", "crm_customers", "core_accounts", "loans"]


def _field(line: str, name: str) -> tuple[int, int]:
    start = 0
    for column, width in CORE_ACCOUNTS_LAYOUT:
        if column == name:
            return start, start + width
        start += width
    raise KeyError(name)


def _set(line: str, name: str, value: str) -> str:
    a, b = _field(line, name)
    return line[:a] + value.rjust(b - a)[: b - a] + line[b:]


def _get(line: str, name: str) -> str:
    a, b = _field(line, name)
    return line[a:b].strip()


def test_new_snapshots_open_versions_and_gold_sees_them_on_their_dates(
    spark, cfg, generated, tmp_path
):
    raw, _, manifest = generated
    landing = tmp_path / "landing"
    for source in SOURCES:
        shutil.copytree(raw / source / "batch=b0001", landing / source / "batch=b0001")
    cfg = cfg.with_overrides({"paths.raw": str(landing)})
    bronze.run(spark, cfg, sources=SOURCES)
    silver.run(spark, cfg)
    before = date.fromisoformat(manifest["end_date"])
    after = before + timedelta(days=2)

    # the next day's delivery: one CNY savings account with a new balance, one line re-sent
    # unchanged, and one young loan fallen 120 days behind
    products = lake.read(spark, cfg, catalog.silver("product")).where("category = 'savings'")
    savings = {r["product_code"] for r in products.collect()}
    lines = [
        line
        for f in sorted((landing / "core_accounts" / "batch=b0001").iterdir())
        for line in f.read_text(encoding="ascii").splitlines()
        if len(line) == _field(line, CORE_ACCOUNTS_LAYOUT[-1][0])[1]
    ]
    changed = next(
        x for x in lines if _get(x, "product_code") in savings and _get(x, "currency") == "CNY"
    )
    account_id, old_balance = _get(changed, "account_id"), Decimal(_get(changed, "balance"))
    new_line = _set(changed, "balance", f"{old_balance + 1000:.2f}")
    new_line = _set(new_line, "snapshot_date", after.strftime("%Y%m%d"))
    resent = next(x for x in lines if _get(x, "account_id") != account_id)
    (landing / "core_accounts" / "batch=b0002").mkdir()
    (landing / "core_accounts" / "batch=b0002" / "part-00000.txt").write_text(
        f"{new_line}\n{resent}\n", encoding="ascii"
    )
    loan_file = next((landing / "loans" / "batch=b0001").iterdir())
    header, *loan_rows = list(csv.reader(io.StringIO(loan_file.read_text(encoding="utf-8"))))
    col = {name: i for i, name in enumerate(header)}
    young = next(
        r
        for r in loan_rows
        if date.fromisoformat(r[col["application_date"]]) > before - timedelta(days=200)
        and int(r[col["max_dpd_12m"]]) < 90
        and r[col["status"]] != "default"
    )
    loan_id = young[col["loan_id"]]
    worse = list(young)
    worse[col["status"]], worse[col["days_past_due"]], worse[col["max_dpd_12m"]] = (
        "delinquent", "120", "120"
    )  # fmt: skip
    worse[col["as_of_date"]] = after.isoformat()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, worse])
    (landing / "loans" / "batch=b0002").mkdir()
    (landing / "loans" / "batch=b0002" / "part-00000.csv").write_text(out.getvalue())

    # the loan was chosen not in default (under 90 days past due, status not default): its
    # training label is 0 until the new snapshot arrives
    bronze.run(spark, cfg, sources=SOURCES)
    summary = silver.run(spark, cfg)
    assert summary["accounts/core_accounts/b0002"] == {
        "input_rows": 2, "accepted": 1, "quarantined": 1
    }  # fmt: skip

    history = (
        lake.read(spark, cfg, catalog.silver("account"))
        .where(F.col("account_id") == account_id)
        .orderBy("valid_from")
        .select("balance", "snapshot_date", "is_current", "valid_to")
        .collect()
    )
    assert [(r["balance"], r["snapshot_date"], r["is_current"]) for r in history] == [
        (old_balance, before, False),
        (old_balance + 1000, after, True),
    ]
    assert history[0]["valid_to"].date() == after
    dup = lake.read(spark, cfg, catalog.silver_quarantine(catalog.silver("account"))).where(
        F.col("_batch_id") == "b0002"
    )
    assert [r["rules"] for r in dup.collect()] == [["duplicate"]]
    loans = lake.read(spark, cfg, catalog.silver("loan")).where(F.col("loan_id") == loan_id)
    assert sorted((r["max_dpd_12m"], r["is_current"]) for r in loans.collect()) == [
        (int(young[col["max_dpd_12m"]]), False),
        (120, True),
    ]

    gold.run(spark, cfg, before)
    # two days on, the graph of `before` holds (graph.refresh_days 7): kept, not rebuilt
    assert gold.run(spark, cfg, after)["graph_as_of"] == before.isoformat()
    graph_dates = lake.read(spark, cfg, catalog.GOLD_GRAPH_FEATURES).select("as_of_date")
    assert [r[0] for r in graph_dates.distinct().collect()] == [before]
    owner = (
        lake.read(spark, cfg, catalog.silver("account_holder"))
        .where(F.col("account_id") == account_id)
        .join(
            lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF).withColumnRenamed(
                "source_key", "customer_src_id"
            ),
            "customer_src_id",
        )
        .first()["customer_id"]
    )
    c360 = lake.read(spark, cfg, catalog.GOLD_CUSTOMER_360).where(F.col("customer_id") == owner)
    balance = {r["as_of_date"]: r["balance_savings"] for r in c360.collect()}
    assert balance[after] - balance[before] == Decimal("1000.00")
    label = lake.read(spark, cfg, catalog.GOLD_TRAINING_CREDIT_RISK).where(
        F.col("loan_id") == loan_id
    )
    assert label.first()["label_default_90dpd_12m"] == 1
