"""What a notebook needs from the runner: its params, its run folder, its MLflow run.

A notebook's first code cell after the parameters cell is::

    ctx = open_run(params_file, run_dir, mlflow_run_id, notebook="02_segmentation")

Executed by the job runner, ``run_dir`` and ``mlflow_run_id`` are injected by papermill and
the notebook logs into the nested MLflow run the runner created for it. Opened by hand in
JupyterLab (both empty), it gets a scratch folder under ``outputs/scratch/`` and a run of
its own, so exploring never touches a scheduled run's records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from src.params import JobParams, load_params
from src.paths import outputs_dir, resolve
from src.runner.tracking import connect

# MLflow metric names allow alphanumerics, _ - . space : /
_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-. :/]")


@dataclass
class NotebookRun:
    """A notebook's view of its run.

    Attributes
    ----------
    params : the validated job parameters.
    run_dir : the run folder (``outputs/runs/<run_id>``).
    notebook : notebook name, e.g. ``01_data_quality``.
    mlflow_run_id : the nested MLflow run this notebook logs into.
    """

    params: JobParams
    run_dir: Path
    notebook: str
    mlflow_run_id: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def figures_dir(self) -> Path:
        d = self.run_dir / "figures" / self.notebook
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def data_dir(self) -> Path:
        """Tables shared between the job's notebooks (``<run_dir>/data``)."""
        d = self.run_dir / "data"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log_figure(self, fig: plt.Figure, name: str) -> None:
        """Save ``fig`` as ``figures/<notebook>/<name>.png`` in the run folder and log it
        (the figure stays open, so the notebook still shows it)."""
        path = self.figures_dir / (name if name.endswith(".png") else f"{name}.png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        mlflow.log_artifact(str(path), artifact_path="figures", run_id=self.mlflow_run_id)

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Log numeric metrics (non-numeric and NaN values are skipped); kept for the manifest."""
        clean = {}
        for k, v in metrics.items():
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if f == f:  # not NaN
                clean[_METRIC_NAME.sub("_", k)] = f
        if clean:
            mlflow.log_metrics(clean, run_id=self.mlflow_run_id)
            self.metrics.update(clean)
            out = self.run_dir / "metrics" / f"{self.notebook}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(self.metrics, indent=2), encoding="utf-8")

    def log_table(self, df: pd.DataFrame, name: str) -> None:
        """Write ``df`` as ``tables/<notebook>/<name>.csv`` and log it (never pass PII columns)."""
        d = self.run_dir / "tables" / self.notebook
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{name}.csv"
        df.to_csv(path, index=not isinstance(df.index, pd.RangeIndex), encoding="utf-8")
        mlflow.log_artifact(str(path), artifact_path="tables", run_id=self.mlflow_run_id)

    def close(self) -> None:
        """End the notebook's MLflow run (the runner sets the final status of runner-made runs)."""
        if mlflow.active_run() is not None:
            mlflow.end_run()


def open_run(
    params_file: str,
    run_dir: str = "",
    mlflow_run_id: str = "",
    *,
    notebook: str,
) -> NotebookRun:
    """Validate params, settle the run folder and attach to (or create) the MLflow run.

    Parameters
    ----------
    params_file : job file (name or path, relative to the project root).
    run_dir : run folder set by the runner; empty for an interactive session.
    mlflow_run_id : nested run created by the runner; empty for an interactive session.
    notebook : this notebook's name.
    """
    params = load_params(resolve(params_file) if str(params_file).endswith((".yaml", ".yml")) else params_file)
    client, experiment_id = connect(params.mlflow.tracking_uri, params.mlflow.experiment)
    if run_dir:
        folder = Path(run_dir)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = outputs_dir() / "scratch" / f"{stamp}-{notebook}"
    folder.mkdir(parents=True, exist_ok=True)
    if mlflow.active_run() is not None:
        mlflow.end_run()
    if mlflow_run_id:
        run = mlflow.start_run(run_id=mlflow_run_id)
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=f"{notebook} (interactive)",
                               tags={"crm.notebook": notebook, "crm.interactive": "true"})
    return NotebookRun(params=params, run_dir=folder, notebook=notebook, mlflow_run_id=run.info.run_id)
