"""KPIs on a tiny company computed by hand: monthly values, point in time, by group, targets.

The company (cut-off 2024-03-31, active = a counted booking in the last 60 days, 3 months):

=====  ============================================================================
A      booked 2023-12-10 (100) and 2024-02-15 (200)
B      booked 2024-01-05 (50)
C      booked 2023-11-20 (80); booked 2024-03-10 (500), cancelled that day
D      booked 2024-03-20 (300) and 2024-03-25 (100), trips not yet taken (confirmed)
F      booked 2024-02-20 (40), cancelled on 2024-04-10, after the cut-off: counted until then
G      booked 2023-03-15 (1000): only in the trailing 12 months of January and February
=====  ============================================================================

Active customers (last purchase within 60 days): 2023-12-31 {A, C}; 2024-01-31 {A, B};
2024-02-29 {A, B, F}; 2024-03-31 {A, D, F}. Feedback (NPS, CSAT): 2023-02-15 (0, 1),
2023-12-01 (10, 5), 2024-02-10 (7, 4), 2024-03-05 (9, no CSAT).
"""

from __future__ import annotations

from datetime import date

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.loop.kpis import (  # noqa: E402
    HEADLINE_COLUMNS,
    KpiSnapshot,
    current_values,
    expected_value,
    kpi_as_of_dates,
    kpi_metrics,
    kpi_status,
    kpi_table,
    kpis_by_group,
    monthly_kpis,
    parse_target,
)
from src.plots.kpis import kpi_paths  # noqa: E402

CUTOFF = "2024-03-31"


def _bookings(*extra: tuple) -> pd.DataFrame:
    rows = [
        ("A", "2023-12-10", 100.0, "completed", None), ("A", "2024-02-15", 200.0, "completed", None),
        ("B", "2024-01-05", 50.0, "completed", None),
        ("C", "2023-11-20", 80.0, "completed", None),
        ("C", "2024-03-10", 500.0, "cancelled", "2024-03-10"),
        ("D", "2024-03-20", 300.0, "confirmed", None), ("D", "2024-03-25", 100.0, "confirmed", None),
        ("F", "2024-02-20", 40.0, "cancelled", "2024-04-10"),
        ("G", "2023-03-15", 1000.0, "completed", None), *extra]
    b = pd.DataFrame(rows, columns=["customer_id", "booking_date", "amount", "status",
                                    "status_date"])
    b["booking_date"] = pd.to_datetime(b["booking_date"])
    b["status_date"] = pd.to_datetime(b["status_date"])
    return b


def _feedback(*extra: tuple) -> pd.DataFrame:
    rows = [("X", "2023-02-15", 0, 1.0), ("A", "2023-12-01", 10, 5.0), ("D", "2024-02-10", 7, 4.0),
            ("B", "2024-03-05", 9, np.nan), *extra]
    f = pd.DataFrame(rows, columns=["customer_id", "date", "nps", "csat"])
    f["date"] = pd.to_datetime(f["date"])
    return f


def _monthly(bookings=None, feedback=None, **kw) -> pd.DataFrame:
    kw = {"cutoff": CUTOFF, "active_days": 60, "months": 3, **kw}
    return monthly_kpis(_bookings() if bookings is None else bookings,
                        _feedback() if feedback is None else feedback, **kw)


