"""The business words, one definition each: what a booking and a customer *are* on a date.

Every number the lab publishes (features, churn, scores, KPIs, campaign results, the
backtest) is built from these words, so two tables never disagree because each counted a
booking its own way. Each word is *as known on a date* ``d``: only rows dated on/before
``d`` and only statuses known by ``d`` (:func:`status_at`) are read.

Booking words
-------------
- **status at d** (:func:`status_at`): the recorded status once it was known
  (:func:`status_known_at`: ``status_date``, else the latest day it can have been set),
  else ``confirmed``. A cancellation recorded after ``d`` is an upcoming trip at ``d``.
- **purchase** (the *counted booking*, :func:`purchase_mask`): booked on/before ``d`` and
  its status at ``d`` is not ``cancelled`` / ``no_show`` (a missing status counts). Upcoming
  trips count: the customer has bought. A no-show does not count anywhere (no trip was
  taken, and a seat held but not used is not loyalty). Used by the BTYD summary, the
  first-trip table, the KPIs, the campaign results, the backtest and the customer words.
- **completed booking** (:func:`completed_mask`): a purchase whose trip is over at ``d``:
  status ``completed`` (or missing), or ``confirmed`` with the trip ended
  (``travel_start + nights`` days on/before ``d``); without travel dates a ``confirmed``
  booking is not completed. Used for what a customer *has travelled*: the customer
  features' counts, totals, stays and tiers (:mod:`src.features.customer`).

Customer words (window ``w`` days: the job's ``churn.gap_days``)
-----------------------------------------------------------------
- **active at d** (:func:`is_active`): a purchase dated in ``(d - w, d]``: a customer who
  is buying (the KPIs' active customers, the campaigns' retention).
- **at risk at d** (:func:`is_at_risk`): a completed booking dated in ``(d - w, d]``: lapse
  churn has not happened yet; **lapsed at d** (:func:`is_lapsed`): a completed booking
  on/before ``d`` but none in the window. Lapse churn is the first lapse
  (:func:`src.features.survival.lapse_survival_table`) and is scored, backtested and
  counted in the KPIs' churn rate on these words. It rests on completed bookings, not on
  purchases, because a purchase can still be cancelled later: a churn event dated from
  purchases would move when an upcoming trip is cancelled, and a completed trip never
  un-happens. So a customer who lapsed and has just booked a trip is *lapsed* and *active*
  at once: the win-back worked, the trip has not been taken yet.
- **won back at d** (:func:`is_won_back`): at risk, after an earlier gap of more than ``w``
  days between completed booking days.
- **repeat customer at d** (:func:`is_repeat`): purchases on two or more distinct calendar
  days by ``d`` (the BTYD ``frequency >= 1``; several bookings on one day are one purchase
  day).
- **cancelled member at d** (:func:`cancelled_members`): ``membership_cancel_date`` on/before
  ``d``: membership churn. **Retained at d** (:func:`is_retained`), the campaign outcome:
  active and not a cancelled member.

Dates: :func:`as_timestamp` (a date-like, time zone dropped), :func:`calendar_day` (the same
at midnight), :func:`as_dates` / :func:`as_days` (a column, as datetimes / calendar days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "BookingStates", "CANCELLED", "COMPLETED", "CONFIRMED", "NOT_PURCHASES", "NO_SHOW", "REPEAT_MIN_DAYS",
    "as_dates", "as_days", "as_timestamp", "calendar_day", "cancelled_members",
    "completed_bookings", "completed_mask", "customer_days", "has_trip_dates", "is_active",
    "is_at_risk", "is_lapsed", "is_repeat", "is_retained", "is_won_back", "purchase_mask", "purchases",
    "status_at", "status_known_at", "trip_end", "within_window",
]

COMPLETED, CONFIRMED, CANCELLED, NO_SHOW = "completed", "confirmed", "cancelled", "no_show"
NOT_PURCHASES: tuple[str, ...] = (CANCELLED, NO_SHOW)
"""Statuses (at ``d``) of bookings that are not purchases."""
REPEAT_MIN_DAYS = 2
"""A repeat customer has purchases on at least this many distinct calendar days."""


# ---- dates -------------------------------------------------------------------------------
def as_timestamp(value) -> pd.Timestamp:
    """A date-like as a time-zone-naive ``pandas.Timestamp`` (time of day kept)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts


def calendar_day(value) -> pd.Timestamp:
    """A date-like as a ``pandas.Timestamp`` at midnight (time zone dropped); a missing
    date raises ``ValueError``."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError("a cut-off date is missing")
    return as_timestamp(ts).normalize()


def as_dates(values: pd.Series) -> pd.Series:
    """A column as ``datetime64`` (parsed when it is not one already; time kept)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values)


def as_days(values: pd.Series) -> pd.Series:
    """A column as ``datetime64[ns]`` calendar days (midnight, time zone dropped)."""
    s = pd.to_datetime(values)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize()


def within_window(dates: np.ndarray, as_of: pd.Timestamp, days: int) -> np.ndarray:
    """Mask of ``dates`` (datetime64, any shape) in ``(as_of - days, as_of]``: the window
    of *active*. NaT is outside."""
    d = np.asarray(dates, dtype="datetime64[ns]")
    end = np.datetime64(pd.Timestamp(as_of), "ns")
    start = np.datetime64(pd.Timestamp(as_of) - pd.Timedelta(days=int(days)), "ns")
    return (d > start) & (d <= end)


# ---- trips and statuses ------------------------------------------------------------------
def has_trip_dates(bookings: pd.DataFrame) -> bool:
    """Whether the bookings carry travel dates (``travel_start``)."""
    return "travel_start" in bookings.columns


def trip_end(bookings: pd.DataFrame) -> pd.Series:
    """End of each trip: ``travel_start + nights`` days (missing nights: 0); the booking date
    where the trip dates are unknown or there are none. datetime64, index of ``bookings``."""
    booked = as_dates(bookings["booking_date"])
    if not has_trip_dates(bookings):
        return booked
    start = as_dates(bookings["travel_start"])
    if "nights" in bookings.columns:
        nights = pd.to_numeric(bookings["nights"], errors="coerce").fillna(0).to_numpy()
        start = start + pd.to_timedelta(nights, unit="D")
    return start.fillna(booked)


def status_known_at(bookings: pd.DataFrame) -> pd.Series:
    """The date from which each booking's recorded (final) ``status`` was known.

    ``status_date`` when the bookings carry it (the dated history of the contract); without
    it, the latest date the status can have been set, so a past cut-off never sees a status
    that was set later: ``completed`` at the end of the trip (:func:`trip_end`),
    ``cancelled`` / ``no_show`` at the trip start (the booking date without travel dates),
    anything else at the booking date.

    Returns
    -------
    pandas.Series of datetime64[ns], index of ``bookings``.
    """
    booked = as_dates(bookings["booking_date"])
    if "status" not in bookings.columns:
        return booked
    status = bookings["status"].astype(object)
    start = (as_dates(bookings["travel_start"]).fillna(booked)
             if has_trip_dates(bookings) else booked)
    known = booked.copy()
    completed = (status == COMPLETED).to_numpy()
    ended = status.isin(NOT_PURCHASES).to_numpy()
    if has_trip_dates(bookings):
        known[completed] = trip_end(bookings)[completed]
    known[ended] = start[ended]
    if "status_date" in bookings.columns:
        dated = as_dates(bookings["status_date"])
        known = dated.where(dated.notna(), known)
    return known


def status_at(bookings: pd.DataFrame, as_of) -> pd.Series:
    """Each booking's status as it was known at ``as_of``: the recorded status once it was
    known (:func:`status_known_at` on/before ``as_of``), else ``confirmed``; missing stays
    missing. pandas.Series (object: status text or None), index of ``bookings``."""
    status = bookings["status"].astype(object)
    known = (status_known_at(bookings) <= as_timestamp(as_of)).to_numpy()
    return status.where(known | status.isna().to_numpy(), CONFIRMED)


# ---- booking words -----------------------------------------------------------------------
_NAT = np.datetime64("NaT", "ns")


