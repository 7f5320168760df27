"""Will a one-time customer book again? A first-trip model of the second booking.

Most travel customers book once. For them the BTYD models have nothing to go on (no repeat
history: every one-time customer at its first trip has ``x = t_x = T = 0``), while the first
trip itself says a lot: what was bought, how far ahead, for how many, how it went. This module
turns each customer's first trip into one row of features and a label, fits a calibrated
gradient-boosting classifier on it and evaluates it on a time split against the BG/NBD.

Definitions (all times in days)
-------------------------------
Purchase
    A booking whose ``status`` is not ``cancelled`` / ``no_show`` (``completed``,
    ``confirmed`` or missing), dated by ``booking_date``, with several bookings on one calendar
    day counting as one purchase (the BTYD convention of :mod:`src.features.rfm_summary`).
    This is the event the BG/NBD counts, so both models answer the same question.
First trip
    The customer's earliest purchase (ties on the first day: earliest ``travel_start``, then
    ``booking_id``). A customer enters the table once that trip has ended
    (``travel_start + nights`` days, or the booking date without travel dates) on or before
    the cut-off.
Label ``repeat_booking``
    1 if the customer made a purchase on a later day ``d`` with
    ``first_booking_date < d <= first_booking_date + horizon_days`` (a second booking on day
    364 counts for a 365-day horizon, one on day 366 does not); 0 if not and the window has
    ended on or before the cut-off; missing (NaN) if the window is still open and no second
    purchase has been seen yet. The second booking need not have been travelled yet.
Features (information about the first trip only)
    The first booking row (``product``, ``destination_type``, ``channel``, ``party_size``,
    ``nights``, ``amount`` in the data's currency, ``lead_time_days`` = travel start minus
    booking date, ``travel_month``, ``first_day_bookings``); the survey of that trip
    (``first_trip_csat``, ``first_trip_nps``: linked by ``booking_id``, else the earliest
    survey dated from the travel start to ``feedback_window_days`` after the trip ended);
    complaints logged from the first booking date to ``feedback_window_days`` after the trip
    ended (``first_trip_complaints`` count, ``first_trip_complaint_category`` of the earliest
    one, ``"none"`` without); customer attributes fixed at signup (``customer_type``,
    ``acquisition_channel``, ``home_region``, ``age_years`` at the first booking,
    ``signup_to_first_trip_days``, consent flags as 0/1). Other bookings are never read, so
    changing later bookings changes labels only, never features. ``member_tier`` and
    ``loyalty_member`` are deliberately left out: they are snapshots taken at extraction and
    reflect the repeat behaviour being predicted (leakage). Consent flags are snapshots too
    but are kept (they gate marketing and rarely change); drop them from ``features`` if a
    source updates them after the fact.

Missing inputs
    Without ``customers`` / ``interactions`` / ``feedback`` (or without optional booking
    columns) the features built from them are absent, and
    ``table.attrs["missing_inputs"]`` names them; the model uses whatever features exist.
    Missing values inside a feature (a trip without survey) stay NaN: the gradient boosting
    handles them natively, categorical NaN becomes the level ``"missing"``.

Scoring
    ``first_trip_table(tables, cutoff_date=today, labelled_only=False)`` lists today's
    customers with a completed first trip; those without ``second_booking_date`` are the
    one-time customers. The probability refers to the ``horizon_days`` after the *first
    booking* and is not conditioned on the time that has since passed without a repeat, so it
    is meant for customers whose first trip has just ended (e.g. first booking within the last
    ``horizon_days / 2``); older one-time customers are better judged on recency (see
    :mod:`src.models.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from threadpoolctl import threadpool_limits

from src.features.rfm_summary import summary_from_transactions
from src.models.btyd import BGNBD

__all__ = [
    "CATEGORICAL_FEATURES",
    "NUMERIC_FEATURES",
    "LABEL",
    "RepeatBookingModel",
    "calibration_table",
    "evaluate_time_split",
    "first_trip_table",
    "purchases",
]

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "product",
    "destination_type",
    "channel",
    "travel_month",
    "first_trip_complaint_category",
    "customer_type",
    "acquisition_channel",
    "home_region",
)
"""First-trip features one-hot encoded by :class:`RepeatBookingModel` (those present)."""

NUMERIC_FEATURES: tuple[str, ...] = (
    "party_size",
    "nights",
    "lead_time_days",
    "amount",
    "first_day_bookings",
    "first_trip_csat",
    "first_trip_nps",
    "first_trip_complaints",
    "age_years",
    "signup_to_first_trip_days",
    "consent_email",
    "consent_sms",
    "consent_phone",
)
"""First-trip features passed through as numbers (NaN allowed) (those present)."""

LABEL = "repeat_booking"
"""Label column of :func:`first_trip_table`: 1.0 / 0.0, NaN while the window is open."""

NOT_PURCHASES: tuple[str, ...] = ("cancelled", "no_show")
"""Booking statuses that are not purchases."""

_MISSING_LEVEL = "missing"
_DAY = pd.Timedelta(days=1)


# --------------------------------------------------------------------------------------------
# the first-trip table
# --------------------------------------------------------------------------------------------
def _day(values: pd.Series) -> pd.Series:
    """Dates as ``datetime64[ns]`` normalised to midnight (time zone dropped)."""
    s = pd.to_datetime(values)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize()


def _timestamp(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError("a cut-off date is missing")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def purchases(bookings: pd.DataFrame, cutoff_date) -> pd.DataFrame:
    """Bookings that count as purchases as of ``cutoff_date``.

    Parameters
    ----------
    bookings : contract ``bookings`` table, shape (n_bookings, ...); needs ``customer_id``
        and ``booking_date``; ``status`` optional.
    cutoff_date : date-like; bookings dated after it are not seen.

    Returns
    -------
    pandas.DataFrame
        The rows booked on/before the cut-off whose status is not ``cancelled`` /
        ``no_show`` (a missing status counts as a purchase), original columns and index,
        with ``booking_date`` normalised to the calendar day.
    """
    for col in ("customer_id", "booking_date"):
        if col not in bookings.columns:
            raise KeyError(f"bookings has no {col!r} column (columns: {list(bookings.columns)})")
    cutoff = _timestamp(cutoff_date)
    day = _day(bookings["booking_date"])
    keep = (day <= cutoff).to_numpy()
    if "status" in bookings.columns:
        keep &= ~bookings["status"].isin(NOT_PURCHASES).to_numpy()
    out = bookings.loc[keep].copy()
    out["booking_date"] = day[keep]
    return out


def _table(tables: Mapping[str, pd.DataFrame | None], name: str) -> pd.DataFrame | None:
    t = tables.get(name)
    return t if isinstance(t, pd.DataFrame) else None


def _trip_end(rows: pd.DataFrame) -> pd.Series:
    """``travel_start + nights`` days (nights missing: 0); the booking day without dates."""
    if "travel_start" not in rows.columns:
        return rows["booking_date"]
    start = _day(rows["travel_start"])
    nights = (pd.to_numeric(rows["nights"], errors="coerce").fillna(0)
              if "nights" in rows.columns else 0)
    end = start + pd.to_timedelta(nights, unit="D")
    return end.fillna(rows["booking_date"])


def _booking_order(rows: pd.DataFrame) -> np.ndarray:
    """Positions sorting ``rows`` by customer, booking day, trip start, booking id (missing
    values last, stable) — what ``sort_values`` on those columns gives, without sorting
    millions of id strings: ids are factorised once and booking ids only break exact ties."""
    code, _ = pd.factorize(rows["customer_id"].to_numpy(), sort=True)
    keys = [code.astype(np.int64),
            rows["booking_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)]
    if "travel_start" in rows.columns:
        ts = pd.to_datetime(rows["travel_start"]).to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        ts[ts == np.iinfo(np.int64).min] = np.iinfo(np.int64).max  # NaT last
        keys.append(ts)
    order = np.lexsort(keys[::-1])
    if "booking_id" not in rows.columns or len(order) < 2:
        return order
    sorted_keys = np.column_stack([k[order] for k in keys])
    same = np.r_[False, (sorted_keys[1:] == sorted_keys[:-1]).all(axis=1)]
    if not same.any():
        return order
    tied = same | np.r_[same[1:], False]  # every member of a tie group
    group = np.cumsum(~same)  # tie-group number of each sorted position
    pos = np.flatnonzero(tied)
    sub = pd.DataFrame({"group": group[pos], "booking_id": rows["booking_id"].to_numpy()[order[pos]],
                        "pos": pos})
    sub = sub.sort_values(["group", "booking_id"], kind="stable")
    order[pos] = order[sub["pos"].to_numpy()]
    return order


def first_trip_table(
    tables: Mapping[str, pd.DataFrame | None],
    *,
    cutoff_date,
    horizon_days: int = 365,
    first_trip_from=None,
    first_trip_to=None,
    labelled_only: bool = True,
    feedback_window_days: int = 30,
) -> pd.DataFrame:
    """One row per customer: features of the first trip and whether a second booking followed.

    Parameters
    ----------
    tables : contract tables by name (``bookings`` required; ``customers``, ``interactions``,
        ``feedback`` optional, ``None`` or absent allowed).
    cutoff_date : date-like; nothing dated after it is read (bookings, surveys, complaints).
    horizon_days : label window after the first booking date, days.
    first_trip_from, first_trip_to : optional inclusive bounds on the first booking date.
    labelled_only : keep only customers whose label window ended on/before the cut-off
        (first booking date + ``horizon_days`` <= cut-off), i.e. whose label is final. With
        False every customer whose first trip has ended is kept (label NaN while open), e.g.
        to score today's one-time customers.
    feedback_window_days : surveys and complaints up to this many days after the first trip
        ended are part of the first trip's features.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (sorted). Columns: ``first_booking_id`` (when bookings have
        ids), ``first_booking_date``, ``first_trip_end`` (datetime64), the features of
        :data:`CATEGORICAL_FEATURES` (str, NaN when unknown) and :data:`NUMERIC_FEATURES`
        (float64; days, currency, counts) that the inputs allow, then the outcome columns
        ``second_booking_date`` (NaT if none seen), ``days_to_second_booking`` (float, days),
        ``label_end_date`` and :data:`LABEL`. ``attrs``: ``missing_inputs`` (list of
        tables/columns not available), ``cutoff_date``, ``horizon_days``.

    Notes
    -----
    See the module docstring for the exact definitions; the outcome columns must never be
    used as features (:class:`RepeatBookingModel` reads only the feature columns).
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    cutoff = _timestamp(cutoff_date)
    bookings = _table(tables, "bookings")
    if bookings is None:
        raise KeyError("tables has no 'bookings' table; it is the one mandatory input")
    missing: list[str] = []
    b_cols = set(bookings.columns)
    for col in ("booking_id", "travel_start", "nights", "product", "destination_type",
                "channel", "party_size", "amount", "status"):
        if col not in b_cols:
            missing.append(f"bookings.{col}")

    rows = purchases(bookings, cutoff)
    rows = rows.iloc[_booking_order(rows)]
    rows["_end"] = _trip_end(rows).to_numpy()
    first = rows.drop_duplicates("customer_id", keep="first").set_index("customer_id")
    first = first.loc[(first["_end"] <= cutoff).to_numpy()]
    if first_trip_from is not None:
        first = first.loc[(first["booking_date"] >= _timestamp(first_trip_from)).to_numpy()]
    if first_trip_to is not None:
        first = first.loc[(first["booking_date"] <= _timestamp(first_trip_to)).to_numpy()]
    label_end = first["booking_date"] + pd.Timedelta(days=int(horizon_days))
    if labelled_only:
        first = first.loc[(label_end <= cutoff).to_numpy()]
    first = first.sort_index()
    first.index.name = "customer_id"
    ids = first.index

    out = pd.DataFrame(index=ids)
    if "booking_id" in b_cols:
        out["first_booking_id"] = first["booking_id"].astype(object).to_numpy()
    out["first_booking_date"] = first["booking_date"].to_numpy()
    out["first_trip_end"] = first["_end"].to_numpy()

    # ---- the first booking row ----------------------------------------------------------
    for col in ("product", "destination_type", "channel"):
        if col in b_cols:
            out[col] = _as_str(first[col])
    if "travel_start" in b_cols:
        start = _day(first["travel_start"])
        out["travel_month"] = _as_str(start.dt.month.astype("Int64").map(
            lambda m: f"{m:02d}", na_action="ignore"))
        out["lead_time_days"] = ((start - first["booking_date"]) / _DAY).astype(float)
    for col in ("party_size", "nights", "amount"):
        if col in b_cols:
            out[col] = pd.to_numeric(first[col], errors="coerce").astype(float)
    first_day = first["booking_date"].reindex(rows["customer_id"]).to_numpy()
    on_first_day = rows["booking_date"].to_numpy() == first_day
    counts = rows.loc[on_first_day].groupby("customer_id").size()
    out["first_day_bookings"] = counts.reindex(ids).fillna(0).astype(float)

    # ---- survey and complaints of the first trip ---------------------------------------
    window_end = first["_end"] + pd.Timedelta(days=int(feedback_window_days))
    feedback = _table(tables, "feedback")
    if feedback is None:
        missing.append("feedback")
    else:
        for col in ("csat", "nps"):
            if col not in feedback.columns:
                missing.append(f"feedback.{col}")
        survey = _first_trip_survey(feedback, first, window_end, cutoff)
        for col, name in (("csat", "first_trip_csat"), ("nps", "first_trip_nps")):
            if col in feedback.columns:
                out[name] = survey[col].reindex(ids).astype(float)
    interactions = _table(tables, "interactions")
    if interactions is None:
        missing.append("interactions")
    else:
        n_compl, category = _first_trip_complaints(interactions, first, window_end, cutoff)
        out["first_trip_complaints"] = n_compl.reindex(ids).fillna(0).astype(float)
        if "complaint_category" in interactions.columns:
            cat = category.reindex(ids)
            out["first_trip_complaint_category"] = _as_str(cat).where(
                out["first_trip_complaints"] > 0, "none")
        else:
            missing.append("interactions.complaint_category")

    # ---- customer attributes fixed at signup ------------------------------------------
    customers = _table(tables, "customers")
    if customers is None:
        missing.append("customers")
    else:
        attrs = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        attrs = attrs.reindex(ids)
        for col in ("customer_type", "acquisition_channel", "home_region"):
            if col in attrs.columns:
                out[col] = _as_str(attrs[col])
            else:
                missing.append(f"customers.{col}")
        if "birth_year" in attrs.columns:
            by = pd.to_numeric(attrs["birth_year"], errors="coerce").astype(float)
            out["age_years"] = first["booking_date"].dt.year.astype(float) - by
        else:
            missing.append("customers.birth_year")
        if "signup_date" in attrs.columns:
            out["signup_to_first_trip_days"] = (
                (first["booking_date"] - _day(attrs["signup_date"])) / _DAY).astype(float)
        else:
            missing.append("customers.signup_date")
        for col in ("consent_email", "consent_sms", "consent_phone"):
            if col in attrs.columns:
                out[col] = attrs[col].astype("boolean").astype("Float64").astype(float)
            else:
                missing.append(f"customers.{col}")

    # ---- outcome (never a feature) ------------------------------------------------------
    later = rows.loc[rows["booking_date"].to_numpy() > first_day]
    second = later.groupby("customer_id")["booking_date"].min().reindex(ids)
    days_to_second = (second - first["booking_date"]) / _DAY
    out["second_booking_date"] = second.to_numpy()
    out["days_to_second_booking"] = days_to_second.astype(float).to_numpy()
    label_end = first["booking_date"] + pd.Timedelta(days=int(horizon_days))
    out["label_end_date"] = label_end.to_numpy()
    label = np.where(days_to_second.to_numpy() <= horizon_days, 1.0,
                     np.where(label_end.to_numpy() <= cutoff.to_datetime64(), 0.0, np.nan))
    out[LABEL] = label

    out.attrs["missing_inputs"] = missing
    out.attrs["cutoff_date"] = str(cutoff.date())
    out.attrs["horizon_days"] = int(horizon_days)
    return out


