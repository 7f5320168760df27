"""Buy-till-you-die models: BG/NBD purchases, Gamma-Gamma spend, discounted CLV.

Our own vectorized numpy/scipy engine (``lifetimes`` and ``pymc-marketing`` are benchmark
references only, see ``benchmarks/bench_btyd.py``).

- :class:`BGNBD`: the beta-geometric / negative binomial distribution model of Fader, Hardie &
  Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2). Each customer
  buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` (``alpha`` a rate, in the data's time
  unit) while alive, and drops out after any repeat purchase with probability
  ``p ~ Beta(a, b)``.
- :class:`GammaGamma`: the spend model of Fader, Hardie & Lee (2005b) / Fader & Hardie (2013),
  "The Gamma-Gamma Model of Monetary Value": each purchase value ``z ~ Gamma(p, nu)``,
  ``nu ~ Gamma(q, v)`` across customers (``v`` is the paper's ``gamma``, in currency units).
- :func:`customer_lifetime_value`: discounted expected purchases per period times expected
  spend, the same definition as ``lifetimes``.

Per-customer inputs are the BTYD summary (see :mod:`src.features.rfm_summary`):
``frequency`` x (number of repeat purchase days), ``recency`` t_x (first to last purchase)
and ``T`` (first purchase to the end of observation), recency and T in one time unit (days,
weeks, ...). Every prediction is in that time unit.

Fitting is maximum likelihood on the log-parameters with an analytic gradient (L-BFGS-B);
customers with identical histories are compressed into weighted rows first, so the cost of
each likelihood evaluation grows with the number of distinct histories, not of customers.
Standard errors come from the inverse Hessian of the negative log-likelihood (central
differences of the analytic gradient in log space, mapped to the natural parameters by the
delta method). The likelihood is computed in log space (gammaln, log-sum-exp); the Gauss
hypergeometric function of the conditional expectation is evaluated in its Euler-transformed
form, whose numerator parameters do not grow with the frequency, so it stays finite and
accurate for any x and T (scipy's ``hyp2f1`` for moderate x, the Gauss series, summed
directly, where it converges fast).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from scipy.stats import nbinom
from sklearn.exceptions import NotFittedError
from threadpoolctl import ThreadpoolController

__all__ = [
    "BGNBD",
    "GammaGamma",
    "bgnbd_log_likelihood",
    "customer_lifetime_value",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]

_Z95 = 1.959963984540054
_LOG_BOUNDS = (-30.0, 30.0)
"""Box on each log-parameter: keeps every exp() finite during line searches."""
_ROUND_DECIMALS = 8
"""Histories are compared after rounding recency and T to this many decimals."""


# ----------------------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------------------
def _as_1d(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _examples(mask: np.ndarray, *arrays: np.ndarray, k: int = 3) -> str:
    idx = np.flatnonzero(mask)[:k]
    return "; ".join(
        "row " + str(int(i)) + ": " + ", ".join(f"{a[i]:g}" for a in arrays) for i in idx
    )


def _check_histories(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate per-customer (x, t_x, T); return float64 arrays of equal length."""
    x, tx, TT = _as_1d("frequency", frequency), _as_1d("recency", recency), _as_1d("T", T)
    x, tx, TT = np.broadcast_arrays(x, tx, TT)
    bad = ~(np.isfinite(x) & np.isfinite(tx) & np.isfinite(TT))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} customers have a missing or infinite frequency/recency/T "
            f"(frequency, recency, T: {_examples(bad, x, tx, TT)}); drop or fix them."
        )
    bad = (x < 0) | (x != np.floor(x))
    if bad.any():
        raise ValueError(
            f"frequency must be a non-negative whole number of repeat purchases; "
            f"{int(bad.sum())} rows are not ({_examples(bad, x)})."
        )
    bad = (tx < 0) | (TT < 0) | (tx > TT * (1 + 1e-12) + 1e-12)
    if bad.any():
        raise ValueError(
            f"need 0 <= recency <= T; {int(bad.sum())} rows violate it "
            f"(frequency, recency, T: {_examples(bad, x, tx, TT)})."
        )
    return x.copy(), np.minimum(tx, TT), TT.copy()


