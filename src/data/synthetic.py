"""Synthetic travel-company data with planted, recoverable truth (the embedded demo data set).

:func:`generate` draws the four contract tables (``customers``, ``bookings``, ``interactions``,
``feedback``; see :mod:`src.data.contract`) for a travel company, plus a hidden ``truth`` table
(one row per customer) and a JSON-serialisable ``planted`` dict. Every model of the project has
a known answer on these data:

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

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.data.contract import (
    BOOKING_CHANNELS,
    BOOKING_STATUSES,
    COMPLAINT_CATEGORIES,
    CONTACT_CHANNELS,
    CUSTOMER_KINDS,
    DESTINATION_TYPES,
    INTERACTION_KINDS,
    MEMBER_TIERS,
    PRODUCTS,
    TABLES,
)

__all__ = [
    "CURRENCY",
    "PERSONAS",
    "PLANTED_HAZARD_RATIOS",
    "TIER_THRESHOLDS",
    "TIER_WINDOW_DAYS",
    "Persona",
    "SyntheticData",
    "assign_member_tiers",
    "bgnbd_expected_repeat_bookings",
    "generate",
    "generate_to_parquet",
    "write_parquet",
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

# Names (PII) -------------------------------------------------------------------------------

_CN_SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
)
_CN_GIVEN: tuple[tuple[str, str], ...] = (
    ("芳", "fang"), ("伟", "wei"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"),
    ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂英", "guiying"), ("晨", "chen"),
    ("雪", "xue"), ("浩然", "haoran"), ("子涵", "zihan"), ("欣怡", "xinyi"), ("宇轩", "yuxuan"),
    ("梓萱", "zixuan"), ("俊杰", "junjie"), ("佳怡", "jiayi"), ("建国", "jianguo"),
    ("海燕", "haiyan"),
)
_WESTERN_FIRST: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Thomas", "Jessica", "Daniel",
    "Sarah", "Oliver", "Emma", "Lucas", "Sophie", "Henry", "Charlotte",
)
_WESTERN_LAST: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Thompson", "White", "Clark", "Lewis", "Walker",
    "Hall", "Young", "King", "Wright", "Scott", "Green",
)
_CN_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com")
_WESTERN_EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com")
_CN_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                       "151", "152", "158", "159", "166", "177", "180", "181", "186", "187",
                       "188", "189", "199")
_CHINESE_NAME_SHARE = {"china": 0.97, "greater_china": 0.85, "overseas": 0.15}

_COMMENTS_GOOD = ("服务很好，下次还会再来", "酒店干净，位置方便", "Great trip, smooth check-in",
                  "导游非常专业", "Everything as described", "性价比很高")
_COMMENTS_BAD = ("退款太慢", "房间和图片不符", "Room was not as advertised", "导游态度差",
                 "Flight was rescheduled without notice", "客服电话一直打不通")
COMMENT_RATE: float = 0.25
"""Share of survey answers with a free-text comment."""

# --------------------------------------------------------------------------------------------
# Result container
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _prob_matrix(attr: str, personas: list[Persona]) -> np.ndarray:
    """Stack one probability tuple of every persona into an array (n_personas, k), padded."""
    rows = [np.asarray(getattr(p, attr), dtype=float) for p in personas]
    k = max(len(r) for r in rows)
    out = np.zeros((len(rows), k))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _draw_categorical(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Draw one category index per row from ``probs[group[row]]`` (inverse CDF).

    Parameters
    ----------
    group : (n,) int array of row groups (persona index).
    probs : (n_groups, k) probabilities; rows may sum to less than 1, the remainder maps to
        index ``k`` ("none").

    Returns
    -------
    (n,) int16 array of indices in ``0 .. k``.
    """
    k = probs.shape[1]
    cum = np.cumsum(probs, axis=1)
    full = np.isclose(probs.sum(axis=1), 1.0)
    # rows that sum to one: never fall off the end through rounding (trailing zeros included)
    cum[full] = np.where(cum[full] >= 1.0 - 1e-9, 2.0, cum[full])
    # one search over all groups: group g lives in [3 g, 3 g + 2]
    offset = 3.0 * np.arange(probs.shape[0])
    flat = (cum + offset[:, None]).ravel()
    g = group.astype(np.int64)
    u = rng.random(group.shape[0]) + offset[g]
    return (np.searchsorted(flat, u, side="right") - k * g).astype(np.int16)


