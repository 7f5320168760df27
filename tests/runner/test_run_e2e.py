"""The job runner end to end: real papermill kernels, real MLflow (SQLite in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from src.layout import RunLayout
from src.params import ParamsError
from src.paths import PARAMS_DIR
from src.runner.run import EXIT_BAD_INPUT, EXIT_NOTEBOOK_FAILED, EXIT_OK, run_job
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


def test_demo_job_runs_end_to_end(isolated: dict) -> None:
    demo = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    result = run_job(job_file(isolated["tmp"], notebooks=demo["notebooks"]), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest.get("error")
    run_dir = result.run_dir
    assert run_dir.parent == isolated["tmp"] / "outputs" / "runs"
    for name in ("01_data_quality.ipynb", "01_data_quality.html", "index.html", "params.yaml",
                 "manifest.json", "rejects.csv", "data/bookings.parquet"):
        assert (run_dir / name).exists(), name

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "succeeded" and manifest["exit_code"] == 0
    assert [n["status"] for n in manifest["notebooks"]] == ["succeeded"] * len(manifest["notebooks"])
    assert manifest["notebooks"][0]["seconds"] > 0
    assert manifest["params"]["data"]["synthetic"]["n_customers"] == 600
    assert set(manifest["inputs"]) >= {"customers", "bookings"}
    assert all(len(src["sha256"]) == 64 for src in manifest["inputs"].values() if src.get("sha256"))
    rows = manifest["rows"]["bookings"]
    assert rows["in"] == rows["kept"] + rows["rejected"] and rows["in"] > 600
    assert manifest["packages"]["mlflow"]
    assert "commit" in manifest["code"]

    # executed notebook holds outputs; HTML hides the code
    nb = nbformat.read(run_dir / "01_data_quality.ipynb", as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "open_run(" not in (run_dir / "01_data_quality.html").read_text(encoding="utf-8")

    runs = runs_by_name(isolated["uri"])
    parent, child = runs[manifest["run_id"]], runs["01_data_quality"]
    assert parent.info.status == "FINISHED" and child.info.status == "FINISHED"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.metrics["customers"] == 600
    client = MlflowClient(isolated["uri"])
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"figures", "notebook", "tables"} <= artifacts
    figures = {Path(a.path).name for a in client.list_artifacts(child.info.run_id, "figures")}
    assert "bookings_per_month.png" in figures
    assert parent.data.params["data.synthetic.n_customers"] == "600"
    assert_scorer_equals_the_notebooks(RunLayout(run_dir))


def assert_scorer_equals_the_notebooks(layout: RunLayout) -> None:
    """One code path: the scorer's segment, churn and CLV columns (05) equal what notebooks
    02, 03 and 04 wrote for the same run, customer by customer; and every model part the
    scorer used was the run's own (nothing refitted)."""
    scored = pd.read_parquet(layout.scored_file).set_index("customer_id")
    segments = pd.read_parquet(layout.segments_file)
    ids = segments.index
    assert len(ids) and set(ids) <= set(scored.index)
    np.testing.assert_array_equal(scored.loc[ids, "cluster"], segments["cluster"])
    for col in ("rfm_segment", "value_tier"):
        assert (scored.loc[ids, col].astype(str) == segments[col].astype(str)).all(), col
    assert (scored.loc[ids, "segment"] == segments["cluster_label"].astype(str)).all()
    churn = pd.read_parquet(layout.churn_scores_file)
    assert len(churn) > 50
    for col in churn.columns:
        np.testing.assert_allclose(scored.loc[churn.index, col], churn[col], rtol=1e-10, err_msg=col)
    clv = pd.read_parquet(layout.clv_scores_file)
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
