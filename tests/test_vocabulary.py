"""The vocabulary of the params: ``travel`` keeps today's wording exactly; ``retail`` and
``subscription`` labels, list names, exported columns and the data dictionary carry no travel
word (data values, the data's own words, aside)."""

from __future__ import annotations

import re
import typing

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from src.decisioning.actions import DEFAULT_ACTION_RULES, default_action_rules
from src.decisioning.scored_columns import (
    COLUMN_DOCS,
    column_doc,
    column_docs,
    data_dictionary,
    output_schema,
)
from src.export.marketing import export_marketing
from src.models.segmentation import NO_BOOKING_LABEL, BehaviouralSegmenter, SegmentationModel
from src.models.segmentation.labels import make_labels
from src.params.schema import ExportParams, JobParams
from src.plots.churn import drivers_and_causes
from src.vocabulary import VOCABULARIES, Vocabulary, vocabulary

TRAVEL_WORDS = re.compile(r"travel|trip|destination|flight|flyer|hotel", re.IGNORECASE)
OTHERS = ["retail", "subscription"]


def _travel_words(texts) -> list[str]:
    return [t for t in texts if TRAVEL_WORDS.search(str(t))]


def _profiles(product: dict[str, str], dest: str) -> pd.DataFrame:
    """Cluster profiles reaching every noun of the labels: corporate, lead product, families,
    a dominant product, the generic noun, and the no-booking cluster."""
    rows = [
        # cluster, size, recency, frequency, spend, corporate, party, product, share, dest
        (0, 100, 100, 1.0, 100, 0.0, 1.5, product["any"], 0.6, dest),
        (1, 90, 100, 1.0, 300, 0.7, 1.0, None, 0.0, None),
        (2, 80, 100, 1.0, 100, 0.0, 1.5, product["lead"], 0.5, None),
        (3, 70, 100, 1.0, 100, 0.0, 3.2, None, 0.0, None),
        (4, 60, 400, 2.0, 30, 0.0, 1.5, None, 0.1, None),
        (-1, 50, np.nan, np.nan, np.nan, 0.0, np.nan, None, np.nan, None),
    ]
    prof = pd.DataFrame(rows, columns=["cluster", "size", "recency_days", "frequency",
                                       "monetary_mean", "corporate_share", "party_size_mean",
                                       "top_product", "top_product_share", "top_destination"])
    prof["top_destination_share"] = np.where(prof["top_destination"].notna(), 0.5, 0.0)
    return prof


# ---------------------------------------------------------------------------------------------
# the vocabularies
# ---------------------------------------------------------------------------------------------
def test_the_params_offer_exactly_the_vocabularies_and_default_to_travel():
    field = JobParams.model_fields["vocabulary"]
    assert field.default == "travel"
    assert set(typing.get_args(field.annotation)) == set(VOCABULARIES)
    assert vocabulary() is vocabulary("travel") is VOCABULARIES["travel"]
    assert vocabulary(VOCABULARIES["retail"]) is VOCABULARIES["retail"]
    with pytest.raises(ValueError, match="unknown vocabulary 'giftware'.*retail"):
        vocabulary("giftware")


@pytest.mark.parametrize("name", OTHERS)
def test_the_words_of_the_other_vocabularies_are_not_travel_words(name):
    v = vocabulary(name)
    words = [v.customers, v.corporate, v.families, v.product_pattern, v.booking, v.bookings,
             v.booked, v.first_purchase, *v.lead_products.values(), *v.product_nouns.values(),
             *v.item_names.values(), *v.action_names.values(), *v.column_names.values()]
    assert not _travel_words(words)
    # every travel-worded default action and suggestion kind is renamed
    assert v.action_name("second_trip_offer") != "second_trip_offer"
    assert v.item_name("destination_type") == "category"


def test_travel_renames_no_column():
    assert vocabulary("travel").column_names == {}
    assert vocabulary("retail").column_names == {
        "suggested_destination_type": "suggested_category",
        "suggested_destination_type_lift": "suggested_category_lift"}
    assert vocabulary("subscription").column_names["suggested_product"] == "suggested_plan"


