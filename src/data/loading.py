"""Read the input tables (CSV, Parquet, SQL) and map them onto the data contract.

The one loader of the project: every entry point calls :func:`load_tables` with the
``data`` section of a job's params (:class:`DataSourceConfig`). For each table it

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

from __future__ import annotations

import codecs
import difflib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from src.data.contract import TABLES, Table
from src.data.errors import DataSourceError, DataValidationError
from src.data.validation import REJECT_COLUMNS, validate_table

__all__ = [
    "DataSourceConfig",
    "LoadedData",
    "TableSource",
    "file_sha256",
    "load_tables",
    "read_source",
]

TableName = Literal["customers", "bookings", "interactions", "feedback"]
_LOAD_ORDER: tuple[str, ...] = ("customers", "bookings", "interactions", "feedback")
_CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".dat"}
_PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".zip", ".xz", ".zst"}
_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_ENCODING_CANDIDATES: tuple[str, ...] = (
    "utf-8-sig",
    "gbk",
    "gb18030",
    "big5",
    "shift_jis",
    "cp1252",
    "latin-1",
)
_SNIFF_BYTES = 8 << 20
REPORT_COLUMNS: list[str] = [
    "table",
    "source",
    "rows_in",
    "rows_kept",
    "rows_rejected",
    "top_reasons",
]


# --------------------------------------------------------------------------------------------
# params
# --------------------------------------------------------------------------------------------
class TableSource(BaseModel):
    """Where one contract table comes from and how its columns map onto the contract.

    Exactly one of ``path`` (CSV or Parquet file, relative to the project's base directory)
    and ``url`` (database) is set; with ``url``, exactly one of ``table`` and ``query``.

    Attributes
    ----------
    path : CSV (also ``.csv.gz``) or Parquet file, or a directory of Parquet files.
    url : SQLAlchemy URL (``sqlite:///data/crm.db``) or ``duckdb:///data/crm.duckdb``;
        relative database paths resolve against the base directory.
    table, query : the database table to read whole, or a SQL query.
    format : ``auto`` (by file suffix), ``csv`` or ``parquet``.
    encoding : text encoding of a CSV (``utf-8``, ``utf-8-sig``, ``gbk``, ...).
    delimiter : CSV field separator, one character (``"\\t"`` or ``tab`` for tabs).
    columns : contract column -> source column, for columns whose names differ.
    date_format : strptime format of every text date column (e.g. ``"%Y%m%d"``); default:
        mixed formats are parsed (see :func:`src.data.validation.parse_dates`).
    dayfirst : read ``01/02/2024`` as 1 February.
    values : per contract column, source value -> contract value (``null`` = missing), e.g.
        ``{status: {Refunded: cancelled, Storno: cancelled}}``.
    defaults : constant for a contract column the source lacks (e.g. ``currency: USD``);
        for a column the source has, it fills the missing cells.
    """

    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    format: Literal["auto", "csv", "parquet"] = "auto"
    encoding: str = "utf-8"
    delimiter: str = ","
    columns: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    dayfirst: bool = False
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path", "url", "table", "query", "date_format", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, os.PathLike) else value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
        if len(value) != 1:
            raise ValueError(f"delimiter must be one character (got {value!r}); for tabs write tab")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; e.g. utf-8, utf-8-sig, gbk, gb18030, big5, cp1252"
            ) from None
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            col: (
                {str(k): (None if v is None else _scalar_text(v)) for k, v in mapping.items()}
                if isinstance(mapping, dict)
                else mapping
            )
            for col, mapping in value.items()
        }

    @model_validator(mode="after")
    def _one_source(self) -> TableSource:
        if (self.path is None) == (self.url is None):
            raise ValueError("set exactly one of path (a CSV/Parquet file) and url (a database)")
        if self.url is not None and (self.table is None) == (self.query is None):
            raise ValueError("with url, set exactly one of table (a table name) and query (SQL)")
        if self.path is not None and (self.table is not None or self.query is not None):
            raise ValueError("table and query go with url, not with path")
        return self


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class DataSourceConfig(BaseModel):
    """The ``data`` section of a job's params: the input tables and how strict to be.

    Attributes
    ----------
    tables : per contract table, its :class:`TableSource`; ``bookings`` is mandatory.
    as_of_date : dates after it are "in the future" and rejected (default: today).
    max_reject_share : above this share of rejected rows a table is refused as a whole
        (fatal), naming the top reasons.
    negative_amounts : ``reject`` negative amounts unless the booking is ``cancelled`` (a
        refund), or ``keep`` them all.
    """

    model_config = ConfigDict(extra="forbid")

    tables: dict[TableName, TableSource]
    as_of_date: date | None = None
    max_reject_share: float = Field(0.2, ge=0.0, le=1.0)
    negative_amounts: Literal["reject", "keep"] = "reject"

    @model_validator(mode="after")
    def _contract_names(self) -> DataSourceConfig:
        if "bookings" not in self.tables:
            raise ValueError(
                "tables.bookings is required (customer_id, booking_date and amount at least)"
            )
        for name, source in self.tables.items():
            problems = _unknown_contract_keys(source, name)
            if problems:
                raise ValueError("; ".join(problems))
        return self


def _unknown_contract_keys(source: TableSource, table: str) -> list[str]:
    spec = TABLES[table]
    problems = []
    for section in ("columns", "values", "defaults"):
        for key in getattr(source, section):
            if key not in spec.column_names:
                near = difflib.get_close_matches(key, spec.column_names, n=1)
                problems.append(
                    f"tables.{table}.{section}.{key}: {key!r} is not a column of the contract "
                    f"table {table}"
                    + (f"; did you mean {near[0]!r}?" if near else "")
                    + f" (columns: {', '.join(spec.column_names)})"
                )
    return problems


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
# reading
# --------------------------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes (of a directory: of its files' names and
    digests, in sorted order)."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file_sha256(f).encode() + b"\n")
        return digest.hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return (p if p.is_absolute() else Path(base_dir) / p).resolve()


def _file_format(path: Path, fmt: str, table: str) -> str:
    if fmt != "auto":
        return fmt
    if path.is_dir():
        return "parquet"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in _PARQUET_SUFFIXES:
        return "parquet"
    if last in _CSV_SUFFIXES:
        return "csv"
    raise DataSourceError(
        f"cannot tell the format of {path.name} from its name",
        file=str(path),
        hint=f"set tables.{table}.format: csv or parquet",
    )


def _missing_file_error(path: Path, table: str, base_dir: Path) -> DataSourceError:
    hint = f"check tables.{table}.path (relative paths resolve against {base_dir})"
    if path.parent.is_dir():
        near = difflib.get_close_matches(path.name, [p.name for p in path.parent.iterdir()], n=3)
        if near:
            hint += f"; files with similar names there: {', '.join(near)}"
    elif not path.parent.exists():
        hint += f"; the folder {path.parent} does not exist either"
    return DataSourceError(f"{table}: file not found: {path.name}", file=str(path), hint=hint)


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        import gzip

        with gzip.open(path, "rb") as fh:
            yield fh
    elif suffix == ".bz2":
        import bz2

        with bz2.open(path, "rb") as fh:
            yield fh
    elif suffix == ".xz":
        import lzma

        with lzma.open(path, "rb") as fh:
            yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int, bytes] | None:
    """(byte offset, line number, offending bytes) of the first undecodable byte, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    with _open_binary(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(exc.start - len(pending), 0)
                line += chunk[:start].count(b"\n")
                return offset + start, line, chunk[start : start + max(exc.end - exc.start, 1)]
            offset += len(chunk)
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset, line, b""
    return None


def _encoding_error(
    path: Path, encoding: str, table: str, exc: UnicodeDecodeError
) -> DataSourceError:
    where = _first_undecodable(path, encoding)
    if where is None:  # pandas failed on something we cannot reproduce: report its position
        offset, line, bad = exc.start, None, exc.object[exc.start : exc.end]
    else:
        offset, line, bad = where
    with _open_binary(path) as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        fits = ["utf-16"]
    else:
        fits = []
        for cand in _ENCODING_CANDIDATES:
            try:
                head.decode(cand)
            except UnicodeDecodeError:
                continue
            if codecs.lookup(cand).name != codecs.lookup(encoding).name:
                fits.append(cand)
    where_text = f"byte offset {offset}" + (f" (line {line})" if line else "")
    hint = (
        f"set tables.{table}.encoding: {fits[0]}"
        + (f" (the file also decodes as {', '.join(fits[1:3])})" if len(fits) > 1 else "")
        if fits
        else f"set tables.{table}.encoding to the file's encoding"
    )
    hint += (
        "; Chinese exports from Excel/WPS are usually gbk (or gb18030), files with a "
        "byte-order mark utf-8-sig"
    )
    return DataSourceError(
        f"{table}: cannot decode {path.name} as {encoding}: byte {bad.hex(' ')} at "
        f"{where_text} are not valid {encoding}",
        file=str(path),
        hint=hint,
    )


def _sniff_delimiter(text: str, delimiter: str) -> str | None:
    counts = {d: text.count(d) for d in _DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > text.count(delimiter) else None


def _first_line(path: Path, encoding: str) -> str:
    with _open_binary(path) as fh:
        head = fh.read(64 << 10)
    return head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[0] if head else ""


def _read_csv(path: Path, source: TableSource, table: str) -> pd.DataFrame:
    delim = source.delimiter
    try:
        raw = pd.read_csv(
            path,
            sep=delim,
            encoding=source.encoding,
            dtype=str,
            keep_default_na=True,
            encoding_errors="strict",
            low_memory=False,
        )
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, source.encoding, table, exc) from None
    except pd.errors.EmptyDataError:
        raise DataSourceError(
            f"{table}: {path.name} is empty (no header row)",
            file=str(path),
            hint="export the table again with a header row and its data",
        ) from None
    except pd.errors.ParserError as exc:
        sniffed = _sniff_delimiter(_first_line(path, source.encoding), delim)
        hint = (
            f"looks like {sniffed!r}-delimited; set delimiter: {sniffed!r}"
            if sniffed
            else "check quoting (a field containing the delimiter must be quoted) and the "
            "delimiter setting"
        )
        raise DataSourceError(
            f"{table}: cannot parse {path.name} with delimiter {delim!r}: {exc}".strip(),
            file=str(path),
            hint=hint,
        ) from None
    except OSError as exc:
        raise DataSourceError(
            f"{table}: cannot read {path.name}: {exc}",
            file=str(path),
            hint="check the file's permissions and that it is a complete (not truncated) file",
        ) from None
    if raw.shape[1] == 1:
        sniffed = _sniff_delimiter(str(raw.columns[0]), delim)
        if sniffed:
            raise DataSourceError(
                f"{table}: reading {path.name} with delimiter {delim!r} gives a single column "
                f"{str(raw.columns[0])[:80]!r}",
                file=str(path),
                hint=f"looks like {sniffed!r}-delimited; set delimiter: {sniffed!r} "
                f"(tables.{table}.delimiter)",
            )
    return raw


def _read_parquet(path: Path, table: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types (ArrowInvalid, OSError, ...)
        raise DataSourceError(
            f"{table}: cannot read {path.name} as Parquet: {exc}",
            file=str(path),
            hint=f"check the file, or set tables.{table}.format: csv if it is a CSV",
        ) from None


def _quote_identifier(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _database_path(url: str, base_dir: Path, table: str) -> Path | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DataSourceError(
            f"{table}: invalid database URL: {exc}",
            file=url,
            hint="write e.g. sqlite:///data/crm.db or duckdb:///data/crm.duckdb",
        ) from None
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return _resolve(db, base_dir)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _read_duckdb(source: TableSource, table: str, base_dir: Path) -> pd.DataFrame:
    import duckdb

    path = _database_path(source.url, base_dir, table)
    if path is None or not path.exists():
        raise DataSourceError(
            f"{table}: DuckDB database not found: {path}",
            file=source.url,
            hint=f"check tables.{table}.url (duckdb:///relative/or/absolute/path.duckdb)",
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        if source.table is not None:
            names = [
                r[0]
                for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            ]
            if source.table.split(".")[-1] not in names:
                raise DataSourceError(
                    f"{table}: table {source.table!r} not found in {path.name}",
                    file=source.url,
                    hint=f"set tables.{table}.table to one of: {', '.join(sorted(names))}",
                )
            sql = f"SELECT * FROM {_quote_identifier(source.table)}"
        else:
            sql = source.query
        return con.execute(sql).df()
    except duckdb.Error as exc:
        raise DataSourceError(
            f"{table}: the query failed in {path.name}: {exc}",
            file=source.url,
            hint=f"fix tables.{table}.query",
        ) from None
    finally:
        con.close()


def _read_sqlalchemy(source: TableSource, table: str, base_dir: Path) -> pd.DataFrame:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(source.url)
    path = _database_path(source.url, base_dir, table)
    if url.get_backend_name() == "sqlite" and path is not None:
        if not path.exists():  # SQLite would silently create an empty database
            raise DataSourceError(
                f"{table}: SQLite database not found: {path}",
                file=_masked(source.url),
                hint=f"check tables.{table}.url (sqlite:///relative/path.db)",
            )
        url = url.set(database=str(path))
    try:
        engine = sa.create_engine(url)
    except Exception as exc:  # missing driver, bad options
        raise DataSourceError(
            f"{table}: cannot open {_masked(source.url)}: {exc}",
            file=_masked(source.url),
            hint="install the database driver or check the URL",
        ) from None
    try:
        with engine.connect() as conn:
            if source.table is not None:
                schema, _, name = source.table.rpartition(".")
                inspector = sa.inspect(conn)
                if not inspector.has_table(name, schema=schema or None):
                    names = inspector.get_table_names(schema=schema or None)
                    raise DataSourceError(
                        f"{table}: table {source.table!r} not found in the database",
                        file=_masked(source.url),
                        hint=f"set tables.{table}.table to one of: {', '.join(sorted(names))}",
                    )
                stmt = sa.select(sa.text("*")).select_from(sa.table(name, schema=schema or None))
            else:
                stmt = sa.text(source.query)
            return pd.read_sql_query(stmt, conn)
    except sa.exc.SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise DataSourceError(
            f"{table}: the query failed: {detail}",
            file=_masked(source.url),
            hint=f"fix tables.{table}.query (or .table)",
        ) from None
    finally:
        engine.dispose()


def _read_raw(source: TableSource, table: str, base_dir: Path) -> tuple[pd.DataFrame, dict]:
    """The source as read (no renaming), with a RangeIndex, and its provenance."""
    base_dir = Path(base_dir)
    if source.path is not None:
        path = _resolve(source.path, base_dir)
        if not path.exists():
            raise _missing_file_error(path, table, base_dir)
        fmt = _file_format(path, source.format, table)
        if path.is_file() and path.stat().st_size == 0:
            raise DataSourceError(
                f"{table}: {path.name} is empty (0 bytes)",
                file=str(path),
                hint="export the table again; the file has no header and no rows",
            )
        raw = _read_csv(path, source, table) if fmt == "csv" else _read_parquet(path, table)
        info: dict[str, Any] = {
            "display": str(path),
            "path": str(path),
            "format": fmt,
            "sha256": file_sha256(path),
        }
    else:
        if source.url.startswith("duckdb:"):
            raw = _read_duckdb(source, table, base_dir)
        else:
            raw = _read_sqlalchemy(source, table, base_dir)
        info = {"display": _masked(source.url), "url": _masked(source.url), "sha256": None}
        info["table" if source.table is not None else "query"] = source.table or source.query
    raw.columns = [str(c).lstrip("\ufeff").strip() for c in raw.columns]
    raw.index = pd.RangeIndex(len(raw))
    if len(raw) == 0 and TABLES[table].required:
        raise DataSourceError(
            f"{table}: {Path(info['display']).name if source.path else info['display']} has "
            "no data rows",
            file=info["display"],
            hint=f"point tables.{table} at the export that holds the {table}",
        )
    info["rows"] = len(raw)
    return raw, info


def _map_values(values: pd.Series, mapping: dict[str, str | None]) -> pd.Series:
    text = values.astype(str).str.strip()
    hit = values.notna().to_numpy() & text.isin(list(mapping)).to_numpy()
    if not hit.any():
        return values
    out = values.astype(object).copy()
    out[hit] = text[hit].map(mapping)
    return out


def _map_columns(
    raw: pd.DataFrame, source: TableSource, table: str, display: str
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Rename onto the contract; returns (mapped frame, contract -> source column, notes)."""
    spec: Table = TABLES[table]
    problems = _unknown_contract_keys(source, table)
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
    raw, info = _read_raw(source, table, Path(base_dir))
    mapped, _, _ = _map_columns(raw, source, table, info["display"])
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
        raw, info = _read_raw(source, name, base_dir)
        display = info.pop("display")
        mapped, used, notes = _map_columns(raw, source, name, display)
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
