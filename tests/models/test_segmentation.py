"""Segmentation: RFM edge cases and ties, value tiers, planted-persona recovery, round trips."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from src.data.synthetic import generate  # noqa: E402
from src.features.customer import customer_features  # noqa: E402
from src.models.segmentation import (  # noqa: E402
    DEFAULT_RFM_SEGMENT_RULES,
    NO_BOOKING_LABEL,
    NO_BOOKING_SEGMENT,
    BehaviouralSegmenter,
    NotFittedError,
    RFMScorer,
    SegmentationModel,
    ValueTiers,
)
from src.plots.segmentation import (  # noqa: E402
    cluster_projection,
    criterion_curve,
    pareto_curve,
    rfm_heatmap,
)

EXTRACTION = "2025-12-31"
N_PERSONAS = 5


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic():
    data = generate(3000, seed=11)
    features = customer_features(
        data.bookings, EXTRACTION, customers=data.customers,
        interactions=data.interactions, feedback=data.feedback,
    )
    persona = data.truth.set_index("customer_id")["persona"].reindex(features.index)
    return features, persona.astype(str).to_numpy()


@pytest.fixture(scope="module")
def seg5(synthetic):
    features, _ = synthetic
    return BehaviouralSegmenter(k_range=(N_PERSONAS, N_PERSONAS), seed=0).fit(features)


@pytest.fixture(scope="module")
def model(synthetic):
    features, _ = synthetic
    return SegmentationModel(
        clusters=BehaviouralSegmenter(k_range=(4, 5), seed=0)
    ).fit(features)


def _purity(clusters: np.ndarray, truth: np.ndarray) -> float:
    table = pd.crosstab(clusters, truth)
    return float(table.max(axis=1).sum() / len(clusters))


def _rfm_frame(recency, n_bookings, monetary) -> pd.DataFrame:
    n = len(recency)
    return pd.DataFrame(
        {"recency_days": np.asarray(recency, dtype=float),
         "n_bookings": np.asarray(n_bookings, dtype=float),
         "monetary_total": np.asarray(monetary, dtype=float)},
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )


# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------
def test_rfm_quintiles_and_direction():
    rng = np.random.default_rng(0)
    rfm = _rfm_frame(rng.uniform(0, 1000, 1000), rng.integers(1, 1000, 1000),
                     rng.gamma(2, 500, 1000))
    out = RFMScorer().fit_transform(rfm)
    for col in ("r_score", "f_score", "m_score"):
        shares = out[col].value_counts(normalize=True).sort_index()
        assert list(shares.index) == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(shares.to_numpy(), 0.2, atol=0.01)
    # recency: fewer days is better
    assert out.loc[rfm["recency_days"].idxmin(), "r_score"] == 5
    assert out.loc[rfm["recency_days"].idxmax(), "r_score"] == 1
    assert out.loc[rfm["monetary_total"].idxmax(), "m_score"] == 5
    # scores are monotone in the value
    order = np.argsort(rfm["monetary_total"].to_numpy())
    assert np.all(np.diff(out["m_score"].to_numpy(dtype=float)[order]) >= 0)


def test_rfm_heavy_ties_share_one_score():
    # 60 % of customers with exactly one booking: qcut on the values would fail
    n_bookings = np.r_[np.ones(600), np.full(200, 2), np.full(100, 3), np.arange(4, 104)]
    rfm = _rfm_frame(np.arange(1000.0), n_bookings, np.full(1000, 100.0))
    scorer = RFMScorer().fit(rfm)
    out = scorer.transform(rfm)
    f = out["f_score"].to_numpy(dtype=float)
    for value in (1, 2, 3):
        assert len(np.unique(f[n_bookings == value])) == 1
    assert f[n_bookings == 1][0] < f[n_bookings == 2][0] < f[n_bookings == 3][0] <= 5
    # all-equal monetary values: one score for everybody, no error
    assert out["m_score"].nunique() == 1


def test_rfm_new_customers_scored_with_stored_edges():
    rng = np.random.default_rng(1)
    ref = _rfm_frame(rng.uniform(0, 500, 500), rng.integers(1, 20, 500), rng.gamma(2, 300, 500))
    scorer = RFMScorer().fit(ref)
    edges_before = {k: (e.copy(), s.copy()) for k, (e, s) in scorer.edges_.items()}
    # scoring the reference population reproduces the fitted scores exactly
    pd.testing.assert_frame_equal(scorer.transform(ref), RFMScorer().fit_transform(ref))
    new = _rfm_frame([0.0, 10_000.0, 250.0], [500, 1, 5], [1e9, -50.0, 300.0])
    out = scorer.transform(new)
    assert list(out["r_score"]) == [5, 1, scorer.transform(new.iloc[[2]])["r_score"].iloc[0]]
    assert list(out["f_score"])[:2] == [5, 1] and list(out["m_score"])[:2] == [5, 1]
    for k, (e, s) in scorer.edges_.items():  # no refit
        np.testing.assert_array_equal(e, edges_before[k][0])
        np.testing.assert_array_equal(s, edges_before[k][1])


def test_rfm_rules_first_match_wins_and_default_map_is_complete():
    rfm = _rfm_frame(np.arange(100.0), np.arange(100, 0, -1), np.arange(100, 0, -1) * 10.0)
    rules = [{"name": "best", "r": [5], "f": [5]}, {"name": "recent", "r": [4, 5]},
             {"name": "best_again", "r": [5], "f": [5]}]
    out = RFMScorer(segment_rules=rules).fit_transform(rfm)
    top = out["r_score"].eq(5) & out["f_score"].eq(5)
    assert (out.loc[top, "rfm_segment"] == "best").all() and top.any()
    assert not (out["rfm_segment"] == "best_again").any()
    assert (out.loc[out["r_score"] <= 3, "rfm_segment"] == "other").all()
    # the classic map gives every (r, fm) cell a name
    r, fm = np.meshgrid(np.arange(1, 6), np.arange(1, 6))
    for ri, fmi in zip(r.ravel(), fm.ravel(), strict=True):
        hits = [x["name"] for x in DEFAULT_RFM_SEGMENT_RULES
                if ri in x.get("r", [ri]) and fmi in x.get("fm", [fmi])]
        assert hits, (ri, fmi)
    with pytest.raises(ValueError, match="unknown keys"):
        RFMScorer(segment_rules=[{"name": "x", "recency": [1]}]).fit(rfm)
    with pytest.raises(ValueError, match="outside"):
        RFMScorer(segment_rules=[{"name": "x", "r": [6]}]).fit(rfm)


def test_rfm_edge_cases_from_bookings():
    """Single booking, same-day bookings, zero and negative amounts, only-cancelled customers."""
    rows = [
        # customer, booking_date, amount, status
        ("single", "2024-03-01", 500.0, "completed"),
        ("sameday", "2024-05-01", 100.0, "completed"),
        ("sameday", "2024-05-01", 150.0, "completed"),
        ("refund", "2024-01-10", 300.0, "completed"),
        ("refund", "2024-02-10", -300.0, "completed"),
        ("zero", "2024-06-01", 0.0, "completed"),
        ("cancelled_only", "2024-04-01", 900.0, "cancelled"),
        ("cancelled_only", "2024-04-02", 0.0, "no_show"),
    ]
    rng = np.random.default_rng(2)
    for i in range(40):  # a reference population around them
        for _ in range(int(rng.integers(1, 5))):
            day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
            rows.append((f"ref{i}", str(day.date()), float(rng.gamma(2, 200)), "completed"))
    bookings = pd.DataFrame(rows, columns=["customer_id", "booking_date", "amount", "status"])
    bookings["booking_date"] = pd.to_datetime(bookings["booking_date"])
    features = customer_features(bookings, "2024-12-31")
    assert features.loc["sameday", "n_bookings"] == 2 and features.loc["sameday", "frequency"] == 0
    assert features.loc["refund", "monetary_total"] == 0
    # the only-cancelled customer stays, with no completed booking
    assert features.loc["cancelled_only", "n_bookings"] == 0
    assert features.loc["cancelled_only", "n_cancelled"] == 1

    out = RFMScorer().fit(features).transform(features)
    assert out.loc["cancelled_only", "rfm_segment"] == NO_BOOKING_SEGMENT
    assert out.loc[["cancelled_only"], ["r_score", "f_score", "m_score"]].isna().all().all()
    scored = out.drop(index="cancelled_only")
    assert scored[["r_score", "f_score", "m_score"]].notna().all().all()
    assert scored["rfm_segment"].isin([r["name"] for r in DEFAULT_RFM_SEGMENT_RULES]).all()
    # zero and refunded-to-zero customers share the lowest monetary score
    assert out.loc["refund", "m_score"] == out.loc["zero", "m_score"] == 1
    # a single booking and two same-day bookings are both scored (no NaN, no error)
    assert out.loc["single", "f_score"] >= 1 and out.loc["sameday", "f_score"] >= 1
    # value tiers: zero/negative value customers are 'small'
    tiers = ValueTiers().fit(features)
    assert (tiers.transform(features).loc[["refund", "zero", "cancelled_only"]] == "small").all()


def test_rfm_not_fitted():
    with pytest.raises(NotFittedError):
        RFMScorer().transform(_rfm_frame([1.0], [1], [1.0]))


# ---------------------------------------------------------------------------------------------
# value tiers
# ---------------------------------------------------------------------------------------------
def test_value_tiers_shares_match_cutoffs():
    rng = np.random.default_rng(3)
    value = pd.Series(rng.pareto(1.5, 20_000) * 1000, name="monetary_total")
    tiers = ValueTiers().fit(value)
    table = tiers.tier_table(value)
    assert list(table["tier"]) == ["most_valuable", "major", "ordinary", "small"]
    assert table["customers"].sum() == len(value)
    np.testing.assert_allclose(table["share_revenue"].sum(), 1.0)
    biggest = value.max() / value.sum()  # one customer can overshoot a cut-off
    for cum, cut in zip(table["cum_share_revenue"][:3], (0.5, 0.8, 0.95), strict=True):
        assert cut <= cum <= cut + biggest + 1e-9
    # Pareto: a small share of customers holds half the value
    assert table.loc[0, "share_customers"] < 0.2
    # new customers: assigned by the currency thresholds, without refitting
    th = tiers.thresholds_
    new = pd.Series([th["most_valuable"] * 10, th["most_valuable"], th["major"] - 1e-6, -5.0,
                     np.nan])
    got = tiers.transform(new)
    assert list(got[:4]) == ["most_valuable", "most_valuable", "ordinary", "small"]
    assert pd.isna(got.iloc[4])
    with pytest.raises(ValueError):
        ValueTiers(cutoffs=(0.8, 0.5, 0.95)).fit(value)


def test_value_tiers_on_a_clv_column(synthetic):
    features, _ = synthetic
    f = features.assign(clv=features["monetary_total"] * 2)
    a = ValueTiers().fit(f).transform(f)
    b = ValueTiers(value_col="clv").fit(f).transform(f)
    pd.testing.assert_series_equal(a, b)  # a scaled value gives the same tiers


# ---------------------------------------------------------------------------------------------
# behavioural clusters
# ---------------------------------------------------------------------------------------------
def test_planted_personas_recovered(synthetic, seg5):
    features, persona = synthetic
    active = features["n_bookings"].to_numpy() > 0
    clusters = seg5.predict(features)
    assert (clusters[~active] == -1).all() and (clusters[active] >= 0).all()
    ari = adjusted_rand_score(persona[active], clusters[active])
    purity = _purity(clusters[active], persona[active])
    # measured: ARI 0.98, purity 0.99. Broken variants measured on the same data: k-means on
    # the raw unscaled features ARI 0.21, equal group weights 0.37, RFM features only 0.42
    assert ari >= 0.9, ari
    assert purity >= 0.95, purity
    # a broken pipeline (clusters unrelated to the customers) fails the same thresholds
    shuffled = np.random.default_rng(0).permutation(clusters[active])
    assert adjusted_rand_score(persona[active], shuffled) < 0.05


def test_k_chosen_by_silhouette_recovers_most_personas(synthetic):
    features, persona = synthetic
    seg = BehaviouralSegmenter(k_range=(3, 6), seed=0).fit(features)
    assert list(seg.criterion_["k"]) == [3, 4, 5, 6]
    assert seg.criterion_.loc[seg.criterion_["chosen"], "k"].item() == seg.k_
    assert seg.k_ == seg.criterion_.loc[seg.criterion_["score"].idxmax(), "k"]
    active = features["n_bookings"].to_numpy() > 0
    clusters = seg.predict(features)[active]
    # measured: k = 4 (family and luxury merge), ARI 0.85, purity 0.90
    assert adjusted_rand_score(persona[active], clusters) >= 0.75
    assert _purity(clusters, persona[active]) >= 0.85


def test_silhouette_finds_k_on_separated_groups():
    rng = np.random.default_rng(5)
    centers = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]])
    group = rng.integers(0, 4, 1200)
    shares = np.clip(centers[group] + rng.normal(0, 0.03, (1200, 3)), 0, None)
    shares /= shares.sum(axis=1, keepdims=True)
    features = pd.DataFrame(
        {"n_bookings": 1, "monetary_mean": np.exp(rng.normal(5 + group, 0.1)),
         "product_hotel": shares[:, 0], "product_flight": shares[:, 1],
         "product_tour": shares[:, 2]},
        index=pd.Index([f"c{i}" for i in range(1200)], name="customer_id"),
    )
    seg = BehaviouralSegmenter(k_range=(2, 7), seed=1).fit(features)
    assert seg.k_ == 4
    assert adjusted_rand_score(group, seg.predict(features)) > 0.99


def test_clusters_reproducible_and_profiled(synthetic, seg5):
    features, _ = synthetic
    again = BehaviouralSegmenter(k_range=(N_PERSONAS, N_PERSONAS), seed=0).fit(features)
    np.testing.assert_array_equal(seg5.predict(features), again.predict(features))
    pd.testing.assert_frame_equal(seg5.profiles_, again.profiles_)
    prof = seg5.profiles_
    assert list(prof["cluster"]) == [0, 1, 2, 3, 4, -1]
    assert prof["size"].sum() == len(features)
    assert prof["size"].iloc[:-1].is_monotonic_decreasing  # numbered by size
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    labels = list(seg5.labels_.values())
    assert len(set(labels)) == len(labels) == N_PERSONAS + 1
    assert seg5.labels_[-1] == NO_BOOKING_LABEL
    for col in ("top_product", "top_destination", "top_channel", "recency_days", "frequency",
                "monetary_mean", "share"):
        assert col in prof
    # the luxury persona is the highest-spend cluster and is labelled so
    lux = prof.loc[prof["monetary_mean"].idxmax(), "label"]
    assert "luxury" in lux


def test_subsample_fit_assigns_everybody(synthetic):
    features, persona = synthetic
    seg = BehaviouralSegmenter(k_range=(5, 5), sample_size=1000, seed=0).fit(features)
    clusters = seg.predict(features)
    active = features["n_bookings"].to_numpy() > 0
    assert (clusters[active] >= 0).all()
    assert adjusted_rand_score(persona[active], clusters[active]) >= 0.85


def test_stability_between_bootstrap_halves(synthetic, seg5):
    features, _ = synthetic
    stability = seg5.stability(features, n_pairs=2, seed=0)
    assert stability >= 0.9, stability  # measured: 0.996


def test_gmm_with_bic(synthetic):
    features, persona = synthetic
    seg = BehaviouralSegmenter(method="gmm", k_range=(4, 6), seed=0, n_init=1).fit(features)
    assert seg.criterion_.attrs["criterion"] == "bic"
    assert seg.k_ == seg.criterion_.loc[seg.criterion_["score"].idxmin(), "k"]
    active = features["n_bookings"].to_numpy() > 0
    # measured: k = 6, ARI 0.62
    assert adjusted_rand_score(persona[active], seg.predict(features)[active]) >= 0.5
    with pytest.raises(ValueError, match="BIC"):
        BehaviouralSegmenter(method="kmeans", criterion="bic").fit(features)


# ---------------------------------------------------------------------------------------------
# the model: save / load / MLflow
# ---------------------------------------------------------------------------------------------
def test_model_predict_save_load_round_trip(synthetic, model, tmp_path):
    features, _ = synthetic
    pred = model.predict(features)
    assert list(pred.columns) == ["customer_id", "rfm_segment", "r_score", "f_score", "m_score",
                                  "fm_score", "value_tier", "cluster", "cluster_label"]
    assert len(pred) == len(features) and pred["customer_id"].is_unique
    inactive = pred["cluster"] == -1
    assert (pred.loc[inactive, "rfm_segment"] == NO_BOOKING_SEGMENT).all()
    assert pred["value_tier"].notna().all() and pred["cluster_label"].notna().all()

    path = model.save(tmp_path / "seg.joblib")
    loaded = SegmentationModel.load(path)
    pd.testing.assert_frame_equal(loaded.predict(features), pred)
    # new customers are assigned without refitting: a subset scores as in the full frame
    subset = features.iloc[::7]
    pd.testing.assert_frame_equal(loaded.predict(subset), pred.iloc[::7].reset_index(drop=True))
    with pytest.raises(KeyError, match="needs columns"):
        loaded.predict(features.drop(columns=["recency_days"]))


class _Rule(SimpleNamespace):
    """An RFM segment rule as the params give it (pydantic-like ``model_dump``)."""

    def model_dump(self, *, exclude_none: bool = False) -> dict:
        return {k: v for k, v in vars(self).items() if not (exclude_none and v is None)}


def _segmentation_params(*, n_bins=5, segment_rules=None, cutoffs=(0.5, 0.8, 0.95),
                         value_col="monetary_total", method="kmeans", k_range=(3, 8),
                         criterion=None, sample_size=50_000, weights=None) -> SimpleNamespace:
    """The shape of the job's ``segmentation:`` params section (lists, as parsed from YAML)."""
    return SimpleNamespace(
        rfm=SimpleNamespace(n_bins=n_bins, segment_rules=segment_rules),
        tiers=SimpleNamespace(cutoffs=list(cutoffs), value_col=value_col),
        clusters=SimpleNamespace(method=method, k_range=list(k_range), criterion=criterion,
                                 sample_size=sample_size, weights=weights, stability_pairs=2),
    )


