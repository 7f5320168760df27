"""The model registry: every run registers a scorer version; the champion alias moves on gates.

Registry *aliases* (``MlflowClient.set_registered_model_alias``), not the deprecated stages.
Each version carries its validation metrics as version tags (``metric.<name>``), so the
champion's metrics are read from the registry itself, whichever run produced it.

Promotion gates (:class:`src.params.schema.GateParams`, from params) are checked by MLflow's
own threshold validation (``mlflow.validate_evaluation_results`` with
``mlflow.models.MetricThreshold``): each gate becomes one absolute threshold, the stricter of
its ``threshold`` and "no worse than the champion by more than ``max_worsening``". MLflow's
``min_absolute_change`` asks for an *improvement* over the baseline, which is not what a
margin of tolerance means, hence the folding into the threshold. The first version becomes
champion when the absolute thresholds pass.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from src.models.mlflow_models import log_project_model
from src.models.scoring import CustomerScorer
from src.params.schema import GateParams, PromotionParams

__all__ = [
    "DEFAULT_MODEL_NAME",
    "PromotionDecision",
    "UnknownModelError",
    "check_gates",
    "promote",
    "publish_scorer",
    "register_scorer",
    "resolve_model_uri",
    "version_metrics",
]

DEFAULT_MODEL_NAME = "tourism_crm_scorer"
_METRIC_TAG = "metric."


class UnknownModelError(LookupError):
    """A registered model, version or alias that does not exist (the message lists what does)."""


@dataclass
class PromotionDecision:
    """Outcome of :func:`promote`.

    promoted : whether the alias now points at ``version``.
    checks : one dict per gate: metric, candidate, champion, threshold, passed, reason.
    """

    model_name: str
    version: str
    alias: str
    promoted: bool
    champion_version: str | None
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float]
    checks: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _client(client: MlflowClient | None) -> MlflowClient:
    return client or MlflowClient()


def register_scorer(scorer: CustomerScorer, *, model_name: str = DEFAULT_MODEL_NAME,
                    artifact_name: str = "customer_scorer", client: MlflowClient | None = None,
                    tags: Mapping[str, str] | None = None):
    """Log the scorer in the active MLflow run and register it as a new version.

    The scorer's validation metrics (``scorer.metrics_``) are stored as version tags
    ``metric.<name>``; ``tags`` are added too.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    if mlflow.active_run() is None:
        raise RuntimeError("register_scorer needs an active MLflow run (mlflow.start_run())")
    c = _client(client)
    info = log_project_model(scorer, artifact_name, scorer.example_,
                             registered_model_name=model_name)
    version = str(info.registered_model_version)
    for k, v in scorer.metrics_.items():
        c.set_model_version_tag(model_name, version, f"{_METRIC_TAG}{k}", repr(float(v)))
    c.set_model_version_tag(model_name, version, "cutoff_date", scorer.cutoff_date_)
    c.set_model_version_tag(model_name, version, "run_id", info.run_id)
    for k, v in (tags or {}).items():
        c.set_model_version_tag(model_name, version, k, str(v))
    return c.get_model_version(model_name, version)


def version_metrics(model_name: str, version: str, client: MlflowClient | None = None
                    ) -> dict[str, float]:
    """The validation metrics stored on a model version (``metric.<name>`` tags)."""
    mv = _client(client).get_model_version(model_name, str(version))
    return {k[len(_METRIC_TAG):]: float(v) for k, v in (mv.tags or {}).items()
            if k.startswith(_METRIC_TAG)}


