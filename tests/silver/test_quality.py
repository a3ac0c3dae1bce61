from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from fin360.config import ConfigError, load_config
from fin360.silver import quality
from fin360.silver.quality import Rule

RULES = [
    Rule("id_present", "not_null", ("id",), blocking=True, threshold=0.3),
    Rule("amount_positive", "range", ("amount",), params={"min": 0}),
    Rule("currency_known", "allowed_values", ("currency",), params={"values": ["CNY", "USD"]}),
    Rule("code_format", "regex", ("code",), params={"pattern": r"^[A-Z]{3}\d$"}),
    Rule("id_unique", "unique", ("id",)),
    Rule(
        "account_known",
        "references",
        ("account",),
        params={"table": "silver.accounts", "ref_column": "account_id"},
    ),
    Rule("recent", "freshness", ("ts",), params={"max_age_days": 30}),
]


def _rows(spark):
    return spark.createDataFrame(
        [
            ("t1", 10.0, "CNY", "ABC1", "A1", datetime(2026, 1, 10)),
            ("t2", -5.0, "XXX", "abc", "A9", datetime(2026, 1, 11)),
            ("t2", 1.0, "USD", None, None, datetime(2026, 1, 12)),
            (None, None, None, "ABC2", "A1", datetime(2026, 1, 12)),
        ],
        "id string, amount double, currency string, code string, account string, ts timestamp",
    )


def test_row_rules_tag_each_failing_row(spark):
    accounts = spark.createDataFrame([("A1",)], "account_id string")
    checked = quality.with_rule_failures(_rows(spark), RULES, {"silver.accounts": accounts})
    got = {(r["id"], r["amount"]): sorted(r["_dq_failures"]) for r in checked.collect()}
    assert got == {
        ("t1", 10.0): [],
        ("t2", -5.0): [
            "account_known",
            "amount_positive",
            "code_format",
            "currency_known",
            "id_unique",
        ],
        ("t2", 1.0): ["id_unique"],
        (None, None): ["id_present"],
    }


def test_results_one_per_rule_and_blocking_threshold(spark):
    accounts = spark.createDataFrame([("A1",)], "account_id string")
    checked = quality.with_rule_failures(_rows(spark), RULES, {"silver.accounts": accounts})
    results = quality.rule_results(
        quality.failure_profile(checked, RULES), RULES, now=datetime(2026, 3, 1)
    )
    by_rule = {r["rule"]: r for r in results}
    assert [r["rule"] for r in results] == [r.name for r in RULES]
    assert by_rule["id_unique"]["rows_failed"] == 2
    assert by_rule["recent"]["rows_failed"] == 4  # newest row is older than 30 days
    assert by_rule["id_present"]["failure_rate"] == 0.25 and by_rule["id_present"]["passed"]
    assert quality.blocking_breaches(results) == []
    strict = [Rule("id_present", "not_null", ("id",), blocking=True, threshold=0.1)]
    breaches = quality.blocking_breaches(
        quality.rule_results(
            quality.failure_profile(quality.with_rule_failures(_rows(spark), strict), strict),
            strict,
            now=datetime(2026, 1, 1),
        )
    )
    assert [b["rule"] for b in breaches] == ["id_present"]


def test_row_count_change_against_previous_batch(spark):
    rule = Rule("volume", "row_count_change", params={"max_change": 0.5})
    profile = quality.failure_profile(quality.with_rule_failures(_rows(spark), [rule]), [rule])
    assert quality.rule_results(profile, [rule], now=datetime(2026, 1, 1), previous_rows=4)[0][
        "passed"
    ]
    assert not quality.rule_results(profile, [rule], now=datetime(2026, 1, 1), previous_rows=20)[0][
        "passed"
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{name: r, check: not_nul, column: a}",
            "unknown check 'not_nul' \\(did you mean 'not_null'\\?\\)",
        ),
        ("{name: r, check: range, column: a, minimum: 1}", "unknown key\\(s\\) \\['minimum'\\]"),
        ("{name: r, check: allowed_values, column: a}", "needs \\['values'\\]"),
        ("{name: r, check: not_null}", "needs 'column' or 'columns'"),
    ],
)
def test_rule_file_errors_name_the_rule(cfg, tmp_path, rule, message):
    shutil.copytree(cfg.conf_dir, tmp_path / "conf")
    (tmp_path / "conf" / "dq_rules.yml").write_text(f"tables:\n  t:\n    - {rule}\n")
    with pytest.raises(ConfigError, match=message):
        quality.load_rules(load_config("test", tmp_path / "conf"))


def test_project_rules_load(cfg):
    rules = quality.load_rules(cfg)
    assert {"customers", "transactions", "accounts"} <= set(rules)
    assert any(r.blocking for r in rules["transactions"])
