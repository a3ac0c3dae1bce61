"""The right to be forgotten: ``fin360 forget``.

A request names a person by a source key (a CRM customer id) or by ``customer_id``. The person
is resolved through ``silver.customer_xref`` to every key they have: their source keys, the
accounts they own, their loans and the tokens of their resident id, phone and e-mail. Then:

1. **Every table, every version.** Each data file of each Delta table that holds a row of the
   person, in the current version or in any older one still on storage, is rewritten in place
   without those rows; a row of another customer that names one of the person's accounts as
   counterparty keeps the row and loses the counterparty's account and name. The Delta log is
   patched to match: each ``add``/``remove`` of a rewritten file gets its new size and its
   statistics reduced to the row count (the old min/max could quote the person), in the JSON
   commits and in the checkpoints; the tables' ``.crc`` checksums are dropped (Delta rebuilds
   them). No new version is committed, so time travel to any version still works and shows
   every other customer's rows exactly as before. The tables must not use deletion vectors
   (fin360's do not: a rewritten file would no longer match them).
   Bronze is matched through the source mappings (a record's mapped customer, account, loan
   or identity token), ``bronze._quarantine`` by the person's keys as words of the raw text,
   silver quarantines by the keys in their JSON record.
2. **Crash safety.** A table's replacement files are all written to ``_forget_staging`` first,
   then swapped in; a run killed during the swap finishes it on the next run, a run killed
   before it discards the staging files. Nothing else may write the lakehouse meanwhile: run
   it between the daily jobs, for example before bronze (``jobs/forget.py``).
3. **MLflow and reports.** Text artefacts of every fin360 experiment (reports, tables, input
   examples) and the HTML reports under ``paths.reports`` that quote one of the person's
   keys get it replaced by ``[forgotten]``.
4. **Suppression.** Keyed hashes of the person's keys (never the keys or tokens themselves) go
   to ``ops.forget_suppression``; bronze drops, and counts, a record that carries one, so a
   later delivery does not bring the person back.
5. **Audit.** ``ops.forget_requests`` records each request (a keyed hash of what was asked)
   when it is received and when it is done, with counts; no clear value, key or token.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from fin360 import Fin360Error, catalog, lake
from fin360.bronze.transforms import FORGOTTEN
from fin360.config import Config, SourceSpec, load_sources
from fin360.governance import pii
from fin360.governance.audit import utc_now
from fin360.logs import stage
from fin360.silver import mapping
from fin360.silver.transforms import token_input

log = logging.getLogger(__name__)

REQUESTS = catalog.OPS_FORGET_REQUESTS
SUPPRESSION = catalog.OPS_FORGET_SUPPRESSION
REDACTED = "[forgotten]"
STAGING = "_forget_staging"
_READY = "_READY"  # written once every replacement of a table is staged

# kinds of key a person has
CUSTOMER, SOURCE_KEY, ACCOUNT, LOAN, TOKEN = "customer", "source_key", "account", "loan", "token"
# silver and gold columns naming the person a row is about, by kind ("*": any kind)
SUBJECT_COLUMNS = {
    "customer_id": CUSTOMER,
    "customer_src_id": SOURCE_KEY,
    "source_key": SOURCE_KEY,
    "account_id": ACCOUNT,
    "loan_id": LOAN,
    "resident_id_token": TOKEN,
    "phone_token": TOKEN,
    "email_token": TOKEN,
    "identifier": "*",  # gold.graph_hubs: a shared identifier
}
# a column naming the person in another customer's row -> the columns emptied there
REFERENCE_COLUMNS = {
    "counterparty_account": (ACCOUNT, ("counterparty_account", "counterparty_name"))
}
# canonical columns identifying whom a bronze record is about, by kind (tokens of PII)
_CANONICAL = {
    "customer_src_id": SOURCE_KEY,
    "account_id": ACCOUNT,
    "loan_id": LOAN,
    "counterparty_account": ACCOUNT,
    "resident_id": TOKEN,
    "phone": TOKEN,
    "email": TOKEN,
}
# what a piece of raw text is standardised as before it is compared with a token
_PII_KINDS = ("resident_id", "phone", "email")
_TEXT_SUFFIXES = {".json", ".csv", ".html", ".txt", ".md", ".yaml", ".yml", ".jsonl"}


@dataclass
class Subjects:
    """Every key of the people to forget, by kind. Bounded by the requests of one run."""

    keys: dict[str, set[str]] = field(default_factory=dict)

    def of(self, kind: str) -> list[str]:
        if kind == "*":
            return sorted(set().union(*self.keys.values())) if self.keys else []
        return sorted(self.keys.get(kind, ()))

    def add(self, kind: str, values: Iterable[str | None]) -> None:
        self.keys.setdefault(kind, set()).update(v for v in values if v)

    def words(self) -> list[str]:
        """The keys that may appear in text (tokens are hashes and appear only as themselves)."""
        return self.of("*")


def key_hash(key: bytes, value: Column, purpose: str = "forget") -> Column:
    """The keyed hash of a key that the suppression list and the request log hold: never
    equal to a token of the same value, worthless without the key."""
    return pii.hmac_token(F.concat(F.lit(f"{purpose}:"), value), key)


# ---------------------------------------------------------------------------- resolution
def resolve(spark: SparkSession, cfg: Config, requested: list[str]) -> tuple[Subjects, dict]:
    """The people behind the requested keys: their keys of every kind, and per request the
    customer it named (None when no table knows it; its key is still forgotten and suppressed).
    """
    subjects = Subjects()
    found: dict[str, str | None] = dict.fromkeys(requested)
    if lake.exists(spark, cfg, catalog.SILVER_CUSTOMER_XREF):
        xref = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF)
        asked = spark.createDataFrame([(r,) for r in requested], "requested string")
        by_key = asked.join(xref, asked.requested == xref.source_key, "inner")
        by_id = asked.join(xref, asked.requested == xref.customer_id, "inner")
        for r in by_key.unionByName(by_id).select("requested", "customer_id").distinct().collect():
            found[r["requested"]] = r["customer_id"]  # bounded: the requests
    customers = sorted({c for c in found.values() if c})
    subjects.add(CUSTOMER, customers)
    subjects.add(SOURCE_KEY, [r for r, c in found.items() if c is None])
    if customers:
        xref = lake.read(spark, cfg, catalog.SILVER_CUSTOMER_XREF)
        subjects.add(
            SOURCE_KEY, _values(xref.where(F.col("customer_id").isin(customers)), "source_key")
        )
        people = lake.read(spark, cfg, catalog.silver("customer"))
        mine = people.where(F.col("customer_id").isin(customers))
        for c in ("resident_id_token", "phone_token", "email_token"):
            subjects.add(TOKEN, _values(mine, c))
    keys = subjects.of(SOURCE_KEY)
    if keys and lake.exists(spark, cfg, catalog.silver("account_holder")):
        holders = lake.read(spark, cfg, catalog.silver("account_holder"))
        owned = holders.where(F.col("customer_src_id").isin(keys) & (F.col("role") == "owner"))
        subjects.add(ACCOUNT, _values(owned, "account_id"))
    if keys and lake.exists(spark, cfg, catalog.silver("loan")):
        loans = lake.read(spark, cfg, catalog.silver("loan")).where(
            F.col("customer_src_id").isin(keys)
        )
        subjects.add(LOAN, _values(loans, "loan_id"))
        subjects.add(ACCOUNT, _values(loans, "account_id"))
    return subjects, found


def _values(df: DataFrame, column: str) -> list[str]:
    """One person's keys of one kind: a handful of rows per request."""
    found = df.select(column).distinct().collect()  # bounded: a handful per request
    return [r[0] for r in found if r[0] is not None]