# ---------------------------------------------------------------------------------------------
# segment labels
# ---------------------------------------------------------------------------------------------
def test_travel_labels_are_todays_wording():
    prof = _profiles({"any": "package", "lead": "business_travel"}, "beach")
    assert make_labels(prof) == make_labels(prof, "travel") == [
        "beach package travellers", "premium corporate travellers", "business travellers",
        "families", "lapsed frequent budget travellers", NO_BOOKING_LABEL]
    prof.loc[0, "top_product"] = "hotel"
    assert make_labels(prof)[0] == "beach hotel guests"
    prof.loc[0, "top_product"] = "cruise"  # a product without its own noun
    assert make_labels(prof)[0] == "beach cruise travellers"


@pytest.mark.parametrize("name", OTHERS)
def test_labels_of_the_other_vocabularies_have_no_travel_word(name):
    prof = _profiles({"any": "candles", "lead": "gift_cards"}, "home")
    labels = make_labels(prof, name)
    assert not _travel_words(labels), labels
    v = vocabulary(name)
    assert labels == [f"home {v.product_noun('candles')}", f"premium {v.corporate}",
                      v.product_noun("gift_cards"), v.families,
                      f"lapsed frequent budget {v.customers}", NO_BOOKING_LABEL]


def _retail_features(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Three kinds of shoppers (candles at home, mugs in the garden, rare big spenders)."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % 3
    spend = np.array([40.0, 60.0, 900.0])[kind] * rng.lognormal(0, 0.1, n)
    freq = np.array([3.0, 1.0, 0.0])[kind] + rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "recency_days": np.array([30.0, 200.0, 600.0])[kind] + rng.integers(0, 30, n),
        "tenure_days": 800.0 + rng.integers(0, 200, n),
        "frequency": freq, "n_bookings": freq + 1, "monetary_mean": spend,
        "monetary_total": spend * (freq + 1),
        "product_candles": (kind == 0).astype(float), "product_mugs": (kind != 0).astype(float),
        "dest_home": (kind != 1).astype(float), "dest_garden": (kind == 1).astype(float),
        "channel_web": 1.0,
    }, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    frame.iloc[:20, frame.columns.get_loc("n_bookings")] = 0  # no completed order yet
    return frame


def _model(vocab: str) -> SegmentationModel:
    return SegmentationModel(clusters=BehaviouralSegmenter(k_range=(3, 3), seed=0),
                             vocabulary=vocab)


@pytest.mark.parametrize("name", OTHERS)
def test_the_segmentation_model_labels_in_its_vocabulary(name):
    features = _retail_features()
    model = _model(name).fit(features)
    prof = model.clusters_.profiles_
    assert model.clusters_.labels_ == dict(zip(prof["cluster"], prof["label"], strict=True))
    labels = model.predict(features)["cluster_label"]
    assert set(labels) == set(prof["label"])
    assert not _travel_words(labels.unique())
    v = vocabulary(name)
    assert any(v.product_noun("candles") in lab or v.customers in lab for lab in labels)
    # the same clusters as the travel wording, only other words
    travel = _model("travel").fit(features)
    np.testing.assert_array_equal(travel.predict(features)["cluster"],
                                  model.predict(features)["cluster"])
    assert all("traveller" in lab for lab in travel.clusters_.labels_.values()
               if lab != NO_BOOKING_LABEL)


def test_from_params_threads_the_vocabulary():
    params = JobParams.model_fields["segmentation"].default
    assert SegmentationModel.from_params(params, seed=1).vocabulary == "travel"
    assert SegmentationModel.from_params(params, seed=1, vocabulary="retail").vocabulary \
        == "retail"


# ---------------------------------------------------------------------------------------------
# list (action) names
# ---------------------------------------------------------------------------------------------
def test_travel_action_rules_are_the_default_rules():
    assert default_action_rules() == default_action_rules("travel") == DEFAULT_ACTION_RULES
    assert default_action_rules() is not DEFAULT_ACTION_RULES  # a copy, safe to change


@pytest.mark.parametrize("name", OTHERS)
def test_action_names_of_the_other_vocabularies_have_no_travel_word(name):
    rules = default_action_rules(name)
    assert not _travel_words(r["action"] for r in rules)
    assert [r["when"] for r in rules] == [r["when"] for r in DEFAULT_ACTION_RULES]
    assert len({r["action"] for r in rules}) == len(rules)
    assert rules[0]["action"] == "do_not_contact"  # the export's default exclusion


# ---------------------------------------------------------------------------------------------
# the data dictionary and the exports
# ---------------------------------------------------------------------------------------------
SCORED_COLUMNS = list(output_schema([90, 365], ["destination_type", "product"],
                                    ["email", "sms"]))


