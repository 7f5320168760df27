"""One run folder, one set of names: where every artifact of a run lives, and how it is read
and written.

A run folder (``outputs/runs/<run_id>/``, or a scratch folder of an interactive notebook)
holds the data step's clean tables, the tables each notebook hands to the next, the fitted
models, figures, tables and metrics per notebook, the exports and the records. Notebooks,
the scorer, ``crm export``, the reports and the runner all name these files through
:class:`RunLayout`, never by string literals, so a file is renamed in one place.

Writes are atomic (:mod:`src.fileio`). Models are saved and loaded by their own class
(``model.save(path)`` / ``Class.load(path)``, one persistence format for every model class);
this module names the files and never imports a model, so every layer can use it.

Layout (relative to the run folder)::

    params.yaml  manifest.json  run.log  index.html  rejects.csv   records of the run
    <notebook>.ipynb  <notebook>.html                             executed notebooks, reports
    input/                   generated inputs (synthetic data; truth.parquet: planted personas)
    data/<table>.parquet     clean contract tables (customers, bookings, interactions, feedback)
    data/inputs.json         input record: sources, hashes, rows in/kept/rejected, cut-off
    data/feature_cache/      customer features per cut-off, computed once per run
    data/features.parquet    customer features at the cut-off (02)
    data/segments.parquet    segment, tier, RFM and cluster per customer (02)
    data/clv.parquet         BG/NBD + Gamma-Gamma predictions (04)
    data/lifecycle.parquet   lifecycle stage per customer (04)
    data/scored.parquet      the scorer's output, one row per customer (05)
    data/rejected_customers.parquet  customers not scored, with the reason (05)
    data/scorer_model.json   registered scorer: name, version, promotion decision (05)
    models/<part>.joblib     fitted segmentation, churn and clv models
    figures/<notebook>/  tables/<notebook>/  metrics/<notebook>.json
    exports/                 published campaign lists (exports.withdrawn/ after a failure)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import pyarrow.parquet as pq

from src.data.contract import TABLES, pii_columns
from src.fileio import atomic_write, write_json_atomic

__all__ = ["CHURN_DRIVERS_TABLE", "EXPORTS_MANIFEST", "MODEL_PARTS", "RunLayout", "Persistable",
           "run_manifest_files"]

#: the manifest of a run folder, and of its ``exports/`` (also of an export being staged)
MANIFEST = "manifest.json"
EXPORTS_MANIFEST = "manifest.json"
#: the churn drivers table notebook 03 logs (:meth:`RunLayout.churn_drivers_file`)
CHURN_DRIVERS_STEP, CHURN_DRIVERS_TABLE = "03_churn_survival", "churn_drivers"


def run_manifest_files(runs_folder: Path) -> list[Path]:
    """The manifests of the run folders in ``runs_folder`` (one per run; sorted by run id,
    which starts with the run's start time)."""
    return sorted(runs_folder.glob(f"*/{MANIFEST}"))

#: the fitted model parts a run saves, in the order the notebooks fit them
MODEL_PARTS: tuple[str, ...] = ("segmentation", "churn", "clv")

_M = TypeVar("_M", bound="Persistable")


class Persistable(Protocol):
    """What a model class offers for persistence (every project model does)."""

    def save(self, path: str | Path) -> Path: ...

    @classmethod
    def load(cls: type[_M], path: str | Path) -> _M: ...


@dataclass(frozen=True)
class RunLayout:
    """The files of one run folder.

    Parameters
    ----------
    root : the run folder.

    Every ``*_file`` / ``*_dir`` member is a path (folders are created by the writers, not
    by naming them); ``write_*`` members write atomically; ``read_*`` members raise
    ``FileNotFoundError`` naming the file and the notebook that writes it.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # ---- records of the run ----------------------------------------------------------
    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def manifest_file(self) -> Path:
        return self.root / MANIFEST

    @property
    def log_file(self) -> Path:
        return self.root / "run.log"

    @property
    def index_file(self) -> Path:
        return self.root / "index.html"

    @property
    def rejects_file(self) -> Path:
        """Input rows rejected by validation, with the reason (CSV)."""
        return self.root / "rejects.csv"

    def notebook_file(self, notebook: str) -> Path:
        """The executed notebook of a step."""
        return self.root / f"{notebook}.ipynb"

    # ---- folders -----------------------------------------------------------------------
    @property
    def input_dir(self) -> Path:
        """Generated inputs (the synthetic data set's Parquet files)."""
        return self.root / "input"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def exported_files(self) -> list[str]:
        """The files published in the run's ``exports/`` (names relative to it, sorted;
        hidden files such as a publication in progress left out)."""
        folder = self.exports_dir
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    @property
    def withdrawn_exports_dir(self) -> Path:
        return self.root / "exports.withdrawn"

    @property
    def feature_cache_dir(self) -> Path:
        return self.data_dir / "feature_cache"

    def figures_dir(self, notebook: str) -> Path:
        return self.root / "figures" / notebook

    def tables_dir(self, notebook: str) -> Path:
        return self.root / "tables" / notebook

    def logged_table_file(self, notebook: str, name: str) -> Path:
        """A table a notebook logged (``ctx.log_table(frame, name)``)."""
        return self.tables_dir(notebook) / f"{name}.csv"

    @property
    def churn_drivers_file(self) -> Path:
        """The churn drivers (hazard ratios in business words) notebook 03 logs."""
        return self.logged_table_file(CHURN_DRIVERS_STEP, CHURN_DRIVERS_TABLE)

    @property
    def exports_manifest_file(self) -> Path:
        """What was published: rows per list, hashes, model, control groups."""
        return self.exports_dir / EXPORTS_MANIFEST

    def metrics_file(self, notebook: str) -> Path:
        return self.metrics_dir / f"{notebook}.json"

    # ---- tables handed from step to step -------------------------------------------------
    def table_file(self, name: str) -> Path:
        """A clean contract table written by the data step (``customers``, ``bookings``, ...)."""
        return self.data_dir / f"{name}.parquet"

    @property
    def inputs_file(self) -> Path:
        return self.data_dir / "inputs.json"

    @property
    def truth_file(self) -> Path:
        """Planted personas of the synthetic data (absent for real data)."""
        return self.input_dir / "truth.parquet"

    @property
    def features_file(self) -> Path:
        return self.data_dir / "features.parquet"

    @property
    def segments_file(self) -> Path:
        return self.data_dir / "segments.parquet"

    @property
    def clv_scores_file(self) -> Path:
        return self.data_dir / "clv.parquet"

    @property
    def lifecycle_file(self) -> Path:
        return self.data_dir / "lifecycle.parquet"

    @property
    def scored_file(self) -> Path:
        return self.data_dir / "scored.parquet"

    @property
    def rejected_customers_file(self) -> Path:
        return self.data_dir / "rejected_customers.parquet"

    @property
    def scorer_record_file(self) -> Path:
        return self.data_dir / "scorer_model.json"

    @property
    def campaign_assignments_file(self) -> Path:
        """Every exported list's customers with their arm (treated / control) and the scores
        of the day (written by the export, appended to the campaign register on publication)."""
        return self.data_dir / "campaign_assignments.parquet"

    @property
    def planted_effects_file(self) -> Path:
        """Synthetic data only: the campaign effects planted in this run's data, per earlier
        publication and list (:mod:`src.data.synthetic.campaign_effects`)."""
        return self.input_dir / "planted_campaign_effects.csv"

    @property
    def campaign_results_file(self) -> Path:
        """Treated vs control of the earlier publications measured by ``06_campaign_results``."""
        return self.data_dir / "campaign_results.csv"

    @property
    def backtest_file(self) -> Path:
        """The previous run's predictions against what happened (``06_campaign_results``)."""
        return self.data_dir / "backtest.csv"

    @property
    def kpis_file(self) -> Path:
        """One row per KPI: current value, last run, baseline, target (``07_kpis``)."""
        return self.data_dir / "kpis.csv"

    def model_file(self, part: str) -> Path:
        """The fitted model of a part (:data:`MODEL_PARTS`)."""
        if part not in MODEL_PARTS:
            raise ValueError(f"unknown model part {part!r}; parts: {list(MODEL_PARTS)}")
        return self.models_dir / f"{part}.joblib"

    # ---- reading and writing -----------------------------------------------------------
    def has_data(self) -> bool:
        """True when the data step has written its clean tables here (customers always: given,
        or derived from the bookings; a snapshot without transactions has no bookings)."""
        return self.table_file("customers").exists() or self.table_file("bookings").exists()

    def table_files(self) -> dict[str, Path]:
        """The clean contract tables present, by name."""
        return {name: self.table_file(name) for name in TABLES if self.table_file(name).exists()}

    def read_tables(self, *, with_pii: bool = False) -> dict[str, pd.DataFrame]:
        """The clean contract tables of the data step (absent tables are absent).

        The personal-data columns of the contract (names, e-mails, phones, free-text
        comments) are left out unless ``with_pii``: no model reads them, and at a million
        customers they are a large share of memory and reading time.
        """
        if not self.has_data():
            raise FileNotFoundError(
                f"{self.data_dir} has no clean tables: run the data step (01_data_quality) "
                "of this job first")
        pii = {} if with_pii else pii_columns()

        def read(name: str, path: Path) -> pd.DataFrame:
            if not pii.get(name):
                return pd.read_parquet(path)
            names = pq.ParquetFile(path).schema_arrow.names
            return pd.read_parquet(path, columns=[c for c in names if c not in pii[name]])

        return {name: read(name, path) for name, path in self.table_files().items()}

    def write_tables(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Write clean contract tables (and drop the feature cache of older data)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.feature_cache_dir.exists():
            shutil.rmtree(self.feature_cache_dir, ignore_errors=True)
        for name, df in tables.items():
            self.write_frame(self.table_file(name), df, index=False)

    def read_inputs_record(self) -> dict[str, Any]:
        """The data step's record (``{}`` when absent)."""
        return self.read_json(self.inputs_file) if self.inputs_file.exists() else {}

    @staticmethod
    def write_frame(path: Path, df: pd.DataFrame, *, index: bool = True) -> Path:
        """Write ``df`` as Parquet atomically (the folder is created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=index))

    @staticmethod
    def write_csv(path: Path, df: pd.DataFrame, *, index: bool = False) -> Path:
        """Write ``df`` as UTF-8 CSV atomically (the folder is created): a reader never sees
        half a file, and a failed write leaves the previous one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda tmp: df.to_csv(tmp, index=index, encoding="utf-8"))

    @staticmethod
    def read_frame(path: Path, *, writer: str = "an earlier step") -> pd.DataFrame:
        """Read a Parquet table of the run; a missing file names the step that writes it."""
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: it is written by {writer} of this job")
        return pd.read_parquet(path)

    @staticmethod
    def write_json(path: Path, data: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json_atomic(path, data)

    @staticmethod
    def read_json(path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    def save_model(self, part: str, model: Persistable) -> Path:
        """Save a fitted model part with its own ``save`` (atomically)."""
        path = self.model_file(part)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: model.save(tmp))
        return path

    def has_model(self, part: str) -> bool:
        return self.model_file(part).exists()

    def load_model(self, part: str, cls: type[_M]) -> _M:
        """Load a model part saved by :meth:`save_model`."""
        path = self.model_file(part)
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: no fitted {part} model in this run")
        return cls.load(path)

    def read_metrics(self) -> dict[str, float]:
        """Every metric logged by the run's notebooks (``metrics/*.json``), merged in file order."""
        flat: dict[str, float] = {}
        for p in sorted(self.metrics_dir.glob("*.json")):
            try:
                flat.update(json.loads(p.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                continue
        return flat
