"""The job runner: validate params, execute the job's notebooks with papermill, record the run.

A run lives in ``outputs/runs/<run_id>/``: the resolved ``params.yaml``, one executed notebook
per step (kept even when it fails, up to the failing cell), an HTML report per notebook with
an ``index.html``, and ``manifest.json`` (params, inputs and their hashes, git commit, package
versions, timings, MLflow run ids, row counts, status, and on failure the notebook, cell and
exception). In MLflow the run is a parent run with one nested run per notebook.

Nothing half-made is published: a failed run's ``exports/`` folder is withdrawn to
``exports.withdrawn/`` (named in the manifest), so a scheduler or a person picking up
``<run_dir>/exports`` finds either a complete run's lists or nothing. Likewise the champion:
notebook 05 only registers and judges the run's scorer; the alias moves here, after every
notebook has succeeded, and is put back if the run's records then cannot be written
(:mod:`src.runner.publication`). A run whose runner was killed is marked failed ("killed") by
the next run of its job, which finds its stale lock (:mod:`src.runner.killed`). Records
(manifest, reports) are written through a temp file and a rename; a full disk ends the run with
``EXIT_STORAGE`` and a message instead of a traceback.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import papermill as pm
from mlflow.entities import RunStatus
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from papermill.exceptions import PapermillExecutionError

from src.layout import RunLayout
from src.page.report import render_reports
from src.params import JobParams, ParamsError, dump_params, flatten, load_params, params_path
from src.paths import PROJECT_ROOT, notebook_name, notebook_path, runs_dir
from src.runner.applicability import skip_reason
from src.runner.attempts import archive_attempt
from src.runner.failures import (  # the exit codes are crm run's: run.EXIT_* for callers
    EXIT_BAD_INPUT,
    EXIT_LOCKED,
    EXIT_NOTEBOOK_FAILED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_TRACKING,
    KERNEL_START_RETRIES,
    describe_failure,
    failure_summary,
    is_bad_input,
    is_disk_full,
    is_kernel_start_failure,
    notebook_exit_code,
)
from src.runner.killed import mark_killed
from src.runner.lock import job_lock, note_run
from src.runner.manifest import RunManifest, write_manifest
from src.runner.memory import PeakMemory
from src.runner.preflight import check_resume_params, preflight
from src.runner.provenance import git_commit, package_versions
from src.runner.publication import (
    data_quality_hold,
    promotion_lines,
    record_campaigns,
    restore_exports,
    rollback_champion,
    settle_champion,
    unrecord_campaigns,
    withdraw_exports,
)
from src.runner.records import collect_run_outputs, headline_metrics, run_notes
from src.runner.tracking import (
    TrackingUnavailableError,
    connect,
    default_tracking_uri,
    resolve_tracking_uri,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_LOCKED", "EXIT_NOTEBOOK_FAILED", "EXIT_OK", "EXIT_STORAGE",
           "EXIT_TRACKING", "RunResult", "run_job"]

#: kernel command-line options: the IPython kernel app's own log is reduced to critical messages,
#: so the terminal (or the cron log) is not filled on every notebook with "Kernel is running over
#: TCP without encryption" (a warning) and "KeyboardInterrupt caught in kernel" (logged as an
#: error when papermill shuts a kernel down). Failures are not hidden by this: an exception in a
#: cell reaches the executed notebook and the failure summary, a dying kernel is a
#: DeadKernelError, and anything the kernel process prints itself still goes to stderr.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]

#: the parameters every notebook receives; each notebook's parameters cell must declare them
NOTEBOOK_PARAMETERS = ("params_file", "run_dir", "mlflow_run_id")


@dataclass
class RunResult:
    """Outcome of ``run_job``: ``exit_code`` 0 on success, see the ``EXIT_*`` constants."""

    run_id: str
    run_dir: Path
    status: str
    exit_code: int
    manifest: RunManifest
    replay: list[RunResult] | None = None  # every run of a replay (data.cutoff_dates), in order


class NotebookParametersError(ParamsError):
    """A notebook's parameters cell does not declare what the runner passes."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(job: str) -> str:
    """``YYYYmmdd-HHMMSS-<job>-<4 hex>``: sortable, unique, readable."""
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{job}-{secrets.token_hex(2)}"


