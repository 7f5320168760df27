"""Customer segmentation: RFM scores and named segments, value tiers, behavioural clusters.

All three read the customer feature table of :func:`src.features.customer.customer_features`
(one row per customer, index ``customer_id``) and are fitted once on a reference population;
the fitted objects then assign new customers without refitting (stored bin edges, currency
thresholds, a fitted scikit-learn pipeline), the same code path in a notebook, the scorer and
on Spark (through :class:`SegmentationPyfunc`).

Customers without a completed booking (``n_bookings == 0``, e.g. every booking cancelled) are
never dropped: they get no RFM scores and the segment ``"no_completed_booking"``, the value
tier ``"small"`` (their revenue is 0) and the cluster ``-1`` labelled ``"no completed booking"``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

__all__ = [
    "DEFAULT_RFM_SEGMENT_RULES",
    "DEFAULT_TIER_CUTOFFS",
    "TIER_NAMES",
    "NO_BOOKING_SEGMENT",
    "NO_BOOKING_LABEL",
    "NotFittedError",
    "RFMScorer",
    "ValueTiers",
    "BehaviouralSegmenter",
    "SegmentationModel",
    "SegmentationPyfunc",
    "log_segmentation_model",
    "to_plain_dtypes",
]

NO_BOOKING_SEGMENT = "no_completed_booking"
"""RFM segment of customers with no completed booking at the cut-off."""
NO_BOOKING_LABEL = "no completed booking"
"""Cluster label (cluster ``-1``) of customers with no completed booking."""
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

TIER_NAMES: tuple[str, ...] = ("most_valuable", "major", "ordinary", "small")
DEFAULT_TIER_CUTOFFS: tuple[float, ...] = (0.5, 0.8, 0.95)
"""Cumulative revenue shares closing the first three tiers (Pareto cut-offs)."""

_RULE_KEYS = {"r", "f", "m", "fm"}
_SHARE_PREFIXES = ("product_", "dest_", "channel_")

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "lifecycle": ("recency_days", "tenure_days"),
    "frequency": ("frequency",),
    "spend": ("monetary_mean",),
    "trip": ("lead_time_days_mean", "party_size_mean", "nights_mean"),
    "service": ("complaints_total", "csat_mean", "nps_mean"),
    "mix": _SHARE_PREFIXES,
    "attributes": ("customer_type",),
}
"""Default behavioural features by group (``mix``: column-name prefixes of the shares)."""

DEFAULT_FEATURE_WEIGHTS: dict[str, float] = {
    "lifecycle": 0.5,
    "frequency": 0.5,
    "spend": 1.5,
    "trip": 1.0,
    "service": 0.5,
    "mix": 1.5,
    "attributes": 1.5,
    "other": 1.0,
}
"""Weight of each group in the distance. The *kind* of traveller (what, where, how, with whom,
at what spend) weighs more than where a customer is in the lifecycle (recency, tenure and
frequency depend on the acquisition date, and RFM covers them) or how the last trip went."""

LOG_FEATURES: frozenset[str] = frozenset(
    {"recency_days", "tenure_days", "frequency", "monetary_mean", "monetary_total",
     "lead_time_days_mean", "party_size_mean", "nights_mean", "complaints_total", "n_bookings",
     "avg_days_between_bookings", "active_span_days"}
)
"""Skewed non-negative numerics: signed log1p before standardising; other numerics are only
standardised, shares are passed through, categoricals one-hot encoded."""


def _group_of(col: str) -> str:
    if col.startswith(_SHARE_PREFIXES):
        return "mix"
    for group, cols in FEATURE_GROUPS.items():
        if col in cols:
            return group
    return "other"


class NotFittedError(RuntimeError):
    """A model was used before ``fit``."""


def _check_fitted(obj: object, attr: str) -> None:
    if not hasattr(obj, attr):
        raise NotFittedError(f"{type(obj).__name__} is not fitted yet: call fit(...) first")


def _require(frame: pd.DataFrame, cols: Sequence[str], who: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(
            f"{who} needs columns {missing} (have {list(frame.columns)[:20]}...); build the "
            "table with src.features.customer.customer_features"
        )


def _active_mask(features: pd.DataFrame, recency_col: str = "recency_days") -> np.ndarray:
    """Customers with at least one completed booking."""
    if "n_bookings" in features.columns:
        return (features["n_bookings"].to_numpy() > 0)
    return features[recency_col].notna().to_numpy()


# --------------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------------
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


class RFMScorer:
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
        _require(rfm, self.columns, "RFMScorer")
        _validate_rules(self._rules(), self.n_bins)
        ref = rfm.loc[_active_mask(rfm, self.recency_col)]
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

    def score(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """r/f/m scores (nullable ``Int8``; missing for customers without completed booking)."""
        _check_fitted(self, "edges_")
        _require(rfm, self.columns, "RFMScorer")
        active = _active_mask(rfm, self.recency_col)
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
        out = self.score(rfm)
        f = out["f_score"].astype("float64")
        m = out["m_score"].astype("float64")
        out["fm_score"] = pd.array(np.floor((f + m) / 2 + 0.5), dtype="Int8")
        rules = self._rules()
        seg = np.full(len(out), UNMATCHED_SEGMENT, dtype=object)
        assigned = ~_active_mask(rfm, self.recency_col)
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


# --------------------------------------------------------------------------------------------
# Value tiers
# --------------------------------------------------------------------------------------------
class ValueTiers:
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
            _require(value, [self.value_col], "ValueTiers")
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
        _check_fitted(self, "thresholds_")
        s = self.value_of(value)
        v = s.to_numpy(dtype=np.float64)
        th = self.thresholds_.to_numpy()
        # thresholds are decreasing; tier index = number of thresholds above v
        idx = np.searchsorted(-th, -v, side="left")
        codes = np.where(np.isnan(v), -1, idx)
        cat = pd.Categorical.from_codes(codes, categories=list(self.names), ordered=True)
        return pd.Series(cat, index=s.index, name="value_tier")

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


# --------------------------------------------------------------------------------------------
# Behavioural clusters
# --------------------------------------------------------------------------------------------
def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: log scale for skewed values that may be <= 0."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object \
        or pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


def _preprocessor(features: pd.DataFrame, cols: list[str], weights: dict[str, float]
                  ) -> ColumnTransformer:
    """One transformer per (group, kind); group weights via ``transformer_weights``."""
    parts: dict[str, list[str]] = {}
    for col in cols:
        if col.startswith(_SHARE_PREFIXES):
            kind = "share"
        elif _is_categorical(features[col]):
            kind = "onehot"
        elif col in LOG_FEATURES:
            kind = "log"
        else:
            kind = "linear"
        parts.setdefault(f"{_group_of(col)}:{kind}", []).append(col)
    transformers, tw = [], {}
    for name, group_cols in parts.items():
        group, kind = name.split(":")
        if kind == "log":
            step = Pipeline([
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("log1p", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("scale", StandardScaler()),
            ])
        elif kind == "linear":
            step = Pipeline([
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
            ])
        elif kind == "share":
            step = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
        else:
            step = Pipeline([
                ("as_str", FunctionTransformer(_as_str, feature_names_out="one-to-one")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ])
        transformers.append((name, step, group_cols))
        tw[name] = float(weights.get(group, weights.get("other", 1.0)))
    return ColumnTransformer(transformers, remainder="drop", transformer_weights=tw,
                             verbose_feature_names_out=False)


def _as_str(x) -> np.ndarray:
    """Categorical columns as strings (missing -> "missing"), the same from pandas categories,
    objects or MLflow strings."""
    frame = pd.DataFrame(x)
    return frame.astype(object).where(frame.notna(), "missing").astype(str).to_numpy()


_PRODUCT_NOUNS = {
    "hotel": "hotel guests",
    "flight": "flyers",
    "package": "package travellers",
    "tour": "tour travellers",
    "ticket": "ticket buyers",
    "business_travel": "business travellers",
}


class BehaviouralSegmenter:
    """Behavioural clusters over RFM, spend, trip shape, product/destination/channel mix,
    complaints and satisfaction.

    One scikit-learn ``Pipeline``: a ``ColumnTransformer`` (median imputation; signed log1p and
    standardisation for skewed numerics (:data:`LOG_FEATURES`); standardisation for other
    numerics such as CSAT/NPS; mix shares passed through, missing shares as 0; categorical
    attributes one-hot; each feature group weighted by ``weights``) followed by ``KMeans`` or
    ``GaussianMixture``. ``k`` is
    chosen over ``k_range`` by the criterion: silhouette (on a sample, higher is better) for
    k-means, BIC (lower is better) for the mixture. With more than ``sample_size`` customers
    the fit uses a random sub-sample, then assigns everybody. Clusters are numbered by size
    (0 = largest); customers without a completed booking are cluster ``-1``.

    Parameters
    ----------
    method : ``"kmeans"`` or ``"gmm"``.
    k_range : inclusive (k_min, k_max).
    criterion : ``"silhouette"`` or ``"bic"``; default silhouette for k-means, BIC for gmm.
    features : feature columns; default every present column of :data:`FEATURE_GROUPS`
        (RFM-type numerics, average spend, trip shape, complaints/satisfaction, the
        ``product_``/``dest_``/``channel_`` shares and ``customer_type``).
    sample_size : maximum customers used to fit (``None``: all).
    seed : seed of sub-sampling, initialisation and silhouette sampling.
    weights : group -> weight, over :data:`DEFAULT_FEATURE_WEIGHTS` (columns outside the groups
        are in ``"other"``).
    covariance_type : covariance of the Gaussian mixture (``"diag"`` is fast; ``"full"``).
    n_init : initialisations per k (default 10 for k-means, where local optima are common,
        1 for the mixture).
    silhouette_sample_size : customers the silhouette is computed on.

    Attributes
    ----------
    k_ : chosen number of clusters.
    criterion_ : DataFrame ``k``, ``score`` (the criterion per k), ``chosen``.
    pipeline_ : fitted ``Pipeline`` (``prep`` -> ``model``).
    features_in_ : list of feature columns used.
    profiles_ : DataFrame, one row per cluster (see :meth:`profile`).
    labels_ : dict cluster -> short unique human label.
    pca_ : 2-D PCA of the preprocessed fit sample (for plots).
    fit_seconds_ : wall time of ``fit`` (s).
    """

    def __init__(
        self,
        method: Literal["kmeans", "gmm"] = "kmeans",
        k_range: tuple[int, int] = (3, 10),
        criterion: Literal["silhouette", "bic"] | None = None,
        features: list[str] | None = None,
        sample_size: int | None = 50_000,
        seed: int = 0,
        *,
        weights: dict[str, float] | None = None,
        covariance_type: Literal["diag", "full", "tied", "spherical"] = "diag",
        n_init: int | None = None,
        silhouette_sample_size: int = 10_000,
    ) -> None:
        self.method = method
        self.k_range = k_range
        self.criterion = criterion
        self.features = features
        self.sample_size = sample_size
        self.seed = seed
        self.weights = weights
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.silhouette_sample_size = silhouette_sample_size

    # -- configuration -------------------------------------------------------------------------
    def _criterion(self) -> str:
        crit = self.criterion or ("silhouette" if self.method == "kmeans" else "bic")
        if self.method not in ("kmeans", "gmm"):
            raise ValueError(f"method must be 'kmeans' or 'gmm', got {self.method!r}")
        if crit not in ("silhouette", "bic"):
            raise ValueError(f"criterion must be 'silhouette' or 'bic', got {crit!r}")
        if crit == "bic" and self.method != "gmm":
            raise ValueError("the BIC criterion needs method='gmm'")
        return crit

    def _columns(self, features: pd.DataFrame) -> list[str]:
        if self.features is not None:
            _require(features, self.features, "BehaviouralSegmenter")
            return list(self.features)
        named = {c for group, cols in FEATURE_GROUPS.items() if group != "mix" for c in cols}
        return [c for c in features.columns
                if c in named or c.startswith(_SHARE_PREFIXES)]

    def _weights(self) -> dict[str, float]:
        unknown = set(self.weights or {}) - set(DEFAULT_FEATURE_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown feature groups {sorted(unknown)}; "
                             f"use {sorted(DEFAULT_FEATURE_WEIGHTS)}")
        return {**DEFAULT_FEATURE_WEIGHTS, **(self.weights or {})}

    def _estimator(self, k: int):
        if self.method == "kmeans":
            return KMeans(n_clusters=k, n_init=self.n_init or 10, random_state=self.seed)
        return GaussianMixture(n_components=k, covariance_type=self.covariance_type,
                               n_init=self.n_init or 1, reg_covar=1e-3, random_state=self.seed)

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> BehaviouralSegmenter:
        """Choose k, fit the pipeline, number clusters by size, profile and label them.

        Parameters
        ----------
        features : customer feature table, shape (n_customers, n_features), index
            ``customer_id``; customers without a completed booking are left out of the fit.
        """
        t0 = time.perf_counter()
        crit = self._criterion()
        k_min, k_max = int(self.k_range[0]), int(self.k_range[1])
        if not 2 <= k_min <= k_max:
            raise ValueError(f"k_range must satisfy 2 <= k_min <= k_max, got {self.k_range}")
        cols = self._columns(features)
        if not cols:
            raise ValueError("BehaviouralSegmenter: no usable feature column")
        active = _active_mask(features)
        X = features.loc[active, cols]
        if len(X) < k_max + 1:
            raise ValueError(f"too few customers with a completed booking ({len(X)}) for k={k_max}")
        rng = np.random.default_rng(self.seed)
        if self.sample_size is not None and len(X) > self.sample_size:
            rows = np.sort(rng.choice(len(X), size=self.sample_size, replace=False))
            X_fit = X.iloc[rows]
        else:
            X_fit = X
        prep = _preprocessor(X, cols, self._weights())
        Z = prep.fit_transform(X_fit)
        sil_n = min(self.silhouette_sample_size, len(Z))
        sil_rows = rng.choice(len(Z), size=sil_n, replace=False)
        scores, models = [], {}
        for k in range(k_min, k_max + 1):
            est = self._estimator(k)
            if crit == "silhouette":
                lab = est.fit_predict(Z)
                score = (silhouette_score(Z[sil_rows], lab[sil_rows])
                         if len(np.unique(lab[sil_rows])) > 1 else -1.0)
            else:
                est.fit(Z)
                score = est.bic(Z)
            scores.append(float(score))
            models[k] = est
        scores_arr = np.asarray(scores)
        best = int(np.argmax(scores_arr) if crit == "silhouette" else np.argmin(scores_arr))
        self.k_ = k_min + best
        self.criterion_ = pd.DataFrame({"k": np.arange(k_min, k_max + 1), "score": scores_arr,
                                        "chosen": np.arange(k_min, k_max + 1) == self.k_})
        self.criterion_.attrs["criterion"] = crit
        self.criterion_name_ = crit
        self.pipeline_ = Pipeline([("prep", prep), ("model", models[self.k_])])
        self.features_in_ = cols
        self.pca_ = PCA(n_components=2, random_state=self.seed).fit(Z)
        # number clusters by size on all active customers (stable, readable ids)
        raw = self.pipeline_.predict(X)
        sizes = np.bincount(raw, minlength=self.k_)
        order = np.argsort(-sizes, kind="stable")
        self.cluster_map_ = np.empty(self.k_, dtype=np.int64)
        self.cluster_map_[order] = np.arange(self.k_)
        clusters = np.full(len(features), -1, dtype=np.int64)
        clusters[active] = self.cluster_map_[raw]
        self.profiles_ = self.profile(features, clusters)
        self.labels_ = dict(zip(self.profiles_["cluster"], self.profiles_["label"], strict=True))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # -- assign --------------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Cluster per customer, shape (n_customers,), int64; -1 without completed booking."""
        _check_fitted(self, "pipeline_")
        _require(features, self.features_in_, "BehaviouralSegmenter")
        active = _active_mask(features)
        out = np.full(len(features), -1, dtype=np.int64)
        if active.any():
            raw = self.pipeline_.predict(features.loc[active, self.features_in_])
            out[active] = self.cluster_map_[raw]
        return out

    def label(self, clusters: np.ndarray) -> np.ndarray:
        """Human label per cluster id (``-1`` -> :data:`NO_BOOKING_LABEL`)."""
        _check_fitted(self, "labels_")
        lookup = {**self.labels_, -1: NO_BOOKING_LABEL}
        return np.array([lookup[c] for c in range(-1, self.k_)], dtype=object)[clusters + 1] \
            if len(clusters) else np.array([], dtype=object)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Preprocessed (scaled) features of customers with a completed booking."""
        _check_fitted(self, "pipeline_")
        active = _active_mask(features)
        return self.pipeline_.named_steps["prep"].transform(
            features.loc[active, self.features_in_])

    def project(self, features: pd.DataFrame) -> pd.DataFrame:
        """2-D PCA coordinates (``pc1``, ``pc2``) and ``cluster`` of customers with a completed
        booking (the PCA was fitted in :meth:`fit`)."""
        active = _active_mask(features)
        xy = self.pca_.transform(self.transform(features))
        return pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1],
                             "cluster": self.predict(features)[active]},
                            index=features.index[active])

    # -- describe ------------------------------------------------------------------------------
    def profile(self, features: pd.DataFrame, clusters: np.ndarray | None = None) -> pd.DataFrame:
        """Profile per cluster.

        Returns
        -------
        pandas.DataFrame
            One row per cluster (``-1`` last, when present): ``cluster``, ``label``, ``size``,
            ``share`` (of customers), ``revenue_share`` (of ``monetary_total``), mean
            ``recency_days``, ``frequency``, ``n_bookings``, ``monetary_total`` and
            ``monetary_mean`` (currency), ``tenure_days``, ``party_size_mean``,
            ``lead_time_days_mean``, ``nights_mean``, ``complaints_total``, ``csat_mean``,
            ``nps_mean``, ``corporate_share`` (those present), then ``top_product``/``top_destination``/
            ``top_channel`` and their mean shares.
        """
        if clusters is None:
            clusters = self.predict(features)
        means_of = [c for c in ("recency_days", "frequency", "n_bookings", "monetary_total",
                                "monetary_mean", "tenure_days", "party_size_mean",
                                "lead_time_days_mean", "nights_mean", "complaints_total",
                                "csat_mean", "nps_mean") if c in features.columns]
        shares = [c for c in features.columns if c.startswith(_SHARE_PREFIXES)]
        frame = features[means_of + shares].astype("float64")
        frame["cluster"] = clusters
        g = frame.groupby("cluster")
        prof = g[means_of].mean()
        prof.insert(0, "size", g.size())
        prof.insert(1, "share", prof["size"] / len(frame))
        if "monetary_total" in frame:
            revenue = g["monetary_total"].sum()
            prof.insert(2, "revenue_share", revenue / frame["monetary_total"].clip(lower=0).sum())
        if "customer_type" in features.columns:
            corporate = (features["customer_type"].astype(object) == "corporate").to_numpy()
            prof["corporate_share"] = pd.Series(corporate, index=frame.index).groupby(
                clusters).mean()
        mix = g[shares].mean() if shares else pd.DataFrame(index=prof.index)
        for prefix, name in (("product_", "top_product"), ("dest_", "top_destination"),
                             ("channel_", "top_channel")):
            cols = [c for c in shares if c.startswith(prefix)]
            if not cols:
                continue
            sub = mix[cols]
            top = sub.fillna(-np.inf).idxmax(axis=1).str.slice(len(prefix))
            prof[name] = top.where(sub.notna().any(axis=1), None)
            prof[f"{name}_share"] = sub.max(axis=1)
        prof = prof.reset_index()
        prof = pd.concat([prof[prof["cluster"] >= 0], prof[prof["cluster"] < 0]],
                         ignore_index=True)
        prof.insert(1, "label", _make_labels(prof))
        return prof

    # -- stability -----------------------------------------------------------------------------
    def stability(self, features: pd.DataFrame, n_pairs: int = 3, seed: int = 0) -> float:
        """Mean adjusted Rand index between fits (at the chosen ``k_``) on two random disjoint
        halves of the customers, both fits assigning all customers with a completed booking."""
        _check_fitted(self, "k_")
        active_features = features.loc[_active_mask(features)]
        rng = np.random.default_rng(seed)
        scores = []
        for _ in range(n_pairs):
            perm = rng.permutation(len(active_features))
            half = len(perm) // 2
            preds = []
            for rows in (perm[:half], perm[half:]):
                twin = clone_segmenter(self, k_range=(self.k_, self.k_))
                twin.fit(active_features.iloc[np.sort(rows)])
                preds.append(twin.predict(active_features))
            scores.append(adjusted_rand_score(preds[0], preds[1]))
        self.stability_scores_ = scores
        return float(np.mean(scores))


def clone_segmenter(seg: BehaviouralSegmenter, **overrides: Any) -> BehaviouralSegmenter:
    """An unfitted copy of ``seg`` with some constructor arguments replaced."""
    kw = {k: getattr(seg, k) for k in ("method", "k_range", "criterion", "features",
                                       "sample_size", "seed", "weights", "covariance_type", "n_init",
                                       "silhouette_sample_size")}
    kw.update(overrides)
    return BehaviouralSegmenter(**kw)


def _make_labels(prof: pd.DataFrame) -> list[str]:
    """Short unique labels from cluster profiles.

    Adjectives compare a cluster's mean with the customer-weighted median of the cluster means
    (robust to one extreme cluster): ``lapsed`` (recency >= 1.5x), ``frequent`` (frequency
    >= 1.6x), ``luxury`` (spend per booking >= 5x), ``premium`` (>= 2x), ``budget`` (<= 0.5x);
    then the dominant destination type (share >= 0.45) and a noun from the customer type,
    party size or dominant product.
    """
    act = prof[prof["cluster"] >= 0]
    w = act["size"].to_numpy(dtype=np.float64)

    def median(col: str) -> float:
        if col not in act or act[col].isna().all():
            return np.nan
        ok = act[col].notna().to_numpy()
        v, vw = act[col].to_numpy(dtype=np.float64)[ok], w[ok]
        order = np.argsort(v)
        cum = np.cumsum(vw[order])
        return float(v[order][np.searchsorted(cum, cum[-1] / 2)])

    ref = {c: median(c) for c in ("frequency", "monetary_mean", "recency_days")}
    labels, extras = [], []
    for _, row in prof.iterrows():
        if row["cluster"] < 0:
            labels.append(NO_BOOKING_LABEL)
            extras.append([])
            continue
        words = []
        if _ratio(row, "recency_days", ref) >= 1.5:
            words.append("lapsed")
        if _ratio(row, "frequency", ref) >= 1.6:
            words.append("frequent")
        spend = _ratio(row, "monetary_mean", ref)
        if spend >= 5:
            words.append("luxury")
        elif spend >= 2:
            words.append("premium")
        elif spend <= 0.5:
            words.append("budget")
        dest = row.get("top_destination")
        if isinstance(dest, str) and row.get("top_destination_share", 0) >= 0.45:
            words.append(dest)
        product = row.get("top_product")
        product_share = row.get("top_product_share", 0)
        if row.get("corporate_share", 0) >= 0.5:
            noun = "corporate travellers"
        elif product == "business_travel" and product_share >= 0.4:
            noun = "business travellers"
        elif row.get("party_size_mean", 0) >= 2.8:
            noun = "families"
        elif isinstance(product, str) and product_share >= 0.4:
            noun = _PRODUCT_NOUNS.get(product, f"{product} travellers")
        else:
            noun = "travellers"
        labels.append(" ".join([*words, noun]))
        channel = row.get("top_channel")
        extras.append([f"via {channel}"] if isinstance(channel, str) else [])
    # make unique: first add the channel, then number what is still duplicated
    labels = np.array(labels, dtype=object)
    for _ in range(2):
        vals, counts = np.unique(labels, return_counts=True)
        dup = set(vals[counts > 1])
        if not dup:
            break
        for i, lab in enumerate(labels):
            if lab in dup and extras[i]:
                labels[i] = f"{lab} ({extras[i].pop(0)})"
    seen: dict[str, int] = {}
    final = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        final.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    if len(set(final)) < len(final):  # a numbered label collided with an existing one
        final = [f"{lab} [{i}]" for i, lab in enumerate(final)]
    return final


def _ratio(row: pd.Series, col: str, ref: dict[str, float]) -> float:
    v, r = row.get(col, np.nan), ref.get(col, np.nan)
    if pd.isna(v) or pd.isna(r) or r <= 0:
        return 1.0
    return float(v) / r


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------
class SegmentationModel:
    """RFM scores/segments + value tiers + behavioural clusters, fitted together.

    Parameters
    ----------
    rfm, tiers, clusters : the (unfitted) parts; defaults use the default arguments.

    Attributes
    ----------
    rfm_, tiers_, clusters_ : the fitted parts.
    input_columns_ : the feature columns :meth:`predict` needs.
    """

    def __init__(
        self,
        rfm: RFMScorer | None = None,
        tiers: ValueTiers | None = None,
        clusters: BehaviouralSegmenter | None = None,
    ) -> None:
        self.rfm = rfm
        self.tiers = tiers
        self.clusters = clusters

    def fit(self, features: pd.DataFrame) -> SegmentationModel:
        """Fit all parts on a customer feature table (index ``customer_id``)."""
        self.rfm_ = (self.rfm or RFMScorer()).fit(features)
        self.tiers_ = (self.tiers or ValueTiers()).fit(features)
        self.clusters_ = (self.clusters or BehaviouralSegmenter()).fit(features)
        cols = [*self.rfm_.columns, self.tiers_.value_col, *self.clusters_.features_in_]
        if "n_bookings" in features.columns:
            cols.append("n_bookings")
        self.input_columns_ = list(dict.fromkeys(cols))
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segments per customer.

        Parameters
        ----------
        features : customer features, index ``customer_id`` (or a ``customer_id`` column).

        Returns
        -------
        pandas.DataFrame
            One row per input row, columns ``customer_id``, ``rfm_segment``, ``r_score``,
            ``f_score``, ``m_score``, ``fm_score``, ``value_tier``, ``cluster``,
            ``cluster_label``.
        """
        _check_fitted(self, "clusters_")
        if "customer_id" in features.columns:
            features = features.set_index("customer_id")
        _require(features, self.input_columns_, "SegmentationModel")
        rfm = self.rfm_.transform(features)
        cluster = self.clusters_.predict(features)
        out = pd.DataFrame(
            {
                "customer_id": features.index.to_numpy(),
                "rfm_segment": rfm["rfm_segment"].to_numpy(),
                "r_score": rfm["r_score"].to_numpy(),
                "f_score": rfm["f_score"].to_numpy(),
                "m_score": rfm["m_score"].to_numpy(),
                "fm_score": rfm["fm_score"].to_numpy(),
                "value_tier": self.tiers_.transform(features).to_numpy(),
                "cluster": cluster,
                "cluster_label": self.clusters_.label(cluster),
            }
        )
        return out

    def save(self, path: str | Path) -> Path:
        """Write the fitted model with joblib; returns the path."""
        _check_fitted(self, "clusters_")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SegmentationModel:
        """Read a model written by :meth:`save`."""
        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


