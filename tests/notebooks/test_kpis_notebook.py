"""``07_kpis`` on a real run: the session's shared demo run (400 customers, every notebook up
to ``05_score_export``), copied into this test's own outputs folder so the shared run is never
written to.

Two runs of the job: run A (the copy) is executed first and is its own baseline; run B (a
second copy, later in the runs folder) then finds A as its last run and its baseline, and is
judged against targets. The current number of active customers is checked against a direct
pandas count on the run's clean tables.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill as pm
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from src.models.kpis import HEADLINE_COLUMNS
from src.runner.kpi_report import read_kpi_table

from src.layout import RunLayout
from src.paths import NOTEBOOKS_DIR

pytestmark = pytest.mark.slow

NOTEBOOK = NOTEBOOKS_DIR / "07_kpis.ipynb"


def _kernel() -> str:
    name = nbformat.read(NOTEBOOK, as_version=4).metadata["kernelspec"]["name"]
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return "python3"
    return name


def _copy_run(source: Path, runs: Path, run_id: str) -> Path:
    """A copy of a run folder under ``runs/<run_id>`` with that id in its manifest."""
    target = runs / run_id
    # without the KPIs the demo run made itself (07_kpis is in the demo job)
    shutil.copytree(source, target,
                    ignore=shutil.ignore_patterns("feature_cache", "*.html", "kpis.csv"))
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["run_id"] = run_id
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def _execute(run_dir: Path, params_file: Path, out: Path) -> float:
    """Execute 07 on ``run_dir`` as the runner does (no MLflow run id: a run of its own);
    returns the seconds it took."""
    start = time.perf_counter()
    pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name=_kernel(), cwd=str(NOTEBOOKS_DIR),
                        parameters={"params_file": str(params_file), "run_dir": str(run_dir),
                                    "mlflow_run_id": ""},
                        progress_bar=False, log_output=False, execution_timeout=600)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def executed(demo_runs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    demo = demo_runs(0)
    home = tmp_path_factory.mktemp("kpis-nb")
    runs = home / "outputs" / "runs"
    runs.mkdir(parents=True)
    first = _copy_run(demo["run_dir"], runs, "20250101-000000-demo-aaaa")
    second = _copy_run(demo["run_dir"], runs, "20250102-000000-demo-bbbb")
    job = yaml.safe_load((demo["home"] / "demo.yaml").read_text(encoding="utf-8"))
    job.pop("kpis", None)  # the first run: no targets
    plain_file = home / "demo_plain.yaml"
    plain_file.write_text(yaml.safe_dump(job, allow_unicode=True), encoding="utf-8")
    job["kpis"] = {"targets": {"active_customers": "+10% by 2027-12",
                               "churn_rate": "-0.01 by 2026-12", "csat": "4.9 by 2026-06"}}
    params_file = home / "demo_targets.yaml"
    params_file.write_text(yaml.safe_dump(job, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_OUTPUT_DIR", str(home / "outputs"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        seconds = _execute(first, plain_file, home / "first.ipynb")
        _execute(second, params_file, home / "second.ipynb")
    return {"first": RunLayout(first), "second": RunLayout(second), "seconds": seconds,
            "out": home / "first.ipynb"}


def test_kpis_csv_has_the_headline_columns(executed: dict[str, Any]) -> None:
    layout = executed["first"]
    raw = pd.read_csv(layout.kpis_file)
    assert list(raw.columns) == list(HEADLINE_COLUMNS)
    table = read_kpi_table(layout.kpis_file)
    assert len(table) == 6 and table["month"].eq("2025-12").all()
    # the first run with KPIs is its own baseline and has no last run
    assert table["baseline_run"].eq(layout.root.name).all()
    assert table["last_run_id"].isna().all() and table["last_run"].isna().all()
    assert (table["baseline"] == table["current"]).all()
    assert table["status"].eq("no target").all()
    for name in ("monthly", "kpis", "kpis_by_group"):
        assert (layout.tables_dir("07_kpis") / f"{name}.csv").exists(), name
    assert (layout.figures_dir("07_kpis") / "kpi_paths.png").exists()
    metrics = json.loads(layout.metrics_file("07_kpis").read_text(encoding="utf-8"))
    assert metrics["kpi.active_customers"] == table.set_index("kpi").at["active_customers",
                                                                        "current"]
    print(f"07_kpis on the 400-customer demo run: {executed['seconds']:.1f} s")


def test_active_customers_equal_a_direct_count(executed: dict[str, Any]) -> None:
    layout = executed["first"]
    cutoff = pd.Timestamp("2025-12-31")
    b = layout.read_tables()["bookings"]
    status_known = b["status_date"] if "status_date" in b else b["booking_date"]
    cancelled = (b["status"].astype(str) == "cancelled") & (status_known <= cutoff)
    recent = (b["booking_date"] > cutoff - pd.Timedelta(days=365)) & (b["booking_date"] <= cutoff)
    expected = b.loc[recent & ~cancelled, "customer_id"].nunique()
    table = read_kpi_table(layout.kpis_file).set_index("kpi")
    assert table.at["active_customers", "current"] == expected
    assert expected > 0


def test_breakdown_by_tier_and_segment(executed: dict[str, Any]) -> None:
    layout = executed["first"]
    by_group = pd.read_csv(layout.tables_dir("07_kpis") / "kpis_by_group.csv")
    scored = pd.read_parquet(layout.scored_file)
    assert set(by_group["by"]) == {"value_tier", "segment"}
    tiers = by_group[by_group["by"] == "value_tier"].set_index("group")["customers"]
    assert tiers.to_dict() == scored["value_tier"].value_counts().to_dict()
    # every active customer is in the scored table: the tiers' active customers add up
    total = read_kpi_table(layout.kpis_file).set_index("kpi").at["active_customers", "current"]
    assert by_group[by_group["by"] == "value_tier"]["active_customers"].sum() == total


def test_second_run_compares_with_the_first_and_its_targets(executed: dict[str, Any]) -> None:
    first = read_kpi_table(executed["first"].kpis_file).set_index("kpi")
    table = read_kpi_table(executed["second"].kpis_file).set_index("kpi")
    name = executed["first"].root.name
    assert table["last_run_id"].eq(name).all() and table["baseline_run"].eq(name).all()
    assert (table["last_run"] == first["current"]).all()
    row = table.loc["active_customers"]
    assert row["target"] == pytest.approx(first.at["active_customers", "current"] * 1.1)
    assert row["target_date"] == "2027-12-31"
    # same cut-off as the baseline: the path has not started, expected = baseline = current
    assert row["expected_now"] == row["baseline"] and row["status"] == "on track"
    assert table.at["churn_rate", "target"] == pytest.approx(first.at["churn_rate", "current"]
                                                             - 0.01)
    assert table.at["repeat_rate", "status"] == "no target"
    metrics = json.loads(executed["second"].metrics_file("07_kpis").read_text(encoding="utf-8"))
    assert metrics["kpi.active_customers.on_track"] == 1.0
    assert "kpi.repeat_rate.on_track" not in metrics
