"""The model registry: every run registers a scorer version; the champion alias moves on gates,
and only once the whole run has succeeded.

Registry *aliases* (``MlflowClient.set_registered_model_alias``), not the deprecated stages.
Each version carries its validation metrics as version tags (``metric.<name>``), so the
champion's metrics are read from the registry itself, whichever run produced it. Each job has
its own registered model (:func:`scorer_model_name`: ``<job>_scorer`` unless
``scoring.promotion.model_name`` says otherwise), so one data set's candidate is never judged
against, nor replaces, another data set's champion.

Promotion gates (:class:`src.params.schema.GateParams`, from params) are checked by MLflow's
own threshold validation (``mlflow.validate_evaluation_results`` with
``mlflow.models.MetricThreshold``): each gate becomes one absolute threshold, the stricter of
its ``threshold`` and "no worse than the champion by more than ``max_worsening``". MLflow's
``min_absolute_change`` asks for an *improvement* over the baseline, which is not what a
margin of tolerance means, hence the folding into the threshold. The first version becomes
champion when the absolute thresholds pass. Two gates check the fits themselves
(``clv_fit_problems``, ``churn_fit_problems``, :func:`fit_problems`): a parameter at a bound,
a non-finite standard error or no convergence fails the candidate, and the reasons say which
parameter and what it means for the lists.

A scheduled run decides in two steps. Notebook 05 registers and judges the candidate
(:func:`publish_scorer`: the decision is ``pending`` or ``rejected``, and the record says
where the lists come from: the candidate, the champion, or none, as
``scoring.promotion.on_reject`` says); the runner moves the alias at the very end, when every
notebook has succeeded (:func:`settle_promotion`), and puts it back if the run's own records
then cannot be written (:func:`rollback_promotion`). :func:`promote` judges and moves at once
(a manual promotion).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from src.decisioning.scoring import CustomerScorer
from src.features.scoring import scoring_features
from src.models.frames import signature_dtypes
from src.params.schema import GateParams, PromotionParams
from src.serving.champion import BEFORE_TAG, NO_CHAMPION, comparison_problem
from src.serving.pyfunc import log_project_model

__all__ = [
    "DEFAULT_MODEL_NAME",
    "PromotionDecision",
    "UnknownModelError",
    "candidate_metrics",
    "check_gates",
    "fit_problems",
    "judge_candidate",
    "promote",
    "publish_scorer",
    "register_scorer",
    "resolve_model_uri",
    "rollback_promotion",
    "score_with_version",
    "scorer_model_name",
    "settle_promotion",
    "version_metrics",
]

DEFAULT_MODEL_NAME = "tourism_crm_scorer"
"""Name for a scorer registered outside a job (tests, benchmarks); a job's scorer is
:func:`scorer_model_name`."""
_METRIC_TAG = "metric."
_CHURN_LISTS = ("for the lists: churn probabilities, remaining lifetimes and the actions that "
                "depend on them (win-back, VIP care) rest on hazard ratios the data do not "
                "determine")


class UnknownModelError(LookupError):
    """A registered model, version or alias that does not exist (the message lists what does)."""


@dataclass
class PromotionDecision:
    """Outcome of :func:`judge_candidate` / :func:`promote`.

    promoted : whether the candidate passed every gate (for :func:`promote`: the alias now
        points at ``version``).
    checks : one dict per gate: metric, candidate, champion, threshold, passed, reason.
    comparison : why the champion was not compared with (:func:`comparison_problem`), or "".
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
    comparison: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _client(client: MlflowClient | None) -> MlflowClient:
    return client or MlflowClient()


def scorer_model_name(job: str, params: PromotionParams) -> str:
    """The registered model of a job's scorer: ``scoring.promotion.model_name``, else
    ``<job>_scorer`` (characters other than letters, digits, ``_``, ``-`` and ``.``
    become ``_``), so each job has its own champion."""
    if params.model_name:
        return params.model_name
    return re.sub(r"[^0-9A-Za-z_.\-]+", "_", str(job)).strip("_") + "_scorer"


