from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fin360.config import REPO_CONF_DIR, ConfigError, load_config, load_sources


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    """A copy of the project's conf/ that a test may edit."""
    target = tmp_path / "conf"
    shutil.copytree(REPO_CONF_DIR, target)
    return target


def test_env_file_overrides_base_and_relative_paths_resolve_from_project_root():
    cfg = load_config("test")
    assert cfg["spark.shuffle_partitions"] == 2  # test.yml
    assert cfg["spark.master"] == "local[2]"
    assert cfg["app_name"] == "fin360"  # base.yml
    assert cfg.path("lakehouse") == str(REPO_CONF_DIR.parent / "data" / "lakehouse")
    # nested mappings merge key by key
    assert cfg["spark.conf"]["spark.ui.enabled"] == "false"
    assert cfg["spark.conf"]["spark.sql.ansi.enabled"] == "false"


def test_environment_variables_override_files(monkeypatch, tmp_path):
    monkeypatch.setenv("FIN360_LAKEHOUSE", str(tmp_path / "lh"))
    monkeypatch.setenv("FIN360_RAW", "s3a://bank-raw/landing")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("FIN360__SPARK__SHUFFLE_PARTITIONS", "16")
    cfg = load_config("test")
    assert cfg.path("lakehouse") == str(tmp_path / "lh")
    assert cfg.path("raw") == "s3a://bank-raw/landing"
    assert cfg["mlflow.tracking_uri"] == "http://127.0.0.1:5000"
    assert cfg["spark.shuffle_partitions"] == 16


def test_two_lakehouses_on_one_machine_are_isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("FIN360_LAKEHOUSE", str(tmp_path / "a"))
    first = load_config("local")
    monkeypatch.setenv("FIN360_LAKEHOUSE", str(tmp_path / "b"))
    second = load_config("local")
    assert first.path("lakehouse") != second.path("lakehouse")


def test_variable_substitution_with_default_and_missing(conf_dir, monkeypatch):
    (conf_dir / "cluster.yml").write_text(
        "paths:\n  lakehouse: ${LH_ROOT}/lake\n  raw: ${RAW_ROOT:-/mnt/raw}\n"
    )
    monkeypatch.setenv("LH_ROOT", "hdfs://nn:8020/fin360")
    cfg = load_config("cluster", conf_dir)
    assert cfg.path("lakehouse") == "hdfs://nn:8020/fin360/lake"
    assert cfg.path("raw") == "/mnt/raw"
    monkeypatch.delenv("LH_ROOT")
    with pytest.raises(ConfigError, match=r"cluster.yml: 'paths.lakehouse' uses \$\{LH_ROOT\}"):
        load_config("cluster", conf_dir)


def test_misspelt_key_names_key_file_and_suggestion(conf_dir):
    (conf_dir / "local.yml").write_text("spark:\n  shuffle_partitons: 4\n")
    with pytest.raises(ConfigError) as err:
        load_config("local", conf_dir)
    message = str(err.value)
    assert "local.yml" in message
    assert "'spark.shuffle_partitons'" in message
    assert "did you mean 'spark.shuffle_partitions'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "spark:\n  shuffle_partitions: many\n",
            "'spark.shuffle_partitions' must be int or 'auto'",
        ),
        (
            "spark:\n  shuffle_partitions: true\n",
            "'spark.shuffle_partitions' must be int or 'auto'",
        ),
        ("paths: /tmp\n", "'paths' must be a mapping"),
        ("spark: [1\n", "not valid YAML"),
    ],
)
def test_wrong_types_fail_with_the_key(conf_dir, text, expected):
    (conf_dir / "local.yml").write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config("local", conf_dir)


def test_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("FIN360__SPARK__MASTR", "local[1]")
    with pytest.raises(ConfigError, match="environment variable FIN360__SPARK__MASTR"):
        load_config("test")


def test_unknown_environment_lists_the_available_ones():
    with pytest.raises(
        ConfigError, match=r"unknown environment 'prod'.*cluster, docker, local, test"
    ):
        load_config("prod")


def test_overrides_are_validated():
    cfg = load_config("test")
    assert cfg.with_overrides({"generator.customers": 50})["generator.customers"] == 50
    with pytest.raises(ConfigError, match="unknown config key 'generator.customer'"):
        cfg.with_overrides({"generator.customer": 50})


def test_sources_declare_formats_and_pii():
    sources = load_sources(load_config("test"))
    assert {s.format for s in sources.values()} == {"csv", "json", "parquet", "fixed_width"}
    crm = sources["crm_customers"]
    assert crm.encodings == {"*.gbk.csv": "GBK"}
    assert "resident_id" in crm.pii
    assert crm.required_columns == ["customer_src_id", "updated_at"]
    assert all(c.width for c in sources["core_accounts"].columns)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("format: xml\n    columns: [a]", "format must be one of"),
        ("format: csv\n    colums: [a]", "unknown key 'colums' \\(did you mean 'columns'\\?\\)"),
        ("format: csv\n    columns: [a]\n    pii: [b]", "pii names undeclared column"),
        ("format: fixed_width\n    columns: [a]", "needs a positive integer 'width'"),
        ("format: csv", "declares no columns"),
        (
            "format: csv\n    columns: [a]\n    options: {delimeter: x}",
            "unknown csv option 'delimeter'",
        ),
    ],
)
def test_bad_source_declarations(conf_dir, entry, expected):
    (conf_dir / "sources.yml").write_text(f"sources:\n  s1:\n    {entry}\n")
    with pytest.raises(ConfigError, match=expected):
        load_sources(load_config("test", conf_dir))


@pytest.mark.parametrize(
    ("name", "entry", "expected"),
    [
        ('"../../etc"', "format: csv\n    columns: [a]", "a source name names its table"),
        ('"s1; DROP TABLE silver.customers"', "format: csv\n    columns: [a]", "a source name names its table"),
        ("s1", "format: csv\n    columns: [a]\n    path: ../../etc", "path must be a folder under paths.raw"),
        ("s1", "format: csv\n    columns: [a]\n    path: /etc", "path must be a folder under paths.raw"),
        ("s1", "format: csv\n    columns: [a]\n    path: 's3://other/bucket'", "path must be a folder under paths.raw"),
        ("s1", "format: csv\n    columns: ['a.b']", "column name 'a.b' may not"),
        ("s1", "format: csv\n    columns: ['a` OR 1=1 --']", "may not be empty or hold"),
    ],
)  # fmt: skip
def test_names_and_paths_from_config_reach_no_path_or_sql_unchecked(
    conf_dir, name, entry, expected
):
    (conf_dir / "sources.yml").write_text(f"sources:\n  {name}:\n    {entry}\n")
    with pytest.raises(ConfigError, match=expected):
        load_sources(load_config("test", conf_dir))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1e-4", 1e-4), ("2.5E3", 2500.0), ("1.0e-6", 1e-6), ("8", 8), ("local[2]", "local[2]"),
     ("[a, b]", ["a", "b"]), ("e5", "e5"), ("", "")],
)  # fmt: skip
def test_command_line_values_read_as_yaml_and_exponents_as_numbers(raw, expected):
    from fin360.config import parse_value

    assert parse_value(raw) == expected
    assert type(parse_value(raw)) is type(expected)
