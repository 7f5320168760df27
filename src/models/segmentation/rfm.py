"""RFM scores and named RFM segments: recency (days since the last completed booking),
frequency (completed bookings) and monetary value (revenue, currency) scored 1..``n_bins`` on
the quantiles of a reference population, then mapped to named segments by ordered rules;
customers without a completed booking get no scores and the segment
:data:`~src.models.segmentation.common.NO_BOOKING_SEGMENT`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from src.models.base import ProjectModel
from src.models.segmentation.common import (
    NO_BOOKING_SEGMENT,
    active_mask,
    check_fitted,
    require_columns,
)

__all__ = ["DEFAULT_RFM_SEGMENT_RULES", "UNMATCHED_SEGMENT", "RFMScorer"]

UNMATCHED_SEGMENT = "other"
"""RFM segment when no rule matches (only possible with custom rules)."""

DEFAULT_RFM_SEGMENT_RULES: list[dict[str, Any]] = [
    {"name": "champions", "r": [5], "fm": [4, 5]},
    {"name": "loyal", "r": [3, 4], "fm": [4, 5]},
    {"name": "potential_loyalists", "r": [4, 5], "fm": [2, 3]},
    {"name": "new", "r": [5], "fm": [1]},
    {"name": "promising", "r": [4], "fm": [1]},
    {"name": "need_attention", "r": [3], "fm": [3]},
    {"name": "about_to_sleep", "r": [3], "fm": [1, 2]},
    {"name": "cant_lose", "r": [1, 2], "fm": [5]},
    {"name": "at_risk", "r": [1, 2], "fm": [3, 4]},
    {"name": "lost", "r": [1], "fm": [1]},
    {"name": "hibernating", "r": [1, 2], "fm": [1, 2]},
]
"""The classic R x FM segment map for 5 bins, evaluated in order (first match wins); it covers
all 25 (r, fm) cells. Scores: 5 = best (most recent, most frequent, highest spend)."""

_RULE_KEYS = {"r", "f", "m", "fm"}


def _midrank_scores(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile scores 1..n_bins from mid-rank percentiles: tied values share one score."""
    s = np.sort(x)
    pct = (np.searchsorted(s, x, "left") + np.searchsorted(s, x, "right")) / (2.0 * len(x))
    return np.clip(np.floor(pct * n_bins).astype(np.int64) + 1, 1, n_bins)


def _validate_rules(rules: list[dict[str, Any]], n_bins: int) -> None:
    for i, rule in enumerate(rules):
        if "name" not in rule:
            raise ValueError(f"RFM segment rule #{i} has no 'name': {rule}")
        unknown = set(rule) - _RULE_KEYS - {"name"}
        if unknown:
            raise ValueError(
                f"RFM segment rule {rule['name']!r}: unknown keys {sorted(unknown)}; "
                f"use any of {sorted(_RULE_KEYS)} with a list of allowed scores"
            )
        for key in _RULE_KEYS & set(rule):
            bad = [v for v in rule[key] if not (1 <= int(v) <= n_bins)]
            if bad:
                raise ValueError(
                    f"RFM segment rule {rule['name']!r}: {key} scores {bad} outside 1..{n_bins}"
                )