class BookingStates:
    """What each booking is at any date, from arrays read once: the booking day, the trip
    end, the recorded status and the date it became known (:func:`status_known_at`).

    ``purchase(d)`` and ``completed(d)`` are the masks of :func:`purchase_mask` and
    :func:`completed_mask` (shape (n_bookings,)); a caller asking about many dates (the
    KPIs' months) builds this once instead of re-reading the table per date.
    """

    def __init__(self, bookings: pd.DataFrame) -> None:
        self.booked = as_dates(bookings["booking_date"]).to_numpy("datetime64[ns]")
        self.booked_day = as_days(bookings["booking_date"]).to_numpy("datetime64[ns]")
        self.dated = has_trip_dates(bookings)
        self.end = trip_end(bookings).to_numpy("datetime64[ns]") if self.dated else None
        n = len(bookings)
        self.has_status = "status" in bookings.columns
        if self.has_status:
            status = bookings["status"].astype(object)
            self.status = status.to_numpy()
            self.missing = status.isna().to_numpy()
            self.completed_final = (status == COMPLETED).to_numpy()
            self.confirmed_final = (status == CONFIRMED).to_numpy()
            self.void_final = status.isin(NOT_PURCHASES).to_numpy()
            self.known = status_known_at(bookings).to_numpy("datetime64[ns]")
        else:
            self.status = np.full(n, None, dtype=object)
            self.missing = np.ones(n, dtype=bool)
            self.completed_final = self.confirmed_final = self.void_final = np.zeros(n, bool)
            self.known = self.booked

    def _known(self, d: np.datetime64) -> np.ndarray:
        return self.known <= d

    def status_is(self, value: str, as_of) -> np.ndarray:
        """Mask of the bookings whose status at ``as_of`` (:func:`status_at`) is ``value``
        (a recorded status other than ``confirmed``)."""
        d = np.datetime64(as_timestamp(as_of), "ns")
        return (self.status == value) & self._known(d)

    def purchase(self, as_of) -> np.ndarray:
        """Mask of the purchases at ``as_of`` (compared on calendar days)."""
        day = calendar_day(as_of)
        d = np.datetime64(day, "ns")
        return (self.booked_day <= d) & ~(self.void_final & self._known(d))

    def completed(self, as_of) -> np.ndarray:
        """Mask of the completed bookings at ``as_of`` (its time of day kept)."""
        d = np.datetime64(as_timestamp(as_of), "ns")
        mask = self.booked <= d
        if self.has_status:
            known = self._known(d)
            # the status at d: the recorded one once known, else confirmed
            ok = self.missing | (self.completed_final & known)
            if self.dated:
                ok |= ~known & ~self.missing
                ok |= self.confirmed_final
            mask &= ok
        if self.dated:
            mask &= self.end <= d
        return mask


def purchase_mask(bookings: pd.DataFrame, as_of) -> np.ndarray:
    """Mask of the *purchases* at ``as_of`` (see the module notes), shape (n_bookings,).

    ``bookings`` needs ``booking_date`` (``status`` optional); the booking day is compared
    with the calendar day of ``as_of``."""
    return BookingStates(bookings).purchase(as_of)


def completed_mask(bookings: pd.DataFrame, as_of) -> np.ndarray:
    """Mask of the *completed bookings* at ``as_of`` (see the module notes), shape
    (n_bookings,). ``as_of`` keeps its time of day: a trip ending later that day has not
    ended."""
    return BookingStates(bookings).completed(as_of)


def purchases(bookings: pd.DataFrame, as_of) -> pd.DataFrame:
    """The purchase rows at ``as_of`` (:func:`purchase_mask`): original columns and index,
    ``booking_date`` as the calendar day. Needs ``customer_id`` and ``booking_date``."""
    for col in ("customer_id", "booking_date"):
        if col not in bookings.columns:
            raise KeyError(f"bookings has no {col!r} column (columns: {list(bookings.columns)})")
    keep = purchase_mask(bookings, as_of)
    out = bookings.loc[keep].copy()
    out["booking_date"] = as_days(out["booking_date"])
    return out


def completed_bookings(bookings: pd.DataFrame, as_of) -> pd.DataFrame:
    """The completed-booking rows at ``as_of`` (:func:`completed_mask`), same columns and
    original index."""
    return bookings.loc[completed_mask(bookings, as_of)]


