"""The trial load of ``crm init``: the recognised files loaded through the product's loader,
and what a run will see of them.

:func:`source_entry` writes a recognised file as its ``data.source.tables.<table>`` entry;
:func:`trial_load` loads the entries with :func:`src.data.loading.load_tables` (the code
``crm run`` uses), and :func:`table_stats` measures the kept tables (:class:`TableStats`):
rows, customers, revenue, the date span, the gaps between purchase days, and the as-of date
of the bulk of the bookings (:data:`FUTURE_GAP_DAYS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.data.loading import DataSourceConfig, LoadedData, load_tables
from src.data.recognition.tables import TableRecognition
from src.paths import PROJECT_ROOT

__all__ = ["FUTURE_GAP_DAYS", "TableStats", "relative_path", "source_entry", "table_stats",
           "trial_load"]

FUTURE_GAP_DAYS = 60
"""Bookings dated this many days beyond the 99.9th percentile of the dates are future rows."""


@dataclass
class TableStats:
    """What a run will see of one table, measured by loading it with the product's loader.

    Attributes
    ----------
    table : ``bookings`` or ``customers``.
    n_kept : rows kept (bookings after grouping lines); n_rejected : rows rejected.
    n_customers : distinct customers kept.
    revenue : sum of the kept bookings' amounts (the data's currency).
    first_date, last_date : span of the booking dates up to the as-of date (member table:
        starts and cancellations).
    n_future : bookings dated after the as-of date (flagged, rejected by the run).
    gap_days : quantiles (0.5, 0.8, 0.85, 0.9) of the days between a customer's
        consecutive purchase days; n_repeat_customers : customers with two purchase days.
    churn_share : share of customers with a cancellation (customers shapes).
    """

    table: str
    n_kept: int = 0
    n_rejected: int = 0
    n_customers: int = 0
    revenue: float | None = None
    first_date: date | None = None
    last_date: date | None = None
    n_future: int = 0
    gap_days: dict[float, float] = field(default_factory=dict)
    n_repeat_customers: int = 0
    churn_share: float | None = None

    @property
    def span_days(self) -> int:
        if self.first_date is None or self.last_date is None:
            return 0
        return (self.last_date - self.first_date).days


def relative_path(path: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), PROJECT_ROOT)
    except ValueError:  # another drive
        return str(path.resolve())


def source_entry(rec: TableRecognition, *, absolute: bool = False) -> dict[str, Any]:
    """The ``data.source.tables.<table>`` entry of a recognised file."""
    m, s = rec.mapping, rec.evidence.sniffed
    out: dict[str, Any] = {"path": str(s.path.resolve()) if absolute else relative_path(s.path)}
    if s.encoding not in ("utf-8", "utf-8-sig"):
        out["encoding"] = s.encoding
    if s.delimiter != ",":
        out["delimiter"] = "tab" if s.delimiter == "\t" else s.delimiter
    if m.decimal:
        out["decimal"] = m.decimal
    for key in ("columns", "defaults", "attributes", "values", "vocabulary"):
        if getattr(m, key):
            out[key] = dict(getattr(m, key))
    if m.where:
        out["where"] = list(m.where)
    if m.group_lines:
        out["group_lines"] = True
    if m.date_format:
        out["date_format"] = m.date_format
    return out


def trial_load(recs: list[TableRecognition], as_of: date | None,
                customer_defaults: dict[str, Any]) -> LoadedData:
    tables = {r.table: source_entry(r, absolute=True) for r in recs}
    if "customers" in tables:
        tables["customers"].setdefault("defaults", {}).setdefault("consent_email", True)
    config = DataSourceConfig.model_validate(
        {"tables": tables, "as_of_date": as_of, "max_reject_share": 0.2,
         **({"customer_defaults": customer_defaults} if "customers" not in tables else {})})
    return load_tables(config, base_dir=PROJECT_ROOT)


def _bulk_end(dates: pd.Series) -> tuple[date, int]:
    """(last date of the bulk of ``dates``, rows after it): see :data:`FUTURE_GAP_DAYS`."""
    d = pd.to_datetime(dates).dropna()
    limit = min(d.quantile(0.999) + pd.Timedelta(days=FUTURE_GAP_DAYS),
                pd.Timestamp(date.today()))
    inside = d[d <= limit]
    return inside.max().date(), int((d > limit).sum())


def _gaps(bookings: pd.DataFrame) -> tuple[dict[float, float], int]:
    days = bookings[["customer_id", "booking_date"]].drop_duplicates().sort_values(
        ["customer_id", "booking_date"])
    gap = days.groupby("customer_id", observed=True)["booking_date"].diff().dt.days.dropna()
    if gap.empty:
        return {}, 0
    qs = (0.5, 0.8, 0.85, 0.9)
    values = np.quantile(gap.to_numpy(dtype=float), qs)
    repeat = int(days.loc[gap.index, "customer_id"].nunique())
    return dict(zip(qs, map(float, values), strict=True)), repeat


def table_stats(loaded: LoadedData, recs: list[TableRecognition], as_of: date | None
           ) -> tuple[dict[str, TableStats], date | None, str]:
    """Per-table stats of a trial load, the as-of date of the bulk of the data and why."""
    out: dict[str, TableStats] = {}
    report = loaded.report.set_index("table") if len(loaded.report) else None
    why = ""
    bookings = loaded.tables.get("bookings")
    if bookings is not None:
        st = TableStats("bookings")
        if as_of is None and len(bookings):
            as_of, n_future = _bulk_end(bookings["booking_date"])
            why = "the last booking date of the bulk of the data"
            if n_future:
                why += (f"; {n_future:,} bookings dated later are future rows (after "
                        f"{FUTURE_GAP_DAYS} days with no booking, or after today): the run "
                        "rejects them as dates in the future")
            st.n_future = n_future
        kept = bookings if as_of is None else bookings[
            bookings["booking_date"] <= pd.Timestamp(as_of)]
        st.n_kept, st.n_customers = len(kept), int(kept["customer_id"].nunique())
        st.revenue = float(kept["amount"].sum())
        if len(kept):
            st.first_date = kept["booking_date"].min().date()
            st.last_date = kept["booking_date"].max().date()
        st.gap_days, st.n_repeat_customers = _gaps(kept)
        if report is not None and "bookings" in report.index:
            st.n_rejected = int(report.loc["bookings", "rows_rejected"])
        out["bookings"] = st
    customers = loaded.tables.get("customers")
    crec = next((r for r in recs if r.table == "customers"), None)
    if customers is not None and crec is not None:
        st = TableStats("customers", n_kept=len(customers),
                        n_customers=int(customers["customer_id"].nunique()))
        if "membership_cancel_date" in customers:
            st.churn_share = float(customers["membership_cancel_date"].notna().mean())
        if crec.shape == "member_table":
            s, c = customers["signup_date"], customers["membership_cancel_date"]
            st.first_date = s.min().date() if s.notna().any() else None
            last = max(x for x in (s.max(), c.max()) if pd.notna(x))
            st.last_date = last.date()
            if as_of is None:
                as_of, why = st.last_date, "the last start or cancellation date of the members"
        out["customers"] = st
    return out, as_of, why


# --------------------------------------------------------------------------------------------
# plan_job
