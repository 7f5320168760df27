"""Scoring plots draw what the scored table says."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from src.plots.scoring import action_counts, clv_by_action  # noqa: E402


def _scored() -> pd.DataFrame:
    return pd.DataFrame({"recommended_action": ["vip_care"] * 3 + ["win_back"] * 5 + [None],
                         "clv": [900.0, 1200, 1000, 10, 20, np.nan, 30, 40, 5]})


def test_action_counts_bars_match_the_counts():
    fig = action_counts(_scored())
    ax = fig.axes[0]
    bars = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches,
                                                        strict=True)}
    assert bars == {"(none)": 1, "vip_care": 3, "win_back": 5}


def test_clv_by_action_orders_by_median_and_skips_missing():
    fig = clv_by_action(_scored(), horizon_days=365)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["vip_care", "win_back", "(none)"]
    assert "365 days" in ax.get_ylabel()
    empty = clv_by_action(_scored().assign(clv=np.nan))
    assert "no CLV" in empty.axes[0].texts[0].get_text()