# ---- customer words ----------------------------------------------------------------------
def customer_days(bookings: pd.DataFrame, as_of, *, kind: str = "purchase") -> pd.DataFrame:
    """Per customer with a purchase (``kind="purchase"``) or a completed booking
    (``kind="completed"``) at ``as_of``: ``days`` (distinct booking days of that kind),
    ``last`` (the last such day, datetime64[ns]) and ``max_gap_days`` (the longest gap
    between consecutive such days, days; NaN with one day). Index ``customer_id``, sorted."""
    if kind not in ("purchase", "completed"):
        raise ValueError(f"kind must be 'purchase' or 'completed', not {kind!r}")
    states = BookingStates(bookings)
    keep = states.purchase(as_of) if kind == "purchase" else states.completed(as_of)
    code, ids = pd.factorize(bookings["customer_id"].to_numpy()[keep], sort=True)
    day = states.booked_day[keep].astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, code))
    c, d = code[order], day[order]
    first = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])] if len(c) else np.zeros(0, bool)
    c, d = c[first], d[first]
    n = len(ids)
    gaps = np.r_[np.nan, np.diff(d).astype(float)] if len(d) else np.zeros(0)
    gaps[np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)] = np.nan
    max_gap = np.full(n, np.nan)
    ok = ~np.isnan(gaps)
    np.fmax.at(max_gap, c[ok], gaps[ok])
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, c, d)
    return pd.DataFrame({"days": np.bincount(c, minlength=n).astype(np.int64),
                         "last": last.astype("datetime64[D]").astype("datetime64[ns]"),
                         "max_gap_days": max_gap},
                        index=pd.Index(np.asarray(ids), name="customer_id"))


def is_active(last_purchase: np.ndarray, as_of, window_days: int) -> np.ndarray:
    """*Active at d*: the last purchase (datetime64 per customer, NaT: none) is in
    ``(d - window_days, d]``. Boolean, the shape of ``last_purchase``."""
    return within_window(last_purchase, calendar_day(as_of), window_days)


def is_at_risk(last_completed: np.ndarray, as_of, window_days: int) -> np.ndarray:
    """*At risk* of lapse churn at d: the last completed booking (datetime64 per customer,
    NaT: none) is in ``(d - window_days, d]``: not lapsed yet."""
    return within_window(last_completed, calendar_day(as_of), window_days)


def is_lapsed(last_completed: np.ndarray, as_of, window_days: int) -> np.ndarray:
    """*Lapsed at d*: a completed booking on/before ``d`` but none in the window: the lapse
    churn event has happened."""
    last = np.asarray(last_completed, dtype="datetime64[ns]")
    travelled = ~np.isnat(last) & (last <= np.datetime64(calendar_day(as_of), "ns"))
    return travelled & ~is_at_risk(last, as_of, window_days)


def is_won_back(last_completed: np.ndarray, max_gap_days: np.ndarray, as_of,
                window_days: int) -> np.ndarray:
    """*Won back at d*: at risk again after an earlier lapse, a gap of more than
    ``window_days`` days between completed booking days (``max_gap_days``, NaN: one day)."""
    gap = np.asarray(max_gap_days, dtype=float)
    with np.errstate(invalid="ignore"):
        return is_at_risk(last_completed, as_of, window_days) & (gap > window_days)


def is_repeat(purchase_days: np.ndarray) -> np.ndarray:
    """*Repeat customer*: purchases on :data:`REPEAT_MIN_DAYS` or more distinct days
    (``purchase_days``; the BTYD ``frequency + 1``). NaN is not a repeat customer."""
    with np.errstate(invalid="ignore"):
        return np.asarray(purchase_days, dtype=float) >= REPEAT_MIN_DAYS


def cancelled_members(customers: pd.DataFrame | None, ids: pd.Index, as_of,
                      cancel_col: str = "membership_cancel_date") -> np.ndarray:
    """*Cancelled member at d* for each of ``ids``: ``cancel_col`` on/before ``d`` (the last
    customers row per id). All False without the table or the column. Shape (len(ids),)."""
    if customers is None or cancel_col not in customers.columns:
        return np.zeros(len(ids), dtype=bool)
    c = customers.drop_duplicates("customer_id", keep="last")
    cancel = pd.Series(pd.to_datetime(c[cancel_col], errors="coerce").to_numpy(),
                       index=c["customer_id"].astype(str)).reindex(ids.astype(str))
    return (cancel.notna() & (cancel <= calendar_day(as_of))).to_numpy()


def is_retained(last_purchase: np.ndarray, cancelled: np.ndarray, as_of,
                window_days: int) -> np.ndarray:
    """*Retained at d*: active and not a cancelled member (``cancelled``, boolean)."""
    return is_active(last_purchase, as_of, window_days) & ~np.asarray(cancelled, dtype=bool)
