"""What a notebook gets from open_run: under the runner its run folder; opened by hand, the
job's latest successful run (or data prepared once) to read and a fresh scratch folder to write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

import src.runner.notebook as notebook_module
from src.data.loading import LoadedData
from src.data.synthetic import generate
from src.layout import RunLayout
from src.params import JobParams, load_params
from src.paths import PARAMS_DIR
from src.runner.notebook import data_settings_key, latest_successful_run, open_run

N_CUSTOMERS = 300


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store (SQLite) for the module: creating one costs seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        mlflow_uri: str) -> Iterator[dict[str, Path | str]]:
    """Outputs in tmp_path, the module's MLflow store, a small demo job file; no MLflow run
    left open."""
    outputs = tmp_path / "outputs"
    uri = mlflow_uri
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(outputs))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    data = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    data["data"]["synthetic"]["n_customers"] = N_CUSTOMERS
    job = tmp_path / "demo.yaml"
    job.write_text(yaml.safe_dump(data), encoding="utf-8")
    yield {"outputs": outputs, "runs": outputs / "runs", "job": job, "uri": uri}
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def prepare_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Run folders the data step was prepared into by open_run (the real step still runs)."""
    calls: list[Path] = []
    real = notebook_module.prepare_inputs

    def counting(params: JobParams, layout: RunLayout) -> LoadedData:
        calls.append(layout.root)
        return real(params, layout)

    monkeypatch.setattr(notebook_module, "prepare_inputs", counting)
    return calls


