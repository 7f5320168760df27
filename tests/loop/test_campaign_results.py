"""Treated vs control: exact outcomes on a hand-made case, and interval coverage."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from src.loop.campaign_results import (
    campaign_results,
    headline_metrics,
    measure_publication,
    verdict_lines,
)

PUB, END = date(2025, 9, 30), date(2025, 12, 29)


def _members() -> pd.DataFrame:
    return pd.DataFrame({"run_id": "r1", "list": "win_back", "cutoff_date": "2025-09-30",
                         "customer_id": [f"T{i}" for i in range(4)] + [f"K{i}" for i in range(4)],
                         "arm": ["treated"] * 4 + ["control"] * 4})


def _bookings() -> pd.DataFrame:
    rows = [
        ("T0", "2025-10-05", 100.0, "completed"),
        ("T1", "2025-11-01", 300.0, "confirmed"),
        ("T1", "2025-11-02", 50.0, "completed"),
        ("T2", "2025-12-29", 200.0, "completed"),   # last day of the window: counts
        ("T3", "2025-10-10", 999.0, "cancelled"),   # cancelled: no booking
        ("K0", "2025-09-30", 500.0, "completed"),   # the cut-off day itself: before the window
        ("K1", "2025-12-01", 80.0, "completed"),
        ("K2", "2025-12-30", 700.0, "completed"),   # after the window
        ("K3", "2025-01-15", 60.0, "completed"),    # before the window: retained only by the gap
    ]
    return pd.DataFrame(rows, columns=["customer_id", "booking_date", "amount", "status"]).assign(
        booking_date=lambda d: pd.to_datetime(d["booking_date"]))


def test_exact_outcomes_and_welch_interval():
    res = measure_publication(_members(), _bookings(), None, cutoff_date=PUB, window_end=END,
                              gap_days=365, min_arm_size=2).set_index("metric")
    rate = res.loc["booking_rate"]
    assert (rate.treated, rate.control) == (0.75, 0.25)
    se = np.sqrt(np.var([1, 1, 1, 0], ddof=1) / 4 + np.var([0, 1, 0, 0], ddof=1) / 4)
    assert rate.uplift == pytest.approx(0.5)
    assert rate.ci_low == pytest.approx(0.5 - 1.959964 * se, abs=1e-6)
    assert rate.ci_high == pytest.approx(0.5 + 1.959964 * se, abs=1e-6)
    revenue = res.loc["revenue_per_customer"]
    assert revenue.treated == pytest.approx((100 + 350 + 200) / 4)
    assert revenue.control == pytest.approx(80 / 4)
    # retention at 2025-12-29 with a 365-day gap: T0-T2 booked, T3 only cancelled; K0, K1 and
    # K3 (2025-01-15 is within 365 days) booked in time, K2 only after the window
    retention = res.loc["retention"]
    assert (retention.treated, retention.control) == (0.75, 0.75)


def test_membership_cancellation_ends_retention():
    customers = pd.DataFrame({"customer_id": ["T0", "K1"],
                              "membership_cancel_date": pd.to_datetime(["2025-11-01", "2026-02-01"])})
    res = measure_publication(_members(), _bookings(), customers, cutoff_date=PUB,
                              window_end=END, gap_days=365, min_arm_size=2).set_index("metric")
    assert res.loc["retention", "treated"] == 0.5  # T0 cancelled inside the window
    assert res.loc["retention", "control"] == 0.75  # K1 cancels after it


def test_small_arms_and_due_windows():
    reg = _members().assign(job="j")
    early = campaign_results(reg, _bookings(), None, cutoff=date(2025, 12, 28), measure_days=90,
                             gap_days=365)
    assert early.empty  # the window ends 2025-12-29
    res = campaign_results(reg, _bookings(), None, cutoff=date(2025, 12, 31), measure_days=90,
                           gap_days=365, min_arm_size=30)
    assert res["verdict"].str.startswith("too small to measure").all()
    assert "campaigns.min_arm_size" in res["verdict"].iloc[0]


def test_the_interval_covers_the_true_uplift_95_percent_of_the_time():
    """200 simulated campaigns with a known uplift of 0.10 on the booking rate."""
    rng = np.random.default_rng(11)
    n, covered, zero_effect_covered = 400, 0, 0
    for _ in range(200):
        ids = [f"C{i}" for i in range(2 * n)]
        arm = np.array(["treated"] * n + ["control"] * n)
        p = np.where(arm == "treated", 0.30, 0.20)
        booked = rng.random(2 * n) < p
        members = pd.DataFrame({"run_id": "r", "list": "l", "customer_id": ids, "arm": arm})
        bookings = pd.DataFrame({"customer_id": np.array(ids)[booked],
                                 "booking_date": pd.Timestamp("2025-10-15"), "amount": 1.0,
                                 "status": "completed"})
        res = measure_publication(members, bookings, None, cutoff_date=PUB, window_end=END,
                                  gap_days=365).set_index("metric").loc["booking_rate"]
        covered += res.ci_low <= 0.10 <= res.ci_high
        zero_effect_covered += res.ci_low <= 0 <= res.ci_high
    assert 0.91 <= covered / 200 <= 0.99
    assert zero_effect_covered / 200 < 0.2  # a real 10-point effect is seen most of the time


def test_metrics_and_sentences_name_the_no_effect_list():
    members = pd.concat([_members(), _members().assign(list="nurture")])
    bookings = _bookings()
    bookings = pd.concat([bookings, bookings.assign(customer_id=lambda d: "x" + d.customer_id)])
    res = measure_publication(members, bookings, None, cutoff_date=PUB, window_end=END,
                              gap_days=365, min_arm_size=2)
    metrics = headline_metrics(res)
    assert metrics["campaign.win_back.uplift"] == pytest.approx(0.5)
    assert {"campaign.win_back.uplift_ci_low", "campaign.win_back.uplift_ci_high",
            "campaign.nurture.revenue_uplift"} <= set(metrics)
    lines = verdict_lines(res)
    assert any(line.startswith("win_back") and "NO MEASURABLE EFFECT" in line for line in lines)
