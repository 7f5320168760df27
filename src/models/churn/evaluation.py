"""Time-based holdout evaluation of churn models; times and horizons in days since entry.

:func:`evaluate_holdout` scores a :class:`~src.models.churn.model.ChurnModel` and a
Kaplan-Meier-only baseline on the later outcomes of a test landmark frame: Harrell's
concordance (lifelines), the integrated Brier score, the time-dependent AUC and the Brier
score at the horizons (scikit-survival, IPCW with the training censoring distribution), and
calibration by decile of predicted churn probability against Kaplan-Meier observed churn.
Times are days since each customer's entry into the frame (the landmark).
:func:`survival_at_horizons` sets the observed Kaplan-Meier survival of the test frame at the
horizons beside each fitted model's mean predicted survival there, and :func:`best_model`
picks the model kind with the lowest holdout metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from src.features.survival import AGE_COL, DURATION_COL, ENTRY_COL, EVENT_COL
from src.models.churn.cox import concordance
from src.models.churn.km import km_survival_at
from src.models.churn.model import ChurnModel


def _relative(df: pd.DataFrame) -> np.ndarray:
    t = df[DURATION_COL].to_numpy(dtype=np.float64)
    if ENTRY_COL in df.columns:
        t = t - df[ENTRY_COL].to_numpy(dtype=np.float64)
    return t


def _decile_calibration(pred: np.ndarray, t: np.ndarray, e: np.ndarray, horizon: float,
                        n_bins: int = 10) -> pd.DataFrame:
    from lifelines import KaplanMeierFitter

    # quantile bins of the prediction; equal predictions share a bin (a constant predictor
    # has one bin, not ten arbitrary ones)
    edges = np.unique(np.quantile(pred, np.linspace(0, 1, n_bins + 1))[1:-1])
    bins = np.searchsorted(edges, pred, side="left")
    rows = []
    for b in range(len(edges) + 1):
        m = bins == b
        if not m.any():
            continue
        km = KaplanMeierFitter().fit(t[m], e[m])
        obs = 1.0 - float(km.survival_function_at_times(horizon).iloc[0])
        rows.append(
            dict(decile=len(rows) + 1, customers=int(m.sum()), predicted=float(pred[m].mean()),
                 observed=obs)
        )
    return pd.DataFrame(rows)


def evaluate_holdout(
    model: ChurnModel,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    *,
    horizons_days: Sequence[int],
    n_times: int = 20,
) -> dict[str, Any]:
    """Time-based holdout: the model and a Kaplan-Meier-only baseline on later outcomes.

    Times are measured from each customer's entry into the frame (the landmark), and the
    predictions are conditional on survival to ``entry_days``. Harrell's concordance (risk =
    churn probability at the longest evaluable horizon) is computed by lifelines'
    ``concordance_index``: the same number as scikit-survival's
    ``concordance_index_censored`` (tested), in O(n log n) instead of O(n^2) (70 s at 200k
    customers). The other metrics come from scikit-survival: the integrated Brier score
    (``integrated_brier_score``, IPCW with the training censoring distribution) over
    ``n_times`` times, the time-dependent AUC (``cumulative_dynamic_auc``) at the horizons
    and over time, and the Brier score at the horizons. Calibration at each horizon: test
    customers in deciles of predicted churn probability, observed churn = 1 - Kaplan-Meier
    within the decile; ``calibration_error`` = customer-weighted mean |predicted -
    observed| (lifelines' ``survival_probability_calibration`` fits a single time origin
    without late entry, hence deciles here).

    Parameters
    ----------
    model : a :class:`ChurnModel`; fitted on ``train_df`` here if it is not fitted.
    train_df, test_df : survival frames (see :func:`time_split`).
    horizons_days : horizons (days after entry) for AUC, Brier and calibration; those beyond
        the test follow-up are dropped (named in ``dropped_horizons``).
    n_times : evaluation times for the integrated Brier score and the curves.

    Returns
    -------
    dict
        ``models`` -> {name: {concordance, integrated_brier_score, mean_auc,
        auc_<h>d, brier_<h>d, calibration_error_<h>d}}, ``table`` (DataFrame, a row per
        model), ``winner`` ({metric: model name}), ``calibration`` ({name: DataFrame with
        horizon_days, decile, customers, predicted, observed}), ``curves`` (DataFrame:
        model, time_days, brier, auc), ``times``, ``horizons_days``, ``dropped_horizons``,
        ``metrics`` (flat {"<model>_<metric>": float} for MLflow).
    """
    from sksurv.metrics import brier_score, cumulative_dynamic_auc, integrated_brier_score
    from sksurv.util import Surv

    if not hasattr(model, "fitter_"):
        model.fit(train_df)
    baseline = ChurnModel("km", seed=model.seed).fit(train_df) if model.kind != "km" else model
    t_tr, e_tr = _relative(train_df), train_df[EVENT_COL].to_numpy() > 0
    t_te, e_te = _relative(test_df), test_df[EVENT_COL].to_numpy() > 0
    # evaluable times: inside the test follow-up and where the training censoring
    # distribution (the IPCW weights) is still positive
    hi = min(np.max(t_te[e_te]) if e_te.any() else t_te.max(), t_tr.max()) - 1.0
    lo = max(np.min(t_te), 1.0)
    horizons = [int(h) for h in horizons_days if lo <= h <= hi]
    dropped = [int(h) for h in horizons_days if int(h) not in horizons]
    times = np.unique(np.r_[np.linspace(lo, hi, n_times), horizons])
    # outcomes after the last evaluation time do not enter time-dependent metrics: censor
    # them just after it, so the IPCW weights are never evaluated where they vanish
    cap = hi + 0.5
    y_tr = Surv.from_arrays(e_tr, t_tr)
    y_te = Surv.from_arrays(e_te & (t_te <= cap), np.minimum(t_te, cap))

    # predictions condition on survival to the entry age (time origin = start), or start
    # at the landmark itself (no entry column)
    score_df = test_df.copy()
    score_df[AGE_COL] = score_df[ENTRY_COL] if ENTRY_COL in score_df.columns else 0.0
    results: dict[str, dict[str, float]] = {}
    calib: dict[str, pd.DataFrame] = {}
    curves = []
    candidates = [(model.kind, model)] + ([("km", baseline)] if model.kind != "km" else [])
    for label, m in candidates:
        surv = m.survival_at(score_df, times)
        churn = 1.0 - surv
        risk_h = churn[:, np.searchsorted(times, max(horizons))] if horizons else churn[:, -1]
        r: dict[str, float] = {}
        r["concordance"] = concordance(t_te, -risk_h, e_te)
        r["integrated_brier_score"] = float(integrated_brier_score(y_tr, y_te, surv, times))
        _, bs = brier_score(y_tr, y_te, surv, times)
        try:
            auc_t, mean_auc = cumulative_dynamic_auc(y_tr, y_te, churn, times)
        except ValueError:
            auc_t, mean_auc = np.full(len(times), np.nan), np.nan
        r["mean_auc"] = float(mean_auc)
        cal_parts = []
        for h in horizons:
            j = int(np.searchsorted(times, h))
            r[f"auc_{h}d"] = float(auc_t[j])
            r[f"brier_{h}d"] = float(bs[j])
            cal = _decile_calibration(churn[:, j], t_te, e_te, h)
            r[f"calibration_error_{h}d"] = float(
                np.average(np.abs(cal["predicted"] - cal["observed"]), weights=cal["customers"])
            )
            cal_parts.append(cal.assign(horizon_days=h))
        results[label] = r
        calib[label] = pd.concat(cal_parts, ignore_index=True) if cal_parts else pd.DataFrame()
        curves.append(pd.DataFrame({"model": label, "time_days": times, "brier": bs, "auc": auc_t}))
    table = pd.DataFrame(results).T
    lower_better = {"integrated_brier_score"} | {c for c in table.columns
                                                 if c.startswith(("brier_", "calibration_error_"))}
    winner = {
        c: (table[c].idxmin() if c in lower_better else table[c].idxmax())
        for c in table.columns if table[c].notna().any()
    }
    metrics = {f"{m}_{k}": v for m, row in results.items() for k, v in row.items()}
    return dict(
        models=results, table=table, winner=winner, calibration=calib,
        curves=pd.concat(curves, ignore_index=True), times=times, horizons_days=horizons,
        dropped_horizons=dropped, metrics=metrics,
    )


def survival_at_horizons(models: Mapping[str, ChurnModel], test_df: pd.DataFrame,
                         horizons_days: Sequence[int]) -> pd.DataFrame:
    """Observed and predicted survival at the horizons on a test landmark frame.

    Parameters
    ----------
    models : fitted models by name (e.g. ``{kind: model fitted on the training frame}``).
    test_df : a landmark frame with outcomes (see :func:`time_split`).
    horizons_days : days after the landmark.

    Returns
    -------
    pandas.DataFrame
        Index ``horizon_days``: ``km`` (Kaplan-Meier share of the test customers not churned
        h days after the landmark; NaN beyond the follow-up), ``km_lower_95``,
        ``km_upper_95``, ``at_risk``, and one column per model: its mean predicted survival
        ``S(age + h) / S(age)`` over the same customers (what calibration-in-the-large
        compares with ``km``).
    """
    hs = [int(h) for h in horizons_days]
    rel = pd.DataFrame({DURATION_COL: _relative(test_df), EVENT_COL: test_df[EVENT_COL]})
    km = km_survival_at(rel, hs, entry_col=None)
    out = pd.DataFrame({"km": km["survival"].to_numpy(), "km_lower_95": km["lower_95"].to_numpy(),
                        "km_upper_95": km["upper_95"].to_numpy(),
                        "at_risk": km["at_risk"].to_numpy()},
                       index=pd.Index(hs, name="horizon_days"))
    score_df = test_df.copy()
    score_df[AGE_COL] = score_df[ENTRY_COL] if ENTRY_COL in score_df.columns else 0.0
    for name, m in models.items():
        out[name] = m.survival_at(score_df, hs).mean(axis=0)
    return out


def best_model(evaluations: Mapping[str, Mapping[str, Any]],
               metric: str = "integrated_brier_score") -> str:
    """The fitted model kind with the lowest holdout ``metric`` (lower is better).

    Parameters
    ----------
    evaluations : ``{kind: evaluate_holdout(...)}``; each result's ``table`` is indexed by model
        name (the kind and the KM baseline).
    """
    scores = {kind: float(e["table"].loc[kind, metric]) if kind in e["table"].index else float("inf")
              for kind, e in evaluations.items()}
    return min(scores, key=scores.get)
