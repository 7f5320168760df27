"""MLflow set-up: artifacts of an embedded SQLite store live beside the database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.runner.tracking import TrackingUnavailableError, connect, sqlite_artifact_root


def test_artifact_root_beside_absolute_and_relative_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_artifact_root(f"sqlite:///{tmp_path}/m.db") == (tmp_path / "mlartifacts").as_uri()
    monkeypatch.chdir(tmp_path)
    assert sqlite_artifact_root("sqlite:///sub/m.db") == (tmp_path / "sub" / "mlartifacts").as_uri()
    assert sqlite_artifact_root("http://127.0.0.1:5000") is None


def test_connect_creates_experiment_with_local_artifacts(tmp_path: Path) -> None:
    client, exp_id = connect(f"sqlite:///{tmp_path}/mlflow.db", "t")
    assert client.get_experiment(exp_id).artifact_location == (tmp_path / "mlartifacts").as_uri()


def test_unreachable_store_is_a_clear_error() -> None:
    with pytest.raises(TrackingUnavailableError, match="127.0.0.1:9.*allow_local_fallback"):
        connect("http://127.0.0.1:9", "t")
