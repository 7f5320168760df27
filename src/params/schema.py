"""The job-parameter schema: every section of a job file as a typed pydantic model.

One YAML file per job under ``params/`` is validated against :class:`JobParams` once, at the
edge (:func:`src.params.files.load_params`); functions then receive the section they need
(``params.churn``, ``params.loyalty``, ...). This module is the bottom of the stack: it
imports the data contract and the source configuration, never models, features, the export
or the runner, so loading params never pulls in the model stack. Units: days for every
``*_days`` key, shares in [0, 1], money in the data's currency.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from src.data.contract import CONTACT_CHANNELS
from src.data.loading import DataSourceConfig
from src.params.moved import one_horizons_setting
from src.paths import NOTEBOOKS_DIR, notebook_path


class StrictModel(BaseModel):
    """Base for every params section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class SyntheticDataParams(StrictModel):
    """The embedded synthetic travel company (``src.data.synthetic``)."""

    n_customers: PositiveInt = 5_000
    seed: int = 42
    start_date: date = date(2021, 1, 1)
    extraction_date: date = date(2025, 12, 31)
    extract_at_cutoff: bool = Field(
        default=False,
        description="each run reads the export of its cut-off day (src.data.synthetic."
                    "extraction): nothing dated later, statuses as known then, the customers "
                    "table a snapshot of that day; for replays (data.cutoff_dates) of the past")
    campaign_effects: dict[str, float] = Field(
        default_factory=dict,
        description="planted campaign effect per list (action name): the probability that a "
                    "treated customer of an earlier publication of this job books one extra "
                    "trip within campaigns.measure_days after that publication's cut-off "
                    "(src.data.synthetic.campaign_effects); absent or 0: no effect. Control "
                    "customers are never touched, so the measured uplift can be checked "
                    "against the planted one")

    @model_validator(mode="after")
    def _effects_are_probabilities(self) -> SyntheticDataParams:
        bad = {k: v for k, v in self.campaign_effects.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"campaign_effects are probabilities in [0, 1]; got {bad}")
        return self


class TierLevelParams(StrictModel):
    """One loyalty tier: at least ``min_trips_ever`` completed trips in all and
    ``min_trips_recent`` ending in the rule's window."""

    tier: str
    min_trips_ever: int = Field(default=0, ge=0)
    min_trips_recent: int = Field(default=0, ge=0)