def check_gates(candidate: Mapping[str, float], champion: Mapping[str, float] | None,
                gates: Mapping[str, GateParams]) -> tuple[bool, list[dict[str, Any]]]:
    """Check a candidate's metrics against the gates (MLflow threshold validation).

    Parameters
    ----------
    candidate : the candidate's metrics.
    champion : the current champion's metrics (None: no champion yet; only the absolute
        thresholds apply).
    gates : metric name -> :class:`GateParams`.

    Returns
    -------
    (passed, checks) : ``checks`` has one dict per gate (metric, candidate, champion,
    threshold, passed, reason).
    """
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult

    checks: list[dict[str, Any]] = []
    thresholds: dict[str, MetricThreshold] = {}
    for name, g in gates.items():
        cand = candidate.get(name)
        champ = None if champion is None else champion.get(name)
        bounds = [] if g.threshold is None else [g.threshold]
        if champ is not None and g.max_worsening is not None and math.isfinite(champ):
            bounds.append(champ - g.max_worsening if g.greater_is_better
                          else champ + g.max_worsening)
        bound = (max(bounds) if g.greater_is_better else min(bounds)) if bounds else None
        check = {"metric": name, "candidate": cand, "champion": champ, "threshold": bound,
                 "greater_is_better": g.greater_is_better, "passed": True, "reason": ""}
        if cand is None or not math.isfinite(cand):
            check["passed"] = not g.required
            check["reason"] = "metric missing on the candidate" + ("" if g.required
                                                                  else " (not required)")
        elif bound is None:
            check["reason"] = "no threshold and no champion to compare with"
        else:
            thresholds[name] = MetricThreshold(threshold=float(bound),
                                               greater_is_better=g.greater_is_better)
        checks.append(check)
    if thresholds:
        cand_metrics = {k: float(v) for k, v in candidate.items()
                        if k in thresholds and v is not None}
        try:
            mlflow.validate_evaluation_results(
                thresholds, EvaluationResult(metrics=cand_metrics, artifacts={}))
        except MlflowException:
            # MLflow's message is one text for all gates: record which gate failed, with
            # the comparison MLflow uses (>= when greater is better, else <=)
            for check in checks:
                if check["metric"] in thresholds:
                    op = ">=" if check["greater_is_better"] else "<="
                    ok = (check["candidate"] >= check["threshold"] if check["greater_is_better"]
                          else check["candidate"] <= check["threshold"])
                    check["passed"] = bool(ok)
                    if not ok:
                        check["reason"] = (f"{check['candidate']:.4g} is not {op} "
                                           f"{check['threshold']:.4g}")
            if all(c["passed"] for c in checks):  # MLflow failed for a reason not seen here
                raise
    for check in checks:
        if check["passed"] and not check["reason"] and check["threshold"] is not None:
            op = ">=" if check["greater_is_better"] else "<="
            check["reason"] = f"{check['candidate']:.4g} {op} {check['threshold']:.4g}"
    return all(c["passed"] for c in checks), checks


def _champion(c: MlflowClient, model_name: str, alias: str):
    try:
        return c.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def promote(model_name: str, version: str | int, candidate_metrics: Mapping[str, float] | None = None,
            params: PromotionParams | None = None, *, client: MlflowClient | None = None,
            run_id: str | None = None) -> PromotionDecision:
    """Move the alias (``champion``) to ``version`` if the gates pass.

    Parameters
    ----------
    model_name, version : the registered candidate.
    candidate_metrics : its metrics (default: its ``metric.*`` version tags).
    params : gates and alias (:class:`PromotionParams`).
    run_id : MLflow run to log the decision into (both metric sets as
        ``promotion.candidate.<m>`` / ``promotion.champion.<m>``, ``promotion.promoted``,
        and ``promotion/decision.json``); default the active run, if any.

    Returns
    -------
    PromotionDecision; the decision is also written as version tags
    (``promotion.decision``, ``promotion.reasons``).
    """
    p = params or PromotionParams()
    c = _client(client)
    version = str(version)
    cand = dict(candidate_metrics) if candidate_metrics is not None else version_metrics(
        model_name, version, c)
    current = _champion(c, model_name, p.alias)
    champ_version = None if current is None else str(current.version)
    if champ_version == version:
        current, champ_version = None, None
    champ = None if current is None else version_metrics(model_name, champ_version, c)
    passed, checks = check_gates(cand, champ, p.gates)
    reasons = [f"{ch['metric']}: {ch['reason']}" for ch in checks if not ch["passed"]]
    if passed:
        c.set_registered_model_alias(model_name, p.alias, version)
    decision = PromotionDecision(
        model_name=model_name, version=version, alias=p.alias, promoted=passed,
        champion_version=champ_version, candidate_metrics=cand, champion_metrics=champ or {},
        checks=checks, reasons=reasons)
    c.set_model_version_tag(model_name, version, "promotion.decision",
                            "promoted" if passed else "rejected")
    c.set_model_version_tag(model_name, version, "promotion.reasons",
                            "; ".join(reasons) or "all gates passed")
    _log_decision(decision, run_id)
    return decision


