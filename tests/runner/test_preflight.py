"""Checks before the first notebook and in the data step: a job that cannot succeed stops with
exit 2 and a message naming the key to change, before any model runs.

- ``export.columns`` naming columns the run cannot produce (``crm run`` refuses, listing the
  available ones); the default (no ``export.columns``) is the default list columns the run has;
- no consent column while the job exports lists (unless ``export.allow_empty``), before the
  run and in the data step; every list empty at export time;
- a history shorter than the churn windows (data step, exit 2, values that fit);
- one reject-share key, ``data_quality.max_reject_share``, for mapped sources too;
- a notebook raising a data error (a subclass too) is exit 2, never 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from src.cli import main
from src.data.errors import DataValidationError, InsufficientDataError
from src.export.marketing import export_marketing, list_columns
from src.layout import RunLayout
from src.params import ParamsError, load_params
from src.params.schema import DEFAULT_LIST_COLUMNS, ExportParams
from src.runner import data_step, preflight
from src.runner.failures import is_bad_input
from src.runner.run import EXIT_BAD_INPUT, run_job
from tests.helpers import job_file, write_notebook
from tests.runner.refusals import refused_by_the_data_step, summary_of

HEADER = "booking_id,customer_id,booking_date,amount,status\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def bookings_file(folder: Path, n: int = 60) -> Path:
    """``n`` bookings of 12 customers in 2024, no item columns (destination type, product)."""
    rows = [f"B{i},C{i % 12},2024-{1 + i % 12:02d}-{1 + i % 27:02d},{50 + i},completed\n"
            for i in range(n)]
    path = folder / "bookings.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def customers_file(folder: Path, *, consent: bool) -> Path:
    extra = ",consent_email" if consent else ""
    rows = "".join(f"C{i},2023-12-01{',1' if consent else ''}\n" for i in range(12))
    path = folder / "customers.csv"
    path.write_text(f"customer_id,signup_date{extra}\n{rows}", encoding="utf-8")
    return path




def mapped(folder: Path, *, customers: bool = True, consent: bool = True) -> dict[str, Any]:
    tables: dict[str, Any] = {"bookings": {"path": str(bookings_file(folder))}}
    if customers:
        tables["customers"] = {"path": str(customers_file(folder, consent=consent))}
    return {"source": {"tables": tables, "as_of_date": "2025-01-01"}}


ALL = ["01_data_quality", "02_segmentation", "03_churn_survival", "04_loyalty_clv",
       "05_score_export"]


# ------------------------------------------------------------------------------------------
# export.columns
# ------------------------------------------------------------------------------------------
def test_explicit_export_columns_the_run_cannot_produce_stop_before_the_first_notebook(
        env: Path) -> None:
    path = job_file(env, ALL, data=mapped(env),
               export={"columns": ["customer_id", "clv", "suggested_destination_type",
                                   "suggested_product"]})
    with pytest.raises(ParamsError) as info:
        run_job(path, quiet=True)
    msg = str(info.value)
    assert "export.columns" in msg and "job.yaml" in msg
    assert "['suggested_destination_type', 'suggested_product']" in msg
    assert "available:" in msg and "'churn_prob_365d'" in msg and "'channel'" in msg
    assert not (env / "outputs" / "runs").exists() or not any((env / "outputs" / "runs").iterdir())
    assert main(["run", str(path), "--quiet"]) == EXIT_BAD_INPUT


def test_default_export_columns_are_the_default_list_columns_the_run_produces(env: Path) -> None:
    params = load_params(job_file(env, ALL, data=mapped(env)))
    assert params.export.columns is None
    assert preflight.preflight_problems(params) == []
    available = preflight.available_list_columns(params)
    assert "suggested_product" not in available  # the bookings have no product column
    columns = list_columns(params.export, available)
    assert columns == [c for c in DEFAULT_LIST_COLUMNS if c in available]
    assert "suggested_product" not in columns and "customer_id" in columns
    # the synthetic company has every item column: the full default list
    synthetic = load_params(job_file(env, ALL))
    assert list_columns(synthetic.export, preflight.available_list_columns(synthetic)) == \
        DEFAULT_LIST_COLUMNS
    # an explicit list is strict at export time too
    with pytest.raises(ParamsError, match="export.columns"):
        list_columns(ExportParams(columns=["customer_id", "nope"]), available)


def test_preflight_reads_source_columns_through_the_data_layer(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a mapped source provides comes from the data layer's header reader."""
    seen = []

    def fake(source: Any, table: str, base_dir: Path) -> set[str]:
        seen.append(table)
        return {"customer_id", "booking_date", "amount", "product"} if table == "bookings" \
            else {"customer_id", "consent_sms"}

    monkeypatch.setattr(preflight, "mapped_columns", fake)
    params = load_params(job_file(env, ALL, data=mapped(env), export={"columns": ["suggested_product"]}))
    assert preflight.preflight_problems(params) == []
    assert set(seen) == {"bookings", "customers"}