# --------------------------------------------------------------------------------------------
# MLflow
# --------------------------------------------------------------------------------------------
_ARTIFACT = "segmentation_model"

from src.models.mlflow_models import to_plain_dtypes  # noqa: E402  (re-exported for callers)

try:  # mlflow is a runtime dependency, but keep the module importable without it
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object  # type: ignore[assignment,misc]


class SegmentationPyfunc(_PythonModel):
    """MLflow pyfunc wrapper: loads the joblib artifact, calls :meth:`SegmentationModel.predict`."""

    def load_context(self, context) -> None:
        self.model = SegmentationModel.load(context.artifacts[_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        """Customer features (``customer_id`` column + :attr:`input_columns_`) -> segments."""
        return to_plain_dtypes(self.model.predict(model_input))


def log_segmentation_model(model: SegmentationModel, name: str, input_example: pd.DataFrame,
                           **log_kwargs: Any):
    """Log a fitted model to the active MLflow run as a pyfunc with an input/output signature.

    Parameters
    ----------
    model : fitted :class:`SegmentationModel`.
    name : model name within the run.
    input_example : a few rows of customer features (index ``customer_id``); only the columns
        the model needs are kept, with ``customer_id`` as a column.
    **log_kwargs : passed to ``mlflow.pyfunc.log_model`` (e.g. ``registered_model_name``).

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    import mlflow
    from mlflow.models import infer_signature

    _check_fitted(model, "clusters_")
    example = input_example
    if "customer_id" not in example.columns:
        example = example.reset_index()
    example = to_plain_dtypes(example[["customer_id", *model.input_columns_]],
                              ints_as_float=True)
    signature = infer_signature(example, to_plain_dtypes(model.predict(example)))
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / f"{_ARTIFACT}.joblib")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=SegmentationPyfunc(),
            artifacts={_ARTIFACT: str(path)},
            signature=signature,
            input_example=example,
            **log_kwargs,
        )


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
