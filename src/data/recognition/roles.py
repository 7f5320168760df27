"""Which column plays which role, from the values first and the names second, with a confidence.

For every role a file can hold (the customer key, the booking key, the booking date, the
amount or quantity x unit price, the status, the tier, the membership dates, consent, ...)
:func:`recognise_roles` scores every column (and every group of year / month / day columns)
on the evidence of :mod:`src.data.recognition.profile`, measured over the whole file:

- **gates** a column must pass to be considered at all: a key has many distinct values and
  no value holding most rows (a flag, a country or an agency is never a customer), is not a
  decimal number, a date or a composite of several fields; a date is a full date in one
  format proven on every value; an amount is a number;
- **value evidence** ``V`` in [0, 1]: a customer key that repeats across rows of a
  transaction file, money with at most two decimals, a status whose levels read as
  completed / cancelled / no-show, ...;
- **name evidence** ``N`` in [0, 1] from the synonyms in six languages
  (:mod:`src.data.recognition.names`).

The confidence is a weighted sum of the two (each role states its weights). A role is settled
only when its best candidate reaches :data:`CONFIDENT` and the runner-up trails it by
:data:`MARGIN` (two columns that are one-to-one, such as a master and a sample id, are the
same key and do not compete). Otherwise the role stays **open**: the candidates and their
evidence are returned, never a guess. A role given by the user (``crm init --customer-id
...``) is settled with confidence 1.

Every :class:`RoleGuess` carries its evidence (one sentence) and its runner-up, so the job
``crm init`` writes says why each column was taken.
"""

from __future__ import annotations

import re

from src.data.recognition.guesses import Candidate, OpenRole, RoleGuess, Roles
from src.data.recognition.names import name_scores, normalise
from src.data.recognition.parts import DateGroup, date_groups, quote, status_meanings
from src.data.recognition.profile import ColumnEvidence, FileEvidence
from src.data.recognition.role_names import ROLES

__all__ = [
    "CONFIDENT",
    "MARGIN",
    "ROLES",
    "Candidate",
    "DateGroup",
    "OpenRole",
    "RoleGuess",
    "Roles",
    "date_groups",
    "key_refusal",
    "quote",
    "recognise_roles",
    "status_meanings",
]

CONFIDENT = 0.75
"""A guess below this confidence is not made."""
MARGIN = 0.15
"""The best candidate must lead the runner-up by this much."""
MIN_KEY_VALUES = 20
"""A customer key has at least this many distinct values (fewer in a file of few rows)."""
MAX_KEY_SHARE = 0.2
"""In a file of 1,000 rows or more, a customer key none of whose values holds more than this
share of the rows (an agency, a company or a channel holds many; a person few)."""

_DATE_ROLES = ("booking_date", "travel_start", "signup_date", "membership_cancel_date",
               "status_date")


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
def _name(c_name: str, role: str) -> float:
    scores = name_scores(c_name)
    return scores.get(role, 0.0)


def _names_other_role(c_name: str, role: str, others: tuple[str, ...]) -> str | None:
    """The role among ``others`` the name names more strongly than ``role`` (score >= 0.9)."""
    scores = name_scores(c_name)
    mine = scores.get(role, 0.0)
    for r in others:
        if r != role and scores.get(r, 0.0) >= 0.9 and scores[r] > mine:
            return r
    return None


_KEY_ROLES_OTHER = ("home_region", "product", "channel", "destination", "currency", "gender",
                    "customer_type", "acquisition_channel", "member_tier", "status", "quantity",
                    "unit_price", "amount", "booking_date", "email", "phone", "name",
                    "activity", "tenure", "nights", "party_size")


