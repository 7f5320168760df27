"""Registry: each run registers a version of its job's model; the champion alias moves only
through the gates, and (for a run) only once the run has succeeded; a fit with a parameter at a
bound fails its gate naming the parameter; a rejected candidate's lists come from the champion or
are not published, as params say."""

from __future__ import annotations

import copy
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from src.data.synthetic import generate
from src.decisioning.scoring import build_scorer, unscored_customers
from src.export.marketing import export_run
from src.features.customer import customer_features
from src.features.scoring import scoring_features
from src.layout import RunLayout
from src.models.btyd import BGNBD, clv
from src.models.btyd.bgnbd import simulate_bgnbd
from src.models.segmentation import BehaviouralSegmenter, SegmentationModel
from src.params import load_params
from src.params.schema import GateParams, PromotionParams
from src.serving.registry import (
    UnknownModelError,
    candidate_metrics,
    check_gates,
    fit_problems,
    promote,
    publish_scorer,
    register_scorer,
    resolve_model_uri,
    rollback_promotion,
    scorer_model_name,
    settle_promotion,
    version_metrics,
)

CUTOFF = pd.Timestamp("2025-12-31")
GOOD = {"churn_concordance": 0.80, "clv_holdout_mae_per_customer": 0.50,
        "clv_holdout_abs_aggregate_pct_error": 3.0, "clv_fit_problems": 0.0,
        "churn_fit_problems": 0.0}


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    tables = generate(600, seed=5).tables()
    run = RunLayout(tmp_path_factory.mktemp("run"))
    f = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                          interactions=tables["interactions"], feedback=tables["feedback"])
    run.save_model("segmentation", SegmentationModel(
        clusters=BehaviouralSegmenter(k_range=(3, 3), sample_size=1000)).fit(f))
    params = load_params("demo", {"churn.models": ["coxph"], "churn.penalizers": [0.01]})
    s = build_scorer(run, tables, params)
    s.tables_for_test = tables
    s.params_for_test = params
    return s


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("registry-test")
    return MlflowClient(tracking_uri=uri)


def _with_metrics(scorer, metrics):
    s = copy.copy(scorer)
    s.metrics_ = dict(metrics)
    return s


def _register(scorer, metrics, name):
    with mlflow.start_run() as run:
        mv = register_scorer(_with_metrics(scorer, metrics), model_name=name)
        decision = promote(name, mv.version, params=PromotionParams(model_name=name))
    return mv, decision, run.info.run_id


def test_check_gates_absolute_and_relative():
    gates = PromotionParams().gates
    ok, checks = check_gates(GOOD, None, gates)
    assert ok and all(c["passed"] for c in checks)
    # within the margin of the champion: passes; beyond it: fails, naming the metric
    ok, _ = check_gates({**GOOD, "churn_concordance": 0.795}, GOOD, gates)
    assert ok
    ok, checks = check_gates({**GOOD, "churn_concordance": 0.78}, GOOD, gates)
    assert not ok
    failed = [c for c in checks if not c["passed"]]
    assert [c["metric"] for c in failed] == ["churn_concordance"]
    assert "0.78 is not >= 0.79" in failed[0]["reason"]
    # lower is better: an error that grew beyond the margin fails
    ok, checks = check_gates({**GOOD, "clv_holdout_abs_aggregate_pct_error": 5.5}, GOOD, gates)
    assert not ok
    # absolute threshold without a champion
    ok, _ = check_gates({**GOOD, "churn_concordance": 0.55}, None, gates)
    assert not ok
    # a required metric missing on the candidate fails; an optional one does not
    missing = {k: v for k, v in GOOD.items() if k != "churn_concordance"}
    assert not check_gates(missing, None, gates)[0]
    lenient = {**gates, "churn_concordance": GateParams(greater_is_better=True, threshold=0.6,
                                                        required=False)}
    assert check_gates(missing, None, lenient)[0]


