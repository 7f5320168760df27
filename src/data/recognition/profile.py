"""What each column of a file holds, counted over the whole file by DuckDB.

:func:`profile_columns` reads a sniffed file (:mod:`src.data.sniff`) with every column as
text and measures, per column and over every row: empty cells, distinct values and the rows
the most frequent value holds (a key repeats; a flag has two values), whether every value is
a whole number, a decimal number (and with which decimal mark: ``12.5`` or ``12,5``, with or
without thousands separators), a date (and in which format), a yes/no flag or text; the range,
negatives, zeros and decimals of numbers; the levels of a column with few values; letter
prefixes of ids (credit notes ``C123``), separators inside values (composite keys
``a|b|c``). These are the evidence the roles are recognised from
(:mod:`src.data.recognition.roles`).

**Dates are proven on the whole column.** Candidate formats come from a sample; each is then
counted over every value. One format that reads every value is the column's format. When a
day-first and a month-first format both read every value (no day above 12 anywhere) the order
is *ambiguous* and stays open: it is never assumed. When no single format reads every value
but several together do, the column is *mixed* (the counts per format say how). A column is
a date only if every value is a full date: a bare year or a year-month is not.

Units: counts are rows; numbers are in the file's own unit (money in its currency).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

import duckdb
import pandas as pd

from src.data.sniff import Sniffed, utf8_file
from src.data.textnumbers import (
    DECORATION,
    NUMBER_PATTERNS,
    any_number_pattern,
    number_sql,
    sql_identifier,
    sql_literal,
)

__all__ = ["BOOL_WORDS", "DATE_FORMATS", "ColumnEvidence", "FileEvidence", "MONTH_NAMES",
           "number_sql", "profile_columns", "sql_literal", "with_date_format"]

Kind = Literal["int", "decimal", "date", "bool", "text", "empty"]

#: strptime formats tried on date-like text (ISO first); DuckDB and Python read them alike
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f", "%Y%m%d",
    "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d",
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%m-%d-%Y %H:%M",
    "%d/%m/%y", "%m/%d/%y", "%d.%m.%y",
    "%Y年%m月%d日", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日%H:%M",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y",
    "%d-%b-%y",
)
_DAY_FIRST = frozenset(f for f in DATE_FORMATS if f.startswith(("%d/", "%d.", "%d-")))
_MONTH_FIRST = frozenset(f for f in DATE_FORMATS if f.startswith(("%m/", "%m-")))
BOOL_WORDS: dict[str, bool] = {
    **dict.fromkeys(("yes", "y", "true", "t", "1", "是", "ja", "j", "oui", "si", "sí", "sim",
                     "x"), True),
    **dict.fromkeys(("no", "n", "false", "f", "0", "否", "nein", "non", "não", "nao"), False),
}
#: month names (English, German, French, Spanish, Portuguese; abbreviations) -> number
MONTH_NAMES: dict[str, int] = {}
for _i, _names in enumerate((
        "january jan januar janvier janv enero ene janeiro",
        "february feb februar fevrier fevr febrero fevereiro fev",
        "march mar marz mars marzo marco",
        "april apr avril avr abril abr",
        "may mai mayo maio",
        "june jun juni juin junio junho",
        "july jul juli juillet juil julio julho",
        "august aug august aout agosto ago",
        "september sep sept septembre septiembre setiembre setembro set",
        "october oct oktober okt octobre octubre outubro out",
        "november nov novembre noviembre novembro",
        "december dec dezember dez decembre diciembre dic dezembro"), start=1):
    for _w in _names.split():
        MONTH_NAMES.setdefault(_w, _i)
_LEVELS_MAX = 60
_SAMPLE = 2000
_q = sql_identifier


@dataclass(frozen=True)
class ColumnEvidence:
    """One column, measured over the whole file.

    Attributes
    ----------
    name : the header name; position : 0-based column index.
    n_rows : rows of the file; n_values : non-empty cells; n_distinct : distinct values.
    top_count : rows holding the most frequent value.
    kind : ``int``, ``decimal``, ``date``, ``bool``, ``text`` or ``empty``.
    decimal : decimal mark of a number column (``.`` or ``,``), None otherwise.
    thousands : whether numbers carry thousands separators.
    decorated : numbers carry a currency sign or code (``$12.50``, ``12,50 €``).
    minimum, maximum : range of a number column (file units).
    n_negative, n_zero, n_fraction : numbers below 0, equal to 0, with a fractional part.
    max_decimals : most digits after the decimal mark.
    leading_zeros : whole numbers written with leading zeros (``00042``: an id, not a count).
    date_format : the format reading every value of a date column.
    date_counts : for a date-like column, format -> values it reads (over the whole column).
    date_ambiguous : a day-first and a month-first format both read every value.
    date_mixed : no one format reads every value, several together do.
    first_date, last_date : range of a date column (ISO text).
    month_names : every value is a month name.
    levels : (value, rows) of each value when there are at most 60, most frequent first.
    examples : up to five distinct values.
    letter_prefix : letter -> values starting with that letter followed by digits (``C123``).
    n_separated : values holding ``|`` (a composite of several fields).
    max_length : longest value (characters).
    """

    name: str
    position: int
    n_rows: int
    n_values: int
    n_distinct: int
    top_count: int
    kind: Kind
    decimal: str | None = None
    thousands: bool = False
    decorated: bool = False
    minimum: float | None = None
    maximum: float | None = None
    n_negative: int = 0
    n_zero: int = 0
    n_fraction: int = 0
    max_decimals: int = 0
    leading_zeros: bool = False
    date_format: str | None = None
    date_counts: dict[str, int] = field(default_factory=dict)
    date_ambiguous: bool = False
    date_mixed: bool = False
    first_date: str | None = None
    last_date: str | None = None
    month_names: bool = False
    levels: tuple[tuple[str, int], ...] | None = None
    examples: tuple[str, ...] = ()
    letter_prefix: dict[str, int] = field(default_factory=dict)
    n_separated: int = 0
    max_length: int = 0

    @property
    def null_share(self) -> float:
        return 1.0 - self.n_values / self.n_rows if self.n_rows else 1.0

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "decimal")

    @property
    def unique(self) -> bool:
        """Every non-empty value differs."""
        return self.n_values > 0 and self.n_distinct == self.n_values

    @property
    def mean_repeat(self) -> float:
        """Rows per distinct value."""
        return self.n_values / self.n_distinct if self.n_distinct else 0.0

    @property
    def top_share(self) -> float:
        return self.top_count / self.n_values if self.n_values else 0.0

    def describe(self) -> str:
        """One line: kind, distinct values, empties and examples."""
        kind = {"int": "whole numbers", "decimal": "decimal numbers", "date": "dates",
                "bool": "yes/no", "text": "text", "empty": "empty"}[self.kind]
        extra = ""
        if self.numeric and self.minimum is not None:
            extra = f" from {self.minimum:g} to {self.maximum:g}"
        elif self.kind == "date":
            extra = f" {self.first_date} to {self.last_date} ({self.date_format or 'mixed'})"
        ex = ", ".join(repr(e) for e in self.examples[:3])
        return (f"{kind}{extra}; {self.n_distinct:,} distinct of {self.n_values:,} values"
                + (f", {self.null_share:.0%} empty" if self.n_values < self.n_rows else "")
                + (f"; e.g. {ex}" if ex else ""))


@dataclass
class FileEvidence:
    """The columns of one file and the file's own facts.

    Attributes
    ----------
    sniffed : encoding, delimiter, header (:class:`~src.data.sniff.Sniffed`).
    n_rows : data rows (DuckDB's count).
    columns : one :class:`ColumnEvidence` per column, in file order.
    decimal : the file's decimal mark (``,`` when number columns use it, else ``.``).
    decimal_conflict : columns that use the other mark (a file-level mark cannot read them).
    """

    sniffed: Sniffed
    n_rows: int
    columns: list[ColumnEvidence]
    decimal: str = "."
    decimal_conflict: list[str] = field(default_factory=list)

    @property
    def path(self):
        return self.sniffed.path

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnEvidence:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def relation(self, utf8_path: str) -> str:
        """The DuckDB SQL of the file's rows, every column as text (header names)."""
        return (f"SELECT * FROM read_csv({sql_literal(utf8_path)}, "
                f"delim={sql_literal(self.sniffed.delimiter)}, header=true, all_varchar=true, "
                "quote='\"', escape='\"', null_padding=true)")


def _sample_formats(values: list[str]) -> list[str]:
    """Formats that read at least half of the sampled values (each checked by Python)."""
    out = []
    for fmt in DATE_FORMATS:
        ok = pd.to_datetime(pd.Series(values), format=fmt, errors="coerce")
        if ok.notna().mean() >= 0.5 or (ok.notna().any() and len(values) <= 20):
            out.append(fmt)
    return out


def _decimal_of(counts: dict[str, int], n: int) -> tuple[str | None, bool]:
    """(decimal mark, thousands separators) of a column whose every value is a number."""
    dot_only = counts["dot"] - counts["dot_and_comma_th"]  # 12.5 (not 1.234)
    comma_only = counts["comma"] - counts["comma_and_dot_th"]  # 12,5 (not 1,234)
    if comma_only and not dot_only:
        return ",", counts["comma_th"] > 0
    if dot_only and not comma_only:
        return ".", counts["dot_th"] > 0
    if not dot_only and not comma_only:
        if counts["dot_th"] and not counts["comma_th"]:
            return ".", True
        if counts["comma_th"] and not counts["dot_th"]:
            return ",", True  # every value like 1.234 or 1.234,5: dots group thousands
        return ".", False
    return None, False


def profile_columns(sniffed: Sniffed) -> FileEvidence:
    """Measure every column of a sniffed file over all its rows (see the module notes).

    Returns
    -------
    :class:`FileEvidence`.
    """
    with utf8_file(sniffed) as utf8:
        con = duckdb.connect()
        try:
            con.execute("SET threads = 2")
            probe = FileEvidence(sniffed, 0, [])
            con.execute(f"CREATE VIEW raw AS {probe.relation(str(utf8))}")
            duck = [r[0] for r in con.execute("DESCRIBE raw").fetchall()]
            names = list(sniffed.names) + [f"column{i}" for i in
                                           range(len(sniffed.names), len(duck))]
            names = names[:len(duck)]
            cols = ", ".join(
                f"CASE WHEN trim({_q(d)}) = '' THEN NULL ELSE trim({_q(d)}) END AS c{i}"
                for i, d in enumerate(duck))
            con.execute(f"CREATE TEMP TABLE src AS SELECT {cols} FROM raw")
            n_rows = int(con.execute("SELECT count(*) FROM src").fetchone()[0])
            evidence = _measure(con, names, n_rows)
        finally:
            con.close()
    decimals = {c.decimal for c in evidence if c.numeric and c.decimal}
    mark = "," if "," in decimals else "."
    conflict = [c.name for c in evidence if c.numeric and c.decimal and c.decimal != mark
                and c.kind == "decimal"]
    return FileEvidence(sniffed, n_rows, evidence, mark, conflict)


def _measure(con: duckdb.DuckDBPyConnection, names: list[str], n_rows: int
             ) -> list[ColumnEvidence]:
    k = len(names)
    stripped = {i: f"regexp_replace(c{i}, {sql_literal(DECORATION)}, '', 'g')" for i in range(k)}
    parts = []
    for i in range(k):
        v, s = f"c{i}", stripped[i]
        parts += [f"count({v})", f"count(DISTINCT {v})", f"max(length({v}))",
                  f"count(*) FILTER (WHERE {s} <> {v})",
                  f"count(*) FILTER (WHERE contains({v}, '|'))"]
        for pat in NUMBER_PATTERNS.values():
            parts.append(f"count(*) FILTER (WHERE regexp_full_match({s}, {sql_literal(pat)}))")
        parts.append(f"count(*) FILTER (WHERE regexp_full_match({s}, {sql_literal(NUMBER_PATTERNS['dot'])})"
                     f" AND regexp_full_match({s}, {sql_literal(NUMBER_PATTERNS['comma_th'])}))")
        parts.append(f"count(*) FILTER (WHERE regexp_full_match({s}, {sql_literal(NUMBER_PATTERNS['comma'])})"
                     f" AND regexp_full_match({s}, {sql_literal(NUMBER_PATTERNS['dot_th'])}))")
        parts.append(f"count(*) FILTER (WHERE regexp_full_match({v}, '0\\d+'))")
    row = con.execute(f"SELECT {', '.join(parts)} FROM src").fetchone()
    width = 5 + len(NUMBER_PATTERNS) + 3
    base = []
    for i in range(k):
        vals = row[i * width:(i + 1) * width]
        n_values, n_distinct, max_len, n_decor, n_sep = vals[:5]
        counts = dict(zip([*NUMBER_PATTERNS, "dot_and_comma_th", "comma_and_dot_th", "lead0"],
                          vals[5:], strict=True))
        base.append((int(n_values), int(n_distinct), int(max_len or 0), int(n_decor),
                     int(n_sep), counts))
    tops = con.execute(" UNION ALL ".join(
        f"SELECT {i}, max(n) FROM (SELECT count(*) AS n FROM src WHERE c{i} IS NOT NULL "
        f"GROUP BY c{i})" for i in range(k))).fetchall()
    top = {int(i): int(n or 0) for i, n in tops}
    out = []
    for i, name in enumerate(names):
        n_values, n_distinct, max_len, n_decor, n_sep, counts = base[i]
        out.append(_column(con, i, name, n_rows, n_values, n_distinct, top[i], max_len,
                           n_decor, n_sep, counts))
    return out


def _column(con, i: int, name: str, n_rows: int, n_values: int, n_distinct: int,
            top_count: int, max_len: int, n_decor: int, n_sep: int,
            counts: dict[str, int]) -> ColumnEvidence:
    v = f"c{i}"
    common = dict(name=name, position=i, n_rows=n_rows, n_values=n_values,
                  n_distinct=n_distinct, top_count=top_count, max_length=max_len,
                  n_separated=n_sep)
    if n_values == 0:
        return ColumnEvidence(kind="empty", **common)
    levels = None
    if n_distinct <= _LEVELS_MAX:
        levels = tuple((str(a), int(b)) for a, b in con.execute(
            f"SELECT {v}, count(*) AS n FROM src WHERE {v} IS NOT NULL GROUP BY {v} "
            f"ORDER BY n DESC, {v}").fetchall())
    examples = tuple(str(r[0]) for r in con.execute(
        f"SELECT DISTINCT {v} FROM (SELECT {v} FROM src WHERE {v} IS NOT NULL LIMIT 1000) "
        "LIMIT 5").fetchall())
    common |= dict(levels=levels, examples=examples)
    lowered = {lv.lower() for lv, _ in levels} if levels else set()
    if levels and lowered <= set(BOOL_WORDS) and len({BOOL_WORDS[w] for w in lowered}) == 2 \
            and not lowered <= {"1", "0"}:
        return ColumnEvidence(kind="bool", **common)
    if levels and all(lv.lower().rstrip(".") in MONTH_NAMES for lv in lowered):
        return ColumnEvidence(kind="text", month_names=True, **common)
    numeric_all = sum(1 for p in ("int", "dot", "dot_th", "comma", "comma_th")
                      if counts[p]) and _all_numbers(con, v, n_values)
    if numeric_all and counts["int"] == n_values and not counts["lead0"]:
        compact = _dates(con, v, n_values, only=("%Y%m%d",)) if _looks_compact(examples) else {}
        if compact.get("%Y%m%d") == n_values:
            return _date_column(con, v, compact, n_values, common)
    if numeric_all:
        mark, thousands = _decimal_of(counts, n_values)
        if mark is not None:
            return _number_column(con, v, mark, thousands, n_decor > 0, counts, common)
    fmts = _dates(con, v, n_values)
    if fmts and max(fmts.values()) > 0 and sum(fmts.values()) >= n_values * 0.5:
        return _date_column(con, v, fmts, n_values, common)
    prefixes = {}
    for letter, n in con.execute(
            f"SELECT upper(left({v}, 1)), count(*) FROM src WHERE regexp_full_match({v}, "
            "'[A-Za-z]\\d+') GROUP BY 1").fetchall():
        prefixes[str(letter)] = int(n)
    return ColumnEvidence(kind="text", letter_prefix=prefixes,
                          leading_zeros=counts["lead0"] > 0, **common)


def _looks_compact(examples: tuple[str, ...]) -> bool:
    return bool(examples) and all(re.fullmatch(r"(19|20)\d{6}", e) for e in examples)


def _all_numbers(con, v: str, n_values: int) -> bool:
    s = f"regexp_replace({v}, {sql_literal(DECORATION)}, '', 'g')"
    n = con.execute(f"SELECT count(*) FROM src WHERE regexp_full_match({s}, "
                    f"{sql_literal(any_number_pattern())})").fetchone()[0]
    return int(n) == n_values


def _number_column(con, v: str, mark: str, thousands: bool, decorated: bool,
                   counts: dict[str, int], common: dict) -> ColumnEvidence:
    x = number_sql(v, mark, thousands)
    sep = "," if mark == "," else r"\."
    mn, mx, neg, zero, frac, dec = con.execute(
        f"SELECT min({x}), max({x}), count(*) FILTER (WHERE {x} < 0), "
        f"count(*) FILTER (WHERE {x} = 0), count(*) FILTER (WHERE {x} <> floor({x})), "
        f"max(length(regexp_extract({v}, '{sep}(\\d+)\\s*\\D*$', 1))) FROM src").fetchone()
    kind: Kind = "decimal" if (frac or 0) > 0 or (dec or 0) > 0 else "int"
    return ColumnEvidence(kind=kind, decimal=mark, thousands=thousands, decorated=decorated,
                          minimum=None if mn is None else float(mn),
                          maximum=None if mx is None else float(mx), n_negative=int(neg),
                          n_zero=int(zero), n_fraction=int(frac or 0),
                          max_decimals=int(dec or 0),
                          leading_zeros=counts["lead0"] > 0, **common)


def _dates(con, v: str, n_values: int, only: tuple[str, ...] | None = None) -> dict[str, int]:
    """format -> values of the whole column it reads as a date in 1900-2100."""
    if only is None:
        sample = [str(r[0]) for r in con.execute(
            f"SELECT {v} FROM src WHERE {v} IS NOT NULL USING SAMPLE {_SAMPLE} ROWS"
        ).fetchall()]
        if not sample or not any(re.search(r"\d", s) for s in sample):
            return {}
        candidates = _sample_formats(sample)
    else:
        candidates = list(only)
    if not candidates:
        return {}
    parts = [f"count(*) FILTER (WHERE year(try_strptime({v}, {sql_literal(f)})) "
             "BETWEEN 1900 AND 2100)" for f in candidates]
    row = con.execute(f"SELECT {', '.join(parts)} FROM src").fetchone()
    return {f: int(n) for f, n in zip(candidates, row, strict=True) if n}


def _date_column(con, v: str, fmts: dict[str, int], n_values: int,
                 common: dict) -> ColumnEvidence:
    whole = [f for f, n in fmts.items() if n == n_values]
    day_first = [f for f in whole if f in _DAY_FIRST]
    month_first = [f for f in whole if f in _MONTH_FIRST]
    ambiguous = bool(day_first and month_first)
    fmt = None if ambiguous or not whole else whole[0]
    mixed = not whole
    first = last = None
    if fmt is not None:
        lo, hi = con.execute(f"SELECT min(try_strptime({v}, {sql_literal(fmt)})), "
                             f"max(try_strptime({v}, {sql_literal(fmt)})) FROM src").fetchone()
        first, last = (str(pd.Timestamp(lo).date()) if lo is not None else None,
                       str(pd.Timestamp(hi).date()) if hi is not None else None)
    return ColumnEvidence(kind="date", date_format=fmt, date_counts=dict(fmts),
                          date_ambiguous=ambiguous, date_mixed=mixed, first_date=first,
                          last_date=last, **common)


def with_date_format(ev: FileEvidence, fmt: str) -> FileEvidence:
    """``ev`` with the date columns no one format settled (day/month ambiguous, or mixed)
    read in ``fmt``, as the user said (``crm init --date-format``): each keeps the count of
    values ``fmt`` reads, the rest being rejected by the run as unparseable dates."""
    todo = [c for c in ev.columns if c.kind == "date" and c.date_format is None]
    if not todo:
        return ev
    out = list(ev.columns)
    with utf8_file(ev.sniffed) as utf8:
        con = duckdb.connect()
        try:
            con.execute(f"CREATE VIEW src AS {ev.relation(str(utf8))}")
            for c in todo:
                x = f"try_strptime(trim({_q(c.name)}), {sql_literal(fmt)})"
                n, lo, hi = con.execute(f"SELECT count({x}), min({x}), max({x}) FROM src"
                                        ).fetchone()
                if not n:
                    continue
                out[c.position] = replace(
                    c, date_format=fmt, date_ambiguous=False, date_mixed=False,
                    date_counts={**c.date_counts, fmt: int(n)},
                    first_date=str(pd.Timestamp(lo).date()),
                    last_date=str(pd.Timestamp(hi).date()))
        finally:
            con.close()
    return FileEvidence(ev.sniffed, ev.n_rows, out, ev.decimal, ev.decimal_conflict)
