"""Fixtures of the runner's end-to-end tests: an outputs folder and MLflow store per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store with its tables made, once for the module: a new store
    spends ~3 s on its schema migrations; each test gets a copy of this one."""
    path = tmp_path_factory.mktemp("mlflow-store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path) -> Path:
    """Outputs and MLflow store of the test's own."""
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path
