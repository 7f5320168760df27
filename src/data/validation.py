"""Coerce a mapped source table to the data contract and split it into kept and rejected rows.

One validator for every entry point (notebook, CLI, scheduled job): :func:`validate_table`
coerces each contract column to its contract type (:mod:`src.data.coercion`), validates the
typed frame against the pandera schema of the contract's row rules (:mod:`src.data.rules`)
and turns every failure into one reject row per source row with all its reasons
(:mod:`src.data.rejects`), so that ``len(df) == len(kept) + len(rejects)`` always; the rules
themselves are listed in the notes of :func:`validate_table`. :data:`REJECT_COLUMNS` is the
layout of a rejects table; :data:`CONTRACT_DTYPES`, :func:`parse_dates` and :func:`schema_for`
are re-exported from here, so callers keep importing them from this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import is_datetime64_any_dtype, is_object_dtype, is_string_dtype

from src.data.coercion import DMY_PATTERN, as_text, coerce_column, date_forms, parse_dates
from src.data.contract import Table
from src.data.errors import DataValidationError
from src.data.rejects import (
    column_label,
    failure_problem_rows,
    fatal_hint,
    problem_rows,
    record_json,
    source_row_numbers,
    value_text,
)
from src.data.rules import CONTRACT_DTYPES, R_MISSING, as_of_timestamp, schema_for, table_spec

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

_FATAL_SHARE = 0.9  # a column with at least this share of unparseable values is fatal
_FATAL_MIN = 5  # ... and at least this many (or all rows of a smaller table)


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
    dayfirst: bool | None = None,
    source_columns: Mapping[str, str] | None = None,
    raw: pd.DataFrame | None = None,
    with_records: bool = True,
    vocabulary: Mapping[str, Sequence[str]] | None = None,
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
    with_records : ``False`` leaves ``record`` empty, for a caller that reads the rejected
        source rows itself (the DuckDB engine, :mod:`src.data.ingest`).
    vocabulary : contract column -> the company's levels (``tables.<table>.vocabulary``):
        values are matched onto them (case and blanks aside), others rejected naming the
        key; the kept column's categories are the levels in that order (a tier's lowest
        first). Columns without one take any value (the levels found in the data).

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

    Notes
    -----
    Given a table that has been read and renamed onto the contract
    (:func:`src.data.loading.read_source`), this function

    1. coerces each contract column to its contract type (:data:`CONTRACT_DTYPES`): text is parsed
       here (dates in mixed formats, numbers with currency symbols or thousands separators,
       yes/no flags); a value that cannot be parsed becomes a reject, never a silent NaN;
    2. validates the typed frame with a pandera schema built from :mod:`src.data.contract`
       (:func:`schema_for`: types, nullability, allowed values, ranges, key uniqueness, dates not
       in the future, known customers) in lazy mode, and turns pandera's failure cases into one
       reject row per source row with every reason found;
    3. returns the kept rows with contract dtypes and the rejects; ``len(df) == len(kept) +
       len(rejects)`` always.

    Rules beyond the contract's types (enforced by the schema, :func:`schema_for`):

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

    Dates: columns that are already datetimes (Parquet, DuckDB) pass through; text is parsed with
    ``date_format`` when one is given, otherwise by :func:`parse_dates` (ISO 8601 with or without
    time, ``YYYYMMDD``, ``DD/MM/YYYY`` or ``MM/DD/YYYY`` by ``dayfirst``, month names with a day
    and a four-digit year); what none of these reads unambiguously (``"12"``, ``"Mar 2024"``,
    ``"2024-02-30"``) is rejected rather than guessed, and so is a partial date (a bare year
    ``"2016"``, a year-month ``"2016-05"``, a month name alone) unless ``date_format`` says
    how to read it: it is never taken as the first day of the period.
    Time zones are dropped keeping the wall-clock time written in the source, so a booking at
    ``23:30+08:00`` stays on its local calendar day. ``date`` columns are normalised to midnight;
    every date column ends as ``datetime64[ns]``.
    """
    spec = table_spec(table, vocabulary)
    source_columns = dict(source_columns or {})
    as_of = as_of_timestamp(as_of_date)
    n = len(df)
    row_numbers = source_row_numbers(df.index)
    missing = [c for c in spec.required_columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"table {table} has no mandatory column "
            + ", ".join(column_label(c, source_columns) for c in missing),
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
        order = dayfirst
        if col.kind in ("date", "datetime") and not date_format and dayfirst is None:
            order = _proven_date_order(values, col.name, table, source, source_columns,
                                       row_numbers)
        coerced, failed, reason, present = coerce_column(values, col, date_format, bool(order))
        typed[col.name] = coerced
        if col.text_bound is not None:
            pieces.extend(_too_long(coerced, col.name, col.text_bound))
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
            label = column_label(col.name, source_columns)
            raise DataValidationError(
                f"{n_failed} of {n_present} values in column {label} of table {table} are not "
                f"{kind}",
                file=source,
                table=table,
                column=col.name,
                rows=pd.DataFrame(
                    {"row_number": row_numbers[pos], "value": value_text(values, pos)}
                ),
                hint=fatal_hint(col, date_format),
            )
        reasons = reason if isinstance(reason, str) else reason.to_numpy()[failed_np]
        pieces.append(problem_rows(np.flatnonzero(failed_np), col.name, reasons))

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
        vocabulary=vocabulary,
    )
    try:
        with warnings.catch_warnings():  # pandera's own FutureWarnings while collecting failures
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        found = failure_problem_rows(err.failure_cases, frame, row_numbers)
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
            long.loc[sel, "value"] = value_text(series, long.loc[sel, "pos"].to_numpy())
    pos = long["pos"].to_numpy(dtype=np.int64)
    rej_pos = pos[np.r_[True, pos[1:] != pos[:-1]]] if len(pos) else pos
    joined = {c: _join_by_row(pos, long[c].to_numpy(dtype=object))
              for c in ("column", "value", "reason")}
    rejects = pd.DataFrame(
        {
            "table": table,
            "source": str(source),
            "row_number": row_numbers[rej_pos],
            **joined,
            "record": (record_json(df if raw is None else raw, rej_pos) if with_records
                       else [""] * len(rej_pos)),
        }
    )
    keep = np.ones(n, dtype=bool)
    keep[rej_pos] = False
    kept = frame.loc[keep].reset_index(drop=True)
    del frame
    return _finish_kept(kept, spec), rejects