def _churn_fit_problems(churn: Any) -> list[str]:
    """Problems of a fitted :class:`~src.models.churn.ChurnModel`, read from its fitted
    attributes: no convergence, non-finite standard errors (Kaplan-Meier has neither)."""
    if churn is None or getattr(churn, "kind", "km") == "km":
        return []
    label = {"coxph": "Cox PH", "weibull_aft": "Weibull AFT"}.get(churn.kind, str(churn.kind))
    fitter = getattr(churn, "fitter_", None)
    out = []
    warned = [w for w in getattr(churn, "fit_warnings_", [])
              if "did not converge" in w or "failed to converge" in w.lower()]
    if getattr(fitter, "converged_", True) is False or warned:
        detail = f" ({warned[0][:200]})" if warned else ""
        out.append(f"{label} churn model did not converge{detail}; {_CHURN_LISTS}")
    se = getattr(fitter, "standard_errors_", None)
    if se is not None:
        se = pd.Series(se)
        bad = [":".join(map(str, k)) if isinstance(k, tuple) else str(k)
               for k, v in se.items() if not np.isfinite(float(v))]
        if bad:
            out.append(f"{label} churn model: no finite standard error for {', '.join(bad[:8])}"
                       f"{' ...' if len(bad) > 8 else ''} (the likelihood is flat along them); "
                       f"{_CHURN_LISTS}")
    return out


def fit_problems(scorer: CustomerScorer) -> dict[str, list[str]]:
    """What is wrong with the fits inside a scorer, by part (``clv``, ``churn``), one
    plain-language sentence per problem naming the parameter and what it means for the
    lists: BG/NBD and Gamma-Gamma through their own check
    (:meth:`src.models.btyd.base.LogParamMLE.fit_problems`), the churn model through its
    fitted attributes (convergence, standard errors). An absent part has no problems."""
    clv = getattr(scorer, "clv", None)
    parts = [] if clv is None else [clv.bgnbd_, getattr(clv, "gamma_gamma_", None)]
    return {"clv": [p for part in parts if part is not None for p in part.fit_problems()],
            "churn": _churn_fit_problems(getattr(scorer, "churn", None))}


def candidate_metrics(scorer: CustomerScorer) -> dict[str, float]:
    """The metrics a scorer is judged on: its validation metrics (``metrics_``) and the
    number of fit problems per part (``clv_fit_problems``, ``churn_fit_problems``)."""
    counts = {f"{part}_fit_problems": float(len(texts))
              for part, texts in fit_problems(scorer).items()}
    return {**{k: float(v) for k, v in scorer.metrics_.items()}, **counts}