# ------------------------------------------------------------------------------------------
# consent
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("customers", [True, False])
def test_no_consent_column_with_lists_to_export_stops_before_the_first_notebook(
        env: Path, customers: bool) -> None:
    path = job_file(env, ALL, data=mapped(env, customers=customers, consent=False))
    with pytest.raises(ParamsError) as info:
        run_job(path, quiet=True)
    msg = str(info.value)
    key = ("data.source.tables.customers.defaults" if customers
           else "data.source.customer_defaults")  # no customers table: the derived one's
    assert f"{key}.consent_email: true" in msg
    assert "export.allow_empty: true" in msg and "do_not_contact" in msg
    allowed = load_params(path, {"export.allow_empty": True})
    assert preflight.preflight_problems(allowed) == []
    without_export = load_params(path, {"notebooks": ALL[:4]})
    assert preflight.preflight_problems(without_export) == []


def test_data_step_refuses_customers_without_consent_when_lists_are_exported(env: Path) -> None:
    params = load_params(job_file(env, ALL))
    tables = {"bookings": pd.DataFrame({"customer_id": ["C1"], "booking_date": ["2025-01-01"]}),
              "customers": pd.DataFrame({"customer_id": ["C1"]})}
    with pytest.raises(InsufficientDataError, match="consent_email: true"):
        data_step.check_before_models(params.model_copy(update={"notebooks": ["05_score_export"]}),
                                      tables)
    data_step.check_before_models(params.model_copy(update={"notebooks": ["01_data_quality"]}),
                                  tables)


def test_every_list_empty_at_export_time_is_bad_input_unless_allowed(tmp_path: Path) -> None:
    n = 30
    scored = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "cutoff_date": "2025-12-31",
        "recommended_action": ["do_not_contact"] * 10 + ["nurture"] * 20,
        "preferred_channel": ["none"] * 10 + ["email"] * 20, "clv": np.arange(n, dtype=float),
        "consent_email": [0.0] * n})
    with pytest.raises(InsufficientDataError) as info:
        export_marketing(scored, tmp_path / "run")
    msg = str(info.value)
    assert "every campaign list is empty" in msg and "'do_not_contact': 10" in msg
    assert "'nurture': 20" in msg and "consent_email" in msg and "export.allow_empty" in msg
    assert not (tmp_path / "run" / "exports").exists()
    result = export_marketing(scored, tmp_path / "run", ExportParams(allow_empty=True))
    assert result["lists"]["nurture"]["listed"] == 0 and result.folder.exists()


# ------------------------------------------------------------------------------------------
# one reject-share key
# ------------------------------------------------------------------------------------------
def test_reject_share_inside_data_source_is_refused_naming_the_one_key(env: Path) -> None:
    data = mapped(env)
    data["source"]["max_reject_share"] = 0.5
    with pytest.raises(ParamsError) as info:
        load_params(job_file(env, ["01_data_quality"], data=data))
    assert "data_quality.max_reject_share" in str(info.value)