# ---------------------------------------------------------------------------- what matches
@dataclass(frozen=True)
class Match:
    """Which rows of a table are the person's (removed) and which name them (emptied)."""

    remove: Column | None
    references: tuple[tuple[Column, tuple[str, ...]], ...] = ()

    def any(self) -> Column:
        conditions = [c for c in (self.remove, *(r[0] for r in self.references)) if c is not None]
        out = F.lit(False)
        for c in conditions:
            out = out | F.coalesce(c, F.lit(False))
        return out

    def apply(self, df: DataFrame) -> DataFrame:
        """``df`` without the person: their rows gone, references to them emptied."""
        out = df.where(~F.coalesce(self.remove, F.lit(False))) if self.remove is not None else df
        for condition, columns in self.references:
            out = out.select(
                *(
                    F.when(
                        F.coalesce(condition, F.lit(False)),
                        F.lit(None).cast(out.schema[c].dataType),
                    )
                    .otherwise(F.col(c))
                    .alias(c)
                    if c in columns and c in out.columns
                    else F.col(c)
                    for c in out.columns
                )
            )
        return out


def _any_of(conditions: list[Column]) -> Column | None:
    if not conditions:
        return None
    out = conditions[0]
    for c in conditions[1:]:
        out = out | c
    return out


def table_match(name: str, df: DataFrame, subjects: Subjects, ctx: MatchContext) -> Match | None:
    """The person's rows in ``df``, rows of table ``name``; None when it cannot hold any."""
    columns = df.columns
    if name == catalog.BRONZE_QUARANTINE:
        return Match(_in_text(F.col("raw"), subjects, ctx.key))
    if catalog.is_silver_quarantine(name):
        record = F.from_json(F.col("record"), "map<string,string>")
        found = [
            record[c].isin(subjects.of(kind))
            for c, kind in {**SUBJECT_COLUMNS, "counterparty_account": ACCOUNT}.items()
            if subjects.of(kind)
        ]
        return Match(_any_of(found))
    if name.startswith("bronze."):
        return ctx.bronze_match(name.partition(".")[2], df, subjects)
    remove = _any_of(
        [
            F.col(c).isin(subjects.of(k))
            for c, k in SUBJECT_COLUMNS.items()
            if c in columns and subjects.of(k)
        ]
    )
    refs = tuple(
        (F.col(c).isin(subjects.of(kind)), emptied)
        for c, (kind, emptied) in REFERENCE_COLUMNS.items()
        if c in columns and subjects.of(kind)
    )
    if remove is None and not refs:
        return None
    return Match(remove, refs)


