"""Planted-truth tests of the synthetic travel-data generator (src/data/synthetic/)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from src.data.contract import TABLES
from src.data.synthetic import (
    COMPLAINT_LAG_DAYS,
    FEEDBACK_LAG_DAYS,
    PERSONAS,
    PLANTED_HAZARD_RATIOS,
    TIER_THRESHOLDS,
    TIER_WINDOW_DAYS,
    SyntheticData,
    assign_member_tiers,
    bgnbd_expected_repeat_bookings,
    generate,
    generate_to_parquet,
)

N_CUSTOMERS = 25_000
SEED = 20240601
EXTRACTION = pd.Timestamp("2025-12-31")
PROCESS_STATUSES = ["completed", "confirmed"]


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(N_CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def process_bookings(data: SyntheticData) -> pd.DataFrame:
    """BG/NBD / Gamma-Gamma transactions joined to the hidden persona and membership."""
    b = data.bookings[data.bookings["status"].isin(PROCESS_STATUSES)]
    return b.merge(data.truth[["customer_id", "persona", "loyalty_member", "nu_spend"]],
                   on="customer_id", how="left", validate="many_to_one")


# ---- reproducibility -------------------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_other_seed_differs() -> None:
    a = generate(1500, seed=7)
    b = generate(1500, seed=7)
    c = generate(1500, seed=8)
    for name in ("customers", "bookings", "interactions", "feedback", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.planted == b.planted
    assert not a.truth["lam_per_day"].equals(c.truth["lam_per_day"])
    assert not a.customers["email"].equals(c.customers["email"])
    assert len(a.bookings) != len(c.bookings) or not a.bookings["amount"].equals(
        c.bookings["amount"])


# ---- contract conformance --------------------------------------------------------------------


def _check_kind(series: pd.Series, kind: str, allowed: tuple[str, ...] | None) -> None:
    name = series.name
    if kind == "string":
        assert series.dtype == object, name
        assert series.dropna().map(type).eq(str).all(), name
    elif kind == "date":
        assert series.dtype == "datetime64[ns]", name
        s = series.dropna()
        assert (s == s.dt.normalize()).all(), f"{name} carries a time of day"
    elif kind == "datetime":
        assert series.dtype == "datetime64[ns]", name
    elif kind == "int":
        assert pd.api.types.is_integer_dtype(series.dtype), name
    elif kind == "float":
        assert pd.api.types.is_float_dtype(series.dtype), name
    elif kind == "bool":
        assert series.dtype == bool, name
    elif kind == "category":
        assert isinstance(series.dtype, pd.CategoricalDtype), name
        if allowed is not None:
            assert set(series.cat.categories) <= set(allowed), name
            assert series.notna().all() or name == "complaint_category", name
    else:  # pragma: no cover
        raise AssertionError(kind)


def test_tables_follow_the_contract(data: SyntheticData) -> None:
    tables = data.tables()
    assert set(tables) == set(TABLES)
    for name, table in TABLES.items():
        df = tables[name]
        assert list(df.columns) == table.column_names, name
        assert len(df) > 0, name
        for col in table.columns:
            _check_kind(df[col.name], col.kind, col.allowed)
            if not col.nullable:
                assert df[col.name].notna().all(), f"{name}.{col.name} has nulls"
        if table.key:
            assert not df.duplicated(list(table.key)).any(), f"{name} key not unique"


def test_referential_integrity_and_unique_pii(data: SyntheticData) -> None:
    cust = data.customers
    assert len(cust) == N_CUSTOMERS
    ids = set(cust["customer_id"])
    assert cust["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert data.bookings["booking_id"].str.fullmatch(r"B\d{9}").all()
    for name in ("bookings", "interactions", "feedback"):
        assert set(data.tables()[name]["customer_id"]) <= ids, name
    # every customer booked at least once; signup on or before the first booking
    first = data.bookings.groupby("customer_id")["booking_date"].min()
    assert len(first) == N_CUSTOMERS
    assert (cust.set_index("customer_id")["signup_date"] <= first.reindex(cust["customer_id"])
            .to_numpy()).all()
    # survey rows point at a completed booking of the same customer, dated after the trip
    fb = data.feedback.merge(data.bookings, on="booking_id", suffixes=("", "_b"),
                             validate="many_to_one")
    assert len(fb) == len(data.feedback)
    assert (fb["customer_id"] == fb["customer_id_b"]).all()
    assert (fb["status"] == "completed").all()
    trip_end = fb["travel_start"] + pd.to_timedelta(fb["nights"], unit="D")
    assert (fb["date"] > trip_end).all() and (fb["date"] <= EXTRACTION).all()
    assert data.feedback["csat"].between(1, 5).all() and data.feedback["nps"].between(0, 10).all()
    assert (data.interactions["timestamp"] < EXTRACTION + pd.Timedelta(days=1)).all()
    assert (data.bookings["booking_date"] <= EXTRACTION).all()
    assert cust["email"].is_unique and cust["phone"].is_unique
    assert cust["email"].str.fullmatch(r"[a-z.]+\d{8}@[a-z0-9.]+").all()
    assert cust["phone"].str.fullmatch(r"\+(86 1\d{10}|852 \d{8}|44 79\d{8}|61 4\d{8})").all()


def test_chinese_and_western_names(data: SyntheticData) -> None:
    names = data.customers["name"]
    chinese = names.str.fullmatch(r"[\u4e00-\u9fff]{2,3}")
    western = names.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+")
    assert (chinese | western).all()
    assert chinese.mean() > 0.7 and western.mean() > 0.01
    assert names.isin(["王芳", "李伟", "张敏"]).any()


def test_personas_shares_and_customer_type(data: SyntheticData) -> None:
    shares = data.truth["persona"].value_counts(normalize=True)
    for name, persona in PERSONAS.items():
        assert abs(shares[name] - persona.share) < 0.015, name
    merged = data.customers.merge(data.truth[["customer_id", "persona"]], on="customer_id")
    corporate = merged["persona"] == "corporate"
    assert (merged.loc[corporate, "customer_type"] == "corporate").all()
    assert (merged.loc[~corporate, "customer_type"] == "individual").all()


# ---- planted BG/NBD --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_bgnbd_repeat_bookings_match_closed_form(
    data: SyntheticData, process_bookings: pd.DataFrame, persona: str
) -> None:
    """Non-members: observed repeat bookings vs E[X(t)] and P(X(t) = 0) at each own age."""
    p = PERSONAS[persona]
    t = data.truth[(data.truth["persona"] == persona) & ~data.truth["loyalty_member"]]
    counts = process_bookings.groupby("customer_id").size().reindex(t["customer_id"]).to_numpy()
    repeats = counts - 1
    age = t["age_days"].to_numpy()
    expected = bgnbd_expected_repeat_bookings(age, p.r, p.alpha, p.a, p.b)
    # aggregate mean within 4 standard errors (2-3 % at this size; heavy-tailed counts)
    resid = repeats - expected
    se = resid.std(ddof=1) / np.sqrt(len(resid))
    assert se < 0.04 * expected.mean(), persona
    assert abs(resid.mean()) < 4 * se, (persona, repeats.mean(), expected.mean(), se)
    # P(X(t) = 0) = (alpha / (alpha + t))^r: no dropout before the first repeat booking
    p0 = (p.alpha / (p.alpha + age)) ** p.r
    se0 = np.sqrt(np.sum(p0 * (1 - p0))) / len(p0)
    assert abs((repeats == 0).mean() - p0.mean()) < 4 * se0 + 0.005, persona


def test_bgnbd_closed_form_against_monte_carlo() -> None:
    """The E[X(t)] helper (used above) agrees with a direct simulation of the BG/NBD story."""
    rng = np.random.default_rng(0)
    r, alpha, a, b, t = 1.5, 200.0, 0.7, 3.0, 900.0
    n = 200_000
    lam = rng.gamma(r, 1 / alpha, n)
    pd_ = rng.beta(a, b, n)
    count = np.zeros(n)
    clock = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        clock[alive] += rng.exponential(1.0, alive.sum()) / lam[alive]
        alive &= clock < t
        count[alive] += 1
        alive &= rng.random(n) >= pd_
    assert abs(count.mean() / bgnbd_expected_repeat_bookings(t, r, alpha, a, b) - 1) < 0.02


def test_members_follow_bgnbd_until_cancellation(data: SyntheticData) -> None:
    """Members book less than the untruncated process: the cancellation is visible."""
    t = data.truth
    members = t[t["loyalty_member"] & t["cancelled"]]
    assert len(members) > 1000
    n_pre = members["n_process_bookings"] - 1
    p = {k: PERSONAS[k] for k in PERSONAS}
    expected = np.concatenate([
        bgnbd_expected_repeat_bookings(g["age_days"].to_numpy(), p[k].r, p[k].alpha, p[k].a,
                                       p[k].b)
        for k, g in members.groupby("persona", observed=True)])
    assert n_pre.mean() < 0.8 * expected.mean()


# ---- planted Gamma-Gamma ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_gamma_gamma_spend(process_bookings: pd.DataFrame, persona: str) -> None:
    p = PERSONAS[persona]
    b = process_bookings[process_bookings["persona"] == persona]
    per_customer = b.groupby("customer_id")["amount"].mean()
    assert abs(per_customer.mean() / p.mean_amount - 1) < 0.05, (persona, per_customer.mean())
    # conditional on nu: E[z | nu] = p / nu  (tight: only within-customer noise)
    ratio = (b["amount"] * b["nu_spend"] / p.p).mean()
    assert abs(ratio - 1) < 0.02, (persona, ratio)
    # the within-customer coefficient of variation is 1 / sqrt(p)
    cv = (b["amount"] * b["nu_spend"]).std() / (b["amount"] * b["nu_spend"]).mean()
    assert abs(cv * np.sqrt(p.p) - 1) < 0.05, (persona, cv)


def test_spend_and_behaviour_separate_personas(process_bookings: pd.DataFrame) -> None:
    b = process_bookings
    lead = (b["travel_start"] - b["booking_date"]).dt.days
    g = b.assign(lead=lead).groupby("persona", observed=True)
    means = g[["amount", "party_size", "nights", "lead"]].mean()
    assert means["amount"].idxmax() == "luxury" and means["amount"].idxmin() == "backpacker"
    assert means["party_size"].idxmax() == "family"
    assert means.loc["family", "nights"] > 6 and means.loc["business_traveller", "nights"] < 2
    assert means.loc["business_traveller", "lead"] < 10 < means.loc["family", "lead"]
    city = g["destination_type"].apply(lambda s: (s == "city").mean())
    assert city["corporate"] > 0.9 and city["business_traveller"] > 0.9 and city["family"] < 0.1
    assert g["product"].apply(lambda s: (s == "business_travel").mean())["corporate"] > 0.5


def test_travel_seasonality(process_bookings: pd.DataFrame) -> None:
    """Family trips cluster in July/August; corporate trips do not."""
    month = process_bookings["travel_start"].dt.month
    summer = month.isin([7, 8]).groupby(process_bookings["persona"], observed=True).mean()
    assert summer["family"] > 0.2 > summer["corporate"]


# ---- planted cancellation hazard -------------------------------------------------------------


def test_first_trip_covariates_are_visible_in_the_data(data: SyntheticData) -> None:
    """The hazard covariates are what a model sees: complaints 1-7 days after the first trip,
    a low csat on the first booking's survey (whenever that is before the extraction)."""
    b = data.bookings[data.bookings["status"].isin(PROCESS_STATUSES)]
    first = b.sort_values(["customer_id", "booking_date", "booking_id"]).groupby(
        "customer_id").head(1)
    first = first.assign(trip_end=first["travel_start"] + pd.to_timedelta(first["nights"], "D"))
    truth = data.truth.set_index("customer_id")
    fb = data.feedback.set_index("booking_id")
    low = first["booking_id"].map(fb["csat"]).le(2).to_numpy()
    planted_low = truth.loc[first["customer_id"], "low_csat"].to_numpy()
    surveyed = (first["trip_end"] + pd.Timedelta(days=FEEDBACK_LAG_DAYS[1]) <= EXTRACTION).to_numpy()
    assert np.array_equal(low[surveyed], planted_low[surveyed])
    assert not (low & ~planted_low).any()
    assert low.sum() > 500
    comp = data.interactions[data.interactions["kind"] == "complaint"].merge(
        first[["customer_id", "trip_end"]], on="customer_id")
    lag = (comp["timestamp"].dt.normalize() - comp["trip_end"]).dt.days
    comp = comp[lag.between(*COMPLAINT_LAG_DAYS)]
    for cat in ("service", "product", "price"):
        seen = set(comp.loc[comp["complaint_category"] == cat, "customer_id"])
        planted = truth[truth[f"complaint_{cat}"]]
        observable = planted.index.isin(first.loc[
            first["trip_end"] + pd.Timedelta(days=COMPLAINT_LAG_DAYS[1]) <= EXTRACTION,
            "customer_id"])
        assert set(planted.index[observable]) <= seen, cat
        # complaints of other trips can fall in the window by chance, but rarely
        assert len(seen - set(planted.index)) < 0.05 * len(seen), cat


