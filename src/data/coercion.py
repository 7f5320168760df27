"""Column-type coercion of the validator: text to the contract's dates, numbers, flags, categories.

:func:`coerce_column` turns one mapped source column into its contract kind and flags the
values that are present but cannot be parsed, with the reject reason; :func:`parse_dates` reads
dates in mixed formats (ISO 8601, ``YYYYMMDD``, day-first or month-first with ``/``, month
names; time zones dropped keeping the wall-clock time, result ``datetime64[ns]``; a partial date
such as a bare year ``2016``, a year-month ``2016-05`` or a month name alone is never read as the
first day: it is rejected with :data:`R_PARTIAL_DATE`), numbers may
carry currency symbols or thousands separators, flags are yes/no, true/false or 1/0, and
category values are matched onto the allowed ones after normalising case, spaces and hyphens.
:func:`as_text` is the shared "stripped text or missing" view of any column.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_numeric_dtype,
)

from src.data.contract import Column

__all__ = [
    "DMY_PATTERN",
    "DateForms",
    "R_BOOL",
    "R_DATE",
    "R_NUMBER",
    "R_PARTIAL_DATE",
    "R_WHOLE",
    "as_text",
    "date_forms",
    "coerce_column",
    "partial_dates",
    "parse_dates",
]

# reasons (the part before " (" is what the load report counts)
R_DATE = "unparseable date"
R_NUMBER = "unparseable number"
R_WHOLE = "not a whole number"
R_BOOL = "unparseable true/false"
R_PARTIAL_DATE = (
    "not a full date (a year, year-month or month name alone; it is not read as the first day: "
    "set date_format, e.g. '%Y', to accept it, or map an expression such as "
    "make_date(year, month, 1))"
)

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


def as_text(s: pd.Series, *, as_category: bool = False) -> pd.Series:
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
        levels = as_text(pd.Series(np.asarray(s.cat.categories, dtype=object)))
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
DMY_PATTERN = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:(?:[ T]+|\s*,\s*)(.+))?$"
_YMD_SLASH = r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:(?:[ T]+|\s*,\s*)(.+))?$"
_MONTH_NAME = (
    r"(?i)^(?=.*\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\b|\d))"
    r"(?=.*\b\d{4}\b)(?=.*(?:^|\D)\d{1,2}(?:st|nd|rd|th)?(?:\D|$))"
)


_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_PARTIAL = re.compile(
    rf"(?i)^(?:\d{{4}}(?:\s*[-/.]\s*\d{{1,2}})?|\d{{1,2}}\s*[-/.]\s*\d{{4}}|{_MONTHS}"
    rf"(?:[\s,/-]*\d{{4}})?|\d{{4}}[\s,/-]*{_MONTHS})$"
)


def partial_dates(text: pd.Series) -> pd.Series:
    """Mask of shape (n,): values that are only part of a date.

    A bare year (``"2016"``), a year and month (``"2016-05"``, ``"05/2016"``, ``"May 2016"``)
    or a month name alone (``"May"``). Without an explicit ``date_format`` these are rejected
    (:data:`R_PARTIAL_DATE`) rather than read as the first day of the period; eight-digit
    ``YYYYMMDD`` values are full dates.
    """
    matched = text.astype(object).str.match(_PARTIAL)
    return pd.Series(matched.to_numpy(dtype=object) == True, index=text.index)  # noqa: E712


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


@dataclass(frozen=True)
class DateForms:
    """How the text dates of one column are written (counted over every present value).

    Attributes
    ----------
    iso : ISO 8601 values (``2024-01-31``, with or without a time); ymd_slash : ``2024/01/31``.
    dmy_like : ``01/02/2024``-shaped values (day and month order unknown by shape);
    first_over_12, second_over_12 : of those, with a first (second) field above 12: they prove
        day-first (month-first).
    other : anything else present (month names, compact ``20240131``, garbage).
    """

    iso: int
    ymd_slash: int
    dmy_like: int
    first_over_12: int
    second_over_12: int
    other: int

    def problem(self) -> str | None:
        """Why the column cannot be read without a declared format (None: it can).

        Day-first and month-first are never chosen by default: a ``01/02/2024``-shaped
        column is read only when some value proves the order (a field above 12) and none
        contradicts it, and a column that mixes it with ISO dates is refused."""
        counts = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in (
            ("ISO (2024-01-31)", self.iso), ("year/month/day", self.ymd_slash),
            ("day/month or month/day", self.dmy_like), ("other", self.other)) if v)
        if not self.dmy_like:
            return None
        if self.first_over_12 and self.second_over_12:
            return (f"dates are written both day-first ({self.first_over_12:,} values with a "
                    f"day above 12 first) and month-first ({self.second_over_12:,} with it "
                    f"second) ({counts})")
        if self.iso or self.ymd_slash:
            return f"dates are written in several formats ({counts})"
        if not (self.first_over_12 or self.second_over_12):
            return (f"every one of the {self.dmy_like:,} dates reads both day-first and "
                    "month-first (no field above 12)")
        return None

    @property
    def dayfirst(self) -> bool:
        """The order the values prove (meaningful when :meth:`problem` is None)."""
        return self.first_over_12 > 0


def date_forms(text: pd.Series) -> DateForms:
    """Count how the present values of a text date column are written (:class:`DateForms`)."""
    t = text.dropna().astype(str).str.strip()
    t = t[t != ""]
    iso = t.str.match(r"^\d{4}-\d{1,2}-\d{1,2}")
    ymd = ~iso & t.str.match(_YMD_SLASH)
    parts = t[~iso & ~ymd].str.extract(DMY_PATTERN)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    # a day and a month: one field at most 12, both at most 31 (31/31/2024 is no date)
    dmy = first.between(1, 31) & second.between(1, 31) & ((first <= 12) | (second <= 12))
    n_dmy = int(dmy.sum())
    return DateForms(iso=int(iso.sum()), ymd_slash=int(ymd.sum()), dmy_like=n_dmy,
                     first_over_12=int((dmy & (first > 12)).sum()),
                     second_over_12=int((dmy & (second > 12)).sum()),
                     other=int(len(t) - iso.sum() - ymd.sum() - n_dmy))


def _parse_text_dates(text: pd.Series, date_format: str | None, dayfirst: bool) -> pd.Series:
    if date_format:
        return _naive(_to_datetime(text, format=date_format))
    partial = partial_dates(text)
    if partial.any():
        text = text.where(~partial)
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
    for pattern, first in ((DMY_PATTERN, dayfirst), (_YMD_SLASH, None)):
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
    index; NaT where a value is missing or cannot be parsed (unambiguously), and, without
    ``date_format``, where it is only part of a date (:func:`partial_dates`: ``"2016"``,
    ``"2016-05"``, ``"May"``). Times are kept: normalise for calendar dates.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if is_datetime64_any_dtype(s.dtype):
        return _naive(s)
    text = as_text(s)
    return _parse_text_dates(text, date_format, dayfirst)


def _parse_numbers(s: pd.Series, text: pd.Series | None = None) -> pd.Series:
    """Floats from numbers or text (``"$1,234.50"``, ``"12 €"`` accepted); NaN if unparseable."""
    if not _is_text(s) and not is_bool_dtype(s.dtype):
        return s.astype("float64")
    text = as_text(s) if text is None else text
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
    text = (as_text(s) if text is None else text).str.lower()
    mapping = {v: True for v in _TRUE} | {v: False for v in _FALSE}
    return text.map(mapping).astype("boolean")


def _category_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _normalise_categories(cat: pd.Series, allowed: tuple[str, ...] | None) -> pd.Series:
    """Match category values onto ``allowed`` by case, blanks and hyphens ("No Show" ->
    "no_show", "AURORA" -> "Aurora"); others unchanged."""
    if not allowed:
        return cat
    spelled = {_category_key(a): a for a in allowed}
    fixes = {u: spelled[_category_key(u)] for u in cat.cat.categories
             if _category_key(u) in spelled and spelled[_category_key(u)] != u}
    if not fixes:
        return cat
    return cat.astype(object).replace(fixes).astype("category")


def coerce_column(
    raw: pd.Series, col: Column, date_format: str | None, dayfirst: bool
) -> tuple[pd.Series, pd.Series, pd.Series | str | None, pd.Series]:
    """Coerce one column to its contract kind.

    Returns (typed values, mask of present-but-unparseable values, their reason, mask of
    present values)."""
    kind = col.kind
    textual = _is_text(raw) or kind in ("string", "category")
    text = as_text(raw, as_category=kind == "category") if textual else None
    present = text.notna() if text is not None else raw.notna()
    if kind in ("date", "datetime"):
        if text is None:
            typed = _naive(raw) if is_datetime64_any_dtype(raw.dtype) else parse_dates(raw)
        else:
            typed = _parse_text_dates(text, date_format, dayfirst)
        if kind == "date":
            typed = typed.dt.normalize()
        failed = present & typed.isna()
        reason: pd.Series | str = R_DATE
        if not date_format and failed.any():
            partial = partial_dates(text if text is not None else as_text(raw))
            if (partial & failed).any():
                reason = pd.Series(np.where(partial, R_PARTIAL_DATE, R_DATE), index=raw.index)
        return typed, failed, reason, present
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