def test_data_quality_max_reject_share_applies_to_mapped_sources(env: Path) -> None:
    path = job_file(env, ["01_data_quality"], data=mapped(env, customers=False))
    bad = "".join(f"X{i},C1,not a date,10,completed\n" for i in range(15))  # 15 of 75: 20 %
    with open(env / "bookings.csv", "a", encoding="utf-8") as fh:
        fh.write(bad)
    layout = RunLayout(env / "run")
    strict = load_params(path, {"data_quality.max_reject_share": 0.1})
    assert data_step.source_config(strict, layout).max_reject_share == 0.1
    with pytest.raises(DataValidationError) as info:
        data_step.prepare_inputs(strict, layout)
    assert "data_quality.max_reject_share" in str(info.value)
    assert " data.max_reject_share" not in str(info.value)
    lenient = load_params(path, {"data_quality.max_reject_share": 0.5})
    loaded = data_step.prepare_inputs(lenient, layout)
    assert len(loaded.rejects) == 15


# ------------------------------------------------------------------------------------------
# the data step and the runner: data problems are exit 2 with the message, never 3
# ------------------------------------------------------------------------------------------
def test_short_history_for_the_churn_windows_stops_in_the_data_step(env: Path) -> None:
    """In process: the data step (:func:`src.runner.data_step.prepare_inputs`) refuses the
    history; the runner would record it as exit 2 from ``01_data_quality`` naming the keys (a
    data-step refusal through ``crm run`` end to end: tests/runner/test_faults.py)."""
    path = job_file(env, ["01_data_quality", "03_churn_survival"],
               data={"synthetic": {"n_customers": 200, "seed": 1, "start_date": "2024-07-01",
                                   "extraction_date": "2025-12-31"},
                     "cutoff_date": "2025-12-31"})
    code, err, _ = refused_by_the_data_step(path)
    assert code == EXIT_BAD_INPUT, err
    assert err["notebook"] == "01_data_quality" and err["exception"] == "InsufficientDataError"
    for needle in ("churn.gap_days", "churn.holdout_days", "churn.train_window_days",
                   "days up to the cut-off 2025-12-31", "values that fit this data"):
        assert needle in err["message"], (needle, err["message"])
    assert "churn.gap_days" in summary_of(err, code)


@pytest.mark.slow
def test_a_data_error_subclass_raised_in_a_notebook_is_exit_2(env: Path) -> None:
    """End to end: a data error a notebook raises after the data step (here a subclass, the
    churn model's) is exit 2 naming the notebook and its cell, never 3; the later notebooks
    are skipped and nothing is published."""
    nb = write_notebook(env / "covariates.ipynb",
                        "from src.models.churn.model import NoUsableCovariatesError\n"
                        "raise NoUsableCovariatesError('no usable covariates (x: constant)', "
                        "hint=\"use kind='km' (churn.models: [km])\")")
    later = write_notebook(env / "later.ipynb", "x = 1")
    result = run_job(job_file(env, [str(nb), str(later)]), quiet=True)
    assert result.exit_code == EXIT_BAD_INPUT
    err = result.manifest["error"]
    assert "churn.models: [km]" in err["message"]
    assert err["notebook"] == "covariates" and isinstance(err["cell"], int)
    assert err["exception"] == "NoUsableCovariatesError"
    assert [n["status"] for n in result.manifest["notebooks"]] == ["failed", "skipped"]
    exports = result.run_dir / "exports"
    assert not exports.exists() or not any(exports.iterdir())


def test_every_data_or_params_error_class_is_bad_input() -> None:
    for name in ("DataError", "DataSourceError", "DataValidationError", "InsufficientDataError",
                 "NoUsableCovariatesError", "ParamsError"):
        assert is_bad_input(name), name
    for name in ("ValueError", "KeyError", "TypeError", "DeadKernelError"):
        assert not is_bad_input(name), name


def test_a_missing_kpi_baseline_run_is_refused_before_the_first_notebook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    params = load_params("demo_loop", {"kpis.baseline_run": "20250101-000000-demo_loop-dead"})
    problems = preflight.preflight_problems(params)
    assert any("kpis.baseline_run" in p and "dead" in p and "crm runs" in p for p in problems)
    assert not preflight.preflight_problems(load_params("demo_loop"))
