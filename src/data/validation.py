"""Coerce a mapped source table to the data contract and split it into kept and rejected rows.

One validator for every entry point (notebook, CLI, scheduled job): a table that has been read
and renamed onto the contract (:func:`src.data.loading.read_source`) goes through
:func:`validate_table`, which

1. coerces each contract column to its contract type (:data:`CONTRACT_DTYPES`): text is parsed
   here (dates in mixed formats, numbers with currency symbols or thousands separators,
   yes/no flags); a value that cannot be parsed becomes a reject, never a silent NaN;
2. validates the typed frame with a pandera schema built from :mod:`src.data.contract`
   (:func:`schema_for`: types, nullability, allowed values, ranges, key uniqueness, dates not
   in the future, known customers) in lazy mode, and turns pandera's failure cases into one
   reject row per source row with every reason found;
3. returns the kept rows with contract dtypes and the rejects; ``len(df) == len(kept) +
   len(rejects)`` always.

Rules beyond the contract's types (documented here, enforced by the schema)
-------------------------------------------------------------------------
- ``amount`` must be a finite number. A negative amount is rejected (``negative_amounts=
  "reject"``) unless the row's ``status`` is ``cancelled``: a refund is a cancelled booking
  with a negative (or zero) amount; map the source's refund status onto ``cancelled`` with
  ``values: {status: {Refunded: cancelled}}``. ``negative_amounts="keep"`` keeps them all.
- Dates after ``as_of_date`` are rejected as "date in the future", except
  ``bookings.travel_start`` (trips are booked ahead). ``interactions.timestamp`` may fall on
  ``as_of_date`` itself at any time of day.
- ``feedback.csat`` in 1..5, ``feedback.nps`` in 0..10, ``bookings.nights`` >= 0,
  ``bookings.party_size`` >= 1, ``customers.birth_year`` in 1900..year of ``as_of_date``.
- Keys (``customers.customer_id``, ``bookings.booking_id``) are unique: the first row with a
  key is kept, later ones are rejected naming the first one's row. Missing keys are rejected
  as missing values, not as duplicates.
- ``customer_id`` of bookings, interactions and feedback must be in ``known_customer_ids``
  when that is given (the kept ids of a customers table).
- Category values with allowed values are matched after trimming, lower-casing and turning
  spaces and hyphens into underscores (``"No Show"`` -> ``no_show``); anything else is
  rejected with the allowed values in the reason.
- ``bookings`` without a ``booking_id`` column gets one synthesised deterministically as
  ``"<customer_id>-<row_number>"``, so exact repeated rows of a transaction log (legitimate in
  CDNOW) are all kept.

Dates
-----
Columns that are already datetimes (Parquet, DuckDB) pass through; text is parsed with
``date_format`` when one is given, otherwise by :func:`parse_dates` (ISO 8601 with or without
time, ``YYYYMMDD``, ``DD/MM/YYYY`` or ``MM/DD/YYYY`` by ``dayfirst``, month names with a day
and a four-digit year); what none of these reads unambiguously (``"12"``, ``"Mar 2024"``,
``"2024-02-30"``) is rejected rather than guessed.
Time zones are dropped keeping the wall-clock time written in the source, so a booking at
``23:30+08:00`` stays on its local calendar day. ``date`` columns are normalised to midnight;
every date column ends as ``datetime64[ns]``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_numeric_dtype,
)

from src.data.contract import TABLES, Column, Table
from src.data.errors import DataValidationError

__all__ = [
    "CONTRACT_DTYPES",
    "REJECT_COLUMNS",
    "parse_dates",
    "schema_for",
    "validate_table",
]

REJECT_COLUMNS: list[str] = ["table", "source", "row_number", "column", "value", "reason", "record"]
"""Columns of a rejects table, one row per rejected source row: ``row_number`` is the 1-based
data row in the source (header not counted), ``column`` the contract column at fault, ``value``
its source text, ``reason`` why, ``record`` the whole source row as JSON. A row with several
problems lists them all, ``"; "``-separated, in the same order in ``column``, ``value`` and
``reason``."""

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
R_DATE = "unparseable date"
R_NUMBER = "unparseable number"
R_WHOLE = "not a whole number"
R_BOOL = "unparseable true/false"
R_FINITE = "not a finite number"
R_NEGATIVE = "negative amount (allowed only when status is cancelled)"
R_UNKNOWN_CUSTOMER = "customer_id not in customers table (absent, or its row there was rejected)"
_REFUND_STATUSES: tuple[str, ...] = ("cancelled",)

_FATAL_SHARE = 0.9  # a column with at least this share of unparseable values is fatal
_FATAL_MIN = 5  # ... and at least this many (or all rows of a smaller table)

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


# --------------------------------------------------------------------------------------------
# text and type coercion
# --------------------------------------------------------------------------------------------
def _as_text(s: pd.Series, *, as_category: bool = False) -> pd.Series:
    """Values as stripped ``str``, missing and blank values as NaN.

    Object dtype, or ``category`` with ``as_category`` (encoded without building one Python
    string per row). Integral floats print without ``.0`` (an id or ``YYYYMMDD`` date read as
    a float)."""
    if is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        safe = np.where(finite, values, 0.0)
        integral = finite & (np.mod(safe, 1) == 0) & (np.abs(safe) < 2**62)
        out = np.full(len(values), np.nan, dtype=object)
        out[integral] = safe[integral].astype(np.int64).astype(str)
        other = ~integral & ~np.isnan(values)
        out[other] = values[other].astype(str)
        text = pd.Series(out, index=s.index, name=s.name)
        return text.astype("category") if as_category else text
    if isinstance(s.dtype, pd.CategoricalDtype):  # trim the few levels, not every row
        levels = _as_text(pd.Series(np.asarray(s.cat.categories, dtype=object)))
        level_text = levels.to_numpy(dtype=object)
        codes = s.cat.codes.to_numpy()
        if as_category:
            cats = sorted({v for v in level_text if isinstance(v, str)})
            lookup = np.append(pd.Index(cats, dtype=object).get_indexer(level_text), -1)
            cat = pd.Categorical.from_codes(lookup[codes], categories=pd.Index(cats, dtype=object))
            return pd.Series(cat, index=s.index, name=s.name)
        values = np.append(level_text, np.nan)[codes]  # code -1 (missing) -> the NaN at the end
        return pd.Series(values, index=s.index, name=s.name, dtype=object)
    try:  # fast path: pyarrow's vectorised trim (all values str or missing)
        arr = pa_arrow.array(s.to_numpy(dtype=object), type=pa_arrow.string(), from_pandas=True)
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowTypeError, TypeError):
        text = s.astype(str).str.strip()
        keep = s.notna().to_numpy() & (text != "").to_numpy()
        text = text.where(keep, np.nan).astype(object)
        return text.astype("category") if as_category else text
    trimmed = pc.utf8_trim_whitespace(arr)
    if (not as_category and arr.null_count == 0 and s.dtype == object
            and not pc.any(pc.not_equal(trimmed, arr)).as_py()
            and not pc.any(pc.equal(trimmed, "")).as_py()):
        return s  # clean text already (ids read from Parquet): no new strings
    missing = pc.or_kleene(pc.is_null(trimmed), pc.equal(trimmed, "")).fill_null(True)
    if as_category:
        none = pa_arrow.scalar(None, pa_arrow.string())
        encoded = pc.dictionary_encode(pc.if_else(missing, none, trimmed))
        categories = encoded.dictionary.to_pylist()
        cat = pd.Categorical.from_codes(
            encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False),
            categories=pd.Index(categories, dtype=object),
        ).reorder_categories(sorted(categories))  # as astype("category") orders them
        return pd.Series(cat, index=s.index, name=s.name)
    out = trimmed.to_numpy(zero_copy_only=False)
    out[missing.to_numpy(zero_copy_only=False)] = np.nan
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def _is_text(s: pd.Series) -> bool:
    return not (
        is_numeric_dtype(s.dtype) or is_bool_dtype(s.dtype) or is_datetime64_any_dtype(s.dtype)
    )


_TZ_SUFFIX = re.compile(
    r"(\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
)
_DMY = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:(?:[ T]+|\s*,\s*)(.+))?$"
_YMD_SLASH = r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:(?:[ T]+|\s*,\s*)(.+))?$"
_MONTH_NAME = (
    r"(?i)^(?=.*\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\b|\d))"
    r"(?=.*\b\d{4}\b)(?=.*(?:^|\D)\d{1,2}(?:st|nd|rd|th)?(?:\D|$))"
)


def _to_datetime(text: pd.Series, **kwargs: Any) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(text, errors="coerce", **kwargs)


def _naive(parsed: pd.Series) -> pd.Series:
    """Drop time zones keeping wall-clock time; result ``datetime64[ns]``."""
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = pd.Series(parsed.dt.tz_localize(None).array, index=parsed.index, name=parsed.name)
    elif parsed.dtype == object:  # mixed offsets: one Timestamp per element
        parsed = pd.to_datetime(
            parsed.map(lambda t: t.tz_localize(None) if getattr(t, "tzinfo", None) else t),
            errors="coerce",
        )
    return _to_ns(parsed)


def _to_ns(parsed: pd.Series) -> pd.Series:
    if parsed.dtype == "datetime64[ns]":
        return parsed
    lo = np.datetime64(pd.Timestamp.min.ceil("s"))
    hi = np.datetime64(pd.Timestamp.max.floor("s"))
    values = parsed.to_numpy()
    in_range = (values >= lo) & (values <= hi)
    return pd.Series(
        np.where(in_range, values, np.datetime64("NaT")).astype("datetime64[ns]"),
        index=parsed.index,
        name=parsed.name,
    )


def _parse_day_month(text: pd.Series, pattern: str, dayfirst: bool | None) -> pd.Series:
    """Parse ``D/M/Y`` (``dayfirst``), ``M/D/Y`` (not ``dayfirst``) or ``Y/M/D`` (``None``)."""
    parts = text.str.extract(pattern)
    ok = parts[0].notna()
    parts = parts[ok]
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if not len(parts):
        return out
    if dayfirst is None:
        year, month, day = parts[0], parts[1], parts[2]
    else:
        first, second, year = parts[0], parts[1], parts[2]
        day, month = (first, second) if dayfirst else (second, first)
        short = year.str.len() == 2
        if short.any():  # strptime's %y convention: 69-99 -> 19xx, 00-68 -> 20xx
            yy = year[short].astype(int)
            year = year.where(~short, (yy + np.where(yy < 69, 2000, 1900)).astype(str))
    iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
    has_time = parts[3].notna()
    iso = iso.where(~has_time, iso + " " + parts[3].fillna(""))
    parsed = _naive(_to_datetime(iso, format="ISO8601"))
    rest = parsed.isna() & has_time  # e.g. "3:45 PM": the date part is ISO now, so safe
    if rest.any():
        parsed[rest] = _naive(_to_datetime(iso[rest], format="mixed"))
    out.loc[parsed.index] = parsed
    return out


def _parse_text_dates(text: pd.Series, date_format: str | None, dayfirst: bool) -> pd.Series:
    if date_format:
        return _naive(_to_datetime(text, format=date_format))
    out = _naive(_to_datetime(text, format="ISO8601"))
    todo = out.isna() & text.notna()
    # offsets ISO 8601 parsing does not take (" UTC", "+08", "GMT"): drop them, keep wall time
    if todo.any():
        stripped = text[todo].str.replace(_TZ_SUFFIX, r"\1", regex=True)
        changed = stripped != text[todo]
        if changed.any():
            out.loc[stripped[changed].index] = _naive(
                _to_datetime(stripped[changed], format="ISO8601")
            )
            todo = out.isna() & text.notna()
    for pattern, first in ((_DMY, dayfirst), (_YMD_SLASH, None)):
        if todo.any():
            parsed = _parse_day_month(text[todo], pattern, first)
            out.loc[parsed.index] = parsed
            todo = out.isna() & text.notna()
    if todo.any():  # month names ("5 Jan 2024", "Jan 5, 2024 3pm"): day and 4-digit year present
        named = text[todo][text[todo].str.contains(_MONTH_NAME, regex=True)]
        if len(named):
            out.loc[named.index] = _naive(_to_datetime(named, format="mixed", dayfirst=dayfirst))
    return out


def parse_dates(
    values: pd.Series, *, date_format: str | None = None, dayfirst: bool = False
) -> pd.Series:
    """Parse a column of dates or timestamps robustly.

    Parameters
    ----------
    values : Series of shape (n,): text, ``YYYYMMDD`` integers, or datetimes (passed through).
    date_format : strptime format (e.g. ``"%Y%m%d"``); when given, only that format is
        accepted.
    dayfirst : read ambiguous ``01/02/2024`` as 1 February (``True``) or 2 January.

    Returns
    -------
    Series of shape (n,), ``datetime64[ns]`` without time zone (wall-clock time kept), same
    index; NaT where a value is missing or cannot be parsed (unambiguously). Times are kept:
    normalise for calendar dates.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if is_datetime64_any_dtype(s.dtype):
        return _naive(s)
    text = _as_text(s)
    return _parse_text_dates(text, date_format, dayfirst)