def register_scorer(scorer: CustomerScorer, *, model_name: str = DEFAULT_MODEL_NAME,
                    artifact_name: str = "customer_scorer", client: MlflowClient | None = None,
                    tags: Mapping[str, str] | None = None):
    """Log the scorer in the active MLflow run and register it as a new version.

    The scorer's metrics (:func:`candidate_metrics`: validation metrics and fit-problem
    counts) are stored as version tags ``metric.<name>``; ``tags`` are added too.

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
    for k, v in candidate_metrics(scorer).items():
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


def judge_candidate(model_name: str, version: str | int, candidate_metrics: Mapping[str, float] | None = None,
          params: PromotionParams | None = None, *, client: MlflowClient | None = None,
          problems: Mapping[str, list[str]] | None = None) -> PromotionDecision:
    """Check a registered candidate against the gates and the current champion; the alias
    does not move (``promoted`` says whether it *would*).

    Parameters
    ----------
    model_name, version : the registered candidate.
    candidate_metrics : its metrics (default: its ``metric.*`` version tags).
    params : gates and alias (:class:`PromotionParams`).
    problems : fit problems by part (:func:`fit_problems`); a failed ``<part>_fit_problems``
        gate carries them in its reason.
    """
    p = params or PromotionParams()
    c = _client(client)
    version = str(version)
    cand = (dict(candidate_metrics) if candidate_metrics is not None
            else version_metrics(model_name, version, c))
    current = _champion(c, model_name, p.alias)
    champ_version = None if current is None else str(current.version)
    if champ_version == version:
        current, champ_version = None, None
    why = None if current is None else comparison_problem(
        c.get_model_version(model_name, version).tags or {}, current.tags or {})
    champ = (None if current is None or why
             else version_metrics(model_name, champ_version, c))
    passed, checks = check_gates(cand, champ, p.gates)
    for check in checks:
        texts = (problems or {}).get(check["metric"].removesuffix("_fit_problems"), [])
        if check["metric"].endswith("_fit_problems") and texts:
            check["problems"] = list(texts)
            if not check["passed"]:
                check["reason"] += ": " + " | ".join(texts)
    reasons = [f"{ch['metric']}: {ch['reason']}" for ch in checks if not ch["passed"]]
    return PromotionDecision(
        model_name=model_name, version=version, alias=p.alias, promoted=passed,
        champion_version=champ_version, candidate_metrics=cand, champion_metrics=champ or {},
        checks=checks, reasons=reasons, comparison="" if not why else (
            f"{why}: version {champ_version} is no yardstick, the absolute thresholds apply"))


def promote(model_name: str, version: str | int, candidate_metrics: Mapping[str, float] | None = None,
            params: PromotionParams | None = None, *, client: MlflowClient | None = None,
            run_id: str | None = None) -> PromotionDecision:
    """Judge a candidate (:func:`judge_candidate`) and move the alias to it at once if the gates pass:
    a manual promotion. A scheduled run moves the alias only at its end
    (:func:`publish_scorer`, then :func:`settle_promotion`).

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
    c = _client(client)
    decision = judge_candidate(model_name, version, candidate_metrics, params, client=c)
    if decision.promoted:
        c.set_registered_model_alias(model_name, decision.alias, decision.version)
        c.set_model_version_tag(model_name, decision.version, BEFORE_TAG,
                                decision.champion_version or NO_CHAMPION)
    label = "promoted" if decision.promoted else "rejected"
    _tag_version(c, model_name, decision.version, label, decision.reasons)
    _log_decision(decision, run_id, label)
    return decision


