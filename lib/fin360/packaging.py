"""What a Spark cluster needs to run fin360's jobs: ``fin360 package``.

    dist/fin360-<version>-py3-none-any.whl   pip-install on every node (images, init scripts)
    dist/fin360.zip                          or ship per job: spark-submit --py-files dist/fin360.zip
    dist/spark-packages.txt                  spark-submit --packages "$(cat dist/spark-packages.txt)"

The zip holds the ``fin360`` package only; its third-party dependencies (MLflow, pandas, jieba,
...) must be installed on every node, as the wheel's metadata lists them. Configuration is not
packaged: the driver reads ``conf/`` from ``--conf-dir``, ``$FIN360_CONF_DIR`` or the working
directory.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pyspark

from fin360 import Fin360Error
from fin360.config import Config
from fin360.spark import extra_packages

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ZIP_NAME = "fin360.zip"
PACKAGES_FILE = "spark-packages.txt"


def delta_package() -> str:
    """The Delta jar matching the installed ``delta-spark`` and ``pyspark`` (Scala 2.13), as
    ``configure_spark_with_delta_pip`` resolves it for local sessions."""
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


def spark_packages(cfg: Config) -> list[str]:
    """Maven coordinates for ``--packages``: Delta, then ``spark.packages`` (GraphFrames per
    ``spark.graph_engine``)."""
    return [delta_package(), *extra_packages(cfg)]


def build_zip(out: Path) -> Path:
    """``fin360/`` as a ``--py-files`` archive: sources only, no caches."""
    target = out / ZIP_NAME
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PACKAGE_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, Path("fin360") / path.relative_to(PACKAGE_DIR))
    return target


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of the project (needs the source checkout this module runs from)."""
    project = PACKAGE_DIR.parents[1]
    if not (project / "pyproject.toml").is_file():
        raise Fin360Error(
            f"no pyproject.toml above {PACKAGE_DIR}: build the wheel from a source checkout"
        )
    before = set(out.glob("fin360-*.whl"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "--wheel-dir", str(out), str(project)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Fin360Error(f"pip wheel failed: {result.stderr.strip().splitlines()[-1:]}")
    wheels = sorted(out.glob("fin360-*.whl"), key=lambda p: p.stat().st_mtime)
    new = [w for w in wheels if w not in before] or wheels
    return new[-1]


def package(cfg: Config, out: Path, wheel: bool = True) -> dict[str, object]:
    """Write the zip, the packages list and (unless ``wheel=False``) the wheel into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    packages = spark_packages(cfg)
    (out / PACKAGES_FILE).write_text(",".join(packages) + "\n", encoding="utf-8")
    built: dict[str, object] = {"zip": build_zip(out), "packages": packages}
    if wheel:
        built["wheel"] = build_wheel(out)
    return built
