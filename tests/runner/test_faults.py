"""Bad inputs and faults fed to the real runner: each gets its clear error (or its rejects file)
and no export is ever published by a run that failed.

The bad inputs are files written here, given to the job as ``data.source``. Each is refused
in process by the function ``01_data_quality`` calls
(:func:`src.runner.data_step.prepare_inputs`), and its exception is turned into the exit code
and the manifest's message as the runner does (:mod:`tests.runner.refusals`); one of them goes
through ``crm run`` end to end, to prove the runner maps a data-step refusal to exit 2, keeps
the partial notebook and publishes nothing, and one awkward but usable file does, to prove the
run goes on and says what it rejected. The faults (a notebook that raises, a kernel killed by a
signal, a runner killed by a signal, a full disk, an unreachable MLflow store) use tiny
notebooks written here, so each costs one kernel start.
All runs of this module share one output folder and one MLflow store (created once).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from src import fileio
from src.cli import main
from src.export import marketing
from src.models.btyd import clv
from src.params import ParamsError
from src.paths import PROJECT_ROOT
from src.runner import run
from src.runner.run import (
    EXIT_BAD_INPUT,
    EXIT_NOTEBOOK_FAILED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_TRACKING,
    RunResult,
    run_job,
)
from tests.faults.catalogue import BAD_FILES, BAD_FILES_23, HEADER, bookings_csv, dates_csv
from tests.helpers import job_file
from tests.helpers import write_notebook as notebook
from tests.runner.refusals import (
    as_the_runner_records,
    assert_nothing_published_in,
    cutoff_of,
    data_step,
    refused_by_the_data_step,
    run_tables_of,
)

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One outputs folder and one SQLite MLflow store for the module (the kernels inherit
    the environment)."""
    tmp = tmp_path_factory.mktemp("faults")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # creates the store's tables (seconds, once)
    shutil.copy(tmp / "mlflow.db", tmp / "pristine.db")  # an empty store, for a second one
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_OUTPUT_DIR", str(tmp / "outputs"))
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield {"tmp": tmp, "uri": uri, "empty_store": tmp / "pristine.db"}




def source(path: Path, **options: Any) -> dict[str, Any]:
    return {"source": {"tables": {"bookings": {"path": str(path), **options}},
                       "as_of_date": "2025-01-01"}}


def folder(store: dict[str, Any], name: str) -> Path:
    d = store["tmp"] / name
    d.mkdir()
    return d


def assert_nothing_published(result: RunResult) -> None:
    exports = result.run_dir / "exports"
    assert not exports.exists() or not any(exports.iterdir()), sorted(exports.iterdir())


def assert_failed_in_data_step(result: RunResult, exception: str, *needles: str) -> None:
    assert result.exit_code == EXIT_BAD_INPUT, result.manifest["error"]
    err = result.manifest["error"]
    assert err["notebook"] == "01_data_quality" and isinstance(err["cell"], int)
    assert err["exception"] == exception
    for needle in needles:
        assert needle in err["message"], (needle, err["message"])
    assert (result.run_dir / "01_data_quality.ipynb").exists()  # the partial notebook is kept
    assert_nothing_published(result)


def assert_refused_in_data_step(job: Path, exception: str, *needles: str) -> None:
    """In process: the data step raises ``exception``; the runner would record it as exit 2
    from ``01_data_quality`` with every needle in the manifest's message; nothing published."""
    code, err, _ = refused_by_the_data_step(job)
    assert code == EXIT_BAD_INPUT, err
    assert err["notebook"] == "01_data_quality"
    assert err["exception"] == exception, err
    for needle in needles:
        assert needle in err["message"], (needle, err["message"])


# ------------------------------------------------------------------------------------------
# bad input: refused with exit 2, a message that names the file and says what to do
# ------------------------------------------------------------------------------------------
#: the catalogued bad file that also goes through ``crm run`` end to end (a refusal whose
#: message holds the error's hint too, so the whole text is seen to reach the manifest)
END_TO_END_BAD_FILE = "duplicated_rows"


