"""The bookings of the synthetic data: BG/NBD purchase process, trip attributes, extras, table.

Transaction times are in **days** since the start date (floats; booking dates are their
floor), purchase rates ``lambda`` in bookings per day, lead times and nights in days, amounts in
:data:`~src.data.synthetic.planted.CURRENCY`. :func:`simulate_bgnbd` draws the process,
:func:`booking_attributes` the product, destination, channel, party size, nights and the
season-tilted lead time of each booking, :func:`draw_extra_bookings` the ``cancelled`` /
``no_show`` noise, :func:`draw_leaving_cancellations` the trips leaving customers cancel,
:func:`status_days` the day each status was set, and :func:`bookings_table` assembles the contract ``bookings`` table;
:func:`bgnbd_expected_repeat_bookings` is the closed-form BG/NBD expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from src.data.contract import BOOKING_STATUSES
from src.data.synthetic.planted import (
    CURRENCY,
    DESTINATIONS,
    EXTRA_BOOKING_RATE,
    EXTRA_NO_SHOW_SHARE,
    LEAD_TIME_CANDIDATES,
    LEAVING_CANCEL_RATE,
    MAX_LEAD_DAYS,
    SEASON_PEAKS,
    Persona,
)
from src.data.synthetic.sampling import (
    days_to_datetime,
    draw_categorical,
    persona_values,
    prob_matrix,
    zfill_ids,
)
from src.data.synthetic.vocabularies import BOOKING_CHANNELS, DESTINATION_TYPES, PRODUCTS

__all__ = [
    "BookingDraws",
    "bgnbd_expected_repeat_bookings",
    "booking_attributes",
    "bookings_table",
    "concat_draws",
    "draw_extra_bookings",
    "season_table",
    "simulate_bgnbd",
]


@dataclass
class BookingDraws:
    """Drawn bookings, one entry per booking in every array (shape (m,)).

    Attributes
    ----------
    cust : customer index (0-based).
    time : transaction time, float days since the start date.
    day : booking day, integer days since the start date (``floor(time)``).
    attrs : :func:`booking_attributes` of the bookings.
    status : index into ``BOOKING_STATUSES``.
    amount : booking amount (currency), unrounded.
    """

    cust: np.ndarray
    time: np.ndarray
    day: np.ndarray
    attrs: dict[str, np.ndarray]
    status: np.ndarray
    amount: np.ndarray

    @property
    def trip_end(self) -> np.ndarray:
        """Trip end, integer days since the start date (booking day + lead time + nights)."""
        return self.day + self.attrs["lead_days"] + self.attrs["nights"]


def concat_draws(first: BookingDraws, second: BookingDraws) -> BookingDraws:
    """The bookings of ``first`` followed by those of ``second`` (status as int8)."""
    return BookingDraws(
        cust=np.concatenate([first.cust, second.cust]),
        time=np.concatenate([first.time, second.time]),
        day=np.concatenate([first.day, second.day]),
        attrs={k_: np.concatenate([first.attrs[k_], second.attrs[k_]]) for k_ in first.attrs},
        status=np.concatenate([first.status, second.status]).astype(np.int8),
        amount=np.concatenate([first.amount, second.amount]),
    )


def _season_weight(doy: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """Season weight of travel dates (see :data:`SEASON_PEAKS`).

    Parameters
    ----------
    doy : (...,) 0-based day of year of the travel date.
    amplitudes : (..., 4) amplitude of each peak for each row.
    """
    w = np.ones(np.broadcast_shapes(doy.shape, amplitudes.shape[:-1]))
    for m, (centre, sd) in enumerate(SEASON_PEAKS.values()):
        d = np.abs(doy - centre)
        d = np.minimum(d, 365.0 - d)
        w += amplitudes[..., m] * np.exp(-0.5 * (d / sd) ** 2)
    return w


def season_table(start: np.datetime64, n_days: int, personas: list[Persona]) -> np.ndarray:
    """Season weight of every travel day ``start + d`` for every persona, (n_personas, n_days)."""
    days = start + np.arange(n_days).astype("timedelta64[D]")
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64).astype(float)
    amp = np.array([p.season_amplitudes for p in personas])
    return _season_weight(doy[None, :], amp[:, None, :])


def simulate_bgnbd(
    rng: np.random.Generator,
    acq: np.ndarray,
    lam: np.ndarray,
    n_repeat: np.ndarray,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD transaction times of every customer within ``[acq, horizon)``.

    Loops over the repeat index ``k``, on the customers still active (alive and inside the
    window). Customer ``i`` makes at most ``n_repeat[i]`` repeat bookings (dropout after the
    last one).

    Returns
    -------
    cust : (m,) int32 customer index; time : (m,) float64 days since start;
    k : (m,) int32 transaction index (0 = first booking).
    """
    n = acq.shape[0]
    custs = [np.arange(n, dtype=np.int32)]
    times = [acq]
    ks = [np.zeros(n, dtype=np.int32)]
    active = np.arange(n, dtype=np.int32)
    t_act = acq.copy()
    k = 0
    while active.size:
        k += 1
        t_act = t_act + rng.exponential(1.0, active.size) / lam[active]
        ok = t_act < horizon
        active, t_act = active[ok], t_act[ok]
        custs.append(active)
        times.append(t_act)
        ks.append(np.full(active.size, k, dtype=np.int32))
        keep = n_repeat[active] > k
        active, t_act = active[keep], t_act[keep]
    return np.concatenate(custs), np.concatenate(times), np.concatenate(ks)


