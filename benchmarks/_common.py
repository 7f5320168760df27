"""Shared helpers of the benchmark scripts: measured child processes and result records.

Every ``bench_<name>.py`` runs its cases in child processes (so the peak memory of a case is
not inflated by an earlier one) and, with ``--records PATH``, appends one JSON line per
measured case to ``PATH``; ``run.py`` collects those lines into one combined table.

Record schema (one JSON object per line)::

    {"benchmark": "btyd",                 # script name without "bench_"
     "case": "BG/NBD+GG fit+score",       # what was measured
     "customers": 100000,                 # size of the case
     "implementation": "ours",            # "ours" or the peer's name: "lifetimes", ...
     "wall_s": 0.18,                      # wall seconds of the measured section; null if
                                          # the case did not run (``notes`` says why)
     "peak_rss_mb": 198.0,                # peak RSS of the process that ran it, or null
     "notes": ""}                         # optional short text

Cases measured in one process share that process's peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECORD_FIELDS = ("benchmark", "case", "customers", "implementation", "wall_s", "peak_rss_mb",
                 "notes")
# ru_maxrss is in KiB on Linux, bytes on macOS
_MAXRSS_TO_MB = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024


class ChildFailedError(RuntimeError):
    """A benchmark child process exited with an error or ran out of time."""

    def __init__(self, cmd: list[str], returncode: int | None, stderr: str):
        self.cmd, self.returncode, self.stderr = cmd, returncode, stderr
        status = "timed out" if returncode is None else f"exit code {returncode}"
        super().__init__(f"benchmark child {' '.join(cmd[1:])} failed ({status}):\n"
                         f"{stderr[-3000:]}")

    @property
    def last_line(self) -> str:
        """Last non-empty line of the child's stderr (the exception, usually)."""
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1]
        return "timed out" if self.returncode is None else f"exit code {self.returncode}"


@dataclass
class ProcessResult:
    """Outcome of one measured process.

    ``peak_rss_mb`` is ``ru_maxrss`` of the process from ``os.wait4``: the largest peak RSS of
    the process itself and of the descendants it waited for (a maximum, not a sum).
    ``returncode`` is ``None`` when the process was killed at its timeout.
    """

    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mb: float | None


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment plus the project root on ``PYTHONPATH`` plus ``extra``."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


# A small launcher between this process and the measured one. Linux starts a child by vfork
# (Python's subprocess) or fork, and at exec the child's peak RSS starts from the memory of the
# process it was forked from: the peak of a big parent (a test session, a driver holding data)
# would hide the child's own. The launcher is small, spawns the command, waits for it with
# wait4 and writes its rusage peak and wall seconds to the file named by argv[1].
_LAUNCHER = """\
import json, os, signal, sys, time
t0 = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    json.dump({"ru_maxrss": usage.ru_maxrss, "wall_s": wall}, f)
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure_process(cmd: list[str], timeout: float | None = None, *,
                    env: dict[str, str] | None = None,
                    cwd: Path = PROJECT_ROOT) -> ProcessResult:
    """Run ``cmd`` to completion; measure its wall seconds and its own peak RSS.

    The command runs under a small launcher process (see ``_LAUNCHER``) in a new session; at
    ``timeout`` seconds the whole session's process group is killed. The peak comes from
    ``os.wait4`` on the command's pid, so it is this command's (and the descendants it waited
    for), not the largest of every child this process had (``RUSAGE_CHILDREN``) nor this
    process's own peak inherited through fork.
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        usage_file = Path(tmp) / "usage.json"
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_file), *cmd]
        t0 = time.perf_counter()
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(launcher, stdout=fo, stderr=fe, cwd=cwd,
                                    env=env if env is not None else child_env(),
                                    start_new_session=True)
        timed_out = threading.Event()

        def kill_group() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill_group) if timeout else None
        if timer:
            timer.start()
        try:
            proc.wait()
        except BaseException:  # interrupted: do not leave the command running
            kill_group()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
        peak = None
        if usage_file.exists():
            usage = json.loads(usage_file.read_text())
            wall, peak = usage["wall_s"], usage["ru_maxrss"] * _MAXRSS_TO_MB
        return ProcessResult(returncode=None if timed_out.is_set() else proc.returncode,
                             stdout=out.read_text(errors="replace"),
                             stderr=err.read_text(errors="replace"), wall_s=wall,
                             peak_rss_mb=peak)


def run_child(cmd: list[str], timeout: float | None = None, *,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child that prints one JSON object as its last stdout line; return that object.

    Adds ``process_wall_s`` (wall seconds around the whole child, interpreter start and
    imports included) and ``process_peak_rss_mb`` (its peak RSS, see :func:`measure_process`)
    under their own names, so the child's own ``wall_s`` / ``peak_rss_mb`` are kept.

    Raises
    ------
    ChildFailedError : the child exited non-zero, timed out or printed no JSON line.
    """
    res = measure_process(cmd, timeout, env=env)
    if res.returncode != 0:
        raise ChildFailedError(cmd, res.returncode, res.stderr)
    lines = res.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise ChildFailedError(cmd, res.returncode, res.stderr + "\nno JSON line on stdout:\n"
                               + res.stdout[-1000:]) from None
    out["process_wall_s"] = res.wall_s
    out["process_peak_rss_mb"] = res.peak_rss_mb
    return out


def peak_rss_self_mb() -> float:
    """Peak RSS of the calling process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_TO_MB


def record(benchmark: str, case: str, customers: int, wall_s: float | None,
           peak_rss_mb: float | None = None, implementation: str = "ours",
           notes: str = "") -> dict[str, Any]:
    """One measured case in the record schema (see the module docstring)."""
    def number(v: float | None) -> float | None:
        return None if v is None or v != v else float(v)  # NaN -> null

    return {"benchmark": benchmark, "case": case, "customers": int(customers),
            "implementation": implementation, "wall_s": number(wall_s),
            "peak_rss_mb": number(peak_rss_mb), "notes": notes}


def write_records(path: str | os.PathLike[str] | None, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the JSON-lines file ``path`` (nothing when ``path`` is None)."""
    if path is None or not records:
        return
    for r in records:
        missing = [k for k in RECORD_FIELDS if k not in r]
        if missing:
            raise ValueError(f"benchmark record {r} lacks {missing}")
    with open(path, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({k: r[k] for k in RECORD_FIELDS}) + "\n")


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (an empty list if it does not exist)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def add_records_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--records PATH`` option every benchmark script accepts."""
    parser.add_argument("--records", type=Path, default=None, metavar="PATH",
                        help="append one JSON line per measured case to PATH")


def markdown_table(rows: list[dict[str, Any]], cols: list[tuple[str, str, str]],
                   text_cols: tuple[str, ...] = ()) -> str:
    """A markdown table of ``rows``: ``cols`` are (key, header, format) triples; columns no row
    has are left out, a row without a key gets an empty cell; ``text_cols`` align left."""
    cols = [c for c in cols if any(c[0] in r for r in rows)]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---" if c[0] in text_cols else "---:" for c in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(r[k]) if k in r else "" for k, _, fmt in cols)
                     + " |")
    return "\n".join(lines)


def machine_line() -> str:
    """Platform, CPU count, total RAM and Python version of this machine, on one line."""
    ram = "RAM unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GB RAM"
                break
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, {ram}, "
            f"python {platform.python_version()}{load}")
