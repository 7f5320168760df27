"""Covariate encoding for the churn models, fitted once and reused when scoring.

:class:`CovariateEncoder` turns numeric, boolean and categorical customer features into a
float64 design matrix: one-hot levels with the largest group as reference (or the first
level), median imputation with a missing indicator, constant and duplicated columns dropped (the reasons kept in
``dropped_``). Encoded columns keep their source units (``*_days`` columns stay in days,
shares in [0, 1]); the per-column spec (``std``, ``binary``, ``integer``) is what the
driver wording uses to pick natural increments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


class CovariateEncoder:
    """One-hot encoding (reference level dropped) and median imputation, fitted once.

    Parameters
    ----------
    covariates : numeric or boolean columns.
    categorical : categorical columns, one 0/1 column per level except the reference; a
        missing value is its own level ``"missing"``; levels unseen in training score as
        the reference.
    reference : ``"largest"`` (default): the reference level of each categorical is its
        largest group in the fitted data (ties: the first in level order), as lifelines users
        and marketers expect ("vs the typical customer"; month-to-month contracts, not the
        alphabetically first "One year"); ``"first"``: the first level (category order for
        pandas categoricals, else sorted). The reference changes the coefficients of a
        categorical's levels, not the model's predictions (without a penalizer).

    Attributes
    ----------
    columns_ : list[str] -- encoded column names (``"member_tier=gold"``,
        ``"csat_mean"``, ``"csat_mean_missing"``).
    spec_ : pandas.DataFrame -- one row per encoded column: ``source``, ``role``
        (``numeric``/``missing_indicator``/``level``), ``level``, ``reference``,
        ``fill_value``, ``std``, ``binary``, ``integer``.
    dropped_ : dict[str, str] -- source columns not used and why.
    """

    def __init__(self, covariates: Sequence[str] = (), categorical: Sequence[str] = (),
                 reference: str = "largest"):
        self.covariates = list(covariates)
        self.categorical = list(categorical)
        self.reference = reference

    def fit(self, df: pd.DataFrame) -> CovariateEncoder:
        if self.reference not in ("largest", "first"):
            raise ValueError(f"reference must be 'largest' or 'first', not {self.reference!r}")
        rows: list[dict[str, Any]] = []
        self.dropped_: dict[str, str] = {}
        for col in self.covariates:
            if col not in df.columns:
                self.dropped_[col] = "not in the data"
                continue
            x = pd.to_numeric(df[col].astype("Float64"), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            miss = np.isnan(x)
            if miss.all():
                self.dropped_[col] = "all values missing"
                continue
            fill = float(np.median(x[~miss]))
            xf = np.where(miss, fill, x)
            if np.nanstd(xf) == 0:
                self.dropped_[col] = "constant"
                continue
            vals = np.unique(xf[: min(len(xf), 200_000)])
            rows.append(
                dict(
                    column=col, source=col, role="numeric", level=None, reference=None,
                    fill_value=fill, std=float(np.std(xf)),
                    binary=bool(len(vals) == 2 and set(vals) <= {0.0, 1.0}),
                    integer=bool(np.all(vals == np.round(vals))),
                )
            )
            if 0 < miss.mean() < 1:
                rows.append(
                    dict(
                        column=f"{col}_missing", source=col, role="missing_indicator",
                        level=None, reference=None, fill_value=0.0, std=float(np.std(miss)),
                        binary=True, integer=True,
                    )
                )
        for col in self.categorical:
            if col not in df.columns:
                self.dropped_[col] = "not in the data"
                continue
            s = df[col]
            values = s.astype("object").where(s.notna(), "missing").astype(str)
            counts = values.value_counts()
            if isinstance(s.dtype, pd.CategoricalDtype):
                order = [str(c) for c in s.cat.categories] + ["missing"]
            else:
                order = sorted(counts.index)
            levels = [lv for lv in order if counts.get(lv, 0) > 0]
            if len(levels) < 2:
                self.dropped_[col] = "a single level"
                continue
            ref = levels[0]
            if self.reference == "largest":
                ref = max(levels, key=lambda lv: counts[lv])  # first of the largest on ties
            for lv in levels:
                if lv == ref:
                    continue
                share = counts[lv] / len(values)
                rows.append(
                    dict(
                        column=f"{col}={lv}", source=col, role="level", level=lv,
                        reference=ref, fill_value=0.0,
                        std=float(np.sqrt(share * (1 - share))), binary=True, integer=True,
                    )
                )
        self.spec_ = pd.DataFrame(
            rows,
            columns=[
                "column", "source", "role", "level", "reference", "fill_value", "std",
                "binary", "integer",
            ],
        ).set_index("column")
        self.columns_ = list(self.spec_.index)
        # identical encoded columns (e.g. csat and nps missing together) are not estimable
        seen: dict[bytes, str] = {}
        dup = []
        X = self.transform(df).to_numpy()
        for j, col in enumerate(self.columns_):
            key = hashlib.sha1(np.ascontiguousarray(X[:, j]).tobytes()).digest()
            if key in seen:
                dup.append(col)
                self.dropped_[col] = f"identical to {seen[key]}"
            else:
                seen[key] = col
        if dup:
            self.spec_ = self.spec_.drop(index=dup)
            self.columns_ = list(self.spec_.index)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Encode ``df`` -> float64 frame (n_rows, len(columns_)), same index."""
        if not hasattr(self, "spec_"):
            raise RuntimeError("CovariateEncoder is not fitted; call fit first")
        out = np.zeros((len(df), len(self.columns_)), dtype=np.float64)
        cache: dict[str, np.ndarray] = {}
        for j, (_name, r) in enumerate(self.spec_.iterrows()):
            src = r["source"]
            if src not in df.columns:
                raise KeyError(f"column {src!r} needed by the fitted model is missing")
            if r["role"] == "level":
                if src not in cache:
                    s = df[src]
                    cache[src] = (
                        s.astype("object").where(s.notna(), "missing").astype(str).to_numpy()
                    )
                out[:, j] = cache[src] == r["level"]
            else:
                x = pd.to_numeric(df[src].astype("Float64"), errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                if r["role"] == "missing_indicator":
                    out[:, j] = np.isnan(x)
                else:
                    out[:, j] = np.where(np.isnan(x), r["fill_value"], x)
        return pd.DataFrame(out, index=df.index, columns=self.columns_)