def test_cancellation_hazard_ratios(data: SyntheticData) -> None:
    """Cox PH (strata = persona) on members recovers every planted hazard ratio.

    Durations come from the public tables (first booking -> ``membership_cancel_date``, else
    censored at the extraction); the 95 % confidence level holds jointly for the four hazard
    ratios (Bonferroni: each interval at 1 - 0.05 / 4).
    """
    from lifelines import CoxPHFitter

    cust = data.customers[data.customers["loyalty_member"]]
    first = data.bookings.groupby("customer_id")["booking_date"].min()
    t = data.truth.set_index("customer_id").loc[cust["customer_id"]]
    end = cust["membership_cancel_date"].fillna(EXTRACTION + pd.Timedelta(days=1))
    duration = (end.to_numpy() - first.reindex(cust["customer_id"]).to_numpy()) / np.timedelta64(
        1, "D")
    df = pd.DataFrame({
        "duration": duration + 0.5,
        "event": cust["membership_cancel_date"].notna().to_numpy(),
        "persona": t["persona"].astype(str).to_numpy(),
        **{k: t[k].astype(float).to_numpy() for k in PLANTED_HAZARD_RATIOS},
    })
    assert df["event"].mean() > 0.2 and (~df["event"]).mean() > 0.2
    level = 0.05 / len(PLANTED_HAZARD_RATIOS)
    cph = CoxPHFitter(alpha=level).fit(df, duration_col="duration", event_col="event",
                                       strata=["persona"])
    s = cph.summary
    pct = f"{100 * (1 - level):g}%"
    for name, hr in PLANTED_HAZARD_RATIOS.items():
        lo, hi = s.loc[name, f"exp(coef) lower {pct}"], s.loc[name, f"exp(coef) upper {pct}"]
        assert lo <= hr <= hi, (name, lo, hr, hi)
        assert s.loc[name, "exp(coef)"] > 1.0, name
    # the strong effects are detected, not merely compatible
    assert s.loc["complaint_service", f"exp(coef) lower {pct}"] > 1.3
    assert s.loc["low_csat", f"exp(coef) lower {pct}"] > 1.2