class RFMScorer(ProjectModel):
    """Recency, frequency and monetary quantile scores and named RFM segments.

    Scores are 1..``n_bins`` quantiles of the *reference* population given to :meth:`fit`
    (customers with at least one completed booking), from mid-rank percentiles so heavily tied
    values (most customers with one booking) share one score instead of breaking ``qcut``.
    The upper edge of every score is stored, so :meth:`transform` scores new customers without
    refitting and reproduces the reference scores exactly. Recency: fewer days is better
    (score 5 = most recent).

    Parameters
    ----------
    n_bins : number of score levels.
    segment_rules : ordered rules ``{"name": ..., "r": [...], "f": [...], "m": [...],
        "fm": [...]}`` (any subset of the score keys, each a list of allowed scores; first
        match wins). Default :data:`DEFAULT_RFM_SEGMENT_RULES` (needs ``n_bins == 5``).
    recency_col, frequency_col, monetary_col : feature columns (days, count, currency).

    Attributes
    ----------
    edges_ : dict ``{"r"|"f"|"m": (upper_edges, scores)}``; recency edges are on ``-days``.
    n_reference_ : number of customers the scores were fitted on.
    """

    _fitted_attribute = "edges_"

    def __init__(
        self,
        n_bins: int = 5,
        segment_rules: list[dict[str, Any]] | None = None,
        *,
        recency_col: str = "recency_days",
        frequency_col: str = "n_bookings",
        monetary_col: str = "monetary_total",
    ) -> None:
        self.n_bins = n_bins
        self.segment_rules = segment_rules
        self.recency_col = recency_col
        self.frequency_col = frequency_col
        self.monetary_col = monetary_col

    @property
    def columns(self) -> list[str]:
        return [self.recency_col, self.frequency_col, self.monetary_col]

    def _rules(self) -> list[dict[str, Any]]:
        if self.segment_rules is not None:
            return self.segment_rules
        if self.n_bins != 5:
            raise ValueError("the default RFM segment rules assume n_bins=5; pass segment_rules")
        return DEFAULT_RFM_SEGMENT_RULES

    def _values(self, rfm: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            "r": -rfm[self.recency_col].to_numpy(dtype=np.float64),
            "f": rfm[self.frequency_col].to_numpy(dtype=np.float64),
            "m": rfm[self.monetary_col].to_numpy(dtype=np.float64),
        }

    def fit(self, rfm: pd.DataFrame) -> RFMScorer:
        """Fit the score edges on a reference population.

        Parameters
        ----------
        rfm : customer features, shape (n_customers, ...), with the recency (days),
            frequency and monetary (currency) columns; rows without a completed booking are
            ignored.
        """
        if self.n_bins < 2:
            raise ValueError("n_bins must be >= 2")
        require_columns(rfm, self.columns, "RFMScorer")
        _validate_rules(self._rules(), self.n_bins)
        ref = rfm.loc[active_mask(rfm, self.recency_col)]
        if len(ref) == 0:
            raise ValueError("RFMScorer.fit: no customer with a completed booking")
        edges = {}
        for key, x in self._values(ref).items():
            if np.isnan(x).any():
                raise ValueError(f"RFMScorer.fit: missing values in the {key!r} column")
            scores = _midrank_scores(x, self.n_bins)
            present = np.unique(scores)
            upper = np.array([x[scores == s].max() for s in present])
            edges[key] = (upper, present)
        self.edges_ = edges
        self.n_reference_ = len(ref)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Upper bin edges per score (rows r/f/m, one column per bin, in the features' units)."""
        self.check_fitted()
        return pd.DataFrame({k: pd.Series(upper) for k, (upper, _) in self.edges_.items()}).T

    def predict(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """r/f/m scores (nullable ``Int8``; missing for customers without completed booking)."""
        check_fitted(self, "edges_")
        require_columns(rfm, self.columns, "RFMScorer")
        active = active_mask(rfm, self.recency_col)
        out = {}
        for key, x in self._values(rfm).items():
            upper, present = self.edges_[key]
            idx = np.minimum(np.searchsorted(upper, np.nan_to_num(x, nan=-np.inf), "left"),
                             len(upper) - 1)
            s = pd.array(present[idx], dtype="Int8")
            s[~active] = pd.NA
            out[f"{key}_score"] = s
        return pd.DataFrame(out, index=rfm.index)

    def transform(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """Scores and segments.

        Returns
        -------
        pandas.DataFrame
            Same index as ``rfm``; columns ``r_score``, ``f_score``, ``m_score``,
            ``fm_score`` (round-half-up mean of f and m; nullable Int8) and ``rfm_segment``
            (category: rule names, ``"other"``, ``"no_completed_booking"``).
        """
        out = self.predict(rfm)
        f = out["f_score"].astype("float64")
        m = out["m_score"].astype("float64")
        out["fm_score"] = pd.array(np.floor((f + m) / 2 + 0.5), dtype="Int8")
        rules = self._rules()
        seg = np.full(len(out), UNMATCHED_SEGMENT, dtype=object)
        assigned = ~active_mask(rfm, self.recency_col)
        seg[assigned] = NO_BOOKING_SEGMENT
        scores = {k: out[f"{k}_score"].to_numpy(dtype=np.float64, na_value=np.nan)
                  for k in _RULE_KEYS}
        for rule in rules:
            hit = ~assigned
            for key in _RULE_KEYS & set(rule):
                hit &= np.isin(scores[key], np.asarray(rule[key], dtype=np.float64))
            seg[hit] = rule["name"]
            assigned |= hit
        names = [r["name"] for r in rules] + [UNMATCHED_SEGMENT, NO_BOOKING_SEGMENT]
        out["rfm_segment"] = pd.Categorical(seg, categories=list(dict.fromkeys(names)))
        return out

    def fit_transform(self, rfm: pd.DataFrame) -> pd.DataFrame:
        return self.fit(rfm).transform(rfm)

