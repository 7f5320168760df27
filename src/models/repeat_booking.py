"""Will a one-time customer book again? Most travel customers book once, and at its first trip
a customer has no repeat history for the BTYD models (``x = t_x = T = 0``), while the trip
itself says a lot; this module fits a calibrated gradient-boosting classifier of P(second
purchase within ``horizon_days`` days of the first booking) on the first-trip table of
:mod:`src.features.first_trip` (features in days, currency, counts) and evaluates it on a time
split against the BG/NBD (Brier score, ROC AUC, calibration tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from threadpoolctl import threadpool_limits

from src.features.definitions import calendar_day, purchases
from src.features.first_trip import (
    CATEGORICAL_FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    first_trip_table,
)
from src.features.rfm_summary import summary_from_transactions
from src.models.base import ProjectModel
from src.models.btyd import BGNBD

if TYPE_CHECKING:
    from src.params.schema import RepeatModelParams

__all__ = [
    "RepeatBookingModel",
    "calibration_table",
    "evaluate_from_params",
    "evaluate_time_split",
    "stratified_sample",
]

_MISSING_LEVEL = "missing"
_DAY = pd.Timedelta(days=1)


def _categorical_strings(X: pd.DataFrame) -> np.ndarray:
    """Categorical columns as ``str`` objects, missing -> ``"missing"`` (for the encoder)."""
    frame = pd.DataFrame(X)
    arr = frame.to_numpy(dtype=object)
    out = np.empty(arr.shape, dtype=object)
    miss = pd.isna(arr)
    out[miss] = _MISSING_LEVEL
    out[~miss] = [str(v) for v in arr[~miss]]
    return out


def _numeric_floats(X: pd.DataFrame) -> np.ndarray:
    """Numeric columns as float64, missing -> NaN (handled natively by the boosting)."""
    frame = pd.DataFrame(X)
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64,
                                                                  na_value=np.nan)


class RepeatBookingModel(ProjectModel):
    """P(second booking within the horizon) of a customer from its first trip.

    A scikit-learn ``Pipeline`` (``ColumnTransformer``: one-hot encoding of the categorical
    first-trip features with ``handle_unknown="ignore"``, numeric features passed through with
    their NaN; then a ``HistGradientBoostingClassifier``) wrapped in a
    ``CalibratedClassifierCV`` (3 stratified folds, shuffled with ``seed``), so the returned
    probabilities are calibrated, not just ranked.

    Parameters
    ----------
    horizon_days : label window (days) the training table was built with; checked against
        ``first_trips.attrs["horizon_days"]`` when present.
    seed : seed of the fold shuffling and of the boosting.
    max_iter : boosting iterations (trees).
    calibration : ``"isotonic"`` or ``"sigmoid"`` (Platt).
    learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization : boosting settings.
    sample_size : fit on at most this many labelled first trips, drawn at random within each
        outcome (repeaters and one-timers keep their shares); ``None``: all. Scoring is never
        sampled.
    n_threads : OpenMP threads for fitting and scoring (``None``: the library default, all
        cores). Set 1 when several processes share the cores (pytest-xdist, parallel jobs):
        oversubscribed OpenMP threads make small fits 10x slower.

    Attributes
    ----------
    model_ : the fitted ``CalibratedClassifierCV``.
    categorical_features_, numeric_features_ : list[str], the feature columns used.
    missing_features_ : list[str], known features absent from the training table.
    n_train_ : int, labelled first trips fitted; base_rate_ : float, their share of repeaters.
    n_labelled_ : int, labelled first trips available (``n_train_`` < it when sampled).
    missing_inputs_ : list[str], ``first_trips.attrs["missing_inputs"]`` at fit time.

    Notes
    -----
    ``src.features.first_trip.first_trip_table(tables, cutoff_date=today,
    labelled_only=False)`` lists today's customers with a completed first trip; those without
    ``second_booking_date`` are the one-time customers. The probability refers to the
    ``horizon_days`` after the *first booking* and is not conditioned on the time that has
    since passed without a repeat, so it is meant for customers whose first trip has just ended
    (e.g. first booking within the last ``horizon_days / 2``); older one-time customers are
    better judged on recency (see :mod:`src.decisioning.lifecycle`).
    """

    _fitted_attribute = "model_"

    def __init__(
        self,
        horizon_days: int = 365,
        seed: int = 0,
        max_iter: int = 200,
        calibration: Literal["isotonic", "sigmoid"] = "isotonic",
        learning_rate: float = 0.03,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 80,
        l2_regularization: float = 1.0,
        sample_size: int | None = None,
        n_threads: int | None = None,
    ):
        self.horizon_days = horizon_days
        self.seed = seed
        self.max_iter = max_iter
        self.calibration = calibration
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.sample_size = sample_size
        self.n_threads = n_threads

    # -- fitting ---------------------------------------------------------------------------
    def _pipeline(self) -> Pipeline:
        encode = Pipeline([
            ("as_str", FunctionTransformer(_categorical_strings, feature_names_out="one-to-one")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ])
        columns = ColumnTransformer(
            [("categorical", encode, self.categorical_features_),
             ("numeric", FunctionTransformer(_numeric_floats, feature_names_out="one-to-one"),
              self.numeric_features_)],
            remainder="drop",
        )
        boost = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, early_stopping=False,
            random_state=self.seed,
        )
        return Pipeline([("features", columns), ("boosting", boost)])

    def fit(self, first_trips: pd.DataFrame) -> RepeatBookingModel:
        """Fit on a :func:`~src.features.first_trip.first_trip_table` (rows with a missing label
        are left out).

        Parameters
        ----------
        first_trips : shape (n_customers, ...), the feature columns that exist plus
            :data:`~src.features.first_trip.LABEL`.

        Returns
        -------
        self
        """
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', "
                             f"got {self.calibration!r}")
        table_h = first_trips.attrs.get("horizon_days")
        if table_h is not None and int(table_h) != int(self.horizon_days):
            raise ValueError(f"the first-trip table was built with horizon_days={table_h}, "
                             f"the model with horizon_days={self.horizon_days}")
        if LABEL not in first_trips.columns:
            raise KeyError(f"first_trips has no {LABEL!r} column; build it with "
                           "first_trip_table(...)")
        labelled = first_trips.loc[first_trips[LABEL].notna().to_numpy()]
        self.n_labelled_ = int(len(labelled))
        if self.sample_size is not None and len(labelled) > self.sample_size:
            labelled = labelled.iloc[stratified_sample(
                labelled[LABEL].to_numpy(dtype=np.int64), self.sample_size, self.seed)]
        y = labelled[LABEL].to_numpy(dtype=np.int64)
        counts = np.bincount(y, minlength=2)
        if counts.min() < 3:
            raise ValueError(f"need at least 3 customers with and without a second booking "
                             f"to fit and calibrate, have {counts[1]} and {counts[0]}")
        self.categorical_features_ = [c for c in CATEGORICAL_FEATURES if c in labelled.columns]
        self.numeric_features_ = [c for c in NUMERIC_FEATURES if c in labelled.columns]
        if not self.categorical_features_ and not self.numeric_features_:
            raise ValueError("first_trips has none of the first-trip feature columns")
        self.missing_features_ = [c for c in CATEGORICAL_FEATURES + NUMERIC_FEATURES
                                  if c not in labelled.columns]
        self.missing_inputs_ = list(first_trips.attrs.get("missing_inputs", []))
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.seed)
        model = CalibratedClassifierCV(self._pipeline(), method=self.calibration, cv=folds)
        X = labelled[self.feature_names_in_]
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            model.fit(X, y)
        self.model_ = model
        self.n_train_ = int(len(y))
        self.base_rate_ = float(y.mean())
        self.train_missing_share_ = X.isna().mean().to_dict()
        return self

    @property
    def feature_names_in_(self) -> list[str]:
        """The feature columns the model reads (categorical then numeric)."""
        return list(getattr(self, "categorical_features_", [])) + list(
            getattr(self, "numeric_features_", []))

    def _X(self, first_trips: pd.DataFrame) -> pd.DataFrame:
        self.check_fitted()
        absent = [c for c in self.feature_names_in_ if c not in first_trips.columns]
        if absent:
            raise KeyError(f"first_trips lacks the feature columns {absent} the model was "
                           "fitted with; build it with first_trip_table from the same inputs")
        return first_trips[self.feature_names_in_]

    # -- scoring ---------------------------------------------------------------------------
    def predict_proba(self, first_trips: pd.DataFrame) -> np.ndarray:
        """P(second booking within ``horizon_days`` of the first booking).

        Parameters
        ----------
        first_trips : shape (n, ...), a :func:`~src.features.first_trip.first_trip_table`
            (labels not needed).

        Returns
        -------
        ndarray, shape (n,), calibrated probabilities in [0, 1].
        """
        X = self._X(first_trips)
        if not len(X):
            return np.zeros(0)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model_.predict_proba(X)[:, 1]

    @property
    def summary(self) -> pd.DataFrame:
        """The features used: one row each, ``kind`` and ``missing_share`` at training."""
        self.check_fitted()
        rows = [{"feature": c, "kind": "categorical",
                 "missing_share": self.train_missing_share_[c]}
                for c in self.categorical_features_]
        rows += [{"feature": c, "kind": "numeric", "missing_share": self.train_missing_share_[c]}
                 for c in self.numeric_features_]
        return pd.DataFrame(rows).set_index("feature")

    def feature_importance(self, first_trips: pd.DataFrame, *, n_repeats: int = 5,
                           seed: int = 0) -> pd.DataFrame:
        """Permutation importance on labelled first trips: the increase of the Brier score
        when a feature's values are shuffled (higher = more important).

        Returns
        -------
        DataFrame indexed by feature, columns ``brier_increase`` (mean) and ``std``,
        sorted by importance.
        """
        X = self._X(first_trips)
        ok = first_trips[LABEL].notna().to_numpy()
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            res = permutation_importance(
                self.model_, X.loc[ok], first_trips.loc[ok, LABEL].to_numpy(dtype=np.int64),
                scoring="neg_brier_score", n_repeats=n_repeats, random_state=seed,
            )
        out = pd.DataFrame({"brier_increase": res.importances_mean, "std": res.importances_std},
                           index=pd.Index(self.feature_names_in_, name="feature"))
        return out.sort_values("brier_increase", ascending=False)

    def __repr__(self) -> str:
        state = (f"n_train={self.n_train_}, base_rate={self.base_rate_:.3f}"
                 if hasattr(self, "model_") else "not fitted")
        return (f"RepeatBookingModel(horizon_days={self.horizon_days}, "
                f"calibration={self.calibration!r}, {state})")


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def stratified_sample(groups: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of a random sample of ``size`` rows keeping each group's share.

    Parameters
    ----------
    groups : shape (n,), the group (stratum) of each row, e.g. the 0/1 outcome.
    size : rows wanted (at most n); each group gets ``round(size * share)`` rows, at least one
        when it has any.
    seed : random seed.

    Returns
    -------
    ndarray of int, shape (about ``size``,), increasing positions into ``groups``.
    """
    groups = np.asarray(groups)
    if size >= len(groups):
        return np.arange(len(groups))
    rng = np.random.default_rng(seed)
    values, counts = np.unique(groups, return_counts=True)
    picks = []
    for v, c in zip(values, counts, strict=True):
        k = min(c, max(1, round(size * c / len(groups))))
        picks.append(rng.choice(np.flatnonzero(groups == v), size=k, replace=False))
    return np.sort(np.concatenate(picks))


