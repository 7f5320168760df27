"""Every notebook runs on its own, the way a person runs it: "Run All" in JupyterLab.

A person opens ``notebooks/<name>.ipynb`` (the kernel starts in ``notebooks/``), changes at
most ``params_file`` in the parameters cell and runs every cell. ``run_dir`` and
``mlflow_run_id`` keep their empty defaults, so :func:`src.runner.notebook.open_run` reads the
job's latest successful run, or prepares the job's data once when there is none, and writes to
a scratch folder. papermill injects ``params_file`` after the parameters cell, which is what a
person changing the default does; nothing else is injected.

Two scenarios, each over every notebook:

- no runs: an empty outputs folder of its own per notebook, so each notebook passes alone and
  the order does not matter;
- after a run: the job is run once by the runner, then each notebook reads that run (read
  only) and its banner names the run id.

Outputs and the MLflow store live in tmp (``CRM_OUTPUT_DIR``, ``MLFLOW_TRACKING_URI``, set in
``os.environ`` before a kernel starts: the kernel inherits the environment).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError

from src.paths import NOTEBOOKS_DIR, PARAMS_DIR

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
N_CUSTOMERS = 400
#: the data step (``open_run(..., needs_data=False)``) reads no earlier run: it reads the job's
#: sources, so its banner names no run id
DATA_STEP = "01_data_quality"
#: first words of the one-line banner ``open_run`` prints in an interactive session
BANNER = "interactive · "
CELL_TIMEOUT_SECONDS = 600
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def job_file(folder: Path) -> Path:
    """The demo job (every notebook) on a small synthetic company."""
    data = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    data["data"]["synthetic"]["n_customers"] = N_CUSTOMERS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def kernel_name(notebook: Path) -> str:
    """The kernel the notebook names (the project kernel ``tourism-crm``, installed into the
    venv by ``make setup``); ``python3`` (this interpreter) when that kernelspec is not
    installed here, so the test still runs the notebook's code."""
    name = nbformat.read(notebook, as_version=4).metadata.get("kernelspec", {}).get("name")
    try:
        KernelSpecManager().get_kernel_spec(name or "python3")
    except NoSuchKernel:
        return "python3"
    return name or "python3"


def run_all(notebook: Path, params_file: Path, out_dir: Path) -> str:
    """Execute ``notebook`` top to bottom as "Run All" does; returns its printed output.

    Fails the test with the notebook, cell and exception when a cell raises.
    """
    out = out_dir / notebook.name
    failure = ""
    try:
        pm.execute_notebook(
            str(notebook), str(out), parameters={"params_file": str(params_file)},
            kernel_name=kernel_name(notebook), cwd=str(NOTEBOOKS_DIR),
            progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT_SECONDS,
        )
    except PapermillExecutionError as err:
        frames = ANSI.sub("", "\n".join(err.traceback[-3:]))
        failure = (f"{notebook.name} failed in cell {err.exec_count} (executed notebook: {out}): "
                   f"{err.ename}: {err.evalue}\n{frames}")
    if failure:  # outside the except block: the message without papermill's chained traceback
        pytest.fail(failure, pytrace=False)
    executed = nbformat.read(out, as_version=4)
    return "".join(o.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def banner_line(output: str, notebook: Path) -> str:
    lines = [line for line in output.splitlines() if line.startswith(BANNER)]
    assert len(lines) == 1, f"{notebook.name} printed {len(lines)} interactive banners:\n{output}"
    return lines[0]


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> dict[str, Path]:
    """Outputs and MLflow store under ``home``, for this process and the kernels it starts."""
    paths = {"outputs": home / "outputs", "mlflow": home / "mlflow.db"}
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(paths["outputs"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{paths['mlflow']}")
    return paths


def snapshot(folder: Path) -> dict[str, int]:
    """Every file of ``folder`` with its modification time (ns)."""
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_alone_without_any_run(notebook: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    paths = isolate(monkeypatch, tmp_path)  # empty: no runs, no prepared data
    output = run_all(notebook, job_file(tmp_path), tmp_path)
    banner = banner_line(output, notebook)
    scratch = paths["outputs"] / "scratch"
    assert str(scratch) in banner, banner  # writes to a scratch folder
    if notebook.stem != DATA_STEP:
        assert "no successful run" in banner and "prepared" in banner, banner
        prepared = list((scratch / "demo").glob("data-*/data/bookings.parquet"))
        assert len(prepared) == 1, "the job's data is prepared once, into the job's scratch folder"
    assert not (paths["outputs"] / "runs").exists(), "an interactive notebook made a run folder"


@pytest.fixture(scope="module")
def after_a_run(demo_runs) -> dict[str, Any]:
    """The session's shared demo run (the runner, every notebook, a small company) with its
    own outputs folder and MLflow store (tests/conftest.py)."""
    run = demo_runs(0)
    home = run["home"]
    return {"outputs": home / "outputs", "mlflow": home / "mlflow.db", "home": home,
            "job": home / "demo.yaml", "run_id": run["run_dir"].name, "run_dir": run["run_dir"]}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_reads_the_latest_run(notebook: Path, after_a_run: dict[str, Any],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the session's demo run is shared with other tests: this notebook's scratch outputs and
    # its interactive MLflow run go to its own folder and store; the runs folder is the run's
    paths = isolate(monkeypatch, tmp_path)
    paths["outputs"].mkdir(parents=True)
    (paths["outputs"] / "runs").symlink_to(after_a_run["outputs"] / "runs",
                                           target_is_directory=True)
    before = snapshot(after_a_run["run_dir"])
    output = run_all(notebook, after_a_run["job"], tmp_path)
    banner = banner_line(output, notebook)
    if notebook.stem == DATA_STEP:
        assert "data step" in banner, banner
    else:
        assert f"reading run {after_a_run['run_id']}" in banner, banner
    assert str(paths["outputs"] / "scratch") in banner, banner
    assert snapshot(after_a_run["run_dir"]) == before, "the run read was changed"
    assert not (paths["outputs"] / "scratch" / "demo").exists(), \
        "the data was prepared although a successful run exists"
