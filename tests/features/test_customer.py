"""Customer features as of a cut-off: known values, edge cases and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.features.customer import customer_features
from src.features.definitions import completed_bookings

CUTOFF = "2023-12-31"


@pytest.fixture()
def tables() -> dict[str, pd.DataFrame]:
    bookings = pd.DataFrame(
        {
            "booking_id": [f"b{i}" for i in range(9)],
            "customer_id": ["a", "a", "a", "b", "c", "c", "d", "e", "g"],
            "booking_date": pd.to_datetime(
                ["2023-01-01", "2023-01-01", "2023-03-01", "2023-02-01", "2023-01-05",
                 "2023-06-01", "2023-05-01", "2024-02-01", "2023-04-01"]
            ),
            "travel_start": pd.to_datetime(
                ["2023-01-10", "2023-01-11", "2023-03-05", "2023-02-10", "2023-01-06",
                 "2023-12-30", "2023-05-10", "2024-03-01", "2023-04-02"]
            ),
            "nights": [2, 3, 1, 4, 0, 5, 2, 1, 1],
            "product": pd.Categorical(
                ["hotel", "flight", "hotel", "package", "tour", "hotel", "hotel", "hotel", "tour"]
            ),
            "destination_type": ["city", "city", "beach", "nature", "culture", "city", "city",
                                 "city", "nature"],
            "channel": ["app", "app", "web", "store", "ota", "app", "app", "app", "web"],
            "party_size": [1, 1, 2, 4, 2, 1, 1, 1, 2],
            "amount": [100.0, 200.0, -50.0, 1000.0, 0.0, 300.0, 80.0, 50.0, 70.0],
            "status": ["completed", "completed", "completed", "completed", "completed",
                       "confirmed", "cancelled", "completed", "no_show"],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": list("abcdefg"),
            "signup_date": pd.to_datetime(["2022-01-01"] * 5 + ["2023-10-01", "2022-01-01"]),
            "member_tier": pd.Categorical(["gold", "regular", "silver", "regular", "regular",
                                           "gold", "regular"]),
            "customer_type": ["individual"] * 6 + ["corporate"],
            "acquisition_channel": ["web"] * 7,
            "loyalty_member": [True, False, True, False, None, True, False],
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "timestamp": pd.to_datetime(
                ["2023-05-01 10:00", "2023-12-31 23:00", "2024-01-02 00:00", "2023-07-01 00:00"]
            ),
            "kind": ["complaint", "complaint", "complaint", "opened"],
            "complaint_category": ["price", None, "service", None],
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "booking_id": ["b2", "b0", "b3"],
            "date": pd.to_datetime(["2023-03-10", "2023-01-20", "2023-02-20"]),
            "csat": [3, 5, 4],
            "nps": [7, 9, 10],
        }
    )
    return {"bookings": bookings, "customers": customers, "interactions": interactions,
            "feedback": feedback}


def _features(t: dict[str, pd.DataFrame], cutoff=CUTOFF) -> pd.DataFrame:
    return customer_features(
        t["bookings"], cutoff, customers=t["customers"], interactions=t["interactions"],
        feedback=t["feedback"],
    )


def test_completed_bookings_needs_ended_trip_and_status(tables):
    done = completed_bookings(tables["bookings"], CUTOFF)
    # b5 (confirmed, trip ends 2024-01-04) not yet ended; b6 cancelled; b7 after cutoff;
    # b8 no-show
    assert list(done["booking_id"]) == ["b0", "b1", "b2", "b3", "b4"]
    # once the trip has ended, a 'confirmed' booking counts as completed
    later = completed_bookings(tables["bookings"], "2024-01-04")
    assert "b5" in set(later["booking_id"])
    # no status and no travel dates: every booking up to the cut-off counts
    bare = tables["bookings"][["customer_id", "booking_date", "amount"]]
    assert len(completed_bookings(bare, CUTOFF)) == 8


def test_known_values(tables):
    f = _features(tables)
    assert list(f.index) == ["a", "b", "c", "d", "e", "f", "g"]
    a = f.loc["a"]
    assert a["n_bookings"] == 3
    # two bookings on 2023-01-01 count as one booking day -> one repeat day
    assert a["frequency"] == 1
    assert a["recency_days"] == 305 and a["tenure_days"] == 364
    assert a["avg_days_between_bookings"] == 59
    # negative amount after a refund enters the total
    assert a["monetary_total"] == pytest.approx(250.0)
    assert a["monetary_mean"] == pytest.approx(250.0 / 3)
    assert a["product_hotel"] == pytest.approx(2 / 3) and a["product_flight"] == pytest.approx(1 / 3)
    assert a["dest_beach"] == pytest.approx(1 / 3)
    assert a["lead_time_days_mean"] == pytest.approx((9 + 10 + 4) / 3)
    assert a["party_size_mean"] == pytest.approx(4 / 3)
    # both complaints on/before the cut-off count (23:00 on the cut-off day included)
    assert a["complaints_total"] == 2 and a["complaints_price"] == 1
    assert a["csat_mean"] == 4 and a["nps_mean"] == 8
    # first trip = b0 -> csat 5 (linked by booking_id, not the earliest-dated survey order)
    assert a["first_trip_csat"] == 5
    assert f.loc["b", "complaints_total"] == 0  # its complaint is after the cut-off
    # single booking: no gap between bookings
    assert np.isnan(f.loc["b", "avg_days_between_bookings"]) and f.loc["b", "frequency"] == 0
    # zero amount
    assert f.loc["c", "monetary_total"] == 0 and f.loc["c", "n_upcoming_trips"] == 1
    assert f.loc["g", "n_no_show"] == 1 and f.loc["g", "n_bookings"] == 0


def test_only_cancelled_customers_stay_with_zero_bookings(tables):
    f = _features(tables)
    d = f.loc["d"]
    assert d["n_bookings"] == 0 and d["n_cancelled"] == 1 and d["monetary_total"] == 0
    assert np.isnan(d["recency_days"]) and pd.isna(d["last_booking_date"])
    assert np.isnan(d["product_hotel"])
    # a signed-up customer without any booking is known too; one signed up later is not
    assert "f" in f.index
    early = _features(tables, "2023-06-30")
    assert "f" not in early.index


def test_no_leakage_from_rows_after_cutoff(tables):
    before = _features(tables)
    rng = np.random.default_rng(0)
    t = {k: v.copy() for k, v in tables.items()}
    late = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 20), unit="D")
    extra = pd.DataFrame(
        {
            "booking_id": [f"x{i}" for i in range(20)],
            "customer_id": rng.choice(["a", "b", "c", "z"], 20),
            "booking_date": late,
            "travel_start": late - pd.Timedelta(days=400),  # even absurd travel dates
            "nights": 1,
            "product": pd.Categorical(rng.choice(["ticket", "new_product"], 20)),
            "destination_type": "space",
            "channel": "app",
            "party_size": 9,
            "amount": 1e6,
            "status": "completed",
        }
    )
    t["bookings"] = pd.concat([t["bookings"], extra], ignore_index=True)
    t["interactions"] = pd.concat([t["interactions"], pd.DataFrame(
        {"customer_id": ["a", "z"], "timestamp": pd.to_datetime(["2024-01-01", "2024-05-01"]),
         "kind": "complaint", "complaint_category": ["brand_new", "price"]})], ignore_index=True)
    t["feedback"] = pd.concat([t["feedback"], pd.DataFrame(
        {"customer_id": ["a", "z"], "booking_id": ["b0", "x1"],
         "date": pd.to_datetime(["2024-01-01", "2024-02-01"]), "csat": [1, 1], "nps": [0, 0]})],
        ignore_index=True)
    t["customers"] = pd.concat([t["customers"], pd.DataFrame(
        {"customer_id": ["z"], "signup_date": pd.to_datetime(["2024-01-01"]),
         "member_tier": ["gold"], "customer_type": ["individual"],
         "acquisition_channel": ["web"], "loyalty_member": [True]})], ignore_index=True)
    after = _features(t)
    pd.testing.assert_frame_equal(before, after, check_categorical=False)


def test_dtypes_and_missing_inputs(tables):
    f = _features(tables)
    assert f["recency_days"].dtype == np.float32 and f["product_hotel"].dtype == np.float32
    assert f["n_bookings"].dtype == np.int32
    assert f["monetary_total"].dtype == np.float64
    assert isinstance(f["customer_type"].dtype, pd.CategoricalDtype)
    assert f.attrs["missing_inputs"] == []
    # the tier is a snapshot of the extraction day: used only when it describes the cut-off
    assert "member_tier" not in f and f.attrs["snapshot_excluded"] == ["member_tier"]
    snap = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                             snapshot_date=CUTOFF)
    assert isinstance(snap["member_tier"].dtype, pd.CategoricalDtype)

    bare = customer_features(tables["bookings"][["customer_id", "booking_date", "amount"]], CUTOFF)
    missing = set(bare.attrs["missing_inputs"])
    assert {"customers", "interactions", "feedback", "bookings.status", "bookings.product",
            "bookings.travel_start"} <= missing
    assert not any(c.startswith(("product_", "dest_", "channel_", "complaints_")) for c in bare)
    assert "csat_mean" not in bare and "member_tier" not in bare
    # without a status column every booking up to the cut-off is completed
    assert bare.loc["d", "n_bookings"] == 1


def test_mix_columns_are_the_levels_seen_by_the_cutoff(tables):
    """Products, destinations and channels are the company's words: one column per level
    among the completed bookings up to the cut-off, sorted (none fixed by the contract), so a
    level first booked later has no column at an earlier cut-off."""
    early = _features(tables, "2023-01-31")
    late = _features(tables)
    bookings = tables["bookings"]
    for col, prefix in [("product", "product_"), ("destination_type", "dest_"),
                        ("channel", "channel_")]:
        for f, cut in [(early, "2023-01-31"), (late, CUTOFF)]:
            done = bookings[(bookings["status"].astype(str) == "completed")
                            & (bookings["booking_date"] <= pd.Timestamp(cut))]
            seen = sorted(done[col].dropna().astype(str).unique())
            assert [c for c in f if c.startswith(prefix)] == [prefix + v for v in seen], cut
    mix = [c for c in late if c.startswith(("product_", "dest_", "channel_"))]
    shares = late[[c for c in mix if c.startswith("product_")]].dropna()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-6)


def test_first_trip_csat_without_booking_link(tables):
    fb = tables["feedback"].drop(columns="booking_id")
    f = customer_features(tables["bookings"], CUTOFF, feedback=fb)
    # no booking_id: the earliest survey (a: 2023-01-20 -> 5; b: 4)
    assert f.loc["a", "first_trip_csat"] == 5 and f.loc["b", "first_trip_csat"] == 4
    # a survey of a later trip is not the first trip's; an unlinked survey is the fallback
    fb2 = tables["feedback"].copy()
    fb2.loc[1, "booking_id"] = "b2"  # a's first trip (b0) now has no linked survey
    f2 = customer_features(tables["bookings"], CUTOFF, feedback=fb2)
    assert np.isnan(f2.loc["a", "first_trip_csat"])
    fb2.loc[1, "booking_id"] = None
    f3 = customer_features(tables["bookings"], CUTOFF, feedback=fb2)
    assert f3.loc["a", "first_trip_csat"] == 5
