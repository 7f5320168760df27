"""Modules that have moved: their former dotted paths keep importing, as aliases.

Models saved before a move name their classes by the module that defined them: a joblib file
(:meth:`src.models.base.ProjectModel.save`) pickles ``src.models.scoring.CustomerScorer``, a
registered MLflow version pickles its pyfunc wrapper ``src.models.mlflow_models.
ProjectModelPyfunc`` and records the model's class path in its ``model_config``. Each former
path in :data:`MOVED` is answered by an alias module whose attributes are the new module's (the
same class objects, so ``isinstance`` and ``Class.load`` hold), installed on ``sys.meta_path``
when ``src`` is imported (``src/__init__.py``). Project code imports the new paths; the
aliases are for what was saved before (tests/models/test_moved_modules.py loads such files).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

__all__ = ["MOVED", "install"]

#: former module path -> where it lives now (issue 22: models/ holds the estimators only)
MOVED: dict[str, str] = {
    "src.models.scoring": "src.decisioning.scoring",
    "src.models.lifecycle": "src.decisioning.lifecycle",
    "src.models.actions": "src.decisioning.actions",
    "src.models.scored_columns": "src.decisioning.scored_columns",
    "src.models.churn.scores": "src.decisioning.churn_scores",
    "src.models.registry": "src.serving.registry",
    "src.models.mlflow_models": "src.serving.pyfunc",
    "src.models.batch": "src.serving.batch",
    "src.models.champion": "src.serving.champion",
    "src.models.control_groups": "src.loop.control_groups",
    "src.models.campaign_register": "src.loop.campaign_register",
    "src.models.campaign_results": "src.loop.campaign_results",
    "src.models.backtest": "src.loop.backtest",
    "src.models.kpis": "src.loop.kpis",
    "src.models.vocabulary": "src.vocabulary",
    "src.models.clv": "src.models.btyd.clv",
    # the runner's execution core apart from the front page and the other CLI commands
    "src.runner.report": "src.page.report",
    "src.runner.page_text": "src.page.page_text",
    "src.runner.init_job": "src.commands.init_job",
    "src.runner.init_load": "src.commands.init_load",
    "src.runner.init_plan": "src.commands.init_plan",
    "src.runner.init_yaml": "src.commands.init_yaml",
    "src.runner.kpi_report": "src.commands.kpi_report",
    "src.runner.schedule": "src.commands.schedule",
}


class _Alias(importlib.abc.Loader):
    """Loads a former path as a module that answers every attribute from the new one."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        real = importlib.import_module(self.target)
        module.__dict__.update({k: v for k, v in vars(real).items()
                                if k not in {"__name__", "__spec__", "__loader__",
                                             "__package__", "__path__", "__file__"}})
        module.__moved_to__ = self.target  # type: ignore[attr-defined]


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Answer the former paths of :data:`MOVED` (once per interpreter)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
