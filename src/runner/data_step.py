"""The data step of a job: bring the inputs in, validate them, hand clean tables to later steps.

:func:`prepare_inputs` is what ``01_data_quality`` calls (and what an interactive notebook
runs once when the job has no run yet): it generates the embedded synthetic data set (when
the job says so) or reads the mapped source, runs the one loader/validator, and writes into
the run folder (names from :class:`src.layout.RunLayout`) the clean tables as Parquet, the
rejects, and a record of the inputs (file hashes, row counts in/kept/rejected, cut-off),
which the runner folds into the manifest. Later steps read the clean tables back with
:func:`src.features.cache.run_tables`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from src.data.contract import TABLES
from src.data.errors import DataValidationError, InsufficientDataError
from src.data.loading import DataSourceConfig, LoadedData, TableSource, load_tables
from src.data.synthetic import generate_to_parquet
from src.layout import RunLayout
from src.params.schema import JobParams
from src.paths import PROJECT_ROOT

__all__ = ["prepare_inputs", "source_config"]


def source_config(params: JobParams, layout: RunLayout) -> DataSourceConfig:
    """The loader configuration of a job; for synthetic data, generate it first into the
    run's ``input/`` folder (Parquet) and point the loader there."""
    if params.data.synthetic is None:
        return DataSourceConfig.model_validate(params.data.source)
    syn = params.data.synthetic
    paths = generate_to_parquet(
        layout.input_dir, n_customers=syn.n_customers, seed=syn.seed,
        start_date=str(syn.start_date), extraction_date=str(syn.extraction_date),
    )
    return DataSourceConfig(
        tables={name: TableSource(path=str(paths[name]), format="parquet")
                for name in TABLES if name in paths},
        as_of_date=syn.extraction_date,
        max_reject_share=params.data_quality.max_reject_share,
    )


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
    bookings = loaded.tables["bookings"]
    if "status" in bookings.columns and not (bookings["status"].astype(str) == "completed").any():
        raise InsufficientDataError(
            f"no completed booking among {len(bookings)} bookings (statuses: "
            f"{bookings['status'].astype(str).value_counts().to_dict()}): the models need completed "
            "trips; check the status mapping (data.source.tables.bookings.values.status)")
    layout.write_tables(loaded.tables)
    loaded.write_rejects(layout.rejects_file)
    rows = {r["table"]: {"in": int(r["rows_in"]), "kept": int(r["rows_kept"]),
                         "rejected": int(r["rows_rejected"])}
            for r in loaded.report.to_dict("records")}
    record = {"sources": loaded.sources, "rows": rows, "cutoff_date": str(params.cutoff()),
              # the day the customers table describes (its snapshot columns hold then)
              "as_of_date": str(config.as_of_date or date.today()),
              "features": {"engine": params.data.features_engine,
                           "duckdb_min_bookings": params.data.features_duckdb_min_bookings}}
    layout.write_json(layout.inputs_file, record)
    return loaded
