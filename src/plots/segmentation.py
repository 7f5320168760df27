"""Segmentation figures: RFM heat map, value-tier Pareto curve, k-selection curve, cluster map.

Every function takes fitted objects or tables from :mod:`src.models.segmentation` and returns a
matplotlib ``Figure``; none of them fits anything.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from src.models.segmentation import BehaviouralSegmenter, ValueTiers

__all__ = ["rfm_heatmap", "pareto_curve", "criterion_curve", "cluster_projection"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def rfm_heatmap(
    table: pd.DataFrame,
    *,
    monetary_col: str = "monetary_total",
    n_bins: int = 5,
    currency: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Recency score x frequency score, colour = mean monetary value, cell text = customers.

    Parameters
    ----------
    table : one row per scored customer with ``r_score``, ``f_score`` and ``monetary_col``
        (currency), e.g. the features joined with :meth:`RFMScorer.transform`; rows without
        scores are ignored.
    n_bins : number of score levels.
    currency : unit shown in the colour-bar label.
    """
    t = table[["r_score", "f_score", monetary_col]].dropna()
    r = t["r_score"].astype(int).to_numpy()
    f = t["f_score"].astype(int).to_numpy()
    m = t[monetary_col].to_numpy(dtype=np.float64)
    idx = (f - 1) * n_bins + (r - 1)
    counts = np.bincount(idx, minlength=n_bins * n_bins).reshape(n_bins, n_bins)
    sums = np.bincount(idx, weights=m, minlength=n_bins * n_bins).reshape(n_bins, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    fig, ax = _axes(ax, (6.5, 5))
    im = ax.imshow(mean, origin="lower", cmap="viridis", aspect="auto",
                   extent=(0.5, n_bins + 0.5, 0.5, n_bins + 0.5))
    for fi in range(n_bins):
        for ri in range(n_bins):
            if counts[fi, ri]:
                ax.text(ri + 1, fi + 1, f"{counts[fi, ri]:,}", ha="center", va="center",
                        fontsize=8, color="white")
    ax.set_xticks(range(1, n_bins + 1))
    ax.set_yticks(range(1, n_bins + 1))
    ax.set_xlabel("recency score (5 = most recent)")
    ax.set_ylabel("frequency score (5 = most frequent)")
    ax.set_title("RFM: mean monetary value per cell (text: customers)")
    fig.colorbar(im, ax=ax, label=f"mean {monetary_col}" + (f" ({currency})" if currency else ""))
    return fig


def pareto_curve(
    tiers: ValueTiers,
    value: pd.Series | pd.DataFrame,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Lorenz/Pareto curve: share of customers (highest value first) vs share of value, with
    the fitted tier cut-offs and each tier's share of customers and of value.

    Parameters
    ----------
    tiers : fitted :class:`ValueTiers`.
    value : per-customer value (currency) or a feature table with ``tiers.value_col``.
    """
    table = tiers.tier_table(value)
    v = tiers.value_of(value).to_numpy(dtype=np.float64)
    v = np.sort(np.nan_to_num(v, nan=0.0).clip(min=0))[::-1]
    x = np.arange(1, len(v) + 1) / len(v)
    y = np.cumsum(v) / v.sum() if v.sum() > 0 else np.zeros_like(x)
    fig, ax = _axes(ax, (6.5, 5))
    step = max(1, len(v) // 5000)  # at most ~5k plotted points
    ax.plot(np.r_[0, x[::step], 1], np.r_[0, y[::step], 1], color="C0", lw=2,
            label="customers ranked by value")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="equal value")
    for _, row in table.iloc[:-1].iterrows():
        cx, cy = row["cum_share_customers"], row["cum_share_revenue"]
        ax.axvline(cx, color="grey", lw=0.8, ls="--")
        ax.plot([cx], [cy], "o", color="C3")
    lines = [f"{'tier':<14}{'customers':>10}{'value':>8}"]
    for _, row in table.iterrows():
        lines.append(f"{row['tier']:<14}{row['share_customers']:>10.0%}{row['share_revenue']:>8.0%}")
    ax.text(0.97, 0.04, "\n".join(lines), transform=ax.transAxes, ha="right", va="bottom",
            family="monospace", fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9, "edgecolor": "0.8"})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("cumulative share of customers (highest value first)")
    ax.set_ylabel(f"cumulative share of {tiers.value_col}")
    ax.set_title("Value tiers: Pareto curve")
    ax.legend(loc="center right", fontsize=8)
    return fig


def criterion_curve(segmenter: BehaviouralSegmenter, *, ax: Axes | None = None) -> Figure:
    """The k-selection criterion over k with the chosen k marked.

    Parameters
    ----------
    segmenter : fitted :class:`BehaviouralSegmenter` (``criterion_``, ``k_``).
    """
    crit = segmenter.criterion_
    name = segmenter.criterion_name_
    fig, ax = _axes(ax, (6, 4))
    ax.plot(crit["k"], crit["score"], "o-", color="C0")
    chosen = crit[crit["chosen"]]
    ax.plot(chosen["k"], chosen["score"], "o", ms=12, mfc="none", mec="C3", mew=2,
            label=f"chosen k = {segmenter.k_}")
    ax.set_xticks(crit["k"])
    ax.set_xlabel("number of clusters k")
    better = "higher is better" if name == "silhouette" else "lower is better"
    ax.set_ylabel(f"{name} ({better})")
    ax.set_title(f"Choosing k by {name} ({segmenter.method})")
    ax.legend()
    return fig


def cluster_projection(
    segmenter: BehaviouralSegmenter,
    features: pd.DataFrame,
    *,
    max_points: int = 20_000,
    seed: int = 0,
    ax: Axes | None = None,
) -> Figure:
    """2-D PCA map (the PCA fitted with the segmenter) of the scaled features, one colour per
    cluster, sampled to at most ``max_points`` customers.

    Parameters
    ----------
    segmenter : fitted :class:`BehaviouralSegmenter`.
    features : customer feature table (customers without a completed booking are left out).
    seed : seed of the point sample.
    """
    if len(features) > max_points:
        rng = np.random.default_rng(seed)
        features = features.iloc[np.sort(rng.choice(len(features), max_points, replace=False))]
    xy = segmenter.project(features)
    fig, ax = _axes(ax, (7, 5.5))
    cmap = plt.get_cmap("tab10" if segmenter.k_ <= 10 else "tab20")
    for c in range(segmenter.k_):
        pts = xy[xy["cluster"] == c]
        ax.scatter(pts["pc1"], pts["pc2"], s=4, alpha=0.4, color=cmap(c % cmap.N),
                   label=f"{c}: {segmenter.labels_[c]} ({len(pts):,})", rasterized=True)
    ev = segmenter.pca_.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
    ax.set_title("Behavioural clusters (PCA of the scaled features)")
    ax.legend(fontsize=7, markerscale=3, loc="best")
    return fig
