"""A bad champion taken back by hand: ``crm rollback <job>`` puts the alias on the version that
was champion before it.

Each promotion tags the version it promotes with the one it replaced
(``promotion.champion_before``, set by :func:`src.models.registry.settle_promotion`), so the
way back is read from the registry, whichever run promoted. A version promoted before that tag
existed goes back to the newest earlier version that was promoted and not taken back. The
version taken off the alias is tagged ``promotion.decision = rolled_back`` with the reason and
is not the way back of a later rollback; the version put back is tagged ``promoted`` again
(``--to`` may name any version, even one taken back before).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

__all__ = ["BEFORE_TAG", "NO_CHAMPION", "ChampionRollback", "RollbackError", "rollback_by_hand"]

BEFORE_TAG = "promotion.champion_before"
"""Version tag: the champion a promoted version replaced (:data:`NO_CHAMPION`: none)."""
NO_CHAMPION = "none"
_TAKEN_BACK = ("rolled_back",)


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