def publish_scorer(scorer: CustomerScorer, params: PromotionParams, *, job: str | None = None,
                   run_id: str | None = None, judge: bool = True,
                   tags: Mapping[str, str] | None = None,
                   client: MlflowClient | None = None) -> dict[str, Any]:
    """What notebook 05 does with its scorer: register it as a new version of the job's model
    (:func:`scorer_model_name`) and, when ``judge``, decide on it through the gates; the
    alias itself moves only at the end of a successful run (:func:`settle_promotion`).

    ``judge=False`` (an interactive session) registers the candidate without judging it:
    exploring never moves the champion, and the session's lists come from its own scorer.

    Returns
    -------
    dict, the run's scorer record: ``name``, ``version``, ``alias``, ``cutoff_date``,
    ``mlflow_run_id``; ``judged``, ``gates_passed``, ``decision`` (``pending``: passed, waits
    for the run to succeed; ``rejected``; ``not_judged``), ``promoted`` (False until the run
    has succeeded), ``champion_before``, ``champion_after``, ``checks`` (one dict per gate),
    ``reasons``, ``fit_problems`` (by part); where the lists come from: ``on_reject``,
    ``lists_from`` (``candidate``, ``champion`` or ``none``), ``lists_model`` (name and
    version that scores them) and ``lists_note``.
    """
    if not (params.model_name or job):
        raise ValueError("publish_scorer needs the job (or scoring.promotion.model_name) to "
                         "name the registered model")
    name = scorer_model_name(job or "", params)
    c = _client(client)
    version = str(register_scorer(scorer, model_name=name, tags=tags, client=c).version)
    problems = fit_problems(scorer)
    record: dict[str, Any] = {
        "name": name, "version": version, "alias": params.alias,
        "cutoff_date": scorer.cutoff_date_, "mlflow_run_id": run_id, "judged": judge,
        "gates_passed": None, "decision": "not_judged", "promoted": False,
        "champion_before": None, "champion_after": None, "checks": [], "reasons": [],
        "fit_problems": problems, "on_reject": params.on_reject, "lists_from": "candidate",
        "lists_model": {"name": name, "version": version}, "lists_note": ""}
    if not judge:
        record["reasons"] = ["interactive session: registered, not judged; the champion stays"]
        record["lists_note"] = f"lists from this session's candidate, version {version}"
        return record
    decision = judge_candidate(name, version, params=params, client=c, problems=problems)
    champion = decision.champion_version
    record.update(gates_passed=decision.promoted, champion_before=champion,
                  comparison=decision.comparison,
                  champion_after=champion, checks=decision.checks, reasons=decision.reasons,
                  decision="pending" if decision.promoted else "rejected")
    if decision.promoted:
        record["lists_note"] = (f"lists from candidate version {version}, which passed the gates "
                                f"(it becomes @{params.alias} when the whole run succeeds)")
    elif params.on_reject == "champion" and champion is not None:
        record.update(lists_from="champion", lists_model={"name": name, "version": champion})
        record["lists_note"] = (f"the gates rejected candidate version {version}: lists from "
                                f"@{params.alias} version {champion} "
                                "(scoring.promotion.on_reject: champion)")
    else:
        record.update(lists_from="none", lists_model=None)
        why = ("scoring.promotion.on_reject: skip" if params.on_reject == "skip"
               else f"on_reject: champion, but there is no @{params.alias} yet")
        record["lists_note"] = (f"the gates rejected candidate version {version}: no lists "
                                f"published ({why})")
    _tag_version(c, name, version, record["decision"], decision.reasons)
    _log_decision(decision, run_id, record["decision"])
    return record


def settle_promotion(record: dict[str, Any], *, run_succeeded: bool, failure: str | None = None,
                     log_to: Iterable[str | None] = (),
                     client: MlflowClient | None = None) -> dict[str, Any]:
    """The end of a run: move the alias to a candidate that passed the gates when the whole
    run succeeded; otherwise leave the champion where it is and say why.

    Parameters
    ----------
    record : the run's scorer record (:func:`publish_scorer`).
    run_succeeded : every notebook of the run succeeded.
    failure : what failed (for the reason), when the run did not succeed.
    log_to : MLflow runs that get the final decision (tag ``promotion.decision``, metric
        ``promotion.promoted``); the notebook's run of the record always does.

    Returns
    -------
    the updated record: ``decision`` becomes ``promoted`` or ``not_promoted`` (run failed,
    or the champion moved while the run was going: judged against another champion); a
    rejected or unjudged candidate is returned unchanged.
    """
    if not record.get("judged") or not record.get("gates_passed") or record.get("promoted"):
        return record
    c = _client(client)
    name, version, alias = record["name"], str(record["version"]), record.get("alias", "champion")
    out = dict(record)
    current = _champion(c, name, alias)
    now = None if current is None else str(current.version)
    if not run_succeeded:
        out.update(decision="not_promoted", champion_after=now, reasons=[
            f"passed the gates, but the run failed ({failure or 'see the run'}): "
            f"@{alias} stays {_version_text(now)}"])
    elif now != record.get("champion_before"):
        out.update(decision="not_promoted", champion_after=now, reasons=[
            f"@{alias} moved from {_version_text(record.get('champion_before'))} to "
            f"{_version_text(now)} while the run was going; the candidate was judged against "
            "another champion, so it is not promoted (a new run judges it afresh)"])
    else:
        c.set_registered_model_alias(name, alias, version)
        c.set_model_version_tag(name, version, BEFORE_TAG, now or NO_CHAMPION)  # the way back
        out.update(decision="promoted", promoted=True, champion_after=version, reasons=[],
                   lists_note=f"lists from version {version}, now @{alias}")
    _tag_version(c, name, version, out["decision"], out["reasons"])
    for rid in dict.fromkeys([record.get("mlflow_run_id"), *log_to]):
        _log_final(c, rid, out)
    return out


