"""The earlier runs of a job: what the closing-the-loop steps compare this run with.

``06_campaign_results`` back-tests the previous run's predictions, ``07_kpis`` shows each KPI
against the last run and a baseline run, and both plot trends across runs. They find those
runs here: the succeeded run folders of the same job under :func:`src.paths.runs_dir`,
ordered by cut-off date (then start time), read only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from src.layout import RunLayout, run_manifest_files
from src.paths import runs_dir

__all__ = ["JobRun", "job_runs", "notebook_metrics", "previous_run", "run_named"]


@dataclass(frozen=True)
class JobRun:
    """One earlier run of a job.

    Attributes
    ----------
    run_id : the run's id (its folder name).
    layout : its folder (:class:`~src.layout.RunLayout`), read only.
    cutoff_date : its analysis cut-off (calendar date).
    started_at : ISO time the run started.
    status : ``succeeded``, ``failed``, ...
    manifest : the run's ``manifest.json``.
    """

    run_id: str
    layout: RunLayout
    cutoff_date: date
    started_at: str
    status: str
    manifest: dict[str, Any]


def _cutoff_of(manifest: dict[str, Any], layout: RunLayout) -> date | None:
    """A run's cut-off: the manifest's, else its input record's, else its params'."""
    if manifest.get("cutoff_date"):
        return date.fromisoformat(str(manifest["cutoff_date"])[:10])
    if layout.inputs_file.exists():
        try:
            record = json.loads(layout.inputs_file.read_text(encoding="utf-8"))
            if record.get("cutoff_date"):
                return date.fromisoformat(str(record["cutoff_date"])[:10])
        except (OSError, json.JSONDecodeError, ValueError):
            pass
    data = (manifest.get("params") or {}).get("data") or {}
    value = data.get("cutoff_date") or (data.get("synthetic") or {}).get("extraction_date") \
        or (data.get("source") or {}).get("as_of_date")
    return date.fromisoformat(str(value)[:10]) if value else None


def job_runs(job: str, *, status: str | None = "succeeded", folder: Path | None = None
             ) -> list[JobRun]:
    """The runs of ``job`` (with ``status``; None: any), oldest cut-off first, then oldest
    start. Folders without a readable manifest or cut-off are left out."""
    out = []
    for path in run_manifest_files(folder or runs_dir()):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if manifest.get("job") != job or (status is not None and manifest.get("status") != status):
            continue
        layout = RunLayout(path.parent)
        cutoff = _cutoff_of(manifest, layout)
        if cutoff is None:
            continue
        out.append(JobRun(run_id=str(manifest.get("run_id") or path.parent.name), layout=layout,
                          cutoff_date=cutoff, started_at=str(manifest.get("started_at") or ""),
                          status=str(manifest.get("status")), manifest=manifest))
    return sorted(out, key=lambda r: (r.cutoff_date, r.started_at, r.run_id))


def previous_run(job: str, cutoff: date, *, folder: Path | None = None,
                 exclude: str | None = None) -> JobRun | None:
    """The newest succeeded run of ``job`` with a cut-off before ``cutoff`` (the run whose
    predictions and lists this run can check), or None. ``exclude``: a run id to skip (this
    run itself)."""
    earlier = [r for r in job_runs(job, folder=folder)
               if r.cutoff_date < cutoff and r.run_id != exclude]
    if not earlier:
        return None
    last = max(r.cutoff_date for r in earlier)
    return [r for r in earlier if r.cutoff_date == last][-1]


def run_named(run_id: str, *, folder: Path | None = None) -> JobRun | None:
    """The run ``run_id`` (any status), or None when there is no such folder."""
    path = RunLayout((folder or runs_dir()) / run_id).manifest_file
    if not path.exists():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    layout = RunLayout(path.parent)
    cutoff = _cutoff_of(manifest, layout)
    if cutoff is None:
        return None
    return JobRun(run_id=run_id, layout=layout, cutoff_date=cutoff,
                  started_at=str(manifest.get("started_at") or ""),
                  status=str(manifest.get("status")), manifest=manifest)


def notebook_metrics(job: str, notebook: str, *, exclude: str | None = None,
                     folder: Path | None = None) -> list[tuple[str, date, dict[str, Any]]]:
    """``(run_id, cut-off, metrics)`` of one notebook in each succeeded run of ``job``,
    oldest cut-off first (``exclude``: a run id to leave out, this run itself): the history
    a trend across runs is drawn from."""
    return [(r.run_id, r.cutoff_date, (r.manifest.get("metrics") or {}).get(notebook, {}))
            for r in job_runs(job, folder=folder) if r.run_id != exclude]
