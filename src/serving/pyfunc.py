"""The one MLflow pyfunc of the project: any fitted project model, logged with its own file.

:class:`ProjectModelPyfunc` is a thin wrapper in the manner MLflow recommends: the artifact is
the model's own ``save`` file (joblib, :class:`src.models.base.ProjectModel`), the class is
recorded in the model config, ``load_context`` loads it with ``Class.load`` and ``predict``
calls the model's ``predict`` — nothing of the logic is pickled into MLflow, the project's
code (installed where the model is loaded) does the work. The segmentation model, the churn
model, the CLV model and the registered customer scorer all go through
:func:`log_project_model`; a model that shapes its own input (``model_input``) or declares its
own signature (``signature``) is asked for them.
"""

from __future__ import annotations

import importlib
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from src.models.frames import to_plain_dtypes

__all__ = ["ProjectModelPyfunc", "log_project_model", "pip_requirements"]

_ARTIFACT = "model"
_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lifelines",
                 "joblib", "pydantic")


def _plain_output(out: pd.DataFrame) -> pd.DataFrame:
    return to_plain_dtypes(out.reset_index() if out.index.name else out)


class ProjectModelPyfunc(PythonModel):
    """Loads ``<class>.load(artifact)`` and answers ``predict`` with the model's ``predict``."""

    def load_context(self, context) -> None:
        module, _, name = context.model_config["class"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        self.model = cls.load(context.artifacts[_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        """Rows in the logged signature's columns -> the model's predictions (plain dtypes;
        an index such as ``customer_id`` becomes a column)."""
        return _plain_output(self.model.predict(model_input))


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (the installed versions of what it imports).

    Given explicitly, so logging does not spend seconds inferring them in a subprocess; the
    project itself (``src``) must be installed where the model is loaded (``pip install -e``
    of this repository), since the pyfunc loads the project's own classes.
    """
    out = []
    for pkg in _REQUIREMENTS:
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return out


def log_project_model(model: Any, name: str, input_example: pd.DataFrame, **log_kwargs: Any):
    """Log a fitted project model to the active MLflow run as the project's pyfunc, with an
    input/output signature.

    Parameters
    ----------
    model : a fitted project model (``save``, ``load``, ``predict``); when it has
        ``model_input(frame)`` the example is shaped by it, when it has
        ``signature(example)`` that signature is logged, else one is inferred from the
        example and its prediction.
    name : model name within the run.
    input_example : a few rows the model predicts for (at most 20 are logged).
    **log_kwargs : passed to ``mlflow.pyfunc.log_model`` (e.g. ``registered_model_name``).

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    model.check_fitted()
    shape = getattr(model, "model_input", None)
    example = (shape(input_example) if shape is not None
               else to_plain_dtypes(input_example, ints_as_float=True)).head(20)
    declared = getattr(model, "signature", None)
    signature = (declared(example) if callable(declared)
                 else infer_signature(example, _plain_output(model.predict(example))))
    log_kwargs.setdefault("pip_requirements", pip_requirements())
    cls = type(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / f"{cls.__name__}.joblib")
        return mlflow.pyfunc.log_model(
            name=name, python_model=ProjectModelPyfunc(), artifacts={_ARTIFACT: str(path)},
            model_config={"class": f"{cls.__module__}.{cls.__qualname__}"},
            signature=signature, input_example=example, **log_kwargs)
