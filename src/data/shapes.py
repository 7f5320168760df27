"""Shape warnings: a loaded export that looks like it was mapped the wrong way.

A load can succeed and still be wrong in shape: invoice lines taken for bookings, returns
counted as purchases, a unit price taken for the amount, no consent columns (so nobody may be
contacted), cancellation invoices kept as purchases. :func:`shape_warnings` looks for these
after :func:`src.data.loading.load_tables` has validated the tables and returns one
:class:`ShapeWarning` per finding, each naming the params key that fixes it;
:func:`data_span_days` is the time the bookings cover. :func:`source_header` and
:func:`mapped_columns` (re-exported from :mod:`src.data.readers` and :mod:`src.data.ingest`)
tell what a source provides from its header alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from src.data.ingest import mapped_columns
from src.data.readers import source_header
from src.data.rules import R_NEGATIVE
from src.data.sources import TableSource

__all__ = [
    "KEY_MIN_ROWS",
    "ShapeWarning",
    "customer_key_problem",
    "key_counts",
    "data_span_days",
    "mapped_columns",
    "shape_warnings",
    "source_header",
]

_PRICE = re.compile(r"(?i)(price|preis|prix|precio|prezzo|单价|單價|价格|價格|unit_?cost|rate)")
_QUANTITY = re.compile(r"(?i)(^qty|quantit|menge|anzahl|数量|數量|cantidad|^qte|^units?$|^pieces)")
_CANCEL_ID = re.compile(r"^[A-Za-z]\d+$")
_FLAG_VALUES = frozenset({"0", "1", "true", "false", "yes", "no", "y", "n", "t", "f"})
KEY_FEW_VALUES_ROWS = 10
"""From this many bookings on, a customer key with two values or fewer is refused (below it,
one or two customers may be all the file holds; the models then say what is too few)."""
KEY_MIN_ROWS = 1000
"""From this many bookings on, a customer key whose top value holds more than
:data:`KEY_MAX_SHARE` of them, or that differs on every row, is refused."""
KEY_MAX_SHARE = 0.2


@dataclass(frozen=True)
class ShapeWarning:
    """One finding of :func:`shape_warnings`.

    Attributes
    ----------
    code : ``invoice_lines``, ``negative_amounts``, ``unit_price_amount``, ``no_consent``,
        ``cancellation_ids``, ``composite_key`` or ``busy_customers``.
    table : the contract table concerned.
    message : what was found, in one sentence.
    fix : what to set in params (the key is named).
    count : rows concerned (0 when it does not apply).
    """

    code: str
    table: str
    message: str
    fix: str
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The warning as a JSON-friendly dict."""
        return asdict(self)


def data_span_days(tables: Mapping[str, pd.DataFrame]) -> int | None:
    """Days from the first to the last booking date, or None without dated bookings."""
    bookings = tables.get("bookings")
    if bookings is None or "booking_date" not in bookings or not bookings["booking_date"].notna(
    ).any():
        return None
    dates = bookings["booking_date"]
    return int((dates.max() - dates.min()).days)


def _duplicate_rejects(rejects: pd.DataFrame | None) -> int:
    if rejects is None or rejects.empty:
        return 0
    sel = rejects["table"].eq("bookings") & rejects["reason"].str.contains(
        "duplicate booking_id", regex=False)
    return int(sel.sum())


def _yaml(text: str) -> str:
    """``text`` as a YAML scalar, quoted so that it can be pasted into params."""
    return "'" + text.replace("'", "''") + "'" if '"' in text else f'"{text}"'


def _amount_source(source: TableSource | None) -> str:
    if source is None:
        return "amount"
    src = source.columns.get("amount", "amount")
    return f'"{src}"' if re.search(r"\W", src) and "(" not in src else src


