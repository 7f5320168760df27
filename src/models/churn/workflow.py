"""The churn workflow of a job: time split, evaluate each model kind, pick the best, refit on
the most recent landmark.

:func:`select_and_fit` is the one path from the job's ``churn:`` params to a fitted churn
model: notebook ``03_churn_survival`` calls it and plots what it returns, the scorer calls it
when a run has no churn model, and the tests call it. Nothing here plots or writes files.
Units: days for every window and horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from src.features.survival import landmark_frame, time_split
from src.models.churn.evaluation import best_model, evaluate_holdout, survival_at_horizons
from src.models.churn.model import ChurnModel

if TYPE_CHECKING:
    from src.params.schema import ChurnParams

__all__ = ["ChurnSelection", "model_from_params", "at_risk_frame", "select_and_fit",
           "survival_columns"]

#: the holdout metric that picks the model kind (lower is better)
SELECTION_METRIC = "integrated_brier_score"


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
        ``<kind>.survival_<h>d`` (mean predicted).
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
    """
    cutoff = pd.Timestamp(cutoff_date).normalize()
    columns = survival_columns(params)
    train_cutoff = cutoff - timedelta(days=params.holdout_days)
    train, test = time_split(tables, train_cutoff=train_cutoff, test_cutoff=cutoff,
                             train_window_days=params.train_window_days,
                             time_origin=params.time_origin, **columns)
    covariates = [c for c in params.covariates if c in train.columns]
    fitted = {kind: model_from_params(kind, params, covariates, seed) for kind in params.models}
    evaluations = {kind: evaluate_holdout(m, train, test, horizons_days=params.horizons_days)
                   for kind, m in fitted.items()}
    at_horizons = survival_at_horizons(fitted, test, params.horizons_days)
    comparison = pd.concat({k: e["table"] for k, e in evaluations.items()}, names=["fitted"])
    best = best_model(evaluations, SELECTION_METRIC)
    recent = landmark_frame(tables, landmark_date=cutoff - timedelta(days=params.train_window_days),
                            end_date=cutoff, time_origin=params.time_origin, **columns)
    model = model_from_params(best, params, covariates, seed).fit(recent)
    metrics: dict[str, float] = {}
    for e in evaluations.values():
        metrics.update({f"holdout.{k}": float(v) for k, v in e["metrics"].items()})
    metrics.update({f"best_is_{k}": float(k == best) for k in params.models})
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
                          survival_at_horizons=at_horizons, metrics=metrics)


def at_risk_frame(tables: Any, params: ChurnParams, cutoff_date: Any) -> pd.DataFrame:
    """The customers at risk at the cut-off with their covariates then (the landmark frame at
    the cut-off, no outcome): what :meth:`ChurnModel.predict` scores for churn probabilities
    and remaining lifetime (days)."""
    return landmark_frame(tables, landmark_date=pd.Timestamp(cutoff_date).normalize(),
                          end_date=None, time_origin=params.time_origin,
                          **survival_columns(params))