def _in_text(text: Column, subjects: Subjects, key: bytes) -> Column:
    """A key of the person as a word of ``text``, or a word whose standardised resident id,
    phone or e-mail has one of the person's tokens."""
    words = F.split(text, r"[^\p{L}\p{N}@.+_-]+")
    found = F.arrays_overlap(words, F.array(*(F.lit(w) for w in subjects.words())))
    tokens = subjects.of(TOKEN)
    if tokens:
        wanted = F.array(*(F.lit(t) for t in tokens))
        hashed = F.transform(
            words,
            lambda w: F.array(
                *(
                    pii.hmac_token(token_input(mapping.standardised(w, k), k), key)
                    for k in _PII_KINDS
                )
            ),
        )
        found = found | F.arrays_overlap(F.flatten(hashed), wanted)
    return found


@dataclass
class MatchContext:
    key: bytes
    mappings: dict[str, list[mapping.EntityMapping]]  # source -> its mappings
    timezone: str
    dates: Any

    def identifiers(self, source: str, df: DataFrame) -> list[tuple[str, Column]]:
        """(kind, value) of every canonical column that says whom a record of ``source`` is
        about, computed from its raw columns as silver maps them; PII as its token."""
        out = []
        for m in self.mappings.get(source, []):
            names = {c.name: c for c in m.entity.columns}
            for target, kind in _CANONICAL.items():
                cm = m.columns.get(target)
                if cm is None or (cm.column is not None and cm.column not in df.columns):
                    continue
                value = mapping.canonical_value(df, m, names[target], self.timezone, self.dates)
                if kind == TOKEN:
                    value = pii.hmac_token(token_input(value, names[target].type), self.key)
                out.append((kind, value.cast("string")))
        return out

    def bronze_match(self, source: str, df: DataFrame, subjects: Subjects) -> Match | None:
        found = [v.isin(subjects.of(k)) for k, v in self.identifiers(source, df) if subjects.of(k)]
        return Match(_any_of(found)) if found else None


def match_context(spark: SparkSession, cfg: Config, key: bytes) -> MatchContext:
    by_source: dict[str, list[mapping.EntityMapping]] = {}
    for spec in load_sources(cfg).values():
        by_source[spec.name] = mapping.parse_source(spark, spec)
    return MatchContext(key, by_source, cfg["silver.default_timezone"], mapping.date_bounds(cfg))


# ---------------------------------------------------------------------------- the rewrite
@dataclass
class TableResult:
    table: str
    files_rewritten: int = 0
    rows_removed: int = 0


