"""DataFrame dtype utilities shared by the model wrappers: pandas extension dtypes
(categories, nullable integers / floats / booleans) turned into the plain NumPy / object dtypes
MLflow signatures understand; values and units are unchanged (currency stays currency, days
stay days), only their dtypes change."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["numeric_values", "signature_dtypes", "to_plain_dtypes"]


def to_plain_dtypes(frame: pd.DataFrame, *, ints_as_float: bool = False) -> pd.DataFrame:
    """Plain dtypes MLflow schemas understand: categories -> str (missing: None), nullable
    numerics -> float64 (missing: NaN), nullable booleans -> object; with ``ints_as_float``
    integer columns -> float64 too (so a signature accepts both ints and floats).

    MLflow enforces the signature *before* a pyfunc sees its input, so callers of a logged
    model pass features through this function (the feature tables keep categoricals for memory)."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif str(dtype) == "boolean":
            out[col] = out[col].astype(object)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            out[col] = out[col].astype("float64")
        elif ints_as_float and pd.api.types.is_integer_dtype(dtype):
            out[col] = out[col].astype("float64")
    return out


def signature_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """The dtypes of a logged model's input signature: numbers and booleans -> float64 (a
    CSV, a SQL table and a Parquet file then agree), categoricals -> str, ``customer_id`` /
    ``cutoff_date`` -> str."""
    out = to_plain_dtypes(frame, ints_as_float=True)
    for col in out.columns:
        s = out[col]
        if col in ("customer_id", "cutoff_date"):
            out[col] = s.astype(str)
        elif pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.astype("float64")
        elif (s.dtype == object and s.map(lambda v: isinstance(v, bool | np.bool_)).any()
              and s.map(lambda v: v is None or isinstance(v, bool | np.bool_) or v != v).all()):
            out[col] = pd.to_numeric(s.map(lambda v: np.nan if v is None else float(v)))
    return out


def numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column's values as float64, shape (len(frame),), in the column's unit: an
    object column of numbers, ``None`` and ``pd.NA`` (a column read back from an MLflow
    signature) included, missing values NaN; a column the frame lacks is all NaN (an optional
    input such as ``membership_cancelled``)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    s = frame[column]
    return pd.to_numeric(s.astype("Float64") if s.dtype == object else s,
                         errors="coerce").to_numpy(dtype=float, na_value=np.nan)
