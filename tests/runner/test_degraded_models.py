"""A model the data cannot support is skipped with its reason, and the rest of the run goes on
(issue 23): spend so heavy-tailed that the Gamma-Gamma has no population mean (planted
q = 0.7), through ``crm run`` (01 and 04) as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.runner.run import EXIT_OK, run_job
from tests.helpers import job_file
from tests.models.test_clv import OBS_END, TRUTH, simulate_bookings

pytestmark = pytest.mark.slow


def test_a_gamma_gamma_without_mean_spend_is_skipped_and_the_run_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    # 1,000 customers (6,000 bookings): the fitted q is 0.65-0.76 over seeds 0-19, far
    # under 1, and the data step reads a third of the rows 3,000 gave
    bookings, _ = simulate_bookings(1000, {**TRUTH, "q": 0.7}, seed=3)
    path = tmp_path / "bookings.csv"
    bookings.to_csv(path, index=False)
    data = {"source": {"tables": {"bookings": {"path": str(path)}}, "as_of_date": OBS_END}}
    result = run_job(job_file(tmp_path, ["01_data_quality", "04_loyalty_clv"], data), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["metrics"]["04_loyalty_clv"]["gamma_gamma_skipped"] == 1.0
    [note] = [n for n in result.manifest["notes"] if n.startswith("04_loyalty_clv: loyalty:")]
    assert "Gamma-Gamma spend model was skipped" in note and "no CLV" in note