def _check_weights(weights: ArrayLike | None, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.broadcast_to(_as_1d("weights", weights), (n,)).astype(np.float64)
    if not np.all(np.isfinite(w) & (w >= 0)) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """The process's native thread pools, inspected once (a fresh inspection costs ms)."""
    return ThreadpoolController()


def _single_threaded_blas():
    """Context manager: BLAS limited to one thread.

    L-BFGS-B's tiny vector operations stall on thread hand-offs when the cores are busy with
    other work (10-50x slower fits on a loaded machine).
    """
    return _threadpools().limit(limits=1, user_api="blas")


def _dot(w: np.ndarray, v: np.ndarray) -> float:
    """Inner product of two long vectors, single-threaded (np.einsum's own loop).

    Multi-threaded BLAS ``ddot`` gains nothing at this size and stalls when the cores are
    shared with other work.
    """
    return float(np.einsum("i,i->", w, v))


def _column_codes(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values and the number of codes (not all need occur).

    Whole numbers in a modest range (counts, whole days) are their own codes; anything else
    is hashed (``pandas.factorize``).
    """
    if len(col):
        lo, hi = float(col.min()), float(col.max())
        if hi - lo < 2**31 and np.array_equal(col, np.floor(col)):
            return (col - lo).astype(np.int64), int(hi - lo) + 1
    codes, uniques = pd.factorize(col, sort=False)
    return codes.astype(np.int64, copy=False), max(len(uniques), 1)


def _factorize_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of several equal-length columns (hash based, unsorted).

    Returns
    -------
    codes : int64 array, shape (n,): the group of each row.
    first : int64 array, shape (n_groups,): the index of one row of each group.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    n_keys = 1
    for col in columns:
        c, n_levels = _column_codes(col)
        if n_keys * n_levels >= 2**62:  # re-number the keys so far before they overflow
            key, uniques = pd.factorize(key, sort=False)
            n_keys = len(uniques)
        key = key * n_levels + c
        n_keys *= n_levels
    codes, uniques = pd.factorize(key, sort=False)
    first = np.empty(len(uniques), dtype=np.int64)
    # the last write wins; any member represents the group
    first[codes] = np.arange(len(codes), dtype=np.int64)
    return codes.astype(np.int64, copy=False), first


# ----------------------------------------------------------------------------------------
# shared machinery: log-parameter maximum likelihood, standard errors, summary, dict I/O
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Objective:
    """Negative total log-likelihood and its gradient in the log-parameters."""

    fun: Callable[[np.ndarray], tuple[float, np.ndarray]]
    total_weight: float


class _LogParamMLE:
    """Base class: maximum likelihood on log-parameters with an analytic gradient.

    A concrete model declares ``_param_names`` and builds an :class:`_Objective`;
    optimisation, standard errors, ``summary`` and ``to_dict``/``from_dict`` live here.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 500):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- fitting -------------------------------------------------------------------------
    def _maximize(self, objective: _Objective, log_start: np.ndarray) -> None:
        W = objective.total_weight
        pen = float(self.penalizer)
        if pen < 0:
            raise ValueError("penalizer must be >= 0")

        def scaled(u: np.ndarray) -> tuple[float, np.ndarray]:
            # mean negative log-likelihood plus an L2 penalty on the natural parameters
            f, g = objective.fun(u)
            theta2 = np.exp(2.0 * u)
            return f / W + pen * theta2.sum(), g / W + 2.0 * pen * theta2

        with _single_threaded_blas(), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res = minimize(
                scaled, log_start, jac=True, method="L-BFGS-B",
                bounds=[_LOG_BOUNDS] * len(log_start),
                options={"maxiter": int(self.max_iter), "ftol": float(self.tol),
                         "gtol": max(float(self.tol), 1e-12), "maxcor": 10},
            )
        u = np.asarray(res.x, dtype=np.float64)
        f, g = objective.fun(u)
        if not np.isfinite(f):
            raise RuntimeError(f"{type(self).__name__} fit failed: non-finite likelihood")
        grad_norm = float(np.max(np.abs(g / W)))
        if not res.success and grad_norm > 1e-4:
            warnings.warn(
                f"{type(self).__name__} fit did not converge ({res.message}); "
                f"max |mean gradient| = {grad_norm:.2g}",
                RuntimeWarning, stacklevel=3,
            )
        theta = np.exp(u)
        self.params_ = dict(zip(self._param_names, map(float, theta), strict=True))
        self.log_likelihood_ = float(-f)
        self.n_iter_ = int(res.nit)
        self.n_fun_evals_ = int(res.nfev)
        self.converged_ = bool(res.success or grad_norm <= 1e-4)
        with _single_threaded_blas():
            self._set_standard_errors(objective, u)

    def _set_standard_errors(self, objective: _Objective, u: np.ndarray) -> None:
        """Inverse Hessian of the negative log-likelihood; delta method to natural scale."""
        k = len(u)
        h = 1e-5
        H = np.empty((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h
            H[:, i] = (objective.fun(u + e)[1] - objective.fun(u - e)[1]) / (2 * h)
        H = 0.5 * (H + H.T)
        theta = np.exp(u)
        try:
            cov_log = np.linalg.inv(H)
            ok = np.all(np.linalg.eigvalsh(H) > 0)
        except np.linalg.LinAlgError:
            cov_log, ok = np.full((k, k), np.nan), False
        if not ok:
            warnings.warn(
                f"{type(self).__name__}: the Hessian is not positive definite at the "
                "optimum; standard errors are not available",
                RuntimeWarning, stacklevel=3,
            )
            cov_log = np.full((k, k), np.nan)
        self._cov_log = cov_log
        self.covariance_ = pd.DataFrame(
            cov_log * np.outer(theta, theta),
            index=list(self._param_names), columns=list(self._param_names),
        )
        se = theta * np.sqrt(np.diag(cov_log))
        self.standard_errors_ = dict(zip(self._param_names, map(float, se), strict=True))

    # -- results -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit() or from_dict() first."
            )

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[n] for n in self._param_names)

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and 95 % intervals.

        Returns
        -------
        DataFrame indexed by parameter name, columns ``coef``, ``se`` (natural scale, delta
        method) and ``lower 95%`` / ``upper 95%`` (Wald interval on the log scale, mapped back,
        so it stays positive).
        """
        self._check_fitted()
        coef = np.array([self.params_[n] for n in self._param_names])
        se = np.array([self.standard_errors_[n] for n in self._param_names])
        se_log = se / coef
        return pd.DataFrame(
            {"coef": coef, "se": se,
             "lower 95%": coef * np.exp(-_Z95 * se_log),
             "upper 95%": coef * np.exp(_Z95 * se_log)},
            index=pd.Index(self._param_names, name="param"),
        )

    def _extra_dict(self) -> dict[str, Any]:
        return {}

    def _load_extra(self, d: dict[str, Any]) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (settings, estimates, standard errors, fit diagnostics)."""
        self._check_fitted()
        cov = self.covariance_.to_numpy()
        return {
            "model": type(self).__name__,
            "format_version": 1,
            "settings": {"penalizer": float(self.penalizer), "tol": float(self.tol),
                         "max_iter": int(self.max_iter)},
            "params": dict(self.params_),
            "standard_errors": {k: (None if np.isnan(v) else float(v))
                                for k, v in self.standard_errors_.items()},
            "covariance": [[None if np.isnan(v) else float(v) for v in row] for row in cov],
            "log_likelihood": float(self.log_likelihood_),
            "n_iter": int(self.n_iter_),
            "converged": bool(self.converged_),
            **self._extra_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        """Rebuild a fitted model from :meth:`to_dict` output."""
        if d.get("model") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__} dict, got model={d.get('model')!r}")
        obj = cls(**d.get("settings", {}))
        obj.params_ = {n: float(d["params"][n]) for n in cls._param_names}
        obj.standard_errors_ = {n: (np.nan if d["standard_errors"].get(n) is None
                                    else float(d["standard_errors"][n]))
                                for n in cls._param_names}
        cov = np.array([[np.nan if v is None else v for v in row] for row in d["covariance"]],
                       dtype=np.float64)
        obj.covariance_ = pd.DataFrame(cov, index=list(cls._param_names),
                                       columns=list(cls._param_names))
        obj.log_likelihood_ = float(d["log_likelihood"])
        obj.n_iter_ = int(d["n_iter"])
        obj.converged_ = bool(d.get("converged", True))
        obj._load_extra(d)
        return obj

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {p}>"


# ----------------------------------------------------------------------------------------
# BG/NBD
# ----------------------------------------------------------------------------------------
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
class _Histories:
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
                 w: np.ndarray | None) -> _Histories:
        tx = np.round(tx, _ROUND_DECIMALS)
        T = np.round(T, _ROUND_DECIMALS)
        # x = 0: the likelihood does not depend on t_x
        tx = np.where(x > 0, tx, 0.0)
        codes, first = _factorize_rows(x, tx, T)
        weights = np.bincount(codes, weights=w, minlength=len(first)).astype(np.float64)
        keep = weights > 0
        xu, txu, Tu, wu = x[first][keep], tx[first][keep], T[first][keep], weights[keep]
        x_levels, x_index = np.unique(xu, return_inverse=True)
        w_x = np.bincount(x_index, weights=wu, minlength=len(x_levels))
        return cls(xu, txu, Tu, wu, x_levels, x_index.astype(np.int64), w_x)


