"""The DuckDB engine of the loader: SQL expressions, row filters and invoice lines.

:func:`ingest_table` reads one :class:`~src.data.sources.TableSource` through DuckDB when it
needs more than renaming (:func:`needs_duckdb`): mapping values that are SQL expressions over
the source columns (``amount: "Quantity * Price"``), a row filter (``where``), invoice lines
grouped into bookings (``group_lines``), customer ``attributes``, or an in-memory DuckDB query
(``url: duckdb:///:memory:``). The scan streams: only the rows that pass the filter (grouped,
for ``group_lines``) reach pandas. Source columns mapped bare onto text, date or category
contract columns are read as text (ids keep leading zeros; dates go through the validator's
own parsing), the other columns are typed by DuckDB's sniffer. Every row keeps its 0-based
source row number (a single-threaded scan), so rejects name the source row. The counts of the
load report (rows read, filtered per condition, lines merged, amount read) come from the
same scan's SQL. :func:`mapped_columns` tells, from the header alone, which columns a source
will provide.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from src.data.contract import TABLES
from src.data.errors import DataSourceError, DataValidationError
from src.data.mapping import Mapping, finish_mapping, is_expression, resolve_mapping
from src.data.readers import (
    database_path,
    file_sha256,
    locate_file,
    masked_url,
    quote_identifier,
    read_raw,
    single_column_error,
    source_header,
    utf8_copy,
)
from src.data.rejects import record_json
from src.data.sources import TableSource
from src.data.textnumbers import (
    NUMBER_PATTERNS,
    number_sql,
    sql_identifier,
    sql_literal,
    stripped_sql,
)

__all__ = [
    "Ingested",
    "ingest_table",
    "mapped_columns",
    "needs_duckdb",
    "split_conditions",
]

_ROW = "__row"
_TEXT_KINDS = frozenset({"string", "date", "datetime", "category"})
_NATIVE_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
_RECODE_SUFFIXES = frozenset({".bz2", ".xz"})
_WORD = re.compile(r"[A-Za-z_]+")


_q = sql_identifier
_lit = sql_literal


def is_memory_url(source: TableSource) -> bool:
    """Whether the source is a query on an in-memory DuckDB (``duckdb:///:memory:``)."""
    return source.url is not None and source.url.startswith("duckdb:") and (
        source.url.rstrip("/").endswith(":memory:") or source.url.rstrip("/") == "duckdb:"
    )


def needs_duckdb(source: TableSource, header: list[str]) -> bool:
    """Whether a source needs the DuckDB engine rather than plain renaming.

    True when it has a ``where``, ``group_lines``, ``attributes``, a decimal comma
    (``decimal: ","``), an in-memory DuckDB URL, or a ``columns`` value that is an SQL
    expression (:func:`src.data.mapping.is_expression`
    against the source's ``header``).
    """
    return bool(
        source.where
        or source.group_lines
        or source.attributes
        or source.decimal == ","
        or is_memory_url(source)
        or any(is_expression(v, header) for v in source.columns.values())
    )


def split_conditions(where: list[str]) -> list[str]:
    """The conditions of a ``where``: each string split on its top-level ``AND``.

    ``AND`` inside parentheses or quotes, and the ``AND`` of ``BETWEEN x AND y``, do not
    split. Returns the conditions stripped, in order.
    """
    out: list[str] = []
    for text in where:
        depth, quote, between, start, i = 0, "", 0, 0, 0
        while i < len(text):
            ch = text[i]
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif depth == 0 and (ch.isalpha() or ch == "_") and (i == 0 or not (
                    text[i - 1].isalnum() or text[i - 1] == "_")):
                word = _WORD.match(text, i).group(0)
                if word.upper() == "BETWEEN":
                    between += 1
                elif word.upper() == "AND" and between:
                    between -= 1
                elif word.upper() == "AND":
                    out.append(text[start:i].strip())
                    start = i + 3
                i += len(word)
                continue
            i += 1
        out.append(text[start:].strip())
    return [c for c in out if c]


def mapped_columns(source: TableSource, table: str, base_dir: Path) -> set[str]:
    """The columns the loaded table will have, from the source's header and its mapping.

    Parameters
    ----------
    source : the table's :class:`TableSource`; table : contract table name; base_dir :
        directory relative paths resolve against.

    Returns
    -------
    set of str: the contract columns the mapped source provides (source columns, expressions,
    ``defaults``; bookings always get ``booking_id`` and ``status``) plus the customer
    attribute names. Reads the header only (:func:`src.data.readers.source_header`); columns
    mapped to an absent source column are left out (loading would refuse them).
    """
    header = source_header(source, table, base_dir)
    mapping = resolve_mapping(source, table, header, str(source.path or source.url))
    cols = set(mapping.columns) | set(mapping.expressions) | set(source.defaults)
    if table == "bookings":
        cols |= {"booking_id", "status"}
    absent = {name for name, _, _ in mapping.absent}
    return (cols | set(mapping.attributes)) - absent


@dataclass
class Ingested:
    """One table read through DuckDB: the mapped rows and the scan's counts.

    Attributes
    ----------
    frame : contract columns (``values`` and ``defaults`` applied), index = 0-based source
        row (for grouped bookings: the first line's).
    attributes : customer attribute columns, same index (no columns for other tables).
    used : contract column or attribute -> source column or SQL expression.
    notes : ``defaults`` filled, ``synthesised`` columns, ``unused_columns`` of the source.
    info : provenance (``display``, ``path``/``format`` or ``url``/``query``, ``sha256``,
        ``rows`` read, ``engine``).
    header : the source's column names.
    counts : ``rows_read``, ``rows_filtered``, ``filtered_by`` (list of (condition, rows it
        removed)), ``lines_grouped``, ``amount_read`` (bookings: sum of ``amount`` over all
        rows read, in the data's currency; else None).
    """

    frame: pd.DataFrame
    attributes: pd.DataFrame
    used: dict[str, str]
    notes: dict[str, Any]
    info: dict[str, Any]
    header: list[str]
    counts: dict[str, Any]
    _con: Any = field(default=None, repr=False)
    _base: str = field(default="", repr=False)
    _tmp: Any = field(default=None, repr=False)

    def records(self, row_numbers: np.ndarray) -> list[str]:
        """The source rows with these 0-based row numbers, each as a JSON object."""
        if self._con is None or not len(row_numbers):
            return [""] * len(row_numbers)
        rows = pd.DataFrame({_ROW: np.asarray(row_numbers, dtype=np.int64)})
        self._con.register("__wanted", rows)
        got = self._con.execute(
            f"WITH __base AS ({self._base}) SELECT b.* FROM __base b "
            f"JOIN __wanted w ON b.{_ROW} = w.{_ROW}"
        ).df().set_index(_ROW)
        got = got.reindex(rows[_ROW].to_numpy())
        return record_json(got, np.arange(len(got)))

    def close(self) -> None:
        """Close the DuckDB connection and remove temporary files."""
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Ingested:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _text_columns(mapping: Mapping, table: str) -> set[str]:
    spec = TABLES[table]
    return {src for name, src in mapping.columns.items() if spec.column(name).kind in _TEXT_KINDS}


def _csv_relation(path: Path, source: TableSource, table: str, con: Any, text: set[str],
                  tmp: tempfile.TemporaryDirectory, full_sniff: bool) -> tuple[str, list[str]]:
    enc = source.encoding.lower().replace("_", "-")
    if enc not in _NATIVE_ENCODINGS or path.suffix.lower() in _RECODE_SUFFIXES:
        path = utf8_copy(path, source.encoding, table, Path(tmp.name) / "source.csv")
    comma = source.decimal == ","
    opts = f"header=true, delim={_lit(source.delimiter)}, auto_detect=true" + (
        ", sample_size=-1" if full_sniff else "") + (", all_varchar=true" if comma else "")
    try:
        duck = [d[0] for d in con.execute(
            f"DESCRIBE SELECT * FROM read_csv({_lit(str(path))}, {opts})").fetchall()]
    except duckdb.Error as exc:
        raise DataSourceError(
            f"{table}: DuckDB cannot read {path.name}: {exc}", file=str(path),
            hint=f"check tables.{table}.delimiter and .encoding (DuckDB reads UTF-8; other "
            "encodings are converted first)") from None
    names = [c.lstrip("\ufeff").strip() for c in duck]
    err = single_column_error(path, names, source.delimiter, table)
    if err is not None:
        raise err
    types = {d: "VARCHAR" for d, n in zip(duck, names, strict=True) if n in text}
    if types and not comma:
        opts += ", types={" + ", ".join(f"{_lit(d)}: 'VARCHAR'" for d in types) + "}"
    rel = f"read_csv({_lit(str(path))}, {opts})"
    numbers = _comma_number_columns(con, rel, [d for d in duck if d not in types]) if comma \
        else set()
    cols = ", ".join(
        (f"{number_sql(_q(d), ',')} AS {_q(n)}" if d in numbers else f"{_q(d)} AS {_q(n)}")
        for d, n in zip(duck, names, strict=True))
    return f"SELECT {cols} FROM {rel}", names


def _comma_number_columns(con: Any, rel: str, columns: list[str]) -> set[str]:
    """The columns of ``rel`` (all text) whose every non-empty value is a number written with
    a decimal comma (``12,5``, ``1.234,50``, ``-3``; a currency sign allowed)."""
    if not columns:
        return set()
    pattern = _lit("|".join(f"(?:{NUMBER_PATTERNS[k]})" for k in ("int", "comma", "comma_th")))
    parts = [f"bool_and(trim({_q(c)}) = '' OR {_q(c)} IS NULL OR regexp_full_match("
             f"{stripped_sql(_q(c))}, {pattern}))" for c in columns]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {rel}").fetchone()
    return {c for c, ok in zip(columns, row, strict=True) if ok}


def _open(source: TableSource, table: str, base_dir: Path, text: set[str], full_sniff: bool
          ) -> tuple[Any, str, dict[str, Any], Any]:
    """(connection, SQL of the source relation, provenance, temporary directory)."""
    tmp = tempfile.TemporaryDirectory(prefix="ingest-")
    con = None
    try:
        if source.path is not None:
            path, fmt = locate_file(source, table, base_dir)
            con = duckdb.connect(":memory:")
            info: dict[str, Any] = {"display": str(path), "path": str(path), "format": fmt,
                                    "sha256": file_sha256(path)}
            if fmt == "csv":
                rel, _ = _csv_relation(path, source, table, con, text, tmp, full_sniff)
            else:
                target = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
                rel = f"SELECT * FROM read_parquet({_lit(target)})"
        else:
            info = {"display": masked_url(source.url), "url": masked_url(source.url),
                    "sha256": None}
            info["table" if source.table is not None else "query"] = source.table or source.query
            body = (f"SELECT * FROM {quote_identifier(source.table)}" if source.table
                    else source.query.strip().rstrip(";"))
            if source.url.startswith("duckdb:"):
                db = None if is_memory_url(source) else database_path(source.url, base_dir, table)
                if db is not None and not db.exists():
                    raise DataSourceError(
                        f"{table}: DuckDB database not found: {db}", file=source.url,
                        hint=f"check tables.{table}.url (duckdb:///path.duckdb, or "
                        "duckdb:///:memory: with a query over files)")
                con = duckdb.connect(":memory:" if db is None else str(db),
                                     read_only=db is not None)
                rel = f"SELECT * FROM ({body})"
            else:
                raw, _ = read_raw(source, table, base_dir)
                con = duckdb.connect(":memory:")
                con.register("__source", raw)
                rel = "SELECT * FROM __source"
        con.execute(f"SET file_search_path = {_lit(str(Path(base_dir).resolve()))}")
        con.execute("SET threads = 1")  # scan order = file order: row numbers are source rows
        return con, rel, info, tmp
    except BaseException:
        if con is not None:
            con.close()
        tmp.cleanup()
        raise


def _describe(con: Any, base: str, sqls: list[str]) -> list[str]:
    if not sqls:
        return []
    cols = ", ".join(f"{sql} AS c{i}" for i, sql in enumerate(sqls))
    return [str(r[1]) for r in con.execute(
        f"DESCRIBE WITH __base AS ({base}) SELECT {cols} FROM __base").fetchall()]


def _check_all(con: Any, base: str, checks: list[tuple[str, str, str]], display: str,
               table: str, header: list[str]) -> list[str]:
    """DuckDB types of the expressions in ``checks`` (one sniff of the source); when one
    fails, a clear error naming its params key."""
    try:
        return _describe(con, base, [sql for sql, _, _ in checks])
    except duckdb.Error:
        pass
    for sql, what, key in checks:
        try:
            _describe(con, base, [sql])
        except duckdb.Error as exc:
            raise DataValidationError(
                f"{table}: the {what} {sql!r} fails in DuckDB: {str(exc).splitlines()[0]}",
                file=display, table=table, column=key.rsplit(".", 1)[-1],
                hint=f"fix {key} (a source column name exactly as in the header, or a DuckDB "
                "SQL expression over them; quote names with blanks in double quotes); the "
                f"source has columns: {', '.join(header)}") from None
    raise DataSourceError(f"{table}: DuckDB cannot read the source", file=display,
                          hint=f"check tables.{table}")


def _header(con: Any, base: str) -> list[str]:
    return [d[0] for d in con.execute(f"DESCRIBE {base}").fetchall()]


def ingest_table(source: TableSource, table: str, base_dir: Path) -> Ingested:
    """Read, filter, group and map one table through DuckDB.

    Parameters
    ----------
    source : the table's :class:`TableSource`.
    table : contract table name.
    base_dir : directory that relative paths (also those inside an in-memory DuckDB query)
        resolve against.

    Returns
    -------
    :class:`Ingested` (a context manager: its :meth:`Ingested.records` reads rejected source
    rows back until it is closed).

    Raises
    ------
    DataSourceError
        The source cannot be read or a query fails.
    DataValidationError
        A mapped column is absent, an expression or condition fails (naming its params key),
        or ``group_lines`` lacks ``booking_id`` or a numeric ``amount``.
    """
    base_dir = Path(base_dir)
    pre_header = source_header(source, table, base_dir) if source.path is not None else []
    pre = resolve_mapping(source, table, pre_header, str(source.path or source.url))
    for full_sniff in (False, True):  # a value the sniffer's sample did not foresee: sniff all
        con, rel, info, tmp = _open(source, table, base_dir, _text_columns(pre, table),
                                    full_sniff)
        try:
            return _ingest(con, rel, info, tmp, source, table, full_sniff)
        except duckdb.ConversionException:
            con.close()
            tmp.cleanup()
        except BaseException:
            con.close()
            tmp.cleanup()
            raise
    raise AssertionError("unreachable: the second attempt converts every DuckDB error")


def _ingest(con: Any, rel: str, info: dict[str, Any], tmp: Any, source: TableSource,
            table: str, last_try: bool) -> Ingested:
    display = info["display"]
    try:
        header = _header(con, rel)
    except duckdb.Error as exc:
        raise DataSourceError(f"{table}: the query failed: {str(exc).splitlines()[0]}",
                              file=display, hint=f"fix tables.{table}.query") from None
    mapping = resolve_mapping(source, table, header, display)
    mapping.raise_absent(table, display, header)
    base = f"SELECT row_number() OVER () - 1 AS {_ROW}, * FROM ({rel})"
    prefix = f"tables.{table}"
    exprs: dict[str, str] = {n: _q(s) for n, s in mapping.columns.items()}
    checks: list[tuple[str, str, str]] = []  # (sql, what, params key)
    for name, sql in mapping.expressions.items():
        exprs[name] = f"({sql})"
        checks.append((exprs[name], "expression", f"{prefix}.columns.{name}"))
    for name, src in mapping.attributes.items():
        exprs[name] = _q(src) if src in header else f"({src})"
        checks.append((exprs[name], "expression", f"{prefix}.attributes.{name}"))
    conds = split_conditions(source.where)
    checks += [(f"({c})", "condition", f"{prefix}.where") for c in conds]
    checks += [(_q(src), "column", f"{prefix}.columns.{name}")
               for name, src in mapping.columns.items()]
    kinds = _check_all(con, base, checks, display, table, header)
    names = list(mapping.expressions) + list(mapping.attributes)
    types = dict(zip(names, kinds, strict=False))
    types |= dict(zip(mapping.columns, kinds[len(names) + len(conds):], strict=True))
    for cond, kind in zip(conds, kinds[len(names):len(names) + len(conds)], strict=True):
        if kind != "BOOLEAN":
            raise DataValidationError(
                f"{table}: the where condition {cond!r} is {kind}, not true/false",
                file=display, table=table, hint=f"fix {prefix}.where (e.g. \"Quantity > 0\")")

    # counts over every row read: per condition the rows it removes (of those still there)
    tests = [f"coalesce(({c}), false)" for c in conds]
    parts = ["count(*)"] + [
        f"count(*) FILTER (WHERE {' AND '.join(tests[:i] + ['NOT ' + tests[i]])})"
        for i in range(len(conds))
    ]
    amount = exprs.get("amount") if table == "bookings" else None
    parts.append(f"sum(TRY_CAST({amount} AS DOUBLE))" if amount else "NULL")
    row = _run(con, f"WITH __base AS ({base}) SELECT {', '.join(parts)} FROM __base",
               display, table, last_try).fetchone()
    rows_read, removed, amount_read = int(row[0]), [int(v) for v in row[1:-1]], row[-1]
    filtered = f"WITH __base AS ({base}), __kept AS (SELECT * FROM __base" + (
        f" WHERE {' AND '.join(tests)})" if tests else ")")
    select = ", ".join([_ROW] + [f"{sql} AS {_q(name)}" for name, sql in exprs.items()])
    if source.group_lines:
        sql = _grouped_sql(filtered, select, list(exprs), types, source, display)
    else:
        sql = f"{filtered} SELECT {select} FROM __kept ORDER BY {_ROW}"
    out = _run(con, sql, display, table, last_try).df()
    out.index = pd.Index(out.pop(_ROW).to_numpy(dtype=np.int64))
    rows_filtered = sum(removed)
    lines_grouped = rows_read - rows_filtered - len(out)
    contract = {n: out[n] for n in list(mapping.columns) + list(mapping.expressions)}
    frame, notes = finish_mapping(contract, source, table, out.index)
    attributes = out[list(mapping.attributes)]
    used = {n: source.columns.get(n, n) for n in list(mapping.columns) + list(
        mapping.expressions)} | dict(mapping.attributes)
    words = " ".join(list(used.values()) + conds)
    unused = [c for c in header if c not in used.values() and c not in words]
    if unused:
        notes["unused_columns"] = unused
    info = {**info, "rows": rows_read, "engine": "duckdb"}
    counts = {
        "rows_read": rows_read,
        "rows_filtered": rows_filtered,
        "filtered_by": list(zip(conds, removed, strict=True)),
        "lines_grouped": lines_grouped,
        "amount_read": None if amount_read is None else float(amount_read),
    }
    return Ingested(frame, attributes, used, notes, info, header, counts, _con=con, _base=base,
                    _tmp=tmp)


def _run(con: Any, sql: str, display: str, table: str, last_try: bool) -> Any:
    try:
        return con.execute(sql)
    except duckdb.ConversionException as exc:
        if not last_try:
            raise
        detail = " / ".join(line.strip() for line in str(exc).splitlines()[:4] if line.strip())
        raise DataSourceError(
            f"{table}: a value of {Path(display).name} does not fit its column's type: {detail}",
            file=display,
            hint=f"cast the column explicitly in tables.{table}.columns (e.g. "
            "TRY_CAST(col AS DOUBLE); a value that does not convert becomes missing and its row "
            "is rejected), or fix the source row named above",
        ) from None
    except duckdb.Error as exc:
        raise DataSourceError(
            f"{table}: DuckDB failed reading {Path(display).name}: {str(exc).splitlines()[0]}",
            file=display,
            hint=f"check tables.{table} (path or query, delimiter, encoding) and the "
            "expressions in its columns and where",
        ) from None


def _grouped_sql(filtered: str, select: str, names: list[str], types: dict[str, str],
                 source: TableSource, display: str) -> str:
    """The SQL that merges invoice lines into bookings (see :func:`ingest_table`)."""
    if "booking_id" not in names:
        raise DataValidationError(
            "bookings: group_lines needs the booking_id of each line", file=display,
            table="bookings", column="booking_id",
            hint="set tables.bookings.columns.booking_id: <invoice or order number column>")
    kind = types.get("amount", "")
    if not re.match(r"(TINY|SMALL|BIG|HUGE|U)?INT|DOUBLE|FLOAT|DECIMAL|REAL|INTEGER", kind):
        raise DataValidationError(
            f"bookings: group_lines sums amount over the lines, but amount is {kind}",
            file=display, table="bookings", column="amount",
            hint="map tables.bookings.columns.amount to a number, e.g. \"Quantity * Price\" or "
            "\"TRY_CAST(replace(Total, ',', '') AS DOUBLE)\"")
    aggs = [f"min({_ROW}) AS {_ROW}", '"booking_id"']
    for name in names:
        q = _q(name)
        if name == "booking_id":
            continue
        if name == "amount":
            aggs.append(f"CASE WHEN count(*) = count({q}) THEN sum({q}) END AS {q}")
        elif name == "booking_date" and types.get(name, "").startswith(("DATE", "TIMESTAMP")):
            aggs.append(f"min({q}) AS {q}")
        elif name == "booking_date":
            key = (f"try_strptime({q}, {_lit(source.date_format)})" if source.date_format
                   else f"TRY_CAST({q} AS TIMESTAMP)")
            aggs.append(f"coalesce(arg_min({q}, {key}), min_by({q}, {_ROW}) FILTER "
                        f"(WHERE {q} IS NOT NULL)) AS {q}")
        else:
            aggs.append(f"min_by({q}, {_ROW}) FILTER (WHERE {q} IS NOT NULL) AS {q}")
    return (f"{filtered}, __lines AS (SELECT {select} FROM __kept) SELECT {', '.join(aggs)} "
            f'FROM __lines GROUP BY "booking_id", CASE WHEN "booking_id" IS NULL THEN {_ROW} '
            f"END ORDER BY {_ROW}")