def purge(
    spark: SparkSession, cfg: Config, name: str, subjects: Subjects, ctx: MatchContext
) -> TableResult:
    """Rewrite every file of ``name`` (any version) that holds the person, and its log."""
    root = lake.table_path(cfg, name).rstrip("/")
    fs = lake.FileSystem(spark, root)
    _recover(fs, root)
    result = TableResult(name)
    files = [
        f"{root}/{f}"
        for f in fs.walk(root)
        if f.endswith(".parquet") and not f.startswith(("_delta_log/", f"{STAGING}/"))
    ]
    if not files:
        return result
    # every version's files in one frame; the match is built once (a request file's keys are
    # thousands of literals) and applied to each file padded to the merged columns
    merged = spark.read.option("mergeSchema", "true").parquet(*files)
    match = table_match(name, merged, subjects, ctx)
    hits = _files_holding(merged, match, files) if match is not None else {}
    if not hits:
        return result
    staging = f"{root}/{STAGING}"
    fs.delete(staging)
    new: dict[str, tuple[int, int]] = {}  # path relative to root -> (size, rows)
    for path, (rows, removed) in hits.items():
        df = spark.read.parquet(path)  # the file's own schema, kept
        padded = df.select(
            "*",
            *(
                F.lit(None).cast(f.dataType).alias(f.name)
                for f in merged.schema
                if f.name not in df.columns
            ),
        )
        relative = path[len(root) + 1 :]
        target = f"{staging}/data/{relative}"
        fs.write_parquet(match.apply(padded).select(*df.columns), target)
        new[relative] = (fs.size(target), rows - removed)
        result.rows_removed += removed
        result.files_rewritten += 1
    _stage_log(spark, fs, root, staging, new)
    fs.write_text(f"{staging}/{_READY}", "")
    _recover(fs, root)
    return result


def _files_holding(df: DataFrame, match: Match, files: list[str]) -> dict[str, tuple[int, int]]:
    """File -> (rows, rows of the person) of each file that names the person: one scan of the
    table's whole history."""
    removed = F.coalesce(match.remove, F.lit(False)) if match.remove is not None else F.lit(False)
    found = (
        df.groupBy(F.input_file_name().alias("f"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_if(removed).alias("removed"),
            F.count_if(match.any()).alias("named"),
        )
        .where(F.col("named") > 0)
    )
    by_name = {Path(unquote(f)).name: f for f in files}
    return {
        by_name[Path(unquote(r["f"])).name]: (r["rows"], r["removed"])
        for r in found.collect()  # bounded: a row per file
    }


def _stage_log(
    spark: SparkSession, fs: lake.FileSystem, root: str, staging: str, new: dict
) -> None:
    """The table's commits and checkpoints with the rewritten files' sizes and row counts."""
    logdir = f"{root}/_delta_log"
    for file in fs.walk(logdir, recursive=False):
        path = f"{logdir}/{file}"
        if file.endswith(".json") and file[:20].isdigit():
            text = fs.read_text(path)
            lines = [_patched_action(line, new) for line in text.splitlines()]
            out = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
            if out != text:
                fs.write_text(f"{staging}/log/{file}", out)
        elif ".checkpoint" in file and file.endswith(".parquet"):
            _stage_checkpoint(spark, fs, path, f"{staging}/log/{file}", new)
    if fs.exists(f"{logdir}/_last_checkpoint"):
        last = json.loads(fs.read_text(f"{logdir}/_last_checkpoint"))
        last.pop("checksum", None)
        last.pop("sizeInBytes", None)  # the checkpoint's size changes
        fs.write_text(f"{staging}/log/_last_checkpoint", json.dumps(last))


def _patched_action(line: str, new: dict[str, tuple[int, int]]) -> str:
    if not line.strip():
        return line
    action = json.loads(line)
    for kind in ("add", "remove", "cdc"):
        a = action.get(kind)
        if a is None or unquote(a["path"]) not in new:
            continue
        if a.get("deletionVector"):
            raise Fin360Error(f"file {a['path']} has a deletion vector: forget cannot rewrite it")
        size, rows = new[unquote(a["path"])]
        if "size" in a:
            a["size"] = size
        if a.get("stats"):
            a["stats"] = json.dumps({"numRecords": rows})
        return json.dumps(action, separators=(",", ":"))
    return line


def _stage_checkpoint(
    spark: SparkSession, fs: lake.FileSystem, path: str, target: str, new: dict
) -> None:
    ckpt = spark.read.parquet(path)
    if "add" not in ckpt.columns:
        return
    paths = F.create_map(*(F.lit(x) for p in new for x in (p, p)))
    sizes = F.create_map(*(F.lit(x) for p, (size, _) in new.items() for x in (p, size)))
    rows = F.create_map(*(F.lit(x) for p, (_, n) in new.items() for x in (p, n)))
    out = ckpt
    for kind in ("add", "remove"):
        if kind not in ckpt.columns:
            continue
        p = F.url_decode(F.col(f"{kind}.path"))
        fields = {f.name: f.dataType for f in ckpt.schema[kind].dataType.fields}
        patched = F.col(kind).withField("size", sizes[p].cast(fields["size"]))
        if "stats" in fields:
            patched = patched.withField(
                "stats", F.to_json(F.struct(rows[p].cast("long").alias("numRecords")))
            )
        if "stats_parsed" in fields:
            patched = patched.withField("stats_parsed", F.lit(None).cast(fields["stats_parsed"]))
        out = out.withColumn(kind, F.when(paths[p].isNotNull(), patched).otherwise(F.col(kind)))
    hit = ckpt.where(F.url_decode(F.col("add.path")).isin(list(new)))
    if "remove" in ckpt.columns:
        hit = ckpt.where(
            F.url_decode(F.col("add.path")).isin(list(new))
            | F.url_decode(F.col("remove.path")).isin(list(new))
        )
    if hit.isEmpty():
        return
    fs.write_parquet(out, target)


def _recover(fs: lake.FileSystem, root: str) -> None:
    """Swap in the staged files of a run that got as far as staging them all; drop the staging
    of a run that did not (its originals are untouched)."""
    staging = f"{root}/{STAGING}"
    if not fs.exists(staging):
        return
    if not fs.exists(f"{staging}/{_READY}"):
        fs.delete(staging)
        return
    for path in fs.walk(f"{staging}/data"):
        fs.replace(f"{staging}/data/{path}", f"{root}/{path}")
    for file in fs.walk(f"{staging}/log", recursive=False):
        fs.replace(f"{staging}/log/{file}", f"{root}/_delta_log/{file}")
    for file in fs.walk(f"{root}/_delta_log", recursive=False):
        if file.endswith(".crc"):  # table sizes Delta recomputes; stale now
            fs.delete(f"{root}/_delta_log/{file}")
    fs.delete(staging)


# ---------------------------------------------------------------------------- artefacts
def redact_text(text: str, words: list[str]) -> str:
    if not words:
        return text
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![\w-])"
    )
    return pattern.sub(REDACTED, text)


