"""BG/NBD validation and CLV plots draw the tables they are given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from src.plots.btyd import clv_distribution, frequency_plot, tracking_plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _freq_table() -> pd.DataFrame:
    """The shape of :func:`src.models.btyd.clv.frequency_table`."""
    return pd.DataFrame({"customers": [1411, 439, 214, 64],
                         "actual": [0.24, 0.70, 1.39, 6.36],
                         "predicted": [0.23, 0.52, 1.04, 6.16]},
                        index=pd.Index(["0", "1", "2", "3+"], name="calibration_frequency"))


def _tracking(calibration_end: str | None = "2024-01-29") -> pd.DataFrame:
    """The shape of :func:`src.models.btyd.clv.tracking_table`."""
    index = pd.date_range("2024-01-08", periods=6, freq="7D", name="period_end")
    actual = np.array([2.0, 5, 4, 7, 3, 6])
    expected = np.array([2.5, 4.0, 4.5, 5.0, 5.2, 5.1])
    t = pd.DataFrame({"actual_cumulative": actual.cumsum(), "expected_cumulative": expected.cumsum(),
                      "actual": actual, "expected": expected}, index=index)
    if calibration_end is not None:
        t.attrs["calibration_end"] = pd.Timestamp(calibration_end)
    return t


def test_frequency_plot_bars_are_the_table():
    table = _freq_table()
    fig = frequency_plot(table)
    assert isinstance(fig, plt.Figure)
    ax = fig.axes[0]
    fig.canvas.draw()
    actual, predicted = ax.containers
    assert actual.get_label() == "actual" and predicted.get_label() == "BG/NBD"
    assert [p.get_height() for p in actual] == table["actual"].tolist()
    assert [p.get_height() for p in predicted] == table["predicted"].tolist()
    # each pair of bars sits on its frequency group's tick
    centres = [p.get_x() + p.get_width() / 2 for p in actual]
    assert [(a + b) / 2 for a, b in zip(centres, [p.get_x() + p.get_width() / 2
                                                  for p in predicted], strict=True)] == \
        pytest.approx(ax.get_xticks())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3+"]
    assert "calibration" in ax.get_xlabel() and "holdout" in ax.get_ylabel()


def test_tracking_plot_lines_are_the_table():
    tracking = _tracking()
    fig = tracking_plot(tracking)
    cumulative, per_period = fig.axes
    x = mdates.date2num(tracking.index)
    for ax, (a, e) in ((cumulative, ("actual_cumulative", "expected_cumulative")),
                       (per_period, ("actual", "expected"))):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"actual", "BG/NBD", "calibration end"}
        np.testing.assert_array_equal(lines["actual"].get_ydata(), tracking[a])
        np.testing.assert_array_equal(lines["BG/NBD"].get_ydata(), tracking[e])
        np.testing.assert_allclose(mdates.date2num(lines["actual"].get_xdata()), x)
        cal = lines["calibration end"].get_xdata()
        assert mdates.date2num(cal[0]) == mdates.date2num(pd.Timestamp("2024-01-29"))
    assert "cumulative" in cumulative.get_title() and "per period" in per_period.get_title()
    assert [t.get_text() for t in cumulative.get_legend().get_texts()] == [
        "actual", "BG/NBD", "calibration end"]


def test_tracking_plot_without_calibration_end_draws_no_marker():
    fig = tracking_plot(_tracking(calibration_end=None))
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["actual", "BG/NBD"]


def test_clv_distribution_histogram_and_decile_shares():
    # 25 customers: CLV 1..24 and one without a prediction (NaN), plus a zero
    clv = np.r_[np.arange(1.0, 25.0), [0.0]]
    predictions = pd.DataFrame({"clv": np.r_[clv, [np.nan]]})
    fig = clv_distribution(predictions, horizon_days=365)
    hist, deciles = fig.axes
    assert sum(p.get_height() for p in hist.patches) == 24  # positive CLVs
    # each bar counts the positive CLVs in [left, right) (the last one includes its right
    # edge), on 49 log-spaced bins (50 edges) from the smallest to the largest positive CLV
    pos = clv[clv > 0]
    lefts = np.array([p.get_x() for p in hist.patches])
    rights = lefts + np.array([p.get_width() for p in hist.patches])
    counted = [((pos >= lo) & (pos < hi)).sum() for lo, hi in zip(lefts, rights, strict=True)]
    counted[-1] += (pos == rights[-1]).sum()
    assert [p.get_height() for p in hist.patches] == counted
    assert len(hist.patches) == 49
    assert lefts[0] == pytest.approx(pos.min()) and rights[-1] == pytest.approx(pos.max())
    assert hist.get_xscale() == "log"
    assert "365 days" in hist.get_title()
    # deciles of 25 customers sorted by CLV, largest first: 3,3,3,3,3,2,2,2,2,2 customers
    ordered = np.sort(clv)[::-1]
    sizes = [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    edges = np.cumsum([0, *sizes])
    share = [100 * ordered[lo:hi].sum() / ordered.sum() for lo, hi in zip(edges[:-1], edges[1:],
                                                                          strict=True)]
    assert [p.get_height() for p in deciles.patches] == pytest.approx(share)
    assert [p.get_x() + p.get_width() / 2 for p in deciles.patches] == pytest.approx(
        list(range(1, 11)))
    assert share[0] == pytest.approx(100 * (24 + 23 + 22) / 300)
    assert "decile" in deciles.get_xlabel() and "%" in deciles.get_ylabel()


def test_clv_distribution_without_predictions_draws_empty_axes():
    fig = clv_distribution(pd.DataFrame({"clv": [np.nan, np.nan]}), horizon_days=90)
    hist, deciles = fig.axes
    assert not hist.patches and not deciles.patches
    assert "90 days" in hist.get_title()
