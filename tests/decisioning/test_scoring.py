"""The one scorer: features -> one scored row per customer, consistent with each part's own
scoring path, and the MLflow pyfunc round trip."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import copy  # noqa: E402

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.data.synthetic import generate  # noqa: E402
from src.decisioning.churn_scores import LIFETIME_COLUMNS, churn_scores  # noqa: E402
from src.decisioning.scored_columns import output_schema  # noqa: E402
from src.decisioning.scoring import CustomerScorer, build_and_score, build_scorer  # noqa: E402
from src.features.customer import customer_features  # noqa: E402
from src.features.rfm_summary import summary_at  # noqa: E402
from src.features.scoring import FeatureSettings, MissingColumnsError, scoring_features  # noqa: E402
from src.layout import RunLayout  # noqa: E402
from src.models import churn
from src.models.btyd import clv  # noqa: E402
from src.models.churn import ChurnModel, landmark_frame  # noqa: E402
from src.models.segmentation import BehaviouralSegmenter, SegmentationModel  # noqa: E402
from src.params import load_params  # noqa: E402
from src.serving.pyfunc import log_project_model  # noqa: E402

CUTOFF = pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def tables():
    return generate(1200, seed=3).tables()


@pytest.fixture(scope="module")
def params():
    """The demo job (cut-off 2025-12-31), churn refit kept small: one kind, one penalizer."""
    return load_params("demo", {"churn.models": ["coxph"], "churn.penalizers": [0.01]})


@pytest.fixture(scope="module")
def run_dir(tables, tmp_path_factory) -> RunLayout:
    """A run that produced only the segmentation model."""
    run = RunLayout(tmp_path_factory.mktemp("run"))
    f = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                          interactions=tables["interactions"], feedback=tables["feedback"])
    seg = SegmentationModel(clusters=BehaviouralSegmenter(k_range=(3, 4), sample_size=2000))
    run.save_model("segmentation", seg.fit(f))
    return run


@pytest.fixture(scope="module")
def scorer(run_dir, tables, params) -> CustomerScorer:
    return build_scorer(run_dir, tables, params)


@pytest.fixture(scope="module")
def features(tables, params) -> pd.DataFrame:
    return scoring_features(tables, CUTOFF, FeatureSettings.from_params(params))


@pytest.fixture(scope="module")
def scored(scorer, features) -> pd.DataFrame:
    return scorer.predict(features)


def test_parts_loaded_from_run_or_refitted_and_said(scorer):
    notes = " | ".join(scorer.notes_)
    assert "segmentation: segmentation.joblib of the run" in notes
    assert "churn: coxph selected and fitted here with the job's churn params" in notes
    assert "clv: validated and fitted here with the job's loyalty params" in notes
    # the refits bring their own holdout metrics for the promotion gates
    assert 0.6 < scorer.metrics_["churn_concordance"] <= 1.0
    assert scorer.metrics_["clv_holdout_mae_per_customer"] > 0


def test_missing_parts_are_fitted_by_the_notebooks_workflows_with_the_jobs_params(
        scorer, tables, params, features):
    """No second recipe: the churn part is what select_and_fit gives for the job's churn
    params (its covariates, its kind), the CLV part what validate_and_fit gives."""
    selection = churn.select_and_fit(tables, params.churn, CUTOFF, seed=params.seed)
    assert scorer.churn.kind == selection.best == "coxph"
    assert list(scorer.churn.covariates) == selection.covariates
    assert len(selection.covariates) > 10  # the job's covariate list, not a short private one
    at_risk = features[features["churn_at_risk"] == 1].head(200)
    pd.testing.assert_frame_equal(scorer.churn.predict(at_risk), selection.model.predict(at_risk))
    assert scorer.metrics_["churn_concordance"] == selection.metrics["churn_concordance"]
    validation = clv.validate_and_fit(tables["bookings"], params.loyalty, CUTOFF)
    assert scorer.clv.bgnbd_.params_ == validation.model.bgnbd_.params_
    assert (scorer.metrics_["clv_holdout_mae_per_customer"]
            == validation.metrics["clv_holdout_mae_per_customer"])


def test_segmentation_refit_uses_the_jobs_segmentation_params(tables, tmp_path):
    custom = load_params("demo", {"segmentation.clusters.k_range": [3, 3],
                                  "churn.models": ["coxph"], "churn.penalizers": [0.01]})
    scorer = build_scorer(RunLayout(tmp_path), tables, custom)
    assert scorer.segmentation.clusters_.k_ == 3
    assert any("segmentation: fitted here with the job's segmentation params" in n
               for n in scorer.notes_)


def test_one_row_per_known_customer_with_the_issue_fields(scored, features, tables):
    assert len(scored) == len(features) == features["customer_id"].nunique()
    assert list(scored.columns) == list(output_schema(
        [90, 180, 365], ["destination_type", "product"], ["email", "sms", "phone"]))
    assert scored["customer_id"].tolist() == features["customer_id"].tolist()
    for col in ("segment", "value_tier", "rfm_segment", "lifecycle_stage", "recommended_action",
                "preferred_channel"):
        assert scored[col].notna().all(), col
    # every customer of the generated data has a booking or signed up: all are known
    assert set(scored["customer_id"]) <= set(tables["customers"]["customer_id"])


def test_probabilities_and_units(scored):
    active = scored["churn_status"] == "active"
    p = scored.loc[active, ["churn_prob_90d", "churn_prob_180d", "churn_prob_365d"]]
    assert p.notna().all().all() and active.sum() > 0.3 * len(scored)
    # what has already happened gets no probability
    assert scored.loc[scored["churn_status"].isin(["lapsed", "cancelled"]),
                      ["churn_prob_90d", "churn_prob_365d"]].isna().all().all()
    assert ((p >= 0) & (p <= 1)).all().all()
    assert (np.diff(p.to_numpy(), axis=1) >= -1e-12).all()  # non-decreasing in the horizon
    assert scored["p_alive"].dropna().between(0, 1).all()
    assert (scored["clv"].dropna() >= 0).all()
    assert (scored["clv_horizon_days"] == 365).all()
    dates = pd.to_datetime(scored["expected_next_booking_date"].dropna())
    assert (dates > CUTOFF).all()


def test_churn_matches_the_models_own_landmark_scoring(scorer, scored, tables):
    """The scorer's features reproduce the churn model's own scoring frame."""
    lf = landmark_frame(tables, landmark_date=CUTOFF, time_origin="landmark")
    own = scorer.churn.predict_churn_probability(lf, [90, 365])
    by_id = scored.set_index("customer_id")
    live = by_id.loc[own.index, "churn_status"] != "cancelled"  # a cancelled member: no score
    assert live.sum() > 100 and by_id.loc[own.index[~live], "churn_prob_365d"].isna().all()
    mine = by_id.loc[own.index[live], ["churn_prob_90d", "churn_prob_365d"]]
    np.testing.assert_allclose(mine.to_numpy(), own[live].to_numpy(), rtol=1e-10, atol=1e-12)


def test_exported_churn_columns_are_the_churn_models_at_churn_horizons_days(run_dir, tables):
    """One horizon setting, one place: the scorer built for a job exports exactly
    ``churn.horizons_days`` as ``churn_prob_<h>d`` (its columns, its logged signature, the
    columns the preflight offers to lists), the churn model is configured and evaluated at
    the same horizons (beyond the holdout: exported, not evaluated, named), and the values
    are the churn model's own probabilities for the customers at risk, computed by
    ``churn_scores``, the function notebook 03 shows them with."""
    from src.runner.preflight import available_list_columns

    params = load_params("demo", {"churn.models": ["coxph"], "churn.penalizers": [0.01],
                                  "churn.horizons_days": [60, 200, 365, 900]})
    scorer, scored = build_and_score(run_dir, tables, params)
    # evaluated on the holdout at the same setting; a horizon at the end of the 365-day
    # holdout or beyond is exported, not evaluated, and named
    selection = churn.select_and_fit(tables, params.churn, CUTOFF, seed=params.seed)
    assert selection.evaluations["coxph"]["horizons_days"] == [60, 200]
    assert selection.unevaluated_horizons == [365, 900]
    assert {"holdout.coxph_auc_60d", "holdout.coxph_auc_200d"} <= set(selection.metrics)
    cols = ["churn_prob_60d", "churn_prob_200d", "churn_prob_365d", "churn_prob_900d"]
    assert [c for c in scored.columns if c.startswith("churn_prob_")] == cols
    assert tuple(scorer.churn.horizons_days) == (60, 200, 365, 900)
    outputs = scorer.signature(scorer.example_).outputs.input_names()
    assert [c for c in outputs if c.startswith("churn_prob_")] == cols
    offered = available_list_columns(params)
    assert [c for c in offered if c.startswith("churn_prob_")] == cols
    features = scoring_features(tables, CUTOFF, scorer.feature_settings_)
    live = ((features["churn_at_risk"] == 1) & (features["membership_cancelled"] != 1)).to_numpy()
    assert live.sum() > 300
    own = scorer.churn.predict_churn_probability(features.loc[live], [60, 200, 365, 900])
    np.testing.assert_allclose(scored.loc[live, cols].to_numpy(), own.to_numpy(),
                               rtol=1e-10, atol=1e-12)
    assert scored.loc[~live, cols].isna().all().all()  # lapsed, cancelled: no probability
    shown = churn_scores(scorer.churn, features, params.churn.horizons_days,
                               max_remaining_days=params.scoring.max_remaining_days)
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), scored[list(shown.columns)],
                                  check_dtype=False)


def test_a_churn_model_saved_with_other_horizons_still_loads_and_scores(
        scorer, features, scored, tmp_path):
    """A churn model saved before the one setting (pickled with its own ``horizons_days``,
    e.g. the former churn default [180, 365]) loads and predicts as it did, and the scorer's
    churn step exports the job's horizons from it."""
    before = copy.deepcopy(scorer.churn)
    before.horizons_days = (180, 365)
    loaded = ChurnModel.load(before.save(tmp_path / "churn.joblib"))
    at_risk = features[features["churn_at_risk"] == 1].head(50)
    assert list(loaded.predict(at_risk).columns) == ["churn_prob_180d", "churn_prob_365d",
                                                     *LIFETIME_COLUMNS]
    published = churn_scores(loaded, features, scorer.horizons_days_,
                                   max_remaining_days=scorer.max_remaining_days)
    assert list(published.columns) == ["churn_prob_90d", "churn_prob_180d", "churn_prob_365d",
                                       *LIFETIME_COLUMNS]
    pd.testing.assert_frame_equal(published.reset_index(drop=True),
                                  scored[list(published.columns)], check_dtype=False)


