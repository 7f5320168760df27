"""The job runner end to end: real papermill kernels, real MLflow (SQLite in tmp_path); the demo
job's exports, champion decision and headline metrics; the champion moves only when the whole
run has succeeded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from src.layout import RunLayout
from src.models.churn import ChurnModel, at_risk_frame
from src.params import ParamsError, load_params
from src.paths import PARAMS_DIR
from src.runner.run import (
    EXIT_BAD_INPUT,
    EXIT_NOTEBOOK_FAILED,
    EXIT_OK,
    failure_summary,
    run_job,
)
from tests.helpers import write_notebook

pytestmark = pytest.mark.slow


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Outputs and the MLflow store inside tmp_path (the kernels inherit the environment)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return {"tmp": tmp_path, "uri": uri}


def job_file(tmp: Path, **changes: object) -> Path:
    """The demo job on a small synthetic company, first notebook only unless changed."""
    data = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    data["notebooks"] = ["01_data_quality"]
    data["data"]["synthetic"]["n_customers"] = 600
    data.update(changes)
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def runs_by_name(uri: str) -> dict[str, object]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("tourism-crm")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def test_demo_job_runs_end_to_end(demo_runs) -> None:
    """The demo job (the session's shared run, ``tests/conftest.py``): every notebook ran,
    the records, the MLflow runs, the exports (lists that reconcile), the champion decision
    and the headline metrics are what a user relies on."""
    run = demo_runs(0)
    run_dir = run["run_dir"]
    for name in ("01_data_quality.ipynb", "01_data_quality.html", "index.html", "params.yaml",
                 "manifest.json", "rejects.csv", "data/bookings.parquet"):
        assert (run_dir / name).exists(), name

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    demo = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    assert manifest["status"] == "succeeded" and manifest["exit_code"] == 0
    assert [n["name"] for n in manifest["notebooks"]] == demo["notebooks"]
    assert [n["status"] for n in manifest["notebooks"]] == ["succeeded"] * len(demo["notebooks"])
    assert all(n["seconds"] > 0 for n in manifest["notebooks"])
    n_customers = manifest["params"]["data"]["synthetic"]["n_customers"]
    assert set(manifest["inputs"]) >= {"customers", "bookings"}
    assert all(len(src["sha256"]) == 64 for src in manifest["inputs"].values() if src.get("sha256"))
    rows = manifest["rows"]["bookings"]
    assert rows["in"] == rows["kept"] + rows["rejected"] and rows["in"] > n_customers
    assert manifest["packages"]["mlflow"]
    assert "commit" in manifest["code"]

    # executed notebook holds outputs; HTML hides the code
    nb = nbformat.read(run_dir / "01_data_quality.ipynb", as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "open_run(" not in (run_dir / "01_data_quality.html").read_text(encoding="utf-8")

    # headline metrics: the models are good enough to pass the default gates
    metrics = manifest["metrics"]
    assert metrics["01_data_quality"]["customers"] == n_customers
    assert metrics["03_churn_survival"]["churn_concordance"] > 0.6
    clv = metrics["04_loyalty_clv"]
    assert clv["clv_holdout_abs_aggregate_pct_error"] < 25 and clv["clv_fit_problems"] == 0
    assert 0 < clv["clv_holdout_mae_per_customer"] < 5
    scoring = metrics["05_score_export"]
    assert scoring["customers_scored"] + scoring["customers_rejected"] == n_customers
    assert 0 <= scoring["insufficient_history_share"] < 0.5

    # the exports: one list per campaign action in both formats, reconciled, published
    layout = RunLayout(run_dir)
    exports = json.loads((layout.exports_dir / "manifest.json").read_text(encoding="utf-8"))
    recon = exports["reconciliation"]
    assert recon["customers_in"] == recon["scored"] + recon["rejected"] == n_customers
    assert recon["every_scored_customer_has_one_action"]
    assert sum(recon["actions"].values()) == recon["scored"]
    assert len(exports["lists"]) >= 3 and "do_not_contact" not in exports["lists"]
    for action, r in exports["lists"].items():
        assert r["listed"] + r["control"] + r["suppressed"] + r["no_consent"] + \
            r["over_cap"] == r["customers_with_action"], action
        # 10 % held back, rounded within each of the four value tiers
        assert abs(r["control"] - 0.1 * (r["listed"] + r["control"])) <= 2, action
        assert scoring[f"list_size.{action}"] == r["listed"]
        assert scoring[f"list_control.{action}"] == r["control"]
        for fmt in ("csv", "parquet"):
            assert f"list_{action}.{fmt}" in manifest["exports"], (action, fmt)
        assert len(pd.read_parquet(layout.exports_dir / f"list_{action}.parquet")) == r["listed"]
    assert sum(r["listed"] for r in exports["lists"].values()) > n_customers / 4
    assert not (run_dir / "exports.withdrawn").exists()

    # the champion decision: judged in 05, promoted by the runner at the end of the run
    promotion = manifest["promotion"]
    assert promotion["decision"] == "promoted" and promotion["promoted"] is True
    assert promotion["champion_before"] is None
    assert promotion["champion_after"] == promotion["version"]
    assert promotion["lists_from"] == "candidate" and all(c["passed"] for c in promotion["checks"])
    assert {c["metric"] for c in promotion["checks"]} >= {"clv_fit_problems", "churn_fit_problems"}
    record = json.loads(layout.scorer_record_file.read_text(encoding="utf-8"))
    assert record["decision"] == "promoted" and exports["model"]["version"] == record["version"]
    client = MlflowClient(run["uri"])
    champion = client.get_model_version_by_alias(promotion["name"], "champion")
    assert str(champion.version) == promotion["version"]
    assert champion.tags["promotion.decision"] == "promoted"
    assert "Champion decision" in (run_dir / "index.html").read_text(encoding="utf-8")

    runs = runs_by_name(run["uri"])
    parent, child = runs[manifest["run_id"]], runs["01_data_quality"]
    assert parent.info.status == "FINISHED" and child.info.status == "FINISHED"
    assert parent.data.tags["promotion.decision"] == "promoted"
    assert parent.data.metrics["promotion.promoted"] == 1.0
    assert parent.data.metrics["03_churn_survival.churn_concordance"] == \
        metrics["03_churn_survival"]["churn_concordance"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.metrics["customers"] == n_customers
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"figures", "notebook", "tables"} <= artifacts
    figures = {Path(a.path).name for a in client.list_artifacts(child.info.run_id, "figures")}
    assert "bookings_per_month.png" in figures
    assert parent.data.params["data.synthetic.n_customers"] == str(n_customers)
    assert_scorer_equals_the_notebooks(layout)


PROBE = ("import json\nfrom pathlib import Path\nfrom mlflow.tracking import MlflowClient\n"
         "from src.layout import RunLayout\n"
         "record = json.loads(RunLayout(Path(run_dir)).scorer_record_file.read_text())\n"
         "alias = MlflowClient().get_model_version_by_alias(record['name'], 'champion')\n"
         "seen = {'champion': str(alias.version), 'candidate': record['version'],\n"
         "        'decision': record['decision']}\n"
         "(Path(run_dir) / 'champion_during_run.json').write_text(json.dumps(seen))")


def _earlier_champion(name: str, uri: str, artifacts: Path) -> str:
    """An earlier champion of the job's model, with modest metrics (version tags)."""

    class Earlier(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    client = MlflowClient(uri)
    experiment = client.create_experiment("earlier", artifact_location=artifacts.as_uri())
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.pyfunc.log_model(name="scorer", python_model=Earlier(), registered_model_name=name)
    metrics = {"churn_concordance": 0.61, "clv_holdout_mae_per_customer": 10.0,
               "clv_holdout_abs_aggregate_pct_error": 24.0, "clv_fit_problems": 0.0,
               "churn_fit_problems": 0.0}
    for k, v in metrics.items():
        client.set_model_version_tag(name, "1", f"metric.{k}", repr(v))
    client.set_registered_model_alias(name, "champion", "1")
    return "1"


def test_champion_moves_only_when_the_whole_run_succeeded(demo_runs, isolated: dict) -> None:
    """Issue 13: a run that failed in its export had promoted its scorer. Here the scoring
    step of a demo run (its data and models: the shared demo run's, copied) is run by the
    runner, first with an export that fails after the candidate was registered and judged,
    then fixed and resumed: the earlier champion stays until the run has succeeded, and
    the manifest and the summary say why."""
    before = _earlier_champion("promo_scorer", isolated["uri"], isolated["tmp"] / "artifacts")
    # a run of job "promo" whose steps 01-04 are done (the demo run's) and 05 is to run
    demo_dir = demo_runs(0)["run_dir"]
    run_id = "20260101-000000-promo-0001"
    run_dir = isolated["tmp"] / "outputs" / "runs" / run_id
    shutil.copytree(demo_dir, run_dir, ignore=shutil.ignore_patterns(
        "exports", "05_*", "07_*", "*.html", "scored.parquet", "rejected_customers.parquet",
        "scorer_model.json", "kpis.csv"))
    probe = write_notebook(isolated["tmp"] / "champion_probe.ipynb", PROBE)
    params = yaml.safe_load((run_dir / "params.yaml").read_text(encoding="utf-8"))
    params["job"] = "promo"
    params["notebooks"] = [*params["notebooks"][:5], str(probe)]  # 01-05, then the probe
    params["scoring"]["promotion"].pop("model_name", None)  # default: <job>_scorer
    suppression = isolated["tmp"] / "suppression.csv"
    params["export"]["suppression_file"] = str(suppression)  # missing: the export fails
    (run_dir / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(run_id=run_id, job="promo", run_dir=str(run_dir), status="failed",
                    exit_code=EXIT_NOTEBOOK_FAILED, mlflow={}, params=params)
    manifest["notebooks"] = [*manifest["notebooks"][:4], {"name": "05_score_export",
                                                          "status": "failed"},
                             {"name": "champion_probe", "status": "skipped"}]
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    client = MlflowClient(isolated["uri"])

    failed = run_job("promo", resume=run_id, quiet=True)
    assert failed.exit_code == EXIT_NOTEBOOK_FAILED
    assert failed.manifest["error"]["notebook"] == "05_score_export"
    assert "suppression.csv" in failed.manifest["error"]["message"]
    promotion = failed.manifest["promotion"]
    candidate = promotion["version"]
    assert promotion["name"] == "promo_scorer" and candidate == "2"
    assert promotion["gates_passed"] is True and promotion["decision"] == "not_promoted"
    assert promotion["champion_before"] == promotion["champion_after"] == before
    assert "the run failed" in promotion["reasons"][0]
    assert "05_score_export" in promotion["reasons"][0]
    assert str(client.get_model_version_by_alias("promo_scorer", "champion").version) == before
    assert client.get_model_version("promo_scorer", candidate).tags["promotion.decision"] == \
        "not_promoted"
    summary = failure_summary(failed.manifest)
    assert "promo_scorer version 2 not promoted; @champion stays version 1" in summary
    assert "no lists published (the run failed)" in summary
    assert not (run_dir / "exports").exists()

    suppression.write_text("customer_id\nnobody\n", encoding="utf-8")  # the export is fixed
    done = run_job("promo", resume=run_id, quiet=True)
    assert done.exit_code == EXIT_OK, done.manifest["error"]
    promotion = done.manifest["promotion"]
    assert promotion["version"] == "3" and promotion["decision"] == "promoted"
    assert promotion["champion_before"] == before and promotion["champion_after"] == "3"
    # during the run, after notebook 05 had judged the candidate, the champion had not moved
    seen = json.loads((run_dir / "champion_during_run.json").read_text(encoding="utf-8"))
    assert seen == {"champion": before, "candidate": "3", "decision": "pending"}
    assert str(client.get_model_version_by_alias("promo_scorer", "champion").version) == "3"
    assert (run_dir / "exports" / "manifest.json").exists()
    assert [a["status"] for a in done.manifest["attempts"]] == ["failed", "failed"]
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "promo_scorer version 3 is now @champion (was version 1)" in index
    assert "lists from version 3, now @champion" in index


def assert_scorer_equals_the_notebooks(layout: RunLayout) -> None:
    """One code path: the scorer's segment and CLV columns (05) equal what notebooks 02 and
    04 wrote for the same run, customer by customer, and its churn columns are the run's own
    churn model (03, ``models/churn.joblib``) at ``churn.horizons_days`` on the model's own
    scoring frame of the customers at risk; every model part the scorer used was the run's own
    (nothing refitted). Customers whose membership is already cancelled (``churn_status``) are
    the exception by design: no churn probability for an event that has happened, P(alive) 0
    (``src/decisioning/scored_columns.py``)."""
    scored = pd.read_parquet(layout.scored_file).set_index("customer_id")
    segments = pd.read_parquet(layout.segments_file)
    ids = segments.index
    assert len(ids) and set(ids) <= set(scored.index)
    np.testing.assert_array_equal(scored.loc[ids, "cluster"], segments["cluster"])
    for col in ("rfm_segment", "value_tier"):
        assert (scored.loc[ids, col].astype(str) == segments[col].astype(str)).all(), col
    assert (scored.loc[ids, "segment"] == segments["cluster_label"].astype(str)).all()
    cancelled = (scored["churn_status"] == "cancelled" if "churn_status" in scored.columns
                 else pd.Series(False, index=scored.index))
    params = load_params(layout.params_file)
    model = layout.load_model("churn", ChurnModel)
    current = at_risk_frame(layout.read_tables(), params.churn, params.cutoff())
    assert len(current) > 50
    own = model.predict_churn_probability(current, params.churn.horizons_days).join(
        model.predict_remaining_lifetime(current, max_days=params.scoring.max_remaining_days))
    probs = [c for c in scored.columns if c.startswith("churn_prob_")]
    assert probs == [f"churn_prob_{h}d" for h in params.churn.horizons_days]
    gone = own.index[cancelled.loc[own.index].to_numpy()]
    assert scored.loc[gone, probs].isna().all().all()
    own = own.drop(gone)
    for col in own.columns:
        np.testing.assert_allclose(scored.loc[own.index, col], own[col], rtol=1e-10, err_msg=col)
    assert not (layout.data_dir / "churn.parquet").exists()  # 03 writes no scores of its own
    clv = pd.read_parquet(layout.clv_scores_file)
    clv = clv.drop(clv.index[cancelled.loc[clv.index].to_numpy()])
    for col in ("p_alive", "expected_bookings", "clv", "expected_avg_booking_value"):
        np.testing.assert_allclose(scored.loc[clv.index, col], clv[col], rtol=1e-10, err_msg=col)
    record = json.loads(layout.scorer_record_file.read_text(encoding="utf-8"))
    assert record["version"] and record["mlflow_run_id"]
    notes = json.loads((layout.metrics_dir / "05_score_export.json").read_text(encoding="utf-8"))
    assert notes["customers_scored"] == len(scored)


def test_bad_input_fails_with_exit_2_naming_notebook_cell_and_column(isolated: dict) -> None:
    tmp = isolated["tmp"]
    (tmp / "bookings.csv").write_text("customer_id,booking_date,price\nA,2024-01-01,10\n", encoding="utf-8")
    source = {"tables": {"bookings": {"path": str(tmp / "bookings.csv")}}, "as_of_date": "2025-01-01"}
    path = job_file(tmp)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["data"] = {"source": source}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    result = run_job(path, quiet=True)
    assert result.exit_code == EXIT_BAD_INPUT
    err = result.manifest["error"]
    assert err["notebook"] == "01_data_quality" and isinstance(err["cell"], int)
    assert err["exception"] in {"DataValidationError", "DataSourceError"}
    assert "amount" in err["message"] and "bookings.csv" in err["message"]
    assert (result.run_dir / "01_data_quality.ipynb").exists()  # partial notebook kept
    runs = runs_by_name(isolated["uri"])
    assert runs["01_data_quality"].info.status == "FAILED"
    assert runs[result.manifest["run_id"]].info.status == "FAILED"


def test_notebook_error_exit_3_and_later_notebooks_skipped(isolated: dict) -> None:
    tmp = isolated["tmp"]
    boom = write_notebook(tmp / "boom.ipynb", "x = 1", "raise ValueError('model exploded')")
    result = run_job(job_file(tmp, notebooks=[str(boom), "01_data_quality"]), quiet=True)
    assert result.exit_code == EXIT_NOTEBOOK_FAILED
    err = result.manifest["error"]
    assert err["notebook"] == "boom" and err["exception"] == "ValueError"
    assert "model exploded" in err["message"]
    # execution count shown in the executed notebook: parameters, injected parameters, x = 1, raise
    assert err["cell"] == 4
    assert any("model exploded" in line for line in err["traceback_head"])
    assert [n["status"] for n in result.manifest["notebooks"]] == ["failed", "skipped"]


def test_parameters_cell_must_declare_what_the_runner_passes(isolated: dict) -> None:
    tmp = isolated["tmp"]
    nb = write_notebook(tmp / "noparams.ipynb", "1", params_cell='params_file = ""')
    with pytest.raises(ParamsError, match=r"does not declare \['run_dir', 'mlflow_run_id'\]"):
        run_job(job_file(tmp, notebooks=[str(nb)]), quiet=True)
    assert not (tmp / "outputs" / "runs").exists() or not any((tmp / "outputs" / "runs").iterdir())
