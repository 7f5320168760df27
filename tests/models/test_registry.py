"""Registry: each run registers a version; the champion alias moves only through the gates."""

from __future__ import annotations

import copy
import json

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from src.data.synthetic import generate
from src.features.customer import customer_features
from src.features.scoring import scoring_features
from src.layout import RunLayout
from src.models.registry import (
    UnknownModelError,
    check_gates,
    promote,
    register_scorer,
    resolve_model_uri,
    version_metrics,
)
from src.models.scoring import build_scorer
from src.models.segmentation import BehaviouralSegmenter, SegmentationModel
from src.params import load_params
from src.params.schema import GateParams, PromotionParams

CUTOFF = pd.Timestamp("2025-12-31")
GOOD = {"churn_concordance": 0.80, "clv_holdout_mae_per_customer": 0.50,
        "clv_holdout_abs_aggregate_pct_error": 3.0}


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
