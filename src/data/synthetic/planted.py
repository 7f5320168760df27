"""Everything planted in the synthetic data: the constants, the five personas and their summary.

The planted constants (hazard ratios, tier rules, lags and rates; durations in **days**, money
in :data:`CURRENCY`), the :class:`Persona` parameters (BG/NBD rates per day, Gamma-Gamma spend
in currency, Weibull cancellation in days since the first booking, per-booking mixes) with the
five :data:`PERSONAS`, and :func:`planted_truth`, the JSON-serialisable record of all of them
that is stored with every generated data set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from src.data.contract import COMPLAINT_CATEGORIES
from src.data.synthetic.vocabularies import (
    BOOKING_CHANNELS,
    CUSTOMER_KINDS,
    DESTINATION_TYPES,
    PRODUCTS,
)

__all__ = [
    "ACQUISITION_CHANNELS",
    "ACQUISITION_GROWTH",
    "COMPLAINT_CSAT_DROP",
    "COMPLAINT_LAG_DAYS",
    "CSAT_NOISE_SD",
    "CURRENCY",
    "DESTINATIONS",
    "EXTRA_BOOKING_RATE",
    "EXTRA_NO_SHOW_SHARE",
    "LEAVING_CANCEL_RATE",
    "FEEDBACK_LAG_DAYS",
    "GENDERS",
    "GENDER_PROBS",
    "HOME_REGIONS",
    "LEAD_TIME_CANDIDATES",
    "LOW_CSAT_MAX",
    "MAX_LEAD_DAYS",
    "PERSONAS",
    "PLANTED_HAZARD_RATIOS",
    "SEASON_PEAKS",
    "TIER_THRESHOLDS",
    "TIER_WINDOW_DAYS",
    "Persona",
    "planted_truth",
]

# --------------------------------------------------------------------------------------------
# Planted constants
# --------------------------------------------------------------------------------------------

CURRENCY: str = "CNY"
"""Currency of every ``bookings.amount`` in the synthetic data set."""

PLANTED_HAZARD_RATIOS: dict[str, float] = {
    "complaint_service": 1.8,
    "complaint_product": 1.5,
    "complaint_price": 1.3,
    "low_csat": 1.6,
}
"""Hazard ratios of loyalty-programme cancellation for the first-trip baseline covariates:
a service / product / price complaint about the first trip, and a first-trip feedback row with
``csat <= LOW_CSAT_MAX``. Complaint categories are mutually exclusive per trip."""

LOW_CSAT_MAX: int = 2
"""A first-trip ``csat`` at or below this value is "low satisfaction"."""

TIER_THRESHOLDS: dict[str, int] = {"silver": 1, "gold": 1, "platinum": 3, "diamond": 8}
"""Member tiers from completed trips: ``silver`` = at least this many completed trips ever;
``gold`` / ``platinum`` / ``diamond`` = at least this many completed trips whose trip ended in
the trailing :data:`TIER_WINDOW_DAYS` days. No completed trip at all -> ``regular``."""

TIER_WINDOW_DAYS: int = 365
"""Trailing window (days) for the tier rules."""

COMPLAINT_LAG_DAYS: tuple[int, int] = (1, 7)
"""A complaint is logged this many days (uniform, inclusive) after the trip ended."""

FEEDBACK_LAG_DAYS: tuple[int, int] = (1, 14)
"""A survey answer is dated this many days (uniform, inclusive) after the trip ended."""

COMPLAINT_CSAT_DROP: float = 1.8
"""Drop of the latent mean csat when the trip had a complaint (any category)."""

CSAT_NOISE_SD: float = 1.0
"""Standard deviation of the latent csat around the persona's mean."""

EXTRA_BOOKING_RATE: float = 0.04
"""Per process booking, probability of an extra ``cancelled`` / ``no_show`` booking placed
1-30 days before it (never before the first booking); extras are not part of BG/NBD."""

EXTRA_NO_SHOW_SHARE: float = 0.25
"""Share of extra bookings that are ``no_show`` (the rest are ``cancelled``)."""

LEAVING_CANCEL_RATE: float = 0.9
"""Share of the customers who leave (BG/NBD dropout or membership cancellation before the
extraction day) who had booked one more trip (120-360 days ahead) 10-60 days before leaving and
cancel it on their way out, 30-200 days after leaving and before the trip starts: a cancellation that correlates
with churn and is recorded *after* the customer's last activity, so reading the final status
at an earlier cut-off leaks the future (``status_date`` tells when it was set)."""

ACQUISITION_GROWTH: float = 2.5
"""Acquisition intensity at the extraction date relative to the start date (exponential)."""

