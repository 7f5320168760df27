"""Customer lifecycle stages by rules, stage transitions, and the loyalty view per segment.

Stages are assigned by an ordered list of rules kept in params, evaluated on the customer
feature table (:func:`src.features.customer.customer_features`, plus the BG/NBD ``p_alive``
and the booking gaps of :func:`booking_gaps`): the first rule whose condition holds gives the
stage. A rule is ``{"stage": <name>, "when": <expression>}``; the expression is a pandas
``DataFrame.eval`` expression over column names, numbers and strings with comparisons,
arithmetic and ``and`` / ``or`` / ``not``. Anything else (function calls, attribute access,
indexing, ``@`` variables, unknown names) is rejected before evaluation with an error naming
the rule, so params cannot run arbitrary code. A comparison with a missing value is false
(so ``not (p_alive >= 0.5)`` is true where ``p_alive`` is missing, ``p_alive < 0.5`` is not).

Default stages (:data:`DEFAULT_STAGE_RULES`, days)
--------------------------------------------------
``no_completed_booking``
    known customer without a completed trip (every booking cancelled or still upcoming).
``new``
    one booking day so far (``frequency == 0``), first booking at most 180 days ago.
``won_back``
    the last booking came after a gap of more than 730 days (a lapse) and at most 365 days
    ago.
``lapsed``
    ``p_alive < 0.2`` or no booking for more than 730 days.
``at_risk``
    ``p_alive < 0.5``, or a one-time customer whose booking is more than 365 days old: the
    BG/NBD gives ``p_alive = 1`` to every customer without a repeat booking (dropout happens
    only after a repeat), so one-time customers are judged on recency.
``loyal``
    at least 4 booking days (``frequency >= 3``) and ``p_alive >= 0.7``.
``active``
    everyone else.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from src.features.cache import features_at
from src.features.customer import booking_gaps
from src.features.definitions import is_repeat
from src.features.rfm_summary import summary_at
from src.models.btyd.clv import CLVModel

__all__ = [
    "DEFAULT_STAGE_RULES",
    "NOT_OBSERVED",
    "NOT_YET_CUSTOMER",
    "StageRuleError",
    "RuleError",
    "assign_stages",
    "first_match",
    "loyalty_indicators",
    "stage_inputs",
    "stage_transitions",
    "validate_stage_rules",
]

DEFAULT_STAGE_RULES: list[dict[str, str]] = [
    {"stage": "cancelled", "when": "membership_cancelled == 1"},
    {"stage": "no_completed_booking", "when": "n_bookings == 0"},
    {"stage": "new", "when": "frequency == 0 and tenure_days <= 180"},
    {"stage": "won_back", "when": "last_gap_days > 730 and recency_days <= 365"},
    {"stage": "lapsed", "when": "p_alive < 0.2 or recency_days > 730"},
    {"stage": "at_risk", "when": "p_alive < 0.5 or (frequency == 0 and recency_days > 365)"},
    {"stage": "loyal", "when": "frequency >= 3 and p_alive >= 0.7"},
    {"stage": "active", "when": "True"},
]
"""Ordered stage rules, first match wins (thresholds in days and probabilities)."""

NOT_YET_CUSTOMER = "not_yet_customer"
"""Transition source of customers unknown at the first cut-off."""
NOT_OBSERVED = "not_observed"
"""Transition target of customers absent at the second cut-off (e.g. deleted records)."""
UNASSIGNED = "unassigned"
"""Transition label of customers no rule matched (only possible without a catch-all rule)."""

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Invert, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
    ast.NotIn, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.BitAnd,
    ast.BitOr, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
)
_NODE_WORDS: dict[type[ast.AST], str] = {
    ast.Call: "a function call",
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "indexing (a[...])",
    ast.Lambda: "a lambda",
    ast.IfExp: "an if-else expression",
    ast.NamedExpr: "an assignment (:=)",
    ast.comprehension: "a comprehension",
    ast.Pow: "a power (**)",
}


class StageRuleError(ValueError):
    """A lifecycle stage rule that is malformed, unsafe or refers to unknown columns."""


RuleError = StageRuleError
"""Any first-match rule (stage, next best action) that is malformed, unsafe or refers to
unknown columns."""


# --------------------------------------------------------------------------------------------
# inputs of the rules
# --------------------------------------------------------------------------------------------
def stage_inputs(features: pd.DataFrame, bookings: pd.DataFrame, cutoff_date, *,
                 p_alive: pd.Series | None = None) -> pd.DataFrame:
    """The customer features plus the columns the default stage rules need.

    Parameters
    ----------
    features : :func:`src.features.customer.customer_features` at ``cutoff_date``
        (index ``customer_id``).
    bookings : the bookings table the features were built from.
    cutoff_date : the features' cut-off.
    p_alive : optional BG/NBD P(alive) per customer (index ``customer_id``), e.g.
        ``pd.Series(bgnbd.conditional_probability_alive(...), index=summary.index)``;
        customers without a value get NaN.

    Returns
    -------
    A copy of ``features`` with ``max_gap_days``, ``last_gap_days`` (days) and, when given,
    ``p_alive``.
    """
    out = features.join(booking_gaps(bookings, cutoff_date), how="left")
    if p_alive is not None:
        out["p_alive"] = pd.Series(p_alive).reindex(out.index).astype(float)
    out.attrs.update(features.attrs)
    return out


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------
def _describe(i: int, rule: Any, key: str = "stage") -> str:
    if isinstance(rule, dict):
        return f"{key} rule #{i} ({rule.get(key)!r}: {rule.get('when')!r})"
    return f"{key} rule #{i} ({rule!r})"


def _check_expression(i: int, rule: dict[str, Any], columns: Sequence[str],
                      key: str = "stage") -> None:
    where = _describe(i, rule, key)
    try:
        tree = ast.parse(rule["when"].strip(), mode="eval")
    except SyntaxError as exc:
        raise StageRuleError(
            f"{where} is not a valid expression ({exc.msg}); write e.g. "
            "\"p_alive < 0.5 and recency_days > 365\"") from None
    cols = set(columns)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            what = next((w for t, w in _NODE_WORDS.items() if isinstance(node, t)),
                        type(node).__name__)
            raise StageRuleError(
                f"{where} is not allowed: it contains {what}; a rule may only use column "
                "names, numbers, strings, comparisons, + - * / and and/or/not")
        if isinstance(node, ast.Constant) and not isinstance(
                node.value, bool | int | float | str):
            raise StageRuleError(f"{where} is not allowed: constant {node.value!r}")
        if isinstance(node, ast.Name) and node.id not in cols:
            raise StageRuleError(
                f"{where} uses {node.id!r}, which is not a column of the features; "
                f"available columns: {sorted(cols)}. Add the column (e.g. p_alive from the "
                "BG/NBD, the gaps of booking_gaps) or change the rule in params")


def validate_stage_rules(rules: Sequence[dict[str, Any]], columns: Sequence[str],
                         key: str = "stage") -> None:
    """Check first-match rules against the feature columns; raise :class:`StageRuleError`.

    Parameters
    ----------
    rules : ordered ``{key: str, "when": str}`` dicts.
    columns : the column names the expressions may use.
    key : the name of the label key (``"stage"``; ``"action"`` for next-best-action rules).
    """
    if isinstance(rules, dict) or not len(rules):
        raise StageRuleError(f"{key} rules must be a non-empty list of {{'{key}', 'when'}} dicts")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or set(rule) != {key, "when"}:
            raise StageRuleError(f"{_describe(i, rule, key)} must have exactly the keys "
                                 f"'{key}' and 'when'")
        if not isinstance(rule[key], str) or not rule[key].strip():
            raise StageRuleError(f"{_describe(i, rule, key)}: '{key}' must be a non-empty string")
        if not isinstance(rule["when"], str) or not rule["when"].strip():
            raise StageRuleError(f"{_describe(i, rule, key)}: 'when' must be a non-empty string")
        _check_expression(i, rule, columns, key)


def assign_stages(features: pd.DataFrame,
                  rules: Sequence[dict[str, Any]] = DEFAULT_STAGE_RULES) -> pd.Series:
    """Lifecycle stage per customer: the first rule whose condition holds.

    Parameters
    ----------
    features : one row per customer (e.g. :func:`stage_inputs`), shape (n, ...).
    rules : ordered ``{"stage": str, "when": str}`` rules (see the module docstring).

    Returns
    -------
    pandas.Series, index of ``features``, name ``stage``, categorical with the stages in rule
    order; NaN where no rule matched.

    Raises
    ------
    StageRuleError
        A rule is malformed, uses a construct other than names/constants/operators, or a
        name that is not a column of ``features``; the message names the rule.
    """
    return first_match(features, rules, key="stage")


def first_match(frame: pd.DataFrame, rules: Sequence[dict[str, Any]],
                key: str = "stage") -> pd.Series:
    """Label per row: the ``key`` value of the first rule whose ``when`` holds.

    The one rule evaluator of the project (lifecycle stages, next best actions): expressions
    are checked by the safe checker of this module before evaluation.

    Parameters
    ----------
    frame : one row per customer, shape (n, ...); the expressions may use its columns.
    rules : ordered ``{key: str, "when": str}`` rules, first match wins.
    key : the label key of the rules (``"stage"``, ``"action"``).

    Returns
    -------
    pandas.Series, index of ``frame``, name ``key``, categorical with the labels in rule
    order; NaN where no rule matched.

    Raises
    ------
    StageRuleError
        A rule is malformed, unsafe, uses an unknown column or does not evaluate to
        true/false per row; the message names the rule.
    """
    features = frame
    validate_stage_rules(rules, list(features.columns), key)
    n = len(features)
    codes = np.full(n, -1, dtype=np.int64)
    stages: list[str] = []
    for i, rule in enumerate(rules):
        if rule[key] not in stages:
            stages.append(rule[key])
        try:
            hit = features.eval(rule["when"], engine="python")
        except Exception as exc:  # e.g. comparing a string column with a number
            raise StageRuleError(f"{_describe(i, rule, key)} cannot be evaluated: {exc}") from exc
        if np.ndim(hit) == 0:
            hit = np.full(n, bool(hit)) if isinstance(hit, bool | np.bool_) else None
        else:
            hit = pd.Series(hit)
            hit = (hit.astype("boolean").fillna(False).to_numpy(dtype=bool)
                   if pd.api.types.is_bool_dtype(hit.dtype) else None)
        if hit is None:
            raise StageRuleError(f"{_describe(i, rule, key)} does not give true/false per row; "
                                 "write a comparison, e.g. \"recency_days > 365\"")
        free = (codes < 0) & hit
        codes[free] = stages.index(rule[key])
    out = pd.Series(pd.Categorical.from_codes(codes, categories=stages), index=features.index,
                    name=key)
    return out


# --------------------------------------------------------------------------------------------
# transitions
# --------------------------------------------------------------------------------------------
def _order(values: pd.Series, *series: pd.Series) -> list[str]:
    """Stage order: categorical categories (in order), then default stages, then others."""
    known: list[str] = []
    for s in series:
        if isinstance(s.dtype, pd.CategoricalDtype):
            known += [str(c) for c in s.cat.categories if str(c) not in known]
    known += [r["stage"] for r in DEFAULT_STAGE_RULES if r["stage"] not in known]
    present = set(values.unique())
    ordered = [s for s in known if s in present]
    return ordered + sorted(present - set(ordered))


def stage_transitions(stages_before: pd.Series, stages_after: pd.Series) -> pd.DataFrame:
    """Customers moving between stages from one cut-off to the next.

    Parameters
    ----------
    stages_before, stages_after : stage per customer (index ``customer_id``) at the first
        and the second cut-off (:func:`assign_stages`).

    Returns
    -------
    DataFrame indexed by ``from_stage``, columns a MultiIndex (``measure``, ``to_stage``):
    ``customers`` (counts; they sum to the customers in either input) and ``share`` (row
    shares: each row sums to 1). Customers only in ``stages_after`` come from
    ``"not_yet_customer"``; customers only in ``stages_before`` go to ``"not_observed"``;
    customers with no stage count as ``"unassigned"``.
    """
    ids = stages_before.index.union(stages_after.index)
    before = stages_before.astype(object).where(stages_before.notna(), UNASSIGNED)
    after = stages_after.astype(object).where(stages_after.notna(), UNASSIGNED)
    frm = pd.Series(NOT_YET_CUSTOMER, index=ids, dtype=object)
    frm.loc[before.index] = before.to_numpy()
    to = pd.Series(NOT_OBSERVED, index=ids, dtype=object)
    to.loc[after.index] = after.to_numpy()
    rows = _order(frm, stages_before, stages_after)
    if NOT_YET_CUSTOMER in rows:
        rows = [NOT_YET_CUSTOMER] + [r for r in rows if r != NOT_YET_CUSTOMER]
    cols = _order(to, stages_before, stages_after)
    if NOT_OBSERVED in cols:
        cols = [c for c in cols if c != NOT_OBSERVED] + [NOT_OBSERVED]
    counts = pd.crosstab(frm, to).reindex(index=rows, columns=cols, fill_value=0)
    counts.index.name, counts.columns.name = "from_stage", "to_stage"
    shares = counts.div(counts.sum(axis=1), axis=0)
    return pd.concat({"customers": counts, "share": shares}, axis=1, names=["measure"])


# --------------------------------------------------------------------------------------------
# loyalty view
# --------------------------------------------------------------------------------------------
def _nps(scores: pd.Series) -> tuple[int, float, float, float]:
    s = pd.to_numeric(scores, errors="coerce").dropna()
    n = len(s)
    if n == 0:
        return 0, np.nan, np.nan, np.nan
    promoters = float((s >= 9).mean())
    detractors = float((s <= 6).mean())
    return n, promoters, detractors, 100.0 * (promoters - detractors)


def loyalty_indicators(
    features: pd.DataFrame,
    by: str | list[str],
    *,
    nps_col: str = "nps_mean",
    csat_col: str = "csat_mean",
    churn_col: str | None = None,
    stage_col: str = "stage",
    lapsed_stages: Sequence[str] = ("lapsed",),
) -> pd.DataFrame:
    """Repeat rate, NPS, CSAT and churn per segment / tier.

    Parameters
    ----------
    features : one row per customer with the ``by`` columns and any of ``n_bookings``,
        ``frequency``, ``nps_col``, ``csat_col``, a churn column, ``stage_col``.
    by : grouping column(s), e.g. ``"member_tier"`` or ``["segment", "member_tier"]``.
    nps_col : per-customer NPS score (0-10; the customer's mean answer by default). A
        customer is a promoter at >= 9, a detractor at <= 6 (passive in between).
    csat_col : per-customer CSAT (1-5).
    churn_col : boolean churn column; default ``"churned"`` when present, else the share of
        customers in ``lapsed_stages`` of ``stage_col``.
    stage_col, lapsed_stages : used for the churn rate without a churn column.

    Returns
    -------
    DataFrame indexed by the ``by`` groups, columns: ``customers``; ``repeat_rate`` (share of
    *repeat customers*, :func:`src.features.definitions.is_repeat`, among the customers with
    a completed booking: purchases on two or more days, from ``btyd_frequency``; the
    completed-booking ``frequency`` without it, ``n_bookings >= 2`` without either); ``nps_respondents``,
    ``promoters_share``, ``detractors_share``, ``nps`` (points, -100..100, on customers with
    a score); ``csat_mean``; ``churn_rate`` (among customers with a completed booking when
    ``n_bookings`` is known). Indicators whose inputs are absent are NaN and named in
    ``attrs["missing_inputs"]``; ``attrs["churn_definition"]`` says how churn was measured.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    absent = [c for c in by_cols if c not in features.columns]
    if absent:
        raise KeyError(f"loyalty_indicators: group columns {absent} not in the features")
    missing: list[str] = []
    f = features
    buyer = (f["n_bookings"] > 0).to_numpy() if "n_bookings" in f.columns \
        else np.ones(len(f), dtype=bool)
    if "btyd_frequency" in f.columns or "frequency" in f.columns:  # repeat booking days
        days = f["btyd_frequency" if "btyd_frequency" in f.columns else "frequency"] + 1
        repeat = is_repeat(days.to_numpy(dtype=float)).astype(float)
    elif "n_bookings" in f.columns:
        repeat = (f["n_bookings"] >= 2).to_numpy(dtype=float)
    else:
        repeat = np.full(len(f), np.nan)
        missing.append("frequency / n_bookings")
    if churn_col is None and "churned" in f.columns:
        churn_col = "churned"
    if churn_col is not None:
        if churn_col not in f.columns:
            raise KeyError(f"loyalty_indicators: churn column {churn_col!r} not in the features")
        churn = pd.to_numeric(f[churn_col].astype("Float64"), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        definition = f"mean of {churn_col!r}"
    elif stage_col in f.columns:
        churn = f[stage_col].astype(object).isin(list(lapsed_stages)).to_numpy(dtype=float)
        definition = f"share of customers in stages {list(lapsed_stages)}"
    else:
        churn = np.full(len(f), np.nan)
        definition = "not available"
        missing.append(f"churned / {stage_col}")
    if "n_bookings" in f.columns:
        definition += " among customers with a completed booking"
    for col in (nps_col, csat_col):
        if col not in f.columns:
            missing.append(col)
    work = pd.DataFrame({
        "repeat": np.where(buyer, repeat, np.nan),
        "churn": np.where(buyer, churn, np.nan),
        "nps": pd.to_numeric(f[nps_col], errors="coerce").to_numpy(dtype=float)
        if nps_col in f.columns else np.nan,
        "csat": pd.to_numeric(f[csat_col], errors="coerce").to_numpy(dtype=float)
        if csat_col in f.columns else np.nan,
    }, index=f.index)
    for c in by_cols:
        work[c] = f[c].to_numpy() if not isinstance(f[c].dtype, pd.CategoricalDtype) else f[c]
    rows = []
    keys = []
    for key, g in work.groupby(by_cols, observed=True, dropna=False, sort=True):
        n_resp, prom, detr, nps = _nps(g["nps"])
        rows.append({
            "customers": len(g),
            "repeat_rate": g["repeat"].mean(),
            "nps_respondents": n_resp,
            "promoters_share": prom,
            "detractors_share": detr,
            "nps": nps,
            "csat_mean": g["csat"].mean(),
            "churn_rate": g["churn"].mean(),
        })
        keys.append(key if len(by_cols) > 1 else key[0])
    index = (pd.MultiIndex.from_tuples(keys, names=by_cols) if len(by_cols) > 1
             else pd.Index(keys, name=by_cols[0]))
    out = pd.DataFrame(rows, index=index)
    out.attrs["missing_inputs"] = missing
    out.attrs["churn_definition"] = definition
    return out


def lifecycle_at(tables: dict[str, pd.DataFrame], model: CLVModel, cutoff_date: Any,
                 rules: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """Customer features, P(alive) from the fitted model and the lifecycle stage as of a cut-off.

    The fitted BG/NBD parameters are applied to the histories seen at ``cutoff_date`` (so two
    cut-offs can be compared with one model). Returns one row per customer known at the
    cut-off (index customer_id) with the :func:`src.features.customer.customer_features`
    columns, ``p_alive``, the booking gaps and ``stage``.
    """
    bookings = tables["bookings"]
    summary = summary_at(bookings, cutoff_date, time_unit_days=model.settings.time_unit_days)
    p_alive = pd.Series(model.bgnbd_.conditional_probability_alive(
        summary["frequency"], summary["recency"], summary["T"]), index=summary.index)
    features = features_at(tables, cutoff_date)
    out = stage_inputs(features, bookings, cutoff_date, p_alive=p_alive)
    out["stage"] = assign_stages(out, rules or DEFAULT_STAGE_RULES)
    return out
