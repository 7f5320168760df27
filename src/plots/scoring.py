"""Scoring plots: how many customers each recommended action gets, and their value.

Each function takes the scored table (never fits anything) and returns a matplotlib ``Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["action_counts", "clv_by_action"]


def action_counts(scored: pd.DataFrame, action_col: str = "recommended_action") -> Figure:
    """Horizontal bars: customers per recommended action, largest at the top, with counts.

    Parameters
    ----------
    scored : one row per customer, shape (n_customers, ...), with ``action_col``.
    """
    counts = scored[action_col].astype(object).fillna("(none)").value_counts().sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(counts) + 1.2))
    ax.barh(counts.index.astype(str), counts.to_numpy(), color="#4C72B0")
    total = max(int(counts.sum()), 1)
    for y, v in enumerate(counts.to_numpy()):
        ax.text(v, y, f" {v:,} ({v / total:.0%})", va="center", fontsize=8)
    ax.set_xlabel("customers")
    ax.set_title("Customers per recommended action")
    ax.set_xlim(0, counts.max() * 1.25 if len(counts) else 1)
    fig.tight_layout()
    return fig


def clv_by_action(scored: pd.DataFrame, horizon_days: float | None = None,
                  action_col: str = "recommended_action", clv_col: str = "clv") -> Figure:
    """Box plots of predicted CLV (currency) per recommended action, outliers hidden.

    Parameters
    ----------
    scored : one row per customer with ``action_col`` and ``clv_col`` (NaN: no CLV model).
    horizon_days : the CLV horizon (days), for the axis label.
    """
    groups = {str(k): g[clv_col].dropna().to_numpy(dtype=float)
              for k, g in scored.groupby(scored[action_col].astype(object).fillna("(none)"))}
    groups = {k: v for k, v in sorted(groups.items(), key=lambda kv: -np.median(kv[1])
                                      if len(kv[1]) else 0) if len(v)}
    fig, ax = plt.subplots(figsize=(9, 4))
    if groups:
        ax.boxplot(list(groups.values()), showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), list(groups), rotation=30, ha="right")
    else:
        ax.text(0.5, 0.5, "no CLV predictions", ha="center", va="center", transform=ax.transAxes)
    label = f"CLV over {int(horizon_days)} days (currency)" if horizon_days else "CLV (currency)"
    ax.set_ylabel(label)
    ax.set_title("Predicted customer value by recommended action")
    fig.tight_layout()
    return fig
