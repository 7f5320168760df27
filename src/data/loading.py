"""Read the input tables (CSV, Parquet, SQL) and map them onto the data contract.

The one loader of the project: :func:`load_tables` reads every table configured in a
:class:`~src.data.sources.DataSourceConfig` (:mod:`src.data.readers`), renames it onto the
contract (:mod:`src.data.mapping`) and validates it (:func:`src.data.validation.validate_table`)
into :class:`LoadedData`: the kept tables, every rejected row with its reason, and a report
that reconciles ``rows_in == rows_kept + rows_rejected`` per table. :func:`read_source` is the
read-and-rename step alone. The configuration classes and :func:`file_sha256` are re-exported
from here, so callers keep importing them from this module.
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

from src.data.errors import DataValidationError
from src.data.mapping import map_columns
from src.data.readers import file_sha256, read_raw
from src.data.sources import DataSourceConfig, TableSource
from src.data.validation import REJECT_COLUMNS, validate_table

__all__ = [
    "DataSourceConfig",
    "LoadedData",
    "TableSource",
    "file_sha256",
    "load_tables",
    "read_source",
]

_LOAD_ORDER: tuple[str, ...] = ("customers", "bookings", "interactions", "feedback")
REPORT_COLUMNS: list[str] = [
    "table",
    "source",
    "rows_in",
    "rows_kept",
    "rows_rejected",
    "top_reasons",
]


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class LoadedData:
    """The loaded input: kept tables, rejected rows, and the reconciliation report.

    Attributes
    ----------
    tables : contract table name -> kept rows with contract dtypes (only the tables given,
        plus ``customers`` derived from bookings when not given).
    rejects : one row per rejected source row, columns
        :data:`src.data.validation.REJECT_COLUMNS`.
    report : one row per table: ``table, source, rows_in, rows_kept, rows_rejected,
        top_reasons``; ``rows_in == rows_kept + rows_rejected``.
    sources : per table ``{"path" | "url", "sha256" (None for SQL), "rows", ...}``, for the
        run manifest.
    """

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    report: pd.DataFrame
    sources: dict[str, dict] = field(default_factory=dict)

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
    source values (CSV: text), RangeIndex = 0-based data row.

    Raises
    ------
    DataSourceError
        The source is missing, empty, undecodable, mis-delimited, or the SQL fails.
    DataValidationError
        A mandatory (or explicitly mapped) column is not in the source.
    """
    raw, info = read_raw(source, table, Path(base_dir))
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


def _derive_customers(bookings: pd.DataFrame) -> pd.DataFrame:
    first = bookings.groupby("customer_id", sort=False, observed=True)["booking_date"].min()
    return pd.DataFrame(
        {"customer_id": first.index.astype(object), "signup_date": first.to_numpy()}
    )


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
        A mandatory column is missing, a column is almost entirely unparseable, or a table's
        share of rejected rows exceeds ``max_reject_share`` (the error carries all rejects so
        far in ``.rejects``).

    Notes
    -----
    Every entry point (notebook, CLI, scheduled job) calls this with the ``data`` section of a
    job's params (:class:`DataSourceConfig`). For each table it

    1. reads the source (:func:`read_source`): a CSV or Parquet file, a table or query of a SQL
       database through a SQLAlchemy URL (SQLite, ...), or a DuckDB file (``duckdb:///path``,
       read with the ``duckdb`` module); relative paths resolve against ``base_dir``;
    2. renames the source's columns onto the contract (``columns``), translates source values
       (``values``), fills constants for absent columns (``defaults``);
    3. coerces and validates the rows (:func:`src.data.validation.validate_table`), splitting
       them into kept rows and rejects with a reason.

    Nothing is silently dropped: every source row is kept or listed in ``rejects`` (``report``
    reconciles ``rows_in == rows_kept + rows_rejected``). Problems that make a whole source
    unusable raise a :class:`~src.data.errors.DataSourceError` or
    :class:`~src.data.errors.DataValidationError` naming the file, the column and what to do.

    A plain transaction log (customer id, date, amount under any names) is enough:
    ``booking_id`` is synthesised (``"<customer_id>-<row_number>"``), ``status`` defaults to
    ``completed``, and a ``customers`` table (``customer_id``, ``signup_date`` = first booking
    date) is derived from the kept bookings when none is given. Other optional tables and columns
    that the source lacks stay absent, so models can say which inputs they did not have.

    Example params (YAML)::

        data:
          as_of_date: 1998-07-01
          tables:
            bookings:
              path: ../shared/data/cdnow/cdnow_sample.csv
              columns: {customer_id: master_customer_id, booking_date: date, amount: dollar_value}
              date_format: "%Y%m%d"
    """
    base_dir = Path(base_dir)
    as_of = config.as_of_date or date.today()
    tables: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    report: list[dict[str, Any]] = []
    sources: dict[str, dict] = {}
    known: pd.Series | None = None
    for name in _LOAD_ORDER:
        source = config.tables.get(name)
        if source is None:
            continue
        raw, info = read_raw(source, name, base_dir)
        display = info.pop("display")
        mapped, used, notes = map_columns(raw, source, name, display)
        kept, rej = validate_table(
            mapped,
            name,
            display,
            as_of_date=as_of,
            negative_amounts=config.negative_amounts,
            known_customer_ids=None if name == "customers" else known,
            date_format=source.date_format,
            dayfirst=source.dayfirst,
            source_columns=used,
            raw=raw,
        )
        del raw, mapped
        rows_in = len(kept) + len(rej)
        rejects.append(rej)
        if rows_in and len(rej) / rows_in > config.max_reject_share:
            counts = _reason_counts(rej).head(5)
            raise DataValidationError(
                f"{name}: {len(rej)} of {rows_in} rows ({len(rej) / rows_in:.0%}) rejected, "
                f"above max_reject_share {config.max_reject_share:.0%}; top reasons: "
                + "; ".join(f"{k} ({v} row{'' if v == 1 else 's'})" for k, v in counts.items()),
                file=display,
                table=name,
                column=rej["column"].iloc[0].split("; ")[0],
                rows=rej[["row_number", "column", "value", "reason"]],
                hint="fix the column mapping or the source for the reasons above; if these "
                "rows really are unusable, raise data.max_reject_share",
                rejects=pd.concat(rejects, ignore_index=True),
            )
        tables[name] = kept
        if name == "customers":
            known = kept["customer_id"]
        report.append(
            {
                "table": name,
                "source": display,
                "rows_in": rows_in,
                "rows_kept": len(kept),
                "rows_rejected": len(rej),
                "top_reasons": _top_reasons(rej),
            }
        )
        sources[name] = {**info, "columns": used, **notes}
        if name == "bookings" and "customers" not in config.tables:
            derived = _derive_customers(kept)
            tables["customers"] = derived
            report.insert(
                0,
                {
                    "table": "customers",
                    "source": "derived from bookings",
                    "rows_in": len(derived),
                    "rows_kept": len(derived),
                    "rows_rejected": 0,
                    "top_reasons": "",
                },
            )
            sources["customers"] = {
                "derived_from": "bookings",
                "sha256": None,
                "rows": len(derived),
            }
    all_rejects = (
        pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    ordered = {t: tables[t] for t in _LOAD_ORDER if t in tables}
    return LoadedData(
        tables=ordered,
        rejects=all_rejects,
        report=pd.DataFrame(report, columns=REPORT_COLUMNS),
        sources={t: sources[t] for t in _LOAD_ORDER if t in sources},
    )
