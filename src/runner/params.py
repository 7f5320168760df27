"""Job parameters: one YAML file per job under ``params/``, validated once at the edge.

papermill only warns about unknown parameters; this module does not: every key of a job
file is checked against a typed schema before any notebook starts. Unknown keys and wrong
types are :class:`ParamsError`\\ s that name the file and the dotted key.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from src.export.marketing import ExportParams
from src.models.scoring import ScoringParams
from src.paths import NOTEBOOKS_DIR, PARAMS_DIR, PROJECT_ROOT


class ParamsError(Exception):
    """A job parameter file is missing, unreadable or invalid.

    Attributes
    ----------
    file : the parameter file.
    problems : one human-readable line per problem, each naming the dotted key.
    """

    def __init__(self, file: Path | str, problems: list[str]):
        self.file = Path(file)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid job parameters in {self.file}:\n{lines}")


class StrictModel(BaseModel):
    """Base for every params section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class SyntheticDataParams(StrictModel):
    """The embedded synthetic travel company (``src.data.synthetic``)."""

    n_customers: PositiveInt = 5_000
    seed: int = 42
    start_date: date = date(2021, 1, 1)
    extraction_date: date = date(2025, 12, 31)


class DataParams(StrictModel):
    """Where the input tables come from: the synthetic generator or a mapped source."""

    synthetic: SyntheticDataParams | None = None
    source: dict[str, Any] | None = Field(
        default=None,
        description="src.data.loading.DataSourceConfig: tables, column mapping, as_of_date, ...",
    )
    cutoff_date: date | None = Field(
        default=None,
        description="analysis cut-off; default: the synthetic extraction date / the source's as_of_date",
    )
    features_engine: Literal["auto", "pandas", "duckdb"] = Field(
        default="auto",
        description="customer features: pandas in memory, or DuckDB SQL over the run's Parquet "
                    "(out of core); auto: DuckDB from features_duckdb_min_bookings bookings on",
    )
    features_duckdb_min_bookings: PositiveInt = 20_000_000

    @model_validator(mode="after")
    def _one_source(self) -> DataParams:
        if (self.synthetic is None) == (self.source is None):
            raise ValueError("give exactly one of 'synthetic' or 'source'")
        if self.source is not None:
            from src.data.loading import DataSourceConfig

            DataSourceConfig.model_validate(self.source)
        return self


class MlflowParams(StrictModel):
    """Experiment tracking. ``tracking_uri`` empty: ``$MLFLOW_TRACKING_URI`` or the project's
    embedded SQLite store (``mlflow.db`` in the project root)."""

    tracking_uri: str | None = None
    experiment: str = "tourism-crm"
    allow_local_fallback: bool = Field(
        default=False,
        description="if the tracking store is unreachable, log to the embedded store instead of failing",
    )


class RunParams(StrictModel):
    """How notebooks are executed."""

    notebook_timeout_seconds: PositiveInt = 3_600
    retries: int = Field(default=0, ge=0, le=5, description="re-executions of a notebook after a transient error")
    kernel_name: str = "python3"


class DataQualityParams(StrictModel):
    """``01_data_quality``."""

    max_reject_share: float = Field(default=0.2, ge=0, le=1)


class RepeatModelParams(StrictModel):
    """Repeat-booking model for one-time customers (``src.models.repeat_booking``)."""

    enabled: bool = True
    horizon_days: PositiveInt = 365
    train_cutoff: date | None = Field(default=None, description="default: cut-off minus 2 horizons")
    max_iter: PositiveInt = 200
    sample_size: PositiveInt | None = Field(
        default=100_000, description="fit on a sample of at most this many first trips, stratified "
        "by outcome; score everyone (null: all)")


class StageRule(StrictModel):
    """One lifecycle rule: first match wins; ``when`` is an expression over customer columns."""

    stage: str
    when: str


