"""Evaluation of segmentations against known customer types (e.g. the personas planted in the
synthetic data): adjusted Rand index and purity, both unitless shares in [0, 1] (ARI can be
slightly negative), over customers with a completed booking."""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import adjusted_rand_score

__all__ = ["recovery_scores"]


def recovery_scores(clusters: pd.Series, truth: pd.Series) -> dict[str, float]:
    """How well clusters recover known types (planted personas): adjusted Rand index and purity
    (share of customers in their cluster's majority type), over customers in both series that
    have a completed booking (cluster >= 0)."""
    both = pd.concat({"cluster": clusters, "truth": truth}, axis=1, join="inner")
    both = both[both["cluster"] >= 0]
    if both.empty:
        return {"ari": float("nan"), "purity": float("nan"), "customers": 0.0}
    majority = both.groupby("cluster")["truth"].agg(lambda s: s.value_counts().iloc[0]).sum()
    return {"ari": float(adjusted_rand_score(both["truth"], both["cluster"])),
            "purity": float(majority / len(both)), "customers": float(len(both))}
