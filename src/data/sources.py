"""The source configuration of the loader: where each contract table comes from and how it maps.

:class:`DataSourceConfig` is the ``data`` section of a job's params (the tables, the as-of
date, the tolerated share of rejected rows, what to do with negative amounts) and
:class:`TableSource` one table's source (a CSV or Parquet file, or a SQL table or query), with
the column mapping (a source column or a DuckDB SQL expression per contract column), row
filter (``where``), invoice-line grouping (``group_lines``), customer ``attributes``, value
translations and defaults onto :mod:`src.data.contract`; both are pydantic models that refuse
unknown keys and contract columns that do not exist, with the nearest name as a hint.
"""

from __future__ import annotations

import codecs
import difflib
import os
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from src.data.contract import TABLES

__all__ = [
    "DataSourceConfig",
    "TableName",
    "TableSource",
    "unknown_contract_keys",
]

TableName = Literal["customers", "bookings", "interactions", "feedback"]


class TableSource(BaseModel):
    """Where one contract table comes from and how its columns map onto the contract.

    Exactly one of ``path`` (CSV or Parquet file, relative to the project's base directory)
    and ``url`` (database) is set; with ``url``, exactly one of ``table`` and ``query``.

    Attributes
    ----------
    path : CSV (also ``.csv.gz``) or Parquet file, or a directory of Parquet files.
    url : SQLAlchemy URL (``sqlite:///data/crm.db``) or ``duckdb:///data/crm.duckdb``;
        relative database paths resolve against the base directory. ``duckdb:///:memory:``
        with a ``query`` runs it on an in-memory DuckDB whose relative file paths resolve
        against the base directory (``SELECT * FROM read_csv('exports/orders.csv')``; its
        sniffer types the columns: ``types={'id': 'VARCHAR'}`` keeps leading zeros).
    table, query : the database table to read whole, or a SQL query.
    format : ``auto`` (by file suffix), ``csv`` or ``parquet``.
    encoding : text encoding of a CSV (``utf-8``, ``utf-8-sig``, ``gbk``, ...).
    delimiter : CSV field separator, one character (``"\\t"`` or ``tab`` for tabs).
    columns : contract column -> source column, for columns whose names differ; a value that
        is not exactly a column name of the source is a DuckDB SQL expression over the source
        columns (``amount: "Quantity * Price"``, ``loyalty_member: "true"``).
    where : SQL condition (or list of conditions, ANDed) a source row must meet to be loaded;
        the rows each condition removes are counted in the load report.
    group_lines : bookings only: rows sharing ``booking_id`` are lines of one booking (amount
        summed, earliest booking_date, other columns the first non-missing value).
    attributes : customers only: extra column name -> source column or SQL expression, kept in
        the customers table as snapshots of the as-of date (not contract columns).
    date_format : strptime format of every text date column (e.g. ``"%Y%m%d"``); default:
        mixed formats are parsed (see :func:`src.data.validation.parse_dates`).
    dayfirst : read ``01/02/2024`` as 1 February (true) or 2 January (false); default: the
        order the values prove (a field above 12), and a column whose values do not prove one
        order, contradict each other or mix such dates with ISO dates is refused.
    decimal : the decimal mark of the file's numbers: ``.`` (``1,234.50``) or ``,``
        (``1.234,50``, as European spreadsheets write them; dots then group thousands).
        Read through DuckDB: every column that holds only such numbers becomes a number.
    values : per contract column, source value -> contract value (``null`` = missing), e.g.
        ``{status: {Refunded: cancelled, Storno: cancelled}}``.
    defaults : constant for a contract column the source lacks (e.g. ``currency: USD``);
        for a column the source has, it fills the missing cells.
    vocabulary : per contract column, the company's own levels (``member_tier: [Star, Nova,
        Aurora]``, lowest first for a tier, so the last is the top tier; ``product: [...]``):
        a value outside them is rejected naming this key. A column without one takes the
        levels found in the data. Not for columns whose levels are the contract's meanings
        (``status``: map the company's words with ``values``).
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
    dayfirst: bool | None = None
    decimal: Literal[".", ","] = "."
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    where: list[str] = Field(default_factory=list)
    group_lines: bool = False
    attributes: dict[str, str] = Field(default_factory=dict)
    vocabulary: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("vocabulary", mode="before")
    @classmethod
    def _levels_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for col, levels in value.items():
            if not isinstance(levels, list | tuple) or not levels:
                raise ValueError(f"vocabulary.{col}: give the levels as a list, e.g. "
                                 f"{col}: [level_a, level_b]")
            text = [_scalar_text(v).strip() for v in levels]
            key = [v.casefold() for v in text]  # values match case- and blank-insensitively
            dup = sorted({v for v, k in zip(text, key, strict=True) if key.count(k) > 1})
            if dup:
                raise ValueError(f"vocabulary.{col}: {', '.join(dup)} listed twice")
            out[col] = text
        return out

    @field_validator("where", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("columns", "attributes", mode="before")
    @classmethod
    def _mapping_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: (_scalar_text(v) if isinstance(v, bool | int | float) else v)
                for k, v in value.items()}

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
    tables : per contract table, its :class:`TableSource`; ``bookings`` is mandatory unless a
        ``customers`` table is given (snapshot data: customers only, no derived tables).
    as_of_date : dates after it are "in the future" and rejected (default: today).
    max_reject_share : above this share of rejected rows a table is refused as a whole
        (fatal), naming the top reasons.
    negative_amounts : ``reject`` negative amounts unless the booking is ``cancelled`` (a
        refund), or ``keep`` them all.
    customer_defaults : constants for the customers table derived from the bookings when no
        ``tables.customers`` is given (e.g. ``{consent_email: true}`` when every customer of
        a transaction log may be contacted by email); keys are customers contract columns.
    """

    model_config = ConfigDict(extra="forbid")

    tables: dict[TableName, TableSource]
    as_of_date: date | None = None
    max_reject_share: float = Field(0.2, ge=0.0, le=1.0)
    negative_amounts: Literal["reject", "keep"] = "reject"
    customer_defaults: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _contract_names(self) -> DataSourceConfig:
        if "bookings" not in self.tables and "customers" not in self.tables:
            raise ValueError(
                "tables.bookings is required (customer_id, booking_date and amount at least), "
                "or tables.customers for snapshot data"
            )
        for name, source in self.tables.items():
            if source.group_lines and name != "bookings":
                raise ValueError(f"tables.{name}.group_lines: only bookings have lines")
            if source.attributes and name != "customers":
                raise ValueError(f"tables.{name}.attributes: only customers have attributes")
            problems = unknown_contract_keys(source, name)
            if problems:
                raise ValueError("; ".join(problems))
        if self.customer_defaults and "customers" in self.tables:
            raise ValueError("customer_defaults is for the customers table derived from the "
                             "bookings; with tables.customers given, use "
                             "tables.customers.defaults")
        for key in self.customer_defaults:
            if key not in TABLES["customers"].column_names or key in ("customer_id",
                                                                       "signup_date"):
                near = difflib.get_close_matches(key, TABLES["customers"].column_names, n=1)
                raise ValueError(
                    f"customer_defaults.{key}: not a column the derived customers table can "
                    "take" + (f"; did you mean {near[0]!r}?" if near else ""))
        return self


