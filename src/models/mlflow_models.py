"""MLflow pyfunc for the project's model objects: the artifact is the model's own ``save``
file, the class and scoring method are recorded in the model config, and ``predict`` calls the
project's code (nothing of the logic is pickled into MLflow)."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

_ARTIFACT = "model"


def to_plain_dtypes(frame: pd.DataFrame, *, ints_as_float: bool = False) -> pd.DataFrame:
    """Plain dtypes MLflow schemas understand: categories -> str (missing: None), nullable
    numerics -> float64 (missing: NaN), nullable booleans -> object; with ``ints_as_float``
    integer columns -> float64 too (so a signature accepts both ints and floats).

    MLflow enforces the signature *before* a pyfunc sees its input, so callers of a logged
    model pass features through this function (the feature tables keep categoricals for memory)."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif str(dtype) == "boolean":
            out[col] = out[col].astype(object)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            out[col] = out[col].astype("float64")
        elif ints_as_float and pd.api.types.is_integer_dtype(dtype):
            out[col] = out[col].astype("float64")
    return out


class ProjectModelPyfunc(PythonModel):
    """Loads ``<class>.load(artifact)`` and answers ``predict`` with ``<method>(frame)``."""

    def load_context(self, context) -> None:
        config = context.model_config
        module, _, name = config["class"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        self.model = cls.load(context.artifacts[_ARTIFACT])
        self.method = config.get("method", "predict")

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        out = getattr(self.model, self.method)(model_input)
        return to_plain_dtypes(out.reset_index() if out.index.name else out)


def log_project_model(model: Any, name: str, input_example: pd.DataFrame, *, method: str = "predict",
                      file_name: str = "model.pkl", **log_kwargs: Any):
    """Log a fitted project model (any class with ``save(path)``, ``load(path)`` and ``method``)
    to the active MLflow run as a pyfunc with an input/output signature.

    Parameters
    ----------
    model : fitted model.
    name : model name within the run.
    input_example : a few rows the model scores (dtypes made plain, ints as floats).
    method : the scoring method the pyfunc calls.
    **log_kwargs : passed to ``mlflow.pyfunc.log_model`` (e.g. ``registered_model_name``).

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    example = to_plain_dtypes(input_example, ints_as_float=True)
    output = getattr(model, method)(example)
    signature = infer_signature(example, to_plain_dtypes(output.reset_index() if output.index.name else output))
    cls = type(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / file_name)
        return mlflow.pyfunc.log_model(
            name=name, python_model=ProjectModelPyfunc(), artifacts={_ARTIFACT: str(path)},
            model_config={"class": f"{cls.__module__}.{cls.__qualname__}", "method": method},
            signature=signature, input_example=example, **log_kwargs)
