"""``fin360 forget``: a person leaves every table, every table version, MLflow and the reports;
other customers' history stays readable; a later delivery does not bring them back."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fin360 import lake
from fin360.bronze import job as bronze
from fin360.governance import forget
from fin360.ml import tracking


def _context() -> forget.MatchContext:
    return forget.MatchContext(b"k" * 32, {}, "UTC", (date(1900, 1, 1), date(2100, 12, 31)))


def test_every_version_loses_the_person_and_keeps_everyone_else(spark, cfg):
    """Twelve commits (a checkpoint at version 10): after forget, each version holds exactly its
    rows without customer X, the log and checkpoint quote X nowhere, and the table takes writes."""
    name = "gold.customer_scores"
    commits = [[("X", 0.1 * v), (f"C{v}", 0.5)] if v in (0, 5, 11) else [(f"C{v}", 0.5)] for v in range(12)]  # fmt: skip
    for rows in commits:
        lake.append(spark.createDataFrame(rows, "customer_id string, pd double"), cfg, name)
    root = Path(lake.table_path(cfg, name))
    assert (root / "_delta_log" / "00000000000000000010.checkpoint.parquet").exists()

    result = forget.purge(spark, cfg, name, forget.Subjects({forget.CUSTOMER: {"X"}}), _context())

    assert (result.files_rewritten, result.rows_removed) == (3, 3)
    for v in range(12):
        expected = [(f"C{u}", 0.5) for u in range(v + 1)]
        assert_df_equality(
            lake.read(spark, cfg, name, v),
            spark.createDataFrame(expected, "customer_id string, pd double"),
            ignore_row_order=True,
            ignore_nullable=True,
        )
    for file in (root / "_delta_log").iterdir():
        if file.suffix == ".json" or file.name == "_last_checkpoint":
            assert '"X"' not in file.read_text() and '\\"X\\"' not in file.read_text()
    checkpoint = spark.read.parquet(
        str(root / "_delta_log" / "00000000000000000010.checkpoint.parquet")
    )
    assert checkpoint.where(F.to_json(F.struct("*")).contains('X\\"')).isEmpty()
    assert not (root / forget.STAGING).exists()
    lake.append(spark.createDataFrame([("C12", 0.5)], "customer_id string, pd double"), cfg, name)
    assert sorted(r[0] for r in lake.read(spark, cfg, name).collect()) == sorted(
        f"C{u}" for u in range(13)
    )


def test_a_reference_to_the_person_is_emptied_and_the_row_stays(spark, cfg):
    name = "silver.transactions"
    rows = [("T1", "A1", "B9", "Zhang Wei"), ("T2", "B9", "A1", "Li Na"), ("T3", "A2", "A3", "Wang Fang")]  # fmt: skip
    schema = (
        "txn_id string, account_id string, counterparty_account string, counterparty_name string"
    )
    lake.append(spark.createDataFrame(rows, schema), cfg, name)

    forget.purge(spark, cfg, name, forget.Subjects({forget.ACCOUNT: {"B9"}}), _context())

    assert_df_equality(
        lake.read(spark, cfg, name),
        spark.createDataFrame([("T1", "A1", None, None), ("T3", "A2", "A3", "Wang Fang")], schema),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_forget_killed_while_swapping_files_is_finished_by_the_next(spark, cfg, monkeypatch):
    name = "gold.customer_360"
    schema = "customer_id string, spend double"
    for rows in ([("X", 1.0), ("C1", 2.0)], [("X", 3.0)], [("C2", 4.0)]):  # one file only X
        lake.append(spark.createDataFrame(rows, schema), cfg, name)
    swap = lake.FileSystem.replace
    calls = []

    def dies_on_the_second_file(self, source: str, target: str) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")  # as if the process died here
        swap(self, source, target)

    monkeypatch.setattr(lake.FileSystem, "replace", dies_on_the_second_file)
    subjects = forget.Subjects({forget.CUSTOMER: {"X"}})
    with pytest.raises(KeyboardInterrupt):
        forget.purge(spark, cfg, name, subjects, _context())
    monkeypatch.setattr(lake.FileSystem, "replace", swap)

    forget.purge(spark, cfg, name, subjects, _context())

    for v, expected in enumerate(([("C1", 2.0)], [("C1", 2.0)], [("C1", 2.0), ("C2", 4.0)])):
        assert_df_equality(
            lake.read(spark, cfg, name, v),
            spark.createDataFrame(expected, schema),
            ignore_row_order=True,
            ignore_nullable=True,
        )


# ------------------------------------------------------------------- the whole lake
def _copy_lake(cfg, tmp_path: Path):
    """The scored lake's lakehouse, MLflow store and artefacts, copied so that forget may
    change them; the store's artefact locations moved to the copy."""
    shutil.copytree(cfg.path("lakehouse"), tmp_path / "lakehouse")
    old_artifacts = str(Path(cfg.path("mlflow_artifacts")).resolve())
    shutil.copytree(old_artifacts, tmp_path / "mlartifacts")
    old_db = cfg["mlflow.tracking_uri"].removeprefix("sqlite:///")
    shutil.copy(old_db, tmp_path / "mlflow.db")
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        for (table,) in db.execute(
            "select name from sqlite_master where type = 'table'"
        ).fetchall():
            for column in db.execute(f"pragma table_info({table})").fetchall():
                if column[2].upper().startswith(("VARCHAR", "TEXT")):
                    db.execute(
                        f"update {table} set {column[1]} = replace({column[1]}, ?, ?)",
                        (old_artifacts, str(tmp_path / "mlartifacts")),
                    )
    return cfg.with_overrides(
        {
            "paths.lakehouse": str(tmp_path / "lakehouse"),
            "paths.mlflow_artifacts": str(tmp_path / "mlartifacts"),
            "paths.reports": str(tmp_path / "reports"),
            "mlflow.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        }
    )


def _person(spark, cfg) -> tuple[str, list[str]]:
    """A customer with a loan, and every value that identifies them: keys, tokens and the
    clear values of their CRM record."""
    xref = lake.read(spark, cfg, "silver.customer_xref")
    loans = lake.read(spark, cfg, "silver.loans")
    key = (
        xref.join(loans, xref.source_key == loans.customer_src_id, "inner")
        .select("source_key").orderBy("source_key").first()[0]
    )  # fmt: skip
    customer = xref.where(F.col("source_key") == key).first()["customer_id"]
    keys = [
        r[0] for r in xref.where(F.col("customer_id") == customer).select("source_key").collect()
    ]
    people = lake.read(spark, cfg, "silver.customers").where(F.col("customer_id") == customer)
    tokens = [v for r in people.select("resident_id_token", "phone_token", "email_token").collect() for v in r]  # fmt: skip
    holders = lake.read(spark, cfg, "silver.account_holders")
    accounts = [
        r[0]
        for df in (
            holders.where(F.col("customer_src_id").isin(keys) & (F.col("role") == "owner")),
            loans.where(F.col("customer_src_id").isin(keys)),
        )
        for r in df.select("account_id").collect()
    ]
    loan_ids = [r[0] for r in loans.where(F.col("customer_src_id").isin(keys)).select("loan_id").collect()]  # fmt: skip
    crm = lake.read(spark, cfg, "bronze.crm_customers").where(F.col("customer_src_id").isin(keys))
    clear = [v for r in crm.select("resident_id", "phone", "email").collect() for v in r]
    values = {customer, *keys, *tokens, *accounts, *loan_ids, *clear} - {None, ""}
    return key, sorted(values)


def _mentions(df, values: list[str], columns: list[str] | None = None):
    text = F.to_json(F.struct(*(columns or df.columns)))
    found = F.lit(False)
    for v in values:
        found = found | text.contains(v)
    return found


def _without(before, values: list[str]):
    """What a table version should hold once the person is gone: their rows dropped; where
    another customer's row names one of their accounts as counterparty, that is emptied."""
    refs = ["counterparty_account", "counterparty_name"]
    if "counterparty_account" not in before.columns:
        return before.where(~_mentions(before, values))
    kept = before.where(~_mentions(before, values, [c for c in before.columns if c not in refs]))
    named = F.col("counterparty_account").isin(values)
    return kept.select(
        *(
            F.when(named, F.lit(None).cast(before.schema[c].dataType)).otherwise(F.col(c)).alias(c)
            if c in refs
            else F.col(c)
            for c in before.columns
        )
    )


def _comparable(df):
    """Maps as JSON: chispa sorts rows by every column, and Spark cannot sort a map."""
    return df.select(
        *(
            F.to_json(c).alias(c) if isinstance(df.schema[c].dataType, T.MapType) else F.col(c)
            for c in df.columns
        )
    )


@pytest.fixture(scope="module")
def forgotten(spark, scored_lake, tmp_path_factory):
    """The scored lake copied, a report and an MLflow artefact quoting the person and another
    customer, then ``forget`` of the person: a dict of what the tests check."""
    original, _, _, _ = scored_lake
    root = tmp_path_factory.mktemp("forget")
    cfg = _copy_lake(original, root)
    key, values = _person(spark, cfg)
    xref = lake.read(spark, cfg, "silver.customer_xref")
    customer = xref.where(F.col("source_key") == key).first()["customer_id"]
    scores = lake.read(spark, cfg, "gold.customer_scores")
    other = scores.where(F.col("customer_id") != customer).first()["customer_id"]
    client = tracking.setup(cfg)
    run = client.create_run(tracking.experiment_id(cfg, "report"))
    client.log_text(run.info.run_id, f"<td>{customer}</td><td>{other}</td>", "alerts.html")
    client.set_terminated(run.info.run_id)
    (root / "reports").mkdir()
    (root / "reports" / "report.html").write_text(f"<td>{customer}</td><td>{other}</td>")
    crm = lake.read(spark, cfg, "bronze.crm_customers")
    return {
        "original": original,
        "cfg": cfg,
        "root": root,
        "key": key,
        "values": values,
        "other": other,
        "run_id": run.info.run_id,
        "batch": crm.where(F.col("customer_src_id") == key).first()["_batch_id"],
        "versions": {name: lake.version(spark, cfg, name) for name in lake.tables(spark, cfg)},
        "done": forget.run(spark, cfg, [key]),
    }


def test_forget_leaves_no_trace_in_any_version_mlflow_or_reports_and_keeps_others(spark, forgotten):
    cfg, values, done, root = forgotten["cfg"], forgotten["values"], forgotten["done"], forgotten["root"]  # fmt: skip
    assert (done["requests"], done["found"], done["reports_redacted"]) == (1, 1, 1)
    assert done["artifacts_redacted"] >= 1  # the planted one; a report run may quote them too
    # no data file, commit or checkpoint of any table holds the person
    for name in lake.tables(spark, cfg):
        table = Path(lake.table_path(cfg, name))
        files = [str(p) for p in table.rglob("*.parquet")]
        holding = spark.read.option("mergeSchema", "true").parquet(*files) if files else None
        assert holding is None or holding.where(_mentions(holding, values)).isEmpty(), name
        for file in (table / "_delta_log").iterdir():
            if file.is_file() and file.suffix != ".parquet":
                assert not any(v.encode() in file.read_bytes() for v in values), file
    # every version of every table: as before, less the person
    for name, latest in forgotten["versions"].items():
        for v in range(latest + 1):
            assert_df_equality(
                _comparable(lake.read(spark, cfg, name, v)),
                _comparable(_without(lake.read(spark, forgotten["original"], name, v), values)),
                ignore_row_order=True,
                ignore_nullable=True,
            )
    # MLflow artefacts and reports: the person's id replaced, the other customer's kept
    expected = f"<td>[forgotten]</td><td>{forgotten['other']}</td>"
    client = tracking.setup(cfg)
    artefact = client.download_artifacts(forgotten["run_id"], "alerts.html", str(root))
    assert Path(artefact).read_text() == expected
    assert (root / "reports" / "report.html").read_text() == expected
    for file in (root / "mlartifacts").rglob("*"):
        if file.is_file():
            assert not any(v.encode() in file.read_bytes() for v in values), file
    # the request log holds hashes, never what was asked
    requests = lake.read(spark, cfg, forget.REQUESTS)
    assert sorted(r["status"] for r in requests.collect()) == ["done", "received"]
    assert requests.where(_mentions(requests, values)).isEmpty()


def test_a_forgotten_person_delivered_again_is_not_landed(spark, forgotten, generated):
    batch = forgotten["batch"]
    # the CRM delivery that brought the person, delivered again as a new batch
    raw, _, _ = generated
    delivery = raw / "crm_customers" / f"batch={batch}"
    landing = forgotten["root"] / "raw"
    shutil.copytree(delivery, landing / "crm_customers" / "batch=b9001")
    cfg = forgotten["cfg"].with_overrides({"paths.raw": str(landing)})

    bronze.run(spark, cfg, sources=["crm_customers"])

    crm = lake.read(spark, cfg, "bronze.crm_customers")
    columns = ["customer_src_id", "full_name", "resident_id", "updated_at"]
    assert_df_equality(
        crm.where(F.col("_batch_id") == "b9001").select(columns),
        crm.where(F.col("_batch_id") == batch).select(columns),  # forget took the person out
        ignore_row_order=True,
    )
    unit = lake.read(spark, cfg, "ops.job_runs").where(F.col("unit") == "crm_customers/b9001")
    delivered = lake.read(spark, forgotten["original"], "bronze.crm_customers").where(
        (F.col("_batch_id") == batch) & F.col("customer_src_id").isin(forgotten["values"])
    )  # each of the person's records: a CRM may hold one person twice
    assert json.loads(unit.first()["details"])["forgotten_rows"] == delivered.count() >= 1