def unknown_contract_keys(source: TableSource, table: str) -> list[str]:
    """Problems with the ``columns`` / ``values`` / ``defaults`` keys of one table's source.

    Returns
    -------
    list of str
        One message per key that is not a column of the contract table ``table``, with the
        nearest column name when there is one; empty when every key is a contract column.
    """
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
    for key in source.vocabulary:
        if key not in spec.column_names:
            near = difflib.get_close_matches(key, spec.column_names, n=1)
            problems.append(f"tables.{table}.vocabulary.{key}: {key!r} is not a column of the "
                            f"contract table {table}" + (f"; did you mean {near[0]!r}?" if near
                                                         else ""))
        elif spec.column(key).kind != "category":
            problems.append(f"tables.{table}.vocabulary.{key}: {key} is not a category column")
        elif spec.column(key).allowed is not None:
            problems.append(
                f"tables.{table}.vocabulary.{key}: the levels of {key} are the contract's "
                f"meanings ({', '.join(spec.column(key).allowed)}); map the company's words "
                f"onto them with tables.{table}.values.{key}: {{<word>: <meaning>}}")
    for key in source.attributes:
        if key in spec.column_names:
            problems.append(
                f"tables.{table}.attributes.{key}: {key!r} is a contract column; map it under "
                f"tables.{table}.columns, or give the attribute another name"
            )
        elif not key or key.startswith("_"):
            problems.append(f"tables.{table}.attributes.{key}: name it with a letter first")
    return problems
