"""``fin360 sources check``: what it predicts without writing a table is what bronze and silver
then do with the same batch."""

from __future__ import annotations

import re
import shutil

import yaml
from pyspark.sql import functions as F

from fin360 import canonical, catalog, lake, onboarding
from fin360.config import REPO_CONF_DIR, load_config
from fin360.silver import quality


def _silver_reasons(spark, cfg, entity, source: str, batch: str, visible: set[str]) -> dict:
    """Quarantine reasons silver recorded for one source batch, among those a check sees."""
    table = catalog.silver_quarantine(catalog.silver(entity))
    if not lake.exists(spark, cfg, table):  # written with the first record silver rejects
        return {}
    rows = (
        lake.read(spark, cfg, table)
        .where((F.col("source") == source) & (F.col("_batch_id") == batch))
        .select(F.explode("rules").alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    )
    return {r["reason"]: r["count"] for r in rows if ":" in r["reason"] or r["reason"] in visible}


def test_check_predicts_what_bronze_and_silver_do(spark, silver_lake):
    cfg, _, manifest = silver_lake
    reports = onboarding.check(spark, cfg, sample=3)
    assert [r.name for r in reports if not r.ok] == []
    assert {r.name for r in reports} == set(manifest["sources"])
    rules = quality.load_rules(cfg)
    predicted_any = 0
    for r in reports:
        assert r.batch == max(manifest["sources"][r.name])
        assert r.missing == []
        for name, e in r.entities.items():
            entity = canonical.entity(name)
            visible = {
                rule.name
                for rule in rules.get(entity.table, [])
                if rule.check in quality.ROW_CHECKS - {"references"}
                and set(rule.columns) <= set(entity.column_names)  # not fx_rate: joined later
            }
            silver = _silver_reasons(spark, cfg, name, r.name, r.batch, visible)
            assert e["reasons"] == silver, (r.name, name)
            assert e["rows"] == r.rows - r.bronze_rejected
            predicted_any += e["quarantined"]
            for row in e["sample"]:
                assert not set(row) & set(e["hidden"]), (r.name, name)
    assert predicted_any > 0  # the test data's dirt is seen, so the comparison means something


def test_a_broken_source_is_reported_and_the_others_still_checked(spark, silver_lake, tmp_path):
    cfg, _, _ = silver_lake
    conf = tmp_path / "conf"
    shutil.copytree(REPO_CONF_DIR, conf)
    sources = yaml.safe_load((conf / "sources.yml").read_text(encoding="utf-8"))
    sources["sources"]["products"]["entities"]["product"]["product_code"] = "no_such_column"
    (conf / "sources.yml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    broken = load_config("test", conf).with_overrides(
        {k: cfg[k] for k in ("paths.raw", "paths.lakehouse")}
    )
    reports = {r.name: r for r in onboarding.check(spark, broken, ["products", "fx_rates"], 1)}
    assert reports["fx_rates"].ok
    assert re.search(
        r"sources\.yml.*products.*product_code.*no_such_column", reports["products"].error
    )
    text = onboarding.render(list(reports.values()))
    assert "== products: ERROR" in text and "== fx_rates: OK" in text