def booking_attributes(
    rng: np.random.Generator,
    persona: np.ndarray,
    preferred_channel: np.ndarray,
    booking_day: np.ndarray,
    season: np.ndarray,
    personas: list[Persona],
) -> dict[str, np.ndarray]:
    """Product, destination, channel, party size, nights, lead time of each booking.

    ``booking_day`` are integer days since the start date; ``season`` comes from
    :func:`season_table` (it must cover ``booking_day + MAX_LEAD_DAYS``).
    """
    m = persona.shape[0]
    out: dict[str, np.ndarray] = {}
    out["product"] = draw_categorical(rng, persona, prob_matrix("product_probs", personas))
    dtype_idx = draw_categorical(rng, persona, prob_matrix("destination_type_probs", personas))
    out["destination_type"] = dtype_idx
    # destination uniform within its type: flat list of all destinations
    sizes = np.array([len(DESTINATIONS[t]) for t in DESTINATION_TYPES])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out["destination"] = (offsets[dtype_idx] + (rng.random(m) * sizes[dtype_idx]).astype(int)
                          ).astype(np.int16)
    fresh = draw_categorical(rng, persona, prob_matrix("channel_probs", personas))
    stick = np.array([p.channel_stickiness for p in personas])[persona]
    out["channel"] = np.where(rng.random(m) < stick, preferred_channel, fresh).astype(np.int16)
    out["party_size"] = (draw_categorical(rng, persona, prob_matrix("party_size_probs", personas))
                         + 1).astype(np.int16)
    out["nights"] = (draw_categorical(rng, persona, prob_matrix("nights_probs", personas))
                     + 1).astype(np.int16)
    # lead time: Gamma proposal, tilted towards peak seasons
    kc = LEAD_TIME_CANDIDATES
    cand = np.empty((m, kc), dtype=np.int32)
    for g, p in enumerate(personas):
        rows = np.flatnonzero(persona == g)
        draw = p.lead_time_scale_days * rng.standard_gamma(p.lead_time_shape, (rows.size, kc))
        cand[rows] = np.minimum(p.lead_time_min_days + np.rint(draw), MAX_LEAD_DAYS)
    flat_index = (persona.astype(np.int64) * season.shape[1] + booking_day)[:, None] + cand
    w = season.ravel()[flat_index]
    cw = np.cumsum(w, axis=1)
    u = rng.random(m) * cw[:, -1]
    j = np.minimum((cw < u[:, None]).sum(axis=1), kc - 1)
    out["lead_days"] = cand[np.arange(m), j]
    return out


