"""Customer features computed out of core: DuckDB SQL over Parquet files.

One coherent thing, kept whole past the 600-line guide: the SQL twin of
:func:`src.features.customer.customer_features`, column for column, with the Parquet source
resolution it needs; splitting it would separate each SQL block from the pandas definition
it must equal.

:func:`customer_features_duckdb` returns exactly what :func:`src.features.customer.customer_features`
returns (same columns in the same order, dtypes, index, ``attrs``) but reads the tables as
Parquet inside DuckDB and does every aggregation there, so the bookings never enter pandas:
only the final one-row-per-customer table is fetched. DuckDB works within ``memory_limit`` and
spills to ``temp_directory``, so 40M bookings do not have to fit in memory at once.
:func:`src.features.cache.build_customer_features` picks the engine from the size of the
bookings table.

How the work stays out of core:

- Each per-customer aggregate (bookings, booking days, first booking, complaints, surveys,
  sign-ups, attributes) is written as a table of a scratch database file under
  ``temp_directory``, so DuckDB can evict it; the aggregates keep fixed-size states only
  (counts, sums, min/max, averages, ``arg_min`` over an integer key): distinct booking days and
  the first booking (a window) are separate steps, since a DISTINCT or string state next to
  the other aggregates made DuckDB need several times more memory.
- The result is fetched one aggregate table at a time (one join each: a chain of joins holds
  all its hash tables at once) and put in customer order by a rank, in numpy.
- Measured here: 200k customers (1.1M bookings) run within ``memory_limit="100MB"``, 100k
  within 60MB; the memory DuckDB needs still grows with the number of customers (its hash
  tables), so for 40M bookings keep the default 4GB or more (not measured at that size).

The rules (what counts as completed, who is known at the cut-off, frequency as repeat booking
days, mix levels, first-trip CSAT, ...) are those of :mod:`src.features.customer`; see its
docstring. How they are reproduced in SQL:

- Dates and timestamps (Parquet ``DATE``, ``TIMESTAMP`` of any unit, ISO strings) are
  compared and subtracted as integer nanoseconds since the epoch, as pandas does, so day
  differences are bit-identical to the pandas path.
- Row order breaks ties, as in pandas: the first completed booking of a customer is the
  earliest ``booking_date`` and, on one day, the first row; the earliest survey likewise;
  the customers table keeps the last row per customer. Row order is (position of the file in
  the list, row number in the file); a glob is expanded to its files sorted by name. This uses
  DuckDB's virtual columns ``file_index`` and ``file_row_number`` (recent DuckDB; the lock
  file's 2.0.1 has them).
- Customer attributes are DuckDB's last row per customer; a dictionary-encoded (category)
  column gets the categories pandas reads for it (that one customers column is read with
  pandas), a plain one becomes ``category`` of the observed values, as in pandas.
- Sums and means are DuckDB's (parallel, in another order): they may differ from the pandas
  ones in the last bits of a float64 (``monetary_*``); float32 columns then almost always
  round to the same value.
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from src.data.contract import COMPLAINT_CATEGORIES
from src.data.errors import DataSourceError, DataValidationError
from src.features.attributes import TierRule, point_in_time_attributes
from src.features.customer import CUSTOMER_ATTRIBUTES, MIX_COLUMNS
from src.features.definitions import as_timestamp

__all__ = [
    "ParquetSource",
    "customer_features_duckdb",
    "parquet_files",
    "parquet_num_rows",
    "read_parquet_pandas",
]

log = logging.getLogger(__name__)

ParquetSource = str | os.PathLike | Sequence[str | os.PathLike]
"""A Parquet table: one file, a glob (``"bookings/part-*.parquet"``) or a list of files."""

TABLE_NAMES: tuple[str, ...] = ("bookings", "customers", "interactions", "feedback")

USED_COLUMNS: dict[str, tuple[str, ...]] = {
    "bookings": ("booking_id", "customer_id", "booking_date", "travel_start", "nights",
                 "product", "destination_type", "channel", "party_size", "amount", "status",
                 "status_date"),
    "customers": ("customer_id", "signup_date", *CUSTOMER_ATTRIBUTES, "loyalty_member",
                  "membership_cancel_date", "member_tier"),
    "interactions": ("customer_id", "timestamp", "kind", "complaint_category"),
    "feedback": ("customer_id", "booking_id", "date", "csat", "nps"),
}
"""Columns the features read from each table (others are never loaded)."""

_REQUIRED: dict[str, tuple[str, ...]] = {
    "bookings": ("customer_id", "booking_date", "amount"),
    "customers": ("customer_id",),
    "interactions": ("customer_id", "timestamp", "kind"),
    "feedback": ("customer_id", "date"),
}
_DAY_NS = 86_400_000_000_000


# --------------------------------------------------------------------------------------------
# Parquet sources
# --------------------------------------------------------------------------------------------


def parquet_files(source: ParquetSource) -> list[str]:
    """The files of a Parquet source, in the order their rows count.

    Parameters
    ----------
    source : a file path, a folder (its ``*.parquet`` files, recursively, sorted by name),
        a glob pattern (expanded and sorted by name) or a list of these.

    Returns
    -------
    list of str
        Existing file paths; a list keeps its order.

    Raises
    ------
    DataSourceError
        When a path does not exist or a glob matches nothing.
    """
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                raise DataSourceError(f"no Parquet file matches {text!r}", file=text,
                                      hint="check the folder and the pattern")
            files.extend(matched)
        elif Path(text).is_file():
            files.append(text)
        elif Path(text).is_dir():
            found = sorted(str(f) for f in Path(text).rglob("*.parquet"))
            if not found:
                raise DataSourceError(f"folder {text!r} holds no .parquet file", file=text,
                                      hint="point at the folder of the table's Parquet parts")
            files.extend(found)
        else:
            raise DataSourceError(f"Parquet file {text!r} does not exist", file=text,
                                  hint="check the path (relative paths resolve against the "
                                       "working directory)")
    if not files:
        raise DataSourceError(f"empty list of Parquet files: {source!r}")
    return files


def parquet_num_rows(source: ParquetSource) -> int:
    """Number of rows of a Parquet source, from the file footers only (no data is read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(source))


