"""Job-file keys that have moved: the raw job mapping is rewritten before validation.

A job file written for an earlier version keeps its meaning or is refused; it is never
silently read differently. Each moved key has one function here, called by
:class:`src.params.schema.JobParams` on the raw mapping (as read from YAML, ``--set``
overrides applied): the value is moved to its new key with a :class:`DeprecatedParamsWarning`
naming both keys, or, when the file also sets the new key to something else, refused with a
validation error at the old key that says which to keep.

- ``scoring.horizons_days`` -> ``churn.horizons_days`` (issue 22: one churn-scoring path;
  the churn horizons, days, are evaluated on the holdout and exported as ``churn_prob_<h>d``).
"""

from __future__ import annotations

import warnings
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["DeprecatedParamsWarning", "one_horizons_setting", "saved_run_horizons"]


class DeprecatedParamsWarning(FutureWarning):
    """A job file sets a key that has moved: its value is taken under the new key and the
    warning names both. A :class:`FutureWarning`, which Python shows by default (a
    ``DeprecationWarning`` is hidden outside ``__main__``): job files are written by the
    people who run the jobs, not by developers."""


def _as_days(value: Any) -> Any:
    """Horizons as a list of ints for comparison (the value itself when it is not one)."""
    try:
        return [int(h) for h in value]
    except (TypeError, ValueError):
        return value


def saved_run_horizons(data: dict[str, Any]) -> dict[str, Any]:
    """A run folder's ``params.yaml`` written before issue 22, in the one-setting form.

    Such a run evaluated its churn model at ``churn.horizons_days`` and exported
    ``churn_prob_<h>d`` at ``scoring.horizons_days``, both recorded in its params file (the
    defaults were [180, 365] and [90, 180, 365]). What the run did is known, so nothing is
    guessed: ``churn.horizons_days`` becomes the sorted union of the two (every horizon it
    evaluated or exported; :func:`one_horizons_setting` would refuse the pair) and
    ``scoring.horizons_days`` is dropped, with a :class:`DeprecatedParamsWarning`. A job file
    a person edits is not migrated this way: :func:`one_horizons_setting` refuses it.

    Parameters
    ----------
    data : the raw mapping of a run folder's ``params.yaml``.

    Returns
    -------
    ``data`` unchanged when it has no ``scoring.horizons_days``; otherwise a new mapping.
    """
    scoring, churn = data.get("scoring"), data.get("churn")
    if not (isinstance(scoring, dict) and "horizons_days" in scoring):
        return data
    if not (isinstance(churn, dict) and "horizons_days" in churn):
        return data  # one_horizons_setting moves it
    old, kept = _as_days(scoring["horizons_days"]), _as_days(churn["horizons_days"])
    if not (isinstance(old, list) and isinstance(kept, list)) or old == kept:
        return data
    union = sorted({*old, *kept})
    warnings.warn(
        f"this run folder's params.yaml was written before churn.horizons_days became the one "
        f"churn-horizon setting: it evaluated at churn.horizons_days {kept} and exported "
        f"scoring.horizons_days {old}; read as churn.horizons_days: {union}",
        DeprecatedParamsWarning, stacklevel=3)
    return {**data, "churn": {**churn, "horizons_days": union},
            "scoring": {k: v for k, v in scoring.items() if k != "horizons_days"}}


def one_horizons_setting(data: Any) -> Any:
    """Move a job file's former ``scoring.horizons_days`` to ``churn.horizons_days``.

    ``churn.horizons_days`` is the one churn-horizon setting: the horizons (days) the churn
    model is evaluated at on the holdout and the exported ``churn_prob_<h>d`` columns. A file
    that still sets ``scoring.horizons_days`` keeps its meaning or is refused, never silently
    changed: equal to ``churn.horizons_days``, or with ``churn.horizons_days`` unset, the value
    is moved there with a :class:`DeprecatedParamsWarning`; both set and different, the file
    is refused (a validation error at ``scoring.horizons_days`` naming both keys and what to
    keep).

    Parameters
    ----------
    data : the raw job mapping (as read from YAML, overrides applied).

    Returns
    -------
    The mapping without ``scoring.horizons_days`` (a new mapping when it had the key).

    Raises
    ------
    pydantic.ValidationError : both keys set to different horizons.
    """
    scoring = data.get("scoring") if isinstance(data, dict) else None
    if not isinstance(scoring, dict) or "horizons_days" not in scoring:
        return data
    old = scoring["horizons_days"]
    rest = {**data, "scoring": {k: v for k, v in scoring.items() if k != "horizons_days"}}
    churn = data.get("churn", {})
    if isinstance(churn, BaseModel):
        churn = churn.model_dump(exclude_unset=True)
    if not isinstance(churn, dict):
        return rest  # not a section: its own validation error says so
    churn = dict(churn)
    given, kept = _as_days(old), _as_days(churn.get("horizons_days", old))
    if given != kept:
        union = (sorted({*given, *kept}) if isinstance(given, list) and isinstance(kept, list)
                 else kept)
        raise ValidationError.from_exception_data("JobParams", [{
            "type": "value_error", "loc": ("scoring", "horizons_days"), "input": old,
            "ctx": {"error": ValueError(
                f"scoring.horizons_days {old} and churn.horizons_days "
                f"{churn['horizons_days']} differ, and scoring.horizons_days is no longer a "
                "key: churn.horizons_days is the one setting, for the holdout evaluation and "
                "the exported churn_prob_<h>d columns. Keep churn.horizons_days and delete "
                f"scoring.horizons_days (churn.horizons_days: {union} keeps every horizon "
                "of both; those beyond the holdout are exported, not evaluated)")}}])
    if "horizons_days" not in churn:
        churn["horizons_days"] = old
    warnings.warn(
        f"scoring.horizons_days is deprecated: churn.horizons_days is the one churn-horizon "
        f"setting (holdout evaluation and the exported churn_prob_<h>d columns); "
        f"churn.horizons_days: {churn['horizons_days']} is used. Move the value to "
        "churn.horizons_days and delete scoring.horizons_days from the job file",
        DeprecatedParamsWarning, stacklevel=2)
    return {**rest, "churn": churn}