def rollback_promotion(record: dict[str, Any], reason: str, *, log_to: Iterable[str | None] = (),
                       client: MlflowClient | None = None) -> dict[str, Any]:
    """Undo :func:`settle_promotion`: the alias goes back to the champion before the run (or
    is removed when there was none). Used when a run fails after its promotion (its own
    records could not be written). A record not promoted is returned unchanged."""
    if not record.get("promoted"):
        return record
    c = _client(client)
    name, alias, before = record["name"], record.get("alias", "champion"), record.get("champion_before")
    if before is None:
        c.delete_registered_model_alias(name, alias)
    else:
        c.set_registered_model_alias(name, alias, str(before))
    out = dict(record, decision="rolled_back", promoted=False, champion_after=before, reasons=[
        f"promoted, then rolled back because the run failed afterwards ({reason}): @{alias} "
        f"is {_version_text(before)} again"])
    _tag_version(c, name, str(record["version"]), "rolled_back", out["reasons"])
    for rid in dict.fromkeys([record.get("mlflow_run_id"), *log_to]):
        _log_final(c, rid, out)
    return out


def score_with_version(name: str, version: str | int, tables: Mapping[str, pd.DataFrame],
                       cutoff_date: Any) -> pd.DataFrame:
    """Score every customer of ``tables`` at ``cutoff_date`` with a registered scorer version
    (the registered pyfunc itself, with the feature settings it was fitted with): how a run
    whose candidate was rejected publishes the champion's lists.

    Returns
    -------
    DataFrame : one scored row per customer (the pyfunc's output columns).
    """
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    scorer = loaded.unwrap_python_model().model
    features = scoring_features(tables, cutoff_date, scorer.feature_settings_)
    inputs = loaded.metadata.get_input_schema().input_names()
    return loaded.predict(signature_dtypes(features[[c for c in inputs if c in features.columns]]))


def _version_text(version: str | None) -> str:
    return "unset" if version is None else f"version {version}"


def _tag_version(c: MlflowClient, name: str, version: str, decision: str,
                 reasons: list[str]) -> None:
    c.set_model_version_tag(name, version, "promotion.decision", decision)
    c.set_model_version_tag(name, version, "promotion.reasons",
                            "; ".join(reasons)[:4000] or "all gates passed")


def _log_final(c: MlflowClient, run_id: str | None, record: Mapping[str, Any]) -> None:
    if not run_id:
        return
    c.set_tag(run_id, "promotion.decision", record["decision"])
    c.log_metric(run_id, "promotion.promoted", float(bool(record.get("promoted"))))


def _log_decision(decision: PromotionDecision, run_id: str | None, label: str) -> None:
    active = mlflow.active_run()
    rid = run_id or (active.info.run_id if active else None)
    if rid is None:
        return
    c = MlflowClient()
    metrics = {f"promotion.candidate.{k}": v for k, v in decision.candidate_metrics.items()}
    metrics.update({f"promotion.champion.{k}": v for k, v in decision.champion_metrics.items()})
    metrics["promotion.gates_passed"] = float(decision.promoted)
    if label in ("promoted", "rejected"):
        metrics["promotion.promoted"] = float(label == "promoted")
    for k, v in metrics.items():
        if v is not None and math.isfinite(float(v)):
            c.log_metric(rid, k, float(v))
    c.set_tag(rid, "promotion.decision", label)
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
