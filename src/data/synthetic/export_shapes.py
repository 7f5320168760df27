"""Exports of shapes the lab has never seen, each with its planted truth: the proof of the front door.

:func:`write_export_shape` draws, from one seed, a small company (customers, bookings,
invoice lines or monthly activity, tiers of a vocabulary of any size) and writes it the way
some other company's system would: column names chosen from the synonyms of six languages or
from no language at all, any of four delimiters, UTF-8 (with or without a byte-order mark),
GBK or cp1252, a decimal comma, dates in one of many formats or split into year / month / day
columns, keys as numbers, zero-padded text, prefixed codes or hex, one file or two (a
customers file and a bookings or activity file joined by the customer key), cancellation
documents and returns among invoice lines, months without activity among activity rows.

Each shape carries its truth (:class:`ShapeTruth`): the revenue and bookings of the
completed bookings, the number of customers with one, the tiers in their order, and which
source column plays which role, so a test can check that ``crm init`` then the product's
loader reproduce the truth exactly, or that ``crm init`` refused and named the role (and,
given the true column with the flag it named, then reproduces it). Money is in the company's
currency, rounded to cents; dates are calendar days.
"""

from __future__ import annotations

import codecs
import csv
import io
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["ExportShape", "ShapeTruth", "write_export_shape"]

_SYNONYMS = Path(__file__).resolve().parents[1] / "recognition" / "synonyms.yaml"
LANGUAGES = ("en", "zh", "de", "fr", "es", "pt")
_TIER_WORDS = ("Star", "Nova", "Aurora", "Bronze", "Silver", "Gold", "Platinum", "Ruby", "Jade",
               "Basic", "Plus", "Premium", "Elite", "Blue", "Red", "Black", "银卡", "金卡",
               "白金卡", "钻石卡", "Explorer", "Voyager", "Pioneer")
_COUNTRIES = ("United Kingdom", "France", "Deutschland", "España", "Portugal", "中国",
              "USA", "Italia")
_ITEMS = ("Room", "Suite", "Breakfast", "Transfer", "Tour", "Ticket", "Spa", "Dinner")
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y",
                 "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y %H:%M", "%Y年%m月%d日", "split")
_NONE_NAMES = ("col_{i}", "F{i}", "field{i}", "x{i}", "attr_{i}", "c{i}_val", "v{i}")


@dataclass
class ShapeTruth:
    """What the files hold, planted.

    Attributes
    ----------
    revenue : sum of the completed bookings' amounts (cents-rounded, the company's currency).
    n_bookings : completed bookings; n_customers : customers with a completed booking.
    tiers : the tier vocabulary, lowest first (None without a customers file with tiers).
    as_of : the last booking day.
    roles : role -> the source column (or columns, ``+``-joined) that plays it.
    status_words : status level in the file -> the contract meaning (empty without a status
        column).
    """

    revenue: float
    n_bookings: int
    n_customers: int
    tiers: list[str] | None
    as_of: date
    roles: dict[str, str] = field(default_factory=dict)
    status_words: dict[str, str] = field(default_factory=dict)


@dataclass
class ExportShape:
    """One drawn export: its files, its truth and how it was drawn."""

    seed: int
    files: list[Path]
    truth: ShapeTruth
    drawn: dict[str, object]


def _synonyms() -> dict[str, dict[str, list[str]]]:
    return yaml.safe_load(_SYNONYMS.read_text(encoding="utf-8"))


class _Namer:
    """Column names for one file: a language's synonyms, or names in no language."""

    def __init__(self, rng: np.random.Generator, language: str, none_share: float):
        self.rng, self.language, self.none_share = rng, language, none_share
        self.syn = _synonyms()
        self.used: set[str] = set()
        self.style = str(rng.choice(["title", "snake", "camel", "upper", "plain"]))

    def _styled(self, words: str) -> str:
        if self.language == "zh" or not words.isascii() and not any(c.isalpha() for c in words):
            return words
        parts = words.split()
        if self.style == "title":
            return " ".join(p[:1].upper() + p[1:] for p in parts)
        if self.style == "snake":
            return "_".join(parts)
        if self.style == "camel":
            return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
        if self.style == "upper":
            return " ".join(parts).upper()
        return " ".join(parts)

    def __call__(self, role: str) -> str:
        for _ in range(50):
            if self.rng.random() < self.none_share or role not in self.syn:
                name = str(self.rng.choice(_NONE_NAMES)).format(i=int(self.rng.integers(1, 99)))
            else:
                words = self.syn[role].get(self.language) or self.syn[role]["en"]
                name = self._styled(str(self.rng.choice(words)))
            if name.lower() not in self.used:
                self.used.add(name.lower())
                return name
        raise RuntimeError(f"no free name for {role}")


