"""Maximum-likelihood machinery shared by the BTYD models (:mod:`.bgnbd`, :mod:`.gamma_gamma`):
validation of per-customer histories (frequency x, a whole number of repeat purchases; recency
t_x and T in one time unit of the data, days, weeks, ...), grouping of identical rows into
weighted ones, and :class:`LogParamMLE`, the base class that fits positive parameters on the
log scale with an analytic gradient (L-BFGS-B, BLAS limited to one thread), takes standard
errors from the inverse Hessian of the negative log-likelihood (central differences of the
analytic gradient in log space, mapped to the natural parameters by the delta method),
checks the fit (:meth:`LogParamMLE.fit_problems`: a parameter the data cannot tell from its
bound, a standard error that is not finite, no convergence, each said in plain words with
what it means for the lists) and provides ``summary``; persistence is the project's one
format (joblib, :class:`src.models.base.ProjectModel`). Nothing here converts units:
parameters and predictions are in the time unit and currency of the data a concrete model is
fitted on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from src.models.base import ProjectModel

__all__ = [
    "FLAT_LOGLIK",
    "FLAT_STEP",
    "LOG_BOUNDS",
    "LogParamMLE",
    "Objective",
    "as_1d",
    "check_histories",
    "check_weights",
    "dot",
    "factorize_rows",
]

_Z95 = 1.959963984540054
LOG_BOUNDS = (-30.0, 30.0)
"""Box on each log-parameter: keeps every exp() finite during line searches."""
FLAT_STEP = 5.0
"""Fit check: each log-parameter is moved this far toward each bound (a factor e^5 ~ 148)."""
CURVED_LOGLIK = 100 * 1.92
"""Fit check shortcut: a parameter whose curvature at the optimum, half the Hessian's
diagonal, exceeds this (a move of one log-unit would cost more than 100 times
:data:`FLAT_LOGLIK` under the quadratic approximation) is far from both bounds."""
FLAT_LOGLIK = 1.92
"""Fit check: a move of :data:`FLAT_STEP` that changes the fitted log-likelihood by less than
this (half the 95 % chi-square quantile, one degree of freedom) means the data cannot tell
the parameter from that bound: its 95 % profile interval runs at least that far."""


# ----------------------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------------------
def as_1d(name: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a one-dimensional float64 array (a scalar becomes length 1).

    Raises
    ------
    ValueError
        If ``values`` has more than one dimension (the message names ``name``).
    """
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


