"""The back-test of the previous run against known truth: hand-made customers whose outcome is
worked out by hand, simulated calibrated and miscalibrated predictions, the churn model's own
event definition, the point in time, control arms, and the synthetic generator."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.data.synthetic import generate  # noqa: E402
from src.decisioning.actions import default_action_rules  # noqa: E402
from src.features.scoring import FeatureSettings, churn_state  # noqa: E402
from src.features.survival import landmark_frame, lapse_survival_table  # noqa: E402
from src.loop.backtest import (  # noqa: E402
    LAPSED,
    LIST_PREMISES,
    STAYED,
    backtest_previous,
    backtest_trend,
    list_premise,
    realised_churn,
)
from src.plots.backtest import (  # noqa: E402
    calibration_plot,
    predicted_vs_realised_plot,
    trend_plot,
)
from src.vocabulary import VOCABULARIES  # noqa: E402

PREV, CUT, GAP = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01"), 100  # 91 days apart


# --------------------------------------------------------------------------------------------
# hand-made truth: gap 100 days, horizon 90 days (end 2024-03-31), window (2024-01-01, 04-01]
# --------------------------------------------------------------------------------------------
def _bookings() -> pd.DataFrame:
    rows = [  # customer, booking_date, amount, status, status_date
        ("A", "2023-12-01", 100, "completed", None),  # lapse 2024-03-10: churned
        ("B", "2023-12-01", 100, "completed", None),
        ("B", "2024-02-15", 200, "completed", None),  # two bookings, one purchase day
        ("B", "2024-02-15", 50, "completed", None),   # -> no lapse by 03-31
        ("C", "2023-11-01", 100, "completed", None),  # lapse 2024-02-09: churned
        ("D", "2023-12-25", 100, "completed", None),  # lapse 2024-04-03: not by 03-31
        ("D", "2024-03-01", 150, "cancelled", "2024-05-01"),  # cancelled after the cut-off:
        #                                     a purchase at the cut-off, never completed
        ("E", "2023-12-22", 100, "completed", None),  # lapse 2024-03-31 = horizon end: churned
        ("F", "2023-12-23", 100, "completed", None),  # lapse 2024-04-01: not by 03-31
        ("G", "2023-08-01", 100, "completed", None),  # lapsed at the previous cut-off
        ("G", "2024-01-10", 300, "completed", None),  # ... and back in the window
        ("H", "2022-01-01", 100, "completed", None),  # won back after earlier lapses,
        ("H", "2023-06-01", 100, "completed", None),  # at risk again at the previous
        ("H", "2023-12-15", 100, "completed", None),  # cut-off; lapse 2024-03-24: churned
        ("I", "2023-12-20", 100, "completed", None),  # lapse 2024-03-29: churned
        ("I", "2024-04-05", 999, "completed", None),  # after the cut-off: never seen
        ("J", "2023-12-10", 100, "completed", None),  # lapse 2024-03-19: churned
        ("J", "2024-01-20", 400, "cancelled", "2024-01-25"),  # cancelled: not a purchase
        ("Z", "2024-02-01", 500, "completed", None),  # new customer, not scored before
    ]
    b = pd.DataFrame(rows, columns=["customer_id", "booking_date", "amount", "status",
                                    "status_date"])
    b["booking_id"] = [f"b{i}" for i in range(len(b))]
    b["booking_date"] = pd.to_datetime(b["booking_date"])
    b["status_date"] = pd.to_datetime(b["status_date"]).fillna(b["booking_date"])
    b["amount"] = b["amount"].astype(float)
    return b


REALISED_90D = {"A": 1, "B": 0, "C": 1, "D": 0, "E": 1, "F": 0, "H": 1, "I": 1, "J": 1}


def _scored() -> pd.DataFrame:
    ids = list("ABCDEFGHIJ")
    active = [c != "G" for c in ids]
    p90 = [0.2 if c in "ABCDE" else 0.8 for c in ids]
    actions = {"A": "win_back_call", "C": "win_back_call", "G": "win_back_call",
               "B": "vip_care", "D": "vip_care", "E": "vip_care"}
    return pd.DataFrame({
        "customer_id": ids, "cutoff_date": str(PREV.date()),
        "value_tier": ["major"] * 5 + ["small"] * 5,
        "churn_status": ["active" if a else "lapsed" for a in active],
        "churn_prob_30d": [p / 4 if a else np.nan for p, a in zip(p90, active, strict=True)],
        "churn_prob_90d": [p if a else np.nan for p, a in zip(p90, active, strict=True)],
        "churn_prob_180d": [min(1.0, 1.1 * p) if a else np.nan
                            for p, a in zip(p90, active, strict=True)],
        "expected_bookings": 4.0, "clv_horizon_days": 364.0,  # 91 / 364: one booking each
        "expected_avg_booking_value": [np.nan] + [100.0] * 9,  # A falls back to 200
        "avg_booking_value": 200.0,
        "recommended_action": [actions.get(c, "nurture") for c in ids],
    })


def _run(**kw):
    args = dict(previous_cutoff=PREV, cutoff=CUT, churn_gap_days=GAP)
    args.update(kw)
    return backtest_previous(args.pop("scored", _scored()), args.pop("bookings", _bookings()),
                             **args)


def test_realised_churn_by_hand_with_boundaries_and_won_back_customers():
    r = realised_churn(_bookings(), previous_cutoff=PREV, horizon_days=90, gap_days=GAP)
    assert r["churned"].to_dict() == REALISED_90D  # G (lapsed then) and Z (unknown) absent
    assert r.loc["E", "churn_date"] == pd.Timestamp("2024-03-31")
    assert r.loc["H", "churn_date"] == pd.Timestamp("2024-03-24")
    assert r["churn_date"].isna().tolist() == [v == 0 for v in REALISED_90D.values()]


def test_calibration_brier_and_horizon_exact():
    bt = _run()
    assert bt.elapsed_days == 91 and bt.horizon_days == 90  # 180 does not fit, 90 is largest
    cal = bt.calibration
    assert cal["customers"].tolist() == [5, 4]  # equal predictions share one decile
    assert cal["predicted"].tolist() == pytest.approx([0.2, 0.8])
    assert cal["realised"].tolist() == pytest.approx([3 / 5, 3 / 4])
    assert bt.metrics["backtest.churn_calibration_error"] == pytest.approx((5 * .4 + 4 * .05) / 9)
    assert bt.metrics["backtest.churn_brier"] == pytest.approx(2.76 / 9)
    assert bt.metrics["backtest.churn_realised_share"] == pytest.approx(6 / 9)
    assert bt.metrics["backtest.elapsed_days"] == 91


def test_bookings_and_spend_exact():
    bt = _run()
    t = bt.bookings_spend.set_index(["group_by", "group"])
    # realised: B one purchase day (250), D 150 (cancelled only after the cut-off), G 300;
    # J's cancellation, I's booking after the cut-off and new customer Z do not count
    assert t.loc[("all", "all"), ["predicted_bookings", "realised_bookings"]].tolist() == [10, 3]
    assert t.loc[("all", "all"), "predicted_spend"] == pytest.approx(9 * 100 + 200)
    assert t.loc[("all", "all"), "realised_spend"] == pytest.approx(700)
    assert bt.metrics["backtest.bookings_ratio"] == pytest.approx(0.3)
    assert bt.metrics["backtest.spend_ratio"] == pytest.approx(7 / 11)
    assert t.loc[("value_tier", "major"), "bookings_ratio"] == pytest.approx(2 / 5)
    assert t.loc[("value_tier", "small"), "bookings_ratio"] == pytest.approx(1 / 5)
    assert t.loc[("value_tier", "major"), "spend_ratio"] == pytest.approx(400 / 600)
    assert bt.metrics["backtest.spend_ratio.small"] == pytest.approx(300 / 500)
    assert any("1 customers the previous run did not score" in n for n in bt.notes)


def test_list_precision_whole_lists_exact():
    lp = _run().list_precision.set_index("list")
    # win_back_call A, C, G: lapsed = no purchase in the window: A yes, C yes, G booked
    assert lp.loc["win_back_call", ["customers", "premise_held"]].tolist() == [3, 2]
    # vip_care B, D, E: stayed = purchase in the window or not lapsed at the cut-off: B, D
    # booked; E has not, and its last booking is 101 days old at the cut-off
    assert lp.loc["vip_care", "precision"] == pytest.approx(2 / 3)
    # nurture F, H, I, J: none booked (I's booking is after the cut-off), all lapsed by then
    assert lp.loc["nurture", "precision"] == 0.0
    assert set(lp["evaluated_on"]) == {"whole list"}
    assert lp.loc["win_back_call", "premise"] == LAPSED and lp.loc["nurture", "premise"] == STAYED


def test_list_precision_on_the_control_arm():
    assignments = pd.DataFrame(
        [("A", "win_back_call", "treated"), ("C", "win_back_call", "control"),
         ("G", "win_back_call", "control"), ("B", "list_vip_care", "control"),
         ("D", "list_vip_care", "treated"), ("E", "list_vip_care", "control"),
         ("F", "mystery_list", "control")], columns=["customer_id", "list", "arm"])
    bt = _run(assignments=assignments)
    lp = bt.list_precision.set_index("list")
    assert set(lp["evaluated_on"]) == {"control arm"}
    assert lp.loc["win_back_call", ["customers", "customers_evaluated"]].tolist() == [3, 2]
    assert lp.loc["win_back_call", "precision"] == pytest.approx(1 / 2)  # C held, G did not
    assert lp.loc["list_vip_care", "precision"] == pytest.approx(1 / 2)  # whole list: 2/3
    assert np.isnan(lp.loc["mystery_list", "precision"])
    assert "unknown premise" in lp.loc["mystery_list", "skipped_reason"]
    assert bt.metrics["backtest.precision.win_back_call"] == pytest.approx(0.5)
    assert not any(k.endswith("mystery_list") for k in bt.metrics)
    assert any("mystery_list" in n for n in bt.notes)


def test_nothing_after_the_cutoff_counts():
    later = pd.DataFrame({"customer_id": list("ABCDEFGHIJ"), "booking_date": CUT + pd.Timedelta(
        days=1), "amount": 1e6, "status": "completed", "booking_id": [f"x{i}" for i in range(10)]})
    later["status_date"] = later["booking_date"]
    with_later = _run(bookings=pd.concat([_bookings(), later], ignore_index=True))
    pd.testing.assert_frame_equal(with_later.to_frame(), _run().to_frame())


def test_no_horizon_fits_gives_an_empty_calibration_and_says_so():
    bt = _run(cutoff=PREV + pd.Timedelta(days=20))
    assert bt.horizon_days is None and bt.calibration.empty
    assert any("no churn horizon fits 20 elapsed days" in n for n in bt.notes)
    assert not any(k.startswith("backtest.churn") for k in bt.metrics)
    assert bt.metrics["backtest.elapsed_days"] == 20
    assert "no churn horizon" in calibration_plot(bt.calibration).axes[0].texts[0].get_text()


def test_refuses_wrong_cutoffs_and_bad_assignments():
    with pytest.raises(ValueError, match="must be after"):
        _run(cutoff=PREV)
    with pytest.raises(ValueError, match="not at previous_cutoff"):
        _run(previous_cutoff=PREV - pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="list"):
        _run(assignments=pd.DataFrame({"customer_id": ["A"], "arm": ["control"]}))


def test_to_frame_is_one_long_table():
    bt = _run()
    f = bt.to_frame()
    assert list(f.columns) == ["section", "group", "metric", "value"]
    assert set(f["section"]) == {"calibration", "bookings_spend", "list_precision", "metrics",
                                 "notes"}
    numeric = f.loc[f["section"] != "notes", "value"]
    assert numeric.map(lambda v: isinstance(v, float)).all()
    m = f.loc[f["section"] == "metrics"].set_index("metric")["value"]
    assert m["backtest.bookings_ratio"] == pytest.approx(0.3)
    assert f.loc[(f["group"] == "decile 2") & (f["metric"] == "realised"), "value"].item() == 0.75


# --------------------------------------------------------------------------------------------
# premises
# --------------------------------------------------------------------------------------------
def test_every_default_list_in_every_vocabulary_has_a_mapping():
    for name in VOCABULARIES:
        for rule in default_action_rules(name):
            assert rule["action"] in LIST_PREMISES, (name, rule["action"])
    assert list_premise("second_order_offer") == (STAYED, "")
    assert list_premise("renewal_offer") == (STAYED, "")
    assert list_premise("list_member_win_back") == (LAPSED, "")


def test_premise_fallbacks_and_skips():
    assert list_premise("reactivation_sms")[0] == LAPSED
    assert list_premise("vip_win_back_email")[0] == LAPSED
    assert list_premise("second_stay_offer")[0] == STAYED
    premise, reason = list_premise("upsell")
    assert premise is None and reason.startswith("unknown premise")
    premise, reason = list_premise("do_not_contact")
    assert premise is None and "nobody" in reason
    assert list_premise("upsell", {"upsell": STAYED}) == (STAYED, "")


# --------------------------------------------------------------------------------------------
# calibrated vs miscalibrated: outcomes simulated with the predicted probabilities
# --------------------------------------------------------------------------------------------
def _simulated(n: int = 20_000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Every customer booked 10 days before the previous cut-off (gap 60: lapse established
    50 days after it); with probability 1 - p they book again 40 days after it, which keeps
    them from lapsing within 90 days. So churn within 90 days ~ Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    ids = np.array([f"S{i:05d}" for i in range(n)])
    stay = rng.random(n) >= p
    first = pd.DataFrame({"customer_id": ids, "booking_date": PREV - pd.Timedelta(days=10)})
    again = pd.DataFrame({"customer_id": ids[stay], "booking_date": PREV + pd.Timedelta(days=40)})
    b = pd.concat([first, again], ignore_index=True)
    b["amount"], b["status"], b["status_date"] = 100.0, "completed", b["booking_date"]
    b["booking_id"] = np.arange(len(b)).astype(str)
    return b, p


def test_calibrated_predictions_have_small_error_and_miscalibrated_large():
    bookings, p = _simulated()
    ids = sorted(bookings["customer_id"].unique())

    def backtest(prob: np.ndarray):
        scored = pd.DataFrame({"customer_id": ids, "churn_status": "active",
                               "churn_prob_90d": prob})
        return backtest_previous(scored, bookings, previous_cutoff=PREV, cutoff=CUT,
                                 churn_gap_days=60)

    good, bad = backtest(p), backtest(p / 2)
    assert len(good.calibration) == 10
    assert good.metrics["backtest.churn_calibration_error"] < 0.025
    assert (good.calibration["abs_error"] < 0.05).all()
    assert bad.metrics["backtest.churn_calibration_error"] > 0.2
    assert good.metrics["backtest.churn_brier"] < bad.metrics["backtest.churn_brier"] - 0.02
    # the realised churn share over all customers is the mean probability
    assert good.metrics["backtest.churn_realised_share"] == pytest.approx(p.mean(), abs=0.015)


# --------------------------------------------------------------------------------------------
# the churn model's event definition, on the synthetic generator
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    return generate(n_customers=2000, seed=3, start_date="2021-01-01",
                    extraction_date="2025-12-31").tables()


SYN_PREV, SYN_CUT, SYN_GAP = pd.Timestamp("2024-12-31"), pd.Timestamp("2025-06-30"), 365


def test_lapse_outcome_is_the_churn_models_landmark_event(synthetic):
    end = SYN_PREV + pd.Timedelta(days=180)
    r = realised_churn(synthetic["bookings"], previous_cutoff=SYN_PREV, horizon_days=180,
                       gap_days=SYN_GAP)
    lf = landmark_frame(synthetic, landmark_date=SYN_PREV, end_date=end, gap_days=SYN_GAP,
                        with_features=False, time_origin="landmark")
    lf.index = lf.index.astype(str)
    assert lf.index.isin(r.index).all()
    same = r.loc[lf.index]
    assert (same["churned"].to_numpy() == lf["event"].to_numpy()).all()
    assert lf["event"].sum() > 50
    churned = lf.index[lf["event"] == 1]
    days = (same.loc[churned, "churn_date"] - SYN_PREV).dt.days.to_numpy(dtype=float)
    np.testing.assert_allclose(days, lf.loc[churned, "duration_days"].to_numpy())
    # the rest are customers won back after an earlier lapse: at risk for the scorer
    state = churn_state(synthetic, SYN_PREV, FeatureSettings(churn_gap_days=SYN_GAP))
    at_risk = pd.Index(state.index[state["churn_at_risk"] == 1].astype(str))
    assert r.index.sort_values().equals(at_risk.sort_values())
    won_back = r.index.difference(lf.index)
    assert len(won_back) > 0
    assert (lapse_survival_table(synthetic["bookings"], cutoff_date=SYN_PREV, gap_days=SYN_GAP)
            .rename(index=str).loc[won_back, "event"] == 1).all()


def test_membership_outcome_is_the_churn_models_landmark_event(synthetic):
    end = SYN_PREV + pd.Timedelta(days=180)
    r = realised_churn(None, previous_cutoff=SYN_PREV, horizon_days=180,
                       definition="membership", customers=synthetic["customers"])
    lf = landmark_frame(synthetic, landmark_date=SYN_PREV, end_date=end,
                        definition="membership", with_features=False, time_origin="landmark")
    lf.index = lf.index.astype(str)
    assert r.index.sort_values().equals(lf.index.sort_values())
    assert (r.loc[lf.index, "churned"].to_numpy() == lf["event"].to_numpy()).all()
    assert lf["event"].sum() > 0


def test_membership_churn_by_hand():
    customers = pd.DataFrame({
        "customer_id": ["M1", "M2", "M3", "M4", "M5", "M6"],
        "signup_date": pd.Timestamp("2020-01-01"), "loyalty_member": True,
        "membership_cancel_date": pd.to_datetime(["2024-02-01", "2024-05-01", "2023-06-01",
                                                  None, "2024-03-31", "2024-04-01"])})
    scored = pd.DataFrame({"customer_id": ["M1", "M2", "M3", "M4", "M5", "M6"],
                           "churn_status": ["active", "active", "cancelled", "active", "active",
                                            "active"],
                           "churn_prob_90d": [0.5, 0.5, np.nan, 0.5, 0.5, 0.5]})
    bt = backtest_previous(scored, None, previous_cutoff=PREV, cutoff=CUT, churn_gap_days=GAP,
                           churn_definition="membership", customers=customers)
    # M1 and M5 (cancelled on the horizon's last day) churned; M2, M6 after it; M3 before
    assert bt.calibration["customers"].tolist() == [5]
    assert bt.metrics["backtest.churn_realised_share"] == pytest.approx(2 / 5)
    assert bt.metrics["backtest.churn_brier"] == pytest.approx(0.25)
    assert bt.metrics["backtest.bookings_realised"] == 0.0  # a snapshot: no bookings


def _crude_previous_scored(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A stand-in for the previous run's scored table: churn probability from recency,
    expected bookings from the past booking rate."""
    st = lapse_survival_table(tables["bookings"], cutoff_date=SYN_PREV, gap_days=SYN_GAP)
    st.index = st.index.astype(str)
    recency = (SYN_PREV - st["last_booking_date"]).dt.days.to_numpy(dtype=float)
    active = recency < SYN_GAP
    tenure = np.maximum((SYN_PREV - st["first_booking_date"]).dt.days.to_numpy(dtype=float), 30)
    n = tables["bookings"].loc[tables["bookings"]["booking_date"] <= SYN_PREV].groupby(
        "customer_id").size().rename(index=str).reindex(st.index).to_numpy(dtype=float)
    p = np.clip(recency / SYN_GAP, 0.02, 0.98)
    return pd.DataFrame({
        "customer_id": st.index, "cutoff_date": str(SYN_PREV.date()),
        "churn_status": np.where(active, "active", "lapsed"),
        **{f"churn_prob_{h}d": np.where(active, p ** (180 / h), np.nan) for h in (90, 180, 365)},
        "expected_bookings": n / tenure * 365, "clv_horizon_days": 365.0,
        "expected_avg_booking_value": 5000.0, "avg_booking_value": 4000.0,
        "value_tier": np.where(n > 3, "major", "small"),
        "recommended_action": np.where(active, np.where(p > 0.5, "reactivation", "nurture"),
                                       "win_back_call")})