def _parse_numbers(s: pd.Series, text: pd.Series | None = None) -> pd.Series:
    """Floats from numbers or text (``"$1,234.50"``, ``"12 €"`` accepted); NaN if unparseable."""
    if not _is_text(s) and not is_bool_dtype(s.dtype):
        return s.astype("float64")
    text = _as_text(s) if text is None else text
    try:  # fast path: every present value is a plain number
        arr = pa_arrow.array(text.to_numpy(dtype=object), type=pa_arrow.string(), from_pandas=True)
        return pd.Series(
            pc.cast(arr, pa_arrow.float64()).to_numpy(zero_copy_only=False),
            index=text.index,
            name=text.name,
        )
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowTypeError):
        pass
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = out.isna() & text.notna()
    if bad.any():
        cleaned = text[bad].str.replace(r"[\s$€£¥]|^(?:USD|EUR|GBP|CNY|RMB)", "", regex=True)
        thousands = cleaned.str.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
        cleaned = cleaned.where(~thousands, cleaned.str.replace(",", "", regex=False))
        out.loc[bad] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    return out


def _parse_bools(s: pd.Series, text: pd.Series | None = None) -> pd.Series:
    if is_bool_dtype(s.dtype):
        return s.astype("boolean")
    text = (_as_text(s) if text is None else text).str.lower()
    mapping = {v: True for v in _TRUE} | {v: False for v in _FALSE}
    return text.map(mapping).astype("boolean")


