"""The parts of a role that are not one column's scoring: dates split over year / month /
day columns, status words, and how a column name is written in a DuckDB expression.

:func:`date_groups` finds ``Enrollment Year`` + ``Enrollment Month`` (+ a day) columns that
share a name prefix and whose values fit (years 1900-2100, months 1-12 or month names, days
1-31; ``2018.0`` counts as a whole number), and :class:`DateGroup` writes the ``make_date``
over them. :func:`status_meanings` reads status levels in six languages as the contract's
meanings (``status_words.yaml``). :func:`quote` writes a column name as an expression needs it.
:func:`tier_order` orders a programme's tiers by what a member of each is worth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from src.data.recognition.names import normalise
from src.data.recognition.profile import MONTH_NAMES, ColumnEvidence, FileEvidence
from src.data.sniff import utf8_file
from src.data.textnumbers import number_sql, sql_identifier, sql_literal

__all__ = ["DateGroup", "date_groups", "quote", "status_meanings", "tier_order"]

_PART_WORDS = {
    "year": {"year", "yr", "yyyy", "jahr", "annee", "ano", "年", "年份"},
    "month": {"month", "mon", "mm", "monat", "mois", "mes", "月", "月份"},
    "day": {"day", "dd", "day of month", "tag", "jour", "dia", "日"},
}
_STATUS_FILE = Path(__file__).with_name("status_words.yaml")
_VALUE_WORDS = tuple(re.compile(p) for p in (
    r"\bclv\b|lifetime value|customer value|客户价值|kundenwert|valeur client|valor",
    r"spend|revenue|sales|umsatz|chiffre|ventas|receita|消费|营业额|销售",
    r"amount|value|betrag|montant|importe|金额",
    r"points|punkte|积分"))
"""Names of a column whose mean per tier orders the tiers (what a member is worth to the
programme), strongest first; salary or income say what a member earns, not what the tier is."""


# --------------------------------------------------------------------------------------------
# date groups: year / month / day in separate columns
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DateGroup:
    """Year, month and (optionally) day columns sharing a name prefix (``Enrollment Year``,
    ``Enrollment Month``); ``prefix`` is the shared words (may be empty)."""

    prefix: str
    year: str
    month: str
    day: str | None
    month_names: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.year, self.month, self.day) if c)

    def sql(self) -> str:
        """``make_date(...)`` over the parts (NULL when a part is empty)."""
        y = f"CAST({quote(self.year)} AS INTEGER)"
        if self.month_names:
            cases = " ".join(f"WHEN {sql_literal(name)} THEN {num}" for name, num in MONTH_NAMES.items())
            m = f"(CASE lower(trim(replace(CAST({quote(self.month)} AS VARCHAR), '.', ''))) {cases} END)"
        else:
            m = f"CAST({quote(self.month)} AS INTEGER)"
        d = f"CAST({quote(self.day)} AS INTEGER)" if self.day else "1"
        return f"make_date({y}, {m}, {d})"


_SQL_WORDS = frozenset({
    "year", "month", "day", "date", "time", "timestamp", "order", "group", "select", "from",
    "where", "table", "user", "value", "end", "case", "interval", "limit", "desc", "asc", "by",
    "status", "type", "count", "sum", "min", "max", "left", "right", "key", "level", "name",
})


def quote(name: str) -> str:
    """A column name as written in a DuckDB SQL expression (quoted unless plain)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in _SQL_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _part(c: ColumnEvidence) -> tuple[str, str] | None:
    """(date part, prefix) of a column named like '<prefix> year' whose values fit."""
    words = normalise(c.name)
    for part, names in _PART_WORDS.items():
        for w in sorted(names, key=len, reverse=True):
            if words == w or words.endswith(" " + w) or (re.search(r"[\u4e00-\u9fff]", w)
                                                        and words.endswith(w)):
                prefix = words[: len(words) - len(w)].strip()
                if _part_values_fit(c, part):
                    return part, prefix
    return None


def _part_values_fit(c: ColumnEvidence, part: str) -> bool:
    if part == "month" and c.month_names:
        return True
    whole = c.kind == "int" or (c.kind == "decimal" and c.n_fraction == 0)  # 2018.0 too
    if not whole or c.minimum is None:
        return False
    lo, hi = {"year": (1900, 2100), "month": (1, 12), "day": (1, 31)}[part]
    return lo <= c.minimum and c.maximum <= hi


def date_groups(ev: FileEvidence) -> list[DateGroup]:
    """Year + month (+ day) column groups of a file, by shared name prefix."""
    parts: dict[str, dict[str, ColumnEvidence]] = {}
    for c in ev.columns:
        hit = _part(c)
        if hit:
            parts.setdefault(hit[1], {}).setdefault(hit[0], c)
    out = []
    for prefix, p in parts.items():
        if "year" in p and "month" in p:
            out.append(DateGroup(prefix, p["year"].name, p["month"].name,
                                 p["day"].name if "day" in p else None,
                                 p["month"].month_names))
    return out


# --------------------------------------------------------------------------------------------
# status levels -> contract meanings
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _status_words() -> dict[str, str]:
    raw = yaml.safe_load(_STATUS_FILE.read_text(encoding="utf-8"))
    return {normalise(w): meaning for meaning, by_lang in raw.items()
            for words in by_lang.values() for w in words}


def status_meanings(levels: list[str]) -> tuple[dict[str, str], list[str]]:
    """(level -> contract meaning for the levels recognised, levels not recognised)."""
    words = _status_words()
    known, unknown = {}, []
    for lv in levels:
        meaning = words.get(normalise(lv))
        if meaning:
            known[lv] = meaning
        else:
            unknown.append(lv)
    return known, unknown


# --------------------------------------------------------------------------------------------
# tier order
# --------------------------------------------------------------------------------------------
def tier_order(ev: FileEvidence, tier: ColumnEvidence) -> tuple[list[str], str]:
    """Tier levels lowest first, ordered by the mean of a value column per tier, else by the
    number of members (the most common tier lowest)."""
    levels = [lv for lv, _ in tier.levels or ()]
    value = next((c for pattern in _VALUE_WORDS for c in ev.columns
                  if c.numeric and c.name != tier.name and c.n_distinct > 1
                  and pattern.search(normalise(c.name))), None)
    if value is not None:
        with utf8_file(ev.sniffed) as path:
            con = duckdb.connect()
            try:
                con.execute(f"CREATE VIEW src AS {ev.relation(str(path))}")
                x = number_sql(sql_identifier(value.name), value.decimal or ".", value.thousands)
                rows = con.execute(
                    f"SELECT trim({sql_identifier(tier.name)}) AS t, avg({x}) AS v FROM src "
                    f"WHERE {sql_identifier(tier.name)} IS NOT NULL GROUP BY t ORDER BY v").fetchall()
            finally:
                con.close()
            order = [str(t) for t, _ in rows if str(t) in levels]
            means = ", ".join(f"{t} {v:,.0f}" for t, v in rows if v is not None)
            return order, f"ordered by the mean {value.name!r} per tier ({means}); confirm"
    order = [lv for lv, _ in sorted(tier.levels or (), key=lambda kv: -kv[1])]
    return order, "ASSUMED: ordered by members per tier, the most common lowest; confirm"
