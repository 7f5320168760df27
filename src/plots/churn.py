"""Survival-churn plots. Each takes tables or evaluation results and returns a Figure.

Nothing here fits a model: the Kaplan-Meier curves come from
:func:`src.models.churn.kaplan_meier_curves`, the drivers from
:meth:`src.models.churn.ChurnModel.hazard_ratios`, the churn causes from
:func:`src.models.churn.churn_causes`, the holdout results from
:func:`src.models.churn.evaluate_holdout` and the published churn probabilities from
:func:`src.decisioning.churn_scores.churn_scores`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from src.vocabulary import Vocabulary
from src.vocabulary import vocabulary as vocabulary_named

__all__ = ["calibration_plot", "churn_probabilities", "drivers_and_causes", "forest_plot",
           "km_curves", "metrics_over_time"]

_PROB_COL = re.compile(r"^churn_prob_(\d+)d$")


def km_curves(
    curves: pd.DataFrame,
    *,
    title: str | None = None,
    max_groups: int = 8,
    show_overall: bool = True,
) -> plt.Figure:
    """Kaplan-Meier survival curves by group with 95 % confidence bands.

    Parameters
    ----------
    curves : long table of :func:`src.models.churn.kaplan_meier_curves` (``group``,
        ``time_days``, ``survival``, ``lower_95``, ``upper_95``).
    title : figure title (default names the grouping column).
    max_groups : plot the largest groups only (by number of curve points) beyond this.
    show_overall : draw the ``"all"`` curve (dashed black).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    groups = [g for g in pd.unique(curves["group"]) if g != "all"]
    if len(groups) > max_groups:
        sizes = curves.loc[curves["group"] != "all"].groupby("group").size()
        groups = list(sizes.sort_values(ascending=False).index[:max_groups])
    for g in groups:
        c = curves.loc[curves["group"] == g]
        (line,) = ax.step(c["time_days"], c["survival"], where="post", label=str(g))
        ax.fill_between(c["time_days"], c["lower_95"], c["upper_95"], step="post",
                        alpha=0.15, color=line.get_color())
    if show_overall and (curves["group"] == "all").any():
        c = curves.loc[curves["group"] == "all"]
        ax.step(c["time_days"], c["survival"], where="post", color="black", linestyle="--",
                label="all")
    group_col = curves.attrs.get("group_col")
    ax.set_title(title or (f"Survival by {group_col.replace('_', ' ')}" if group_col
                           else "Survival (Kaplan-Meier)"))
    ax.set_xlabel("days since start")
    ax.set_ylabel("share not churned")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def _forest(ax: plt.Axes, hazard_ratios: pd.DataFrame, top: int) -> None:
    hr = hazard_ratios.dropna(subset=["hazard_ratio"]).copy()
    hr = hr.loc[np.isfinite(hr["hazard_ratio"]) & (hr["hazard_ratio"] > 0)]
    hr["strength"] = np.abs(np.log(hr["hazard_ratio"]))
    hr = hr.sort_values("strength", ascending=False).head(top).iloc[::-1]
    y = np.arange(len(hr))
    colors = np.where(hr["hazard_ratio"] >= 1, "#C44E52", "#4C72B0")
    ax.errorbar(
        hr["hazard_ratio"], y,
        xerr=[hr["hazard_ratio"] - hr["lower_95"], hr["upper_95"] - hr["hazard_ratio"]],
        fmt="none", ecolor="grey", capsize=3,
    )
    ax.scatter(hr["hazard_ratio"], y, c=colors, zorder=3)
    labels = [
        f"{c} (per {p:g})" if np.isfinite(p) and p != 1 else str(c)
        for c, p in zip(hr["covariate"], hr["per"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("hazard ratio (95% CI), log scale: > 1 churns sooner")
    ax.grid(axis="x", alpha=0.3, which="both")


def forest_plot(
    hazard_ratios: pd.DataFrame, *, top: int = 20, title: str = "Churn drivers"
) -> plt.Figure:
    """Hazard ratios with 95 % intervals on a log axis (a forest plot).

    Parameters
    ----------
    hazard_ratios : table of :meth:`ChurnModel.hazard_ratios` (``covariate``, ``per``,
        ``hazard_ratio``, ``lower_95``, ``upper_95``); rows without a ratio (strata,
        time interactions) are left out.
    top : the strongest effects only (by |log hazard ratio|).
    title : figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = min(int(hazard_ratios["hazard_ratio"].notna().sum()), top)
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(n, 3) + 1.2))
    _forest(ax, hazard_ratios, top)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def drivers_and_causes(
    hazard_ratios: pd.DataFrame, causes: pd.DataFrame, *, top: int = 15,
    title: str = "Why members leave", vocabulary: str | Vocabulary = "travel",
) -> plt.Figure:
    """The churn drivers (forest plot) beside the churn-cause breakdown.

    Parameters
    ----------
    hazard_ratios : table of :meth:`ChurnModel.hazard_ratios` (see :func:`forest_plot`).
    causes : table of :func:`src.models.churn.churn_causes` (index ``category``,
        ``share_of_churners``, ``first_trip_hazard_ratio``).
    top : the strongest drivers only.
    title : figure title.
    vocabulary : the job's vocabulary (:mod:`src.vocabulary`), the words of the
        annotation (``first-trip HR`` in ``travel``, ``first-order HR`` in ``retail``).

    Returns
    -------
    matplotlib.figure.Figure
        Left: hazard ratios with 95 % intervals; right: the share of churners with a complaint
        of each category before leaving, annotated with the first-purchase complaint's hazard
        ratio.
    """
    first = vocabulary_named(vocabulary).first_purchase
    n = min(int(hazard_ratios["hazard_ratio"].notna().sum()), top)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 0.35 * max(n, 6) + 1.4),
                                   gridspec_kw={"width_ratios": [3, 2]})
    _forest(ax1, hazard_ratios, top)
    ax1.set_title("drivers: hazard ratios")
    c = causes.iloc[::-1]
    y = np.arange(len(c))
    ax2.barh(y, c["share_of_churners"], color="#8172B2")
    for yi, (share, hr) in enumerate(zip(c["share_of_churners"], c["first_trip_hazard_ratio"],
                                         strict=True)):
        note = f"{share:.0%}" + (f"  ({first} HR {hr:.2f})" if np.isfinite(hr) else "")
        ax2.text(share, yi, " " + note, va="center", fontsize=8)
    ax2.set_yticks(y, [str(i) for i in c.index], fontsize=8)
    ax2.set_xlim(0, max(float(c["share_of_churners"].max()) * 1.6, 0.05) if len(c) else 1)
    ax2.set_xlabel("share of churners with a complaint before leaving")
    ax2.set_title("causes: complaints before leaving")
    ax2.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _calibration_tables(evaluation: Mapping[str, Any] | pd.DataFrame) -> dict[str, pd.DataFrame]:
    if isinstance(evaluation, pd.DataFrame):
        return {"model": evaluation}
    return dict(evaluation["calibration"])


def calibration_plot(
    evaluation: Mapping[str, Any] | pd.DataFrame, *, title: str = "Calibration by decile"
) -> plt.Figure:
    """Predicted vs observed churn by decile of predicted risk, one panel per horizon.

    Parameters
    ----------
    evaluation : the dict of :func:`src.models.churn.evaluate_holdout` (all its models), or
        one calibration table (``horizon_days``, ``decile``, ``predicted``, ``observed``).
    title : figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    tables = {k: v for k, v in _calibration_tables(evaluation).items() if len(v)}
    horizons = sorted({int(h) for t in tables.values() for h in t["horizon_days"]})
    fig, axes = plt.subplots(1, max(len(horizons), 1), figsize=(4.5 * max(len(horizons), 1), 4.2),
                             squeeze=False)
    for ax, h in zip(axes[0], horizons, strict=False):
        for name, t in tables.items():
            c = t.loc[t["horizon_days"] == h]
            ax.plot(c["predicted"], c["observed"], marker="o", label=name)
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"within {h} days")
        ax.set_xlabel("predicted churn probability")
        ax.set_ylabel("observed churn (Kaplan-Meier)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    if not horizons:
        axes[0][0].text(0.5, 0.5, "no evaluable horizon", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def metrics_over_time(evaluation: Mapping[str, Any]) -> plt.Figure:
    """Brier score and time-dependent AUC over time since entry, one line per model.

    Parameters
    ----------
    evaluation : the dict of :func:`src.models.churn.evaluate_holdout` (uses ``curves``:
        ``model``, ``time_days``, ``brier``, ``auc``; and ``table`` for the legend).

    Returns
    -------
    matplotlib.figure.Figure
    """
    curves = evaluation["curves"]
    table = evaluation.get("table")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, c in curves.groupby("model", sort=False):
        ibs = ""
        if table is not None and name in table.index:
            ibs = f" (IBS {table.loc[name, 'integrated_brier_score']:.3f})"
        ax1.plot(c["time_days"], c["brier"], label=f"{name}{ibs}")
        auc = ""
        if table is not None and name in table.index and np.isfinite(table.loc[name, "mean_auc"]):
            auc = f" (mean {table.loc[name, 'mean_auc']:.3f})"
        ax2.plot(c["time_days"], c["auc"], label=f"{name}{auc}")
    ax1.set_title("Brier score (lower is better)")
    ax2.set_title("time-dependent AUC (higher is better)")
    ax2.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    for ax in (ax1, ax2):
        ax.set_xlabel("days after the landmark")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def churn_probabilities(scores: pd.DataFrame, *, bins: int = 20,
                        panels_per_row: int = 4) -> plt.Figure:
    """How the published churn probabilities are spread, one panel per horizon.

    Parameters
    ----------
    scores : the churn columns of the scored table (:func:`src.decisioning.churn_scores.churn_scores` or
        the scorer's output): ``churn_prob_<h>d`` per horizon h (days); rows without a
        probability (churned, cancelled, not covered) are left out.
    bins : histogram bins over [0, 1].
    panels_per_row : panels side by side before a new row starts.

    Returns
    -------
    matplotlib.figure.Figure
        One histogram per horizon (share of the customers with a probability per bin; the
        bars of a panel sum to 1), the mean marked and named in the panel title.
    """
    cols = [c for c in scores.columns if _PROB_COL.match(str(c))]
    ncols = max(1, min(len(cols), panels_per_row))
    nrows = max(1, -(-len(cols) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.2 * nrows), squeeze=False,
                             sharey=True)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for ax, col in zip(axes.flat, cols, strict=False):
        p = pd.to_numeric(scores[col], errors="coerce").dropna().to_numpy(dtype=float)
        days = int(_PROB_COL.match(str(col)).group(1))
        if len(p) == 0:
            ax.text(0.5, 0.5, "no customer at risk", ha="center", va="center")
            ax.set_title(f"within {days} days")
            continue
        ax.hist(p, bins=edges, weights=np.full(len(p), 1.0 / len(p)), color="tab:red",
                alpha=0.7)
        ax.axvline(p.mean(), color="black", linestyle="--", linewidth=0.8)
        ax.set_title(f"within {days} days (mean {p.mean():.2f})")
        ax.set_xlim(0, 1)
        ax.set_xlabel("churn probability")
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("share of customers at risk")
    for ax in list(axes.flat)[len(cols):]:
        ax.set_axis_off()
    if not cols:
        axes[0][0].text(0.5, 0.5, "no churn probability column", ha="center", va="center")
    n = int(scores[cols].notna().any(axis=1).sum()) if cols else 0
    fig.suptitle(f"Published churn probabilities: {n:,} customers at risk")
    fig.tight_layout()
    return fig
