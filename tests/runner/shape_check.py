"""``crm init`` then the product's loader on one generated export shape (a test helper).

:func:`check_shape` writes one shape of :mod:`src.data.synthetic.export_shapes`, runs
:func:`src.commands.init_job.init_job` on it unedited, and either loads the written job through
the product's loader (:func:`src.data.loading.load_tables`, as ``crm run`` does) and compares
the completed revenue, bookings and customers with the planted truth, or, when ``crm init``
left roles open, checks that it named each role's flag in the command it printed, answers
those flags (and only those) with the true columns, and loads the job written by the next
``crm init``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from src.commands.init_job import EXTRA_FLAGS, ROLE_FLAGS, InitResult, init_job
from src.data.loading import load_tables
from src.data.recognition.roles import quote
from src.data.sources import DataSourceConfig
from src.data.synthetic.export_shapes import ExportShape, write_export_shape
from src.params.files import load_params
from src.paths import PROJECT_ROOT

MAX_ROUNDS = 3
"""``crm init`` runs at most: unedited, then with the flags it named (a settled role can open
another: an amount given as quantity x unit price asks for the booking key of the lines)."""


@dataclass
class ShapeOutcome:
    """How one shape went: ``settled`` unedited, or after the named ``flags``; the figures
    of the loaded job beside the truth."""

    shape: ExportShape
    settled: str  # "unedited" | "flags, <n> round(s)"
    flags: dict[str, str] = field(default_factory=dict)
    command: str | None = None
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def truth(self) -> dict[str, float]:
        t = self.shape.truth
        return {"revenue": t.revenue, "bookings": t.n_bookings, "customers": t.n_customers}


def figures(result: InitResult) -> dict[str, float]:
    """Completed revenue (cents), bookings and customers of the job ``result`` wrote, loaded
    as ``crm run`` loads it."""
    params = load_params(result.path)
    config = DataSourceConfig.model_validate(
        {**params.data.source, "max_reject_share": params.data_quality.max_reject_share})
    bookings = load_tables(config, base_dir=PROJECT_ROOT).tables["bookings"]
    done = bookings[bookings["status"].astype(str) == "completed"]
    return {"revenue": round(float(pd.to_numeric(done["amount"]).sum()), 2),
            "bookings": int(len(done)), "customers": int(done["customer_id"].nunique())}


def true_value(shape: ExportShape, key: str) -> str:
    """The answer to the flag of ``key`` (a role or a setting) from the planted truth."""
    roles, drawn = shape.truth.roles, shape.drawn
    if key == "date_format":
        return str(drawn["date_format"])
    if key == "status_values":
        return ",".join(f"{w}={m}" for w, m in shape.truth.status_words.items())
    if key == "amount" and "quantity" in roles:
        return f"{quote(roles['quantity'])} * {quote(roles['unit_price'])}"
    value = roles.get(key)
    if value is None:
        return "none"
    if "+" in value:  # split date parts
        parts = [f"CAST({quote(p)} AS INTEGER)" for p in value.split("+")]
        return f"make_date({', '.join(parts + ['1'] * (3 - len(parts)))})"
    return value


def check_shape(folder: Path, seed: int) -> ShapeOutcome:
    """Draw shape ``seed`` into ``folder`` and take it through ``crm init`` as a user would.

    Raises
    ------
    AssertionError
        ``crm init`` left a role open without naming its flag in the command, asked again
        for a flag already answered, or is still not ready after :data:`MAX_ROUNDS` runs
        (each answering the flags it named with the true columns).
    """
    shape = write_export_shape(folder, seed)
    out = folder / f"shape_{seed}.yaml"
    given: dict[str, str] = {}
    commands: list[str] = []
    for _ in range(MAX_ROUNDS):
        result = init_job(f"shape_{seed}", shape.files, out=out, force=True, given=given,
                          echo=lambda _: None)
        if result.ok:
            settled = "unedited" if not given else f"flags, {len(commands)} round(s)"
            return ShapeOutcome(shape, settled, flags=given, command=" | ".join(commands),
                                figures=figures(result))
        assert result.command, f"seed {seed}: not ready and no command: {result.problems}"
        assert result.flags, (seed, result.problems)
        for key in result.flags:
            flag = ROLE_FLAGS.get(key) or EXTRA_FLAGS[key]
            assert f" {flag} " in result.command, (seed, key, result.command)
            assert key not in given, f"seed {seed}: {key} given and asked again"
        commands.append(result.command)
        given = {**given, **{key: true_value(shape, key) for key in result.flags}}
    raise AssertionError(f"seed {seed}: given {given}, still not ready: {result.problems}")