def test_on_the_synthetic_generator(synthetic):
    scored = _crude_previous_scored(synthetic)
    bt = backtest_previous(scored, synthetic["bookings"], previous_cutoff=SYN_PREV,
                           cutoff=SYN_CUT, churn_gap_days=SYN_GAP,
                           customers=synthetic["customers"])
    assert bt.elapsed_days == 181 and bt.horizon_days == 180
    assert bt.metrics["backtest.churn_customers"] == (scored["churn_status"] == "active").sum()
    cal = bt.calibration
    assert len(cal) == 10
    assert cal["realised"].iloc[-1] > cal["realised"].iloc[0] + 0.3  # recency discriminates
    # realised bookings, counted independently: window rows of scored customers whose status
    # known at the cut-off is not cancelled / no-show, one per customer and day
    b = synthetic["bookings"]
    w = b.loc[(b["booking_date"] > SYN_PREV) & (b["booking_date"] <= SYN_CUT)
              & b["customer_id"].astype(str).isin(scored["customer_id"])]
    dropped = w["status"].isin(["cancelled", "no_show"]) & (w["status_date"] <= SYN_CUT)
    w = w.loc[~dropped]
    total = bt.bookings_spend.set_index("group_by").loc["all"]
    assert total["realised_bookings"] == len(w[["customer_id", "booking_date"]].drop_duplicates())
    assert total["realised_spend"] == pytest.approx(w["amount"].sum())
    assert total["predicted_bookings"] == pytest.approx(
        (scored["expected_bookings"] * 181 / 365).sum())
    tiers = bt.bookings_spend.loc[bt.bookings_spend["group_by"] == "value_tier"]
    assert tiers["realised_bookings"].sum() == total["realised_bookings"]
    deciles = bt.bookings_spend.loc[bt.bookings_spend["group_by"] == "decile"]
    assert deciles["customers"].sum() == len(scored)
    lp = bt.list_precision.set_index("list")
    assert set(lp.index) == {"nurture", "reactivation", "win_back_call"}
    assert 0 < lp.loc["win_back_call", "precision"] < 1
    # later rows change nothing
    later = b.assign(booking_date=b["booking_date"] + pd.Timedelta(days=800),
                     status_date=b["status_date"] + pd.Timedelta(days=800),
                     booking_id=b["booking_id"].astype(str) + "x")
    later = later.loc[later["booking_date"] > SYN_CUT]
    again = backtest_previous(scored, pd.concat([b, later], ignore_index=True),
                              previous_cutoff=SYN_PREV, cutoff=SYN_CUT, churn_gap_days=SYN_GAP,
                              customers=synthetic["customers"])
    pd.testing.assert_frame_equal(again.to_frame(), bt.to_frame())