def test_the_scorers_default_horizons_are_the_churn_default():
    from src.params.schema import ChurnParams

    assert list(CustomerScorer().horizons_days) == ChurnParams().horizons_days


def test_currently_lapsed_customers_have_churned(scored, features):
    """The event has happened: status lapsed, no churn probability, no lifetime left."""
    lapsed = (features["churn_at_risk"] == 0).to_numpy()
    assert lapsed.any()
    assert scored.loc[lapsed, "churn_status"].isin(["lapsed", "cancelled"]).all()
    assert scored.loc[lapsed, "churn_prob_365d"].isna().all()
    assert (scored.loc[lapsed, "expected_remaining_days"] == 0.0).all()


def test_cancelled_members_are_one_picture(scored, features):
    """A member who cancelled by the cut-off: stage cancelled, status cancelled, no churn
    probability, no future value, and a win-back action, never nurture, VIP care or upsell."""
    cancelled = (features["membership_cancelled"] == 1).to_numpy()
    assert cancelled.sum() > 20
    c = scored.loc[cancelled]
    assert (c["churn_status"] == "cancelled").all() and (c["lifecycle_stage"] == "cancelled").all()
    assert c["churn_prob_365d"].isna().all()
    assert (c[["p_alive", "expected_bookings", "clv"]] == 0).all().all()
    assert c["expected_next_booking_date"].isna().all()
    assert not c["recommended_action"].isin(["nurture", "vip_care", "second_trip_offer"]).any()
    assert set(c["recommended_action"]) <= {"member_win_back", "do_not_contact",
                                            "service_recovery"}
    assert (scored.loc[~cancelled, "churn_status"] != "cancelled").all()