class TierRuleParams(StrictModel):
    """How the company sets member tiers from completed trips, so the tier can be rebuilt as
    of any date (without a rule ``member_tier`` is a snapshot of the extraction day, left out
    of everything computed at an earlier date)."""

    window_days: PositiveInt = Field(description="trailing window (days) of the recent trips")
    levels: list[TierLevelParams] = Field(min_length=1, description="lowest to highest")
    base_tier: str = "regular"


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
    cutoff_dates: list[date] | None = Field(
        default=None, min_length=1,
        description="a replay: `crm run` runs the job once per date, in this order, each run "
                    "with that cut-off (its data.cutoff_date); the later runs measure the "
                    "lists the earlier ones published. Excludes cutoff_date")
    features_engine: Literal["auto", "pandas", "duckdb"] = Field(
        default="auto",
        description="customer features: pandas in memory, or DuckDB SQL over the run's Parquet "
                    "(out of core); auto: DuckDB from features_duckdb_min_bookings bookings on",
    )
    features_duckdb_min_bookings: PositiveInt = 20_000_000
    tier_rule: TierRuleParams | None = Field(
        default=None, description="rebuild member_tier as of each date from completed trips")

    @model_validator(mode="after")
    def _one_source(self) -> DataParams:
        if (self.synthetic is None) == (self.source is None):
            raise ValueError("give exactly one of 'synthetic' or 'source'")
        if self.cutoff_dates is not None:
            if self.cutoff_date is not None:
                raise ValueError("give cutoff_date (one run) or cutoff_dates (a replay), not both")
            if list(self.cutoff_dates) != sorted(set(self.cutoff_dates)):
                raise ValueError(f"cutoff_dates must be distinct and ascending; got "
                                 f"{[str(d) for d in self.cutoff_dates]}")
        if self.source is not None:
            if "max_reject_share" in self.source:
                raise ValueError("data.source.max_reject_share is not a job key: set "
                                 "data_quality.max_reject_share (the one reject-share key for "
                                 "every source)")
            try:
                DataSourceConfig.model_validate(self.source)
            except ValidationError as exc:  # its keys are under data.source, say so
                raise ValidationError.from_exception_data(exc.title, [
                    {"type": e["type"], "loc": ("source", *e["loc"]), "input": e["input"],
                     **({"ctx": e["ctx"]} if "ctx" in e else {})}
                    for e in exc.errors()]) from None
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
    """``01_data_quality``: how strict the data step is.

    ``max_reject_share``: above this share (0-1) of rejected rows a table is refused as a
    whole; the one key for every source (synthetic or mapped).
    ``publish_max_reject_share``: above this share of rejected rows in any table the run
    writes its reports and fits its models for people to look at, but publishes no list and
    moves no champion (exit 2): models trained on a bad extract never reach marketing.
    """

    max_reject_share: float = Field(default=0.2, ge=0, le=1)
    publish_max_reject_share: float = Field(default=0.02, ge=0, le=1)


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
    stage_rules: list[StageRule] | None = Field(default=None, description="default: src.decisioning.lifecycle.DEFAULT_STAGE_RULES")
    repeat_model: RepeatModelParams = RepeatModelParams()
    clv_method: Literal["auto", "btyd", "survival"] = Field(
        default="auto",
        description="CLV in the scored table: btyd (BG/NBD + Gamma-Gamma, transaction logs: churn "
                    "is latent), survival (contractual data: margin x discounted survival of the "
                    "churn model); auto: survival when churn.definition is membership")
    margin_share: float = Field(default=1.0, gt=0, le=1,
                                description="share of revenue that is margin (survival CLV)")


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
    """``03_churn_survival``: survival churn (lifelines Cox PH / Weibull AFT, Kaplan-Meier).

    Lapse churn needs history: a customer is churned after ``gap_days`` without a booking, the
    holdout needs ``holdout_days`` after its training cut-off, and the final fit a landmark
    ``train_window_days`` before the cut-off; too short a history stops the run (exit 2) with
    values that fit the data.
    """

    definition: Literal["lapse", "membership"] = "lapse"
    gap_days: PositiveInt = Field(default=365, description="lapse: inactivity gap that counts as churn (days)")
    horizons_days: list[PositiveInt] = Field(
        default=[90, 180, 365], min_length=1,
        description="the one churn-horizon setting (days): the horizons the churn model is "
                    "evaluated at on the holdout (those beyond its follow-up are left out of "
                    "the evaluation, with a note) and the scorer's exported churn_prob_<h>d "
                    "columns")
    holdout_days: PositiveInt = Field(default=365, description="test window after the training cut-off")
    train_window_days: PositiveInt = 365
    time_origin: Literal["start", "landmark"] = "landmark"
    models: list[Literal["coxph", "weibull_aft", "km"]] = Field(
        default=["coxph", "weibull_aft"], min_length=1,
        description="kinds compared on the holdout; km: Kaplan-Meier, no covariates (taken "
                    "anyway, with a note, when the data leave no usable covariate)")
    covariates: list[str] = Field(default_factory=lambda: list(DEFAULT_CHURN_COVARIATES))
    strata: list[str] = Field(default_factory=list)
    strata_bins: dict[str, list[float]] = Field(default_factory=dict)
    penalizers: list[float] = Field(default=[0.0, 0.01, 0.1, 1.0], min_length=1)
    sample_size: PositiveInt | None = Field(default=200_000, description="fit on a stratified sample; score everyone")
    km_groups: list[str] = Field(
        default=["customer_type", "acquisition_channel"],
        description="customer columns known at the start of a lifetime (snapshot columns such as "
                    "member_tier are refused: they describe how the lifetime ended)")
    start_col: str = "signup_date"
    cancel_col: str = "membership_cancel_date"
    member_col: str = "loyalty_member"
    full_history_origin: Literal["first_booking", "start"] = Field(
        default="first_booking",
        description="membership: time origin of the full-history analysis, the first booking "
                    "or the membership start (start_col)")
    full_history_covariates: list[str] = Field(
        default_factory=lambda: [
            "first_trip_complaint_service", "first_trip_complaint_product",
            "first_trip_complaint_price", "first_trip_complaint_competitor",
            "first_trip_complaint_moved", "first_trip_complaint_other", "first_trip_low_csat",
            "customer_type", "acquisition_channel", "age_years", "first_trip_product",
            "first_trip_destination_type", "first_trip_channel", "first_trip_party_size",
            "first_trip_nights", "first_trip_lead_time_days", "first_trip_amount"],
        description="membership: covariates of the full-history Cox, known once the first trip "
                    "is over (src.models.churn.analysis)")