def test_travel_docs_are_todays_wording():
    assert column_docs("travel") == COLUMN_DOCS
    assert COLUMN_DOCS["n_bookings"] == "completed bookings up to the cut-off"
    assert column_doc("suggested_destination_type") == \
        "the destination_type to offer next (item association)"
    text = data_dictionary(SCORED_COLUMNS)
    assert text == data_dictionary(SCORED_COLUMNS, "travel")
    assert "| `suggested_destination_type` |" in text


@pytest.mark.parametrize("name", OTHERS)
def test_docs_of_the_other_vocabularies_have_no_travel_word(name):
    assert not _travel_words(column_docs(name).values())
    text = data_dictionary(SCORED_COLUMNS, name)
    assert not _travel_words([text]), _travel_words(text.splitlines())
    assert "(see the list parameters)" not in text
    v = vocabulary(name)
    assert f"completed {v.bookings} up to the cut-off" in text
    assert column_doc("suggested_destination_type", name) == \
        "the category to offer next (item association)"
    assert column_doc("churn_prob_90d", name).startswith("probability (0-1) of churning within 90")


def _scored(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "customer_id": [f"C{i:03d}" for i in range(n)], "cutoff_date": "2025-12-31",
        "recommended_action": rng.choice(["second_order_offer", "nurture"], n),
        "preferred_channel": "email", "segment": "premium candles buyers",
        "value_tier": "major", "lifecycle_stage": "active", "churn_prob_365d": rng.random(n),
        "p_alive": rng.random(n), "clv": rng.gamma(2, 100, n),
        "expected_next_booking_date": "2026-05-01", "suggested_destination_type": "home",
        "suggested_destination_type_lift": 1.5, "suggested_product": "mugs",
        "suggested_product_lift": 2.0, "member_tier": "gold", "consent_email": 1.0,
    })


@pytest.mark.parametrize("name", ["travel", *OTHERS])
def test_the_exports_show_the_vocabulary_column_names(name, tmp_path):
    scored = _scored()
    result = export_marketing(scored, tmp_path, ExportParams(formats=["csv"]), vocabulary=name)
    renamed = vocabulary(name).column_names
    assert set(result["lists"]) == {"second_order_offer", "nurture"}
    for file in ("list_second_order_offer.csv", "list_nurture.csv", "scored_customers.csv"):
        header = list(pd.read_csv(result.folder / file, nrows=0, encoding="utf-8-sig").columns)
        assert "suggested_product" in header or "suggested_plan" in header
        if name == "travel":
            assert "suggested_destination_type" in header
        else:
            assert not _travel_words(header), header
            assert "suggested_category" in header
    full = pd.read_csv(result.folder / "scored_customers.csv", encoding="utf-8-sig")
    assert list(full.columns) == [renamed.get(c, c) for c in
                                  ["customer_id", "channel", *scored.columns[1:], "suppressed"]]
    text = (result.folder / "columns.md").read_text(encoding="utf-8")
    for col in full.columns:  # documented under the name the files show
        assert f"| `{col}` |" in text, col
    if name != "travel":
        assert not _travel_words([text])


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,words", [("travel", "first-trip HR"),
                                        ("retail", "first-order HR"),
                                        ("subscription", "first-purchase HR")])
def test_the_churn_cause_plot_speaks_the_vocabulary(name, words):
    drivers = pd.DataFrame({"covariate": ["first_trip_low_csat", "age_years"],
                            "per": [1.0, 10.0], "hazard_ratio": [1.8, 0.9],
                            "lower_95": [1.2, 0.8], "upper_95": [2.6, 1.0]})
    causes = pd.DataFrame({"share_of_churners": [0.3], "first_trip_hazard_ratio": [1.8]},
                          index=pd.Index(["service"], name="category"))
    fig = drivers_and_causes(drivers, causes, vocabulary=name)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    plt.close(fig)
    assert any(words in t for t in texts), texts


def test_a_vocabulary_object_can_be_passed_where_a_name_is():
    custom = Vocabulary(name="giftware", customers="gift buyers", corporate="shops",
                        families="households", product_pattern="{product} fans",
                        booking="order", bookings="orders", booked="ordered",
                        first_purchase="first-order")
    prof = _profiles({"any": "candles", "lead": "mugs"}, "home")
    assert make_labels(prof, custom)[0] == "home candles fans"
    assert default_action_rules(custom) == DEFAULT_ACTION_RULES
