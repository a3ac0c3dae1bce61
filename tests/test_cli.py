"""User mistakes print one clear line and exit 2, never a traceback."""

from __future__ import annotations

import shutil

import pytest

from fin360.cli import main
from fin360.config import REPO_CONF_DIR


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("fin360: error: ")]
    assert len(errors) == 1, err
    return errors[0]


def test_unknown_environment(capsys):
    assert main(["--env", "prod", "config"]) == 2
    assert "unknown environment 'prod'" in _one_error_line(capsys)


def test_misspelt_key_in_a_config_file(capsys, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(REPO_CONF_DIR, conf)
    (conf / "test.yml").write_text("sparkk:\n  master: local[1]\n")
    assert main(["config", "--env", "test", "--conf-dir", str(conf)]) == 2
    line = _one_error_line(capsys)
    assert "test.yml: unknown config key 'sparkk' (did you mean 'spark'?)" in line


def test_missing_source_folder(spark, capsys, tmp_path):
    code = main(["run", "bronze", "--env", "test", "--set", f"paths.raw={tmp_path}/none"])
    assert code == 2
    assert "raw folder of source" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start-date", "2025-13-40"], "start_date"),
        (["--customers", "3"], "customers"),
    ],
)
def test_generator_rejects_bad_arguments(capsys, tmp_path, args, message):
    assert main(["generate", "--env", "test", "--out", str(tmp_path), *args]) == 2
    assert message in _one_error_line(capsys)


def test_mlflow_ui_opens_the_configured_store(monkeypatch, tmp_path, capsys):
    started = []
    monkeypatch.setattr("os.execvp", lambda file, argv: started.append(argv))
    db = tmp_path / "mlflow.db"
    args = ["--env", "test", "--set", f"mlflow.tracking_uri=sqlite:///{db}"]
    assert main([*args, "mlflow-ui", "--port", "5055"]) == 0
    command = started[0]
    assert command[:2] == ["mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{db}"
    assert command[command.index("--port") + 1] == "5055"
    assert command[command.index("--host") + 1] == "127.0.0.1"

    assert main([*args, "--set", "mlflow.tracking_uri=http://mlflow:5000", "mlflow-ui"]) == 2
    assert "is a server" in _one_error_line(capsys)
