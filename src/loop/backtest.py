"""Back-test of the previous run: its predictions against what happened up to this cut-off.

A run scores every customer as of its cut-off; the next run of the job holds what happened
in between. :func:`backtest_previous` compares the two (see :class:`Backtest` for the
tables): churn calibration by decile of predicted probability at the longest horizon that
fits the elapsed days (plus calibration error and Brier score); expected bookings and spend
prorated to the window against the realised ones (in total, by value tier, by decile); the
precision of each list's premise (:data:`LIST_PREMISES`: win-back lists presume a lapse, keep
lists presume the customer stayed), on the control arm when the campaign had one; flat
``backtest.*`` metrics for MLflow; :func:`backtest_trend` stacks them over a job's runs.

Definitions
-----------
- A *booking in the window* is a purchase (:func:`src.features.first_trip.purchases`: booked
  on/before the cut-off, status known at the cut-off not ``cancelled`` / ``no_show``) booked
  after the previous cut-off. Bookings are counted as purchase *days* per customer (several on
  one day count once), the unit in which BG/NBD predicts ``expected_bookings``.
- *Churn* is the churn model's: lapse churn (:func:`src.features.survival.lapse_survival_table`,
  on completed bookings, dated ``gap_days`` after the last booking before the gap) or
  membership churn (:func:`src.features.survival.membership_survival_table`, the cancellation
  date). *At risk* at a date is the scorer's :func:`src.features.scoring.churn_state`.
- Realised churn within ``h`` days is observed for every customer (the window is at least
  ``h`` days long), so it is a plain share, with no censoring correction.
- Expected bookings are prorated *linearly* (``elapsed_days / clv_horizon_days``); BG/NBD
  expects more of them early in the horizon (customers die over it), so the prorated figure
  understates a short window and the ratio realised / predicted reads a little above 1 even
  for a correct model.
- Only rows known at the cut-off are used: bookings dated on/before it, statuses as known then.

Units: days for every ``*_days`` value, the data's currency for spend, probabilities and
shares in [0, 1].
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from src.features.definitions import as_timestamp, is_at_risk, purchases
from src.features.scoring import FeatureSettings, churn_state
from src.features.survival import EVENT_COL, lapse_survival_table, membership_survival_table
from src.vocabulary import VOCABULARIES

__all__ = ["LAPSED", "LIST_PREMISES", "PREMISE_PATTERNS", "STAYED", "Backtest",
           "backtest_previous", "backtest_trend", "list_premise", "realised_churn",
           "window_bookings"]

LAPSED = "lapsed"
"""Premise of a win-back list: the customer made no booking in the window."""
STAYED = "stayed"
"""Premise of a keep list: the customer booked in the window or is not churned at the cut-off."""

_BASE_PREMISES: dict[str, str | None] = {
    "member_win_back": LAPSED, "win_back_call": LAPSED, "reactivation": LAPSED,
    "vip_care": STAYED, "nurture": STAYED, "second_trip_offer": STAYED,
    "service_recovery": STAYED, "do_not_contact": None}

LIST_PREMISES: dict[str, str | None] = {
    vocab.action_name(name): premise for vocab in VOCABULARIES.values()
    for name, premise in _BASE_PREMISES.items()}
"""List (action) name -> premise (:data:`LAPSED` or :data:`STAYED`; None: a list nobody is
contacted from, skipped), for the default actions (:data:`src.decisioning.actions.DEFAULT_ACTION_RULES`)
in every vocabulary (``second_order_offer``, ``renewal_offer``)."""

PREMISE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("*win_back*", LAPSED), ("*reactivation*", LAPSED), ("second_*_offer", STAYED))
"""Fallback for names not in :data:`LIST_PREMISES` (lists of ``scoring.action_rules``):
``fnmatch`` pattern -> premise, first match wins; no match: unknown premise (skipped)."""

_PROB_COL = re.compile(r"^churn_prob_(\d+)d$")
_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-. /]")
_DAY = pd.Timedelta(days=1)
_CALIBRATION_COLUMNS = ["horizon_days", "decile", "customers", "predicted", "realised",
                        "abs_error"]
_LIST_COLUMNS = ["list", "premise", "evaluated_on", "customers", "customers_evaluated",
                 "premise_held", "precision", "booked_share", "skipped_reason"]


def _day(value: Any) -> pd.Timestamp:
    return as_timestamp(value).normalize()


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def _metric(name: str) -> str:
    """An MLflow-safe metric name (other characters -> ``_``)."""
    return _METRIC_NAME.sub("_", name)


def list_premise(name: str, premises: Mapping[str, str | None] | None = None
                 ) -> tuple[str | None, str]:
    """The premise of a list and, when there is none, why.

    Parameters
    ----------
    name : list (action) name; a ``list_`` prefix (the list file's) is ignored.
    premises : name -> premise overrides, looked up before :data:`LIST_PREMISES`.

    Returns
    -------
    (premise, reason) : premise :data:`LAPSED`, :data:`STAYED` or None; reason is empty when
        there is a premise, else says why the list is skipped.
    """
    key = name[len("list_"):] if name.startswith("list_") else name
    table = {**LIST_PREMISES, **(premises or {})}
    if key in table:
        premise = table[key]
        return premise, "" if premise else "no premise: nobody on it is contacted"
    for pattern, premise in PREMISE_PATTERNS:
        if fnmatch.fnmatchcase(key, pattern):
            return premise, ""
    return None, "unknown premise: add the list to the premises"


def window_bookings(bookings: pd.DataFrame, *, previous_cutoff: Any, cutoff: Any
                    ) -> pd.DataFrame:
    """Purchase days per customer booked in ``(previous_cutoff, cutoff]``.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``, ``amount``,
        optionally ``status`` / ``status_date``); rows after ``cutoff`` are ignored.
    previous_cutoff, cutoff : date-like, the window's ends (days).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (str), customers with >= 1 purchase in the window:
        ``realised_bookings`` (purchase days, float), ``realised_spend`` (sum of ``amount``,
        currency), ``booking_rows`` (bookings, float).
    """
    prev, cut = _day(previous_cutoff), _day(cutoff)
    rows = purchases(bookings, cut)
    rows = rows.loc[rows["booking_date"] > prev]
    g = pd.DataFrame({"day": rows["booking_date"].to_numpy(), "amount": pd.to_numeric(
        rows["amount"], errors="coerce").fillna(0.0).to_numpy(dtype=float)},
        index=pd.Index(rows["customer_id"].astype(str), name="customer_id")).groupby(level=0)
    return pd.DataFrame({"realised_bookings": g["day"].nunique().astype(float),
                         "realised_spend": g["amount"].sum(),
                         "booking_rows": g.size().astype(float)})


def realised_churn(
    bookings: pd.DataFrame | None,
    *,
    previous_cutoff: Any,
    horizon_days: int,
    gap_days: int = 365,
    definition: Literal["lapse", "membership"] = "lapse",
    customers: pd.DataFrame | None = None,
    start_col: str = "signup_date",
    cancel_col: str = "membership_cancel_date",
    member_col: str = "loyalty_member",
) -> pd.DataFrame:
    """Who churned within ``horizon_days`` after ``previous_cutoff``, by the churn model's event.

    Lapse churn: customers at risk at the previous cut-off (last completed booking less than
    ``gap_days`` old, as :func:`src.features.scoring.churn_state` says); the event is that of
    :func:`src.features.survival.lapse_survival_table` at ``previous_cutoff + horizon_days``
    on their completed bookings from the last one before the previous cut-off on: the lapse
    is established ``gap_days`` after the last booking before the first gap longer than
    ``gap_days``. For customers who never lapsed this is the event of
    :func:`src.features.survival.landmark_frame` (the churn model's training outcome); a
    customer won back after an earlier lapse is at risk again (the scorer scores them), and
    their earlier lapse is not counted again. Membership churn: members not cancelled at the
    previous cut-off, event = cancelled on/before ``previous_cutoff + horizon_days``.

    Parameters
    ----------
    bookings : contract ``bookings`` (lapse churn); only rows known at the horizon's end count.
    previous_cutoff : date-like, the landmark.
    horizon_days : days after the landmark; its end must not pass the data's cut-off.
    gap_days, definition, customers, start_col, cancel_col, member_col : the churn definition
        (``churn:`` params); ``customers`` is needed for membership churn.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (str), one row per customer at risk at ``previous_cutoff``:
        ``churned`` (int 0/1, churn established in ``(previous_cutoff, +horizon_days]``) and
        ``churn_date`` (the event's date, NaT when not churned).
    """
    prev = _day(previous_cutoff)
    end = prev + int(horizon_days) * _DAY
    if definition == "lapse":
        if bookings is None:
            raise ValueError("lapse churn needs the bookings table")
        before = lapse_survival_table(bookings, cutoff_date=prev, gap_days=gap_days)
        last = before["last_booking_date"]
        last = last.loc[is_at_risk(last.to_numpy(), prev, gap_days)]
        last.index = last.index.astype(str)
        since = bookings["customer_id"].astype(str).map(last)
        keep = (pd.to_datetime(bookings["booking_date"]).dt.normalize() >= since).to_numpy()
        after = lapse_survival_table(bookings.loc[keep], cutoff_date=end, gap_days=gap_days)
        after.index = after.index.astype(str)
        after = after.reindex(last.index)
        churn_date = after["lapse_booking_date"] + gap_days * _DAY
    elif definition == "membership":
        if customers is None:
            raise ValueError("membership churn needs the customers table")
        kw = dict(start_col=start_col, cancel_col=cancel_col, member_col=member_col)
        before = membership_survival_table(customers, cutoff_date=prev, **kw)
        alive = before.index[before[EVENT_COL] == 0].astype(str)
        after = membership_survival_table(customers, cutoff_date=end, **kw)
        after.index = after.index.astype(str)
        after = after.reindex(alive)
        churn_date = after["cancel_date"]
    else:
        raise ValueError(f"definition must be 'lapse' or 'membership', not {definition!r}")
    event = after[EVENT_COL].fillna(0).astype(int)
    out = pd.DataFrame({"churned": event.to_numpy(),
                        "churn_date": churn_date.where(event == 1).to_numpy()},
                       index=pd.Index(after.index.astype(str), name="customer_id"))
    out.attrs.update(definition=definition, previous_cutoff=str(prev.date()),
                     horizon_days=int(horizon_days), gap_days=int(gap_days))
    return out


def _bins(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Quantile groups 1..k of ``values`` (k <= n_bins); equal values share a group."""
    if len(values) == 0:
        return np.zeros(0, dtype=int)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1))[1:-1])
    raw = np.searchsorted(edges, values, side="left")
    return np.unique(raw, return_inverse=True)[1].reshape(-1) + 1


