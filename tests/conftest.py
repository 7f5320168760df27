"""Shared fixtures: demo-job runs made once per test session (across xdist workers too)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

try:
    import fcntl
except ImportError:  # not POSIX: no cross-worker lock
    fcntl = None  # type: ignore[assignment]

from src.runner.run import EXIT_OK
from tests.helpers import run_shipped_job

DEMO_CUSTOMERS = 400


def demo_run(tmp_path_factory: pytest.TempPathFactory, index: int) -> dict[str, Any]:
    """Run ``index`` (0, 1, ...) of the demo job (its notebooks, a small company), each with its
    own outputs folder and MLflow store; made once per test session and shared through the
    session's temp folder, across xdist workers too."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo-runs"
    home = root / f"run{index}"
    home.mkdir(parents=True, exist_ok=True)
    done = home / "result.json"
    with open(root / f"run{index}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be making this run
        if not done.exists():
            result, uri = run_shipped_job("demo", home, DEMO_CUSTOMERS)
            assert result.exit_code == EXIT_OK, result.manifest.get("error")
            done.write_text(json.dumps({"run_dir": str(result.run_dir), "uri": uri}),
                            encoding="utf-8")
    info = json.loads(done.read_text(encoding="utf-8"))
    return {"run_dir": Path(info["run_dir"]), "uri": info["uri"], "home": home}


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], dict[str, Any]]:
    """``demo_runs(i)``: the i-th shared demo run (run_dir, MLflow uri, home folder)."""
    return lambda index: demo_run(tmp_path_factory, index)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with end-to-end (``slow``) tests first, each module kept together: with
    ``pytest -n 2 --dist loadscope`` (``make test``) a module's fixtures are made once, on
    one worker, and the long modules start early instead of being the last ones left."""
    slow_modules = {item.module.__name__ for item in items
                    if item.get_closest_marker("slow") is not None and item.module is not None}
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (0 if item.module is not None
                                 and item.module.__name__ in slow_modules else 1, order[id(item)]))
