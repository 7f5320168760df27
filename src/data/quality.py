"""Data-quality summaries of the contract tables (no personal data in any output)."""

from __future__ import annotations

import pandas as pd

from src.data.contract import TABLES


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
    """Headline numbers for MLflow: rows per table, rejects, customers, revenue of completed bookings."""
    m: dict[str, float] = {}
    for r in report.to_dict("records"):
        m[f"rows_in.{r['table']}"] = r["rows_in"]
        m[f"rows_rejected.{r['table']}"] = r["rows_rejected"]
    b = tables["bookings"]
    completed = b[b["status"].astype(str) == "completed"] if "status" in b.columns else b
    m["customers"] = float(b["customer_id"].nunique())
    m["bookings_completed"] = float(len(completed))
    m["revenue_completed"] = float(completed["amount"].sum())
    m["one_time_customer_share"] = float((completed.groupby("customer_id").size() == 1).mean()) if len(completed) else 0.0
    return m
