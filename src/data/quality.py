"""Data-quality summaries of the contract tables (no personal data in any output)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from src.data.contract import TABLES, snapshot_columns


def table_overview(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per table: rows, distinct customers, date range, share of missing cells.

    Returns
    -------
    DataFrame indexed by table with columns rows, customers, first_date, last_date,
    missing_share (0-1 over the contract columns present).
    """
    date_cols = {"customers": "signup_date", "bookings": "booking_date",
                 "interactions": "timestamp", "feedback": "date"}
    out = []
    for name, df in tables.items():
        contract = [c for c in TABLES[name].column_names if c in df.columns]
        dcol = date_cols.get(name)
        dates = df[dcol] if dcol in df.columns else pd.Series(dtype="datetime64[ns]")
        out.append({
            "table": name,
            "rows": len(df),
            "customers": df["customer_id"].nunique() if "customer_id" in df.columns else None,
            "first_date": dates.min(),
            "last_date": dates.max(),
            "missing_share": float(df[contract].isna().to_numpy().mean()) if contract and len(df) else 0.0,
        })
    return pd.DataFrame(out).set_index("table")


def missing_by_column(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Share of missing values per contract column (only columns with any missing value)."""
    rows = []
    for name, df in tables.items():
        for col in TABLES[name].column_names:
            if col in df.columns and len(df):
                share = float(df[col].isna().mean())
                if share > 0:
                    rows.append({"table": name, "column": col, "missing_share": share})
    return pd.DataFrame(rows, columns=["table", "column", "missing_share"])


def booking_status_counts(bookings: pd.DataFrame) -> pd.DataFrame:
    """Bookings and amount (currency) by status."""
    status = bookings["status"] if "status" in bookings.columns else pd.Series("completed", index=bookings.index)
    g = bookings.groupby(status.astype(str), observed=True)["amount"]
    return pd.DataFrame({"bookings": g.size(), "amount": g.sum()}).rename_axis("status")


def quality_metrics(tables: dict[str, pd.DataFrame], report: pd.DataFrame) -> dict[str, float]:
    """Headline numbers for MLflow: rows per table, rejects, customers, revenue of completed
    bookings (currency); without bookings (a snapshot) the customers and the share of them
    whose membership is cancelled."""
    m: dict[str, float] = {}
    for r in report.to_dict("records"):
        m[f"rows_in.{r['table']}"] = r["rows_in"]
        m[f"rows_rejected.{r['table']}"] = r["rows_rejected"]
    b = tables.get("bookings")
    if b is None:  # a snapshot without transactions: customers and their memberships
        c = tables["customers"]
        m["customers"] = float(c["customer_id"].nunique())
        if "membership_cancel_date" in c.columns:
            m["cancelled_share"] = float(c["membership_cancel_date"].notna().mean())
        return m
    completed = b[b["status"].astype(str) == "completed"] if "status" in b.columns else b
    m["customers"] = float(b["customer_id"].nunique())
    m["bookings_completed"] = float(len(completed))
    m["revenue_completed"] = float(completed["amount"].sum())
    m["one_time_customer_share"] = float((completed.groupby("customer_id").size() == 1).mean()) if len(completed) else 0.0
    return m


def snapshot_report(tables: dict[str, pd.DataFrame], *, tier_rule: bool = False,
                    attributes: Sequence[str] = ()) -> pd.DataFrame:
    """The columns that describe only the extraction day, and how the models treat each.

    A customers-table column without history (:attr:`src.data.contract.Column.snapshot`) may
    have held another value at an earlier date; nothing computed as of an earlier date (a
    churn landmark, a holdout's training date, last year's lifecycle stage) reads it.

    Parameters
    ----------
    tables : the clean contract tables.
    tier_rule : whether the job rebuilds ``member_tier`` from trips (``data.tier_rule``).
    attributes : the customers' attribute columns (``tables.customers.attributes``), values
        of the as-of date.

    Returns
    -------
    DataFrame with table, column, kind (``snapshot`` / ``dated``) and handling (one line).
    """
    rows = []
    customers = tables.get("customers")
    bookings = tables.get("bookings")
    for name, cols in snapshot_columns().items():
        df = tables.get(name)
        for col in cols:
            if df is None or col not in df.columns:
                continue
            if col == "member_tier" and tier_rule:
                how = "rebuilt as of every date from completed trips (data.tier_rule)"
                kind = "dated"
            elif col == "member_tier":
                how = ("snapshot: used at the extraction day only, left out of models at "
                       "earlier dates (set data.tier_rule to rebuild it)")
                kind = "snapshot"
            elif col.startswith("consent_"):
                how = "snapshot: decides who is contacted now; never a model input"
                kind = "snapshot"
            else:
                how = "snapshot: not used by the models"
                kind = "snapshot"
            rows.append({"table": name, "column": col, "kind": kind, "handling": how})
    for col in attributes:
        if customers is not None and col in customers.columns:
            rows.append({"table": "customers", "column": col, "kind": "snapshot",
                         "handling": "attribute (tables.customers.attributes): its value on "
                                     "the as-of date; used by models at that date only"})
    if customers is not None and "loyalty_member" in customers.columns:
        dated = "membership_cancel_date" in customers.columns
        rows.append({"table": "customers", "column": "loyalty_member",
                     "kind": "dated" if dated else "snapshot",
                     "handling": ("membership as of every date from signup_date and "
                                  "membership_cancel_date" if dated else
                                  "snapshot: no cancellation dates; used at the extraction "
                                  "day only")})
    if bookings is not None and "status" in bookings.columns:
        dated = "status_date" in bookings.columns
        rows.append({"table": "bookings", "column": "status", "kind": "dated" if dated
                     else "snapshot",
                     "handling": ("as of every date from status_date" if dated else
                                  "no status_date: a status counts from the latest date it "
                                  "can have been set (trip end for completed, trip start for "
                                  "cancelled / no-show)")})
    return pd.DataFrame(rows, columns=["table", "column", "kind", "handling"])
