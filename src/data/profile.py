"""Profile a data file and recognise its shape, for ``crm init``: what is in it, what it maps to.

:func:`profile_file` reads a CSV (also compressed) the way the loader will: the text encoding
(tried on the first megabyte), then DuckDB's sniffer for the delimiter, the header and the
column types, then a sample of rows (:data:`SAMPLE_ROWS`) for each column's kind, null share,
distinct values and, for dates written as text or numbers, the strptime format (``%Y%m%d``,
``%d/%m/%Y`` with ``dayfirst``, ...). :func:`recognise` names the shape of the file and maps its
columns onto the data contract (:mod:`src.data.contract`) by name, type and values:

``transaction_log``
    customer, date, amount (e.g. CDNOW): one booking per row, ``booking_id`` synthesised;
``invoice_lines``
    repeated invoice ids with quantity and unit price (e.g. Online Retail II): lines of one
    booking (``group_lines``), amount ``quantity * price``, cancellation invoices, returns and
    lines without a customer filtered out by ``where``;
``member_table``
    one row per customer with a start and a cancellation date (contractual churn);
``tenure_snapshot``
    one row per customer with a tenure and a churn status, no dates (e.g. the IBM telco
    data): start and cancellation dates are expressions over the extraction date.

Year and month in separate columns become a ``make_date`` expression. Counts, the date span
and the gaps between a customer's purchase days are computed by DuckDB over the whole file
(:class:`ShapeRecognition`). Every guess carries its reason (:attr:`TableMapping.reasons`), so
the caller can write it as a comment and print it: nothing here is decided silently.

Why one module over 600 lines: it is one coherent thing, the reading of an unknown file
(profile, shape, mapping and the numbers behind them share the column roles and the DuckDB
view of the file); ``crm init`` is its one caller.
"""

from __future__ import annotations

import codecs
import gzip
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from src.data.contract import TABLES

__all__ = [
    "ColumnProfile",
    "FileProfile",
    "ShapeRecognition",
    "TableMapping",
    "profile_file",
    "quote_identifier",
    "recognise",
]

Shape = Literal["transaction_log", "invoice_lines", "member_table", "tenure_snapshot"]
Kind = Literal["date", "int", "float", "bool", "text", "empty"]

SAMPLE_ROWS = 20_000
"""Rows read for kinds, formats and values (counts and spans use the whole file)."""
_SNIFF_BYTES = 1 << 20
_ENCODINGS: tuple[str, ...] = ("utf-8", "gbk", "cp1252", "latin-1")
#: strptime formats tried on text (and 8-digit number) dates, ISO first
_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d",
    "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M",
)
_ISO_FORMATS = frozenset(f for f in _DATE_FORMATS if f.startswith("%Y-"))
_TRUE = frozenset({"yes", "y", "true", "t"})
_FALSE = frozenset({"no", "n", "false", "f"})
_SQL_WORDS = frozenset({
    "year", "month", "day", "date", "time", "timestamp", "order", "group", "select", "from",
    "where", "table", "user", "value", "end", "case", "interval", "limit", "desc", "asc", "by",
})
_ID = r"(?:_?(?:id|no|nr|num|number|key|code))?"
_ROLE_PATTERNS: dict[str, str] = {
    "customer_id": rf"(?:^|_)(?:customer|cust|client|member|user|account|buyer|shopper|"
                   rf"subscriber|guest|patron|kunde){_ID}$",
    "booking_id": rf"^(?:invoice|order|booking|transaction|receipt|basket|ticket|txn|sale){_ID}$",
    "quantity": r"^(?:quantity|qty|units|n_items|items|num_items|pieces|number_of_\w+|\w+_qty)$",
    "unit_price": r"^(?:unit_?price|price|price_each|item_price|price_per_unit|unit_cost)$",
    "amount": r"(?:amount|revenue|sales|value|total|spend|dollar|sum|turnover|paid|gross|net|"
              r"charge|price|cost)",
    "year": r"^(?:year|yr|yyyy|\w+_year)$",
    "month": r"^(?:month|mon|mm|\w+_month)$",
    "day": r"^(?:day|dd|day_of_month)$",
    "tenure": r"^(?:tenure|tenure_\w+|months|months_active|lifetime_months|months_subscribed)$",
    "status": r"(?:churn|churned|status|active|left|cancell?ed|exited|attrition|retained)",
    "signup": r"(?:signup|sign_up|join|joined|start|since|enrol|enroll|registered|"
              r"registration|created|opened|activation)",
    "cancel": r"(?:cancel|churn|end|leave|left|terminat|closed|quit|stop|lapsed|expir)",
    "booking_date": r"(?:date|time|day|invoice|order|purchase|booking|transaction|created|stamp)",
    "consent": r"(?:consent|opt_?in|newsletter|subscribed|marketing|email_ok|can_email)",
    "travel": r"(?:trip|travel|destination|hotel|flight|nights|stay|departure|arrival|"
              r"room|booking|tour|airline)",
    "recurring_value": r"(?:monthly|mrr|arpu|recurring|per_month|fee|premium)",
}
_CONTRACT_SYNONYMS = {"sex": "gender", "region": "home_region", "segment": "customer_type"}