def _normalise_categories(cat: pd.Series, allowed: tuple[str, ...] | None) -> pd.Series:
    """Match category values onto ``allowed`` ("No Show" -> "no_show"); others unchanged."""
    if not allowed:
        return cat
    norm = {u: re.sub(r"[\s\-]+", "_", u.strip().lower()) for u in cat.cat.categories}
    fixes = {u: v for u, v in norm.items() if u != v and v in allowed}
    if not fixes:
        return cat
    return cat.astype(object).replace(fixes).astype("category")


def _coerce(
    raw: pd.Series, col: Column, date_format: str | None, dayfirst: bool
) -> tuple[pd.Series, pd.Series, pd.Series | str | None, pd.Series]:
    """Coerce one column to its contract kind.

    Returns (typed values, mask of present-but-unparseable values, their reason, mask of
    present values)."""
    kind = col.kind
    textual = _is_text(raw) or kind in ("string", "category")
    text = _as_text(raw, as_category=kind == "category") if textual else None
    present = text.notna() if text is not None else raw.notna()
    if kind in ("date", "datetime"):
        if text is None:
            typed = _naive(raw) if is_datetime64_any_dtype(raw.dtype) else parse_dates(raw)
        else:
            typed = _parse_text_dates(text, date_format, dayfirst)
        if kind == "date":
            typed = typed.dt.normalize()
        return typed, present & typed.isna(), R_DATE, present
    if kind == "float":
        typed = _parse_numbers(raw, text)
        return typed, present & typed.isna(), R_NUMBER, present
    if kind == "int":
        num = _parse_numbers(raw, text)
        values = num.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        safe = np.where(finite, values, 0.0)
        whole = finite & (np.mod(safe, 1) == 0) & (np.abs(safe) < 2**53)
        unparseable = present.to_numpy() & np.isnan(values)
        not_whole = ~np.isnan(values) & ~whole
        typed = num.where(whole).astype("Int64")
        reason = pd.Series(np.where(unparseable, R_NUMBER, R_WHOLE), index=raw.index)
        return typed, pd.Series(unparseable | not_whole, index=raw.index), reason, present
    if kind == "bool":
        typed = _parse_bools(raw, text)
        return typed, present & typed.isna(), R_BOOL, present
    if kind == "category":
        return _normalise_categories(text, col.allowed), None, None, present
    return text, None, None, present


