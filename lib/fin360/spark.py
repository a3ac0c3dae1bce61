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
import urllib.request
from pathlib import Path

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from fin360.config import Config, ConfigError

log = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
GRAPHFRAMES_CLASS = "org.graphframes.GraphFrame"


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
        spark = configure_spark_with_delta_pip(builder, extra_packages=extra).getOrCreate()
    spark.sparkContext.setLogLevel(cfg.get("spark.log_level", "WARN"))
    spark.sparkContext.setCheckpointDir(cfg.path("checkpoints"))
    return spark


def session_conf(cfg: Config) -> dict[str, str]:
    """Spark settings every fin360 session carries, then ``spark.conf`` from config on top."""
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        # graph algorithms checkpoint their rounds: delete the files once no frame uses them
        "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.shuffle.partitions": str(cfg["spark.shuffle_partitions"]),
        # Spark 4 accepts only Unicode/Latin-1 charsets unless told otherwise; banks export GBK
        "spark.sql.legacy.javaCharsets": "true",
    }
    conf.update({k: str(v) for k, v in (cfg.get("spark.conf") or {}).items()})
    return conf


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