def _key_values(rng: np.random.Generator, n: int) -> list[str]:
    kind = rng.choice(["int", "padded", "prefixed", "hex"])
    ids = rng.choice(np.arange(1000, 1000 + 50 * n), size=n, replace=False)
    if kind == "int":
        return [str(i) for i in ids]
    if kind == "padded":
        return [f"{i:08d}" for i in ids]
    if kind == "prefixed":
        prefix = str(rng.choice(["CUST-", "M", "GUEST_", "K", "会员"]))
        return [f"{prefix}{i}" for i in ids]
    return [f"{int(i) * 2654435761 % 2**32:08x}" for i in ids]


def _money(x: float, decimal: str, thousands: bool) -> str:
    text = f"{x:,.2f}" if thousands else f"{x:.2f}"
    if decimal == ",":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _date_text(d: date, fmt: str, rng: np.random.Generator) -> str:
    if "%H" in fmt:
        return pd.Timestamp(d).replace(hour=int(rng.integers(0, 24)),
                                       minute=int(rng.integers(0, 60))).strftime(fmt)
    return d.strftime(fmt)


def _write(path: Path, frame: pd.DataFrame, delimiter: str, encoding: str) -> Path:
    buf = io.StringIO()
    frame.to_csv(buf, sep=delimiter, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    data = buf.getvalue().encode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
    path.write_bytes(data)
    return path


def _encodable(frame: pd.DataFrame, encoding: str) -> bool:
    text = "\n".join([*map(str, frame.columns), *frame.astype(str).to_numpy().ravel()])
    try:
        codecs.encode(text, encoding)
    except UnicodeEncodeError:
        return False
    return True


def write_export_shape(folder: str | Path, seed: int) -> ExportShape:
    """Draw one export shape from ``seed`` and write its files into ``folder``.

    Returns
    -------
    :class:`ExportShape`: the files, the truth, and what was drawn (layout, language,
    delimiter, encoding, decimal mark, date format, key kind).
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layout = str(rng.choice(["log", "lines", "two_files", "activity"], p=[0.3, 0.3, 0.25, 0.15]))
    language = str(rng.choice(LANGUAGES))
    none_share = float(rng.choice([0.0, 0.0, 0.1, 0.3]))
    delimiter = str(rng.choice([",", ";", "\t", "|"]))
    decimal = "," if delimiter != "," and rng.random() < 0.5 else "."
    thousands = bool(rng.random() < 0.3)
    date_fmt = str(rng.choice(_DATE_FORMATS))
    if layout == "activity":
        date_fmt = "split"
    n_cust = int(rng.integers(60, 300))
    keys = _key_values(rng, n_cust)
    start = date(2021, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
    span = int(rng.integers(420, 900))
    n_tiers = int(rng.integers(2, 7))
    tiers = [str(t) for t in rng.choice(_TIER_WORDS, size=n_tiers, replace=False)]
    tier_of = rng.choice(n_tiers, size=n_cust, p=np.linspace(2, 1, n_tiers) / np.linspace(
        2, 1, n_tiers).sum())
    drawn: dict[str, object] = dict(layout=layout, language=language, none_share=none_share,
                                    delimiter=delimiter, decimal=decimal, thousands=thousands,
                                    date_format=date_fmt, n_customers=n_cust)
    namer = _Namer(rng, language, none_share)
    roles: dict[str, str] = {}
    # bookings: each customer books 1..8 times over the span
    counts = rng.integers(1, 9, size=n_cust)
    cust = np.repeat(np.arange(n_cust), counts)
    days = np.sort(rng.integers(0, span, size=len(cust)))
    rng.shuffle(cust)
    book_dates = [start + timedelta(days=int(d)) for d in days]
    cancelled = rng.random(len(cust)) < (0.1 if rng.random() < 0.5 else 0.0)
    # spend grows with the tier, so a customers file's value column orders the tiers
    amounts = np.round(rng.lognormal(4.0 + 0.4 * tier_of[cust], 0.6), 2)
    files: list[Path] = []
    status_words: dict[str, str] = {}
    if layout == "activity":
        return _activity(folder, seed, rng, namer, keys, tiers, tier_of, start, span,
                         delimiter, decimal, thousands, language, drawn)
    status_col = bool(rng.random() < 0.5) and layout != "lines"
    frame: dict[str, list] = {}
    c_key = namer("customer_id")
    roles["customer_id"] = c_key
    if layout == "lines":
        frame, truth_amounts, completed = _lines(rng, namer, roles, keys, cust, book_dates,
                                                 amounts, date_fmt, decimal, thousands)
    else:
        frame[c_key] = [keys[c] for c in cust]
        _dates(frame, namer, roles, "booking_date", book_dates, date_fmt, rng)
        a = namer("amount")
        roles["amount"] = a
        frame[a] = [_money(x, decimal, thousands) for x in amounts]
        completed = ~cancelled
        if status_col:
            s = namer("status")
            roles["status"] = s
            words = {"en": ("Completed", "Cancelled"), "zh": ("已完成", "已取消"),
                     "de": ("Abgeschlossen", "Storniert"), "fr": ("Terminé", "Annulé"),
                     "es": ("Completado", "Cancelado"), "pt": ("Concluído", "Cancelado")}
            ok, no = words[language]
            status_words = {ok: "completed", no: "cancelled"}
            frame[s] = [no if c else ok for c in cancelled]
        else:
            completed = np.ones(len(cust), dtype=bool)
        truth_amounts = amounts
        if rng.random() < 0.6:
            frame[namer("home_region")] = list(rng.choice(_COUNTRIES, size=len(cust)))
        if rng.random() < 0.4:
            frame[namer("product")] = list(rng.choice(_ITEMS, size=len(cust)))
    table = pd.DataFrame(frame)
    table = table[sorted(table.columns, key=lambda _: rng.random())]
    encoding = _encoding(rng, language, table)
    drawn["encoding"] = encoding
    files.append(_write(folder / f"bookings_{seed}.csv", table, delimiter, encoding))
    kept_cust = cust[completed] if layout != "lines" else cust[completed]
    revenue = float(np.round(np.sum(truth_amounts[completed]), 2))
    truth_tiers = None
    if layout == "two_files":
        customers, tiers_named = _customers_file(rng, keys, tiers, tier_of, start, language,
                                                 decimal, delimiter, roles)
        cenc = _encoding(rng, language, customers)
        files.insert(0, _write(folder / f"customers_{seed}.csv", customers, delimiter, cenc))
        truth_tiers = tiers
        drawn["customers_encoding"] = cenc
        del tiers_named
    truth = ShapeTruth(revenue=revenue, n_bookings=int(completed.sum()),
                       n_customers=int(len(np.unique(kept_cust))), tiers=truth_tiers,
                       as_of=max(book_dates), roles=roles, status_words=status_words)
    return ExportShape(seed, files, truth, drawn)


def _encoding(rng: np.random.Generator, language: str, frame: pd.DataFrame) -> str:
    options = ["utf-8", "utf-8-sig"]
    if language == "zh" and _encodable(frame, "gbk"):
        options += ["gbk", "gbk"]
    elif language in ("de", "fr", "es", "pt") and _encodable(frame, "cp1252"):
        options += ["cp1252"]
    return str(rng.choice(options))


def _dates(frame: dict, namer: _Namer, roles: dict, role: str, values: list[date], fmt: str,
           rng: np.random.Generator) -> None:
    if fmt == "split":
        prefix = namer(role)
        parts = {"en": ("Year", "Month", "Day"), "zh": ("年", "月", "日"),
                 "de": ("Jahr", "Monat", "Tag"), "fr": ("Année", "Mois", "Jour"),
                 "es": ("Año", "Mes", "Día"), "pt": ("Ano", "Mês", "Dia")}[namer.language]
        names = [f"{prefix} {p}" if namer.language != "zh" else f"{prefix}{p}" for p in parts]
        frame[names[0]] = [d.year for d in values]
        frame[names[1]] = [d.month for d in values]
        frame[names[2]] = [d.day for d in values]
        roles[role] = "+".join(names)
        return
    name = namer(role)
    roles[role] = name
    frame[name] = [_date_text(d, fmt, rng) for d in values]


def _lines(rng, namer, roles, keys, cust, book_dates, amounts, date_fmt, decimal, thousands):
    """Invoice lines: 1-4 lines per booking, cancellation documents and returns mixed in."""
    inv, item, desc, qty, price, when, who = (namer("booking_id"), namer("product"),
                                              namer("__description"), namer("quantity"),
                                              namer("unit_price"), None, roles["customer_id"])
    roles.update(booking_id=inv, quantity=qty, unit_price=price)
    rows = []
    totals = []
    for b, c in enumerate(cust):
        n_lines = int(rng.integers(1, 5))
        total = 0.0
        for _ in range(n_lines):
            q = int(rng.integers(1, 6))
            p = float(np.round(rng.lognormal(2.5, 0.7), 2))
            total += q * p
            rows.append((f"{500000 + b}", str(rng.choice(_ITEMS)), q, p, book_dates[b], keys[c]))
        totals.append(total)
        if rng.random() < 0.05:  # a cancellation document and a return line
            rows.append((f"C{500000 + b}", str(rng.choice(_ITEMS)), -1, 9.99, book_dates[b],
                         keys[c]))
    frame: dict[str, list] = {inv: [], item: [], desc: [], qty: [], price: [], who: []}
    dates = [r[4] for r in rows]
    for r in rows:
        frame[inv].append(r[0])
        frame[item].append(r[1])
        frame[desc].append(f"{r[1]} {string.ascii_uppercase[len(r[1]) % 26]}")
        frame[qty].append(r[2])
        frame[price].append(_money(r[3], decimal, thousands and r[3] >= 1000))
        frame[who].append(r[5])
    _dates(frame, namer, roles, "booking_date", dates, date_fmt, rng)
    del when
    totals_arr = np.asarray(totals)
    return frame, totals_arr, np.ones(len(cust), dtype=bool)


def _customers_file(rng, keys, tiers, tier_of, start, language, decimal, delimiter, roles):
    namer = _Namer(rng, language, 0.0)
    key = namer("customer_id")
    tier = namer("member_tier")
    roles["customers.customer_id"] = key
    roles["member_tier"] = tier
    value = {"en": "CLV", "zh": "客户价值", "de": "Umsatz gesamt", "fr": "Chiffre d'affaires",
             "es": "Ventas totales", "pt": "Receita total"}[language]
    n = len(keys)
    signup = [start - timedelta(days=int(d)) for d in rng.integers(0, 400, size=n)]
    frame = {
        key: keys,
        namer("signup_date"): [d.isoformat() for d in signup],
        tier: [tiers[t] for t in tier_of],
        value: [_money(float(np.round(rng.lognormal(6 + 0.5 * t, 0.3), 2)), decimal, False)
                for t in tier_of],
        namer("home_region"): list(rng.choice(_COUNTRIES, size=n)),
    }
    out = pd.DataFrame(frame)
    return out.sample(frac=1.0, random_state=int(rng.integers(0, 2**31))), tiers


def _activity(folder, seed, rng, namer, keys, tiers, tier_of, start, span, delimiter, decimal,
              thousands, language, drawn) -> ExportShape:
    """Members + monthly activity rows (a count, revenue), months without activity included."""
    roles: dict[str, str] = {}
    n = len(keys)
    months = pd.period_range(pd.Timestamp(start), periods=max(13, span // 30), freq="M")
    key = namer("customer_id")
    roles["customer_id"] = key
    flights = namer("activity")
    revenue_col = namer("amount")
    roles.update(activity=flights, amount=revenue_col)
    rows = []
    for c in range(n):
        for m in months:
            k = int(rng.poisson(0.6 + 0.3 * tier_of[c]))
            rev = float(np.round(k * rng.lognormal(5.0, 0.4), 2)) if k else 0.0
            rows.append((keys[c], m.year, m.month, k, rev))
    frame = {key: [r[0] for r in rows]}
    parts = {"en": ("Year", "Month"), "zh": ("年份", "月份"), "de": ("Jahr", "Monat"),
             "fr": ("Année", "Mois"), "es": ("Año", "Mes"), "pt": ("Ano", "Mês")}[language]
    frame[parts[0]] = [r[1] for r in rows]
    frame[parts[1]] = [r[2] for r in rows]
    roles["booking_date"] = "+".join(parts)
    frame[flights] = [r[3] for r in rows]
    frame[revenue_col] = [_money(r[4], decimal, thousands) for r in rows]
    frame[namer("__distance")] = [int(r[3] * rng.integers(200, 3000)) for r in rows]
    activity = pd.DataFrame(frame)
    customers, _ = _customers_file(rng, keys, tiers, tier_of, start, language, decimal,
                                   delimiter, roles)
    enc = _encoding(rng, language, activity)
    drawn.update(encoding=enc, date_format="split")
    files = [_write(folder / f"members_{seed}.csv", customers, delimiter,
                    _encoding(rng, language, customers)),
             _write(folder / f"activity_{seed}.csv", activity, delimiter, enc)]
    active = [r for r in rows if r[3] > 0]
    revenue = float(np.round(sum(r[4] for r in active), 2))
    last = max(date(r[1], r[2], 1) for r in active)
    truth = ShapeTruth(revenue=revenue, n_bookings=len(active),
                       n_customers=len({r[0] for r in active}), tiers=tiers, as_of=last,
                       roles=roles)
    return ExportShape(seed, files, truth, drawn)
