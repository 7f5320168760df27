"""A subscription snapshot without transactions (the IBM telco churn data: tenure months and
status, no bookings) through the product's own functions, the ones notebook 03 calls:
:func:`src.features.cache.features_at` / :class:`~src.features.cache.FeatureTables` (the
tables a customers-only run serves) and :func:`src.models.churn.full_history_analysis`
(origin = membership start, covariates = the export's attributes at its as-of date).
Kaplan-Meier and Cox reproduce the lifelines figures of SOURCE.md.

The customers frame is built the way the loader maps the export (params/telco.yaml):
``signup_date = as_of - tenure months``, ``membership_cancel_date = as_of`` when churn ==
"Yes", every row a member. The data set must be beside the project: these tests fail, they
do not skip, without it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.decisioning.scoring import build_and_score
from src.features.cache import FeatureTables, attribute_columns, empty_bookings, features_at
from src.features.scoring import scoring_features
from src.features.survival import lifetime_table, months_as_days, whole_months
from src.layout import RunLayout
from src.models.churn import full_history_analysis
from src.models.segmentation import SegmentationModel
from src.params import load_params
from src.params.schema import ChurnParams, SegmentationParams
from src.paths import PROJECT_ROOT
from tests.helpers import require_shared

AS_OF = pd.Timestamp("2018-09-30")
ATTRIBUTES = ["contract", "monthly_charges", "internet_service", "payment_method"]
#: horizons of params/telco.yaml: 1, 3, 6, 12, 24, 36, 48, 60, 72 months
HORIZONS_DAYS = [30, 90, 180, 365, 730, 1096, 1461, 1826, 2191]


def telco_customers() -> pd.DataFrame:
    """The customers table the loader gives for params/telco.yaml."""
    df = pd.read_csv(require_shared("telco_churn", "telco_churn.csv.gz"))
    start = pd.Series([AS_OF - pd.DateOffset(months=int(k)) for k in df["tenure"]])
    return pd.DataFrame({
        "customer_id": df["customer_no"].astype(str),
        "signup_date": pd.to_datetime(start),
        "membership_cancel_date": pd.to_datetime(np.where(df["churn"] == "Yes", AS_OF, pd.NaT)),
        "loyalty_member": True, "consent_email": True,
        **{c: df[c] for c in ATTRIBUTES}})


@pytest.fixture(scope="module")
def tables() -> FeatureTables:
    return FeatureTables({"customers": telco_customers(), "bookings": empty_bookings()},
                         snapshot_date=AS_OF, attributes=ATTRIBUTES, absent=("bookings",))


def churn_params(**kw) -> ChurnParams:
    return ChurnParams(definition="membership", full_history_origin="start",
                       full_history_covariates=["contract", "monthly_charges"],
                       horizons_days=HORIZONS_DAYS, km_groups=["contract"], **kw)


def test_month_grid_of_the_snapshot(tables):
    assert months_as_days(AS_OF, [1, 12, 24, 72]) == [31, 365, 730, 2191]
    lifetimes = lifetime_table(tables, cutoff_date=AS_OF, definition="membership",
                               group_cols=["contract"])
    assert len(lifetimes) == 7043 and lifetimes["event"].sum() == 1869
    months = whole_months(lifetimes, AS_OF)
    tenure = pd.read_csv(require_shared("telco_churn", "telco_churn.csv.gz")).set_index(
        "customer_no")["tenure"]
    assert (months == tenure.reindex(months.index)).all()
    # a day-level membership table is not month-based
    shifted = lifetimes.assign(start_date=lifetimes["start_date"] - pd.Timedelta(days=3))
    assert whole_months(shifted, AS_OF) is None


def test_full_history_on_the_snapshot_reproduces_lifelines(tables):
    analysis = full_history_analysis(tables, churn_params(), AS_OF)
    assert analysis.time_unit == "months" and analysis.origin == "start"
    at = analysis.survival_at_horizons.set_index("horizon_months")
    reference = {1: 0.9460, 12: 0.8432, 24: 0.7887, 36: 0.7485, 48: 0.7088, 60: 0.6644,
                 72: 0.5928}
    for months, value in reference.items():
        assert at.loc[months, "km"] == pytest.approx(value, abs=0.002), months
        assert analysis.metrics[f"full_history.km.survival_{months}m"] == pytest.approx(
            value, abs=0.002)
    # Cox: Efron ties, tenure > 0 only (7,032 rows), month-to-month (the largest) as reference
    frame = analysis.frame
    assert len(frame) == 7043 and int(frame["in_cox"].sum()) == 7032
    assert (frame.loc[~frame["in_cox"], "duration_days"] == 0).all()
    assert analysis.reference_levels == {"contract": "Month-to-month"}
    s = analysis.summary
    for name, (coef, se) in {"contract=One year": (-2.1899, 0.0836),
                             "contract=Two year": (-4.2220, 0.1569),
                             "monthly_charges": (0.0002, 0.0009)}.items():
        assert s.loc[name, "coef"] == pytest.approx(coef, abs=0.01), name
        assert s.loc[name, "se(coef)"] == pytest.approx(se, abs=0.001), name
        assert analysis.metrics[f"full_history.coef.{name}"] == pytest.approx(coef, abs=0.01)
    assert analysis.metrics["full_history.concordance"] == pytest.approx(0.7534, abs=0.0005)
    assert analysis.metrics["full_history.partial_log_likelihood"] == pytest.approx(
        -14343.542, abs=0.01)
    assert any("not in the Cox fit" in n for n in analysis.notes)


def test_snapshot_attributes_are_point_in_time(tables):
    features = features_at(tables, AS_OF)
    assert len(features) == 7043 and (features["n_bookings"] == 0).all()
    assert set(ATTRIBUTES) <= set(features.columns)
    assert features.attrs["attributes"] == ATTRIBUTES
    earlier = AS_OF - pd.Timedelta(days=365)
    assert attribute_columns(tables, earlier) == ([], ATTRIBUTES)
    before = features_at(tables, earlier)
    assert not set(ATTRIBUTES) & set(before.columns)
    assert before.attrs["attributes_left_out"] == ATTRIBUTES
    with pytest.raises(ValueError, match="snapshot attributes"):
        full_history_analysis(tables, churn_params(), earlier)


def test_no_bookings_needs_the_membership_start_as_origin(tables):
    params = churn_params().model_copy(update={"full_history_origin": "first_booking"})
    with pytest.raises(ValueError, match="full_history_origin: start"):
        full_history_analysis(tables, params, AS_OF)


def test_segmentation_on_attributes_and_value(tables):
    features = features_at(tables, AS_OF)
    params = SegmentationParams.model_validate(
        {"tiers": {"value_col": "monthly_charges"},
         "clusters": {"k_range": [3, 4], "sample_size": 3000, "stability_pairs": 0}})
    model = SegmentationModel.from_params(params, seed=1).fit(features)
    assert model.rfm_ is None and any("RFM skipped" in n for n in model.notes_)
    assert model.clusters_.features_in_ == ATTRIBUTES
    segments = model.predict(features)
    assert (segments["cluster"] >= 0).all() and segments["rfm_segment"].isna().all()
    assert segments["value_tier"].notna().all()
    # the most valuable tier holds the top half of the monthly revenue
    table = model.tiers_.tier_table(features).set_index("tier")
    assert table.loc["most_valuable", "cum_share_revenue"] == pytest.approx(0.5, abs=0.02)
    assert "top_contract" in model.clusters_.profiles_.columns


def test_customers_only_scorer_conditional_on_tenure(tables, tmp_path):
    params = load_params(PROJECT_ROOT / "params" / "telco.yaml",
                         {"segmentation.clusters.k_range": [3, 3],
                          "segmentation.clusters.sample_size": 2000})
    # nothing in the run folder: every part is fitted here by the notebooks' workflows
    scorer, scored = build_and_score(RunLayout(tmp_path), tables, params)
    assert scorer.churn is not None and scorer.clv is None and not scorer.transactions_
    assert scorer.value_per_month_col == "monthly_charges"
    assert scorer.metrics_["churn_concordance"] == pytest.approx(0.7534, abs=0.0005)
    assert len(scored) == 7043
    # one horizon setting: the exported columns are churn.horizons_days, the analysis's too
    assert params.churn.horizons_days == HORIZONS_DAYS
    assert [c for c in scored.columns if c.startswith("churn_prob_")] == [
        f"churn_prob_{h}d" for h in HORIZONS_DAYS]
    assert scored["churn_status"].value_counts().to_dict() == {"active": 5174, "cancelled": 1869}
    active = scored["churn_status"] == "active"
    assert scored.loc[active, "churn_prob_365d"].between(0, 1).all()
    assert scored.loc[~active, "churn_prob_365d"].isna().all()
    assert (scored.loc[active, "clv"] > 0).all() and (scored.loc[~active, "clv"] == 0).all()
    assert not scored["insufficient_history"].any()
    by_contract = scored.loc[active].merge(tables["customers"], on="customer_id").groupby(
        "contract", observed=True)["churn_prob_365d"].mean()
    assert by_contract["Month-to-month"] > by_contract["One year"] > by_contract["Two year"]
    # survival CLV by hand for one member: margin x charges per day x discounted survival
    row = scored.loc[active].iloc[0]
    features = scoring_features(tables, AS_OF, scorer.feature_settings_).set_index("customer_id")
    member = features.loc[[row["customer_id"]]]
    settings = scorer.clv_settings
    periods = np.arange(1, int(np.ceil(settings.horizon_days / settings.period_days)) + 1)
    survival = 1 - scorer.churn.predict_churn_probability(
        member, [int(round(x)) for x in settings.period_days * periods]).to_numpy()[0]
    rate = (1 + settings.discount_rate_annual) ** (settings.period_days / 365.25) - 1
    expected = (member["monthly_charges"].iloc[0] / 30.4375 * settings.period_days
                * (survival * (1 + rate) ** -periods).sum())
    assert row["clv"] == pytest.approx(expected, rel=1e-9)


def test_kaplan_meier_groups_of_the_snapshot_are_point_in_time(tables):
    now = lifetime_table(tables, cutoff_date=AS_OF, definition="membership",
                         group_cols=["contract"])
    assert now["contract"].notna().all() and now.attrs["snapshot_groups"] == []
    earlier = lifetime_table(tables, cutoff_date=AS_OF - pd.Timedelta(days=365),
                             definition="membership", group_cols=["contract"])
    assert "contract" not in earlier.columns and earlier.attrs["snapshot_groups"] == ["contract"]
