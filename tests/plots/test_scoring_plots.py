"""Scoring plots draw what the scored table says."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.plots.scoring import action_counts, clv_by_action  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _scored() -> pd.DataFrame:
    return pd.DataFrame({"recommended_action": ["vip_care"] * 3 + ["win_back"] * 5 + [None],
                         "clv": [900.0, 1200, 1000, 10, 20, np.nan, 30, 40, 5]})


def test_action_counts_bars_match_the_counts():
    fig = action_counts(_scored())
    fig.canvas.draw()
    ax = fig.axes[0]
    # smallest at the bottom, largest at the top; customers without an action are "(none)"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["(none)", "vip_care", "win_back"]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [1, 3, 5]
    assert [p.get_y() + p.get_height() / 2 for p in ax.patches] == pytest.approx([0, 1, 2])
    # each bar is annotated with its count and share of the 9 customers, at its end
    notes = [(t.get_text().strip(), t.get_position()) for t in ax.texts]
    assert notes == [("1 (11%)", (1, 0)), ("3 (33%)", (3, 1)), ("5 (56%)", (5, 2))]
    assert ax.get_xlabel() == "customers"
    assert ax.get_title() == "Customers per recommended action"


def _boxes(ax) -> list[dict[str, float]]:
    """Per box, left to right: median, quartiles and whisker ends as drawn."""
    out = []
    for pos in ax.get_xticks():
        near = [line for line in ax.get_lines()
                if np.all(np.abs(np.asarray(line.get_xdata(), float) - pos) < 0.5)]
        (box,) = [line for line in near if len(line.get_xdata()) == 5]
        width = np.ptp(np.asarray(box.get_xdata(), float))
        flat = [line for line in near if len(line.get_xdata()) == 2
                and line.get_ydata()[0] == line.get_ydata()[1]]
        span = {line: np.ptp(np.asarray(line.get_xdata(), float)) for line in flat}
        (median,) = [line for line in flat if span[line] == pytest.approx(width)]
        caps = sorted(line.get_ydata()[0] for line in flat
                      if span[line] == pytest.approx(width / 2))
        out.append({"median": median.get_ydata()[0], "q1": min(box.get_ydata()),
                    "q3": max(box.get_ydata()), "low": caps[0], "high": caps[1]})
    return out


def test_clv_by_action_orders_by_median_and_skips_missing():
    fig = clv_by_action(_scored(), horizon_days=365)
    fig.canvas.draw()
    ax = fig.axes[0]
    # highest median CLV first; the NaN CLV of a win_back customer is left out
    assert [t.get_text() for t in ax.get_xticklabels()] == ["vip_care", "win_back", "(none)"]
    values = [np.array([900.0, 1200, 1000]), np.array([10.0, 20, 30, 40]), np.array([5.0])]
    for drawn, v in zip(_boxes(ax), values, strict=True):
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        inside = v[(v >= q1 - 1.5 * (q3 - q1)) & (v <= q3 + 1.5 * (q3 - q1))]
        assert drawn == pytest.approx({"median": med, "q1": q1, "q3": q3,
                                       "low": inside.min(), "high": inside.max()})
    # outliers hidden: per box only whiskers, caps, box and median (6 lines), no fliers
    assert len(ax.get_lines()) == 6 * len(values)
    assert "365 days" in ax.get_ylabel()
    assert ax.get_title() == "Predicted customer value by recommended action"
    empty = clv_by_action(_scored().assign(clv=np.nan))
    assert "no CLV" in empty.axes[0].texts[0].get_text()
    assert not empty.axes[0].get_lines()
    assert clv_by_action(_scored()).axes[0].get_ylabel() == "CLV (currency)"
