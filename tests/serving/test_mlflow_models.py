"""The generic project-model pyfunc: log, load, score equals in-process (churn model)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from src.data.synthetic import generate
from src.models.churn import ChurnModel, landmark_frame
from src.models.frames import to_plain_dtypes
from src.serving.pyfunc import log_project_model


@pytest.fixture(scope="module")
def fitted() -> tuple[ChurnModel, pd.DataFrame]:
    tables = generate(2500, seed=5).tables()
    train = landmark_frame(tables, landmark_date="2024-06-30", end_date="2025-06-30", time_origin="landmark")
    model = ChurnModel(kind="weibull_aft", covariates=["recency_days", "frequency", "monetary_mean",
                                                       "complaints_total", "customer_type"],
                       penalizers=(0.01,), seed=0, horizons_days=(90, 180)).fit(train)
    current = landmark_frame(tables, landmark_date="2025-12-31", time_origin="landmark")
    return model, current


def test_churn_pyfunc_round_trip(fitted, tmp_path: Path) -> None:
    model, current = fitted
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = log_project_model(model, "churn_model", current.head(20))
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    got = loaded.predict(to_plain_dtypes(current, ints_as_float=True)[list(current.columns)])
    want = model.predict(current).reset_index()
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for col in ("churn_prob_90d", "churn_prob_180d", "expected_remaining_days"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-10)
    assert info.signature.inputs is not None and "recency_days" in info.signature.inputs.input_names()
    mlflow.set_tracking_uri(None)