def test_clv_matches_the_clv_model(scorer, scored, tables):
    summary = summary_at(tables["bookings"], CUTOFF)
    own = scorer.clv.predict(summary)
    mine = scored.set_index("customer_id").loc[own.index]
    live = (mine["churn_status"] != "cancelled").to_numpy()
    np.testing.assert_allclose(mine.loc[live, "clv"], own.loc[live, "clv"], rtol=1e-10)
    np.testing.assert_allclose(mine.loc[live, "p_alive"], own.loc[live, "p_alive"], rtol=1e-10)
    assert (mine.loc[~live, "clv"] == 0).all()


def test_insufficient_history_is_flagged_with_a_reason(scored, features):
    flagged = scored[scored["insufficient_history"]]
    assert len(flagged) > 0
    assert flagged["insufficient_history_reason"].notna().all()
    assert scored.loc[~scored["insufficient_history"], "insufficient_history_reason"].isna().all()
    no_booking = (features["n_bookings"] == 0).to_numpy()
    assert no_booking.any()
    assert scored.loc[no_booking, "insufficient_history"].all()
    assert (scored.loc[no_booking, "insufficient_history_reason"]
            == "no completed booking at the cut-off").all()


def test_every_customer_gets_exactly_one_action(scored):
    assert scored["recommended_action"].notna().all()
    assert not scored["customer_id"].duplicated().any()
    # no consent on any channel -> do not contact, and only then
    dnc = scored["recommended_action"] == "do_not_contact"
    assert (dnc == (scored["preferred_channel"] == "none")).all()