# --------------------------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnProfile:
    """One column as profiled on the sample.

    Attributes
    ----------
    name : the header name.
    sql_type : DuckDB's type over the whole file (``VARCHAR``, ``BIGINT``, ``DATE``, ...).
    kind : ``date``, ``int``, ``float``, ``bool`` (yes/no, true/false), ``text`` or ``empty``.
    null_share : share of empty cells in the sample.
    n_distinct : distinct non-empty values in the sample.
    unique : every non-empty sample value differs.
    examples : up to five distinct values as text.
    date_format : strptime format of a date column (``None`` for other kinds).
    ambiguous_dayfirst : day and month both <= 12 everywhere: day first was assumed.
    minimum, maximum : numeric range in the sample (``None`` for non-numbers).
    """

    name: str
    sql_type: str
    kind: Kind
    null_share: float
    n_distinct: int
    unique: bool
    examples: tuple[str, ...]
    date_format: str | None = None
    ambiguous_dayfirst: bool = False
    minimum: float | None = None
    maximum: float | None = None

    @property
    def key(self) -> str:
        """The name in snake_case (``Customer ID`` -> ``customer_id``)."""
        return snake_case(self.name)

    @property
    def dayfirst(self) -> bool:
        return bool(self.date_format and self.date_format.startswith("%d"))


@dataclass
class FileProfile:
    """What a CSV holds, as the loader will read it.

    Attributes
    ----------
    path : the file.
    encoding : text encoding (``utf-8``, ``gbk``, ``cp1252``, ``latin-1``).
    delimiter : field separator found by DuckDB's sniffer.
    header : whether the first line names the columns.
    n_rows : data rows in the whole file.
    columns : one :class:`ColumnProfile` per column, in file order.
    sample : the first :data:`SAMPLE_ROWS` rows as text (``None`` for empty cells).
    """

    path: Path
    encoding: str
    delimiter: str
    header: bool
    n_rows: int
    columns: list[ColumnProfile]
    sample: pd.DataFrame

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def snake_case(name: str) -> str:
    """``Customer ID`` -> ``customer_id``; ``InvoiceDate`` -> ``invoice_date``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")


def quote_identifier(name: str) -> str:
    """A column name as it must be written in a DuckDB SQL expression."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in _SQL_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _open_binary(path: Path) -> Iterator:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        yield fh


def _common_chinese(text: str) -> bool:
    """Most non-ASCII characters are common Chinese (GB2312), not rare GBK extensions."""
    wide = [ch for ch in text if ord(ch) > 127]
    if not wide or not re.search(r"[\u4e00-\u9fff]", text):
        return False
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= 0.9 * len(wide)


def _detect_encoding(head: bytes) -> str:
    head = head[: head.rfind(b"\n") + 1] or head
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for enc in _ENCODINGS:
        try:
            text = head.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "gbk" and not _common_chinese(text):
            continue  # decodable as gbk by chance (e.g. 'ü' + a letter), not Chinese text
        if enc == "cp1252" and not any(0x80 <= b <= 0x9F for b in head):
            return "latin-1"  # identical on these bytes; latin-1 is the plainer name
        return enc
    return "latin-1"