class ActionRule(BaseModel):
    """One next-best-action rule: first match wins; ``when`` is an expression over columns."""

    model_config = ConfigDict(extra="forbid")
    action: str
    when: str


class GateParams(BaseModel):
    """A promotion gate on one metric.

    ``threshold``: absolute bound the candidate must meet (>= when ``greater_is_better``,
    else <=); ``max_worsening``: how much worse than the current champion the candidate may
    be (absolute units of the metric). ``required``: a candidate without the metric fails.
    """

    model_config = ConfigDict(extra="forbid")
    greater_is_better: bool
    threshold: float | None = None
    max_worsening: float | None = Field(default=None, ge=0)
    required: bool = True


def _default_gates() -> dict[str, GateParams]:
    return {
        "churn_concordance": GateParams(greater_is_better=True, threshold=0.6, max_worsening=0.01),
        "clv_holdout_mae_per_customer": GateParams(greater_is_better=False, max_worsening=0.02),
        "clv_holdout_abs_aggregate_pct_error": GateParams(greater_is_better=False, threshold=25.0,
                                                          max_worsening=2.0),
        # fit diagnostics: parameters at a bound, non-finite standard errors, no convergence
        "clv_fit_problems": GateParams(greater_is_better=False, threshold=0.0),
        "churn_fit_problems": GateParams(greater_is_better=False, threshold=0.0),
    }


class PromotionParams(BaseModel):
    """Champion/challenger promotion of the registered scorer.

    ``model_name``: the registered model (default ``<job>_scorer``: each job, hence each
    data set, has its own champion). ``alias``: moved to a candidate that passes every gate,
    and only once the whole run has succeeded. ``on_reject``: when the gates reject the
    candidate, ``skip`` publishes no lists, ``champion`` publishes the lists of the current
    champion (the registered model scores this run's customers).
    """

    model_config = ConfigDict(extra="forbid")
    model_name: str | None = Field(default=None, description="default: <job>_scorer")
    alias: str = "champion"
    gates: dict[str, GateParams] = Field(default_factory=_default_gates)
    on_reject: Literal["skip", "champion"] = "skip"


class ScoringParams(BaseModel):
    """``05_score_export``: the scorer and its registration.

    The churn-probability horizons are ``churn.horizons_days`` (one setting for the holdout
    evaluation and the exported ``churn_prob_<h>d`` columns; a job file's former
    ``scoring.horizons_days`` is moved there by
    :func:`src.params.moved.one_horizons_setting`).
    ``action_rules``: ordered next-best-action rules (default :data:`src.decisioning.actions.DEFAULT_ACTION_RULES`);
    ``contact_channels``: channels with a ``consent_<channel>`` column, in order of preference
    for ties; ``refit_missing``: fit a part the run did not produce (said in the notes);
    ``batch_size``: rows per batch for ``crm score``.
    """

    model_config = ConfigDict(extra="forbid")
    max_remaining_days: PositiveInt = 3650
    action_rules: list[ActionRule] | None = None
    contact_channels: list[Literal[CONTACT_CHANNELS]] = Field(  # type: ignore[valid-type]
        default=["email", "sms", "phone"])
    item_columns: dict[str, str] = Field(
        default={"destination_type": "dest_", "product": "product_"})
    refit_missing: bool = True
    batch_size: PositiveInt = 100_000
    promotion: PromotionParams = PromotionParams()