def _too_long(values: pd.Series, column: str, bound: int) -> list[pd.DataFrame]:
    """The rows of a text column whose value has more than ``bound`` characters, as
    :func:`problem_rows` (none: an empty list). Categoricals are measured by level."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        level_lengths = values.cat.categories.astype(str).str.len().to_numpy()
        if not (level_lengths > bound).any():
            return []
        codes = values.cat.codes.to_numpy()
        lengths = np.where(codes >= 0, level_lengths[np.maximum(codes, 0)], 0)
    else:
        lengths = values.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)
    pos = np.flatnonzero(lengths > bound)
    if not len(pos):
        return []
    reasons = np.array([f"{n:,} characters, more than the {bound:,} a {column} may have "
                        "(a broken export or a hostile value)" for n in lengths[pos]], dtype=object)
    return [problem_rows(pos, column, reasons)]


def _proven_date_order(values: pd.Series, column: str, table: str, source: str,
                       source_columns: Mapping[str, str], row_numbers: np.ndarray) -> bool:
    """Day-first (True) or not, as the text dates of ``column`` prove it on every value.

    Raises
    ------
    DataValidationError
        The values do not prove one order (every ``01/02/2024``-shaped value reads both ways),
        contradict each other, or mix such dates with ISO dates: the message counts the
        values per format and names the keys that settle it.
    """
    if is_datetime64_any_dtype(values.dtype) or not (
            is_object_dtype(values.dtype) or is_string_dtype(values.dtype)):
        return False
    text = as_text(values)
    forms = date_forms(text)
    problem = forms.problem()
    if problem is None:
        return forms.dayfirst
    shaped = text.str.strip().str.match(DMY_PATTERN).fillna(False)
    pos = np.flatnonzero(shaped.to_numpy(dtype=bool))[:5]
    label = column_label(column, source_columns)
    raise DataValidationError(
        f"{table}: {label}: {problem}; a date is never read day-first or month-first by "
        "guess", file=source, table=table, column=column,
        rows=pd.DataFrame({"row_number": row_numbers[pos], "value": text.iloc[pos].tolist()}),
        hint=f"say how the dates are written: tables.{table}.date_format: '%d/%m/%Y' (or "
             f"'%m/%d/%Y', any strptime format), or tables.{table}.dayfirst: true / false to "
             "read every form with that order")


def _join_by_row(pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` joined with ``"; "`` per run of equal ``pos`` (sorted), one per row."""
    out: list[str] = []
    prev = None
    for p, v in zip(pos.tolist(), values.tolist(), strict=True):
        if p == prev:
            out[-1] = f"{out[-1]}; {v}"
        else:
            out.append(str(v))
            prev = p
    return np.asarray(out, dtype=object)


def _finish_kept(kept: pd.DataFrame, spec: Table) -> pd.DataFrame:
    for col in spec.columns:
        if col.kind == "category" and col.name in kept.columns:
            if col.allowed is not None:
                kept[col.name] = kept[col.name].cat.set_categories(list(col.allowed))
            else:
                kept[col.name] = kept[col.name].cat.remove_unused_categories()
    return kept