def _as_str(values: pd.Series) -> pd.Series:
    """Category-like values as Python ``str`` objects, missing as NaN."""
    s = pd.Series(values.to_numpy(dtype=object), index=values.index)
    return s.where(s.notna(), np.nan).map(str, na_action="ignore").astype(object)


def _first_trip_survey(feedback: pd.DataFrame, first: pd.DataFrame, window_end: pd.Series,
                       cutoff: pd.Timestamp) -> pd.DataFrame:
    """``csat`` / ``nps`` of the survey of the first trip, index customer_id."""
    cols = [c for c in ("csat", "nps") if c in feedback.columns]
    fb = feedback.loc[feedback["customer_id"].isin(first.index)]
    fb = fb.assign(_date=_day(fb["date"]))
    fb = fb.loc[(fb["_date"] <= cutoff).to_numpy()]
    fb = fb.loc[fb[cols].notna().any(axis=1).to_numpy()] if cols else fb.iloc[:0]
    fb = fb.assign(_wend=window_end.reindex(fb["customer_id"]).to_numpy())
    fb = fb.loc[(fb["_date"] <= fb["_wend"]).to_numpy()]
    res = pd.DataFrame(index=pd.Index([], name="customer_id"), columns=cols, dtype=float)
    linked_ids: pd.Index = pd.Index([])
    has_ids = "booking_id" in fb.columns and "booking_id" in first.columns
    if has_ids:
        first_ids = first["booking_id"].reindex(fb["customer_id"]).to_numpy()
        linked = fb.loc[(fb["booking_id"].to_numpy() == first_ids)]
        linked = linked.sort_values("_date", kind="stable").drop_duplicates("customer_id")
        res = linked.set_index("customer_id")[cols]
        linked_ids = res.index
        unlinked = fb.loc[fb["booking_id"].isna().to_numpy()]
    else:
        unlinked = fb
    if "travel_start" in first.columns:
        start = _day(first["travel_start"]).fillna(first["booking_date"])
    else:
        start = first["booking_date"]
    unlinked = unlinked.loc[
        (unlinked["_date"].to_numpy() >= start.reindex(unlinked["customer_id"]).to_numpy())
        & ~unlinked["customer_id"].isin(linked_ids).to_numpy()
    ]
    unlinked = unlinked.sort_values("_date", kind="stable").drop_duplicates("customer_id")
    res = pd.concat([res, unlinked.set_index("customer_id")[cols]])
    return res.apply(pd.to_numeric, errors="coerce")


