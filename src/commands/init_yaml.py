"""The job file ``crm init`` writes: every value with its reason as a comment above it.

:func:`render_yaml` turns a :class:`~src.commands.init_plan.JobPlan` into YAML text: each
guess's reason becomes a comment over its key, every profiled column of each file is listed
(kind, distinct values, examples), and a role the data did not settle is marked ``OPEN`` with
its candidates and the ``crm init`` flag that settles it (its key is left out, so the file
does not validate until it is settled).
"""

from __future__ import annotations

import json
import textwrap
from datetime import date
from typing import Any

import yaml

from src.commands.init_plan import COMMENT, JobPlan

__all__ = ["flow", "render_yaml"]

_PLAIN_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_."


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, date)):
        return value.isoformat() if isinstance(value, date) else repr(value)
    text = str(value)
    plain = (text and text[0] in _PLAIN_FIRST and text == text.strip()
             and all(ch.isalnum() or ch in "_ ./-" for ch in text) and text.isascii())
    if plain and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value in YAML flow style (one line)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(lines: list[str], indent: int, text: str) -> None:
    if text:
        for line in textwrap.wrap(text, width=max(40, 96 - indent - 2), break_on_hyphens=False,
                                  break_long_words=False):
            lines.append(" " * indent + "# " + line)


def _render(lines: list[str], node: dict[str, Any], path: str, plan: JobPlan, indent: int) -> None:
    for g in plan.guesses.values():  # comment-only guesses open their section
        if g.value is COMMENT and g.key.rpartition(".")[0] == path:
            _comment(lines, indent, g.reason)
    for key, value in node.items():
        dotted = f"{path}.{key}" if path else key
        g = plan.guesses.get(dotted)
        _comment(lines, indent, g.reason if g else "")
        pad = " " * indent
        if isinstance(value, dict) and not (key in ("values",) or path.endswith(".values")):
            lines.append(f"{pad}{_scalar(key)}:")
            _render(lines, value, dotted, plan, indent + 2)
        elif isinstance(value, list) and (any(isinstance(v, dict) for v in value)
                                          or len(flow(value)) > 80):
            lines.append(f"{pad}{_scalar(key)}:")
            lines.extend(f"{pad}  - {flow(v)}" for v in value)
        else:
            lines.append(f"{pad}{_scalar(key)}: {flow(value)}")


def open_lines(plan: JobPlan) -> list[str]:
    """One comment block per open role: what, why, candidates, the flag."""
    out = []
    for file, role in plan.open:
        out.append(f"# OPEN ({file}): {role.label or role.role}: {role.reason}.")
        for c in role.candidates:
            out.append(f"#   candidate {c.line()}")
        out.append(f"#   settle it with {role.flag} <column or expression>")
    return out


def render_yaml(plan: JobPlan) -> str:
    """The job file: every guess's reason as a comment above its key."""
    lines = [f"# Job {plan.name!r}, written by `crm init` from "
             + ", ".join(r.path.name for r in plan.recognitions) + ".",
             "# Every value below was read from the data; the comment above each key says "
             "why.", "# Keys marked ASSUMED are not in the data: confirm or change them."]
    if plan.open or plan.problem:
        lines.append("# NOT READY: the data did not settle everything a run needs "
                     "(see OPEN below); crm init said how to settle it.")
        lines.extend(open_lines(plan))
        if plan.problem:
            _comment(lines, 0, f"PROBLEM: {plan.problem}")
    if plan.confirm:
        lines.append("# To confirm:")
        lines.extend(f"#   - {c}" for c in plan.confirm)
    _render(lines, plan.tree(), "", plan, 0)
    return "\n".join(lines) + "\n"