def test_predict_tables_equals_features_then_predict(scorer, tables, scored):
    pd.testing.assert_frame_equal(scorer.predict_tables(tables, CUTOFF), scored)


def test_missing_columns_are_named(scorer, features):
    bad = features.drop(columns=["recency_days", "btyd_T"])
    with pytest.raises(MissingColumnsError) as err:
        scorer.predict(bad)
    assert "recency_days" in str(err.value) and "btyd_T" in str(err.value)
    assert set(err.value.missing) == {"recency_days", "btyd_T"}


def test_a_missing_part_leaves_its_columns_empty(run_dir, tables, scorer, features):
    partial = CustomerScorer(scorer.segmentation, None, scorer.clv,
                             notes=["churn left out"]).fit(tables, CUTOFF)
    out = partial.predict(features)
    assert out["churn_prob_365d"].isna().all()
    assert out["clv"].notna().any()
    assert any("no churn model" in n for n in partial.notes_)
    assert out["recommended_action"].notna().all()


def test_save_load_round_trip(scorer, features, scored, tmp_path):
    again = CustomerScorer.load(scorer.save(tmp_path / "scorer.joblib"))
    pd.testing.assert_frame_equal(again.predict(features), scored)


def test_pyfunc_round_trip(scorer, features, scored, tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("scoring-test")
    with mlflow.start_run():
        info = log_project_model(scorer, "scorer", scorer.example_)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    sample = features.sample(300, random_state=1)
    got = loaded.predict(scorer.model_input(sample))
    want = scored.set_index("customer_id").loc[sample["customer_id"]].reset_index()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
    # the signature names every output column
    outputs = loaded.metadata.get_output_schema().input_names()
    assert outputs == list(scored.columns)


def test_unscored_customers_reconcile_in_with_scored() -> None:
    from src.decisioning.scoring import unscored_customers

    tables = {"customers": pd.DataFrame({"customer_id": ["A", "B", "C"]}),
              "bookings": pd.DataFrame({"customer_id": ["A", "D"]}),
              "feedback": pd.DataFrame({"other": [1]})}
    scored = pd.DataFrame({"customer_id": ["A", "B"]})
    rejected = unscored_customers(tables, scored)
    assert sorted(rejected["customer_id"]) == ["C", "D"]
    assert len(scored) + len(rejected) == 4 and rejected["reason"].str.len().gt(0).all()


def test_membership_jobs_value_customers_by_discounted_survival(tables, tmp_path):
    """Contractual data: CLV = margin per day x discounted survival of the churn model over
    the horizon (computed here independently from ChurnModel.survival_at)."""
    params = load_params("demo", {"churn.definition": "membership", "churn.models": ["coxph"],
                                  "churn.penalizers": [0.01]})
    scorer = build_scorer(RunLayout(tmp_path), tables, params)
    assert scorer.clv_method == "survival"
    features = scoring_features(tables, CUTOFF, scorer.feature_settings_)
    scored = scorer.predict(features).set_index("customer_id")
    at_risk = features[features["churn_at_risk"] == 1].head(40)
    s = scorer.clv.settings
    k = int(np.ceil(s.horizon_days / s.period_days))
    times = s.period_days * np.arange(1, k + 1)
    surv = scorer.churn.survival_at(at_risk, [int(round(x)) for x in times])
    rate = (1 + s.discount_rate_annual) ** (s.period_days / 365.25) - 1
    per_day = at_risk["monetary_total"].to_numpy() / np.maximum(at_risk["tenure_days"], 30)
    want = per_day * s.period_days * (surv * (1 + rate) ** -np.arange(1, k + 1)).sum(axis=1)
    np.testing.assert_allclose(scored.loc[at_risk["customer_id"], "clv"], want, rtol=1e-9)
    gone = features.loc[features["churn_at_risk"] == 0, "customer_id"]
    assert len(gone) and (scored.loc[gone, "clv"] == 0).all()


def test_every_scored_column_is_in_the_data_dictionary(scored):
    from src.decisioning.scored_columns import column_doc, data_dictionary

    undocumented = [c for c in scored.columns if not column_doc(c)]
    assert not undocumented
    assert column_doc("churn_prob_180d").startswith("probability (0-1) of churning within 180 days")
    assert column_doc("suggested_product_lift").startswith("lift")
    text = data_dictionary(list(scored.columns))
    assert text.count("\n| `") == len(scored.columns)