def _days_to_datetime(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Integer day offsets from ``start`` -> ``datetime64[ns]`` at midnight."""
    return (start + days.astype("timedelta64[D]")).astype("datetime64[ns]")


def _draw_csat(rng: np.random.Generator, mean: np.ndarray, complaint: np.ndarray) -> np.ndarray:
    """Survey csat (1-5): rounded ``mean - COMPLAINT_CSAT_DROP * complaint + noise``."""
    latent = mean - COMPLAINT_CSAT_DROP * complaint
    noise = CSAT_NOISE_SD * rng.standard_normal(mean.shape[0])
    return np.clip(np.rint(latent + noise), 1, 5).astype(np.int16)


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


def _zfill_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded ``numbers`` as an object array of Python strings.

    Builds the UCS-4 code points digit by digit (much faster than string formatting).
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max()))) if numbers.size else width)
    codes = np.empty((numbers.size, len(prefix) + width), dtype=np.uint32)
    codes[:, : len(prefix)] = [ord(c) for c in prefix]
    x = numbers.copy()
    for pos in range(len(prefix) + width - 1, len(prefix) - 1, -1):
        x, digit = np.divmod(x, 10)
        codes[:, pos] = digit + 48
    return codes.view(f"<U{codes.shape[1]}").ravel().astype(object)


def _tier_codes(
    cust: np.ndarray,
    trip_end_day: np.ndarray,
    counts: np.ndarray,
    n_customers: int,
    as_of_day: int,
    thresholds: dict[str, int],
    window_days: int,
) -> np.ndarray:
    """Tier index (into ``MEMBER_TIERS``) per customer from completed trips.

    Parameters
    ----------
    cust : (n_bookings,) customer index of each booking.
    trip_end_day : (n_bookings,) trip end, integer day.
    counts : (n_bookings,) bool, whether the booking is a real trip (not cancelled/no-show).
    as_of_day : the as-of date, integer day in the same origin; trips ending on it count.
    """
    done = counts & (trip_end_day <= as_of_day)
    ever = np.bincount(cust[done], minlength=n_customers)
    recent_mask = done & (trip_end_day > as_of_day - window_days)
    recent = np.bincount(cust[recent_mask], minlength=n_customers)
    code = np.zeros(n_customers, dtype=np.int8)
    code[ever >= thresholds["silver"]] = 1
    code[(ever >= thresholds["silver"]) & (recent >= thresholds["gold"])] = 2
    code[(code >= 2) & (recent >= thresholds["platinum"])] = 3
    code[(code >= 2) & (recent >= thresholds["diamond"])] = 4
    return code


def assign_member_tiers(
    bookings: pd.DataFrame,
    as_of: str | pd.Timestamp | np.datetime64,
    thresholds: dict[str, int] = TIER_THRESHOLDS,
    *,
    customer_ids: pd.Index | np.ndarray | list[str] | None = None,
    window_days: int = TIER_WINDOW_DAYS,
) -> pd.Series:
    """Member tier of each customer as of a date, from the trips completed by then.

    A trip counts when its status is neither ``cancelled`` nor ``no_show`` and it ended
    (``travel_start + nights``; ``booking_date`` when ``travel_start`` is missing) on or before
    ``as_of``. Tiers: no trip ever -> ``regular``; ``>= thresholds["silver"]`` ever but fewer
    than ``thresholds["gold"]`` ending in the trailing ``window_days`` -> ``silver``; then
    ``gold`` / ``platinum`` / ``diamond`` by the number of trips that ended in the window
    ``(as_of - window_days, as_of]``.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``; optionally
        ``travel_start``, ``nights``, ``status``).
    as_of : the as-of date (day resolution).
    thresholds : see :data:`TIER_THRESHOLDS`.
    customer_ids : customers to report (default: those in ``bookings``); customers without
        bookings are ``regular``.
    window_days : trailing window in days.

    Returns
    -------
    pd.Series
        Categorical (``MEMBER_TIERS``) tier indexed by ``customer_id``.
    """
    as_of_day = pd.Timestamp(as_of).normalize()
    codes, uniques = pd.factorize(bookings["customer_id"], sort=False)
    if customer_ids is not None:
        index = pd.Index(customer_ids, name="customer_id")
    else:
        index = pd.Index(uniques, name="customer_id")
    start = pd.to_datetime(bookings["booking_date"])
    if "travel_start" in bookings:
        start = pd.to_datetime(bookings["travel_start"]).fillna(start)
    nights = bookings["nights"].fillna(0) if "nights" in bookings else 0
    trip_end = start + pd.to_timedelta(np.asarray(nights, dtype=float), unit="D")
    trip_end_day = ((trip_end - as_of_day) // pd.Timedelta(days=1)).to_numpy()
    valid = np.ones(len(bookings), dtype=bool)
    if "status" in bookings:
        valid = ~bookings["status"].isin(["cancelled", "no_show"]).to_numpy()
    tier = _tier_codes(codes, trip_end_day, valid, len(uniques), 0, thresholds, window_days)
    per_booked = pd.Series(pd.Categorical.from_codes(tier, categories=list(MEMBER_TIERS)),
                           index=pd.Index(uniques, name="customer_id"))
    out = per_booked.reindex(index)
    return out.fillna("regular").astype(pd.CategoricalDtype(list(MEMBER_TIERS)))


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


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


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


def _simulate_bgnbd(
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


def _booking_attributes(
    rng: np.random.Generator,
    persona: np.ndarray,
    preferred_channel: np.ndarray,
    booking_day: np.ndarray,
    season_table: np.ndarray,
    personas: list[Persona],
) -> dict[str, np.ndarray]:
    """Product, destination, channel, party size, nights, lead time of each booking.

    ``booking_day`` are integer days since the start date; ``season_table`` comes from
    :func:`_season_table` (it must cover ``booking_day + MAX_LEAD_DAYS``).
    """
    m = persona.shape[0]
    out: dict[str, np.ndarray] = {}
    out["product"] = _draw_categorical(rng, persona, _prob_matrix("product_probs", personas))
    dtype_idx = _draw_categorical(rng, persona, _prob_matrix("destination_type_probs", personas))
    out["destination_type"] = dtype_idx
    # destination uniform within its type: flat list of all destinations
    sizes = np.array([len(DESTINATIONS[t]) for t in DESTINATION_TYPES])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out["destination"] = (offsets[dtype_idx] + (rng.random(m) * sizes[dtype_idx]).astype(int)
                          ).astype(np.int16)
    fresh = _draw_categorical(rng, persona, _prob_matrix("channel_probs", personas))
    stick = np.array([p.channel_stickiness for p in personas])[persona]
    out["channel"] = np.where(rng.random(m) < stick, preferred_channel, fresh).astype(np.int16)
    out["party_size"] = (_draw_categorical(rng, persona, _prob_matrix("party_size_probs", personas))
                         + 1).astype(np.int16)
    out["nights"] = (_draw_categorical(rng, persona, _prob_matrix("nights_probs", personas))
                     + 1).astype(np.int16)
    # lead time: Gamma proposal, tilted towards peak seasons
    kc = LEAD_TIME_CANDIDATES
    cand = np.empty((m, kc), dtype=np.int32)
    for g, p in enumerate(personas):
        rows = np.flatnonzero(persona == g)
        draw = p.lead_time_scale_days * rng.standard_gamma(p.lead_time_shape, (rows.size, kc))
        cand[rows] = np.minimum(p.lead_time_min_days + np.rint(draw), MAX_LEAD_DAYS)
    flat_index = (persona.astype(np.int64) * season_table.shape[1] + booking_day)[:, None] + cand
    w = season_table.ravel()[flat_index]
    cw = np.cumsum(w, axis=1)
    u = rng.random(m) * cw[:, -1]
    j = np.minimum((cw < u[:, None]).sum(axis=1), kc - 1)
    out["lead_days"] = cand[np.arange(m), j]
    return out


def _season_table(start: np.datetime64, n_days: int, personas: list[Persona]) -> np.ndarray:
    """Season weight of every travel day ``start + d`` for every persona, (n_personas, n_days)."""
    days = start + np.arange(n_days).astype("timedelta64[D]")
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64).astype(float)
    amp = np.array([p.season_amplitudes for p in personas])
    return _season_weight(doy[None, :], amp[:, None, :])


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
        return np.array([getattr(p, attr) for p in personas], dtype=float)

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
    preferred_channel = _draw_categorical(rng, persona, _prob_matrix("channel_probs", personas))
    prog.step("customers")

    # ---- 2. BG/NBD process (untruncated) --------------------------------------------------
    b_cust, b_time, b_k = _simulate_bgnbd(rng, acq, lam, n_repeat, horizon)
    drop_row = b_k == n_repeat[b_cust]  # the repeat booking after which the customer left
    dropped = np.zeros(n, dtype=bool)
    dropped[b_cust[drop_row]] = True
    dropout_time = np.full(n, np.nan)
    dropout_time[b_cust[drop_row]] = b_time[drop_row]
    prog.step("bgnbd")

    # ---- 3. loyalty cancellation: Weibull PH on first-trip covariates ---------------------
    # complaint and survey of the first trip (drawn here, used for the first booking below)
    f_comp = _draw_categorical(rng, persona, _prob_matrix("complaint_probs", personas))
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
    season_table = _season_table(start, end_day + MAX_LEAD_DAYS + 1, personas)
    attrs = _booking_attributes(rng, b_persona, preferred_channel[b_cust], b_day, season_table,
                                personas)
    trip_end = b_day + attrs["lead_days"] + attrs["nights"]
    comp = _draw_categorical(rng, b_persona, _prob_matrix("complaint_probs", personas))
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
    prog.step("trips")

    # ---- 5. extra cancelled / no-show bookings -------------------------------------------
    is_src = rng.random(m) < EXTRA_BOOKING_RATE
    src = np.flatnonzero(is_src)
    e_cust = b_cust[src]
    e_time = np.maximum(acq[e_cust], b_time[src] - rng.uniform(1.0, 30.0, src.size))
    e_day = np.floor(e_time).astype(np.int32)
    e_persona = persona[e_cust]
    e_attrs = _booking_attributes(rng, e_persona, preferred_channel[e_cust], e_day,
                                  season_table, personas)
    e_trip_start = e_day + e_attrs["lead_days"]
    e_status = np.where(rng.random(src.size) < EXTRA_NO_SHOW_SHARE, 3, 2)  # no_show / cancelled
    e_status = np.where(e_trip_start > end_day, 2, e_status)  # no-show needs a past trip
    e_full = rng.gamma(par("p")[e_persona], 1.0 / nu[e_cust])
    fee = np.where(rng.random(src.size) < 0.5, 0.0, rng.uniform(0.05, 0.15, src.size))
    e_amount = np.where(e_status == 3, e_full, e_full * fee)
    prog.step("extras")

    # ---- 6. bookings table ---------------------------------------------------------------
    status = np.where(trip_end <= end_day, 0, 1)  # completed / confirmed
    all_cust = np.concatenate([b_cust, e_cust])
    all_time = np.concatenate([b_time, e_time])
    all_day = np.concatenate([b_day, e_day])
    all_attrs = {k_: np.concatenate([attrs[k_], e_attrs[k_]]) for k_ in attrs}
    all_status = np.concatenate([status, e_status]).astype(np.int8)
    all_amount = np.round(np.concatenate([amount, e_amount]), 2)
    order = np.lexsort((all_cust, all_time))  # chronological booking ids
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    if order.size >= 100 * n:
        raise ValueError(f"{order.size} bookings for {n} customers: the booking ids of "
                         "chunks (100 per customer) would overlap")
    booking_ids = _zfill_ids("B", np.arange(1, order.size + 1) + 100 * id_offset, 9)
    customer_ids = _zfill_ids("C", np.arange(1, n + 1) + id_offset, 7)
    dest_flat = [d for t in DESTINATION_TYPES for d in DESTINATIONS[t]]
    o = order
    bookings = pd.DataFrame({
        "booking_id": booking_ids,
        "customer_id": customer_ids[all_cust[o]],
        "booking_date": _days_to_datetime(start, all_day[o]),
        "travel_start": _days_to_datetime(start, all_day[o] + all_attrs["lead_days"][o]),
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
        "status": pd.Categorical.from_codes(all_status[o], categories=list(BOOKING_STATUSES)),
    })
    process_booking_ids = booking_ids[rank[:m]]
    prog.step("bookings")

    # ---- 7. customers table --------------------------------------------------------------
    acq_day = np.floor(acq).astype(np.int64)
    pre = rng.random(n) < 0.4
    signup_day = acq_day - np.where(pre, rng.integers(1, 181, n), 0)
    by_lo, by_hi = (np.array([p.birth_year_range[i] for p in personas]) for i in (0, 1))
    birth_year = rng.integers(by_lo[persona], by_hi[persona] + 1).astype(np.int16)
    region = _draw_categorical(rng, persona, _prob_matrix("region_probs", personas))
    acq_channel = _draw_categorical(rng, persona,
                                    _prob_matrix("acquisition_channel_probs", personas))
    gender = _draw_categorical(rng, np.zeros(n, dtype=np.int8), np.array([GENDER_PROBS]))
    consent = {c: rng.random(n) < par(c)[persona]
               for c in ("consent_email", "consent_sms", "consent_phone")}
    names, emails, phones = _pii(rng, n, region)
    trip_end_all = np.concatenate([trip_end, e_day + e_attrs["lead_days"] + e_attrs["nights"]])
    tier = _tier_codes(all_cust, trip_end_all, all_status <= 1, n, end_day, TIER_THRESHOLDS,
                       TIER_WINDOW_DAYS)
    ctype = np.array([CUSTOMER_KINDS.index(p.customer_type) for p in personas])[persona]
    cancel_dt = np.where(cancelled, _days_to_datetime(start, np.maximum(cancel_day, 0)),
                         np.datetime64("NaT", "ns"))
    customers = pd.DataFrame({
        "customer_id": customer_ids,
        "signup_date": _days_to_datetime(start, signup_day),
        "birth_year": birth_year,
        "gender": pd.Categorical.from_codes(gender, categories=list(GENDERS)),
        "home_region": pd.Categorical.from_codes(region, categories=list(HOME_REGIONS)),
        "member_tier": pd.Categorical.from_codes(tier, categories=list(MEMBER_TIERS)),
        "customer_type": pd.Categorical.from_codes(ctype, categories=list(CUSTOMER_KINDS)),
        "acquisition_channel": pd.Categorical.from_codes(acq_channel,
                                                         categories=list(ACQUISITION_CHANNELS)),
        "consent_email": consent["consent_email"],
        "consent_sms": consent["consent_sms"],
        "consent_phone": consent["consent_phone"],
        "loyalty_member": member,
        "membership_cancel_date": cancel_dt.astype("datetime64[ns]"),
        "name": names,
        "email": emails,
        "phone": phones,
    })
    prog.step("customers table")

    # ---- 8. interactions and feedback ----------------------------------------------------
    interactions = _interactions(
        rng, n, customer_ids, signup_day, start, end_day, consent, preferred_channel,
        b_cust[has_comp], comp[has_comp], comp_day[has_comp],
    )
    fb_ok = has_fb & (fb_day <= end_day) & (trip_end <= end_day)
    fb_idx = np.flatnonzero(fb_ok)
    comment = np.full(fb_idx.size, None, dtype=object)
    with_comment = rng.random(fb_idx.size) < COMMENT_RATE
    good = csat[fb_idx] >= 4
    pick_good = np.asarray(_COMMENTS_GOOD, dtype=object)[rng.integers(0, len(_COMMENTS_GOOD),
                                                                      fb_idx.size)]
    pick_bad = np.asarray(_COMMENTS_BAD, dtype=object)[rng.integers(0, len(_COMMENTS_BAD),
                                                                    fb_idx.size)]
    comment[with_comment & good] = pick_good[with_comment & good]
    comment[with_comment & ~good] = pick_bad[with_comment & ~good]
    fo = np.lexsort((b_cust[fb_idx], fb_day[fb_idx]))
    fb_idx, comment = fb_idx[fo], comment[fo]
    feedback = pd.DataFrame({
        "customer_id": customer_ids[b_cust[fb_idx]],
        "booking_id": process_booking_ids[fb_idx],
        "date": _days_to_datetime(start, fb_day[fb_idx]),
        "csat": csat[fb_idx],
        "nps": nps[fb_idx],
        "comment": comment,
    })
    prog.step("interactions")

    # ---- truth ----------------------------------------------------------------------------
    n_extra = np.bincount(e_cust, minlength=n)
    n_proc = np.bincount(b_cust, minlength=n)
    dropout_day = np.where(dropped, np.floor(np.nan_to_num(dropout_time)), 0).astype(np.int64)
    truth = pd.DataFrame({
        "customer_id": customer_ids,
        "persona": pd.Categorical.from_codes(persona, categories=[p.name for p in personas]),
        "lam_per_day": lam,
        "p_dropout": p_drop,
        "nu_spend": nu,
        "first_booking_date": _days_to_datetime(start, acq_day),
        "age_days": horizon - acq,
        "n_repeat_lifetime": n_repeat.astype(np.int64),
        "dropped_out": dropped,
        "dropout_date": np.where(dropped, _days_to_datetime(start, dropout_day),
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
    planted = _planted(n, seed, start_date, extraction_date, horizon)
    prog.close()
    tables = {"customers": customers, "bookings": bookings, "interactions": interactions,
              "feedback": feedback}
    tables = {k_: df[TABLES[k_].column_names] for k_, df in tables.items()}
    return SyntheticData(**tables, truth=truth, planted=planted)


def _pii(
    rng: np.random.Generator, n: int, region: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names (Chinese characters or Western), unique e-mails and unique phone numbers."""
    greater_china = HOME_REGIONS.index("Hong Kong/Macao/Taiwan")
    overseas = HOME_REGIONS.index("Overseas")
    share_cn = np.full(n, _CHINESE_NAME_SHARE["china"])
    share_cn[region == greater_china] = _CHINESE_NAME_SHARE["greater_china"]
    share_cn[region == overseas] = _CHINESE_NAME_SHARE["overseas"]
    chinese = rng.random(n) < share_cn
    # unique 8-digit suffix per customer: affine bijection of the customer index mod 1e8
    mod = 10**8
    mult, shift = 48_271_003, int(rng.integers(0, mod))
    suffix_num = (np.arange(n, dtype=np.int64) * mult + shift) % mod
    suffix = np.strings.zfill(suffix_num.astype(str), 8)

    sn = rng.integers(0, len(_CN_SURNAMES), n)
    gn = rng.integers(0, len(_CN_GIVEN), n)
    wf = rng.integers(0, len(_WESTERN_FIRST), n)
    wl = rng.integers(0, len(_WESTERN_LAST), n)
    cn_sur = np.array([s for s, _ in _CN_SURNAMES])
    cn_sur_py = np.array([py for _, py in _CN_SURNAMES])
    cn_giv = np.array([s for s, _ in _CN_GIVEN])
    cn_giv_py = np.array([py for _, py in _CN_GIVEN])
    w_first = np.array(_WESTERN_FIRST)
    w_last = np.array(_WESTERN_LAST)
    name = np.where(chinese, np.strings.add(cn_sur[sn], cn_giv[gn]),
                    np.strings.add(np.strings.add(w_first[wf], " "), w_last[wl]))
    handle = np.where(chinese, np.strings.add(cn_sur_py[sn], cn_giv_py[gn]),
                      np.strings.lower(np.strings.add(np.strings.add(w_first[wf], "."),
                                                      w_last[wl])))
    cn_dom = np.array(_CN_EMAIL_DOMAINS)[rng.integers(0, len(_CN_EMAIL_DOMAINS), n)]
    w_dom = np.array(_WESTERN_EMAIL_DOMAINS)[rng.integers(0, len(_WESTERN_EMAIL_DOMAINS), n)]
    domain = np.where(chinese, cn_dom, w_dom)
    email = np.strings.add(np.strings.add(np.strings.add(handle, suffix), "@"), domain)
    # phones: country code by region; the unique 8-digit suffix makes them unique
    cn_prefix = np.array(_CN_MOBILE_PREFIXES)[rng.integers(0, len(_CN_MOBILE_PREFIXES), n)]
    cn_phone = np.strings.add(np.strings.add("+86 ", cn_prefix), suffix)
    hk_phone = np.strings.add("+852 ", suffix)
    uk = rng.random(n) < 0.5
    os_phone = np.where(uk, np.strings.add("+44 79", suffix), np.strings.add("+61 4", suffix))
    phone = np.where(region == overseas, os_phone,
                     np.where(region == greater_china, hk_phone, cn_phone))
    return name.astype(object), email.astype(object), phone.astype(object)


