"""The full-history churn analysis of membership data (``churn.full_history_analysis``, what
notebook 03 calls): planted hazard ratios recovered through the product's own first-trip
features, the churn-cause breakdown against an independent count, nothing after the cut-off
read, the lifelines-style print; survival at the horizons from ``select_and_fit``; Efron ties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.data.synthetic import PLANTED_HAZARD_RATIOS, generate
from src.features.first_trip import first_trip_table
from src.models.churn import (
    ChurnModel,
    cox_regression,
    full_history_analysis,
    full_history_frame,
    select_and_fit,
)
from src.models.churn.cox import CoxPH
from src.params.schema import ChurnParams

D = pd.Timestamp
#: planted covariate -> the product's first-trip feature
PRODUCT_FEATURE = {
    "complaint_service": "first_trip_complaint_service",
    "complaint_product": "first_trip_complaint_product",
    "complaint_price": "first_trip_complaint_price",
    "low_csat": "first_trip_low_csat",
}
MEMBERSHIP = ChurnParams(definition="membership")


@pytest.fixture(scope="module")
def synthetic():
    # 40,000 customers: ~16,000 members, ~14,000 in the Cox fit, ~4,700 cancellations
    return generate(40_000, seed=7)


@pytest.fixture(scope="module")
def analysis(synthetic):
    return full_history_analysis(synthetic.tables(), MEMBERSHIP,
                                 synthetic.planted["extraction_date"], seed=0)


#: 95 % normal quantile; an estimate more than Z_RECOVERY standard errors from its planted
#: value fails (a correct, normal estimate: probability 1e-4, four together 4e-4)
Z95, Z_RECOVERY = 1.959963984540054, 3.9


def test_planted_hazard_ratios_recovered_through_the_products_features(analysis):
    """Through the product path (first-trip features, signup attributes, no hidden persona)
    each planted hazard ratio is recovered within 3.9 standard errors, in the lifelines
    summary and in the drivers table the notebook shows, and each interval is the Wald
    interval exp(coef +- 1.96 se). Measured here (seed 7): service 1.77 [1.57, 1.99],
    product 1.53 [1.32, 1.78], price 1.29 [1.10, 1.51], low CSAT 1.61 [1.45, 1.79]. Over seeds
    1-20 at this size 73 of 80 intervals cover the planted value (78 of 80 for an oracle fit on
    the hidden true covariates stratified by the hidden persona); against the oracle the
    product's ratios differ on average by -0.07 (service: complaints without a booking link
    sometimes land on the wrong trip), -0.01 (product), +0.03 (price), +0.02 (low CSAT), at
    most 0.7 standard errors. The landmark features gave 1.23 / 1.09 / 1.13 (issue 13).
    Whether the intervals cover at 95 % is counted over many data sets in
    test_efron_cox_intervals_cover_at_the_stated_rate."""
    s = analysis.summary
    drivers = analysis.drivers.set_index("covariate")
    # every row's interval is exp(coef +- z se), on the coefficient scale and the ratio scale
    np.testing.assert_allclose(s["coef lower 95%"], s["coef"] - Z95 * s["se(coef)"], rtol=1e-9)
    np.testing.assert_allclose(s["coef upper 95%"], s["coef"] + Z95 * s["se(coef)"], rtol=1e-9)
    np.testing.assert_allclose(s["exp(coef) lower 95%"], np.exp(s["coef lower 95%"]), rtol=1e-9)
    np.testing.assert_allclose(s["exp(coef) upper 95%"], np.exp(s["coef upper 95%"]), rtol=1e-9)
    for planted, col in PRODUCT_FEATURE.items():
        truth = PLANTED_HAZARD_RATIOS[planted]
        lo, hi = s.loc[col, "exp(coef) lower 95%"], s.loc[col, "exp(coef) upper 95%"]
        assert abs(s.loc[col, "coef"] - np.log(truth)) < Z_RECOVERY * s.loc[col, "se(coef)"], (
            planted, truth, s.loc[col, "exp(coef)"], lo, hi)
        assert hi / lo < 1.45  # tight enough to mean something
        assert s.loc[col, "p"] < 0.01  # detected, not merely compatible
        assert drivers.loc[col, "hazard_ratio"] == pytest.approx(s.loc[col, "exp(coef)"])
        assert drivers.loc[col, "lower_95"] == pytest.approx(lo)
        assert drivers.loc[col, "upper_95"] == pytest.approx(hi)
        assert "multiplies the churn hazard by" in drivers.loc[col, "description"]
    assert "'service' complaint about the first trip" in drivers.loc[
        "first_trip_complaint_service", "description"]
    # the lifelines columns, coefficients and ratios consistent
    assert list(s.columns[:9]) == ["coef", "exp(coef)", "se(coef)", "coef lower 95%",
                                   "coef upper 95%", "exp(coef) lower 95%",
                                   "exp(coef) upper 95%", "z", "p"]
    np.testing.assert_allclose(np.exp(s["coef"]), s["exp(coef)"])
    assert analysis.model.ties == "efron" and analysis.model.penalizer_ == 0.0
    assert analysis.metrics["full_history.concordance"] > 0.6  # measured 0.632


#: planted log hazard ratios of the coverage replicates (x*: binary, z*: standard normal)
COVERAGE_LOG_HR = {"x1": np.log(1.8), "x2": np.log(1.3), "z1": np.log(0.7), "z2": 0.0}


def test_efron_cox_intervals_cover_at_the_stated_rate():
    """The 95 % intervals of the analysis' Cox fit (``cox_regression``: Efron ties, late
    entry; the lifelines summary) cover the planted hazard ratios at 95 %: 100 simulated data
    sets of 400 customers in whole days (many ties) with late entry (seeds 0-99), 4
    independent covariates each, 400 intervals counted together (the 4 of one fit are
    independent: over 2,000 data sets their coverage correlations are within +-0.05 and the
    per-fit count has the binomial variance). Measured over seeds 0-1999: 95.4 % (x1 94.8,
    x2 95.4, z1 95.2, z2 96.2 %). Bounds from tests.interval_coverage: a correct interval
    fails with probability < 1e-3, a half-width (~67 %) or twice-width (~100 %) one surely,
    one off centre by a standard error (~83 %) with probability > 0.9999."""
    from tests.interval_coverage import assert_coverage, weibull_ph_replicate

    names = list(COVERAGE_LOG_HR)
    truth = np.exp(np.array(list(COVERAGE_LOG_HR.values())))
    covered = []
    for seed in range(100):
        df = weibull_ph_replicate(400, seed, COVERAGE_LOG_HR, whole_days=True, late_entry=True)
        s = cox_regression(df, names, duration_col="duration_days", event_col="event",
                           entry_col="entry_days").summary.loc[names]
        covered.append((s["exp(coef) lower 95%"].to_numpy() <= truth)
                       & (truth <= s["exp(coef) upper 95%"].to_numpy()))
    assert_coverage(np.concatenate(covered), "Efron Cox intervals")


def test_reference_level_is_the_largest_group(analysis):
    frame = analysis.frame.loc[analysis.frame["in_cox"]]
    refs = analysis.reference_levels
    assert set(refs) >= {"customer_type", "acquisition_channel", "first_trip_product"}
    for col, ref in refs.items():
        assert ref == frame[col].fillna("missing").value_counts().idxmax(), col
    assert refs["customer_type"] == "individual"  # not the alphabetical 'corporate'
    assert "customer_type=corporate" in analysis.summary.index


def test_churn_causes_equal_an_independent_count(analysis, synthetic):
    cut = D(synthetic.planted["extraction_date"])
    c = synthetic.customers
    b = synthetic.bookings
    first = (b.loc[(b["booking_date"] <= cut) & ~b["status"].isin(["cancelled", "no_show"])]
             .groupby("customer_id")["booking_date"].min())
    cancel = c.set_index("customer_id")["membership_cancel_date"]
    signup = c.set_index("customer_id")["signup_date"]
    churned = cancel.loc[(cancel <= cut) & (cancel >= signup) & (signup <= cut)]
    churned = churned.loc[first.reindex(churned.index) <= churned]  # cancelled after a first booking
    comp = synthetic.interactions.loc[synthetic.interactions["kind"] == "complaint"]
    comp = comp.loc[comp["customer_id"].isin(churned.index)]
    before = comp.loc[comp["timestamp"].dt.normalize() <= comp["customer_id"].map(churned)]
    causes = analysis.causes
    assert (causes["churners"] == len(churned)).all()
    assert int(analysis.frame["event"].sum()) == len(churned)
    for cat in ("service", "product", "price"):
        n = before.loc[before["complaint_category"] == cat, "customer_id"].nunique()
        assert causes.loc[cat, "with_complaint"] == n, cat
        assert causes.loc[cat, "share_of_churners"] == pytest.approx(n / len(churned)), cat
        assert causes.loc[cat, "first_trip_hazard_ratio"] == pytest.approx(
            analysis.summary.loc[f"first_trip_complaint_{cat}", "exp(coef)"])
    assert causes.loc["any", "with_complaint"] == before["customer_id"].nunique()
    assert list(causes.index[:3]) == ["service", "product", "price"]
    assert analysis.metrics["full_history.churners_with_service_complaint_share"] == (
        pytest.approx(causes.loc["service", "share_of_churners"]))


def test_nothing_after_the_cutoff_is_read():
    data = generate(6_000, seed=3)
    tables = data.tables()
    cut = D("2024-06-30")
    base = full_history_analysis(tables, MEMBERSHIP, cut)
    after = cut + pd.Timedelta(days=1)
    customers = tables["customers"].copy()
    customers.loc[customers["membership_cancel_date"] > cut, "membership_cancel_date"] = pd.NaT
    # snapshot columns of the extraction day say nothing about the cut-off
    customers["member_tier"] = "diamond"
    customers["home_region"] = "Overseas"
    for col in ("consent_email", "consent_sms", "consent_phone"):
        customers[col] = ~customers[col].astype(bool)
    truncated = {
        "customers": customers,
        "bookings": tables["bookings"].loc[tables["bookings"]["booking_date"] <= cut],
        "interactions": tables["interactions"].loc[tables["interactions"]["timestamp"] < after],
        "feedback": tables["feedback"].loc[tables["feedback"]["date"] <= cut],
    }
    other = full_history_analysis(truncated, MEMBERSHIP, cut)
    pd.testing.assert_frame_equal(other.frame, base.frame)
    pd.testing.assert_frame_equal(other.summary, base.summary)
    pd.testing.assert_frame_equal(other.causes, base.causes)
    # no covariate looks ahead: every Cox member entered after the first trip's window closed,
    # and on/before the cut-off
    cox = base.frame.loc[base.frame["in_cox"]]
    known = cox["origin_date"] + pd.to_timedelta(cox["entry_days"], unit="D")
    assert (known <= cut).all()
    assert (cox["duration_days"] > cox["entry_days"]).all()


def test_print_summary_is_lifelines_style(analysis, capsys):
    analysis.print_summary()
    out = capsys.readouterr().out
    for text in ("duration col = 'duration_days'", "event col = 'event'",
                 "number of observations =", "number of events observed =",
                 "partial log-likelihood =", "ties = efron",
                 "reference levels = customer_type = individual", "exp(coef) lower 95%",
                 "first_trip_complaint_service", "Concordance =", "Churn causes",
                 "Survival at the horizons"):
        assert text in out, text


def test_survival_at_the_horizons(analysis):
    t = analysis.survival_at_horizons
    assert list(t.index) == MEMBERSHIP.horizons_days == [90, 180, 365]
    assert (t["km"].diff().dropna() < 0).all()
    assert ((t["km_lower_95"] <= t["km"]) & (t["km"] <= t["km_upper_95"])).all()
    # the Cox model predicts its members' survival after entry as Kaplan-Meier observes it
    np.testing.assert_allclose(t["coxph_from_entry"], t["km_from_entry"], atol=0.01)
    assert analysis.metrics["full_history.km.survival_180d"] == pytest.approx(t.loc[180, "km"])


def test_lapse_jobs_have_no_full_history_analysis(synthetic):
    with pytest.raises(ValueError, match="membership"):
        full_history_analysis(synthetic.tables(), ChurnParams(), "2025-12-31")


def test_origin_at_the_membership_start():
    data = generate(3_000, seed=4)
    params = ChurnParams(definition="membership", full_history_origin="start")
    frame = full_history_frame(data.tables(), params, data.planted["extraction_date"])
    start = data.customers.set_index("customer_id")["signup_date"].reindex(frame.index)
    pd.testing.assert_series_equal(frame["origin_date"], start, check_names=False)


# ---------------------------------------------------------------------------------------------
# survival at the horizons from the landmark workflow
# ---------------------------------------------------------------------------------------------
def test_select_and_fit_logs_survival_at_the_horizons():
    from lifelines import KaplanMeierFitter

    data = generate(3_000, seed=11)
    params = ChurnParams(definition="membership", time_origin="start", models=["coxph"],
                         horizons_days=[90, 180], penalizers=[0.0])
    sel = select_and_fit(data.tables(), params, data.planted["extraction_date"], seed=0)
    t = sel.survival_at_horizons
    assert list(t.index) == [90, 180] and {"km", "km_lower_95", "coxph"} <= set(t.columns)
    test = sel.test
    rel = test["duration_days"] - test["entry_days"]
    km = KaplanMeierFitter().fit(rel, test["event"])
    np.testing.assert_allclose(t["km"], km.survival_function_at_times([90, 180]).to_numpy())
    for h in (90, 180):
        assert sel.metrics[f"km.survival_{h}d"] == pytest.approx(t.loc[h, "km"])
        assert sel.metrics[f"coxph.survival_{h}d"] == pytest.approx(t.loc[h, "coxph"])
        assert abs(t.loc[h, "coxph"] - t.loc[h, "km"]) < 0.05  # calibrated in the large


# ---------------------------------------------------------------------------------------------
# first-trip complaints attributed to the trip that ended most recently
# ---------------------------------------------------------------------------------------------
def test_complaint_about_a_later_trip_is_not_a_first_trip_complaint():
    bookings = pd.DataFrame({
        "booking_id": ["a1", "a2", "b1", "b2", "c1"],
        "customer_id": ["a", "a", "b", "b", "c"],
        "booking_date": [D("2023-01-01"), D("2023-01-05"), D("2023-01-01"), D("2023-01-02"),
                         D("2023-01-01")],
        "travel_start": [D("2023-01-10"), D("2023-01-15"), D("2023-01-20"), D("2023-01-05"),
                         D("2023-01-03")],
        "nights": [2, 3, 2, 1, 1],
        "amount": 100.0, "status": "completed",
    })
    interactions = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"],
        "timestamp": [D("2023-01-13"), D("2023-01-20"), D("2023-01-08"), D("2023-01-01")],
        "channel": "app", "kind": "complaint",
        "complaint_category": ["service", "price", "product", "price"],
    })
    tables = {"bookings": bookings, "interactions": interactions}
    last = first_trip_table(tables, cutoff_date="2023-06-30", labelled_only=False,
                            complaint_attribution="last_trip")
    window = first_trip_table(tables, cutoff_date="2023-06-30", labelled_only=False)
    # a: first trip ended 01-12 (service complaint 01-13, about it), second trip ended 01-18
    # (price complaint 01-20, about the second)
    assert last.loc["a", "first_trip_complaint_service"] == 1.0
    assert last.loc["a", "first_trip_complaint_price"] == 0.0
    assert window.loc["a", "first_trip_complaint_price"] == 1.0  # the window alone counts it
    # b: the later booking's trip ended 01-06, the first trip is not over on 01-08
    assert last.loc["b", "first_trip_complaints"] == 0.0
    assert window.loc["b", "first_trip_complaints"] == 1.0
    # c: a complaint before any trip ended is about the first trip
    assert last.loc["c", "first_trip_complaint_price"] == 1.0
    assert last.loc["c", "first_trip_complaint_category"] == "price"
    with pytest.raises(ValueError, match="complaint_attribution"):
        first_trip_table(tables, cutoff_date="2023-06-30", complaint_attribution="nearest")


# ---------------------------------------------------------------------------------------------
# Efron ties
# ---------------------------------------------------------------------------------------------
def test_efron_ties_match_lifelines_with_late_entry_strata_and_penalizer():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    g = rng.integers(0, 2, n)
    T = np.ceil(rng.exponential(20 * np.exp(-0.5 * x)))  # whole days: many ties
    C = np.ceil(rng.uniform(5, 40, n))
    entry = np.floor(rng.uniform(0, 5, n))
    df = pd.DataFrame({"T": np.minimum(T, C), "E": (T <= C).astype(int), "x": x,
                       "z": rng.normal(size=n), "g": g, "entry": entry})
    df = df.loc[df["T"] > df["entry"]].reset_index(drop=True)
    ref = CoxPHFitter(penalizer=0.1).fit(df, "T", "E", entry_col="entry", strata=["g"])
    own = CoxPH(penalizer=0.1, ties="efron").fit(
        df[["x", "z"]], df["T"].to_numpy(float), df["E"].to_numpy() > 0,
        df["entry"].to_numpy(float), df["g"].to_numpy())
    np.testing.assert_allclose(own.params_, ref.params_, rtol=1e-5)
    np.testing.assert_allclose(own.standard_errors_, ref.standard_errors_, rtol=1e-5)
    assert own.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-8)
    breslow = CoxPH(penalizer=0.1).fit(
        df[["x", "z"]], df["T"].to_numpy(float), df["E"].to_numpy() > 0,
        df["entry"].to_numpy(float), df["g"].to_numpy())
    assert abs(breslow.params_["x"] - ref.params_["x"]) > 1e-3  # ties matter here
    # the lifelines-style wrapper takes the column names
    m = cox_regression(df.assign(g=df["g"].map({0: "a", 1: "b"})), ["x", "z"],
                       duration_col="T", event_col="E", entry_col="entry")
    assert isinstance(m, ChurnModel) and m.ties == "efron"
    unstrat = CoxPHFitter().fit(df.drop(columns="g"), "T", "E", entry_col="entry")
    np.testing.assert_allclose(m.fitter_.params_[["x", "z"]], unstrat.params_[["x", "z"]],
                               rtol=1e-5)


def test_drivers_and_causes_plot(analysis):
    """The drivers panel draws the 15 strongest hazard ratios and their intervals, the causes
    panel one bar per complaint category at its share of churners, annotated with the share
    and the first-trip hazard ratio; the forest plot alone draws the 20 strongest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.plots.churn import drivers_and_causes, forest_plot
    from tests.plot_reading import assert_forest_shows

    drivers, causes = analysis.drivers, analysis.causes
    assert drivers["hazard_ratio"].notna().sum() > 15  # the top-15 cut is exercised
    fig = drivers_and_causes(drivers, causes)
    forest, bars = fig.axes
    assert_forest_shows(forest, drivers, top=15)
    assert forest.get_title() == "drivers: hazard ratios"
    assert fig.get_suptitle() == "Why members leave"
    # causes: bottom to top, the table's last row first
    shown = causes.iloc[::-1]
    assert [t.get_text() for t in bars.get_yticklabels()] == [str(i) for i in shown.index]
    np.testing.assert_allclose([p.get_width() for p in bars.patches],
                               shown["share_of_churners"], rtol=1e-12)
    np.testing.assert_array_equal([p.get_y() + p.get_height() / 2 for p in bars.patches],
                                  np.arange(len(shown)))
    notes = [t.get_text() for t in bars.texts]
    assert len(notes) == len(shown)
    for note, (_, row) in zip(notes, shown.iterrows(), strict=True):
        assert f"{row['share_of_churners']:.0%}" in note
        if np.isfinite(row["first_trip_hazard_ratio"]):
            assert f"first-trip HR {row['first_trip_hazard_ratio']:.2f}" in note
    assert "share of churners" in bars.get_xlabel()
    plt.close(fig)

    fig = forest_plot(drivers)
    (ax,) = fig.axes
    assert_forest_shows(ax, drivers, top=20)
    assert ax.get_title() == "Churn drivers"
    plt.close(fig)

    fig = drivers_and_causes(drivers, causes.iloc[:0])  # no complaints data
    forest, bars = fig.axes
    assert_forest_shows(forest, drivers, top=15)
    assert not bars.patches and not bars.texts
    plt.close(fig)
