"""Scheduled runs through cron: one tagged crontab line per job.

``crm schedule add demo --cron "0 3 * * 1"`` adds (or replaces) the line::

    0 3 * * 1 cd <project> && <project>/.venv/bin/crm run demo --quiet >> <outputs>/logs/demo.log 2>&1 # crm-schedule:demo

``crm schedule remove demo`` deletes it and ``crm schedule list`` shows the tagged lines; every
other line of the crontab is left exactly as it was. The crontab command is injectable (the
``crontab`` argument, else ``$CRM_CRONTAB``, else ``crontab``), so tests use a fake one and
never touch the real crontab. The command must understand ``-l`` (print the table; exit 1 with
"no crontab" when there is none) and ``-`` (replace it with standard input).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from src.params import load_params, params_path
from src.paths import PROJECT_ROOT, outputs_dir

TAG = "# crm-schedule:"

#: name, lowest, highest value and accepted names of the five cron fields
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                      "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ScheduleError(ValueError):
    """A cron expression, job name or crontab operation that cannot be used."""


@dataclass(frozen=True)
class ScheduleEntry:
    """One scheduled job: its name, cron expression and the full crontab line."""

    job: str
    cron: str
    line: str


def _value(text: str, lo: int, names: tuple[str, ...], field: str, expr: str) -> int:
    low = text.lower()
    if low in names:
        return names.index(low) + (1 if field == "month" else 0)
    if not text.isdigit():
        raise ScheduleError(f"cron field {field} ({text!r}) in {expr!r} is not a number"
                            + (f" or one of {', '.join(names)}" if names else ""))
    return int(text)


def validate_cron(expr: str) -> str:
    """Check a cron expression: five fields (minute hour day-of-month month day-of-week) with
    ``*``, numbers, ranges ``a-b``, steps ``/n`` and lists ``a,b``, each within its range
    (month and weekday names allowed), or one of the ``@daily``-style macros.

    Returns
    -------
    The expression with its whitespace normalised.

    Raises
    ------
    ScheduleError : naming the field and the allowed range.
    """
    expr = " ".join(str(expr).split())
    if expr in _MACROS:
        return expr
    if expr.startswith("@"):
        raise ScheduleError(f"unknown cron macro {expr!r}; use one of {', '.join(_MACROS)}")
    parts = expr.split(" ")
    if len(parts) != 5:
        raise ScheduleError(f"cron expression {expr!r} has {len(parts)} fields; it needs 5: "
                            "minute hour day-of-month month day-of-week, e.g. '0 3 * * 1'")
    for part, (field, lo, hi, names) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            base, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ScheduleError(f"cron field {field} ({part!r}): step {step!r} must be a "
                                    "positive number")
            if base == "*":
                continue
            first, dash, last = base.partition("-")
            if not first or (dash and not last):
                raise ScheduleError(f"cron field {field} ({part!r}) is malformed in {expr!r}")
            a = _value(first, lo, names, field, expr)
            b = _value(last, lo, names, field, expr) if dash else a
            for v in (a, b):
                if not lo <= v <= hi:
                    raise ScheduleError(f"cron field {field} ({part!r}): {v} is outside "
                                        f"{lo}-{hi} in {expr!r}")
            if b < a:
                raise ScheduleError(f"cron field {field} ({part!r}): range {a}-{b} runs backwards")
    return expr


def crontab_command(crontab: Sequence[str] | str | None = None) -> list[str]:
    """The crontab program: the argument, else ``$CRM_CRONTAB``, else ``crontab``."""
    if crontab is None:
        crontab = os.environ.get("CRM_CRONTAB") or "crontab"
    return shlex.split(crontab) if isinstance(crontab, str) else list(crontab)


def read_crontab(crontab: Sequence[str] | str | None = None) -> str:
    """The current crontab ('' when the user has none)."""
    cmd = crontab_command(crontab)
    try:
        out = subprocess.run([*cmd, "-l"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise ScheduleError(f"cannot run {cmd[0]!r}: {exc}; is cron installed?") from exc
    if out.returncode != 0:
        if "no crontab" in out.stderr.lower():
            return ""
        raise ScheduleError(f"{' '.join(cmd)} -l failed: {out.stderr.strip()}")
    return out.stdout


def write_crontab(text: str, crontab: Sequence[str] | str | None = None) -> None:
    """Replace the crontab with ``text``."""
    cmd = crontab_command(crontab)
    out = subprocess.run([*cmd, "-"], input=text, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise ScheduleError(f"{' '.join(cmd)} - failed: {out.stderr.strip()}")


def crm_executable() -> Path:
    """``<project>/.venv/bin/crm``, else the ``crm`` beside the running interpreter."""
    for candidate in (PROJECT_ROOT / ".venv" / "bin" / "crm", Path(sys.executable).parent / "crm"):
        if candidate.exists():
            return candidate
    raise ScheduleError(f"no crm executable in {PROJECT_ROOT / '.venv' / 'bin'}; run make setup")


def cron_line(job: str, cron: str, log: Path, job_arg: str | None = None) -> str:
    """The crontab line that runs ``job`` (``crm run <job_arg or job> --quiet``) at ``cron``,
    appending its output to ``log``. ``%`` is escaped (cron turns it into a newline)."""
    env = ""
    if os.environ.get("CRM_OUTPUT_DIR"):
        env = f"CRM_OUTPUT_DIR={shlex.quote(str(outputs_dir()))} "
    command = (f"cd {shlex.quote(str(PROJECT_ROOT))} && {env}"
               f"{shlex.quote(str(crm_executable()))} run {shlex.quote(job_arg or job)} --quiet "
               f">> {shlex.quote(str(log))} 2>&1")
    return f"{validate_cron(cron)} {command.replace('%', chr(92) + '%')} {TAG}{job}"


def _job_of(line: str) -> str | None:
    idx = line.rfind(TAG)
    return line[idx + len(TAG):].strip() if idx >= 0 else None


def _cron_of(line: str) -> str:
    parts = line.split()
    return parts[0] if parts[0].startswith("@") else " ".join(parts[:5])


def list_schedules(crontab: Sequence[str] | str | None = None) -> list[ScheduleEntry]:
    """The jobs scheduled by ``crm schedule`` (other crontab lines are not listed)."""
    out = []
    for line in read_crontab(crontab).splitlines():
        job = _job_of(line)
        if job and not line.lstrip().startswith("#"):
            out.append(ScheduleEntry(job, _cron_of(line), line))
    return out


def add_schedule(job: str, cron: str, *, log: str | Path | None = None,
                 crontab: Sequence[str] | str | None = None) -> ScheduleEntry:
    """Schedule ``job`` (a name in ``params/`` or a params file) at ``cron``; replaces the
    job's earlier line. The params file is validated first: a broken job is not scheduled.

    Parameters
    ----------
    job : job name or path to its params file.
    cron : five-field cron expression (see :func:`validate_cron`).
    log : file the run's output is appended to; default ``<outputs>/logs/<job>.log``.
    crontab : the crontab command (see :func:`crontab_command`).

    Raises
    ------
    ScheduleError : bad cron expression or job name, or the crontab command failed.
    src.params.ParamsError : the job's params are invalid.
    """
    cron = validate_cron(cron)
    params = load_params(job)
    name = params.job
    if not _JOB_NAME.match(name):
        raise ScheduleError(f"job name {name!r} cannot be scheduled: use letters, digits, _ . -")
    job_arg = job if Path(job).suffix not in {".yaml", ".yml"} else str(params_path(job).resolve())
    log_path = Path(log).resolve() if log else outputs_dir() / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    line = cron_line(name, cron, log_path, job_arg)
    kept = [ln for ln in read_crontab(crontab).splitlines() if _job_of(ln) != name]
    write_crontab("\n".join([*kept, line]) + "\n", crontab)
    return ScheduleEntry(name, cron, line)


def remove_schedule(job: str, crontab: Sequence[str] | str | None = None) -> bool:
    """Remove the job's line; ``False`` when it was not scheduled (the crontab is untouched)."""
    lines = read_crontab(crontab).splitlines()
    kept = [ln for ln in lines if _job_of(ln) != job]
    if len(kept) == len(lines):
        return False
    write_crontab("\n".join(kept) + ("\n" if kept else ""), crontab)
    return True