def _first_trip_complaints(interactions: pd.DataFrame, first: pd.DataFrame,
                           window_end: pd.Series, cutoff: pd.Timestamp
                           ) -> tuple[pd.Series, pd.Series]:
    """Complaint count and earliest complaint category of the first trip, by customer_id."""
    comp = interactions.loc[(interactions["kind"].astype(object) == "complaint").to_numpy()]
    comp = comp.loc[comp["customer_id"].isin(first.index)]
    ts = pd.to_datetime(comp["timestamp"])
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    day = ts.dt.normalize()
    lo = first["booking_date"].reindex(comp["customer_id"]).to_numpy()
    hi = window_end.reindex(comp["customer_id"]).to_numpy()
    keep = (day.to_numpy() >= lo) & (day.to_numpy() <= hi) & (day <= cutoff).to_numpy()
    comp = comp.loc[keep].assign(_ts=ts[keep])
    n = comp.groupby("customer_id").size()
    if "complaint_category" in comp.columns:
        earliest = comp.sort_values("_ts", kind="stable").drop_duplicates("customer_id")
        category = earliest.set_index("customer_id")["complaint_category"].astype(object)
        category = category.fillna("unknown")
    else:
        category = pd.Series(dtype=object)
    return n, category


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
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


class RepeatBookingModel:
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
    """

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
        """Fit on a :func:`first_trip_table` (rows with a missing label are left out).

        Parameters
        ----------
        first_trips : shape (n_customers, ...), the feature columns that exist plus
            :data:`LABEL`.

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

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("RepeatBookingModel is not fitted yet: call fit(first_trips)")

    def _X(self, first_trips: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
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
        first_trips : shape (n, ...), a :func:`first_trip_table` (labels not needed).

        Returns
        -------
        ndarray, shape (n,), calibrated probabilities in [0, 1].
        """
        X = self._X(first_trips)
        if not len(X):
            return np.zeros(0)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model_.predict_proba(X)[:, 1]

    def summary(self) -> pd.DataFrame:
        """The features used: one row each, ``kind`` and ``missing_share`` at training."""
        self._check_fitted()
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

    def save(self, path: str | Path) -> Path:
        """Write the fitted model with joblib; returns the path."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RepeatBookingModel:
        """Read a model written by :meth:`save`."""
        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

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
    feedback_window_days : passed to :func:`first_trip_table`.
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
    train_cut, test_cut = _timestamp(train_cutoff), _timestamp(test_cutoff)
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
