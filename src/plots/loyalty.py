"""Loyalty plots: repeat-model calibration vs the BG/NBD, lifecycle stage counts, transitions.

Each function takes fitted results or tables (never fits anything) and returns a matplotlib
``Figure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["repeat_calibration", "stage_counts", "stage_transition_heatmap"]

_MODELS: tuple[tuple[str, str, str, str], ...] = (
    ("repeat_model_scores", "p_repeat_model", "repeat-booking model", "#C44E52"),
    ("bgnbd_scores", "p_bgnbd", "BG/NBD (new customer)", "#4C72B0"),
)


def _figure(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def repeat_calibration(evaluation: Mapping[str, Any]) -> Figure:
    """Calibration of the repeat-booking model and the BG/NBD on the test customers.

    Parameters
    ----------
    evaluation : the dict of :func:`src.models.repeat_booking.evaluate_time_split`
        (uses ``repeat_model_scores`` / ``bgnbd_scores`` with their ``calibration`` tables,
        ``roc_auc``, ``brier``; ``predictions``; ``horizon_days``).

    Returns
    -------
    Figure with two panels: observed vs predicted share with a second booking per decile of
    the prediction (binomial error bars, diagonal = perfect calibration), and the
    distribution of the predicted probabilities.
    """
    fig, (ax, ax_hist) = plt.subplots(1, 2, figsize=(11, 4.2),
                                      gridspec_kw={"width_ratios": [1.2, 1]})
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    predictions = evaluation.get("predictions")
    for key, pred_col, label, color in _MODELS:
        scores = evaluation.get(key)
        if scores is None:
            continue
        cal = scores["calibration"]
        text = f"{label}: AUC {scores['roc_auc']:.3f}, Brier {scores['brier']:.3f}"
        ax.errorbar(cal["predicted"], cal["observed"], yerr=1.96 * cal["observed_se"],
                    marker="o", ms=5, color=color, capsize=2, lw=1.2, label=text)
        if predictions is not None and pred_col in predictions.columns:
            p = predictions[pred_col].to_numpy(dtype=float)
            if np.ptp(p) > 0:
                ax_hist.hist(p, bins=30, range=(0, 1), color=color, alpha=0.6, label=label)
            else:
                ax_hist.axvline(p[0], color=color, lw=2, label=f"{label} (same for all)")
    if predictions is not None and "repeat_booking" in predictions.columns:
        ax_hist.axvline(predictions["repeat_booking"].mean(), color="k", lw=1, ls=":",
                        label="observed share")
    h = evaluation.get("horizon_days")
    within = f" within {h} days" if h is not None else ""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"predicted P(second booking{within})")
    ax.set_ylabel("observed share with a second booking")
    ax.set_title("Calibration on the test customers (deciles)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax_hist.set_xlim(0, 1)
    ax_hist.set_xlabel("predicted probability")
    ax_hist.set_ylabel("customers")
    ax_hist.set_title("Predicted probabilities")
    ax_hist.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def stage_counts(stages: pd.Series, ax: Axes | None = None) -> Figure:
    """Bar chart of customers per lifecycle stage (stage order of a categorical, else by size).

    Parameters
    ----------
    stages : stage per customer (:func:`src.decisioning.lifecycle.assign_stages`).
    ax : optional axes to draw on.

    Returns
    -------
    Figure; each bar is labelled with its count and share of customers.
    """
    fig, ax = _figure(ax, (8, 3.6))
    if isinstance(stages.dtype, pd.CategoricalDtype):
        counts = stages.value_counts(sort=False).reindex(stages.cat.categories, fill_value=0)
    else:
        counts = stages.value_counts()
    total = max(int(counts.sum()), 1)
    labels = [str(s) for s in counts.index]
    bars = ax.bar(labels, counts.to_numpy(), color="#4C72B0")
    for bar, c in zip(bars, counts.to_numpy(), strict=True):
        ax.annotate(f"{c:,}\n{c / total:.0%}", (bar.get_x() + bar.get_width() / 2, c),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_ylabel("customers")
    ax.set_title(f"Lifecycle stages ({total:,} customers)")
    ax.set_ylim(0, max(float(counts.max()) if len(counts) else 1.0, 1.0) * 1.2)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def stage_transition_heatmap(transitions: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Heat map of the row shares of a stage transition table, annotated with counts.

    Parameters
    ----------
    transitions : :func:`src.decisioning.lifecycle.stage_transitions` (columns ``customers`` and
        ``share`` per ``to_stage``).
    ax : optional axes to draw on.

    Returns
    -------
    Figure: rows = stage at the first cut-off, columns = stage at the second; colour = share
    of the row, text = share and number of customers.
    """
    share = transitions["share"]
    counts = transitions["customers"]
    fig, ax = _figure(ax, (1.2 * share.shape[1] + 3, 0.6 * share.shape[0] + 2))
    im = ax.imshow(share.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            v, c = share.iat[i, j], counts.iat[i, j]
            if c == 0:
                continue
            ax.text(j, i, f"{v:.0%}\n{c:,}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 else "black")
    ax.set_xticks(range(share.shape[1]), [str(c) for c in share.columns], rotation=30,
                  ha="right")
    ax.set_yticks(range(share.shape[0]), [str(r) for r in share.index])
    ax.set_xlabel("stage at the second cut-off")
    ax.set_ylabel("stage at the first cut-off")
    ax.set_title("Stage transitions (share of row, customers)")
    fig.colorbar(im, ax=ax, fraction=0.04, label="share of row")
    fig.tight_layout()
    return fig
