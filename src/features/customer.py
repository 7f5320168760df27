"""Customer-level features as of a cut-off date, shared by segmentation, churn and CLV.

Every feature is computed from rows dated on or before ``cutoff_date`` only (bookings by
``booking_date``, interactions by ``timestamp``, feedback by ``date``, customers by
``signup_date``), so adding later rows never changes a feature (no leakage).

Decisions
---------
- What a booking is at the cut-off - its status then, *completed* or not - is defined once,
  in :mod:`src.features.definitions` (:func:`~src.features.definitions.status_at`,
  :func:`~src.features.definitions.completed_mask`). The counts, totals, dates, mixes and
  tiers here are over the *completed* bookings: what the customer has travelled.
- Customers known at the cut-off: anyone with a booking (any status), interaction or feedback
  dated on/before the cut-off, plus customers-table rows with ``signup_date`` on/before it.
  Customers whose bookings were all cancelled (or not yet travelled) do **not** vanish: they
  appear with ``n_bookings == 0``, ``monetary_total == 0`` and missing (NaN/NaT) recency,
  dates and mixes.
- Amounts are taken as given after refunds: zero and negative amounts enter the totals.
- ``frequency`` follows the BTYD convention: the number of *repeat booking days* (distinct
  completed booking days minus one); several bookings on one day count once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from src.data.contract import COMPLAINT_CATEGORIES
from src.features.attributes import (
    TierRule,
    point_in_time_attributes,
    recent_trip_counts,
)
from src.features.definitions import (
    CANCELLED,
    NO_SHOW,
    BookingStates,
    as_dates,
    as_timestamp,
    completed_bookings,
    trip_end,
)

__all__ = ["booking_gaps", "customer_features", "CUSTOMER_ATTRIBUTES"]

CUSTOMER_ATTRIBUTES: tuple[str, ...] = (
    "customer_type",
    "acquisition_channel",
)
"""Columns copied from the customers table as they are: fixed at sign-up. Attributes that
change (membership, tier) are rebuilt as of the cut-off by
:func:`src.features.attributes.point_in_time_attributes`."""

MIX_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("product", "product", ()),
    ("destination_type", "dest", ()),
    ("channel", "channel", ()),
)
"""(bookings column, feature prefix, levels always given a column) of the share-of-bookings
mixes. Products, destination types and channels are the company's words (its vocabulary), so
none is fixed here: a mix has one column per level observed among the completed bookings up
to the cut-off, sorted."""
_DAY = np.timedelta64(1, "D")


def _level_codes(values: pd.Series, contract_levels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes of ``values`` into the levels: contract levels first, then any other observed
    value (sorted), so the columns do not depend on row order; -1 for missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw, uniques = values.cat.codes.to_numpy(), values.cat.categories
        used = np.unique(raw[raw >= 0])
        uniques_used = uniques[used].astype(str)
    else:
        raw, uniques = pd.factorize(values)
        uniques_used = pd.Index(uniques).astype(str)
    extra = sorted(set(uniques_used) - set(contract_levels))
    levels = list(contract_levels) + extra
    lookup = pd.Index(levels).get_indexer(pd.Index(uniques).astype(str))
    lookup = np.append(lookup, -1)  # raw code -1 (missing) -> -1
    return lookup[raw], levels


def _count_matrix(codes: np.ndarray, k: np.ndarray, n_levels: int, n: int) -> np.ndarray:
    """(n, n_levels) counts of each level code ``k`` per customer code (-1 ignored)."""
    keep = k >= 0
    flat = codes[keep] * n_levels + k[keep]
    return np.bincount(flat, minlength=n * n_levels).reshape(n, n_levels)


def _mean(codes: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Per-customer mean of ``x`` ignoring NaN; NaN where a customer has no value."""
    ok = ~np.isnan(x)
    s = np.bincount(codes[ok], weights=x[ok], minlength=n)
    c = np.bincount(codes[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def customer_features(
    bookings: pd.DataFrame,
    cutoff_date,
    *,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    snapshot_date=None,
    tier_rule: TierRule | None = None,
) -> pd.DataFrame:
    """One row of features per customer known at ``cutoff_date``.

    Computed afresh on every call; :func:`src.features.cache.features_at` serves the same
    frame from a run's feature cache.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``, ``amount``
        required; ``status``, ``travel_start``, ``nights``, ``party_size``, ``product``,
        ``destination_type``, ``channel`` optional).
    cutoff_date : date-like; only rows dated on/before it are used.
    customers, interactions, feedback : optional contract tables.
    snapshot_date : the date the customers table describes (the data's as-of date); None:
        unknown, snapshot columns are left out at every cut-off.
    tier_rule : :class:`~src.features.attributes.TierRule` to rebuild ``member_tier`` as of
        the cut-off.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (sorted), one row per known customer. Columns (those whose
        inputs are missing are absent; ``df.attrs["missing_inputs"]`` names the inputs):

        - ``n_bookings`` (completed), ``n_cancelled`` (status cancelled), ``n_no_show``,
          ``n_upcoming_trips`` (booked, not cancelled, trip not ended): int32
        - ``first_booking_date``, ``last_booking_date``: datetime64 (completed bookings)
        - ``recency_days`` (cut-off - last), ``tenure_days`` (cut-off - first),
          ``active_span_days`` (last - first), ``frequency`` (repeat booking days),
          ``avg_days_between_bookings`` (active span / frequency; NaN with one booking day):
          float32, days
        - ``monetary_total``, ``monetary_mean`` (per completed booking): float64, currency
        - ``lead_time_days_mean``, ``party_size_mean``, ``nights_mean``: float32
        - ``product_<p>``, ``dest_<d>``, ``channel_<c>``: float32 shares of completed
          bookings with a known value (NaN when none)
        - ``complaints_<category>``, ``complaints_total``: float32 counts
        - ``csat_mean``, ``nps_mean``, ``first_trip_csat``: float32
        - ``customer_type``, ``acquisition_channel`` (category), copied from ``customers``;
          ``loyalty_member`` (boolean), ``membership_cancelled`` (1/0) and ``member_tier``
          as of the cut-off (:func:`src.features.attributes.point_in_time_attributes`:
          rebuilt from dates / the tier rule, a snapshot only at cut-offs on/after
          ``snapshot_date``; ``attrs["snapshot_excluded"]`` names what was left out).
    """
    cutoff = as_timestamp(cutoff_date)
    return _customer_features(bookings, cutoff, customers=customers, interactions=interactions,
                              feedback=feedback, snapshot_date=snapshot_date, tier_rule=tier_rule)


def _customer_features(
    bookings: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    snapshot_date=None,
    tier_rule: TierRule | None = None,
) -> pd.DataFrame:
    missing: list[str] = []
    b_cols = set(bookings.columns)

    booked = bookings.loc[(as_dates(bookings["booking_date"]) <= cutoff).to_numpy()]
    states = BookingStates(booked)  # read once: completed, cancelled, upcoming
    done_mask = states.completed(cutoff)
    done = booked.loc[done_mask]

    # ---- who is known at the cut-off -------------------------------------------------------
    id_sources = [booked["customer_id"]]
    inter = None
    if interactions is None:
        missing.append("interactions")
    else:
        day_after = cutoff.normalize() + pd.Timedelta(days=1)
        ts = as_dates(interactions["timestamp"])
        inter = interactions.loc[(ts < day_after).to_numpy()]
        id_sources.append(inter["customer_id"])
    fb = None
    if feedback is None:
        missing.append("feedback")
    else:
        fb = feedback.loc[(as_dates(feedback["date"]) <= cutoff).to_numpy()]
        id_sources.append(fb["customer_id"])
    if customers is None:
        missing.append("customers")
    elif "signup_date" in customers.columns:
        signed = customers.loc[(as_dates(customers["signup_date"]) <= cutoff).to_numpy()]
        id_sources.append(signed["customer_id"])
    ids = pd.Index(pd.concat([pd.Series(s.to_numpy()) for s in id_sources]).unique())
    ids = ids.sort_values()
    ids.name = "customer_id"
    n = len(ids)
    out: dict[str, np.ndarray | pd.Series] = {}

    # ---- counts ------------------------------------------------------------------------------
    bcode = ids.get_indexer(booked["customer_id"]).astype(np.int64)
    code = bcode[done_mask]
    n_book = np.bincount(code, minlength=n)
    out["n_bookings"] = n_book.astype(np.int32)
    if states.has_status:
        for name, value in (("n_cancelled", CANCELLED), ("n_no_show", NO_SHOW)):
            out[name] = np.bincount(bcode[states.status_is(value, cutoff)], minlength=n).astype(
                np.int32
            )
    else:
        missing.append("bookings.status")
    if "travel_start" in b_cols:
        void = states.status_is(CANCELLED, cutoff) | states.status_is(NO_SHOW, cutoff)
        upcoming = (states.end > np.datetime64(cutoff, "ns")) & ~void
        out["n_upcoming_trips"] = np.bincount(bcode[upcoming], minlength=n).astype(np.int32)

    # ---- dates, recency, frequency -----------------------------------------------------------
    bdate = as_dates(done["booking_date"]).to_numpy(dtype="datetime64[ns]")
    # one sort by (customer, date; ties in row order) gives first/last dates, booking days
    # and the first trip
    order = np.lexsort((bdate, code))
    sc, sd = code[order], bdate[order]
    starts = np.r_[True, sc[1:] != sc[:-1]] if len(sc) else np.zeros(0, bool)
    ends = np.r_[sc[1:] != sc[:-1], True] if len(sc) else np.zeros(0, bool)
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    last = first.copy()
    first[sc[starts]] = sd[starts]
    last[sc[ends]] = sd[ends]
    first_row = np.full(n, -1, dtype=np.int64)  # position in `done` of the first booking
    first_row[sc[starts]] = order[starts]
    out["first_booking_date"] = first
    out["last_booking_date"] = last
    cut64 = np.datetime64(cutoff.to_datetime64(), "ns")
    out["recency_days"] = _f32((cut64 - last) / _DAY)
    out["tenure_days"] = _f32((cut64 - first) / _DAY)
    span = (last - first) / _DAY
    out["active_span_days"] = _f32(span)
    sday = sd.astype("datetime64[D]")
    new_day = np.r_[True, (sc[1:] != sc[:-1]) | (sday[1:] != sday[:-1])] if len(sc) \
        else np.zeros(0, bool)
    n_days = np.bincount(sc[new_day], minlength=n)
    freq = np.maximum(n_days - 1, 0).astype(np.float64)
    out["frequency"] = _f32(freq)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["avg_days_between_bookings"] = _f32(np.where(freq > 0, span / freq, np.nan))

    # ---- money -------------------------------------------------------------------------------
    amount = pd.to_numeric(done["amount"], errors="coerce").to_numpy(dtype=np.float64)
    amount = np.nan_to_num(amount, nan=0.0)
    total = np.bincount(code, weights=amount, minlength=n).astype(np.float64)  # int64 if empty
    out["monetary_total"] = total
    with np.errstate(invalid="ignore", divide="ignore"):
        out["monetary_mean"] = np.where(n_book > 0, total / np.maximum(n_book, 1), np.nan)

    # ---- trip shape --------------------------------------------------------------------------
    if "travel_start" in b_cols:
        lead = (as_dates(done["travel_start"]) - as_dates(done["booking_date"])) / pd.Timedelta(days=1)
        out["lead_time_days_mean"] = _f32(_mean(code, lead.to_numpy(dtype=np.float64), n))
    else:
        missing.append("bookings.travel_start")
    for col in ("party_size", "nights"):
        if col in b_cols:
            x = pd.to_numeric(done[col], errors="coerce").to_numpy(dtype=np.float64)
            out[f"{col}_mean"] = _f32(_mean(code, x, n))
        else:
            missing.append(f"bookings.{col}")

    # ---- mixes -------------------------------------------------------------------------------
    for col, prefix, contract_levels in MIX_COLUMNS:
        if col not in b_cols:
            missing.append(f"bookings.{col}")
            continue
        k, levels = _level_codes(done[col], contract_levels)
        counts = _count_matrix(code, k, len(levels), n)
        denom = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(denom > 0, counts / np.maximum(denom, 1), np.nan)
        for j, level in enumerate(levels):
            out[f"{prefix}_{level}"] = _f32(shares[:, j])

    # ---- complaints --------------------------------------------------------------------------
    if inter is not None:
        is_complaint = (inter["kind"] == "complaint").to_numpy()
        comp = inter.loc[is_complaint]
        ccode = ids.get_indexer(comp["customer_id"]).astype(np.int64)
        if "complaint_category" in inter.columns:
            k, levels = _level_codes(comp["complaint_category"], COMPLAINT_CATEGORIES)
            counts = _count_matrix(ccode, k, len(levels), n)
            for j, level in enumerate(levels):
                out[f"complaints_{level}"] = _f32(counts[:, j])
        else:
            missing.append("interactions.complaint_category")
        out["complaints_total"] = _f32(np.bincount(ccode, minlength=n))

    # ---- satisfaction ------------------------------------------------------------------------
    if fb is not None:
        fcode = ids.get_indexer(fb["customer_id"]).astype(np.int64)
        for col in ("csat", "nps"):
            if col in fb.columns:
                x = pd.to_numeric(fb[col], errors="coerce").to_numpy(dtype=np.float64)
                out[f"{col}_mean"] = _f32(_mean(fcode, x, n))
            else:
                missing.append(f"feedback.{col}")
        if "csat" in fb.columns:
            out["first_trip_csat"] = _f32(_first_trip_csat(done, first_row, fb, fcode, n))

    frame = pd.DataFrame(out, index=ids)

    # ---- customer attributes -----------------------------------------------------------------
    if customers is not None:
        attrs = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        for col in CUSTOMER_ATTRIBUTES:
            if col not in attrs.columns:
                missing.append(f"customers.{col}")
                continue
            s = attrs[col].reindex(ids)
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("category")
            frame[col] = s.values
    recent = None
    if tier_rule is not None:
        end = trip_end(done)
        recent = recent_trip_counts(end, code, n, cutoff, tier_rule.window_days)
    point_in_time_attributes(frame, cutoff, customers=customers, trips_ever=n_book,
                             trips_recent=recent, tier_rule=tier_rule,
                             snapshot_date=None if snapshot_date is None
                             else as_timestamp(snapshot_date))
    frame.attrs["missing_inputs"] = missing
    frame.attrs["cutoff_date"] = str(cutoff.date())
    return frame


def _first_trip_csat(
    done: pd.DataFrame, first_row: np.ndarray, fb: pd.DataFrame, fcode: np.ndarray, n: int
) -> np.ndarray:
    """CSAT of the first completed trip: the earliest survey linked to the customer's first
    completed booking by ``booking_id``; without that link (no ``booking_id`` in the surveys,
    or a survey without one), the customer's earliest survey."""
    res = np.full(n, np.nan)
    csat = pd.to_numeric(fb["csat"], errors="coerce").to_numpy(dtype=np.float64)
    date = as_dates(fb["date"]).to_numpy(dtype="datetime64[ns]")
    has = ~np.isnan(csat)
    if not has.any():
        return res
    fb_ids = fb["booking_id"].to_numpy(dtype=object) if "booking_id" in fb.columns else None

    def earliest(rows: np.ndarray) -> None:
        if rows.size == 0:  # e.g. no survey links to a booking of the table
            return
        rows = rows[np.lexsort((date[rows], fcode[rows]))]
        c = fcode[rows]
        start = np.r_[True, c[1:] != c[:-1]]
        todo = np.isnan(res[c[start]])
        res[c[start][todo]] = csat[rows[start][todo]]

    if fb_ids is not None and "booking_id" in done.columns and len(done):
        first_bid = np.full(n, None, dtype=object)
        known = first_row >= 0
        first_bid[known] = done["booking_id"].to_numpy(dtype=object)[first_row[known]]
        linked = has & (fb_ids == first_bid[fcode])
        earliest(np.flatnonzero(linked))
        unlinked = has & pd.isna(fb_ids)
        if unlinked.any():
            earliest(np.flatnonzero(unlinked))
        return res
    earliest(np.flatnonzero(has))
    return res


def booking_gaps(bookings: pd.DataFrame, cutoff_date) -> pd.DataFrame:
    """Gaps between consecutive completed booking days per customer, as of ``cutoff_date``.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``; ``status``,
        ``travel_start``, ``nights`` optional), shape (n_bookings, ...).
    cutoff_date : date-like; completed bookings as :func:`~src.features.definitions.completed_bookings` defines them.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (customers with a completed booking), float64 days:
    ``max_gap_days`` (longest gap between consecutive booking days) and ``last_gap_days``
    (the gap just before the last booking day); NaN with a single booking day.
    """
    done = completed_bookings(bookings, cutoff_date)
    code, ids = pd.factorize(done["customer_id"].to_numpy(), sort=True)
    day = pd.to_datetime(done["booking_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, code))
    c, d = code[order], day[order]
    distinct = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])] if len(c) else np.zeros(0, bool)
    c, d = c[distinct], d[distinct].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, np.int64)
    gap = np.r_[np.nan, np.diff(d)] if len(d) else np.zeros(0)
    gap[starts] = np.nan  # the first day of a customer has no gap before it
    ends = np.r_[starts[1:] - 1, len(c) - 1] if len(c) else np.zeros(0, np.int64)
    with np.errstate(invalid="ignore"):
        max_gap = np.fmax.reduceat(gap, starts) if len(c) else np.zeros(0)
    out = pd.DataFrame({"max_gap_days": max_gap, "last_gap_days": gap[ends]},
                       index=pd.Index(np.asarray(ids)[c[starts]], name="customer_id"))
    return out.astype(float)
