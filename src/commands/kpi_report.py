"""The KPIs of a job's runs: where ``07_kpis`` finds the last run and the baseline, the one
reader and writer of the headline table (``data/kpis.csv``), and its terminal view
(``crm kpis``).

The KPI definitions and the target arithmetic are in :mod:`src.loop.kpis`; this module
only looks up run folders (:mod:`src.runner.history`) and reads and writes files.

- *last run*: the job's newest succeeded run (by cut-off, then start) with a ``kpis.csv``, a
  cut-off on or before this run's and another run id;
- *baseline*: the run named by ``kpis.baseline_run`` (it must have a ``kpis.csv``), else the
  job's earliest succeeded run with a ``kpis.csv`` and a cut-off on or before this run's,
  else this run itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from src.fileio import atomic_write, neutralise_formulas
from src.layout import RunLayout
from src.loop.kpis import HEADLINE_COLUMNS, KpiSnapshot
from src.runner.history import JobRun, job_runs, run_named

__all__ = ["KpiBaselineError", "breakdown_groups", "format_kpi_table", "kpi_inputs",
           "kpi_runs", "kpi_snapshot", "read_kpi_table", "write_kpi_table"]

#: text columns of the headline table (read back as text, not numbers or dates)
_TEXT_COLUMNS = ("kpi", "month", "last_run_id", "baseline_run", "target_date", "status")


class KpiBaselineError(ValueError):
    """``kpis.baseline_run`` names a run that does not exist or has no KPIs."""


def write_kpi_table(path: Path, table: pd.DataFrame) -> Path:
    """Write the headline table (:func:`src.loop.kpis.kpi_table`) as UTF-8 CSV, atomically.

    Raises
    ------
    ValueError
        When the columns are not exactly :data:`~src.loop.kpis.HEADLINE_COLUMNS`.
    """
    if list(table.columns) != list(HEADLINE_COLUMNS):
        raise ValueError(f"a KPI headline table has the columns {list(HEADLINE_COLUMNS)}; "
                         f"got {list(table.columns)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: neutralise_formulas(table).to_csv(
        tmp, index=False, encoding="utf-8"))


def read_kpi_table(path: Path) -> pd.DataFrame:
    """Read a headline table written by :func:`write_kpi_table` (values as floats, ids,
    months and dates as text, ``greater_is_better`` as bool)."""
    table = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS}, encoding="utf-8")
    missing = [c for c in HEADLINE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a KPI table: no column {missing}")
    table = table[list(HEADLINE_COLUMNS)].copy()
    for col in _TEXT_COLUMNS:
        table[col] = table[col].astype(object).where(table[col].notna(), None)
    for col in ("current", "last_run", "baseline", "target", "expected_now"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["greater_is_better"] = table["greater_is_better"].astype(str).str.lower() == "true"
    return table


def kpi_snapshot(run: JobRun) -> KpiSnapshot | None:
    """A run's KPIs at its cut-off (the ``current`` column of its ``kpis.csv``), or None
    when it has none."""
    path = run.layout.kpis_file
    if not path.exists():
        return None
    table = read_kpi_table(path)
    return KpiSnapshot(run.run_id, run.cutoff_date, dict(zip(table["kpi"], table["current"],
                                                             strict=True)))


def kpi_runs(job: str, *, folder: Path | None = None) -> list[JobRun]:
    """The succeeded runs of ``job`` that have a ``kpis.csv``, oldest cut-off first."""
    return [r for r in job_runs(job, folder=folder) if r.layout.kpis_file.exists()]


def kpi_inputs(job: str, run_id: str, cutoff: date, baseline_run: str | None = None, *,
               folder: Path | None = None) -> tuple[KpiSnapshot | None, KpiSnapshot | None]:
    """The last run's and the baseline's KPIs for the run ``run_id`` of ``job``.

    Parameters
    ----------
    job : the job name.
    run_id : this run's id (left out of the lookups).
    cutoff : this run's cut-off: later runs are neither last run nor default baseline.
    baseline_run : ``kpis.baseline_run`` (None: the default baseline).
    folder : the runs folder (default :func:`src.paths.runs_dir`).

    Returns
    -------
    (last_run, baseline) : :class:`~src.loop.kpis.KpiSnapshot` each; ``last_run`` None
    when there is no earlier run with KPIs, ``baseline`` None when this run is its own
    baseline.

    Raises
    ------
    KpiBaselineError
        When ``baseline_run`` names a run that does not exist or has no ``kpis.csv``.
    """
    earlier = [r for r in kpi_runs(job, folder=folder)
               if r.cutoff_date <= cutoff and r.run_id != run_id]
    last = kpi_snapshot(earlier[-1]) if earlier else None
    if baseline_run and baseline_run != run_id:
        named = run_named(baseline_run, folder=folder)
        snapshot = kpi_snapshot(named) if named is not None else None
        if snapshot is None:
            have = [r.run_id for r in kpi_runs(job, folder=folder)] or ["none"]
            what = "does not exist" if named is None else "has no data/kpis.csv (07_kpis)"
            raise KpiBaselineError(
                f"kpis.baseline_run {baseline_run!r} {what}: name a run of job {job!r} with "
                f"KPIs (runs with KPIs: {', '.join(have)}), or leave it empty for the job's "
                "earliest run with KPIs")
        return last, snapshot
    if baseline_run == run_id or not earlier:  # this run is its own baseline
        return last, None
    return last, kpi_snapshot(earlier[0])


def breakdown_groups(source: RunLayout, by: Sequence[str]) -> tuple[pd.DataFrame | None, str]:
    """The groups of the run's scored table for the KPIs by group, or why there are none.

    Returns
    -------
    (groups, note) : ``customer_id`` and those ``by`` columns the scored table has (None
    when it has none, or there is no scored table), and one line saying what is used or
    why nothing is.
    """
    path = source.scored_file
    if not by:
        return None, "kpis.by is empty"
    if not path.exists():
        return None, (f"no scored table ({path.name}): the groups come from 05_score_export, "
                      "which has not run for this data")
    names = pq.ParquetFile(path).schema_arrow.names
    present = [c for c in by if c in names]
    absent = [c for c in by if c not in names]
    if not present or "customer_id" not in names:
        return None, f"the scored table has none of the columns {list(by)}"
    note = f"by {', '.join(present)}" + (f" (not in the scored table: {absent})" if absent else "")
    return pd.read_parquet(path, columns=["customer_id", *present]), note


def _fmt(kpi: str, value: object, *, known: bool = True) -> str:
    """A KPI value in its unit: shares as %, NPS in points, CSAT 1-5, counts, currency;
    NaN of a run that was measured (``known``): "no feedback" for NPS and CSAT."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no feedback" if known and kpi in ("nps", "csat") else "-"
    v = float(value)
    if kpi in ("repeat_rate", "churn_rate"):
        return f"{v:.1%}"
    if kpi == "nps":
        return f"{v:+.1f}"
    if kpi == "csat":
        return f"{v:.2f}"
    if kpi == "active_customers":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def format_kpi_table(table: pd.DataFrame) -> str:
    """The headline table as fixed-width text for the terminal: one line per KPI (current,
    last run, baseline, target and its date, expected now, status), then which runs the last
    run and the baseline are."""
    header = ["KPI", "month", "current", "last run", "baseline", "target", "by", "expected now",
              "status"]
    lines = []
    for row in table.itertuples(index=False):
        kpi = str(row.kpi)
        when = row.target_date if isinstance(row.target_date, str) else "-"
        lines.append([kpi, str(row.month), _fmt(kpi, row.current),
                      _fmt(kpi, row.last_run, known=isinstance(row.last_run_id, str)),
                      _fmt(kpi, row.baseline), _fmt(kpi, row.target, known=False), when,
                      _fmt(kpi, row.expected_now, known=False), str(row.status)])
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    left = {0, 1, 6, 8}

    def render(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [render(header), render(["-" * w for w in widths]), *map(render, lines)]
    first = table.iloc[0] if len(table) else None
    if first is not None:
        last_id = first["last_run_id"] if isinstance(first["last_run_id"], str) else None
        out.append(f"last run: {last_id or 'none (first run with KPIs)'}; baseline: "
                   f"{first['baseline_run']}")
    return "\n".join(out)
