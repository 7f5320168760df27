"""One scorer: the fitted segmentation, churn and CLV models turned into one row per customer.

:class:`CustomerScorer` is what the notebook, ``crm score`` and Spark call (through the MLflow
pyfunc :class:`~src.serving.pyfunc.ProjectModelPyfunc`). Scoring has two steps, so that every entry point shares them:

1. :func:`src.features.scoring.scoring_features` (``tables -> features``) builds ONE flat feature table per
   customer as of a cut-off: the customer features, booking gaps, the BTYD summary
   (``btyd_*``, in the CLV model's time unit), the churn state (``churn_at_risk``,
   ``age_days``), consent and engagement per contact channel and the days since the last
   complaint, plus ``customer_id`` and ``cutoff_date`` (ISO string) columns.
2. :meth:`CustomerScorer.predict` (``features -> scored``) applies the fitted models,
   the lifecycle-stage rules, the next-best-action rules (one first-match evaluator,
   :func:`src.decisioning.lifecycle.first_match`), the preferred channel and the
   destination/product suggestion. The pyfunc, the CLI and Spark call only this step.

Missing parts degrade gracefully: a scorer without a churn (or CLV, or segmentation) model
returns NaN/None in those columns and says so in ``notes_``; a customer the models cannot say
anything trustworthy about is flagged ``insufficient_history`` with the reason.

A customers-only snapshot (a subscription export with tenure and status, no transactions)
is scored too: every member is ``active`` or ``cancelled`` (not "no completed booking"), the
churn probabilities come from the membership model conditional on the current tenure, CLV
is the margin times the discounted survival of a revenue-per-month column
(``value_per_month_col``), and the booking columns stay empty.

Units: days for every ``*_days`` column and horizon, the data's currency for money
(``clv``, ``avg_booking_value``, ``expected_avg_booking_value``).

The module passes the 600-line guide and is kept as one thing: the scorer and the one
function that assembles it from a run (:func:`fit_missing_parts`, :func:`build_scorer`) must
agree column for column, and reading them side by side is how that agreement is kept.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, Schema

from src.decisioning.actions import (
    DEFAULT_ACTION_RULES,
    ItemAssociation,
    default_action_rules,
    next_best_action,
    preferred_channel,
)
from src.decisioning.churn_scores import churn_scores
from src.decisioning.lifecycle import DEFAULT_STAGE_RULES, first_match
from src.decisioning.scored_columns import output_schema
from src.features.cache import features_at
from src.features.definitions import is_repeat
from src.features.scoring import FeatureSettings, MissingColumnsError, scoring_features
from src.features.survival import AGE_COL
from src.layout import RunLayout
from src.models.base import ProjectModel
from src.models.btyd.clv import CLVModel, CLVSettings, settings_from_params, validate_and_fit
from src.models.churn import ChurnModel, full_history_analysis, select_and_fit
from src.models.frames import numeric_values, signature_dtypes, to_plain_dtypes
from src.models.segmentation import SegmentationModel
from src.params.schema import JobParams

__all__ = [
    "CustomerScorer",
    "ScorerParts",
    "build_and_score",
    "build_scorer",
    "clv_method",
    "collect_run_metrics",
    "fit_missing_parts",
    "snapshot_value_column",
    "unscored_customers",
]



def _rule_names(rules: Sequence[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for r in rules:
        for node in ast.walk(ast.parse(str(r["when"]).strip(), mode="eval")):
            if isinstance(node, ast.Name) and node.id not in {"True", "False"}:
                names.add(node.id)
    return names


# --------------------------------------------------------------------------------------------
# the scorer
# --------------------------------------------------------------------------------------------
class CustomerScorer(ProjectModel):
    """Segmentation + churn + CLV + stages + next best action, one scored row per customer.

    Parameters
    ----------
    segmentation : fitted :class:`~src.models.segmentation.SegmentationModel` or None.
    churn : fitted :class:`~src.models.churn.ChurnModel` or None.
    clv : fitted :class:`~src.models.btyd.clv.CLVModel` or None.
    features : :class:`FeatureSettings` (must match how ``churn`` and ``clv`` were fitted:
        churn definition, gap and time origin; BTYD time unit).
    horizons_days : churn-probability horizons (days): ``churn.horizons_days`` (the one
        setting; :func:`build_scorer` passes it), one ``churn_prob_<h>d`` column each,
        computed by :func:`src.decisioning.churn_scores.churn_scores`.
    stage_rules : lifecycle rules (default :data:`src.decisioning.lifecycle.DEFAULT_STAGE_RULES`).
    action_rules : next-best-action rules (default
        :data:`src.decisioning.actions.DEFAULT_ACTION_RULES`).
    item_columns : bookings column -> feature prefix for the suggestions.
    max_remaining_days : cap of the expected remaining lifetime (days).
    clv_method : ``btyd`` (BG/NBD + Gamma-Gamma, for transaction logs: churn is latent) or
        ``survival`` (contractual data, churn observed: expected margin x discounted survival
        from the churn model over the CLV model's horizon and discount rate).
    margin_share : share of revenue that is margin, for ``survival`` CLV (1 = revenue).
    value_per_month_col : a feature column of revenue per month (currency), e.g. a
        subscription's ``monthly_charges``: ``survival`` CLV reads it instead of the revenue
        rate of the bookings (a snapshot without transactions has none).
    clv_settings : horizon and discounting of ``survival`` CLV when there is no CLV model
        (default: the CLV model's settings).
    metrics : validation metrics of the parts (for the promotion gates), e.g.
        ``{"churn_concordance": 0.74, "clv_holdout_mae_per_customer": 0.4}``.
    notes : what the scorer was built from (e.g. "churn model refitted: not in the run").

    Attributes
    ----------
    associations_ : fitted :class:`~src.decisioning.actions.ItemAssociation` (None if no item
        columns in the bookings).
    input_columns_ : list[str] -- the feature columns :meth:`predict` needs.
    cutoff_date_ : str -- cut-off of the fit (ISO).
    transactions_ : bool -- False when fitted on tables without bookings (a customers-only
        snapshot: status ``active`` instead of ``no_completed_booking``).
    notes_ : list[str]; metrics_ : dict[str, float].
    """

    _fitted_attribute = "input_columns_"

    def __init__(
        self,
        segmentation: SegmentationModel | None = None,
        churn: ChurnModel | None = None,
        clv: CLVModel | None = None,
        *,
        features: FeatureSettings | None = None,
        horizons_days: Sequence[int] = (90, 180, 365),
        stage_rules: Sequence[Mapping[str, str]] | None = None,
        action_rules: Sequence[Mapping[str, str]] | None = None,
        item_columns: Mapping[str, str] | None = None,
        max_remaining_days: int = 3650,
        clv_method: Literal["btyd", "survival"] = "btyd",
        margin_share: float = 1.0,
        value_per_month_col: str | None = None,
        clv_settings: CLVSettings | None = None,
        metrics: Mapping[str, float] | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.segmentation = segmentation
        self.churn = churn
        self.clv = clv
        self.features = features
        self.horizons_days = horizons_days
        self.stage_rules = stage_rules
        self.action_rules = action_rules
        self.item_columns = item_columns
        self.max_remaining_days = max_remaining_days
        self.clv_method = clv_method
        self.margin_share = margin_share
        self.value_per_month_col = value_per_month_col
        self.clv_settings = clv_settings
        self.metrics = metrics
        self.notes = notes

    # ---- fitting -------------------------------------------------------------------------
    def fit(self, tables: Mapping[str, pd.DataFrame], cutoff_date: Any,
            feature_table: pd.DataFrame | None = None) -> CustomerScorer:
        """Fit the suggestion model on the bookings and settle the input columns.

        The model parts are taken as given (fitted by their notebooks); use
        :func:`build_scorer` to load them from a run and fit the missing ones.

        ``feature_table``: the :func:`scoring_features` of ``tables`` at ``cutoff_date`` with
        this scorer's feature settings, when the caller has it already (it is not recomputed).
        """
        self.feature_settings_ = self.features or FeatureSettings()
        self.horizons_days_ = [int(h) for h in self.horizons_days]
        self.stage_rules_ = [dict(r) for r in (self.stage_rules or DEFAULT_STAGE_RULES)]
        self.action_rules_ = [dict(r) for r in (self.action_rules or DEFAULT_ACTION_RULES)]
        self.cutoff_date_ = str(pd.Timestamp(cutoff_date).date())
        self.notes_ = list(self.notes)
        self.metrics_ = {k: float(v) for k, v in (self.metrics or {}).items()}
        self.transactions_ = len(tables.get("bookings", ())) > 0
        snapshot_clv = self._survival_clv_settings() is not None and self.clv is None
        for name in ("segmentation", "churn", "clv"):
            if getattr(self, name) is None and not (name == "clv" and snapshot_clv):
                self.notes_.append(f"no {name} model: its output columns are empty")
        if snapshot_clv:
            self.notes_.append(f"clv: {self.margin_share:g} x {self.value_per_month_col} per "
                               "month x discounted survival of the churn model (no BG/NBD: "
                               "P(alive) and expected bookings are empty)")
        try:
            self.associations_: ItemAssociation | None = ItemAssociation(self.item_columns).fit(
                tables["bookings"], cutoff_date)
        except ValueError as exc:
            self.associations_ = None
            self.notes_.append(f"no destination/product suggestion: {exc}")
        sample = feature_table if feature_table is not None else scoring_features(
            {k: v for k, v in tables.items()}, cutoff_date, self.feature_settings_)
        cols = ["customer_id", "cutoff_date", "n_bookings", "frequency", "monetary_mean",
                "avg_days_between_bookings", "churn_at_risk", AGE_COL,
                "btyd_frequency", "btyd_recency", "btyd_T", "btyd_monetary_value"]
        cols += [f"{p}_{ch}" for ch in self.feature_settings_.contact_channels
                 for p in ("consent", "engaged")]
        if self.segmentation is not None:
            cols += list(self.segmentation.input_columns_)
        if self.churn is not None and self.churn.kind != "km":
            cols += list(dict.fromkeys(self.churn.encoder_.spec_["source"]))
            cols += list(self.churn.strata_)
        if self.associations_ is not None:
            cols += self.associations_.input_columns_
        produced = set(self._output_columns()) | {"stage", "contactable"}
        rule_cols = _rule_names(self.stage_rules_) | _rule_names(self.action_rules_)
        cols += sorted(c for c in rule_cols if c not in produced)
        cols += [c for c in ("member_tier", "loyalty_member", "membership_cancelled",
                             "csat_mean", "nps_mean", "monetary_total", "tenure_days",
                             self.value_per_month_col)
                 if c in sample.columns]
        self.input_columns_ = list(dict.fromkeys(cols))
        absent = [c for c in self.input_columns_ if c not in sample.columns]
        if absent:
            raise MissingColumnsError(absent, "the feature table of these tables")
        self.example_ = sample[self.input_columns_].head(20)
        # fail now, not at scoring time, on a rule that names an unknown column
        self.predict(self.example_)
        return self

    def _survival_clv_settings(self) -> CLVSettings | None:
        """Horizon and discounting of survival CLV, or None when it is not computed."""
        if self.clv_method != "survival" or self.churn is None:
            return None
        if self.clv is not None:
            return self.clv.settings
        return self.clv_settings if self.value_per_month_col else None

    def _survival_clv(self, f: pd.DataFrame, num: Mapping[str, np.ndarray]) -> np.ndarray:
        """Contractual CLV (currency): margin per day x discounted survival, summed over the
        CLV periods up to the horizon, for customers at risk; 0 for the others.

        The margin per day is the customer's revenue rate so far (``monetary_total`` over
        ``tenure_days``, at least 30 days; or ``value_per_month_col`` / 30.4375 when given)
        times ``margin_share``; survival is the churn model's, conditional on the customer's
        age at the cut-off."""
        s = self._survival_clv_settings()
        n_periods = max(1, int(np.ceil(s.horizon_days / s.period_days)))
        times = s.period_days * np.arange(1, n_periods + 1)
        rate = (1.0 + s.discount_rate_annual) ** (s.period_days / 365.25) - 1.0
        discount = (1.0 + rate) ** -np.arange(1, n_periods + 1)
        value = np.zeros(len(f))
        at_risk = num["churn_at_risk"] == 1
        if at_risk.any():
            survival = 1.0 - self.churn.predict_churn_probability(
                f.loc[at_risk], [int(round(x)) for x in times]).to_numpy()
            if self.value_per_month_col:
                per_month = pd.to_numeric(f.loc[at_risk, self.value_per_month_col],
                                          errors="coerce").to_numpy(dtype=float)
                per_day = np.nan_to_num(per_month) / 30.4375
            else:
                per_day = (np.nan_to_num(num["monetary_total"][at_risk])
                           / np.maximum(np.nan_to_num(num["tenure_days"][at_risk]), 30.0))
            value[at_risk] = (per_day * self.margin_share * s.period_days
                              * (survival * discount).sum(axis=1))
        return value

    def _output_columns(self) -> list[str]:
        kinds = list(self.associations_.prefixes_) if getattr(self, "associations_", None) else []
        return list(output_schema(self.horizons_days_, kinds,
                                  self.feature_settings_.contact_channels))

    # ---- scoring -------------------------------------------------------------------------
    def predict_tables(self, tables: Mapping[str, pd.DataFrame], cutoff_date: Any) -> pd.DataFrame:
        """Score every customer known at ``cutoff_date``: :func:`scoring_features` then
        :meth:`predict`."""
        self.check_fitted()
        return self.predict(scoring_features(tables, cutoff_date, self.feature_settings_))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scored rows for a feature table (one row per input row, same order).

        Parameters
        ----------
        features : output of :func:`scoring_features` (``customer_id`` as a column or the
            index), at least :attr:`input_columns_`; categoricals may be plain strings.

        Returns
        -------
        pandas.DataFrame with the columns of :func:`output_schema`, plain dtypes.

        Raises
        ------
        MissingColumnsError : input columns are missing (named).
        """
        self.check_fitted()
        if "customer_id" not in features.columns:
            features = features.reset_index()
        missing = [c for c in self.input_columns_ if c not in features.columns]
        if missing:
            raise MissingColumnsError(missing)
        f = features[self.input_columns_].reset_index(drop=True)
        n = len(f)
        num = {c: numeric_values(f, c)
               for c in ("n_bookings", "frequency", "btyd_frequency", "monetary_mean",
                         "avg_days_between_bookings",
                         "churn_at_risk", "btyd_T", "csat_mean", "nps_mean", "loyalty_member",
                         "membership_cancelled", "monetary_total", "tenure_days")}
        out = pd.DataFrame({"customer_id": f["customer_id"].astype(str).to_numpy(),
                            "cutoff_date": f["cutoff_date"].astype(str).to_numpy()})
        reasons = np.full(n, "", dtype=object)
        # what has already happened: a cancelled member or a lapsed customer gets no
        # probability of churning, and a cancelled member no future value
        cancelled = num["membership_cancelled"] == 1
        lapsed = (num["churn_at_risk"] == 0) & ~cancelled
        # a snapshot without transactions: no booking says nothing about the customer
        no_booking = ~(num["n_bookings"] > 0) & getattr(self, "transactions_", True)
        status = np.select([cancelled, lapsed, no_booking],
                           ["cancelled", "lapsed", "no_completed_booking"], "active")

        # segmentation -----------------------------------------------------------------
        if self.segmentation is not None:
            seg = self.segmentation.predict(f)
            out["segment"] = seg["cluster_label"].astype(object).to_numpy()
            out["cluster"] = seg["cluster"].to_numpy(dtype=np.int64)
            out["rfm_segment"] = seg["rfm_segment"].astype(object).to_numpy()
            for c in ("r_score", "f_score", "m_score"):
                out[c] = pd.to_numeric(seg[c], errors="coerce").to_numpy(dtype=float)
            out["value_tier"] = seg["value_tier"].astype(object).to_numpy()
        else:
            for c, v in (("segment", None), ("cluster", -1), ("rfm_segment", None),
                         ("r_score", np.nan), ("f_score", np.nan), ("m_score", np.nan),
                         ("value_tier", None)):
                out[c] = v

        # CLV --------------------------------------------------------------------------
        clv_cols = ["p_alive", "expected_bookings", "clv", "expected_avg_booking_value",
                    "expected_days_to_next_booking"]
        for c in clv_cols:
            out[c] = np.nan
        clv_settings = self._survival_clv_settings() or (self.clv.settings if self.clv else None)
        out["clv_horizon_days"] = (float(clv_settings.horizon_days) if clv_settings
                                   else np.nan)
        has_btyd = ~np.isnan(num["btyd_T"])
        if self.clv is not None and has_btyd.any():
            rows = np.flatnonzero(has_btyd)
            summary = pd.DataFrame({
                "frequency": pd.to_numeric(f["btyd_frequency"].iloc[rows], errors="coerce"),
                "recency": pd.to_numeric(f["btyd_recency"].iloc[rows], errors="coerce"),
                "T": num["btyd_T"][rows],
                "monetary_value": pd.to_numeric(f["btyd_monetary_value"].iloc[rows],
                                                errors="coerce").fillna(0.0),
            }).astype(float)
            pred = self.clv.predict(summary)
            for c in clv_cols:
                out.loc[rows, c] = pred[c].to_numpy(dtype=float)
            clv_reason = pred["insufficient_history_reason"].to_numpy(dtype=object)
            reasons[rows] = clv_reason
        if self._survival_clv_settings() is not None:
            out["clv"] = self._survival_clv(f, num)
        out.loc[cancelled, ["p_alive", "expected_bookings", "clv"]] = 0.0
        out.loc[cancelled, "expected_days_to_next_booking"] = np.nan
        wait = out["expected_days_to_next_booking"].to_numpy(dtype=float)
        cut = pd.to_datetime(out["cutoff_date"])
        nxt = cut + pd.to_timedelta(np.round(wait), unit="D")
        out["expected_next_booking_date"] = np.where(np.isnan(wait), None,
                                                     nxt.dt.strftime("%Y-%m-%d").to_numpy())
        out["avg_booking_value"] = num["monetary_mean"]
        out["avg_days_between_bookings"] = num["avg_days_between_bookings"]

        # churn: the one function that computes the published churn probabilities -----
        churn_cols = churn_scores(self.churn, f, self.horizons_days_,
                                  max_remaining_days=self.max_remaining_days)
        for c in churn_cols.columns:
            out[c] = churn_cols[c].to_numpy()

        # loyalty indicators -------------------------------------------------------------
        out["n_bookings"] = num["n_bookings"]
        # purchases on two or more days (src.features.definitions): btyd_frequency + 1 days
        out["repeat_customer"] = is_repeat(num["btyd_frequency"] + 1)
        out["member_tier"] = (f["member_tier"].astype(object).where(f["member_tier"].notna(), None)
                              .to_numpy() if "member_tier" in f.columns else None)
        out["loyalty_member"] = num["loyalty_member"]
        out["csat_mean"] = num["csat_mean"]
        out["nps_mean"] = num["nps_mean"]
        nps = num["nps_mean"]
        out["nps_group"] = np.where(np.isnan(nps), None, np.where(
            nps >= 9, "promoter", np.where(nps <= 6, "detractor", "passive")))

        # stage, channel, action, suggestion ---------------------------------------------
        ctx = f.drop(columns=[c for c in f.columns if c in out.columns and c != "customer_id"])
        ctx = pd.concat([ctx.drop(columns="customer_id"), out], axis=1)
        ctx["p_alive"] = out["p_alive"]
        out["churn_status"] = status
        ctx["churn_status"] = status
        stage = first_match(ctx, self.stage_rules_, key="stage")
        out["lifecycle_stage"] = stage.astype(object).where(stage.notna(), None).to_numpy()
        ctx["stage"] = out["lifecycle_stage"]
        channels = self.feature_settings_.contact_channels
        out["preferred_channel"] = preferred_channel(f, channels).to_numpy()
        for ch in channels:
            out[f"consent_{ch}"] = pd.to_numeric(f[f"consent_{ch}"], errors="coerce").to_numpy(
                dtype=float)
        ctx["contactable"] = (out["preferred_channel"] != "none").astype(float).to_numpy()
        out["recommended_action"] = next_best_action(ctx, self.action_rules_).to_numpy()
        if self.associations_ is not None:
            sug = self.associations_.suggest(f)
            for c in sug.columns:
                out[c] = sug[c].to_numpy()

        # trust --------------------------------------------------------------------------
        reasons = np.where(no_booking, "no completed booking at the cut-off", reasons)
        reasons = np.where(pd.isna(reasons), "", reasons).astype(object)
        out["insufficient_history"] = reasons != ""
        out["insufficient_history_reason"] = np.where(reasons == "", None, reasons)
        return to_plain_dtypes(out[self._output_columns()])

    # ---- MLflow ----------------------------------------------------------------------------
    def model_input(self, features: pd.DataFrame) -> pd.DataFrame:
        """The input columns in the dtypes of the logged signature (categoricals -> str,
        integers and nullable numbers -> float64): what the registered pyfunc is given."""
        if "customer_id" not in features.columns:
            features = features.reset_index()
        missing = [c for c in self.input_columns_ if c not in features.columns]
        if missing:
            raise MissingColumnsError(missing)
        return signature_dtypes(features[self.input_columns_])

    def signature(self, example: pd.DataFrame) -> ModelSignature:
        """The logged signature: every input optional (a new table may lack any of them),
        the scored columns of :func:`output_schema` as outputs."""
        inputs = Schema([ColSpec(col.type, col.name, required=False)
                         for col in infer_signature(example).inputs.inputs])
        kinds = list(self.associations_.prefixes_) if self.associations_ else []
        outputs = Schema([ColSpec(t, name, required=name == "customer_id")
                          for name, t in output_schema(self.horizons_days_, kinds,
                                                       self.feature_settings_.contact_channels
                                                       ).items()])
        return ModelSignature(inputs=inputs, outputs=outputs)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per model part (``segmentation``, ``churn``, ``clv``): what it is (kind,
        or absent) and the validation metrics that belong to it."""
        self.check_fitted()
        kinds = {"segmentation": None if self.segmentation is None else "SegmentationModel",
                 "churn": None if self.churn is None else self.churn.kind,
                 "clv": None if self.clv is None else "bg_nbd+gamma_gamma"}
        rows = [{"part": part, "model": kind or "absent",
                 **{k: v for k, v in self.metrics_.items() if k.startswith(f"{part}_")}}
                for part, kind in kinds.items()]
        return pd.DataFrame(rows).set_index("part")

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description: parts, settings, rules, notes, metrics."""
        self.check_fitted()
        return {
            "segmentation": self.segmentation is not None,
            "churn": None if self.churn is None else self.churn.kind,
            "clv": None if self.clv is None else asdict(self.clv.settings),
            "features": asdict(self.feature_settings_), "horizons_days": self.horizons_days_,
            "stage_rules": self.stage_rules_, "action_rules": self.action_rules_,
            "cutoff_date": self.cutoff_date_, "notes": self.notes_, "metrics": self.metrics_,
            "input_columns": self.input_columns_,
        }


# --------------------------------------------------------------------------------------------
# building from a run
# --------------------------------------------------------------------------------------------
def collect_run_metrics(source: RunLayout, churn_kind: str | None = None) -> dict[str, float]:
    """Validation metrics of a run's models, under the names the promotion gates use.

    The workflows log them under these names (``churn_concordance``,
    ``churn_integrated_brier_score`` from :func:`src.models.churn.select_and_fit`;
    ``clv_holdout_mae_per_customer``, ``clv_holdout_abs_aggregate_pct_error`` from
    :func:`src.models.btyd.clv.validate_and_fit`); read from ``metrics/*.json`` of the run.
    """
    flat = source.read_metrics()
    names = ["clv_holdout_mae_per_customer", "clv_holdout_abs_aggregate_pct_error"]
    if churn_kind:
        names += ["churn_concordance", "churn_integrated_brier_score"]
    return {k: float(flat[k]) for k in names if k in flat}


@dataclass
class ScorerParts:
    """The fitted parts of a scorer and where each came from.

    Attributes
    ----------
    segmentation, churn, clv : fitted models, or None when absent.
    metrics : validation metrics for the promotion gates (see :func:`collect_run_metrics`).
    notes : one line per part: loaded from the run, or fitted here, or why it is absent.
    """

    segmentation: SegmentationModel | None = None
    churn: ChurnModel | None = None
    clv: CLVModel | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fit_missing_parts(source: RunLayout, tables: Mapping[str, pd.DataFrame],
                      params: JobParams) -> ScorerParts:
    """The run's fitted parts, loaded from ``source``; a part the run did not produce is
    fitted here by the same workflow its notebook runs, with the job's params
    (:meth:`SegmentationModel.from_params`, :func:`src.models.churn.select_and_fit`,
    :func:`src.models.btyd.clv.validate_and_fit`) when ``scoring.refit_missing``; otherwise it
    is left out. A workflow the data cannot support (no events, no repeat buyers) leaves
    the part out and says why in the notes.

    A customers-only snapshot (no bookings) has no landmark history and no transaction log:
    its churn model is the membership Cox model of the full-history analysis
    (:func:`src.models.churn.full_history_analysis`, as notebook 03 fits it; concordance
    in-sample), and there is no BG/NBD CLV model.
    """
    cutoff = pd.Timestamp(params.cutoff()).normalize()
    transactions = len(tables.get("bookings", ())) > 0

    def fit_segmentation() -> tuple[SegmentationModel, dict[str, float], str]:
        model = SegmentationModel.from_params(params.segmentation, seed=params.seed,
                                              vocabulary=params.vocabulary)
        return (model.fit(features_at(tables, cutoff)), {},
                "fitted here with the job's segmentation params")

    def fit_churn() -> tuple[ChurnModel, dict[str, float], str]:
        if not transactions:
            history = full_history_analysis(tables, params.churn, cutoff, seed=params.seed)
            return (history.model,
                    {"churn_concordance": history.metrics["full_history.concordance"]},
                    "the full-history Cox model (no transactions) fitted here with the job's "
                    "churn params")
        selection = select_and_fit(tables, params.churn, cutoff, seed=params.seed)
        return (selection.model, selection.metrics,
                f"{selection.best} selected and fitted here with the job's churn params")

    def fit_clv() -> tuple[CLVModel, dict[str, float], str]:
        if not transactions:
            raise ValueError("no transaction log: BG/NBD and Gamma-Gamma need bookings")
        validation = validate_and_fit(tables["bookings"], params.loyalty, cutoff)
        return (validation.model, validation.metrics,
                "validated and fitted here with the job's loyalty params")

    workflows = {"segmentation": (SegmentationModel, fit_segmentation),
                 "churn": (ChurnModel, fit_churn), "clv": (CLVModel, fit_clv)}
    parts = ScorerParts()
    for part, (cls, fit) in workflows.items():
        if source.has_model(part):
            setattr(parts, part, source.load_model(part, cls))
            parts.notes.append(f"{part}: {source.model_file(part).name} of the run")
            continue
        if not params.scoring.refit_missing:
            parts.notes.append(f"{part}: not in the run (scoring.refit_missing is false)")
            continue
        try:
            model, metrics, how = fit()
        except (ValueError, KeyError) as exc:  # the data cannot support the workflow
            parts.notes.append(f"{part}: not available ({exc})")
            continue
        setattr(parts, part, model)
        parts.metrics.update({k: v for k, v in metrics.items() if k.startswith(f"{part}_")})
        parts.notes.append(f"{part}: {how} (not in the run)")
    loaded = collect_run_metrics(source, None if parts.churn is None else parts.churn.kind)
    parts.metrics = {**loaded, **parts.metrics}
    return parts


def clv_method(params: JobParams) -> Literal["btyd", "survival"]:
    """The job's CLV method: ``loyalty.clv_method``, ``auto`` resolved by the churn
    definition (membership data: churn is observed, so CLV comes from survival)."""
    method = params.loyalty.clv_method
    if method == "auto":
        return "survival" if params.churn.definition == "membership" else "btyd"
    return method


def snapshot_value_column(tables: Mapping[str, pd.DataFrame], params: JobParams) -> str | None:
    """The revenue-per-month column of a customers-only snapshot, or None.

    Without bookings there is no revenue history; the value of a subscription is its
    charge per month, the column the job ranks value tiers by
    (``segmentation.tiers.value_col``, e.g. ``monthly_charges``) when it is a customers
    column. Tables with bookings: None (CLV from the bookings).
    """
    if len(tables.get("bookings", ())) > 0:
        return None
    col = params.segmentation.tiers.value_col
    customers = tables.get("customers")
    return col if customers is not None and col in customers.columns else None


def build_scorer(source: RunLayout, tables: Mapping[str, pd.DataFrame], params: JobParams, *,
                 feature_table: pd.DataFrame | None = None) -> CustomerScorer:
    """The job's scorer: the run's fitted parts (:func:`fit_missing_parts`) with the job's
    settings (the churn horizons ``churn.horizons_days``, stage and action rules,
    suggestions), fitted at the cut-off.

    ``feature_table``: :func:`scoring_features` of ``tables`` at the cut-off with
    :meth:`FeatureSettings.from_params`, when the caller has computed it (reused unless a
    loaded CLV model was fitted in another time unit).
    """
    cutoff = pd.Timestamp(params.cutoff()).normalize()
    sp = params.scoring
    parts = fit_missing_parts(source, tables, params)
    settings = FeatureSettings.from_params(params)
    if parts.clv is not None and parts.clv.settings.time_unit_days != settings.time_unit_days:
        settings = FeatureSettings(**{**asdict(settings),
                                      "time_unit_days": parts.clv.settings.time_unit_days})
        feature_table = None  # built with another time unit
    lp = params.loyalty
    stage_rules = [r.model_dump() for r in lp.stage_rules] if lp.stage_rules else None
    action_rules = ([r.model_dump() for r in sp.action_rules] if sp.action_rules
                    else default_action_rules(params.vocabulary))
    return CustomerScorer(
        parts.segmentation, parts.churn, parts.clv, features=settings,
        horizons_days=params.churn.horizons_days, stage_rules=stage_rules,
        action_rules=action_rules,
        item_columns=sp.item_columns, max_remaining_days=sp.max_remaining_days,
        clv_method=clv_method(params), margin_share=lp.margin_share,
        value_per_month_col=snapshot_value_column(tables, params),
        clv_settings=settings_from_params(lp),
        metrics=parts.metrics, notes=parts.notes,
    ).fit(tables, cutoff, feature_table)


def build_and_score(source: RunLayout, tables: Mapping[str, pd.DataFrame], params: JobParams
                    ) -> tuple[CustomerScorer, pd.DataFrame]:
    """What notebook 05 does before registering: the feature table at the cut-off, the
    scorer (:func:`build_scorer`) and every customer scored (:meth:`CustomerScorer.predict`).

    Returns
    -------
    (scorer, scored) : the fitted scorer and one scored row per customer known at the cut-off.
    """
    cutoff = pd.Timestamp(params.cutoff()).normalize()
    settings = FeatureSettings.from_params(params)
    features = scoring_features(tables, cutoff, settings)
    scorer = build_scorer(source, tables, params, feature_table=features)
    if scorer.feature_settings_ != settings:  # a loaded CLV model uses another time unit
        features = scoring_features(tables, cutoff, scorer.feature_settings_)
    return scorer, scorer.predict(features)


def unscored_customers(tables: Mapping[str, pd.DataFrame], scored: pd.DataFrame) -> pd.DataFrame:
    """Customers known in any input table but absent from ``scored``, with the reason, so that
    customers in = scored + rejected reconciles (columns ``customer_id``, ``reason``)."""
    known = pd.Index(pd.concat([t["customer_id"] for t in tables.values()
                                if "customer_id" in t.columns]).unique())
    missing = known.difference(pd.Index(scored["customer_id"]))
    return pd.DataFrame({"customer_id": missing,
                         "reason": "no booking, contact or sign-up on or before the cut-off"})
