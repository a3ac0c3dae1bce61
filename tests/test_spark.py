"""The session really has Delta Lake (and GraphFrames where its jar can be had)."""

from __future__ import annotations

import http.server
import os
import threading

import pytest

from fin360 import lake
from fin360 import spark as sessions
from fin360.config import ConfigError
from fin360.spark import extra_packages, package_available


def test_session_is_utc_with_delta(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")


def test_driver_heap_is_the_configured_size(spark):
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert 2.5 * 2**30 < heap <= 3 * 2**30  # test.yml: spark.driver_memory: 3g


@pytest.mark.parametrize(("machine_gib", "expected"), [(24, "14g"), (1, "1g"), (512, "31g")])
def test_auto_driver_memory_is_a_share_of_the_machine(monkeypatch, cfg, machine_gib, expected):
    monkeypatch.setattr(sessions, "machine_memory_bytes", lambda: machine_gib * 2**30)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    auto = cfg.with_overrides({"spark.driver_memory": "auto", "spark.master": "local[*]"})
    assert sessions.session_conf(auto)["spark.driver.memory"] == expected
    on_cluster = auto.with_overrides({"spark.master": "spark://127.0.0.1:7077"})
    assert "spark.driver.memory" not in sessions.session_conf(on_cluster)


@pytest.mark.parametrize(
    ("master", "partitions", "expected"),
    [("local[4]", "auto", 16), ("local[1]", "auto", 8), ("local", "auto", 8),
     ("local[*]", "auto", max(8, 4 * (os.cpu_count() or 1))),
     ("spark://127.0.0.1:7077", "auto", 200), ("local[4]", 3, 3)],
)  # fmt: skip
def test_shuffle_partitions_follow_the_cores(cfg, master, partitions, expected):
    sized = cfg.with_overrides({"spark.master": master, "spark.shuffle_partitions": partitions})
    assert sessions.session_conf(sized)["spark.sql.shuffle.partitions"] == str(expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("spark.driver_memory", "lots", "spark.driver_memory must be auto or a size"),
     ("spark.shuffle_partitions", 0, "spark.shuffle_partitions must be auto or positive")],
)  # fmt: skip
def test_bad_sizes_are_config_errors(cfg, key, value, message):
    with pytest.raises(ConfigError, match=message):
        sessions.session_conf(cfg.with_overrides({key: value}))


def test_delta_table_written_and_time_travelled(spark, cfg):
    lake.append(spark.createDataFrame([(1, "a")], "id int, v string"), cfg, "ops.t")
    lake.append(spark.createDataFrame([(2, "b")], "id int, v string"), cfg, "ops.t")
    assert lake.version(spark, cfg, "ops.t") == 1
    assert sorted(r.id for r in lake.read(spark, cfg, "ops.t", version=0).collect()) == [1]
    assert sorted(r.id for r in lake.read(spark, cfg, "ops.t").collect()) == [1, 2]


def test_idempotent_append_commits_once(spark, cfg):
    df = spark.createDataFrame([(1, "a")], "id int, v string")
    lake.append(df, cfg, "ops.t", txn_app_id="app", txn_version=0)
    lake.append(df, cfg, "ops.t", txn_app_id="app", txn_version=0)  # a rerun: skipped
    assert lake.read(spark, cfg, "ops.t").count() == 1
    assert lake.version(spark, cfg, "ops.t") == 0


def test_table_names_resolve_to_locations(cfg):
    assert lake.table_path(cfg, "bronze.card_transactions").endswith("/bronze/card_transactions")
    custom = cfg.with_overrides({"tables": {"gold.customer_360": "s3a://gold/c360"}})
    assert lake.table_path(custom, "gold.customer_360") == "s3a://gold/c360"
    with pytest.raises(ConfigError, match="must be <layer>.<table>"):
        lake.table_path(cfg, "platinum.x")


class _Repo(http.server.BaseHTTPRequestHandler):
    """A Maven repository on 127.0.0.1 that holds exactly one jar."""

    def do_HEAD(self):
        found = self.path.endswith("/org/acme/thing_2.13/1.0/thing_2.13-1.0.jar")
        self.send_response(200 if found else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def maven_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # empty Ivy and Maven caches
    server = http.server.HTTPServer(("127.0.0.1", 0), _Repo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/maven2"
    monkeypatch.setattr("fin360.spark.MAVEN_CENTRAL", url)  # no test leaves this machine
    yield url
    server.shutdown()


def test_package_availability_checks_caches_then_repositories(maven_repo, tmp_path):
    assert package_available("org.acme:thing_2.13:1.0", [maven_repo])
    assert not package_available("org.acme:other_2.13:1.0", [maven_repo])
    jar = tmp_path / ".ivy2.5.2" / "jars" / "org.acme_other_2.13-1.0.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"")
    assert package_available("org.acme:other_2.13:1.0", [maven_repo])


def test_graphframes_mode_decides_what_a_missing_jar_means(maven_repo, cfg):
    gf = "io.graphframes:graphframes-spark4_2.13:0.0.1"
    base = {"spark.packages": [gf, "org.acme:thing_2.13:1.0"]}
    auto = cfg.with_overrides({**base, "spark.graph_engine": "auto"})
    assert extra_packages(auto) == ["org.acme:thing_2.13:1.0"]
    off = cfg.with_overrides({**base, "spark.graph_engine": "dataframe"})
    assert extra_packages(off) == ["org.acme:thing_2.13:1.0"]
    required = cfg.with_overrides({**base, "spark.graph_engine": "graphframes"})
    with pytest.raises(ConfigError, match="GraphFrames jar .* is neither in the local"):
        extra_packages(required)
