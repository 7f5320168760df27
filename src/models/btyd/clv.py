"""Loyalty and lifetime value per customer: BG/NBD + Gamma-Gamma on a booking history.

:class:`CLVModel` is the one object the loyalty notebook, the scorer and the CLI use: it
turns the BTYD summary of each customer (frequency, recency, T, monetary value at a cut-off)
into the numbers marketers expect — P(alive), expected bookings and discounted CLV over a
horizon, expected average booking value, average days between bookings, an expected next
booking date and an explicit "not enough history" flag with its reason.

Units: ``time_unit_days`` is the length of the models' time unit in days (1 for travel data,
7 for CDNOW's weeks); every column the model returns is in days or currency.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from src.data.errors import InsufficientDataError
from src.features.rfm_summary import summary_at
from src.models.base import ProjectModel
from src.models.btyd import BGNBD, GammaGamma, customer_lifetime_value

if TYPE_CHECKING:
    from src.params.schema import LoyaltyParams


@dataclass
class CLVSettings:
    """Settings of :class:`CLVModel` (all from params).

    time_unit_days : model time unit in days (1 = days, 7 = weeks).
    horizon_days : prediction horizon for expected bookings and CLV (days).
    discount_rate_annual : yearly discount rate of future revenue (0.10 = 10 %).
    period_days : CLV discounting period (days; default a month).
    penalizer : L2 penalty of both fits (0 = maximum likelihood).
    min_history_days : customers first seen less than this before the cut-off are flagged
        ``insufficient_history`` (their prediction is the population prior).
    next_booking_min_p_alive : below this P(alive) no next booking date is given.
    """

    time_unit_days: float = 1.0
    horizon_days: int = 365
    discount_rate_annual: float = 0.10
    period_days: float = 30.4375
    penalizer: float = 0.0
    min_history_days: int = 30
    next_booking_min_p_alive: float = 0.2


def settings_from_params(params: LoyaltyParams) -> CLVSettings:
    """:class:`CLVSettings` from the job's ``loyalty:`` section (same names, same units)."""
    return CLVSettings(**params.model_dump(include=set(CLVSettings.__dataclass_fields__)))


