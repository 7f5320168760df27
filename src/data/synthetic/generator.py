"""The top-level synthetic generator: :func:`generate` and its result :class:`SyntheticData`.

:func:`generate` draws, stage by stage and from one ``numpy.random.default_rng(seed)``, the
customers' personas and latent BG/NBD / Gamma-Gamma parameters, the purchase process (days
since the start date), loyalty cancellations, trips, extra bookings and then the four contract
tables (:mod:`~src.data.synthetic.customers`, :mod:`~src.data.synthetic.bookings`,
:mod:`~src.data.synthetic.interactions`) plus the hidden ``truth`` and the ``planted`` record;
the same seed gives identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from src.data.contract import COMPLAINT_CATEGORIES, TABLES
from src.data.synthetic.bookings import (
    BookingDraws,
    booking_attributes,
    bookings_table,
    concat_draws,
    draw_extra_bookings,
    draw_leaving_cancellations,
    season_table,
    simulate_bgnbd,
    status_days,
)
from src.data.synthetic.customers import customers_table, tier_codes
from src.data.synthetic.interactions import feedback_table, interactions_table
from src.data.synthetic.planted import (
    ACQUISITION_GROWTH,
    COMPLAINT_CSAT_DROP,
    COMPLAINT_LAG_DAYS,
    CSAT_NOISE_SD,
    FEEDBACK_LAG_DAYS,
    LOW_CSAT_MAX,
    MAX_LEAD_DAYS,
    PERSONAS,
    PLANTED_HAZARD_RATIOS,
    TIER_THRESHOLDS,
    TIER_WINDOW_DAYS,
    planted_truth,
)
from src.data.synthetic.sampling import (
    days_to_datetime,
    draw_categorical,
    persona_values,
    prob_matrix,
    zfill_ids,
)

__all__ = [
    "SyntheticData",
    "generate",
]


@dataclass
class SyntheticData:
    """The generated tables, the hidden per-customer truth and the planted parameters.

    Attributes
    ----------
    customers, bookings, interactions, feedback : the four contract tables.
    truth : one row per customer (hidden from the models): ``customer_id``, ``persona``,
        ``lam_per_day`` (BG/NBD rate, bookings/day), ``p_dropout``, ``nu_spend``
        (Gamma-Gamma rate, 1/currency), ``first_booking_date``, ``age_days`` (days from the
        first booking to the end of the extraction day, continuous), ``n_repeat_lifetime``
        (repeat bookings before dropout, unbounded horizon), ``dropped_out`` / ``dropout_date``
        (BG/NBD dropout by the extraction date, ignoring membership cancellation),
        ``n_process_bookings`` / ``n_extra_bookings`` (rows in ``bookings``),
        ``loyalty_member``, ``cancel_time_days`` (latent ``T_c`` from the first booking, NaN
        for non-members), ``cancelled`` / ``membership_cancel_date``, the first-trip
        covariates ``complaint_service``, ``complaint_product``, ``complaint_price``,
        ``low_csat``, and ``alive_at_extraction`` (not dropped out and not cancelled).
    planted : JSON-serialisable planted truth (personas, hazard ratios, tiers, dates, ...).
    """

    customers: pd.DataFrame
    bookings: pd.DataFrame
    interactions: pd.DataFrame
    feedback: pd.DataFrame
    truth: pd.DataFrame
    planted: dict

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four contract tables only, keyed by contract table name."""
        return {
            "customers": self.customers,
            "bookings": self.bookings,
            "interactions": self.interactions,
            "feedback": self.feedback,
        }


