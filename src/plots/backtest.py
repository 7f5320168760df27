"""Back-test plots: the previous run's predictions against what happened since.

Each function takes a table of :func:`src.loop.backtest.backtest_previous` (or
:func:`src.loop.backtest.backtest_trend`), draws on ``ax`` (a new figure when None) and
returns the ``Figure``; nothing here computes an outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["calibration_plot", "predicted_vs_realised_plot", "trend_plot"]

#: the trend lines drawn by default (those present), all on one scale around 0-1
HEADLINE_METRICS: tuple[str, ...] = (
    "backtest.churn_calibration_error", "backtest.churn_brier", "backtest.bookings_ratio",
    "backtest.spend_ratio")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _empty(ax: Axes, text: str) -> Figure:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return ax.figure


def calibration_plot(calibration: pd.DataFrame, ax: Axes | None = None, *,
                     title: str | None = None) -> Figure:
    """Mean predicted churn probability vs realised churn share per decile, with the diagonal.

    Parameters
    ----------
    calibration : :attr:`Backtest.calibration <src.loop.backtest.Backtest>` (``horizon_days``,
        ``decile``, ``customers``, ``predicted``, ``realised``; one row per decile).
    ax : axes to draw on; None: a new figure.
    title : default names the horizon (days) and the customer-weighted calibration error.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = _axes(ax, (5, 4.5))
    if calibration.empty:
        return _empty(ax, "no churn horizon fits the elapsed days:\nno calibration")
    c = calibration.sort_values("predicted")
    sizes = c["customers"].to_numpy(dtype=float)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="perfect")
    ax.plot(c["predicted"], c["realised"], color="#4C72B0", linewidth=1)
    ax.scatter(c["predicted"], c["realised"], s=20 + 180 * sizes / max(sizes.max(), 1),
               color="#4C72B0", zorder=3, label="decile (size: customers)")
    error = float(np.average((c["predicted"] - c["realised"]).abs(), weights=sizes))
    horizon = int(c["horizon_days"].iloc[0])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"predicted churn probability within {horizon} days (previous run)")
    ax.set_ylabel("realised churn share")
    ax.set_title(title or f"Churn calibration, {horizon} days (error {error:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return ax.figure


def predicted_vs_realised_plot(bookings_spend: pd.DataFrame, ax: Axes | None = None, *,
                               measure: Literal["bookings", "spend"] = "bookings",
                               group_by: str = "decile") -> Figure:
    """Predicted vs realised bookings (or spend) per group, side by side bars.

    Parameters
    ----------
    bookings_spend : :attr:`Backtest.bookings_spend <src.loop.backtest.Backtest>`
        (``group_by``, ``group``, ``predicted_<measure>``, ``realised_<measure>``).
    ax : axes to draw on; None: a new figure.
    measure : ``bookings`` (purchase days) or ``spend`` (currency).
    group_by : ``decile`` (of predicted bookings) or ``value_tier``; the title gives the
        total ratio realised / predicted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = _axes(ax, (8, 4))
    rows = bookings_spend.loc[bookings_spend["group_by"] == group_by]
    if rows.empty:
        return _empty(ax, f"no {measure} to compare by {group_by}")
    if group_by == "decile":
        rows = rows.assign(order=pd.to_numeric(rows["group"], errors="coerce")).sort_values("order")
    x = np.arange(len(rows))
    ax.bar(x - 0.2, rows[f"predicted_{measure}"], width=0.4, color="#A0A0A0", label="predicted")
    ax.bar(x + 0.2, rows[f"realised_{measure}"], width=0.4, color="#4C72B0", label="realised")
    ax.set_xticks(x, rows["group"].astype(str).tolist())
    ax.set_xlabel(group_by.replace("_", " ") + (" of predicted bookings" if group_by == "decile"
                                                 else ""))
    ax.set_ylabel("purchase days in the window" if measure == "bookings"
                  else "spend in the window (currency)")
    total = bookings_spend.loc[bookings_spend["group_by"] == "all", f"{measure}_ratio"]
    ratio = f", realised / predicted {float(total.iloc[0]):.2f}" if len(total) else ""
    ax.set_title(f"Predicted vs realised {measure}{ratio}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax.figure


def trend_plot(trend: pd.DataFrame, ax: Axes | None = None, *,
               metrics: Sequence[str] | None = None) -> Figure:
    """Back-test metrics over the job's runs, one line per metric, by cut-off date.

    Parameters
    ----------
    trend : :func:`src.loop.backtest.backtest_trend` (``run_id``, ``cutoff_date``,
        ``metric``, ``value``).
    ax : axes to draw on; None: a new figure.
    metrics : metric names to draw; default :data:`HEADLINE_METRICS` and the list precisions
        (``backtest.precision.*``) present. Ratios read against the dashed line at 1.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = _axes(ax, (8, 4))
    names = list(metrics) if metrics is not None else [
        m for m in dict.fromkeys(trend["metric"])
        if m in HEADLINE_METRICS or str(m).startswith("backtest.precision.")]
    rows = trend.loc[trend["metric"].isin(names)]
    if rows.empty:
        return _empty(ax, "no back-test metrics yet")
    for name in names:
        r = rows.loc[rows["metric"] == name].sort_values("cutoff_date")
        if len(r):
            ax.plot(r["cutoff_date"], r["value"], marker="o",
                    label=str(name).removeprefix("backtest."))
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("cut-off date of the back-testing run")
    ax.set_ylabel("value (ratios: 1 = as predicted)")
    ax.set_title("Back-test of the previous run, over runs")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    ax.figure.autofmt_xdate()
    return ax.figure
