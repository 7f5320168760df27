"""environment.yml (conda users) must list the same dependencies as pyproject.toml (pip)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return dict(_split(r) for r in reqs)


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    out = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str):
            continue
        name, spec = _split(dep)
        if name in {"python", "pip"}:
            continue
        out[CONDA_TO_PYPI.get(name, name)] = spec
    return out


def test_same_packages_and_ranges() -> None:
    pip, conda = _pyproject(), _environment()
    assert set(pip) == set(conda), (
        f"only in pyproject: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}")
    differing = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differing, f"version ranges differ (pyproject, environment.yml): {differing}"


def test_lock_satisfies_ranges() -> None:
    """Every pinned version in requirements.lock lies inside its pyproject range."""
    from packaging.specifiers import SpecifierSet

    lock = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            lock[name.strip().lower().replace("_", "-")] = version.strip()
    for name, spec in _pyproject().items():
        assert name in lock, f"{name} is not pinned in requirements.lock (run `make lock`)"
        assert lock[name] in SpecifierSet(spec), f"lock pins {name}=={lock[name]}, outside {spec}"
