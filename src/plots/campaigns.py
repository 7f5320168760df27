"""Campaign plots: the uplift of each measured list, with its interval and the planted value.

Each function takes the table of :func:`src.loop.campaign_results.campaign_results` and
returns a matplotlib ``Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["uplift_plot"]

_LABELS = {"booking_rate": ("booking rate uplift (points)", 100.0),
           "revenue_per_customer": ("revenue per customer uplift (currency)", 1.0),
           "retention": ("retention uplift (points)", 100.0)}


def uplift_plot(results: pd.DataFrame,
                metrics: tuple[str, ...] = ("booking_rate", "revenue_per_customer")) -> Figure:
    """One panel per outcome: each list's uplift (treated − control) with its interval, a
    line at 0 (no effect) and, on synthetic data, the planted uplift as a cross.

    Parameters
    ----------
    results : rows of ``campaign_results`` (list, metric, uplift, ci_low, ci_high,
        planted_uplift, cutoff_date); the newest publication per list is drawn.
    metrics : the outcomes to draw, one panel each.
    """
    newest = results.sort_values("cutoff_date").groupby(["list", "metric"]).tail(1)
    lists = sorted(newest["list"].unique())
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 0.5 * len(lists) + 1.8),
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        label, scale = _LABELS.get(metric, (metric, 1.0))
        part = newest[newest["metric"] == metric].set_index("list").reindex(lists)
        y = np.arange(len(lists))
        mid = part["uplift"].to_numpy(float) * scale
        low = part["ci_low"].to_numpy(float) * scale
        high = part["ci_high"].to_numpy(float) * scale
        holds_zero = (low <= 0) & (high >= 0)
        colors = np.where(holds_zero, "#999999", np.where(mid > 0, "#2E8B57", "#C0392B"))
        for i in range(len(lists)):
            ax.plot([low[i], high[i]], [y[i], y[i]], color=colors[i], lw=2)
            ax.plot(mid[i], y[i], "o", color=colors[i])
        planted = part["planted_uplift"].to_numpy(float) * scale
        if np.isfinite(planted).any():
            ax.plot(planted, y, "x", color="black", ms=8, label="planted")
            ax.legend(loc="lower right", fontsize=8)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.set_yticks(y, lists)
        ax.set_xlabel(label)
        ax.set_title(f"{metric.replace('_', ' ')}: treated − control (grey: no measurable effect)",
                     fontsize=9)
    fig.tight_layout()
    return fig