def calibration_table(y_true: Sequence[float] | np.ndarray, p_pred: Sequence[float] | np.ndarray,
                      n_bins: int = 10) -> pd.DataFrame:
    """Observed vs predicted repeat rate in quantile bins of the prediction.

    Bins are deciles (for ``n_bins=10``) of the predicted probability; equal predictions
    always share a bin, so a constant prediction gives a single bin.

    Parameters
    ----------
    y_true : shape (n,), 0/1 outcomes. p_pred : shape (n,), predicted probabilities.
    n_bins : number of quantile bins (fewer when predictions tie).

    Returns
    -------
    DataFrame, one row per non-empty bin (index ``bin``, from low to high predictions):
    ``customers``, ``predicted`` (mean prediction), ``observed`` (share with a repeat),
    ``observed_se`` (binomial standard error), ``p_min``, ``p_max``.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true and p_pred differ in shape: {y.shape} vs {p.shape}")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1))) if len(p) else np.zeros(1)
    inner = edges[1:-1]
    b = np.searchsorted(inner, p, side="right")
    frame = pd.DataFrame({"bin": b, "y": y, "p": p})
    g = frame.groupby("bin")
    out = pd.DataFrame({
        "customers": g.size(),
        "predicted": g["p"].mean(),
        "observed": g["y"].mean(),
        "p_min": g["p"].min(),
        "p_max": g["p"].max(),
    })
    out["observed_se"] = np.sqrt(out["observed"] * (1 - out["observed"]) / out["customers"])
    return out[["customers", "predicted", "observed", "observed_se", "p_min", "p_max"]]


def _scores(y: np.ndarray, p: np.ndarray, n_bins: int) -> dict[str, Any]:
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {"roc_auc": auc, "brier": float(brier_score_loss(y, p)),
            "mean_predicted": float(np.mean(p)), "calibration": calibration_table(y, p, n_bins)}


def evaluate_time_split(
    tables: Mapping[str, pd.DataFrame | None],
    *,
    train_cutoff,
    test_cutoff,
    horizon_days: int = 365,
    seed: int = 0,
    calibration: Literal["isotonic", "sigmoid"] = "isotonic",
    max_iter: int = 200,
    feedback_window_days: int = 30,
    n_bins: int = 10,
    n_threads: int | None = None,
    sample_size: int | None = None,
) -> dict[str, Any]:
    """Out-of-time test of the repeat-booking model against the BG/NBD, same customers.

    Training: every first trip whose label window ended on/before ``train_cutoff``, built
    from data up to ``train_cutoff`` only. Test: the customers acquired *after* the model was
    fitted, first booking in (``train_cutoff``, ``test_cutoff - horizon_days``], labels seen
    up to ``test_cutoff``. So the test answers the deployment question: a model fitted today,
    scoring the new customers of the coming months.

    The fair BG/NBD comparison: the BG/NBD is fitted on the purchase histories of every
    customer as of ``train_cutoff`` (the same information the repeat model had) and asked the
    same question at the same moment: at its first booking a customer has ``x = t_x = T = 0``,
    so its probability of a second booking within ``h`` days is
    ``1 - P(X(h) = 0) = 1 - (alpha / (alpha + h))^r`` (no dropout before a first repeat in the
    BG/NBD). It is the same number for every new customer: the BG/NBD cannot rank first-time
    customers (ROC AUC 0.5 by construction) and is judged on its level (Brier score,
    calibration). The training repeat share is reported as the naive constant baseline.
    The winner is the model with the lower Brier score (a proper score that rewards both
    ranking and calibration).

    Parameters
    ----------
    tables : contract tables by name (``bookings`` required).
    train_cutoff, test_cutoff : date-like, ``test_cutoff - horizon_days > train_cutoff``.
    horizon_days : label window after the first booking, days.
    seed : seed of the repeat model.
    calibration, max_iter, n_threads, sample_size : passed to :class:`RepeatBookingModel`
        (the training fit may be sampled; the test customers are all scored).
    feedback_window_days : passed to :func:`~src.features.first_trip.first_trip_table`.
    n_bins : bins of the calibration tables.

    Returns
    -------
    dict with
        ``model`` (fitted :class:`RepeatBookingModel`), ``bgnbd`` (fitted
        :class:`~src.models.btyd.BGNBD`, time unit days), ``train`` / ``test`` (first-trip
        tables), ``predictions`` (test customers: ``repeat_booking``, ``p_repeat_model``,
        ``p_bgnbd``), ``repeat_model_scores`` / ``bgnbd_scores`` / ``base_rate_scores`` (each
        ``roc_auc``, ``brier``, ``mean_predicted``, ``calibration`` table), ``winner``
        (``"repeat_model"`` or ``"bgnbd"``, by Brier), ``winner_auc``, ``metrics`` (flat
        dict of floats for MLflow), ``missing_inputs``, and the settings.
    """
    train_cut, test_cut = calendar_day(train_cutoff), calendar_day(test_cutoff)
    last_first = test_cut - pd.Timedelta(days=int(horizon_days))
    if last_first <= train_cut:
        raise ValueError(
            f"test_cutoff {test_cut.date()} leaves no test window: customers first booking "
            f"after train_cutoff {train_cut.date()} need {horizon_days} more days of outcome; "
            f"use test_cutoff > {(train_cut + pd.Timedelta(days=int(horizon_days))).date()}")
    train = first_trip_table(tables, cutoff_date=train_cut, horizon_days=horizon_days,
                             feedback_window_days=feedback_window_days)
    test = first_trip_table(tables, cutoff_date=test_cut, horizon_days=horizon_days,
                            first_trip_from=train_cut + _DAY, first_trip_to=last_first,
                            feedback_window_days=feedback_window_days)
    if len(test) == 0:
        raise ValueError(f"no customer made a first booking between {train_cut.date()} and "
                         f"{last_first.date()}: nothing to test on")
    model = RepeatBookingModel(horizon_days=horizon_days, seed=seed, max_iter=max_iter,
                               calibration=calibration, n_threads=n_threads,
                               sample_size=sample_size).fit(train)

    history = purchases(tables["bookings"], train_cut)
    summary = summary_from_transactions(history, observation_end=train_cut, amount_col=None)
    bgnbd = BGNBD().fit_summary(summary)
    p_bgnbd = float(1.0 - bgnbd.probability_of_n_purchases_up_to_time(float(horizon_days), 0))

    y = test[LABEL].to_numpy(dtype=np.int64)
    p_model = model.predict_proba(test)
    p_const = np.full(len(y), p_bgnbd)
    scores = {
        "repeat_model_scores": _scores(y, p_model, n_bins),
        "bgnbd_scores": _scores(y, p_const, n_bins),
        "base_rate_scores": _scores(y, np.full(len(y), model.base_rate_), n_bins),
    }
    rm, bg = scores["repeat_model_scores"], scores["bgnbd_scores"]
    winner = "repeat_model" if rm["brier"] < bg["brier"] else "bgnbd"
    winner_auc = "repeat_model" if rm["roc_auc"] > bg["roc_auc"] else "bgnbd"
    base_test = float(y.mean())
    metrics = {
        "n_train": float(len(train)), "n_fitted": float(model.n_train_), "n_test": float(len(test)),
        "base_rate_train": model.base_rate_, "base_rate_test": base_test,
        "brier_of_test_base_rate": base_test * (1 - base_test),
        "repeat_model_roc_auc": rm["roc_auc"], "repeat_model_brier": rm["brier"],
        "bgnbd_roc_auc": bg["roc_auc"], "bgnbd_brier": bg["brier"],
        "bgnbd_p_repeat": p_bgnbd,
        "train_base_rate_brier": scores["base_rate_scores"]["brier"],
    }
    predictions = pd.DataFrame({LABEL: y, "p_repeat_model": p_model, "p_bgnbd": p_const},
                               index=test.index)
    return {
        "model": model, "bgnbd": bgnbd, "train": train, "test": test,
        "predictions": predictions, **scores, "winner": winner, "winner_auc": winner_auc,
        "metrics": metrics,
        "missing_inputs": list(test.attrs.get("missing_inputs", [])),
        "train_cutoff": str(train_cut.date()), "test_cutoff": str(test_cut.date()),
        "horizon_days": int(horizon_days),
    }


def evaluate_from_params(tables: Mapping[str, pd.DataFrame | None], params: RepeatModelParams,
                         cutoff_date: Any, *, seed: int = 0) -> dict[str, Any] | None:
    """:func:`evaluate_time_split` with the job's ``loyalty.repeat_model`` settings: the
    training cut-off is ``params.train_cutoff`` (default: two horizons before the cut-off).

    Returns None, and says why on standard output, when the model is switched off
    (``enabled: false``) or a window has too few first trips to fit or test it.
    """
    if not params.enabled:
        print("repeat-booking model: switched off (loyalty.repeat_model.enabled: false)")
        return None
    cutoff = pd.Timestamp(cutoff_date).normalize()
    train_cutoff = pd.Timestamp(params.train_cutoff
                                or cutoff - pd.Timedelta(days=2 * params.horizon_days))
    try:
        return evaluate_time_split(tables, train_cutoff=train_cutoff, test_cutoff=cutoff,
                                   horizon_days=params.horizon_days, seed=seed,
                                   max_iter=params.max_iter, sample_size=params.sample_size)
    except ValueError as exc:  # too few first trips in one of the windows
        print(f"repeat-booking model skipped: {exc} (loyalty.repeat_model.train_cutoff, "
              "loyalty.repeat_model.horizon_days)")
        return None
