"""Runs whose runner process died: marked failed ("killed") by the next run of their job.

A runner killed by a signal, the out-of-memory killer or a restart writes nothing more: its
manifest says ``running``, its MLflow runs stay RUNNING and ``crm runs`` shows it running for
ever. The next run of the same job finds the lock the dead runner left (:func:`job_lock
<src.runner.lock.job_lock>` calls back with its contents) and :func:`mark_killed` closes the
dead run's records: the manifest gets ``status: failed`` with a ``RunnerKilled`` error naming
the notebook that was running, the notebook it was in is ``failed`` and the later ones
``skipped``; its MLflow parent run and any nested run still RUNNING become FAILED; anything it
exported is withdrawn; a scorer it had judged is not promoted. The run can then be resumed
(``crm run <job> --resume <run_id>``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.entities import RunStatus

from src.layout import RunLayout
from src.runner.manifest import RunManifest, write_manifest
from src.runner.publication import settle_champion, withdraw_exports
from src.runner.tracking import connect

__all__ = ["KILLED_EXCEPTION", "mark_killed"]

#: ``error.exception`` of a run whose runner died
KILLED_EXCEPTION = "RunnerKilled"


def mark_killed(holder: dict[str, Any], *, found_by: str | None = None) -> dict[str, Any] | None:
    """Mark the run a stale lock belonged to as failed ("killed").

    Parameters
    ----------
    holder : the stale lock's contents (``pid``, ``host``, ``started_at``, ``run_id``,
        ``run_dir``).
    found_by : the run that found the stale lock (named in the message).

    Returns
    -------
    the updated manifest, or None when the lock names no run, or its run is not ``running``
    (it finished after all, or was marked already).
    """
    run_dir = holder.get("run_dir")
    if not run_dir:
        return None
    layout = RunLayout(Path(run_dir))
    try:
        manifest = json.loads(layout.manifest_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("status") != "running":
        return None
    now = datetime.now(UTC).isoformat(timespec="seconds")
    running = [n for n in manifest.get("notebooks", []) if n.get("status") == "running"]
    where = f"while running notebook {running[0]['name']}" if running else "between notebooks"
    error = {
        "notebook": running[0]["name"] if running else None, "cell": None,
        "exception": KILLED_EXCEPTION,
        "message": (f"the runner process (pid {holder.get('pid')} on {holder.get('host')}) died "
                    f"{where}: killed by a signal, out of memory or a restart. Found "
                    f"{now} by {found_by or 'the next run'} of job {manifest.get('job')!r}, "
                    "which cleared its stale lock. Resume with crm run "
                    f"{manifest.get('job')} --resume {manifest.get('run_id')}"),
        "traceback_head": [],
    }
    for entry in manifest.get("notebooks", []):
        if entry.get("status") == "running":
            entry.update(status="failed", error=error, finished_at=None)
        elif entry.get("status") == "pending":
            entry["status"] = "skipped"
    manifest.update(status="failed", exit_code=None, error=error,
                    killed={"pid": holder.get("pid"), "host": holder.get("host"),
                            "lock_started_at": holder.get("started_at"), "detected_at": now,
                            "detected_by": found_by})
    try:
        withdraw_exports(layout.root, manifest)
    except OSError as exc:
        manifest["exports_not_withdrawn"] = f"{type(exc).__name__}: {exc}"
    _close_mlflow(layout, manifest)
    write_manifest(layout.manifest_file, manifest)
    return manifest


def _close_mlflow(layout: RunLayout, manifest: RunManifest) -> None:
    """The dead run's MLflow runs still RUNNING become FAILED; its scorer is not promoted."""
    ids = manifest.get("mlflow") or {}
    uri = ids.get("tracking_uri")
    if not uri:
        return
    try:
        client, _ = connect(uri, manifest["params"]["mlflow"]["experiment"])
        for rid in [ids.get("parent_run_id"), *(ids.get("notebook_run_ids") or {}).values()]:
            if rid and client.get_run(rid).info.status == "RUNNING":
                client.set_terminated(rid, RunStatus.to_string(RunStatus.FAILED))
        settle_champion(layout.root, manifest, succeeded=False,
                        failure="the runner was killed", client=client)
    except Exception as exc:  # noqa: BLE001 - best effort: the store may be gone too
        manifest["mlflow_not_updated"] = f"{type(exc).__name__}: {exc}"[:500]
