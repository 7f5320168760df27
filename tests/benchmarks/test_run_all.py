"""benchmarks/run.py: the whole job at a tiny size, the combined table, and the shared helpers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from src.paths import PARAMS_DIR, PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_run_py_whole_job_tiny_prints_every_table_and_the_combined_one(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    runs = PROJECT_ROOT / "outputs" / "runs"
    before = set(runs.glob("*scale_1m*"))
    out = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "500", "--only",
                          "generator", "job", "--records", str(records)],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.startswith("# benchmarks on ") and "CPUs" in out.stdout and "RAM" in out.stdout
    assert "## generator" in out.stdout and "## job" in out.stdout
    assert out.stdout.count("exit code 0") == 2
    assert "| 500 | succeeded |" in out.stdout  # the job's own table

    combined = out.stdout.split("## combined", 1)[1]
    notebooks = yaml.safe_load((PARAMS_DIR / "scale_1m.yaml").read_text())["notebooks"]
    assert "| benchmark | case | customers | implementation | wall s | peak MB | × vs ours |" in combined
    assert "| generator | generate | 500 | ours |" in combined
    assert "| job | whole job | 500 | ours |" in combined
    for name in notebooks:
        assert f"| job | job: {name} | 500 | ours |" in combined

    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert all(list(r) == ["benchmark", "case", "customers", "implementation", "wall_s",
                           "peak_rss_mb", "notes"] for r in rows)
    job = {r["case"]: r for r in rows if r["benchmark"] == "job"}
    assert set(job) == {"whole job", *(f"job: {name}" for name in notebooks)}
    assert job["whole job"]["wall_s"] > sum(job[f"job: {n}"]["wall_s"] for n in notebooks) * 0.9
    assert job["whole job"]["peak_rss_mb"] > 50
    assert set(runs.glob("*scale_1m*")) == before  # the job ran in a temporary outputs folder


def test_combined_table_orders_groups_and_divides_peers_by_ours() -> None:
    run = _load("run")
    common = _load("_common")
    records = [
        common.record("churn", "Cox fit", 1000, 6.0, 300.0, implementation="lifelines"),
        common.record("churn", "Cox fit", 1000, 2.0, 300.0),
        common.record("churn", "Cox fit", 100, 1.0, None),
        common.record("btyd", "BG/NBD fit", 100, None, None, implementation="lifetimes",
                      notes="not installed"),
        common.record("btyd", "BG/NBD fit", 100, 0.05, 120.0),
        common.record("btyd", "floor", 100, 3e-5, 120.0, implementation="peer-only"),
    ]
    lines = run.combined_table(records).splitlines()[2:]
    assert [line.split(" | ")[:4] for line in lines] == [
        ["| btyd", "BG/NBD fit", "100", "ours"], ["| btyd", "BG/NBD fit", "100", "lifetimes"],
        ["| btyd", "floor", "100", "peer-only"],
        ["| churn", "Cox fit", "100", "ours"],
        ["| churn", "Cox fit", "1,000", "ours"], ["| churn", "Cox fit", "1,000", "lifelines"]]
    assert lines[1].endswith("| – | – | – | not installed |")  # no time: no ratio
    assert "| 3.0e-05 | 120 | – |" in lines[2]  # no "ours" in its group: no ratio
    assert lines[4].endswith("| 2.00 | 300 | – |  |")
    assert lines[5].endswith("| 6.00 | 300 | 3.00× |  |")


def test_run_py_passes_records_only_to_scripts_that_take_them(tmp_path: Path) -> None:
    run = _load("run")
    with_option, without = tmp_path / "bench_a.py", tmp_path / "bench_b.py"
    with_option.write_text('ap.add_argument("--records")\n')
    without.write_text('ap.add_argument("--sizes")\n')
    assert run.accepts_records(with_option) and not run.accepts_records(without)
    assert {"generator", "btyd", "segmentation", "churn", "job"} <= set(run.scripts())
    assert all(run.accepts_records(run.scripts()[name])
               for name in ("generator", "btyd", "segmentation", "churn", "job"))


def test_run_child_measures_each_child_alone_and_reports_failures(tmp_path: Path) -> None:
    common = _load("_common")
    big = common.run_child([sys.executable, "-c", "import json; b = bytearray(300 * 2**20); "
                            "b[::4096] = b'x' * len(b[::4096]); print(json.dumps({'wall_s': 1}))"])
    small = common.run_child([sys.executable, "-c", "print('{\"wall_s\": 2}')"])
    assert big["wall_s"] == 1 and small["wall_s"] == 2  # the child's own keys are kept
    assert big["process_peak_rss_mb"] > 300 > small["process_peak_rss_mb"]  # per child
    assert 0 < small["process_wall_s"] < 60
    with pytest.raises(common.ChildFailedError, match="ZeroDivisionError") as failed:
        common.run_child([sys.executable, "-c", "1 / 0"])
    assert failed.value.returncode == 1
    assert failed.value.last_line.startswith("ZeroDivisionError")
    with pytest.raises(common.ChildFailedError, match="timed out"):
        common.run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)

    path = tmp_path / "r.jsonl"
    common.write_records(path, [common.record("x", "a", 10, 0.5)])
    common.write_records(path, [common.record("x", "b", 10, float("nan"), 12)])
    assert [(r["case"], r["wall_s"]) for r in common.read_records(path)] == [("a", 0.5),
                                                                             ("b", None)]
    with pytest.raises(ValueError, match="lacks"):
        common.write_records(path, [{"benchmark": "x"}])
