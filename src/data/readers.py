"""Readers of the loader's sources: CSV and Parquet files, SQL databases and DuckDB files.

:func:`read_raw` reads one :class:`~src.data.sources.TableSource` as it is (no renaming):
a CSV (also compressed; text encoding and delimiter checked, with the likely fix named when
they are wrong), a Parquet file or folder, a table or query through a SQLAlchemy URL, or a
DuckDB file (``duckdb:///path``); relative paths resolve against the base directory.
:func:`file_sha256` hashes a file or folder for the run manifest. Every failure is a
:class:`~src.data.errors.DataSourceError` naming the file and what to do.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from src.data.contract import TABLES
from src.data.errors import DataSourceError
from src.data.sources import TableSource
from src.fileio import file_sha256

__all__ = [
    "database_path",
    "file_sha256",
    "locate_file",
    "masked_url",
    "quote_identifier",
    "read_raw",
    "resolve_path",
    "single_column_error",
    "source_header",
    "utf8_copy",
]

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


def resolve_path(path: str, base_dir: Path) -> Path:
    """A source path as the readers open it: ``~`` expanded, relative to ``base_dir``."""
    return _resolve(path, base_dir)


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


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (``schema.table`` quoted part by part)."""
    return _quote_identifier(name)


def database_path(url: str, base_dir: Path, table: str) -> Path | None:
    """The database file of a SQLAlchemy/DuckDB URL resolved against ``base_dir``; ``None``
    for in-memory databases."""
    return _database_path(url, base_dir, table)


def masked_url(url: str) -> str:
    """``url`` with its password hidden, for messages and the run manifest."""
    return _masked(url)


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


def locate_file(source: TableSource, table: str, base_dir: Path) -> tuple[Path, str]:
    """The resolved file of a ``path`` source and its format (``csv`` or ``parquet``).

    Raises
    ------
    DataSourceError
        The file is missing (similar names are listed), empty, or of an unknown format.
    """
    path = _resolve(source.path, Path(base_dir))
    if not path.exists():
        raise _missing_file_error(path, table, Path(base_dir))
    fmt = _file_format(path, source.format, table)
    if path.is_file() and path.stat().st_size == 0:
        raise DataSourceError(
            f"{table}: {path.name} is empty (0 bytes)",
            file=str(path),
            hint="export the table again; the file has no header and no rows",
        )
    return path, fmt


def single_column_error(path: Path, header: list[str], delimiter: str,
                        table: str) -> DataSourceError | None:
    """The error for a CSV read as one column because the delimiter is wrong, else None."""
    if len(header) != 1:
        return None
    sniffed = _sniff_delimiter(str(header[0]), delimiter)
    if not sniffed:
        return None
    return DataSourceError(
        f"{table}: reading {path.name} with delimiter {delimiter!r} gives a single column "
        f"{str(header[0])[:80]!r}",
        file=str(path),
        hint=f"looks like {sniffed!r}-delimited; set delimiter: {sniffed!r} "
        f"(tables.{table}.delimiter)",
    )


def utf8_copy(path: Path, encoding: str, table: str, dest: Path) -> Path:
    """Stream ``path`` (any compression :mod:`gzip`, bz2, xz; text in ``encoding``) into the
    plain UTF-8 file ``dest``, for readers that take UTF-8 only (DuckDB).

    Raises
    ------
    DataSourceError
        A byte is not valid in ``encoding`` (the error names its offset and likely encodings).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with _open_binary(path) as src, open(dest, "w", encoding="utf-8", newline="") as out:
            first = True
            for chunk in iter(lambda: src.read(1 << 20), b""):
                text = decoder.decode(chunk)
                if first:
                    text, first = text.lstrip("\ufeff"), False
                out.write(text)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, encoding, table, exc) from None
    return dest


def source_header(source: TableSource, table: str, base_dir: Path) -> list[str]:
    """The column names of a source, read cheaply (a CSV's first line, a Parquet schema, a
    query's result columns without its rows).

    Parameters
    ----------
    source : the table's source; table : contract table name; base_dir : directory relative
        paths resolve against.

    Returns
    -------
    list of str: the source's column names as :func:`read_raw` gives them (byte-order mark
    and surrounding blanks stripped).
    """
    import csv

    base_dir = Path(base_dir)
    if source.path is not None:
        path, fmt = locate_file(source, table, base_dir)
        if fmt == "parquet":
            import pyarrow.dataset as ds

            try:
                names = ds.dataset(str(path), format="parquet").schema.names
            except Exception as exc:  # pyarrow raises several types (ArrowInvalid, OSError)
                raise DataSourceError(
                    f"{table}: cannot read {path.name} as Parquet: {exc}",
                    file=str(path),
                    hint=f"check the file, or set tables.{table}.format: csv if it is a CSV",
                ) from None
        else:
            try:
                line = _first_line(path, source.encoding)
            except UnicodeDecodeError as exc:
                raise _encoding_error(path, source.encoding, table, exc) from None
            names = next(csv.reader([line], delimiter=source.delimiter), [])
    elif source.url.startswith("duckdb:"):
        import duckdb

        db = _database_path(source.url, base_dir, table)
        con = duckdb.connect(":memory:" if db is None else str(db), read_only=db is not None)
        try:
            if db is None:
                con.execute(f"SET file_search_path = '{str(base_dir).replace(chr(39), '')}'")
            sql = (f"SELECT * FROM {_quote_identifier(source.table)}" if source.table
                   else source.query)
            names = [d[0] for d in con.execute(f"SELECT * FROM ({sql}) LIMIT 0").description]
        except duckdb.Error as exc:
            raise DataSourceError(f"{table}: the query failed: {exc}", file=source.url,
                                  hint=f"fix tables.{table}.query (or .table)") from None
        finally:
            con.close()
    else:
        names = list(read_raw(source, table, base_dir)[0].columns)
    return [str(c).lstrip("\ufeff").strip() for c in names]


def read_raw(source: TableSource, table: str, base_dir: Path) -> tuple[pd.DataFrame, dict]:
    """The source as read (no renaming), with a RangeIndex, and its provenance.

    Parameters
    ----------
    source : where the table comes from (:class:`~src.data.sources.TableSource`).
    table : contract table name.
    base_dir : directory that relative paths (and relative SQLite/DuckDB paths) resolve
        against.

    Returns
    -------
    raw : frame of shape (n_rows, any): the source's columns (names stripped of a byte-order
        mark and blanks), CSV values as text, RangeIndex = 0-based data row.
    info : provenance: ``display`` (file or masked URL), ``path`` / ``format`` or ``url`` /
        ``table`` / ``query``, ``sha256`` (None for databases), ``rows``.

    Raises
    ------
    DataSourceError
        The source is missing, empty, undecodable, mis-delimited, or the SQL fails.
    """
    base_dir = Path(base_dir)
    if source.path is not None:
        path, fmt = locate_file(source, table, base_dir)
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
            + ("a header and no data rows (columns: " + ", ".join(map(str, raw.columns)) + ")"
               if source.path and len(raw.columns) else "no data rows"),
            file=info["display"],
            hint=f"point tables.{table} at the export that holds the {table}",
        )
    info["rows"] = len(raw)
    return raw, info
