"""Data-quality plots. Each takes tables and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def bookings_per_month(bookings: pd.DataFrame) -> plt.Figure:
    """Stacked bars of bookings per booking month, by status."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    month = bookings["booking_date"].dt.to_period("M")
    status = bookings["status"].astype(str) if "status" in bookings.columns else "completed"
    counts = pd.crosstab(month, status).sort_index()
    counts.index = counts.index.to_timestamp()
    bottom = np.zeros(len(counts))
    for col in counts.columns:
        ax.bar(counts.index, counts[col].to_numpy(), width=25, bottom=bottom, label=col)
        bottom += counts[col].to_numpy()
    ax.set_title("Bookings per month by status")
    ax.set_ylabel("bookings")
    ax.legend(frameon=False, ncol=len(counts.columns))
    fig.tight_layout()
    return fig


def customers_by(customers: pd.DataFrame, columns: tuple[str, ...] = ("member_tier", "customer_type")) -> plt.Figure:
    """Bar charts of customer counts by each given column (those present)."""
    cols = [c for c in columns if c in customers.columns]
    fig, axes = plt.subplots(1, max(len(cols), 1), figsize=(5 * max(len(cols), 1), 3.2), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=False):
        counts = customers[col].value_counts(sort=False, dropna=False)
        ax.bar([str(i) for i in counts.index], counts.to_numpy(), color="#4C72B0")
        ax.set_title(f"Customers by {col.replace('_', ' ')}")
        ax.tick_params(axis="x", rotation=30)
    if not cols:
        axes[0][0].text(0.5, 0.5, "no customer attributes in the input", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return fig


def amount_distribution(bookings: pd.DataFrame) -> plt.Figure:
    """Histogram of booking amounts (log scale for positive amounts; zero/negative counted)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    amount = bookings["amount"].to_numpy(dtype=float)
    pos = amount[amount > 0]
    if len(pos):
        bins = np.logspace(np.log10(pos.min()), np.log10(pos.max()) + 1e-9, 50)
        ax.hist(pos, bins=bins, color="#55A868")
        ax.set_xscale("log")
    n_nonpos = int((amount <= 0).sum())
    ax.set_title(f"Booking amount (currency); {n_nonpos} zero/negative not shown")
    ax.set_xlabel("amount")
    ax.set_ylabel("bookings")
    fig.tight_layout()
    return fig
