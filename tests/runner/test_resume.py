"""``crm run <job> --resume <run_id>``: a run whose second notebook failed is fixed and resumed;
only the failed notebook runs again, on the first notebook's outputs; both attempts are
recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from src.cli import main
from src.paths import PARAMS_DIR
from src.runner.run import EXIT_NOTEBOOK_FAILED, run_job
from tests.helpers import write_notebook as notebook

pytestmark = pytest.mark.slow



@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    flag = tmp_path / "upstream_fixed"
    first = notebook(tmp_path / "make_token.ipynb",
                     "import secrets\nfrom pathlib import Path\n"
                     "(Path(run_dir) / 'token.txt').write_text(secrets.token_hex(16))")
    second = notebook(tmp_path / "use_token.ipynb",
                      f"from pathlib import Path\nif not Path({str(flag)!r}).exists():\n"
                      "    raise RuntimeError('upstream table not ready')",
                      "token = (Path(run_dir) / 'token.txt').read_text()\n"
                      "(Path(run_dir) / 'used_token.txt').write_text(token)")
    params = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    params.update(job="resumable", notebooks=[str(first), str(second)])
    path = tmp_path / "resumable.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return {"params": path, "flag": flag}


def test_resume_reexecutes_only_from_the_failed_notebook(job: dict[str, Path]) -> None:
    failed = run_job(job["params"], quiet=True)
    assert failed.exit_code == EXIT_NOTEBOOK_FAILED
    assert [n["status"] for n in failed.manifest["notebooks"]] == ["succeeded", "failed"]
    run_dir = failed.run_dir
    token = (run_dir / "token.txt").read_text()
    first_nb_mtime = (run_dir / "make_token.ipynb").stat().st_mtime_ns
    first_mlflow_run = failed.manifest["mlflow"]["notebook_run_ids"]["make_token"]
    failed_mlflow_run = failed.manifest["mlflow"]["notebook_run_ids"]["use_token"]

    job["flag"].touch()  # the upstream problem is fixed
    assert main(["run", str(job["params"]), "--resume", failed.run_id, "--quiet"]) == 0

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == failed.run_id and manifest["status"] == "succeeded"
    assert manifest["exit_code"] == 0 and manifest["error"] is None
    # the first notebook was not executed again; the second one used its output
    assert (run_dir / "make_token.ipynb").stat().st_mtime_ns == first_nb_mtime
    assert (run_dir / "token.txt").read_text() == token
    assert (run_dir / "used_token.txt").read_text() == token
    assert manifest["mlflow"]["notebook_run_ids"]["make_token"] == first_mlflow_run
    assert manifest["mlflow"]["notebook_run_ids"]["use_token"] != failed_mlflow_run
    # both attempts are on record
    assert len(manifest["resumed"]) == 1
    [attempt] = manifest["attempts"]
    assert attempt["status"] == "failed" and attempt["exit_code"] == EXIT_NOTEBOOK_FAILED
    assert attempt["notebooks"] == {"make_token": "succeeded", "use_token": "failed"}
    assert attempt["error"]["message"] == "upstream table not ready"
    second = manifest["notebooks"][1]
    assert second["status"] == "succeeded" and "error" not in second
    [previous] = second["previous_attempts"]
    assert previous["status"] == "failed" and previous["error"]["exception"] == "RuntimeError"
    assert previous["output"] == "use_token.attempt1.ipynb"
    assert (run_dir / "use_token.attempt1.ipynb").exists() and (run_dir / "use_token.html").exists()
    assert "previous_attempts" not in manifest["notebooks"][0]

    # a succeeded run has nothing to resume; a run id of another job is refused
    assert main(["run", str(job["params"]), "--resume", failed.run_id, "--quiet"]) == 2
    assert main(["run", "demo", "--resume", failed.run_id, "--quiet"]) == 2
    assert main(["run", "resumable", "--resume", "no-such-run", "--quiet"]) == 2


def test_resume_restores_the_lists_a_finished_notebook_exported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook after the export fails: the run's lists are withdrawn. Resumed and
    succeeding, the run publishes them again (the exporting notebook is not re-run); a temp
    file of the failed attempt is not published."""
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    flag = tmp_path / "fixed"
    export = notebook(tmp_path / "export.ipynb",
                      "from pathlib import Path\nout = Path(run_dir) / 'exports'\n"
                      "out.mkdir(exist_ok=True)\n(out / 'list_a.csv').write_text('customer_id\\nC1\\n')")
    after = notebook(tmp_path / "after.ipynb",
                     "from pathlib import Path\n(Path(run_dir) / 'exports' / '.x.tmp').write_text('')\n"
                     f"if not Path({str(flag)!r}).exists():\n    raise RuntimeError('report failed')")
    params = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    params.update(job="lists", notebooks=[str(export), str(after)])
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")

    failed = run_job(path, quiet=True)
    assert failed.exit_code == EXIT_NOTEBOOK_FAILED
    assert failed.manifest["exports_withdrawn"] == [".x.tmp", "list_a.csv"]
    assert not (failed.run_dir / "exports").exists()
    flag.touch()
    done = run_job(path, resume=failed.run_id, quiet=True)
    assert done.exit_code == 0, done.manifest["error"]
    assert done.manifest["exports"] == ["list_a.csv"]
    assert done.manifest["exports_restored"] == ["list_a.csv"]
    assert "exports_withdrawn" not in done.manifest
    assert (done.run_dir / "exports" / "list_a.csv").read_text() == "customer_id\nC1\n"
    assert not (done.run_dir / "exports.withdrawn").exists()