def test_monthly_kpis_match_the_hand_computation() -> None:
    m = _monthly().set_index("month")
    assert list(m.index) == ["2024-01", "2024-02", "2024-03"]
    assert m["active_customers"].tolist() == [2, 3, 3]
    # repeat: January none of {A, B} has 2 bookings; February A of {A, B, F}; March A, D
    assert m["repeat_rate"].tolist() == pytest.approx([0.0, 1 / 3, 2 / 3])
    # churn: of the customers at risk (a completed booking in the last 60 days; D's and F's
    # trips are not completed) January C of {A, C} lapsed; February none of {A, B}; March B
    # of {A, B}
    assert m["churn_rate"].tolist() == pytest.approx([1 / 2, 0.0, 1 / 2])
    assert m["lapsed"].tolist() == [1, 0, 1] and m["at_risk_at_start"].tolist() == [2, 2, 2]
    # revenue of the trailing 12 months: G's 1000 until February; C's cancelled 500 never
    assert m["revenue_12m"].tolist() == pytest.approx([1230.0, 1470.0, 870.0])
    assert m["revenue_per_active"].tolist() == pytest.approx([615.0, 490.0, 290.0])
    # NPS: January [0, 10] -> 50 - 50; February [10, 7] -> 50 - 0; March [10, 7, 9] -> 66.7
    assert m["nps"].tolist() == pytest.approx([0.0, 50.0, 200 / 3])
    assert m["csat"].tolist() == pytest.approx([3.0, 4.5, 4.5])
    assert m["nps_responses"].tolist() == [2, 2, 3] and m["csat_responses"].tolist() == [2, 2, 2]
    assert m["complete"].all()


def test_rows_after_the_cutoff_change_nothing() -> None:
    before = _monthly()
    later = _monthly(_bookings(("E", "2024-04-05", 1000.0, "completed", None),
                               ("A", "2024-04-01", 70.0, "completed", None)),
                     _feedback(("A", "2024-04-02", 0, 1.0)))
    pd.testing.assert_frame_equal(before, later)


def test_a_month_equals_the_same_month_of_an_earlier_cutoff() -> None:
    # point in time: February of this run is what a run with cut-off 2024-02-29 saw
    now = _monthly().set_index("month").loc["2024-02"]
    then = _monthly(cutoff="2024-02-29", months=1).set_index("month").loc["2024-02"]
    pd.testing.assert_series_equal(now, then)


def test_partial_last_month_ends_at_the_cutoff() -> None:
    m = _monthly(feedback=_feedback().iloc[:0], cutoff="2024-03-15", months=2)
    last = m.iloc[-1]
    assert last["as_of"] == pd.Timestamp("2024-03-15") and not last["complete"]
    # active on 03-15: A (02-15), F (02-20); C's cancellation is known, D has not booked yet
    assert last["active_customers"] == 2 and last["repeat_rate"] == pytest.approx(0.5)
    assert last["churn_rate"] == pytest.approx(1 / 2)  # B of {A, B} (F's trip not completed)
    assert last["revenue_12m"] == pytest.approx(470.0)  # G's 2023-03-15 is one day too old
    assert np.isnan(last["nps"]) and np.isnan(last["csat"])  # no feedback


def test_no_feedback_table_and_no_bookings() -> None:
    m = monthly_kpis(_bookings(), None, cutoff=CUTOFF, active_days=60, months=2)
    assert m["nps"].isna().all() and m["csat"].isna().all()
    empty = monthly_kpis(_bookings().iloc[:0], None, cutoff=CUTOFF, active_days=60, months=2)
    assert (empty["active_customers"] == 0).all() and empty["repeat_rate"].isna().all()
    assert empty["revenue_per_active"].isna().all()
    assert current_values(empty)["active_customers"] == 0


def test_without_status_every_booking_counts() -> None:
    m = _monthly(_bookings().drop(columns=["status", "status_date"])).set_index("month")
    assert m.at["2024-03", "revenue_12m"] == pytest.approx(1370.0)  # C's 500 counts
    assert m.at["2024-03", "active_customers"] == 4  # C is active again


def test_as_of_dates() -> None:
    dates = kpi_as_of_dates("2024-03-15", 3)
    assert [f"{d:%Y-%m-%d}" for d in dates] == ["2024-01-31", "2024-02-29", "2024-03-15"]
    with pytest.raises(ValueError):
        kpi_as_of_dates(CUTOFF, 0)