def check_histories(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate per-customer (x, t_x, T); return float64 arrays of equal length."""
    x, tx, TT = as_1d("frequency", frequency), as_1d("recency", recency), as_1d("T", T)
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


def check_weights(weights: ArrayLike | None, n: int) -> np.ndarray | None:
    """Validate optional per-row weights (customer counts).

    Returns
    -------
    None if ``weights`` is None, else a float64 array of shape (n,) (a scalar is broadcast).

    Raises
    ------
    ValueError
        If a weight is negative or not finite, or all are zero.
    """
    if weights is None:
        return None
    w = np.broadcast_to(as_1d("weights", weights), (n,)).astype(np.float64)
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


def dot(w: np.ndarray, v: np.ndarray) -> float:
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


def factorize_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class Objective:
    """Negative total log-likelihood and its gradient in the log-parameters."""

    fun: Callable[[np.ndarray], tuple[float, np.ndarray]]
    total_weight: float


def _remember_last(objective: Objective) -> Objective:
    """``objective`` whose last evaluation is kept: asking again at the same point (the
    optimiser's last step, then the diagnostics at the optimum) costs nothing."""
    last: dict[str, Any] = {}

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        key = np.asarray(u, dtype=np.float64).tobytes()
        if last.get("key") != key:
            f, g = objective.fun(u)
            last.update(key=key, value=(f, np.array(g, dtype=np.float64)))
        f, g = last["value"]
        return f, g.copy()

    return Objective(fun=fun, total_weight=objective.total_weight)


def _hessian(objective: Objective, u: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Hessian of the negative log-likelihood at ``u`` (log-parameters), shape (k, k):
    central differences of the analytic gradient, symmetrised (2k gradient evaluations)."""
    k = len(u)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[:, i] = (objective.fun(u + e)[1] - objective.fun(u - e)[1]) / (2 * h)
    return 0.5 * (H + H.T)


class LogParamMLE(ProjectModel):
    """Base class: maximum likelihood on log-parameters with an analytic gradient.

    A concrete model declares ``_param_names`` and builds an :class:`Objective`;
    optimisation, standard errors and ``summary`` live here; ``save``/``load`` and the
    not-fitted check come from :class:`~src.models.base.ProjectModel`.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _fitted_attribute = "params_"
    _label: ClassVar[str] = ""
    #: parameter -> what a parameter the data do not pin down means for the scored lists
    _consequences: ClassVar[dict[str, str]] = {}

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 500):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- fitting -------------------------------------------------------------------------
    def _maximize(self, objective: Objective, log_start: np.ndarray) -> None:
        W = objective.total_weight
        pen = float(self.penalizer)
        if pen < 0:
            raise ValueError("penalizer must be >= 0")
        objective = _remember_last(objective)  # the optimum is evaluated once, not thrice

        def scaled(u: np.ndarray) -> tuple[float, np.ndarray]:
            # mean negative log-likelihood plus an L2 penalty on the natural parameters
            f, g = objective.fun(u)
            theta2 = np.exp(2.0 * u)
            return f / W + pen * theta2.sum(), g / W + 2.0 * pen * theta2

        with _single_threaded_blas(), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res = minimize(
                scaled, log_start, jac=True, method="L-BFGS-B",
                bounds=[LOG_BOUNDS] * len(log_start),
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
        with _single_threaded_blas(), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            hessian = _hessian(objective, u)
            bounds = self._bounds_reached(lambda v: scaled(v)[0] * W, u,
                                          curvature=np.diag(hessian))
            weak = self._set_standard_errors(objective, u, at_bound=list(bounds),
                                             hessian=hessian)
            self.fit_diagnostics_ = {
                "converged": self.converged_, "max_abs_mean_gradient": grad_norm,
                "bounds": bounds,
                "nonfinite_se": [n for n, v in self.standard_errors_.items()
                                 if not np.isfinite(v)],
                "weak_directions": weak,
            }

    def _bounds_reached(self, objective: Callable[[np.ndarray], float], u: np.ndarray,
                        curvature: np.ndarray | None = None) -> dict[str, str]:
        """Parameters the fitted objective cannot tell from a bound of :data:`LOG_BOUNDS`.

        Each log-parameter in turn (the others held) is moved :data:`FLAT_STEP` toward each
        bound; a side is reached when the parameter sits on it or the move changes the
        log-likelihood by less than :data:`FLAT_LOGLIK`. Holding the others makes the test
        conservative: the profile log-likelihood changes even less. ``curvature``: the
        diagonal of the Hessian of the negative log-likelihood at ``u``; a parameter whose
        curvature alone puts a move of one log-unit (a factor e, a fifth of the step) more
        than :data:`CURVED_LOGLIK` away is not moved (its move could only say "far from any
        bound": two evaluations saved per parameter, the common case on real data).

        Returns
        -------
        dict : parameter name -> ``"lower"`` (runs to 0), ``"upper"`` (runs to infinity) or
        ``"both"`` (not identified); parameters pinned on both sides are absent.
        """
        f0 = objective(u)
        out: dict[str, str] = {}
        for i, name in enumerate(self._param_names):
            sides = []
            for side, bound, step in (("lower", LOG_BOUNDS[0], -FLAT_STEP),
                                      ("upper", LOG_BOUNDS[1], FLAT_STEP)):
                if abs(u[i] - bound) < 1e-6:
                    sides.append(side)
                    continue
                if curvature is not None and 0.5 * curvature[i] > CURVED_LOGLIK:
                    continue
                v = u.copy()
                v[i] = float(np.clip(u[i] + step, *LOG_BOUNDS))
                f = objective(v)
                if np.isfinite(f) and f - f0 < FLAT_LOGLIK:
                    sides.append(side)
            if sides:
                out[name] = "both" if len(sides) == 2 else sides[0]
        return out

    def _set_standard_errors(self, objective: Objective, u: np.ndarray,
                             at_bound: list[str] | None = None,
                             hessian: np.ndarray | None = None) -> list[str]:
        """Inverse Hessian of the negative log-likelihood; delta method to natural scale.

        Parameters
        ----------
        objective : the fitted objective; u : the optimum, log-parameters, shape (k,).
        at_bound : parameters the data cannot tell from a bound of their range
            (:meth:`_bounds_reached`). A Wald standard error means nothing there (the
            optimum is not an interior maximum: the profile interval runs to the bound), so
            they get none, whatever the sign of the Hessian's smallest eigenvalue, which at
            a flat optimum is rounding noise and differs between CPUs.

        Returns
        -------
        The parameters without a standard error and why the curvature fails along them:
        ``at_bound``, plus, when the Hessian of the other (interior) parameters is not
        positive definite, those loading >= 0.3 on an eigenvector of it with a non-positive
        eigenvalue (then no parameter has a standard error); empty for a sound fit. A
        RuntimeWarning names them.
        """
        k = len(u)
        names = list(self._param_names)
        at_bound = [n for n in names if n in set(at_bound or ())]
        H = _hessian(objective, u) if hessian is None else hessian
        theta = np.exp(u)
        # the Wald analysis covers the interior parameters only (the others have none)
        free = [i for i, n in enumerate(names) if n not in at_bound]
        cov_log = np.full((k, k), np.nan)
        positive_definite, not_curved = True, []
        if free:
            H_free = H[np.ix_(free, free)]
            try:
                eigenvalues, vectors = np.linalg.eigh(H_free)
                positive_definite = bool(np.all(eigenvalues > 0))
                flat = (np.abs(vectors[:, eigenvalues <= 0]) >= 0.3).any(axis=1)
                not_curved = [names[i] for i, hit in zip(free, flat, strict=True) if hit]
                if positive_definite:
                    cov_log[np.ix_(free, free)] = np.linalg.inv(H_free)
            except np.linalg.LinAlgError:
                positive_definite = False
            if not positive_definite:
                cov_log = np.full((k, k), np.nan)
                not_curved = not_curved or [names[i] for i in free]
        weak = list(dict.fromkeys(at_bound + ([] if positive_definite else not_curved)))
        if weak:
            reasons = []
            if at_bound:
                reasons.append(f"{', '.join(at_bound)} cannot be told from a bound of "
                               "the parameter range")
            if not positive_definite:
                reasons.append("the Hessian is not positive definite at the optimum "
                               "(standard errors are not available)")
            warnings.warn(
                f"{type(self).__name__}: no standard error for {', '.join(weak)}: "
                + "; ".join(reasons), RuntimeWarning, stacklevel=3,
            )
        self.covariance_ = pd.DataFrame(cov_log * np.outer(theta, theta),
                                        index=names, columns=names)
        se = theta * np.sqrt(np.diag(cov_log))
        self.standard_errors_ = dict(zip(names, map(float, se), strict=True))
        return weak

    # -- fit diagnostics -----------------------------------------------------------------
    def fit_problems(self) -> list[str]:
        """What is wrong with the fit, one plain-language sentence per problem, each naming
        the parameter and what it means for the scored lists; empty for a sound fit.

        Problems: the optimiser did not converge; a parameter the data cannot tell from a
        bound of its range (it runs to 0 or infinity, or is not identified at all: see
        :data:`FLAT_STEP`, :data:`FLAT_LOGLIK`); a standard error that is not finite (the
        log-likelihood is flat or not curved at the optimum). A model made by
        :meth:`from_estimates` has no fit to check.
        """
        self.check_fitted()
        d = getattr(self, "fit_diagnostics_", None)
        if not d:
            return []
        label = self._label or type(self).__name__
        factor = math.exp(FLAT_STEP)
        out = []
        if not d["converged"]:
            out.append(f"{label} fit did not converge (max |mean gradient| "
                       f"{d['max_abs_mean_gradient']:.2g}): no parameter can be trusted; "
                       f"{self._consequence(list(self._param_names))}")
        where = {"lower": ("runs to its lower bound 0", "toward 0"),
                 "upper": ("runs to its upper bound (infinity)", "toward infinity"),
                 "both": ("is not identified", "toward 0 or toward infinity")}
        for name, side in d["bounds"].items():
            what, toward = where[side]
            out.append(f"{label} parameter {name} = {self.params_[name]:.3g} {what}: moving it "
                       f"{factor:.0f}-fold {toward} changes the log-likelihood by less than "
                       f"{FLAT_LOGLIK}; {self._consequence([name])}")
        if d["nonfinite_se"]:
            names = d["weak_directions"] or d["nonfinite_se"]
            out.append(f"{label}: no finite standard error for {', '.join(d['nonfinite_se'])} "
                       f"(the log-likelihood is flat or not curved along {', '.join(names)}); "
                       f"{self._consequence(names)}")
        return out

    def _consequence(self, names: list[str]) -> str:
        texts = list(dict.fromkeys(self._consequences.get(n, "") for n in names))
        said = "; ".join(t for t in texts if t) or "its predictions are not reliable"
        return f"for the lists: {said}"

    # -- results -------------------------------------------------------------------------
    def _p(self) -> tuple[float, ...]:
        self.check_fitted()
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
        self.check_fitted()
        coef = np.array([self.params_[n] for n in self._param_names])
        se = np.array([self.standard_errors_[n] for n in self._param_names])
        se_log = se / coef
        return pd.DataFrame(
            {"coef": coef, "se": se,
             "lower 95%": coef * np.exp(-_Z95 * se_log),
             "upper 95%": coef * np.exp(_Z95 * se_log)},
            index=pd.Index(self._param_names, name="param"),
        )

    @classmethod
    def from_estimates(cls, params: dict[str, float], **settings: Any):
        """A model at given parameter values (no fit; standard errors unknown): for
        simulation, what-if predictions and checks against another library's estimates.

        Parameters
        ----------
        params : a value for each of the model's parameters (natural scale, the data's time
            unit and currency).
        **settings : constructor arguments (``penalizer``, ``tol``, ``max_iter``).
        """
        missing = [n for n in cls._param_names if n not in params]
        if missing:
            raise ValueError(f"{cls.__name__}.from_estimates needs {missing}")
        obj = cls(**settings)
        names = list(cls._param_names)
        obj.params_ = {n: float(params[n]) for n in names}
        obj.standard_errors_ = dict.fromkeys(names, np.nan)
        obj.covariance_ = pd.DataFrame(np.nan, index=names, columns=names)
        obj.log_likelihood_ = float("nan")
        obj.n_iter_ = 0
        obj.converged_ = True
        return obj

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {p}>"
