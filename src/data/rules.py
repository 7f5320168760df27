"""The row rules of the validator: the pandera schema of each contract table.

:func:`schema_for` builds, from :mod:`src.data.contract`, the schema a typed table must pass:
contract dtypes (:data:`CONTRACT_DTYPES`), nullability, allowed category values, value ranges
(``csat`` 1-5, ``nps`` 0-10, ``nights`` >= 0, ``party_size`` >= 1, ``birth_year`` 1900 to the
as-of year), finite amounts, no negative amount unless the booking is ``cancelled``, unique
keys, no date after the as-of date (``interactions.timestamp``: before the end of that day;
``bookings.travel_start`` exempt) and known customers. Every check carries its reject reason
(the ``R_*`` constants) as its error text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from src.data.contract import TABLES, Table

__all__ = [
    "CONTRACT_DTYPES",
    "R_FINITE",
    "R_MISSING",
    "R_NEGATIVE",
    "R_UNKNOWN_CUSTOMER",
    "as_of_timestamp",
    "schema_for",
    "table_spec",
]

CONTRACT_DTYPES: dict[str, str] = {
    "string": "object",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns]",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "category": "category",
}
"""pandas dtype of each contract kind in a kept table."""

# value ranges (inclusive) beyond the contract's types; None = open end; the upper bound of
# birth_year is the year of as_of_date
_RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("feedback", "csat"): (1, 5),
    ("feedback", "nps"): (0, 10),
    ("bookings", "nights"): (0, None),
    ("bookings", "party_size"): (1, None),
    ("customers", "birth_year"): (1900, None),
}
_FUTURE_ALLOWED: frozenset[tuple[str, str]] = frozenset({("bookings", "travel_start")})

# reasons (the part before " (" is what the load report counts)
R_MISSING = "missing mandatory value"
R_FINITE = "not a finite number"
R_NEGATIVE = "negative amount (allowed only when status is cancelled)"
R_UNKNOWN_CUSTOMER = "customer_id not in customers table (absent, or its row there was rejected)"
_REFUND_STATUSES: tuple[str, ...] = ("cancelled",)


def as_of_timestamp(as_of_date: date | datetime | str | pd.Timestamp | None) -> pd.Timestamp:
    """The as-of date as a midnight ``Timestamp``; ``None`` means today."""
    if as_of_date is None:
        return pd.Timestamp(date.today())
    return pd.Timestamp(as_of_date).normalize()


def _allowed_reason(allowed: Iterable[str]) -> str:
    return f"value not allowed (allowed: {', '.join(allowed)})"


def vocabulary_reason(table: str, column: str, levels: Iterable[str]) -> str:
    """Reject reason of a value outside the job's declared vocabulary of ``column``."""
    return (f"value not in the job's vocabulary (tables.{table}.vocabulary.{column}: "
            f"{', '.join(levels)})")


def _range_reason(lo: float | None, hi: float | None) -> str:
    if hi is None:
        return f"out of range (at least {lo:g})"
    if lo is None:
        return f"out of range (at most {hi:g})"
    return f"out of range ({lo:g} to {hi:g})"


def _future_reason(as_of: pd.Timestamp) -> str:
    return f"date in the future (after {as_of:%Y-%m-%d})"


def _negative_ok(df: pd.DataFrame) -> pd.Series:
    amount = df["amount"]
    ok = amount.isna() | (amount >= 0)
    if "status" in df.columns:
        ok |= df["status"].isin(_REFUND_STATUSES).to_numpy()
    return ok


