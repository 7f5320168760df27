"""A published run's list members go to the campaign register; a run that fails after that
takes its publication back out."""

from __future__ import annotations

import pandas as pd

from src.layout import RunLayout
from src.loop.campaign_register import read_register
from src.runner.publication import record_campaigns, unrecord_campaigns


def _run(tmp_path, register) -> tuple[RunLayout, dict]:
    layout = RunLayout(tmp_path / "run-1")
    layout.exports_dir.mkdir(parents=True)
    layout.data_dir.mkdir(parents=True)
    pd.DataFrame({"run_id": "run-1", "list": ["a", "a", "a", "b"],
                  "customer_id": ["1", "2", "3", "4"],
                  "arm": ["treated", "treated", "control", "treated"],
                  "cutoff_date": "2025-09-30", "clv": 1.0}).to_parquet(
        layout.campaign_assignments_file)
    manifest = {"job": "j", "run_id": "run-1",
                "params": {"campaigns": {"register_dir": str(register)}}}
    return layout, manifest


def test_record_then_unrecord(tmp_path):
    register = tmp_path / "register"
    layout, manifest = _run(tmp_path, register)
    record_campaigns(layout.root, manifest, "2025-10-01T00:00:00")
    assert manifest["campaigns"]["lists"] == {"a": {"treated": 2, "control": 1},
                                              "b": {"treated": 1, "control": 0}}
    reg = read_register(register, "j")
    assert len(reg) == 4 and set(reg["run_id"]) == {"run-1"}
    unrecord_campaigns(manifest)
    assert read_register(register, "j").empty and manifest["campaigns"]["withdrawn"]


def test_nothing_exported_nothing_recorded(tmp_path):
    register = tmp_path / "register"
    layout, manifest = _run(tmp_path, register)
    layout.exports_dir.rmdir()  # lists withheld: no exports folder
    record_campaigns(layout.root, manifest, "2025-10-01T00:00:00")
    assert "campaigns" not in manifest and read_register(register, "j").empty