def test_bad_input_is_refused_with_exit_2_and_nothing_published(store: dict) -> None:
    """End to end: the data step's refusal is exit 2 from ``01_data_quality`` (a cell of it),
    the partial notebook is kept, the later notebook is skipped, nothing is published."""
    content, options, exception, needles = BAD_FILES[END_TO_END_BAD_FILE]
    d = folder(store, END_TO_END_BAD_FILE)
    (d / "bookings.csv").write_bytes(content)
    result = run_job(job_file(d, ["01_data_quality", "04_loyalty_clv"],
                              source(d / "bookings.csv", **options)), quiet=True)
    assert_failed_in_data_step(result, exception, *needles)
    assert [n["status"] for n in result.manifest["notebooks"]] == ["failed", "skipped"]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_by_the_data_step(tmp_path: Path, case: str) -> None:
    content, options, exception, needles = BAD_FILES[case]
    (tmp_path / "bookings.csv").write_bytes(content)
    job = job_file(tmp_path, ["01_data_quality"], source(tmp_path / "bookings.csv", **options))
    assert_refused_in_data_step(job, exception, *needles)


@pytest.mark.parametrize("case", list(BAD_FILES_23))
def test_bad_files_of_issue_23_are_refused_by_run_and_init(tmp_path: Path, case: str,
                                                           capsys: pytest.CaptureFixture) -> None:
    name, content, options, exception, needles = BAD_FILES_23[case]
    d = tmp_path
    (d / name).write_bytes(content)
    assert_refused_in_data_step(job_file(d, ["01_data_quality"], source(d / name, **options)),
                                exception, *needles)
    if name.endswith(".parquet"):
        return  # crm init reads text exports
    code = main(["init", case, str(d / name), "--out", str(d / "init.yaml")])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert "Traceback" not in err
    if case in ("mixed_date_orders", "ambiguous_dates"):  # the job is written, date open
        assert "--date-format" in err or "booking date" in err, err
    else:
        assert needles[0] in err, err


def test_ambiguous_dates_are_read_when_the_job_says_how(tmp_path: Path) -> None:
    (tmp_path / "bookings.csv").write_bytes(dates_csv("ambiguous"))
    _, _, seen = data_step(job_file(tmp_path, ["01_data_quality"],
                                        source(tmp_path / "bookings.csv", date_format="%d/%m/%Y")))
    assert seen["rows"]["bookings"] == {"in": 60, "kept": 60, "rejected": 0}
    assert seen["held"] is None


def test_params_typo_is_refused_before_anything_runs(store: dict) -> None:
    d = folder(store, "typo")
    path = job_file(d, ["01_data_quality"])
    text = path.read_text(encoding="utf-8").replace("max_reject_share", "max_reject_shares")
    path.write_text(text, encoding="utf-8")
    runs_before = set((store["tmp"] / "outputs" / "runs").glob("*"))
    with pytest.raises(ParamsError) as info:
        run_job(path, quiet=True)
    msg = str(info.value)
    assert "job.yaml" in msg and "data_quality.max_reject_shares" in msg
    assert "did you mean 'max_reject_share'" in msg
    assert set((store["tmp"] / "outputs" / "runs").glob("*")) == runs_before  # no run folder


# ------------------------------------------------------------------------------------------
# awkward but usable input: kept or rejected row by row, with the reason in rejects.csv
# ------------------------------------------------------------------------------------------
def test_gbk_file_with_chinese_text_is_read_when_declared(tmp_path: Path) -> None:
    places = ["杭州西湖", "北京故宫", "三亚湾", "丽江古城"]
    rows = [f"B{i},C{i % 5},2024-{1 + i % 12:02d}-15,{100 + i},completed,{places[i % 4]}\n"
            for i in range(20)]
    (tmp_path / "bookings.csv").write_bytes((HEADER + "".join(rows)).encode("gbk"))
    _, layout, seen = data_step(job_file(tmp_path, ["01_data_quality"],
                                             source(tmp_path / "bookings.csv", encoding="gbk")))
    assert seen["held"] is None
    clean = pd.read_parquet(layout.root / "data" / "bookings.parquet")
    assert sorted(clean["destination"].astype(str).unique()) == sorted(places)
    assert seen["rows"]["bookings"] == {"in": 20, "kept": 20, "rejected": 0}