def shape_warnings(
    tables: Mapping[str, pd.DataFrame] | Any,
    rejects: pd.DataFrame | None = None,
    *,
    sources: Mapping[str, TableSource] | None = None,
    headers: Mapping[str, list[str]] | None = None,
    counts: pd.Series | None = None,
) -> list[ShapeWarning]:
    """Findings that suggest the export was mapped in the wrong shape.

    Parameters
    ----------
    tables : the loaded tables (:attr:`src.data.loading.LoadedData.tables`), or a whole
        :class:`~src.data.loading.LoadedData` (its tables and rejects are used).
    rejects : the rejected rows (:attr:`src.data.loading.LoadedData.rejects`), if known.
    sources : per table its :class:`TableSource` (``data.tables`` of the params), if known.
    headers : per table the source's column names, if known.
    counts : :func:`key_counts` of the bookings when the caller has them (counted once for
        these warnings and :func:`customer_key_problem`).

    Returns
    -------
    list of :class:`ShapeWarning`, in the order: invoice lines (repeated ``booking_id``),
    negative amounts, a unit price mapped as the amount, no consent columns, cancellation
    invoice ids, a customer key built from profile fields, customers booking implausibly
    often.
    """
    if hasattr(tables, "tables") and hasattr(tables, "rejects"):  # a LoadedData
        rejects = tables.rejects if rejects is None else rejects
        tables = tables.tables
    sources = dict(sources or {})
    headers = dict(headers or {})
    out: list[ShapeWarning] = []
    bookings = tables.get("bookings")
    bsource = sources.get("bookings")
    grouped = bsource is not None and bsource.group_lines
    dups = _duplicate_rejects(rejects)
    if dups and not grouped:
        out.append(ShapeWarning(
            "invoice_lines", "bookings",
            f"{dups} rows repeat a booking_id: they look like invoice lines, not bookings",
            "set tables.bookings.group_lines: true (amounts summed per booking_id)", dups))
    amount_col = _amount_source(bsource)
    negative = 0
    if rejects is not None and not rejects.empty:
        negative = int(rejects["reason"].str.contains(R_NEGATIVE, regex=False).sum())
    if bookings is not None and "amount" in bookings:
        negative += int((bookings["amount"] < 0).sum())
    if negative:
        out.append(ShapeWarning(
            "negative_amounts", "bookings",
            f"{negative} bookings have negative amounts: returns or refunds",
            f"filter them with tables.bookings.where: {_yaml(amount_col + ' > 0')}, or keep "
            "them with "
            "data.negative_amounts: keep (or map the refund status onto cancelled)", negative))
    if bsource is not None and "amount" in bsource.columns:
        src = bsource.columns["amount"]
        header = headers.get("bookings", [])
        qty = [c for c in header if _QUANTITY.search(c)]
        if src in header and _PRICE.search(src) and qty:
            q = f'"{qty[0]}"' if re.search(r"\W", qty[0]) else qty[0]
            p = f'"{src}"' if re.search(r"\W", src) else src
            out.append(ShapeWarning(
                "unit_price_amount", "bookings",
                f"amount is mapped to {src!r}, which looks like a unit price, while the source "
                f"has a quantity column {qty[0]!r}",
                f"set tables.bookings.columns.amount: {_yaml(f'{q} * {p}')}", 0))
    customers = tables.get("customers")
    if customers is not None and not any(c.startswith("consent_") for c in customers.columns):
        out.append(ShapeWarning(
            "no_consent", "customers",
            f"the customers table has no consent_* column: every one of the {len(customers)} "
            "customers will be do_not_contact",
            "map the consent columns (tables.customers.columns.consent_email, ...) or, if every "
            "customer has agreed to be contacted, set tables.customers.defaults.consent_email: "
            "true", len(customers)))
    if bookings is not None and "booking_id" in bookings and not (
            bsource is not None and "booking_id" not in bsource.columns and "booking_id" not in
            headers.get("bookings", ["booking_id"])):
        ids = bookings["booking_id"].dropna().astype(str)
        lettered = ids.str.match(_CANCEL_ID)
        rest = ids[~lettered]
        if lettered.any() and lettered.mean() < 0.5 and len(rest) and rest.str.isdigit().mean(
        ) >= 0.9:
            letter = ids[lettered].str[0].value_counts().index[0]
            src = bsource.columns.get("booking_id", "booking_id") if bsource else "booking_id"
            s = f'"{src}"' if re.search(r"\W", src) else src
            cond = f"{s} NOT LIKE '{letter}%'"
            out.append(ShapeWarning(
                "cancellation_ids", "bookings",
                f"{int(lettered.sum())} booking ids start with a letter ({letter!r}) while the "
                "others are numbers: they look like cancellation invoices",
                f"drop them with tables.bookings.where: {_yaml(cond)} (or map "
                "them onto status cancelled)", int(lettered.sum())))
    if bookings is not None and "customer_id" in bookings and len(bookings):
        src = bsource.columns.get("customer_id", "customer_id") if bsource else "customer_id"
        out.extend(_key_warnings(bookings, src, key_counts(bookings) if counts is None
                                 else counts))
    return out


_KEY_SEPARATORS = ("|", ";", "/", "#", ":", "_", "-", " ", ",", "+")
COMPOSITE_MIN_PARTS = 3
"""A customer key whose values split into this many parts or more, none of them telling
customers apart, is warned as a surrogate built from profile fields."""
BUSY_BOOKINGS_PER_YEAR = 52
"""Bookings a year above which a travel customer is implausible (a booking a week: an agency,
a corporate account or a group key)."""
BUSY_MIN_SHARE = 0.1


def key_counts(bookings: pd.DataFrame) -> pd.Series:
    """Bookings per customer key (``customer_id`` as stripped text, missing left out), most
    first: what :func:`shape_warnings` and :func:`customer_key_problem` judge the key on."""
    return bookings["customer_id"].dropna().astype(str).str.strip().value_counts()