def test_kpis_by_group() -> None:
    groups = pd.DataFrame({"customer_id": list("ABCDF"),
                           "value_tier": ["gold", "gold", None, "silver", "silver"]})
    by = kpis_by_group(_bookings(), _feedback(), groups, by=["value_tier"], cutoff=CUTOFF,
                       active_days=60).set_index("group")
    assert list(by.index) == ["gold", "silver"] and by["customers"].tolist() == [2, 2]
    gold, silver = by.loc["gold"], by.loc["silver"]
    # gold {A, B}: A active with 2 bookings, B lapsed in March; 300 + 50 over 1 active
    assert (gold["active_customers"], gold["repeat_rate"], gold["churn_rate"]) == (1, 1.0, 0.5)
    assert gold["revenue_per_active"] == pytest.approx(350.0)
    assert gold["nps"] == pytest.approx(100.0) and gold["csat"] == pytest.approx(5.0)
    # silver {D, F}: both active, D booked on 2 days; 400 + 40 over 2; D's NPS 7 is passive;
    # neither has completed a trip, so nobody was at risk of lapsing: no churn rate
    assert (silver["active_customers"], silver["repeat_rate"]) == (2, 0.5)
    assert np.isnan(silver["churn_rate"])
    assert silver["revenue_per_active"] == pytest.approx(220.0)
    assert silver["nps"] == pytest.approx(0.0) and silver["csat"] == pytest.approx(4.0)
    with pytest.raises(KeyError, match="segment"):
        kpis_by_group(_bookings(), None, groups, by=["segment"], cutoff=CUTOFF, active_days=60)


@pytest.mark.parametrize("text, baseline, expected", [
    ("+20% by 2027-12", 0.5, (0.6, date(2027, 12, 31))),
    ("-10% by 2027-02", 0.2, (0.18, date(2027, 2, 28))),
    ("+20% by 2027-12", -10.0, (-8.0, date(2027, 12, 31))),  # up, also from a negative NPS
    ("+0.5 by 2026-06-15", 4.0, (4.5, date(2026, 6, 15))),
    ("-0.02 by 2026-12", 0.05, (0.03, date(2026, 12, 31))),
    ("0.45 by 2028-02", 0.3, (0.45, date(2028, 2, 29))),
    (" 300 by 2026-01-31 ", float("nan"), (300.0, date(2026, 1, 31))),
])
def test_parse_target_reads_the_three_forms(text, baseline, expected) -> None:
    value, when = parse_target(text, baseline)
    assert value == pytest.approx(expected[0]) and when == expected[1]


def test_parse_target_relative_to_an_unknown_baseline_is_nan() -> None:
    assert np.isnan(parse_target("+20% by 2027-12", float("nan"))[0])
    assert np.isnan(parse_target("+1 by 2027-12", float("nan"))[0])


