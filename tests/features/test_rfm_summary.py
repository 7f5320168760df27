"""Transaction log -> BTYD summary (frequency, recency, T, monetary value, holdout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.features.rfm_summary import calibration_and_holdout, summary_from_transactions
from tests.helpers import require_shared

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow"


def _log(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "booking_date", "amount"])
    df["booking_date"] = pd.to_datetime(df["booking_date"], format="ISO8601")
    return df


def test_hand_worked_example():
    tx = _log([
        ("a", "2024-01-01", 100.0),
        ("a", "2024-01-01 18:30", 50.0),  # same day as the first purchase: combined
        ("a", "2024-01-11", 30.0),
        ("a", "2024-01-11", 10.0),  # same day: one repeat purchase day worth 40
        ("a", "2024-01-21", 60.0),
        ("a", "2024-02-15", 999.0),  # after observation_end: ignored
        ("b", "2024-01-31", 20.0),
        ("c", "2024-02-01", 5.0),  # first purchase after observation_end: not a customer yet
    ])
    s = summary_from_transactions(tx, observation_end="2024-01-31")
    assert list(s.index) == ["a", "b"] and s.index.name == "customer_id"
    assert list(s.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert s.loc["a"].tolist() == [2, 20.0, 30.0, 50.0]  # (40 + 60) / 2
    assert s.loc["b"].tolist() == [0, 0.0, 0.0, 0.0]
    assert s["frequency"].dtype == np.int64
    weeks = summary_from_transactions(tx, observation_end="2024-01-31", time_unit_days=7)
    assert weeks.loc["a", "recency"] == pytest.approx(20 / 7)
    assert weeks.loc["a", "T"] == pytest.approx(30 / 7)
    assert weeks.loc["a", "monetary_value"] == 50.0


def test_calibration_and_holdout_hand_example():
    tx = _log([
        ("a", "2024-01-01", 100.0),
        ("a", "2024-01-05", 20.0),
        ("a", "2024-01-10", 30.0),  # holdout
        ("a", "2024-01-10", 5.0),  # holdout, same day
        ("a", "2024-01-12", 40.0),  # holdout
        ("a", "2024-01-25", 70.0),  # after the observation end
        ("b", "2024-01-03", 10.0),
        ("c", "2024-01-08", 10.0),  # first purchase in the holdout: not in the cohort
    ])
    s = calibration_and_holdout(tx, calibration_end="2024-01-06", observation_end="2024-01-20")
    assert list(s.index) == ["a", "b"]
    assert s.loc["a", ["frequency", "recency", "T", "monetary_value"]].tolist() == [1, 4, 5, 20]
    assert s.loc["a", ["frequency_holdout", "monetary_value_holdout", "duration_holdout"]
                 ].tolist() == [2, 37.5, 14.0]
    assert s.loc["b", ["frequency_holdout", "monetary_value_holdout"]].tolist() == [0, 0.0]
    # the summary over the whole window equals the one without calibration_end
    full = summary_from_transactions(tx, observation_end="2024-01-20")
    assert full.loc["a", "frequency"] == 3


def _naive(tx: pd.DataFrame, cal_end: pd.Timestamp, obs_end: pd.Timestamp,
           unit: float) -> pd.DataFrame:
    """Reference: one customer at a time, in plain Python."""
    rows = {}
    for cust, g in tx.groupby("customer_id"):
        g = g.assign(day=g["booking_date"].dt.normalize())  # periods end with their last day
        g = g[g["day"] <= obs_end]
        days = g.groupby("day")["amount"].sum().sort_index()
        cal = days[days.index <= cal_end]
        if cal.empty:
            continue
        hold = days[days.index > cal_end]
        first, last = cal.index[0], cal.index[-1]
        rows[cust] = {
            "frequency": len(cal) - 1,
            "recency": (last - first).days / unit,
            "T": (cal_end - first).days / unit,
            "monetary_value": cal.iloc[1:].mean() if len(cal) > 1 else 0.0,
            "frequency_holdout": len(hold),
            "monetary_value_holdout": hold.mean() if len(hold) else 0.0,
            "duration_holdout": (obs_end - cal_end).days / unit,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 60), st.integers(0, 23),
                  st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 2))),
        min_size=1, max_size=40),
    cal_day=st.integers(0, 60),
    extra_days=st.integers(0, 30),
    unit=st.sampled_from([1.0, 7.0, 30.0]),
)
def test_matches_naive_reference(data, cal_day, extra_days, unit):
    start = pd.Timestamp("2023-03-01")
    tx = pd.DataFrame({
        "customer_id": [f"c{c}" for c, _, _, _ in data],
        "booking_date": [start + pd.Timedelta(days=d, hours=h) for _, d, h, _ in data],
        "amount": [a for _, _, _, a in data],
    })
    cal_end = start + pd.Timedelta(days=cal_day)
    obs_end = cal_end + pd.Timedelta(days=extra_days)
    got = calibration_and_holdout(tx, calibration_end=cal_end, observation_end=obs_end,
                                  time_unit_days=unit)
    ref = _naive(tx, cal_end, obs_end, unit)
    if ref.empty:
        assert got.empty
        return
    got = got.loc[ref.index]
    assert len(got) == len(ref)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True),
                                  check_dtype=False, atol=1e-9, rtol=1e-12)


def test_cdnow_sample_rebuilds_the_published_summary():
    tx = pd.read_csv(require_shared("cdnow", "cdnow_sample.csv"), dtype={"master_customer_id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    s = calibration_and_holdout(
        tx, customer_col="master_customer_id", date_col="date", amount_col="dollar_value",
        calibration_end="1997-09-30", observation_end="1998-06-30", time_unit_days=7,
    )
    ref = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv", index_col="ID")
    sample_id = tx.drop_duplicates("master_customer_id").set_index("master_customer_id")[
        "sample_customer_id"]
    s.index = sample_id.reindex(s.index).to_numpy()
    s = s.sort_index()
    assert len(s) == len(ref) == 2357
    np.testing.assert_array_equal(s["frequency"], ref["x"])
    # the shipped summary is rounded to 2 decimals
    for ours, theirs in (("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")):
        assert np.max(np.abs(s[ours].to_numpy() - ref[theirs].to_numpy())) <= 0.005 + 1e-9
    assert (s["duration_holdout"] == 39.0).all()
    # holdout repeat purchase days, counted independently
    tx["day"] = tx["date"].dt.normalize()
    hold = tx[(tx["day"] > "1997-09-30") & (tx["day"] <= "1998-06-30")]
    assert s["frequency_holdout"].sum() == hold.drop_duplicates(
        ["master_customer_id", "day"]).shape[0]


def test_large_log_is_vectorized_and_consistent():
    rng = np.random.default_rng(0)
    n = 400_000
    tx = pd.DataFrame({
        "customer_id": rng.integers(0, 50_000, n),
        "booking_date": pd.Timestamp("2022-01-01")
        + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h"),
        "amount": rng.gamma(2.0, 300.0, n),
    })
    s = calibration_and_holdout(tx, calibration_end="2023-12-31", observation_end="2024-12-31")
    assert s.index.is_unique
    days = tx.assign(day=tx["booking_date"].dt.normalize()).drop_duplicates(
        ["customer_id", "day"])
    n_cal = (days["day"] <= "2023-12-31").sum()
    cohort = days["customer_id"].isin(s.index)
    n_hold = (cohort & (days["day"] > "2023-12-31")).sum()
    assert (s["frequency"] + 1).sum() == n_cal
    assert s["frequency_holdout"].sum() == n_hold
    assert len(s) == days.loc[days["day"] <= "2023-12-31", "customer_id"].nunique()
    assert ((s["recency"] >= 0) & (s["recency"] <= s["T"])).all()


def test_errors_are_actionable():
    tx = pd.DataFrame({"customer_id": ["a"], "booking_date": [20240101], "amount": [1.0]})
    with pytest.raises(TypeError, match="format='%Y%m%d'"):
        summary_from_transactions(tx, observation_end="2024-02-01")
    with pytest.raises(KeyError, match="no column"):
        summary_from_transactions(tx, observation_end="2024-02-01", date_col="date")
    ok = _log([("a", "2024-01-01", 1.0)])
    with pytest.raises(ValueError, match="after observation_end"):
        summary_from_transactions(ok, observation_end="2024-01-01", calibration_end="2024-02-01")
    with pytest.raises(ValueError, match="calibration_end is required"):
        calibration_and_holdout(ok, calibration_end=None, observation_end="2024-01-31")


def test_without_amount_column_and_with_time_zone():
    tx = _log([("a", "2024-01-01", 1.0), ("a", "2024-01-03", 2.0)]).drop(columns="amount")
    tx["booking_date"] = tx["booking_date"].dt.tz_localize("Asia/Shanghai")
    s = summary_from_transactions(tx, amount_col=None, observation_end="2024-01-10")
    assert list(s.columns) == ["frequency", "recency", "T"]
    assert s.loc["a"].tolist() == [1, 2.0, 9.0]
