"""What a run's notebooks recorded, folded into its manifest: the inputs, row counts, load
report and warnings the data step wrote, every notebook's metrics, the notes for what a
notebook did differently from the params, and the headline metrics of the MLflow parent run."""

from __future__ import annotations

import json
from pathlib import Path

from src.layout import RunLayout
from src.runner.manifest import RunManifest

__all__ = ["NOTE_METRICS", "collect_run_outputs", "headline_metrics", "run_notes"]

#: metrics a notebook sets to 1 when it departed from the params, and the note the run
#: summary and the manifest (``notes``) give for it
NOTE_METRICS = {
    "churn_km_fallback": ("churn: no usable covariates for churn.models, so Kaplan-Meier (km, "
                          "no covariates) was fitted instead; add km to churn.models to choose "
                          "it explicitly"),
    "gamma_gamma_skipped": ("loyalty: the Gamma-Gamma spend model was skipped (its q <= 1: the "
                            "population mean spend does not exist), so this run has no expected "
                            "booking value and no CLV; the BG/NBD predictions stand (see notebook "
                            "04)"),
}


def collect_run_outputs(run_dir: Path, manifest: RunManifest) -> None:
    """Fold what the notebooks recorded (inputs, row counts, metrics) into the manifest."""
    inputs = RunLayout(run_dir).inputs_file
    if inputs.exists():
        data = json.loads(inputs.read_text(encoding="utf-8"))
        manifest["inputs"] = data.get("sources", {})
        manifest["rows"] = data.get("rows", {})
        manifest["load_report"] = data.get("load_report", [])
        manifest["warnings"] = data.get("warnings", [])
    metrics_dir = RunLayout(run_dir).metrics_dir
    if metrics_dir.exists():
        manifest["metrics"] = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                               for p in sorted(metrics_dir.glob("*.json"))}


def run_notes(manifest: RunManifest) -> list[str]:
    """What the notebooks did differently from the params (:data:`NOTE_METRICS`)."""
    notes = []
    for nb, metrics in (manifest.get("metrics") or {}).items():
        notes += [f"{nb}: {text}" for key, text in NOTE_METRICS.items()
                  if float(metrics.get(key, 0.0)) == 1.0]
    return notes


def headline_metrics(manifest: RunManifest) -> dict[str, float]:
    """The metrics logged on the run's MLflow parent run: the duration (seconds) and every
    notebook's metrics as ``<notebook>.<metric>``."""
    out = {"duration_seconds": float(manifest.get("duration_seconds") or 0.0)}
    for nb, metrics in (manifest.get("metrics") or {}).items():
        for k, v in metrics.items():
            out[f"{nb}.{k}"] = float(v)
    return out