@pytest.mark.parametrize("text, message", [
    ("+20 percent by 2027-12", "does not read"), ("20% in 2027", "does not read"),
    ("+20% by 2027-13", "not a calendar"), ("0.4 by 2027-02-30", "not a calendar"),
    ("20% by 2027-12", "needs its sign"), ("", "does not read"),
])
def test_parse_target_rejects_bad_text(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(text, 1.0)


def test_expected_value_is_the_straight_path() -> None:
    start, end = date(2024, 1, 1), date(2025, 1, 1)  # 366 days
    assert expected_value(10, start, 20, end, date(2024, 7, 2)) == pytest.approx(15.0)
    assert expected_value(10, start, 20, end, date(2023, 6, 1)) == 10  # before the baseline
    assert expected_value(10, start, 20, end, date(2026, 1, 1)) == 20  # after the target date
    assert expected_value(10, end, 20, start, date(2024, 6, 1)) == 20  # target before baseline


@pytest.mark.parametrize("current, expected, greater, status", [
    (0.6, 0.5, True, "on track"), (0.5, 0.5, True, "on track"), (0.4, 0.5, True, "behind"),
    (0.04, 0.05, False, "on track"), (0.05, 0.05, False, "on track"),
    (0.06, 0.05, False, "behind"), (float("nan"), 0.5, True, "no data"),
])
def test_status_in_both_directions(current, expected, greater, status) -> None:
    assert kpi_status(current, expected, greater) == status


def test_kpi_table_against_last_run_baseline_and_targets() -> None:
    baseline = KpiSnapshot("run-0", date(2023, 12, 31), {
        "repeat_rate": 0.5, "churn_rate": 0.05, "nps": 10.0, "csat": 4.0,
        "active_customers": 1000, "revenue_per_active": 200.0})
    last = KpiSnapshot("run-1", date(2024, 4, 1), {**baseline.values, "repeat_rate": 0.52})
    # half way (183 of 366 days) from the baseline to the targets' date 2024-12-31
    current = KpiSnapshot("run-2", date(2024, 7, 1), {
        "repeat_rate": 0.56, "churn_rate": 0.045, "nps": 11.0, "csat": float("nan"),
        "active_customers": 1000, "revenue_per_active": 190.0})
    targets = {"repeat_rate": "+20% by 2024-12", "churn_rate": "-0.02 by 2024-12",
               "csat": "4.5 by 2024-12", "revenue_per_active": "+10% by 2024-12-31",
               "nps": "20 by 2024-12"}
    table = kpi_table(current, last, baseline, targets)
    assert list(table.columns) == list(HEADLINE_COLUMNS) and len(table) == 6
    t = table.set_index("kpi")
    assert t["month"].eq("2024-07").all() and t["last_run_id"].eq("run-1").all()
    assert t["baseline_run"].eq("run-0").all()
    assert t.at["repeat_rate", "last_run"] == 0.52
    # repeat 0.5 -> 0.6: 0.55 expected, 0.56 is on track (greater is better)
    assert t.at["repeat_rate", "target"] == pytest.approx(0.6)
    assert t.at["repeat_rate", "expected_now"] == pytest.approx(0.55)
    assert t.at["repeat_rate", "status"] == "on track"
    # churn 0.05 -> 0.03: 0.04 expected, 0.045 is behind (lower is better)
    assert t.at["churn_rate", "expected_now"] == pytest.approx(0.04)
    assert t.at["churn_rate", "status"] == "behind" and not t.at["churn_rate", "greater_is_better"]
    # NPS 10 -> 20: 15 expected, 11 is behind; revenue 200 -> 220: 210 expected, 190 behind
    assert t.at["nps", "status"] == "behind" and t.at["revenue_per_active", "status"] == "behind"
    assert t.at["csat", "status"] == "no data"  # no feedback now
    assert t.at["active_customers", "status"] == "no target"
    assert t.at["active_customers", "target_date"] is None
    assert np.isnan(t.at["active_customers", "expected_now"])
    assert t.at["repeat_rate", "target_date"] == "2024-12-31"
    metrics = kpi_metrics(table)
    assert metrics["kpi.repeat_rate"] == 0.56 and metrics["kpi.repeat_rate.on_track"] == 1.0
    assert metrics["kpi.churn_rate.on_track"] == 0.0
    assert metrics["kpi.churn_rate.target_now"] == pytest.approx(0.04)
    assert "kpi.active_customers.on_track" not in metrics and "kpi.csat.on_track" not in metrics
    with pytest.raises(ValueError, match="unknown KPIs"):
        kpi_table(current, None, baseline, {"bookings": "+1 by 2025-01"})


def test_first_run_is_its_own_baseline() -> None:
    current = KpiSnapshot("run-0", date(2024, 3, 31), current_values(_monthly()))
    table = kpi_table(current, None, current, {"active_customers": "+10% by 2025-03"})
    row = table.set_index("kpi").loc["active_customers"]
    assert row["baseline"] == row["current"] == row["expected_now"] == 3
    assert row["target"] == pytest.approx(3.3) and row["status"] == "on track"
    assert table["last_run_id"].isna().all() and table["last_run"].isna().all()


def test_kpi_paths_draws_a_panel_per_kpi() -> None:
    monthly = _monthly()
    current = KpiSnapshot("run-0", date(2024, 3, 31), current_values(monthly))
    table = kpi_table(current, None, current, {"nps": "+10 by 2025-03"})
    fig = kpi_paths(monthly, table, baseline_date=current.cutoff_date)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(" · ")[0] for ax in visible] == table["kpi"].tolist()
    nps = visible[2]
    assert len(nps.get_lines()) == 2  # the monthly path and the dashed path to the target
