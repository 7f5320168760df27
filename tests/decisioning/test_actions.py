"""Next best action (first-match rules), preferred channel, item-to-item suggestions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.decisioning.actions import (
    DEFAULT_ACTION_RULES,
    ItemAssociation,
    next_best_action,
    preferred_channel,
)
from src.decisioning.lifecycle import RuleError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "contactable": [0.0, 1, 1, 1, 1, 1, 1],
        "days_since_last_complaint": [np.nan, 30, np.nan, np.nan, np.nan, np.nan, 400],
        "value_tier": ["most_valuable", "most_valuable", "major", "most_valuable", "small",
                       "small", "small"],
        "churn_prob_365d": [0.9, 0.9, 0.7, 0.1, 0.2, np.nan, 0.5],
        "n_bookings": [3.0, 3, 2, 5, 1, 1, 2],
        "frequency": [2.0, 2, 1, 4, 0, 0, 1],
        "csat_mean": [5.0, 5, 3, 4, 4.5, 2, np.nan],
        "nps_mean": [np.nan] * 7,
        "stage": ["loyal", "loyal", "at_risk", "loyal", "new", "new", "lapsed"],
        "churn_status": ["active"] * 7,
    })


def test_default_rules_in_order():
    got = next_best_action(_frame()).tolist()
    assert got == ["do_not_contact",      # no consent beats everything, even a VIP at risk
                   "service_recovery",    # a recent complaint beats the win-back call
                   "win_back_call", "vip_care", "second_trip_offer",
                   "nurture",             # one-time but unhappy
                   "reactivation"]        # old complaint does not count


def test_a_cancelled_member_is_won_back_never_nurtured_or_upsold():
    f = _frame()
    f["churn_status"] = "cancelled"
    got = next_best_action(f).tolist()
    assert got[0] == "do_not_contact" and got[1] == "service_recovery"
    assert set(got[2:]) == {"member_win_back"}
    f["churn_status"] = "lapsed"
    f["churn_prob_365d"] = np.nan  # the event happened: no probability
    got = next_best_action(f).tolist()
    assert got[2] == "win_back_call" and got[3] == "win_back_call"  # high value, lapsed
    assert "second_trip_offer" not in got and "vip_care" not in got


def test_rule_order_decides():
    f = _frame()
    swapped = [DEFAULT_ACTION_RULES[3], DEFAULT_ACTION_RULES[1], *DEFAULT_ACTION_RULES[4:]]
    got = next_best_action(f, swapped)
    # customer 1 is both high-value-at-risk and a recent complainer
    assert got.iloc[1] == "win_back_call"
    assert got.iloc[0] == "win_back_call"  # the consent rule was dropped from this list


def test_every_customer_gets_exactly_one_action_without_a_catch_all():
    rules = [{"action": "vip_care", "when": "value_tier == 'most_valuable'"}]
    got = next_best_action(_frame(), rules, default="nurture")
    assert got.notna().all()
    assert set(got) == {"vip_care", "nurture"}


@pytest.mark.parametrize("when, words", [
    ("__import__('os').system('x') == 0", "function call"),
    ("unknown_column > 1", "unknown_column"),
    ("value_tier.size > 1", "attribute"),
])
def test_unsafe_or_unknown_rules_are_rejected_naming_the_rule(when, words):
    rules = [{"action": "bad", "when": when}, {"action": "nurture", "when": "True"}]
    with pytest.raises(RuleError) as err:
        next_best_action(_frame(), rules)
    assert "action rule #0" in str(err.value) and words in str(err.value)


def test_preferred_channel_respects_consent_and_engagement():
    f = pd.DataFrame({
        "consent_email": [1.0, 1, 0, np.nan, 1],
        "consent_sms": [1.0, 1, 0, 0, 0],
        "consent_phone": [0.0, 1, 1, 0, 0],
        "engaged_email": [0.0, 1, 9, 0, 0],
        "engaged_sms": [0.0, 5, 0, 0, 0],
        "engaged_phone": [9.0, 2, 0, 0, 0],
    })
    got = preferred_channel(f).tolist()
    # 0: phone engaged most but no consent -> the first consented channel on a tie (email)
    # 1: sms engaged most; 2: only phone consented; 3: no consent (missing counts as no)
    assert got == ["email", "sms", "phone", "none", "email"]


@pytest.fixture(scope="module")
def baskets() -> pd.DataFrame:
    """Planted co-booking: beach goes with package, city with flight; culture with tour."""
    rows = []
    b = 0
    for i in range(200):
        kind = i % 4
        pairs = {0: [("beach", "package"), ("beach", "hotel")],
                 1: [("city", "flight"), ("city", "hotel")],
                 2: [("culture", "tour")],
                 3: [("beach", "package")]}[kind]
        for dest, prod in pairs:
            b += 1
            rows.append({"booking_id": f"B{b}", "customer_id": f"C{i:03d}",
                         "booking_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=b % 300),
                         "destination_type": dest, "product": prod, "amount": 100.0,
                         "status": "completed"})
    return pd.DataFrame(rows)


def test_item_association_recovers_planted_pairs(baskets):
    assoc = ItemAssociation().fit(baskets, "2025-01-01")
    lift = assoc.lift_
    assert lift.loc["destination_type=beach", "product=package"] == pytest.approx(
        1 / (100 / 200))  # P(package | beach) = 1, P(package) = 0.5
    assert lift.loc["destination_type=beach", "product=flight"] == 0
    rules = assoc.rules()
    assert rules.iloc[0]["lift"] >= rules.iloc[-1]["lift"]


def test_suggestions_are_new_items_with_the_best_lift(baskets):
    assoc = ItemAssociation().fit(baskets, "2025-01-01")
    f = pd.DataFrame(0.0, index=["beach_hotel", "city_only", "new", "culture_tour"],
                     columns=assoc.input_columns_)
    f.loc["beach_hotel", ["dest_beach", "product_hotel"]] = 0.5
    f.loc["city_only", "dest_city"] = 1.0
    f.loc["culture_tour", ["dest_culture", "product_tour"]] = 1.0
    got = assoc.suggest(f)
    assert got.loc["beach_hotel", "suggested_product"] == "package"
    assert got.loc["city_only", "suggested_product"] == "flight"
    assert got.loc["culture_tour", "suggested_product"] != "tour"  # never a booked item
    assert got.loc["culture_tour", "suggested_destination_type"] != "culture"
    # nothing booked: the most popular item, without a lift
    assert got.loc["new", "suggested_destination_type"] == "beach"
    assert np.isnan(got.loc["new", "suggested_product_lift"])