class CLVModel(ProjectModel):
    """BG/NBD + Gamma-Gamma with the outputs marketing uses.

    Parameters
    ----------
    settings : :class:`CLVSettings` (or keyword arguments of it).

    Attributes
    ----------
    bgnbd_ : fitted :class:`~src.models.btyd.BGNBD`.
    gamma_gamma_ : fitted :class:`~src.models.btyd.GammaGamma` (``None`` without amounts,
        with fewer than 10 repeat customers, or when its fit has no population mean spend).
    skipped_ : part -> why it was not used (``{"gamma_gamma": "... q = 0.166 <= 1 ..."}``):
        the predictions then have no expected booking value and no CLV, the rest stands.
    n_customers_ : customers in the fit.
    """

    _fitted_attribute = "bgnbd_"

    def __init__(self, settings: CLVSettings | None = None, **kwargs: Any):
        self.settings = settings or CLVSettings(**kwargs)

    # -- fitting ------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame) -> CLVModel:
        """Fit both models on a BTYD summary (columns frequency, recency, T [, monetary_value]
        in the model's time unit, one row per customer)."""
        s = self.settings
        repeaters = int((summary["frequency"] > 0).sum())
        if len(summary) < 2 or repeaters < 2:
            raise InsufficientDataError(
                f"BG/NBD needs customers with repeat purchases: {len(summary)} customers, "
                f"{repeaters} with a repeat purchase in the fitting period; extend the history "
                "(an earlier start date or a later calibration end)")
        self.bgnbd_ = BGNBD(penalizer=s.penalizer).fit_summary(summary)
        self.gamma_gamma_ = None
        self.skipped_: dict[str, str] = {}
        if "monetary_value" in summary.columns:
            repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
            if len(repeat) >= 10:
                gg = GammaGamma(penalizer=s.penalizer).fit(
                    repeat["frequency"], repeat["monetary_value"])
                q = gg.params_["q"]
                if q > 1:
                    self.gamma_gamma_ = gg
                else:  # E[spend] = p v / (q - 1) does not exist: no value is better than a wrong one
                    self.skipped_["gamma_gamma"] = (
                        f"Gamma-Gamma skipped: q = {q:.3g} <= 1, so the population mean spend "
                        "does not exist (spend too heavy-tailed for the model"
                        + (f", or the penalizer {s.penalizer:g} pulled q to 1" if s.penalizer
                           else "") + "); no expected booking value and no CLV this run, "
                        "the BG/NBD predictions stand")
                    warnings.warn(self.skipped_["gamma_gamma"], RuntimeWarning, stacklevel=2)
        self.n_customers_ = len(summary)
        return self

    # -- scoring ------------------------------------------------------------------------
    def predict(self, summary: pd.DataFrame, *, cutoff_date: Any | None = None) -> pd.DataFrame:
        """Per-customer predictions.

        Parameters
        ----------
        summary : BTYD summary at the cut-off (index customer_id; frequency, recency, T in the
            model's time unit; monetary_value in currency, optional).
        cutoff_date : date the summary was taken at; needed for ``expected_next_booking_date``.

        Returns
        -------
        DataFrame (index customer_id) with p_alive, expected_bookings (within horizon_days),
        expected_avg_booking_value (currency), clv (currency, discounted, horizon_days),
        avg_days_between_bookings, expected_days_to_next_booking, expected_next_booking_date,
        insufficient_history (bool) and insufficient_history_reason.
        """
        self.check_fitted()
        s = self.settings
        x = summary["frequency"].to_numpy(dtype=float)
        tx = summary["recency"].to_numpy(dtype=float)
        T = summary["T"].to_numpy(dtype=float)
        horizon = s.horizon_days / s.time_unit_days
        out = pd.DataFrame(index=summary.index)
        out["p_alive"] = self.bgnbd_.conditional_probability_alive(x, tx, T)
        out["expected_bookings"] = self.bgnbd_.conditional_expected_number_of_purchases_up_to_time(
            horizon, x, tx, T)
        if self.gamma_gamma_ is not None:
            m = summary["monetary_value"].to_numpy(dtype=float)
            m = np.where((x > 0) & (m > 0), m, 0.0)
            xs = np.where(m > 0, x, 0.0)
            out["expected_avg_booking_value"] = self.gamma_gamma_.conditional_expected_average_profit(xs, m)
            n_periods = max(1, math.ceil(s.horizon_days / s.period_days))
            rate = (1.0 + s.discount_rate_annual) ** (s.period_days / 365.25) - 1.0
            out["clv"] = customer_lifetime_value(
                self.bgnbd_, self.gamma_gamma_, x, tx, T, m, horizon_periods=n_periods,
                period_length=s.period_days / s.time_unit_days, discount_rate_per_period=rate)
        else:
            out["expected_avg_booking_value"] = np.nan
            out["clv"] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            out["avg_days_between_bookings"] = np.where(x > 0, tx / np.maximum(x, 1) * s.time_unit_days, np.nan)
        # posterior mean of the waiting time 1/lambda given alive: (alpha+T)/(r+x-1), r+x > 1
        r, alpha = self.bgnbd_.params_["r"], self.bgnbd_.params_["alpha"]
        with np.errstate(divide="ignore", invalid="ignore"):
            wait = np.where(r + x > 1, (alpha + T) / (r + x - 1.0), np.nan) * s.time_unit_days
        wait = np.where(out["p_alive"].to_numpy() >= s.next_booking_min_p_alive, wait, np.nan)
        out["expected_days_to_next_booking"] = wait
        if cutoff_date is not None:
            out["expected_next_booking_date"] = pd.Timestamp(cutoff_date).normalize() + pd.to_timedelta(
                np.round(wait), unit="D")
        age_days = T * s.time_unit_days
        reason = np.where(age_days < s.min_history_days,
                          f"first booking less than {s.min_history_days} days before the cut-off", "")
        out["insufficient_history"] = reason != ""
        out["insufficient_history_reason"] = reason
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Both models' parameter tables stacked (model, parameter, coef, se, ci)."""
        self.check_fitted()
        parts = [self.bgnbd_.summary.assign(model="bg_nbd")]
        if self.gamma_gamma_ is not None:
            parts.append(self.gamma_gamma_.summary.assign(model="gamma_gamma"))
        return pd.concat(parts).reset_index(names="parameter").set_index(["model", "parameter"])