def read_parquet_pandas(source: ParquetSource, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a Parquet source into pandas as :func:`pandas.read_parquet` does.

    Parameters
    ----------
    source : file, glob or list of files (read as one table, rows in file order).
    columns : columns to read; names the files lack are skipped. ``None``: all.

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, n_columns); dictionary-encoded columns come back as ``category``.
    """
    files = parquet_files(source)
    if columns is not None:
        present = set(pq.read_schema(files[0]).names)
        columns = [c for c in columns if c in present]
    return pd.read_parquet(files[0] if len(files) == 1 else files, columns=columns)


# --------------------------------------------------------------------------------------------
# SQL helpers
# --------------------------------------------------------------------------------------------


def sql_literal(value: str) -> str:
    """SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    """SQL quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def _ns(column: str) -> str:
    """Nanoseconds since the epoch of a date/timestamp/ISO-string column (BIGINT)."""
    return f"epoch_ns(CAST({_ident(column)} AS TIMESTAMP_NS))"


def _days(ns_expr: str) -> str:
    """Days (DOUBLE) of a nanosecond difference, rounded as numpy does (float64 division)."""
    return f"(CAST({ns_expr} AS DOUBLE) / CAST({_DAY_NS} AS DOUBLE))"


def _num(column: str) -> str:
    """Numeric value of a column as DOUBLE; unparseable and NaN -> NULL (``to_numeric``)."""
    return f"nullif(TRY_CAST({_ident(column)} AS DOUBLE), 'NaN'::DOUBLE)"


def _text(column: str) -> str:
    return f"CAST({_ident(column)} AS VARCHAR)"


class _Table:
    """One Parquet table inside DuckDB: its files, columns and a ``read_parquet`` expression."""

    ORDER = "(CAST(file_index AS BIGINT) * 1099511627776 + file_row_number)"
    """Row order of the concatenated files (as pandas reads them), from DuckDB's virtual
    columns ``file_index`` (position in the file list) and ``file_row_number``; BIGINT >= 0."""

    def __init__(self, name: str, source: ParquetSource, con: duckdb.DuckDBPyConnection):
        self.name = name
        self.files = parquet_files(source)
        self.scan = ("read_parquet([" + ", ".join(sql_literal(f) for f in self.files)
                     + "], union_by_name = true)")
        self.columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {self.scan}")
                        .fetchall()}
        for col in _REQUIRED[name]:
            if col not in self.columns:
                raise DataValidationError(
                    f"{name}: mandatory column {col!r} is missing",
                    file=self.files[0], table=name, column=col,
                    hint=f"map the source's column onto {col!r} (data.tables.{name}.columns)")

    def has(self, column: str) -> bool:
        return column in self.columns


def _date_then_row(ns: str, order: str) -> str:
    """HUGEINT sorting by (date ns, row order): one fixed-size key for ``arg_min``."""
    return f"(CAST({ns} AS HUGEINT) * CAST(18446744073709551616 AS HUGEINT) + {order})"


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    rel = con.sql(sql)
    to_arrow = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table  # older duckdb
    return to_arrow()


def _observed_levels(con: duckdb.DuckDBPyConnection, sql: str) -> list[list[str]]:
    (row,) = con.execute(sql).fetchall()
    return [list(v) if v is not None else [] for v in row]


def _level_list(contract: Sequence[str], observed: Sequence[str]) -> list[str]:
    """Contract levels first, then other observed values sorted (as ``_level_codes``)."""
    return list(contract) + sorted(set(observed) - set(contract))


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


def customer_features_duckdb(
    bookings: ParquetSource,
    cutoff_date,
    *,
    customers: ParquetSource | None = None,
    interactions: ParquetSource | None = None,
    feedback: ParquetSource | None = None,
    memory_limit: str = "4GB",
    threads: int | None = None,
    temp_directory: str | Path | None = None,
    snapshot_date=None,
    tier_rule: TierRule | None = None,
) -> pd.DataFrame:
    """One row of features per customer known at ``cutoff_date``, computed by DuckDB.

    Same result as :func:`src.features.customer.customer_features` on the same tables read
    with :func:`pandas.read_parquet` (see that function for every column, its unit and dtype),
    without loading the bookings into pandas.

    Parameters
    ----------
    bookings : Parquet source of the contract ``bookings`` table (``customer_id``,
        ``booking_date``, ``amount`` required): a file, a glob or a list of files.
    cutoff_date : date-like; only rows dated on/before it are used.
    customers, interactions, feedback : optional Parquet sources of the other contract
        tables; ``None`` = the table is absent (named in ``attrs["missing_inputs"]``).
    memory_limit : DuckDB memory limit (``"4GB"``, ``"200MB"``); beyond it DuckDB spills.
    threads : DuckDB worker threads; ``None``: one per core.
    temp_directory : folder for DuckDB's scratch database and spill files (in a subfolder
        removed afterwards); ``None``: the system's temporary folder.
    snapshot_date, tier_rule : as in :func:`~src.features.customer.customer_features` (the
        point-in-time attributes are added by the same function as there).

    Returns
    -------
    pandas.DataFrame
        Shape (n_known_customers, n_features), index ``customer_id`` sorted; columns, order,
        dtypes (int32 counts, float32 days/shares/means, float64 currency, datetime64[ns]
        dates, category/boolean attributes) and ``attrs`` (``missing_inputs``,
        ``cutoff_date``) as :func:`~src.features.customer.customer_features`.

    Raises
    ------
    DataSourceError
        A Parquet file is missing or a glob matches nothing.
    DataValidationError
        A mandatory column of a given table is missing.
    """
    if temp_directory is not None:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
    # a scratch database file: the staged per-customer tables are written there, not held
    with tempfile.TemporaryDirectory(prefix="duckdb-features-", dir=temp_directory) as work:
        config: dict[str, object] = {
            "memory_limit": memory_limit,
            "temp_directory": str(Path(work) / "spill"),
            "preserve_insertion_order": False,
        }
        if threads is not None:
            config["threads"] = int(threads)
        con = duckdb.connect(str(Path(work) / "features.duckdb"), config=config)
        try:
            con.execute("SET enable_progress_bar = false")  # no widget in notebooks
            frame = _features(con, bookings, cutoff_date, customers=customers,
                              interactions=interactions, feedback=feedback,
                              recent_window_days=None if tier_rule is None
                              else tier_rule.window_days)
        finally:
            con.close()
    cutoff = as_timestamp(cutoff_date)
    recent = frame.pop("__recent_trips").to_numpy() if "__recent_trips" in frame.columns else None
    table = (read_parquet_pandas(customers, [c for c in USED_COLUMNS["customers"]
                                             if c not in CUSTOMER_ATTRIBUTES])
             if customers is not None else None)
    return point_in_time_attributes(
        frame, cutoff, customers=table, trips_ever=frame["n_bookings"].to_numpy(),
        trips_recent=recent, tier_rule=tier_rule,
        snapshot_date=None if snapshot_date is None else as_timestamp(snapshot_date))


def _status_at_sql(b: _Table, end: str, cut: int) -> str:
    """The booking status known at the cut-off, in SQL: the twin of
    :func:`src.features.customer.status_at` (recorded status once ``status_date`` - or, without
    it, the trip end for ``completed``, the trip start for ``cancelled`` / ``no_show``, the
    booking date otherwise - is on/before the cut-off; else ``confirmed``)."""
    status = _text("status")
    booked = _ns("booking_date")
    start = f"coalesce({_ns('travel_start')}, {booked})" if b.has("travel_start") else booked
    finish = end if b.has("travel_start") else booked
    known = (f"CASE WHEN {status} = 'completed' THEN {finish} "
             f"WHEN {status} IN ('cancelled', 'no_show') THEN {start} ELSE {booked} END")
    if b.has("status_date"):
        known = f"coalesce({_ns('status_date')}, {known})"
    return (f"CASE WHEN {status} IS NULL THEN NULL WHEN {known} <= {cut} THEN {status} "
            "ELSE 'confirmed' END")


def _features(
    con: duckdb.DuckDBPyConnection,
    bookings: ParquetSource,
    cutoff_date,
    *,
    customers: ParquetSource | None,
    interactions: ParquetSource | None,
    feedback: ParquetSource | None,
    recent_window_days: int | None = None,
) -> pd.DataFrame:
    cutoff = as_timestamp(cutoff_date)
    cut = int(cutoff.as_unit("ns").value)
    day_after = int((cutoff.normalize() + pd.Timedelta(days=1)).as_unit("ns").value)
    missing: list[str] = []
    b = _Table("bookings", bookings, con)
    inter = _Table("interactions", interactions, con) if interactions is not None else None
    fb = _Table("feedback", feedback, con) if feedback is not None else None
    cust = _Table("customers", customers, con) if customers is not None else None
    for name, table in (("interactions", inter), ("feedback", fb), ("customers", cust)):
        if table is None:
            missing.append(name)

    # ---- booked rows (booked on/before the cut-off) with the completion flag ----------------
    has_status, has_start = b.has("status"), b.has("travel_start")
    sel = [f"{_ident('customer_id')} AS __cid", f"{_ns('booking_date')} AS __bd",
           f"CAST({_ident('booking_date')} AS TIMESTAMP_NS) AS __bts",
           f"coalesce({_num('amount')}, 0.0) AS __amount", f"{_Table.ORDER} AS __ord"]
    nights = (f"coalesce(TRY_CAST(round({_num('nights')} * {_DAY_NS}) AS BIGINT), 0)"
              if b.has("nights") else "0")
    end = f"coalesce({_ns('travel_start')} + {nights}, {_ns('booking_date')})"
    sel.append(f"{_status_at_sql(b, end, cut)} AS __status" if has_status
               else "NULL::VARCHAR AS __status")
    if has_start:
        sel += [f"{_ns('travel_start')} AS __ts", f"{end} AS __end"]
    for col in ("party_size", "nights"):
        if b.has(col):
            sel.append(f"{_num(col)} AS __{col}")
    for col, _, _ in MIX_COLUMNS:
        if b.has(col):
            sel.append(f"{_text(col)} AS __{col}")
    if b.has("booking_id"):
        sel.append(f"{_text('booking_id')} AS __bid")
    done = ["TRUE"]
    if has_status:
        ok = ["__status IS NULL", "__status = 'completed'"]
        if has_start:
            ok.append("__status = 'confirmed'")
        done.append("(" + " OR ".join(ok) + ")")
    if has_start:
        done.append(f"__end <= {cut}")
    con.execute(
        f"CREATE TEMP VIEW booked AS SELECT *, ({' AND '.join(done)}) AS __done FROM "
        f"(SELECT {', '.join(sel)} FROM {b.scan}) WHERE __bd <= {cut}")

    # ---- observed levels (contract levels first, extras sorted) and the number of done rows -
    mix_cols = [(col, prefix, levels) for col, prefix, levels in MIX_COLUMNS if b.has(col)]
    level_sql = ["count(*) FILTER (WHERE __done)"] + [
        f"list(DISTINCT __{col}) FILTER (WHERE __done AND __{col} IS NOT NULL)"
        for col, _, _ in mix_cols]
    ((n_done, *observed),) = con.execute(f"SELECT {', '.join(level_sql)} FROM booked").fetchall()
    mix_levels = {col: _level_list(levels, obs or [])
                  for (col, _, levels), obs in zip(mix_cols, observed, strict=True)}

    # ---- per-customer aggregates of the bookings ----------------------------------------------
    # output columns of each per-customer table: (name, SQL expression, dtype)
    out: list[tuple[str, str, str]] = []
    out_i: list[tuple[str, str, str]] = []
    out_f: list[tuple[str, str, str]] = []
    out_a: list[tuple[str, str, str]] = []
    agg = ["count(*) FILTER (WHERE __done) AS b_n",
           "min(__bts) FILTER (WHERE __done) AS b_first_ts",
           "max(__bts) FILTER (WHERE __done) AS b_last_ts",
           "min(__bd) FILTER (WHERE __done) AS b_first",
           "max(__bd) FILTER (WHERE __done) AS b_last",
           "sum(__amount) FILTER (WHERE __done) AS b_total"]
    out.append(("n_bookings", "coalesce(b_n, 0)", "int32"))
    if recent_window_days is not None:  # completed trips ended in the tier rule's window
        since = cut - int(recent_window_days) * _DAY_NS
        trip_end = "__end" if has_start else "__bd"
        agg.append(f"count(*) FILTER (WHERE __done AND {trip_end} > {since}) AS b_recent")
        out.append(("__recent_trips", "coalesce(b_recent, 0)", "int64"))
    if has_status:
        agg += ["count(*) FILTER (WHERE __status = 'cancelled') AS b_cancelled",
                "count(*) FILTER (WHERE __status = 'no_show') AS b_no_show"]
        out += [("n_cancelled", "coalesce(b_cancelled, 0)", "int32"),
                ("n_no_show", "coalesce(b_no_show, 0)", "int32")]
    else:
        missing.append("bookings.status")
    if has_start:
        agg.append(f"count(*) FILTER (WHERE __end > {cut} AND coalesce(__status NOT IN "
                   "('cancelled', 'no_show'), TRUE)) AS b_upcoming")
        out.append(("n_upcoming_trips", "coalesce(b_upcoming, 0)", "int32"))
    freq = "greatest(coalesce(b_days, 0) - 1, 0)"
    span = _days("b_last - b_first")
    out += [("first_booking_date", "b_first_ts", "datetime"),
            ("last_booking_date", "b_last_ts", "datetime"),
            ("recency_days", _days(f"{cut} - b_last"), "float32"),
            ("tenure_days", _days(f"{cut} - b_first"), "float32"),
            ("active_span_days", span, "float32"),
            ("frequency", freq, "float32"),
            ("avg_days_between_bookings", f"CASE WHEN {freq} > 0 THEN {span} / {freq} END",
             "float32"),
            ("monetary_total", "coalesce(b_total, 0.0)", "float64"),
            ("monetary_mean", "CASE WHEN b_n > 0 THEN b_total / b_n END", "float64")]
    if has_start:
        agg.append(f"avg({_days('__ts - __bd')}) FILTER (WHERE __done) AS b_lead")
        out.append(("lead_time_days_mean", "b_lead", "float32"))
    else:
        missing.append("bookings.travel_start")
    for col in ("party_size", "nights"):
        if b.has(col):
            agg.append(f"avg(__{col}) FILTER (WHERE __done) AS b_{col}")
            out.append((f"{col}_mean", f"b_{col}", "float32"))
        else:
            missing.append(f"bookings.{col}")
    for col, prefix, _ in MIX_COLUMNS:
        if col not in mix_levels:
            missing.append(f"bookings.{col}")
            continue
        agg.append(f"count(__{col}) FILTER (WHERE __done) AS b_{col}_n")
        for j, level in enumerate(mix_levels[col]):
            agg.append(f"count(*) FILTER (WHERE __done AND __{col} = {sql_literal(level)}) "
                       f"AS b_{col}_{j}")
            out.append((f"{prefix}_{level}", f"CASE WHEN b_{col}_n > 0 THEN "
                        f"CAST(b_{col}_{j} AS DOUBLE) / b_{col}_n END", "float32"))
    link = (fb is not None and fb.has("csat") and fb.has("booking_id") and b.has("booking_id")
            and n_done > 0)
    # Each per-customer table is staged as a temporary table (DuckDB spills those and the
    # hash tables building them); booking days and the first booking are kept out of the wide
    # aggregate: DISTINCT and string arg_min states make it much hungrier.
    stages = [("bagg", f"SELECT __cid, {', '.join(agg)} FROM booked GROUP BY __cid"),
              ("bdays", "SELECT __cid, count(*) AS b_days FROM (SELECT DISTINCT __cid, "
                        "CAST(__bts AS DATE) FROM booked WHERE __done) GROUP BY __cid")]
    if link:
        stages.append(("bfirst", "SELECT __cid, __bid AS b_first_bid FROM booked WHERE __done "
                                 "QUALIFY row_number() OVER (PARTITION BY __cid "
                                 "ORDER BY __bd, __ord) = 1"))
    sources = ["bagg"]

    # ---- complaints ------------------------------------------------------------------------
    if inter is not None:
        sel = [f"{_ident('customer_id')} AS __cid", f"{_text('kind')} AS __kind"]
        if inter.has("complaint_category"):
            sel.append(f"{_text('complaint_category')} AS __cat")
        con.execute(f"CREATE TEMP VIEW inter AS SELECT {', '.join(sel)} FROM {inter.scan} "
                    f"WHERE {_ns('timestamp')} < {day_after}")
        iagg = ["count(*) FILTER (WHERE __kind = 'complaint') AS i_total"]
        if inter.has("complaint_category"):
            (obs,) = _observed_levels(con, "SELECT list(DISTINCT __cat) FILTER (WHERE __kind = "
                                      "'complaint' AND __cat IS NOT NULL) FROM inter")
            for j, level in enumerate(_level_list(COMPLAINT_CATEGORIES, obs)):
                iagg.append(f"count(*) FILTER (WHERE __kind = 'complaint' AND "
                            f"__cat = {sql_literal(level)}) AS i_{j}")
                out_i.append((f"complaints_{level}", f"coalesce(i_{j}, 0)", "float32"))
        else:
            missing.append("interactions.complaint_category")
        out_i.append(("complaints_total", "coalesce(i_total, 0)", "float32"))
        stages.append(("iagg", f"SELECT __cid, {', '.join(iagg)} FROM inter GROUP BY __cid"))
        sources.append("iagg")

    # ---- satisfaction ----------------------------------------------------------------------
    if fb is not None:
        sel = [f"{_ident('customer_id')} AS __cid", f"{_ns('date')} AS __d",
               f"{_Table.ORDER} AS __ord"]
        fagg = ["count(*) AS f_rows"]
        for col in ("csat", "nps"):
            if fb.has(col):
                sel.append(f"{_num(col)} AS __{col}")
                fagg.append(f"avg(__{col}) AS f_{col}")
                out_f.append((f"{col}_mean", f"f_{col}", "float32"))
            else:
                missing.append(f"feedback.{col}")
        if fb.has("booking_id"):
            sel.append(f"{_text('booking_id')} AS __bid")
        con.execute(f"CREATE TEMP VIEW fb AS SELECT {', '.join(sel)} FROM {fb.scan} "
                    f"WHERE {_ns('date')} <= {cut}")
        fb_from = "fb"
        if fb.has("csat"):
            earliest = (f"arg_min(__csat, {_date_then_row('__d', '__ord')}) "
                        "FILTER (WHERE __csat IS NOT NULL")
            if link:
                # the survey of the first completed trip; else one without a booking_id
                fb_from = "fb LEFT JOIN bfirst USING (__cid)"
                fagg += [f"{earliest} AND __bid = b_first_bid) AS f_linked",
                         f"{earliest} AND __bid IS NULL) AS f_unlinked"]
                out_f.append(("first_trip_csat", "coalesce(f_linked, f_unlinked)", "float32"))
            else:
                fagg.append(f"{earliest}) AS f_first")
                out_f.append(("first_trip_csat", "f_first", "float32"))
        stages.append(("fagg", f"SELECT __cid, {', '.join(fagg)} FROM {fb_from} GROUP BY __cid"))
        sources.append("fagg")

    # ---- customers: who signed up by the cut-off, attributes of the last row ---------------
    attr_cols: list[str] = []
    if cust is not None:
        if cust.has("signup_date"):
            stages.append(("signed", f"SELECT DISTINCT {_ident('customer_id')} AS __cid "
                                     f"FROM {cust.scan} WHERE {_ns('signup_date')} <= {cut}"))
            sources.append("signed")
        for col in CUSTOMER_ATTRIBUTES:
            if cust.has(col):
                attr_cols.append(col)
            else:
                missing.append(f"customers.{col}")
        if attr_cols:
            cols = ", ".join(f"{_ident(c)} AS a_{j}" for j, c in enumerate(attr_cols))
            stages.append(("cattr", f"SELECT {_ident('customer_id')} AS __cid, {cols} "
                                    f"FROM {cust.scan} QUALIFY row_number() OVER (PARTITION BY "
                                    f"{_ident('customer_id')} ORDER BY {_Table.ORDER} DESC) = 1"))
            out_a += [(col, f"a_{j}", "attribute") for j, col in enumerate(attr_cols)]

    for name, stage_sql in stages:
        con.execute(f"CREATE TABLE {name} AS {stage_sql}")

    # ---- the known customers, ranked by id; each table's columns fetched in that order -----
    # One LEFT JOIN per fetch (a chain of joins holds all its build sides at once); the rows
    # come back in any order and are put in id order by their rank.
    ids = " UNION ".join(f"SELECT __cid FROM {s}" for s in sources)
    con.execute("CREATE TABLE ids AS SELECT __cid, row_number() OVER (ORDER BY __cid) - 1 "
                f"AS __rank FROM ({ids})")
    fetched = _fetch(con, "SELECT __rank, __cid FROM ids")
    pos = _positions(fetched.column("__rank"))
    index = pd.Index(fetched.column("__cid").to_numpy(zero_copy_only=False).take(pos),
                     name="customer_id")
    del fetched
    columns: dict[str, object] = {}
    sql_types = {"int32": "INTEGER", "int64": "BIGINT", "float32": "DOUBLE", "float64": "DOUBLE"}
    for joins, group in ((["bagg", "bdays"], out), (["iagg"], out_i), (["fagg"], out_f),
                         (["cattr"], out_a)):
        if not group:
            continue
        exprs = ", ".join(f"CAST({expr} AS {sql_types[kind]}) AS c{j}" if kind in sql_types
                          else f"{expr} AS c{j}" for j, (_, expr, kind) in enumerate(group))
        join = "".join(f" LEFT JOIN {t} USING (__cid)" for t in joins)
        fetched = _fetch(con, f"SELECT __rank, {exprs} FROM ids{join}")
        pos = _positions(fetched.column("__rank"))
        # one block per column; the Arrow buffers are released while they are converted
        part = fetched.to_pandas(split_blocks=True, self_destruct=True)
        del fetched
        for j, (name, _, kind) in enumerate(group):
            columns[name] = _as_dtype(part.pop(f"c{j}"), kind, name, cust).take(pos)
        del part
    frame = pd.DataFrame(columns, index=index)
    frame.attrs["missing_inputs"] = missing
    frame.attrs["cutoff_date"] = str(cutoff.date())
    return frame


def _positions(rank: pa.ChunkedArray) -> np.ndarray:
    """Row of each rank: ``values.take(_positions(rank))`` puts fetched rows in rank order."""
    rank = rank.to_numpy()
    pos = np.empty(len(rank), dtype=np.int64)
    pos[rank] = np.arange(len(rank))
    return pos


def _as_dtype(values: pd.Series, kind: str, name: str, cust: _Table | None) -> np.ndarray | pd.Series:
    """Fetched column -> the dtype of the pandas path."""
    if kind in ("int32", "int64"):
        return values.to_numpy().astype(kind, copy=False)
    if kind in ("float32", "float64"):
        return values.to_numpy(dtype=np.float64, na_value=np.nan).astype(kind, copy=False)
    if kind == "datetime":
        return values.to_numpy().astype("datetime64[ns]", copy=False)
    # customer attribute (pandas: reindex of the customers column, then boolean / category)
    if name == "loyalty_member":
        return values.astype("boolean").array
    dtype = _pandas_category_dtype(cust, name) if cust is not None else None
    if dtype is not None:
        return pd.Categorical(values, dtype=dtype)
    return values.astype("category").array


def _pandas_category_dtype(cust: _Table, column: str) -> pd.CategoricalDtype | None:
    """The categorical dtype pandas gives ``column`` of the customers files (all its
    categories, in its order), or ``None`` when pandas reads it as plain values."""
    schema = pq.read_schema(cust.files[0])
    if column not in schema.names or not pa.types.is_dictionary(schema.field(column).type):
        return None
    return read_parquet_pandas(cust.files, columns=[column])[column].dtype
