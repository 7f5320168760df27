"""Synthetic travel-company data with planted, recoverable truth (the embedded demo data set).

:func:`generate` draws the four contract tables (``customers``, ``bookings``, ``interactions``,
``feedback``; see :mod:`src.data.contract`) plus a hidden ``truth`` table and the ``planted``
parameters, so every model of the project has a known answer (time unit **days**, money in
:data:`CURRENCY`; the planted model is described in the notes of :func:`generate`). The package
is split by responsibility: :mod:`~src.data.synthetic.planted` (constants and personas),
:mod:`~src.data.synthetic.sampling` (draw helpers), :mod:`~src.data.synthetic.customers`,
:mod:`~src.data.synthetic.bookings`, :mod:`~src.data.synthetic.interactions` (with feedback),
:mod:`~src.data.synthetic.generator` (:func:`generate`) and :mod:`~src.data.synthetic.parquet`
(writing, also in chunks); this module re-exports their public API.
"""

from __future__ import annotations

from src.data.synthetic.bookings import bgnbd_expected_repeat_bookings
from src.data.synthetic.customers import assign_member_tiers
from src.data.synthetic.generator import SyntheticData, generate
from src.data.synthetic.interactions import COMMENT_RATE
from src.data.synthetic.parquet import (
    generate_chunks_to_parquet,
    generate_to_parquet,
    write_parquet,
)
from src.data.synthetic.planted import (
    ACQUISITION_CHANNELS,
    ACQUISITION_GROWTH,
    COMPLAINT_CSAT_DROP,
    COMPLAINT_LAG_DAYS,
    CSAT_NOISE_SD,
    CURRENCY,
    DESTINATIONS,
    EXTRA_BOOKING_RATE,
    EXTRA_NO_SHOW_SHARE,
    FEEDBACK_LAG_DAYS,
    GENDER_PROBS,
    GENDERS,
    HOME_REGIONS,
    LEAD_TIME_CANDIDATES,
    LOW_CSAT_MAX,
    MAX_LEAD_DAYS,
    PERSONAS,
    PLANTED_HAZARD_RATIOS,
    SEASON_PEAKS,
    TIER_THRESHOLDS,
    TIER_WINDOW_DAYS,
    Persona,
)

__all__ = [
    "ACQUISITION_CHANNELS",
    "ACQUISITION_GROWTH",
    "COMMENT_RATE",
    "COMPLAINT_CSAT_DROP",
    "COMPLAINT_LAG_DAYS",
    "CSAT_NOISE_SD",
    "CURRENCY",
    "DESTINATIONS",
    "EXTRA_BOOKING_RATE",
    "EXTRA_NO_SHOW_SHARE",
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
    "SyntheticData",
    "assign_member_tiers",
    "bgnbd_expected_repeat_bookings",
    "generate",
    "generate_chunks_to_parquet",
    "generate_to_parquet",
    "write_parquet",
]