class _Progress:
    """Minimal stage reporter (tqdm when asked for, silent otherwise)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="synthetic data", unit="step")

    def step(self, label: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(label)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _draw_csat(rng: np.random.Generator, mean: np.ndarray, complaint: np.ndarray) -> np.ndarray:
    """Survey csat (1-5): rounded ``mean - COMPLAINT_CSAT_DROP * complaint + noise``."""
    latent = mean - COMPLAINT_CSAT_DROP * complaint
    noise = CSAT_NOISE_SD * rng.standard_normal(mean.shape[0])
    return np.clip(np.rint(latent + noise), 1, 5).astype(np.int16)


def generate(
    n_customers: int = 10_000,
    *,
    seed: int = 0,
    start_date: str = "2021-01-01",
    extraction_date: str = "2025-12-31",
    show_progress: bool = False,
    id_offset: int = 0,
) -> SyntheticData:
    """Generate a synthetic travel-company data set with planted truth.

    Parameters
    ----------
    n_customers : number of customers (every one has at least one booking, the first at its
        acquisition time).
    seed : seed of ``numpy.random.default_rng``; same seed -> identical tables.
    start_date : first possible acquisition date (ISO).
    extraction_date : the data extraction date (ISO); nothing happens after the end of this
        day; trips ending after it are ``confirmed``, cancellations after it are censored.
    show_progress : show a tqdm progress bar over the generation stages.
    id_offset : customers are numbered ``id_offset + 1 ...`` and bookings
        ``100 * id_offset + 1 ...``, so data sets generated in chunks with offsets 0, n, 2n...
        have distinct ids (:func:`generate_chunks_to_parquet`). 0 gives the historical ids.

    Returns
    -------
    SyntheticData
        ``customers`` (n_customers rows), ``bookings``, ``interactions``, ``feedback`` in the
        contract's columns and dtypes, the hidden ``truth`` and the ``planted`` parameters.

    Notes
    -----
    Every model of the project has a known answer on these data:

    Personas (hidden, ``truth.persona``)
        ``business_traveller``, ``family``, ``backpacker``, ``luxury``, ``corporate`` (about
        25/30/20/10/15 %), clearly separable by product, destination-type and channel mix, party
        size, lead time, nights, spend and frequency (:data:`PERSONAS`).
    Purchase process: exact BG/NBD (Fader, Hardie & Lee 2005), time unit **days**
        ``lambda_i ~ Gamma(shape=r, rate=alpha)``, ``p_i ~ Beta(a, b)``. The first booking is at the
        customer's acquisition time (acquisitions spread over ``start_date .. extraction_date``
        with growth); inter-booking times are ``Exponential(lambda_i)``; after each *repeat*
        booking the customer drops out with probability ``p_i``. Booking dates are the
        transaction times floored to the day. Only bookings with status ``completed`` or
        ``confirmed`` belong to the process; ``cancelled`` / ``no_show`` bookings are extra noise.
    Spend: exact Gamma-Gamma
        ``nu_i ~ Gamma(shape=q, rate=gamma)``; every process booking amount
        ``z ~ Gamma(shape=p, rate=nu_i)`` (``E[z | nu] = p / nu``; population mean
        ``p * gamma / (q - 1)``), in :data:`CURRENCY`.
    Loyalty programme (contractual churn)
        A persona-dependent share of customers are ``loyalty_member`` from their first booking on.
        Members cancel at ``T_c`` days after their first booking, drawn from a Weibull
        proportional-hazards model ``h(t | z) = h0_persona(t) * exp(beta' z)`` with
        ``h0(t) = (k / s) (t / s)^(k - 1)`` and baseline covariates fixed by the first trip:
        complaint category dummies (service, product, price; a complaint is logged 1-7 days after
        the trip ends) and low satisfaction (a feedback row for the first booking with
        ``csat <= 2``). Hazard ratios: :data:`PLANTED_HAZARD_RATIOS`. A member books nothing after
        ``membership_cancel_date``; cancellations after the extraction date are censored (NaT).
        Non-members follow the pure BG/NBD process, so a BG/NBD fit on the non-members of one
        persona recovers that persona's ``(r, alpha, a, b)``.
    Trips
        ``travel_start = booking_date + lead time``; the lead time is drawn from the persona's
        Gamma proposal, tilted towards peak travel seasons (Spring Festival, summer, Golden Week,
        Christmas/New Year) by choosing among :data:`LEAD_TIME_CANDIDATES` candidates with
        probability proportional to the season weight of the resulting travel date (the booking
        process itself is not thinned). Trip end = ``travel_start + nights``. Status
        ``completed`` iff the trip ended on or before the extraction date, else ``confirmed``.
    Customers
        ``signup_date`` is the first booking date or (40 %) 1-180 days before it; names mix
        Chinese (in characters) and Western names by home region; e-mails and phones are unique.
    Tiers (``customers.member_tier`` as of the extraction date)
        From completed trips: none ever -> regular; some ever but none ended in the trailing
        :data:`TIER_WINDOW_DAYS` days -> silver; >= 1 in the window -> gold, >= 3 -> platinum,
        >= 8 -> diamond (:data:`TIER_THRESHOLDS`, :func:`assign_member_tiers`).

    All randomness comes from ``numpy.random.default_rng(seed)``; the same seed gives identical
    tables. The generation is vectorised (one loop over the repeat-booking index on the customers
    still active), so 100k customers take a few seconds.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be >= 1")
    if id_offset < 0:
        raise ValueError("id_offset must be >= 0")
    if n_customers >= 10**8:
        raise ValueError("n_customers must be < 1e8 (unique 8-digit phone/e-mail suffixes)")
    rng = np.random.default_rng(seed)
    start = np.datetime64(start_date, "D")
    end = np.datetime64(extraction_date, "D")
    end_day = int((end - start).astype(np.int64))
    if end_day < 1:
        raise ValueError("extraction_date must be after start_date")
    horizon = float(end_day + 1)  # end of the extraction day, days since start
    personas = list(PERSONAS.values())
    n_p = len(personas)
    prog = _Progress(show_progress, total=8)

    def par(attr: str) -> np.ndarray:
        return persona_values(attr, personas)

    # ---- 1. customers: persona, acquisition, latent BG/NBD + Gamma-Gamma ------------------
    n = n_customers
    shares = par("share")
    persona = rng.choice(n_p, size=n, p=shares / shares.sum()).astype(np.int8)
    g = np.log(ACQUISITION_GROWTH)
    u = rng.random(n)
    acq = np.sort(horizon * np.log1p(u * np.expm1(g)) / g)  # ids follow acquisition order
    lam = rng.gamma(par("r")[persona], 1.0 / par("alpha")[persona])
    p_drop = np.clip(rng.beta(par("a")[persona], par("b")[persona]), 1e-12, 1.0)
    nu = rng.gamma(par("q")[persona], 1.0 / par("gamma")[persona])
    n_repeat = rng.geometric(p_drop)  # repeat bookings before dropout, support 1, 2, ...
    member = rng.random(n) < par("member_share")[persona]
    preferred_channel = draw_categorical(rng, persona, prob_matrix("channel_probs", personas))
    prog.step("customers")

    # ---- 2. BG/NBD process (untruncated) --------------------------------------------------
    b_cust, b_time, b_k = simulate_bgnbd(rng, acq, lam, n_repeat, horizon)
    drop_row = b_k == n_repeat[b_cust]  # the repeat booking after which the customer left
    dropped = np.zeros(n, dtype=bool)
    dropped[b_cust[drop_row]] = True
    dropout_time = np.full(n, np.nan)
    dropout_time[b_cust[drop_row]] = b_time[drop_row]
    prog.step("bgnbd")

    # ---- 3. loyalty cancellation: Weibull PH on first-trip covariates ---------------------
    # complaint and survey of the first trip (drawn here, used for the first booking below)
    f_comp = draw_categorical(rng, persona, prob_matrix("complaint_probs", personas))
    f_fb = rng.random(n) < par("feedback_rate")[persona]
    f_csat = _draw_csat(rng, par("csat_mean")[persona], f_comp < len(COMPLAINT_CATEGORIES))
    cov = {
        "complaint_service": f_comp == COMPLAINT_CATEGORIES.index("service"),
        "complaint_product": f_comp == COMPLAINT_CATEGORIES.index("product"),
        "complaint_price": f_comp == COMPLAINT_CATEGORIES.index("price"),
        "low_csat": f_fb & (f_csat <= LOW_CSAT_MAX),
    }
    lin = np.zeros(n)
    for name, hr in PLANTED_HAZARD_RATIOS.items():
        lin += np.log(hr) * cov[name]
    e = rng.exponential(1.0, n)
    shape_c, scale_c = par("weibull_shape")[persona], par("weibull_scale_days")[persona]
    t_c = np.where(member, scale_c * (e * np.exp(-lin)) ** (1.0 / shape_c), np.nan)
    cancel_time = acq + t_c
    cancelled = member & (cancel_time < horizon)
    cancel_day = np.where(cancelled, np.floor(np.nan_to_num(cancel_time)), -1).astype(np.int64)
    # truncate members' processes: nothing after the cancellation
    keep = ~(member[b_cust] & (b_time >= cancel_time[b_cust]))
    b_cust, b_time, b_k = b_cust[keep], b_time[keep], b_k[keep]
    prog.step("cancellation")

    # ---- 4. trip attributes, complaints, surveys and amounts of the process bookings -------
    m = b_cust.shape[0]
    b_persona = persona[b_cust]
    b_day = np.floor(b_time).astype(np.int32)
    season = season_table(start, end_day + MAX_LEAD_DAYS + 1, personas)
    attrs = booking_attributes(rng, b_persona, preferred_channel[b_cust], b_day, season,
                               personas)
    trip_end = b_day + attrs["lead_days"] + attrs["nights"]
    comp = draw_categorical(rng, b_persona, prob_matrix("complaint_probs", personas))
    has_fb = rng.random(m) < par("feedback_rate")[b_persona]
    first = b_k == 0  # exactly one per customer, in customer order (first block of rows)
    comp[first], has_fb[first] = f_comp, f_fb
    has_comp = comp < len(COMPLAINT_CATEGORIES)
    csat = _draw_csat(rng, par("csat_mean")[b_persona], has_comp)
    csat[first] = f_csat
    nps = np.clip(np.rint(2.2 * csat - 1.5 + 1.3 * rng.standard_normal(m)), 0, 10).astype(np.int16)
    comp_day = trip_end + rng.integers(COMPLAINT_LAG_DAYS[0], COMPLAINT_LAG_DAYS[1] + 1, m)
    fb_day = trip_end + rng.integers(FEEDBACK_LAG_DAYS[0], FEEDBACK_LAG_DAYS[1] + 1, m)
    amount = rng.gamma(par("p")[b_persona], 1.0 / nu[b_cust])
    status = np.where(trip_end <= end_day, 0, 1)  # completed / confirmed
    process = BookingDraws(cust=b_cust, time=b_time, day=b_day, attrs=attrs, status=status,
                           amount=amount)
    prog.step("trips")

    # ---- 5. extra cancelled / no-show bookings -------------------------------------------
    extras = draw_extra_bookings(rng, process, acq, persona, preferred_channel, nu, season,
                                 personas, end_day)

    # ---- 5b. trips cancelled on the way out; the day every status was set --------------------
    # from a stream of their own: every other draw of a seed stays as it was
    rng_out = np.random.default_rng([seed, 5])
    leave = np.fmin(np.where(cancelled, cancel_time, np.nan), np.where(dropped, dropout_time, np.nan))
    leaving, leaving_cancel = draw_leaving_cancellations(
        rng_out, leave, acq, persona, preferred_channel, nu, season, personas, end_day)
    extras = concat_draws(extras, leaving)
    prog.step("extras")

    # ---- 6. bookings table ---------------------------------------------------------------
    booked = concat_draws(process, extras)
    planted_cancel = np.concatenate([np.full(booked.day.size - leaving_cancel.size, -1),
                                     leaving_cancel])
    status_day = status_days(rng_out, booked, end_day, planted_cancel)
    customer_ids = zfill_ids("C", np.arange(1, n + 1) + id_offset, 7)
    bookings, process_booking_ids = bookings_table(start, booked, m, customer_ids, id_offset,
                                                   status_day)
    prog.step("bookings")

    # ---- 7. customers table --------------------------------------------------------------
    acq_day = np.floor(acq).astype(np.int64)
    tier = tier_codes(booked.cust, booked.trip_end, booked.status <= 1, n, end_day,
                      TIER_THRESHOLDS, TIER_WINDOW_DAYS)
    cancel_dt = np.where(cancelled, days_to_datetime(start, np.maximum(cancel_day, 0)),
                         np.datetime64("NaT", "ns"))
    customers, signup_day, consent = customers_table(
        rng, start, persona, personas, acq_day, customer_ids, member, cancel_dt, tier
    )
    prog.step("customers table")

    # ---- 8. interactions and feedback ----------------------------------------------------
    interactions = interactions_table(
        rng, n, customer_ids, signup_day, start, end_day, consent, preferred_channel,
        b_cust[has_comp], comp[has_comp], comp_day[has_comp],
    )
    feedback = feedback_table(rng, start, end_day, customer_ids, process_booking_ids, b_cust,
                              trip_end, has_fb, fb_day, csat, nps)
    prog.step("interactions")

    # ---- truth ----------------------------------------------------------------------------
    n_extra = np.bincount(extras.cust, minlength=n)
    n_proc = np.bincount(b_cust, minlength=n)
    dropout_day = np.where(dropped, np.floor(np.nan_to_num(dropout_time)), 0).astype(np.int64)
    truth = pd.DataFrame({
        "customer_id": customer_ids,
        "persona": pd.Categorical.from_codes(persona, categories=[p.name for p in personas]),
        "lam_per_day": lam,
        "p_dropout": p_drop,
        "nu_spend": nu,
        "first_booking_date": days_to_datetime(start, acq_day),
        "age_days": horizon - acq,
        "n_repeat_lifetime": n_repeat.astype(np.int64),
        "dropped_out": dropped,
        "dropout_date": np.where(dropped, days_to_datetime(start, dropout_day),
                                 np.datetime64("NaT", "ns")).astype("datetime64[ns]"),
        "n_process_bookings": n_proc.astype(np.int32),
        "n_extra_bookings": n_extra.astype(np.int32),
        "loyalty_member": member,
        "cancel_time_days": t_c,
        "cancelled": cancelled,
        "membership_cancel_date": cancel_dt.astype("datetime64[ns]"),
        **{k_: v for k_, v in cov.items()},
        "alive_at_extraction": ~dropped & ~cancelled,
    })
    planted = planted_truth(n, seed, start_date, extraction_date, horizon)
    prog.close()
    tables = {"customers": customers, "bookings": bookings, "interactions": interactions,
              "feedback": feedback}
    tables = {k_: df[TABLES[k_].column_names] for k_, df in tables.items()}
    return SyntheticData(**tables, truth=truth, planted=planted)
