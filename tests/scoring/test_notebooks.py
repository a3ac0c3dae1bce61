"""The notebooks in notebooks/ run top to bottom (nbclient, a fresh kernel each) against the scored
tiny lake, so they never rot; and they are committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_they_are_committed_without_outputs():
    assert [p.name for p in NOTEBOOKS] == [
        "01_gold_exploration.ipynb", "02_run_comparison.ipynb", "03_fraud_ring_graph.ipynb",
    ]  # fmt: skip
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), path.name


def _execute(path: Path, cfg, monkeypatch) -> list:
    """Run the notebook in a kernel whose environment points fin360 at ``cfg``'s lake."""
    for variable, value in {
        "FIN360_ENV": "test",
        "FIN360_LAKEHOUSE": cfg.path("lakehouse"),
        "FIN360_TRUTH": cfg.path("truth"),
        "FIN360_CHECKPOINTS": cfg.path("checkpoints"),
        "MLFLOW_TRACKING_URI": cfg["mlflow.tracking_uri"],
        "FIN360__PATHS__MLFLOW_ARTIFACTS": cfg.path("mlflow_artifacts"),
    }.items():
        monkeypatch.setenv(variable, value)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute()  # raises CellExecutionError with the cell and traceback on failure
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def _text(outputs: list) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_draws(path, scored_lake, monkeypatch):
    cfg = scored_lake[0]
    outputs = _execute(path, cfg, monkeypatch)
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure drawn"
    assert not any(o.output_type == "error" for o in outputs)
    text = _text(outputs)
    if path.stem.startswith("03"):  # the drawn group is the ring the generator planted
        found = re.search(r"group \S+: (\d+) customers", text)
        match = re.search(r"ring \S+: (\d+) members, (\d+) of them in the drawn group", text)
        assert found and match, text[-2000:]
        assert int(match.group(1)) == int(match.group(2)) == int(found.group(1))
