"""Where a run's code came from: the git commit (and whether the tree was dirty) and the
versions of the packages that compute the numbers, recorded in every manifest."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

from src.paths import PROJECT_ROOT

__all__ = ["PACKAGES", "git_commit", "package_versions"]

#: packages whose versions every manifest records
PACKAGES = ("pandas", "numpy", "scipy", "scikit-learn", "lifelines", "scikit-survival",
            "mlflow", "papermill", "pandera", "pyarrow", "matplotlib")


def git_commit() -> dict[str, Any]:
    """Commit of the project checkout and whether the work tree had uncommitted changes."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
