"""One scorer: the fitted segmentation, churn and CLV models turned into one row per customer.

:class:`CustomerScorer` is what the notebook, ``crm score`` and Spark call (through the MLflow
pyfunc :class:`ScorerPyfunc`). Scoring has two steps, so that every entry point shares them:

1. :func:`scoring_features` (``tables -> features``) builds ONE flat feature table per
   customer as of a cut-off: the customer features, booking gaps, the BTYD summary
   (``btyd_*``, in the CLV model's time unit), the churn state (``churn_at_risk``,
   ``age_days``), consent and engagement per contact channel and the days since the last
   complaint, plus ``customer_id`` and ``cutoff_date`` (ISO string) columns.
2. :meth:`CustomerScorer.score_features` (``features -> scored``) applies the fitted models,
   the lifecycle-stage rules, the next-best-action rules (one first-match evaluator,
   :func:`src.models.lifecycle.first_match`), the preferred channel and the
   destination/product suggestion. The pyfunc, the CLI and Spark call only this step.

Missing parts degrade gracefully: a scorer without a churn (or CLV, or segmentation) model
returns NaN/None in those columns and says so in ``notes_``; a customer the models cannot say
anything trustworthy about is flagged ``insufficient_history`` with the reason.

Units: days for every ``*_days`` column and horizon, the data's currency for money
(``clv``, ``avg_booking_value``, ``expected_avg_booking_value``).
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd

from src.features.customer import customer_features
from src.models.actions import (
    DEFAULT_ACTION_RULES,
    ItemAssociation,
    next_best_action,
    preferred_channel,
)
from src.models.churn import (
    AGE_COL,
    ChurnModel,
    evaluate_holdout,
    lapse_survival_table,
    membership_survival_table,
    time_split,
)
from src.models.clv import CLVModel, CLVSettings, holdout_metrics, summary_at
from src.models.lifecycle import DEFAULT_STAGE_RULES, booking_gaps, first_match
from src.models.segmentation import SegmentationModel, to_plain_dtypes
from src.params.schema import ScoringParams

__all__ = [
    "CustomerScorer",
    "FeatureSettings",
    "MissingColumnsError",
    "ScorerPyfunc",
    "build_scorer",
    "collect_run_metrics",
    "log_scorer",
    "model_input",
    "output_schema",
    "pip_requirements",
    "score_file",
    "scoring_features",
    "spark_score",
]

_ARTIFACT = "customer_scorer"
_ENGAGED_KINDS = ("opened", "clicked", "inquiry")


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------
class MissingColumnsError(KeyError):
    """The input lacks columns the scorer needs; ``missing`` names them."""

    def __init__(self, missing: Sequence[str], where: str = "scorer input"):
        self.missing = list(missing)
        super().__init__(
            f"{where} lacks {len(self.missing)} column(s) the scorer needs: {self.missing}. "
            "Build the input with src.models.scoring.scoring_features (or map the columns).")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass
class FeatureSettings:
    """How :func:`scoring_features` builds the feature table.

    churn_definition, churn_gap_days, churn_time_origin : as in
        :func:`src.models.churn.landmark_frame` (``gap_days`` in days).
    time_unit_days : BTYD time unit (days) of the CLV model.
    contact_channels : channels with consent columns in ``customers``.
    start_col, cancel_col, member_col : membership-churn columns of ``customers``.
    """

    churn_definition: Literal["lapse", "membership"] = "lapse"
    churn_gap_days: int = 365
    churn_time_origin: Literal["start", "landmark"] = "landmark"
    time_unit_days: float = 1.0
    contact_channels: tuple[str, ...] = ("email", "sms", "phone")
    start_col: str = "signup_date"
    cancel_col: str = "membership_cancel_date"
    member_col: str = "loyalty_member"


def _churn_state(tables: Mapping[str, pd.DataFrame], cutoff: pd.Timestamp,
                 s: FeatureSettings) -> pd.DataFrame:
    """``churn_at_risk`` (1 at risk now, 0 churned now, NaN not covered) and ``age_days``.

    Lapse churn: at risk while the last completed booking is less than ``churn_gap_days``
    old (a customer won back after an earlier lapse is at risk again); membership churn: a
    member who has not cancelled."""
    if s.churn_definition == "lapse":
        at = lapse_survival_table(tables["bookings"], cutoff_date=cutoff, gap_days=s.churn_gap_days)
    else:
        customers = tables.get("customers")
        if customers is None:
            return pd.DataFrame(columns=["churn_at_risk", AGE_COL], dtype=float)
        at = membership_survival_table(customers, cutoff_date=cutoff, start_col=s.start_col,
                                       cancel_col=s.cancel_col, member_col=s.member_col)
    out = pd.DataFrame(index=at.index)
    if s.churn_definition == "lapse":
        # at risk = not lapsed *now*: a customer won back after an old lapse is at risk again
        since_last = (cutoff - at["last_booking_date"]) / pd.Timedelta(days=1)
        out["churn_at_risk"] = (since_last.to_numpy(dtype=float) < s.churn_gap_days).astype(float)
    else:
        out["churn_at_risk"] = (at["event"].to_numpy() == 0).astype(float)
    age = at[AGE_COL].to_numpy(dtype=float)
    out[AGE_COL] = age if s.churn_time_origin == "start" else np.zeros(len(at))
    return out


def _contact_features(ids: pd.Index, tables: Mapping[str, pd.DataFrame], cutoff: pd.Timestamp,
                      channels: Sequence[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=ids)
    customers = tables.get("customers")
    for ch in channels:
        col = f"consent_{ch}"
        if customers is not None and col in customers.columns:
            c = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")[col]
            out[col] = pd.to_numeric(c.astype("Float64"), errors="coerce").reindex(ids).to_numpy(
                dtype=float, na_value=np.nan)
        else:
            out[col] = np.nan
    inter = tables.get("interactions")
    if inter is None:
        for ch in channels:
            out[f"engaged_{ch}"] = np.nan
        out["days_since_last_complaint"] = np.nan
        return out
    ts = pd.to_datetime(inter["timestamp"])
    inter = inter.loc[(ts < cutoff.normalize() + pd.Timedelta(days=1)).to_numpy()]
    kind = inter["kind"].astype(object)
    if "channel" in inter.columns:
        eng = inter.loc[kind.isin(_ENGAGED_KINDS).to_numpy()]
        counts = pd.crosstab(eng["customer_id"], eng["channel"].astype(object))
    else:
        counts = pd.DataFrame()
    for ch in channels:
        s = counts[ch] if ch in counts.columns else pd.Series(dtype=float)
        out[f"engaged_{ch}"] = s.reindex(ids).fillna(0).to_numpy(dtype=float)
    comp = inter.loc[(kind == "complaint").to_numpy()]
    last = pd.to_datetime(comp["timestamp"]).groupby(comp["customer_id"].to_numpy()).max()
    days = (cutoff - last.dt.normalize()) / pd.Timedelta(days=1)
    out["days_since_last_complaint"] = days.reindex(ids).to_numpy(dtype=float)
    return out


def scoring_features(tables: Mapping[str, pd.DataFrame], cutoff_date: Any,
                     settings: FeatureSettings | None = None) -> pd.DataFrame:
    """The one flat feature table the scorer reads, one row per customer known at the cut-off.

    Parameters
    ----------
    tables : contract tables (``bookings`` required; ``customers``, ``interactions``,
        ``feedback`` optional).
    cutoff_date : date-like; only rows dated on/before it are used.
    settings : :class:`FeatureSettings` (churn definition, BTYD time unit, channels).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``cutoff_date`` (ISO string), the
        :func:`~src.features.customer.customer_features` columns, ``max_gap_days`` /
        ``last_gap_days`` (days), ``btyd_frequency`` / ``btyd_recency`` / ``btyd_T`` (model
        time units) and ``btyd_monetary_value`` (currency; NaN without a purchase),
        ``churn_at_risk`` (1 alive, 0 already churned, NaN not covered by the churn
        definition) and ``age_days`` (days at risk at the cut-off on the churn model's time
        scale), ``consent_<channel>`` (1/0/NaN), ``engaged_<channel>`` (opened, clicked or
        inquiry interactions on the channel) and ``days_since_last_complaint`` (days).
        ``attrs["missing_inputs"]`` names absent inputs.
    """
    s = settings or FeatureSettings()
    cutoff = pd.Timestamp(cutoff_date).normalize()
    bookings = tables["bookings"]
    f = customer_features(bookings, cutoff, customers=tables.get("customers"),
                          interactions=tables.get("interactions"), feedback=tables.get("feedback"))
    missing = list(f.attrs.get("missing_inputs", []))
    f = f.join(booking_gaps(bookings, cutoff), how="left")
    summary = summary_at(bookings, cutoff, time_unit_days=s.time_unit_days)
    btyd = summary[[c for c in ("frequency", "recency", "T", "monetary_value")
                    if c in summary.columns]].add_prefix("btyd_")
    f = f.join(btyd, how="left")
    if "btyd_monetary_value" not in f.columns:
        f["btyd_monetary_value"] = np.nan
    f = f.join(_churn_state(tables, cutoff, s), how="left")
    f = f.join(_contact_features(f.index, tables, cutoff, s.contact_channels), how="left")
    f = f.drop(columns=["first_booking_date", "last_booking_date"])  # dates: recency/tenure
    f.insert(0, "cutoff_date", str(cutoff.date()))
    out = f.reset_index()
    out.attrs["missing_inputs"] = missing
    out.attrs["cutoff_date"] = str(cutoff.date())
    return out


# --------------------------------------------------------------------------------------------
# output schema
# --------------------------------------------------------------------------------------------
def output_schema(horizons_days: Sequence[int], item_kinds: Sequence[str],
                  channels: Sequence[str]) -> dict[str, str]:
    """Scored columns in order -> MLflow type (``string``, ``double``, ``long``, ``boolean``)."""
    cols: dict[str, str] = {
        "customer_id": "string", "cutoff_date": "string",
        "segment": "string", "cluster": "long", "rfm_segment": "string",
        "r_score": "double", "f_score": "double", "m_score": "double", "value_tier": "string",
        "lifecycle_stage": "string",
    }
    cols.update({f"churn_prob_{int(h)}d": "double" for h in horizons_days})
    cols.update({
        "expected_remaining_days": "double", "median_remaining_days": "double",
        "p_alive": "double", "expected_bookings": "double", "clv": "double",
        "clv_horizon_days": "double", "expected_avg_booking_value": "double",
        "avg_booking_value": "double", "avg_days_between_bookings": "double",
        "expected_days_to_next_booking": "double", "expected_next_booking_date": "string",
        "n_bookings": "double", "repeat_customer": "boolean", "member_tier": "string",
        "loyalty_member": "double", "csat_mean": "double", "nps_mean": "double",
        "nps_group": "string", "recommended_action": "string", "preferred_channel": "string",
    })
    cols.update({f"consent_{ch}": "double" for ch in channels})
    for kind in item_kinds:
        cols[f"suggested_{kind}"] = "string"
        cols[f"suggested_{kind}_lift"] = "double"
    cols.update({"insufficient_history": "boolean", "insufficient_history_reason": "string"})
    return cols


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
class CustomerScorer:
    """Segmentation + churn + CLV + stages + next best action, one scored row per customer.

    Parameters
    ----------
    segmentation : fitted :class:`~src.models.segmentation.SegmentationModel` or None.
    churn : fitted :class:`~src.models.churn.ChurnModel` or None.
    clv : fitted :class:`~src.models.clv.CLVModel` or None.
    features : :class:`FeatureSettings` (must match how ``churn`` and ``clv`` were fitted:
        churn definition, gap and time origin; BTYD time unit).
    horizons_days : churn-probability horizons (days).
    stage_rules : lifecycle rules (default :data:`src.models.lifecycle.DEFAULT_STAGE_RULES`).
    action_rules : next-best-action rules (default
        :data:`src.models.actions.DEFAULT_ACTION_RULES`).
    item_columns : bookings column -> feature prefix for the suggestions.
    max_remaining_days : cap of the expected remaining lifetime (days).
    metrics : validation metrics of the parts (for the promotion gates), e.g.
        ``{"churn_concordance": 0.74, "clv_holdout_mae_per_customer": 0.4}``.
    notes : what the scorer was built from (e.g. "churn model refitted: not in the run").

    Attributes
    ----------
    associations_ : fitted :class:`~src.models.actions.ItemAssociation` (None if no item
        columns in the bookings).
    input_columns_ : list[str] -- the feature columns :meth:`score_features` needs.
    cutoff_date_ : str -- cut-off of the fit (ISO).
    notes_ : list[str]; metrics_ : dict[str, float].
    """

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
        for name in ("segmentation", "churn", "clv"):
            if getattr(self, name) is None:
                self.notes_.append(f"no {name} model: its output columns are empty")
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
        cols += [c for c in ("member_tier", "loyalty_member", "csat_mean", "nps_mean")
                 if c in sample.columns]
        self.input_columns_ = list(dict.fromkeys(cols))
        absent = [c for c in self.input_columns_ if c not in sample.columns]
        if absent:
            raise MissingColumnsError(absent, "the feature table of these tables")
        self.example_ = sample[self.input_columns_].head(20)
        # fail now, not at scoring time, on a rule that names an unknown column
        self.score_features(self.example_)
        return self

    def _output_columns(self) -> list[str]:
        kinds = list(self.associations_.prefixes_) if getattr(self, "associations_", None) else []
        return list(output_schema(self.horizons_days_, kinds,
                                  self.feature_settings_.contact_channels))

    def _check(self) -> None:
        if not hasattr(self, "input_columns_"):
            raise RuntimeError("CustomerScorer is not fitted; call fit(tables, cutoff_date)")

    # ---- scoring -------------------------------------------------------------------------
    def score_tables(self, tables: Mapping[str, pd.DataFrame], cutoff_date: Any) -> pd.DataFrame:
        """Score every customer known at ``cutoff_date``: :func:`scoring_features` then
        :meth:`score_features`."""
        self._check()
        return self.score_features(scoring_features(tables, cutoff_date, self.feature_settings_))

    def score_features(self, features: pd.DataFrame) -> pd.DataFrame:
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
        self._check()
        if "customer_id" not in features.columns:
            features = features.reset_index()
        missing = [c for c in self.input_columns_ if c not in features.columns]
        if missing:
            raise MissingColumnsError(missing)
        f = features[self.input_columns_].reset_index(drop=True)
        n = len(f)
        num = {c: pd.to_numeric(f[c].astype("Float64") if f[c].dtype == object else f[c],
                                errors="coerce").to_numpy(dtype=float, na_value=np.nan)
               if c in f.columns else np.full(n, np.nan)
               for c in ("n_bookings", "frequency", "monetary_mean", "avg_days_between_bookings",
                         "churn_at_risk", "btyd_T", "csat_mean", "nps_mean", "loyalty_member")}
        out = pd.DataFrame({"customer_id": f["customer_id"].astype(str).to_numpy(),
                            "cutoff_date": f["cutoff_date"].astype(str).to_numpy()})
        reasons = np.full(n, "", dtype=object)

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
        out["clv_horizon_days"] = float(self.clv.settings.horizon_days) if self.clv else np.nan
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
        wait = out["expected_days_to_next_booking"].to_numpy(dtype=float)
        cut = pd.to_datetime(out["cutoff_date"])
        nxt = cut + pd.to_timedelta(np.round(wait), unit="D")
        out["expected_next_booking_date"] = np.where(np.isnan(wait), None,
                                                     nxt.dt.strftime("%Y-%m-%d").to_numpy())
        out["avg_booking_value"] = num["monetary_mean"]
        out["avg_days_between_bookings"] = num["avg_days_between_bookings"]

        # churn ------------------------------------------------------------------------
        h_cols = [f"churn_prob_{h}d" for h in self.horizons_days_]
        for c in [*h_cols, "expected_remaining_days", "median_remaining_days"]:
            out[c] = np.nan
        if self.churn is not None:
            at_risk = num["churn_at_risk"] == 1
            churned = num["churn_at_risk"] == 0
            if at_risk.any():
                part = f.loc[at_risk]
                probs = self.churn.predict_churn_probability(part, self.horizons_days_)
                out.loc[at_risk, h_cols] = probs.to_numpy()
                life = self.churn.predict_remaining_lifetime(part, max_days=self.max_remaining_days)
                out.loc[at_risk, "expected_remaining_days"] = life["expected_remaining_days"].to_numpy()
                out.loc[at_risk, "median_remaining_days"] = life["median_remaining_days"].to_numpy()
            out.loc[churned, h_cols] = 1.0
            out.loc[churned, ["expected_remaining_days", "median_remaining_days"]] = 0.0

        # loyalty indicators -------------------------------------------------------------
        out["n_bookings"] = num["n_bookings"]
        out["repeat_customer"] = num["frequency"] >= 1
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
        no_booking = ~(num["n_bookings"] > 0)
        reasons = np.where(no_booking, "no completed booking at the cut-off", reasons)
        reasons = np.where(pd.isna(reasons), "", reasons).astype(object)
        out["insufficient_history"] = reasons != ""
        out["insufficient_history_reason"] = np.where(reasons == "", None, reasons)
        return to_plain_dtypes(out[self._output_columns()])

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted scorer (all parts) with joblib; returns the path."""
        self._check()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CustomerScorer:
        """Read a scorer written by :meth:`save`."""
        obj = joblib.load(Path(path))
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description: parts, settings, rules, notes, metrics."""
        self._check()
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
_DEFAULT_CHURN_COVARIATES = (
    "recency_days", "tenure_days", "frequency", "monetary_mean", "complaints_total", "csat_mean",
)


def collect_run_metrics(run_dir: str | Path, churn_kind: str | None = None) -> dict[str, float]:
    """Validation metrics of a run's models, under the names the promotion gates use.

    Reads ``<run_dir>/metrics/*.json`` (written by ``NotebookRun.log_metrics``):
    ``churn_concordance`` / ``churn_integrated_brier_score`` from the churn holdout
    (``<kind>_concordance``, any prefix), ``clv_holdout_mae_per_customer`` and
    ``clv_holdout_abs_aggregate_pct_error`` from the loyalty notebook's holdout.
    """
    flat: dict[str, float] = {}
    for p in sorted((Path(run_dir) / "metrics").glob("*.json")):
        try:
            flat.update(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue

    def find(suffix: str) -> float | None:
        keys = [k for k in flat if k == suffix or k.endswith("." + suffix)
                or k.endswith("_" + suffix) and suffix.startswith(str(churn_kind))]
        keys = [k for k in keys if not k.startswith("calibration.")]
        return float(flat[keys[0]]) if keys else None

    out: dict[str, float] = {}
    if churn_kind:
        for metric in ("concordance", "integrated_brier_score"):
            v = find(f"{churn_kind}_{metric}")
            if v is not None:
                out[f"churn_{metric}"] = v
    v = find("holdout_mae_per_customer")
    if v is not None:
        out["clv_holdout_mae_per_customer"] = v
    v = find("holdout_aggregate_pct_error")
    if v is not None:
        out["clv_holdout_abs_aggregate_pct_error"] = abs(v)
    return out


def _fit_churn(tables: Mapping[str, pd.DataFrame], cutoff: pd.Timestamp, s: FeatureSettings,
               horizons: Sequence[int], seed: int) -> tuple[ChurnModel, dict[str, float]]:
    """Cox model on the latest landmark with full follow-up, validated one window earlier."""
    window = timedelta(days=365)
    kw = dict(definition=s.churn_definition, gap_days=s.churn_gap_days,
              time_origin=s.churn_time_origin)
    train, test = time_split(tables, train_cutoff=cutoff - window, test_cutoff=cutoff, **kw)
    cov = [c for c in _DEFAULT_CHURN_COVARIATES if c in train.columns]

    def model() -> ChurnModel:
        return ChurnModel("coxph", covariates=cov, categorical=[], penalizers=(0.01,),
                          ph_alpha=None, seed=seed)

    ev = evaluate_holdout(model().fit(train), train, test, horizons_days=horizons)
    metrics = {f"churn_{k}": float(v) for k, v in ev["models"]["coxph"].items()}
    return model().fit(test), metrics


def _fit_clv(bookings: pd.DataFrame, cutoff: pd.Timestamp, settings: CLVSettings
             ) -> tuple[CLVModel, dict[str, float]]:
    cal_end = cutoff - timedelta(days=365)
    cal = summary_at(bookings, cutoff, time_unit_days=settings.time_unit_days,
                     calibration_end=cal_end)
    hm = holdout_metrics(CLVModel(settings).fit(cal), cal)
    metrics = {"clv_holdout_mae_per_customer": hm["holdout_mae_per_customer"],
               "clv_holdout_abs_aggregate_pct_error": abs(hm["holdout_aggregate_pct_error"])}
    model = CLVModel(settings).fit(summary_at(bookings, cutoff,
                                              time_unit_days=settings.time_unit_days))
    return model, metrics


def build_scorer(
    run_dir: str | Path,
    tables: Mapping[str, pd.DataFrame],
    cutoff_date: Any,
    *,
    params: ScoringParams | None = None,
    features: FeatureSettings | None = None,
    clv_settings: CLVSettings | None = None,
    stage_rules: Sequence[Mapping[str, str]] | None = None,
    seed: int = 0,
    feature_table: pd.DataFrame | None = None,
) -> CustomerScorer:
    """The run's scorer: parts from ``<run_dir>/models/``, missing parts fitted here.

    ``feature_table``: :func:`scoring_features` of ``tables`` at the cut-off with ``features``
    settings, when the caller has computed it (it is reused unless the CLV model's time unit
    differs from those settings).

    Reads ``segmentation.joblib`` (:meth:`SegmentationModel.load`), ``churn.pkl``
    (:meth:`ChurnModel.load`) and ``clv.json`` (:meth:`CLVModel.from_dict`). A missing file
    is fitted on ``tables`` with default settings when ``params.refit_missing`` (and said in
    ``notes_``), else the part is left out. Validation metrics come from the run's
    ``metrics/`` (:func:`collect_run_metrics`) or from the refit's own holdout.
    """
    p = params or ScoringParams()
    s = features or FeatureSettings(contact_channels=tuple(p.contact_channels))
    cutoff = pd.Timestamp(cutoff_date).normalize()
    models_dir = Path(run_dir) / "models"
    notes: list[str] = []
    metrics: dict[str, float] = {}

    seg = None
    if (models_dir / "segmentation.joblib").exists():
        seg = SegmentationModel.load(models_dir / "segmentation.joblib")
        notes.append("segmentation: models/segmentation.joblib")
    elif p.refit_missing:
        feats = customer_features(tables["bookings"], cutoff, customers=tables.get("customers"),
                                  interactions=tables.get("interactions"),
                                  feedback=tables.get("feedback"))
        seg = SegmentationModel().fit(feats)
        notes.append("segmentation: refitted with default settings (not in the run)")

    churn = None
    if (models_dir / "churn.pkl").exists():
        churn = ChurnModel.load(models_dir / "churn.pkl")
        notes.append("churn: models/churn.pkl")
    elif p.refit_missing:
        try:
            churn, m = _fit_churn(tables, cutoff, s, p.horizons_days, seed)
            metrics.update(m)
            notes.append("churn: Cox model refitted with default covariates (not in the run)")
        except (ValueError, KeyError) as exc:
            notes.append(f"churn: not available ({exc})")

    clv = None
    if (models_dir / "clv.json").exists():
        clv = CLVModel.from_dict(json.loads((models_dir / "clv.json").read_text(encoding="utf-8")))
        notes.append("clv: models/clv.json")
    elif p.refit_missing:
        clv, m = _fit_clv(tables["bookings"], cutoff, clv_settings or CLVSettings(
            time_unit_days=s.time_unit_days))
        metrics.update(m)
        notes.append("clv: BG/NBD + Gamma-Gamma refitted (not in the run)")
    if clv is not None and clv.settings.time_unit_days != s.time_unit_days:
        s = FeatureSettings(**{**asdict(s), "time_unit_days": clv.settings.time_unit_days})
        feature_table = None  # built with another time unit

    metrics.update(collect_run_metrics(run_dir, None if churn is None else churn.kind))
    rules = [r.model_dump() for r in p.action_rules] if p.action_rules else None
    return CustomerScorer(
        seg, churn, clv, features=s, horizons_days=p.horizons_days, stage_rules=stage_rules,
        action_rules=rules, item_columns=p.item_columns, max_remaining_days=p.max_remaining_days,
        metrics=metrics, notes=notes,
    ).fit(tables, cutoff, feature_table)


# --------------------------------------------------------------------------------------------
# MLflow
# --------------------------------------------------------------------------------------------
try:  # mlflow is a runtime dependency, but keep the module importable without it
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object  # type: ignore[assignment,misc]


class ScorerPyfunc(_PythonModel):
    """MLflow pyfunc: loads the scorer artifact, calls :meth:`CustomerScorer.score_features`."""

    def load_context(self, context) -> None:
        self.scorer = CustomerScorer.load(context.artifacts[_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        """Feature table (:func:`scoring_features` columns) -> scored rows."""
        return self.scorer.score_features(model_input)


def model_input(features: pd.DataFrame, scorer: CustomerScorer) -> pd.DataFrame:
    """The scorer's input columns in the dtypes of the logged signature (categoricals ->
    str, integers and nullable numbers -> float64)."""
    if "customer_id" not in features.columns:
        features = features.reset_index()
    missing = [c for c in scorer.input_columns_ if c not in features.columns]
    if missing:
        raise MissingColumnsError(missing)
    return _model_dtypes(features[scorer.input_columns_])


def _model_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain dtypes of the signature: numbers and booleans -> float64 (a CSV, a SQL table and
    a Parquet file then agree), categoricals -> str, ``customer_id`` / ``cutoff_date`` -> str."""
    out = to_plain_dtypes(frame, ints_as_float=True)
    for col in out.columns:
        s = out[col]
        if col in ("customer_id", "cutoff_date"):
            out[col] = s.astype(str)
        elif pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.astype("float64")
        elif (s.dtype == object and s.map(lambda v: isinstance(v, bool | np.bool_)).any()
              and s.map(lambda v: v is None or isinstance(v, bool | np.bool_) or v != v).all()):
            out[col] = pd.to_numeric(s.map(lambda v: np.nan if v is None else float(v)))
    return out


def _signature(scorer: CustomerScorer, example: pd.DataFrame):
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    inferred = infer_signature(example).inputs
    specs = []
    for col in inferred.inputs:  # every input may be missing in a new table
        specs.append(ColSpec(col.type, col.name, required=False))
    outputs = Schema([ColSpec(t, name, required=name == "customer_id")
                      for name, t in output_schema(
                          scorer.horizons_days_,
                          list(scorer.associations_.prefixes_) if scorer.associations_ else [],
                          scorer.feature_settings_.contact_channels).items()])
    return ModelSignature(inputs=Schema(specs), outputs=outputs)


def log_scorer(scorer: CustomerScorer, name: str, input_example: pd.DataFrame | None = None,
               **log_kwargs: Any):
    """Log a fitted scorer to the active MLflow run as a pyfunc with an input/output signature.

    Parameters
    ----------
    scorer : fitted :class:`CustomerScorer`.
    name : model name within the run.
    input_example : a few rows of :func:`scoring_features` (default: the fit's example rows).
    **log_kwargs : passed to ``mlflow.pyfunc.log_model`` (e.g. ``registered_model_name``).

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    import mlflow

    scorer._check()
    example = model_input(input_example if input_example is not None else scorer.example_, scorer)
    example = example.head(20)
    signature = _signature(scorer, example)
    log_kwargs.setdefault("pip_requirements", pip_requirements())
    with tempfile.TemporaryDirectory() as tmp:
        path = scorer.save(Path(tmp) / f"{_ARTIFACT}.joblib")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=ScorerPyfunc(),
            artifacts={_ARTIFACT: str(path)},
            signature=signature,
            input_example=example,
            **log_kwargs,
        )


_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lifelines",
                 "joblib", "pydantic")


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged scorer (the installed versions of what it imports).

    Given explicitly, so logging does not spend seconds inferring them in a subprocess; the
    project itself (``src``) must be installed where the model is loaded (``pip install -e``
    of this repository), since the pyfunc unpickles the project's own classes.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in _REQUIREMENTS:
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return out



# --------------------------------------------------------------------------------------------
# batch scoring of a file or SQL table (``crm score``)
# --------------------------------------------------------------------------------------------
_ARROW_TYPES = {"string": "string", "double": "float64", "long": "int64", "boolean": "bool"}


def _batches(source: str, table: str | None, batch_size: int):
    """(total rows or None, iterator of DataFrames) for a Parquet/CSV file or a SQL table."""
    if "://" in source:
        import sqlalchemy as sa

        if not table:
            raise ValueError("--table is required with a database URL")
        engine = sa.create_engine(source)
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                raise ValueError(f"table {table!r} not found in {source}; tables: "
                                 f"{sa.inspect(conn).get_table_names()}")
            total = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar()

        def gen():
            with engine.connect() as conn:
                yield from pd.read_sql_query(sa.text(f'SELECT * FROM "{table}"'), conn,
                                             chunksize=batch_size)
        return int(total), gen()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"input {path} not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        return pf.metadata.num_rows, (b.to_pandas() for b in pf.iter_batches(batch_size))
    if path.suffix == ".csv":
        return None, pd.read_csv(path, chunksize=batch_size, encoding="utf-8-sig",
                                 dtype={"customer_id": str, "cutoff_date": str})
    raise ValueError(f"input {path}: use a .parquet or .csv file, or a database URL + --table")


def score_file(model: str, source: str, output: str | Path, *, table: str | None = None,
               batch_size: int = 100_000, show_progress: bool = True,
               client: Any | None = None) -> dict[str, Any]:
    """Score a feature table with a registered scorer, in batches, into Parquet or CSV.

    Parameters
    ----------
    model : ``<name>@<alias>``, ``<name>/<version>`` or ``<name>`` (its champion).
    source : ``.parquet`` / ``.csv`` file of :func:`scoring_features` rows, or a database
        URL (``sqlite:///crm.db``) with ``table``.
    output : ``.parquet`` or ``.csv`` (UTF-8 with BOM); written atomically.
    batch_size : rows per batch (memory is bounded by one batch).

    Returns
    -------
    dict with ``model_uri``, ``version``, ``rows``, ``seconds``, ``rows_per_second``.

    Raises
    ------
    src.models.registry.UnknownModelError : unknown model / alias / version (lists them).
    MissingColumnsError : the input lacks columns the model needs (named).
    """
    import time

    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from src.export.marketing import atomic_write
    from src.models.registry import resolve_model_uri

    output = Path(output)
    if output.suffix not in (".parquet", ".csv"):
        raise ValueError(f"output {output}: use a .parquet or .csv file")
    uri, version = resolve_model_uri(model, client)
    loaded = mlflow.pyfunc.load_model(uri)
    inputs = loaded.metadata.get_input_schema().input_names()
    out_types = {c.name: c.type.name for c in loaded.metadata.get_output_schema().inputs}
    schema = pa.schema([(n, pa.from_numpy_dtype(np.dtype(_ARROW_TYPES[t]))
                         if t != "string" else pa.string()) for n, t in out_types.items()])
    total, batches = _batches(source, table, batch_size)
    t0 = time.perf_counter()
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        bar = tqdm(total=total, unit="customers", disable=not show_progress, desc="scoring")
        try:
            for i, batch in enumerate(batches):
                missing = [c for c in inputs if c not in batch.columns]
                if missing:
                    raise MissingColumnsError(missing, f"input {source}")
                scored = loaded.predict(_model_dtypes(batch[inputs]))
                if output.suffix == ".parquet":
                    tab = pa.Table.from_pandas(scored, schema=schema, preserve_index=False)
                    writer = writer or pq.ParquetWriter(tmp, schema)
                    writer.write_table(tab)
                else:
                    scored.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False,
                                  encoding="utf-8-sig" if i == 0 else "utf-8")
                rows += len(batch)
                bar.update(len(batch))
            if writer is None and output.suffix == ".parquet":
                pq.write_table(schema.empty_table(), tmp)
        finally:
            bar.close()
            if writer is not None:
                writer.close()

    atomic_write(output, write)
    secs = time.perf_counter() - t0
    return {"model_uri": uri, "version": version, "rows": rows, "seconds": secs,
            "rows_per_second": rows / secs if secs > 0 else float("nan"), "output": str(output)}


# --------------------------------------------------------------------------------------------
# Spark
# --------------------------------------------------------------------------------------------
def spark_score(spark: Any, model_uri: str, features: Any) -> Any:
    """Score a Spark DataFrame of :func:`scoring_features` rows with a logged scorer.

    Use it past one machine (tens of millions of customers, features already in Spark); on
    one machine ``crm score`` (pandas, in batches) is simpler and as fast per core. The
    registered model runs unchanged in each Spark worker through ``mlflow.pyfunc.spark_udf``
    (``env_manager="local"``: the workers need this project installed, as the driver).

    MLflow's ``spark_udf`` turns a missing value of a string column into the text
    ``"None"`` (it casts the column with ``astype(str)``); the string columns are set back to
    null here, so Spark scores equal pandas scores.

    Parameters
    ----------
    spark : ``pyspark.sql.SparkSession``.
    model_uri : e.g. ``models:/tourism_crm_scorer@champion``.
    features : Spark DataFrame with the model's input columns (numbers as double).

    Returns
    -------
    Spark DataFrame with the scored columns (the model's output signature).
    """
    import mlflow
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    inputs = mlflow.models.get_model_info(model_uri).signature.inputs.input_names()
    scored = features.withColumn("__scored", udf(F.struct(*inputs))).select("__scored.*")
    for field in scored.schema.fields:
        if isinstance(field.dataType, StringType):
            c = F.col(field.name)
            scored = scored.withColumn(field.name, F.when(c == "None", F.lit(None)).otherwise(c))
    return scored


def unscored_customers(tables: Mapping[str, pd.DataFrame], scored: pd.DataFrame) -> pd.DataFrame:
    """Customers known in any input table but absent from ``scored``, with the reason, so that
    customers in = scored + rejected reconciles (columns ``customer_id``, ``reason``)."""
    known = pd.Index(pd.concat([t["customer_id"] for t in tables.values()
                                if "customer_id" in t.columns]).unique())
    missing = known.difference(pd.Index(scored["customer_id"]))
    return pd.DataFrame({"customer_id": missing,
                         "reason": "no booking, contact or sign-up on or before the cut-off"})