def draw_extra_bookings(
    rng: np.random.Generator,
    process: BookingDraws,
    acq: np.ndarray,
    persona: np.ndarray,
    preferred_channel: np.ndarray,
    nu: np.ndarray,
    season: np.ndarray,
    personas: list[Persona],
    end_day: int,
) -> BookingDraws:
    """Extra ``cancelled`` / ``no_show`` bookings, not part of the BG/NBD process.

    Each process booking spawns one with probability :data:`EXTRA_BOOKING_RATE`, placed 1-30
    days before it (never before the customer's acquisition); a share
    :data:`EXTRA_NO_SHOW_SHARE` are ``no_show`` (only when the trip would have started by
    ``end_day``), the rest ``cancelled``. A no-show pays the full Gamma-Gamma amount, a
    cancellation nothing or a 5-15 % fee.

    Parameters
    ----------
    process : the process bookings.
    acq : (n,) acquisition time of each customer, days since the start date.
    persona, preferred_channel, nu : (n,) persona index, preferred booking channel and
        Gamma-Gamma rate of each customer.
    season : :func:`season_table` of the personas.
    end_day : the extraction day, days since the start date.
    """
    m = process.cust.shape[0]
    b_cust, b_time = process.cust, process.time
    is_src = rng.random(m) < EXTRA_BOOKING_RATE
    src = np.flatnonzero(is_src)
    e_cust = b_cust[src]
    e_time = np.maximum(acq[e_cust], b_time[src] - rng.uniform(1.0, 30.0, src.size))
    e_day = np.floor(e_time).astype(np.int32)
    e_persona = persona[e_cust]
    e_attrs = booking_attributes(rng, e_persona, preferred_channel[e_cust], e_day,
                                 season, personas)
    e_trip_start = e_day + e_attrs["lead_days"]
    e_status = np.where(rng.random(src.size) < EXTRA_NO_SHOW_SHARE, 3, 2)  # no_show / cancelled
    e_status = np.where(e_trip_start > end_day, 2, e_status)  # no-show needs a past trip
    e_full = rng.gamma(persona_values("p", personas)[e_persona], 1.0 / nu[e_cust])
    fee = np.where(rng.random(src.size) < 0.5, 0.0, rng.uniform(0.05, 0.15, src.size))
    e_amount = np.where(e_status == 3, e_full, e_full * fee)
    return BookingDraws(cust=e_cust, time=e_time, day=e_day, attrs=e_attrs, status=e_status,
                        amount=e_amount)


def draw_leaving_cancellations(
    rng: np.random.Generator,
    leave_time: np.ndarray,
    acq: np.ndarray,
    persona: np.ndarray,
    preferred_channel: np.ndarray,
    nu: np.ndarray,
    season: np.ndarray,
    personas: list[Persona],
    end_day: int,
) -> tuple[BookingDraws, np.ndarray]:
    """The trips leaving customers book and then cancel (:data:`LEAVING_CANCEL_RATE`).

    Booked 10-60 days before leaving (never before acquisition) for a trip 120-360 days ahead,
    cancelled 30-200 days after leaving but before the trip starts and by the extraction day
    (else there is no such booking). A cancellation fee of 0-15 %.

    Parameters
    ----------
    leave_time : (n,) when each customer leaves (days since the start date; NaN: stays).

    Returns
    -------
    (draws, cancel_day) : the bookings (status ``cancelled``) and the day each was cancelled.
    """
    who = np.flatnonzero(~np.isnan(leave_time) & (leave_time < end_day))
    who = who[rng.random(who.size) < LEAVING_CANCEL_RATE]
    time = np.maximum(acq[who], leave_time[who] - rng.uniform(10.0, 60.0, who.size))
    day = np.floor(time).astype(np.int32)
    attrs = booking_attributes(rng, persona[who], preferred_channel[who], day, season, personas)
    attrs["lead_days"] = rng.integers(120, 361, who.size).astype(attrs["lead_days"].dtype)
    trip_start = day + attrs["lead_days"]
    cancel = np.floor(leave_time[who] + rng.uniform(30.0, 200.0, who.size)).astype(np.int64)
    ok = (cancel < trip_start) & (cancel <= end_day) & (cancel >= day)
    full = rng.gamma(persona_values("p", personas)[persona[who]], 1.0 / nu[who])
    fee = rng.uniform(0.0, 0.15, who.size)
    draws = BookingDraws(cust=who[ok], time=time[ok], day=day[ok],
                         attrs={k: v[ok] for k, v in attrs.items()},
                         status=np.full(int(ok.sum()), 2, dtype=np.int8),
                         amount=(full * fee)[ok])
    return draws, cancel[ok]


