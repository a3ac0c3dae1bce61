"""The one place a SparkSession is built.

Delta Lake's jar follows the pinned ``delta-spark`` Python package (through
``configure_spark_with_delta_pip``); other jars (GraphFrames) come from ``spark.packages`` in
config. Spark resolves them from Maven Central (or the repositories in ``spark.repositories``)
on first use and caches them in its Ivy directory. Under ``spark-submit`` the submitter owns the
master and the jars (``--master``, ``--packages``), so neither is set here.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from delta import configure_spark_with_delta_pip
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from fin360.config import Config, ConfigError

log = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
GRAPHFRAMES_CLASS = "org.graphframes.GraphFrame"


READ_ERRORS = (PySparkException, Py4JJavaError)  # what Spark raises on data it cannot read


def error_line(exc: BaseException) -> str:
    """One line for a Spark error, no stack trace: for a JVM error, the innermost message of
    its causes that carries a Spark error class (``[FAILED_READ_FILE...] ... reading file
    <path> ...``) with the root cause after it; else the error's first line."""
    if isinstance(exc, Py4JJavaError):
        lines, cause = [], exc.java_exception
        while cause is not None:
            lines.append(_first_line(cause.getMessage()) or str(cause.getClass().getName()))
            cause = cause.getCause()
        classed = [x for x in lines if x.startswith("[")]
        text = classed[-1] if classed else lines[-1]
        text = text if text == lines[-1] else f"{text} ({lines[-1]})"
    else:
        text = _first_line(str(exc)) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def _first_line(text: str | None) -> str:
    return next((x.strip() for x in (text or "").splitlines() if x.strip()), "")


def build_session(cfg: Config) -> SparkSession:
    """Build (or return the active) SparkSession configured from ``cfg``."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(cfg["app_name"])
    for key, value in session_conf(cfg).items():
        builder = builder.config(key, value)
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # launched by spark-submit / pyspark shell
    if under_submit:
        spark = builder.getOrCreate()
    else:
        if cfg.get("spark.master"):
            builder = builder.master(cfg["spark.master"])
        repositories = cfg.get("spark.repositories") or []
        if repositories:
            builder = builder.config("spark.jars.repositories", ",".join(repositories))
        extra = extra_packages(cfg)
        spark_log = (
            Path(cfg.path("logs")) / f"spark-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        )
        with jvm_output_to(spark_log):
            spark = configure_spark_with_delta_pip(builder, extra_packages=extra).getOrCreate()
        log.info("Spark's own log (dependency resolution, warnings): %s", spark_log)
    spark.sparkContext.setLogLevel(cfg.get("spark.log_level", "WARN"))
    spark.sparkContext.setCheckpointDir(cfg.path("checkpoints"))
    return spark


@contextmanager
def jvm_output_to(file: Path) -> Iterator[None]:
    """Start the driver JVM with its stdout and stderr in ``file``: Ivy's dependency resolution
    and Spark's warnings go there, and the terminal keeps fin360's own log lines."""
    file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with file.open("ab") as target:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def session_conf(cfg: Config) -> dict[str, str]:
    """Spark settings every fin360 session carries, then ``spark.conf`` from config on top."""
    conf = {**machine_conf(cfg)}
    conf |= {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        # graph algorithms checkpoint their rounds: delete the files once no frame uses them
        "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.shuffle.partitions": str(shuffle_partitions(cfg)),
        # Spark 4 accepts only Unicode/Latin-1 charsets unless told otherwise; banks export GBK
        "spark.sql.legacy.javaCharsets": "true",
        # else the optimiser gives every field of bronze's from_json its own parse of the line:
        # landing 2.3 million card transactions took 94 s instead of 29 s
        "spark.sql.optimizer.enableJsonExpressionOptimization": "false",
        # HotSpot does not compile a method above 8,000 bytes of bytecode, so a wide projection
        # compiled into one bigger method ran interpreted: applying the segmentation champion
        # to 1,000,000 customers took 9.8 s with Spark's default (65,535), 4.3 s with 8,000
        # (which makes Spark split such a plan instead), as Spark's documentation advises
        "spark.sql.codegen.hugeMethodLimit": "8000",
    }
    conf.update({k: str(v) for k, v in (cfg.get("spark.conf") or {}).items()})
    return conf


# Local mode runs every task in the driver JVM. It gets this share of the machine's memory; the
# rest is for Python workers (MLflow, plots), the OS and the page cache that shuffle files use.
DRIVER_MEMORY_SHARE = 0.6
DRIVER_MEMORY_MAX_GIB = 31  # above ~32 GiB the JVM loses compressed object pointers
PARTITIONS_PER_CORE = 4
MIN_SHUFFLE_PARTITIONS = 8
_SIZE = re.compile(r"^[1-9][0-9]*[kmgt]?$", re.IGNORECASE)


def is_local(cfg: Config) -> bool:
    """A local master that fin360 starts itself (not spark-submit's, not a cluster's)."""
    master = cfg.get("spark.master") or ""
    return master.startswith("local") and "PYSPARK_GATEWAY_PORT" not in os.environ


def local_cores(cfg: Config) -> int:
    """Task slots of a ``local[N]`` / ``local[*]`` master."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\d+)?\])?", cfg.get("spark.master") or "")
    slots = found.group(1) if found else None
    if slots == "*":
        return os.cpu_count() or 1
    return int(slots) if slots else 1


