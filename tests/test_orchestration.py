"""conf/orchestration/: the Airflow DAG and the Databricks bundle run the same daily chain of
jobs/*.py entrypoints, in order, with retries, timeouts and the run date as --as-of.

Airflow is not a dependency of fin360 (its Spark provider pulls pyspark-client, which shares the
``pyspark`` package folder with the pinned pyspark), so the DAG is checked from its syntax tree;
the small pure function deciding the training day is executed on its own.
"""

from __future__ import annotations

import ast
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = ROOT / "conf" / "orchestration" / "airflow" / "fin360_daily.py"
BUNDLE_FILE = ROOT / "conf" / "orchestration" / "databricks" / "databricks.yml"

CHAIN = ["bronze", "silver", "gold", "is_training_day", "train", "score"]
SPARK_JOBS = ["bronze", "silver", "gold", "train", "score"]
DATED_JOBS = {"gold", "score"}  # the jobs that take --as-of
EXISTING_JOBS = {"bronze", "silver", "gold"}  # train.py and score.py arrive with the ML work


# ------------------------------------------------------------------ Airflow (from the AST)


@pytest.fixture(scope="module")
def dag_tree() -> ast.Module:
    return ast.parse(DAG_FILE.read_text(encoding="utf-8"), filename=str(DAG_FILE))