LEAD_TIME_CANDIDATES: int = 4
"""Lead-time candidates per booking for the seasonal tilt."""

MAX_LEAD_DAYS: int = 540
"""Lead times are capped at this many days."""

SEASON_PEAKS: dict[str, tuple[float, float]] = {
    "spring_festival": (31.0, 10.0),
    "summer": (205.0, 25.0),
    "golden_week": (275.0, 4.0),
    "christmas_new_year": (361.0, 6.0),
}
"""Travel peaks: (day of year, 0-based, centre; standard deviation in days). The season
weight of a travel date is ``1 + sum_m amplitude_m * exp(-d_m^2 / (2 sd_m^2))`` (circular
distance ``d_m``), with the persona's ``season_amplitudes`` in this order."""

HOME_REGIONS: tuple[str, ...] = (
    "East China", "North China", "South China", "Central China", "Southwest China",
    "Northeast China", "Northwest China", "Hong Kong/Macao/Taiwan", "Overseas",
)
ACQUISITION_CHANNELS: tuple[str, ...] = (
    "organic_search", "paid_search", "social_media", "referral", "partner_ota",
    "corporate_sales", "offline_store",
)
GENDERS: tuple[str, ...] = ("female", "male", "unknown")
GENDER_PROBS: tuple[float, ...] = (0.49, 0.49, 0.02)

DESTINATIONS: dict[str, tuple[str, ...]] = {
    "nature": ("Guilin", "Zhangjiajie", "Jiuzhaigou", "Lijiang", "Huangshan", "Swiss Alps",
               "Iceland", "Queenstown"),
    "culture": ("Xi'an", "Chengdu", "Kyoto", "Rome", "Paris", "Istanbul", "Luang Prabang",
                "Siem Reap"),
    "beach": ("Sanya", "Xiamen", "Bali", "Phuket", "Maldives", "Okinawa", "Gold Coast"),
    "city": ("Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Hong Kong", "Singapore", "Tokyo",
             "Seoul", "London", "New York"),
}
"""Destinations per destination type (uniform within the type)."""


