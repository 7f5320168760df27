"""Reproducibility: the demo job run twice with the same params and inputs gives the same
tables, rejects, metrics and input hashes; the manifest records what is needed to re-run it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

DEMO_CUSTOMERS = 400  # tests/conftest.py makes the shared demo runs with this many customers


@pytest.fixture(scope="module")
def runs(demo_runs) -> tuple[dict[str, Any], dict[str, Any]]:
    return demo_runs(0), demo_runs(1)


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
    for rel in [*logged, Path("rejects.csv")]:  # paths and ids of the run folders aside
        text_a = (a / rel).read_text(encoding="utf-8").replace(str(a), "<run>").replace(
            a.name, "<run id>")
        text_b = (b / rel).read_text(encoding="utf-8").replace(str(b), "<run>").replace(
            b.name, "<run id>")
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
