"""Shipped jobs run through the real runner: the CDNOW job reproduces the published estimates."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.runner.run import EXIT_OK, run_job
from tests.helpers import require_shared

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("isolated")
def test_cdnow_job_reproduces_fader_hardie_lee() -> None:
    require_shared("cdnow", "cdnow_sample.csv")  # fails, never skips, without the data
    result = run_job("cdnow", quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest.get("error")
    assert result.manifest["rows"]["bookings"] == {"in": 6919, "kept": 6919, "rejected": 0}
    m = result.manifest["metrics"]["04_loyalty_clv"]
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), 39-week calibration
    for name, value in published.items():
        assert round(m[f"calibration.bg_nbd.{name}"], 3) == value, name
    assert round(m["calibration.bg_nbd.log_likelihood"], 1) == -9582.4
    # Gamma-Gamma on the same calibration period (Fader & Hardie 2013): p 6.25, q 3.74, gamma 15.44
    assert round(m["calibration.gamma_gamma.p"], 2) == 6.25
    assert round(m["calibration.gamma_gamma.q"], 2) == 3.74
    assert abs(m["calibration.gamma_gamma.v"] - 15.44) < 0.01
    assert m["holdout_customers"] == 2357


@pytest.mark.usefixtures("isolated")
def test_membership_export_mapped_through_params(tmp_path: Path) -> None:
    """A loyalty-programme export with its own column names runs the churn notebook with the
    contractual (cancellation date) definition, mapped by params alone."""
    import yaml

    from src.data.synthetic import generate

    d = generate(1500, seed=7)
    d.customers.rename(columns={"customer_id": "member_no", "signup_date": "joined",
                                "membership_cancel_date": "cancelled_on", "loyalty_member": "in_programme"})[
        ["member_no", "joined", "cancelled_on", "in_programme", "customer_type", "acquisition_channel"]
    ].to_csv(tmp_path / "members.csv", index=False)
    d.bookings.rename(columns={"customer_id": "member_no", "booking_date": "stay_date", "amount": "revenue"})[
        ["member_no", "stay_date", "revenue", "status"]].to_csv(tmp_path / "stays.csv", index=False)
    job = {
        "job": "membership", "notebooks": ["01_data_quality", "03_churn_survival"],
        "data": {"source": {"as_of_date": "2025-12-31", "tables": {
            "customers": {"path": str(tmp_path / "members.csv"), "columns": {
                "customer_id": "member_no", "signup_date": "joined",
                "membership_cancel_date": "cancelled_on", "loyalty_member": "in_programme"}},
            "bookings": {"path": str(tmp_path / "stays.csv"), "columns": {
                "customer_id": "member_no", "booking_date": "stay_date", "amount": "revenue"}}}}},
        "churn": {"definition": "membership", "time_origin": "start", "models": ["coxph"]},
    }
    path = tmp_path / "membership.yaml"
    path.write_text(yaml.safe_dump(job), encoding="utf-8")
    result = run_job(path, quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest.get("error")
    m = result.manifest["metrics"]["03_churn_survival"]
    members = int(d.customers["loyalty_member"].sum())
    assert 0.8 * members <= m["customers"] <= members  # programme members only
    assert 0 < m["churned_share"] < 1
    # the full-history Cox of the members (signup attributes, first booking) has signal: measured
    # 0.622 here; the landmark holdout concordance has none on bookings-only data (0.486)
    assert m["full_history.concordance"] >= 0.58
