"""Models saved before the package move (issue 22: models/ estimators only; the scorer in
decisioning/, the registry and pyfunc in serving/, the loop in loop/) still load and predict
the same: a joblib CLV model and two MLflow pyfunc models (the customer scorer and the CLV
model) written by the code before the move, with their predictions of that time
(tests/fixtures/saved_before_move)."""

from __future__ import annotations

import importlib
import io
import json
import pickle
from pathlib import Path

import joblib
import mlflow.pyfunc
import pandas as pd
import pytest

from src.moved import MOVED

SAVED = Path(__file__).resolve().parents[0] / "fixtures" / "saved_before_move"


def _example(model_dir: Path) -> pd.DataFrame:
    ex = pd.read_json(model_dir / "input_example.json", orient="split")
    return ex.astype({c: float for c in ex.columns if pd.api.types.is_integer_dtype(ex[c])})


def test_the_fixtures_name_the_former_paths() -> None:
    """The saved files really reference the modules that moved (else this tests nothing)."""
    pyfunc = (SAVED / "scorer_pyfunc" / "python_model.pkl").read_bytes()
    assert b"src.models.mlflow_models" in pyfunc
    assert "src.models.scoring.CustomerScorer" in (SAVED / "scorer_pyfunc" / "MLmodel").read_text()
    assert b"src.models.clv" in (SAVED / "clv.joblib").read_bytes()
    for old in ("src.models.mlflow_models", "src.models.scoring", "src.models.clv"):
        assert old in MOVED


@pytest.mark.parametrize("name", ["scorer_pyfunc", "clv_pyfunc"])
def test_a_pyfunc_saved_before_the_move_predicts_as_it_did(name: str) -> None:
    model = mlflow.pyfunc.load_model(str(SAVED / name))
    got = model.predict(_example(SAVED / name))
    want = pd.read_csv(SAVED / f"{name}_predictions.csv")
    # through the same CSV round trip as the saved predictions
    again = pd.read_csv(io.StringIO(got.to_csv(index=False)))
    assert list(again.columns) == list(want.columns)
    pd.testing.assert_frame_equal(again, want, check_dtype=False, rtol=1e-9)
    inner = model.unwrap_python_model().model
    assert type(inner).__module__ in set(MOVED.values())  # the class of the new module


def test_a_joblib_model_saved_before_the_move_loads_as_the_new_class() -> None:
    from src.models.btyd.clv import CLVModel

    model = CLVModel.load(SAVED / "clv.joblib")
    assert type(model) is CLVModel
    assert joblib.load(SAVED / "clv.joblib").bgnbd_.params_ == model.bgnbd_.params_


def test_every_former_path_answers_the_new_module() -> None:
    for old, new in MOVED.items():
        alias, real = importlib.import_module(old), importlib.import_module(new)
        public = [n for n in vars(real) if not n.startswith("_")]
        assert public and all(getattr(alias, n) is getattr(real, n) for n in public), old
        # a class pickled under its former path comes back as the new class
        for n in public:
            obj = getattr(real, n)
            if isinstance(obj, type) and obj.__module__ == new:
                data = pickle.dumps(obj, protocol=0).replace(new.encode(), old.encode())  # text GLOBAL
                assert pickle.loads(data) is obj
                break
    assert json.loads(json.dumps(MOVED)) == MOVED
