"""What the segmentation parts share: the customers without a completed booking (how to
spot them and the segment / cluster label they get) and the input checks (fitted state,
required feature columns). Feature columns are those of
:func:`src.features.customer.customer_features` (days, counts, currency)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from src.models.base import NotFittedError

__all__ = [
    "NO_BOOKING_LABEL",
    "NO_BOOKING_SEGMENT",
    "NotFittedError",
    "active_mask",
    "check_fitted",
    "require_columns",
]

NO_BOOKING_SEGMENT = "no_completed_booking"
"""RFM segment of customers with no completed booking at the cut-off."""
NO_BOOKING_LABEL = "no completed booking"
"""Cluster label (cluster ``-1``) of customers with no completed booking."""


def check_fitted(obj: object, attr: str) -> None:
    """Raise :class:`NotFittedError` unless ``obj`` has the fitted attribute ``attr``."""
    if not hasattr(obj, attr):
        raise NotFittedError(f"{type(obj).__name__} is not fitted yet: call fit(...) first")


def require_columns(frame: pd.DataFrame, cols: Sequence[str], who: str) -> None:
    """Raise ``KeyError`` naming the columns of ``cols`` missing from ``frame`` (``who``: the
    class asking, for the message)."""
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(
            f"{who} needs columns {missing} (have {list(frame.columns)[:20]}...); build the "
            "table with src.features.customer.customer_features"
        )


def active_mask(features: pd.DataFrame, recency_col: str = "recency_days") -> np.ndarray:
    """Customers with at least one completed booking."""
    if "n_bookings" in features.columns:
        return (features["n_bookings"].to_numpy() > 0)
    return features[recency_col].notna().to_numpy()

