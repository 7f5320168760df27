"""Bad input asserted in process: the product function a notebook calls, and what the runner
would record for the exception it raises.

A refusal by the data step (or by a model step) is the exception a notebook cell raises; the
kernel reports it to papermill as its class name and ``str()`` (``ename`` / ``evalue``), and the
runner turns that into the manifest's ``error`` (:func:`src.runner.failures.describe_failure`)
and the exit code (:func:`src.runner.failures.is_bad_input`: exit 2). :func:`as_the_runner_records`
does the same with the exception raised here, so a test can check the message and the exit code
without starting a kernel; one end-to-end case per exit code (tests/runner/test_faults.py,
tests/runner/test_preflight.py) proves the runner does this to a real notebook's exception and
publishes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from papermill.exceptions import PapermillExecutionError

from src.features.attributes import TierRule
from src.features.cache import FeatureTables, run_tables
from src.layout import RunLayout
from src.params import JobParams, load_params
from src.runner.data_step import prepare_inputs
from src.runner.failures import describe_failure, failure_summary, notebook_exit_code
from src.runner.publication import data_quality_hold
from src.runner.records import collect_run_outputs

__all__ = ["as_the_runner_records", "assert_nothing_published_in", "cutoff_of", "data_step",
           "refused_by_the_data_step", "run_tables_of", "summary_of"]


def as_the_runner_records(exc: BaseException, notebook: str) -> tuple[int, dict[str, Any]]:
    """(exit code, manifest ``error``) the runner records when a cell of ``notebook`` raises
    ``exc``: the exception as the kernel reports it (class name, ``str``), described by the
    runner's :func:`describe_failure` and mapped to an exit code by the runner's :func:`notebook_exit_code`."""
    nb_error = PapermillExecutionError(cell_index=3, exec_count=3, source="",
                                       ename=type(exc).__name__, evalue=str(exc), traceback=[])
    error = describe_failure(nb_error, notebook)
    return notebook_exit_code(nb_error, error), error


def summary_of(error: dict[str, Any], code: int) -> str:
    """The runner's failure summary (terminal, run log) of a run that failed with ``error``."""
    return failure_summary({"run_id": "in-process", "run_dir": "", "exit_code": code,
                            "error": error})


def data_step(job: Path, overrides: dict[str, Any] | None = None
              ) -> tuple[JobParams, RunLayout, dict[str, Any]]:
    """Run the data step of ``job`` (what ``01_data_quality`` calls:
    :func:`src.runner.data_step.prepare_inputs`) into ``<job folder>/run``. Returns the params,
    the run layout and what the runner makes of it: ``rows``, the manifest's row counts
    (:func:`src.runner.records.collect_run_outputs`), and ``held``, why
    :func:`src.runner.publication.data_quality_hold` holds the run (None: it publishes).
    Raises what the data step raises."""
    params = load_params(job, overrides)
    layout = RunLayout(job.parent / "run")
    prepare_inputs(params, layout)
    manifest: dict[str, Any] = {"params": params.model_dump(mode="json")}
    collect_run_outputs(layout.root, manifest)
    return params, layout, {"rows": manifest["rows"],
                            "held": data_quality_hold(manifest)}


def refused_by_the_data_step(job: Path, overrides: dict[str, Any] | None = None
                             ) -> tuple[int, dict[str, Any], RunLayout]:
    """The data step of ``job`` must raise: (exit code, manifest ``error``) the runner would
    record for it (:func:`as_the_runner_records`), and the run layout, in which nothing is
    published."""
    params = load_params(job, overrides)
    layout = RunLayout(job.parent / "run")
    try:
        prepare_inputs(params, layout)
    except Exception as exc:  # noqa: BLE001 - which one is what the caller checks
        code, error = as_the_runner_records(exc, "01_data_quality")
    else:
        raise AssertionError(f"the data step accepted {job}")
    assert_nothing_published_in(layout)
    return code, error, layout


def run_tables_of(params: JobParams, layout: RunLayout) -> FeatureTables:
    """The clean tables a later notebook of the run reads (``ctx.tables()``)."""
    return run_tables(layout, tier_rule=TierRule.from_params(params.data.tier_rule))


def assert_nothing_published_in(layout: RunLayout) -> None:
    exports = layout.exports_dir
    assert not exports.exists() or not any(exports.iterdir()), sorted(exports.iterdir())


def cutoff_of(params: JobParams) -> pd.Timestamp:
    return pd.Timestamp(params.cutoff())
