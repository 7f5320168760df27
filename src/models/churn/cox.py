"""The Cox engine behind the churn model; times in days, hazards per day.

Risk-set sums with late entry (``entry_i < t <= T_i``), the Breslow cumulative baseline
hazard, Schoenfeld residuals and the Grambsch-Therneau proportional-hazards test on them
(:func:`ph_test_table`, lifelines' test fed with late-entry-correct residuals), a vectorised
Cox PH fit (:class:`CoxPH`: Breslow or Efron ties, lifelines' ridge convention, strata; it
matches lifelines' coefficients and standard errors), Harrell's concordance within strata, the
step-function cumulative hazard per stratum used for scoring (:class:`StepHazard`, extended
beyond the longest follow-up at the average hazard of its last year), the stratum keys of a
frame and a single-threaded-BLAS context for the tall, thin matrices involved.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: stratum key of the whole population (unstratified models, and the fallback curve)
ALL = "__all__"


def single_blas_thread():
    """Run BLAS single-threaded: the matrices here are tall and thin (n x p, p ~ 10-50), where
    threaded BLAS gains nothing and, on a loaded machine, oversubscription made a 3,800 x 33
    ``X' X`` 400 times slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class _RiskSets:
    """Sums over the risk sets {i : entry_i < t <= T_i} at fixed times, by suffix sums.

    Parameters
    ----------
    T, entry : (n,) exit and entry times (days); times : (m,) evaluation times.
    """

    def __init__(self, T: np.ndarray, entry: np.ndarray, times: np.ndarray):
        self.oT = np.argsort(T, kind="stable")
        self.iT = np.searchsorted(T[self.oT], times, side="left")
        self.late = bool(np.any(entry > 0))
        if self.late:
            self.oE = np.argsort(entry, kind="stable")
            self.iE = np.searchsorted(entry[self.oE], times, side="left")

    @staticmethod
    def _suffix(a: np.ndarray) -> np.ndarray:
        c = np.cumsum(a[::-1], axis=0)[::-1]
        return np.concatenate([c, np.zeros((1,) + a.shape[1:])], axis=0)

    def sums(self, a: np.ndarray) -> np.ndarray:
        """(m,) or (m, p): sum of ``a`` (n,) or (n, p) over each risk set."""
        out = self._suffix(a[self.oT])[self.iT]
        if self.late:
            out = out - self._suffix(a[self.oE])[self.iE]
        return out


