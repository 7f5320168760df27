"""Read back what a churn plot drew (importable as ``tests.plot_reading``), so a test can
compare the artists with the table the plot was given."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection


def forest_drawn(ax: Axes) -> pd.DataFrame:
    """The rows of a forest plot (:func:`src.plots.churn.forest_plot`) as drawn, bottom to
    top: ``label`` (y tick), ``hazard_ratio`` (the point), ``lower_95`` / ``upper_95`` (the
    ends of its error bar), ``y``."""
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    xy = np.asarray(points.get_offsets(), dtype=float)
    seg = np.array([np.asarray(s, dtype=float) for s in bars.get_segments()])
    assert len(seg) == len(xy)
    np.testing.assert_array_equal(seg[:, 0, 1], xy[:, 1])  # each bar at its point's height
    np.testing.assert_array_equal(seg[:, 1, 1], xy[:, 1])
    labels = {float(t): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels(),
                                                          strict=True)}
    return pd.DataFrame({"label": [labels[y] for y in xy[:, 1]], "hazard_ratio": xy[:, 0],
                         "lower_95": seg[:, :, 0].min(axis=1),
                         "upper_95": seg[:, :, 0].max(axis=1), "y": xy[:, 1]})


def strongest_drivers(hazard_ratios: pd.DataFrame, top: int) -> pd.DataFrame:
    """What a forest plot of ``hazard_ratios`` must show, bottom to top: the ``top`` finite
    ratios furthest from 1 on the log scale, the strongest at the top, labelled with the
    covariate (and ``(per <increment>)`` when the ratio is not per unit)."""
    hr = hazard_ratios.loc[np.isfinite(hazard_ratios["hazard_ratio"].astype(float))
                           & (hazard_ratios["hazard_ratio"] > 0)]
    strength = np.abs(np.log(hr["hazard_ratio"].astype(float)))
    hr = hr.loc[strength.sort_values(ascending=False, kind="stable").index].head(top)
    hr = hr.iloc[::-1].reset_index(drop=True)
    per = hr["per"].astype(float)
    label = [f"{c} (per {p:g})" if np.isfinite(p) and p != 1 else str(c)
             for c, p in zip(hr["covariate"], per, strict=True)]
    return hr.assign(label=label)


def assert_forest_shows(ax: Axes, hazard_ratios: pd.DataFrame, top: int) -> None:
    """The forest plot on ``ax`` draws exactly the strongest ``top`` drivers' ratios and
    intervals, on a log axis with the no-effect line at 1."""
    drawn = forest_drawn(ax)
    want = strongest_drivers(hazard_ratios, top)
    assert drawn["label"].tolist() == want["label"].tolist()
    for col in ("hazard_ratio", "lower_95", "upper_95"):
        np.testing.assert_allclose(drawn[col], want[col].astype(float), rtol=1e-12, err_msg=col)
    np.testing.assert_array_equal(drawn["y"], np.arange(len(want)))
    assert ax.get_xscale() == "log"
    assert any(list(line.get_xdata()) == [1, 1] and list(line.get_ydata()) == [0, 1]
               for line in ax.get_lines())  # the vertical no-effect line
    assert "hazard ratio" in ax.get_xlabel()