def key_refusal(c: ColumnEvidence) -> str | None:
    """Why ``c`` cannot be a key (None: it can)."""
    if c.kind in ("decimal", "date", "bool", "empty"):
        return {"decimal": "decimal numbers", "date": "dates", "bool": "a yes/no flag",
                "empty": "empty"}[c.kind]
    need = min(MIN_KEY_VALUES, max(2, c.n_values // 3))
    if c.n_distinct <= 2 or c.n_distinct < need:
        return f"only {c.n_distinct} distinct value{'s' if c.n_distinct != 1 else ''}: a flag " \
               "or a category, not a key"
    if c.n_values >= 1000 and c.top_share > MAX_KEY_SHARE:
        return (f"one value holds {c.top_share:.0%} of the rows (a person holds few): a group, "
                "a category or a measure, not a customer")
    if c.n_separated > 0.5 * c.n_values:
        return "values join several fields with '|': a composite of profile columns, not a key"
    return None


def _customer_candidates(ev: FileEvidence, table: str) -> tuple[list[Candidate], list[str]]:
    out, refused = [], []
    for c in ev.columns:
        n = _name(c.name, "customer_id")
        why = key_refusal(c)
        others = ("booking_id", "line_id", *_KEY_ROLES_OTHER)
        if why is None and n < 0.9 and _names_other_role(c.name, "customer_id", others):
            why = f"its name says {_names_other_role(c.name, 'customer_id', others)}"
        if why is not None:
            if n > 0 or c.kind in ("int", "text"):
                refused.append(f"{c.name!r}: {why}")
            continue
        ratio = c.n_distinct / c.n_values if c.n_values else 0
        if table == "customers":
            v = 1.0 if c.unique else 0.4
            what = ("one row per value" if c.unique else
                    f"repeats ({c.mean_repeat:.1f} rows per value) in a customers file")
        elif c.unique:
            v, what = 0.3, "unique per row: a row or booking number, not a repeating customer"
        else:
            v = 1.0 if ratio <= 0.9 else 0.7
            what = f"{c.n_distinct:,} distinct values, {c.mean_repeat:.1f} rows each"
        if c.null_share > 0.5:
            v *= 0.6
            what += f", {c.null_share:.0%} empty"
        conf = 0.55 * n + 0.45 * v
        name_part = (f"name {c.name!r} says customer ({n:.1f})" if n else
                     f"name {c.name!r} gives no hint")
        out.append(Candidate(c.name, conf, f"{what}; {name_part}", (c.name,)))
    return sorted(out, key=lambda k: -k.confidence), refused


def _booking_id_candidates(ev: FileEvidence, exclude: set[str]) -> list[Candidate]:
    out = []
    for c in ev.columns:
        if c.name in exclude or key_refusal(c) is not None:
            continue
        n = _name(c.name, "booking_id")
        if _names_other_role(c.name, "booking_id", ("customer_id", *_KEY_ROLES_OTHER)):
            continue
        if c.unique:
            v, what = 0.9, "one row per value"
        else:
            v, what = 1.0, f"{c.n_distinct:,} values over {c.n_values:,} rows: lines of a booking"
        conf = 0.6 * n + 0.4 * v
        out.append(Candidate(c.name, conf, f"{what}; name {c.name!r}"
                             + (f" says booking ({n:.1f})" if n else " gives no hint"),
                             (c.name,)))
    return sorted(out, key=lambda k: -k.confidence)


def _date_candidates(ev: FileEvidence, role: str, groups: list[DateGroup],
                     exclude: set[str]) -> tuple[list[Candidate], list[str]]:
    """Date columns (format proven) and year/month/day groups for a date role."""
    out, problems = [], []
    singles = [c for c in ev.columns if c.kind == "date" and c.name not in exclude]
    for c in singles:
        n = _name(c.name, role)
        other = _names_other_role(c.name, role, _DATE_ROLES)
        if c.date_format is None:
            counts = ", ".join(f"{f!r}: {k:,}" for f, k in sorted(
                c.date_counts.items(), key=lambda kv: -kv[1])[:4])
            if c.date_ambiguous:
                problems.append(f"{c.name!r}: every value reads both day-first and month-first "
                                f"(no day above 12): {counts} of {c.n_values:,} values")
            else:
                problems.append(f"{c.name!r}: no one format reads every value ({counts} of "
                                f"{c.n_values:,} values): mixed date formats")
            continue
        v = 1.0
        conf = 0.5 * n + 0.5 * v
        if other:
            conf *= 0.5
        out.append(Candidate(c.name, conf, f"dates in {c.date_format!r} on every value, "
                             f"{c.first_date} to {c.last_date}; name {c.name!r}"
                             + (f" says {role.replace('_', ' ')} ({n:.1f})" if n else
                                " gives no hint") + (f" (reads as {other})" if other else ""),
                             (c.name,)))
    for g in groups:
        if set(g.columns) & exclude:
            continue
        n = max(name_scores(g.prefix).get(role, 0.0), 0.0) if g.prefix else 0.0
        other = _names_other_role(g.prefix, role, _DATE_ROLES) if g.prefix else None
        v = 0.9 if g.day else 0.8
        conf = 0.5 * n + 0.5 * v
        if other:
            conf *= 0.5
        what = (f"year {g.year!r}, month {g.month!r}" + (f", day {g.day!r}" if g.day else
                ", no day: the 1st of the month") + " in separate columns")
        out.append(Candidate(g.sql(), conf, what + (f"; name {g.prefix!r}" if g.prefix else ""),
                             g.columns))
    return sorted(out, key=lambda k: -k.confidence), problems


def _number_candidates(ev: FileEvidence, role: str, exclude: set[str]) -> list[Candidate]:
    out = []
    for c in ev.columns:
        if c.name in exclude or not c.numeric or c.leading_zeros:
            continue
        if c.n_distinct <= 1 and role in ("amount", "quantity", "unit_price", "activity"):
            continue  # one value on every row (often 0) measures nothing
        n = _name(c.name, role)
        share_neg = c.n_negative / c.n_values if c.n_values else 0
        if role == "amount":
            v = 1.0 if c.kind == "decimal" and c.max_decimals <= 2 else (
                0.7 if c.kind == "int" else 0.6)
            if share_neg > 0.3:
                v *= 0.5
            what = ("money-like numbers (at most 2 decimals)" if v == 1.0 else
                    f"{'whole' if c.kind == 'int' else 'decimal'} numbers")
            w = 0.55
        elif role == "quantity":
            v = 1.0 if c.kind == "int" and (c.maximum or 0) < 1e6 else 0.3
            what = "whole numbers" if c.kind == "int" else "decimal numbers"
            w = 0.6
        elif role == "unit_price":
            v = 1.0 if c.kind == "decimal" else 0.6
            what = "decimal numbers" if c.kind == "decimal" else "whole numbers"
            w = 0.6
        elif role == "activity":
            v = 1.0 if c.kind == "int" and (c.minimum or 0) >= 0 and c.n_zero > 0 else 0.5
            what = (f"counts with {c.n_zero:,} zero rows" if c.n_zero else "counts")
            w = 0.6
        elif role == "tenure":
            v = 1.0 if (c.minimum or 0) >= 0 else 0.2
            what = f"numbers from {c.minimum:g} to {c.maximum:g}"
            w = 0.6
        else:
            continue
        if _names_other_role(c.name, role, tuple(r for r in ("amount", "quantity", "unit_price",
                                                             "activity", "tenure", "customer_id",
                                                             "booking_id") if r != role)):
            continue
        conf = w * n + (1 - w) * v
        rng = f" from {c.minimum:g} to {c.maximum:g}" if c.minimum is not None else ""
        out.append(Candidate(c.name, conf,
                             f"{what}{rng}; name {c.name!r}" + (
                                 f" says {role.replace('_', ' ')} ({n:.1f})" if n else
                                 " gives no hint"), (c.name,)))
    return sorted(out, key=lambda k: -k.confidence)


def _level_candidates(ev: FileEvidence, role: str, exclude: set[str]) -> list[Candidate]:
    out = []
    for c in ev.columns:
        if c.name in exclude or c.levels is None or c.kind in ("date", "empty", "decimal"):
            continue
        n = _name(c.name, role)
        k = len(c.levels)
        if role == "member_tier":
            if not 2 <= k <= 15 or c.kind == "bool":
                continue
            v, what = 1.0, f"{k} levels ({', '.join(lv for lv, _ in c.levels[:6])})"
        elif role in ("consent_email", "churn_flag"):
            if c.kind != "bool" and not (k == 2 and {lv for lv, _ in c.levels} <= {"0", "1"}):
                continue
            v, what = 1.0, f"yes/no ({', '.join(lv for lv, _ in c.levels)})"
        else:
            continue
        conf = 0.65 * n + 0.35 * v
        out.append(Candidate(c.name, conf, f"{what}; name {c.name!r}" + (
            f" says {role.replace('_', ' ')} ({n:.1f})" if n else " gives no hint"), (c.name,)))
    return sorted(out, key=lambda k: -k.confidence)


def _status_candidates(ev: FileEvidence, exclude: set[str]) -> list[Candidate]:
    out = []
    for c in ev.columns:
        if c.name in exclude or c.levels is None or len(c.levels) > 20 or c.kind == "date":
            continue
        n = _name(c.name, "status")
        levels = [lv for lv, _ in c.levels]
        known, unknown = status_meanings(levels)
        flag = set(levels) <= {"0", "1"} or c.kind == "bool"
        w = 0.5
        if flag and n >= 0.7 and re.search(r"cancel|storn|annul|取消", normalise(c.name)):
            v, what = 1.0, "a 0/1 (yes/no) cancellation flag"
        elif known and not flag:
            rows = sum(k for lv, k in c.levels if lv in known)
            v = rows / c.n_values
            what = (f"levels read as {', '.join(f'{lv} = {m}' for lv, m in known.items())}"
                    + (f"; not recognised: {', '.join(unknown)}" if unknown else ""))
            if not unknown and len(set(known.values())) >= 2:
                w = 0.25  # every level is a status word: the values say it
        else:
            continue
        conf = w * n + (1 - w) * v
        out.append(Candidate(c.name, conf, f"{what}; name {c.name!r}", (c.name,)))
    return sorted(out, key=lambda k: -k.confidence)


def _equivalent(ev: FileEvidence, a: Candidate, b: Candidate) -> bool:
    """Two key candidates with the same number of distinct values and rows (e.g. a master
    and a sample customer number): the same partition, checked by the caller when it can."""
    ca, cb = (ev.column(a.value), ev.column(b.value)) if a.columns and b.columns else (None, None)
    return bool(ca and cb and ca.n_distinct == cb.n_distinct and ca.n_values == cb.n_values
                and ca.top_count == cb.top_count)


def _settle(roles: Roles, role: str, cands: list[Candidate], *, required: bool,
            reason_if_none: str, equivalent_ok: bool = False) -> RoleGuess | None:
    if not cands:
        if required:
            roles.open[role] = OpenRole(role, reason_if_none, ())
        return None
    best, rest = cands[0], cands[1:]
    if equivalent_ok:
        rest = [c for c in rest if not _equivalent(roles.evidence, best, c)]
    runner = rest[0] if rest else None
    if best.confidence >= CONFIDENT and (runner is None or
                                         best.confidence - runner.confidence >= MARGIN):
        guess = RoleGuess(role, best.value, best.confidence, best.evidence, runner,
                          best.columns)
        roles.guesses[role] = guess
        return guess
    if required or best.confidence >= 0.5:
        why = (f"the best candidate reaches only {best.confidence:.2f} (needs {CONFIDENT})"
               if best.confidence < CONFIDENT else
               f"{best.value!r} and {runner.value!r} are too close "
               f"({best.confidence:.2f} vs {runner.confidence:.2f})")
        roles.open[role] = OpenRole(role, why, tuple(cands[:4]))
    return None


def recognise_roles(ev: FileEvidence, *, table: str | None = None,
                    given: dict[str, str] | None = None,
                    customer_key: str | None = None) -> Roles:
    """Score every column for every role of one file and settle what the evidence allows.

    Parameters
    ----------
    ev : the file's evidence (:func:`~src.data.recognition.profile.profile_columns`).
    table : ``bookings`` or ``customers`` when known (from a join with another file); None:
        decided here from the customer key (one row per key: customers).
    given : role -> column or expression the user settled (``crm init --customer-id ...``);
        ``none`` says the file has no such column.
    customer_key : the customer key already found by joining files.

    Returns
    -------
    :class:`Roles`: ``guesses`` (settled), ``open`` (with candidates), ``refused`` (columns
    that failed a gate, and why); :func:`table_kind` says which table the file is.
    """
    given = dict(given or {})
    roles = Roles(ev)
    for role, value in given.items():
        if str(value).strip().lower() == "none":
            roles.refused.setdefault(role, []).append(f"none: given with {ROLES[role][1]}")
            continue
        roles.guesses[role] = RoleGuess(role, value, 1.0, f"given with {ROLES[role][1]}",
                                        None, _columns_in(ev, value))
    absent = {r for r, v in given.items() if str(v).strip().lower() == "none"}
    _lines_from_given_amount(roles)
    if "customer_id" not in roles.guesses and "customer_id" not in absent:
        if customer_key is not None:
            roles.guesses["customer_id"] = RoleGuess(
                "customer_id", customer_key, 0.95, "the key shared with the other file",
                None, (customer_key,))
        else:
            kind = table or "bookings"
            cands, refused = _customer_candidates(ev, kind)
            if table is None and cands and cands[0].confidence >= 0.5 and \
                    ev.column(cands[0].value).unique:
                cands, refused = _customer_candidates(ev, "customers")
            roles.refused["customer_id"] = refused
            _settle(roles, "customer_id", cands, required=True, equivalent_ok=True,
                    reason_if_none="no column can be a customer key")
    kind = table or table_kind(ev, roles)
    if kind == "customers":
        _customer_roles(roles, absent)
    else:
        _booking_roles(roles, absent)
    return roles


_PRODUCT = re.compile(r"^\s*(\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_]*)\s*\*\s*"
                      r"(\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_]*)\s*$")


def _unquote(sql: str) -> str:
    return sql[1:-1].replace('""', '"') if sql.startswith('"') else sql


def _lines_from_given_amount(roles: Roles) -> None:
    """An amount given as ``<column> * <column>`` says the rows are lines: the two columns
    are the quantity (the whole numbers) and the unit price, so the booking key and the
    credit-note filters follow as for recognised invoice lines."""
    g, ev = roles.guesses, roles.evidence
    amount = g.get("amount")
    if amount is None or amount.confidence < 1.0 or "quantity" in g or "unit_price" in g:
        return
    m = _PRODUCT.match(amount.value)
    if not m:
        return
    a, b = _unquote(m.group(1)), _unquote(m.group(2))
    if a not in ev.names or b not in ev.names:
        return
    if ev.column(a).kind != "int" and ev.column(b).kind == "int":
        a, b = b, a
    why = f"from --amount {amount.value!r}"
    g["quantity"] = RoleGuess("quantity", a, 1.0, why, None, (a,))
    g["unit_price"] = RoleGuess("unit_price", b, 1.0, why, None, (b,))


def _columns_in(ev: FileEvidence, value: str) -> tuple[str, ...]:
    """The source columns a mapping value reads (the value itself when it is a column)."""
    if value in ev.names:
        return (value,)
    return tuple(n for n in ev.names if f'"{n}"' in value or re.search(
        r"(?<![\w\"])" + re.escape(n) + r"(?![\w\"])", value))


def _exclude(roles: Roles) -> set[str]:
    return roles.used_columns()


def _booking_roles(roles: Roles, absent: set[str]) -> None:
    ev = roles.evidence
    groups = date_groups(ev)

    def todo(role: str) -> bool:
        return role not in roles.guesses and role not in absent

    if todo("booking_date"):
        cands, problems = _date_candidates(ev, "booking_date", groups, _exclude(roles))
        plain = [c for c in cands if "(reads as" not in c.evidence]
        if len(plain) == 1 and len(cands) == 1:  # the file's only date: what else could it be
            only = plain[0]
            cands = [Candidate(only.value, max(only.confidence, 0.8),
                               only.evidence + "; the only date of the file", only.columns)]
        if not cands and problems:
            roles.open["booking_date"] = OpenRole("booking_date", "; ".join(problems))
        else:
            _settle(roles, "booking_date", cands, required=True,
                    reason_if_none="no column holds full dates (nor year / month columns)")
            if "booking_date" in roles.open and problems:
                roles.open["booking_date"] = OpenRole(
                    "booking_date", roles.open["booking_date"].reason + "; " + "; ".join(
                        problems), roles.open["booking_date"].candidates)
    if todo("travel_start"):
        cands, _ = _date_candidates(ev, "travel_start", groups, _exclude(roles))
        _settle(roles, "travel_start", [c for c in cands if "says travel" in c.evidence],
                required=False, reason_if_none="")
    for role in ("quantity", "unit_price", "activity"):
        if todo(role):
            _settle(roles, role, _number_candidates(ev, role, _exclude(roles)),
                    required=False, reason_if_none="")
    if todo("amount"):
        direct = _number_candidates(ev, "amount", _exclude(roles))
        q, p = roles.guesses.get("quantity"), roles.guesses.get("unit_price")
        if direct and direct[0].confidence >= CONFIDENT:
            _settle(roles, "amount", direct, required=True, reason_if_none="")
        elif q is not None and p is not None:
            conf = min(q.confidence, p.confidence)
            roles.guesses["amount"] = RoleGuess(
                "amount", f"{quote(q.value)} * {quote(p.value)}", conf,
                f"invoice lines: amount = {q.value!r} x {p.value!r}",
                direct[0] if direct else None, (q.value, p.value))
        else:
            _settle(roles, "amount", direct, required=True,
                    reason_if_none="no column holds numbers")
    if todo("booking_id"):
        lines = "amount" in roles.guesses and "quantity" in roles.guesses and \
            roles.guesses["quantity"].value in roles.guesses["amount"].columns
        # quantity x unit price: rows are lines, and counting lines as bookings would be wrong
        _settle(roles, "booking_id", _booking_id_candidates(ev, _exclude(roles)),
                required=lines, reason_if_none="rows are lines (quantity x unit price) and no "
                "column holds the booking they belong to; say --booking-id none if every row "
                "is a booking")
    _activity_panel(roles, absent)
    if todo("status"):
        cands = _status_candidates(ev, _exclude(roles))
        guess = _settle(roles, "status", cands, required=False, reason_if_none="")
        if guess is not None and guess.value in ev.names:
            col = ev.column(guess.value)
            levels = [lv for lv, _ in col.levels or ()]
            _, unknown = status_meanings(levels)
            flag = set(levels) <= {"0", "1"} or col.kind == "bool"
            if unknown and not flag:
                roles.open["status_values"] = OpenRole(
                    "status_values", f"status {guess.value!r} has levels that read as no "
                    f"known status: {', '.join(unknown)}", ())


ZERO_AMOUNT_SHARE = 0.2
"""A bookings file whose amount is 0 on more than this share of rows holds periods without
activity (a monthly panel): a count column must say which rows are bookings."""


def _activity_panel(roles: Roles, absent: set[str]) -> None:
    """Open the activity role when the amounts say rows are periods, not bookings."""
    ev, g = roles.evidence, roles.guesses
    if "activity" in g or "activity" in absent or "amount" not in g:
        return
    amount = g["amount"].value
    if amount not in ev.names:
        return
    c = ev.column(amount)
    if c.n_values and c.n_zero / c.n_values > ZERO_AMOUNT_SHARE:
        cands = [k for k in _number_candidates(ev, "activity", _exclude(roles) - {amount})
                 if k.value in ev.names and ev.column(k.value).n_zero]
        roles.open["activity"] = OpenRole(
            "activity", f"{c.n_zero:,} of {c.n_values:,} rows have {amount!r} = 0: they look like "
            "periods without activity, not bookings; say which column counts the bookings of a "
            f"row (or {ROLES['activity'][1]} {quote(amount)} to keep the rows with an amount), "
            f"or {ROLES['activity'][1]} none if a 0 amount is a real booking", tuple(cands[:4]))


def _customer_roles(roles: Roles, absent: set[str]) -> None:
    ev = roles.evidence
    groups = date_groups(ev)
    for role in ("signup_date", "membership_cancel_date"):
        if role in roles.guesses or role in absent:
            continue
        cands, _ = _date_candidates(ev, role, groups, _exclude(roles))
        named = [c for c in cands if "gives no hint" not in c.evidence
                 and "(reads as" not in c.evidence]
        _settle(roles, role, named, required=False, reason_if_none="")
    for role in ("tenure",):
        if role not in roles.guesses and role not in absent:
            _settle(roles, role, _number_candidates(ev, role, _exclude(roles)),
                    required=False, reason_if_none="")
    for role in ("churn_flag", "consent_email", "member_tier"):
        if role not in roles.guesses and role not in absent:
            _settle(roles, role, _level_candidates(ev, role, _exclude(roles)),
                    required=False, reason_if_none="")


def table_kind(ev: FileEvidence, roles: Roles) -> str:
    """``customers`` (one row per customer key) or ``bookings`` (the key repeats)."""
    key = roles.value("customer_id")
    if key is not None and key in ev.names and ev.column(key).unique:
        return "customers"
    return "bookings"
