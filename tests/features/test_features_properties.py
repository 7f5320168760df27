"""Property-based tests (hypothesis) of the customer features and RFM scoring on random
booking histories: totals reconcile, nothing after the cut-off leaks in, scores stay in range
and order customers the right way."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from src.features.customer import customer_features
from src.models.segmentation import RFMScorer

CUTOFF = pd.Timestamp("2024-12-31")

booking = st.tuples(
    st.integers(0, 7),                       # customer
    st.integers(-900, 200),                  # booking day relative to the cut-off
    st.floats(-50, 5000, allow_nan=False),   # amount (refunds can be negative)
    st.sampled_from(["completed", "completed", "cancelled", "no_show"]),
)


def frame(rows: list[tuple[int, int, float, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "booking_id": [f"B{i}" for i in range(len(rows))],
        "customer_id": [f"C{c}" for c, _, _, _ in rows],
        "booking_date": [CUTOFF + pd.Timedelta(days=d) for _, d, _, _ in rows],
        "amount": [a for _, _, a, _ in rows],
        "status": pd.Categorical([s for _, _, _, s in rows]),
    })


@settings(max_examples=60, deadline=None)
@given(st.lists(booking, min_size=1, max_size=40))
def test_features_reconcile_and_ignore_the_future(rows) -> None:
    bookings = frame(rows)
    feats = customer_features(bookings, CUTOFF)
    past = bookings[bookings["booking_date"] <= CUTOFF]
    done = past[past["status"].astype(str) == "completed"]
    # every customer with a booking on/before the cut-off is there, none from the future only
    assert set(feats.index) == set(past["customer_id"])
    assert feats["n_bookings"].sum() == len(done)
    assert np.isclose(feats["monetary_total"].sum(), done["amount"].sum(), rtol=1e-5, atol=1e-2)
    assert (feats["recency_days"].dropna() >= 0).all()
    assert (feats["tenure_days"].dropna() >= feats["recency_days"].dropna().reindex(
        feats["tenure_days"].dropna().index).fillna(0)).all()
    # rows after the cut-off change nothing
    only_past = customer_features(past.reset_index(drop=True), CUTOFF)
    pd.testing.assert_frame_equal(feats.sort_index(), only_past.sort_index(), check_like=True)


def _score_by_edges(x: np.ndarray, upper: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The stored-edge rule written out: a value gets the score of the first bin (edges
    ascending) whose upper edge it does not exceed; a value above every edge, the top bin."""
    out = []
    for v in x:
        below = [s for e, s in zip(upper, scores, strict=True) if v <= e]
        out.append(below[0] if below else scores[-1])
    return np.array(out, dtype=np.int64)


def _midrank_quantile_scores(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Scores 1..n_bins from mid-rank percentiles, by explicit comparisons: the percentile of
    a value is (values below it + values at or below it) / (2 n)."""
    below = (x[None, :] < x[:, None]).sum(axis=1)
    at_or_below = (x[None, :] <= x[:, None]).sum(axis=1)
    pct = (below + at_or_below) / (2.0 * len(x))
    return np.clip(np.floor(pct * n_bins).astype(np.int64) + 1, 1, n_bins)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 30), st.floats(1, 1e5)),
                min_size=1, max_size=60))
def test_rfm_scores_are_midrank_quantiles_scored_by_the_stored_edges(values) -> None:
    rfm = pd.DataFrame(values, columns=["recency_days", "n_bookings", "monetary_total"],
                       index=[f"C{i}" for i in range(len(values))])
    scorer = RFMScorer().fit(rfm)
    scored = scorer.transform(rfm)
    for col in ("r_score", "f_score", "m_score"):
        s = scored[col].astype(float)
        assert s.between(1, 5).all()
    # more recent (fewer days) never gets a lower recency score
    order = rfm["recency_days"].sort_values(kind="stable").index
    r = scored.loc[order, "r_score"].astype(float).to_numpy()
    assert (np.diff(r) <= 0).all()
    # recency is scored on -days (fewer days = better), frequency and spend as they are
    signed = {"r": -rfm["recency_days"].to_numpy(float), "f": rfm["n_bookings"].to_numpy(float),
              "m": rfm["monetary_total"].to_numpy(float)}
    # new customers between and beyond the reference values, scored without refitting
    new = pd.DataFrame({"recency_days": rfm["recency_days"] + 1,
                        "n_bookings": rfm["n_bookings"] * 2,
                        "monetary_total": rfm["monetary_total"] * 0.5}, index=rfm.index)
    new_scored = scorer.transform(new)
    new_signed = {"r": -new["recency_days"].to_numpy(float),
                  "f": new["n_bookings"].to_numpy(float),
                  "m": new["monetary_total"].to_numpy(float)}
    for key, x in signed.items():
        upper, present = scorer.edges_[key]
        assert (np.diff(upper) > 0).all() and (np.diff(present) > 0).all()
        # the reference population's scores are its mid-rank quantiles, and each stored
        # edge is the largest value that got its score
        want = _midrank_quantile_scores(x, 5)
        np.testing.assert_array_equal(scored[f"{key}_score"].to_numpy(dtype=np.int64), want)
        np.testing.assert_array_equal(present, np.unique(want))
        np.testing.assert_array_equal(upper, [x[want == s].max() for s in present])
        # the stored-edge rule re-derived by hand gives transform's scores, for the reference
        # population and for new customers
        np.testing.assert_array_equal(scored[f"{key}_score"].to_numpy(dtype=np.int64),
                                      _score_by_edges(x, upper, present))
        np.testing.assert_array_equal(new_scored[f"{key}_score"].to_numpy(dtype=np.int64),
                                      _score_by_edges(new_signed[key], upper, present))
    # fm: the round-half-up mean of f and m
    f, m = scored["f_score"].to_numpy(float), scored["m_score"].to_numpy(float)
    np.testing.assert_array_equal(scored["fm_score"].to_numpy(dtype=np.int64),
                                  np.floor((f + m) / 2 + 0.5).astype(np.int64))
