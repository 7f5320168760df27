"""Data-quality plots draw the counts of the input tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.plots.data_quality import (  # noqa: E402
    amount_distribution,
    bookings_per_month,
    customers_by,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bookings() -> pd.DataFrame:
    rows = ([("2024-01-03", "completed", 120.0)] * 3 + [("2024-01-28", "cancelled", 80.0)]
            + [("2024-02-10", "completed", 0.0)] * 2 + [("2024-02-11", "no_show", -15.0)]
            + [("2024-04-30", "completed", 2500.0)] + [("2024-04-01", "cancelled", 40.0)] * 2)
    df = pd.DataFrame(rows, columns=["booking_date", "status", "amount"])
    df["booking_date"] = pd.to_datetime(df["booking_date"])
    return df


def _bars(container) -> dict[pd.Timestamp, tuple[float, float]]:
    """{month: (bottom, height)} of a bar container whose bars are centred on dates."""
    return {pd.Timestamp(mdates.num2date(p.get_x() + p.get_width() / 2)).tz_localize(None)
            .normalize(): (p.get_y(), p.get_height()) for p in container}


def test_bookings_per_month_stacks_the_counts_by_status():
    bookings = _bookings()
    fig = bookings_per_month(bookings)
    assert isinstance(fig, plt.Figure)
    ax = fig.axes[0]
    # counted by hand from _bookings(): month -> status -> bookings
    expected = {"cancelled": {"2024-01": 1, "2024-02": 0, "2024-04": 2},
                "completed": {"2024-01": 3, "2024-02": 2, "2024-04": 1},
                "no_show": {"2024-01": 0, "2024-02": 1, "2024-04": 0}}
    labels = [c.get_label() for c in ax.containers]
    assert sorted(labels) == sorted(expected)
    bottom = dict.fromkeys(["2024-01", "2024-02", "2024-04"], 0.0)
    for container in ax.containers:  # stacked in drawing order
        bars = {month.strftime("%Y-%m"): v for month, v in _bars(container).items()}
        assert set(bars) == set(bottom)  # months without bookings (March) have no bar
        for month, (y0, height) in bars.items():
            assert height == expected[container.get_label()][month]
            assert y0 == bottom[month]
            bottom[month] += height
    assert bottom == {"2024-01": 4, "2024-02": 3, "2024-04": 3}
    assert ax.get_ylabel() == "bookings"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_bookings_per_month_without_status_counts_everything_as_completed():
    bookings = _bookings().drop(columns="status")
    ax = bookings_per_month(bookings).axes[0]
    assert [c.get_label() for c in ax.containers] == ["completed"]
    heights = {m.strftime("%Y-%m"): h for m, (_, h) in _bars(ax.containers[0]).items()}
    assert heights == {"2024-01": 4, "2024-02": 3, "2024-04": 3}


def test_customers_by_draws_one_bar_chart_per_present_column():
    customers = pd.DataFrame({
        "member_tier": ["gold", "silver", "silver", "bronze", "silver", None],
        "customer_type": ["leisure", "business", "leisure", "leisure", "leisure", "leisure"],
        "home_region": ["n"] * 6,
    })
    fig = customers_by(customers, columns=("member_tier", "customer_type", "not_a_column"))
    fig.canvas.draw()  # tick labels are set at draw time
    assert len(fig.axes) == 2
    expected = [{"gold": 1, "silver": 3, "bronze": 1, "None": 1},
                {"leisure": 5, "business": 1}]
    for ax, counts, col in zip(fig.axes, expected, ("member tier", "customer type"), strict=True):
        bars = {t.get_text(): p.get_height()
                for t, p in zip(ax.get_xticklabels(), ax.patches, strict=True)}
        assert bars == counts
        assert col in ax.get_title()


def test_customers_by_without_attributes_says_so():
    fig = customers_by(pd.DataFrame({"customer_id": [1, 2]}))
    assert len(fig.axes) == 1
    assert not fig.axes[0].patches
    assert "no customer attributes" in fig.axes[0].texts[0].get_text()


def test_amount_distribution_counts_positive_amounts_and_reports_the_rest():
    rng = np.random.default_rng(3)
    amount = np.r_[rng.lognormal(5.0, 1.0, size=400), [0.0, 0.0, -20.0]]
    fig = amount_distribution(pd.DataFrame({"amount": amount}))
    ax = fig.axes[0]
    pos = amount[amount > 0]
    heights = np.array([p.get_height() for p in ax.patches])
    assert heights.sum() == len(pos)
    # each bar holds the amounts in [left, right) (the last bar includes its right edge)
    lefts = np.array([p.get_x() for p in ax.patches])
    rights = lefts + np.array([p.get_width() for p in ax.patches])
    counted = [((pos >= lo) & (pos < hi)).sum() for lo, hi in zip(lefts[:-1], rights[:-1],
                                                                     strict=True)]
    counted.append(((pos >= lefts[-1]) & (pos <= rights[-1])).sum())
    np.testing.assert_array_equal(heights, counted)
    assert lefts[0] == pytest.approx(pos.min())
    assert ax.get_xscale() == "log"
    assert "3 zero/negative" in ax.get_title()
    assert ax.get_xlabel() == "amount" and ax.get_ylabel() == "bookings"


def test_amount_distribution_with_no_positive_amount():
    ax = amount_distribution(pd.DataFrame({"amount": [0.0, -5.0]})).axes[0]
    assert not ax.patches
    assert "2 zero/negative" in ax.get_title()