def test_cancellation_bookkeeping(data: SyntheticData) -> None:
    cust = data.customers
    assert cust.loc[~cust["loyalty_member"], "membership_cancel_date"].isna().all()
    cancelled = cust.dropna(subset=["membership_cancel_date"])
    assert (cancelled["membership_cancel_date"] <= EXTRACTION).all()
    assert cust.loc[cust["loyalty_member"], "membership_cancel_date"].notna().mean() > 0.2
    # no booking (of any status) after a member's cancellation
    b = data.bookings.merge(cancelled[["customer_id", "membership_cancel_date"]],
                            on="customer_id")
    assert len(b) > 1000
    assert (b["booking_date"] <= b["membership_cancel_date"]).all()
    t = data.truth.set_index("customer_id").loc[cancelled["customer_id"]]
    assert t["cancelled"].all()
    assert not t["alive_at_extraction"].any()


# ---- trips, statuses, tiers ------------------------------------------------------------------


def test_status_follows_trip_end(data: SyntheticData) -> None:
    b = data.bookings
    trip_end = b["travel_start"] + pd.to_timedelta(b["nights"], unit="D")
    assert (b["travel_start"] >= b["booking_date"]).all()
    assert (trip_end[b["status"] == "completed"] <= EXTRACTION).all()
    assert (trip_end[b["status"] == "confirmed"] > EXTRACTION).all()
    assert (b.loc[b["status"] == "no_show", "travel_start"] <= EXTRACTION).all()
    share = b["status"].value_counts(normalize=True)
    # noise cancellations (~3 %) plus the trips leaving customers cancel on their way out
    assert 0.03 < share["cancelled"] < 0.10 and 0.003 < share["no_show"] < 0.03
    assert share["confirmed"] > 0.005
    # extra bookings are exactly the non-process ones
    extra = b["status"].isin(["cancelled", "no_show"]).groupby(b["customer_id"]).sum()
    assert np.array_equal(extra.reindex(data.truth["customer_id"]).to_numpy(),
                          data.truth["n_extra_bookings"].to_numpy())


