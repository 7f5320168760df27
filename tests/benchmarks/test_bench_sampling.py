"""bench_sampling.py runs at tiny size: full vs sampled fits of the three sampled models."""

from __future__ import annotations

import json
import subprocess
import sys

from src.paths import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "benchmarks" / "bench_sampling.py"


def test_bench_sampling_runs_tiny(tmp_path) -> None:
    records = tmp_path / "records.jsonl"
    out = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "2000", "--churn-models", "coxph",
                          "--records", str(records)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    table = out.stdout
    assert "| model | metric | full | sampled (n) | difference |" in table
    for model in ("segmentation", "churn coxph", "repeat model"):
        assert f"| {model} | " in table, model
    assert "| segmentation | ARI full vs sampled, all 2,000 customers | 1 |" in table
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert {(r["case"], r["implementation"].split()[0]) for r in rows} == {
        (f"{m} fit", v) for m in ("segmentation", "churn coxph", "repeat model")
        for v in ("full", "sampled")}
    assert all(r["benchmark"] == "sampling" and r["customers"] == 2000 and r["wall_s"] > 0
               for r in rows)
