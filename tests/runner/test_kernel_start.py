"""A kernel that dies while starting (before any cell ran: a ZMQ port taken between its choice
and its bind, seen on 2 busy cores) is started again, whatever ``run.retries`` says; a kernel
that keeps dying fails the run as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.runner import run
from src.runner.failures import KERNEL_START_RETRIES
from src.runner.run import EXIT_NOTEBOOK_FAILED, EXIT_OK, run_job
from tests.helpers import job_file
from tests.helpers import write_notebook as notebook

pytestmark = pytest.mark.slow
DIED = RuntimeError("Kernel died before replying to kernel_info")


@pytest.mark.parametrize("deaths", [1, KERNEL_START_RETRIES + 1])
def test_a_kernel_that_dies_while_starting_is_started_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deaths: int) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    real, calls = run.pm.execute_notebook, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= deaths:
            raise DIED
        return real(*args, **kwargs)

    monkeypatch.setattr(run.pm, "execute_notebook", flaky)
    nb = notebook(tmp_path / "hello.ipynb", "print('hello')")
    result = run_job(job_file(tmp_path, [str(nb)]), quiet=True)
    entry = result.manifest["notebooks"][0]
    if deaths <= KERNEL_START_RETRIES:
        assert result.exit_code == EXIT_OK, result.manifest["error"]
        assert (entry["attempts"], entry["kernel_starts_failed"]) == (1, deaths)
    else:
        assert result.exit_code == EXIT_NOTEBOOK_FAILED
        assert entry["kernel_starts_failed"] == KERNEL_START_RETRIES
        assert "before replying to kernel_info" in result.manifest["error"]["message"]
