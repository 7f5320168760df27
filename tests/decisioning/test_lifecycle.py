"""Lifecycle stages (rules, first match, safety), transitions, booking gaps, loyalty view."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from src.decisioning.lifecycle import (
    DEFAULT_STAGE_RULES,
    StageRuleError,
    assign_stages,
    loyalty_indicators,
    stage_inputs,
    stage_transitions,
)
from src.features.customer import booking_gaps
from src.plots.loyalty import stage_counts, stage_transition_heatmap

NAN = np.nan


@pytest.fixture()
def features() -> pd.DataFrame:
    """One customer per default stage (days)."""
    rows = {
        #            n_book freq tenure recency last_gap p_alive  expected
        "prospect": (0, NAN, NAN, NAN, NAN, NAN),        # no_completed_booking
        "newbie": (1, 0, 30, 30, NAN, 1.0),              # new
        "returner": (3, 2, 2000, 100, 900, 0.9),         # won_back (long gap, recent)
        "gone": (5, 4, 1500, 800, 100, 0.6),             # lapsed (recency)
        "fading": (6, 5, 1000, 300, 60, 0.1),            # lapsed (p_alive)
        "wobbly": (4, 3, 900, 200, 90, 0.4),             # at_risk (p_alive)
        "one_timer": (1, 0, 500, 500, NAN, 1.0),         # at_risk (one-time, > 365 days)
        "fan": (8, 7, 1200, 20, 60, 0.95),               # loyal
        "regular": (2, 1, 400, 50, 300, 0.9),            # active
        "quitter": (8, 7, 1200, 20, 60, 0.95),           # cancelled (a fan's history)
    }
    cols = ["n_bookings", "frequency", "tenure_days", "recency_days", "last_gap_days",
            "p_alive"]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    df["membership_cancelled"] = [NAN, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    df.index.name = "customer_id"
    return df


EXPECTED = {
    "prospect": "no_completed_booking", "newbie": "new", "returner": "won_back",
    "gone": "lapsed", "fading": "lapsed", "wobbly": "at_risk", "one_timer": "at_risk",
    "fan": "loyal", "regular": "active", "quitter": "cancelled",
}


def test_default_rules_give_the_documented_stages(features):
    stages = assign_stages(features)
    assert stages.name == "stage"
    assert stages.astype(str).to_dict() == EXPECTED
    assert list(stages.cat.categories) == [r["stage"] for r in DEFAULT_STAGE_RULES]


def test_first_matching_rule_wins(features):
    rules = [{"stage": "hot", "when": "p_alive >= 0.9"},
             {"stage": "recent", "when": "recency_days <= 100"},
             {"stage": "rest", "when": "True"}]
    stages = assign_stages(features, rules).astype(str)
    assert stages["fan"] == "hot" and stages["returner"] == "hot"  # both rules hold
    assert stages["newbie"] == "hot"  # p_alive = 1
    assert stages["prospect"] == "rest"  # NaN comparisons are false
    swapped = assign_stages(features, [rules[1], rules[0], rules[2]]).astype(str)
    assert swapped["fan"] == "recent" and swapped["returner"] == "recent"
    assert swapped["wobbly"] == "rest"
    # no catch-all: unmatched customers get no stage
    partial = assign_stages(features, rules[:1])
    assert partial.isna().sum() == (~(features["p_alive"] >= 0.9)).sum()


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("__import__('os').system('echo hi') == 0", "function call"),
        ("p_alive.sum() > 1", "function call"),
        ("p_alive.values > 1", "attribute access"),
        ("p_alive[0] > 1", "indexing"),
        ("@threshold < p_alive", "not a valid expression"),
        ("p_alive <", "not a valid expression"),
        ("churn_score > 0.5", "'churn_score', which is not a column"),
        ("recency_days", "does not give true/false"),
        ("2 ** 100 > p_alive", "power"),
    ],
)
def test_invalid_rules_are_rejected_with_the_rule_named(features, when, message):
    rules = [{"stage": "new", "when": "n_bookings == 1"}, {"stage": "bad_one", "when": when}]
    with pytest.raises(StageRuleError, match=message) as err:
        assign_stages(features, rules)
    assert "stage rule #1 ('bad_one'" in str(err.value)


@pytest.mark.parametrize(
    "rules",
    [[], {"stage": "x", "when": "True"}, [{"stage": "x"}], [{"stage": "", "when": "True"}],
     [{"stage": "x", "when": "True", "extra": 1}], [{"stage": "x", "when": 3}]],
)
def test_malformed_rule_lists_are_rejected(features, rules):
    with pytest.raises(StageRuleError):
        assign_stages(features, rules)


def test_booking_gaps_and_stage_inputs():
    bookings = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c", "c"],
        "booking_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-03-01", "2023-01-01",
                                        "2022-05-05", "2021-01-01", "2021-02-01"]),
        "amount": 1.0,
        "status": ["completed"] * 6 + ["cancelled"],
    })
    gaps = booking_gaps(bookings, "2023-12-31")
    assert gaps.loc["a", "max_gap_days"] == (pd.Timestamp("2023-01-01")
                                             - pd.Timestamp("2020-03-01")).days
    assert gaps.loc["a", "last_gap_days"] == gaps.loc["a", "max_gap_days"]
    assert np.isnan(gaps.loc["b", "last_gap_days"]) and np.isnan(gaps.loc["c", "max_gap_days"])
    # the cut-off hides the 2023 booking: a's last gap is then the 60-day one
    assert booking_gaps(bookings, "2022-12-31").loc["a", "last_gap_days"] == 60
    feats = pd.DataFrame({"n_bookings": [3, 1, 1, 0]},
                         index=pd.Index(list("abcd"), name="customer_id"))
    x = stage_inputs(feats, bookings, "2023-12-31",
                     p_alive=pd.Series([0.5, 0.9], index=["a", "b"]))
    assert x.loc["a", "p_alive"] == 0.5 and np.isnan(x.loc["d", "p_alive"])
    assert np.isnan(x.loc["d", "max_gap_days"])


def test_transition_table_sums_and_newcomers():
    before = pd.Series(["new", "new", "active", "loyal", "active"],
                       index=["a", "b", "c", "d", "e"])
    after = pd.Series(["active", "at_risk", "active", "loyal", "lapsed", "new", "new"],
                      index=["a", "b", "c", "d", "e", "f", "g"])
    table = stage_transitions(before, after)
    counts, share = table["customers"], table["share"]
    assert counts.to_numpy().sum() == 7  # every customer once
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    assert counts.index[0] == "not_yet_customer"
    assert counts.loc["not_yet_customer", "new"] == 2
    assert counts.loc["new", "active"] == 1 and counts.loc["new", "at_risk"] == 1
    assert share.loc["active", "lapsed"] == 0.5
    # rows/columns follow the default stage order
    assert list(counts.columns) == ["new", "lapsed", "at_risk", "loyal", "active"]
    # a customer missing at the second cut-off and a categorical input
    cat_before = before.astype(pd.CategoricalDtype(["new", "active", "loyal"]))
    t2 = stage_transitions(cat_before, after.drop("d"))
    assert t2["customers"].loc["loyal", "not_observed"] == 1
    assert list(t2["customers"].columns)[-1] == "not_observed"
    fig = stage_transition_heatmap(table)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].texts) == int((counts.to_numpy() > 0).sum())


def test_nps_and_loyalty_indicators_on_a_handmade_example():
    f = pd.DataFrame({
        "tier": ["gold"] * 7 + ["silver"] * 4,
        #                 promoters    passives  detractors  none
        "nps_mean": [10, 9, 8, 7, 6, 0, NAN, 10, 10, 9, 3],
        "csat_mean": [5, 4, NAN, 3, 2, 1, NAN, 5, 5, 4, 2],
        "n_bookings": [3, 1, 2, 0, 1, 5, 1, 2, 2, 1, 1],
        "frequency": [2, 0, 0, NAN, 0, 4, 0, 1, 1, 0, 0],
        "stage": ["loyal", "new", "active", "no_completed_booking", "lapsed", "lapsed",
                  "at_risk", "active", "active", "new", "lapsed"],
    })
    out = loyalty_indicators(f, "tier")
    gold, silver = out.loc["gold"], out.loc["silver"]
    assert gold["customers"] == 7 and silver["customers"] == 4
    # gold: 6 answers, promoters 10, 9 (2/6), detractors 6, 0 (2/6): NPS 0
    assert gold["nps_respondents"] == 6
    assert gold["promoters_share"] == pytest.approx(2 / 6)
    assert gold["detractors_share"] == pytest.approx(2 / 6)
    assert gold["nps"] == pytest.approx(0.0)
    # silver: 3 promoters of 4, 1 detractor: 75 - 25 = 50
    assert silver["nps"] == pytest.approx(50.0)
    assert gold["csat_mean"] == pytest.approx(3.0)
    # repeat rate among customers with a completed booking: gold 2 of 6 (same-day = 1 day)
    assert gold["repeat_rate"] == pytest.approx(2 / 6)
    assert silver["repeat_rate"] == pytest.approx(2 / 4)
    # churn: share lapsed among customers with a completed booking
    assert gold["churn_rate"] == pytest.approx(2 / 6)
    assert silver["churn_rate"] == pytest.approx(1 / 4)
    assert "lapsed" in out.attrs["churn_definition"]
    # an explicit churn column wins over the stage
    f["churned"] = [True, False, False, False, False, False, False, True, True, True, True]
    assert loyalty_indicators(f, "tier").loc["silver", "churn_rate"] == 1.0
    # several grouping columns and missing inputs
    f["kind"] = ["a", "b"] * 5 + ["a"]
    two = loyalty_indicators(f.drop(columns=["csat_mean"]), ["tier", "kind"])
    assert two.index.names == ["tier", "kind"] and two["customers"].sum() == 11
    assert two["csat_mean"].isna().all() and "csat_mean" in two.attrs["missing_inputs"]


def test_stage_counts_plot(features):
    stages = assign_stages(features)
    fig = stage_counts(stages)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(stages.cat.categories)
    assert sum(p.get_height() for p in ax.patches) == len(features)


def test_booking_gaps_equal_a_plain_groupby_on_synthetic_data():
    """The vectorised gaps equal the obvious pandas computation (distinct days, diff)."""
    from src.data.synthetic import generate
    from src.features.definitions import completed_bookings

    bookings = generate(2_000, seed=4).bookings
    cut = "2024-12-31"
    got = booking_gaps(bookings, cut)
    done = completed_bookings(bookings, cut)
    pairs = pd.DataFrame({"customer_id": done["customer_id"].to_numpy(),
                          "day": done["booking_date"].dt.normalize().to_numpy()}).drop_duplicates()
    pairs = pairs.sort_values(["customer_id", "day"])
    pairs["gap"] = pairs.groupby("customer_id")["day"].diff() / pd.Timedelta(days=1)
    g = pairs.groupby("customer_id")["gap"]
    want = pd.DataFrame({"max_gap_days": g.max(), "last_gap_days": g.apply(lambda s: s.iloc[-1])})
    pd.testing.assert_frame_equal(got, want.astype(float), check_names=False)
    assert got["last_gap_days"].notna().sum() > 300  # repeat customers are there