def redact_artifacts(cfg: Config, words: list[str]) -> int:
    """Replace the person's keys in the text artefacts of every fin360 experiment; returns the
    number of artefacts changed."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from fin360.ml import tracking

    client = tracking.setup(cfg)
    prefix = cfg["mlflow.experiment_prefix"]
    changed = 0
    for exp in client.search_experiments(filter_string=f"name LIKE '{prefix}-%'"):
        repo = get_artifact_repository(exp.artifact_location)
        for path in _artifact_files(repo, None):
            if Path(path).suffix.lower() not in _TEXT_SUFFIXES:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(repo.download_artifacts(path, tmp))
                text = local.read_text(encoding="utf-8", errors="surrogateescape")
                out = redact_text(text, words)
                if out == text:
                    continue
                local.write_text(out, encoding="utf-8", errors="surrogateescape")
                repo.delete_artifacts(path)
                parent = str(Path(path).parent)
                repo.log_artifact(str(local), None if parent == "." else parent)
                changed += 1
    return changed


def _artifact_files(repo: Any, path: str | None) -> list[str]:
    out = []
    for f in repo.list_artifacts(path):
        out.extend(_artifact_files(repo, f.path) if f.is_dir else [f.path])
    return out


def redact_reports(cfg: Config, words: list[str]) -> int:
    root = Path(cfg.path("reports"))
    changed = 0
    for file in sorted(root.rglob("*")) if root.exists() else []:
        if file.is_file() and file.suffix.lower() in _TEXT_SUFFIXES:
            text = file.read_text(encoding="utf-8", errors="surrogateescape")
            out = redact_text(text, words)
            if out != text:
                file.write_text(out, encoding="utf-8", errors="surrogateescape")
                changed += 1
    return changed


# ---------------------------------------------------------------------------- suppression
def suppression_hashes(spark: SparkSession, cfg: Config) -> DataFrame | None:
    if not lake.exists(spark, cfg, SUPPRESSION):
        return None
    return lake.read(spark, cfg, SUPPRESSION).select("kind", "key_hash").distinct()


def suppressed(
    spark: SparkSession, cfg: Config, spec: SourceSpec
) -> Callable[[DataFrame], DataFrame] | None:
    """Adds ``_forgotten`` to raw records of ``spec``: true when one carries a forgotten
    person's key (matched through the source's mappings). None when nobody was forgotten."""
    listed = suppression_hashes(spark, cfg)
    if listed is None:
        return None
    key = pii.pii_key()
    ctx = MatchContext(
        key,
        {spec.name: mapping.parse_source(spark, spec)},
        cfg["silver.default_timezone"],
        mapping.date_bounds(cfg),
    )
    hashes = listed.select("key_hash").distinct()

    def flag(df: DataFrame) -> DataFrame:
        hits = []
        out = df
        for i, (_, value) in enumerate(ctx.identifiers(spec.name, df)):
            found = hashes.select(F.col("key_hash").alias(f"_fh{i}"), F.lit(True).alias(f"_fx{i}"))
            out = out.withColumn(f"_fh{i}", key_hash(key, value)).join(
                F.broadcast(found), f"_fh{i}", "left"
            )
            hits.append(f"_fx{i}")
        forgotten = F.coalesce(*(F.col(h) for h in hits), F.lit(False)) if hits else F.lit(False)
        helpers = [c for c in out.columns if c.startswith(("_fh", "_fx"))]
        return out.withColumn(FORGOTTEN, forgotten).drop(*helpers)

    return flag


# ---------------------------------------------------------------------------- the command
def run(spark: SparkSession, cfg: Config, requested: list[str]) -> dict[str, Any]:
    """Forget the people behind ``requested`` keys everywhere; returns what was done."""
    requested = sorted({r.strip() for r in requested if r and r.strip()})
    if not requested:
        raise Fin360Error(
            "forget: no customer given (a source key or customer_id, or a file of them)"
        )
    key = pii.pii_key()
    started = utc_now()
    request_ids = {r: str(uuid.uuid4()) for r in requested}
    asked = spark.createDataFrame(
        [(request_ids[r], r) for r in requested], "request_id string, value string"
    )
    _record(spark, cfg, asked, key, "received", started, {})
    with stage(log, "forget", requests=len(requested)) as out:
        subjects, found = resolve(spark, cfg, requested)
        ctx = match_context(spark, cfg, key)
        results = []
        for name in lake.tables(spark, cfg):
            if name in (REQUESTS, SUPPRESSION) or name.startswith("ops."):
                continue  # ops tables hold counts and hashes, no person
            with stage(log, "forget", table=name) as t:
                r = purge(spark, cfg, name, subjects, ctx)
                t.update(files=r.files_rewritten, rows=r.rows_removed)
            results.append(r)
        words = subjects.words()
        artefacts = redact_artifacts(cfg, words)
        reports = redact_reports(cfg, words)
        _suppress(spark, cfg, subjects, key)
        summary = {
            "requests": len(requested),
            "found": sum(1 for c in found.values() if c),
            "tables_changed": sum(1 for r in results if r.files_rewritten),
            "files_rewritten": sum(r.files_rewritten for r in results),
            "rows_removed": sum(r.rows_removed for r in results),
            "artifacts_redacted": artefacts,
            "reports_redacted": reports,
            "seconds": round((utc_now() - started).total_seconds(), 1),
        }
        out.update(**{k: v for k, v in summary.items() if k not in ("seconds", "requests")})
    not_found = [request_ids[r] for r, c in found.items() if c is None]
    _record(spark, cfg, asked, key, "done", utc_now(), summary, not_found)
    summary["tables"] = {r.table: r.rows_removed for r in results if r.files_rewritten}
    return summary


def _record(
    spark: SparkSession,
    cfg: Config,
    asked: DataFrame,
    key: bytes,
    status: str,
    at: Any,
    details: dict,
    not_found: list[str] | None = None,
) -> None:
    rows = asked.select(
        "request_id",
        key_hash(key, F.col("value"), "request").alias("subject_hash"),
        (
            F.when(F.col("request_id").isin(not_found or []), F.lit("not_found")).otherwise(
                F.lit(status)
            )
            if not_found
            else F.lit(status)
        ).alias("status"),
        F.lit(at).cast("timestamp").alias("at"),
        F.lit(json.dumps(details, sort_keys=True)).alias("details"),
    )
    lake.append(rows, cfg, REQUESTS)


def _suppress(spark: SparkSession, cfg: Config, subjects: Subjects, key: bytes) -> None:
    rows = [(kind, v) for kind in (SOURCE_KEY, ACCOUNT, LOAN, TOKEN) for v in subjects.of(kind)]
    if not rows:
        return
    df = spark.createDataFrame(rows, "kind string, value string").select(
        "kind",
        key_hash(key, F.col("value")).alias("key_hash"),
        F.lit(utc_now()).cast("timestamp").alias("added_at"),
    )
    lake.append(df, cfg, SUPPRESSION)
