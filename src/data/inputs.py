"""The data step of a job: bring the inputs in, validate them, hand clean tables to later steps.

``prepare_inputs`` is what ``01_data_quality`` calls: it generates the embedded synthetic data
set (when the job says so) or reads the mapped source, runs the one loader/validator, writes
the clean tables as Parquet into ``<run_dir>/data/``, the rejects into ``<run_dir>/rejects.csv``
and a record of the inputs (file hashes, row counts in/kept/rejected) into
``<run_dir>/data/inputs.json``, which the runner folds into the manifest. Later notebooks read
the clean tables back with ``load_clean_tables`` (each step reads the outputs of earlier steps).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from src.data.contract import TABLES, pii_columns
from src.data.errors import DataValidationError, InsufficientDataError
from src.data.loading import DataSourceConfig, LoadedData, TableSource, load_tables
from src.features.customer import FeatureCache, activate_feature_cache, data_fingerprint
from src.params.schema import JobParams
from src.paths import PROJECT_ROOT

FEATURE_CACHE_DIR = "feature_cache"


def source_config(params: JobParams, run_dir: Path) -> DataSourceConfig:
    """The loader configuration of a job; for synthetic data, generate it first into
    ``<run_dir>/input/`` (Parquet) and point the loader there."""
    if params.data.synthetic is None:
        return DataSourceConfig.model_validate(params.data.source)
    from src.data.synthetic import generate_to_parquet

    syn = params.data.synthetic
    paths = generate_to_parquet(
        run_dir / "input", n_customers=syn.n_customers, seed=syn.seed,
        start_date=str(syn.start_date), extraction_date=str(syn.extraction_date),
    )
    return DataSourceConfig(
        tables={name: TableSource(path=str(paths[name]), format="parquet")
                for name in TABLES if name in paths},
        as_of_date=syn.extraction_date,
        max_reject_share=params.data_quality.max_reject_share,
    )


def prepare_inputs(params: JobParams, run_dir: Path) -> LoadedData:
    """Load and validate the job's inputs; write clean tables, rejects and the input record.

    Returns
    -------
    LoadedData : clean tables (contract dtypes), rejects, per-table report.
    """
    config = source_config(params, run_dir)
    try:
        loaded = load_tables(config, base_dir=PROJECT_ROOT)
    except DataValidationError as err:  # a refused table: its rejects still go to the run folder
        if getattr(err, "rejects", None) is not None:
            LoadedData(tables={}, rejects=err.rejects, report=pd.DataFrame(), sources={}).write_rejects(
                run_dir / "rejects.csv")
        raise
    bookings = loaded.tables["bookings"]
    if "status" in bookings.columns and not (bookings["status"].astype(str) == "completed").any():
        raise InsufficientDataError(
            f"no completed booking among {len(bookings)} bookings (statuses: "
            f"{bookings['status'].astype(str).value_counts().to_dict()}): the models need completed "
            "trips; check the status mapping (data.source.tables.bookings.values.status)")
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(data_dir / FEATURE_CACHE_DIR, ignore_errors=True)  # features of older data
    for name, df in loaded.tables.items():
        df.to_parquet(data_dir / f"{name}.parquet", index=False)
    loaded.write_rejects(run_dir / "rejects.csv")
    rows = {r["table"]: {"in": int(r["rows_in"]), "kept": int(r["rows_kept"]),
                         "rejected": int(r["rows_rejected"])}
            for r in loaded.report.to_dict("records")}
    record = {"sources": loaded.sources, "rows": rows, "cutoff_date": str(params.cutoff()),
              "features": {"engine": params.data.features_engine,
                           "duckdb_min_bookings": params.data.features_duckdb_min_bookings}}
    (data_dir / "inputs.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return loaded


def load_clean_tables(run_dir: str | Path, *, cache_features: bool = True,
                      with_pii: bool = False) -> dict[str, pd.DataFrame]:
    """The validated tables written by the data step of this run (absent tables are absent).

    The personal-data columns of the contract (names, e-mails, phones, free-text comments)
    are left out unless ``with_pii``: no model reads them, and at a million customers they
    are a large share of the memory and of the reading time. The export reads them itself.

    With ``cache_features`` (default) customer features computed from these very tables
    (:func:`src.features.customer.customer_features`, also inside the churn, lifecycle and
    scoring code) are kept per cut-off in ``<run_dir>/data/feature_cache/`` and computed once
    per run, whichever notebook asks first; with the job's ``data.features_engine`` (recorded
    in ``data/inputs.json``) they are computed by DuckDB over the run's Parquet files
    (:mod:`src.features.duckdb_features`) instead of pandas when the bookings are many.
    """
    data_dir = Path(run_dir) / "data"
    if not (data_dir / "bookings.parquet").exists():
        raise FileNotFoundError(
            f"{data_dir} has no bookings.parquet: run the data step (01_data_quality) of this job first")
    files = {name: data_dir / f"{name}.parquet" for name in TABLES
             if (data_dir / f"{name}.parquet").exists()}
    pii = {} if with_pii else pii_columns()

    def read(name: str, path: Path) -> pd.DataFrame:
        if not pii.get(name):
            return pd.read_parquet(path)
        names = pq.ParquetFile(path).schema_arrow.names
        return pd.read_parquet(path, columns=[c for c in names if c not in pii[name]])

    tables = {name: read(name, path) for name, path in files.items()}
    engine = {}
    if (data_dir / "inputs.json").exists():  # the job's choice, recorded by the data step
        engine = json.loads((data_dir / "inputs.json").read_text(encoding="utf-8")).get("features", {})
    activate_feature_cache(FeatureCache(
        data_dir / FEATURE_CACHE_DIR, tables, data_fingerprint(list(files.values())),
        sources=files, engine=engine.get("engine", "pandas"),
        duckdb_min_bookings=engine.get("duckdb_min_bookings", 20_000_000),
    ) if cache_features else None)
    return tables
