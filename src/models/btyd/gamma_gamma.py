"""Gamma-Gamma model of the spend per purchase of repeat customers (Fader, Hardie & Lee
2005b; Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"): each purchase value
``z ~ Gamma(p, nu)``, with ``nu ~ Gamma(q, v)`` across customers; ``v`` is the paper's
``gamma`` and, like ``monetary_value`` and every spend returned, is in currency units. Inputs
are the number of repeat purchases x (a count, no time unit) and the mean spend of those
purchases; customers without a repeat purchase or with mean spend <= 0 are left out of the
fit. The model assumes spend is independent of purchase frequency (see
``frequency_spend_correlation_``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from src.models.btyd.base import (
    LOG_BOUNDS,
    LogParamMLE,
    Objective,
    as_1d,
    check_weights,
    dot,
    factorize_rows,
)

__all__ = [
    "GammaGamma",
    "gamma_gamma_objective",
    "simulate_gamma_gamma",
]

def gamma_gamma_objective(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> Objective:
    """Negative Gamma-Gamma log-likelihood (Fader & Hardie 2013) and log-space gradient.

    Terms that depend on x only are evaluated once per distinct frequency; per customer
    only log(x m + v) and one division remain.
    """
    W = float(w.sum())
    xm = x * m
    x_levels, x_index = np.unique(x, return_inverse=True)
    w_x = np.bincount(x_index, weights=w, minlength=len(x_levels))
    s_logm = w @ np.log(m)
    s_x_logm_logx = w @ (x * (np.log(m) + np.log(x)))
    wx = w * x

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(u)
        px = p * x_levels
        A = px + q
        L = np.log(xm + v)
        ll = (w_x @ (gammaln(A) - gammaln(px)) + W * (q * np.log(v) - gammaln(q))
              + p * s_x_logm_logx - s_logm - p * dot(wx, L) - q * dot(w, L))
        psi_A = digamma(A)
        d_p = (w_x * x_levels) @ (psi_A - digamma(px)) + s_x_logm_logx - dot(wx, L)
        d_q = w_x @ psi_A - dot(w, L) + W * (np.log(v) - digamma(q))
        d_v = W * q / v - dot(p * wx + q * w, 1.0 / (xm + v))
        grad = np.array([d_p * p, d_q * q, d_v * v])
        return -float(ll), -grad

    return Objective(fun=fun, total_weight=W)


class GammaGamma(LogParamMLE):
    """Gamma-Gamma model of the average spend of repeat customers (Fader & Hardie 2013).

    Parameters
    ----------
    penalizer, tol, max_iter : as in :class:`~src.models.btyd.bgnbd.BGNBD`.

    Attributes
    ----------
    params_ : dict with ``p`` (shape of the per-purchase spend), ``q`` and ``v`` (shape and
        scale of the spend-rate heterogeneity; ``v`` is the paper's gamma, in currency units).
        Mean spend across customers is ``p v / (q - 1)`` (needs ``q > 1``).
    standard_errors_, covariance_, log_likelihood_, n_iter_ : as in
        :class:`~src.models.btyd.bgnbd.BGNBD`.
    n_customers_ : repeat customers fitted (sum of weights).
    n_excluded_nonpositive_ : repeat customers left out because their mean spend was <= 0.
    frequency_spend_correlation_ : Pearson correlation of frequency and mean spend among the
        fitted customers. The model assumes spend is independent of purchase frequency;
        values far from 0 (say |rho| > 0.3) mean it should not be trusted.
    """

    _param_names = ("p", "q", "v")
    _label = "Gamma-Gamma"
    _consequences = dict.fromkeys(
        ("p", "q", "v"), "the spend model is not pinned down, so expected booking values and "
                         "CLV (which order the lists) are not reliable")

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike,
            weights: ArrayLike | None = None) -> GammaGamma:
        """Fit by maximum likelihood on the repeat customers (frequency > 0).

        Parameters
        ----------
        frequency : shape (n,), repeat purchases x; rows with x = 0 are ignored.
        monetary_value : shape (n,), mean spend of the x repeat purchases (currency units).
        weights : shape (n,), optional customer counts.

        Returns
        -------
        self
        """
        x, m = as_1d("frequency", frequency), as_1d("monetary_value", monetary_value)
        if x.shape != m.shape:
            raise ValueError("frequency and monetary_value must have the same length")
        w = check_weights(weights, len(x))
        w = np.ones_like(x) if w is None else w
        if not np.all(np.isfinite(x) & np.isfinite(m)):
            raise ValueError("frequency and monetary_value must be finite")
        rep = x > 0
        nonpos = rep & (m <= 0)
        self.n_excluded_nonpositive_ = int(nonpos.sum())
        if nonpos.any():
            warnings.warn(
                f"GammaGamma: {int(nonpos.sum())} repeat customers with mean spend <= 0 are "
                "left out (the model needs positive spend)", UserWarning, stacklevel=2,
            )
        keep = rep & ~nonpos & (w > 0)
        if keep.sum() < 3:
            raise ValueError("GammaGamma needs at least 3 repeat customers with positive spend")
        x, m, w = x[keep], m[keep], w[keep]
        codes, first = factorize_rows(x, m)
        wu = np.bincount(codes, weights=w, minlength=len(first))
        self.n_customers_ = float(w.sum())
        self.n_unique_histories_ = int(len(first))
        xm_mean = np.average(x, weights=w), np.average(m, weights=w)
        cov = np.average((x - xm_mean[0]) * (m - xm_mean[1]), weights=w)
        sd = np.sqrt(np.average((x - xm_mean[0]) ** 2, weights=w)
                     * np.average((m - xm_mean[1]) ** 2, weights=w))
        self.frequency_spend_correlation_ = float(cov / sd) if sd > 0 else float("nan")
        # start: p = 1, q = 2, v so that the population mean p v / (q - 1) equals mean spend
        start = np.log(np.array([1.0, 2.0, xm_mean[1]]))
        self._maximize(gamma_gamma_objective(x[first], m[first], wu), np.clip(start, *LOG_BOUNDS))
        return self

    def fit_summary(self, df: pd.DataFrame, frequency_col: str = "frequency",
                    monetary_value_col: str = "monetary_value",
                    weights_col: str | None = None) -> GammaGamma:
        """:meth:`fit` on the columns of a BTYD summary table; returns self."""
        return self.fit(df[frequency_col], df[monetary_value_col],
                        None if weights_col is None else df[weights_col])

    def population_mean_spend(self) -> float:
        """Mean spend per purchase across customers, ``p v / (q - 1)`` (currency units)."""
        p, q, v = self._p()
        if q <= 1:
            raise ValueError(f"q = {q:.3g} <= 1: the population mean spend does not exist")
        return p * v / (q - 1.0)

    def conditional_expected_average_profit(self, frequency: ArrayLike,
                                            monetary_value: ArrayLike) -> np.ndarray:
        """E[mean spend per purchase | x, m] (Fader & Hardie 2013 eq. 5), currency units.

        A weighted average of the population mean and the customer's own mean spend, with
        weight ``p x / (p x + q - 1)`` on the customer's; customers with x = 0 get the
        population mean.

        Returns
        -------
        ndarray, shape (n,).
        """
        p, q, v = self._p()
        x, m = as_1d("frequency", frequency), as_1d("monetary_value", monetary_value)
        x, m = np.broadcast_arrays(x, m)
        pop = self.population_mean_spend()
        own = p * x / (p * x + q - 1.0)
        return (1.0 - own) * pop + own * np.where(x > 0, m, 0.0)


# ----------------------------------------------------------------------------------------
# simulation (planted-truth tests, benchmarks)
# ----------------------------------------------------------------------------------------
def simulate_gamma_gamma(
    frequency: ArrayLike, p: float, q: float, v: float,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Draw each customer's mean spend over ``frequency`` purchases under Gamma-Gamma.

    ``nu ~ Gamma(q, rate v)``; the sum of x purchase values is ``Gamma(p x, rate nu)``.

    Returns
    -------
    ndarray, shape (n,): mean spend (currency units); 0 where frequency is 0.
    """
    rng = np.random.default_rng(seed)
    x = as_1d("frequency", frequency)
    nu = rng.gamma(q, 1.0 / v, size=len(x))
    total = rng.gamma(np.where(x > 0, p * x, 1.0), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), 0.0)
