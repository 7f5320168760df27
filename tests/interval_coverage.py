"""Coverage of stated 95 % intervals, counted over many simulated data sets (importable as
``tests.interval_coverage``).

One data set, one seed and "every interval covers" is a check a correct 95 % interval fails
on a fair share of seeds (four intervals: 19 %) and a too-narrow one often passes. Here the
intervals of ``m`` independent replicates are counted instead, and the count must lie in
bounds taken from the binomial distribution: a correct interval at the sizes used has a true
coverage within ``0.95 +- slack`` (finite-sample Wald intervals are not exactly 95 %; each
test states the coverage it measured over thousands of replicates), and for any coverage in
that band the count leaves the bounds with probability below ``alpha``. Intervals half as
wide (true coverage ~67 %) or centred a standard error off (~83 %) fall far below the lower
bound; where the upper bound is informative, intervals twice as wide (~100 %) exceed it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

NOMINAL = 0.95
#: how far a correct interval's finite-sample coverage may sit from 95 % at the test sizes
SLACK = 0.01
#: probability that a correct interval fails the check (both bounds, all families together)
ALPHA = 1e-3


def coverage_bounds(m: int, *, families: int = 1, nominal: float = NOMINAL,
                    slack: float = SLACK, alpha: float = ALPHA) -> tuple[int, int]:
    """Bounds ``(lo, hi)`` on the number of ``m`` independent intervals covering the truth.

    A correct interval (true coverage in ``nominal +- slack``) gives ``count < lo`` with
    probability <= ``alpha / (2 families)`` and ``count > hi`` with probability
    <= ``alpha / (2 families)``, so ``families`` counts checked together fail with probability
    <= ``alpha``. ``hi == m`` means ``m`` is too small for an upper bound.
    """
    q = alpha / (2 * families)
    lo = int(binom.ppf(q, m, nominal - slack))  # the first k with P(X <= k) >= q
    hi = int(binom.isf(q, m, nominal + slack))  # P(X > hi) <= q
    return lo, hi


def assert_coverage(covered: np.ndarray | pd.Series, label: str, *, families: int = 1,
                    upper: bool = True) -> None:
    """``covered``: one boolean per independent interval (the truth inside it)."""
    covered = np.asarray(covered, dtype=bool)
    m, k = covered.size, int(covered.sum())
    lo, hi = coverage_bounds(m, families=families)
    assert k >= lo, (f"{label}: {k} of {m} 95 % intervals cover the truth ({k / m:.1%}); a "
                     f"correct interval gives at least {lo} (P(fewer) < {ALPHA:g}): too narrow "
                     "or off centre")
    if upper:
        assert hi < m, f"{label}: {m} intervals are too few for an upper bound"
        assert k <= hi, (f"{label}: {k} of {m} 95 % intervals cover the truth ({k / m:.1%}); "
                         f"a correct interval gives at most {hi} (P(more) < {ALPHA:g}): too "
                         "wide")


def weibull_ph_replicate(n: int, seed: int, log_hr: dict[str, float], *, shape: float = 1.4,
                         whole_days: bool = False, late_entry: bool = False) -> pd.DataFrame:
    """Survival data with known hazard ratios: ``h(t) = h0(t) * exp(sum log_hr[c] * c)``,
    Weibull baseline (scale 400 days), uniform censoring on 50-900 days. Covariates named
    ``x*`` are binary (share 0.3 / 0.5 alternating), the others standard normal, all
    independent. ``whole_days`` rounds durations up to days (ties); ``late_entry`` adds
    ``entry_days`` uniform on whole days 0-99 and keeps the rows still at risk then."""
    rng = np.random.default_rng(seed)
    cols = {}
    for i, name in enumerate(log_hr):
        share = 0.3 if i % 2 == 0 else 0.5
        cols[name] = ((rng.random(n) < share).astype(float) if name.startswith("x")
                      else rng.normal(size=n))
    X = pd.DataFrame(cols)
    lin = X.to_numpy() @ np.array(list(log_hr.values()))
    T = 400.0 * (rng.exponential(size=n) * np.exp(-lin)) ** (1 / shape)
    C = rng.uniform(50, 900, n)
    df = X.assign(duration_days=np.minimum(T, C), event=(T <= C).astype(int))
    if whole_days:
        df["duration_days"] = np.ceil(df["duration_days"])
    if late_entry:
        df["entry_days"] = np.floor(rng.uniform(0, 100, n))
        df = df.loc[df["duration_days"] > df["entry_days"]].reset_index(drop=True)
    return df