def test_every_status_is_dated_when_it_was_set(data: SyntheticData) -> None:
    """``status_date``: trip end for completed, booking day for confirmed, trip start for a
    no-show, a day between booking and trip start for a cancellation; never after the
    extraction day."""
    b = data.bookings
    end = b["travel_start"] + pd.to_timedelta(b["nights"], unit="D")
    s = b["status"].astype(str)
    assert b["status_date"].notna().all() and (b["status_date"] <= EXTRACTION).all()
    assert (b["status_date"] >= b["booking_date"]).all()
    assert (b.loc[s == "completed", "status_date"] == end[s == "completed"]).all()
    assert (b.loc[s == "confirmed", "status_date"] == b.loc[s == "confirmed", "booking_date"]).all()
    assert (b.loc[s == "no_show", "status_date"] == b.loc[s == "no_show", "travel_start"]).all()
    c = b[s == "cancelled"]
    assert ((c["status_date"] < c["travel_start"]) | (c["status_date"] == c["booking_date"])).all()


def test_leaving_customers_cancel_a_trip_after_their_last_activity(data: SyntheticData) -> None:
    """The planted churn-linked cancellations: recorded after the customer left, so a past
    cut-off that read the final status would see the future."""
    b, truth = data.bookings, data.truth.set_index("customer_id")
    c = b[b["status"] == "cancelled"]
    leavers = truth.index[truth["dropped_out"] | truth["cancelled"]]
    late = c[(c["status_date"] - c["booking_date"]).dt.days > 30]
    share_leavers = late["customer_id"].isin(leavers).mean()
    assert len(late) > 100 and share_leavers > 0.9
    stayers_share = c[~c.index.isin(late.index)]["customer_id"].isin(leavers).mean()
    assert share_leavers > stayers_share + 0.2


