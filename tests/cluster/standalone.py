"""A real Spark standalone cluster and MLflow tracking server on 127.0.0.1, as separate processes.

The master and each worker are ``spark-class`` launches from the installed pyspark package
(``spark-class`` execs the JVM, so the PID we hold is the JVM's); the MLflow server runs with a
SQLite backend and proxied artifacts. Every process starts in its own session, so stopping one
means signalling exactly the process group we created, and :func:`leftovers` finds anything
still running from it (executors and Python workers included, by their working directory).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to the process group this process leads, SIGKILL if it outlives the timeout."""
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout_s)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(text[-lines:])


@dataclass
class Cluster:
    """Master + workers + MLflow server under ``root``; use as a context manager."""

    root: Path
    workers: int = 2
    worker_memory: str = "1536m"
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.master_port, self.master_ui = free_port(), free_port()
        self.mlflow_port = free_port()
        self.master_url = f"spark://{HOST}:{self.master_port}"
        self.mlflow_url = f"http://{HOST}:{self.mlflow_port}"
        self.env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_LOG_DIR": str(self.root / "logs"),
            "PYSPARK_PYTHON": sys.executable,
            **self.env,
        }

    def _start(self, name: str, command: list[str]) -> Process:
        log = self.root / "logs" / f"{name}.out"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start(self) -> Cluster:
        spark_class = str(SPARK_HOME / "bin" / "spark-class")
        self._start("master", [spark_class, "org.apache.spark.deploy.master.Master",
                               "--host", HOST, "--port", str(self.master_port),
                               "--webui-port", str(self.master_ui)])  # fmt: skip
        for i in range(self.workers):
            work = self.root / f"worker-{i}"
            work.mkdir(parents=True, exist_ok=True)
            self._start(f"worker-{i}", [spark_class, "org.apache.spark.deploy.worker.Worker",
                                        "--host", HOST, "--cores", "1",
                                        "--memory", self.worker_memory, "--work-dir", str(work),
                                        "--webui-port", "0", self.master_url])  # fmt: skip
        store = self.root / "mlflow"
        store.mkdir(exist_ok=True)
        self._start("mlflow", [sys.executable, "-m", "mlflow", "server", "--host", HOST,
                               "--port", str(self.mlflow_port), "--workers", "1",
                               "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
                               "--artifacts-destination", str(store / "artifacts")])  # fmt: skip
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            if self.alive_workers() == self.workers and _answers(f"{self.mlflow_url}/health"):
                return
            time.sleep(1)
        raise TimeoutError(
            f"cluster not ready in {timeout_s}s: {self.alive_workers()} workers alive\n"
            + "\n".join(f"--- {p.name}\n{p.tail(10)}" for p in self.processes)
        )

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.master_ui}/json/", timeout=2) as r:
                return int(json.load(r).get("aliveworkers", 0))
        except OSError:
            return 0

    def applications(self) -> list[dict]:
        """Finished and running applications as the master's JSON API reports them."""
        with urllib.request.urlopen(f"http://{HOST}:{self.master_ui}/json/", timeout=5) as r:
            state = json.load(r)
        return state.get("activeapps", []) + state.get("completedapps", [])

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers (and their executors) before master
            process.stop()

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def leftovers(root: Path, groups: list[int]) -> list[str]:
    """Processes still running in one of ``groups`` or with a working directory under ``root``."""
    found = []
    root = root.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            pgid = os.getpgid(int(entry.name))
            cwd = Path(os.readlink(entry / "cwd"))
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile, or not ours to inspect
        if pgid in groups or cwd == root or root in cwd.parents:
            found.append(f"{entry.name}: {command}")
    return found
