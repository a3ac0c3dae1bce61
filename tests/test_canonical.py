"""The canonical model and the table catalog: generated reference, and the rules that keep
table names and the generator's truth out of production code."""

from __future__ import annotations

import re
from pathlib import Path

from fin360 import canonical, catalog

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = [p for p in (ROOT / "lib" / "fin360").rglob("*.py") if "sources" not in p.parts]


def test_canonical_model_doc_is_generated_from_the_code():
    doc = ROOT / "docs" / "canonical_model.md"
    assert doc.read_text(encoding="utf-8") == canonical.render_doc(), (
        "docs/canonical_model.md is stale: run `fin360 canonical-doc`"
    )


def test_every_entity_is_a_silver_table_of_the_catalog():
    names = {t.name for t in catalog.TABLES}
    for entity in canonical.ENTITIES.values():
        assert f"silver.{entity.table}" in names
        assert set(entity.keys) <= set(entity.column_names), entity.name
        assert entity.time is None or entity.time in entity.column_names, entity.name
        for col in entity.columns:
            assert col.type in canonical.TYPES, (entity.name, col.name)
            assert col.pii in (None, *canonical.PII_CLASSES), (entity.name, col.name)


def test_no_production_module_reads_the_generators_truth():
    readers = [
        p.relative_to(ROOT)
        for p in PRODUCTION
        if re.search(r"path\(\s*[\"']truth[\"']\s*\)|paths\.truth", p.read_text(encoding="utf-8"))
    ]
    # fin360 evaluate grades against the truth on request; the CLI and the benchmark (which
    # generates its own banks) tell the generator where to write it; config declares the key
    assert sorted(map(str, readers)) == [
        "lib/fin360/bench/pipeline.py",
        "lib/fin360/cli.py",
        "lib/fin360/config.py",
        "lib/fin360/eval/__init__.py",
    ]


def _config_keys(schema: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in schema.items():
        keys.add(f"{prefix}{key}")
        if isinstance(value, dict):
            keys |= _config_keys(value, f"{prefix}{key}.")
    return keys


def test_table_names_appear_only_in_the_catalog():
    from fin360.config import SCHEMA

    config_keys = _config_keys(SCHEMA)
    literal = re.compile(r"[\"']((?:bronze|silver|gold|ops)\.[a-z_]+)")
    found = {
        (str(p.relative_to(ROOT)), name)
        for p in PRODUCTION
        if p.name != "catalog.py"
        for name in literal.findall(p.read_text(encoding="utf-8"))
        if name not in config_keys
    }
    assert found == set()


def test_every_delta_write_and_merge_goes_through_lake():
    delta_io = re.compile(r"\.write\.|DeltaTable|(?<!lake)\.merge\(|writeStream")
    # the benchmark's floors write plain Spark on purpose, to scratch folders outside the
    # lakehouse: they measure what fin360 costs over a bare write
    exempt = {"lib/fin360/lake.py", "lib/fin360/bench/pipeline.py"}
    found = {
        str(p.relative_to(ROOT))
        for p in PRODUCTION
        if delta_io.search(p.read_text(encoding="utf-8"))
    } - exempt
    assert found == set()
