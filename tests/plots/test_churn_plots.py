"""Churn plots draw what their tables say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.plots.churn import churn_probabilities  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_churn_probabilities_one_panel_per_horizon_of_the_customers_at_risk():
    """Rows without a probability (churned, cancelled) are left out; each panel's bars are
    shares of the customers at risk (sum 1) and its title names the horizon and the mean."""
    scores = pd.DataFrame({
        "churn_prob_90d": [0.1, 0.1, 0.3, np.nan, 0.5],
        "churn_prob_365d": [0.2, 0.4, 0.6, np.nan, 0.8],
        "expected_remaining_days": [900.0, 800, 700, 0, 600]})
    fig = churn_probabilities(scores, bins=10)
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == ["within 90 days (mean 0.25)",
                                                 "within 365 days (mean 0.50)"]
    for ax in panels:
        heights = [p.get_height() for p in ax.patches]
        assert sum(heights) == pytest.approx(1.0)
    assert [p.get_height() for p in panels[0].patches][1] == pytest.approx(0.5)  # 0.1, 0.1
    assert "4 customers at risk" in fig._suptitle.get_text()


def test_churn_probabilities_wraps_many_horizons_and_says_when_there_are_none():
    scores = pd.DataFrame({f"churn_prob_{h}d": [0.5] for h in (30, 90, 180, 365, 730)})
    fig = churn_probabilities(scores)
    assert len([ax for ax in fig.axes if ax.axison]) == 5 and len(fig.axes) == 8  # 2 rows of 4
    empty = churn_probabilities(pd.DataFrame({"churn_prob_90d": [np.nan]}))
    assert "no customer at risk" in [t.get_text() for t in empty.axes[0].texts]
