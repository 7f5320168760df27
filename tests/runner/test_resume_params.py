"""An honest resume: ``crm run <job> --resume <run_id>`` keeps the run's params, so a job file
edited since (or a ``--set``) is refused with exit 2 naming every changed key (old -> new);
with the change undone the resume goes on as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from src.cli import main
from src.params import ParamsError, load_params
from src.paths import PARAMS_DIR
from src.runner.preflight import params_changes
from src.runner.run import EXIT_BAD_INPUT, EXIT_NOTEBOOK_FAILED, run_job
from tests.helpers import write_notebook as notebook

pytestmark = pytest.mark.slow


@pytest.fixture
def failed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    flag = tmp_path / "fixed"
    first = notebook(tmp_path / "first.ipynb", "x = 1")
    second = notebook(tmp_path / "second.ipynb",
                      f"from pathlib import Path\nif not Path({str(flag)!r}).exists():\n"
                      "    raise RuntimeError('upstream not ready')")
    params = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    params.update(job="honest", notebooks=[str(first), str(second)])
    path = tmp_path / "honest.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run_job(path, quiet=True)
    assert result.exit_code == EXIT_NOTEBOOK_FAILED
    return {"path": path, "params": params, "run_id": result.run_id, "flag": flag}


def test_resume_after_the_job_file_changed_is_refused_naming_each_key(failed_run: dict) -> None:
    path, run_id = failed_run["path"], failed_run["run_id"]
    original = path.read_text(encoding="utf-8")
    edited = dict(failed_run["params"], seed=7)
    edited["data_quality"] = {"max_reject_share": 0.3}
    path.write_text(yaml.safe_dump(edited), encoding="utf-8")
    with pytest.raises(ParamsError) as info:
        run_job(path, resume=run_id, quiet=True)
    msg = str(info.value)
    assert "seed: 42 -> 7" in msg and "data_quality.max_reject_share: 0.2 -> 0.3" in msg
    assert "start a new run (crm run" in msg and "undo the change to resume" in msg
    assert main(["run", str(path), "--resume", run_id, "--quiet"]) == EXIT_BAD_INPUT

    path.write_text(original, encoding="utf-8")  # the change undone: the resume goes on
    failed_run["flag"].touch()
    done = run_job(path, resume=run_id, quiet=True)
    assert done.exit_code == 0, done.manifest["error"]
    assert [n["status"] for n in done.manifest["notebooks"]] == ["succeeded", "succeeded"]


def test_resume_with_a_set_override_is_refused(failed_run: dict,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path, run_id = str(failed_run["path"]), failed_run["run_id"]
    capsys.readouterr()
    assert main(["run", path, "--resume", run_id, "--quiet",
                 "--set", "data.synthetic.n_customers=300"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "data.synthetic.n_customers: 5000 -> 300" in err and "crm run" in err
    # the same value as the run's is no change
    failed_run["flag"].touch()
    assert main(["run", path, "--resume", run_id, "--quiet",
                 "--set", "data.synthetic.n_customers=5000"]) == 0


def test_params_changes_lists_keys_on_either_side() -> None:
    before = load_params("demo")
    after = load_params("demo", {"churn.models": ["km"], "export.allow_empty": True})
    changes = params_changes(before, after)
    assert changes == {"churn.models": ("['coxph', 'weibull_aft']", "['km']"),
                       "export.allow_empty": ("False", "True")}
    assert params_changes(before, load_params("demo")) == {}
    assert params_changes(before, after, ignore=("churn.models", "export.allow_empty")) == {}
