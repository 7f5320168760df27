"""What recognition says about one role of one file: a candidate, a settled guess with its
evidence and runner-up, an open role with its candidates, and the roles of a file.

Kept apart from the scoring (:mod:`src.data.recognition.roles`) so that the mapping of files
onto tables (:mod:`src.data.recognition.tables`) and ``crm init`` read the results without
the scoring rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from src.data.recognition.profile import FileEvidence
from src.data.recognition.role_names import ROLES

__all__ = ["Candidate", "OpenRole", "RoleGuess", "Roles"]


@dataclass(frozen=True)
class Candidate:
    """A column (or expression) considered for a role, with its confidence and evidence."""

    value: str
    confidence: float
    evidence: str
    columns: tuple[str, ...] = ()

    def line(self) -> str:
        return f"{self.value!r} ({self.confidence:.2f}: {self.evidence})"


@dataclass(frozen=True)
class RoleGuess:
    """A settled role.

    Attributes
    ----------
    role : the role; value : source column name or DuckDB SQL expression.
    confidence : in [0, 1]; 1 when given by the user.
    evidence : why, in one sentence.
    runner_up : the next candidate, if any.
    columns : the source columns the value reads.
    """

    role: str
    value: str
    confidence: float
    evidence: str
    runner_up: Candidate | None = None
    columns: tuple[str, ...] = ()

    def reason(self) -> str:
        """Evidence, confidence and runner-up as one comment line."""
        text = f"{self.evidence} (confidence {self.confidence:.2f}"
        if self.runner_up is not None:
            text += f"; runner-up {self.runner_up.value!r} {self.runner_up.confidence:.2f}"
        return text + ")"


@dataclass(frozen=True)
class OpenRole:
    """A role the data did not settle: why, and the candidates to choose from."""

    role: str
    reason: str
    candidates: tuple[Candidate, ...] = ()

    @property
    def flag(self) -> str:
        return ROLES.get(self.role, (self.role, f"--{self.role.replace('_', '-')}"))[1]

    @property
    def label(self) -> str:
        return ROLES.get(self.role, (self.role, ""))[0]


@dataclass
class Roles:
    """The roles of one file: settled guesses, open roles, and what was refused and why."""

    evidence: FileEvidence
    guesses: dict[str, RoleGuess] = field(default_factory=dict)
    open: dict[str, OpenRole] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)
    status_words: dict[str, str] = field(default_factory=dict)
    """status level -> contract meaning, as the user said (``--status-values``)."""

    def value(self, role: str) -> str | None:
        g = self.guesses.get(role)
        return None if g is None else g.value

    def used_columns(self) -> set[str]:
        return {c for g in self.guesses.values() for c in (g.columns or (g.value,))}
