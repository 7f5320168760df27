"""The full-history churn analysis of membership data: every member from the start, Cox PH on
what was known once the first trip was over, printed the way lifelines prints it.

Beside the landmark models of :func:`~src.models.churn.workflow.select_and_fit` (customers
alive at a date, features then, what happens next: the model that scores), this is the
descriptive analysis lifelines users run first. :func:`full_history_analysis` builds one row
per member (:func:`full_history_frame`), fits a Cox PH model (:func:`cox_regression`: a
:class:`ChurnModel` with Efron ties like lifelines, no penalizer, each categorical against its
largest group; column names are arguments, so it runs on any data set) and returns
the lifelines summary, the hazard ratios in business words, Kaplan-Meier and Cox survival at
the horizons and the churn-cause breakdown the seeds use (share of churners with a service /
product / price complaint before leaving). Times are days; nothing dated after the cut-off is
read.

Decisions
---------
- **Time origin.** By default the first booking (``churn.full_history_origin``), where the
  relationship and its first trip begin (the synthetic data plants the cancellation hazard in
  time since the first booking); ``"start"`` uses the membership start (``churn.start_col``).
- **Covariates are known when time at risk starts.** The first-trip experience (complaints
  by category, a low CSAT, what was booked) is known only once the trip is over and its
  feedback window (30 days) has passed. A member enters the Cox fit then (late entry,
  ``entry_days``): members who cancelled earlier are in the Kaplan-Meier curve and the
  breakdown, not in the Cox fit, and no covariate looks ahead of the time it explains.
  A complaint is about the trip that ended most recently before it
  (``complaint_attribution="last_trip"`` of :func:`~src.features.first_trip.first_trip_table`).
- **Snapshots without transactions.** A subscription export with tenure and status and no
  bookings (e.g. the IBM telco data) has no first trip: the origin must be the membership
  start (``full_history_origin: start``), every member is at risk from the start (no late
  entry), and the covariates are the export's customer attributes (contract, monthly
  charges, ...; :func:`src.features.cache.attribute_columns`). They describe the export's
  as-of date, so they are used at a cut-off on that date only: at an earlier cut-off they
  are refused (point in time). Members with a zero duration (joined on the cut-off) are in
  the Kaplan-Meier curve (censored at 0) but not in the Cox fit, which needs time at risk.
  When every duration is a whole number of months (start = as-of - tenure months:
  :func:`~src.features.survival.whole_months`), the horizons are reported in months too
  (``horizon_months``: ``churn.horizons_days`` rounded to months, read at the day count of
  those months, :func:`~src.features.survival.months_as_days`); the Cox fit on the day
  counts equals the fit on months.
- **Adjusting for who the member is.** Complaint rates and cancellation hazards both differ by
  kind of traveller; the first-trip booking (product, destination type, channel, party size,
  nights, lead time, amount), age and the signup attributes stand in for it, so the complaint
  ratios are not the traveller mix's. On the synthetic data this recovers every planted
  hazard ratio inside its 95 % interval (tests); without these covariates the price
  complaint ratio comes out too high.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from src.data.contract import COMPLAINT_CATEGORIES
from src.features.cache import attribute_columns
from src.features.definitions import purchases
from src.features.first_trip import first_trip_table
from src.features.survival import (
    AGE_COL,
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    membership_survival_table,
    months_as_days,
    whole_months,
)
from src.models.churn.km import km_survival_at
from src.models.churn.model import ChurnModel

if TYPE_CHECKING:
    from src.params.schema import ChurnParams

__all__ = ["CAUSE_CATEGORIES", "FEEDBACK_WINDOW_DAYS", "FullHistoryAnalysis", "churn_causes",
           "cox_regression", "full_history_analysis", "full_history_frame"]

#: days after the first trip ended within which its survey and complaints arrive; the first-trip
#: covariates are known then (first_trip_table's window)
FEEDBACK_WINDOW_DAYS = 30

#: first-trip booking columns, prefixed ``first_trip_`` in the analysis frame
_TRIP_COLUMNS = ("product", "destination_type", "channel", "travel_month", "party_size",
                 "nights", "lead_time_days", "amount", "first_day_bookings")

#: complaint categories of the churn-cause breakdown, in the seeds' order
CAUSE_CATEGORIES = ("service", "product", "price")

#: mean days per month (365.25 / 12): ``churn.horizons_days`` -> whole months on month-based data
DAYS_PER_MONTH = 30.4375


@dataclass
class FullHistoryAnalysis:
    """What :func:`full_history_analysis` found.

    Attributes
    ----------
    frame : one row per member (index ``customer_id``): ``duration_days`` (origin -> the
        cancellation or the cut-off), ``event`` (cancelled on/before the cut-off),
        ``entry_days`` (origin -> first-trip covariates known; NaN when not known by the
        cut-off), ``origin_date``, ``cancel_date``, ``in_cox`` (at risk after the entry: a
        row of the Cox fit) and the first-trip covariates.
    model : the fitted Cox PH :class:`ChurnModel` (Efron ties, no penalizer, the largest group
        of each categorical as reference level; the proportional-hazards test is in
        ``model.ph_test_``, not acted on).
    drivers : the hazard ratios in business words (:meth:`ChurnModel.hazard_ratios`).
    causes : the churn-cause breakdown (:func:`churn_causes`) beside the first-trip
        complaint hazard ratios.
    survival_at_horizons : index ``horizon_days``: Kaplan-Meier ``km`` of all members h
        days after the origin (with ``km_lower_95`` / ``km_upper_95``; the classic curve), and
        for the members of the Cox fit h days after their entry (first-trip covariates
        known): Kaplan-Meier ``km_from_entry`` and the Cox model's mean predicted survival
        ``coxph_from_entry`` (``S(entry + h) / S(entry)``; no one is at risk in the Cox fit
        before the earliest entry, so its curve from the origin would miss the first weeks).
        On month-based data also ``horizon_months`` (the horizon in whole months; the
        index is then its day count).
    origin : ``"first_booking"`` or ``"start"``; cutoff_date : the cut-off.
    metrics : flat metrics for MLflow (``full_history.*``; ``full_history.coef.<covariate>``
        per Cox coefficient; on month-based data ``full_history.km.survival_<m>m``).
    time_unit : ``"days"``, or ``"months"`` when every duration is whole months.
    notes : what the analysis left out and why (one line each).
    """

    frame: pd.DataFrame
    model: ChurnModel
    drivers: pd.DataFrame
    causes: pd.DataFrame
    survival_at_horizons: pd.DataFrame
    origin: str
    cutoff_date: pd.Timestamp
    metrics: dict[str, float] = field(default_factory=dict)
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> pd.DataFrame:
        """The lifelines summary of the Cox fit: index ``covariate``; ``coef``, ``exp(coef)``
        (the hazard ratio), ``se(coef)``, ``coef lower 95%``, ``coef upper 95%``,
        ``exp(coef) lower 95%``, ``exp(coef) upper 95%``, ``z``, ``p``, ``-log2(p)``."""
        return self.model.summary

    @property
    def reference_levels(self) -> dict[str, str]:
        """The reference (largest) level of each categorical covariate."""
        spec = self.model.encoder_.spec_
        levels = spec.loc[spec["role"] == "level"]
        return dict(zip(levels["source"], levels["reference"], strict=False))

    def print_summary(self, decimals: int = 3) -> None:
        """Print the fit the way lifelines' ``CoxPHFitter.print_summary`` does, then the
        survival at the horizons and the churn-cause breakdown."""
        m = self.model
        cox = self.frame.loc[self.frame["in_cox"]]
        origin = "the first booking" if self.origin == "first_booking" else "the membership start"
        head = {
            "model": "Cox PH (src.models.churn.ChurnModel)",
            "duration col": f"'{DURATION_COL}' (days from {origin})",
            "event col": f"'{EVENT_COL}' (membership cancelled on/before "
                         f"{self.cutoff_date.date()})",
            "entry col": (f"'{ENTRY_COL}' (first trip over + {FEEDBACK_WINDOW_DAYS} days)"
                          if self.frame.attrs.get("has_trips", True)
                          else "none (no transactions: at risk from the start)"),
            "penalizer": m.penalizer_,
            "ties": m.ties,
            "baseline estimation": "breslow",
            "number of observations": len(cox),
            "number of events observed": int(cox[EVENT_COL].sum()),
            "partial log-likelihood": round(float(m.fitter_.log_likelihood_), decimals),
            "reference levels": "; ".join(f"{k} = {v}" for k, v in self.reference_levels.items())
                                or "none",
            "time unit of the data": self.time_unit,
        }
        width = max(len(k) for k in head)
        print("<FullHistoryAnalysis: membership churn from " + origin + ">")
        for k, v in head.items():
            print(f"{k:>{width}} = {v}")
        print("---")
        with pd.option_context("display.max_rows", 200, "display.width", 200,
                               "display.max_columns", 20,
                               "display.float_format", f"{{:.{decimals}f}}".format):
            print(self.summary)
            print("---")
            print(f"Concordance = {m.concordance_index_:.{decimals}f}")
            fails = m.ph_test_.loc[m.ph_test_["fails"], "covariate"].tolist() if len(
                m.ph_test_) else []
            print("Proportional hazards (Grambsch-Therneau, Bonferroni 1 %): "
                  + (f"not supported for {', '.join(fails)}" if fails else "no violation"))
            print("---")
            print(f"Survival at the horizons: km = all members, days from {origin}; "
                  "km_from_entry / coxph_from_entry = the Cox members, days from their entry")
            print(self.survival_at_horizons)
            if len(self.causes):
                print("---")
                print("Churn causes: churners with a complaint before leaving")
                print(self.causes)
            for note in self.notes:
                print(f"note: {note}")


def full_history_frame(tables: Mapping[str, pd.DataFrame], params: ChurnParams,
                       cutoff_date: Any) -> pd.DataFrame:
    """One row per member: time from the origin to the cancellation, and the first trip.

    Parameters
    ----------
    tables : contract tables by name (``customers`` required; ``bookings`` for the first
        trip, ``interactions`` and ``feedback`` for the complaint and CSAT covariates). A
        customers-only snapshot (no or empty ``bookings``) needs ``full_history_origin:
        start`` and gets the customer attribute columns instead of the first trip
        (:func:`src.features.cache.attribute_columns`).
    params : the job's ``churn:`` section (``start_col``, ``cancel_col``, ``member_col``,
        ``full_history_origin``, ``full_history_covariates``).
    cutoff_date : nothing dated after it is read.

    Returns
    -------
    pandas.DataFrame
        See :attr:`FullHistoryAnalysis.frame`. ``attrs["excluded"]``: members left out and
        why (those of :func:`membership_survival_table`, plus ``no_first_booking`` and
        ``cancelled_before_origin``); ``attrs["has_trips"]``: False for a customers-only
        snapshot; ``attrs["months"]``: the durations in whole months when every one is
        (None otherwise).

    Raises
    ------
    ValueError : no customers table; a customers-only snapshot with ``full_history_origin:
        first_booking``; covariates that are snapshot attributes at a cut-off before the
        snapshot's as-of date.
    """
    cutoff = pd.Timestamp(cutoff_date).normalize()
    customers = tables.get("customers")
    if customers is None:
        raise ValueError("the full-history analysis needs the customers table (membership data)")
    bookings = tables.get("bookings")
    has_trips = bookings is not None and len(bookings) > 0
    if not has_trips and params.full_history_origin == "first_booking":
        raise ValueError("no bookings: the full-history analysis cannot start at a first "
                         "booking; set churn.full_history_origin: start (the membership start)")
    members = membership_survival_table(customers, cutoff_date=cutoff, start_col=params.start_col,
                                        cancel_col=params.cancel_col, member_col=params.member_col)
    excluded = dict(members.attrs.get("excluded", {}))
    usable, left_out = attribute_columns(tables, cutoff)
    refused = [c for c in params.full_history_covariates if c in left_out]
    if refused:
        raise ValueError(
            f"covariates {refused} are snapshot attributes of the export's as-of date "
            f"({getattr(tables, 'snapshot_date', None)}), not known at the cut-off "
            f"{cutoff.date()}: run the analysis at the as-of date or drop them from "
            "churn.full_history_covariates")
    if has_trips:
        trips = first_trip_table(tables, cutoff_date=cutoff, labelled_only=False,
                                 feedback_window_days=FEEDBACK_WINDOW_DAYS,
                                 complaint_attribution="last_trip")
        trips = trips.rename(columns={c: f"first_trip_{c}" for c in _TRIP_COLUMNS})
    else:
        trips = pd.DataFrame(index=members.index)
    if params.full_history_origin == "first_booking":
        first = purchases(bookings, cutoff).groupby("customer_id")["booking_date"].min()
        origin = first.reindex(members.index)
    else:
        origin = members["start_date"]
    origin = pd.to_datetime(origin)
    end = members["cancel_date"].where(members[EVENT_COL] == 1, cutoff)
    duration = (end - origin).dt.days.astype(float)
    no_origin = origin.isna()
    before = ~no_origin & (duration < 0)
    excluded.update(no_first_booking=int(no_origin.sum()), cancelled_before_origin=int(before.sum()))
    keep = (~no_origin & ~before).to_numpy()
    frame = pd.DataFrame({DURATION_COL: duration[keep], EVENT_COL: members.loc[keep, EVENT_COL],
                          "origin_date": origin[keep], "cancel_date": members.loc[keep, "cancel_date"]})
    if has_trips:
        known = (trips["first_trip_end"].reindex(frame.index)
                 + pd.Timedelta(days=FEEDBACK_WINDOW_DAYS))
        frame[ENTRY_COL] = ((known - frame["origin_date"]).dt.days.astype(float)).clip(lower=0.0)
    else:  # nothing to wait for: at risk from the start
        frame[ENTRY_COL] = 0.0
    frame["in_cox"] = frame[ENTRY_COL].notna() & (frame[DURATION_COL] > frame[ENTRY_COL])
    cov = [c for c in dict.fromkeys(params.full_history_covariates) if c in trips.columns]
    frame = frame.join(trips[cov], how="left")
    attrs = [c for c in dict.fromkeys(params.full_history_covariates)
             if c in usable and c not in frame.columns]
    if attrs:
        snapshot = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        frame = frame.join(snapshot[attrs], how="left")
    months = (whole_months(members.loc[keep], cutoff)
              if params.full_history_origin == "start" else None)
    frame.attrs.update(excluded=excluded, origin=params.full_history_origin,
                       cutoff_date=str(cutoff.date()), has_trips=has_trips,
                       months=None if months is None else months.to_dict(),
                       missing_covariates=[c for c in params.full_history_covariates
                                           if c not in frame.columns],
                       missing_inputs=list(trips.attrs.get("missing_inputs", [])))
    return frame


def churn_causes(frame: pd.DataFrame, interactions: pd.DataFrame | None,
                 summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """The churn-cause breakdown: which complaints churners had made before leaving.

    Parameters
    ----------
    frame : :func:`full_history_frame` (``event``, ``cancel_date``; index ``customer_id``).
    interactions : the contract ``interactions`` table (complaints with
        ``complaint_category``); None: no breakdown (empty table).
    summary : the Cox summary, to set each category's first-trip complaint hazard ratio
        beside its share.

    Returns
    -------
    pandas.DataFrame
        Index ``category`` (service, product, price, then the other categories present, then
        ``any``): ``churners`` (members cancelled on/before the cut-off), ``with_complaint``
        (churners with a complaint of the category dated on/before their cancellation day),
        ``share_of_churners``, ``first_trip_hazard_ratio`` / ``lower_95`` /
        ``upper_95`` (of ``first_trip_complaint_<category>``; NaN for ``any`` and covariates
        not in the fit).
    """
    cols = ["churners", "with_complaint", "share_of_churners", "first_trip_hazard_ratio",
            "lower_95", "upper_95"]
    if interactions is None or "complaint_category" not in interactions.columns:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="category"))
    comp = interactions.loc[(interactions["kind"].astype(object) == "complaint").to_numpy(),
                            ["customer_id", "timestamp", "complaint_category"]]
    comp = comp.loc[comp["customer_id"].isin(frame.index)]
    day = pd.to_datetime(comp["timestamp"])
    if getattr(day.dt, "tz", None) is not None:
        day = day.dt.tz_localize(None)
    day = day.dt.normalize()
    churned = frame[EVENT_COL].to_numpy() == 1
    left = frame.loc[churned, "cancel_date"]
    comp = comp.loc[comp["customer_id"].isin(left.index)]
    comp = comp.assign(_day=day.loc[comp.index].to_numpy(),
                       _cat=comp["complaint_category"].astype(object))
    comp = comp.loc[(comp["_day"].to_numpy() <= left.reindex(comp["customer_id"]).to_numpy())]
    present = [c for c in COMPLAINT_CATEGORIES if c not in CAUSE_CATEGORIES
               and (comp["_cat"] == c).any()]
    n_churn = int(churned.sum())
    rows = []
    for cat in [*CAUSE_CATEGORIES, *present, "any"]:
        ids = comp["customer_id"] if cat == "any" else comp.loc[comp["_cat"] == cat, "customer_id"]
        has = frame.index.isin(pd.unique(ids))
        hr = (summary.loc[f"first_trip_complaint_{cat}"]
              if summary is not None and f"first_trip_complaint_{cat}" in summary.index else None)
        rows.append(dict(
            category=cat, churners=n_churn, with_complaint=int((has & churned).sum()),
            share_of_churners=float((has & churned).sum() / n_churn) if n_churn else np.nan,
            first_trip_hazard_ratio=np.nan if hr is None else float(hr["exp(coef)"]),
            lower_95=np.nan if hr is None else float(hr["exp(coef) lower 95%"]),
            upper_95=np.nan if hr is None else float(hr["exp(coef) upper 95%"]),
        ))
    return pd.DataFrame(rows, columns=["category", *cols]).set_index("category")


def cox_regression(df: pd.DataFrame, covariates: list[str], *,
                   duration_col: str = DURATION_COL, event_col: str = EVENT_COL,
                   entry_col: str | None = ENTRY_COL, horizons_days: tuple[int, ...] = (180, 365),
                   seed: int = 0) -> ChurnModel:
    """A descriptive Cox PH fit the way lifelines' ``CoxPHFitter`` makes it: Efron ties, no
    penalizer, no sampling, numeric columns as they are and each categorical column one-hot
    against its largest group; the proportional-hazards test is run (``ph_test_``) but not
    acted on.

    Parameters
    ----------
    df : one row per subject with the duration, the event (0/1), optionally a late entry,
        and the covariates.
    covariates : covariate columns (non-numeric ones are categorical).
    duration_col, event_col, entry_col : column names (lifelines style).
    horizons_days, seed : passed to :class:`ChurnModel` (scoring horizons; no randomness is
        used by this fit).

    Returns
    -------
    ChurnModel
        Fitted, kind ``"coxph"``; ``summary`` is lifelines' table.
    """
    model = ChurnModel("coxph", covariates=covariates, penalizers=(0.0,), ties="efron",
                       max_ph_strata=0, sample_size=None, seed=seed,
                       horizons_days=horizons_days)
    return model.fit(df, duration_col=duration_col, event_col=event_col, entry_col=entry_col)


def full_history_analysis(tables: Mapping[str, pd.DataFrame], params: ChurnParams,
                          cutoff_date: Any, *, seed: int = 0) -> FullHistoryAnalysis:
    """The full-history Cox analysis of a membership job (see the module notes).

    Parameters
    ----------
    tables : contract tables by name.
    params : the job's ``churn:`` section; ``definition`` must be ``"membership"``.
    cutoff_date : the analysis cut-off; nothing after it is read.
    seed : seed of the model (no sampling or folds are used: the fit is deterministic).

    Returns
    -------
    FullHistoryAnalysis
    """
    if params.definition != "membership":
        raise ValueError("the full-history analysis is for membership churn "
                         "(churn.definition: membership); lapse churn has the landmark models")
    cutoff = pd.Timestamp(cutoff_date).normalize()
    frame = full_history_frame(tables, params, cutoff)
    cox_rows = frame.loc[frame["in_cox"]]
    covariates = [c for c in params.full_history_covariates if c in frame.columns]
    model = cox_regression(cox_rows, covariates, horizons_days=tuple(params.horizons_days),
                           seed=seed)
    notes = []
    if frame.attrs["missing_covariates"]:
        notes.append(f"covariates not in the data: {frame.attrs['missing_covariates']}")
    if not frame.attrs["has_trips"]:
        zero = int((frame[DURATION_COL] <= 0).sum())
        notes.append(f"no transactions: every member at risk from the start; {zero} members "
                     "with no time at risk (joined on the cut-off) are in the Kaplan-Meier "
                     "curve, censored at 0, not in the Cox fit")
    monthly = frame.attrs.get("months") is not None
    if monthly:
        horizon_months = sorted({max(1, int(round(h / DAYS_PER_MONTH)))
                                 for h in params.horizons_days})
        hs = months_as_days(cutoff, horizon_months)
        notes.append("durations are whole months (start = cut-off - tenure months): horizons "
                     f"{list(params.horizons_days)} days read as {horizon_months} months "
                     f"({hs} days before {cutoff.date()})")
    else:
        hs = [int(h) for h in params.horizons_days]
    km = km_survival_at(frame, hs, entry_col=None)
    since_entry = pd.DataFrame({DURATION_COL: cox_rows[DURATION_COL] - cox_rows[ENTRY_COL],
                                EVENT_COL: cox_rows[EVENT_COL]})
    at_entry = cox_rows.assign(**{AGE_COL: cox_rows[ENTRY_COL]})
    at_horizons = pd.DataFrame(
        {"km": km["survival"].to_numpy(), "km_lower_95": km["lower_95"].to_numpy(),
         "km_upper_95": km["upper_95"].to_numpy(),
         "km_from_entry": km_survival_at(since_entry, hs, entry_col=None)["survival"].to_numpy(),
         "coxph_from_entry": model.survival_at(at_entry, hs).mean(axis=0)},
        index=pd.Index(hs, name="horizon_days"))
    if monthly:
        at_horizons.insert(0, "horizon_months", horizon_months)
    causes = churn_causes(frame, tables.get("interactions"), model.summary)
    metrics: dict[str, float] = {
        "full_history.members": float(len(frame)),
        "full_history.cancelled": float(frame[EVENT_COL].sum()),
        "full_history.cox_members": float(len(cox_rows)),
        "full_history.cox_events": float(cox_rows[EVENT_COL].sum()),
        "full_history.concordance": float(model.concordance_index_),
    }
    for h, row in at_horizons.iterrows():
        for name in ("km", "km_from_entry", "coxph_from_entry"):
            if pd.notna(row[name]):
                metrics[f"full_history.{name}.survival_{h}d"] = float(row[name])
                if monthly:
                    metrics[f"full_history.{name}.survival_{int(row['horizon_months'])}m"] = (
                        float(row[name]))
    s = model.summary
    metrics["full_history.partial_log_likelihood"] = float(model.fitter_.log_likelihood_)
    for name, coef in s["coef"].items():
        metrics[f"full_history.coef.{name}"] = float(coef)
    for col in [c for c in s.index if c.startswith("first_trip_complaint_")
                or c == "first_trip_low_csat"]:
        metrics[f"full_history.hr.{col}"] = float(s.loc[col, "exp(coef)"])
    for cat, row in causes.iterrows():
        metrics[f"full_history.churners_with_{cat}_complaint_share"] = float(
            row["share_of_churners"])
    return FullHistoryAnalysis(frame=frame, model=model, drivers=model.hazard_ratios(),
                               causes=causes, survival_at_horizons=at_horizons,
                               origin=params.full_history_origin, cutoff_date=cutoff,
                               metrics=metrics, time_unit="months" if monthly else "days",
                               notes=notes)
