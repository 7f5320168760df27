"""``crm kpis`` and the run lookups of ``07_kpis`` (:mod:`src.commands.kpi_report`) on run
folders made by hand in a tmp outputs folder (``CRM_OUTPUT_DIR``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from src.cli import main
from src.commands.kpi_report import (
    KpiBaselineError,
    format_kpi_table,
    kpi_inputs,
    read_kpi_table,
    write_kpi_table,
)
from src.layout import RunLayout
from src.loop.kpis import HEADLINE_COLUMNS, KpiSnapshot, kpi_table
from src.paths import runs_dir

VALUES = {"repeat_rate": 0.5, "churn_rate": 0.05, "nps": float("nan"), "csat": 4.0,
          "active_customers": 1000.0, "revenue_per_active": 200.0}


@pytest.fixture(autouse=True)
def _outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))


def _run(run_id: str, cutoff: str, *, job: str = "demo", status: str = "succeeded",
         values: dict[str, float] | None = None, baseline: KpiSnapshot | None = None,
         targets: dict[str, str] | None = None) -> RunLayout:
    """A run folder with a manifest and, given ``values``, a kpis.csv."""
    layout = RunLayout(runs_dir() / run_id)
    layout.root.mkdir(parents=True)
    layout.write_json(layout.manifest_file, {"run_id": run_id, "job": job, "status": status,
                                             "cutoff_date": cutoff, "started_at": run_id[:15]})
    if values is not None:
        current = KpiSnapshot(run_id, date.fromisoformat(cutoff), values)
        write_kpi_table(layout.kpis_file, kpi_table(current, None, baseline or current,
                                                    targets or {}))
    return layout


def test_no_runs_exits_2_naming_what_to_run(capsys: pytest.CaptureFixture) -> None:
    assert main(["kpis"]) == 2
    err = capsys.readouterr().err
    assert "no runs" in err and "07_kpis" in err and "crm run" in err


def test_a_job_without_kpis_exits_2_naming_what_to_run(capsys: pytest.CaptureFixture) -> None:
    _run("20260101-000000-demo-aaaa", "2025-12-31")  # 07_kpis did not run
    assert main(["kpis"]) == 2
    err = capsys.readouterr().err
    assert "'demo'" in err and "07_kpis" in err and "params/demo.yaml" in err
    assert "crm run demo" in err
    assert main(["kpis", "shop"]) == 2
    assert "no run of job 'shop'" in capsys.readouterr().err
    assert main(["kpis", "--run", "20260101-000000-demo-aaaa"]) == 2
    assert "has no KPIs" in capsys.readouterr().err
    assert main(["kpis", "--run", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_prints_the_latest_run_with_kpis(capsys: pytest.CaptureFixture) -> None:
    first = _run("20260101-000000-demo-aaaa", "2025-06-30", values=VALUES)
    base = KpiSnapshot(first.root.name, date(2025, 6, 30), VALUES)
    _run("20260102-000000-demo-bbbb", "2025-12-31", baseline=base,
         values={**VALUES, "repeat_rate": 0.58, "churn_rate": 0.06},
         targets={"repeat_rate": "+20% by 2026-06", "churn_rate": "-0.01 by 2026-06"})
    _run("20260103-000000-demo-cccc", "2026-03-31", status="failed", values=VALUES)
    _run("20260104-000000-other-dddd", "2025-12-31", job="other")
    assert main(["kpis", "demo"]) == 0
    out = capsys.readouterr().out
    assert "run 20260102-000000-demo-bbbb" in out and "cut-off 2025-12-31" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    # half way to the targets: repeat 0.55 expected, 0.58 on track; churn 0.045, 0.06 behind
    assert "58.0%" in lines["repeat_rate"] and "60.0%" in lines["repeat_rate"]
    assert "55.0%" in lines["repeat_rate"] and lines["repeat_rate"].endswith("on track")
    assert "4.5%" in lines["churn_rate"] and lines["churn_rate"].endswith("behind")
    assert "no feedback" in lines["nps"] and lines["nps"].endswith("no target")
    assert "1,000" in lines["active_customers"]
    assert "baseline: 20260101-000000-demo-aaaa" in out
    # the latest run is of another job without KPIs: `crm kpis` names that job
    assert main(["kpis"]) == 2
    assert "'other'" in capsys.readouterr().err
    assert main(["kpis", "--run", "20260101-000000-demo-aaaa"]) == 0
    assert "cut-off 2025-06-30" in capsys.readouterr().out


def test_kpis_csv_round_trip_keeps_columns_and_types() -> None:
    layout = _run("20260101-000000-demo-aaaa", "2025-12-31", values=VALUES,
                  targets={"csat": "4.5 by 2026-12"})
    raw = pd.read_csv(layout.kpis_file)
    assert list(raw.columns) == list(HEADLINE_COLUMNS)
    table = read_kpi_table(layout.kpis_file).set_index("kpi")
    assert table.at["csat", "target_date"] == "2026-12-31" and table.at["csat", "target"] == 4.5
    assert table.at["nps", "target_date"] is None and table.at["nps", "last_run_id"] is None
    assert table["greater_is_better"].tolist() == [True, False, True, True, True, True]
    assert table.at["repeat_rate", "month"] == "2025-12"
    assert "csat" in format_kpi_table(table.reset_index())
    with pytest.raises(ValueError, match="columns"):
        write_kpi_table(layout.kpis_file, table)  # kpi as the index: not the headline columns


def test_kpi_inputs_last_run_and_baseline() -> None:
    _run("20260101-000000-demo-aaaa", "2025-03-31", values={**VALUES, "csat": 3.0})
    _run("20260102-000000-demo-bbbb", "2025-06-30", values={**VALUES, "csat": 3.5})
    _run("20260103-000000-demo-cccc", "2025-09-30")  # no KPIs
    _run("20260104-000000-demo-dddd", "2026-06-30", values=VALUES)  # later cut-off
    _run("20260105-000000-demo-eeee", "2025-08-31", status="failed", values=VALUES)
    last, baseline = kpi_inputs("demo", "this-run", date(2025, 12, 31))
    assert last.run_id == "20260102-000000-demo-bbbb" and last.value("csat") == 3.5
    assert baseline.run_id == "20260101-000000-demo-aaaa" and baseline.value("csat") == 3.0
    assert baseline.cutoff_date == date(2025, 3, 31)
    last, baseline = kpi_inputs("demo", "this-run", date(2025, 12, 31),
                                "20260102-000000-demo-bbbb")
    assert baseline.run_id == last.run_id == "20260102-000000-demo-bbbb"
    # the first run with KPIs is its own baseline; so is a run that names itself
    assert kpi_inputs("demo", "this-run", date(2025, 1, 31)) == (None, None)
    assert kpi_inputs("demo", "this-run", date(2025, 12, 31), "this-run")[1] is None
    # a run does not compare with itself
    last, baseline = kpi_inputs("demo", "20260102-000000-demo-bbbb", date(2025, 6, 30))
    assert last.run_id == baseline.run_id == "20260101-000000-demo-aaaa"


@pytest.mark.parametrize("name, message", [("nope", "does not exist"),
                                           ("20260103-000000-demo-cccc", "has no data/kpis.csv")])
def test_a_named_baseline_must_have_kpis(name: str, message: str) -> None:
    _run("20260101-000000-demo-aaaa", "2025-03-31", values=VALUES)
    _run("20260103-000000-demo-cccc", "2025-09-30")
    with pytest.raises(KpiBaselineError, match=message) as err:
        kpi_inputs("demo", "this-run", date(2025, 12, 31), name)
    assert "20260101-000000-demo-aaaa" in str(err.value)  # names the runs that have KPIs


def test_crm_help_lists_kpis(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "kpis" in capsys.readouterr().out
