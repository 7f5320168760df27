"""The survival churn model :class:`ChurnModel`; durations, ages and horizons in days.

:class:`ChurnModel` fits Kaplan-Meier, Cox PH (the engine in :mod:`src.models.churn.cox`)
or a Weibull AFT (lifelines) on a survival frame, chooses the penalizer by cross-validated
concordance, tests and remedies non-proportional hazards (strata for Cox, a time
interaction on the Weibull shape), and scores churn probabilities within horizons and
remaining lifetimes conditional on the age reached (``age_days``), without building a
survival curve per customer. The stand-alone pieces live elsewhere (Cox engine, PH test and
stratum keys in :mod:`~src.models.churn.cox`, encoding in :mod:`~src.models.churn.encoding`,
driver table and wording in :mod:`~src.models.churn.drivers`); what is left is one coherent
class of about 600 lines, kept whole although the module passes the 600-line guide, because
fitting, the PH remedy, scoring and persistence all read and write the same fitted state
(encoder, strata, baseline hazard, coefficients), which is pickled with the object.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from src.data.errors import InsufficientDataError
from src.features.survival import AGE_COL, DURATION_COL, ENTRY_COL, EVENT_COL, RESERVED
from src.models.base import ProjectModel
from src.models.churn.cox import (
    ALL,
    CoxPH,
    StepHazard,
    breslow,
    concordance,
    ph_test_table,
    single_blas_thread,
    stratum_keys,
)
from src.models.churn.drivers import hazard_ratio_table
from src.models.churn.encoding import CovariateEncoder

Kind = Literal["coxph", "weibull_aft", "km"]


class NoUsableCovariatesError(InsufficientDataError):
    """Every covariate is constant, empty or absent in the frame: only a Kaplan-Meier model
    (``kind="km"``) can be fitted. :func:`src.models.churn.workflow.select_and_fit` falls back
    to it; raised elsewhere it is bad input (exit 2), not a code fault."""


class ChurnModel(ProjectModel):
    """Survival churn model: Kaplan-Meier, Cox PH or Weibull AFT.

    DataFrame in, DataFrame out: ``fit`` takes a survival frame (``duration_days``,
    ``event``, optional ``entry_days`` for late entry, covariates); the ``predict_*``
    methods take any frame with the covariates and ``age_days`` (time survived so far,
    days; 0 when absent) and return one row per input row.

    Parameters
    ----------
    kind : ``"coxph"`` (semi-parametric Cox PH), ``"weibull_aft"`` (Weibull accelerated
        failure time) or ``"km"`` (Kaplan-Meier, no covariates: the baseline).
    covariates : numeric/boolean covariate columns; ``None``: every non-survival column of
        the frame given to ``fit`` (non-numeric ones treated as categorical).
    categorical : categorical covariate columns (one-hot encoded, the largest group as the
        reference level, :class:`CovariateEncoder`); ``None``: the non-numeric columns among
        ``covariates``.
    penalizers : candidate L2 penalizers (lifelines ``penalizer``); chosen by
        ``cv_folds``-fold cross-validated concordance. Concordance is rank-based and nearly
        flat in the penalizer, so the smallest penalizer within ``cv_tolerance`` of the
        best is taken (least shrinkage keeps hazard ratios interpretable).
    strata : columns to stratify the Cox baseline on from the start (each stratum has its
        own baseline hazard and no hazard ratio).
    strata_bins : inner bin edges for numeric ``strata`` columns, e.g.
        ``{"recency_days": [60, 120, 180, 240, 300]}``; other strata columns are taken as
        categories.
    cv_folds : folds for the penalizer search (stratified by event).
    seed : seed for the folds and the fitting sample.
    sample_size : fit on a random sample of at most this many rows (stratified by event and
        ``sample_group``); scoring is always for everyone.
    sample_group : optional column to stratify the sample by, besides the event.
    ph_alpha : family-wise level of the proportional-hazards test (Bonferroni over the
        covariates); ``None`` skips the test.
    max_ph_strata : at most this many failing covariates are remedied (largest test
        statistic first): for Cox by stratifying on them (continuous ones binned into
        ``ph_bins`` quantile bins), for the Weibull AFT by a time interaction (the covariate
        also drives the shape ``rho``). With large samples every covariate tends to fail;
        the full test is in ``ph_test_``.
    ph_bins : quantile bins for stratifying a continuous covariate.
    cv_tolerance : see ``penalizers``.
    cv_sample_size : the penalizer search runs on a random subsample of at most this many
        rows (stratified by event); the final fit uses all (sampled) rows.
    chunk_size : rows scored per chunk.
    horizons_days : horizons (days) of the churn probabilities :meth:`predict` returns.
    max_remaining_days : cap (days) of the expected remaining lifetime in :meth:`predict`.
    ties : Cox partial likelihood for tied event times: ``"breslow"`` (the landmark models'
        setting: daily times, few ties) or ``"efron"`` (lifelines' default, closer with coarse
        times such as months).

    Attributes
    ----------
    fitter_ : the fitted model: the Cox fit (lifelines-style ``params_``, ``summary``,
        ``variance_matrix_``), lifelines' ``WeibullAFTFitter`` or ``KaplanMeierFitter``.
    encoder_ : :class:`CovariateEncoder`.
    penalizer_ : float; cv_scores_ : pandas.DataFrame (penalizer, mean/std concordance).
    ph_test_ : pandas.DataFrame (covariate, source, test_statistic, p, fails, action);
        ph_test_final_ : the same test after the remedy (Cox).
    strata_ : list[str] -- stratification columns (Cox); time_interactions_ : list[str]
        (Weibull shape covariates).
    concordance_index_ : float (training data); n_fit_, n_events_, n_input_ : ints;
    fit_seconds_ : float; fit_warnings_ : list[str]; max_follow_up_days_ : float.
    """

    _fitted_attribute = "fitter_"

    def __init__(
        self,
        kind: Kind = "coxph",
        covariates: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        penalizers: Sequence[float] = (0.0, 0.01, 0.1, 1.0),
        strata: Sequence[str] | None = None,
        strata_bins: Mapping[str, Sequence[float]] | None = None,
        cv_folds: int = 3,
        seed: int = 0,
        sample_size: int | None = None,
        sample_group: str | None = None,
        ph_alpha: float | None = 0.01,
        max_ph_strata: int = 2,
        ph_bins: int = 4,
        cv_tolerance: float = 0.001,
        cv_sample_size: int | None = 20_000,
        chunk_size: int = 250_000,
        horizons_days: Sequence[int] = (180, 365),
        max_remaining_days: int = 3650,
        ties: Literal["breslow", "efron"] = "breslow",
    ):
        self.kind = kind
        self.covariates = covariates
        self.categorical = categorical
        self.penalizers = penalizers
        self.strata = strata
        self.strata_bins = strata_bins
        self.cv_folds = cv_folds
        self.seed = seed
        self.sample_size = sample_size
        self.sample_group = sample_group
        self.ph_alpha = ph_alpha
        self.max_ph_strata = max_ph_strata
        self.ph_bins = ph_bins
        self.cv_tolerance = cv_tolerance
        self.cv_sample_size = cv_sample_size
        self.chunk_size = chunk_size
        self.horizons_days = horizons_days
        self.max_remaining_days = max_remaining_days
        self.ties = ties

    # ---- helpers -------------------------------------------------------------------------
    def _columns(self, df: pd.DataFrame) -> tuple[list[str], list[str]]:
        strata = list(self.strata or [])
        if self.covariates is None:
            cov = [
                c for c in df.columns
                if c not in RESERVED and c not in strata
                and not pd.api.types.is_datetime64_any_dtype(df[c])
            ]
        else:
            cov = [c for c in self.covariates if c not in strata]
        if self.categorical is None:
            cat = [
                c for c in cov if c in df.columns
                and not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
            ]
        else:
            cat = [c for c in self.categorical if c not in strata]
        num = [c for c in cov if c not in cat]
        return num, list(dict.fromkeys(cat))

    def _sample(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.sample_size or len(df) <= self.sample_size:
            return df
        rng = np.random.default_rng(self.seed)
        key = df[EVENT_COL].astype(str)
        if self.sample_group is not None:
            key = key + "|" + df[self.sample_group].astype(str)
        frac = self.sample_size / len(df)
        u = pd.Series(rng.random(len(df)), index=df.index)
        rank = u.groupby(key.to_numpy()).rank(method="first")
        size = key.map(key.value_counts() * frac).round().clip(lower=1)
        return df.loc[(rank <= size).to_numpy()]

    def _durations(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        T = df[DURATION_COL].to_numpy(dtype=np.float64)
        E = df[EVENT_COL].to_numpy(dtype=np.float64) > 0
        entry = (
            df[ENTRY_COL].to_numpy(dtype=np.float64)
            if ENTRY_COL in df.columns else np.zeros(len(df))
        )
        if self.kind == "weibull_aft":
            # the Weibull likelihood needs positive durations: same-day churn -> half a day
            T = np.maximum(T, 0.5)
            entry = np.minimum(entry, T - 0.25)
        return T, E, entry

    def _weibull_frame(self, X: pd.DataFrame, T, E, entry) -> pd.DataFrame:
        d = X.copy()
        d.index = np.arange(len(d))
        d[DURATION_COL] = T
        d[EVENT_COL] = E.astype(int)
        if self._has_entry:
            d[ENTRY_COL] = entry
        return d

    def _fit_one(self, X: pd.DataFrame, T, E, entry, skey, penalizer: float,
                 ancillary: list[str] | None = None):
        if self.kind == "coxph":
            return CoxPH(penalizer, ties=self.ties).fit(X, T, E, entry, skey)
        from lifelines import WeibullAFTFitter

        data = self._weibull_frame(X, T, E, entry)
        return WeibullAFTFitter(penalizer=penalizer).fit(
            data, DURATION_COL, EVENT_COL, entry_col=ENTRY_COL if self._has_entry else None,
            ancillary=data[ancillary] if ancillary else None,
        )

    def _survival_score(self, fitter, X: pd.DataFrame) -> np.ndarray:
        """Higher = longer survival (lifelines' concordance convention)."""
        if self.kind == "coxph":
            return -fitter.predict_log_partial_hazard(X)
        lam = fitter.params_.loc["lambda_"].reindex(X.columns).to_numpy()
        return X.to_numpy(dtype=np.float64) @ lam

    def _cv_penalizer(self, X: pd.DataFrame, T, E, entry, skey) -> None:
        pens = [float(p) for p in self.penalizers]
        if len(pens) == 1 or self.cv_folds < 2:
            self.penalizer_ = pens[0]
            return
        rows = np.arange(len(T))
        if self.cv_sample_size and len(rows) > self.cv_sample_size:
            rng = np.random.default_rng(self.seed + 1)
            rows = np.sort(
                np.concatenate([
                    rng.choice(np.flatnonzero(E == v), round(self.cv_sample_size * np.mean(E == v)),
                               replace=False)
                    for v in (True, False) if np.any(E == v)
                ])
            )
        # folds stratified by event
        rng = np.random.default_rng(self.seed)
        fold = np.empty(len(rows), dtype=np.int64)
        for v in (True, False):
            idx = np.flatnonzero(E[rows] == v)
            fold[rng.permutation(idx)] = np.arange(len(idx)) % self.cv_folds
        scores = np.full((len(pens), self.cv_folds), np.nan)
        for f in range(self.cv_folds):
            tr, te = rows[fold != f], rows[fold == f]
            for i, p in enumerate(pens):
                m = self._fit_one(X.iloc[tr], T[tr], E[tr], entry[tr],
                                  None if skey is None else skey[tr], p)
                score = np.asarray(self._survival_score(m, X.iloc[te]), dtype=float)
                if np.isfinite(score).all():  # else the fit diverged on this fold: no score
                    scores[i, f] = concordance(T[te], score, E[te],
                                               None if skey is None else skey[te])
        scored = np.isfinite(scores).all(axis=1)  # a penalizer that diverged on a fold is out
        with np.errstate(all="ignore"):
            self.cv_scores_ = pd.DataFrame(
                {
                    "penalizer": pens,
                    "concordance_mean": np.where(scored, scores.mean(axis=1), np.nan),
                    "concordance_std": np.where(scored, scores.std(axis=1), np.nan),
                }
            )
        if not scored.any():
            self.penalizer_ = max(pens)
            warnings.warn(f"ChurnModel: the fit diverged on a cross-validation fold at every "
                          f"penalizer {pens}: the strongest, {self.penalizer_:g}, is used "
                          "(too few customers or events for the covariates)", RuntimeWarning,
                          stacklevel=3)
            return
        best = self.cv_scores_["concordance_mean"].max()
        ok = self.cv_scores_["concordance_mean"] >= best - self.cv_tolerance
        self.penalizer_ = float(self.cv_scores_.loc[ok, "penalizer"].min())

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, survival_df: pd.DataFrame, duration_col: str = DURATION_COL,
            event_col: str = EVENT_COL, entry_col: str | None = ENTRY_COL) -> ChurnModel:
        """Fit on a survival frame.

        Parameters
        ----------
        survival_df : frame with the duration (days from the time origin to the event or
            censoring), the event (0/1), optionally the late entry (days from the origin to
            when the customer entered observation) and the covariates.
        duration_col, event_col, entry_col : their column names (lifelines style; any unit
            works for a descriptive fit, scoring reads days); ``entry_col`` absent from the
            frame or ``None``: no late entry.

        Returns
        -------
        self
        """
        if (duration_col, event_col, entry_col) != (DURATION_COL, EVENT_COL, ENTRY_COL):
            names = {duration_col: DURATION_COL, event_col: EVENT_COL}
            if entry_col is not None and entry_col in survival_df.columns:
                names[entry_col] = ENTRY_COL
            clash = [c for c in (DURATION_COL, EVENT_COL, ENTRY_COL)
                     if c in survival_df.columns and c not in names]
            survival_df = survival_df.drop(columns=clash).rename(columns=names)
        if self.kind not in ("coxph", "weibull_aft", "km"):
            raise ValueError(f"kind must be 'coxph', 'weibull_aft' or 'km', not {self.kind!r}")
        for col in (DURATION_COL, EVENT_COL):
            if col not in survival_df.columns:
                raise KeyError(f"survival frame lacks {col!r}")
        t0 = time.perf_counter()
        self.n_input_ = len(survival_df)
        df = self._sample(survival_df)
        self.n_fit_ = len(df)
        self.n_events_ = int((df[EVENT_COL] > 0).sum())
        if self.n_events_ == 0:
            raise InsufficientDataError(
                f"no events in the survival frame ({self.n_fit_} rows, none churned): nothing "
                "to model", hint="give a longer history, or shorter churn windows "
                "(churn.gap_days, churn.holdout_days, churn.train_window_days)")
        self._has_entry = ENTRY_COL in df.columns and bool((df[ENTRY_COL] > 0).any())
        T, E, entry = self._durations(df)
        self.max_follow_up_days_ = float(T.max())
        self.strata_: list[str] = list(self.strata or []) if self.kind == "coxph" else []
        self.user_strata_ = list(self.strata_)
        self.strata_bins_: dict[str, np.ndarray] = {
            k: np.asarray(sorted(v), dtype=np.float64) for k, v in (self.strata_bins or {}).items()
        }
        self.time_interactions_: list[str] = []
        self.ph_test_ = pd.DataFrame()
        self.ph_test_final_ = pd.DataFrame()
        self.cv_scores_ = pd.DataFrame()
        self.penalizer_ = 0.0

        with warnings.catch_warnings(record=True) as caught, single_blas_thread():
            warnings.simplefilter("always")
            if self.kind == "km":
                from lifelines import KaplanMeierFitter

                self.encoder_ = CovariateEncoder().fit(df)
                self.fitter_ = KaplanMeierFitter().fit(
                    T, E, entry=entry if self._has_entry else None
                )
                sf = self.fitter_.survival_function_.iloc[:, 0]
                with np.errstate(divide="ignore"):
                    H = -np.log(sf.to_numpy())
                self.baseline_ = StepHazard({ALL: (sf.index.to_numpy(float), H, T.max())})
                self.concordance_index_ = float("nan")  # no covariates: not defined
            else:
                num, cat = self._columns(df)
                self.encoder_ = CovariateEncoder(num, cat).fit(df)
                if not self.encoder_.columns_:
                    raise NoUsableCovariatesError(
                        "no usable covariates (" + (", ".join(
                            f"{k}: {v}" for k, v in self.encoder_.dropped_.items()
                        ) or "none of the covariates is in the frame") + ")",
                        hint="use kind='km' (churn.models: [km])")
                X = self.encoder_.transform(df)
                skey = stratum_keys(df, self.strata_, self.strata_bins_) if self.strata_ else None
                self._cv_penalizer(X, T, E, entry, skey)
                self.fitter_ = self._fit_one(X, T, E, entry, skey, self.penalizer_)
                if self.ph_alpha is not None:
                    self._check_ph(df, X, T, E, entry, skey)
                self._finish_fit(df, T, E, entry)
                self.concordance_index_ = float(self.fitter_.concordance_index_)
        self.fit_warnings_ = list(
            dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
        )
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _check_ph(self, df, X: pd.DataFrame, T, E, entry, skey) -> None:
        if self.kind == "coxph":
            cox = self.fitter_
        else:  # the Weibull AFT is a PH model too: test its covariates with a Cox fit
            cox, skey = CoxPH(self.penalizer_, ties=self.ties).fit(X, T, E, entry, None), None
        table = ph_test_table(cox, X, T, E, entry, skey, self.encoder_.spec_, self.ph_alpha)
        failing = table.loc[table["fails"]].groupby("source")["test_statistic"].max()
        chosen = list(failing.sort_values(ascending=False).index[: self.max_ph_strata])
        self.ph_test_ = table
        if not chosen:
            return
        spec = self.encoder_.spec_
        if self.kind == "coxph":
            for src in chosen:
                sub = spec.loc[spec["source"] == src]
                if (sub["role"] == "numeric").any() and not sub["binary"].any():
                    x = pd.to_numeric(df[src].astype("Float64"), errors="coerce").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                    qs = np.nanquantile(x, np.linspace(0, 1, self.ph_bins + 1)[1:-1])
                    self.strata_bins_[src] = np.unique(qs)
                self.strata_.append(src)
            keep = spec.index[~spec["source"].isin(chosen)]
            table.loc[table["source"].isin(chosen), "action"] = "stratified"
            if not len(keep):
                raise ValueError("every covariate failed the PH test; use kind='km' by group")
            self.encoder_.spec_ = spec.loc[keep]
            self.encoder_.columns_ = list(keep)
            self.encoder_.dropped_.update({s: "stratified (PH test failed)" for s in chosen})
            X2 = X[self.encoder_.columns_]
            skey2 = stratum_keys(df, self.strata_, self.strata_bins_)
            self.fitter_ = self._fit_one(X2, T, E, entry, skey2, self.penalizer_)
            self.ph_test_final_ = ph_test_table(self.fitter_, X2, T, E, entry, skey2,
                                               self.encoder_.spec_, self.ph_alpha)
        else:
            cols = list(spec.index[spec["source"].isin(chosen)])
            self.time_interactions_ = cols
            table.loc[table["source"].isin(chosen), "action"] = "time interaction (Weibull shape)"
            self.fitter_ = self._fit_one(X, T, E, entry, None, self.penalizer_, ancillary=cols)

    def _finish_fit(self, df, T, E, entry) -> None:
        X = self.encoder_.transform(df).to_numpy()
        self.x_mean_ = X.mean(axis=0)
        if self.kind == "coxph":
            self.beta_ = self.fitter_.params_.reindex(self.encoder_.columns_).to_numpy()
            risk = np.exp((X - self.x_mean_) @ self.beta_)
            curves = {ALL: (*breslow(T, E, entry, risk), T.max())}
            if self.strata_:
                keys = stratum_keys(df, self.strata_, self.strata_bins_)
                for k in pd.unique(keys):
                    m = keys == k
                    curves[k] = (*breslow(T[m], E[m], entry[m], risk[m]), T[m].max())
            self.baseline_ = StepHazard(curves)
        else:
            p = self.fitter_.params_
            self.lambda_coef_ = p.loc["lambda_"].reindex([*self.encoder_.columns_, "Intercept"])
            self.rho_coef_ = p.loc["rho_"]

    # ---- scoring -----------------------------------------------------------------------------
    def _chunks(self, df: pd.DataFrame):
        for s in range(0, len(df), self.chunk_size):
            yield df.iloc[s : s + self.chunk_size]

    def _ages(self, df: pd.DataFrame) -> np.ndarray:
        for col in (AGE_COL, ENTRY_COL):
            if col in df.columns:
                return np.maximum(df[col].to_numpy(dtype=np.float64), 0.0)
        return np.zeros(len(df))

    def _linear(self, part: pd.DataFrame):
        """Per-customer scoring state: ('step', [(stratum, rows)], exp(eta)) or
        ('weibull', lambda, rho)."""
        n = len(part)
        if self.kind == "km":
            return "step", [(ALL, np.arange(n))], np.ones(n)
        X = self.encoder_.transform(part).to_numpy()
        if self.kind == "coxph":
            eta = (X - self.x_mean_) @ self.beta_
            codes, uniq = pd.factorize(stratum_keys(part, self.strata_, self.strata_bins_))
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
            groups = [(uniq[i], order[bounds[i] : bounds[i + 1]]) for i in range(len(uniq))]
            return "step", groups, np.exp(eta)
        lam = np.exp(X @ self.lambda_coef_.to_numpy()[:-1] + self.lambda_coef_["Intercept"])
        rho_lin = np.full(n, float(self.rho_coef_["Intercept"]))
        for c in self.time_interactions_:
            rho_lin += X[:, self.encoder_.columns_.index(c)] * float(self.rho_coef_[c])
        return "weibull", lam, np.exp(rho_lin)

    def _cumhaz(self, state, t: np.ndarray) -> np.ndarray:
        """Cumulative hazard per customer at ``t`` of shape (n,) or (n, m)."""
        kind, a, b = state
        if kind == "weibull":
            lam, rho = (a, b) if t.ndim == 1 else (a[:, None], b[:, None])
            return (np.maximum(t, 0.0) / lam) ** rho
        out = np.empty(t.shape)
        for key, rows in a:
            r = b[rows] if t.ndim == 1 else b[rows][:, None]
            out[rows] = self.baseline_(key, t[rows]) * r
        return out

    def _conditional_churn(self, df: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        """1 - S(age + t) / S(age) for each t, shape (n, len(times)), chunked."""
        out = np.empty((len(df), len(times)))
        pos = 0
        with single_blas_thread():
            for part in self._chunks(df):
                pos = self._churn_chunk(part, times, out, pos)
        return out

    def _churn_chunk(self, part: pd.DataFrame, times: np.ndarray, out: np.ndarray,
                     pos: int) -> int:
        age = self._ages(part)
        state = self._linear(part)
        H0 = self._cumhaz(state, age)
        for j, h in enumerate(times):
            dH = np.maximum(self._cumhaz(state, age + h) - H0, 0.0)
            with np.errstate(invalid="ignore"):
                p = -np.expm1(-dH)
            out[pos : pos + len(part), j] = np.where(np.isnan(p), 1.0, p)
        return pos + len(part)

    def predict_churn_probability(
        self, df: pd.DataFrame, horizons_days: Sequence[int]
    ) -> pd.DataFrame:
        """P(churn within h days | survived to ``age_days``) = 1 - S(age + h) / S(age).

        Parameters
        ----------
        df : customers with the model's covariates and ``age_days`` (days since the time
            origin at the scoring date; ``entry_days`` is used when ``age_days`` is absent,
            else 0), shape (n, ...).
        horizons_days : horizons h in days.

        Returns
        -------
        pandas.DataFrame
            Shape (n, len(horizons_days)), index of ``df``, columns ``churn_prob_<h>d``,
            probabilities in [0, 1], non-decreasing in h. Beyond the longest follow-up seen
            in fitting (``max_follow_up_days_``) Cox/KM continue with a constant hazard (the
            average over the last year of follow-up).
        """
        self.check_fitted()
        hs = [int(h) for h in horizons_days]
        out = self._conditional_churn(df, np.asarray(hs, dtype=np.float64))
        return pd.DataFrame(out, index=df.index, columns=[f"churn_prob_{h}d" for h in hs])

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Everything per customer in one frame: churn probability at each of
        ``horizons_days`` and the expected / median remaining lifetime (days, capped at
        ``max_remaining_days``), conditional on survival to ``age_days``. This is the method
        the MLflow pyfunc calls.

        Returns
        -------
        pandas.DataFrame
            Index of ``df``; columns ``churn_prob_<h>d`` (probabilities) and
            ``expected_remaining_days`` / ``median_remaining_days`` (days).
        """
        return self.predict_churn_probability(df, self.horizons_days).join(
            self.predict_remaining_lifetime(df, max_days=self.max_remaining_days))

    def predict_remaining_lifetime(
        self, df: pd.DataFrame, max_days: int = 3650, step_days: int = 7
    ) -> pd.DataFrame:
        """Expected (restricted) and median remaining lifetime given survival to ``age_days``.

        Parameters
        ----------
        df : customers with the covariates and ``age_days`` (days), shape (n, ...).
        max_days : horizon of the restricted mean (days).
        step_days : grid step (days) of the restricted-mean sum for Cox/KM (trapezoid
            rule over the step function); Weibull uses the closed form.

        Returns
        -------
        pandas.DataFrame
            Index of ``df``: ``expected_remaining_days`` = E[min(T - age, max_days) | T > age]
            and ``median_remaining_days`` (the m with S(age + m) = S(age) / 2), both in days
            and capped at ``max_days``. Cox/KM extrapolate beyond the longest follow-up with a
            constant hazard (the average of its last year).
        """
        self.check_fitted()
        exp_out = np.empty(len(df))
        med_out = np.empty(len(df))
        ln2 = np.log(2.0)
        pos = 0
        for part in self._chunks(df):
            age = self._ages(part)
            with single_blas_thread():
                state = self._linear(part)
            n = len(part)
            if state[0] == "weibull":
                _, lam, rho = state
                y1 = (age / lam) ** rho
                y2 = ((age + max_days) / lam) ** rho
                k = 1.0 / rho
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    integral = lam * np.exp(special.gammaln(k + 1)) * (
                        special.gammaincc(k, y1) - special.gammaincc(k, y2)
                    )
                    expected = integral / np.exp(-y1)
                tail = ~np.isfinite(expected) | (y1 > 600)
                if tail.any():  # far in the tail: remaining time ~ 1 / hazard(age)
                    hz = rho[tail] / lam[tail] * (age[tail] / lam[tail]) ** (rho[tail] - 1)
                    expected[tail] = np.minimum(1.0 / hz, max_days)
                exp_out[pos : pos + n] = np.clip(expected, 0.0, max_days)
                med_out[pos : pos + n] = lam * (y1 + ln2) ** k - age
            else:
                _, groups, r = state
                H_age = self._cumhaz(state, age)
                med = np.empty(n)
                expected = np.empty(n)
                grid = np.arange(0, max_days + step_days, step_days, dtype=np.float64)
                grid[-1] = max_days
                widths = np.diff(grid)
                block = max(1, 2_000_000 // len(grid))
                for key, rows in groups:
                    target = (H_age[rows] + ln2) / r[rows]
                    med[rows] = self.baseline_.first_reaching(key, target) - age[rows]
                    for s in range(0, len(rows), block):
                        rr = rows[s : s + block]
                        H = self.baseline_(key, age[rr, None] + grid[None, :]) * r[rr, None]
                        S = np.exp(-(H - H[:, :1]))
                        expected[rr] = ((S[:, 1:] + S[:, :-1]) / 2 * widths).sum(axis=1)
                exp_out[pos : pos + n] = expected
                med_out[pos : pos + n] = med
            pos += n
        med_out = np.where(np.isnan(med_out), max_days, np.minimum(med_out, max_days))
        return pd.DataFrame(
            {"expected_remaining_days": exp_out, "median_remaining_days": med_out},
            index=df.index,
        )

    def survival_at(self, df: pd.DataFrame, times_days: Sequence[float]) -> np.ndarray:
        """Conditional survival S(age + t) / S(age) at the given times, shape (n, len(times)).

        For evaluation on modest frames; scoring uses :meth:`predict_churn_probability`.
        """
        self.check_fitted()
        return 1.0 - self._conditional_churn(df, np.asarray(times_days, dtype=np.float64))

    # ---- drivers -----------------------------------------------------------------------------
    def hazard_ratios(self) -> pd.DataFrame:
        """Churn drivers: hazard ratios with 95 % intervals, in business words.

        Each covariate is reported per a natural increment (``per``): 1 for counts and
        binary flags, 30 for ``*_days`` columns, 0.1 (10 percentage points) for shares in
        [0, 1], a round number near one standard deviation otherwise. For the Weibull AFT
        the time ratio ``exp(beta)`` is converted to the PH hazard ratio
        ``exp(-beta * rho)`` (delta-method interval); covariates that also drive the shape
        (time interactions) have no single hazard ratio.

        Returns
        -------
        pandas.DataFrame
            One row per encoded covariate (and per stratification covariate, without a
            ratio): ``covariate``, ``source``, ``per``, ``hazard_ratio``, ``lower_95``,
            ``upper_95``, ``p``, ``time_ratio`` (AFT only), ``description``; sorted by the
            strength of the effect.
        """
        self.check_fitted()
        table = hazard_ratio_table(self)  # km: no covariate, no row; numbers stay numbers
        numeric = ["per", "hazard_ratio", "lower_95", "upper_95", "p", "time_ratio"]
        return table.astype({c: "float64" for c in numeric if c in table.columns})

    @property
    def summary(self) -> pd.DataFrame:
        """The lifelines summary table (coefficients, standard errors, p-values); for
        ``kind="km"`` the Kaplan-Meier event table."""
        self.check_fitted()
        if self.kind == "km":
            return self.fitter_.event_table
        return self.fitter_.summary