def test_a_10000_character_id_is_rejected_by_crm_run_naming_its_length(store: dict) -> None:
    """One booking of 100 with a 10,000-character customer id (1 %, under the publishing
    bar): the run goes on without it, and rejects.csv says how long it was and the bound.
    End to end: the awkward but usable file of this module that goes through ``crm run``."""
    d = folder(store, "long_id")
    rows = bookings_csv(100).splitlines(keepends=True)
    rows[5] = rows[5].replace(",C4,", "," + "X" * 10_000 + ",")
    (d / "bookings.csv").write_text("".join(rows), encoding="utf-8")
    result = run_job(job_file(d, ["01_data_quality"], source(d / "bookings.csv")), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["rows"]["bookings"] == {"in": 100, "kept": 99, "rejected": 1}
    [reason] = pd.read_csv(result.run_dir / "rejects.csv")["reason"].tolist()
    assert reason.startswith("10,000 characters, more than the 128 a customer_id may have")


def test_mixed_date_formats_and_a_few_duplicates_go_to_rejects(tmp_path: Path) -> None:
    """Forms that read one way only (ISO, month names, compact, year first) are read side by
    side; a day/month form among them is refused (see BAD_FILES_23); garbage is rejected."""
    good = bookings_csv(40).split("\n", 1)[1]
    odd = ("M2,C2,March 3 2024,20,completed,Rome\n"
           "M3,C3,20240404,30,completed,Rome\n"
           "M4,C4,2024/06/07,40,completed,Rome\n"
           "M5,C5,not a date,50,completed,Rome\n")
    dupes = "".join(good.splitlines(keepends=True)[:3])  # three rows exported twice
    (tmp_path / "bookings.csv").write_text(HEADER + good + odd + dupes, encoding="utf-8")
    _, layout, seen = data_step(job_file(
        tmp_path, ["01_data_quality"], source(tmp_path / "bookings.csv"),  # 8.5 %
        data_quality={"publish_max_reject_share": 0.1}))
    assert seen["held"] is None
    assert seen["rows"]["bookings"] == {"in": 47, "kept": 43, "rejected": 4}
    rejects = pd.read_csv(layout.root / "rejects.csv")
    reasons = rejects.set_index("row_number")["reason"]
    assert reasons.str.startswith("duplicate booking_id").sum() == 3
    assert reasons.str.contains("unparseable date").sum() == 1
    clean = pd.read_parquet(layout.root / "data" / "bookings.parquet").set_index("booking_id")
    parsed = clean.loc[["M2", "M3", "M4"], "booking_date"].dt.strftime("%Y-%m-%d")
    assert parsed.tolist() == ["2024-03-03", "2024-04-04", "2024-06-07"]


@pytest.mark.parametrize("case", ["all_cancelled", "single_customer"])
def test_degenerate_history_is_bad_input_with_a_reason(tmp_path: Path, case: str) -> None:
    """Valid rows, nothing to model: all-cancelled bookings stop in the data step, a single
    customer stops in the loyalty step (what ``04_loyalty_clv`` fits first:
    :func:`src.models.btyd.clv.validate_and_fit` on the run's clean tables); both are bad input
    (exit 2) with a message that says why, and nothing is published. (A data error raised by a
    notebook after the data step is exit 2 end to end: tests/runner/test_preflight.py.)"""
    text = (bookings_csv(30, status="cancelled") if case == "all_cancelled" else
            HEADER + "B1,C1,2023-01-10,100,completed,Rome\nB2,C1,2024-02-01,90,completed,Rome\n")
    (tmp_path / "bookings.csv").write_text(text, encoding="utf-8")
    job = job_file(tmp_path, ["01_data_quality", "04_loyalty_clv"],
                   source(tmp_path / "bookings.csv"))
    if case == "all_cancelled":
        code, err, _ = refused_by_the_data_step(job)
        failing = "01_data_quality"
    else:
        params, layout, _ = data_step(job)  # the data step takes the two bookings
        with pytest.raises(Exception) as info:
            clv.validate_and_fit(run_tables_of(params, layout)["bookings"], params.loyalty,
                                 cutoff_of(params))
        code, err = as_the_runner_records(info.value, "04_loyalty_clv")
        assert_nothing_published_in(layout)
        failing = "04_loyalty_clv"
    assert code == EXIT_BAD_INPUT
    assert err["notebook"] == failing
    assert err["exception"] == "InsufficientDataError"
    assert ("no completed booking" if case == "all_cancelled" else "repeat purchases") in err["message"]


# ------------------------------------------------------------------------------------------
# faults
# ------------------------------------------------------------------------------------------
WRITE_EXPORT = ("from pathlib import Path\n"
                "exports = Path(run_dir) / 'exports'\n"
                "exports.mkdir(exist_ok=True)\n"
                "(exports / 'campaign_a.csv').write_text('customer_id,score\\nC1,0.9\\n')")


def test_notebook_that_raises_withdraws_what_earlier_cells_exported(store: dict) -> None:
    d = folder(store, "raises")
    nb = notebook(d / "export_then_fail.ipynb", WRITE_EXPORT, "raise RuntimeError('scoring failed')")
    result = run_job(job_file(d, [str(nb)]), quiet=True)
    assert result.exit_code == EXIT_NOTEBOOK_FAILED
    err = result.manifest["error"]
    assert (err["notebook"], err["cell"], err["exception"]) == ("export_then_fail", 4, "RuntimeError")
    assert "scoring failed" in err["message"]
    assert_nothing_published(result)
    assert result.manifest["exports_withdrawn"] == ["campaign_a.csv"]
    assert (result.run_dir / "exports.withdrawn" / "campaign_a.csv").exists()
    index = (result.run_dir / "index.html").read_text(encoding="utf-8")
    assert "withdrawn" in index
    # rendered once the outcome is known (it used to say "running" on every run)
    assert "status <b>failed</b>" in index and "status <b>running</b>" not in index


def test_killed_kernel_fails_the_run_naming_notebook_and_cell(store: dict) -> None:
    d = folder(store, "killed")
    nb = notebook(d / "killed.ipynb", "x = 1", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                  "print('never')")
    t0 = time.perf_counter()
    result = run_job(job_file(d, [str(nb)], run={"notebook_timeout_seconds": 120}), quiet=True)
    assert time.perf_counter() - t0 < 60  # detected, not waited out
    assert result.exit_code == EXIT_NOTEBOOK_FAILED
    err = result.manifest["error"]
    assert err["exception"] == "DeadKernelError" and err["notebook"] == "killed"
    assert err["cell"] == 4  # parameters, injected parameters, x = 1, the kill
    assert "kernel died" in err["message"] and "notebook killed" in err["message"]
    assert "kernel died" in run.failure_summary(result.manifest)
    assert (result.run_dir / "killed.ipynb").exists()
    assert_nothing_published(result)
    runs = {r.info.run_name: r for r in MlflowClient(store["uri"]).search_runs(
        [result.manifest["mlflow"]["experiment_id"]])}
    assert runs[result.run_id].info.status == "FAILED"


def test_transient_error_is_retried_when_params_allow(store: dict) -> None:
    d = folder(store, "retry")
    flag = d / "first_attempt_done"
    nb = notebook(d / "flaky.ipynb",
                  f"from pathlib import Path\nflag = Path({str(flag)!r})\n"
                  "if not flag.exists():\n    flag.touch()\n    raise ConnectionError('database busy')")
    result = run_job(job_file(d, [str(nb)], run={"retries": 1}), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["notebooks"][0]["attempts"] == 2


def test_disk_full_while_exporting_fails_with_exit_6_and_publishes_nothing(store: dict) -> None:
    """The export writer hits ENOSPC half-way: the half-written list is withdrawn."""
    d = folder(store, "enospc_export")
    nb = notebook(d / "export.ipynb", WRITE_EXPORT,
                  "import errno, os\n(exports / '.campaign_b.csv.tmp').write_text('customer_id\\nC')\n"
                  "raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), 'campaign_b.csv')")
    result = run_job(job_file(d, [str(nb)]), quiet=True)
    assert result.exit_code == EXIT_STORAGE
    assert result.manifest["error"]["exception"] == "OSError"
    assert "No space left on device" in result.manifest["error"]["message"]
    assert_nothing_published(result)
    assert result.manifest["exports_withdrawn"] == [".campaign_b.csv.tmp", "campaign_a.csv"]


def test_disk_full_on_the_runners_own_records(store: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC when the final manifest is written: exit 6, a message, the MLflow run FAILED,
    and the manifest on disk is the last complete one (never half a file)."""
    d = folder(store, "enospc_manifest")
    nb = notebook(d / "fine.ipynb", "x = 1")
    real = run.write_manifest

    def full_disk(path: Path, data: dict) -> None:
        if data.get("status") != "running":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(run, "write_manifest", full_disk)
    result = run_job(job_file(d, [str(nb)]), quiet=True)
    assert result.exit_code == EXIT_STORAGE and result.status == "failed"
    assert "No space left on device" in result.manifest["error"]["message"]
    assert "--resume" in result.manifest["error"]["message"]
    assert "manifest_not_written" in result.manifest
    on_disk = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["status"] == "running"  # the last complete version, not a torn file
    assert not list(result.run_dir.glob("*.tmp")) and not list(result.run_dir.glob(".*.tmp"))
    parent = MlflowClient(store["uri"]).get_run(result.manifest["mlflow"]["parent_run_id"])
    assert parent.info.status == "FAILED"


def test_atomic_write_under_enospc_keeps_the_old_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "index.html"
    target.write_text("old report", encoding="utf-8")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        fileio.write_text_atomic(target, "new report " * 1000)
    assert target.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


UNREACHABLE = "http://127.0.0.1:9"


def test_unreachable_mlflow_store_fails_fast_with_exit_4(store: dict) -> None:
    d = folder(store, "mlflow_down")
    nb = notebook(d / "never.ipynb", "x = 1")
    t0 = time.perf_counter()
    result = run_job(job_file(d, [str(nb)], mlflow={"tracking_uri": UNREACHABLE}), quiet=True)
    assert time.perf_counter() - t0 < 30
    assert result.exit_code == EXIT_TRACKING
    msg = result.manifest["error"]["message"]
    assert UNREACHABLE in msg and "allow_local_fallback" in msg
    assert [n["status"] for n in result.manifest["notebooks"]] == ["pending"]
    assert not (result.run_dir / "never.ipynb").exists()
    assert "unreachable" in run.failure_summary(result.manifest)


def test_unreachable_mlflow_store_falls_back_to_the_embedded_store_when_allowed(
        store: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    d = folder(store, "mlflow_fallback")
    shutil.copy(store["empty_store"], d / "fallback.db")  # an embedded store with no run yet
    local = f"sqlite:///{d / 'fallback.db'}"
    monkeypatch.setattr(run, "default_tracking_uri", lambda: local)
    nb = notebook(d / "logs.ipynb",
                  "from src.runner.notebook import open_run\n"
                  "ctx = open_run(params_file, run_dir, mlflow_run_id, notebook='logs')\n"
                  "ctx.log_metrics({'answer': 42})\nctx.close()")
    result = run_job(job_file(d, [str(nb)], mlflow={"tracking_uri": UNREACHABLE,
                                                     "allow_local_fallback": True}), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["mlflow_fallback"] == {"unreachable": UNREACHABLE, "used": local}
    assert yaml.safe_load((result.run_dir / "params.yaml").read_text())["mlflow"]["tracking_uri"] == local
    child = MlflowClient(local).get_run(result.manifest["mlflow"]["notebook_run_ids"]["logs"])
    assert child.data.metrics["answer"] == 42 and child.info.status == "FINISHED"


def test_peak_memory_of_each_notebook_is_recorded(store: dict) -> None:
    d = folder(store, "memory")
    nb = notebook(d / "hungry.ipynb", "import numpy as np\nx = np.ones(40_000_000)  # 320 MB\ndel x")
    result = run_job(job_file(d, [str(nb)]), quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["notebooks"][0]["peak_rss_mb"] > 300


def test_disk_full_inside_the_marketing_exporter_publishes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC injected into the exporter's own atomic writes (src.export.marketing): the
    export raises, no ``exports/`` folder, no staging or temp file is left in the run."""
    n = 50
    scored = pd.DataFrame({
        "customer_id": [f"C{i:03d}" for i in range(n)], "cutoff_date": "2025-12-31",
        "recommended_action": ["nurture"] * n, "preferred_channel": ["email"] * n,
        "segment": "city", "value_tier": "major", "lifecycle_stage": "active",
        "churn_prob_365d": 0.2, "p_alive": 0.8, "clv": 100.0,
        "expected_next_booking_date": "2026-05-01", "suggested_destination_type": "city",
        "suggested_product": "tour", "member_tier": "gold",
        "consent_email": 1.0, "consent_sms": 1.0, "consent_phone": 1.0})
    calls = {"n": 0}
    real_fsync = marketing.os.fsync

    def fsync_until_full(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] >= 2:  # the first file lands, the second finds the disk full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(marketing.os, "fsync", fsync_until_full)
    run_dir = tmp_path / "run"
    with pytest.raises(OSError, match="No space left on device"):
        marketing.export_marketing(scored, run_dir, run_id="r1")
    assert calls["n"] >= 2
    assert not (run_dir / "exports").exists()
    assert not [p for p in run_dir.rglob("*") if p.is_file()] if run_dir.exists() else True


def test_killed_runner_is_marked_failed_by_the_next_run_of_its_job(
        store: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """The runner process itself is killed (SIGKILL) while a notebook runs: nothing more is
    written by it, so its manifest, MLflow runs and ``crm runs`` said "running" for ever. The
    next run of the job clears the stale lock and marks the dead run failed ("killed")."""
    d = folder(store, "runner_killed")
    started, kernel_pid = d / "started", d / "kernel.pid"
    slow = notebook(d / "slow.ipynb",
                    "import os, time\nfrom pathlib import Path\n"
                    f"Path({str(kernel_pid)!r}).write_text(str(os.getpid()))\n"
                    f"Path({str(started)!r}).touch()\ntime.sleep(90)")
    later = notebook(d / "later.ipynb", "x = 1")
    path = job_file(d, [str(slow), str(later)])
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params["job"] = "killable"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    log = d / "runner.log"
    with open(log, "w") as out:
        runner = subprocess.Popen([sys.executable, "-m", "src.cli", "run", str(path), "--quiet"],
                                  cwd=PROJECT_ROOT, start_new_session=True,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not started.exists():
            assert runner.poll() is None and time.monotonic() < deadline, (
                f"runner never started the notebook (exit {runner.poll()}): "
                f"{log.read_text(encoding='utf-8')[-2000:]}")
            time.sleep(0.2)
        os.killpg(runner.pid, signal.SIGKILL)  # the runner (and its process group) dies
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(timeout=30)
        if kernel_pid.exists():  # the kernel runs in its own session; it exits with its parent
            try:
                os.kill(int(kernel_pid.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    [dead_dir] = [p.parent for p in (store["tmp"] / "outputs" / "runs").glob("*/manifest.json")
                  if json.loads(p.read_text(encoding="utf-8"))["job"] == "killable"]
    dead = json.loads((dead_dir / "manifest.json").read_text(encoding="utf-8"))
    assert dead["status"] == "running"  # what it said for ever

    params["notebooks"] = [str(later)]  # the next run of the same job
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run_job(path, quiet=True)
    assert result.exit_code == EXIT_OK, result.manifest["error"]
    assert result.manifest["killed_runs_marked"] == [dead["run_id"]]

    dead = json.loads((dead_dir / "manifest.json").read_text(encoding="utf-8"))
    assert dead["status"] == "failed" and dead["killed"]["detected_by"] == result.run_id
    err = dead["error"]
    assert err["exception"] == "RunnerKilled" and err["notebook"] == "slow"
    assert f"--resume {dead['run_id']}" in err["message"] and "died while running" in err["message"]
    assert [n["status"] for n in dead["notebooks"]] == ["failed", "skipped"]
    ids = dead["mlflow"]
    client = MlflowClient(ids["tracking_uri"])  # the store the dead runner logged to
    assert client.get_run(ids["parent_run_id"]).info.status == "FAILED"
    assert client.get_run(ids["notebook_run_ids"]["slow"]).info.status == "FAILED"
    capsys.readouterr()
    assert main(["runs"]) == 0  # crm runs: the dead run is listed as failed, no longer running
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith(dead["run_id"])]
    assert line.split()[1] == "failed"
    assert not (store["tmp"] / "outputs" / "locks" / "killable.lock").exists()


def test_disk_full_after_the_promotion_rolls_it_back(
        store: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every notebook succeeded and the runner moved the alias to the run's candidate, then
    the run's own manifest could not be written: the run failed (exit 6), so the promotion
    is rolled back (here: no champion again) and the manifest in memory says so."""
    d = folder(store, "rollback")
    client = MlflowClient(store["uri"])
    experiment = client.create_experiment("rollback", artifact_location=(d / "art").as_uri())

    class Candidate(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    mlflow.set_tracking_uri(store["uri"])
    with mlflow.start_run(experiment_id=experiment):
        mlflow.pyfunc.log_model(name="m", python_model=Candidate(),
                                registered_model_name="rollback_scorer",
                                pip_requirements=[])  # no requirements inference: ~4 s saved
    record = {"name": "rollback_scorer", "version": "1", "alias": "champion", "judged": True,
              "gates_passed": True, "decision": "pending", "promoted": False,
              "champion_before": None, "champion_after": None, "reasons": [],
              "lists_from": "candidate", "lists_note": "lists from candidate version 1"}
    scored = notebook(d / "scored.ipynb",  # what notebook 05 leaves: a judged candidate
                      "from pathlib import Path\nfrom src.layout import RunLayout\n"
                      f"RunLayout(Path(run_dir)).write_json(RunLayout(Path(run_dir))"
                      f".scorer_record_file, {record!r})")
    real = run.write_manifest
    seen: dict[str, Any] = {}

    def full_disk(path: Path, data: dict) -> None:
        if data.get("status") == "succeeded":  # the alias has just been moved
            seen["alias"] = str(client.get_model_version_by_alias("rollback_scorer",
                                                                  "champion").version)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(run, "write_manifest", full_disk)
    result = run_job(job_file(d, [str(scored)]), quiet=True)
    assert result.exit_code == EXIT_STORAGE
    assert seen == {"alias": "1"}  # promoted at the end of the run ...
    promotion = result.manifest["promotion"]  # ... and put back when the run failed
    assert promotion["decision"] == "rolled_back" and promotion["promoted"] is False
    assert "No space left on device" in promotion["reasons"][0]
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias("rollback_scorer", "champion")
    assert client.get_model_version("rollback_scorer", "1").tags["promotion.decision"] == \
        "rolled_back"
    assert "rolled back" in run.failure_summary(result.manifest)
