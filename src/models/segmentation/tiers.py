"""Value tiers: customers ranked by value (revenue or CLV, currency) and cut into four tiers
by cumulative share of the total value (Pareto cut-offs); the fitted thresholds are in
currency, so new customers are assigned without refitting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from src.models.base import ProjectModel
from src.models.segmentation.common import check_fitted, require_columns

__all__ = ["DEFAULT_TIER_CUTOFFS", "TIER_NAMES", "ValueTiers"]

TIER_NAMES: tuple[str, ...] = ("most_valuable", "major", "ordinary", "small")
DEFAULT_TIER_CUTOFFS: tuple[float, ...] = (0.5, 0.8, 0.95)
"""Cumulative revenue shares closing the first three tiers (Pareto cut-offs)."""


class ValueTiers(ProjectModel):
    """Four value tiers by cumulative share of value (revenue now, CLV later).

    Customers are ranked by value, highest first; those that together make the first
    ``cutoffs[0]`` of the total are ``most_valuable``, up to ``cutoffs[1]`` ``major``, up to
    ``cutoffs[2]`` ``ordinary``, the rest ``small``. The fitted thresholds are in currency, so
    new customers are assigned without refitting (value >= threshold; ties go up).

    Parameters
    ----------
    cutoffs : increasing cumulative value shares in (0, 1), one fewer than ``names``.
    names : tier names, most valuable first.
    value_col : column read when a DataFrame is passed (``monetary_total``, or a CLV column).

    Attributes
    ----------
    thresholds_ : pandas.Series, tier -> minimum value (currency) for all but the last tier.
    total_value_ : float, total positive value of the reference population (currency).
    """

    _fitted_attribute = "thresholds_"

    def __init__(
        self,
        cutoffs: Sequence[float] = DEFAULT_TIER_CUTOFFS,
        names: Sequence[str] = TIER_NAMES,
        value_col: str = "monetary_total",
    ) -> None:
        self.cutoffs = cutoffs
        self.names = names
        self.value_col = value_col

    def value_of(self, value: pd.Series | pd.DataFrame) -> pd.Series:
        """The value series: ``value`` itself, or its ``value_col`` column."""
        if isinstance(value, pd.DataFrame):
            require_columns(value, [self.value_col], "ValueTiers")
            return value[self.value_col]
        return value

    def fit(self, value: pd.Series | pd.DataFrame) -> ValueTiers:
        """Fit the currency thresholds.

        Parameters
        ----------
        value : per-customer value (currency), shape (n_customers,), or a feature table with
            ``value_col``. Values <= 0 hold no share of the total and fall in the last tier.
        """
        cut = np.asarray(self.cutoffs, dtype=np.float64)
        if len(cut) != len(self.names) - 1 or np.any(np.diff(cut) <= 0) or cut[0] <= 0 \
                or cut[-1] >= 1:
            raise ValueError(f"cutoffs must be {len(self.names) - 1} increasing shares in (0, 1)")
        v = self.value_of(value).to_numpy(dtype=np.float64)
        v = v[~np.isnan(v)]
        pos = np.sort(v[v > 0])[::-1]
        if len(pos) == 0:
            raise ValueError("ValueTiers.fit: no customer with positive value")
        total = pos.sum()
        before = (np.cumsum(pos) - pos) / total  # share held by the customers ranked above
        thresholds = []
        for c in cut:
            inside = before < c - 1e-12
            thresholds.append(float(pos[inside][-1]))
        self.thresholds_ = pd.Series(thresholds, index=list(self.names[:-1]), name="min_value")
        self.total_value_ = float(total)
        return self

    def transform(self, value: pd.Series | pd.DataFrame) -> pd.Series:
        """Tier per customer (ordered category, most valuable first; NA for missing value)."""
        check_fitted(self, "thresholds_")
        s = self.value_of(value)
        v = s.to_numpy(dtype=np.float64)
        th = self.thresholds_.to_numpy()
        # thresholds are decreasing; tier index = number of thresholds above v
        idx = np.searchsorted(-th, -v, side="left")
        codes = np.where(np.isnan(v), -1, idx)
        cat = pd.Categorical.from_codes(codes, categories=list(self.names), ordered=True)
        return pd.Series(cat, index=s.index, name="value_tier")

    @property
    def summary(self) -> pd.DataFrame:
        """The lowest value (currency) of each tier but the last."""
        self.check_fitted()
        return self.thresholds_.to_frame()

    def tier_table(self, value: pd.Series | pd.DataFrame) -> pd.DataFrame:
        """Customers and value per tier.

        Returns
        -------
        pandas.DataFrame
            One row per tier: ``tier``, ``min_value`` (currency threshold), ``customers``,
            ``share_customers``, ``revenue`` (currency, sum of value), ``share_revenue``
            (of the total positive value) and the cumulative shares.
        """
        s = self.value_of(value)
        tier = self.transform(s)
        g = pd.DataFrame({"tier": tier, "v": s.to_numpy(dtype=np.float64)}).groupby(
            "tier", observed=False
        )["v"]
        table = pd.DataFrame({"customers": g.size(), "revenue": g.sum()})
        table["share_customers"] = table["customers"] / table["customers"].sum()
        table["share_revenue"] = table["revenue"] / s.clip(lower=0).sum()
        table["cum_share_customers"] = table["share_customers"].cumsum()
        table["cum_share_revenue"] = table["share_revenue"].cumsum()
        table["min_value"] = self.thresholds_.reindex(table.index)
        table.index = table.index.astype(str)
        table = table.rename_axis("tier").reset_index()
        return table[["tier", "min_value", "customers", "share_customers", "revenue",
                      "share_revenue", "cum_share_customers", "cum_share_revenue"]]