@contextmanager
def _utf8_file(path: Path, encoding: str) -> Iterator[Path]:
    """The file itself when it is UTF-8, else a UTF-8 copy in a temporary folder."""
    if encoding == "utf-8":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="crm-profile-") as tmp:
        out = Path(tmp) / "utf8.csv"
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        with _open_binary(path) as src, open(out, "w", encoding="utf-8", newline="") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
        yield out


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _date_format(values: pd.Series) -> tuple[str | None, bool]:
    """(strptime format parsing every value, day/month ambiguous) or (None, False)."""
    text = values.astype(str).str.strip()
    if text.empty or not text.str.contains(r"\d").all():
        return None, False
    parsed = []
    for fmt in _DATE_FORMATS:
        if fmt == "%Y%m%d" and not text.str.fullmatch(r"\d{8}").all():
            continue
        dates = pd.to_datetime(text, format=fmt, errors="coerce")
        if dates.notna().all() and dates.dt.year.between(1900, 2100).all():
            parsed.append(fmt)
    if not parsed:
        return None, False
    day_first = [f for f in parsed if f.startswith("%d")]
    month_first = [f for f in parsed if f.startswith("%m")]
    return parsed[0], bool(day_first and month_first)


def _column_profile(name: str, sql_type: str, values: pd.Series) -> ColumnProfile:
    n = len(values)
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    distinct = present.astype(str).unique()
    base = dict(name=name, sql_type=sql_type, null_share=1 - len(present) / n if n else 1.0,
                n_distinct=len(distinct), unique=len(distinct) == len(present),
                examples=tuple(str(v) for v in distinct[:5]))
    if present.empty:
        return ColumnProfile(kind="empty", **base)
    lowered = {str(v).strip().lower() for v in distinct}
    if lowered <= (_TRUE | _FALSE) and lowered & _TRUE and lowered & _FALSE:
        return ColumnProfile(kind="bool", **base)
    fmt, ambiguous = _date_format(present)
    if fmt is not None and (not re.fullmatch(r"-?\d+", str(present.iloc[0])) or fmt == "%Y%m%d"):
        return ColumnProfile(kind="date", date_format=fmt, ambiguous_dayfirst=ambiguous, **base)
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        kind: Kind = "int" if present.astype(str).str.fullmatch(r"[+-]?\d+").all() else "float"
        return ColumnProfile(kind=kind, minimum=float(numbers.min()), maximum=float(numbers.max()),
                             **base)
    return ColumnProfile(kind="text", **base)