def machine_memory_bytes() -> int:
    """Physical memory, or the container's cgroup limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def driver_memory(cfg: Config) -> str | None:
    """``spark.driver_memory``: ``auto`` (a share of this machine), a JVM size such as ``8g``,
    or null for Spark's own 1 GiB default."""
    value = cfg.get("spark.driver_memory")
    if value is None:
        return None
    value = str(value).strip()
    if value.lower() == "auto":
        gib = int(machine_memory_bytes() * DRIVER_MEMORY_SHARE / 2**30)
        return f"{max(1, min(gib, DRIVER_MEMORY_MAX_GIB))}g"
    if not _SIZE.match(value):
        raise ConfigError(f"spark.driver_memory must be auto or a size such as 8g, got {value!r}")
    return value


def shuffle_partitions(cfg: Config) -> int:
    """``spark.shuffle_partitions``: a number, or ``auto``: 4 per local core (at least 8); on a
    cluster, auto leaves Spark's 200 and adaptive execution coalesces them."""
    value = cfg["spark.shuffle_partitions"]
    if value != "auto":
        if value < 1:
            raise ConfigError(f"spark.shuffle_partitions must be auto or positive, got {value}")
        return value
    if not (cfg.get("spark.master") or "").startswith("local"):
        return 200
    return max(MIN_SHUFFLE_PARTITIONS, PARTITIONS_PER_CORE * local_cores(cfg))


def machine_conf(cfg: Config) -> dict[str, str]:
    """Settings sized from the machine when fin360 starts Spark itself in local mode."""
    memory = driver_memory(cfg)
    return {"spark.driver.memory": memory} if memory and is_local(cfg) else {}


GRAPH_ENGINES = ("auto", "dataframe", "graphframes")


def graph_engine_mode(cfg: Config) -> str:
    mode = str(cfg.get("spark.graph_engine", "auto")).lower()
    if mode not in GRAPH_ENGINES:
        raise ConfigError(f"spark.graph_engine must be one of {GRAPH_ENGINES}, got {mode!r}")
    return mode


def extra_packages(cfg: Config) -> list[str]:
    """Maven coordinates to resolve besides Delta; GraphFrames per ``spark.graph_engine``.

    ``auto`` keeps GraphFrames only when its jar can be had (local Ivy/Maven cache or the
    repositories answer for it), and graphs run on fin360's DataFrame engine otherwise;
    ``dataframe`` never loads the jar; ``graphframes`` makes a missing jar a clear start-up
    error.
    """
    mode = graph_engine_mode(cfg)
    packages = list(cfg.get("spark.packages") or [])
    graph = [p for p in packages if p.startswith("io.graphframes:")]
    if mode == "dataframe":
        return [p for p in packages if p not in graph]
    repositories = [*(cfg.get("spark.repositories") or []), MAVEN_CENTRAL]
    missing = [p for p in graph if not package_available(p, repositories)]
    if missing and mode == "graphframes":
        raise ConfigError(
            f"GraphFrames jar {missing[0]} is neither in the local Ivy/Maven cache nor served by "
            f"{', '.join(repositories)}; pre-fetch it (mvn dependency:get -Dartifact=...) or set "
            "spark.graph_engine: auto"
        )
    for coordinate in missing:
        log.warning(
            "GraphFrames jar %s is not available: graphs run on the DataFrame engine", coordinate
        )
    return [p for p in packages if p not in missing]


def package_available(coordinate: str, repositories: list[str], timeout_s: float = 10.0) -> bool:
    """Whether Spark's resolver can get ``group:artifact:version``: caches first, then HTTP HEAD."""
    group, artifact, version = coordinate.split(":")
    jar = f"{artifact}-{version}.jar"
    home = Path.home()
    local = [
        *(p / "jars" / f"{group}_{jar}" for p in home.glob(".ivy2*")),
        home / ".m2" / "repository" / group.replace(".", "/") / artifact / version / jar,
    ]
    if any(p.is_file() for p in local):
        return True
    for repo in repositories:
        url = f"{repo.rstrip('/')}/{group.replace('.', '/')}/{artifact}/{version}/{jar}"
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if response.status == 200:
                    return True
        except OSError:
            continue
    return False


def graphframes_enabled(spark: SparkSession) -> bool:
    """Whether the GraphFrames JVM classes are loadable in this session."""
    jvm = spark.sparkContext._jvm
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(GRAPHFRAMES_CLASS, False, loader)
        return True
    except Exception:  # py4j raises a generic Py4JJavaError for ClassNotFoundException
        return False