def _interactions(
    rng: np.random.Generator,
    n: int,
    customer_ids: np.ndarray,
    signup_day: np.ndarray,
    start: np.datetime64,
    end_day: int,
    consent: dict[str, np.ndarray],
    preferred_channel: np.ndarray,
    comp_cust: np.ndarray,
    comp_cat: np.ndarray,
    comp_day: np.ndarray,
) -> pd.DataFrame:
    """Complaints (after trips) plus light marketing traffic and inquiries.

    Marketing per customer: e-mail campaigns ~ Poisson(1.2) if e-mail consent, SMS ~
    Poisson(0.4) if SMS consent, app pushes ~ Poisson(0.3) for app-first customers; opened
    with probability 0.35 (e-mail, app push), clicked with probability 0.3 once opened;
    inquiries ~ Poisson(0.25). Average ~2-4 rows per customer.
    """
    sec_per_day = 86_400
    ch = {c: i for i, c in enumerate(CONTACT_CHANNELS)}
    kind = {c: i for i, c in enumerate(INTERACTION_KINDS)}
    first_day = np.maximum(signup_day, 0)
    span = (end_day + 1 - first_day).astype(float)  # days available, >= 1

    parts_cust, parts_ts, parts_ch, parts_kind, parts_cat = [], [], [], [], []

    def add(cust: np.ndarray, ts: np.ndarray, channel: np.ndarray | int, kind_: int,
            cat: np.ndarray | int = -1) -> None:
        ok = ts < (end_day + 1) * sec_per_day
        parts_cust.append(cust[ok])
        parts_ts.append(ts[ok])
        parts_ch.append(np.broadcast_to(np.asarray(channel, dtype=np.int8), ts.shape)[ok])
        parts_kind.append(np.full(int(ok.sum()), kind_, dtype=np.int8))
        parts_cat.append(np.broadcast_to(np.asarray(cat, dtype=np.int8), ts.shape)[ok])

    # complaints: day after the trip + time of day
    comp_ts = comp_day.astype(np.int64) * sec_per_day + rng.integers(8 * 3600, 22 * 3600,
                                                                    comp_cust.size)
    comp_ch = _draw_categorical(rng, np.zeros(comp_cust.size, dtype=np.int8),
                                np.array([[0.3, 0.0, 0.45, 0.1, 0.15]]))
    add(comp_cust.astype(np.int32), comp_ts, comp_ch, kind["complaint"], comp_cat)

    app_first = preferred_channel == BOOKING_CHANNELS.index("app")
    for channel, rate, who in (("email", 1.2, consent["consent_email"]),
                               ("sms", 0.4, consent["consent_sms"]),
                               ("app_push", 0.3, app_first)):
        cnt = rng.poisson(rate, n) * who
        cust = np.repeat(np.arange(n, dtype=np.int32), cnt)
        ts = ((first_day[cust] + rng.random(cust.size) * span[cust]) * sec_per_day).astype(
            np.int64)
        add(cust, ts, ch[channel], kind["campaign_sent"])
        if channel != "sms":
            opened = rng.random(cust.size) < 0.35
            o_cust = cust[opened]
            o_ts = ts[opened] + rng.exponential(6 * 3600, o_cust.size).astype(np.int64)
            add(o_cust, o_ts, ch[channel], kind["opened"])
            clicked = rng.random(o_cust.size) < 0.3
            c_ts = o_ts[clicked] + rng.exponential(600, int(clicked.sum())).astype(np.int64)
            add(o_cust[clicked], c_ts, ch[channel], kind["clicked"])
    cnt = rng.poisson(0.25, n)
    cust = np.repeat(np.arange(n, dtype=np.int32), cnt)
    ts = ((first_day[cust] + rng.random(cust.size) * span[cust]) * sec_per_day).astype(np.int64)
    inq_ch = np.array([ch["phone"], ch["email"], ch["social"]])[
        _draw_categorical(rng, np.zeros(cust.size, dtype=np.int8), np.array([[0.5, 0.25, 0.25]]))]
    add(cust, ts, inq_ch, kind["inquiry"])

    cust = np.concatenate(parts_cust)
    ts = np.concatenate(parts_ts)
    order = np.lexsort((cust, ts))
    cat = np.concatenate(parts_cat)[order]
    return pd.DataFrame({
        "customer_id": customer_ids[cust[order]],
        "timestamp": (start.astype("datetime64[s]") + ts[order].astype("timedelta64[s]")
                      ).astype("datetime64[ns]"),
        "channel": pd.Categorical.from_codes(np.concatenate(parts_ch)[order],
                                             categories=list(CONTACT_CHANNELS)),
        "kind": pd.Categorical.from_codes(np.concatenate(parts_kind)[order],
                                          categories=list(INTERACTION_KINDS)),
        "complaint_category": pd.Categorical.from_codes(cat,
                                                        categories=list(COMPLAINT_CATEGORIES)),
    })


