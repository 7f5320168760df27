"""The synthetic company's export as it would have been taken on an earlier day.

A replay (``data.cutoff_dates``) runs a job as of past dates; on real data each of those runs
would have read the export of its own day. :func:`extract_at` gives the synthetic data set
that export: nothing dated after the day (bookings made, customers signed up, interactions,
feedback), each booking's status as known that day (``confirmed`` until its ``status_date``),
cancellations of membership only when they had happened, and the customers table as a
snapshot of that day. The snapshot columns are right for that day because the generator
never changes them over time (consents, home region); ``member_tier`` is the one that moves,
so it is kept only when the job rebuilds it from trips (``data.tier_rule``), and blanked
otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from src.data.synthetic.generator import SyntheticData

__all__ = ["extract_at"]


def extract_at(data: SyntheticData, day: date, *, keep_member_tier: bool) -> SyntheticData:
    """The data set as exported at the end of ``day``.

    Parameters
    ----------
    data : the generated data set (its extraction day on or after ``day``).
    day : the export day (calendar date).
    keep_member_tier : keep the extraction-day ``member_tier`` (True when the job rebuilds it
        as of each date with a tier rule); False blanks it (it would tell the future).

    Returns
    -------
    SyntheticData : the four tables cut at ``day``; ``truth`` and ``planted`` unchanged.
    """
    end = pd.Timestamp(day) + pd.Timedelta(days=1)  # the whole day
    customers = data.customers[pd.to_datetime(data.customers["signup_date"]) < end].copy()
    if "membership_cancel_date" in customers.columns:
        cancel = pd.to_datetime(customers["membership_cancel_date"])
        customers["membership_cancel_date"] = cancel.where(cancel < end)
    if not keep_member_tier and "member_tier" in customers.columns:
        customers["member_tier"] = pd.Series(None, index=customers.index, dtype=object)
    bookings = data.bookings[pd.to_datetime(data.bookings["booking_date"]) < end].copy()
    if "status_date" in bookings.columns:
        later = pd.to_datetime(bookings["status_date"]) >= end
        status = bookings["status"].astype(object).where(~later, "confirmed")
        bookings["status"] = (pd.Categorical(status, categories=bookings["status"].cat.categories)
                              if isinstance(bookings["status"].dtype, pd.CategoricalDtype)
                              else status)
        bookings["status_date"] = bookings["status_date"].where(~later, bookings["booking_date"])
    interactions = data.interactions[pd.to_datetime(data.interactions["timestamp"]) < end]
    feedback = data.feedback[pd.to_datetime(data.feedback["date"]) < end]
    return replace(data, customers=customers.reset_index(drop=True),
                   bookings=bookings.reset_index(drop=True),
                   interactions=interactions.reset_index(drop=True),
                   feedback=feedback.reset_index(drop=True))
