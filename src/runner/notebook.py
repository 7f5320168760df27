"""What a notebook needs from the runner: its params, where it reads, where it writes, its
MLflow run.

A notebook's first code cell after the parameters cell is::

    ctx = open_run(params_file, run_dir, mlflow_run_id, notebook="02_segmentation")

Executed by the job runner, ``run_dir`` and ``mlflow_run_id`` are injected by papermill: the
notebook reads the earlier steps' outputs from the run folder, writes its own there and logs
into the nested MLflow run the runner created for it.

Opened by hand in JupyterLab (both empty), the notebook runs on its own ("Run All" works
with the defaults):

- it **reads** the job's latest successful run (read only): the newest run folder of the
  same job whose manifest says ``succeeded`` and whose data settings equal the job file's;
- when there is none, it **prepares the data step once** (generate or load, validate) into
  ``outputs/scratch/<job>/data-<hash of the data settings>/`` and reads that next time too;
- it **writes** its own outputs (figures, tables, metrics, models, the feature cache) to a
  fresh scratch folder ``outputs/scratch/<stamp>-<notebook>-<4 hex>/`` and logs to an MLflow run of
  its own tagged ``crm.interactive``, so exploring never touches a scheduled run's records;
- it prints a one-line banner saying what it read and where it writes.

The data step itself (``01_data_quality``, ``needs_data=False``) reads nothing: it writes
the clean tables to its own folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from src.features.attributes import TierRule
from src.features.cache import FeatureTables, run_tables
from src.fileio import neutralise_formulas
from src.layout import RunLayout, run_manifest_files
from src.params import JobParams, load_params
from src.paths import outputs_dir, resolve, runs_dir
from src.runner.data_step import prepare_inputs
from src.runner.tracking import connect
from src.serving.pyfunc import log_project_model

__all__ = ["NotebookRun", "data_settings_key", "latest_successful_run", "open_run"]

# MLflow metric names allow alphanumerics, _ - . space : /
_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-. :/]")


@dataclass
class NotebookRun:
    """A notebook's view of its run.

    Attributes
    ----------
    params : the validated job parameters.
    layout : the run folder this notebook writes to (:class:`~src.layout.RunLayout`).
    source : the run folder the earlier steps' outputs are read from; the same folder as
        ``layout`` under the runner, the latest successful run (or the prepared data) in an
        interactive session.
    notebook : notebook name, e.g. ``01_data_quality``.
    mlflow_run_id : the MLflow run this notebook logs into.
    interactive : True when opened by hand (no runner).
    banner : one line: what was read, where outputs go.
    """

    params: JobParams
    layout: RunLayout
    source: RunLayout
    notebook: str
    mlflow_run_id: str
    interactive: bool = False
    banner: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        """The folder this notebook writes to."""
        return self.layout.root

    def tables(self, *, with_pii: bool = False) -> FeatureTables:
        """The clean contract tables of the source run, with the run's feature cache (kept
        in this notebook's own folder when the source is another run)."""
        cache_dir = None if self.source == self.layout else self.layout.feature_cache_dir
        return run_tables(self.source, cache_dir=cache_dir, with_pii=with_pii,
                          tier_rule=TierRule.from_params(self.params.data.tier_rule))

    def log_figure(self, fig: plt.Figure, name: str) -> None:
        """Save ``fig`` as ``figures/<notebook>/<name>.png`` in the run folder and log it
        (the figure stays open, so the notebook still shows it)."""
        folder = self.layout.figures_dir(self.notebook)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (name if name.endswith(".png") else f"{name}.png")
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
            self.layout.write_json(self.layout.metrics_file(self.notebook), self.metrics)

    def log_table(self, df: pd.DataFrame, name: str) -> None:
        """Write ``df`` as ``tables/<notebook>/<name>.csv`` and log it (never pass PII columns)."""
        path = self.layout.logged_table_file(self.notebook, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        neutralise_formulas(df).to_csv(path, index=not isinstance(df.index, pd.RangeIndex),
                                       encoding="utf-8")
        mlflow.log_artifact(str(path), artifact_path="tables", run_id=self.mlflow_run_id)

    def log_model(self, model: Any, name: str, input_example: pd.DataFrame, *,
                  register_as: str | None = None) -> Any:
        """Log a fitted model to this notebook's MLflow run as the project's pyfunc
        (:func:`src.serving.pyfunc.log_project_model`); registered as ``register_as``
        under the runner, never from an interactive session (exploring adds no versions)."""
        name_to_register = None if self.interactive else register_as
        info = log_project_model(model, name, input_example,
                                 registered_model_name=name_to_register)
        if register_as and self.interactive:
            print(f"interactive session: {name} logged, not registered as {register_as!r}")
        return info

    def close(self) -> None:
        """End the notebook's MLflow run (the runner sets the final status of runner-made runs)."""
        if mlflow.active_run() is not None:
            mlflow.end_run()


def data_settings_key(params: JobParams) -> str:
    """Short hash of the job's data settings (source or synthetic, cut-off): runs with the
    same key read the same data."""
    text = json.dumps(params.data.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def latest_successful_run(params: JobParams, folder: Path | None = None) -> Path | None:
    """The newest run folder of ``params.job`` that succeeded and read the same data
    (same data settings), or None."""
    key = data_settings_key(params)
    for manifest in run_manifest_files(folder or runs_dir())[::-1]:
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if m.get("job") != params.job or m.get("status") != "succeeded":
            continue
        try:
            same_data = data_settings_key(JobParams.model_validate(m.get("params", {}))) == key
        except ValueError:  # params of an older schema
            continue
        if same_data and RunLayout(manifest.parent).has_data():
            return manifest.parent
    return None


def _interactive_source(params: JobParams) -> tuple[RunLayout, str]:
    """Where an interactive notebook reads: the latest successful run, else data prepared
    once into the job's scratch folder. Returns the layout and the banner's first half."""
    latest = latest_successful_run(params)
    if latest is not None:
        return RunLayout(latest), f"reading run {latest.name} (read only)"
    prepared = RunLayout(outputs_dir() / "scratch" / params.job / f"data-{data_settings_key(params)}")
    if prepared.has_data():
        return prepared, f"no successful run of {params.job!r}: reading the data prepared in {prepared.root}"
    print(f"no successful run of job {params.job!r}: preparing its data step once into {prepared.root} ...")
    prepare_inputs(params, prepared)
    return prepared, f"no successful run of {params.job!r}: prepared its data in {prepared.root}"


def open_run(
    params_file: str,
    run_dir: str = "",
    mlflow_run_id: str = "",
    *,
    notebook: str,
    needs_data: bool = True,
) -> NotebookRun:
    """Validate params, settle where the notebook reads and writes, attach to (or create)
    the MLflow run.

    Parameters
    ----------
    params_file : job file (name or path, relative to the project root).
    run_dir : run folder set by the runner; empty for an interactive session.
    mlflow_run_id : nested run created by the runner; empty for an interactive session.
    notebook : this notebook's name.
    needs_data : False for the data step itself (it reads no earlier step).
    """
    params = load_params(resolve(params_file) if str(params_file).endswith((".yaml", ".yml"))
                         else params_file)
    client, experiment_id = connect(params.mlflow.tracking_uri, params.mlflow.experiment)
    interactive = not run_dir
    if interactive:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        layout = RunLayout(outputs_dir() / "scratch" / f"{stamp}-{notebook}-{secrets.token_hex(2)}")
    else:
        layout = RunLayout(Path(run_dir))
    layout.root.mkdir(parents=True, exist_ok=True)
    source, banner = layout, f"run folder {layout.root.name}"
    if interactive:
        if needs_data:
            source, read = _interactive_source(params)
        else:
            read = "data step: reading the job's sources"
        banner = f"interactive · job {params.job!r} · {read} · writing to {layout.root}"
    if mlflow.active_run() is not None:
        mlflow.end_run()
    if mlflow_run_id:
        # attach in the run's own experiment (a process-wide experiment set earlier, e.g. by
        # another notebook context, would refuse the run)
        mlflow.set_experiment(experiment_id=client.get_run(mlflow_run_id).info.experiment_id)
        run = mlflow.start_run(run_id=mlflow_run_id)
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=f"{notebook} (interactive)",
                               tags={"crm.notebook": notebook, "crm.interactive": "true"})
    ctx = NotebookRun(params=params, layout=layout, source=source, notebook=notebook,
                      mlflow_run_id=run.info.run_id, interactive=interactive, banner=banner)
    print(f"{banner} · cut-off {params.cutoff()}")
    return ctx
