"""What every model class of the project shares: the not-fitted error, one persistence format,
and the human view of a fitted model.

In the manner of scikit-learn and lifelines: parameters are stored by ``__init__``, all work
happens in ``fit`` (which returns ``self``), fitted attributes end with ``_``, ``predict*``
methods predict, ``summary`` is a property holding a DataFrame and ``print_summary()`` prints
it. Calling a prediction before ``fit`` raises scikit-learn's
:class:`~sklearn.exceptions.NotFittedError`. Every model is saved with joblib
(``save(path)`` / ``Class.load(path)``), the one format the run folder, the MLflow pyfunc and
the scorer read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import joblib
import pandas as pd
from sklearn.exceptions import NotFittedError

__all__ = ["NotFittedError", "ProjectModel"]


class ProjectModel:
    """Base class of the project's models.

    Subclasses set ``_fitted_attribute`` (an attribute that exists only after ``fit``) and
    implement the ``summary`` property.
    """

    _fitted_attribute: str = ""

    def is_fitted(self) -> bool:
        """True once ``fit`` has run."""
        return hasattr(self, self._fitted_attribute)

    def check_fitted(self) -> None:
        """Raise :class:`~sklearn.exceptions.NotFittedError` before ``fit``."""
        if not self.is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call fit() before "
                "predicting, summarising or saving it")

    @property
    def summary(self) -> pd.DataFrame:
        """The fitted model as a table (parameters, coefficients, sizes)."""
        raise NotImplementedError

    def print_summary(self, decimals: int = 3) -> None:
        """Print :attr:`summary` with ``decimals`` digits (the human view of the fit)."""
        with pd.option_context("display.max_rows", 200, "display.width", 120,
                               "display.float_format", f"{{:.{decimals}f}}".format):
            print(f"{type(self).__name__}")
            print(self.summary)

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (joblib); returns the path."""
        self.check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save` (refuses a file of another class)."""
        obj = joblib.load(Path(path))
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj
