"""The churn workflow of a job: time split, evaluate each model kind, pick the best, refit on
the most recent landmark.

:func:`select_and_fit` is the one path from the job's ``churn:`` params to a fitted churn
model: notebook ``03_churn_survival`` calls it and plots what it returns, the scorer calls it
when a run has no churn model, and the tests call it. Nothing here plots or writes files.
Units: days for every window and horizon.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from src.data.errors import InsufficientDataError
from src.features.definitions import completed_bookings
from src.features.survival import EVENT_COL, landmark_frame, time_split
from src.models.churn.evaluation import best_model, evaluate_holdout, survival_at_horizons
from src.models.churn.model import ChurnModel, NoUsableCovariatesError

if TYPE_CHECKING:
    from src.params.schema import ChurnParams

__all__ = ["ChurnSelection", "at_risk_frame", "check_history", "fitting_windows",
           "model_from_params", "select_and_fit", "survival_columns"]

#: the holdout metric that picks the model kind (lower is better)
SELECTION_METRIC = "integrated_brier_score"

#: share of the days between a customer's bookings shorter than the suggested churn.gap_days
GAP_QUANTILE = 0.85

#: shortest window (days) suggested for the gap, the holdout and the training window
MIN_WINDOW_DAYS = 30


def _bookings(tables: Any) -> pd.DataFrame | None:
    return tables.get("bookings") if isinstance(tables, Mapping) else getattr(
        tables, "bookings", None)


def fitting_windows(bookings: pd.DataFrame, cutoff_date: Any) -> dict[str, Any]:
    """The data span and churn windows (days) that fit it.

    Parameters
    ----------
    bookings : contract ``bookings`` table; the completed bookings on/before the cut-off count.
    cutoff_date : the analysis cut-off.

    Returns
    -------
    dict
        ``first``, ``last`` (first / last completed booking date, ISO), ``span_days`` (first
        booking to the cut-off, days), ``gap_quantile_days`` (the :data:`GAP_QUANTILE`
        quantile of the days between a customer's booking days; None without a repeat
        customer) and the suggested ``gap_days``, ``holdout_days``, ``train_window_days``:
        the gap from the booking rhythm, the two windows equal and fitting beside it in the
        span (``gap + holdout <= span`` so a lapse can be established before the training
        cut-off; ``holdout + train_window < span`` so the training landmark has customers).
    """
    cutoff = pd.Timestamp(cutoff_date).normalize()
    done = completed_bookings(bookings, cutoff)
    days = pd.to_datetime(done["booking_date"]).dt.normalize()
    if days.empty:
        raise InsufficientDataError(f"no completed booking on or before the cut-off {cutoff.date()}: "
                                    "nothing to model churn on; check data.cutoff_date")
    first, last = days.min(), days.max()
    span = int((cutoff - first).days)
    per_customer = pd.DataFrame({"c": done["customer_id"].to_numpy(), "d": days.to_numpy()}) \
        .drop_duplicates().sort_values(["c", "d"])
    gaps = per_customer.groupby("c", sort=False)["d"].diff().dt.days.dropna().to_numpy()
    q = float(np.quantile(gaps, GAP_QUANTILE)) if len(gaps) else None
    room = max(MIN_WINDOW_DAYS, span - 2 * MIN_WINDOW_DAYS)
    gap = q if q is not None else span / 3
    gap = int(min(max(MIN_WINDOW_DAYS, math.ceil(gap / 10) * 10), room))
    window = int(min(365, max(MIN_WINDOW_DAYS, (span - gap) // 2 // 10 * 10)))
    return {"first": str(first.date()), "last": str(last.date()), "span_days": span,
            "gap_quantile_days": None if q is None else round(q, 1),
            "gap_days": gap, "holdout_days": window, "train_window_days": window}


def _fit_hint(w: dict[str, Any]) -> str:
    basis = (f"{w['gap_days']} days: the {GAP_QUANTILE:.0%} quantile of the days between a "
             f"customer's bookings is {w['gap_quantile_days']}"
             if w["gap_quantile_days"] is not None else
             f"{w['gap_days']} days: no customer booked twice, a third of the span")
    return (f"values that fit this data: churn.gap_days: {w['gap_days']} ({basis}), "
            f"churn.holdout_days: {w['holdout_days']}, churn.train_window_days: "
            f"{w['train_window_days']} (set them in the job's churn: section), or give more "
            "history (or drop 03_churn_survival from the job's notebooks)")


def _span_text(w: dict[str, Any], cutoff: pd.Timestamp) -> str:
    return (f"completed bookings from {w['first']} to {w['last']}, {w['span_days']} days up to "
            f"the cut-off {cutoff.date()}")


def check_history(tables: Any, params: ChurnParams, cutoff_date: Any) -> None:
    """Refuse lapse churn on a history too short for the params' windows, before any fit.

    A lapse is established ``gap_days`` after the last booking, and the holdout needs it
    before its training cut-off: the completed bookings must span at least ``gap_days +
    holdout_days`` days up to the cut-off, and the training landmark (``holdout_days +
    train_window_days`` before it) must follow the first booking.

    Raises
    ------
    InsufficientDataError : naming the span (first/last booking, days), the params keys and
        values that fit this data (:func:`fitting_windows`).
    """
    if params.definition != "lapse":
        return
    cutoff = pd.Timestamp(cutoff_date).normalize()
    w = fitting_windows(_bookings(tables), cutoff)
    problems = []
    if w["span_days"] < params.gap_days + params.holdout_days:
        problems.append(f"churn.gap_days {params.gap_days} + churn.holdout_days "
                        f"{params.holdout_days} = {params.gap_days + params.holdout_days} days")
    if w["span_days"] <= params.holdout_days + params.train_window_days:
        problems.append(f"churn.holdout_days {params.holdout_days} + churn.train_window_days "
                        f"{params.train_window_days} = "
                        f"{params.holdout_days + params.train_window_days} days")
    if problems:
        raise InsufficientDataError(
            f"lapse churn needs more history than the data hold: {_span_text(w, cutoff)}, "
            f"less than {' and '.join(problems)}; {_fit_hint(w)}")


def _no_events(tables: Any, params: ChurnParams, cutoff: pd.Timestamp, frame: str,
               rows: int) -> InsufficientDataError:
    bookings = _bookings(tables)
    if bookings is None:  # a snapshot without bookings: no span to measure
        return InsufficientDataError(
            f"no churn events to model in the {frame} ({rows} customers at its landmark) within "
            f"churn.train_window_days {params.train_window_days} (holdout churn.holdout_days "
            f"{params.holdout_days}); shorten them or give more history")
    w = fitting_windows(bookings, cutoff)
    what = ("no customer lapsed (no gap longer than churn.gap_days "
            f"{params.gap_days})" if params.definition == "lapse"
            else "no member cancelled")
    hint = (_fit_hint(w) if params.definition == "lapse" else
            f"values that fit this data: churn.holdout_days: {w['holdout_days']}, "
            f"churn.train_window_days: {w['train_window_days']}, or give more history")
    return InsufficientDataError(
        f"no churn events to model in the {frame} ({rows} customers at its landmark): {what} "
        f"within churn.train_window_days {params.train_window_days} (holdout "
        f"churn.holdout_days {params.holdout_days}); {_span_text(w, cutoff)}; {hint}")


def survival_columns(params: ChurnParams) -> dict[str, Any]:
    """The churn definition keywords of the survival-table builders (``definition``,
    ``gap_days``, ``start_col``, ``cancel_col``, ``member_col``) from the params."""
    return dict(definition=params.definition, gap_days=params.gap_days,
                start_col=params.start_col, cancel_col=params.cancel_col,
                member_col=params.member_col)


def model_from_params(kind: str, params: ChurnParams, covariates: list[str], seed: int
                      ) -> ChurnModel:
    """An unfitted :class:`ChurnModel` of ``kind`` with the job's settings."""
    return ChurnModel(kind=kind, covariates=covariates, strata=params.strata or None,
                      strata_bins=params.strata_bins or None, penalizers=tuple(params.penalizers),
                      sample_size=params.sample_size, seed=seed,
                      horizons_days=tuple(params.horizons_days))