def table_spec(table: str, vocabulary: Mapping[str, Sequence[str]] | None = None) -> Table:
    """The contract :class:`~src.data.contract.Table` of ``table``; ``ValueError`` if unknown.

    ``vocabulary`` (contract column -> the company's levels, lowest first for a tier) makes
    those levels the column's allowed values, in that order.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; contract tables: {', '.join(TABLES)}")
    spec = TABLES[table]
    if not vocabulary:
        return spec
    cols = tuple(replace(c, allowed=tuple(str(v) for v in vocabulary[c.name]))
                 if c.name in vocabulary else c for c in spec.columns)
    return replace(spec, columns=cols)


def schema_for(
    table: str,
    *,
    as_of_date: date | datetime | str | pd.Timestamp | None = None,
    negative_amounts: Literal["reject", "keep"] = "reject",
    known_customer_ids: Iterable[str] | None = None,
    vocabulary: Mapping[str, Sequence[str]] | None = None,
) -> pa.DataFrameSchema:
    """The pandera schema of a contract table, built from :mod:`src.data.contract`.

    Parameters
    ----------
    table : ``customers``, ``bookings``, ``interactions`` or ``feedback``.
    as_of_date : when given, dates after it fail ("date in the future") and birth years
        after its year are out of range.
    negative_amounts : ``"reject"``: a negative ``amount`` fails unless ``status`` is
        ``cancelled``; ``"keep"``: no sign check.
    known_customer_ids : when given, a ``customer_id`` outside it fails (not for
        ``customers`` itself).
    vocabulary : contract column -> the company's declared levels: a value outside them
        fails, naming the params key.

    Returns
    -------
    A ``DataFrameSchema`` over typed frames (:data:`CONTRACT_DTYPES`): mandatory columns are
    required, optional ones may be absent; extra columns are allowed. Every check carries its
    reject reason as its ``error`` text.
    """
    spec = table_spec(table, vocabulary)
    as_of = None if as_of_date is None else as_of_timestamp(as_of_date)
    key = spec.key[0] if len(spec.key) == 1 else None
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        checks: list[pa.Check] = []
        if col.allowed is not None:
            reason = (vocabulary_reason(table, col.name, col.allowed)
                      if vocabulary and col.name in vocabulary else _allowed_reason(col.allowed))
            checks.append(pa.Check.isin(list(col.allowed), error=reason))
        if (table, col.name) in _RANGES:
            lo, hi = _RANGES[(table, col.name)]
            if col.name == "birth_year" and as_of is not None:
                hi = as_of.year
            checks.append(_range_check(lo, hi))
        if col.kind == "float":
            checks.append(pa.Check(lambda s: s.abs() < np.inf, error=R_FINITE))
        if as_of is not None and (table, col.name) not in _FUTURE_ALLOWED:
            if col.kind == "date":
                checks.append(pa.Check(_not_after(as_of), error=_future_reason(as_of)))
            elif col.kind == "datetime":
                nxt = as_of + pd.Timedelta(days=1)
                checks.append(pa.Check(_before(nxt), error=_future_reason(as_of)))
        if col.name == "customer_id" and table != "customers" and known_customer_ids is not None:
            known = pd.Index(pd.unique(np.asarray(list(known_customer_ids), dtype=object)))
            checks.append(pa.Check(_in_index(known), error=R_UNKNOWN_CUSTOMER))
        unique = col.name == key
        columns[col.name] = pa.Column(
            CONTRACT_DTYPES[col.kind],
            checks=checks,
            nullable=col.nullable,
            required=col.required,
            unique=unique,
            report_duplicates="exclude_first" if unique else "all",
            description=col.description or None,
        )
    frame_checks = []
    if table == "bookings" and negative_amounts == "reject":
        frame_checks.append(pa.Check(_if_amount(_negative_ok), error=R_NEGATIVE))
    return pa.DataFrameSchema(columns, checks=frame_checks, name=table, strict=False)


def _range_check(lo: float | None, hi: float | None) -> pa.Check:
    reason = _range_reason(lo, hi)
    if lo is not None and hi is not None:
        return pa.Check.in_range(lo, hi, error=reason)
    if lo is not None:
        return pa.Check.ge(lo, error=reason)
    return pa.Check.le(hi, error=reason)


def _not_after(limit: pd.Timestamp) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s <= limit


def _before(limit: pd.Timestamp) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s < limit


def _in_index(known: pd.Index) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.isin(known)


def _if_amount(check: Callable[[pd.DataFrame], pd.Series]) -> Callable[[pd.DataFrame], Any]:
    return lambda df: check(df) if "amount" in df.columns else True
