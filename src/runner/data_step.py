"""The data step of a job: bring the inputs in, validate them, hand clean tables to later steps.

:func:`prepare_inputs` is what ``01_data_quality`` calls (and what an interactive notebook
runs once when the job has no run yet): it generates the embedded synthetic data set (when
the job says so) or reads the mapped source, runs the one loader/validator, and writes into
the run folder (names from :class:`src.layout.RunLayout`) the clean tables as Parquet, the
rejects, and a record of the inputs (file hashes, row counts in/kept/rejected, cut-off),
which the runner folds into the manifest. Later steps read the clean tables back with
:func:`src.features.cache.run_tables`.

It also stops a job early (exit 2) on what the later notebooks would only find out after the
models ran: a history too short for the churn windows (:func:`~src.models.churn.workflow.
check_history`, when the job runs ``03_churn_survival``) and a customers table without any
consent column when the job exports lists (``05_score_export``): every customer would be
``do_not_contact`` and the run would "succeed" with no list, unless ``export.allow_empty``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from src.data.contract import TABLES
from src.data.errors import DataValidationError, InsufficientDataError
from src.data.loading import DataSourceConfig, LoadedData, TableSource, load_tables
from src.data.synthetic import generate, write_parquet
from src.data.synthetic.campaign_effects import plant_campaign_effects
from src.data.synthetic.extraction import extract_at
from src.fileio import atomic_write
from src.layout import RunLayout
from src.loop.campaign_register import read_register, register_dir
from src.models.churn.workflow import check_history
from src.params.schema import JobParams
from src.paths import PROJECT_ROOT, notebook_name

__all__ = ["check_before_models", "consent_problem", "load_report_records", "prepare_inputs",
           "source_config"]

#: the notebooks whose needs the data step checks
CHURN_NOTEBOOK = "03_churn_survival"
EXPORT_NOTEBOOK = "05_score_export"


def source_config(params: JobParams, layout: RunLayout) -> DataSourceConfig:
    """The loader configuration of a job; for synthetic data, generate it first into the
    run's ``input/`` folder (Parquet) and point the loader there."""
    if params.data.synthetic is None:  # the one reject-share key: data_quality.max_reject_share
        return DataSourceConfig.model_validate(
            {**params.data.source, "max_reject_share": params.data_quality.max_reject_share})
    syn = params.data.synthetic
    data = generate(syn.n_customers, seed=syn.seed, start_date=str(syn.start_date),
                    extraction_date=str(syn.extraction_date))
    if syn.campaign_effects:
        data.bookings = _with_campaign_effects(params, layout, data.bookings)
    as_of = syn.extraction_date
    if syn.extract_at_cutoff and params.cutoff() < syn.extraction_date:
        as_of = params.cutoff()
        data = extract_at(data, as_of, keep_member_tier=params.data.tier_rule is not None)
    paths = write_parquet(data, layout.input_dir)
    return DataSourceConfig(
        tables={name: TableSource(path=str(paths[name]), format="parquet")
                for name in TABLES if name in paths},
        as_of_date=as_of,
        max_reject_share=params.data_quality.max_reject_share,
    )


def _with_campaign_effects(params: JobParams, layout: RunLayout,
                           bookings: pd.DataFrame) -> pd.DataFrame:
    """The synthetic bookings with the effects planted for the treated customers of this
    job's earlier publications (cut-off before this run's) in the campaign register; the
    planted uplifts go to :attr:`RunLayout.planted_effects_file`."""
    syn = params.data.synthetic
    assert syn is not None
    register = read_register(register_dir(params.campaigns), params.job)
    if not register.empty:
        register = register[register["cutoff_date"].astype(str) < str(params.cutoff())]
    bookings, planted = plant_campaign_effects(
        bookings, register, syn.campaign_effects, measure_days=params.campaigns.measure_days,
        extraction_date=syn.extraction_date, seed=syn.seed)
    layout.input_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(layout.planted_effects_file, lambda p: planted.to_csv(p, index=False))
    return bookings


def check_before_models(params: JobParams, tables: dict[str, pd.DataFrame]) -> None:
    """What the clean tables must hold for the job's later notebooks, checked before any model.

    Raises
    ------
    InsufficientDataError
        The job runs ``03_churn_survival`` with lapse churn on a history shorter than the
        churn windows (the message names the span and values that fit); or it exports lists
        (``05_score_export``) from a customers table with no ``consent_*`` column (everyone
        would be ``do_not_contact``) and ``export.allow_empty`` is false.
    """
    names = {notebook_name(n) for n in params.notebooks}
    if CHURN_NOTEBOOK in names:
        check_history(tables, params.churn, params.cutoff())
    customers = tables.get("customers")
    problem = consent_problem(params, set() if customers is None else set(customers.columns))
    if problem is not None:
        raise InsufficientDataError(problem)