def status_days(rng: np.random.Generator, booked: BookingDraws, end_day: int,
                planted: np.ndarray) -> np.ndarray:
    """The day each booking's status was set (the contract's ``status_date``).

    ``completed``: the trip's end; ``confirmed``: the booking day; ``no_show``: the trip's
    start; ``cancelled``: ``planted`` where given (>= 0), else a day between the booking and
    the day before the trip (capped at the extraction day).

    Parameters
    ----------
    booked : every booking (:func:`concat_draws` order).
    planted : (n_bookings,) planted cancellation day, -1 where none.
    """
    start = booked.day + booked.attrs["lead_days"]
    end = start + booked.attrs["nights"]
    last = np.maximum(booked.day, np.minimum(start - 1, end_day))
    drawn = booked.day + np.floor(rng.random(booked.day.size)
                                  * (last - booked.day + 1)).astype(np.int64)
    cancelled = np.where(planted >= 0, planted, drawn)
    return np.select([booked.status == 0, booked.status == 1, booked.status == 3],
                     [end, booked.day, start], default=cancelled).astype(np.int64)


def bookings_table(
    start: np.datetime64,
    booked: BookingDraws,
    n_process: int,
    customer_ids: np.ndarray,
    id_offset: int,
    status_day: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The contract ``bookings`` table, booking ids in chronological order.

    Parameters
    ----------
    start : the start date (day 0).
    booked : every booking, the ``n_process`` process bookings first (:func:`concat_draws`).
    n_process : number of process bookings.
    customer_ids : (n,) customer id of each customer index.
    id_offset : bookings are numbered ``100 * id_offset + 1 ...``.
    status_day : (n_bookings,) day each status was set (:func:`status_days`), the
        ``status_date`` column; None: no such column.

    Returns
    -------
    bookings : the table, one row per booking, sorted by booking time.
    process_booking_ids : (n_process,) booking id of each process booking.
    """
    n = customer_ids.shape[0]
    all_cust, all_day, all_attrs = booked.cust, booked.day, booked.attrs
    all_amount = np.round(booked.amount, 2)
    order = np.lexsort((all_cust, booked.time))  # chronological booking ids
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    if order.size >= 100 * n:
        raise ValueError(f"{order.size} bookings for {n} customers: the booking ids of "
                         "chunks (100 per customer) would overlap")
    booking_ids = zfill_ids("B", np.arange(1, order.size + 1) + 100 * id_offset, 9)
    dest_flat = [d for t in DESTINATION_TYPES for d in DESTINATIONS[t]]
    o = order
    bookings = pd.DataFrame({
        "booking_id": booking_ids,
        "customer_id": customer_ids[all_cust[o]],
        "booking_date": days_to_datetime(start, all_day[o]),
        "travel_start": days_to_datetime(start, all_day[o] + all_attrs["lead_days"][o]),
        "nights": all_attrs["nights"][o],
        "product": pd.Categorical.from_codes(all_attrs["product"][o], categories=list(PRODUCTS)),
        "destination": pd.Categorical.from_codes(all_attrs["destination"][o],
                                                 categories=dest_flat),
        "destination_type": pd.Categorical.from_codes(all_attrs["destination_type"][o],
                                                      categories=list(DESTINATION_TYPES)),
        "channel": pd.Categorical.from_codes(all_attrs["channel"][o],
                                             categories=list(BOOKING_CHANNELS)),
        "party_size": all_attrs["party_size"][o],
        "amount": all_amount[o],
        "currency": pd.Categorical.from_codes(np.zeros(o.size, dtype=np.int8),
                                              categories=[CURRENCY]),
        "status": pd.Categorical.from_codes(booked.status[o], categories=list(BOOKING_STATUSES)),
    })
    if status_day is not None:
        bookings["status_date"] = days_to_datetime(start, status_day[o])
    return bookings, booking_ids[rank[:n_process]]


def bgnbd_expected_repeat_bookings(
    t: np.ndarray | float, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """BG/NBD ``E[X(t)]``: expected repeat bookings in ``(0, t]`` after the first booking.

    Fader, Hardie & Lee (2005), eq. 7:
    ``(a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))]``;
    for ``a == 1`` the limit is taken numerically.

    Parameters
    ----------
    t : (n,) customer age in days since the first booking.
    r, alpha, a, b : BG/NBD parameters (``alpha`` in days).
    """
    from scipy.special import hyp2f1

    t = np.asarray(t, dtype=float)

    def _ex(a_: float) -> np.ndarray:
        z = t / (alpha + t)
        term = (alpha / (alpha + t)) ** r * hyp2f1(r, b, a_ + b - 1.0, z)
        return (a_ + b - 1.0) / (a_ - 1.0) * (1.0 - term)

    if abs(a - 1.0) < 1e-6:
        return 0.5 * (_ex(a - 1e-4) + _ex(a + 1e-4))
    return _ex(a)
