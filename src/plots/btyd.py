"""BG/NBD + Gamma-Gamma validation and CLV plots. Each takes tables and returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def frequency_plot(freq_table: pd.DataFrame) -> plt.Figure:
    """Actual vs predicted mean holdout repeat purchases by calibration frequency
    (:func:`src.models.btyd.clv.frequency_table`)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    idx = np.arange(len(freq_table))
    ax.bar(idx - 0.2, freq_table["actual"], width=0.4, label="actual", color="#4C72B0")
    ax.bar(idx + 0.2, freq_table["predicted"], width=0.4, label="BG/NBD", color="#DD8452")
    ax.set_xticks(idx, freq_table.index)
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean repeat purchases in holdout")
    ax.set_title("Holdout: actual vs predicted by calibration frequency")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def tracking_plot(tracking: pd.DataFrame) -> plt.Figure:
    """Cumulative and per-period repeat purchases, actual vs expected, with the calibration
    end marked (:func:`src.models.btyd.clv.tracking_table`)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    for ax, (a, e, title) in zip((ax1, ax2), (("actual_cumulative", "expected_cumulative", "cumulative"),
                                             ("actual", "expected", "per period")), strict=True):
        ax.plot(tracking.index, tracking[a], label="actual", color="#4C72B0")
        ax.plot(tracking.index, tracking[e], label="BG/NBD", color="#DD8452", linestyle="--")
        cal_end = tracking.attrs.get("calibration_end")
        if cal_end is not None:
            ax.axvline(cal_end, color="grey", linestyle=":", label="calibration end")
        ax.set_title(f"Repeat purchases, {title}")
        ax.tick_params(axis="x", rotation=30)
    ax1.legend(frameon=False)
    fig.tight_layout()
    return fig


def clv_distribution(predictions: pd.DataFrame, horizon_days: int) -> plt.Figure:
    """Histogram of predicted CLV (log scale) and the share of total CLV by customer decile."""
    clv = predictions["clv"].dropna().to_numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    pos = clv[clv > 0]
    if len(pos):
        ax1.hist(pos, bins=np.logspace(np.log10(max(pos.min(), 1e-2)), np.log10(pos.max()) + 1e-9, 50),
                 color="#55A868")
        ax1.set_xscale("log")
    ax1.set_title(f"Predicted CLV over {horizon_days} days (currency)")
    ax1.set_ylabel("customers")
    if len(clv):
        order = np.sort(clv)[::-1]
        deciles = np.array_split(order, 10)
        share = np.array([d.sum() for d in deciles]) / max(order.sum(), 1e-12)
        ax2.bar(np.arange(1, 11), share * 100, color="#8172B3")
    ax2.set_xlabel("customer decile by predicted CLV (1 = top)")
    ax2.set_ylabel("% of total predicted CLV")
    ax2.set_title("Concentration of value")
    fig.tight_layout()
    return fig