def fake_run(runs: Path, name: str, params: JobParams, *, status: str = "succeeded",
             with_data: bool = True, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """A run folder as the runner leaves it: manifest.json (+ the clean bookings table)."""
    layout = RunLayout(runs / name)
    layout.root.mkdir(parents=True)
    layout.write_json(layout.manifest_file, {"run_id": name, "job": params.job, "status": status,
                                             "params": params.model_dump(mode="json")})
    if with_data:
        layout.write_tables(tables or {"bookings": pd.DataFrame({"customer_id": ["c1"]})})
    return layout.root


# ---- latest_successful_run ---------------------------------------------------------------


def decoy(kind: str, runs: Path, params: JobParams, job: Path) -> None:
    """A run newer than the good one that must not be read."""
    name = f"20250103-000000-{params.job}-{kind}"
    if kind == "failed":
        fake_run(runs, name, params, status="failed")
    elif kind == "running":
        fake_run(runs, name, params, status="running")
    elif kind == "other_job":
        fake_run(runs, "20250103-000000-other-0001", params.model_copy(update={"job": "other"}))
    elif kind == "other_size":
        fake_run(runs, name, load_params(job, {"data.synthetic.n_customers": N_CUSTOMERS + 1}))
    elif kind == "other_seed":
        fake_run(runs, name, load_params(job, {"data.synthetic.seed": 7}))
    elif kind == "other_cutoff":
        fake_run(runs, name, load_params(job, {"data.cutoff_date": "2025-06-30"}))
    elif kind == "no_data":
        fake_run(runs, name, params, with_data=False)
    elif kind == "broken_manifest":
        (runs / name).mkdir(parents=True)
        (runs / name / "manifest.json").write_text("{half a manifest", encoding="utf-8")
    elif kind == "old_schema":
        fake_run(runs, name, params)
        layout = RunLayout(runs / name)
        layout.write_json(layout.manifest_file, {"job": params.job, "status": "succeeded",
                                                 "params": {"job": params.job, "nb": ["01"]}})
    else:
        raise AssertionError(kind)


DECOYS = ["failed", "running", "other_job", "other_size", "other_seed", "other_cutoff", "no_data",
          "broken_manifest", "old_schema"]


@pytest.mark.parametrize("kind", DECOYS)
def test_latest_successful_run_skips_a_newer_run_that_does_not_fit(env: dict, kind: str) -> None:
    params = load_params(env["job"])
    good = fake_run(env["runs"], "20250101-000000-demo-0001", params)
    decoy(kind, env["runs"], params, env["job"])
    assert latest_successful_run(params) == good
    assert latest_successful_run(params, env["runs"]) == good


def test_latest_successful_run_picks_the_newest_fitting_run(env: dict) -> None:
    params = load_params(env["job"])
    runs = env["runs"]
    fake_run(runs, "20250101-000000-demo-0001", params)
    newest = fake_run(runs, "20250102-000000-demo-0002", params)
    for kind in DECOYS:
        decoy(kind, runs, params, env["job"])
    assert latest_successful_run(params) == newest


def test_latest_successful_run_ignores_settings_other_than_data(env: dict) -> None:
    params = load_params(env["job"])
    other_model = load_params(env["job"], {"churn.gap_days": 180, "seed": 1})
    assert data_settings_key(other_model) == data_settings_key(params)
    run = fake_run(env["runs"], "20250101-000000-demo-0001", other_model)
    assert latest_successful_run(params) == run


def test_latest_successful_run_without_runs_is_none(env: dict) -> None:
    params = load_params(env["job"])
    assert latest_successful_run(params) is None  # no runs folder at all
    fake_run(env["runs"], "20250101-000000-demo-0001", params, status="failed")
    assert latest_successful_run(params) is None


def test_data_settings_key_is_short_and_follows_the_data_settings(env: dict) -> None:
    params = load_params(env["job"])
    key = data_settings_key(params)
    assert len(key) == 10 and key == data_settings_key(load_params(env["job"]))
    assert key != data_settings_key(load_params(env["job"], {"data.synthetic.n_customers": 301}))


# ---- open_run, interactive ---------------------------------------------------------------


def test_interactive_without_runs_prepares_the_data_once(env: dict, prepare_calls: list[Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    params = load_params(env["job"])
    prepared = env["outputs"] / "scratch" / params.job / f"data-{data_settings_key(params)}"

    first = open_run(str(env["job"]), "", "", notebook="02_segmentation")
    first.close()
    out = capsys.readouterr().out
    assert prepare_calls == [prepared]
    assert first.interactive and first.source.root == prepared and first.source.has_data()
    assert "preparing its data step once" in out
    assert first.banner in out and "prepared its data in" in first.banner
    assert str(prepared) in first.banner and str(first.layout.root) in first.banner
    bookings = prepared / "data" / "bookings.parquet"
    stamp = bookings.stat().st_mtime_ns

    second = open_run(str(env["job"]), "", "", notebook="03_churn_survival")
    second.close()
    out = capsys.readouterr().out
    assert prepare_calls == [prepared]  # not prepared again
    assert second.source.root == prepared and bookings.stat().st_mtime_ns == stamp
    assert "reading the data prepared in" in second.banner and str(prepared) in second.banner
    assert "preparing" not in out

    scratch = env["outputs"] / "scratch"
    for ctx in (first, second):
        assert ctx.layout != ctx.source
        assert ctx.layout.root.parent == scratch and ctx.layout.root.is_dir()
        assert re.fullmatch(rf"\d{{8}}-\d{{6}}-{ctx.notebook}-[0-9a-f]{{4}}", ctx.layout.root.name)
        assert ctx.run_dir == ctx.layout.root
    assert first.layout != second.layout
    assert not (env["outputs"] / "runs").exists()  # nothing written where runs live
    bookings_read = second.tables()["bookings"]
    assert len(bookings_read) == len(pd.read_parquet(bookings))


def test_interactive_reads_the_latest_successful_run(env: dict, prepare_calls: list[Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    params = load_params(env["job"])
    tables = generate(N_CUSTOMERS, seed=1).tables()
    fake_run(env["runs"], "20250101-000000-demo-0001", params, tables=tables)
    latest = fake_run(env["runs"], "20250102-000000-demo-0002", params, tables=tables)
    fake_run(env["runs"], "20250103-000000-demo-0003", params, status="failed")
    before = sorted(p.relative_to(latest) for p in latest.rglob("*"))

    ctx = open_run(str(env["job"]), "", "", notebook="04_loyalty_clv")
    ctx.close()
    out = capsys.readouterr().out
    assert prepare_calls == []
    assert ctx.source == RunLayout(latest) and ctx.layout != ctx.source
    assert ctx.layout.root.parent == env["outputs"] / "scratch"
    assert "reading run 20250102-000000-demo-0002 (read only)" in ctx.banner
    assert ctx.banner in out and str(ctx.layout.root) in ctx.banner
    assert len(ctx.tables()["bookings"]) == len(tables["bookings"])
    assert sorted(p.relative_to(latest) for p in latest.rglob("*")) == before  # read only


def test_interactive_data_step_reads_nothing(env: dict, prepare_calls: list[Path]) -> None:
    params = load_params(env["job"])
    fake_run(env["runs"], "20250101-000000-demo-0001", params)
    ctx = open_run(str(env["job"]), notebook="01_data_quality", needs_data=False)
    ctx.close()
    assert prepare_calls == []  # the notebook itself prepares the data
    assert ctx.source == ctx.layout and ctx.interactive
    assert "data step" in ctx.banner


def test_interactive_run_logs_to_its_own_tagged_mlflow_run(env: dict) -> None:
    fake_run(env["runs"], "20250101-000000-demo-0001", load_params(env["job"]))
    ctx = open_run(str(env["job"]), notebook="02_segmentation")
    ctx.log_metrics({"silhouette": 0.25, "label": "not a number", "nan": float("nan")})
    ctx.close()
    run = MlflowClient(env["uri"]).get_run(ctx.mlflow_run_id)
    assert run.data.tags["crm.interactive"] == "true"
    assert run.data.tags["crm.notebook"] == "02_segmentation"
    assert run.data.metrics == {"silhouette": 0.25}
    assert ctx.layout.read_metrics() == {"silhouette": 0.25}


# ---- open_run under the runner -----------------------------------------------------------


def test_with_a_run_dir_layout_and_source_are_that_folder(env: dict, prepare_calls: list[Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = env["runs"] / "20250101-000000-demo-0001"
    client = MlflowClient(env["uri"])
    exp = client.create_experiment("runner-made")
    nested = client.create_run(exp).info.run_id

    ctx = open_run(str(env["job"]), str(run_dir), nested, notebook="02_segmentation")
    ctx.close()
    assert prepare_calls == []
    assert not ctx.interactive
    assert ctx.layout == ctx.source == RunLayout(run_dir) and run_dir.is_dir()
    assert ctx.mlflow_run_id == nested
    assert ctx.banner == f"run folder {run_dir.name}"
    assert ctx.banner in capsys.readouterr().out
    assert not (env["outputs"] / "scratch").exists()
