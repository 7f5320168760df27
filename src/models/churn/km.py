"""Kaplan-Meier summaries of survival tables (lifelines), times in days.

Survival at given times with 95 % intervals (:func:`km_survival_at`, lifelines-style column
arguments, so any data set works), survival curves with 95 % confidence bands overall and per
group (:func:`kaplan_meier_curves`), and median lifetimes per group with their 95 % intervals
plus a log-rank test across groups (:func:`km_by_group`). Times are days on the table's own time
scale (``duration_days``, with ``entry_days`` as late entry when present); missing group
values form a group ``"missing"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from src.features.survival import DURATION_COL, ENTRY_COL, EVENT_COL


def _km_fit(df: pd.DataFrame, label: str = "KM", duration_col: str = DURATION_COL,
            event_col: str = EVENT_COL, entry_col: str | None = ENTRY_COL):
    from lifelines import KaplanMeierFitter

    entry = df[entry_col] if entry_col is not None and entry_col in df.columns else None
    return KaplanMeierFitter(label=label).fit(
        df[duration_col], df[event_col], entry=entry
    )


def km_survival_at(
    survival_df: pd.DataFrame,
    times: Sequence[float],
    *,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
) -> pd.DataFrame:
    """Kaplan-Meier survival S(t) at the given times, with its 95 % interval (lifelines).

    Parameters
    ----------
    survival_df : one row per customer with the duration, the event (0/1) and optionally a
        late entry.
    times : times in the unit of the duration column (days for the survival tables).
    duration_col, event_col, entry_col : column names (lifelines style); ``entry_col``
        absent or ``None``: no late entry.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (the requested times): ``survival`` (share not churned by then),
        ``lower_95``, ``upper_95`` (lifelines' exponential Greenwood interval), ``at_risk``
        (customers still observed at the time). NaN beyond the longest follow-up, where
        the curve is not observed.
    """
    km = _km_fit(survival_df, duration_col=duration_col, event_col=event_col,
                 entry_col=entry_col)
    t = np.asarray(times, dtype=np.float64)
    surv = km.survival_function_at_times(t).to_numpy()
    ci = km.confidence_interval_
    pos = np.searchsorted(ci.index.to_numpy(dtype=np.float64), t, side="right") - 1
    lower = np.where(pos >= 0, ci.iloc[np.maximum(pos, 0), 0].to_numpy(), 1.0)
    upper = np.where(pos >= 0, ci.iloc[np.maximum(pos, 0), 1].to_numpy(), 1.0)
    durations = np.sort(survival_df[duration_col].to_numpy(dtype=np.float64))
    at_risk = len(durations) - np.searchsorted(durations, t, side="left")
    if entry_col is not None and entry_col in survival_df.columns:
        entry = np.sort(survival_df[entry_col].to_numpy(dtype=np.float64))
        at_risk -= len(entry) - np.searchsorted(entry, t, side="left")
    out = pd.DataFrame({"survival": surv, "lower_95": lower, "upper_95": upper,
                        "at_risk": at_risk}, index=pd.Index(t, name="time"))
    out.loc[t > durations.max()] = np.nan
    return out


def _groups(survival_df: pd.DataFrame, group_col: str | None) -> list[tuple[str, pd.DataFrame]]:
    if group_col is None:
        return [("all", survival_df)]
    g = survival_df[group_col].astype("object").where(survival_df[group_col].notna(), "missing")
    out = [("all", survival_df)]
    for level, part in survival_df.groupby(g.astype(str), sort=True, observed=True):
        out.append((str(level), part))
    return out


def kaplan_meier_curves(
    survival_df: pd.DataFrame, group_col: str | None = None
) -> pd.DataFrame:
    """Kaplan-Meier survival curves with 95 % confidence bands, overall and per group.

    Parameters
    ----------
    survival_df : frame with ``duration_days``, ``event`` (and ``entry_days`` for late entry).
    group_col : column to split by (segment, tier, acquisition channel...); missing values
        form a group ``"missing"``.

    Returns
    -------
    pandas.DataFrame
        Long table: ``group`` (``"all"`` first), ``time_days``, ``survival``, ``lower_95``,
        ``upper_95``, ``at_risk``.
    """
    parts = []
    for level, part in _groups(survival_df, group_col):
        if not len(part):
            continue
        km = _km_fit(part, label=level)
        sf = km.survival_function_.iloc[:, 0]
        ci = km.confidence_interval_
        parts.append(
            pd.DataFrame(
                {
                    "group": level,
                    "time_days": sf.index.to_numpy(dtype=float),
                    "survival": sf.to_numpy(),
                    "lower_95": ci.iloc[:, 0].to_numpy(),
                    "upper_95": ci.iloc[:, 1].to_numpy(),
                    "at_risk": km.event_table["at_risk"].reindex(sf.index).to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out.attrs["group_col"] = group_col
    return out


def km_by_group(
    survival_df: pd.DataFrame, group_col: str
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Median lifetime per group (Kaplan-Meier, 95 % CI) and a log-rank test across groups.

    Parameters
    ----------
    survival_df : frame with ``duration_days``, ``event`` and ``group_col``.
    group_col : grouping column; missing values form a group ``"missing"``.

    Returns
    -------
    medians : pandas.DataFrame
        Index ``group`` (``"all"`` first): ``customers``, ``events``, ``median_days``,
        ``median_lower_95``, ``median_upper_95`` (days; ``inf`` when the curve does not fall
        to 0.5 within the follow-up).
    logrank : dict
        ``test_statistic``, ``p_value``, ``degrees_of_freedom`` of
        :func:`lifelines.statistics.multivariate_logrank_test` (which ignores late entry:
        run it on a table without ``entry_days``).
    """
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    rows = []
    for level, part in _groups(survival_df, group_col):
        km = _km_fit(part, label=level)
        ci = median_survival_times(km.confidence_interval_)
        rows.append(
            {
                "group": level,
                "customers": len(part),
                "events": int(part[EVENT_COL].sum()),
                "median_days": float(km.median_survival_time_),
                "median_lower_95": float(ci.iloc[0, 0]),
                "median_upper_95": float(ci.iloc[0, 1]),
            }
        )
    medians = pd.DataFrame(rows).set_index("group")
    g = survival_df[group_col].astype("object").where(survival_df[group_col].notna(), "missing")
    res = multivariate_logrank_test(survival_df[DURATION_COL], g.astype(str), survival_df[EVENT_COL])
    logrank = {
        "test_statistic": float(res.test_statistic),
        "p_value": float(res.p_value),
        "degrees_of_freedom": float(res.degrees_of_freedom),
    }
    return medians, logrank