class LoyaltyParams(StrictModel):
    """``04_loyalty_clv``: BG/NBD + Gamma-Gamma, holdout validation, repeat model, lifecycle."""

    time_unit_days: float = Field(default=1.0, gt=0, description="model time unit: 1 = days, 7 = weeks")
    calibration_end: date | None = Field(default=None, description="default: cut-off minus holdout_days")
    holdout_days: PositiveInt = 365
    horizon_days: PositiveInt = Field(default=365, description="CLV / expected bookings horizon (days)")
    discount_rate_annual: float = Field(default=0.10, ge=0, lt=1)
    penalizer: float = Field(default=0.0, ge=0)
    min_history_days: int = Field(default=30, ge=0)
    next_booking_min_p_alive: float = Field(default=0.2, ge=0, le=1)
    tracking_step_days: PositiveInt = 7
    previous_cutoff: date | None = Field(default=None, description="for stage transitions; default cut-off minus 365 days")
    stage_rules: list[StageRule] | None = Field(default=None, description="default: src.models.lifecycle.DEFAULT_STAGE_RULES")
    repeat_model: RepeatModelParams = RepeatModelParams()


class RFMSegmentRule(StrictModel):
    """A named RFM segment: allowed recency / frequency / monetary / fm scores (first match wins)."""

    name: str
    r: list[int] | None = None
    f: list[int] | None = None
    m: list[int] | None = None
    fm: list[int] | None = None


class RFMParams(StrictModel):
    n_bins: int = Field(default=5, ge=2, le=10)
    segment_rules: list[RFMSegmentRule] | None = Field(
        default=None, description="default: src.models.segmentation.DEFAULT_RFM_SEGMENT_RULES")


class TierParams(StrictModel):
    cutoffs: list[float] = Field(default=[0.5, 0.8, 0.95], min_length=3, max_length=3,
                                 description="cumulative value shares ending most_valuable/major/ordinary")
    value_col: str = Field(default="monetary_total", description="revenue (currency); CLV once available")


class ClusterParams(StrictModel):
    method: Literal["kmeans", "gmm"] = "kmeans"
    k_range: list[int] = Field(default=[3, 8], min_length=2, max_length=2)
    criterion: Literal["silhouette", "bic"] | None = Field(default=None, description="default: silhouette for kmeans, BIC for gmm")
    sample_size: PositiveInt = 50_000
    weights: dict[str, float] | None = None
    stability_pairs: int = Field(default=2, ge=0, le=10)


class SegmentationParams(StrictModel):
    """``02_segmentation``: RFM, value tiers, behavioural clusters."""

    rfm: RFMParams = RFMParams()
    tiers: TierParams = TierParams()
    clusters: ClusterParams = ClusterParams()


#: churn covariates measured at the landmark (one share per mix is left out: shares sum to 1)
DEFAULT_CHURN_COVARIATES = [
    "recency_days", "tenure_days", "frequency", "monetary_mean", "lead_time_days_mean",
    "party_size_mean", "product_flight", "product_package", "product_business_travel",
    "dest_beach", "dest_city", "channel_app", "channel_call_center", "complaints_service",
    "complaints_product", "complaints_price", "csat_mean", "customer_type", "acquisition_channel",
]


class ChurnParams(StrictModel):
    """``03_churn_survival``: survival churn (lifelines Cox PH / Weibull AFT)."""

    definition: Literal["lapse", "membership"] = "lapse"
    gap_days: PositiveInt = Field(default=365, description="lapse: inactivity gap that counts as churn (days)")
    horizons_days: list[PositiveInt] = Field(default=[180, 365], min_length=1)
    holdout_days: PositiveInt = Field(default=365, description="test window after the training cut-off")
    train_window_days: PositiveInt = 365
    time_origin: Literal["start", "landmark"] = "landmark"
    models: list[Literal["coxph", "weibull_aft"]] = Field(default=["coxph", "weibull_aft"], min_length=1)
    covariates: list[str] = Field(default_factory=lambda: list(DEFAULT_CHURN_COVARIATES))
    strata: list[str] = Field(default_factory=list)
    strata_bins: dict[str, list[float]] = Field(default_factory=dict)
    penalizers: list[float] = Field(default=[0.0, 0.01, 0.1, 1.0], min_length=1)
    sample_size: PositiveInt | None = Field(default=200_000, description="fit on a stratified sample; score everyone")
    km_groups: list[str] = Field(default=["member_tier", "customer_type", "acquisition_channel"])
    start_col: str = "signup_date"
    cancel_col: str = "membership_cancel_date"
    member_col: str = "loyalty_member"