def _planted(n: int, seed: int, start_date: str, extraction_date: str,
             horizon: float) -> dict[str, Any]:
    """The JSON-serialisable planted truth."""
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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(data: SyntheticData, out_dir: str | Path) -> dict[str, Path]:
    """Write the four tables and ``truth`` as Parquet plus ``planted.json``.

    Parameters
    ----------
    data : a generated data set.
    out_dir : folder (created if missing).

    Returns
    -------
    dict
        ``{"customers", "bookings", "interactions", "feedback", "truth", "planted"}`` -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    frames = {**data.tables(), "truth": data.truth}
    for name, df in frames.items():
        path = out / f"{name}.parquet"
        _atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        paths[name] = path
    path = out / "planted.json"
    text = json.dumps(data.planted, indent=2, ensure_ascii=False)
    _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    paths["planted"] = path
    return paths


def generate_to_parquet(
    out_dir: str | Path, n_customers: int = 10_000, *, seed: int = 0, **kw: Any
) -> dict[str, Path]:
    """:func:`generate` then :func:`write_parquet`; ``kw`` go to :func:`generate`."""
    return write_parquet(generate(n_customers, seed=seed, **kw), out_dir)



def generate_chunks_to_parquet(
    out_dir: str | Path,
    n_customers: int,
    *,
    chunk_customers: int = 1_000_000,
    seed: int = 0,
    show_progress: bool = True,
    **kw: Any,
) -> dict[str, Path]:
    """Generate a data set too large for memory as Parquet parts, one chunk at a time.

    Chunk ``i`` is :func:`generate` of ``chunk_customers`` customers (the last one smaller)
    with seed ``(seed, i)`` and ``id_offset = i * chunk_customers``: every chunk follows the
    same personas and planted parameters, ids are distinct across chunks, and memory is that
    of one chunk (about 3 GB per million customers). E-mails and phone numbers are unique
    within a chunk only.

    Parameters
    ----------
    out_dir : folder; the result is ``<out_dir>/<table>/part-<i>.parquet`` for the four
        tables and ``truth``.
    n_customers : customers in all.
    chunk_customers : customers per chunk.
    seed : base seed.
    kw : passed to :func:`generate` (dates).

    Returns
    -------
    dict : table name -> its folder of parts.
    """
    from tqdm.auto import tqdm

    if n_customers < 1 or chunk_customers < 1:
        raise ValueError("n_customers and chunk_customers must be >= 1")
    out = Path(out_dir)
    n_chunks = -(-n_customers // chunk_customers)
    folders = {name: out / name for name in ("customers", "bookings", "interactions", "feedback",
                                             "truth")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(n_chunks), desc="generating chunks", unit="chunk", disable=not show_progress):
        n = min(chunk_customers, n_customers - i * chunk_customers)
        chunk_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        data = generate(n, seed=chunk_seed, id_offset=i * chunk_customers, **kw)
        for name, df in {**data.tables(), "truth": data.truth}.items():
            path = folders[name] / f"part-{i:04d}.parquet"
            _atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        del data
    return folders
