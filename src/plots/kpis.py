"""KPI plots: each KPI's monthly path toward its target.

Takes the tables of :mod:`src.loop.kpis` (never computes a KPI) and returns a matplotlib
``Figure``.
"""

from __future__ import annotations

from datetime import date

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from src.loop.kpis import KPI_UNITS

__all__ = ["kpi_paths"]

_STATUS_COLOURS = {"on track": "#2E7D32", "behind": "#C62828"}


def _panel(ax: Axes, path: pd.DataFrame, row: pd.Series, baseline_date: pd.Timestamp) -> None:
    """One KPI: its monthly path, the baseline point, the target line and point."""
    kpi = str(row["kpi"])
    ax.plot(path["as_of"], path[kpi], marker="o", markersize=2.5, color="#4C72B0",
            label="monthly")
    if pd.notna(row["baseline"]):
        ax.scatter([baseline_date], [row["baseline"]], color="black", zorder=3,
                   label=f"baseline ({row['baseline_run']})")
    if pd.notna(row["target"]) and row.get("target_date"):
        when = pd.Timestamp(row["target_date"])
        ax.plot([baseline_date, when], [row["baseline"], row["target"]], linestyle="--",
                color="#DD8452", label="path to target")
        ax.scatter([when], [row["target"]], marker="*", s=90, color="#DD8452", zorder=3,
                   label="target")
        ax.annotate(f"{when:%Y-%m}", (when, row["target"]), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7, color="#DD8452")
    if path[kpi].isna().all():
        ax.text(0.5, 0.5, "no feedback" if kpi in ("nps", "csat") else "no data",
                ha="center", va="center", transform=ax.transAxes, color="grey")
    status = str(row["status"])
    ax.set_title(f"{kpi} · {status}", fontsize=9,
                 color=_STATUS_COLOURS.get(status, "black"))
    ax.set_ylabel(KPI_UNITS.get(kpi, ""), fontsize=7)
    ax.tick_params(labelsize=7)
    ax.margins(y=0.15)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")


def kpi_paths(monthly: pd.DataFrame, table: pd.DataFrame, *, baseline_date: date,
              ncols: int = 3) -> Figure:
    """One small panel per KPI: its monthly path, the baseline and the line to its target.

    Parameters
    ----------
    monthly : :func:`src.loop.kpis.monthly_kpis` (``as_of`` and a column per KPI), shape
        (months, ...).
    table : the headline table (:func:`src.loop.kpis.kpi_table`), one row per KPI.
    baseline_date : the baseline run's cut-off (where the path to a target starts).
    ncols : panels per row.

    Returns
    -------
    matplotlib.figure.Figure with one axes per KPI of ``table`` (in its order), titled
    ``<kpi> · <status>``.
    """
    n = max(len(table), 1)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    start = pd.Timestamp(baseline_date)
    for ax, (_, row) in zip(axes.flat, table.iterrows(), strict=False):
        _panel(ax, monthly, row, start)
    for ax in list(axes.flat)[len(table):]:
        ax.set_visible(False)
    handles, labels = [], []
    for ax in list(axes.flat)[:len(table)]:  # one legend: each entry once
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
                   frameon=False)
    fig.suptitle("KPIs by month, against the baseline and the targets")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return fig
