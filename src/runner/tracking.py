"""MLflow set-up shared by the runner, the notebooks and the CLI.

The default tracking store is embedded: a SQLite file ``mlflow.db`` in the project root,
created on first use, with artifacts in ``mlartifacts/`` beside it. ``MLFLOW_TRACKING_URI``
or ``mlflow.tracking_uri`` in the job params take over.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from src.paths import PROJECT_ROOT


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking store cannot be reached."""


def default_tracking_uri() -> str:
    """``sqlite:///<project root>/mlflow.db``."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def resolve_tracking_uri(configured: str | None = None) -> str:
    """Params value, else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite store."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def sqlite_artifact_root(uri: str) -> str | None:
    """Artifact folder beside a SQLite store (``<db folder>/mlartifacts``), else ``None``."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///"):]  # "/abs/path.db" (sqlite:////abs/path.db) or "rel/path.db"
    db = Path("/" + rest.lstrip("/")) if rest.startswith("/") else Path.cwd() / rest
    return (db.parent / "mlartifacts").as_uri()


def connect(tracking_uri: str | None, experiment: str) -> tuple[MlflowClient, str]:
    """Point MLflow at the store and make sure the experiment exists.

    Returns
    -------
    (client, experiment_id)

    Raises
    ------
    TrackingUnavailableError : the store does not answer (names the URI).
    """
    uri = resolve_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    try:
        exp = client.get_experiment_by_name(experiment)
        if exp is not None:
            return client, exp.experiment_id
        return client, client.create_experiment(experiment, artifact_location=sqlite_artifact_root(uri))
    except Exception as exc:  # any store failure: connection refused, locked file, bad URI
        raise TrackingUnavailableError(
            f"MLflow tracking store {uri!r} is unreachable: {type(exc).__name__}: {exc}. "
            "Start the server, fix mlflow.tracking_uri / MLFLOW_TRACKING_URI, or set "
            "mlflow.allow_local_fallback: true to log to the embedded store."
        ) from exc
