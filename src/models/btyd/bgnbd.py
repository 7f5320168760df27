"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the
Easy Way", Marketing Science 24(2)): each customer buys at a Poisson rate
``lambda ~ Gamma(r, alpha)`` while alive (``alpha`` a rate, in the time unit of recency and T:
days, weeks, ...; every prediction is in that time unit) and drops out after any repeat
purchase with probability ``p ~ Beta(a, b)``. Customers with identical (x, t_x, T) histories
are compressed into weighted rows before fitting, so the cost of each likelihood evaluation
grows with the number of distinct histories, not of customers. The likelihood is computed in
log space (gammaln, log-sum-exp); the Gauss hypergeometric function of the conditional
expectation is evaluated in its Euler-transformed form, whose numerator parameters do not grow
with the frequency, so it stays finite and accurate for any x and T (scipy's ``hyp2f1`` for
moderate x, the Gauss series, summed directly, where it converges fast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, hyp2f1
from scipy.stats import nbinom

from src.models.btyd.base import (
    LOG_BOUNDS,
    LogParamMLE,
    Objective,
    as_1d,
    check_histories,
    check_weights,
    dot,
    factorize_rows,
)

__all__ = [
    "BGNBD",
    "Histories",
    "bgnbd_log_likelihood",
    "bgnbd_objective",
    "simulate_bgnbd",
]

_DROPOUT = ("the drop-out process is not pinned down (a -> 0: nobody ever drops out), so "
            "P(alive) is near 1 for everyone: lapsed customers keep the CLV and expected "
            "bookings of active ones and stay off the win-back and reactivation lists")
"""What an unidentified a or b means for the lists (:meth:`BGNBD.fit_problems`)."""
_RATES = ("the spread of booking rates is not pinned down, so expected bookings, CLV and "
          "next booking dates are not reliable")
"""What an unidentified r or alpha means for the lists."""
_ROUND_DECIMALS = 8
"""Histories are compared after rounding recency and T to this many decimals."""
_SERIES_MIN_CONVERGENCE = 20.0
"""Sum the Gauss series directly when c - a - b is at least this (fast at any z <= 1)."""


def _hyp2f1_series(a: float, b: float, c: np.ndarray, z: np.ndarray,
                   max_terms: int = 20_000) -> np.ndarray:
    """Gauss series of 2F1(a, b; c; z), vectorized over (c, z); NaN where not converged.

    For c - a - b >= 20 the terms fall at least like k^-(c-a-b+1) even at z = 1, so a few
    dozen to a few hundred terms reach double precision.
    """
    total = np.ones_like(z)
    term = np.ones_like(z)
    active = np.flatnonzero(z != 0)
    for k in range(max_terms):  # loop over series terms, not customers
        if active.size == 0:
            return total
        ca, za = c[active], z[active]
        term[active] *= (a + k) * (b + k) / ((ca + k) * (k + 1.0)) * za
        total[active] += term[active]
        done = np.abs(term[active]) <= 1e-17 * np.abs(total[active])
        active = active[~done]
    total[active] = np.nan
    return total


def _hyp2f1_fixed_numerators(a: float, b: float, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2F1(a, b; c; z) for scalar a, b, arrays c, z (0 <= z < 1).

    scipy's ``hyp2f1`` is accurate for moderate c but can return NaN/inf for large c with z
    near 1; there (c - a - b >= 20) the Gauss series converges quickly and is summed directly.
    """
    c, z = np.broadcast_arrays(np.asarray(c, dtype=np.float64), np.asarray(z, dtype=np.float64))
    out = np.empty(c.shape)
    series = c - a - b >= _SERIES_MIN_CONVERGENCE
    if series.any():
        out[series] = _hyp2f1_series(a, b, c[series], z[series])
    rest = ~series
    if rest.any():
        with np.errstate(all="ignore"):
            out[rest] = hyp2f1(a, b, c[rest], z[rest])
        bad = rest & ~np.isfinite(out)
        if bad.any():  # last resort: the (slower) series where scipy failed
            out[bad] = _hyp2f1_series(a, b, c[bad], z[bad], max_terms=200_000)
    return out


def _log_hyp2f1_positive(a: np.ndarray, b: np.ndarray, c: np.ndarray, log_z: np.ndarray,
                         max_terms: int = 1_000_000) -> np.ndarray:
    """log 2F1(a, b; c; z) for a, b, c > 0 and 0 < z < 1, elementwise (arrays of one shape).

    Every term of the Gauss series is positive here, so the sum is taken in log space
    (log-sum-exp of the terms): it neither overflows for large ``a`` (many purchases) nor
    loses the cancellation the Euler-transformed form suffers when the BG/NBD's ``a`` and
    ``b`` are both huge (almost no drop-out). Stops where the terms fall and the next adds
    less than 1e-16 of the sum."""
    log_term = np.zeros(a.shape)
    log_sum = np.zeros(a.shape)
    active = np.ones(a.shape, dtype=bool)
    for k in range(max_terms):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        step = (np.log(a[idx] + k) + np.log(b[idx] + k) - np.log(c[idx] + k)
                - np.log(k + 1.0) + log_z[idx])
        log_term[idx] += step
        log_sum[idx] = np.logaddexp(log_sum[idx], log_term[idx])
        active[idx] = (step >= 0) | (log_term[idx] - log_sum[idx] > -37.0)
    return log_sum


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6), in log space.

    Parameters
    ----------
    r, alpha, a, b : model parameters (``alpha`` in the time unit of recency and T).
    frequency, recency, T : arrays, shape (n,): repeat purchases x, t_x and T.

    Returns
    -------
    ndarray, shape (n,): log L_i. No compression; this is the per-evaluation floor the
    benchmark compares with.
    """
    x, tx, TT = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    rx = r + x
    l3 = -rx * np.log(alpha + TT)
    rep = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        l4 = np.where(rep, np.log(a) - np.log(b + x - 1) - rx * np.log(alpha + tx), -np.inf)
    return (gammaln(rx) - gammaln(r) + r * np.log(alpha)
            + gammaln(b + x) - gammaln(b) + gammaln(a + b) - gammaln(a + b + x)
            + np.logaddexp(l3, l4))


@dataclass(frozen=True)
class Histories:
    """Distinct (x, t_x, T) histories with weights, and the distinct frequencies."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray
    x_levels: np.ndarray
    x_index: np.ndarray
    w_x: np.ndarray  # total weight per frequency level

    @classmethod
    def compress(cls, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                 w: np.ndarray | None) -> Histories:
        tx = np.round(tx, _ROUND_DECIMALS)
        T = np.round(T, _ROUND_DECIMALS)
        # x = 0: the likelihood does not depend on t_x
        tx = np.where(x > 0, tx, 0.0)
        codes, first = factorize_rows(x, tx, T)
        weights = np.bincount(codes, weights=w, minlength=len(first)).astype(np.float64)
        keep = weights > 0
        xu, txu, Tu, wu = x[first][keep], tx[first][keep], T[first][keep], weights[keep]
        x_levels, x_index = np.unique(xu, return_inverse=True)
        w_x = np.bincount(x_index, weights=wu, minlength=len(x_levels))
        return cls(xu, txu, Tu, wu, x_levels, x_index.astype(np.int64), w_x)


def bgnbd_objective(h: Histories) -> Objective:
    """Negative log-likelihood of compressed histories and its analytic log-space gradient."""
    W = float(h.w.sum())
    rep_levels = h.x_levels > 0

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(u)
        xl = h.x_levels
        # terms that depend on x only: evaluated once per distinct frequency
        ll_x = h.w_x @ (gammaln(r + xl) + gammaln(b + xl) - gammaln(a + b + xl))
        ll = ll_x + W * (-gammaln(r) + r * np.log(alpha) - gammaln(b) + gammaln(a + b))
        d_r = h.w_x @ digamma(r + xl) + W * (np.log(alpha) - digamma(r))
        psi_ab_x = h.w_x @ digamma(a + b + xl)
        d_a = W * digamma(a + b) - psi_ab_x
        d_b = h.w_x @ digamma(b + xl) - W * digamma(b) + W * digamma(a + b) - psi_ab_x

        bx1 = np.where(rep_levels, b + xl - 1.0, 1.0)
        c4 = np.where(rep_levels, np.log(a) - np.log(bx1), -np.inf)[h.x_index]
        inv_bx1 = np.where(rep_levels, 1.0 / bx1, 0.0)[h.x_index]

        rx = r + h.x
        lT = np.log(alpha + h.T)
        ltx = np.log(alpha + h.tx)
        l3 = -rx * lT
        d = c4 - rx * ltx - l3  # l4 - l3; -inf when x = 0
        # log(e^l3 + e^l4) = l3 + softplus(d); w4 = expit(d) is the share of the
        # "dropped out after the last purchase" term. One exp serves both.
        e = np.exp(-np.abs(d))
        w4 = np.where(d >= 0, 1.0, e) / (1.0 + e)
        ll += dot(h.w, l3 + np.maximum(d, 0.0) + np.log1p(e))
        d_r += dot(h.w, w4 * (lT - ltx) - lT)
        d_alpha = W * r / alpha - dot(
            h.w, rx * ((1.0 - w4) / (alpha + h.T) + w4 / (alpha + h.tx)))
        w_w4 = dot(h.w, w4)
        d_a += w_w4 / a
        d_b -= dot(h.w, w4 * inv_bx1)
        grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return -float(ll), -grad

    return Objective(fun=fun, total_weight=W)


class BGNBD(LogParamMLE):
    """BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : L2 penalty on the natural parameters, added to the mean negative
        log-likelihood (as in ``lifetimes``); 0 gives the maximum-likelihood estimate.
    tol : relative tolerance on the objective (L-BFGS-B ``ftol``) and on the projected
        gradient.
    max_iter : maximum optimiser iterations.

    Attributes
    ----------
    params_ : dict with ``r`` (shape) and ``alpha`` (rate, in the data's time unit) of the
        purchase-rate gamma, ``a`` and ``b`` of the dropout-probability beta.
    standard_errors_ : dict, same keys; ``covariance_`` : DataFrame (4, 4).
    log_likelihood_ : total log-likelihood at the optimum (weighted, without penalty).
    n_iter_ : optimiser iterations; ``n_fun_evals_`` : likelihood+gradient evaluations.
    n_customers_ : customers fitted (sum of weights); n_unique_histories_ : distinct
        (x, t_x, T) rows the likelihood was evaluated on.

    Examples
    --------
    >>> m = BGNBD().fit_summary(summary)  # doctest: +SKIP
    >>> m.conditional_probability_alive(  # doctest: +SKIP
    ...     summary["frequency"], summary["recency"], summary["T"])
    """

    _param_names = ("r", "alpha", "a", "b")
    _label = "BG/NBD"
    _consequences = {
        "r": _RATES,
        "alpha": _RATES,
        "a": _DROPOUT,
        "b": _DROPOUT,
    }

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
            weights: ArrayLike | None = None) -> BGNBD:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency : shape (n,), repeat purchases x (whole numbers >= 0).
        recency : shape (n,), time of the last purchase since the first, t_x (time units).
        T : shape (n,), time from the first purchase to the end of observation (time units).
        weights : shape (n,), optional number of customers each row stands for.

        Returns
        -------
        self
        """
        x, tx, TT = check_histories(frequency, recency, T)
        w = check_weights(weights, len(x))
        h = Histories.compress(x, tx, TT, w)
        if not np.any(h.x > 0):
            raise ValueError("BG/NBD needs some customers with repeat purchases (frequency > 0) "
                             "to identify the dropout process; none were given")
        self.n_customers_ = float(h.w.sum())
        self.n_unique_histories_ = int(len(h.x))
        # start: r = 1 and alpha from the mean purchase rate, a = 1, b = 1
        rate = max(float(h.w @ h.x) / max(float(h.w @ h.T), 1e-12), 1e-12)
        start = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))
        self._maximize(bgnbd_objective(h), np.clip(start, *LOG_BOUNDS))
        return self

    def fit_summary(self, df: pd.DataFrame, frequency_col: str = "frequency",
                    recency_col: str = "recency", T_col: str = "T",
                    weights_col: str | None = None) -> BGNBD:
        """:meth:`fit` on the columns of a BTYD summary table; returns self."""
        return self.fit(df[frequency_col], df[recency_col], df[T_col],
                        None if weights_col is None else df[weights_col])

    # -- predictions ---------------------------------------------------------------------
    def _log_dropout_odds(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log of (a / (b+x-1)) ((alpha+T)/(alpha+t_x))^(r+x); -inf when x = 0."""
        r, alpha, a, b = self._p()
        rep = x > 0
        bx1 = np.where(rep, b + x - 1.0, 1.0)
        val = np.log(a) - np.log(bx1) + (r + x) * np.log1p((T - tx) / (alpha + tx))
        return np.where(rep, val, -np.inf)

    def conditional_probability_alive(self, frequency: ArrayLike, recency: ArrayLike,
                                      T: ArrayLike) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T) (FHL 2005 eq. 11).

        Returns
        -------
        ndarray, shape (n,), in [0, 1]; exactly 1 for customers with no repeat purchase.
        """
        x, tx, TT = check_histories(frequency, recency, T)
        return expit(-self._log_dropout_odds(x, tx, TT))

    def _g(self, x: np.ndarray, T: np.ndarray, t: np.ndarray,
           a: float | None = None) -> np.ndarray:
        """((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t)).

        Uses Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z):
        the value equals (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose numerator
        parameters do not depend on x, so it stays small and finite for any x and T (the
        untransformed 2F1 overflows for large x). Can be negative when a + b < 1 and x = 0.
        ``x``, ``T`` and ``t`` are distinct-value arrays (broadcast).
        """
        r, alpha, a0, b = self._p()
        a = a0 if a is None else a
        x, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, T, t)))
        log1mz = -np.log1p(t / (alpha + T))
        z = -np.expm1(log1mz)
        with np.errstate(all="ignore"):
            h = _hyp2f1_fixed_numerators(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
            out = np.exp((a - 1.0) * log1mz) * h
        bad = ~np.isfinite(out) & (z > 0)
        if bad.any():  # e.g. a and b both huge (almost no drop-out): the untransformed
            # series, every term positive, summed in log space
            rx = r + x[bad]
            out[bad] = np.exp(rx * log1mz[bad] + _log_hyp2f1_positive(
                rx, b + x[bad], a + b + x[bad] - 1.0, np.log(z[bad])))
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                "BG/NBD: hypergeometric term not finite for some customers "
                f"(params {self.params_}, e.g. x = {x[~np.isfinite(out)][:3]})")
        return out

    def _expected_alive_factor(self, x: np.ndarray, T: np.ndarray,
                               times: np.ndarray) -> np.ndarray:
        """(a+b+x-1)/(a-1) * (1 - G(t)) for each distinct (x, T) and each t in ``times``.

        Returns shape (n_times, n_distinct). At a = 1 the ratio has a finite limit; it is
        taken as the mean of a = 1 -/+ 1e-6.
        """
        _, _, a, b = self._p()
        if abs(a - 1.0) < 1e-6:
            lo = self._expected_alive_factor_at(x, T, times, 1.0 - 1e-6, b)
            hi = self._expected_alive_factor_at(x, T, times, 1.0 + 1e-6, b)
            return 0.5 * (lo + hi)
        return self._expected_alive_factor_at(x, T, times, a, b)

    def _expected_alive_factor_at(self, x, T, times, a, b) -> np.ndarray:
        out = np.empty((len(times), len(x)))
        for i, t in enumerate(times):  # loop over horizons, not customers
            if t == 0:
                out[i] = 0.0
                continue
            one_minus_g = 1.0 - self._g(x, T, np.float64(t), a=a)
            out[i] = (a + b + x - 1.0) / (a - 1.0) * one_minus_g
        return out

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005 eq. 10).

        Parameters
        ----------
        t : horizon length, in the model's time unit (scalar >= 0).
        frequency, recency, T : shape (n,) customer histories.

        Returns
        -------
        ndarray, shape (n,): expected number of purchases (>= 0).
        """
        x, tx, TT = check_histories(frequency, recency, T)
        t = float(t)
        if t < 0:
            raise ValueError("t must be >= 0")
        return self.discounted_purchases(x, tx, TT, np.array([t]), np.array([1.0]))

    def discounted_purchases(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                             times: np.ndarray, discount: np.ndarray) -> np.ndarray:
        """sum_k discount_k (E[X(times_k)] - E[X(times_{k-1})]), with times_0 = 0, per customer.

        X is the conditional purchase count after T (as in
        :meth:`conditional_expected_number_of_purchases_up_to_time`). The hypergeometric part
        depends on (x, T) only, so it is evaluated on the distinct (x, T) pairs and gathered
        back.

        Parameters
        ----------
        x, tx, T : float64 arrays, shape (n,): histories already validated by
            :func:`~src.models.btyd.base.check_histories` (not checked again here).
        times : shape (k,), increasing period ends after T (time units).
        discount : shape (k,), weight of the purchases in each period.

        Returns
        -------
        ndarray, shape (n,): discounted expected number of purchases.
        """
        p_alive = expit(-self._log_dropout_odds(x, tx, T))
        codes, first = factorize_rows(x, np.round(T, _ROUND_DECIMALS))
        grid = np.concatenate([[0.0], np.asarray(times, dtype=np.float64)])
        f = self._expected_alive_factor(x[first], T[first], grid)  # (k+1, n_distinct)
        per_pair = np.asarray(discount, dtype=np.float64) @ np.diff(f, axis=0)
        return per_pair[codes] * p_alive

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> np.ndarray:
        """E[X(t)]: expected purchases in (0, t] of a customer just acquired (FHL eq. 9).

        Parameters
        ----------
        t : scalar or array of horizons (time units).

        Returns
        -------
        ndarray, the shape of ``t``.
        """
        t_arr = np.asarray(t, dtype=np.float64)
        flat = t_arr.reshape(-1)
        if np.any(flat < 0) or not np.all(np.isfinite(flat)):
            raise ValueError("t must be finite and >= 0")
        f = self._expected_alive_factor(np.zeros(1), np.zeros(1), flat)
        return f[:, 0].reshape(t_arr.shape)

    def probability_of_n_purchases_up_to_time(self, t: ArrayLike, n: ArrayLike) -> np.ndarray:
        """P(X(t) = n) for a customer just acquired (FHL 2005 eq. 8).

        Parameters
        ----------
        t : horizon(s) in time units; n : number(s) of purchases (whole numbers >= 0).
            Broadcast against each other.

        Returns
        -------
        ndarray of probabilities, the broadcast shape of ``t`` and ``n``.
        """
        r, alpha, a, b = self._p()
        t_arr, n_arr = np.broadcast_arrays(np.asarray(t, dtype=np.float64),
                                           np.asarray(n, dtype=np.float64))
        if np.any(t_arr < 0) or np.any((n_arr < 0) | (n_arr != np.floor(n_arr))):
            raise ValueError("t must be >= 0 and n a whole number >= 0")
        prob_stay = alpha / (alpha + t_arr)  # negative binomial success probability
        log_beta_ratio = (gammaln(b + n_arr) + gammaln(a + b) - gammaln(a + b + n_arr)
                          - gammaln(b))
        first = np.exp(log_beta_ratio + nbinom.logpmf(n_arr, r, prob_stay))
        # B(a+1, b+n-1)/B(a, b), defined for n >= 1
        n1 = np.maximum(n_arr, 1.0)
        log_b2 = (np.log(a) + gammaln(b + n1 - 1) + gammaln(a + b) - gammaln(a + b + n1)
                  - gammaln(b))
        second = np.exp(log_b2) * nbinom.sf(n1 - 1, r, prob_stay)
        return np.where(n_arr > 0, first + second, first)


# ----------------------------------------------------------------------------------------
# simulation (planted-truth tests, benchmarks)
# ----------------------------------------------------------------------------------------
def simulate_bgnbd(
    T: ArrayLike, r: float, alpha: float, a: float, b: float,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Draw BG/NBD customer histories with known parameters (vectorized, exact).

    Each customer gets ``lambda ~ Gamma(r, rate alpha)`` and ``p ~ Beta(a, b)``; after every
    repeat purchase (not the first purchase at time 0) the customer drops out with
    probability p, so the number of repeat purchases they would make before dropping out is
    geometric on {1, 2, ...}.
    Repeat purchases arrive as a Poisson(lambda) process; x is the smaller of the two counts
    within (0, T] and t_x the x-th arrival time (a Beta order statistic of the arrivals).

    Parameters
    ----------
    T : shape (n,), observation length per customer (time units); also fixes n.
    r, alpha, a, b : model parameters.
    seed : seed or Generator.

    Returns
    -------
    DataFrame with ``frequency``, ``recency``, ``T``, and the latent ``lambda``, ``p`` and
    ``alive`` (still alive at T).
    """
    rng = np.random.default_rng(seed)
    TT = as_1d("T", T)
    n = len(TT)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    # repeat purchase after which the customer drops out: P(N = j) = p (1 - p)^(j-1), j >= 1
    n_life = rng.geometric(np.clip(p, 1e-300, 1.0))
    arrivals = rng.poisson(lam * TT)
    x = np.minimum(n_life, arrivals)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = TT[pos] * rng.beta(x[pos], arrivals[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype(np.float64), "recency": tx, "T": TT,
                         "lambda": lam, "p": p, "alive": n_life > arrivals})
