"""Checks before the first notebook: what params and file headers already tell.

:func:`preflight` runs in :func:`src.runner.run.run_job` after the params are validated and
before any notebook executes (on a resume too), so a job that cannot succeed stops in seconds
with exit 2 and a message naming the key to change, instead of after every model has run:

- ``export.columns``: an explicit list naming a column the run cannot produce (the scored
  columns of :func:`src.decisioning.scored_columns.output_schema` for the job's scoring params and
  the item columns the bookings provide, plus the list's ``channel``); the message lists the
  columns that are available. Without ``export.columns`` the lists take the default columns
  the run produces, so there is nothing to refuse.
- **consent**: a job that exports lists (``05_score_export``) from a mapped customers source
  (or none) that provides no ``consent_*`` column would mark every customer
  ``do_not_contact`` and publish nothing; refused unless ``export.allow_empty``.

Which contract columns a mapped source provides comes from its header and mapping
(:func:`src.data.loading.mapped_columns`); the synthetic data provides every contract column.
What needs the rows (the data span for churn, the reject share) is checked by the data step
(:mod:`src.runner.data_step`).

A resume runs with the run's frozen params; :func:`check_resume_params` refuses it when the
job file (with ``--set`` overrides) now gives other params, naming every changed key, so a
run never mixes the outputs of two sets of params.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from src.data.contract import TABLES
from src.data.loading import DataSourceConfig, mapped_columns
from src.decisioning.scored_columns import output_schema
from src.params import JobParams, ParamsError, flatten, load_params, params_path
from src.paths import PROJECT_ROOT, notebook_name, runs_dir
from src.runner.data_step import EXPORT_NOTEBOOK, consent_problem
from src.runner.history import run_named

__all__ = ["available_list_columns", "check_resume_params", "params_changes", "preflight",
           "preflight_problems", "provided_columns"]

#: columns every list has besides the scored ones (added by the exporter)
EXPORT_ADDED_COLUMNS = ("channel", "suppressed")


def provided_columns(params: JobParams, table: str, base_dir: Path = PROJECT_ROOT) -> set[str]:
    """The contract columns of ``table`` the job's data provides (empty: no such table).

    The synthetic company provides every contract column; a mapped source what its header and
    ``columns`` / ``defaults`` mapping give (:func:`src.data.loading.mapped_columns`).
    """
    if params.data.synthetic is not None:
        return set(TABLES[table].column_names)
    config = DataSourceConfig.model_validate(
        {**params.data.source, "max_reject_share": params.data_quality.max_reject_share})
    source = config.tables.get(table)
    if source is None:
        return set()
    return set(mapped_columns(source, table, base_dir))


def available_list_columns(params: JobParams, base_dir: Path = PROJECT_ROOT) -> list[str]:
    """The columns a list of this run can have: the scored columns (item suggestions only for
    the item columns the bookings provide) and the exporter's ``channel`` / ``suppressed``."""
    bookings = provided_columns(params, "bookings", base_dir)
    kinds = [k for k in params.scoring.item_columns if k in bookings]
    scored = output_schema(params.churn.horizons_days, kinds, params.scoring.contact_channels)
    return list(dict.fromkeys([*scored, *EXPORT_ADDED_COLUMNS]))


#: the notebook whose baseline run is checked
KPI_NOTEBOOK = "07_kpis"


def preflight_problems(params: JobParams, base_dir: Path = PROJECT_ROOT) -> list[str]:
    """One line per problem found from params and headers, each naming the key to change."""
    names = {notebook_name(n) for n in params.notebooks}
    problems = []
    baseline = params.kpis.baseline_run
    if KPI_NOTEBOOK in names and baseline and run_named(baseline) is None:
        problems.append(f"kpis.baseline_run names run {baseline!r}, which is not in {runs_dir()}; "
                        f"name a run of job {params.job!r} (crm runs lists them) or remove the "
                        "key (the job's first run with KPIs is then the baseline)")
    if EXPORT_NOTEBOOK not in names:
        return problems
    if params.export.columns is not None:
        available = available_list_columns(params, base_dir)
        absent = [c for c in params.export.columns if c not in available]
        if absent:
            problems.append(
                f"export.columns names {absent}, which this run cannot produce (its data has no "
                f"source for them); available: {available}. Remove them, or drop export.columns "
                "to get the default columns the run has")
    consent = consent_problem(params, provided_columns(params, "customers", base_dir))
    if consent is not None:
        problems.append(consent)
    return problems


def preflight(params: JobParams, params_file: Path, base_dir: Path = PROJECT_ROOT) -> None:
    """Refuse a job that cannot succeed, before its first notebook.

    Parameters
    ----------
    params : the validated job params.
    params_file : the job file the params came from (named in the error).
    base_dir : folder relative source paths resolve against.

    Raises
    ------
    ParamsError : one problem per line, each naming the key(s) to change and what would work.
    """
    problems = preflight_problems(params, base_dir)
    if problems:
        raise ParamsError(params_file, problems)


def params_changes(before: JobParams, after: JobParams, ignore: tuple[str, ...] = ()
                   ) -> dict[str, tuple[str, str]]:
    """The dotted keys whose values differ between two sets of params.

    Parameters
    ----------
    before, after : validated params (defaults filled in, so an omitted key equal to its
        default is no change).
    ignore : dotted keys left out of the comparison.

    Returns
    -------
    dict
        ``key -> (value before, value after)``, values as text (``None``: the key is absent
        on that side); empty when the params are the same.
    """
    old, new = flatten(before, max_len=100_000), flatten(after, max_len=100_000)
    return {k: (old.get(k, "None"), new.get(k, "None")) for k in sorted({*old, *new})
            if k not in ignore and old.get(k) != new.get(k)}


def check_resume_params(frozen: JobParams, job: str | Path, overrides: dict[str, Any] | None,
                        run_id: str, frozen_file: Path, ignore: tuple[str, ...] = ()) -> None:
    """Refuse a resume whose job file (with ``overrides``) no longer gives the run's params.

    Parameters
    ----------
    frozen : the run's params (its ``params.yaml``).
    job : the job name or file given to ``crm run``; read again with ``overrides`` (a job
        without a file of its own, e.g. a run started from a file since removed: the run's
        ``frozen_file`` with ``overrides``).
    run_id : the run being resumed.
    frozen_file : the run's ``params.yaml``.
    ignore : keys the runner itself changed in the frozen params (the MLflow fallback's
        ``mlflow.tracking_uri``).

    Raises
    ------
    ParamsError : naming every changed key (run -> now) and the two ways on: a new run with the
        new params, or the change undone.
    """
    current = load_params(job if params_path(job).exists() else frozen_file, overrides)
    changes = params_changes(frozen, current, ignore)
    if changes:
        raise ParamsError(params_path(job), [
            f"run {run_id!r} ran with other params; changed since (run -> now): "
            + "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in changes.items()),
            f"a resume keeps the run's params: start a new run (crm run {job}) to use the "
            "new params, or undo the change to resume"])