def consent_problem(params: JobParams, customer_columns: set[str]) -> str | None:
    """Why a job that exports lists cannot contact anyone, or None.

    Parameters
    ----------
    params : the job params.
    customer_columns : the contract columns of the customers table (empty: no table).

    Returns
    -------
    str or None
        A message naming the keys to set when the job runs ``05_score_export``, no column of
        ``customer_columns`` is a ``consent_*`` column and ``export.allow_empty`` is false.
    """
    names = {notebook_name(n) for n in params.notebooks}
    if EXPORT_NOTEBOOK not in names or params.export.allow_empty or any(
            str(c).startswith("consent_") for c in customer_columns):
        return None
    derived = params.data.source is not None and "customers" not in (
        params.data.source.get("tables") or {})
    if derived and any(str(c).startswith("consent_")
                       for c in params.data.source.get("customer_defaults") or {}):
        return None
    where = ("the source has no customers table (give one: data.source.tables.customers: "
             "{path: ...}), so no consent column" if derived
             else "the customers table has no consent column (consent_email, consent_sms, "
                  "consent_phone)")
    return (f"{where}: every customer would be do_not_contact and {EXPORT_NOTEBOOK} would "
            "publish no list. If the company may contact them set " + (
                "data.source.customer_defaults.consent_email: true" if derived else
                "data.source.tables.customers.defaults.consent_email: true")
            + ", or map the consent columns (data.source.tables.customers.columns."
            "consent_email: <your column>); to run without lists set "
            "export.allow_empty: true")


def load_report_records(report: pd.DataFrame) -> list[dict[str, Any]]:
    """The load report as JSON-friendly records (NaN -> None, numpy scalars -> Python)."""
    out = []
    for rec in report.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and v != v else
                        v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def prepare_inputs(params: JobParams, layout: RunLayout) -> LoadedData:
    """Load and validate the job's inputs; write clean tables, rejects and the input record.

    Returns
    -------
    LoadedData : clean tables (contract dtypes), rejects, per-table report.
    """
    config = source_config(params, layout)
    try:
        loaded = load_tables(config, base_dir=PROJECT_ROOT)
    except DataValidationError as err:  # a refused table: its rejects still go to the run folder
        if getattr(err, "rejects", None) is not None:
            LoadedData(tables={}, rejects=err.rejects, report=pd.DataFrame(),
                       sources={}).write_rejects(layout.rejects_file)
        raise
    bookings = loaded.tables.get("bookings", pd.DataFrame())
    if "status" in bookings.columns and not (bookings["status"].astype(str) == "completed").any():
        raise InsufficientDataError(
            f"no completed booking among {len(bookings)} bookings (statuses: "
            f"{bookings['status'].astype(str).value_counts().to_dict()}): the models need completed "
            "trips; check the status mapping (data.source.tables.bookings.values.status)")
    if loaded.key_problem is not None:
        raise DataValidationError(
            loaded.key_problem, table="bookings", column="customer_id",
            hint="map the customer key: data.source.tables.bookings.columns.customer_id "
                 "(crm init <job> <files> --customer-id <column>); nothing was published")
    check_before_models(params, loaded.tables)
    layout.write_tables(loaded.tables)
    loaded.write_rejects(layout.rejects_file)
    rows = {r["table"]: {"in": int(r["rows_in"]), "kept": int(r["rows_kept"]),
                         "rejected": int(r["rows_rejected"])}
            for r in loaded.report.to_dict("records")}
    record = {"sources": loaded.sources, "rows": rows, "cutoff_date": str(params.cutoff()),
              # rows read / filtered (per condition) / lines merged / kept / rejected, amounts
              "load_report": load_report_records(loaded.report),
              # suspicious shapes, each with the params that fix it (src.data.shapes)
              "warnings": list(loaded.warnings),
              # the day the customers table describes (its snapshot columns hold then)
              "as_of_date": str(config.as_of_date or date.today()),
              "features": {"engine": params.data.features_engine,
                           "duckdb_min_bookings": params.data.features_duckdb_min_bookings}}
    layout.write_json(layout.inputs_file, record)
    return loaded
