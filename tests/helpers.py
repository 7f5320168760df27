"""Helpers shared by the tests (importable as ``tests.helpers``; pytest puts the project root on
the path, see ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from src.paths import PARAMS_DIR
from src.runner.run import RunResult, run_job

#: the parameters cell every job notebook declares (what the runner injects)
RUNNER_PARAMS_CELL = 'params_file = ""\nrun_dir = ""\nmlflow_run_id = ""'


def write_notebook(path: Path, *cells: str, params_cell: str = RUNNER_PARAMS_CELL) -> Path:
    """Write a notebook: a cell tagged ``parameters`` holding ``params_cell``, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(params_cell, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require_shared(*parts: str) -> Path:
    """A file of ``../shared/data``; a test that needs it FAILS (never skips) without it, so a
    CI run that lost the reference data cannot pass by skipping its checks."""
    path = SHARED_DATA.joinpath(*parts)
    assert path.exists(), (f"{path} is missing: the reference data sets live in ../shared/data "
                           "beside the project (CI lays them there)")
    return path


def job_file(folder: Path, notebooks: list[str], data: dict[str, Any] | None = None,
             **sections: Any) -> Path:
    """The demo job with other notebooks, other data (default: a tiny synthetic company of 200
    customers) and other sections (each merged into the demo's), written to ``folder/job.yaml``."""
    params = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    params["notebooks"] = notebooks
    params["data"]["synthetic"]["n_customers"] = 200
    if data is not None:
        params["data"] = data
    for key, value in sections.items():
        params.setdefault(key, {}).update(value)
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


def run_shipped_job(name: str, home: Path, n_customers: int) -> tuple[RunResult, str]:
    """Run ``params/<name>.yaml`` (a synthetic job) with ``n_customers`` customers, with
    ``home`` as its outputs folder and MLflow store; returns the run's result and the store's
    URI."""
    params = yaml.safe_load((PARAMS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    params["data"]["synthetic"]["n_customers"] = n_customers
    job = home / f"{name}.yaml"
    job.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_OUTPUT_DIR", str(home / "outputs"))
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        return run_job(job, quiet=True), uri
