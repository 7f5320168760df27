"""The one benchmark entry point runs at tiny size (each script has its own smoke test too)."""

from __future__ import annotations

import subprocess
import sys

from src.paths import PROJECT_ROOT


def test_run_py_lists_and_runs_a_benchmark() -> None:
    out = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "run.py"), "--sizes", "500",
                          "--only", "generator"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "## generator" in out.stdout and "| " in out.stdout and "exit code 0" in out.stdout


def test_churn_segmentation_scoring_benchmarks_run_tiny() -> None:
    out = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "run.py"), "--sizes", "2000",
                          "--only", "churn", "segmentation", "scoring"], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.count("exit code 0") == 3 and "failed" not in out.stdout