def test_worse_model_does_not_become_champion(scorer, client):
    name = "scorer_gates"
    v1, d1, _ = _register(scorer, GOOD, name)
    assert d1.promoted and d1.champion_version is None
    assert client.get_model_version_by_alias(name, "champion").version == int(v1.version)

    worse = {**GOOD, "churn_concordance": 0.70}  # 0.10 below the champion, margin 0.01
    v2, d2, run2 = _register(scorer, worse, name)
    assert not d2.promoted
    assert d2.champion_version == str(v1.version)
    assert any("churn_concordance" in r for r in d2.reasons)
    assert client.get_model_version_by_alias(name, "champion").version == int(v1.version)
    # the decision and both metric sets are logged
    run = client.get_run(run2)
    assert run.data.metrics["promotion.promoted"] == 0.0
    assert run.data.metrics["promotion.candidate.churn_concordance"] == pytest.approx(0.70)
    assert run.data.metrics["promotion.champion.churn_concordance"] == pytest.approx(0.80)
    path = client.download_artifacts(run2, "promotion/decision.json")
    with open(path, encoding="utf-8") as fh:
        decision = json.load(fh)
    assert decision["promoted"] is False
    assert client.get_model_version(name, v2.version).tags["promotion.decision"] == "rejected"

    better = {**GOOD, "churn_concordance": 0.82, "clv_holdout_mae_per_customer": 0.45}
    v3, d3, _ = _register(scorer, better, name)
    assert d3.promoted
    assert client.get_model_version_by_alias(name, "champion").version == int(v3.version)
    assert version_metrics(name, v3.version, client)["churn_concordance"] == pytest.approx(0.82)


def test_first_version_needs_the_absolute_thresholds(scorer, client):
    name = "scorer_first_bad"
    _, decision, _ = _register(scorer, {**GOOD, "churn_concordance": 0.52}, name)
    assert not decision.promoted
    with pytest.raises(UnknownModelError, match="no alias 'champion'"):
        resolve_model_uri(name, client)


def test_resolve_model_uri_and_clear_errors(scorer, client):
    name = "scorer_resolve"
    v1, _, _ = _register(scorer, GOOD, name)
    assert resolve_model_uri(name, client) == (f"models:/{name}@champion", str(v1.version))
    assert resolve_model_uri(f"{name}/{v1.version}", client)[1] == str(v1.version)
    with pytest.raises(UnknownModelError) as err:
        resolve_model_uri(f"{name}/99", client)
    assert "no version '99'" in str(err.value) and f"[{v1.version}]" in str(err.value)
    with pytest.raises(UnknownModelError) as err:
        resolve_model_uri("no_such_model@champion", client)
    assert "no registered model 'no_such_model'" in str(err.value) and name in str(err.value)
    # the champion scores like the in-process scorer
    uri, _ = resolve_model_uri(name, client)
    feats = scoring_features(scorer.tables_for_test, CUTOFF).head(50)
    got = mlflow.pyfunc.load_model(uri).predict(scorer.model_input(feats))
    pd.testing.assert_frame_equal(got, scorer.predict(feats), check_dtype=False)


