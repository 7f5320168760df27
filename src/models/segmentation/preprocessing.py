"""The feature space of the behavioural clusters: which customer features enter the distance
(grouped: lifecycle and recency in days, frequency in bookings, spend in currency, trip shape
in days / travellers / nights, service scores, product / destination / channel shares in
[0, 1], customer attributes), how each is scaled (signed log1p for skewed numerics, then
standardised; shares passed through; categoricals one-hot) and how much each group weighs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

__all__ = [
    "DEFAULT_FEATURE_WEIGHTS",
    "FEATURE_GROUPS",
    "LOG_FEATURES",
    "SHARE_PREFIXES",
    "build_preprocessor",
    "signed_log1p",
]

SHARE_PREFIXES: tuple[str, ...] = ("product_", "dest_", "channel_")
"""Column-name prefixes of the mix shares (product, destination type, channel)."""

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "lifecycle": ("recency_days", "tenure_days"),
    "frequency": ("frequency",),
    "spend": ("monetary_mean",),
    "trip": ("lead_time_days_mean", "party_size_mean", "nights_mean"),
    "service": ("complaints_total", "csat_mean", "nps_mean"),
    "mix": SHARE_PREFIXES,
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
    if col.startswith(SHARE_PREFIXES):
        return "mix"
    for group, cols in FEATURE_GROUPS.items():
        if col in cols:
            return group
    return "other"


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: log scale for skewed values that may be <= 0."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object \
        or pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


def build_preprocessor(features: pd.DataFrame, cols: list[str], weights: dict[str, float]
                       ) -> ColumnTransformer:
    """One transformer per (group, kind); group weights via ``transformer_weights``.

    Parameters
    ----------
    features : customer features, shape (n_customers, ...); only the dtypes of ``cols`` are
        read (to tell categoricals from numerics).
    cols : the feature columns of the distance.
    weights : group -> weight (every group of :data:`DEFAULT_FEATURE_WEIGHTS`).

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; kinds: ``log`` (median impute, :func:`signed_log1p`, standardise),
        ``linear`` (median impute, standardise), ``share`` (missing -> 0), ``onehot``.
    """
    parts: dict[str, list[str]] = {}
    for col in cols:
        if col.startswith(SHARE_PREFIXES):
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