# ---------------------------------------------------------------------------------------------
# the workflow: validate on a holdout period, then fit on the whole history
# ---------------------------------------------------------------------------------------------
@dataclass
class CLVValidation:
    """What :func:`validate_and_fit` found.

    Attributes
    ----------
    calibration_end : end of the calibration period of the holdout check.
    calibration : BTYD summary with the holdout columns (``frequency_holdout``, ...), in
        the model's time unit.
    validation_model : :class:`CLVModel` fitted on the calibration period only.
    holdout : :func:`holdout_metrics` of ``validation_model`` (repeat purchases, currency).
    summary : BTYD summary of the whole history at the cut-off.
    model : the final :class:`CLVModel`, fitted on ``summary``.
    metrics : flat metrics for MLflow, including the promotion gates' names
        ``clv_holdout_mae_per_customer`` and ``clv_holdout_abs_aggregate_pct_error``.
    """

    calibration_end: pd.Timestamp
    calibration: pd.DataFrame
    validation_model: CLVModel
    holdout: dict[str, float]
    summary: pd.DataFrame
    model: CLVModel
    metrics: dict[str, float] = field(default_factory=dict)


def validate_and_fit(bookings: pd.DataFrame, params: LoyaltyParams, cutoff_date: Any
                     ) -> CLVValidation:
    """Calibration/holdout validation, then the fit on the whole history: the one path from
    the job's ``loyalty:`` params to a fitted CLV model (notebook 04, the scorer, the tests).

    The calibration period ends at ``params.calibration_end`` (default: cut-off −
    ``holdout_days``); the validation model is fitted on it alone and judged on the
    holdout up to the cut-off; the final model is fitted on everything up to the cut-off.
    """
    cutoff = pd.Timestamp(cutoff_date).normalize()
    settings = settings_from_params(params)
    calibration_end = pd.Timestamp(params.calibration_end
                                   or cutoff - timedelta(days=params.holdout_days))
    calibration = summary_at(bookings, cutoff, time_unit_days=settings.time_unit_days,
                             calibration_end=calibration_end)
    validation_model = CLVModel(settings).fit(calibration)
    holdout = holdout_metrics(validation_model, calibration)
    summary = summary_at(bookings, cutoff, time_unit_days=settings.time_unit_days)
    model = CLVModel(settings).fit(summary)
    metrics = {f"calibration.{m}.{p}": float(v)
               for (m, p), v in validation_model.summary["coef"].items()}
    metrics["calibration.bg_nbd.log_likelihood"] = validation_model.bgnbd_.log_likelihood_
    metrics.update(holdout)
    metrics["clv_holdout_mae_per_customer"] = holdout["holdout_mae_per_customer"]
    metrics["clv_holdout_abs_aggregate_pct_error"] = abs(holdout["holdout_aggregate_pct_error"])
    # fit diagnostics (LogParamMLE.fit_problems): a parameter at a bound, a non-finite
    # standard error or no convergence; clv_fit_problems is a promotion gate (must be 0)
    for key, fitted in (("clv_fit_problems", model), ("calibration.fit_problems", validation_model)):
        metrics[key] = float(sum(len(part.fit_problems()) for part in
                                 (fitted.bgnbd_, fitted.gamma_gamma_) if part is not None))
    return CLVValidation(calibration_end=calibration_end, calibration=calibration,
                         validation_model=validation_model, holdout=holdout, summary=summary,
                         model=model, metrics=metrics)


