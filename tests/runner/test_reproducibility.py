"""Reproducibility: the demo job run twice with the same params and inputs gives the same
tables, rejects, metrics and input hashes; the manifest records what is needed to re-run it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

try:
    import fcntl
except ImportError:  # not POSIX: no cross-worker lock
    fcntl = None  # type: ignore[assignment]

from src.paths import PARAMS_DIR
from src.runner.run import EXIT_OK, run_job

pytestmark = pytest.mark.slow

DEMO_CUSTOMERS = 400


def demo_run(tmp_path_factory: pytest.TempPathFactory, index: int) -> dict[str, Any]:
    """Run ``index`` (0, 1, ...) of the demo job (its notebooks, a small company), each with its
    own outputs folder and MLflow store; made once per test session and shared through the
    session's temp folder, across xdist workers too (the same helper sits in
    tests/test_pii_scan.py and tests/runner/test_reproducibility.py)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo-runs"
    home = root / f"run{index}"
    home.mkdir(parents=True, exist_ok=True)
    done = home / "result.json"
    with open(root / f"run{index}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be making this run
        if not done.exists():
            params = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
            params["data"]["synthetic"]["n_customers"] = DEMO_CUSTOMERS
            job = home / "demo.yaml"
            job.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
            uri = f"sqlite:///{home / 'mlflow.db'}"
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("CRM_OUTPUT_DIR", str(home / "outputs"))
                mp.setenv("MLFLOW_TRACKING_URI", uri)
                result = run_job(job, quiet=True)
            assert result.exit_code == EXIT_OK, result.manifest.get("error")
            done.write_text(json.dumps({"run_dir": str(result.run_dir), "uri": uri}),
                            encoding="utf-8")
    info = json.loads(done.read_text(encoding="utf-8"))
    return {"run_dir": Path(info["run_dir"]), "uri": info["uri"], "home": home}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return demo_run(tmp_path_factory, 0), demo_run(tmp_path_factory, 1)


def manifest(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads((run["run_dir"] / "manifest.json").read_text(encoding="utf-8"))


def test_same_params_and_inputs_give_the_same_tables(runs: tuple[dict, dict]) -> None:
    a, b = (r["run_dir"] for r in runs)
    assert a.name != b.name
    tables = sorted(p.relative_to(a) for p in (a / "data").glob("*.parquet"))
    assert {"data/bookings.parquet", "data/customers.parquet", "data/clv.parquet"} <= {
        str(t) for t in tables}
    assert sorted(p.relative_to(b) for p in (b / "data").glob("*.parquet")) == tables
    for rel in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(a / rel), pd.read_parquet(b / rel),
                                      check_exact=True, obj=str(rel))
    logged = sorted(p.relative_to(a) for p in (a / "tables").rglob("*.csv"))
    assert logged and sorted(p.relative_to(b) for p in (b / "tables").rglob("*.csv")) == logged
    for rel in [*logged, Path("rejects.csv")]:  # paths of the run folders aside
        text_a = (a / rel).read_text(encoding="utf-8").replace(str(a), "<run>")
        text_b = (b / rel).read_text(encoding="utf-8").replace(str(b), "<run>")
        assert text_a == text_b, rel


def test_same_metrics_inputs_and_row_counts(runs: tuple[dict, dict]) -> None:
    ma, mb = (manifest(r) for r in runs)
    assert ma["metrics"] and ma["metrics"] == mb["metrics"]
    assert ma["rows"] == mb["rows"]
    hashes = {t: s["sha256"] for t, s in ma["inputs"].items() if s.get("sha256")}
    assert set(hashes) >= {"customers", "bookings"}
    assert hashes == {t: s["sha256"] for t, s in mb["inputs"].items() if s.get("sha256")}
    assert ma["params"] == mb["params"]


def test_manifest_records_what_a_rerun_needs(runs: tuple[dict, dict]) -> None:
    m = manifest(runs[0])
    assert m["params"]["seed"] == 42 and m["params"]["data"]["synthetic"]["n_customers"] == DEMO_CUSTOMERS
    assert yaml.safe_load((runs[0]["run_dir"] / "params.yaml").read_text(encoding="utf-8")) == m["params"]
    assert set(m["code"]) == {"commit", "dirty"}
    assert m["code"]["commit"] is None or len(m["code"]["commit"]) == 40
    for package in ("python", "numpy", "pandas", "scipy", "lifelines", "mlflow", "papermill"):
        assert m["packages"][package], package
    assert all(len(s["sha256"]) == 64 for s in m["inputs"].values() if s.get("sha256"))
    assert all(n["status"] == "succeeded" and n["peak_rss_mb"] > 50 for n in m["notebooks"])
