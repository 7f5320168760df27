"""From settled roles to contract tables: which file is which table, how they join, the mapping.

:func:`recognise_files` takes the export files of one company and, for each, sniffs it
(:mod:`src.data.sniff`), measures its columns (:mod:`src.data.recognition.profile`) and
recognises its roles (:mod:`src.data.recognition.roles`). With several files it first finds
how they join: the pair of key columns whose values one file's holds (nearly) all of the
other's, the file where that key is unique being the customers table and the one where it
repeats the bookings (or monthly activity). Then each file's roles become a
``data.source.tables.<table>`` entry (:class:`TableMapping`):

``transaction_log``
    customer, date, amount: one booking per row (a ``booking_id`` is synthesised);
``invoice_lines``
    a booking key repeated over rows with quantity and unit price (or a line amount): lines
    of one booking (``group_lines``), cancellation documents (``C...``), returns and free
    lines filtered by ``where``;
``activity``
    a count per row (flights, stays, ...): a row whose count is 0 is not a booking, and is
    filtered by ``where``;
``member_table`` / ``tenure_snapshot`` / ``customer_table``
    one row per customer: start and cancellation dates (contractual churn); tenure and a
    churned flag (no dates); or attributes beside a bookings file (tier, consent, ...).

The company's own levels go into the mapping: a status column's levels as the contract's
meanings (``values.status``), a tier column's levels in their order (``vocabulary``: lowest
first, ordered by evidence such as the customers' spend, flagged for confirmation). Every
choice carries its reason. What the evidence did not settle is returned as open roles
(:attr:`Recognition.open`), never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from src.data.contract import TABLES
from src.data.recognition.names import name_scores, normalise
from src.data.recognition.parts import tier_order
from src.data.recognition.profile import (
    ColumnEvidence,
    FileEvidence,
    profile_columns,
    sql_literal,
    with_date_format,
)
from src.data.recognition.roles import (
    OpenRole,
    Roles,
    key_refusal,
    quote,
    recognise_roles,
    status_meanings,
    table_kind,
)
from src.data.sniff import sniff_file, utf8_file
from src.data.textnumbers import sql_identifier

__all__ = ["JOIN_CONTAINMENT", "Recognition", "TableMapping", "TableRecognition",
           "parse_status_values", "recognise_files", "remap"]

JOIN_CONTAINMENT = 0.9
"""Two files join on a pair of columns when this share of one's distinct values is in the
other's."""
_ISO = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f")
#: contract columns mapped when a column's name says so and its values fit
_BY_NAME = {
    "bookings": ("product", "channel", "destination", "currency", "nights", "party_size"),
    "customers": ("gender", "birth_year", "home_region", "customer_type",
                  "acquisition_channel", "email", "phone", "name", "consent_sms",
                  "consent_phone"),
}
_MAX_LEVELS = 60