# ---------------------------------------------------------------------------------------------
# validation against a holdout period
# ---------------------------------------------------------------------------------------------
def holdout_predictions(model: CLVModel, cal_holdout: pd.DataFrame) -> pd.Series:
    """Expected repeat purchases of each customer over their holdout duration (time units)."""
    d = cal_holdout["duration_holdout"].to_numpy(dtype=float)
    x, tx, T = (cal_holdout[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    durations = np.unique(d)
    pred = np.empty(len(d))
    for dur in durations:  # one duration for a fixed calendar split; loop over distinct values
        mask = d == dur
        pred[mask] = model.bgnbd_.conditional_expected_number_of_purchases_up_to_time(
            dur, x[mask], tx[mask], T[mask])
    return pd.Series(pred, index=cal_holdout.index, name="predicted_holdout")


def holdout_metrics(model: CLVModel, cal_holdout: pd.DataFrame) -> dict[str, float]:
    """Holdout errors: MAE and RMSE per customer (repeat purchases), aggregate % error,
    and the same for Gamma-Gamma spend on customers with holdout purchases (currency)."""
    pred = holdout_predictions(model, cal_holdout).to_numpy()
    actual = cal_holdout["frequency_holdout"].to_numpy(dtype=float)
    out = {
        "holdout_customers": float(len(actual)),
        "holdout_actual_repeat_total": float(actual.sum()),
        "holdout_predicted_repeat_total": float(pred.sum()),
        "holdout_mae_per_customer": float(np.mean(np.abs(pred - actual))),
        "holdout_rmse_per_customer": float(np.sqrt(np.mean((pred - actual) ** 2))),
        "holdout_aggregate_pct_error": float(100 * (pred.sum() - actual.sum()) / max(actual.sum(), 1e-12)),
    }
    if model.gamma_gamma_ is not None and "monetary_value_holdout" in cal_holdout.columns:
        has = (actual > 0) & (cal_holdout["monetary_value"].to_numpy() >= 0)
        if has.any():
            x = cal_holdout["frequency"].to_numpy(dtype=float)[has]
            m = cal_holdout["monetary_value"].to_numpy(dtype=float)[has]
            m = np.where((x > 0) & (m > 0), m, 0.0)
            spend = model.gamma_gamma_.conditional_expected_average_profit(np.where(m > 0, x, 0), m)
            real = cal_holdout["monetary_value_holdout"].to_numpy(dtype=float)[has]
            out["holdout_spend_mae"] = float(np.mean(np.abs(spend - real)))
            out["holdout_spend_pct_error"] = float(100 * (spend.mean() - real.mean()) / max(real.mean(), 1e-12))
    return out


def frequency_table(model: CLVModel, cal_holdout: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual vs predicted holdout repeat purchases by calibration frequency (0..max+)."""
    pred = holdout_predictions(model, cal_holdout)
    group = cal_holdout["frequency"].clip(upper=max_frequency).astype(int)
    t = pd.DataFrame({"actual": cal_holdout["frequency_holdout"], "predicted": pred, "group": group})
    out = t.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                 predicted=("predicted", "mean"))
    out.index = [f"{i}+" if i == max_frequency else str(i) for i in out.index]
    out.index.name = "calibration_frequency"
    return out


def tracking_table(model: CLVModel, transactions: pd.DataFrame, *, calibration_end: Any,
                   observation_end: Any, customer_col: str = "customer_id",
                   date_col: str = "booking_date", step_days: int = 7) -> pd.DataFrame:
    """Actual vs expected cumulative repeat purchases of the calibration cohort by calendar time.

    The cohort is the customers whose first purchase is on/before ``calibration_end``; the
    expected curve is sum_i E[X(tau - s_i)] with s_i each customer's first purchase (the
    unconditional BG/NBD expectation, Fader-Hardie-Lee's tracking plot).

    Returns
    -------
    DataFrame indexed by period end date: actual_cumulative, expected_cumulative, actual,
    expected (per period), in repeat purchase days.
    """
    tu = model.settings.time_unit_days
    tr = transactions[[customer_col, date_col]].copy()
    tr["day"] = pd.to_datetime(tr[date_col]).dt.normalize()
    tr = tr.drop_duplicates([customer_col, "day"])
    first = tr.groupby(customer_col)["day"].min()
    cal_end, obs_end = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    cohort = first[first <= cal_end]
    tr = tr[tr[customer_col].isin(cohort.index) & (tr["day"] <= obs_end)]
    repeat_days = tr.loc[tr["day"] > tr[customer_col].map(cohort), "day"]
    start = cohort.min()
    grid = pd.date_range(start + pd.Timedelta(days=step_days), obs_end, freq=f"{step_days}D")
    actual_cum = np.searchsorted(np.sort(repeat_days.to_numpy()), grid.to_numpy(), side="right")
    # expected: distinct (first day) cohorts x distinct elapsed days
    firsts, counts = np.unique(cohort.to_numpy(), return_counts=True)
    elapsed = (grid.to_numpy()[:, None] - firsts[None, :]) / np.timedelta64(1, "D")
    elapsed = np.clip(elapsed, 0, None)
    uniq, inv = np.unique(elapsed, return_inverse=True)
    ex = model.bgnbd_.expected_number_of_purchases_up_to_time(uniq / tu)[inv].reshape(elapsed.shape)
    expected_cum = ex @ counts
    out = pd.DataFrame({"actual_cumulative": actual_cum.astype(float), "expected_cumulative": expected_cum},
                       index=pd.Index(grid, name="period_end"))
    out["actual"] = out["actual_cumulative"].diff().fillna(out["actual_cumulative"])
    out["expected"] = out["expected_cumulative"].diff().fillna(out["expected_cumulative"])
    out.attrs["calibration_end"] = cal_end
    return out
