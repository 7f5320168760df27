"""The ``crm`` command line: generate, runs, show, and its error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from src.cli import main


@pytest.fixture(autouse=True)
def _outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))


def test_generate_writes_parquet_tables(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "syn"
    assert main(["generate", "--customers", "300", "--seed", "3", "--out", str(out), "--quiet"]) == 0
    customers = pd.read_parquet(out / "customers.parquet")
    bookings = pd.read_parquet(out / "bookings.parquet")
    assert len(customers) == 300
    assert set(bookings["customer_id"]) <= set(customers["customer_id"])
    assert "bookings" in capsys.readouterr().out


def test_run_with_params_typo_exits_2_naming_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("job: x\nnotebooks: [01_data_quality]\ndata: {synthetic: {n_customer: 5}}\n",
                   encoding="utf-8")
    assert main(["run", str(job)]) == 2
    err = capsys.readouterr().err
    assert "job.yaml" in err and "data.synthetic.n_customer" in err and "n_customers" in err


def test_runs_and_show(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["runs"]) == 0
    assert "no runs" in capsys.readouterr().out
    run = tmp_path / "outputs" / "runs" / "20260101-000000-demo-abcd"
    run.mkdir(parents=True)
    manifest = {"run_id": run.name, "status": "succeeded", "duration_seconds": 12.5,
                "metrics": {"01_data_quality": {"customers": 500.0}}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert run.name in out and "succeeded" in out and "customers=500" in out
    assert main(["show", run.name]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == run.name
    assert main(["show", "nope"]) == 2


def test_chunked_generate_then_features_by_parts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "big"
    assert main(["generate", "--customers", "500", "--chunk-customers", "200", "--out", str(out),
                 "--quiet"]) == 0
    assert len(list((out / "bookings").glob("part-*.parquet"))) == 3
    feats = tmp_path / "features.parquet"
    args = ["features", "--bookings", str(out / "bookings"), "--customers", str(out / "customers"),
            "--cutoff", "2025-12-31", "--output", str(feats), "--parts", "2", "--quiet"]
    assert main(args) == 0
    assert "500 customers in 2 parts" in capsys.readouterr().out
    frame = pd.read_parquet(feats)
    assert frame["customer_id"].is_unique and len(frame) == 500
    assert main([*args[:2], str(tmp_path / "missing"), *args[3:]]) == 2
    assert "missing" in capsys.readouterr().err