# --------------------------------------------------------------------------------------------
# Personas
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """Every planted parameter of one hidden customer persona.

    Probability tuples are over the contract's category order (``PRODUCTS``,
    ``DESTINATION_TYPES``, ``BOOKING_CHANNELS``, ``COMPLAINT_CATEGORIES``) or over the module's
    ``HOME_REGIONS`` / ``ACQUISITION_CHANNELS``; each sums to 1 except ``complaint_probs``
    (per-trip probability of a complaint of each category; the rest: no complaint).

    Parameters
    ----------
    name : persona name.
    share : share of customers.
    customer_type : ``individual`` or ``corporate``.
    r, alpha : BG/NBD purchase-rate heterogeneity, ``lambda ~ Gamma(shape=r, rate=alpha)``,
        ``lambda`` in bookings per day (``alpha`` in days).
    a, b : BG/NBD dropout heterogeneity, ``p ~ Beta(a, b)`` (dropout after each repeat).
    p, q, gamma : Gamma-Gamma spend, ``nu ~ Gamma(shape=q, rate=gamma)``,
        ``amount ~ Gamma(shape=p, rate=nu)`` (``gamma`` in currency).
    member_share : share of customers enrolled in the loyalty programme.
    weibull_shape, weibull_scale_days : baseline Weibull hazard of membership cancellation,
        ``h0(t) = (k / s) (t / s)^(k - 1)``, ``t`` in days since the first booking.
    product_probs, destination_type_probs, channel_probs : per-booking mixes.
    channel_stickiness : probability that a booking uses the customer's preferred channel
        (drawn once per customer from ``channel_probs``) instead of a fresh draw.
    party_size_probs : pmf of the party size 1, 2, ... (travellers).
    nights_probs : pmf of the nights 1, 2, ... .
    lead_time_shape, lead_time_scale_days, lead_time_min_days : Gamma proposal of the lead
        time (days between booking and travel start) before the seasonal tilt.
    season_amplitudes : amplitude of each of :data:`SEASON_PEAKS` (may be negative, > -1).
    complaint_probs : per-trip complaint probability per category.
    csat_mean : mean latent csat (1-5) of a trip without complaint.
    feedback_rate : probability that a completed trip gets a survey answer.
    consent_email, consent_sms, consent_phone : consent rates.
    birth_year_range : inclusive range of birth years (uniform).
    region_probs, acquisition_channel_probs : customer attributes.
    """

    name: str
    share: float
    customer_type: str
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float
    member_share: float
    weibull_shape: float
    weibull_scale_days: float
    product_probs: tuple[float, ...]
    destination_type_probs: tuple[float, ...]
    channel_probs: tuple[float, ...]
    channel_stickiness: float
    party_size_probs: tuple[float, ...]
    nights_probs: tuple[float, ...]
    lead_time_shape: float
    lead_time_scale_days: float
    lead_time_min_days: int
    season_amplitudes: tuple[float, float, float, float]
    complaint_probs: tuple[float, ...]
    csat_mean: float
    feedback_rate: float
    consent_email: float
    consent_sms: float
    consent_phone: float
    birth_year_range: tuple[int, int]
    region_probs: tuple[float, ...]
    acquisition_channel_probs: tuple[float, ...]

    def __post_init__(self) -> None:
        sized = {
            "product_probs": len(PRODUCTS),
            "destination_type_probs": len(DESTINATION_TYPES),
            "channel_probs": len(BOOKING_CHANNELS),
            "region_probs": len(HOME_REGIONS),
            "acquisition_channel_probs": len(ACQUISITION_CHANNELS),
        }
        for attr, size in sized.items():
            v = getattr(self, attr)
            if len(v) != size or abs(sum(v) - 1.0) > 1e-9 or min(v) < 0:
                raise ValueError(f"persona {self.name}: {attr} must be {size} probabilities")
        for attr in ("party_size_probs", "nights_probs"):
            v = getattr(self, attr)
            if abs(sum(v) - 1.0) > 1e-9 or min(v) < 0:
                raise ValueError(f"persona {self.name}: {attr} must sum to 1")
        if len(self.complaint_probs) != len(COMPLAINT_CATEGORIES) or sum(self.complaint_probs) >= 1:
            raise ValueError(f"persona {self.name}: complaint_probs")
        if self.customer_type not in CUSTOMER_KINDS:
            raise ValueError(f"persona {self.name}: customer_type {self.customer_type!r}")
        if self.q <= 1:
            raise ValueError(f"persona {self.name}: Gamma-Gamma needs q > 1 for a finite mean")
        if min(self.season_amplitudes) <= -1:
            raise ValueError(f"persona {self.name}: season amplitudes must be > -1")

    @property
    def mean_bookings_per_year(self) -> float:
        """Population mean purchase rate while alive, bookings per year (365.25 days)."""
        return self.r / self.alpha * 365.25

    @property
    def mean_dropout(self) -> float:
        """Population mean dropout probability per repeat booking, ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    @property
    def mean_amount(self) -> float:
        """Population mean booking amount ``p * gamma / (q - 1)`` (currency)."""
        return self.p * self.gamma / (self.q - 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters plus the derived means."""
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        d["mean_bookings_per_year"] = self.mean_bookings_per_year
        d["mean_dropout"] = self.mean_dropout
        d["mean_amount"] = self.mean_amount
        return d


_REGIONS_DEFAULT = (0.28, 0.20, 0.18, 0.10, 0.08, 0.05, 0.03, 0.03, 0.05)

PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona(
            name="business_traveller", share=0.25, customer_type="individual",
            r=2.0, alpha=120.0, a=0.6, b=6.0,  # ~6.1 bookings/yr, E[p] = 0.09
            p=6.0, q=5.0, gamma=1600.0,  # mean amount 2400 CNY
            member_share=0.45, weibull_shape=1.1, weibull_scale_days=1400.0,
            product_probs=(0.35, 0.35, 0.0, 0.0, 0.05, 0.25),
            destination_type_probs=(0.02, 0.03, 0.0, 0.95),
            channel_probs=(0.75, 0.15, 0.02, 0.08, 0.0),
            channel_stickiness=0.7,
            party_size_probs=(0.92, 0.07, 0.01),
            nights_probs=(0.6, 0.35, 0.05),
            lead_time_shape=1.5, lead_time_scale_days=4.0, lead_time_min_days=0,
            season_amplitudes=(-0.5, -0.2, -0.6, -0.5),
            complaint_probs=(0.05, 0.02, 0.02, 0.01, 0.005, 0.01),
            csat_mean=4.0, feedback_rate=0.5,
            consent_email=0.6, consent_sms=0.4, consent_phone=0.2,
            birth_year_range=(1972, 1992),
            region_probs=_REGIONS_DEFAULT,
            acquisition_channel_probs=(0.30, 0.25, 0.10, 0.15, 0.15, 0.05, 0.0),
        ),
        Persona(
            name="family", share=0.30, customer_type="individual",
            r=1.5, alpha=550.0, a=1.2, b=4.0,  # ~1.0 bookings/yr, E[p] = 0.23
            p=8.0, q=6.0, gamma=7500.0,  # mean amount 12000 CNY
            member_share=0.35, weibull_shape=0.8, weibull_scale_days=1600.0,
            product_probs=(0.30, 0.05, 0.50, 0.05, 0.10, 0.0),
            destination_type_probs=(0.35, 0.05, 0.55, 0.05),
            channel_probs=(0.10, 0.45, 0.05, 0.35, 0.05),
            channel_stickiness=0.7,
            party_size_probs=(0.0, 0.03, 0.35, 0.40, 0.17, 0.05),
            nights_probs=(0.0, 0.0, 0.02, 0.05, 0.10, 0.15, 0.35, 0.12, 0.08, 0.05, 0.03, 0.02,
                          0.01, 0.02),
            lead_time_shape=3.0, lead_time_scale_days=25.0, lead_time_min_days=7,
            season_amplitudes=(2.0, 3.0, 2.0, 1.0),
            complaint_probs=(0.06, 0.05, 0.04, 0.005, 0.005, 0.01),
            csat_mean=4.1, feedback_rate=0.7,
            consent_email=0.7, consent_sms=0.6, consent_phone=0.4,
            birth_year_range=(1978, 1992),
            region_probs=_REGIONS_DEFAULT,
            acquisition_channel_probs=(0.20, 0.25, 0.20, 0.15, 0.15, 0.0, 0.05),
        ),
        Persona(
            name="backpacker", share=0.20, customer_type="individual",
            r=0.9, alpha=220.0, a=1.5, b=3.0,  # ~1.5 bookings/yr, E[p] = 0.33
            p=4.0, q=4.0, gamma=1100.0,  # mean amount ~1467 CNY
            member_share=0.25, weibull_shape=0.7, weibull_scale_days=900.0,
            product_probs=(0.10, 0.35, 0.0, 0.25, 0.30, 0.0),
            destination_type_probs=(0.50, 0.40, 0.05, 0.05),
            channel_probs=(0.50, 0.05, 0.0, 0.45, 0.0),
            channel_stickiness=0.7,
            party_size_probs=(0.55, 0.40, 0.05),
            nights_probs=(0.08, 0.10, 0.12, 0.12, 0.10, 0.10, 0.10, 0.07, 0.05, 0.04, 0.04, 0.03,
                          0.02, 0.03),
            lead_time_shape=1.2, lead_time_scale_days=18.0, lead_time_min_days=1,
            season_amplitudes=(0.5, 1.5, 1.0, 0.3),
            complaint_probs=(0.03, 0.03, 0.06, 0.01, 0.01, 0.01),
            csat_mean=4.2, feedback_rate=0.55,
            consent_email=0.5, consent_sms=0.3, consent_phone=0.1,
            birth_year_range=(1994, 2005),
            region_probs=(0.25, 0.18, 0.15, 0.10, 0.10, 0.05, 0.05, 0.02, 0.10),
            acquisition_channel_probs=(0.20, 0.15, 0.40, 0.10, 0.15, 0.0, 0.0),
        ),
        Persona(
            name="luxury", share=0.10, customer_type="individual",
            r=2.5, alpha=450.0, a=0.8, b=5.0,  # ~2.0 bookings/yr, E[p] = 0.14
            p=5.0, q=6.0, gamma=40000.0,  # mean amount 40000 CNY
            member_share=0.60, weibull_shape=1.3, weibull_scale_days=2200.0,
            product_probs=(0.15, 0.0, 0.50, 0.35, 0.0, 0.0),
            destination_type_probs=(0.05, 0.35, 0.55, 0.05),
            channel_probs=(0.05, 0.05, 0.50, 0.0, 0.40),
            channel_stickiness=0.7,
            party_size_probs=(0.10, 0.75, 0.08, 0.07),
            nights_probs=(0.0, 0.0, 0.03, 0.07, 0.15, 0.20, 0.25, 0.12, 0.08, 0.04, 0.02, 0.02,
                          0.01, 0.01),
            lead_time_shape=2.5, lead_time_scale_days=25.0, lead_time_min_days=14,
            season_amplitudes=(1.5, 1.0, 1.0, 2.0),
            complaint_probs=(0.08, 0.04, 0.01, 0.005, 0.003, 0.01),
            csat_mean=4.3, feedback_rate=0.7,
            consent_email=0.5, consent_sms=0.3, consent_phone=0.6,
            birth_year_range=(1955, 1985),
            region_probs=(0.25, 0.18, 0.17, 0.05, 0.05, 0.03, 0.02, 0.10, 0.15),
            acquisition_channel_probs=(0.10, 0.10, 0.05, 0.35, 0.05, 0.0, 0.35),
        ),
        Persona(
            name="corporate", share=0.15, customer_type="corporate",
            r=3.0, alpha=110.0, a=0.5, b=8.0,  # ~10 bookings/yr, E[p] = 0.06
            p=6.0, q=5.0, gamma=2400.0,  # mean amount 3600 CNY
            member_share=0.50, weibull_shape=1.2, weibull_scale_days=2600.0,
            product_probs=(0.20, 0.20, 0.0, 0.0, 0.0, 0.60),
            destination_type_probs=(0.0, 0.02, 0.0, 0.98),
            channel_probs=(0.05, 0.35, 0.60, 0.0, 0.0),
            channel_stickiness=0.7,
            party_size_probs=(0.55, 0.30, 0.15),
            nights_probs=(0.45, 0.35, 0.15, 0.05),
            lead_time_shape=2.0, lead_time_scale_days=5.0, lead_time_min_days=1,
            season_amplitudes=(-0.6, -0.2, -0.7, -0.6),
            complaint_probs=(0.04, 0.02, 0.03, 0.02, 0.005, 0.01),
            csat_mean=3.9, feedback_rate=0.5,
            consent_email=0.8, consent_sms=0.3, consent_phone=0.7,
            birth_year_range=(1968, 1995),
            region_probs=_REGIONS_DEFAULT,
            acquisition_channel_probs=(0.05, 0.05, 0.0, 0.10, 0.0, 0.80, 0.0),
        ),
    )
}
"""The five hidden personas and every parameter planted for them."""


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def planted_truth(
    n: int, seed: int, start_date: str, extraction_date: str, horizon: float
) -> dict[str, Any]:
    """The JSON-serialisable planted truth of one generated data set.

    Parameters
    ----------
    n : number of customers.
    seed : the generator's seed.
    start_date, extraction_date : the generator's dates (ISO).
    horizon : observation window in days (start date to the end of the extraction day).

    Returns
    -------
    dict
        Personas, BG/NBD and Gamma-Gamma parameters, cancellation model and hazard ratios,
        tier rules, feedback and extra-booking settings, season peaks.
    """
    return {
        "generator": "src.data.synthetic.generate",
        "n_customers": int(n),
        "seed": int(seed),
        "start_date": str(np.datetime64(start_date, "D")),
        "extraction_date": str(np.datetime64(extraction_date, "D")),
        "observation_days": float(horizon),
        "time_unit": "days",
        "currency": CURRENCY,
        "personas": {name: p.to_dict() for name, p in PERSONAS.items()},
        "bgnbd": {
            "time_unit": "days",
            "transactions": "bookings with status completed or confirmed",
            "recover_on": "non-members (loyalty_member == False) of one persona",
            "params": {name: {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b}
                       for name, p in PERSONAS.items()},
        },
        "gamma_gamma": {
            "transactions": "bookings with status completed or confirmed",
            "params": {name: {"p": p.p, "q": p.q, "gamma": p.gamma}
                       for name, p in PERSONAS.items()},
        },
        "cancellation": {
            "model": "Weibull proportional hazards, t in days since the first booking",
            "baseline": {name: {"shape": p.weibull_shape, "scale_days": p.weibull_scale_days}
                         for name, p in PERSONAS.items()},
            "hazard_ratios": dict(PLANTED_HAZARD_RATIOS),
            "covariates": {
                "complaint_service": "complaint of category service about the first trip",
                "complaint_product": "complaint of category product about the first trip",
                "complaint_price": "complaint of category price about the first trip",
                "low_csat": f"feedback row for the first booking with csat <= {LOW_CSAT_MAX}",
            },
            "complaint_lag_days": list(COMPLAINT_LAG_DAYS),
            "censoring": "membership_cancel_date NaT when the cancellation is after extraction",
        },
        "tiers": {"thresholds": dict(TIER_THRESHOLDS), "window_days": TIER_WINDOW_DAYS,
                  "as_of": str(np.datetime64(extraction_date, "D"))},
        "feedback": {"lag_days": list(FEEDBACK_LAG_DAYS), "complaint_csat_drop":
                     COMPLAINT_CSAT_DROP, "csat_noise_sd": CSAT_NOISE_SD},
        "extra_bookings": {"rate_per_process_booking": EXTRA_BOOKING_RATE,
                           "no_show_share": EXTRA_NO_SHOW_SHARE,
                           "statuses": ["cancelled", "no_show"]},
        "acquisition_growth": ACQUISITION_GROWTH,
        "season_peaks": {k: list(v) for k, v in SEASON_PEAKS.items()},
    }
