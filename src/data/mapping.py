"""Column mapping of the loader: rename a source's columns onto the data contract.

:func:`map_columns` takes a source frame as read and its :class:`~src.data.sources.TableSource`
and returns the contract columns the source provides: columns renamed (``columns``), source
values translated (``values``), constants filled for absent columns or missing cells
(``defaults``; bookings get ``status = "completed"`` when they have none); a mandatory or
explicitly mapped column that is not in the source is a
:class:`~src.data.errors.DataValidationError` naming the nearest source columns.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pandas as pd

from src.data.contract import TABLES, Table
from src.data.errors import DataValidationError
from src.data.sources import TableSource, unknown_contract_keys

__all__ = ["map_columns"]


def _map_values(values: pd.Series, mapping: dict[str, str | None]) -> pd.Series:
    text = values.astype(str).str.strip()
    hit = values.notna().to_numpy() & text.isin(list(mapping)).to_numpy()
    if not hit.any():
        return values
    out = values.astype(object).copy()
    out[hit] = text[hit].map(mapping)
    return out


def map_columns(
    raw: pd.DataFrame, source: TableSource, table: str, display: str
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Rename onto the contract; returns (mapped frame, contract -> source column, notes).

    Parameters
    ----------
    raw : the source as read (:func:`~src.data.readers.read_raw`).
    source : its :class:`~src.data.sources.TableSource`.
    table : contract table name.
    display : the file or URL, for error messages.

    Returns
    -------
    mapped : frame of shape (n_rows, k), the contract columns present, in contract order.
    used : contract column -> source column it was read from.
    notes : ``defaults`` filled, ``synthesised`` columns, ``unused_columns`` of the source.

    Raises
    ------
    DataValidationError
        A key of the mapping is not a contract column, or a mandatory (or explicitly mapped)
        column is not in the source.
    """
    spec: Table = TABLES[table]
    problems = unknown_contract_keys(source, table)
    if problems:
        raise DataValidationError("; ".join(problems), file=display, table=table)
    have = list(raw.columns)
    cols: dict[str, pd.Series] = {}
    used: dict[str, str] = {}
    absent: list[tuple[str, str, bool]] = []  # (contract column, expected source column, required)
    for col in spec.columns:
        src = source.columns.get(col.name, col.name)
        if src in raw.columns:
            cols[col.name] = raw[src]
            used[col.name] = src
        elif col.name in source.columns or (col.required and col.name not in source.defaults):
            absent.append((col.name, src, col.required))
    if absent:
        parts, hints = [], []
        for name, src, required in absent:
            parts.append(
                f"{'mandatory column' if required else 'column'} {name!r} not found: expected "
                f"source column {src!r}"
            )
            near = difflib.get_close_matches(src, have, n=3, cutoff=0.5)
            near += [h for h in have if h.lower() == src.lower() and h not in near]
            hints.append(
                f"set tables.{table}.columns.{name}: <source column>"
                + (f" (nearest names: {', '.join(near)})" if near else "")
            )
        raise DataValidationError(
            f"{table}: " + "; ".join(parts) + f" in {Path(display).name}",
            file=display,
            table=table,
            column=absent[0][0],
            hint="; ".join(hints) + f"; the source has columns: {', '.join(have)}",
        )
    for name, mapping in source.values.items():
        if name in cols:
            cols[name] = _map_values(cols[name], mapping)
    notes: dict[str, Any] = {}
    defaults = dict(source.defaults)
    if table == "bookings" and "status" not in cols and "status" not in defaults:
        defaults["status"] = "completed"
    for name, value in defaults.items():
        if name in cols:
            cols[name] = cols[name].where(cols[name].notna(), value)
        else:
            cols[name] = pd.Series([value] * len(raw), index=raw.index, dtype=object)
            notes.setdefault("defaults", {})[name] = value
    if table == "bookings" and "booking_id" not in cols:
        notes["synthesised"] = ["booking_id"]
    unused = [c for c in have if c not in used.values()]
    if unused:
        notes["unused_columns"] = unused
    order = [c for c in spec.column_names if c in cols]
    return pd.DataFrame({c: cols[c] for c in order}, copy=False), used, notes
