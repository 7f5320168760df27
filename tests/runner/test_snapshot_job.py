"""The runner skips a notebook whose inputs are absent (params/telco.yaml, the IBM telco churn
export, customers only: no transaction log for BG/NBD), with its reason in the manifest and the
log; and the applicability rules it asks before each notebook
(:mod:`src.runner.applicability`). The telco job end to end, through ``crm init`` and ``crm
run``, with the SOURCE.md figures: tests/runner/test_own_data.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from src.layout import RunLayout
from src.params import load_params
from src.paths import PROJECT_ROOT
from src.runner import run as run_module
from src.runner.applicability import skip_reason
from src.runner.run import EXIT_OK, run_job

TELCO_JOB = PROJECT_ROOT / "params" / "telco.yaml"


def test_applicability_before_and_after_the_data_step(tmp_path: Path) -> None:
    telco = load_params(TELCO_JOB)
    empty = RunLayout(tmp_path / "run")
    # before the data step: the tables the job's source names (customers only)
    reason = skip_reason("04_loyalty_clv", telco, empty)
    assert reason is not None and "no bookings table" in reason and "transaction log" in reason
    for notebook in ("01_data_quality", "02_segmentation", "03_churn_survival", "05_score_export"):
        assert skip_reason(notebook, telco, empty) is None, notebook
    demo = load_params("demo")  # synthetic: every table
    assert all(skip_reason(n, demo, empty) is None for n in demo.notebooks)
    lapse = telco.model_copy(update={"churn": telco.churn.model_copy(update={"definition": "lapse"})})
    assert "lapse churn" in skip_reason("03_churn_survival", lapse, empty)
    # after the data step: the tables it wrote
    layout = RunLayout(tmp_path / "done")
    layout.data_dir.mkdir(parents=True)
    pd.DataFrame({"customer_id": ["a"], "booking_date": [pd.Timestamp("2020-01-01")],
                  "amount": [1.0]}).to_parquet(layout.table_file("bookings"))
    layout.write_json(layout.inputs_file, {"sources": {}})
    assert skip_reason("04_loyalty_clv", telco, layout) is None


@pytest.mark.slow
def test_the_runner_skips_a_notebook_whose_inputs_are_absent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook in the runner's notebook loop: the notebook is not executed, the manifest
    says ``skipped`` with the reason, the run's log says it, and the run still succeeds."""
    data = yaml.safe_load((PROJECT_ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    data.update(job="skipcheck", notebooks=["01_data_quality", "04_loyalty_clv"])
    data["data"]["synthetic"]["n_customers"] = 200
    job = tmp_path / "skipcheck.yaml"
    job.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    asked = []

    def reason(notebook, params, layout):
        asked.append((notebook, layout.inputs_file.exists()))
        return "no bookings table in the data: planted" if notebook == "04_loyalty_clv" else None

    monkeypatch.setattr(run_module, "skip_reason", reason)
    result = run_job(job, quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest.get("error")
    # asked before each notebook; for 04 after the data step wrote its tables
    assert asked == [("01_data_quality", False), ("04_loyalty_clv", True)]
    entry = result.manifest["notebooks"][1]
    assert entry == {"name": "04_loyalty_clv", "status": "skipped",
                     "reason": "no bookings table in the data: planted"}
    assert not RunLayout(result.run_dir).notebook_file("04_loyalty_clv").exists()
    index = RunLayout(result.run_dir).index_file.read_text(encoding="utf-8")
    assert "skipped: no bookings table in the data: planted" in index
    assert "04_loyalty_clv: skipped: no bookings table in the data: planted" in RunLayout(
        result.run_dir).log_file.read_text(encoding="utf-8")