def test_model_from_params_carries_every_setting():
    rules = [_Rule(name="best", r=[4], f=None, m=None, fm=[3, 4]),
             _Rule(name="rest", r=[1, 2, 3, 4], f=None, m=None, fm=None)]
    params = _segmentation_params(n_bins=4, segment_rules=rules, cutoffs=(0.4, 0.7, 0.9),
                                  value_col="clv", method="gmm", k_range=(3, 6),
                                  criterion="bic", sample_size=1234, weights={"spend": 2.0})
    model = SegmentationModel.from_params(params, seed=7)
    assert not hasattr(model, "clusters_")  # built, not fitted
    assert isinstance(model.rfm, RFMScorer) and model.rfm.n_bins == 4
    assert model.rfm.segment_rules == [{"name": "best", "r": [4], "fm": [3, 4]},
                                       {"name": "rest", "r": [1, 2, 3, 4]}]
    assert isinstance(model.tiers, ValueTiers)
    assert model.tiers.cutoffs == (0.4, 0.7, 0.9) and model.tiers.value_col == "clv"
    c = model.clusters
    assert isinstance(c, BehaviouralSegmenter)
    assert (c.method, c.k_range, c.criterion, c.sample_size, c.weights, c.seed) == (
        "gmm", (3, 6), "bic", 1234, {"spend": 2.0}, 7)
    for no_rules in (None, []):  # no rules: the default rule set
        built = SegmentationModel.from_params(_segmentation_params(segment_rules=no_rules), 0)
        assert built.rfm.segment_rules is None