def test_crm_score_files_and_sql_in_batches(scorer, client, tmp_path, capsys):
    import sqlalchemy as sa

    from src.cli import main

    name = "scorer_cli"
    _register(scorer, GOOD, name)
    uri = client.tracking_uri
    feats = scoring_features(scorer.tables_for_test, CUTOFF)
    want = scorer.predict(feats)
    feats.to_parquet(tmp_path / "f.parquet", index=False)
    feats.to_csv(tmp_path / "f.csv", index=False)
    db = f"sqlite:///{tmp_path}/crm.db"
    to_sql = scorer.model_input(feats)
    to_sql.to_sql("features", sa.create_engine(db), index=False)
    for source, extra, out in ((tmp_path / "f.parquet", [], "a.parquet"),
                               (tmp_path / "f.csv", [], "b.csv"),
                               (db, ["--table", "features"], "c.parquet")):
        code = main(["score", "--model", name, "--input", str(source), "--output",
                     str(tmp_path / out), "--batch-size", "400", "--tracking-uri", uri,
                     "--quiet", *extra])
        assert code == 0, capsys.readouterr().err
        got = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
               else pd.read_csv(tmp_path / out, encoding="utf-8-sig", dtype={"customer_id": str}))
        assert len(got) == len(want)
        pd.testing.assert_series_equal(got["clv"], want["clv"], check_dtype=False)
        assert (got["recommended_action"] == want["recommended_action"]).all()

    code = main(["score", "--model", f"{name}/42", "--input", str(tmp_path / "f.parquet"),
                 "--output", str(tmp_path / "x.parquet"), "--tracking-uri", uri, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "no version '42'" in err and "versions [1]" in err
    feats.drop(columns=["recency_days"]).to_parquet(tmp_path / "bad.parquet", index=False)
    code = main(["score", "--model", name, "--input", str(tmp_path / "bad.parquet"),
                 "--output", str(tmp_path / "x.parquet"), "--tracking-uri", uri, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "recency_days" in err
    assert not (tmp_path / "x.parquet").exists()


# ------------------------------------------------------------------------------------------
# a run's promotion: judged in notebook 05, settled by the runner at the end of the run
# ------------------------------------------------------------------------------------------
def _alias(client, name):
    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except Exception:  # noqa: BLE001 - no alias yet
        return None


def _publish(scorer, metrics, job, promotion=None):
    with mlflow.start_run() as run:
        record = publish_scorer(_with_metrics(scorer, metrics), promotion or PromotionParams(),
                                job=job, run_id=run.info.run_id)
    return record, run.info.run_id


def test_a_run_decides_in_notebook_05_and_promotes_only_when_it_succeeded(scorer, client):
    job = "promo_job"
    name = scorer_model_name(job, PromotionParams())
    assert name == "promo_job_scorer"
    first, run1 = _publish(scorer, GOOD, job)
    assert (first["name"], first["decision"], first["gates_passed"]) == (name, "pending", True)
    assert first["lists_from"] == "candidate" and _alias(client, name) is None  # nothing moved

    # the run failed after notebook 05 (an export, a later notebook): nothing is promoted
    failed = settle_promotion(first, run_succeeded=False, failure="OSError in 05: disk full")
    assert failed["decision"] == "not_promoted" and not failed["promoted"]
    assert "the run failed (OSError in 05: disk full)" in failed["reasons"][0]
    assert _alias(client, name) is None
    tags = client.get_model_version(name, first["version"]).tags
    assert tags["promotion.decision"] == "not_promoted" and "run failed" in tags["promotion.reasons"]
    assert client.get_run(run1).data.tags["promotion.decision"] == "not_promoted"

    # the next run succeeds: its candidate becomes champion at the end
    second, run2 = _publish(scorer, GOOD, job)
    assert second["champion_before"] is None and _alias(client, name) is None
    done = settle_promotion(second, run_succeeded=True, log_to=[run2])
    assert done["decision"] == "promoted" and done["champion_after"] == second["version"]
    assert _alias(client, name) == second["version"]
    assert client.get_run(run2).data.metrics["promotion.promoted"] == 1.0
    assert settle_promotion(done, run_succeeded=True) == done  # settled once

    # a third run promoted, then failing to write its records, is rolled back
    third, _ = _publish(scorer, {**GOOD, "churn_concordance": 0.81}, job)
    assert third["champion_before"] == second["version"]
    moved = settle_promotion(third, run_succeeded=True)
    assert _alias(client, name) == third["version"]
    back = rollback_promotion(moved, "OSError: no space left on device")
    assert back["decision"] == "rolled_back" and _alias(client, name) == second["version"]

    # the champion moved while a run was going: its candidate is not promoted
    fourth, _ = _publish(scorer, GOOD, job)
    client.set_registered_model_alias(name, "champion", third["version"])
    late = settle_promotion(fourth, run_succeeded=True)
    assert late["decision"] == "not_promoted" and "moved from" in late["reasons"][0]
    assert _alias(client, name) == third["version"]


def test_each_job_has_its_own_champion(scorer, client):
    """An airline's strong champion does not judge a shop's candidate, and the shop's
    promotion does not replace the airline's champion."""
    airline, _ = _publish(scorer, {**GOOD, "churn_concordance": 0.95}, "airline")
    settle_promotion(airline, run_succeeded=True)
    shop, _ = _publish(scorer, {**GOOD, "churn_concordance": 0.70}, "shop")
    assert (airline["name"], shop["name"]) == ("airline_scorer", "shop_scorer")
    assert shop["champion_before"] is None and shop["gates_passed"]  # judged on its own
    settle_promotion(shop, run_succeeded=True)
    assert _alias(client, "airline_scorer") == airline["version"]
    assert _alias(client, "shop_scorer") == shop["version"]
    # the same weak candidate judged against the airline's champion would have been rejected
    same, _ = _publish(scorer, {**GOOD, "churn_concordance": 0.70}, "airline")
    assert same["decision"] == "rejected" and "churn_concordance" in same["reasons"][0]
    # scoring.promotion.model_name names the model explicitly
    assert scorer_model_name("airline", PromotionParams(model_name="fleet")) == "fleet"


def _scored_run(scorer, tmp_path) -> RunLayout:
    layout = RunLayout(tmp_path / "run")
    tables = scorer.tables_for_test
    layout.write_tables(tables)
    scored = scorer.predict(scoring_features(tables, CUTOFF, scorer.feature_settings_))
    layout.write_frame(layout.scored_file, scored, index=False)
    layout.write_frame(layout.rejected_customers_file, unscored_customers(tables, scored),
                       index=False)
    return layout


def test_rejected_candidate_lists_come_from_the_champion_or_are_not_published(
        scorer, client, tmp_path):
    job = "reject_job"
    champion, _ = _publish(scorer, GOOD, job)
    settle_promotion(champion, run_succeeded=True)
    worse = {**GOOD, "churn_concordance": 0.70}
    layout = _scored_run(scorer, tmp_path)

    # default on_reject: skip -> nothing published, and the record says why
    skipped, _ = _publish(scorer, worse, job)
    assert skipped["decision"] == "rejected" and skipped["lists_from"] == "none"
    assert "on_reject: skip" in skipped["lists_note"]
    layout.write_json(layout.scorer_record_file, skipped)
    result = export_run(layout)
    assert result["published"] is False and result.folder is None
    assert "no lists published" in result.headline and not layout.exports_dir.exists()

    # on_reject: champion -> the champion's registered model scores this run's customers
    rejected, _ = _publish(scorer, worse, job, PromotionParams(on_reject="champion"))
    assert rejected["lists_from"] == "champion"
    assert rejected["lists_model"] == {"name": f"{job}_scorer", "version": champion["version"]}
    layout.write_json(layout.scorer_record_file, rejected)
    result = export_run(layout)
    assert result["published"] and result["lists_from"] == "champion"
    assert f"version {champion['version']}" in result.headline
    scored = pd.read_parquet(layout.exports_dir / "scored_customers.parquet")
    want = pd.read_parquet(layout.scored_file)
    assert len(scored) == len(want)
    pd.testing.assert_series_equal(scored["clv"], want["clv"], check_dtype=False)
    recon = result["reconciliation"]
    assert recon["customers_in"] == recon["scored"] + recon["rejected"]
    assert _alias(client, f"{job}_scorer") == champion["version"]  # nothing moved

    # no champion yet: nothing to take the lists from
    first, _ = _publish(scorer, {**GOOD, "churn_concordance": 0.5}, "reject_first",
                        PromotionParams(on_reject="champion"))
    assert first["decision"] == "rejected" and first["lists_from"] == "none"
    assert "no @champion yet" in first["lists_note"]


# ------------------------------------------------------------------------------------------
# fit diagnostics: a degenerate fit fails its gate, naming the parameter
# ------------------------------------------------------------------------------------------
def no_dropout_bookings(n: int = 1500, seed: int = 4) -> pd.DataFrame:
    """CDNOW-like purchases where nobody ever drops out: every customer books at a steady
    Poisson rate from the first booking to the cut-off (the BG/NBD dropout a runs to 0)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    first = rng.integers(0, 365, n)
    span = (CUTOFF - start).days - first
    rate = rng.gamma(2.0, 1 / 120, n)  # bookings per day
    spend_rate = rng.gamma(4.0, 1 / 150, n)  # Gamma-Gamma spend: p = 3, q = 4, v = 150
    rows = [(i, first[i] + d) for i in range(n)
            for d in [0, *np.sort(rng.integers(1, span[i] + 1, rng.poisson(rate[i] * span[i])))]]
    ids, days = (np.array(v) for v in zip(*rows, strict=True))
    return pd.DataFrame({"customer_id": [f"N{i:04d}" for i in ids],
                         "booking_date": start + pd.to_timedelta(days, unit="D"),
                         "amount": rng.gamma(3.0, 1 / spend_rate[ids]), "status": "completed"})


def test_degenerate_fit_fails_its_gate_naming_the_parameter(scorer, client):
    validation = clv.validate_and_fit(no_dropout_bookings(), scorer.params_for_test.loyalty, CUTOFF)
    assert validation.metrics["clv_fit_problems"] >= 1
    problems = validation.model.bgnbd_.fit_problems()
    assert any("parameter a =" in p and "P(alive) is near 1" in p for p in problems), problems
    assert validation.model.bgnbd_.params_["a"] < 1e-3

    degenerate = copy.copy(scorer)
    degenerate.clv = validation.model
    assert candidate_metrics(_with_metrics(degenerate, GOOD))["clv_fit_problems"] >= 1
    record, _ = _publish(degenerate, GOOD, "degenerate_job")
    assert record["decision"] == "rejected" and record["lists_from"] == "none"
    [reason] = [r for r in record["reasons"] if r.startswith("clv_fit_problems")]
    assert "is not <= 0" in reason and "BG/NBD parameter a =" in reason
    assert "for the lists" in reason and record["fit_problems"]["clv"] == problems
    # a sound fit has none (the healthy scorer's CLV and churn parts)
    assert fit_problems(scorer) == {"clv": [], "churn": []}


def _histories_without_dropout(seed: int, n: int = 2000):
    """Histories whose BG/NBD likelihood has its supremum at p = 0, not at any (a, b).

    Every repeat buyer's last purchase is at T (t_x = T): the dropout part of a customer's
    likelihood is then E[(1-p)^x] + E[p (1-p)^(x-1)] = E[(1-p)^(x-1)], which is below 1 for
    every Beta(a, b) when x >= 2 and tends to 1 as a -> 0. So a runs to its lower bound (or b
    to infinity) on any seed and any CPU: the condition is certain, not borderline.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(30, 78, n)
    x = rng.poisson(rng.gamma(2.0, 0.1, n) * T).astype(float)
    assert (x >= 2).any()
    return x, np.where(x > 0, T, 0.0), T


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bgnbd_fit_problems_name_bound_and_standard_errors(seed):
    x, tx, T = _histories_without_dropout(seed)
    with pytest.warns(RuntimeWarning, match="no standard error for a, b"):
        model = BGNBD().fit(x, tx, T)
    d = model.fit_diagnostics_
    # the diagnostic itself: the dropout parameters are at a bound and have no standard error
    assert d["bounds"]["a"] in ("lower", "both") and "b" in d["bounds"], d["bounds"]
    assert d["nonfinite_se"] == ["a", "b"] and d["weak_directions"] == ["a", "b"]
    assert np.isnan(model.standard_errors_["a"]) and np.isnan(model.standard_errors_["b"])
    # the rate parameters are interior: their standard errors come from their own curvature
    assert np.isfinite(model.standard_errors_["r"]) and np.isfinite(model.standard_errors_["alpha"])
    assert model.standard_errors_["r"] > 0 and model.standard_errors_["alpha"] > 0
    problems = model.fit_problems()
    assert any(p.startswith("BG/NBD parameter a =") for p in problems), problems
    assert any("no finite standard error for a, b" in p and "along a, b" in p for p in problems)
    assert BGNBD.from_estimates({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}).fit_problems() == []


def test_bgnbd_sound_fit_has_every_standard_error():
    """Planted interior parameters: no bound, no warning, every standard error finite."""
    import warnings

    sim = simulate_bgnbd(np.full(5000, 52.0), r=0.5, alpha=5.0, a=0.8, b=2.5, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = BGNBD().fit(sim["frequency"], sim["recency"], sim["T"])
    assert model.fit_diagnostics_["bounds"] == {}
    assert model.fit_diagnostics_["weak_directions"] == []
    assert all(np.isfinite(v) and v > 0 for v in model.standard_errors_.values())
    assert model.fit_problems() == []


def test_churn_fit_problems_name_the_covariate(scorer):
    broken = copy.copy(scorer)
    broken.churn = copy.deepcopy(scorer.churn)
    se = broken.churn.fitter_.standard_errors_
    se.iloc[0] = np.nan
    broken.churn.fitter_.converged_ = False
    problems = fit_problems(broken)["churn"]
    assert len(problems) == 2
    assert "did not converge" in problems[0]
    assert f"no finite standard error for {se.index[0]}" in problems[1]
    assert candidate_metrics(broken)["churn_fit_problems"] == 2.0
