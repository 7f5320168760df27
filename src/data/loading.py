"""Read the input tables (CSV, Parquet, SQL) and map them onto the data contract.

The one loader of the project: :func:`load_tables` reads every table configured in a
:class:`~src.data.sources.DataSourceConfig` (:mod:`src.data.readers`; through DuckDB,
:mod:`src.data.ingest`, when the params use SQL expressions, ``where``, ``group_lines``,
``attributes`` or an in-memory DuckDB query), renames it onto the contract
(:mod:`src.data.mapping`) and validates it (:func:`src.data.validation.validate_table`) into
:class:`LoadedData`: the kept tables, every rejected row with its reason, a report that
reconciles ``rows_read == rows_filtered + lines_grouped + rows_kept + rows_rejected`` per table,
and the shape warnings of :mod:`src.data.shapes`. :func:`read_source` is the
read-and-rename step alone. The configuration classes, :func:`file_sha256` and the header-only
helpers :func:`source_header`, :func:`mapped_columns` and :func:`data_span_days` are
re-exported from here, so callers keep importing them from this module.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.data.coercion import coerce_column
from src.data.contract import TABLES
from src.data.errors import DataValidationError
from src.data.ingest import Ingested, ingest_table, mapped_columns, needs_duckdb
from src.data.mapping import map_columns
from src.data.readers import file_sha256, read_raw, resolve_path, source_header
from src.data.shapes import customer_key_problem, data_span_days, key_counts, shape_warnings
from src.data.sniff import read_whole
from src.data.sources import DataSourceConfig, TableSource
from src.data.validation import REJECT_COLUMNS, validate_table

__all__ = [
    "REPORT_COLUMNS",
    "DataSourceConfig",
    "LoadedData",
    "TableSource",
    "data_span_days",
    "file_sha256",
    "load_tables",
    "mapped_columns",
    "read_source",
    "source_header",
]

_LOAD_ORDER: tuple[str, ...] = ("customers", "bookings", "interactions", "feedback")
REPORT_COLUMNS: list[str] = [
    "table",
    "source",
    "rows_in",
    "rows_kept",
    "rows_rejected",
    "top_reasons",
    "rows_read",
    "rows_filtered",
    "filtered_by",
    "lines_grouped",
    "amount_read",
    "amount_kept",
]
"""Columns of :attr:`LoadedData.report`; ``rows_read == rows_filtered + lines_grouped +
rows_kept + rows_rejected`` and ``rows_in == rows_kept + rows_rejected`` (the rows that reached
validation)."""


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class LoadedData:
    """The loaded input: kept tables, rejected rows, and the reconciliation report.

    Attributes
    ----------
    tables : contract table name -> kept rows with contract dtypes (only the tables given,
        plus ``customers`` derived from bookings when not given; no ``bookings`` key for a
        customers-only source). Customer ``attributes`` are extra columns of ``customers``.
    rejects : one row per rejected source row, columns
        :data:`src.data.validation.REJECT_COLUMNS`.
    report : one row per table, columns :data:`REPORT_COLUMNS`: ``rows_in == rows_kept +
        rows_rejected`` and ``rows_read == rows_filtered + lines_grouped + rows_kept +
        rows_rejected``; ``filtered_by`` is ``"condition (n); condition (n)"``;
        ``amount_read`` / ``amount_kept`` (bookings only, the data's currency) are the sums of
        ``amount`` over every row read and over the kept bookings.
    sources : per table ``{"path" | "url", "sha256" (None for SQL), "rows", ...}``, for the
        run manifest; ``sources["customers"]["attributes"]`` lists the attribute columns
        (empty list when none).
    warnings : shape warnings (:func:`src.data.shapes.shape_warnings`) as JSON-friendly dicts
        ``{code, table, message, fix, count}``.
    key_problem : why the bookings' ``customer_id`` cannot name customers
        (:func:`src.data.shapes.customer_key_problem`), or None; judged on the same key
        counts as the warnings.
    """

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    report: pd.DataFrame
    sources: dict[str, dict] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    key_problem: str | None = None

    def write_rejects(self, path: str | os.PathLike) -> Path:
        """Write :attr:`rejects` as CSV (UTF-8 with BOM, so Excel shows Chinese text).

        Written atomically (temporary file + rename); parent folders are created. Returns
        the path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
                self.rejects[REJECT_COLUMNS].to_csv(fh, index=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


# --------------------------------------------------------------------------------------------
# read_source
# --------------------------------------------------------------------------------------------
def read_source(source: TableSource, table: str, base_dir: Path) -> pd.DataFrame:
    """Read one source and rename its columns onto the contract, without validation.

    Parameters
    ----------
    source : where the table comes from and how it maps (:class:`TableSource`).
    table : contract table name.
    base_dir : directory that relative paths (and relative SQLite/DuckDB paths) resolve
        against, usually the project root.

    Returns
    -------
    Frame of shape (n_rows, k): the contract columns the source provides (after ``columns``,
    ``values`` and ``defaults``; bookings get ``status = "completed"`` when absent), raw
    source values (CSV: text), index = 0-based data row. A source with expressions,
    ``where``, ``group_lines`` or ``attributes`` is read through DuckDB
    (:func:`src.data.ingest.ingest_table`): only the rows kept by ``where`` (grouped), the
    attribute columns after the contract columns.

    Raises
    ------
    DataSourceError
        The source is missing, empty, undecodable, mis-delimited, or the SQL fails.
    DataValidationError
        A mandatory (or explicitly mapped) column is not in the source.
    """
    base_dir = Path(base_dir)
    header = source_header(source, table, base_dir) if source.path is not None else []
    if needs_duckdb(source, header):
        with ingest_table(source, table, base_dir) as ing:
            return pd.concat([ing.frame, ing.attributes], axis=1)
    raw, info = read_raw(source, table, base_dir)
    mapped, _, _ = map_columns(raw, source, table, info["display"])
    return mapped


# --------------------------------------------------------------------------------------------
# load_tables
# --------------------------------------------------------------------------------------------
def _reason_counts(rejects: pd.DataFrame) -> pd.Series:
    if rejects.empty:
        return pd.Series(dtype=np.int64)
    pairs = [
        f"{col}: {reason.split(' (')[0]}"
        for cols, reasons in zip(rejects["column"], rejects["reason"], strict=True)
        for col, reason in zip(cols.split("; "), reasons.split("; "), strict=False)
    ]
    return pd.Series(pairs).value_counts()


def _top_reasons(rejects: pd.DataFrame, n: int = 3) -> str:
    counts = _reason_counts(rejects).head(n)
    return "; ".join(f"{k} ({v})" for k, v in counts.items())


def _derive_customers(bookings: pd.DataFrame, defaults: dict[str, Any],
                      as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customers, rejects): ``customer_id`` and ``signup_date`` = first booking date, plus
    the ``customer_defaults`` constants, typed by the contract's validation."""
    first = bookings.groupby("customer_id", sort=False, observed=True)["booking_date"].min()
    frame = pd.DataFrame(
        {"customer_id": first.index.astype(object), "signup_date": first.to_numpy()}
    )
    if not defaults:
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    for name, value in defaults.items():
        frame[name] = value
    return validate_table(frame, "customers", "derived from bookings", as_of_date=as_of)


def load_tables(config: DataSourceConfig, base_dir: Path) -> LoadedData:
    """Read, map and validate every configured table.

    Parameters
    ----------
    config : the ``data`` params (:class:`DataSourceConfig`).
    base_dir : directory that relative paths resolve against (usually the project root).

    Returns
    -------
    :class:`LoadedData` with the kept tables, the rejects, the report and the sources.
    When a customers table is given it is read first, and bookings, interactions and feedback
    of customers not kept in it are rejected; otherwise a customers table is derived from the
    kept bookings (``customer_id``, ``signup_date`` = first booking date) and no such check is
    made.

    Raises
    ------
    DataSourceError
        A source cannot be read (see :func:`read_source`).
    DataValidationError
        A mandatory column is missing, an expression or condition fails, a column is almost
        entirely unparseable, or a table's share of rejected rows exceeds ``max_reject_share``
        (params key ``data_quality.max_reject_share``; the error carries all rejects so far
        in ``.rejects``). Bookings whose repeated ``booking_id`` alone exceed that share are
        refused before validation (their rows are not listed), naming
        ``tables.bookings.group_lines: true``.

    Notes
    -----
    Every entry point (notebook, CLI, scheduled job) calls this with the ``data`` section of a
    job's params (:class:`DataSourceConfig`). For each table it

    1. reads the source (:func:`read_source`): a CSV or Parquet file, a table or query of a SQL
       database through a SQLAlchemy URL (SQLite, ...), a DuckDB file (``duckdb:///path``), or
       a query on an in-memory DuckDB (``duckdb:///:memory:``, relative file paths in the
       query resolve against ``base_dir``); relative paths resolve against ``base_dir``;
    2. renames the source's columns onto the contract (``columns``), evaluates SQL expressions,
       filters rows (``where``), merges invoice lines (``group_lines``), translates source
       values (``values``), fills constants for absent columns (``defaults``);
    3. coerces and validates the rows (:func:`src.data.validation.validate_table`), splitting
       them into kept rows and rejects with a reason.

    Nothing is silently dropped: every source row is filtered (counted per condition), merged
    into a booking (counted), kept, or listed in ``rejects`` (``report`` reconciles
    ``rows_read == rows_filtered + lines_grouped + rows_kept + rows_rejected``). Problems that make a whole source
    unusable raise a :class:`~src.data.errors.DataSourceError` or
    :class:`~src.data.errors.DataValidationError` naming the file, the column and what to do.

    A plain transaction log (customer id, date, amount under any names) is enough:
    ``booking_id`` is synthesised (``"<customer_id>-<row_number>"``), ``status`` defaults to
    ``completed``, and a ``customers`` table (``customer_id``, ``signup_date`` = first booking
    date) is derived from the kept bookings when none is given. Other optional tables and columns
    that the source lacks stay absent, so models can say which inputs they did not have.

    A source with a ``customers`` table and no ``bookings`` (a snapshot export: tenure and
    status on the extraction day) loads the customers alone; no table is derived.

    Keys of ``tables.<table>`` beyond plain renaming (any of them reads the source through
    DuckDB, :mod:`src.data.ingest`; the scan streams, only kept rows reach pandas):

    - ``columns``: a value that is exactly a source column name (as in the header) is that
      column; anything else is a DuckDB SQL expression over the source columns (names with
      blanks in double quotes). Results are validated like mapped columns (a ``DATE`` result
      needs no parsing). Source columns mapped as they are onto text, date or category
      columns are read as text (leading zeros kept, our date rules apply); columns used in
      expressions are typed by DuckDB's sniffer.
    - ``where``: a condition or a list of conditions (ANDed; a string is also split on its
      top-level ``AND``). A row is loaded only where every condition is true (a condition
      that is false or NULL removes it); ``filtered_by`` counts, per condition in order, the
      rows it removes among those the earlier ones kept.
    - ``group_lines: true`` (bookings): rows sharing ``booking_id`` are lines of one booking:
      ``amount`` is summed (missing if any line's amount is missing), ``booking_date`` is the
      earliest (text dates compared as ISO 8601 or by ``date_format``; otherwise the first
      line's), every other column takes its first non-missing value in file order, and the
      booking's row number is its first line's. Rows with no booking_id stay apart.
    - ``attributes`` (customers): ``name: column or expression``, extra columns of the
      customers table (not contract columns; numbers stay numeric, other values become
      categories). They are snapshots of the extraction day, known only at the as-of date;
      ``sources["customers"]["attributes"]`` lists them.

    DuckDB reads UTF-8; a file in another ``encoding`` (or compressed as bz2/xz) is converted
    to a temporary UTF-8 copy first. ``delimiter`` is passed to DuckDB; ``date_format`` and
    ``dayfirst`` apply to the text date columns (in expressions use DuckDB's
    ``strptime(col, '%d/%m/%Y')``). After loading, :func:`src.data.shapes.shape_warnings`
    looks for an export mapped in the wrong shape (:attr:`LoadedData.warnings`).

    Example params (YAML)::

        data:
          as_of_date: 1998-07-01
          tables:
            bookings:
              path: ../shared/data/cdnow/cdnow_sample.csv
              columns: {customer_id: master_customer_id, booking_date: date, amount: dollar_value}
              date_format: "%Y%m%d"

    Invoice lines with returns, and a snapshot customers table::

        data:
          as_of_date: 2010-12-10
          tables:
            bookings:
              path: ../shared/data/online_retail_ii/online_retail_ii_year_2009_2010.csv.gz
              columns:
                customer_id: Customer ID
                booking_id: Invoice
                booking_date: InvoiceDate
                amount: "Quantity * Price"
              where:
                - '"Customer ID" IS NOT NULL'
                - "Invoice NOT LIKE 'C%'"
                - Quantity > 0
                - Price > 0
              group_lines: true
        # or, customers only:
        #   customers:
        #     path: ../shared/data/telco_churn/telco_churn.csv.gz
        #     columns:
        #       customer_id: customer_no
        #       signup_date: "DATE '2018-09-30' - INTERVAL (tenure) MONTH"
        #       membership_cancel_date: "CASE WHEN churn = 'Yes' THEN DATE '2018-09-30' END"
        #       loyalty_member: "true"
        #     attributes: {contract: contract, monthly_charges: monthly_charges}
    """
    base_dir = Path(base_dir)
    as_of = config.as_of_date or date.today()
    tables: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    report: list[dict[str, Any]] = []
    sources: dict[str, dict] = {}
    headers: dict[str, list[str]] = {}
    known: pd.Series | None = None
    for name in _LOAD_ORDER:
        source = config.tables.get(name)
        if source is None:
            continue
        if source.path is not None:
            _check_compressed(resolve_path(source.path, base_dir))
        header = source_header(source, name, base_dir) if source.path is not None else []
        if needs_duckdb(source, header):
            with ingest_table(source, name, base_dir) as ing:
                kept, rej, row, info = _validate_ingested(ing, source, name, config, as_of,
                                                          known, rejects)
                header = header or ing.header
        else:
            kept, rej, row, info = _read_and_validate(source, name, base_dir, config, as_of,
                                                      known, rejects)
            header = info.pop("columns_read", None) or header
        headers[name] = header
        rejects.append(rej)
        _check_reject_share(name, row, rej, rejects, config)
        tables[name] = kept
        if name == "customers":
            known = kept["customer_id"]
        report.append(row)
        sources[name] = info
        if name == "bookings" and "customers" not in config.tables:
            derived, _ = _derive_customers(kept, config.customer_defaults, as_of)
            tables["customers"] = derived
            n = len(derived)
            report.insert(0, {"table": "customers", "source": "derived from bookings",
                              **_counts(n, n, 0, n)})
            sources["customers"] = {"derived_from": "bookings", "sha256": None, "rows": n,
                                    "attributes": [],
                                    **({"defaults": dict(config.customer_defaults)}
                                       if config.customer_defaults else {})}
    all_rejects = (
        pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    ordered = {t: tables[t] for t in _LOAD_ORDER if t in tables}
    if "customers" in sources:
        sources["customers"].setdefault("attributes", [])
    bookings = ordered.get("bookings")
    counts = (key_counts(bookings) if bookings is not None and "customer_id" in bookings
              else None)
    found = shape_warnings(ordered, all_rejects, sources=config.tables, headers=headers,
                           counts=counts)
    bsource = config.tables.get("bookings")
    key_problem = None if counts is None else customer_key_problem(
        bookings, bsource.columns.get("customer_id", "customer_id") if bsource is not None
        else "customer_id", counts=counts)
    return LoadedData(
        tables=ordered,
        rejects=all_rejects,
        report=pd.DataFrame(report, columns=REPORT_COLUMNS),
        sources={t: sources[t] for t in _LOAD_ORDER if t in sources},
        warnings=[w.to_dict() for w in found],
        key_problem=key_problem,
    )


def _check_invoice_lines(name: str, frame: pd.DataFrame, source: TableSource, display: str,
                         config: DataSourceConfig, rejects: list[pd.DataFrame]) -> None:
    """Refuse, before validating, bookings whose repeated ``booking_id`` alone exceed the
    tolerated share of rejects (every repeat would be rejected): invoice lines."""
    if name != "bookings" or source.group_lines or "booking_id" not in frame or not len(frame):
        return
    ids = frame["booking_id"]
    repeats = int(ids.notna().sum()) - int(ids.nunique(dropna=True))
    if repeats / len(frame) <= config.max_reject_share:
        return
    first = ids[ids.duplicated(keep=False) & ids.notna()].head(5)
    col = source.columns.get("booking_id", "booking_id")
    copies = int(frame.astype(str).duplicated(keep="first").sum())
    if copies * 2 >= repeats:  # whole rows repeated: summing them as lines would double count
        what = (f"{copies} of them are exact copies of an earlier row (every mapped column "
                "equal): the export repeats rows")
        hint = ("remove the repeated rows at the source (tables.bookings.group_lines: true "
                "would add their amounts twice); if they really are unusable rows, raise "
                "data_quality.max_reject_share")
    else:
        what = "they look like invoice lines, several per booking"
        hint = ("set tables.bookings.group_lines: true (amounts summed per booking_id, "
                "earliest booking_date); if the repeats really are unusable rows, raise "
                "data_quality.max_reject_share")
    raise DataValidationError(
        f"bookings: {repeats} of {len(frame)} rows ({repeats / len(frame):.0%}) repeat a "
        f"booking_id (source column {col!r}), above max_reject_share "
        f"{config.max_reject_share:.0%}: {what}",
        file=display,
        table="bookings",
        column="booking_id",
        rows=pd.DataFrame({"row_number": first.index.to_numpy() + 1, "value": first.to_numpy()}),
        hint=hint,
        rejects=(pd.concat(rejects, ignore_index=True) if rejects
                 else pd.DataFrame(columns=REJECT_COLUMNS)),
    )


def _counts(rows_read: int, rows_in: int, rows_rejected: int, rows_kept: int,
            **extra: Any) -> dict[str, Any]:
    return {"rows_in": rows_in, "rows_kept": rows_kept, "rows_rejected": rows_rejected,
            "top_reasons": "", "rows_read": rows_read, "rows_filtered": 0, "filtered_by": "",
            "lines_grouped": 0, "amount_read": None, "amount_kept": None, **extra}


def _validate(mapped: pd.DataFrame, name: str, display: str, source: TableSource,
              config: DataSourceConfig, as_of: date, known: pd.Series | None,
              used: dict[str, str], raw: pd.DataFrame | None, with_records: bool = True
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate_table(
        mapped,
        name,
        display,
        as_of_date=as_of,
        negative_amounts=config.negative_amounts,
        known_customer_ids=None if name == "customers" else known,
        date_format=source.date_format,
        dayfirst=source.dayfirst,
        source_columns=used,
        vocabulary=source.vocabulary,
        raw=raw,
        with_records=with_records,
    )


def _amount_sum(values: pd.Series | None) -> float | None:
    return None if values is None else float(np.nansum(values.to_numpy(dtype=float)))


def _read_and_validate(source: TableSource, name: str, base_dir: Path, config: DataSourceConfig,
                       as_of: date, known: pd.Series | None, rejects: list[pd.DataFrame]
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict]:
    """The pandas path: plain renaming of a file or SQL source."""
    raw, info = read_raw(source, name, base_dir)
    display = info.pop("display")
    mapped, used, notes = map_columns(raw, source, name, display)
    amount_read = None
    if name == "bookings":
        parsed = coerce_column(mapped["amount"], TABLES["bookings"].column("amount"), None, False)
        amount_read = _amount_sum(parsed[0])
    header = list(raw.columns)
    _check_invoice_lines(name, mapped, source, display, config, rejects)
    kept, rej = _validate(mapped, name, display, source, config, as_of, known, used, raw)
    del raw, mapped
    row = {"table": name, "source": display,
           **_counts(len(kept) + len(rej), len(kept) + len(rej), len(rej), len(kept),
                     top_reasons=_top_reasons(rej), amount_read=amount_read,
                     amount_kept=_amount_sum(kept.get("amount")))}
    return kept, rej, row, {**info, "columns": used, **notes, "columns_read": header}


def _typed_attributes(attrs: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for col in attrs.columns:
        values = attrs[col]
        if values.dtype == object:
            num = pd.to_numeric(values, errors="coerce")
            if num.notna().sum() == values.notna().sum() and values.notna().any():
                values = num
            else:
                values = values.astype("category")
        out[col] = values.reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(attrs)))


def _validate_ingested(ing: Ingested, source: TableSource, name: str, config: DataSourceConfig,
                       as_of: date, known: pd.Series | None, rejects: list[pd.DataFrame]
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict]:
    """The DuckDB path: validate the ingested rows, read rejected source rows back."""
    info = dict(ing.info)
    display = info.pop("display")
    _check_invoice_lines(name, ing.frame, source, display, config, rejects)
    kept, rej = _validate(ing.frame, name, display, source, config, as_of, known, ing.used, None,
                          with_records=False)
    if len(rej):
        rej["record"] = ing.records(rej["row_number"].to_numpy(dtype=np.int64) - 1)
    if name == "customers":
        keep = ~ing.frame.index.isin(rej["row_number"].to_numpy(dtype=np.int64) - 1)
        attrs = _typed_attributes(ing.attributes.loc[keep])
        kept = pd.concat([kept, attrs], axis=1)
        info["attributes"] = list(attrs.columns)
    counts = ing.counts
    row = {"table": name, "source": display,
           **_counts(counts["rows_read"], len(kept) + len(rej), len(rej), len(kept),
                     top_reasons=_top_reasons(rej),
                     rows_filtered=counts["rows_filtered"],
                     filtered_by="; ".join(f"{c} ({n})" for c, n in counts["filtered_by"]),
                     lines_grouped=counts["lines_grouped"],
                     amount_read=counts["amount_read"],
                     amount_kept=_amount_sum(kept["amount"]) if name == "bookings" else None)}
    extra = {"where": list(source.where)} if source.where else {}
    if source.group_lines:
        extra["group_lines"] = True
    return kept, rej, row, {**info, "columns": ing.used, **ing.notes, **extra}


def _vocabulary_hint(name: str, rej: pd.DataFrame, config: DataSourceConfig) -> str | None:
    """A ready-to-paste YAML line of the declared and the rejected levels of each column whose
    values fell outside the job's vocabulary (None when none did)."""
    source = config.tables.get(name)
    mask = rej["reason"].str.startswith("value not in the job's vocabulary", na=False)
    if source is None or not mask.any():
        return None
    lines = []
    for column, values in rej[mask].groupby("column")["value"]:
        declared = list(source.vocabulary.get(column, []))
        seen = [str(v) for v in values.astype(str).str.strip().value_counts().index]
        levels = declared + [v for v in seen if v not in declared]
        lines.append(f"tables.{name}.vocabulary.{column}: [{', '.join(levels)}]")
    return ("the data holds levels the job's vocabulary lacks; declare them (put them in "
            "order, lowest tier first): " + "; ".join(lines))


def _check_compressed(path: Path) -> None:
    """Refuse a truncated or corrupt ``.gz`` / ``.bz2`` / ``.xz`` file before any reader
    meets it half way (it would fail with a bare ``EOFError``), naming the bytes it holds."""
    if path.suffix.lower() in (".gz", ".bz2", ".xz") and path.is_file():
        for _ in read_whole(path):
            pass


def _check_reject_share(name: str, row: dict[str, Any], rej: pd.DataFrame,
                        rejects: list[pd.DataFrame], config: DataSourceConfig) -> None:
    rows_in = row["rows_in"]
    if not rows_in or len(rej) / rows_in <= config.max_reject_share:
        return
    counts = _reason_counts(rej).head(5)
    hint = ("fix the column mapping or the source for the reasons above; if these rows really "
            "are unusable, raise data_quality.max_reject_share")
    vocab = _vocabulary_hint(name, rej, config)
    if vocab:
        hint = vocab + "; " + hint
    dups = int(rej["reason"].str.contains("duplicate booking_id", regex=False).sum())
    if name == "bookings" and dups * 2 > len(rej):
        hint = ("most rejected rows repeat a booking_id: they look like invoice lines; set "
                "tables.bookings.group_lines: true (amounts summed per booking_id); " + hint)
    raise DataValidationError(
        f"{name}: {len(rej)} of {rows_in} rows ({len(rej) / rows_in:.0%}) rejected, "
        f"above max_reject_share {config.max_reject_share:.0%}; top reasons: "
        + "; ".join(f"{k} ({v} row{'' if v == 1 else 's'})" for k, v in counts.items()),
        file=row["source"],
        table=name,
        column=rej["column"].iloc[0].split("; ")[0],
        rows=rej[["row_number", "column", "value", "reason"]],
        hint=hint,
        rejects=pd.concat(rejects, ignore_index=True),
    )
