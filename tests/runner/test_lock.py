"""One run per job: a live lock refuses a second run; a dead run's lock is cleared."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from src.runner.lock import JobLockedError, job_lock, lock_path


@pytest.fixture(autouse=True)
def _outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path))


def test_lock_taken_and_released() -> None:
    with job_lock("demo") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not lock_path("demo").exists()


def test_second_run_refused_while_live_holder() -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path = lock_path("demo")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                    "started_at": "now"}))
        with pytest.raises(JobLockedError, match=rf"already running \(pid {holder.pid}"):
            with job_lock("demo"):
                pass
        assert path.exists()  # the live holder's lock is untouched
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_killed_run_is_cleared() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = lock_path("demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started_at": "x"}))
    with job_lock("demo") as taken:
        assert json.loads(taken.read_text())["pid"] == os.getpid()


def test_other_jobs_are_independent() -> None:
    with job_lock("demo"), job_lock("weekly"):
        assert lock_path("demo").exists() and lock_path("weekly").exists()
