"""The rejects of the validator: one row per rejected source row, with every reason found.

Helpers that turn coercion failures and pandera's failure cases into reject rows: 1-based
source row numbers (header not counted), the contract column at fault and its source value as
text, the reason (duplicates name the row of the first occurrence), the whole source row as
JSON, and the labels and hints of the errors raised when a column is unusable as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from src.data.contract import Column
from src.data.errors import DataValidationError
from src.data.rules import R_MISSING, R_NEGATIVE

__all__ = [
    "column_label",
    "failure_problem_rows",
    "fatal_hint",
    "problem_rows",
    "record_json",
    "source_row_numbers",
    "value_text",
]


def source_row_numbers(index: pd.Index) -> np.ndarray:
    """1-based source rows: ``index + 1`` for an integer index (as read), else positions."""
    if pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64) + 1
    return np.arange(1, len(index) + 1, dtype=np.int64)


def column_label(name: str, source_columns: Mapping[str, str]) -> str:
    """``'name'``, or ``'name' (source column 'src')`` when the source calls it otherwise."""
    src = source_columns.get(name, name)
    return f"'{name}'" if src == name else f"'{name}' (source column '{src}')"


def fatal_hint(col: Column, date_format: str | None) -> str:
    """What to do when column ``col`` is almost entirely unparseable for its kind."""
    mapping = f"check that columns.{col.name} names the right source column"
    if col.kind in ("date", "datetime"):
        how = (
            f"the values do not match date_format {date_format!r}; fix date_format"
            if date_format
            else "set date_format (e.g. '%Y%m%d', '%d/%m/%Y') or dayfirst: true to match "
            "how the source writes dates; a year or year-month alone is not a date: build one "
            "with an expression such as make_date(year, month, 1)"
        )
        return f"{mapping}; {how}"
    if col.kind in ("float", "int"):
        return (
            f"{mapping} (it must hold numbers such as 1234.50); amounts with a decimal comma "
            "or text must be converted in the source"
        )
    return f"{mapping}; write true/false, yes/no or 1/0, or map the values with values.{col.name}"


def problem_rows(pos: np.ndarray, column: str, reason: str | np.ndarray) -> pd.DataFrame:
    """One problem per position: frame ``pos`` (0-based row), ``column``, ``reason``."""
    return pd.DataFrame({"pos": pos.astype(np.int64), "column": column, "reason": reason})


def failure_problem_rows(
    failure_cases: pd.DataFrame, typed: pd.DataFrame, row_numbers: np.ndarray
) -> pd.DataFrame:
    """pandera's failure cases as :func:`problem_rows` (``pos``, ``column``, ``reason``).

    ``not_nullable`` becomes :data:`~src.data.rules.R_MISSING`; a duplicate key names the row
    of its first occurrence (which is not a problem); a schema-level failure (no row index)
    is an internal error.
    """
    fc = failure_cases
    if fc["index"].isna().any():  # schema-level failure (dtype, missing column): a bug here
        what = fc.loc[fc["index"].isna(), ["column", "check"]].drop_duplicates()
        raise DataValidationError(
            "internal error: the coerced table does not match its schema: "
            + "; ".join(f"{c}: {k}" for c, k in what.itertuples(index=False)),
            column=str(what["column"].iloc[0]),
        )
    pos = fc["index"].to_numpy(dtype=np.int64)
    column = fc["column"].astype(object).to_numpy()
    reason = fc["check"].astype(str).to_numpy(dtype=object)
    is_frame_check = (fc["schema_context"] == "DataFrameSchema").to_numpy()
    column[is_frame_check & (reason == R_NEGATIVE)] = "amount"
    reason[reason == "not_nullable"] = R_MISSING
    out = pd.DataFrame({"pos": pos, "column": column, "reason": reason})
    dup = (reason == "field_uniqueness") & fc["failure_case"].notna().to_numpy()
    out = out[(reason != "field_uniqueness") | dup]
    if dup.any():
        for name in pd.unique(out.loc[out["reason"] == "field_uniqueness", "column"]):
            ids = typed[name]
            first = ids[ids.notna()].drop_duplicates(keep="first")
            first_pos = pd.Series(first.index.to_numpy(), index=first.to_numpy())
            sel = (out["reason"] == "field_uniqueness") & (out["column"] == name)
            firsts = first_pos.reindex(ids.to_numpy()[out.loc[sel, "pos"].to_numpy()]).to_numpy()
            lines = (
                ", invoice lines? set "
                "tables.bookings.group_lines: true"
                if name == "booking_id"
                else ""
            )
            out.loc[sel, "reason"] = [
                f"duplicate {name} (first at row {row_numbers[int(p)]}{lines})" for p in firsts
            ]
    return out.drop_duplicates(["pos", "column", "reason"])


def value_text(series: pd.Series, pos: np.ndarray) -> np.ndarray:
    """The values at positions ``pos`` as text (missing: ``""``), an object array; a value
    longer than :data:`SHOWN_CHARACTERS` is cut there and ends with its length."""
    values = series.iloc[pos]
    text = values.astype(object).map(lambda v: "" if _isna(v) else _shown(str(v)))
    return text.to_numpy(dtype=object)


SHOWN_CHARACTERS = 200
"""Characters of a rejected value shown in the rejects' ``value`` column (the ``record`` keeps
the whole source row)."""


def _shown(text: str) -> str:
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters)"


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def record_json(raw: pd.DataFrame, pos: np.ndarray) -> list[str]:
    """The source rows at positions ``pos``, each as a JSON object (missing: ``null``)."""
    rows = raw.iloc[pos]
    names = [str(c) for c in rows.columns]
    columns = []
    for c in rows.columns:
        values = rows[c].astype(object)
        columns.append(values.where(values.notna(), None).tolist())
    return [
        json.dumps(dict(zip(names, vals, strict=True)), ensure_ascii=False, default=_json_default)
        for vals in zip(*columns, strict=True)
    ] if columns else ["{}"] * len(rows)