def _tiers_by_hand(bookings: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    b = bookings[~bookings["status"].isin(["cancelled", "no_show"])]
    end = b["travel_start"] + pd.to_timedelta(b["nights"], unit="D")
    done = b[end <= as_of]
    end = end[end <= as_of]
    recent = done[end > as_of - pd.Timedelta(days=TIER_WINDOW_DAYS)].groupby("customer_id").size()
    ever = done.groupby("customer_id").size()
    out = {}
    for cid in bookings["customer_id"].unique():
        n_ever, n_recent = ever.get(cid, 0), recent.get(cid, 0)
        if n_ever < TIER_THRESHOLDS["silver"]:
            out[cid] = "regular"
        elif n_recent >= TIER_THRESHOLDS["diamond"]:
            out[cid] = "diamond"
        elif n_recent >= TIER_THRESHOLDS["platinum"]:
            out[cid] = "platinum"
        elif n_recent >= TIER_THRESHOLDS["gold"]:
            out[cid] = "gold"
        else:
            out[cid] = "silver"
    return pd.Series(out)


def test_member_tiers_follow_the_thresholds(data: SyntheticData) -> None:
    ids = data.customers["customer_id"].iloc[::10]
    sub = data.bookings[data.bookings["customer_id"].isin(ids)]
    expected = _tiers_by_hand(sub, EXTRACTION)
    got = data.customers.set_index("customer_id")["member_tier"]
    assert (got.loc[expected.index].astype(str) == expected).all()
    counts = got.value_counts()
    assert all(counts[t] > 0 for t in ("regular", "silver", "gold", "platinum", "diamond"))
    # the public function reproduces the table, also at an earlier date
    pd.testing.assert_series_equal(
        assign_member_tiers(data.bookings, EXTRACTION, customer_ids=data.customers["customer_id"]
                            ).astype(str),
        got.astype(str), check_names=False)
    earlier = pd.Timestamp("2024-06-30")
    got_early = assign_member_tiers(sub, earlier)
    assert (got_early.astype(str) == _tiers_by_hand(sub, earlier).loc[got_early.index]).all()


def test_assign_member_tiers_edge_cases() -> None:
    as_of = pd.Timestamp("2025-12-31")
    rows = [  # customer, travel_start, nights, status
        ("A", "2025-12-29", 2, "completed"),  # ends on as_of: counts (gold)
        ("B", "2025-12-30", 2, "confirmed"),  # ends after as_of: not yet -> regular
        ("C", "2024-06-01", 3, "completed"),  # outside the window -> silver
        ("D", "2025-03-01", 1, "cancelled"),  # cancelled never counts -> regular
        ("E", "2025-01-01", 1, "completed"), ("E", "2025-02-01", 1, "completed"),
        ("E", "2025-03-01", 1, "completed"),  # 3 in window -> platinum
        ("F", "2024-12-30", 1, "completed"),  # ends 2024-12-31, window is (as_of - 365, as_of]
    ]
    rows += [("G", f"2025-0{m}-01", 1, "completed") for m in range(1, 9)]  # 8 -> diamond
    b = pd.DataFrame(rows, columns=["customer_id", "travel_start", "nights", "status"])
    b["travel_start"] = pd.to_datetime(b["travel_start"])
    b["booking_date"] = b["travel_start"] - pd.Timedelta(days=10)
    tiers = assign_member_tiers(b, as_of, customer_ids=list("ABCDEFGH")).astype(str).to_dict()
    assert tiers == {"A": "gold", "B": "regular", "C": "silver", "D": "regular",
                     "E": "platinum", "F": "silver", "G": "diamond", "H": "regular"}


# ---- interactions and feedback ---------------------------------------------------------------


def test_interaction_volume_and_feedback_signal(data: SyntheticData) -> None:
    per_customer = len(data.interactions) / N_CUSTOMERS
    assert 1.5 < per_customer < 4.5
    kinds = data.interactions["kind"]
    assert set(kinds.unique()) == {"campaign_sent", "opened", "clicked", "inquiry", "complaint"}
    comp = data.interactions["complaint_category"]
    assert comp.notna().eq(kinds == "complaint").all()
    # feedback on ~60 % of completed trips; csat lower after a complaint
    completed = (data.bookings["status"] == "completed").sum()
    assert 0.5 < len(data.feedback) / completed < 0.7
    fb = data.feedback.merge(data.bookings[["booking_id", "travel_start", "nights"]])
    fb["trip_end"] = fb["travel_start"] + pd.to_timedelta(fb["nights"], unit="D")
    c = data.interactions[kinds == "complaint"].copy()
    c["day"] = c["timestamp"].dt.normalize()
    lag = fb.merge(c[["customer_id", "day"]], on="customer_id")
    lag = lag[(lag["day"] - lag["trip_end"]).dt.days.between(*COMPLAINT_LAG_DAYS)]
    with_comp = fb["booking_id"].isin(lag["booking_id"])
    assert fb.loc[with_comp, "csat"].mean() < fb.loc[~with_comp, "csat"].mean() - 1.0
    assert fb["nps"].corr(fb["csat"].astype(float)) > 0.7


# ---- output ----------------------------------------------------------------------------------


def test_write_parquet_round_trip(tmp_path) -> None:
    paths = generate_to_parquet(tmp_path / "synth", 800, seed=3)
    assert set(paths) == {"customers", "bookings", "interactions", "feedback", "truth",
                          "planted"}
    again = generate(800, seed=3)
    for name in ("customers", "bookings", "interactions", "feedback", "truth"):
        back = pd.read_parquet(paths[name])
        pd.testing.assert_frame_equal(back, getattr(again, name), check_categorical=False)
        assert back.dtypes.equals(getattr(again, name).dtypes), name
    planted = json.loads(paths["planted"].read_text(encoding="utf-8"))
    assert planted == json.loads(json.dumps(again.planted))
    assert planted["cancellation"]["hazard_ratios"] == PLANTED_HAZARD_RATIOS
    assert planted["bgnbd"]["params"]["family"]["alpha"] == PERSONAS["family"].alpha
    assert not list(tmp_path.glob("synth/.*tmp"))


def test_benchmark_script_smoke(capsys) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_generator.py"
    spec = importlib.util.spec_from_file_location("bench_generator", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sizes", "300"]) == 0
    out = capsys.readouterr().out
    assert "| customers |" in out and "| 300 |" in out and "peak RSS" in out