def module_constants(tree: ast.Module) -> dict[str, object]:
    """Top-level ``NAME = <literal>`` assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return out


def dag_tasks(tree: ast.Module) -> dict[str, tuple[str, ast.Call]]:
    """Variable -> (task_id, call) for the tasks created inside ``with DAG(...)``."""
    tasks = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        call, target = node.value, node.targets[0]
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if name == "spark_job":
            tasks[target.id] = (ast.literal_eval(call.args[0]), call)
        elif name in {"ShortCircuitOperator", "SparkSubmitOperator"}:
            kw = {k.arg: k.value for k in call.keywords}
            tasks[target.id] = (ast.literal_eval(kw["task_id"]), call)
    return tasks


def keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def test_dag_chains_the_jobs_in_order(dag_tree):
    tasks = dag_tasks(dag_tree)
    chains = [
        n
        for n in ast.walk(dag_tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "chain"
    ]
    assert len(chains) == 1
    order = [tasks[arg.id][0] for arg in chains[0].args]
    assert order == CHAIN


def test_dag_submits_each_job_script_with_the_environment(dag_tree):
    tasks = {task_id: call for task_id, call in dag_tasks(dag_tree).values()}
    assert sorted(t for t in tasks if t != "is_training_day") == sorted(SPARK_JOBS)
    helper = next(
        n for n in dag_tree.body if isinstance(n, ast.FunctionDef) and n.name == "spark_job"
    )
    operator = next(
        n
        for n in ast.walk(helper)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "SparkSubmitOperator"
    )
    kw = keywords(operator)
    # application=f"{JOBS_DIR}/{task_id}.py": each task runs jobs/<task_id>.py
    assert ast.unparse(kw["application"]) == "f'{JOBS_DIR}/{task_id}.py'"
    assert ast.unparse(kw["conn_id"]) == "SPARK_CONN_ID"
    assert ast.unparse(kw["application_args"]) == "['--env', FIN360_ENV, *args]"
    assert "execution_timeout" in kw
    for task_id in SPARK_JOBS:
        assert task_id not in EXISTING_JOBS or (ROOT / "jobs" / f"{task_id}.py").is_file()
    for script in EXISTING_JOBS:
        assert (ROOT / "jobs" / f"{script}.py").is_file(), f"jobs/{script}.py is gone"


def test_dag_passes_the_logical_date_as_as_of_to_dated_jobs(dag_tree):
    constants = module_constants(dag_tree)
    assert constants["AS_OF"] == "{{ ds }}"
    for task_id, call in dag_tasks(dag_tree).values():
        if task_id == "is_training_day":
            continue
        args = ast.unparse(call.args[1])
        if task_id in DATED_JOBS:
            assert args == "['--as-of', AS_OF]", task_id
        else:
            assert "--as-of" not in args, task_id
        timeout = call.args[2]
        assert isinstance(timeout, ast.Call) and timeout.func.id == "timedelta", task_id
        length = timedelta(**{k.arg: ast.literal_eval(k.value) for k in timeout.keywords})
        assert timedelta(0) < length <= timedelta(hours=4), task_id


def test_dag_retries_and_runs_one_at_a_time(dag_tree):
    default_args = next(
        n.value
        for n in dag_tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "default_args"
    )
    entries = {
        ast.literal_eval(k): v for k, v in zip(default_args.keys, default_args.values, strict=True)
    }
    assert ast.literal_eval(entries["retries"]) >= 1
    assert ast.unparse(entries["retry_delay"]).startswith("timedelta(")
    assert "execution_timeout" in entries
    dag_call = next(
        n
        for n in ast.walk(dag_tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DAG"
    )
    kw = keywords(dag_call)
    assert ast.literal_eval(kw["max_active_runs"]) == 1
    assert ast.literal_eval(kw["catchup"]) is False
    assert ast.literal_eval(kw["schedule"]) == "@daily"
    assert "dagrun_timeout" in kw


def test_dag_scores_after_a_skipped_training_but_not_a_failed_one(dag_tree):
    tasks = {task_id: call for task_id, call in dag_tasks(dag_tree).values()}
    gate = keywords(tasks["is_training_day"])
    # skip only the direct downstream (train); score keeps its own trigger rule
    assert ast.literal_eval(gate["ignore_downstream_trigger_rules"]) is False
    assert ast.literal_eval(keywords(tasks["score"])["trigger_rule"]) == "none_failed"
    assert "trigger_rule" not in keywords(tasks["train"])


def test_spark_connection_is_configurable(dag_tree):
    assignment = next(
        n
        for n in dag_tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SPARK_CONN_ID"
    )
    assert ast.unparse(assignment.value).startswith("os.environ.get('FIN360_SPARK_CONN_ID'")


def load_is_training_day(tree: ast.Module):
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "is_training_day"
    )
    module = ast.Module(body=[function], type_ignores=[])
    namespace = {"date": date}
    exec(compile(module, str(DAG_FILE), "exec"), namespace)
    return namespace["is_training_day"]


@pytest.mark.parametrize(
    ("ds", "force", "expected"),
    [
        ("2025-06-01", "False", True),  # a Sunday, the configured weekday
        ("2025-06-02", "False", False),  # a Monday
        ("2025-06-02", "True", True),  # forced by the run's params (rendered as text)
        ("2025-06-02", True, True),
    ],
)
def test_training_day_is_the_weekday_or_forced(dag_tree, ds, force, expected):
    is_training_day = load_is_training_day(dag_tree)
    assert is_training_day(ds, 6, force) is expected


# ------------------------------------------------------------------ Databricks bundle


@pytest.fixture(scope="module")
def bundle() -> dict:
    return yaml.safe_load(BUNDLE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def job(bundle) -> dict:
    jobs = bundle["resources"]["jobs"]
    assert list(jobs) == ["fin360_daily"]
    return jobs["fin360_daily"]


def test_bundle_tasks_depend_on_each_other_in_chain_order(job):
    tasks = job["tasks"]
    assert [t["task_key"] for t in tasks] == CHAIN
    for previous, task in pairwise(tasks):
        assert [d["task_key"] for d in task["depends_on"]] == [previous["task_key"]]
    assert "depends_on" not in tasks[0]


def test_bundle_runs_the_job_scripts(job):
    spark_tasks = {t["task_key"]: t for t in job["tasks"] if "spark_python_task" in t}
    assert sorted(spark_tasks) == sorted(SPARK_JOBS)
    for key, task in spark_tasks.items():
        script = (BUNDLE_FILE.parent / task["spark_python_task"]["python_file"]).resolve()
        assert script == ROOT / "jobs" / f"{key}.py"
        if key in EXISTING_JOBS:
            assert script.is_file(), script


def test_bundle_passes_env_and_run_date(job):
    parameters = {p["name"]: p["default"] for p in job["parameters"]}
    assert parameters["as_of"] == "{{job.start_time.iso_date}}"
    assert (ROOT / "conf" / f"{parameters['env']}.yml").is_file()
    for task in job["tasks"]:
        if "spark_python_task" not in task:
            continue
        args = task["spark_python_task"]["parameters"]
        assert args[:2] == ["--env", "{{job.parameters.env}}"], task["task_key"]
        if task["task_key"] in DATED_JOBS:
            assert args[2:] == ["--as-of", "{{job.parameters.as_of}}"], task["task_key"]
        else:
            assert len(args) == 2, task["task_key"]


def test_bundle_trains_weekly_and_scores_after_a_skipped_training(job):
    tasks = {t["task_key"]: t for t in job["tasks"]}
    condition = tasks["is_training_day"]["condition_task"]
    assert condition["op"] == "EQUAL_TO"
    assert condition["left"] == "{{job.start_time.iso_weekday}}"
    assert tasks["train"]["depends_on"] == [{"task_key": "is_training_day", "outcome": "true"}]
    assert tasks["score"]["run_if"] == "NONE_FAILED"


def test_bundle_tasks_have_retries_timeouts_and_the_wheel(bundle, job):
    for task in job["tasks"]:
        if "spark_python_task" not in task:
            continue
        assert task["max_retries"] >= 1 and task["min_retry_interval_millis"] > 0
        assert 0 < task["timeout_seconds"] <= 4 * 3600
        wheels = [lib["whl"] for lib in task["libraries"] if "whl" in lib]
        assert wheels and all(
            (BUNDLE_FILE.parent / w).parent.resolve() == ROOT / "dist" for w in wheels
        )
    assert job["max_concurrent_runs"] == 1
    artifact = next(iter(bundle["artifacts"].values()))
    assert artifact["type"] == "whl"
    assert ((BUNDLE_FILE.parent / artifact["path"]).resolve() / "pyproject.toml").is_file()


def test_bundle_syncs_jobs_and_conf_and_uses_the_configured_graphframes(bundle, job):
    synced = {(BUNDLE_FILE.parent / p).resolve() for p in bundle["sync"]["paths"]}
    assert {ROOT / "jobs", ROOT / "conf"} <= synced
    base = yaml.safe_load((ROOT / "conf" / "base.yml").read_text(encoding="utf-8"))
    graph = [p for p in base["spark"]["packages"] if p.startswith("io.graphframes:")]
    for task in job["tasks"]:
        maven = [lib["maven"]["coordinates"] for lib in task.get("libraries", []) if "maven" in lib]
        assert maven == ([] if "spark_python_task" not in task else graph), task["task_key"]
    env = job["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    assert env["FIN360_CONF_DIR"] == "${workspace.file_path}/conf"
    assert env["FIN360_PII_KEY"].startswith("{{secrets/")
    # conf/cluster.yml reads these from the environment
    cluster = (ROOT / "conf" / "cluster.yml").read_text(encoding="utf-8")
    for name in ("FIN360_LAKEHOUSE", "FIN360_RAW", "FIN360_CHECKPOINTS", "MLFLOW_TRACKING_URI"):
        assert f"${{{name}}}" in cluster and name in env, name


def test_airflow_and_databricks_run_the_same_chain(dag_tree, job):
    tasks = dag_tasks(dag_tree)
    chains = [
        n
        for n in ast.walk(dag_tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "chain"
    ]
    airflow = [tasks[arg.id][0] for arg in chains[0].args]
    assert airflow == [t["task_key"] for t in job["tasks"]]