@dataclass
class ChurnSelection:
    """What :func:`select_and_fit` found.

    Attributes
    ----------
    train_cutoff : end of the training data of the holdout (cut-off − ``holdout_days``).
    train, test : the holdout's survival frames (fitted on ``train``, judged on ``test``).
    covariates : the params' covariates present in the data.
    evaluations : ``{kind: evaluate_holdout(...)}`` for every kind in ``churn.models``.
    comparison : the holdout tables of all kinds stacked (index: fitted kind, model).
    best : the kind with the lowest holdout integrated Brier score.
    recent : the landmark frame of the final fit (customers alive one training window
        before the cut-off, outcome up to the cut-off).
    model : the final :class:`ChurnModel` of kind ``best``, fitted on ``recent``.
    survival_at_horizons : observed and predicted survival at ``horizons_days`` on the
        holdout (:func:`~src.models.churn.evaluation.survival_at_horizons`): Kaplan-Meier
        ``km`` of the test customers h days after the test landmark (with its interval) and
        each kind's mean predicted survival (fitted on ``train``).
    metrics : flat holdout metrics for MLflow (``holdout.<kind>_<metric>``), the best kind,
        the gate metrics ``churn_concordance`` / ``churn_integrated_brier_score``, and the
        survival at the horizons ``km.survival_<h>d`` (observed, while followed up) and
        ``<kind>.survival_<h>d`` (mean predicted); ``churn_km_fallback`` 1.0 when no kind of
        ``churn.models`` had a usable covariate and Kaplan-Meier was fitted instead.
    notes : what was done differently from the params, and why (e.g. the fallback to
        Kaplan-Meier); also issued as warnings, so the notebook shows them.
    unevaluated_horizons : ``churn.horizons_days`` (days) outside the follow-up the holdout
        can judge (at or beyond the last churn seen in the test window, at most
        ``holdout_days``): left out of the holdout metrics (``dropped_horizons`` of
        :func:`~src.models.churn.evaluation.evaluate_holdout`), still exported by the scorer
        as ``churn_prob_<h>d``; notebook 03 names them.
    """

    train_cutoff: pd.Timestamp
    train: pd.DataFrame
    test: pd.DataFrame
    covariates: list[str]
    evaluations: dict[str, dict[str, Any]]
    comparison: pd.DataFrame
    best: str
    recent: pd.DataFrame
    model: ChurnModel
    survival_at_horizons: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unevaluated_horizons: list[int] = field(default_factory=list)