def breslow(
    T: np.ndarray, E: np.ndarray, entry: np.ndarray, risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Breslow cumulative baseline hazard with late entry: (event times, H0 at them)."""
    times, d = np.unique(T[E], return_counts=True)
    denom = _RiskSets(T, entry, times).sums(risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(denom > 0, d / denom, 0.0)
    return times.astype(np.float64), np.cumsum(h)


def _schoenfeld(
    T: np.ndarray, E: np.ndarray, entry: np.ndarray, X: np.ndarray, risk: np.ndarray
) -> np.ndarray:
    """Schoenfeld residuals x_i - xbar(T_i) of the events, (n_events, p) (Breslow ties)."""
    t_ev = T[E]
    rs = _RiskSets(T, entry, t_ev)
    return X[E] - rs.sums(risk[:, None] * X) / rs.sums(risk)[:, None]


def ph_test_table(cox: CoxPH, X: pd.DataFrame, T, E, entry, keys, spec: pd.DataFrame,
                  alpha: float) -> pd.DataFrame:
    """Grambsch-Therneau test (rank time) on scaled Schoenfeld residuals with late entry.

    ``spec`` is the encoder spec (``source`` per encoded column); a covariate ``fails`` at
    ``alpha`` Bonferroni-corrected over the covariates. ``action`` starts as ``"none"``.
    """
    from lifelines.statistics import proportional_hazard_test

    Xv = X.to_numpy(dtype=np.float64)
    eta = (Xv - Xv.mean(axis=0)) @ cox.params_.to_numpy()
    risk = np.exp(eta - eta.max())
    ev_pos = np.flatnonzero(E)
    row_of = np.full(len(T), -1)
    row_of[ev_pos] = np.arange(len(ev_pos))
    resid = np.zeros((len(ev_pos), Xv.shape[1]))
    keys = keys if keys is not None else np.zeros(len(T), dtype=np.int8)
    for k in pd.unique(keys):
        m = np.flatnonzero(keys == k)
        if E[m].any():
            resid[row_of[m[E[m]]]] = _schoenfeld(T[m], E[m], entry[m], Xv[m], risk[m])
    scaled = len(ev_pos) * resid @ cox.variance_matrix_.to_numpy()
    order = cox.durations.index.to_numpy()[cox.event_observed.to_numpy().astype(bool)]
    scaled = pd.DataFrame(scaled[row_of[order]], columns=X.columns)
    res = proportional_hazard_test(
        cox, None, time_transform="rank", precomputed_residuals=scaled
    )
    s = res.summary  # lifelines sorts the rows by name
    s.index = [i[0] if isinstance(i, tuple) else i for i in s.index]
    s = s.loc[list(X.columns)]
    out = pd.DataFrame(
        {
            "covariate": list(X.columns),
            "source": [spec.loc[c, "source"] for c in X.columns],
            "test_statistic": s["test_statistic"].to_numpy(),
            "p": s["p"].to_numpy(),
        }
    )
    out["fails"] = out["p"] < alpha / max(len(out), 1)
    out["action"] = "none"
    return out


def _efron_slots(t_ev: np.ndarray, times: np.ndarray, d: np.ndarray):
    """Efron bookkeeping of one stratum's events: the order sorting them by event time, the
    first position of each time among them, and per slot (one per event, in that order) its
    time index and ``l / d_k`` (``l = 0 .. d_k - 1``)."""
    k = np.searchsorted(times, t_ev)
    order = np.argsort(k, kind="stable")
    starts = np.r_[0, np.cumsum(d)[:-1]].astype(np.int64)
    slot_k = np.repeat(np.arange(len(times)), d)
    frac = (np.arange(len(t_ev)) - starts[slot_k]) / d[slot_k]
    return order, starts, slot_k, frac.astype(np.float64)


class CoxPH:
    """Cox proportional-hazards fit: partial likelihood with late entry and strata, Breslow or
    Efron ties.

    Newton-Raphson on standardised covariates with lifelines' ridge convention
    (penalty ``0.5 * penalizer * n * ||beta_std||^2``), vectorised (suffix sums over the
    risk sets; the information matrix as ``X' diag(r * A) X - sum_k d_k xbar_k xbar_k'``,
    ``A_i`` the Breslow hazard accumulated while customer i is at risk), so it scales to
    millions of rows where lifelines' late-entry path loops over event times. ``ties="efron"``
    (lifelines' default) replaces the ``d_k`` tied events' common risk set by
    ``S0 - (l / d_k) S0_tied``, ``l = 0 .. d_k - 1`` (one "slot" per event; with one event per
    time both are the same); it matters with coarse times (months: the telco reference).
    Exposes lifelines' attribute names (``params_``, ``variance_matrix_``,
    ``standard_errors_``, ``summary``, ``log_likelihood_``, ``durations``,
    ``event_observed``, ``weights``) so that
    :func:`lifelines.statistics.proportional_hazard_test` runs on it.
    """

    def __init__(self, penalizer: float = 0.0, max_iter: int = 50, tol: float = 1e-9,
                 ties: str = "breslow"):
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol
        self.ties = ties

    def __repr__(self) -> str:
        return (f"<ChurnModel Cox PH ({self.ties.capitalize()} ties, late entry), "
                f"penalizer={self.penalizer}>")

    def fit(self, X: pd.DataFrame, T: np.ndarray, E: np.ndarray, entry: np.ndarray,
            strata: np.ndarray | None = None) -> CoxPH:
        from scipy.stats import norm

        if self.ties not in ("breslow", "efron"):
            raise ValueError(f"ties must be 'breslow' or 'efron', not {self.ties!r}")
        efron = self.ties == "efron"
        cols = list(X.columns)
        Xv = X.to_numpy(dtype=np.float64)
        n, p = Xv.shape
        mean = Xv.mean(axis=0)
        std = Xv.std(axis=0, ddof=1) if n > 1 else np.ones(p)
        std[~(std > 0)] = 1.0
        Z = (Xv - mean) / std
        keys = strata if strata is not None else np.zeros(n, dtype=np.int8)
        groups = []
        for k in pd.unique(keys):
            idx = np.flatnonzero(keys == k)
            e = E[idx]
            if not e.any():
                continue
            times, d = np.unique(T[idx][e], return_counts=True)
            rs = _RiskSets(T[idx], entry[idx], times)
            groups.append((idx, e, times, d.astype(np.float64), rs,
                           _efron_slots(T[idx][e], times, d) if efron else None))
        pen = self.penalizer * n

        def evaluate(beta: np.ndarray):
            ll, g, H = 0.0, np.zeros(p), np.zeros((p, p))
            for idx, e, times, d, rs, slots in groups:
                z = Z[idx]
                eta = z @ beta
                c = eta.max()
                with np.errstate(over="ignore", under="ignore"):
                    r = np.exp(eta - c)
                S0 = rs.sums(r)
                S1 = rs.sums(r[:, None] * z)
                if slots is None:  # Breslow
                    xbar = S1 / S0[:, None]
                    ll += float((eta[e] - c).sum() - (d * np.log(S0)).sum())
                    g += z[e].sum(axis=0) - d @ xbar
                    a, w = d / S0, r
                    xx = (xbar * d[:, None]).T @ xbar
                else:  # Efron: one slot per tied event
                    ev_order, starts, slot_k, frac = slots
                    r_ev, z_ev = r[e][ev_order], z[e][ev_order]
                    S0D = np.add.reduceat(r_ev, starts)
                    S1D = np.add.reduceat(r_ev[:, None] * z_ev, starts, axis=0)
                    denom = S0[slot_k] - frac * S0D[slot_k]
                    xbar = (S1[slot_k] - frac[:, None] * S1D[slot_k]) / denom[:, None]
                    ll += float((eta[e] - c).sum() - np.log(denom).sum())
                    g += z[e].sum(axis=0) - xbar.sum(axis=0)
                    a = np.bincount(slot_k, weights=1.0 / denom, minlength=len(times))
                    b = np.bincount(slot_k, weights=frac / denom, minlength=len(times))
                    w = r.copy()
                    w_ev = np.empty(len(r_ev))
                    w_ev[ev_order] = b[slot_k]  # slot_k is in event-time order, as z_ev
                    w_ev = w_ev * r[e]
                    xx = xbar.T @ xbar
                lam = np.r_[0.0, np.cumsum(a)]
                A = (
                    lam[np.searchsorted(times, T[idx], side="right")]
                    - lam[np.searchsorted(times, entry[idx], side="right")]
                )
                if slots is None:
                    H += (z * (w * A)[:, None]).T @ z - xx
                else:
                    wa = w * A
                    wa[e] -= w_ev
                    H += (z * wa[:, None]).T @ z - xx
            ll -= 0.5 * pen * float(beta @ beta)
            g -= pen * beta
            H[np.diag_indices(p)] += pen
            return ll, g, H

        beta = np.zeros(p)
        ll, g, H = evaluate(beta)
        self.converged_ = False
        for it in range(1, self.max_iter + 1):
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(H, g, rcond=None)[0]
            t = 1.0
            while True:
                cand = beta + t * step
                ll_c, g_c, H_c = evaluate(cand)
                if np.isfinite(ll_c) and ll_c >= ll - 1e-12 or t < 1e-4:
                    break
                t /= 2
            if not (np.isfinite(ll_c) and np.isfinite(cand).all()):
                break  # no finite step left (e.g. separation on few rows): keep the last finite
            done = abs(ll_c - ll) <= self.tol * (abs(ll) + 1) or np.max(np.abs(t * step)) < 1e-8
            beta, ll, g, H = cand, ll_c, g_c, H_c
            self.n_iter_ = it
            if done:
                self.converged_ = True
                break
        if not self.converged_:
            warnings.warn(
                f"Cox fit did not converge in {self.max_iter} iterations; "
                "try a larger penalizer", RuntimeWarning, stacklevel=2,
            )
        try:
            V_std = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            V_std = np.linalg.pinv(H)
        separated = [c for c, b in zip(cols, beta, strict=True) if abs(b) > 10]
        if separated:
            warnings.warn(
                f"covariates {separated} look (quasi-)separated: their hazard ratios run to 0 "
                "or infinity with unbounded intervals; drop them or use a penalizer",
                RuntimeWarning, stacklevel=2,
            )
        coef = beta / std
        V = V_std / np.outer(std, std)
        se = np.sqrt(np.maximum(np.diag(V), 0.0))
        z = norm.ppf(0.975)
        zstat = np.where(se > 0, coef / np.where(se > 0, se, 1), 0.0)
        pval = 2 * norm.sf(np.abs(zstat))
        self.params_ = pd.Series(coef, index=pd.Index(cols, name="covariate"), name="coef")
        self.variance_matrix_ = pd.DataFrame(V, index=cols, columns=cols)
        self.standard_errors_ = pd.Series(se, index=self.params_.index, name="se")
        with np.errstate(over="ignore"):
            self.summary = self._summary(coef, se, zstat, pval, z)
        self.log_likelihood_ = ll
        self.mean_ = mean
        eta = (Xv - mean) @ coef
        self.concordance_index_ = concordance(T, -eta, E, strata)
        order = np.argsort(T, kind="stable")
        self.durations = pd.Series(T[order], index=order)
        self.event_observed = pd.Series(E[order], index=order)
        self.weights = pd.Series(np.ones(n), index=order)
        return self

    def _summary(self, coef, se, zstat, pval, z) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "coef": coef,
                "exp(coef)": np.exp(coef),
                "se(coef)": se,
                "coef lower 95%": coef - z * se,
                "coef upper 95%": coef + z * se,
                "exp(coef) lower 95%": np.exp(coef - z * se),
                "exp(coef) upper 95%": np.exp(coef + z * se),
                "z": zstat,
                "p": pval,
                "-log2(p)": -np.log2(np.maximum(pval, 1e-300)),
            },
            index=self.params_.index,
        )

    def predict_log_partial_hazard(self, X: pd.DataFrame) -> np.ndarray:
        return (X.to_numpy(dtype=np.float64) - self.mean_) @ self.params_.to_numpy()


def concordance(T: np.ndarray, score: np.ndarray, E: np.ndarray,
                strata: np.ndarray | None = None) -> float:
    """Harrell's concordance (higher score = longer survival); with strata, the
    event-weighted mean of the within-stratum values (partial hazards of a stratified Cox
    model are only comparable inside a stratum)."""
    from lifelines.utils import concordance_index

    if strata is None:
        return float(concordance_index(T, score, E))
    num, den = 0.0, 0.0
    for k in pd.unique(strata):
        m = strata == k
        if E[m].sum() == 0 or m.sum() < 2:
            continue
        try:
            c = concordance_index(T[m], score[m], E[m])
        except ZeroDivisionError:  # no admissible pairs
            continue
        num += c * E[m].sum()
        den += E[m].sum()
    return num / den if den else float("nan")


class StepHazard:
    """Cumulative hazard step functions per stratum.

    ``H(t) = H_k`` for ``times_k <= t < times_k+1``; beyond the longest follow-up of the
    stratum (``t_end``) the hazard continues at its average over the last ``tail_days``
    (a constant-hazard extrapolation, instead of lifelines' flat curve that would make
    every long-lived customer immortal).
    """

    def __init__(self, curves: dict[str, tuple[np.ndarray, np.ndarray, float]],
                 tail_days: float = 365.0):
        self.curves: dict[str, tuple[np.ndarray, np.ndarray, float, float]] = {}
        for key, (t, h, t_end) in curves.items():
            t, h = np.asarray(t, float), np.asarray(h, float)
            rate = 0.0
            if len(t) and np.isfinite(h[-1]) and t_end > 0:
                w = min(tail_days, t_end)
                h_end = h[-1]
                h_start = np.r_[0.0, h][np.searchsorted(t, t_end - w, side="right")]
                rate = max((h_end - h_start) / w, 0.0)
            self.curves[key] = (t, h, float(t_end), float(rate))

    def _curve(self, key: str):
        return self.curves.get(key, self.curves[ALL])

    def __call__(self, key: str, t: np.ndarray) -> np.ndarray:
        times, H, t_end, rate = self._curve(key)
        out = np.r_[0.0, H][np.searchsorted(times, t, side="right")]
        beyond = t > t_end
        if rate > 0 and beyond.any():
            out[beyond] += rate * (t[beyond] - t_end)
        return out

    def first_reaching(self, key: str, target: np.ndarray) -> np.ndarray:
        """Smallest time with H(t) >= target (NaN if never, e.g. no tail hazard)."""
        times, H, t_end, rate = self._curve(key)
        Hmono = np.maximum.accumulate(H) if len(H) else H
        idx = np.searchsorted(Hmono, target, side="left")
        out = np.full(len(target), np.nan)
        ok = idx < len(times)
        out[ok] = times[idx[ok]]
        h_end = Hmono[-1] if len(Hmono) else 0.0
        tail = ~ok & (rate > 0) & np.isfinite(target)
        out[tail] = t_end + (target[tail] - h_end) / rate if rate > 0 else np.nan
        out[target <= 0] = 0.0
        return out


def stratum_keys(df: pd.DataFrame, strata: Sequence[str],
                 bins: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stratum key per row: ``"|"``-joined levels of the ``strata`` columns (numeric ones
    binned at the inner edges in ``bins``, missing values ``"missing"``); ``ALL`` when
    there are no strata."""
    if not strata:
        return np.full(len(df), ALL, dtype=object)
    parts = []
    for col in strata:
        if col in bins:
            x = pd.to_numeric(df[col].astype("Float64"), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            b = np.digitize(x, bins[col]).astype(str)
            parts.append(np.where(np.isnan(x), "missing", b))
        else:
            s = df[col]
            parts.append(s.astype("object").where(s.notna(), "missing").astype(str).to_numpy())
    key = parts[0].astype(object)
    for p in parts[1:]:
        key = key + "|" + p.astype(object)
    return key