DEFAULT_LIST_COLUMNS: list[str] = [
    "customer_id", "channel", "recommended_action", "segment", "value_tier", "lifecycle_stage",
    "churn_prob_365d", "p_alive", "clv", "expected_next_booking_date",
    "suggested_destination_type", "suggested_product", "member_tier",
]


class ExportParams(BaseModel):
    """``export:``: the marketing lists.

    campaign_actions : actions that get a list (None: every action except ``do_not_contact``).
    columns : list columns (scored columns, ``channel``; PII via ``pii_columns``); None
        (default): the columns of :data:`DEFAULT_LIST_COLUMNS` the run produces; an explicit
        list is strict (a column the run cannot produce stops it before the first notebook).
    sort_by / ascending : list order (e.g. highest CLV first).
    max_rows : cap per action; default_max_rows : cap for the others (None: no cap).
    pii_columns : customer PII allowed in the lists (``name``, ``email``, ``phone``).
    pii_mode : ``hashed`` (``email_sha256``, ``phone_sha256``; ``name`` not allowed) or
        ``plain``.
    suppression_file : CSV with ``customer_id`` and/or ``email`` / ``email_sha256`` columns
        (relative paths from the project root).
    formats : ``csv`` (UTF-8 with BOM) and/or ``parquet``.
    allow_empty : publish even when every list is empty (e.g. nobody consents yet); by
        default such a run fails with exit 2 saying why.
    """

    model_config = ConfigDict(extra="forbid")
    campaign_actions: list[str] | None = None
    columns: list[str] | None = Field(
        default=None, description="null: the default list columns this run produces")
    sort_by: list[str] = Field(default=["clv"])
    ascending: bool = False
    max_rows: dict[str, PositiveInt] = Field(default_factory=dict)
    default_max_rows: PositiveInt | None = None
    pii_columns: list[Literal["name", "email", "phone"]] = Field(default_factory=list)
    pii_mode: Literal["hashed", "plain"] = "hashed"
    suppression_file: str | None = None
    formats: list[Literal["csv", "parquet"]] = Field(default=["csv", "parquet"], min_length=1)
    full_table: bool = True
    allow_empty: bool = False

    @model_validator(mode="after")
    def _no_hashed_names(self) -> ExportParams:
        if self.pii_mode == "hashed" and "name" in self.pii_columns:
            raise ValueError("pii_columns: 'name' cannot be hashed for matching; use "
                             "pii_mode: plain or drop it")
        return self