def test_model_from_params_fits_like_the_hand_built_model(synthetic, model):
    features, _ = synthetic
    built = SegmentationModel.from_params(_segmentation_params(k_range=(4, 5)), seed=0)
    pd.testing.assert_frame_equal(built.fit(features).predict(features), model.predict(features))


def test_mlflow_pyfunc_round_trip(synthetic, model, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from src.models.frames import to_plain_dtypes
    from src.serving.pyfunc import log_project_model

    features, _ = synthetic
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("segmentation-test")
    with mlflow.start_run():
        info = log_project_model(model, "segmentation", features.head(20))
    assert info.signature is not None
    assert "customer_id" in info.signature.inputs.input_names()
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    batch = to_plain_dtypes(features.iloc[:400].reset_index())
    got = loaded.predict(batch)
    want = model.predict(features.iloc[:400])
    assert list(got["customer_id"]) == list(want["customer_id"])
    np.testing.assert_array_equal(got["cluster"].to_numpy(), want["cluster"].to_numpy())
    assert list(got["rfm_segment"]) == list(want["rfm_segment"].astype(str))
    assert list(got["value_tier"]) == list(want["value_tier"].astype(str))
    np.testing.assert_array_equal(got["r_score"].to_numpy(dtype=float),
                                  want["r_score"].to_numpy(dtype=float, na_value=np.nan))


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
def test_plots_return_figures(synthetic, model):
    features, _ = synthetic
    scored = features.join(model.rfm_.transform(features))
    figs = [
        rfm_heatmap(scored, currency="CNY"),
        pareto_curve(model.tiers_, features),
        criterion_curve(model.clusters_),
        cluster_projection(model.clusters_, features, max_points=500),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        fig.canvas.draw()
    assert len(figs[3].axes[0].collections) == model.clusters_.k_
    n_points = sum(len(c.get_offsets()) for c in figs[3].axes[0].collections)
    assert n_points <= 500
    plt.close("all")