class JobParams(StrictModel):
    """A job: which notebooks run in which order, on which data, with which settings."""

    job: str
    description: str = ""
    seed: int = 42
    notebooks: list[str] = Field(min_length=1)
    data: DataParams
    mlflow: MlflowParams = MlflowParams()
    run: RunParams = RunParams()
    data_quality: DataQualityParams = DataQualityParams()
    segmentation: SegmentationParams = SegmentationParams()
    churn: ChurnParams = ChurnParams()
    loyalty: LoyaltyParams = LoyaltyParams()
    scoring: ScoringParams = ScoringParams()
    export: ExportParams = ExportParams()

    @model_validator(mode="after")
    def _notebooks_exist(self) -> JobParams:
        missing = [n for n in self.notebooks if not notebook_path(n).exists()]
        if missing:
            have = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
            raise ValueError(f"notebooks not found in notebooks/: {missing}; available: {have}")
        return self

    def cutoff(self) -> date:
        """The analysis cut-off date (calendar date)."""
        if self.data.cutoff_date is not None:
            return self.data.cutoff_date
        if self.data.synthetic is not None:
            return self.data.synthetic.extraction_date
        as_of = (self.data.source or {}).get("as_of_date")
        return date.fromisoformat(str(as_of)) if as_of else date.today()


def notebook_path(name: str) -> Path:
    """``notebooks/<name>.ipynb``; a name with a folder (``path/to/x.ipynb``) is taken as a path,
    relative to the project root."""
    p = Path(name)
    if p.suffix == ".ipynb" and (p.is_absolute() or len(p.parts) > 1):
        return p if p.is_absolute() else PROJECT_ROOT / p
    return NOTEBOOKS_DIR / f"{p.stem if p.suffix == '.ipynb' else name}.ipynb"


def notebook_name(name: str) -> str:
    """The step name of a notebook entry (file stem)."""
    return Path(name).stem if name.endswith(".ipynb") else name


def params_path(job: str | Path) -> Path:
    """A job name (``demo`` -> ``params/demo.yaml``) or a path to a YAML file."""
    p = Path(job)
    if p.suffix in {".yaml", ".yml"}:
        return p if p.is_absolute() else (Path.cwd() / p if (Path.cwd() / p).exists() else PROJECT_ROOT / p)
    return PARAMS_DIR / f"{job}.yaml"


def _suggest(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the parent of ``loc`` (for 'did you mean')."""
    model: Any = JobParams
    for part in loc[:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError) -> list[str]:
    """One line per problem, naming the dotted key, what was wrong and what was given."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not str(p).startswith("function-after"))
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'{_suggest(str(loc[-1]), _model_at(loc))}")
        elif e["type"] == "missing":
            lines.append(f"missing key '{key}'")
        else:
            given = e.get("input")
            shown = "" if isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"key '{key}': {e['msg']}{shown}")
    return lines


def load_params(job: str | Path, overrides: dict[str, Any] | None = None) -> JobParams:
    """Read and validate a job file.

    Parameters
    ----------
    job : job name (``params/<job>.yaml``) or a path to a YAML file.
    overrides : dotted keys to replace after reading, e.g. ``{"data.synthetic.n_customers": 500}``.

    Raises
    ------
    ParamsError : file missing, not YAML, or not matching the schema (each problem names its key).
    """
    path = params_path(job)
    if not path.exists():
        have = sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))
        raise ParamsError(path, [f"file not found; jobs in params/: {have}"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ParamsError(path, ["the file must hold a mapping of keys (job:, notebooks:, data:, ...)"])
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return JobParams.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(path, format_validation_error(exc)) from exc


def dump_params(params: JobParams, path: Path) -> Path:
    """Write the validated parameters (defaults filled in) as YAML; returns ``path``."""
    data = params.model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def flatten(params: JobParams, max_len: int = 500) -> dict[str, str]:
    """Dotted ``key -> value`` strings for MLflow's ``log_params`` (values cut to ``max_len``)."""
    out: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = str(node)[:max_len]

    walk("", params.model_dump(mode="json"))
    return out

