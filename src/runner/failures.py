"""How a failed run is described: the notebook, the cell, the exception and the first lines of
the traceback (in ``manifest.json`` and the terminal summary), which failures are a full
disk, and which are bad input (params or data: exit 2) rather than a code fault (exit 3)."""

from __future__ import annotations

import errno
import re
import traceback
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from src.data.errors import DataError
from src.params import ParamsError
from src.runner.manifest import RunManifest
from src.runner.publication import promotion_lines

__all__ = ["EXIT_BAD_INPUT", "EXIT_LOCKED", "EXIT_NOTEBOOK_FAILED", "EXIT_OK", "EXIT_STORAGE",
           "EXIT_TRACKING", "KERNEL_START_RETRIES", "describe_failure", "failure_summary",
           "is_bad_input", "is_disk_full", "is_kernel_start_failure", "notebook_exit_code",
           "running_cell"]

#: exit codes of ``crm run``
EXIT_OK = 0
EXIT_BAD_INPUT = 2  # params or input data rejected: fix the files, do not retry
EXIT_NOTEBOOK_FAILED = 3  # a notebook (model, plotting, kernel) failed
EXIT_TRACKING = 4  # the MLflow store could not be reached
EXIT_LOCKED = 5  # another run of the same job is in progress
EXIT_STORAGE = 6  # the run's records or exports could not be written (disk full, permissions)

KERNEL_START_RETRIES = 2
"""Fresh kernel starts after a kernel that died before it ran anything (whatever
``run.retries`` says: nothing of the notebook has run, so a new start cannot repeat work)."""


def _names(cls: type) -> set[str]:
    out = {cls.__name__}
    for sub in cls.__subclasses__():
        out |= _names(sub)
    return out


def is_bad_input(exception_name: str) -> bool:
    """True when a notebook's exception means "the input is bad" (exit 2), not "the code
    failed": :class:`~src.data.errors.DataError`, :class:`~src.params.ParamsError` and every
    subclass of them (``InsufficientDataError``, the churn model's ``NoUsableCovariatesError``,
    ...). A notebook raises the project's own classes, so their names identify them; the
    subclasses are looked up when asked, so a class defined in a module imported later counts.
    """
    return exception_name in _names(DataError) | _names(ParamsError)


def running_cell(out_nb: Path | None) -> tuple[int | None, int | None]:
    """(execution count, index) of the last cell papermill started in a partial notebook."""
    if out_nb is None or not out_nb.exists():
        return None, None
    try:
        nb = nbformat.read(out_nb, as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook only loses the cell number
        return None, None
    last: tuple[int | None, int | None] = (None, None)
    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.metadata.get("papermill") or {}).get("start_time"):
            # a cell whose kernel died has no execution count yet: it was the next one
            count = cell.get("execution_count") or count + 1
            last = (count, index)
    return last


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, PapermillExecutionError):
        return "[Errno 28]" in str(exc.evalue) or "No space left" in str(exc.evalue)
    return False


def is_kernel_start_failure(exc: BaseException) -> bool:
    """Whether the kernel died before it answered, so no cell ran: jupyter_client's
    ``Kernel died before replying to kernel_info`` (e.g. a ZMQ port taken by another process
    between the choice and the bind: ``Address already in use``), or a kernel that did not
    respond in time while starting."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "before replying to kernel_info" in text or "Kernel didn't respond" in text)


def notebook_exit_code(exc: BaseException, error: dict[str, Any]) -> int:
    """The exit code of a run whose notebook failed with ``exc`` (described as ``error`` by
    :func:`describe_failure`): storage (disk full), bad input (a data or params error the
    data step or a model step raised), or a failed notebook."""
    if is_disk_full(exc):
        return EXIT_STORAGE
    if is_bad_input(str(error["exception"])):
        return EXIT_BAD_INPUT
    return EXIT_NOTEBOOK_FAILED


def describe_failure(exc: BaseException, notebook: str, out_nb: Path | None = None) -> dict[str, Any]:
    if isinstance(exc, DeadKernelError):
        cell, index = running_cell(out_nb)
        where = f"cell {cell}" if cell is not None else "a cell"
        return {
            "notebook": notebook,
            "cell": cell,
            "cell_index": index,
            "exception": "DeadKernelError",
            "message": (f"kernel died while running {where} of notebook {notebook} (the kernel "
                        "process was killed: out of memory, a signal such as kill -9, or a crash "
                        "in native code); see the partial notebook and the system log"),
            "traceback_head": [],
        }
    if isinstance(exc, CellTimeoutError):
        cell, index = running_cell(out_nb)
        return {
            "notebook": notebook,
            "cell": cell,
            "cell_index": index,
            "exception": "CellTimeoutError",
            "message": (f"notebook {notebook} exceeded run.notebook_timeout_seconds in cell "
                        f"{cell}: {str(exc)[:500]}"),
            "traceback_head": [],
        }
    if isinstance(exc, PapermillExecutionError):
        tb = [line for line in (exc.traceback or []) if line.strip()]
        return {
            "notebook": notebook,
            "cell": exc.exec_count,
            "cell_index": exc.cell_index,
            "exception": exc.ename,
            "message": str(exc.evalue)[:2000],
            "traceback_head": [_strip_ansi(t)[:500] for t in tb[-8:]],
            "source_head": (exc.source or "").splitlines()[:5],
        }
    return {
        "notebook": notebook,
        "cell": None,
        "exception": type(exc).__name__,
        "message": str(exc)[:2000],
        "traceback_head": traceback.format_exception(exc)[-6:],
    }


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def failure_summary(manifest: RunManifest) -> str:
    """A few lines that say what failed and where: notebook, cell, exception, traceback head."""
    err = manifest.get("error") or {}
    lines = [f"run {manifest['run_id']} FAILED (exit code {manifest.get('exit_code')})"]
    if err.get("notebook"):
        cell = f", cell {err['cell']}" if err.get("cell") is not None else ""
        lines.append(f"  notebook: {err['notebook']}{cell}")
        lines.append(f"  partial output kept: {Path(manifest.get('run_dir', '')) / (err['notebook'] + '.ipynb')}")
    lines.append(f"  {err.get('exception')}: {err.get('message')}")
    for t in (err.get("traceback_head") or [])[-4:]:
        for line in str(t).rstrip().splitlines()[-3:]:
            lines.append(f"    {line}")
    lines += promotion_lines(manifest)
    return "\n".join(lines)
