"""The synthetic export of an earlier day: nothing later, statuses as known then."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from src.data.synthetic import generate
from src.data.synthetic.extraction import extract_at

DAY = date(2024, 6, 30)


@pytest.fixture(scope="module")
def data():
    return generate(800, seed=9, start_date="2022-01-01", extraction_date="2025-12-31")


def test_nothing_dated_after_the_day(data):
    cut = extract_at(data, DAY, keep_member_tier=True)
    end = pd.Timestamp("2024-07-01")
    assert (cut.bookings["booking_date"] < end).all()
    assert (cut.customers["signup_date"] < end).all()
    assert (cut.interactions["timestamp"] < end).all() and (cut.feedback["date"] < end).all()
    assert (cut.bookings["status_date"] < end).all()
    cancel = cut.customers["membership_cancel_date"].dropna()
    assert (cancel < end).all()
    # every row of that day is still there
    assert len(cut.bookings) == (data.bookings["booking_date"] < end).sum()
    assert len(cut.customers) == (data.customers["signup_date"] < end).sum()


def test_statuses_are_those_known_on_the_day(data):
    cut = extract_at(data, DAY, keep_member_tier=False).bookings.set_index("booking_id")
    full = data.bookings.set_index("booking_id").loc[cut.index]
    later = full["status_date"] >= pd.Timestamp("2024-07-01")
    assert later.any()  # trips booked before, completed or cancelled after the day
    assert (cut.loc[later, "status"].astype(str) == "confirmed").all()
    same = ~later
    assert (cut.loc[same, "status"].astype(str) == full.loc[same, "status"].astype(str)).all()


def test_member_tier_is_blanked_without_a_rule(data):
    assert extract_at(data, DAY, keep_member_tier=False).customers["member_tier"].isna().all()
    kept = extract_at(data, DAY, keep_member_tier=True).customers["member_tier"]
    assert kept.notna().any()