@dataclass
class TableMapping:
    """A ``data.source.tables.<table>`` entry, every choice with its reason.

    Attributes
    ----------
    table : contract table (``bookings`` or ``customers``).
    columns : contract column -> source column name or DuckDB SQL expression.
    where : SQL conditions a row must meet (source column names).
    group_lines : rows sharing ``booking_id`` are lines of one booking.
    date_format : strptime format of the text date columns mapped as they are.
    decimal : ``,`` when numbers use a decimal comma.
    attributes : extra customer snapshot columns, name -> source column or expression.
    defaults : constants for contract columns the source lacks.
    values : contract column -> {source level: contract meaning} (e.g. booking statuses).
    vocabulary : contract column -> the company's levels (tiers lowest first).
    reasons : key (``columns.customer_id``, ``where``, ...) -> why it was chosen.
    """

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    where: list[str] = field(default_factory=list)
    group_lines: bool = False
    date_format: str | None = None
    decimal: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    vocabulary: dict[str, list[str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def set(self, key: str, value, reason: str) -> None:
        """Record ``value`` at ``key`` (``columns.x``, ``attributes.x``, ``defaults.x``,
        ``values.x``, ``vocabulary.x`` or a top-level field) with its reason."""
        section, _, name = key.partition(".")
        if name:
            getattr(self, section)[name] = value
        else:
            setattr(self, section, value)
        self.reasons[key] = reason


@dataclass
class TableRecognition:
    """One file recognised as one contract table.

    Attributes
    ----------
    evidence : the file's measured columns (:class:`~src.data.recognition.profile.
        FileEvidence`).
    roles : its settled and open roles.
    shape : ``transaction_log``, ``invoice_lines``, ``activity``, ``member_table``,
        ``tenure_snapshot`` or ``customer_table``.
    shape_reason : why.
    mapping : the table entry (:class:`TableMapping`).
    confirm : what the user should confirm, one sentence each.
    tenure_unit : ``month`` or ``day`` (tenure snapshot); max_tenure : in that unit.
    """

    evidence: FileEvidence
    roles: Roles
    shape: str
    shape_reason: str
    mapping: TableMapping
    confirm: list[str] = field(default_factory=list)
    tenure_unit: str = "month"
    max_tenure: float | None = None

    @property
    def path(self) -> Path:
        return self.evidence.path

    @property
    def table(self) -> str:
        return self.mapping.table


@dataclass
class Recognition:
    """Every file of an export: the tables, how they join, and the open roles.

    Attributes
    ----------
    tables : one :class:`TableRecognition` per file (bookings before customers).
    open : (file name, :class:`~src.data.recognition.roles.OpenRole`) the data did not
        settle.
    join : a sentence on how the files join (empty for one file).
    refused : file name -> role -> columns refused for it and why.
    """

    tables: list[TableRecognition]
    open: list[tuple[str, OpenRole]] = field(default_factory=list)
    join: str = ""
    refused: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def table(self, name: str) -> TableRecognition | None:
        return next((t for t in self.tables if t.table == name), None)


# --------------------------------------------------------------------------------------------
# joins
# --------------------------------------------------------------------------------------------
def _key_like(c: ColumnEvidence) -> bool:
    return key_refusal(c) is None


def _join(evs: list[FileEvidence]) -> tuple[str, str, str, float] | None:
    """(column in file 0, column in file 1, sentence, containment) of the best key pair."""
    if len(evs) != 2:
        return None
    a, b = evs
    pairs = []
    for ca in a.columns:
        for cb in b.columns:
            if not (_key_like(ca) and _key_like(cb)) or ca.kind != cb.kind:
                continue
            same = normalise(ca.name) == normalise(cb.name)
            named = name_scores(ca.name).get("customer_id", 0) > 0 and name_scores(
                cb.name).get("customer_id", 0) > 0
            if same or named:
                pairs.append((ca, cb, same))
    if not pairs:
        return None
    best = None
    with utf8_file(a.sniffed) as pa, utf8_file(b.sniffed) as pb:
        con = duckdb.connect()
        try:
            con.execute(f"CREATE VIEW a AS {a.relation(str(pa))}")
            con.execute(f"CREATE VIEW b AS {b.relation(str(pb))}")
            for ca, cb, same in pairs:
                qa, qb = sql_identifier(ca.name), sql_identifier(cb.name)
                na, nb, both = con.execute(
                    f"WITH x AS (SELECT DISTINCT trim({qa}) AS v FROM a WHERE {qa} IS NOT NULL), "
                    f"y AS (SELECT DISTINCT trim({qb}) AS v FROM b WHERE {qb} IS NOT NULL) "
                    "SELECT (SELECT count(*) FROM x), (SELECT count(*) FROM y), "
                    "(SELECT count(*) FROM x JOIN y USING (v))").fetchone()
                share = both / min(na, nb) if min(na, nb) else 0.0
                score = share + (0.05 if same else 0.0) + (0.1 if ca.unique or cb.unique else 0)
                if share >= JOIN_CONTAINMENT and (best is None or score > best[-1]):
                    small = a.path.name if na <= nb else b.path.name
                    text = (f"{a.path.name} {ca.name!r} and {b.path.name} {cb.name!r}: "
                            f"{share:.1%} of {small}'s {min(na, nb):,} keys are in the other")
                    best = (ca.name, cb.name, text, share, score)
        finally:
            con.close()
    return None if best is None else best[:4]


# --------------------------------------------------------------------------------------------
# recognition of a set of files
# --------------------------------------------------------------------------------------------
def recognise_files(paths: list[str | Path], given: dict[str, str] | None = None,
                    as_of_date=None) -> Recognition:
    """Sniff, measure and recognise every file; map each onto a contract table.

    Parameters
    ----------
    paths : one to three export files of one company.
    given : role -> column or expression settled by the user (``crm init`` flags); a role
        given applies to every file holding its columns (an expression: the bookings file).
    as_of_date : the extraction date, for the expressions of a tenure snapshot.

    Returns
    -------
    :class:`Recognition`.

    Raises
    ------
    DataSourceError
        A file is missing, empty, truncated, headerless or without data rows.
    """
    given = dict(given or {})
    date_format = given.pop("date_format", None)
    status_words = parse_status_values(given.pop("status_values", None))
    evs = [profile_columns(sniff_file(p)) for p in paths]
    if date_format:
        evs = [with_date_format(ev, date_format) for ev in evs]
    join = _join(evs) if len(evs) == 2 else None
    keys: list[str | None] = [None] * len(evs)
    kinds: list[str | None] = [None] * len(evs)
    join_text = ""
    if join is not None:
        keys = [join[0], join[1]]
        join_text = join[2]
        uniq = [evs[i].column(keys[i]).unique for i in range(2)]
        if uniq[0] != uniq[1]:
            kinds = ["customers" if u else "bookings" for u in uniq]
    tables, opened, refused = [], [], {}
    for i, ev in enumerate(evs):
        mine = {r: v for r, v in given.items() if _applies(ev, r, v, kinds[i])}
        roles = recognise_roles(ev, table=kinds[i], given=mine,
                                customer_key=keys[i] if "customer_id" not in mine else None)
        if keys[i] is not None and "customer_id" in roles.guesses and \
                roles.guesses["customer_id"].value == keys[i]:
            g = roles.guesses["customer_id"]
            roles.guesses["customer_id"] = type(g)(g.role, g.value, g.confidence,
                                                    f"the key shared by the files ({join_text})",
                                                    g.runner_up, g.columns)
        kind = kinds[i] or table_kind(ev, roles)
        refused[ev.path.name] = roles.refused
        if status_words and "status_values" in roles.open:
            col = ev.column(roles.value("status"))
            _, unknown = status_meanings([lv for lv, _ in col.levels or ()])
            missing = [lv for lv in unknown if lv not in status_words]
            if missing:
                roles.open["status_values"] = OpenRole(
                    "status_values", f"--status-values does not say what {', '.join(missing)} "
                    "mean")
            else:
                del roles.open["status_values"]
        roles.status_words = status_words
        rec = _map(ev, roles, kind, as_of_date)
        tables.append(rec)
        opened += [(ev.path.name, o) for o in roles.open.values()]
    if len(tables) == 2 and tables[0].table == tables[1].table and not opened:
        opened.append((tables[1].path.name, OpenRole(
            "customer_id", f"both files look like {tables[0].table} tables and no key joins "
            "them: give the files of one company (a customers file and a bookings file) and "
            "the key they share with --customer-id")))
    tables.sort(key=lambda t: t.table != "bookings")
    return Recognition(tables, opened, join_text, refused)


def parse_status_values(text: str | None) -> dict[str, str]:
    """``"Storno=cancelled,Offen=confirmed"`` -> {level: contract meaning}.

    Raises
    ------
    ValueError
        A part without ``=`` or a meaning that is not a contract status.
    """
    if not text:
        return {}
    allowed = TABLES["bookings"].column("status").allowed or ()
    out = {}
    for part in str(text).split(","):
        level, eq, meaning = part.partition("=")
        if not eq or meaning.strip() not in allowed:
            raise ValueError(f"--status-values {part.strip()!r}: write <level>=<meaning>, the "
                             f"meaning one of {', '.join(allowed)}")
        out[level.strip()] = meaning.strip()
    return out


def _applies(ev: FileEvidence, role: str, value: str, kind: str | None) -> bool:
    names = set(ev.names)
    if value in names:
        return True
    if str(value).lower() == "none":
        return kind != "customers" or role in ("customer_id", "member_tier", "consent_email",
                                               "signup_date", "membership_cancel_date",
                                               "tenure", "churn_flag")
    mentioned = [n for n in names if f'"{n}"' in value or re.search(
        r"(?<![\w\"])" + re.escape(n) + r"(?![\w\"])", value)]
    if mentioned:
        return True
    # a constant or an expression over no column: the bookings file's
    return kind != "customers" and role in ("amount", "booking_date", "status")


# --------------------------------------------------------------------------------------------
# mapping
# --------------------------------------------------------------------------------------------
def _map(ev: FileEvidence, roles: Roles, kind: str, as_of_date) -> TableRecognition:
    m = TableMapping(kind)
    if ev.decimal == ",":
        m.set("decimal", ",", "numbers use a decimal comma (e.g. " + next(
            (repr(c.examples[0]) for c in ev.columns if c.decimal == "," and c.examples), "")
            + ")")
    g = roles.guesses
    if "customer_id" in g:
        m.set("columns.customer_id", g["customer_id"].value,
              f"customer key: {g['customer_id'].reason()}")
    if kind == "bookings":
        rec = _map_bookings(ev, roles, m)
    else:
        rec = _map_customers(ev, roles, m, as_of_date)
    return rec


def _date_value(ev: FileEvidence, m: TableMapping, role: str, value: str) -> str:
    """A date role's mapping: the column as it is (its format in ``date_format``), or an
    expression when the table's text dates come in two formats."""
    if value not in ev.names:
        return value  # make_date(...) or a user's expression
    c = ev.column(value)
    fmt = c.date_format
    if fmt is None or fmt in _ISO:
        return value
    if m.date_format in (None, fmt):
        m.set("date_format", fmt, f"dates of {value!r} look like {c.examples[0]!r}"
              + (" (day before month: a day above 12 settles it)" if fmt.startswith("%d")
                 else ""))
        return value
    return f"CAST(strptime(CAST({quote(value)} AS VARCHAR), {sql_literal(fmt)}) AS DATE)"


def _map_bookings(ev: FileEvidence, roles: Roles, m: TableMapping) -> TableRecognition:
    g = roles.guesses
    confirm: list[str] = []
    if "booking_id" in g:
        bid = ev.column(g["booking_id"].value) if g["booking_id"].value in ev.names else None
        m.set("columns.booking_id", g["booking_id"].value, f"booking key: {g['booking_id'].reason()}")
    else:
        bid = None
    if "booking_date" in g:
        v = _date_value(ev, m, "booking_date", g["booking_date"].value)
        m.set("columns.booking_date", v, f"booking date: {g['booking_date'].reason()}")
        if "1st of the month" in g["booking_date"].evidence:
            confirm.append("bookings are dated to the 1st of their month (no day column)")
    if "travel_start" in g:
        m.set("columns.travel_start", _date_value(ev, m, "travel_start", g["travel_start"].value),
              f"trip start: {g['travel_start'].reason()}")
    lines = bid is not None and not bid.unique
    if "amount" in g:
        m.set("columns.amount", g["amount"].value, f"amount: {g['amount'].reason()}")
    if lines:
        m.set("group_lines", True, f"lines sharing {bid.name!r} are one booking (amount summed, "
              "earliest date)")
    where, why = [], []
    cust = g.get("customer_id")
    if cust is not None and cust.value in ev.names and ev.column(cust.value).null_share > 0:
        where.append(f"{quote(cust.value)} IS NOT NULL")
        why.append(f"{ev.column(cust.value).null_share:.1%} of rows have no customer")
    if bid is not None and bid.kind == "text" and bid.letter_prefix:
        letter, n = max(bid.letter_prefix.items(), key=lambda kv: kv[1])
        if n < 0.5 * bid.n_values:
            where.append(f"{quote(bid.name)} NOT LIKE '{letter}%'")
            why.append(f"{n:,} rows with a '{letter}...' document number (cancellation / "
                       "credit notes)")
    for role in ("quantity", "unit_price"):
        if role in g and "amount" in g and g[role].value in g["amount"].columns:
            c = ev.column(g[role].value)
            if c.n_negative or c.n_zero:
                where.append(f"{quote(c.name)} > 0")
                why.append(f"{c.n_negative + c.n_zero:,} rows with {c.name!r} <= 0 (returns, "
                           "free or adjustment lines)")
    if "activity" in g and g["activity"].value in ev.names:
        c = ev.column(g["activity"].value)
        if c.n_zero:
            where.append(f"{quote(c.name)} > 0")
            why.append(f"{c.n_zero:,} rows with {c.name!r} = 0: a period without activity is "
                       "not a booking")
    if where:
        m.set("where", where, "keeps bookings: " + "; ".join(why))
    _map_status(ev, roles, m, confirm)
    _by_name(ev, roles, m, "bookings")
    if lines:
        shape, reason = "invoice_lines", (f"invoice lines: {bid.name!r} repeats over rows ("
                                          f"{bid.mean_repeat:.1f} lines per booking)")
    elif "activity" in g:
        shape, reason = "activity", (f"activity rows: {g['activity'].value!r} counts per row; "
                                     "rows with a count are bookings")
    else:
        shape, reason = "transaction_log", "transaction log: one booking per row"
    return TableRecognition(ev, roles, shape, reason, m, confirm)


def _map_status(ev: FileEvidence, roles: Roles, m: TableMapping, confirm: list[str]) -> None:
    st = roles.guesses.get("status")
    if st is None or st.value not in ev.names:
        if st is not None:
            m.set("columns.status", st.value, f"status: {st.reason()}")
        return
    c = ev.column(st.value)
    levels = [lv for lv, _ in c.levels or ()]
    if set(levels) <= {"0", "1"} or c.kind == "bool":
        yes = [lv for lv in levels if lv.lower() in ("1", "yes", "y", "true", "t", "是", "ja",
                                                     "oui", "si", "sí", "sim")]
        cond = " OR ".join(f"CAST({quote(c.name)} AS VARCHAR) = {sql_literal(v)}" for v in yes)
        m.set("columns.status", f"CASE WHEN {cond or 'false'} THEN 'cancelled' ELSE "
              "'completed' END", f"status from the cancellation flag {c.name!r}: "
              f"{', '.join(yes)} = cancelled, else completed")
        confirm.append(f"bookings not flagged in {c.name!r} are taken as completed trips")
        return
    known, unknown = status_meanings(levels)
    said = roles.status_words
    known |= {lv: said[lv] for lv in unknown if lv in said}
    unknown = [lv for lv in unknown if lv not in said]
    m.set("columns.status", c.name, f"status: {st.reason()}")
    if unknown:
        return  # an open role (status_values) asks for them
    mapping = {lv: meaning for lv, meaning in known.items() if lv != meaning}
    if mapping:
        m.set("values.status", mapping, "the company's status words as the contract's "
              "meanings: " + ", ".join(f"{k} = {v}" for k, v in known.items()))


def _by_name(ev: FileEvidence, roles: Roles, m: TableMapping, table: str) -> None:
    """Contract columns whose name the header says (score >= 0.9) and whose values fit."""
    used = roles.used_columns() | set(m.columns.values())
    spec = TABLES[table]
    for c in ev.columns:
        if c.name in used:
            continue
        scores = name_scores(c.name)
        for col in _BY_NAME[table]:
            if col in m.columns or scores.get(col, 0) < 0.9:
                continue
            kind = spec.column(col).kind
            fits = (kind == "category" and c.levels is not None and c.kind != "date") or (
                kind == "int" and c.kind == "int") or (kind == "string" and c.kind == "text") or (
                kind == "bool" and c.kind == "bool")
            if not fits:
                continue
            m.set(f"columns.{col}", c.name, f"{col.replace('_', ' ')}: name {c.name!r}, "
                  f"{c.describe()}")
            used.add(c.name)
            if kind == "category" and c.levels is not None:
                m.set(f"vocabulary.{col}", [lv for lv, _ in c.levels],
                      f"the company's {col.replace('_', ' ')} levels, as found in the data")
            break


def _map_customers(ev: FileEvidence, roles: Roles, m: TableMapping,
                   as_of_date) -> TableRecognition:
    g = roles.guesses
    confirm: list[str] = []
    used = set(roles.used_columns())
    tenure, churn = g.get("tenure"), g.get("churn_flag")
    start, cancel = g.get("signup_date"), g.get("membership_cancel_date")
    unit, max_tenure = "month", None
    if start is not None:
        m.set("columns.signup_date", _date_value(ev, m, "signup_date", start.value),
              f"membership start: {start.reason()}")
        if start.value not in ev.names and "1st of the month" in start.evidence:
            confirm.append("membership starts are dated to the 1st of their month")
    if cancel is not None:
        m.set("columns.membership_cancel_date", _date_value(ev, m, "membership_cancel_date",
                                                            cancel.value),
              f"cancellation: {cancel.reason()}")
    if start is not None and cancel is not None:
        m.set("columns.loyalty_member", "true", "ASSUMED: every row is a member (a member table)")
        shape = "member_table"
        reason = (f"member table: one row per {g['customer_id'].value!r} with start and "
                  "cancellation" if "customer_id" in g else "member table")
    elif tenure is not None and churn is not None and start is None:
        c = ev.column(churn.value)
        yes = next((lv for lv, _ in c.levels or () if lv.lower() in (
            "yes", "y", "true", "t", "1", "是", "ja", "oui", "si", "sí", "sim")), None)
        lit = sql_literal((as_of_date or date.today()).isoformat())
        unit = "day" if "day" in normalise(tenure.value) or "tage" in normalise(tenure.value) \
            else "month"
        t, s = quote(tenure.value), quote(churn.value)
        yes_sql = yes if yes is not None and c.kind != "bool" and yes.isdigit() else \
            sql_literal(yes or "Yes")
        m.set("columns.signup_date", f"DATE {lit} - INTERVAL ({t}) {unit.upper()}",
              f"no dates: start = extraction date - {tenure.value!r} ({unit}s)")
        m.set("columns.membership_cancel_date", f"CASE WHEN {s} = {yes_sql} THEN DATE {lit} END",
              f"{churn.value!r} = {yes_sql} means the customer left; ASSUMED: left on the "
              "extraction date (the snapshot says only 'within the last period')")
        m.set("columns.loyalty_member", "true", "ASSUMED: every row is a subscriber")
        max_tenure = float(ev.column(tenure.value).maximum or 0)
        shape = "tenure_snapshot"
        reason = (f"tenure + status snapshot: no dates, tenure {tenure.value!r} ({unit}s), "
                  f"churn status {churn.value!r}")
    else:
        if tenure is not None:
            used.discard(tenure.value)
        if churn is not None:
            used.discard(churn.value)
        shape, reason = "customer_table", "customers: one row per customer"
    consent = g.get("consent_email")
    if consent is not None:
        m.set("columns.consent_email", consent.value, f"consent: {consent.reason()} (ASSUMED: "
              "consent to email)")
    tier = g.get("member_tier")
    if tier is not None:
        m.set("columns.member_tier", tier.value, f"tier: {tier.reason()}")
        order, why = tier_order(ev, ev.column(tier.value))
        m.set("vocabulary.member_tier", order, f"the programme's tiers, lowest first: {why}")
        confirm.append(f"tier order {' < '.join(order)} ({why}); the last is the top tier")
    _by_name(ev, roles, m, "customers")
    used |= set(m.columns.values())
    for c in ev.columns:
        if c.name in used or any(c.name in v for v in m.columns.values()):
            continue
        if c.kind == "empty":
            continue
        m.set(f"attributes.{_attribute_name(c.name)}", c.name, c.describe())
    rec = TableRecognition(ev, roles, shape, reason, m, confirm, unit, max_tenure)
    return rec


def _attribute_name(name: str) -> str:
    words = normalise(name).replace(" ", "_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", words or ""):
        words = "col_" + re.sub(r"\W+", "_", words or "x").strip("_")
    if words in TABLES["customers"].column_names:
        words += "_attr"
    return words


def remap(rec: TableRecognition, as_of_date: date) -> None:
    """Map ``rec`` again for another extraction date (a tenure snapshot's dates are
    expressions over it)."""
    new = _map(rec.evidence, rec.roles, rec.table, as_of_date)
    rec.mapping, rec.shape, rec.shape_reason = new.mapping, new.shape, new.shape_reason
    rec.confirm, rec.tenure_unit, rec.max_tenure = new.confirm, new.tenure_unit, new.max_tenure