def profile_file(path: str | Path, sample_rows: int = SAMPLE_ROWS) -> FileProfile:
    """Profile a CSV file (also ``.gz``): encoding, delimiter, header, column kinds and formats.

    Parameters
    ----------
    path : the file.
    sample_rows : rows read for kinds, formats and values.

    Returns
    -------
    :class:`FileProfile`; ``n_rows`` counts the whole file (DuckDB).
    """
    path = Path(path)
    with _open_binary(path) as fh:
        head = fh.read(_SNIFF_BYTES)
    encoding = _detect_encoding(head)
    with _utf8_file(path, "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding) as utf8:
        con = duckdb.connect()
        sniff = con.execute("SELECT Delimiter, HasHeader FROM sniff_csv(?, sample_size=?)",
                            [str(utf8), sample_rows]).fetchone()
        delimiter, header = sniff[0], bool(sniff[1])
        con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv({_sql_text(str(utf8))}, "
                    f"delim={_sql_text(delimiter)}, header={header}, sample_size=-1)")
        types = {r[0]: r[1] for r in con.execute("DESCRIBE src").fetchall()}
        n_rows = con.execute("SELECT count(*) FROM src").fetchone()[0]
        sample = pd.read_csv(utf8, sep=delimiter, header=0 if header else None, dtype=str,
                             nrows=sample_rows, keep_default_na=False, na_values=[""],
                             encoding="utf-8-sig")
        con.close()
    sample.columns = list(types)
    sample = sample.astype(object).where(sample.notna(), None)
    columns = [_column_profile(name, t, sample[name]) for name, t in types.items()]
    return FileProfile(path=path, encoding=encoding, delimiter=delimiter, header=header,
                       n_rows=int(n_rows), columns=columns, sample=sample)


# --------------------------------------------------------------------------------------------
# recognition
# --------------------------------------------------------------------------------------------
@dataclass
class TableMapping:
    """A suggested ``data.source.tables.<table>`` entry, every choice with its reason.

    Attributes
    ----------
    table : contract table (``bookings`` or ``customers``).
    columns : contract column -> source column name or DuckDB SQL expression.
    where : SQL conditions a row must meet (source column names).
    group_lines : rows sharing ``booking_id`` are lines of one booking.
    date_format, dayfirst : how text dates are written.
    attributes : extra customer snapshot columns, name -> source column or expression.
    defaults : constants for contract columns the source lacks.
    reasons : key (``columns.customer_id``, ``where``, ...) -> why it was chosen.
    """

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    where: list[str] = field(default_factory=list)
    group_lines: bool = False
    date_format: str | None = None
    dayfirst: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def set(self, key: str, value, reason: str) -> None:
        """Record ``value`` at ``key`` (``columns.x``, ``attributes.x``, ``defaults.x`` or a
        top-level field) with its reason."""
        section, _, name = key.partition(".")
        if name:
            getattr(self, section)[name] = value
        else:
            setattr(self, section, value)
        self.reasons[key] = reason


@dataclass
class ShapeRecognition:
    """A file's shape, its mapping onto the contract and the numbers that size the job.

    Attributes
    ----------
    profile : the :class:`FileProfile`.
    shape : ``transaction_log``, ``invoice_lines``, ``member_table`` or ``tenure_snapshot``.
    shape_reason : why.
    mapping : the suggested table entry (:class:`TableMapping`).
    first_date, last_date : span of the kept rows' dates (``None`` without dates).
    n_customers : distinct customers in the kept rows.
    n_kept : rows kept by ``where`` (all rows without it).
    gap_days : quantiles (0.5, 0.8, 0.85, 0.9) of the days between a customer's consecutive
        purchase days (transaction shapes; empty otherwise).
    n_repeat_customers : customers with two purchase days or more.
    tenure_unit : ``month`` or ``day`` (tenure snapshot).
    max_tenure : longest tenure in ``tenure_unit`` (tenure snapshot).
    churn_share : share of churned customers (customers shapes).
    confirm : things the user must confirm, one sentence each.
    """

    profile: FileProfile
    shape: Shape
    shape_reason: str
    mapping: TableMapping
    first_date: date | None = None
    last_date: date | None = None
    n_customers: int = 0
    n_kept: int = 0
    gap_days: dict[float, float] = field(default_factory=dict)
    n_repeat_customers: int = 0
    tenure_unit: str = "month"
    max_tenure: float | None = None
    churn_share: float | None = None
    confirm: list[str] = field(default_factory=list)

    @property
    def span_days(self) -> int:
        if self.first_date is None or self.last_date is None:
            return 0
        return (self.last_date - self.first_date).days


def _find(profile: FileProfile, role: str, kinds: tuple[str, ...] | None = None,
          exclude: set[str] | frozenset[str] = frozenset()) -> ColumnProfile | None:
    for c in profile.columns:
        if c.name in exclude or (kinds is not None and c.kind not in kinds):
            continue
        if re.search(_ROLE_PATTERNS[role], c.key):
            return c
    return None


def _date_expr(c: ColumnProfile) -> str:
    q = quote_identifier(c.name)
    if c.sql_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return f"CAST({q} AS DATE)"
    return f"CAST(try_strptime(CAST({q} AS VARCHAR), {_sql_text(c.date_format or '%Y-%m-%d')}) AS DATE)"


def _year_month(profile: FileProfile) -> tuple[ColumnProfile, ColumnProfile, ColumnProfile | None] | None:
    year = _find(profile, "year", ("int",))
    month = _find(profile, "month", ("int",))
    if year is None or month is None or year.minimum is None or month.minimum is None:
        return None
    if not (1900 <= year.minimum and year.maximum <= 2100 and 1 <= month.minimum and month.maximum <= 12):
        return None
    day = _find(profile, "day", ("int",))
    if day is not None and not (1 <= (day.minimum or 0) and (day.maximum or 99) <= 31):
        day = None
    return year, month, day


def _status_churn_value(c: ColumnProfile, profile: FileProfile) -> str | None:
    """The value of a status column that means 'churned', as a SQL literal."""
    values = {str(v).strip() for v in profile.sample[c.name].dropna().unique()}
    if len(values) != 2:
        return None
    lowered = {v.lower(): v for v in values}
    positive = re.search(r"(?:active|retained|current)", c.key) is None
    for word in (*_TRUE, "1", "churned", "left", "cancelled", "canceled", "inactive", "exited"):
        if word in lowered:
            hit = lowered[word]
            if not positive:
                hit = next(v for v in values if v != hit)
            return hit if c.kind in ("int", "float") else _sql_text(hit)
    return None


def _contract_name(c: ColumnProfile, table: str) -> str | None:
    name = _CONTRACT_SYNONYMS.get(c.key, c.key)
    return name if name in TABLES[table].column_names else None


def recognise(profile: FileProfile, as_of_date: date | None = None) -> ShapeRecognition:
    """Name the shape of a profiled file and map its columns onto the contract.

    Parameters
    ----------
    profile : :func:`profile_file` output.
    as_of_date : extraction date used by the expressions of a tenure snapshot (it has no
        dates of its own); default: today, flagged for confirmation.

    Returns
    -------
    :class:`ShapeRecognition`, with the numbers of the whole file (DuckDB).

    Raises
    ------
    ValueError
        No customer id column, or neither dates nor a tenure: the shape is not one of the four.
    """
    cust = _find(profile, "customer_id", ("text", "int"))
    if cust is None:
        raise ValueError(f"{profile.path.name}: no customer id column recognised among "
                         f"{profile.names}; name it e.g. customer_id and run again")
    dates = [c for c in profile.columns if c.kind == "date"]
    if not dates and _year_month(profile) is None:
        return _tenure_snapshot(profile, cust, as_of_date)
    if cust.unique and len(dates) >= 2 and _find(profile, "cancel", ("date",)) is not None:
        return _member_table(profile, cust)
    return _transactions(profile, cust)


def _note_format(m: TableMapping, c: ColumnProfile, rec_confirm: list[str]) -> None:
    if c.date_format is None or c.date_format in _ISO_FORMATS:
        return
    m.set("date_format", c.date_format, f"dates of {c.name!r} look like {c.examples[0]!r}")
    if c.dayfirst:
        m.set("dayfirst", True, "day before month" + (
            " (ASSUMED: no day above 12 in the sample, month first is possible)"
            if c.ambiguous_dayfirst else ""))
        if c.ambiguous_dayfirst:
            rec_confirm.append(f"{c.name}: day/month order is ambiguous; day first was assumed")


def _transactions(profile: FileProfile, cust: ColumnProfile) -> ShapeRecognition:
    used = {cust.name}
    invoice = _find(profile, "booking_id", ("text", "int"))
    qty = _find(profile, "quantity", ("int", "float"))
    price = _find(profile, "unit_price", ("float", "int"))
    lines = invoice is not None and not invoice.unique and qty is not None and price is not None
    shape: Shape = "invoice_lines" if lines else "transaction_log"
    m = TableMapping("bookings")
    confirm: list[str] = []
    m.set("columns.customer_id", cust.name, f"customer id: name {cust.name!r}, "
          f"{cust.n_distinct} distinct values in {len(profile.sample)} sample rows")
    if invoice is not None:
        used.add(invoice.name)
        m.set("columns.booking_id", invoice.name, f"booking id: name {invoice.name!r}"
              + (", repeated over lines" if not invoice.unique else ", unique per row"))
    ym = _year_month(profile)
    date_col = _find(profile, "booking_date", ("date",)) or next(
        (c for c in profile.columns if c.kind == "date"), None)
    if date_col is not None:
        used.add(date_col.name)
        m.set("columns.booking_date", date_col.name, f"booking date: name {date_col.name!r}, "
              f"values like {date_col.examples[0]!r}")
        _note_format(m, date_col, confirm)
        date_sql = _date_expr(date_col)
    else:
        year, month, day = ym
        used |= {year.name, month.name} | ({day.name} if day else set())
        parts = [f"CAST({quote_identifier(c.name)} AS INTEGER)" for c in (year, month)]
        parts.append(f"CAST({quote_identifier(day.name)} AS INTEGER)" if day else "1")
        date_sql = f"make_date({', '.join(parts)})"
        m.set("columns.booking_date", date_sql, f"year {year.name!r} and month {month.name!r} "
              "in separate columns" + ("" if day else "; ASSUMED: the 1st of the month"))
        if day is None:
            confirm.append("bookings are dated to the 1st of their month (no day column)")
    if lines:
        used |= {qty.name, price.name}
        q, p, i = (quote_identifier(c.name) for c in (qty, price, invoice))
        m.set("columns.amount", f"{q} * {p}", f"invoice lines: amount = {qty.name!r} x "
              f"{price.name!r}")
        m.set("group_lines", True, f"lines sharing {invoice.name!r} are one booking (amount "
              "summed, earliest date)")
        where = [f"{quote_identifier(cust.name)} IS NOT NULL"] if cust.null_share > 0 else []
        if any(str(v).upper().startswith("C") for v in profile.sample[invoice.name].dropna()):
            where.append(f"{i} NOT LIKE 'C%'")
        where += [f"{q} > 0", f"{p} > 0"]
        m.set("where", where, "keeps purchases: " + "; ".join(where)
              + " (drops lines without a customer, cancellation invoices 'C...', returns and "
              "free or adjustment lines)")
    else:
        amount = _find(profile, "amount", ("float", "int"), exclude=used | (
            {qty.name} if qty is not None else set()))
        if amount is None:
            raise ValueError(f"{profile.path.name}: no amount column recognised among "
                             f"{profile.names}")
        used.add(amount.name)
        m.set("columns.amount", amount.name, f"amount: name {amount.name!r}, numbers from "
              f"{amount.minimum:g} to {amount.maximum:g}")
        if cust.null_share > 0:
            m.set("where", [f"{quote_identifier(cust.name)} IS NOT NULL"],
                  f"{cust.null_share:.1%} of sample rows have no customer id")
    for c in profile.columns:
        name = _contract_name(c, "bookings")
        if c.name not in used and name and name not in m.columns:
            m.set(f"columns.{name}", c.name, f"same name as the contract column {name!r}")
    rec = ShapeRecognition(profile, shape, "", m, confirm=confirm)
    rec.shape_reason = (
        f"invoice lines: {invoice.name!r} repeats over rows, with quantity {qty.name!r} and "
        f"unit price {price.name!r}" if lines else
        f"transaction log: customer {cust.name!r}, date, amount {m.columns['amount']!r}, "
        "one purchase per row")
    _booking_stats(rec, quote_identifier(cust.name), date_sql)
    return rec


def _query(profile: FileProfile, sql: str) -> list[tuple]:
    enc = profile.encoding
    with _utf8_file(profile.path, "utf-8" if enc in ("utf-8", "utf-8-sig") else enc) as utf8:
        con = duckdb.connect()
        try:
            con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv({_sql_text(str(utf8))}, "
                        f"delim={_sql_text(profile.delimiter)}, header={profile.header}, "
                        "sample_size=-1)")
            return con.execute(sql).fetchall()
        finally:
            con.close()


def _booking_stats(rec: ShapeRecognition, cust_sql: str, date_sql: str) -> None:
    where = " AND ".join([*(f"({w})" for w in rec.mapping.where), f"{cust_sql} IS NOT NULL"])
    sql = f"""
        WITH b AS (SELECT {cust_sql} AS c, {date_sql} AS d FROM src WHERE {where}),
        k AS (SELECT * FROM b WHERE d IS NOT NULL),
        days AS (SELECT DISTINCT c, d FROM k),
        g AS (SELECT c, date_diff('day', lag(d) OVER (PARTITION BY c ORDER BY d), d) AS gap
              FROM days)
        SELECT (SELECT count(*) FROM b), (SELECT min(d) FROM k), (SELECT max(d) FROM k),
               (SELECT count(DISTINCT c) FROM k),
               (SELECT quantile_cont(gap, [0.5, 0.8, 0.85, 0.9]) FROM g WHERE gap IS NOT NULL),
               (SELECT count(DISTINCT c) FROM g WHERE gap IS NOT NULL)
    """
    n_kept, first, last, n_cust, q, n_rep = _query(rec.profile, sql)[0]
    rec.n_kept, rec.first_date, rec.last_date = int(n_kept), first, last
    rec.n_customers, rec.n_repeat_customers = int(n_cust), int(n_rep)
    rec.gap_days = dict(zip((0.5, 0.8, 0.85, 0.9), q or [], strict=False))


def _member_table(profile: FileProfile, cust: ColumnProfile) -> ShapeRecognition:
    cancel = _find(profile, "cancel", ("date",))
    start = _find(profile, "signup", ("date",), exclude={cancel.name}) or next(
        c for c in profile.columns if c.kind == "date" and c.name != cancel.name)
    m = TableMapping("customers")
    confirm: list[str] = []
    m.set("columns.customer_id", cust.name, f"customer id: name {cust.name!r}, one row each")
    m.set("columns.signup_date", start.name, f"membership start: name {start.name!r}")
    m.set("columns.membership_cancel_date", cancel.name,
          f"cancellation: name {cancel.name!r}, empty for {cancel.null_share:.0%} of members")
    m.set("columns.loyalty_member", "true", "ASSUMED: every row is a member (a member table)")
    _note_format(m, start, confirm)
    _customer_columns(profile, m, {cust.name, start.name, cancel.name})
    rec = ShapeRecognition(profile, "member_table", f"member table: one row per {cust.name!r} "
                           f"with start {start.name!r} and cancellation {cancel.name!r}", m,
                           confirm=confirm)
    s, c = _date_expr(start), _date_expr(cancel)
    first, last, n, churned = _query(profile, f"SELECT min({s}), greatest(max({s}), max({c})), "
                                     f"count(*), count({c}) FROM src")[0]
    rec.first_date, rec.last_date, rec.n_customers = first, last, int(n)
    rec.n_kept, rec.churn_share = int(n), churned / n if n else None
    return rec


def _tenure_snapshot(profile: FileProfile, cust: ColumnProfile,
                     as_of_date: date | None) -> ShapeRecognition:
    tenure = _find(profile, "tenure", ("int", "float"))
    status = _find(profile, "status", ("bool", "int", "text"), exclude={cust.name})
    churn_value = None if status is None else _status_churn_value(status, profile)
    if tenure is None or churn_value is None:
        raise ValueError(f"{profile.path.name}: no date column, and not a tenure + status "
                         f"snapshot (tenure: {tenure and tenure.name}, status: "
                         f"{status and status.name}); columns: {profile.names}")
    unit = "day" if "day" in tenure.key else "month"
    as_of = as_of_date or date.today()
    lit = f"DATE '{as_of.isoformat()}'"
    t, s = quote_identifier(tenure.name), quote_identifier(status.name)
    m = TableMapping("customers")
    m.set("columns.customer_id", cust.name, f"customer id: name {cust.name!r}, one row each")
    m.set("columns.signup_date", f"{lit} - INTERVAL ({t}) {unit.upper()}",
          f"no dates: start = extraction date - {tenure.name!r} ({unit}s)")
    m.set("columns.membership_cancel_date", f"CASE WHEN {s} = {churn_value} THEN {lit} END",
          f"{status.name!r} = {churn_value} means the customer left; ASSUMED: left on the "
          "extraction date (the snapshot says only 'within the last period')")
    m.set("columns.loyalty_member", "true", "ASSUMED: every row is a subscriber")
    _customer_columns(profile, m, {cust.name, tenure.name, status.name})
    rec = ShapeRecognition(profile, "tenure_snapshot",
                           f"tenure + status snapshot: no dates, tenure {tenure.name!r} "
                           f"({unit}s), churn status {status.name!r}", m, tenure_unit=unit)
    n, max_t, churned = _query(profile, f"SELECT count(*), max({t}), "
                               f"count(*) FILTER (WHERE {s} = {churn_value}) FROM src")[0]
    rec.n_customers = rec.n_kept = int(n)
    rec.max_tenure = float(max_t)
    rec.churn_share = churned / n if n else None
    return rec


def _customer_columns(profile: FileProfile, m: TableMapping, used: set[str]) -> None:
    """Map the other columns of a customers file: contract names, consent, attributes."""
    for c in profile.columns:
        if c.name in used:
            continue
        name = _contract_name(c, "customers")
        if name is not None and name not in m.columns:
            m.set(f"columns.{name}", c.name, f"same name as the contract column {name!r}")
        elif re.search(_ROLE_PATTERNS["consent"], c.key) and "consent_email" not in m.columns:
            m.set("columns.consent_email", c.name, f"consent: name {c.name!r} (ASSUMED: email)")
        else:
            m.set(f"attributes.{c.key}", c.name, f"{c.kind}, {c.n_distinct} distinct values")
