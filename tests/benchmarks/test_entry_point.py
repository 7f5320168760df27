"""The one benchmark entry point runs at tiny size (each script has its own smoke test too;
generator and the whole job: test_run_all.py)."""

from __future__ import annotations

import subprocess
import sys

from src.paths import PROJECT_ROOT


def test_churn_segmentation_scoring_benchmarks_run_tiny() -> None:
    out = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "run.py"), "--sizes", "2000",
                          "--only", "churn", "segmentation", "scoring"], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.count("exit code 0") == 3 and "failed" not in out.stdout
    combined = out.stdout.split("## combined", 1)[1]
    assert "| churn | Cox fit | 2,000 | ours |" in combined
    assert "| churn | Cox fit | 2,000 | lifelines |" in combined and "×" in combined
    assert "| segmentation | segmentation fit | 2,000 | ours |" in combined
