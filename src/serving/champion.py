"""The champion's guards: a candidate is compared with a champion fitted on comparable data
only (:func:`data_tags`, :func:`comparison_problem`), and a bad champion is taken back by hand:
``crm rollback <job>`` puts the alias on the version that was champion before it.

Comparable data: each registered version carries the fingerprint of the job's data definition
(the source's tables, column mapping, filters, values and vocabularies, or the synthetic
generator's settings; not the file paths, cut-off or as-of dates, which move every week) and
the share of rejected rows of its extract. A champion fitted on another definition, or on an
extract with more rejects than the candidate's job accepts for publishing, is no yardstick:
the candidate then meets the gates' absolute thresholds only, and the decision says why.

Each promotion tags the version it promotes with the one it replaced
(``promotion.champion_before``, set by :func:`src.serving.registry.settle_promotion`), so the
way back is read from the registry, whichever run promoted. A version promoted before that tag
existed goes back to the newest earlier version that was promoted and not taken back. The
version taken off the alias is tagged ``promotion.decision = rolled_back`` with the reason and
is not the way back of a later rollback; the version put back is tagged ``promoted`` again
(``--to`` may name any version, even one taken back before).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

__all__ = ["BEFORE_TAG", "NO_CHAMPION", "ChampionRollback", "RollbackError", "comparison_problem",
           "data_tags", "rollback_by_hand"]

BEFORE_TAG = "promotion.champion_before"
"""Version tag: the champion a promoted version replaced (:data:`NO_CHAMPION`: none)."""
NO_CHAMPION = "none"
_TAKEN_BACK = ("rolled_back",)


FINGERPRINT_TAG = "data.fingerprint"
REJECT_SHARE_TAG = "data.reject_share"
BAR_TAG = "data.publish_max_reject_share"
_MOVING_KEYS = frozenset({"path", "paths", "as_of_date", "cutoff_date", "cutoff_dates",
                          "extraction_date"})


def _without_moving(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _without_moving(v) for k, v in sorted(node.items(), key=lambda kv: str(kv[0]))
                if str(k) not in _MOVING_KEYS}
    if isinstance(node, list | tuple):
        return [_without_moving(v) for v in node]
    return node


def data_tags(data: Mapping[str, Any], rows: Mapping[str, Mapping[str, int]],
              publish_max_reject_share: float) -> dict[str, str]:
    """The version tags that say what data a scorer was fitted on.

    Parameters
    ----------
    data : the job's ``data`` params as JSON (``JobParams.data.model_dump(mode="json")``).
    rows : rows per table of the run's extract: ``{"bookings": {"in": n, "rejected": r}}``
        (empty when unknown: no reject-share tag).
    publish_max_reject_share : the job's ``data_quality.publish_max_reject_share``.
    """
    text = json.dumps(_without_moving(data), sort_keys=True, default=str)
    shares = [r.get("rejected", 0) / r["in"] for r in rows.values() if r.get("in")]
    tags = {FINGERPRINT_TAG: hashlib.sha256(text.encode()).hexdigest()[:16],
            BAR_TAG: repr(float(publish_max_reject_share))}
    if shares:  # unknown without the data step's record (a notebook run alone): not tagged
        tags[REJECT_SHARE_TAG] = repr(round(max(shares), 6))
    return tags


def comparison_problem(candidate: Mapping[str, str], champion: Mapping[str, str]) -> str | None:
    """Why the champion (its version tags) is no yardstick for the candidate, or None.

    Versions registered without the tags of :func:`data_tags` are compared as before."""
    mine, theirs = candidate.get(FINGERPRINT_TAG), champion.get(FINGERPRINT_TAG)
    if mine and theirs and mine != theirs:
        return ("the champion was fitted on another data definition (source, mapping, "
                "filters or vocabularies changed)")
    bar, share = candidate.get(BAR_TAG), champion.get(REJECT_SHARE_TAG)
    if bar is not None and share is not None and float(share) > float(bar):
        return (f"the champion was fitted on an extract with {float(share):.1%} of rows "
                f"rejected, more than the {float(bar):.1%} this job publishes from")
    return None


class RollbackError(Exception):
    """The alias cannot be rolled back (no such model, no champion, no version to go to)."""


@dataclass(frozen=True)
class ChampionRollback:
    """What a rollback did: the alias moved from ``taken_back`` to ``restored`` (None: the
    alias was removed, there was no champion before)."""

    model_name: str
    alias: str
    taken_back: str
    restored: str | None
    reason: str

    def message(self) -> str:
        to = f"version {self.restored}" if self.restored else "unset (no champion before it)"
        return (f"{self.model_name}: @{self.alias} taken back from version {self.taken_back} "
                f"to {to} ({self.reason})")


def _tag(c: MlflowClient, name: str, version: str, key: str) -> str | None:
    return c.get_model_version(name, version).tags.get(key)


def _way_back(c: MlflowClient, name: str, current: str) -> str | None:
    """The version before ``current`` as champion (None: there was none)."""
    before = _tag(c, name, current, BEFORE_TAG)
    if before == NO_CHAMPION:
        return None
    if before is not None:
        return before
    earlier = sorted((v for v in c.search_model_versions(f"name='{name}'")
                      if int(v.version) < int(current)
                      and v.tags.get("promotion.decision") == "promoted"),
                     key=lambda v: int(v.version))
    return str(earlier[-1].version) if earlier else None


def rollback_by_hand(name: str, *, to: str | None = None, reason: str = "taken back by hand",
                     alias: str = "champion", client: MlflowClient | None = None
                     ) -> ChampionRollback:
    """Move ``@alias`` of the registered model ``name`` back (to ``to``, default: the
    version the current champion replaced) and tag the current one ``rolled_back``.

    Raises
    ------
    RollbackError : no such model, no ``@alias``, or ``to`` is not one of its versions.
    """
    c = client or MlflowClient()
    try:
        current = str(c.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise RollbackError(f"{name}: no @{alias} to roll back ({exc.message})") from exc
    target = str(to) if to is not None else _way_back(c, name, current)
    while target is not None and _tag(c, name, target, "promotion.decision") in _TAKEN_BACK \
            and to is None:  # a version taken back earlier is not the way back
        target = _way_back(c, name, target)
    if target == current:
        raise RollbackError(f"{name}: version {target} is @{alias} already")
    if target is not None:
        try:
            c.get_model_version(name, target)
        except MlflowException as exc:
            versions = sorted(int(v.version) for v in c.search_model_versions(f"name='{name}'"))
            raise RollbackError(f"{name}: no version {target} (versions {versions})") from exc
        c.set_registered_model_alias(name, alias, target)
        c.set_model_version_tag(name, target, "promotion.decision", "promoted")
        c.set_model_version_tag(name, target, "promotion.reasons",
                                f"@{alias} again by hand, in place of version {current}: {reason}")
    else:
        c.delete_registered_model_alias(name, alias)
    c.set_model_version_tag(name, current, "promotion.decision", "rolled_back")
    c.set_model_version_tag(name, current, "promotion.reasons", f"rolled back by hand: {reason}")
    return ChampionRollback(name, alias, current, target, reason)