def _key_warnings(bookings: pd.DataFrame, source: str, counts: pd.Series) -> list[ShapeWarning]:
    """A customer key made of profile fields, or customers that book implausibly often."""
    out: list[ShapeWarning] = []
    n_ids = int(counts.sum())
    distinct = pd.Series(counts.index.to_numpy())
    if len(distinct) > 50_000:  # the shape shows on a sample of the values
        distinct = distinct.sample(50_000, random_state=0).reset_index(drop=True)
    if len(distinct) >= 20:
        for sep in _KEY_SEPARATORS:
            parts = distinct.str.split(sep, regex=False)
            if parts.str.len().ge(COMPOSITE_MIN_PARTS).mean() < 0.8:
                continue
            table = pd.DataFrame(parts.tolist()).iloc[:, :8]
            widest = table.nunique(dropna=True).max()
            if widest <= 0.2 * len(distinct):  # no part tells customers apart
                example = distinct.iloc[0]
                out.append(ShapeWarning(
                    "composite_key", "bookings",
                    f"the customer key {source!r} looks built from profile fields: its "
                    f"{len(distinct):,} values split at {sep!r} into {table.shape[1]} parts, "
                    f"none of which has more than {widest:,} values (e.g. {example!r}); one "
                    "such 'customer' is everyone with that profile",
                    "map a column that names the person (guest, member, loyalty or account "
                    "number): tables.bookings.columns.customer_id", n_ids))
                break
    dates = bookings.get("booking_date")
    if dates is not None and dates.notna().any():
        years = max((dates.max() - dates.min()).days, 365) / 365.25
        busy = counts[counts > BUSY_BOOKINGS_PER_YEAR * years]
        if len(busy) and busy.sum() > BUSY_MIN_SHARE * n_ids:
            out.append(ShapeWarning(
                "busy_customers", "bookings",
                f"{len(busy):,} customers hold {busy.sum() / n_ids:.0%} of the bookings, "
                f"each more than {BUSY_BOOKINGS_PER_YEAR} a year (e.g. {busy.index[0]!r}: "
                f"{int(busy.iloc[0]):,}): agencies, corporate accounts or a key that groups "
                "people",
                f"check the key tables.bookings.columns.customer_id ({source!r}); if these are "
                "accounts, filter them with tables.bookings.where", int(busy.sum())))
    return out


def customer_key_problem(bookings: pd.DataFrame, source_column: str = "customer_id",
                         counts: pd.Series | None = None) -> str | None:
    """Why the loaded bookings' ``customer_id`` cannot name customers, or None.

    A customer key has many values, a person holds few of the bookings, and some customers
    book twice. Refused: only flag values (0/1, yes/no, true/false), two values or fewer from
    :data:`KEY_FEW_VALUES_ROWS` bookings on, or,
    from :data:`KEY_MIN_ROWS` bookings on, one value on more than :data:`KEY_MAX_SHARE` of
    them, or a different value on every booking (a row or booking number).

    Parameters
    ----------
    bookings : the clean bookings (column ``customer_id``).
    source_column : the source column mapped onto ``customer_id``, for the message.
    counts : :func:`key_counts` of ``bookings`` when the caller has them.
    """
    if bookings is None or "customer_id" not in bookings or not len(bookings):
        return None
    counts = key_counts(bookings) if counts is None else counts
    if counts.empty:
        return None
    n, distinct = int(counts.sum()), len(counts)
    what = None
    flag = set(counts.index.str.lower()) <= _FLAG_VALUES
    if flag or (distinct <= 2 and n >= KEY_FEW_VALUES_ROWS):
        shown = ", ".join(f"{v!r} ({c:,})" for v, c in counts.head(3).items())
        what = (f"holds only {distinct} distinct value{'s' * (distinct != 1)} ({shown}) over "
                f"{n:,} bookings: {'a flag' if flag else 'a constant or a flag'}")
    elif n >= KEY_MIN_ROWS and counts.iloc[0] / n > KEY_MAX_SHARE:
        what = (f"gives {counts.index[0]!r} to {counts.iloc[0] / n:.0%} of the {n:,} bookings: "
                "a group, a category or a measure")
    elif n >= KEY_MIN_ROWS and distinct == n:
        what = (f"differs on every one of the {n:,} bookings (nobody books twice): a row or "
                "booking number")
    if what is None:
        return None
    return (f"the customer key {source_column!r} {what}, not a customer. Customer-level models "
            "(segments, churn, lifetime value, lists) need a column that names the customer on "
            "every booking (a guest, member, loyalty or account number); without one the data "
            "can still give a data-quality report and the booking mix, but not this job")
