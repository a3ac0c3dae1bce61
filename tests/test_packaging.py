"""``fin360 package``: the wheel, the ``--py-files`` zip and the ``--packages`` list."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from fin360 import packaging
from fin360.cli import main
from fin360.config import load_config

REPO = Path(__file__).resolve().parents[1]


def test_package_writes_zip_wheel_and_packages(tmp_path, capsys):
    assert main(["--env", "test", "--set", "spark.graph_engine=dataframe",
                 "package", "--out", str(tmp_path)]) == 0  # fmt: skip
    names = zipfile.ZipFile(tmp_path / packaging.ZIP_NAME).namelist()
    sources = {f"fin360/{p.relative_to(packaging.PACKAGE_DIR)}"
               for p in packaging.PACKAGE_DIR.rglob("*.py")}  # fmt: skip
    assert sources <= set(names) and "fin360/cli.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    wheel = next(tmp_path.glob("fin360-*-py3-none-any.whl"))
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = archive.read(meta).decode()
    assert f"Requires-Dist: pyspark=={metadata.version('pyspark')}" in requires
    assert "fin360/report.py" in archive.namelist()

    delta = f"io.delta:delta-spark_4.1_2.13:{metadata.version('delta-spark')}"
    assert (tmp_path / packaging.PACKAGES_FILE).read_text().strip() == delta
    assert f"--py-files {tmp_path / packaging.ZIP_NAME}" in capsys.readouterr().out


def test_packages_list_follows_the_graphframes_setting(capsys):
    cfg = load_config("test")
    graph = [p for p in cfg["spark.packages"] if p.startswith("io.graphframes:")]
    off = packaging.spark_packages(cfg.with_overrides({"spark.graph_engine": "dataframe"}))
    assert off == [packaging.delta_package()] and graph
    assert (
        main(["--env", "test", "--set", "spark.graph_engine=dataframe", "package", "--list"]) == 0
    )
    assert capsys.readouterr().out.strip() == packaging.delta_package()


def test_zipped_code_finds_conf_in_the_working_directory(tmp_path):
    """From the zip (as a driver gets it with --py-files), the config comes from ./conf."""
    zipped = packaging.build_zip(tmp_path)
    run = lambda cwd: subprocess.run(  # noqa: E731
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from fin360.cli import main; sys.exit(main(['--env', 'test', 'config']))", str(zipped)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    here = run(REPO)
    assert here.returncode == 0, here.stderr
    assert "env: test" in here.stdout
    elsewhere = run(tmp_path)
    assert elsewhere.returncode == 2
    assert "has no base.yml (set --conf-dir or FIN360_CONF_DIR)" in elsewhere.stderr
