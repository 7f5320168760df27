"""``crm init <name> <file>...``: a first job file for data the lab has never seen.

:func:`init_job` plans the job (:func:`src.commands.init_plan.plan_job`: recognise the files'
roles from their values and names, load them through the product's loader, size the windows),
prints what it found and why, and writes ``params/<name>.yaml`` (:func:`src.commands.init_yaml.
render_yaml`), every value commented with its reason.

**Nothing is guessed below its confidence.** When a role stays open (no column is confident
enough to be the customer key, two date columns could be the booking date, a status level
reads as no known status, ...) the job is still written, with every column profiled and the
open role marked, and ``crm init`` exits 2 naming the role, the candidate columns and the
exact command that settles it (:attr:`InitResult.command`): ``crm init shop orders.csv
--customer-id "Loyalty Number"``. Rerun with the flags, it writes a complete job. It never
says "rename your column". An export without any usable customer key is refused the same way,
saying what customer-level models need and what the file can still give.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from src.commands.init_plan import COMMENT, CONSENT_ASSUMED, JobPlan, plan_job
from src.commands.init_yaml import flow, render_yaml
from src.data.recognition.roles import ROLES
from src.params.files import ParamsError, load_params
from src.paths import PARAMS_DIR

__all__ = ["CONSENT_ASSUMED", "EXTRA_FLAGS", "InitResult", "ROLE_FLAGS", "init_job",
           "plan_job", "render_yaml"]

ROLE_FLAGS: dict[str, str] = {role: flag for role, (_, flag) in ROLES.items()}
"""role -> the ``crm init`` flag that settles it."""
EXTRA_FLAGS: dict[str, str] = {"date_format": "--date-format",
                               "status_values": "--status-values"}
"""Settings that are not a column: the format of ambiguous dates, the meaning of status
levels (``"Storno=cancelled,Offen=confirmed"``)."""
_NO_KEY = (
    "customer-level models (segments, churn, lifetime value, lists) need a column that names "
    "the customer on every row (a guest, member, loyalty or account number); without one "
    "this file can still give a data-quality report and the booking mix (bookings by month, "
    "product, channel and status), which need no customer, but not a job of this lab")


@dataclass
class InitResult:
    """What :func:`init_job` did: the file written, the plan, and what is not settled.

    Attributes
    ----------
    path : the job file written.
    plan : the :class:`~src.commands.init_plan.JobPlan`.
    problems : what :func:`~src.params.files.load_params` or the trial load refused, and the
        roles left open, one sentence each.
    command : the ``crm init`` command line that settles the open roles (None when none).
    """

    path: Path
    plan: JobPlan
    problems: list[str]
    command: str | None = None
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(plan: JobPlan, echo: Callable[[str], None]) -> None:
    rec = plan.recognition
    for t in rec.tables:
        ev = t.evidence
        s = ev.sniffed
        echo(f"{t.path.name}: {s.encoding}, delimiter {s.delimiter!r}"
             + (", decimal comma" if t.mapping.decimal else "")
             + f", {ev.n_rows:,} rows, {len(ev.columns)} columns")
        echo(f"  table {t.table}, shape: {t.shape_reason}")
        used = t.roles.used_columns() | set(t.mapping.attributes.values())
        exprs = " ".join(t.mapping.columns.values()) + " " + " ".join(t.mapping.where)
        unused = [c for c in ev.names if c not in used and c not in t.mapping.columns.values()
                  and f'"{c}"' not in exprs and f" {c} " not in f" {exprs} "]
        if unused:
            echo(f"  not used (map them by hand if they matter): {', '.join(unused)}")
        st = plan.stats.get(t.table)
        if st is not None and t.table == "bookings":
            echo(f"  {st.n_kept:,} bookings, {st.n_customers:,} customers, revenue "
                 f"{st.revenue:,.2f}, {st.first_date} to {st.last_date} ({st.span_days} days)"
                 + (f", {st.n_rejected:,} rows rejected" if st.n_rejected else ""))
        elif st is not None:
            echo(f"  {st.n_customers:,} customers"
                 + (f", {st.churn_share:.1%} cancelled" if st.churn_share is not None else "")
                 + (f", tenure up to {t.max_tenure:g} {t.tenure_unit}s" if t.max_tenure else ""))
    if rec.join:
        echo(f"join: {rec.join}")
    echo("guessed (each is a comment in the file):")
    for g in plan.guesses.values():
        if g.key in ("job", "description") or not g.reason or ".column_" in g.key \
                or g.key.endswith(".columns_found"):
            continue  # attributes: listed by their section's note; columns: in the file
        if g.value is COMMENT:
            echo(f"  {g.key.rpartition('.')[0]}: {g.reason}")
        else:
            echo(f"  {g.key} = {flow(g.value)}  <- {g.reason}")
    if plan.confirm:
        echo("please confirm:")
        for c in plan.confirm:
            echo(f"  - {c}")


def _quote(value: str) -> str:
    return shlex.quote(value)


def _open_messages(plan: JobPlan, name: str, files: Sequence[str | Path],
                   given: dict[str, str]) -> tuple[list[str], str | None, dict[str, str]]:
    """(one message per open role, the command that settles them, its new flags)."""
    messages, flags = [], {}
    for file, role in plan.open:
        if role.role == "status_values":
            tbl = plan.recognition.table("bookings")
            col = tbl.roles.value("status") if tbl else None
            levels = [lv for lv, _ in (tbl.evidence.column(col).levels or ())] if col and \
                tbl and col in tbl.evidence.names else []
            example = ",".join(f"{lv}=<completed|confirmed|cancelled|no_show>" for lv in levels)
            messages.append(f"{file}: booking status: {role.reason}; say what each means with "
                            f"{EXTRA_FLAGS['status_values']} \"{example}\"")
            flags["status_values"] = example
            continue
        cands = "; ".join(c.line() for c in role.candidates) or "none"
        what = f"{file}: {role.label} is not settled: {role.reason}. Candidates: {cands}"
        if role.role == "customer_id" and not role.candidates:
            what = (f"{file}: no column identifies the customer: {role.reason}. " + _NO_KEY
                    + ". If the file has such a column under another name, give it")
        elif role.role == "booking_date" and ("both day-first" in role.reason
                                              or "mixed" in role.reason):
            fmt = "%d/%m/%Y" if "day-first" in role.reason else "<strptime format>"
            messages.append(f"{file}: booking date: {role.reason}; say how the dates are "
                            f"written with {EXTRA_FLAGS['date_format']} \"{fmt}\"")
            flags["date_format"] = fmt
            continue
        messages.append(what)
        flags[role.role] = role.candidates[0].value if role.candidates else "<column>"
    if not flags:
        return messages, None, {}
    parts = ["crm", "init", _quote(name), *(_quote(str(f)) for f in files)]
    for key, value in {**given, **flags}.items():
        parts += [ROLE_FLAGS.get(key) or EXTRA_FLAGS[key], _quote(value)]
    return messages, " ".join(parts), flags


def init_job(name: str, files: Sequence[str | Path], *, out: str | Path | None = None,
             force: bool = False, as_of_date: date | None = None,
             given: dict[str, str] | None = None,
             echo: Callable[[str], None] = print) -> InitResult:
    """Write ``params/<name>.yaml`` (or ``out``) for ``files``, print what was recognised.

    Parameters
    ----------
    name : job name.
    files : the data files (see :func:`~src.commands.init_plan.plan_job`).
    out : where to write (default ``params/<name>.yaml``).
    force : overwrite an existing file.
    as_of_date : extraction date (default: from the bulk of the data).
    given : role -> column or SQL expression (the ``crm init`` flags, e.g. ``{"customer_id":
        "Loyalty Number"}``; ``date_format``, ``status_values`` too); ``none`` says the file
        has no such column.
    echo : where the lines go (``print``).

    Returns
    -------
    :class:`InitResult`; ``problems`` lists the open roles, a refused trial load and what
    :func:`load_params` refused (the file is written anyway, so it can be fixed by hand);
    ``command`` settles the open roles.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``force`` is false.
    FileNotFoundError
        A data file is missing.
    DataSourceError
        A file cannot be read (truncated, empty, no header, no data rows).
    """
    path = Path(out) if out is not None else PARAMS_DIR / f"{name}.yaml"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    missing = [str(f) for f in files if not Path(f).exists()]
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    given = dict(given or {})
    plan = plan_job(name, files, as_of_date=as_of_date, given=given)
    _describe(plan, echo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_yaml(plan), encoding="utf-8")
    messages, command, flags = _open_messages(plan, name, files, given)
    problems = list(messages)
    if plan.problem:
        problems.append(plan.problem)
    if not problems:
        try:
            load_params(path.resolve())
        except ParamsError as exc:
            problems = exc.problems
    if problems:
        echo(f"wrote {path}, but it is not ready:")
        for p in problems:
            echo(f"  - {p}")
        if command:
            echo(f"settle it with:\n  {command}")
    else:
        echo(f"wrote {path} (validated); run it with: crm run {_run_arg(path, name)}")
    return InitResult(path=path, plan=plan, problems=problems, command=command, flags=flags)


def _run_arg(path: Path, name: str) -> str:
    return name if path.resolve() == (PARAMS_DIR / f"{name}.yaml").resolve() else str(path)