def _bgnbd_objective(h: _Histories) -> _Objective:
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
        ll += _dot(h.w, l3 + np.maximum(d, 0.0) + np.log1p(e))
        d_r += _dot(h.w, w4 * (lT - ltx) - lT)
        d_alpha = W * r / alpha - _dot(
            h.w, rx * ((1.0 - w4) / (alpha + h.T) + w4 / (alpha + h.tx)))
        w_w4 = _dot(h.w, w4)
        d_a += w_w4 / a
        d_b -= _dot(h.w, w4 * inv_bx1)
        grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return -float(ll), -grad

    return _Objective(fun=fun, total_weight=W)


class BGNBD(_LogParamMLE):
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
        x, tx, TT = _check_histories(frequency, recency, T)
        w = _check_weights(weights, len(x))
        h = _Histories.compress(x, tx, TT, w)
        if not np.any(h.x > 0):
            raise ValueError("BG/NBD needs some customers with repeat purchases (frequency > 0) "
                             "to identify the dropout process; none were given")
        self.n_customers_ = float(h.w.sum())
        self.n_unique_histories_ = int(len(h.x))
        # start: r = 1 and alpha from the mean purchase rate, a = 1, b = 1
        rate = max(float(h.w @ h.x) / max(float(h.w @ h.T), 1e-12), 1e-12)
        start = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))
        self._maximize(_bgnbd_objective(h), np.clip(start, *_LOG_BOUNDS))
        return self

    def fit_summary(self, df: pd.DataFrame, frequency_col: str = "frequency",
                    recency_col: str = "recency", T_col: str = "T",
                    weights_col: str | None = None) -> BGNBD:
        """:meth:`fit` on the columns of a BTYD summary table; returns self."""
        return self.fit(df[frequency_col], df[recency_col], df[T_col],
                        None if weights_col is None else df[weights_col])

    def _extra_dict(self) -> dict[str, Any]:
        return {"n_customers": float(getattr(self, "n_customers_", np.nan)),
                "n_unique_histories": int(getattr(self, "n_unique_histories_", -1))}

    def _load_extra(self, d: dict[str, Any]) -> None:
        if "n_customers" in d:
            self.n_customers_ = float(d["n_customers"])
            self.n_unique_histories_ = int(d["n_unique_histories"])

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
        x, tx, TT = _check_histories(frequency, recency, T)
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
        h = _hyp2f1_fixed_numerators(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        out = np.exp((a - 1.0) * log1mz) * h
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
        x, tx, TT = _check_histories(frequency, recency, T)
        t = float(t)
        if t < 0:
            raise ValueError("t must be >= 0")
        return self._discounted_purchases(x, tx, TT, np.array([t]), np.array([1.0]))

    def _discounted_purchases(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                              times: np.ndarray, discount: np.ndarray) -> np.ndarray:
        """sum_k discount_k (E[X(times_k)] - E[X(times_{k-1})]), with times_0 = 0, per customer.

        The hypergeometric part depends on (x, T) only, so it is evaluated on the distinct
        (x, T) pairs and gathered back.
        """
        p_alive = expit(-self._log_dropout_odds(x, tx, T))
        codes, first = _factorize_rows(x, np.round(T, _ROUND_DECIMALS))
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
# Gamma-Gamma
# ----------------------------------------------------------------------------------------
def _gg_objective(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _Objective:
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
              + p * s_x_logm_logx - s_logm - p * _dot(wx, L) - q * _dot(w, L))
        psi_A = digamma(A)
        d_p = (w_x * x_levels) @ (psi_A - digamma(px)) + s_x_logm_logx - _dot(wx, L)
        d_q = w_x @ psi_A - _dot(w, L) + W * (np.log(v) - digamma(q))
        d_v = W * q / v - _dot(p * wx + q * w, 1.0 / (xm + v))
        grad = np.array([d_p * p, d_q * q, d_v * v])
        return -float(ll), -grad

    return _Objective(fun=fun, total_weight=W)


class GammaGamma(_LogParamMLE):
    """Gamma-Gamma model of the average spend of repeat customers (Fader & Hardie 2013).

    Parameters
    ----------
    penalizer, tol, max_iter : as in :class:`BGNBD`.

    Attributes
    ----------
    params_ : dict with ``p`` (shape of the per-purchase spend), ``q`` and ``v`` (shape and
        scale of the spend-rate heterogeneity; ``v`` is the paper's gamma, in currency units).
        Mean spend across customers is ``p v / (q - 1)`` (needs ``q > 1``).
    standard_errors_, covariance_, log_likelihood_, n_iter_ : as in :class:`BGNBD`.
    n_customers_ : repeat customers fitted (sum of weights).
    n_excluded_nonpositive_ : repeat customers left out because their mean spend was <= 0.
    frequency_spend_correlation_ : Pearson correlation of frequency and mean spend among the
        fitted customers. The model assumes spend is independent of purchase frequency;
        values far from 0 (say |rho| > 0.3) mean it should not be trusted.
    """

    _param_names = ("p", "q", "v")

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
        x, m = _as_1d("frequency", frequency), _as_1d("monetary_value", monetary_value)
        if x.shape != m.shape:
            raise ValueError("frequency and monetary_value must have the same length")
        w = _check_weights(weights, len(x))
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
        codes, first = _factorize_rows(x, m)
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
        self._maximize(_gg_objective(x[first], m[first], wu), np.clip(start, *_LOG_BOUNDS))
        return self

    def fit_summary(self, df: pd.DataFrame, frequency_col: str = "frequency",
                    monetary_value_col: str = "monetary_value",
                    weights_col: str | None = None) -> GammaGamma:
        """:meth:`fit` on the columns of a BTYD summary table; returns self."""
        return self.fit(df[frequency_col], df[monetary_value_col],
                        None if weights_col is None else df[weights_col])

    def _extra_dict(self) -> dict[str, Any]:
        return {"n_customers": float(getattr(self, "n_customers_", np.nan)),
                "frequency_spend_correlation": float(
                    getattr(self, "frequency_spend_correlation_", np.nan))}

    def _load_extra(self, d: dict[str, Any]) -> None:
        if "n_customers" in d:
            self.n_customers_ = float(d["n_customers"])
        if d.get("frequency_spend_correlation") is not None:
            self.frequency_spend_correlation_ = float(d["frequency_spend_correlation"])

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
        x, m = _as_1d("frequency", frequency), _as_1d("monetary_value", monetary_value)
        x, m = np.broadcast_arrays(x, m)
        pop = self.population_mean_spend()
        own = p * x / (p * x + q - 1.0)
        return (1.0 - own) * pop + own * np.where(x > 0, m, 0.0)


# ----------------------------------------------------------------------------------------
# CLV
# ----------------------------------------------------------------------------------------
def customer_lifetime_value(
    bgnbd: BGNBD, gamma_gamma: GammaGamma,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary_value: ArrayLike,
    *, horizon_periods: int, period_length: float, discount_rate_per_period: float,
) -> np.ndarray:
    """Discounted expected value of each customer's future purchases.

    ``CLV = sum_{k=1..K} (E[X(k L)] - E[X((k-1) L)]) * spend / (1 + d)^k`` with X the
    conditional BG/NBD purchase count after T, spend the Gamma-Gamma expected average spend,
    K = ``horizon_periods``, L = ``period_length`` and d = ``discount_rate_per_period``
    (the definition of ``lifetimes.utils._customer_lifetime_value``).

    Parameters
    ----------
    bgnbd, gamma_gamma : fitted models.
    frequency, recency, T : shape (n,) histories, in the BG/NBD model's time unit.
    monetary_value : shape (n,), mean spend of the repeat purchases (currency units).
    horizon_periods : K, number of periods (e.g. 12 months).
    period_length : L, length of a period in the model's time unit (e.g. 30 days).
    discount_rate_per_period : d, e.g. 0.01 per month.

    Returns
    -------
    ndarray, shape (n,): CLV in currency units.
    """
    if horizon_periods < 1 or period_length <= 0 or discount_rate_per_period <= -1:
        raise ValueError("need horizon_periods >= 1, period_length > 0, discount rate > -1")
    x, tx, TT = _check_histories(frequency, recency, T)
    spend = gamma_gamma.conditional_expected_average_profit(x, monetary_value)
    k = np.arange(1, int(horizon_periods) + 1, dtype=np.float64)
    discount = (1.0 + discount_rate_per_period) ** -k
    purchases = bgnbd._discounted_purchases(x, tx, TT, k * period_length, discount)
    return purchases * spend


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
    TT = _as_1d("T", T)
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
    x = _as_1d("frequency", frequency)
    nu = rng.gamma(q, 1.0 / v, size=len(x))
    total = rng.gamma(np.where(x > 0, p * x, 1.0), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), 0.0)

