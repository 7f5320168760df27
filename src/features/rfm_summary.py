"""From a booking / transaction log to the per-customer BTYD summary (x, t_x, T, spend).

The summary is what the BG/NBD and Gamma-Gamma models (:mod:`src.models.btyd`) consume:

- ``frequency``: number of repeat purchase *days* (purchases on the same calendar day are
  one purchase, as in the BG/NBD literature), i.e. distinct purchase days minus one;
- ``recency``: time from the first to the last purchase day;
- ``T``: time from the first purchase day to the end of the (calibration) period;
- ``monetary_value``: mean amount of the repeat purchase days (same-day amounts summed; the
  first purchase is left out); 0 when ``frequency`` is 0.

Times are in units of ``time_unit_days`` days (1: days, 7: weeks). All work is vectorized:
one hash/sort of (customer, day) keys and ``bincount``/``reduceat`` aggregations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from src.features.definitions import purchases

__all__ = ["DateLike", "calibration_and_holdout", "summary_from_transactions"]

DateLike = str | dt.date | pd.Timestamp | np.datetime64
"""A calendar day: ISO string, date, Timestamp or datetime64 (a time of day is ignored)."""


def _to_day(value: DateLike, name: str) -> np.int64:
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"{name} is missing")
    return np.int64(ts.to_datetime64().astype("datetime64[D]").astype(np.int64))


def _customer_days(transactions: pd.DataFrame, customer_col: str, date_col: str,
                   amount_col: str | None, last_day: np.int64):
    """Distinct (customer, day) purchases up to ``last_day``, sorted by customer then day.

    Returns
    -------
    ids : Index of customer ids (in order of first appearance), codes : int64 (m,), days :
    int64 (m,),
    amounts : float64 (m,) day totals (zeros when there is no amount column).
    """
    missing = [c for c in (customer_col, date_col, amount_col)
               if c is not None and c not in transactions.columns]
    if missing:
        raise KeyError(f"transactions has no column(s) {missing}; "
                       f"columns are {list(transactions.columns)}")
    dates = transactions[date_col]
    if not (pd.api.types.is_datetime64_any_dtype(dates) or dates.dtype == object
            or pd.api.types.is_string_dtype(dates)):
        raise TypeError(f"{date_col!r} must hold dates (datetime64 or date strings), "
                        f"got {dates.dtype}; parse it first, e.g. pd.to_datetime(..., "
                        "format='%Y%m%d')")
    dates = pd.to_datetime(dates)
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    if dates.isna().any():
        raise ValueError(f"{int(dates.isna().sum())} transactions have no {date_col!r}")
    day = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    keep = day <= last_day
    cust = transactions[customer_col]
    if not keep.all():
        cust = cust[keep]
    if cust.isna().any():
        raise ValueError(f"{int(cust.isna().sum())} transactions have no {customer_col!r}")
    day = day[keep]
    if amount_col is None:
        amount = np.zeros(len(day))
    else:
        amount = pd.to_numeric(transactions[amount_col]).to_numpy(np.float64)[keep]
        if np.isnan(amount).any():
            raise ValueError(f"{int(np.isnan(amount).sum())} transactions have no "
                             f"{amount_col!r}")
    # hash, not sort: sorting millions of string ids costs more than everything else
    codes, ids = pd.factorize(cust, sort=False)
    if len(day) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return pd.Index(ids, name=customer_col), empty, empty, np.zeros(0)
    first_day = day.min()
    span = np.int64(last_day - first_day + 1)
    key = codes.astype(np.int64) * span + (day - first_day)
    ukey, inverse = np.unique(key, return_inverse=True)
    totals = np.bincount(inverse, weights=amount, minlength=len(ukey))
    return (pd.Index(ids, name=customer_col), ukey // span, ukey % span + first_day,
            totals)


def summary_from_transactions(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "booking_date",
    amount_col: str | None = "amount",
    observation_end: DateLike,
    time_unit_days: float = 1.0,
    calibration_end: DateLike | None = None,
) -> pd.DataFrame:
    """Per-customer BTYD summary of a transaction log.

    Parameters
    ----------
    transactions : one row per purchase (booking); other columns are ignored.
    customer_col, date_col, amount_col : column names (``amount_col=None``: no spend column,
        ``monetary_value`` is left out). Dates may carry a time of day; purchases are
        combined per calendar day.
    observation_end : last day observed (inclusive); later transactions are ignored.
    time_unit_days : length of the time unit in days (1: days, 7: weeks).
    calibration_end : optional end of a calibration period (inclusive). When given, the
        summary describes the calibration period (customers whose first purchase is on or
        before it) and adds the holdout columns ``frequency_holdout`` (repeat purchase days in
        (calibration_end, observation_end]), ``monetary_value_holdout`` (mean amount of those
        days, 0 if none) and ``duration_holdout`` (holdout length in time units).

    Returns
    -------
    DataFrame indexed by customer id (in order of first appearance in the log; index name
    ``customer_col``), columns ``frequency`` (int), ``recency``, ``T`` (time units),
    ``monetary_value`` (currency units) and, with a calibration_end, the holdout columns.
    One row per customer with a purchase on or before the end of the (calibration) period.
    """
    if time_unit_days <= 0:
        raise ValueError("time_unit_days must be > 0")
    obs_day = _to_day(observation_end, "observation_end")
    cal_day = obs_day if calibration_end is None else _to_day(calibration_end, "calibration_end")
    if cal_day > obs_day:
        raise ValueError(f"calibration_end {calibration_end} is after observation_end "
                         f"{observation_end}")
    ids, codes, days, totals = _customer_days(transactions, customer_col, date_col,
                                              amount_col, obs_day)
    n_ids = len(ids)
    cal = days <= cal_day
    c_cal, d_cal, a_cal = codes[cal], days[cal], totals[cal]
    # rows are sorted by customer then day: the first/last row of each run are the
    # first/last purchase days
    boundaries = np.flatnonzero(np.diff(c_cal)) + 1
    if len(c_cal):
        starts, ends = np.r_[0, boundaries], np.r_[boundaries, len(c_cal)] - 1
    else:
        starts = ends = np.zeros(0, dtype=np.int64)
    cust = c_cal[starts]
    n_days = ends - starts + 1
    first, last = d_cal[starts], d_cal[ends]
    frequency = n_days - 1
    out = pd.DataFrame(
        {"frequency": frequency.astype(np.int64),
         "recency": (last - first) / time_unit_days,
         "T": (cal_day - first) / time_unit_days},
        index=ids[cust],
    )
    if amount_col is not None:
        sums = np.add.reduceat(a_cal, starts) if len(starts) else np.zeros(0)
        repeat_sum = sums - a_cal[starts]
        out["monetary_value"] = np.where(frequency > 0,
                                         repeat_sum / np.maximum(frequency, 1), 0.0)
    if calibration_end is not None:
        in_cohort = np.zeros(n_ids, dtype=bool)
        in_cohort[cust] = True
        hold = ~cal & in_cohort[codes]
        n_hold = np.bincount(codes[hold], minlength=n_ids)[cust]
        out["frequency_holdout"] = n_hold.astype(np.int64)
        if amount_col is not None:
            s_hold = np.bincount(codes[hold], weights=totals[hold], minlength=n_ids)[cust]
            out["monetary_value_holdout"] = np.where(n_hold > 0,
                                                     s_hold / np.maximum(n_hold, 1), 0.0)
        out["duration_holdout"] = float(obs_day - cal_day) / time_unit_days
    out.index.name = customer_col
    return out


def calibration_and_holdout(
    transactions: pd.DataFrame,
    *,
    calibration_end: DateLike,
    observation_end: DateLike,
    customer_col: str = "customer_id",
    date_col: str = "booking_date",
    amount_col: str | None = "amount",
    time_unit_days: float = 1.0,
) -> pd.DataFrame:
    """Calibration-period summary plus what each customer did in the holdout period.

    The calibration period ends at ``calibration_end`` (inclusive), the holdout period is
    (calibration_end, observation_end]. See :func:`summary_from_transactions` for the columns
    (``frequency``, ``recency``, ``T``, ``monetary_value``, ``frequency_holdout``,
    ``monetary_value_holdout``, ``duration_holdout``); only customers whose first purchase
    falls in the calibration period are included.
    """
    if calibration_end is None:
        raise ValueError("calibration_end is required")
    return summary_from_transactions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=amount_col,
        observation_end=observation_end, time_unit_days=time_unit_days,
        calibration_end=calibration_end,
    )


def summary_at(bookings: pd.DataFrame, cutoff_date: Any, *, time_unit_days: float = 1.0,
               calibration_end: Any | None = None) -> pd.DataFrame:
    """BTYD summary of the purchases (completed or confirmed bookings, not cancelled / no-show)
    up to ``cutoff_date`` — the one place the loyalty step turns bookings into (x, t_x, T, m)."""
    return summary_from_transactions(purchases(bookings, cutoff_date), observation_end=cutoff_date,
                                     time_unit_days=time_unit_days,
                                     calibration_end=calibration_end)