# --------------------------------------------------------------------------------------------
# trend and plots
# --------------------------------------------------------------------------------------------
def test_trend_is_tidy_sorted_and_filtered():
    runs = [("r3", "2025-06-30", {"backtest.bookings_ratio": 0.9, "backtest.churn_brier": 0.2}),
            ("r1", "2024-06-30", {"backtest.bookings_ratio": 1.1, "other": 5.0,
                                  "backtest.label": "text", "backtest.churn_brier": np.nan}),
            ("r2", pd.Timestamp("2024-12-31"), {"backtest.bookings_ratio": 1.0}),
            ("r2", "2024-12-31", {"backtest.bookings_ratio": 0.95})]
    t = backtest_trend(runs)
    assert list(t.columns) == ["run_id", "cutoff_date", "metric", "value"]
    ratio = t.loc[t["metric"] == "backtest.bookings_ratio"]
    assert ratio["run_id"].tolist() == ["r1", "r2", "r3"]
    assert ratio["value"].tolist() == [1.1, 0.95, 0.9]
    assert t.loc[t["metric"] == "backtest.churn_brier", "run_id"].tolist() == ["r3"]
    assert set(t["metric"]) == {"backtest.bookings_ratio", "backtest.churn_brier"}
    assert len(backtest_trend(runs, prefix=None).query("metric == 'other'")) == 1
    fig = trend_plot(t)
    assert {ln.get_label() for ln in fig.axes[0].get_lines()} >= {"bookings_ratio", "churn_brier"}


def test_plots_draw_the_tables():
    bt = _run()
    fig = calibration_plot(bt.calibration)
    xs = [ln.get_xdata().tolist() for ln in fig.axes[0].get_lines()]
    assert [0, 1] in xs and pytest.approx([0.2, 0.8]) in xs  # diagonal and the deciles
    _, ax = matplotlib.pyplot.subplots()
    assert calibration_plot(bt.calibration, ax=ax) is ax.figure
    fig = predicted_vs_realised_plot(bt.bookings_spend, group_by="value_tier")
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [5.0, 5.0, 2.0, 1.0]  # predicted major, small; realised major, small
    assert "0.30" in fig.axes[0].get_title()
    fig = predicted_vs_realised_plot(bt.bookings_spend, measure="spend")
    assert "0.64" in fig.axes[0].get_title()