def publish_scorer(scorer: CustomerScorer, params: PromotionParams, *, run_id: str | None = None,
                   judge: bool = True, tags: Mapping[str, str] | None = None,
                   client: MlflowClient | None = None) -> dict[str, Any]:
    """Register the scorer as a new version and, when ``promote``, move the champion alias
    through the gates (:func:`promote`) when ``judge``; what notebook 05 records as the run's
    scorer.

    ``judge=False`` (an interactive session) registers the candidate without judging it:
    exploring never moves the champion.

    Returns
    -------
    dict : ``name``, ``version``, ``promoted``, ``champion_before``, ``mlflow_run_id``,
    ``checks`` (one dict per gate; empty when not judged), ``reasons``.
    """
    version = register_scorer(scorer, model_name=params.model_name, tags=tags, client=client)
    record: dict[str, Any] = {"name": params.model_name, "version": str(version.version),
                              "promoted": False, "champion_before": None,
                              "mlflow_run_id": run_id, "checks": [], "reasons": []}
    if not judge:
        record["reasons"] = ["interactive session: registered, not judged; the champion stays"]
        return record
    decision = promote(params.model_name, version.version, params=params, run_id=run_id,
                               client=client)
    record.update(promoted=decision.promoted, champion_before=decision.champion_version,
                  checks=decision.checks, reasons=decision.reasons)
    return record


def _log_decision(decision: PromotionDecision, run_id: str | None) -> None:
    active = mlflow.active_run()
    rid = run_id or (active.info.run_id if active else None)
    if rid is None:
        return
    c = MlflowClient()
    metrics = {f"promotion.candidate.{k}": v for k, v in decision.candidate_metrics.items()}
    metrics.update({f"promotion.champion.{k}": v for k, v in decision.champion_metrics.items()})
    metrics["promotion.promoted"] = float(decision.promoted)
    for k, v in metrics.items():
        if v is not None and math.isfinite(float(v)):
            c.log_metric(rid, k, float(v))
    c.set_tag(rid, "promotion.decision", "promoted" if decision.promoted else "rejected")
    c.log_text(rid, json.dumps(decision.to_dict(), indent=2, default=str),
               "promotion/decision.json")


def _versions_text(c: MlflowClient, name: str) -> str:
    versions = sorted(int(v.version) for v in c.search_model_versions(f"name='{name}'"))
    try:
        aliases = c.get_registered_model(name).aliases or {}
    except MlflowException:
        aliases = {}
    al = ", ".join(f"@{a} -> {v}" for a, v in aliases.items())
    return f"versions {versions}" + (f", aliases {al}" if al else "")


def resolve_model_uri(model: str, client: MlflowClient | None = None) -> tuple[str, str]:
    """A ``models:/`` URI for ``<name>@<alias>``, ``<name>/<version>`` or ``<name>``
    (the champion), checked against the registry.

    Returns
    -------
    (uri, version)

    Raises
    ------
    UnknownModelError : the model, alias or version does not exist; the message lists the
        registered models or the versions and aliases that do.
    """
    c = _client(client)
    if model.startswith("models:/"):
        model = model[len("models:/"):]
    if "@" in model:
        name, alias = model.split("@", 1)
        version = None
    elif "/" in model:
        name, version = model.split("/", 1)
        alias = None
    else:
        name, alias, version = model, "champion", None
    try:
        c.get_registered_model(name)
    except MlflowException:
        known = sorted(m.name for m in c.search_registered_models())
        raise UnknownModelError(
            f"no registered model {name!r}; registered models: {known or 'none'}") from None
    if alias is not None:
        try:
            mv = c.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise UnknownModelError(
                f"model {name!r} has no alias {alias!r}; {_versions_text(c, name)}") from None
        return f"models:/{name}@{alias}", str(mv.version)
    try:
        c.get_model_version(name, str(version))
    except MlflowException:
        raise UnknownModelError(
            f"model {name!r} has no version {version!r}; {_versions_text(c, name)}") from None
    return f"models:/{name}/{version}", str(version)