def check_notebook_parameters(path: Path) -> None:
    """The notebook's ``parameters`` cell must declare every key the runner injects."""
    declared = pm.inspect_notebook(str(path))
    missing = [k for k in NOTEBOOK_PARAMETERS if k not in declared]
    if missing:
        raise NotebookParametersError(path, [
            f"the cell tagged 'parameters' does not declare {missing}; the runner passes "
            f"{list(NOTEBOOK_PARAMETERS)}"])
    extra = [k for k in declared if k not in NOTEBOOK_PARAMETERS]
    if extra:
        raise NotebookParametersError(path, [
            f"the parameters cell declares {extra}, which the runner never sets; settings "
            "belong in the job's params file"])


def _say(msg: str, quiet: bool, run_dir: Path | None = None) -> None:
    """A progress line on stderr (unless ``quiet``), always appended to ``<run_dir>/run.log``."""
    if not quiet:
        print(msg, file=sys.stderr, flush=True)
    if run_dir is not None:
        try:
            with open(RunLayout(run_dir).log_file, "a", encoding="utf-8") as fh:
                fh.write("".join(f"{_now()} {line}\n" for line in msg.splitlines()))
        except OSError:  # a full disk must not hide the message on the terminal
            pass


def run_job(job: str | Path, *, overrides: dict[str, Any] | None = None, resume: str | None = None,
            quiet: bool = False) -> RunResult:
    """Execute a job end to end.

    Parameters
    ----------
    job : job name (``params/<job>.yaml``) or a path to a params file.
    overrides : dotted-key overrides applied to the params before validation.
    resume : run id of an earlier failed run of this job: its finished notebooks are kept and
        execution restarts at the first notebook that did not succeed, with that run's params.
        The job file (with ``overrides``) is read again and must give the same params as the
        run's frozen ``params.yaml``: a resume never mixes two sets of params, so a change is
        refused naming every differing key (:func:`src.runner.preflight.check_resume_params`).
        The earlier attempt stays in the manifest (``attempts``, and per notebook
        ``previous_attempts``); its partial notebook is kept as ``<name>.attempt<k>.ipynb``.
    quiet : no progress lines on stderr.

    Returns
    -------
    RunResult ; never raises for notebook failures (they are reported in the result).

    Raises
    ------
    ParamsError : the params file (or a notebook's parameters cell) is invalid, the checks
        before the first notebook fail (:func:`src.runner.preflight.preflight`), or ``resume``
        names no failed run of this job or the job's params changed since; nothing ran.
    JobLockedError : another run of the same job holds its lock.
    """
    started = time.perf_counter()
    if resume:
        run_dir = runs_dir() / resume
        if not (RunLayout(run_dir).manifest_file).exists():
            raise ParamsError(run_dir, [f"no run {resume!r} to resume in {runs_dir()}"])
        params = load_params(RunLayout(run_dir).params_file)
        if Path(job).suffix not in {".yaml", ".yml"} and str(job) != params.job:
            raise ParamsError(RunLayout(run_dir).params_file, [
                f"run {resume!r} is a run of job {params.job!r}, not {str(job)!r}"])
        earlier = json.loads(RunLayout(run_dir).manifest_file.read_text(encoding="utf-8"))
        check_resume_params(params, job, overrides, resume, RunLayout(run_dir).params_file,
                            ignore=("mlflow.tracking_uri",) if earlier.get("mlflow_fallback")
                            else ())
        params_file = RunLayout(run_dir).params_file
    else:
        params = load_params(job, overrides)
        params_file = params_path(job)
        if params.data.cutoff_dates:
            return _replay(job, overrides, params, quiet)
    for entry in params.notebooks:
        check_notebook_parameters(notebook_path(entry))
    preflight(params, params_file)

    run_id = resume or new_run_id(params.job)
    killed: list[str] = []

    def on_stale(holder: dict[str, Any]) -> None:
        try:
            dead = mark_killed(holder, found_by=run_id)
        except Exception as exc:  # noqa: BLE001 - a dead run's records must not stop this one
            _say(f"warning: the stale lock's run could not be marked killed: {exc}", quiet)
            return
        if dead is not None:
            killed.append(dead["run_id"])
            _say(f"run {dead['run_id']} of job {params.job!r} was killed (its runner, pid "
                 f"{holder.get('pid')}, is gone): marked failed", quiet)

    with job_lock(params.job, on_stale=on_stale) as lock:
        if resume:
            manifest = json.loads((RunLayout(run_dir).manifest_file).read_text(encoding="utf-8"))
            if manifest.get("status") == "succeeded":
                raise ParamsError(RunLayout(run_dir).manifest_file, [
                    f"run {resume!r} succeeded; there is nothing to resume (start a new run)"])
            archive_attempt(manifest, run_dir)
            restore_exports(run_dir, manifest)
            manifest.setdefault("resumed", []).append(_now())
            manifest.update(status="running", error=None, exit_code=None, finished_at=None)
            manifest.pop("killed", None)
        else:
            run_dir = runs_dir() / run_id
            run_dir.mkdir(parents=True, exist_ok=False)
            manifest = _new_manifest(params, run_id, run_dir, job)
            try:
                dump_params(params, RunLayout(run_dir).params_file)
            except OSError as exc:
                return _storage_failure(manifest, run_dir, started, exc, None, quiet)
        if killed:
            manifest["killed_runs_marked"] = killed
        note_run(lock, run_id=run_id, run_dir=run_dir)
        return _execute(params, manifest, run_dir, started, quiet)


def _replay(job: str | Path, overrides: dict[str, Any] | None, params: JobParams,
            quiet: bool) -> RunResult:
    """``data.cutoff_dates``: one run per cut-off, in order, each a whole run with that
    ``data.cutoff_date``; stops at the first run that fails. Returns the last run, with
    every run in ``replay``."""
    dates = list(params.data.cutoff_dates or [])
    results: list[RunResult] = []
    for i, cutoff in enumerate(dates, start=1):
        _say(f"replay {i}/{len(dates)}: cut-off {cutoff}", quiet)
        result = run_job(job, overrides={**(overrides or {}), "data.cutoff_dates": None,
                                         "data.cutoff_date": str(cutoff)}, quiet=quiet)
        results.append(result)
        if result.exit_code != EXIT_OK:
            _say(f"replay stopped: the run at cut-off {cutoff} failed", quiet)
            break
    last = results[-1]
    last.replay = results
    return last


def _new_manifest(params: JobParams, run_id: str, run_dir: Path, job: str | Path) -> RunManifest:
    return {
        "run_id": run_id,
        "job": params.job,
        "run_dir": str(run_dir),
        "status": "running",
        "started_at": _now(),
        "cutoff_date": str(params.cutoff()),
        "finished_at": None,
        "duration_seconds": None,
        "params": params.model_dump(mode="json"),
        "params_source": str(Path(job)),
        "code": git_commit(),
        "packages": package_versions(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "mlflow": {},
        "notebooks": [{"name": notebook_name(n), "status": "pending"} for n in params.notebooks],
        "inputs": {},
        "rows": {},
        "error": None,
    }


def _execute(params: JobParams, manifest: RunManifest, run_dir: Path, started: float,
             quiet: bool) -> RunResult:
    run_id = manifest["run_id"]
    manifest_path = RunLayout(run_dir).manifest_file
    params_file = RunLayout(run_dir).params_file
    try:
        write_manifest(manifest_path, manifest)
    except OSError as exc:
        return _storage_failure(manifest, run_dir, started, exc, None, quiet)
    _say(f"run {run_id}  ->  {run_dir}", quiet, run_dir)

    try:
        client, experiment_id, tracking_uri = _connect(params, quiet, run_dir)
    except TrackingUnavailableError as exc:
        return _finish(manifest, manifest_path, run_dir, started, "failed", EXIT_TRACKING,
                       {"notebook": None, "exception": type(exc).__name__, "message": str(exc)}, quiet)
    if params.mlflow.tracking_uri != manifest["params"]["mlflow"]["tracking_uri"]:
        # fell back to the embedded store: the notebooks must log there too
        manifest["mlflow_fallback"] = {"unreachable": manifest["params"]["mlflow"]["tracking_uri"]
                                       or os.environ.get("MLFLOW_TRACKING_URI"),
                                       "used": tracking_uri}
        manifest["params"]["mlflow"]["tracking_uri"] = tracking_uri
        dump_params(params, params_file)

    try:
        parent_id = _start_parent(client, experiment_id, tracking_uri, params, manifest)
        exit_code, status, error = _run_notebooks(client, experiment_id, parent_id, params,
                                                  manifest, run_dir, quiet)
        collect_run_outputs(run_dir, manifest)
        manifest["notes"] = run_notes(manifest)
    except OSError as exc:
        if not is_disk_full(exc) and not isinstance(exc, PermissionError):
            raise
        return _storage_failure(manifest, run_dir, started, exc, client, quiet)
    status, exit_code, error = _publish(client, run_dir, manifest, status, exit_code, error)
    _settle(manifest, started, status, exit_code, error)  # index.html shows the final status
    try:
        render_reports(run_dir, manifest)
    except Exception as exc:  # noqa: BLE001 - a report that cannot render must not hide the run's result
        manifest["report_error"] = f"{type(exc).__name__}: {exc}"
    try:
        result = _finish(manifest, manifest_path, run_dir, started, status, exit_code, error, quiet)
    except OSError as exc:
        return _storage_failure(manifest, run_dir, started, exc, client, quiet)
    try:
        client.log_artifact(parent_id, str(manifest_path))
    except OSError as exc:  # the run's own record is complete on disk; say what MLflow lacks
        _say(f"warning: manifest not logged to MLflow: {exc}", quiet, run_dir)
    for key, value in headline_metrics(manifest).items():
        client.log_metric(parent_id, key, value)
    client.set_terminated(parent_id, RunStatus.to_string(
        RunStatus.FINISHED if status == "succeeded" else RunStatus.FAILED))
    return result


def _publish(client: Any, run_dir: Path, manifest: RunManifest, status: str, exit_code: int,
             error: dict[str, Any] | None) -> tuple[str, int, dict[str, Any] | None]:
    """The end of the notebooks: a run that succeeded keeps its exports and moves the champion
    to a candidate that passed the gates; a failed run withdraws its exports and promotes
    nothing. A champion alias that cannot be moved fails the run (exit 4).

    Returns the (possibly failed) status, exit code and error.
    """
    held = data_quality_hold(manifest) if status == "succeeded" else None
    if held:  # a bad extract: models fitted for people to look at, nothing reaches marketing
        status, exit_code = "failed", EXIT_BAD_INPUT
        error = {"notebook": None, "cell": None, "exception": "DataQualityBelowBar",
                 "message": held, "traceback_head": []}
    if status == "succeeded":
        try:  # the register holds only lists that went out, and every list that did
            record_campaigns(run_dir, manifest, _now())
        except Exception as exc:  # noqa: BLE001 - unrecorded control groups: not published
            status, exit_code = "failed", EXIT_STORAGE
            error = _publish_error(exc, f"the campaign register could not be written ({exc}); "
                                        "the run is not counted as succeeded and its exports "
                                        "are withdrawn")
    if status == "succeeded":
        try:
            settle_champion(run_dir, manifest, succeeded=True, failure=None, client=client)
        except Exception as exc:  # noqa: BLE001 - any store error: the run is not complete
            status, exit_code = "failed", EXIT_TRACKING
            error = _publish_error(exc, f"the champion alias could not be moved ({exc}); the "
                                        "run is not counted as succeeded and its exports are "
                                        "withdrawn")
            unrecord_campaigns(manifest)
    if status == "succeeded":
        manifest["exports"] = RunLayout(run_dir).exported_files()
        return status, exit_code, error
    withdraw_exports(run_dir, manifest)
    _settle_failed(client, run_dir, manifest, error)
    return status, exit_code, error


def _publish_error(exc: BaseException, message: str) -> dict[str, Any]:
    return {"notebook": None, "cell": None, "exception": type(exc).__name__,
            "message": message[:2000], "traceback_head": traceback.format_exception(exc)[-3:]}


def _settle_failed(client: Any, run_dir: Path, manifest: RunManifest,
                   error: dict[str, Any] | None) -> None:
    """A failed run's candidate is not promoted (best effort: the failure may be the store)."""
    err = error or {}
    where = f" in {err['notebook']}" if err.get("notebook") else ""
    failure = f"{err.get('exception')}{where}: {str(err.get('message'))[:200]}"
    try:
        settle_champion(run_dir, manifest, succeeded=False, failure=failure, client=client)
    except Exception as exc:  # noqa: BLE001 - the alias never moved; only the record lacks it
        manifest["promotion_not_recorded"] = f"{type(exc).__name__}: {exc}"[:500]


def _start_parent(client: Any, experiment_id: str, tracking_uri: str, params: JobParams,
                  manifest: RunManifest) -> str:
    """The run's MLflow parent run: created on the first attempt, re-opened on a resume."""
    parent_id = (manifest.get("mlflow") or {}).get("parent_run_id")
    if parent_id:  # resuming: the same parent run goes on
        client.update_run(parent_id, status="RUNNING")
        return parent_id
    run_id = manifest["run_id"]
    parent = client.create_run(experiment_id, tags={
        MLFLOW_RUN_NAME: run_id, "crm.job": params.job, "crm.run_id": run_id,
        "crm.git_commit": str(manifest["code"]["commit"])})
    manifest["mlflow"] = {"tracking_uri": tracking_uri, "experiment_id": experiment_id,
                          "parent_run_id": parent.info.run_id, "notebook_run_ids": {}}
    for k, v in flatten(params).items():
        client.log_param(parent.info.run_id, k, v)
    return parent.info.run_id


def _run_notebooks(client: Any, experiment_id: str, parent_id: str, params: JobParams,
                   manifest: RunManifest, run_dir: Path,
                   quiet: bool) -> tuple[int, str, dict[str, Any] | None]:
    """Execute the notebooks in order, from the first one not yet succeeded.

    Returns (exit code, status, error of the failed notebook or None).
    """
    run_id = manifest["run_id"]
    manifest_path = RunLayout(run_dir).manifest_file
    params_file = RunLayout(run_dir).params_file
    for i, nb_entry in enumerate(params.notebooks, start=1):
        name = notebook_name(nb_entry)
        entry = manifest["notebooks"][i - 1]
        if entry.get("status") == "succeeded":
            _say(f"[{i}/{len(params.notebooks)}] {name}: kept from the earlier attempt", quiet, run_dir)
            continue
        # --- applicability hook (src/runner/applicability.py): inputs absent -> skipped, with why
        reason = skip_reason(name, params, RunLayout(run_dir))
        if reason:
            entry.update(status="skipped", reason=reason)
            write_manifest(manifest_path, manifest)
            _say(f"[{i}/{len(params.notebooks)}] {name}: skipped: {reason}", quiet, run_dir)
            continue
        # --- end of the applicability hook
        child = client.create_run(experiment_id, tags={
            MLFLOW_PARENT_RUN_ID: parent_id, MLFLOW_RUN_NAME: name, "crm.notebook": name,
            "crm.run_id": run_id})
        child_id = child.info.run_id
        manifest["mlflow"]["notebook_run_ids"][name] = child_id
        out_nb = RunLayout(run_dir).notebook_file(name)
        entry.pop("error", None)
        entry.update(status="running", started_at=_now(), output=out_nb.name, mlflow_run_id=child_id)
        write_manifest(manifest_path, manifest)
        _say(f"[{i}/{len(params.notebooks)}] {name} ...", quiet, run_dir)
        t0 = time.perf_counter()
        attempts, starts_failed, nb_error = 0, 0, None
        with PeakMemory() as memory:
            while True:
                attempts += 1
                try:
                    pm.execute_notebook(
                        str(notebook_path(nb_entry)), str(out_nb),
                        parameters={"params_file": str(params_file), "run_dir": str(run_dir),
                                    "mlflow_run_id": child_id},
                        kernel_name=params.run.kernel_name, cwd=str(PROJECT_ROOT),
                        progress_bar=False, log_output=False,
                        execution_timeout=params.run.notebook_timeout_seconds,
                        extra_arguments=list(KERNEL_ARGUMENTS),
                    )
                    nb_error = None
                    break
                except Exception as exc:  # noqa: BLE001 - any failure is recorded, never swallowed
                    nb_error = exc
                    if is_kernel_start_failure(exc) and starts_failed < KERNEL_START_RETRIES:
                        starts_failed += 1  # nothing ran: a fresh kernel, not a retry
                        attempts -= 1
                        _say(f"    the kernel died while starting ({exc}); starting a new one",
                             quiet, run_dir)
                        continue
                    bad_input = (isinstance(exc, PapermillExecutionError)
                                 and is_bad_input(exc.ename))
                    if bad_input or is_disk_full(exc) or attempts > params.run.retries:
                        break
                    _say(f"    attempt {attempts} failed ({type(exc).__name__}); retrying", quiet, run_dir)
        seconds = round(time.perf_counter() - t0, 2)
        entry.update(seconds=seconds, attempts=attempts, finished_at=_now(),
                     peak_rss_mb=memory.peak_mb, kernel_starts_failed=starts_failed)
        if out_nb.exists():
            client.log_artifact(child_id, str(out_nb), artifact_path="notebook")
        if nb_error is None:
            entry["status"] = "succeeded"
            client.set_terminated(child_id, RunStatus.to_string(RunStatus.FINISHED))
            _say(f"      done in {seconds:.1f} s", quiet, run_dir)
            _say_input_warnings(run_dir, manifest, quiet)
            continue
        error = describe_failure(nb_error, name, out_nb)
        entry.update(status="failed", error=error)
        client.set_terminated(child_id, RunStatus.to_string(RunStatus.FAILED))
        exit_code = notebook_exit_code(nb_error, error)
        for later in manifest["notebooks"][i:]:
            later["status"] = "skipped"
        return exit_code, "failed", error
    return EXIT_OK, "succeeded", None


def _storage_failure(manifest: RunManifest, run_dir: Path, started: float, exc: OSError,
                     client: Any, quiet: bool) -> RunResult:
    """The disk is full (or not writable): end the run with ``EXIT_STORAGE`` and a message.

    The manifest is written if the disk still allows it; the MLflow runs are marked FAILED
    (best effort) and the exports withdrawn, so nothing half-written is published.
    """
    error = {"notebook": None, "cell": None, "exception": type(exc).__name__,
             "message": (f"could not write the run's files in {run_dir}: {exc}. Free disk space "
                         "(or fix permissions) and resume the run with crm run <job> --resume "
                         f"{manifest['run_id']}"),
             "traceback_head": traceback.format_exception(exc)[-3:]}
    for entry in manifest.get("notebooks", []):
        if entry.get("status") == "running":
            entry["status"] = "failed"
            entry["error"] = error
    try:
        withdraw_exports(run_dir, manifest)
    except OSError:
        pass
    manifest.update(status="failed", exit_code=EXIT_STORAGE, error=error, finished_at=_now(),
                    duration_seconds=round(time.perf_counter() - started, 2))
    if client is not None:  # a promotion made before the records failed is put back
        if (manifest.get("promotion") or {}).get("promoted"):
            try:
                rollback_champion(run_dir, manifest, f"{type(exc).__name__}: {exc}", client)
            except Exception as again:  # noqa: BLE001 - say it; the operator must act
                manifest["promotion_rollback_failed"] = f"{type(again).__name__}: {again}"
        else:
            _settle_failed(client, run_dir, manifest, error)
    try:
        write_manifest(RunLayout(run_dir).manifest_file, manifest)
    except OSError as again:
        manifest["manifest_not_written"] = f"{type(again).__name__}: {again}"
    if client is not None:
        mlflow_ids = manifest.get("mlflow") or {}
        for rid in [mlflow_ids.get("parent_run_id"), *(mlflow_ids.get("notebook_run_ids") or {}).values()]:
            if rid:
                try:
                    client.set_terminated(rid, RunStatus.to_string(RunStatus.FAILED))
                except Exception:  # noqa: BLE001 - best effort: the store may be on the full disk
                    pass
    _say(failure_summary(manifest), quiet, run_dir)
    return RunResult(manifest["run_id"], run_dir, "failed", EXIT_STORAGE, manifest)


def _connect(params: JobParams, quiet: bool, run_dir: Path) -> tuple[Any, str, str]:
    uri = resolve_tracking_uri(params.mlflow.tracking_uri)
    try:
        client, exp = connect(uri, params.mlflow.experiment)
        return client, exp, uri
    except TrackingUnavailableError:
        if not params.mlflow.allow_local_fallback:
            raise
        fallback = default_tracking_uri()
        _say(f"MLflow store {uri} unreachable; logging to the embedded store {fallback}", quiet, run_dir)
        params.mlflow.tracking_uri = fallback
        client, exp = connect(fallback, params.mlflow.experiment)
        return client, exp, fallback


def _say_input_warnings(run_dir: Path, manifest: RunManifest, quiet: bool) -> None:
    """Once the data step has recorded the inputs, print its shape warnings (each naming the
    params that fix it) and keep them in the manifest."""
    inputs = RunLayout(run_dir).inputs_file
    if "warnings" in manifest or not inputs.exists():
        return
    warnings = json.loads(inputs.read_text(encoding="utf-8")).get("warnings", [])
    manifest["warnings"] = warnings
    for w in warnings:
        _say(f"      warning: {w.get('table')}: {w.get('message')}; fix: {w.get('fix')}",
             quiet, run_dir)


def _settle(manifest: RunManifest, started: float, status: str, exit_code: int,
            error: dict[str, Any] | None) -> None:
    """The run's outcome into the manifest: status, exit code, error, end time and duration
    (seconds since ``started``, a ``time.perf_counter()`` value)."""
    manifest.update(status=status, exit_code=exit_code, error=error, finished_at=_now(),
                    duration_seconds=round(time.perf_counter() - started, 2))


def _finish(manifest: RunManifest, path: Path, run_dir: Path, started: float, status: str,
            exit_code: int, error: dict[str, Any] | None, quiet: bool) -> RunResult:
    _settle(manifest, started, status, exit_code, error)  # the duration includes the reports
    write_manifest(path, manifest)
    if status == "succeeded":
        _say("\n".join([f"run {manifest['run_id']} succeeded in "
                        f"{manifest['duration_seconds']:.1f} s; report: "
                        f"{RunLayout(run_dir).index_file}", *promotion_lines(manifest),
                        *(f"  note: {n}" for n in manifest.get("notes") or [])]),
             quiet, run_dir)
    else:
        _say(failure_summary(manifest), quiet, run_dir)
    return RunResult(manifest["run_id"], run_dir, status, exit_code, manifest)
