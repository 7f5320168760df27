"""Which notebooks a job's data can run: the tables each notebook needs.

A job lists its notebooks; its data decides which of them make sense. A subscription snapshot
(customers with tenure and status, no transactions) runs the data quality, the segmentation on
attributes and value, the membership churn analysis and the scoring, but not the BG/NBD /
Gamma-Gamma loyalty notebook, which needs a transaction log. The runner asks
:func:`skip_reason` before each notebook and skips one whose inputs are absent, recording
``skipped`` with the reason in the manifest and the run's log instead of failing on a missing
table.

The tables are those the data step wrote to the run folder (``data/*.parquet``) once it has
run, and before that those the job's ``data:`` section names (the synthetic generator writes
every table).
"""

from __future__ import annotations

from src.data.contract import TABLES
from src.layout import RunLayout
from src.params.schema import JobParams

__all__ = ["NEEDS", "available_tables", "skip_reason"]

#: notebook -> (tables it needs, all of them; why), for the notebooks that need specific tables.
#: ``03_churn_survival`` depends on the churn definition (see :func:`skip_reason`).
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "04_loyalty_clv": (("bookings",), "BG/NBD and Gamma-Gamma need a transaction log "
                                      "(bookings with dates and amounts)"),
}


def available_tables(params: JobParams, layout: RunLayout) -> set[str]:
    """The contract tables of the run: those the data step wrote to ``layout``, or before it
    ran, those the job's data section names (every table for the synthetic generator)."""
    if layout.inputs_file.exists():
        return set(layout.table_files())
    if params.data.synthetic is not None:
        return set(TABLES)
    return set((params.data.source or {}).get("tables") or {})


def skip_reason(notebook: str, params: JobParams, layout: RunLayout) -> str | None:
    """Why ``notebook`` cannot run on this job's data, or None when it can.

    Parameters
    ----------
    notebook : notebook name, e.g. ``04_loyalty_clv``.
    params : the validated job parameters.
    layout : the run folder (its data step may have written the clean tables).

    Returns
    -------
    str or None : e.g. ``"no bookings table in the data: BG/NBD and Gamma-Gamma need a
    transaction log (bookings with dates and amounts)"``.
    """
    have = available_tables(params, layout)
    needs, why = NEEDS.get(notebook, ((), ""))
    if notebook == "03_churn_survival" and params.churn.definition == "lapse":
        needs, why = ("bookings",), "lapse churn is measured on bookings (churn.definition: lapse)"
    if notebook == "03_churn_survival" and params.churn.definition == "membership":
        needs, why = ("customers",), "membership churn needs the customers table"
    missing = [t for t in needs if t not in have]
    if not missing:
        return None
    return f"no {' and '.join(missing)} table in the data: {why}"