class CampaignParams(StrictModel):
    """``campaigns:``: random control groups, the campaign register and the measurement of
    earlier lists (``06_campaign_results``).

    Every exported list holds back a random ``control_share`` of its customers (per list in
    ``control_shares``, keyed by action name), drawn within each ``stratify_by`` group
    (value tier) with a generator seeded by ``seed`` (default: the job's seed), the list name
    and the cut-off: the same run gives the same arms. Controls are recorded, never sent.
    Each published run appends both arms with the scores of the day to the register
    (``register_dir``: a folder of Parquet files, one per publication, default
    ``<outputs>/campaigns/register``; a relative path is taken from the project root). A
    publication is measured once ``measure_days`` have passed
    after its cut-off; arms smaller than ``min_arm_size`` are reported as too small.
    """

    control_share: float = Field(default=0.10, ge=0, lt=1)
    control_shares: dict[str, float] = Field(default_factory=dict,
                                             description="per list (action name): share held back")
    stratify_by: str | None = Field(default="value_tier",
                                    description="scored column the draw is stratified by")
    seed: int | None = Field(default=None, description="default: the job's seed")
    register_dir: str | None = Field(
        default=None, description="Parquet dataset folder; default <outputs>/campaigns/register")
    measure_days: PositiveInt = Field(default=90, description="measurement window after a publication (days)")
    min_arm_size: PositiveInt = 30
    confidence: float = Field(default=0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _shares(self) -> CampaignParams:
        bad = {k: v for k, v in self.control_shares.items() if not 0 <= v < 1}
        if bad:
            raise ValueError(f"control_shares are shares in [0, 1); got {bad}")
        return self

    def share_for(self, list_name: str) -> float:
        """The control share of one list (its own, else ``control_share``)."""
        return self.control_shares.get(list_name, self.control_share)


#: the KPIs of ``07_kpis`` (``kpis.targets`` keys) and whether higher is better
KPI_NAMES: dict[str, bool] = {
    "repeat_rate": True, "churn_rate": False, "nps": True, "csat": True,
    "active_customers": True, "revenue_per_active": True,
}

#: ``"+20% by 2027-12"``, ``"-10% by 2027-12-31"``, ``"0.45 by 2027-12"``, ``"+0.5 by 2027-12"``
KPI_TARGET_PATTERN = r"^\s*([+-]?\d+(?:\.\d+)?)(%?)\s+by\s+(\d{4}-\d{2}(?:-\d{2})?)\s*$"


class KpiParams(StrictModel):
    """``kpis:``: the business KPIs of ``07_kpis`` against targets.

    ``targets``: per KPI (:data:`KPI_NAMES`) a goal and a date: ``"+20% by 2027-12"``
    (relative to the baseline), ``"+0.5 by 2027-12"`` (an absolute change: a signed number
    without %), ``"0.45 by 2027-12"`` (a level: no sign). ``baseline_run``: the run id whose
    KPIs are the starting point (default: the job's earliest succeeded run with KPIs, else
    this run). ``months``: months of history in the KPI paths.
    """

    targets: dict[str, str] = Field(default_factory=dict)
    baseline_run: str | None = None
    months: PositiveInt = 24
    by: list[str] = Field(default_factory=lambda: ["value_tier", "segment"],
                          description="scored columns the KPIs are broken down by")

    @model_validator(mode="after")
    def _targets(self) -> KpiParams:
        unknown = sorted(set(self.targets) - set(KPI_NAMES))
        if unknown:
            raise ValueError(f"kpis.targets: unknown KPI {unknown}; known: {sorted(KPI_NAMES)}")
        bad = [f"{k}: {v!r}" for k, v in self.targets.items()
               if not (m := re.match(KPI_TARGET_PATTERN, str(v)))
               or (m.group(2) == "%" and m.group(1)[0] not in "+-")]
        if bad:
            raise ValueError(f"kpis.targets: {bad} do not read as '<+N%|+N|N> by YYYY-MM' "
                             "(e.g. '+20% by 2027-12'; a % change needs its sign)")
        return self


class ReportParams(StrictModel):
    """``report:``: the run's front page (``index.html``) and the exported CSV headers.

    ``language``: ``en`` or ``zh`` (Chinese labels on the page, Chinese column headers in
    the CSV lists for marketing teams in China; Parquet keeps the column names)."""

    language: Literal["en", "zh"] = "en"


class JobParams(StrictModel):
    """A job: which notebooks run in which order, on which data, with which settings."""

    job: str
    description: str = ""
    seed: int = 42
    vocabulary: Literal["travel", "retail", "subscription"] = Field(
        default="travel",
        description="the domain words of segment labels, default list (action) names, "
                    "suggestion columns in the exports and the data dictionary "
                    "(src.vocabulary): travel (travellers, trips, destination types), "
                    "retail (shoppers, orders, products, categories), subscription "
                    "(subscribers, plans)")
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
    campaigns: CampaignParams = CampaignParams()
    kpis: KpiParams = KpiParams()
    report: ReportParams = ReportParams()

    @model_validator(mode="before")
    @classmethod
    def _one_horizons_setting(cls, data: Any) -> Any:
        return one_horizons_setting(data)

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
