"""The run manifest (``manifest.json`` of a run folder), typed: every key it may hold, once.

The runner and its helpers (records, attempts, publication, killed-run marking) fill one
:class:`RunManifest`; :func:`write_manifest` is the one way it is written, and it refuses a key
not declared here (at the top level or in a notebook entry), so a misspelt or undocumented key
fails the run's tests instead of reaching readers (the front page, ``crm history``, the
notebooks' ``open_run``, the tests) who look for another. Values stay JSON (a ``TypedDict``):
the file format does not change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from src.fileio import write_json_atomic

__all__ = ["MANIFEST_KEYS", "NOTEBOOK_KEYS", "NotebookEntry", "RunManifest", "manifest_problems",
           "write_manifest"]


class NotebookEntry(TypedDict, total=False):
    """One notebook of the run, in run order."""

    name: str  #: notebook name without .ipynb
    status: str  #: pending | running | succeeded | failed | skipped
    reason: str  #: why it was skipped (inputs absent, not applicable)
    output: str  #: the executed notebook's file name in the run folder
    mlflow_run_id: str  #: its nested MLflow run
    started_at: str  #: ISO time
    finished_at: str | None  #: ISO time
    seconds: float  #: wall time, s
    attempts: int  #: executions (a retried cell or kernel counts)
    peak_rss_mb: float  #: peak memory of the kernel, MB
    kernel_starts_failed: int  #: kernels that died while starting (started again)
    error: dict[str, Any]  #: notebook, cell, exception, message
    previous_attempts: list[dict[str, Any]]  #: outcomes of earlier attempts (resume)


class RunManifest(TypedDict, total=False):
    """What a run did: identity, inputs, outcome, publication. Times ISO, durations s."""

    # identity and provenance (written at the start)
    run_id: str
    job: str
    run_dir: str
    params: dict[str, Any]  #: the validated job params (JSON)
    params_source: str  #: the job file or name it was read from
    code: dict[str, Any]  #: git commit and whether the tree was clean
    packages: dict[str, str]  #: installed versions of the key packages
    host: dict[str, Any]  #: platform, CPUs
    cutoff_date: str
    mlflow: dict[str, Any]  #: tracking URI, experiment and parent run ids
    mlflow_fallback: dict[str, Any]  #: the store was unreachable: the embedded one was used
    # progress and outcome
    status: str  #: running | succeeded | failed
    started_at: str
    finished_at: str | None
    duration_seconds: float | None
    exit_code: int | None
    error: dict[str, Any] | None
    notebooks: list[NotebookEntry]
    resumed: list[str]  #: times the run was resumed
    attempts: list[dict[str, Any]]  #: earlier attempts' outcomes (resume)
    killed: dict[str, Any]  #: the runner died: its lock's pid, host, when it was found
    killed_runs_marked: list[str]  #: stale runs of the job this run marked failed
    # what was read and computed
    inputs: dict[str, Any]  #: sources with their SHA-256 and size
    rows: dict[str, Any]  #: rows read, kept and rejected per table
    load_report: list[Any]
    warnings: list[Any]
    metrics: dict[str, Any]  #: per notebook, as logged
    notes: list[str]  #: sentences for the front page and the terminal
    # publication
    exports: list[str]  #: files published in exports/
    campaigns: dict[str, Any]  #: the campaign register file and counts per list
    promotion: dict[str, Any]  #: the registry decision and where lists come from
    exports_withdrawn: list[str]
    exports_restored: list[str]
    # what could not be done (the run's outcome stands; these say what to repair)
    report_error: str
    promotion_not_recorded: str
    promotion_rollback_failed: str
    manifest_not_written: str
    exports_not_withdrawn: str
    mlflow_not_updated: str


MANIFEST_KEYS = frozenset(RunManifest.__annotations__)
NOTEBOOK_KEYS = frozenset(NotebookEntry.__annotations__)


def manifest_problems(manifest: RunManifest | dict[str, Any]) -> list[str]:
    """Keys of ``manifest`` (and of its notebook entries) that :class:`RunManifest` does not
    declare, as sentences; empty when every key is known."""
    problems = [f"manifest key {k!r} is not declared in src.runner.manifest.RunManifest"
                for k in sorted(set(manifest) - MANIFEST_KEYS)]
    for entry in manifest.get("notebooks") or []:
        problems += [f"notebook entry key {k!r} ({entry.get('name')}) is not declared in "
                     "src.runner.manifest.NotebookEntry" for k in sorted(set(entry) - NOTEBOOK_KEYS)]
    return problems


def write_manifest(path: Path, manifest: RunManifest | dict[str, Any]) -> None:
    """Write ``manifest`` to ``path`` atomically (a failed write keeps the old file).

    Raises
    ------
    ValueError : a key not declared in :class:`RunManifest` / :class:`NotebookEntry`.
    OSError : the file could not be written.
    """
    problems = manifest_problems(manifest)
    if problems:
        raise ValueError("; ".join(problems))
    write_json_atomic(path, manifest)