def _churn_section(previous_scored: pd.DataFrame, realised: pd.DataFrame | None, horizon: int,
                   notes: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    col = f"churn_prob_{horizon}d"
    s = previous_scored
    prob = pd.to_numeric(s[col], errors="coerce")
    active = s["churn_status"].astype(str).eq("active") if "churn_status" in s.columns \
        else pd.Series(True, index=s.index)
    pred = pd.Series(prob.loc[active & prob.notna()].to_numpy(dtype=float),
                     index=s.loc[active & prob.notna(), "customer_id"].astype(str))
    pred = pred.loc[~pred.index.duplicated(keep="last")]
    if realised is None or pred.empty:
        notes.append(f"no active customer with {col} in the previous run")
        return pd.DataFrame(columns=_CALIBRATION_COLUMNS), {}
    missing = pred.index.difference(realised.index)
    if len(missing):
        notes.append(f"{len(missing)} customers active with {col} in the previous run are not "
                     "at risk by the data at the previous cut-off (other data or churn "
                     "params?): left out of the calibration")
    pred = pred.loc[pred.index.intersection(realised.index)]
    if pred.empty:
        return pd.DataFrame(columns=_CALIBRATION_COLUMNS), {}
    y = realised["churned"].reindex(pred.index).to_numpy(dtype=float)
    p = pred.to_numpy(dtype=float)
    group = _bins(p)
    table = (pd.DataFrame({"decile": group, "p": p, "y": y}).groupby("decile")
             .agg(customers=("p", "size"), predicted=("p", "mean"), realised=("y", "mean"))
             .reset_index())
    table.insert(0, "horizon_days", int(horizon))
    table["abs_error"] = (table["predicted"] - table["realised"]).abs()
    metrics = {"backtest.churn_horizon_days": float(horizon),
               "backtest.churn_customers": float(len(p)),
               "backtest.churn_predicted_mean": float(p.mean()),
               "backtest.churn_realised_share": float(y.mean()),
               "backtest.churn_calibration_error": float(np.average(
                   table["abs_error"], weights=table["customers"])),
               "backtest.churn_brier": float(np.mean((p - y) ** 2))}
    return table, metrics


def _bookings_section(previous_scored: pd.DataFrame, window: pd.DataFrame, elapsed: int,
                      notes: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    s = previous_scored.drop_duplicates("customer_id", keep="last")
    num = {c: pd.to_numeric(s[c], errors="coerce").to_numpy(dtype=float)
           if c in s.columns else np.full(len(s), np.nan)
           for c in ("expected_bookings", "clv_horizon_days", "expected_avg_booking_value",
                     "avg_booking_value")}
    usable = np.isfinite(num["expected_bookings"]) & (num["clv_horizon_days"] > 0)
    if (~usable).any():
        notes.append(f"{int((~usable).sum())} customers of the previous run without expected "
                     "bookings (no CLV model or history): left out of bookings and spend")
    horizon = num["clv_horizon_days"][usable]
    if (horizon < elapsed).any():
        notes.append(f"{elapsed} elapsed days exceed the CLV horizon "
                     f"({int(np.nanmin(horizon))} days): expected bookings extrapolated "
                     "linearly past it")
    ids = s["customer_id"].astype(str).to_numpy()[usable]
    pred_b = num["expected_bookings"][usable] * elapsed / horizon
    value = np.where(np.isfinite(num["expected_avg_booking_value"]),
                     num["expected_avg_booking_value"], num["avg_booking_value"])[usable]
    pred_s = np.where(pred_b == 0, 0.0, pred_b * value)
    got = window.reindex(ids).fillna(0.0)
    tier = (s["value_tier"].astype(object).where(s["value_tier"].notna(), "unknown")
            if "value_tier" in s.columns else pd.Series("unknown", index=s.index))
    per = pd.DataFrame({"value_tier": tier.to_numpy()[usable], "predicted_bookings": pred_b,
                        "realised_bookings": got["realised_bookings"].to_numpy(),
                        "predicted_spend": pred_s,
                        "realised_spend": got["realised_spend"].to_numpy(),
                        "decile": _bins(pred_b)})
    if np.isnan(pred_s).any():
        notes.append(f"{int(np.isnan(pred_s).sum())} customers without a booking value: "
                     "left out of spend")
    new = window.index.difference(pd.Index(s["customer_id"].astype(str)))
    if len(new):
        notes.append(f"{int(window.loc[new, 'realised_bookings'].sum())} purchase days in the "
                     f"window by {len(new)} customers the previous run did not score "
                     "(new customers): not compared")

    def row(group_by: str, group: str, g: pd.DataFrame) -> dict[str, Any]:
        known = g["predicted_spend"].notna()
        pb, rb = float(g["predicted_bookings"].sum()), float(g["realised_bookings"].sum())
        ps = float(g.loc[known, "predicted_spend"].sum())
        rs = float(g.loc[known, "realised_spend"].sum())
        return dict(group_by=group_by, group=group, customers=int(len(g)),
                    predicted_bookings=pb, realised_bookings=rb, bookings_ratio=_ratio(rb, pb),
                    spend_customers=int(known.sum()), predicted_spend=ps, realised_spend=rs,
                    spend_ratio=_ratio(rs, ps))

    rows = [row("all", "all", per)]
    rows += [row("value_tier", str(k), g) for k, g in per.groupby("value_tier", sort=True)]
    rows += [row("decile", str(k), g) for k, g in per.groupby("decile", sort=True)]
    table = pd.DataFrame(rows)
    metrics = {f"backtest.{name}": rows[0][col] for name, col in (
        ("bookings_predicted", "predicted_bookings"), ("bookings_realised", "realised_bookings"),
        ("bookings_ratio", "bookings_ratio"), ("spend_predicted", "predicted_spend"),
        ("spend_realised", "realised_spend"), ("spend_ratio", "spend_ratio"))}
    for r in rows:
        if r["group_by"] == "value_tier":
            metrics[_metric(f"backtest.bookings_ratio.{r['group']}")] = r["bookings_ratio"]
            metrics[_metric(f"backtest.spend_ratio.{r['group']}")] = r["spend_ratio"]
    return table, metrics


def _lists_section(previous_scored: pd.DataFrame, assignments: pd.DataFrame | None,
                   booked: pd.Index, at_risk_now: pd.Index,
                   premises: Mapping[str, str | None] | None, notes: list[str]
                   ) -> tuple[pd.DataFrame, dict[str, float]]:
    if assignments is not None:
        missing = [c for c in ("customer_id", "list") if c not in assignments.columns]
        if missing:
            raise ValueError(f"assignments lack the column(s) {missing}; expected customer_id, "
                             f"list and optionally arm ('treated' / 'control'), got "
                             f"{list(assignments.columns)}")
        members = pd.DataFrame({"customer_id": assignments["customer_id"].astype(str),
                                "list": assignments["list"].astype(str)})
        has_arm = "arm" in assignments.columns
        members["control"] = (assignments["arm"].astype(str).str.lower().eq("control")
                              if has_arm else True)
    else:
        if "recommended_action" not in previous_scored.columns:
            notes.append("no recommended_action in the previous run and no assignments: "
                         "no list precision")
            return pd.DataFrame(columns=_LIST_COLUMNS), {}
        has_arm = False
        members = pd.DataFrame({"customer_id": previous_scored["customer_id"].astype(str),
                                "list": previous_scored["recommended_action"].astype(object)})
        members = members.loc[members["list"].notna()].astype({"list": str})
        members["control"] = True
    evaluated_on = "control arm" if has_arm else "whole list"
    rows, metrics = [], {}
    for name, g in members.groupby("list", sort=True):
        premise, reason = list_premise(str(name), premises)
        evaluated = g.loc[g["control"]]
        row = dict(list=name, premise=premise, evaluated_on=evaluated_on, customers=len(g),
                   customers_evaluated=len(evaluated), premise_held=np.nan, precision=np.nan,
                   booked_share=np.nan, skipped_reason=reason or None)
        if premise is not None and evaluated.empty:
            row["skipped_reason"] = f"no customer on the {evaluated_on}"
        elif premise is not None:
            ids = pd.Index(evaluated["customer_id"])
            did_book = ids.isin(booked)
            held = ~did_book if premise == LAPSED else did_book | ids.isin(at_risk_now)
            row["premise_held"] = int(held.sum())
            row["precision"] = float(held.mean())
            row["booked_share"] = float(did_book.mean())
            metrics[_metric(f"backtest.precision.{name}")] = row["precision"]
        if row["skipped_reason"]:
            notes.append(f"list {name}: skipped, {row['skipped_reason']}")
        rows.append(row)
    return (pd.DataFrame(rows) if rows else pd.DataFrame(columns=_LIST_COLUMNS)), metrics


@dataclass
class Backtest:
    """The previous run's predictions against what happened up to this cut-off.

    Attributes
    ----------
    previous_cutoff, cutoff : the two cut-offs (normalised Timestamps).
    elapsed_days : days between them.
    horizon_days : the churn horizon compared (days), None when none fits ``elapsed_days``.
    calibration : one row per decile of predicted churn probability: ``horizon_days``,
        ``decile`` (1..k, equal predictions share one), ``customers``, ``predicted`` (mean
        probability), ``realised`` (share churned), ``abs_error``; empty when no horizon fits.
    bookings_spend : rows ``group_by`` (``all`` / ``value_tier`` / ``decile`` of predicted
        bookings), ``group``, ``customers``, ``predicted_bookings`` / ``realised_bookings``
        (purchase days in the window), ``bookings_ratio`` (realised / predicted),
        ``spend_customers``, ``predicted_spend`` / ``realised_spend`` (currency),
        ``spend_ratio``.
    list_precision : one row per list: ``list``, ``premise`` (``lapsed`` / ``stayed`` /
        None), ``evaluated_on`` (``control arm`` or ``whole list``), ``customers``,
        ``customers_evaluated``, ``premise_held``, ``precision`` (share held),
        ``booked_share`` (share that booked in the window: the "stayed" premise also holds
        for anyone not yet churned, nearly everyone in a window much shorter than the
        gap), ``skipped_reason``.
    metrics : flat ``backtest.*`` metrics for MLflow.
    notes : what could not be compared, and why.
    """

    previous_cutoff: pd.Timestamp
    cutoff: pd.Timestamp
    elapsed_days: int
    horizon_days: int | None
    calibration: pd.DataFrame
    bookings_spend: pd.DataFrame
    list_precision: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One long table (``section``, ``group``, ``metric``, ``value``), written as
        ``data/backtest.csv``: sections ``calibration`` (group ``decile <k>``),
        ``bookings_spend`` (group ``all`` or ``<group_by>=<group>``), ``list_precision``
        (group: the list), ``metrics`` (group ``all``), ``notes`` (metric ``note``, the text
        as value; every other value is a number)."""
        rows: list[tuple[str, str, str, Any]] = []
        for r in self.calibration.to_dict("records"):
            rows += [("calibration", f"decile {r['decile']}", k, float(r[k]))
                     for k in ("horizon_days", "customers", "predicted", "realised", "abs_error")]
        for r in self.bookings_spend.to_dict("records"):
            group = "all" if r["group_by"] == "all" else f"{r['group_by']}={r['group']}"
            rows += [("bookings_spend", group, k, float(v)) for k, v in r.items()
                     if k not in ("group_by", "group")]
        for r in self.list_precision.to_dict("records"):
            rows += [("list_precision", str(r["list"]), k, float(r[k]))
                     for k in ("customers", "customers_evaluated", "premise_held", "precision",
                               "booked_share")]
        rows += [("metrics", "all", k, float(v)) for k, v in self.metrics.items()]
        rows += [("notes", "all", "note", n) for n in self.notes]
        return pd.DataFrame(rows, columns=["section", "group", "metric", "value"])


def backtest_previous(
    previous_scored: pd.DataFrame,
    bookings: pd.DataFrame | None,
    *,
    previous_cutoff: Any,
    cutoff: Any,
    churn_gap_days: int,
    churn_definition: Literal["lapse", "membership"] = "lapse",
    customers: pd.DataFrame | None = None,
    assignments: pd.DataFrame | None = None,
    premises: Mapping[str, str | None] | None = None,
    start_col: str = "signup_date",
    cancel_col: str = "membership_cancel_date",
    member_col: str = "loyalty_member",
) -> Backtest:
    """Back-test the previous run's scored table against the data up to ``cutoff``.

    Parameters
    ----------
    previous_scored : the previous run's scored table (``data/scored.parquet``), one row per
        customer: ``customer_id``, ``churn_status``, ``churn_prob_<h>d``, ``expected_bookings``,
        ``clv_horizon_days``, ``expected_avg_booking_value``, ``avg_booking_value``,
        ``value_tier``, ``recommended_action`` (those present are used).
    bookings : contract ``bookings`` of this run; rows after ``cutoff`` are ignored; None for
        a customers-only snapshot (membership churn; no bookings to compare).
    previous_cutoff, cutoff : date-like, the previous run's and this run's cut-offs.
    churn_gap_days, churn_definition : the churn definition (``churn.gap_days``, days;
        ``churn.definition``) the previous run's churn model was fitted with.
    customers : contract ``customers`` (needed for membership churn).
    assignments : campaign assignments of the previous run (``customer_id``, ``list``,
        optionally ``arm``: ``treated`` / ``control``); None: the ``recommended_action`` lists.
    premises : list name -> premise overrides of :data:`LIST_PREMISES`.
    start_col, cancel_col, member_col : membership columns of ``customers`` (``churn:``).

    Returns
    -------
    Backtest

    Raises
    ------
    ValueError : ``cutoff`` is not after ``previous_cutoff``, ``previous_scored`` describes
        another cut-off, or the assignments lack ``customer_id`` / ``list``.
    """
    prev, cut = _day(previous_cutoff), _day(cutoff)
    if cut <= prev:
        raise ValueError(f"cutoff {cut.date()} must be after previous_cutoff {prev.date()}")
    if "cutoff_date" in previous_scored.columns and len(previous_scored):
        dates = set(pd.to_datetime(previous_scored["cutoff_date"]).dt.normalize().dropna())
        if dates and dates != {prev}:
            raise ValueError(f"previous_scored was scored at {sorted(str(d.date()) for d in dates)}"
                             f", not at previous_cutoff {prev.date()}: pass that run's cut-off")
    elapsed = int((cut - prev).days)
    if bookings is None:
        bookings = pd.DataFrame({"customer_id": pd.Series(dtype=str), "amount": pd.Series(
            dtype=float), "booking_date": pd.Series(dtype="datetime64[ns]")})
    known = bookings.loc[(pd.to_datetime(bookings["booking_date"]) <= cut).to_numpy()]
    notes: list[str] = []
    metrics: dict[str, float] = {"backtest.elapsed_days": float(elapsed)}
    kw = dict(start_col=start_col, cancel_col=cancel_col, member_col=member_col)

    horizons = sorted(int(m.group(1)) for c in previous_scored.columns
                      if (m := _PROB_COL.match(str(c))))
    fitting = [h for h in horizons if h <= elapsed]
    horizon = fitting[-1] if fitting else None
    if horizon is None:
        notes.append(f"no churn horizon fits {elapsed} elapsed days (horizons: "
                     f"{', '.join(map(str, horizons)) or 'none'}): no churn calibration")
        calibration = pd.DataFrame(columns=_CALIBRATION_COLUMNS)
    elif churn_definition == "membership" and customers is None:
        notes.append("membership churn needs the customers table: no churn calibration")
        calibration = pd.DataFrame(columns=_CALIBRATION_COLUMNS)
    else:
        realised = realised_churn(known, previous_cutoff=prev, horizon_days=horizon,
                                  gap_days=churn_gap_days, definition=churn_definition,
                                  customers=customers, **kw)
        calibration, m = _churn_section(previous_scored, realised, horizon, notes)
        metrics.update(m)

    window = window_bookings(known, previous_cutoff=prev, cutoff=cut)
    bookings_spend, m = _bookings_section(previous_scored, window, elapsed, notes)
    metrics.update(m)

    tables = {"bookings": known}
    if customers is not None:
        tables["customers"] = customers
    settings = FeatureSettings(churn_definition=churn_definition, churn_gap_days=churn_gap_days,
                               **kw)
    state = churn_state(tables, cut, settings)
    at_risk_now = pd.Index(state.index[state["churn_at_risk"] == 1].astype(str))
    list_precision, m = _lists_section(previous_scored, assignments, window.index, at_risk_now,
                                       premises, notes)
    metrics.update(m)
    return Backtest(previous_cutoff=prev, cutoff=cut, elapsed_days=elapsed, horizon_days=horizon,
                    calibration=calibration, bookings_spend=bookings_spend,
                    list_precision=list_precision, metrics=metrics, notes=notes)


def backtest_trend(runs: Iterable[tuple[str, Any, Mapping[str, Any]]], *,
                   prefix: str | None = "backtest.") -> pd.DataFrame:
    """The back-test metrics of a job's runs as one tidy table, for plotting over time.

    Parameters
    ----------
    runs : ``(run_id, cutoff_date, metrics)`` of the job's earlier runs and this one, any
        order; ``metrics`` a flat dict (e.g. :attr:`Backtest.metrics` or the run's MLflow
        metrics).
    prefix : keep only metrics whose name starts with it (None: all).

    Returns
    -------
    pandas.DataFrame
        Columns ``run_id`` (str), ``cutoff_date`` (datetime64, day), ``metric`` (str),
        ``value`` (float), sorted by metric then cut-off; non-numeric and missing values are
        left out; a run listed twice keeps its last metrics.
    """
    rows = [(str(run_id), _day(cutoff_date), str(name), value)
            for run_id, cutoff_date, metrics in runs for name, value in metrics.items()
            if not prefix or str(name).startswith(prefix)]
    out = pd.DataFrame(rows, columns=["run_id", "cutoff_date", "metric", "value"])
    out["cutoff_date"] = pd.to_datetime(out["cutoff_date"])
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    out = out.loc[np.isfinite(out["value"])].drop_duplicates(["run_id", "metric"], keep="last")
    return out.sort_values(["metric", "cutoff_date", "run_id"], kind="stable").reset_index(drop=True)
