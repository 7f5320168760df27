"""Planted campaign effects: only treated customers change, inside the window, exactly as
planted."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from src.data.synthetic import generate
from src.data.synthetic.campaign_effects import plant_campaign_effects

CUT, END = date(2025, 6, 30), date(2025, 12, 31)


@pytest.fixture(scope="module")
def world():
    data = generate(1500, seed=5, start_date="2022-01-01", extraction_date=str(END))
    ids = pd.Series(sorted(data.bookings["customer_id"].unique())[:600])
    arm = np.where(np.arange(len(ids)) % 2 == 0, "treated", "control")
    members = pd.DataFrame({"run_id": "r1", "list": np.where(np.arange(len(ids)) < 300, "a", "b"),
                            "customer_id": ids, "arm": arm, "cutoff_date": str(CUT)})
    return data, members


def _bookers(bookings: pd.DataFrame, start: date, end: date) -> set[str]:
    d = bookings["booking_date"]
    hit = (d > pd.Timestamp(start)) & (d <= pd.Timestamp(end)) & (bookings["status"] != "cancelled")
    return set(bookings.loc[hit, "customer_id"])


def test_certain_effect_gives_every_treated_customer_one_booking_in_the_window(world):
    data, members = world
    out, planted = plant_campaign_effects(data.bookings, members, {"a": 1.0}, measure_days=90,
                                          extraction_date=END, seed=1)
    extra = out[out["booking_id"].str.startswith("BC")]
    treated_a = set(members.query("list == 'a' and arm == 'treated'")["customer_id"])
    assert set(extra["customer_id"]) == treated_a and len(extra) == len(treated_a)
    assert extra["booking_date"].gt(pd.Timestamp(CUT)).all()
    assert extra["booking_date"].le(pd.Timestamp("2025-09-28")).all()  # cut-off + 90 days
    assert out["booking_id"].is_unique and len(out) == len(data.bookings) + len(extra)
    row = planted.set_index("list").loc["a"]
    members_a = members[members["list"] == "a"]["customer_id"]
    no_booking = ~members_a.isin(_bookers(data.bookings, CUT, date(2025, 9, 28)))
    assert row.planted_uplift == pytest.approx(no_booking.mean())
    assert planted.set_index("list").loc["b", "planted_uplift"] == 0.0


def test_controls_and_other_lists_are_untouched(world):
    data, members = world
    out, _ = plant_campaign_effects(data.bookings, members, {"a": 0.5}, measure_days=90,
                                    extraction_date=END, seed=1)
    untouched = set(members.query("arm == 'control' or list == 'b'")["customer_id"])
    before = data.bookings[data.bookings["customer_id"].isin(untouched)]
    after = out[out["customer_id"].isin(untouched)]
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True),
                                  check_categorical=False)
    takers = out[out["booking_id"].str.startswith("BC")]
    treated_a = members.query("list == 'a' and arm == 'treated'")
    assert 0.35 < len(takers) / len(treated_a) < 0.65  # q = 0.5 of 150


def test_no_effect_no_change(world):
    data, members = world
    out, planted = plant_campaign_effects(data.bookings, members, {}, measure_days=90,
                                          extraction_date=END, seed=1)
    assert len(out) == len(data.bookings)
    assert planted["extra_bookings"].sum() == 0
