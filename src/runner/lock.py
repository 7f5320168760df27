"""One run of a job at a time: a lock file per job, with stale locks of dead runs cleared.

The lock records the holder's pid, host and start time and, once the run has a folder, its
run id and folder (:func:`note_run`), so the next run that finds the lock stale (the process
is gone: killed, out of memory, the machine restarted) can say which run died and mark it
(``on_stale`` of :func:`job_lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.fileio import write_json_atomic
from src.paths import outputs_dir


class JobLockedError(RuntimeError):
    """Another live run of the same job holds the lock."""


def lock_path(job: str) -> Path:
    return outputs_dir() / "locks" / f"{job}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


@contextlib.contextmanager
def job_lock(job: str, *, on_stale: Callable[[dict[str, Any]], None] | None = None
             ) -> Iterator[Path]:
    """Hold ``outputs/locks/<job>.lock`` for the duration of a run.

    The lock records pid, host and start time. A lock whose process is gone (same host) is stale
    (a killed run) and is cleared; a live one raises :class:`JobLockedError` naming the holder.

    Parameters
    ----------
    on_stale : called with the stale lock's contents (pid, host, started_at and, when the dead
        run had noted them, ``run_id`` / ``run_dir``) once this process holds the lock, before
        the body runs: the place to mark the dead run as killed.
    """
    path = lock_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    stale: list[dict[str, Any]] = []
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _read(path)
            pid = int(holder.get("pid", 0) or 0)
            same_host = holder.get("host") == me["host"]
            if same_host and (pid <= 0 or not _alive(pid)):
                path.unlink(missing_ok=True)  # stale: the run that held it is dead
                stale.append(holder)
                continue
            raise JobLockedError(
                f"job {job!r} is already running (pid {holder.get('pid')} on {holder.get('host')}, "
                f"since {holder.get('started_at')}); lock file {path}. If that run is gone, "
                "delete the lock file.") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    else:
        raise JobLockedError(f"could not take the lock {path}")
    try:
        if on_stale is not None:
            for holder in stale:
                on_stale(holder)
        yield path
    finally:
        if _read(path).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


def note_run(path: Path, **run: Any) -> None:
    """Add the run's identity (``run_id``, ``run_dir``) to the lock this process holds, so a
    later run that finds the lock stale knows which run died. A lock held by another process
    is left alone."""
    holder = _read(path)
    if holder.get("pid") != os.getpid():
        return
    write_json_atomic(path, {**holder, **{k: str(v) for k, v in run.items()}})
