"""Project locations. Everything is relative to the project root, never to this machine."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
PARAMS_DIR: Path = PROJECT_ROOT / "params"


def outputs_dir() -> Path:
    """Root of run folders: ``$CRM_OUTPUT_DIR`` or ``<project>/outputs``."""
    env = os.environ.get("CRM_OUTPUT_DIR")
    return Path(env).resolve() if env else PROJECT_ROOT / "outputs"


def runs_dir() -> Path:
    """Folder holding one sub-folder per run: ``<outputs>/runs``."""
    return outputs_dir() / "runs"


def resolve(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """Resolve a path from params: absolute stays, relative is taken from ``base`` (project root)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base or PROJECT_ROOT) / p


def notebook_path(name: str) -> Path:
    """``notebooks/<name>.ipynb``; a name with a folder (``path/to/x.ipynb``) is taken as a path,
    relative to the project root."""
    p = Path(name)
    if p.suffix == ".ipynb" and (p.is_absolute() or len(p.parts) > 1):
        return p if p.is_absolute() else PROJECT_ROOT / p
    return NOTEBOOKS_DIR / f"{p.stem if p.suffix == '.ipynb' else name}.ipynb"


def notebook_name(name: str) -> str:
    """The step name of a notebook entry (file stem)."""
    return Path(name).stem if name.endswith(".ipynb") else name
