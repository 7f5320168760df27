"""One meaning per business word: a hand-made history, the words worked out by hand, and every
consumer (the churn state the scorer reads, the lapse table, the KPIs, the campaign results,
the backtest's realised churn, the BTYD summary) giving the same answer for the same customer
on the same date.

The company, on ``D`` = 2024-03-31 with the window (``churn.gap_days``) of 60 days; every
trip is one night unless said:

=====  ===================================================================================
P      completed trips booked 2024-01-05 and twice on 2024-02-10 (two purchase days)
N      a booking of 2024-02-01, travelled 2024-02-05: a no-show (known at the trip start)
U      booked 2024-03-20 for 2024-04-15 (confirmed): an upcoming trip, nothing travelled
L      one completed trip booked 2023-10-01: lapsed since 2023-11-30
W      completed 2023-06-01, then again 2024-03-01: won back
C      booked 2024-03-10 for 2024-03-12 (2 nights), cancelled on 2024-04-20, after D: at D a
       purchase and a completed trip (its cancellation is not known yet)
M      completed 2024-03-01; a member who cancelled the membership on 2024-03-15
R      one completed trip booked 2024-01-15: at risk on 2024-02-29, lapsed by D (on 03-15)
=====  ===================================================================================
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from src.features.definitions import (
    cancelled_members,
    completed_mask,
    customer_days,
    is_active,
    is_at_risk,
    is_lapsed,
    is_repeat,
    is_retained,
    is_won_back,
    purchase_mask,
    status_at,
)
from src.features.rfm_summary import summary_at
from src.features.scoring import FeatureSettings, churn_state
from src.features.survival import lapse_survival_table
from src.loop.backtest import realised_churn
from src.loop.campaign_results import measure_publication
from src.loop.kpis import kpis_by_group, monthly_kpis

D = pd.Timestamp("2024-03-31")
START = pd.Timestamp("2024-02-29")  # the start of D's month, for the churn rate
W = 60
IDS = list("PNULWCMR")

# by hand, on D
PURCHASES = {"P": 3, "N": 0, "U": 1, "L": 1, "W": 2, "C": 1, "M": 1, "R": 1}
COMPLETED = {"P": 3, "N": 0, "U": 0, "L": 1, "W": 2, "C": 1, "M": 1, "R": 1}
ACTIVE = {"P", "U", "W", "C", "M"}
AT_RISK = {"P", "W", "C", "M"}
LAPSED = {"L", "R"}
WON_BACK = {"W"}
REPEAT = {"P", "W"}
RETAINED = ACTIVE - {"M"}
BOOKED_IN_MARCH = {"U", "W", "C", "M"}  # purchases dated in (START, D]


def _bookings() -> pd.DataFrame:
    rows = [  # customer, booked, travel start, nights, status, status date, amount
        ("P", "2024-01-05", "2024-01-10", 1, "completed", None, 100.0),
        ("P", "2024-02-10", "2024-02-12", 1, "completed", None, 50.0),
        ("P", "2024-02-10", "2024-02-14", 1, "completed", None, 70.0),
        ("N", "2024-02-01", "2024-02-05", 1, "no_show", None, 80.0),
        ("U", "2024-03-20", "2024-04-15", 1, "confirmed", None, 300.0),
        ("L", "2023-10-01", "2023-10-03", 1, "completed", None, 90.0),
        ("W", "2023-06-01", "2023-06-02", 1, "completed", None, 60.0),
        ("W", "2024-03-01", "2024-03-02", 1, "completed", None, 65.0),
        ("C", "2024-03-10", "2024-03-12", 2, "cancelled", "2024-04-20", 400.0),
        ("M", "2024-03-01", "2024-03-02", 1, "completed", None, 55.0),
        ("R", "2024-01-15", "2024-01-16", 1, "completed", None, 45.0),
    ]
    b = pd.DataFrame(rows, columns=["customer_id", "booking_date", "travel_start", "nights",
                                    "status", "status_date", "amount"])
    for c in ("booking_date", "travel_start", "status_date"):
        b[c] = pd.to_datetime(b[c])
    b["booking_id"] = [f"b{i}" for i in range(len(b))]
    return b


def _customers() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": IDS,
                         "membership_cancel_date": pd.to_datetime(
                             [None, None, None, None, None, None, "2024-03-15", None])})


def _per_customer(mask: np.ndarray, b: pd.DataFrame) -> dict[str, int]:
    counts = b.loc[mask, "customer_id"].value_counts()
    return {c: int(counts.get(c, 0)) for c in IDS}


def _set(index: pd.Index, mask: np.ndarray) -> set[str]:
    return {str(c) for c in index[np.asarray(mask, dtype=bool)]}


def test_the_booking_words_by_hand():
    b = _bookings()
    assert _per_customer(purchase_mask(b, D), b) == PURCHASES
    assert _per_customer(completed_mask(b, D), b) == COMPLETED
    # C's cancellation is recorded after D: at D it is an upcoming (here: ended) trip
    assert status_at(b, D).tolist()[8] == "confirmed"
    assert status_at(b, "2024-04-20").tolist()[8] == "cancelled"
    # later, C's booking is neither a purchase nor completed: known from 2024-04-20 on
    assert _per_customer(purchase_mask(b, "2024-04-20"), b)["C"] == 0


def test_the_customer_words_by_hand():
    b = _bookings()
    bought = customer_days(b, D)
    travelled = customer_days(b, D, kind="completed")
    assert dict(bought["days"]) == {"C": 1, "L": 1, "M": 1, "P": 2, "R": 1, "U": 1, "W": 2}
    assert _set(bought.index, is_active(bought["last"].to_numpy(), D, W)) == ACTIVE
    assert _set(bought.index, is_repeat(bought["days"].to_numpy())) == REPEAT
    last, gap = travelled["last"].to_numpy(), travelled["max_gap_days"].to_numpy()
    assert _set(travelled.index, is_at_risk(last, D, W)) == AT_RISK
    assert _set(travelled.index, is_lapsed(last, D, W)) == LAPSED
    assert _set(travelled.index, is_won_back(last, gap, D, W)) == WON_BACK
    ids = pd.Index(IDS)
    cancelled = cancelled_members(_customers(), ids, D)
    assert _set(ids, cancelled) == {"M"}
    last_all = bought["last"].reindex(ids).to_numpy(dtype="datetime64[ns]")
    assert _set(ids, is_retained(last_all, cancelled, D, W)) == RETAINED
    # the window is (d - w, d]: a purchase exactly w days old no longer makes one active
    edge = np.array([D - pd.Timedelta(days=W), D - pd.Timedelta(days=W - 1)], "datetime64[ns]")
    assert is_active(edge, D, W).tolist() == [False, True]


def test_the_churn_state_and_the_lapse_table_say_at_risk_and_lapsed():
    b = _bookings()
    state = churn_state({"bookings": b}, D, FeatureSettings(churn_gap_days=W))
    at_risk = state["churn_at_risk"]
    assert _set(at_risk.index, at_risk == 1) == AT_RISK
    assert _set(at_risk.index, at_risk == 0) == LAPSED
    assert not ({"U", "N"} & set(at_risk.index))  # nothing travelled: not covered
    table = lapse_survival_table(b, cutoff_date=D, gap_days=W)
    # the table's event is the *first* lapse: a customer won back has had it too
    assert _set(table.index, table["event"] == 1) == LAPSED | WON_BACK


def test_the_kpis_count_the_same_customers():
    b = _bookings()
    monthly = monthly_kpis(b, None, cutoff=D, active_days=W, months=1).iloc[-1]
    assert monthly["active_customers"] == len(ACTIVE)
    assert monthly["repeat_rate"] == pytest.approx(len(REPEAT & ACTIVE) / len(ACTIVE))
    at_start = {"P", "R"}  # completed bookings in (2023-12-31, 2024-02-29]
    assert monthly["at_risk_at_start"] == len(at_start)
    assert monthly["churn_rate"] == pytest.approx(len(at_start & LAPSED) / len(at_start))
    # one group per customer: each KPI says the word of that customer
    groups = pd.DataFrame({"customer_id": IDS, "who": IDS})
    by = kpis_by_group(b, None, groups, by=["who"], cutoff=D, active_days=W).set_index("group")
    assert {c for c in IDS if by.at[c, "active_customers"] == 1} == ACTIVE
    assert {c for c in IDS if by.at[c, "repeat_rate"] == 1} == REPEAT & ACTIVE
    assert {c for c in IDS if by.at[c, "churn_rate"] == 1} == at_start & LAPSED
    assert {c for c in IDS if by.at[c, "churn_rate"] == 0} == at_start - LAPSED
    assert by.loc[sorted(ACTIVE), "revenue_per_active"].to_dict() == pytest.approx(
        {"C": 400.0, "M": 55.0, "P": 220.0, "U": 300.0, "W": 125.0})


def test_the_campaign_results_measure_the_same_words():
    """Each customer alone on a list published on START: its booking rate is 1 when it made
    a purchase in (START, D], its retention 1 when it is retained at D."""
    b = _bookings()
    members = pd.DataFrame({"run_id": "r1", "list": IDS, "customer_id": IDS, "arm": "treated"})
    res = measure_publication(members, b, _customers(), cutoff_date=START.date(),
                              window_end=D.date(), gap_days=W, min_arm_size=1,
                              as_of=date(2024, 3, 31)).set_index(["list", "metric"])
    booked = {c for c in IDS if res.at[(c, "booking_rate"), "treated"] == 1}
    retained = {c for c in IDS if res.at[(c, "retention"), "treated"] == 1}
    assert booked == BOOKED_IN_MARCH and retained == RETAINED
    # measured after C's cancellation was recorded, C's trip no longer counts
    later = measure_publication(members, b, _customers(), cutoff_date=START.date(),
                                window_end=D.date(), gap_days=W, min_arm_size=1,
                                as_of=date(2024, 4, 30)).set_index(["list", "metric"])
    assert later.at[("C", "booking_rate"), "treated"] == 0


def test_the_backtest_and_the_btyd_summary_use_the_same_words():
    b = _bookings()
    churn = realised_churn(b, previous_cutoff=START, horizon_days=(D - START).days, gap_days=W)
    assert set(churn.index) == {"P", "R"}  # at risk on START
    assert _set(churn.index, churn["churned"] == 1) == {"R"} == {"P", "R"} & LAPSED
    summary = summary_at(b, D)
    assert _set(summary.index, is_repeat(summary["frequency"].to_numpy() + 1)) == REPEAT
    assert set(summary.index) == {c for c, n in PURCHASES.items() if n}