# --------------------------------------------------------------------------------------------
# the pandera schema
# --------------------------------------------------------------------------------------------
def _as_of_timestamp(as_of_date: date | datetime | str | pd.Timestamp | None) -> pd.Timestamp:
    if as_of_date is None:
        return pd.Timestamp(date.today())
    return pd.Timestamp(as_of_date).normalize()


def _allowed_reason(allowed: Iterable[str]) -> str:
    return f"value not allowed (allowed: {', '.join(allowed)})"


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


def _table_spec(table: str) -> Table:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; contract tables: {', '.join(TABLES)}")
    return TABLES[table]


def schema_for(
    table: str,
    *,
    as_of_date: date | datetime | str | pd.Timestamp | None = None,
    negative_amounts: Literal["reject", "keep"] = "reject",
    known_customer_ids: Iterable[str] | None = None,
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

    Returns
    -------
    A ``DataFrameSchema`` over typed frames (:data:`CONTRACT_DTYPES`): mandatory columns are
    required, optional ones may be absent; extra columns are allowed. Every check carries its
    reject reason as its ``error`` text.
    """
    spec = _table_spec(table)
    as_of = None if as_of_date is None else _as_of_timestamp(as_of_date)
    key = spec.key[0] if len(spec.key) == 1 else None
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        checks: list[pa.Check] = []
        if col.allowed is not None:
            checks.append(pa.Check.isin(list(col.allowed), error=_allowed_reason(col.allowed)))
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


# --------------------------------------------------------------------------------------------
# validate_table
# --------------------------------------------------------------------------------------------
def _row_numbers(index: pd.Index) -> np.ndarray:
    """1-based source rows: ``index + 1`` for an integer index (as read), else positions."""
    if pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64) + 1
    return np.arange(1, len(index) + 1, dtype=np.int64)


def _column_label(name: str, source_columns: Mapping[str, str]) -> str:
    src = source_columns.get(name, name)
    return f"'{name}'" if src == name else f"'{name}' (source column '{src}')"


def _fatal_hint(col: Column, date_format: str | None) -> str:
    mapping = f"check that columns.{col.name} names the right source column"
    if col.kind in ("date", "datetime"):
        how = (
            f"the values do not match date_format {date_format!r}; fix date_format"
            if date_format
            else "set date_format (e.g. '%Y%m%d', '%d/%m/%Y') or dayfirst: true to match "
            "how the source writes dates"
        )
        return f"{mapping}; {how}"
    if col.kind in ("float", "int"):
        return (
            f"{mapping} (it must hold numbers such as 1234.50); amounts with a decimal comma "
            "or text must be converted in the source"
        )
    return f"{mapping}; write true/false, yes/no or 1/0, or map the values with values.{col.name}"


def _problems(pos: np.ndarray, column: str, reason: str | np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"pos": pos.astype(np.int64), "column": column, "reason": reason})


def _failure_problems(
    failure_cases: pd.DataFrame, typed: pd.DataFrame, row_numbers: np.ndarray
) -> pd.DataFrame:
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
            out.loc[sel, "reason"] = [
                f"duplicate {name} (first at row {row_numbers[int(p)]})" for p in firsts
            ]
    return out.drop_duplicates(["pos", "column", "reason"])


def _value_text(series: pd.Series, pos: np.ndarray) -> np.ndarray:
    values = series.iloc[pos]
    text = values.astype(object).map(lambda v: "" if _isna(v) else str(v))
    return text.to_numpy(dtype=object)


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _records(raw: pd.DataFrame, pos: np.ndarray) -> list[str]:
    rows = raw.iloc[pos].astype(object)
    rows = rows.where(rows.notna(), None)
    return [
        json.dumps(rec, ensure_ascii=False, default=_json_default)
        for rec in rows.to_dict("records")
    ]


def _empty_rejects() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    out["row_number"] = out["row_number"].astype(np.int64)
    return out


def validate_table(
    df: pd.DataFrame,
    table: str,
    source: str,
    *,
    as_of_date: date | datetime | str | pd.Timestamp | None,
    negative_amounts: Literal["reject", "keep"] = "reject",
    known_customer_ids: Iterable[str] | None = None,
    date_format: str | None = None,
    dayfirst: bool = False,
    source_columns: Mapping[str, str] | None = None,
    raw: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coerce a mapped table to the contract, validate it, split kept from rejected rows.

    Parameters
    ----------
    df : frame of shape (n, k) with contract column names (as :func:`read_source` returns:
        raw source values, integer index = 0-based source row). Columns outside the contract
        are ignored.
    table : contract table name.
    source : the file path or URL, used in rejects and error messages.
    as_of_date : dates after it are "in the future" (``None``: today).
    negative_amounts : ``"reject"`` negative amounts unless status is ``cancelled``, or
        ``"keep"`` them.
    known_customer_ids : kept ids of the customers table; other ``customer_id`` values are
        rejected (not checked when ``None``).
    date_format, dayfirst : how text dates are written (see :func:`parse_dates`).
    source_columns : contract name -> source column name, to name source columns in errors.
    raw : the source rows as read (shape (n, any)), written as JSON into ``record``; default
        ``df``.

    Returns
    -------
    kept : frame of shape (n_kept, k') with the contract columns present (plus a synthesised
        ``booking_id`` for bookings without one), in contract order, contract dtypes
        (:data:`CONTRACT_DTYPES`), index 0..n_kept-1, source order.
    rejects : frame of shape (n - n_kept, 7) with :data:`REJECT_COLUMNS`, one row per rejected
        source row.

    Raises
    ------
    DataValidationError
        A mandatory column is absent, or a column is almost entirely unparseable for its type
        (at least 90% of its non-empty values and at least five of them, or all rows of a
        smaller table): the message names the file, the column, example rows and a fix.
    """
    spec = _table_spec(table)
    source_columns = dict(source_columns or {})
    as_of = _as_of_timestamp(as_of_date)
    n = len(df)
    row_numbers = _row_numbers(df.index)
    missing = [c for c in spec.required_columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"table {table} has no mandatory column "
            + ", ".join(_column_label(c, source_columns) for c in missing),
            file=source,
            table=table,
            column=missing[0],
            hint=f"map it with columns.{missing[0]}: <source column>; the table has "
            f"{', '.join(map(str, df.columns)) or 'no columns'}",
        )

    typed: dict[str, pd.Series] = {}
    raw_cols: dict[str, pd.Series] = {}
    pieces: list[pd.DataFrame] = []
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        values = pd.Series(df[col.name].array, name=col.name, copy=False)
        raw_cols[col.name] = values
        coerced, failed, reason, present = _coerce(values, col, date_format, dayfirst)
        typed[col.name] = coerced
        if failed is None or not failed.any():
            continue
        failed_np = failed.to_numpy(dtype=bool)
        n_failed = int(failed_np.sum())
        n_present = int(present.sum())
        if n_failed >= _FATAL_SHARE * n_present and n_failed >= min(_FATAL_MIN, n):
            pos = np.flatnonzero(failed_np)[:5]
            kind = {"date": "dates", "datetime": "dates", "bool": "true/false values"}.get(
                col.kind, "numbers"
            )
            label = _column_label(col.name, source_columns)
            raise DataValidationError(
                f"{n_failed} of {n_present} values in column {label} of table {table} are not "
                f"{kind}",
                file=source,
                table=table,
                column=col.name,
                rows=pd.DataFrame(
                    {"row_number": row_numbers[pos], "value": _value_text(values, pos)}
                ),
                hint=_fatal_hint(col, date_format),
            )
        reasons = reason if isinstance(reason, str) else reason.to_numpy()[failed_np]
        pieces.append(_problems(np.flatnonzero(failed_np), col.name, reasons))

    if table == "bookings" and "booking_id" not in typed:
        cid = typed["customer_id"].fillna("").astype(str)
        typed = {"booking_id": cid + "-" + pd.Series(row_numbers.astype(str)), **typed}
    order = [c for c in spec.column_names if c in typed]
    frame = pd.DataFrame({c: typed[c] for c in order}, copy=False)
    del typed

    schema = schema_for(
        table,
        as_of_date=as_of,
        negative_amounts=negative_amounts,
        known_customer_ids=known_customer_ids,
    )
    try:
        with warnings.catch_warnings():  # pandera's own FutureWarnings while collecting failures
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        found = _failure_problems(err.failure_cases, frame, row_numbers)
        if pieces:  # a value that failed to parse is not also "missing"
            parsed = pd.concat(pieces, ignore_index=True)[["pos", "column"]]
            parsed["_unparsed"] = True
            found = found.merge(parsed.drop_duplicates(), on=["pos", "column"], how="left")
            found = found[~((found["reason"] == R_MISSING) & found["_unparsed"].eq(True))]
            found = found.drop(columns="_unparsed")
        pieces.append(found)

    if not pieces or sum(len(p) for p in pieces) == 0:
        return _finish_kept(frame, spec), _empty_rejects()

    long = pd.concat(pieces, ignore_index=True)
    col_order = {c: i for i, c in enumerate(spec.column_names)}
    long["_order"] = long["column"].map(col_order).fillna(len(col_order))
    long = long.sort_values(["pos", "_order"], kind="stable").reset_index(drop=True)
    long["value"] = ""
    for name in pd.unique(long["column"]):
        sel = (long["column"] == name).to_numpy()
        series = raw_cols.get(name, frame[name] if name in frame.columns else None)
        if series is not None:
            long.loc[sel, "value"] = _value_text(series, long.loc[sel, "pos"].to_numpy())
    grouped = long.groupby("pos", sort=True)
    rej_pos = grouped.size().index.to_numpy(dtype=np.int64)
    rejects = pd.DataFrame(
        {
            "table": table,
            "source": str(source),
            "row_number": row_numbers[rej_pos],
            "column": grouped["column"].agg("; ".join).to_numpy(),
            "value": grouped["value"].agg("; ".join).to_numpy(),
            "reason": grouped["reason"].agg("; ".join).to_numpy(),
            "record": _records(df if raw is None else raw, rej_pos),
        }
    )
    keep = np.ones(n, dtype=bool)
    keep[rej_pos] = False
    kept = frame.loc[keep].reset_index(drop=True)
    del frame
    return _finish_kept(kept, spec), rejects


def _finish_kept(kept: pd.DataFrame, spec: Table) -> pd.DataFrame:
    for col in spec.columns:
        if col.kind == "category" and col.name in kept.columns:
            if col.allowed is not None:
                kept[col.name] = kept[col.name].cat.set_categories(list(col.allowed))
            else:
                kept[col.name] = kept[col.name].cat.remove_unused_categories()
    return kept
