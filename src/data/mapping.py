"""Column mapping of the loader: rename a source's columns onto the data contract.

:func:`resolve_mapping` sorts a table's ``columns`` (and customer ``attributes``) into source
columns, used as they are, and DuckDB SQL expressions over the source columns: a value that is
exactly a column name of the source (as in its header) is a column, a bare name that is not
one is a missing column (a :class:`~src.data.errors.DataValidationError` naming the nearest
source columns), anything else is an expression. :func:`map_columns` takes a source frame as
read and returns the contract columns it provides; :func:`finish_mapping` (shared with the
DuckDB engine, :mod:`src.data.ingest`) translates values (``values``) and fills constants for
absent columns or missing cells (``defaults``; bookings get ``status = "completed"`` when they
have none).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from src.data.contract import TABLES, Table
from src.data.errors import DataValidationError
from src.data.sources import TableSource, unknown_contract_keys

__all__ = ["Mapping", "finish_mapping", "is_expression", "map_columns", "resolve_mapping"]

_BARE_NAME = re.compile(r"^[^\W\d][\w .#$%&?@\[\]{}~^`\\:;!]*$")
_SQL_WORDS = frozenset({"true", "false", "null"})


def is_expression(value: str, header: list[str]) -> bool:
    """Whether a mapping value is a SQL expression rather than a source column.

    A value that is exactly a column of ``header`` is a column; a bare name (letters, digits,
    blanks, no operator, quote or bracket) that is not in the header is a column too (missing,
    reported as such), except the SQL literals ``true``, ``false`` and ``null``; anything else
    (``"Quantity * Price"``, ``"make_date(y, m, 1)"``, ``"12.5"``) is an expression.
    """
    if value in header:
        return False
    text = value.strip()
    return text.lower() in _SQL_WORDS or not _BARE_NAME.match(text)


@dataclass
class Mapping:
    """A table's mapping sorted against its source header.

    Attributes
    ----------
    columns : contract column -> source column, used as it is.
    expressions : contract column -> SQL expression over the source columns.
    attributes : customer attribute name -> source column or SQL expression.
    absent : (contract column, expected source column, required) not in the source.
    """

    columns: dict[str, str] = field(default_factory=dict)
    expressions: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    absent: list[tuple[str, str, bool]] = field(default_factory=list)

    def raise_absent(self, table: str, display: str, header: list[str]) -> None:
        """Raise the missing-columns :class:`DataValidationError` if any column is absent."""
        if not self.absent:
            return
        parts, hints = [], []
        for name, src, required in self.absent:
            parts.append(
                f"{'mandatory column' if required else 'column'} {name!r} not found: expected "
                f"source column {src!r}"
            )
            near = difflib.get_close_matches(src, header, n=3, cutoff=0.5)
            near += [h for h in header if h.lower() == src.lower() and h not in near]
            where = "attributes" if name in self.attributes else "columns"
            hints.append(
                f"set tables.{table}.{where}.{name}: <source column or SQL expression>"
                + (f" (nearest names: {', '.join(near)})" if near else "")
            )
        raise DataValidationError(
            f"{table}: " + "; ".join(parts) + f" in {Path(display).name}",
            file=display,
            table=table,
            column=self.absent[0][0],
            hint="; ".join(hints) + f"; the source has columns: {', '.join(header)}",
        )


def resolve_mapping(source: TableSource, table: str, header: list[str], display: str) -> Mapping:
    """Sort ``source.columns`` and ``source.attributes`` against the source's ``header``.

    Contract columns not in ``columns`` are taken from a source column of the same name when
    there is one. Raises :class:`DataValidationError` when a key is not a contract column.
    """
    spec: Table = TABLES[table]
    problems = unknown_contract_keys(source, table)
    if problems:
        raise DataValidationError("; ".join(problems), file=display, table=table)
    out = Mapping()
    for col in spec.columns:
        src = source.columns.get(col.name, col.name)
        if src in header:
            out.columns[col.name] = src
        elif col.name in source.columns and is_expression(src, header):
            out.expressions[col.name] = src
        elif col.name in source.columns or (col.required and col.name not in source.defaults):
            out.absent.append((col.name, src, col.required))
    for name, src in source.attributes.items():
        out.attributes[name] = src
        if src not in header and not is_expression(src, header):
            out.absent.append((name, src, False))
    return out


def _map_values(values: pd.Series, mapping: dict[str, str | None]) -> pd.Series:
    text = values.astype(str).str.strip()
    hit = values.notna().to_numpy() & text.isin(list(mapping)).to_numpy()
    if not hit.any():
        return values
    out = values.astype(object).copy()
    out[hit] = text[hit].map(mapping)
    return out


def finish_mapping(
    cols: dict[str, pd.Series], source: TableSource, table: str, index: pd.Index
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply ``values`` and ``defaults`` to the mapped contract columns ``cols``.

    Returns the frame of the contract columns present, in contract order, index ``index``,
    and notes (``defaults`` filled, ``synthesised`` columns).
    """
    spec: Table = TABLES[table]
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
            cols[name] = pd.Series([value] * len(index), index=index, dtype=object)
            notes.setdefault("defaults", {})[name] = value
    if table == "bookings" and "booking_id" not in cols:
        notes["synthesised"] = ["booking_id"]
    order = [c for c in spec.column_names if c in cols]
    return pd.DataFrame({c: cols[c] for c in order}, index=index, copy=False), notes


def map_columns(
    raw: pd.DataFrame, source: TableSource, table: str, display: str
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Rename onto the contract; returns (mapped frame, contract -> source column, notes).

    Parameters
    ----------
    raw : the source as read (:func:`~src.data.readers.read_raw`).
    source : its :class:`~src.data.sources.TableSource` (plain columns only: expressions,
        ``where``, ``group_lines`` and ``attributes`` are the DuckDB engine's,
        :func:`src.data.ingest.ingest_table`).
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
    have = list(raw.columns)
    mapping = resolve_mapping(source, table, have, display)
    for name, expr in mapping.expressions.items():  # the pandas path evaluates no SQL
        mapping.absent.append((name, expr, TABLES[table].column(name).required))
    mapping.raise_absent(table, display, have)
    cols = {name: raw[src] for name, src in mapping.columns.items()}
    mapped, notes = finish_mapping(cols, source, table, raw.index)
    unused = [c for c in have if c not in mapping.columns.values()]
    if unused:
        notes["unused_columns"] = unused
    return mapped, dict(mapping.columns), notes