def select_and_fit(tables: Any, params: ChurnParams, cutoff_date: Any, *, seed: int = 0
                   ) -> ChurnSelection:
    """Time split -> evaluate each kind of ``params.models`` -> pick the best -> refit.

    Parameters
    ----------
    tables : contract tables by name (bookings; customers for membership churn).
    params : the job's ``churn:`` section.
    cutoff_date : the analysis cut-off; nothing after it is read.
    seed : seed of the fitting samples and folds.

    Returns
    -------
    ChurnSelection

    Raises
    ------
    InsufficientDataError : the history is too short for the windows, or no customer churned
        in the training or final-fit window; the message names the data span, the
        ``churn.*`` keys and values that fit the data.
    """
    cutoff = pd.Timestamp(cutoff_date).normalize()
    check_history(tables, params, cutoff)
    columns = survival_columns(params)
    train_cutoff = cutoff - timedelta(days=params.holdout_days)
    train, test = time_split(tables, train_cutoff=train_cutoff, test_cutoff=cutoff,
                             train_window_days=params.train_window_days,
                             time_origin=params.time_origin, **columns)
    if not (train[EVENT_COL] > 0).any():
        raise _no_events(tables, params, cutoff, "holdout's training frame", len(train))
    covariates = [c for c in params.covariates if c in train.columns]
    fitted: dict[str, ChurnModel] = {}
    evaluations: dict[str, dict[str, Any]] = {}
    unusable: dict[str, str] = {}
    for kind in params.models:
        candidate = model_from_params(kind, params, covariates, seed)
        try:
            evaluations[kind] = evaluate_holdout(candidate, train, test,
                                                 horizons_days=params.horizons_days)
        except NoUsableCovariatesError as exc:
            unusable[kind] = exc.message
            continue
        fitted[kind] = candidate
    notes: list[str] = []
    if unusable:
        reason = next(iter(unusable.values()))
        if fitted:
            notes.append(f"churn.models {sorted(unusable)} skipped: {reason}")
        else:
            notes.append(f"no usable covariates for churn.models {list(params.models)} "
                         f"({reason}): Kaplan-Meier (km, no covariates) fitted instead; "
                         "add km to churn.models to choose it, or give covariates that vary")
            candidate = model_from_params("km", params, covariates, seed)
            evaluations["km"] = evaluate_holdout(candidate, train, test,
                                                 horizons_days=params.horizons_days)
            fitted["km"] = candidate
    at_horizons = survival_at_horizons(fitted, test, params.horizons_days)
    comparison = pd.concat({k: e["table"] for k, e in evaluations.items()}, names=["fitted"])
    best = best_model(evaluations, SELECTION_METRIC)
    recent = landmark_frame(tables, landmark_date=cutoff - timedelta(days=params.train_window_days),
                            end_date=cutoff, time_origin=params.time_origin, **columns)
    if not (recent[EVENT_COL] > 0).any():
        raise _no_events(tables, params, cutoff, "final fit's frame", len(recent))
    try:
        model = model_from_params(best, params, covariates, seed).fit(recent)
    except NoUsableCovariatesError as exc:
        notes.append(f"final fit: {exc}; Kaplan-Meier (km) fitted instead")
        model = model_from_params("km", params, covariates, seed).fit(recent)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    metrics: dict[str, float] = {}
    for e in evaluations.values():
        metrics.update({f"holdout.{k}": float(v) for k, v in e["metrics"].items()})
    metrics.update({f"best_is_{k}": float(k == best) for k in fitted})
    metrics["churn_km_fallback"] = float(model.kind == "km" and "km" not in params.models)
    for metric in ("concordance", SELECTION_METRIC):  # the promotion gates' names
        if f"holdout.{best}_{metric}" in metrics:
            metrics[f"churn_{metric}"] = metrics[f"holdout.{best}_{metric}"]
    metrics.update({"final_fit.rows_available": model.n_input_,
                    "final_fit.rows_fitted": model.n_fit_})
    for h, row in at_horizons.iterrows():
        for name in ["km", *fitted]:
            if pd.notna(row[name]):
                metrics[f"{name}.survival_{h}d"] = float(row[name])
    return ChurnSelection(train_cutoff=train_cutoff, train=train, test=test,
                          covariates=covariates, evaluations=evaluations, comparison=comparison,
                          best=best, recent=recent, model=model,
                          survival_at_horizons=at_horizons, metrics=metrics, notes=notes,
                          unevaluated_horizons=sorted({h for e in evaluations.values()
                                                       for h in e["dropped_horizons"]}))


def at_risk_frame(tables: Any, params: ChurnParams, cutoff_date: Any) -> pd.DataFrame:
    """The customers at risk at the cut-off with their covariates then (the landmark frame at
    the cut-off, no outcome): what :meth:`ChurnModel.predict` scores for churn probabilities
    and remaining lifetime (days)."""
    return landmark_frame(tables, landmark_date=pd.Timestamp(cutoff_date).normalize(),
                          end_date=None, time_origin=params.time_origin,
                          **survival_columns(params))
