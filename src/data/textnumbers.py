"""Numbers written as text: the patterns of a number column and the SQL that reads them.

One definition for the two places that read numbers out of text: the column profiler of
``crm init`` (:mod:`src.data.recognition.profile`, which tells a decimal comma from a decimal
point over a whole column) and the DuckDB ingest (:mod:`src.data.ingest`, which reads a file
declared ``decimal: ","``). A number may carry a currency sign or code (``$12.50``, ``12,50
€``, ``CNY 80``) and thousands separators (``1,234.50``; with a decimal comma ``1.234,50``).
"""

from __future__ import annotations

__all__ = ["DECORATION", "NUMBER_PATTERNS", "any_number_pattern", "number_sql", "sql_identifier",
           "sql_literal", "stripped_sql"]

DECORATION = (r"^\s*(?:[$€£¥]|USD|EUR|CNY|RMB|GBP|CHF)\s*|"
              r"\s*(?:[$€£¥]|USD|EUR|CNY|RMB|GBP|CHF|元)\s*$")
"""A currency sign or code before or after a number (a regular expression)."""
NUMBER_PATTERNS: dict[str, str] = {
    "int": r"[+-]?\d+",
    "dot": r"[+-]?\d*\.\d+",                        # 12.5, .5 (also 1.234)
    "dot_th": r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?",     # 1,234.50 (also 1,234)
    "comma": r"[+-]?\d*,\d+",                       # 12,5 (also 1,234)
    "comma_th": r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?",   # 1.234,50 (also 1.234)
}
"""Full-match patterns of a number without decoration, by how it is written."""


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (DuckDB)."""
    return '"' + str(name).replace('"', '""') + '"'


def any_number_pattern() -> str:
    """A full-match pattern of any number written as :data:`NUMBER_PATTERNS` allow."""
    return "|".join(f"(?:{p})" for p in NUMBER_PATTERNS.values())


def stripped_sql(column_sql: str) -> str:
    """SQL of a text value without blanks and currency decoration."""
    return f"regexp_replace(trim({column_sql}), {sql_literal(DECORATION)}, '', 'g')"


def number_sql(column_sql: str, decimal: str, thousands: bool = True) -> str:
    """SQL reading a text number (decoration stripped) as DOUBLE; NULL when it is not one.

    Parameters
    ----------
    column_sql : SQL of the text value (a quoted column name).
    decimal : ``.`` or ``,``: the decimal mark (with ``,``, dots group thousands).
    thousands : with ``.`` as the mark, commas group thousands and are dropped.
    """
    s = stripped_sql(column_sql)
    if decimal == ",":
        s = f"replace(replace({s}, '.', ''), ',', '.')"
    elif thousands:
        s = f"replace({s}, ',', '')"
    return f"TRY_CAST({s} AS DOUBLE)"
