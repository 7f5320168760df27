"""Survival tables for churn, one row per customer, all times in days (features of the
churn models: the model package :mod:`src.models.churn` builds on them).

Holds the survival column names (``duration_days``, ``event``, ``entry_days``, ``age_days``)
and the builders of ``(duration_days, event)`` rows: lapse churn (an inactivity gap of
``gap_days``, the event dated when the lapse becomes observable) and membership churn
(cancellation), their join with customer features, landmark frames (customers alive at a
date, features then, outcome after it, with late entry ``entry_days`` or the landmark as
time origin), the time-based train/test split and the lifetime table behind the
Kaplan-Meier views. Durations, ages, entries and gaps are float days; dates are normalised
to midnight and made timezone-naive; nothing after a cut-off is used.

Month-based data (a subscription snapshot giving tenure in whole months, its start dates
rebuilt as ``as_of - tenure months``): every duration is the day count of a whole number of
calendar months ending at the as-of date, a monotone function of the months, so a survival
curve in days read at :func:`months_as_days` is the curve in months, and a Cox fit on the
days equals the fit on the months (the partial likelihood depends only on the order and the
ties of the times). :func:`whole_months` tells such data apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from src.data.contract import snapshot_columns
from src.features.cache import attribute_columns, features_at
from src.features.definitions import calendar_day, completed_bookings

DURATION_COL = "duration_days"
EVENT_COL = "event"
ENTRY_COL = "entry_days"
AGE_COL = "age_days"
#: the survival columns: never covariates
RESERVED = (DURATION_COL, EVENT_COL, ENTRY_COL, AGE_COL)
_DAY = np.timedelta64(1, "D")


def _days(x: np.ndarray) -> np.ndarray:
    """datetime64 array -> float days since the epoch (NaT -> NaN)."""
    x = np.asarray(x, dtype="datetime64[ns]")
    out = x.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    out[np.isnat(x)] = np.nan
    return out


def lapse_survival_table(
    bookings: pd.DataFrame, *, cutoff_date, gap_days: int = 365
) -> pd.DataFrame:
    """Non-contractual churn: time from the first booking until an inactivity lapse.

    A customer *lapses* at the last completed booking before the first inter-booking gap
    longer than ``gap_days`` (or, with no such gap, at the last booking when at least
    ``gap_days`` have passed since it at the cut-off). The lapse becomes observable
    ``gap_days`` after that booking, and the event is dated then (see the module notes).

    Parameters
    ----------
    bookings : contract ``bookings`` table; only bookings that count as completed at the
        cut-off (:func:`src.features.customer.completed_bookings`) are used, so rows after
        the cut-off never change the result.
    cutoff_date : date-like; the end of the observation window.
    gap_days : inactivity gap (days) after which a customer counts as lapsed. A gap of
        exactly ``gap_days`` between two bookings is not a lapse.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (sorted), one row per customer with >= 1 completed booking:

        - ``duration_days`` (float, days): first booking -> lapse established (last booking
          before the gap + ``gap_days``) when ``event == 1``; first booking -> cut-off when
          censored (``event == 0``: the window ended before a gap could complete).
        - ``event`` (int 0/1): lapsed on/before the cut-off.
        - ``lifetime_days`` (float, days): first booking -> last booking before the gap
          (lapsed) or -> last booking (censored; a lower bound).
        - ``first_booking_date``, ``last_booking_date`` (last completed booking on/before
          the cut-off), ``lapse_booking_date`` (last booking before the gap; NaT if censored).
        - ``age_days`` (float, days): cut-off - first booking, the time survived so far.
    """
    cutoff = calendar_day(cutoff_date)
    done = completed_bookings(bookings, cutoff)
    cid = done["customer_id"].to_numpy()
    day = _days(pd.to_datetime(done["booking_date"]).to_numpy())
    code, ids = pd.factorize(cid, sort=True)  # = np.unique(return_inverse), 5x faster on strings
    ids = np.asarray(ids)
    n = len(ids)
    order = np.lexsort((day, code))
    code, day = code[order], day[order]
    cut = float(_days(np.array([cutoff.to_datetime64()]))[0])

    start = np.searchsorted(code, np.arange(n), side="left")
    stop = np.searchsorted(code, np.arange(n), side="right") - 1
    first, last = day[start], day[stop]
    same_next = np.r_[code[1:] == code[:-1], False]
    gap = np.r_[day[1:] - day[:-1], np.inf]
    is_gap = same_next & (gap > gap_days)
    # first gap per customer: position of the first True within each customer's run
    lapse_day = np.full(n, np.nan)
    gap_pos = np.flatnonzero(is_gap)
    if len(gap_pos):
        gcode = code[gap_pos]
        keep = np.r_[True, gcode[1:] != gcode[:-1]]
        lapse_day[gcode[keep]] = day[gap_pos[keep]]
    tail = np.isnan(lapse_day) & (cut - last >= gap_days)
    lapse_day[tail] = last[tail]
    event = ~np.isnan(lapse_day)

    duration = np.where(event, lapse_day + gap_days - first, cut - first)
    lifetime = np.where(event, lapse_day - first, last - first)

    def to_date(x: np.ndarray) -> np.ndarray:
        out = np.full(len(x), np.datetime64("NaT"), dtype="datetime64[ns]")
        ok = ~np.isnan(x)
        out[ok] = x[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
        return out

    index = pd.Index(ids, name="customer_id")
    table = pd.DataFrame(
        {
            DURATION_COL: duration.astype(np.float64),
            EVENT_COL: event.astype(np.int64),
            "lifetime_days": lifetime.astype(np.float64),
            "first_booking_date": to_date(first),
            "last_booking_date": to_date(last),
            "lapse_booking_date": to_date(lapse_day),
            AGE_COL: (cut - first).astype(np.float64),
        },
        index=index,
    )
    table.attrs.update(
        definition="lapse", cutoff_date=str(cutoff.date()), gap_days=int(gap_days)
    )
    return table


def membership_survival_table(
    customers: pd.DataFrame,
    *,
    cutoff_date,
    start_col: str = "signup_date",
    cancel_col: str = "membership_cancel_date",
    member_col: str = "loyalty_member",
) -> pd.DataFrame:
    """Contractual churn: time from joining a membership programme until cancellation.

    Members are customers flagged by ``member_col`` or with a cancellation date (a cancelled
    member may no longer carry the flag in a snapshot), who joined on/before the cut-off.
    A cancellation after the cut-off is unknown at the cut-off: such members are censored.

    Parameters
    ----------
    customers : contract ``customers`` table (or a membership export mapped onto it).
    cutoff_date : date-like; the end of the observation window.
    start_col, cancel_col, member_col : column names of the start date, cancellation date
        and membership flag (``member_col`` may be absent: everyone with a start date is a
        member).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``: ``duration_days`` (float, days: start -> cancellation when
        ``event == 1``, start -> cut-off when censored), ``event`` (int 0/1, cancelled
        on/before the cut-off), ``start_date``, ``cancel_date`` (NaT unless cancelled
        on/before the cut-off), ``age_days`` (cut-off - start). ``attrs["excluded"]`` counts
        rows left out: not a member, no start date, joined after the cut-off, cancellation
        before the start date.
    """
    cutoff = calendar_day(cutoff_date)
    c = customers.drop_duplicates("customer_id", keep="last")
    start = pd.to_datetime(c[start_col]).dt.normalize()
    if cancel_col in c.columns:
        cancel = pd.to_datetime(c[cancel_col]).dt.normalize()
    else:
        cancel = pd.Series(pd.NaT, index=c.index, dtype="datetime64[ns]")
    if member_col in c.columns:
        member = c[member_col].astype("boolean").fillna(False).to_numpy(dtype=bool)
        member |= cancel.notna().to_numpy()
    else:
        member = np.ones(len(c), dtype=bool)
    has_start = start.notna().to_numpy()
    joined = has_start & (start <= cutoff).to_numpy()
    cancelled = (cancel.notna() & (cancel <= cutoff)).to_numpy()
    bad = cancelled & (cancel < start).to_numpy()
    keep = member & joined & ~bad
    excluded = {
        "not_member": int((~member).sum()),
        "no_start_date": int((member & ~has_start).sum()),
        "joined_after_cutoff": int((member & has_start & ~joined).sum()),
        "cancel_before_start": int((member & joined & bad).sum()),
    }
    start_k = start.to_numpy()[keep]
    event = cancelled[keep]
    cancel_k = np.where(event, cancel.to_numpy()[keep], np.datetime64("NaT"))
    end = np.where(event, cancel_k, np.datetime64(cutoff.to_datetime64()))
    table = pd.DataFrame(
        {
            DURATION_COL: ((end - start_k) / _DAY).astype(np.float64),
            EVENT_COL: event.astype(np.int64),
            "start_date": start_k,
            "cancel_date": cancel_k.astype("datetime64[ns]"),
            AGE_COL: ((np.datetime64(cutoff.to_datetime64()) - start_k) / _DAY).astype(
                np.float64
            ),
        },
        index=pd.Index(c["customer_id"].to_numpy()[keep], name="customer_id"),
    ).sort_index()
    table.attrs.update(
        definition="membership", cutoff_date=str(cutoff.date()), excluded=excluded
    )
    return table


def months_as_days(end_date, months: Sequence[int]) -> list[int]:
    """Day counts of ``months`` whole calendar months ending at ``end_date``.

    ``(end - (end - m months)).days`` for each ``m`` (month-ends clamp, as in
    ``pd.DateOffset``), e.g. 12 / 24 / 72 months before 2018-09-30 are 365 / 730 / 2,191 days.
    """
    end = calendar_day(end_date)
    return [int((end - (end - pd.DateOffset(months=int(m)))).days) for m in months]


def whole_months(table: pd.DataFrame, cutoff_date, *, max_distinct: int = 5000) -> pd.Series | None:
    """Durations of a membership survival table in whole calendar months, when every one is.

    Parameters
    ----------
    table : :func:`membership_survival_table` output (``start_date``, ``cancel_date``,
        ``event``).
    cutoff_date : the table's cut-off (the end of censored lifetimes).
    max_distinct : more distinct (start, end) pairs than this: not month-based (day-level
        dates), answered without checking each pair.

    Returns
    -------
    pandas.Series or None
        Months per member (int, same index) when each lifetime runs from ``end - k months``
        to its end (cancellation or cut-off); None otherwise.
    """
    end = pd.to_datetime(table["cancel_date"]).where(table[EVENT_COL] == 1,
                                                     calendar_day(cutoff_date))
    start = pd.to_datetime(table["start_date"])
    if len(table) == 0 or start.isna().any():
        return None
    months = ((end.dt.year - start.dt.year) * 12 + end.dt.month - start.dt.month).astype(int)
    pairs = pd.DataFrame({"end": end, "k": months, "start": start}).drop_duplicates()
    if len(pairs) > max_distinct:
        return None
    for row in pairs.itertuples(index=False):
        if row.k < 0 or row.end - pd.DateOffset(months=int(row.k)) != row.start:
            return None
    return months


def survival_frame(
    survival_table: pd.DataFrame,
    features: pd.DataFrame,
    covariates: Sequence[str],
    categorical: Sequence[str] = (),
) -> pd.DataFrame:
    """Join a survival table with customer features (by ``customer_id``).

    Parameters
    ----------
    survival_table : output of :func:`lapse_survival_table`, :func:`membership_survival_table`
        or :func:`landmark_frame` (index ``customer_id``).
    features : one row per customer (index ``customer_id``), e.g.
        :func:`src.features.customer.customer_features` at the same cut-off.
    covariates, categorical : numeric/boolean and categorical feature columns to keep.

    Returns
    -------
    pandas.DataFrame
        The survival columns (``duration_days``, ``event``, ``entry_days`` and ``age_days``
        when present) and the requested features, one row per survival-table row (customers
        without features get missing values). Categorical columns become pandas
        ``category``. Encoding (one-hot with the first level dropped, median imputation
        with a missing indicator) is fitted inside :class:`ChurnModel` by
        :class:`CovariateEncoder`, so the same encoding is applied when scoring new
        customers. Requested columns that the features lack are skipped and named in
        ``attrs["missing_covariates"]``.
    """
    surv_cols = [c for c in RESERVED if c in survival_table.columns]
    wanted = list(dict.fromkeys([*covariates, *categorical]))
    present = [c for c in wanted if c in features.columns]
    missing = [c for c in wanted if c not in features.columns]
    frame = survival_table[surv_cols].join(features[present], how="left")
    for col in categorical:
        if col in frame.columns and not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")
    frame.attrs.update(survival_table.attrs)
    frame.attrs["missing_covariates"] = missing
    return frame


def _table(tables: Any, name: str) -> pd.DataFrame | None:
    if isinstance(tables, Mapping):
        return tables.get(name)
    return getattr(tables, name, None)


def landmark_frame(
    tables: Any,
    *,
    landmark_date,
    end_date=None,
    definition: Literal["lapse", "membership"] = "lapse",
    gap_days: int = 365,
    start_col: str = "signup_date",
    cancel_col: str = "membership_cancel_date",
    member_col: str = "loyalty_member",
    with_features: bool = True,
    time_origin: Literal["start", "landmark"] = "start",
) -> pd.DataFrame:
    """Customers alive at a landmark date, their age there and (optionally) what happened next.

    Parameters
    ----------
    tables : mapping (or object with attributes) holding the contract tables ``bookings``
        and optionally ``customers``, ``interactions``, ``feedback``.
    landmark_date : date-like; customers not yet churned on this date are kept; features are
        computed from rows on/before it only.
    end_date : date-like or None; end of follow-up. ``None`` gives a scoring frame (no
        outcome: ``duration_days = entry_days``, ``event = 0``).
    definition : ``"lapse"`` (:func:`lapse_survival_table`, with ``gap_days``) or
        ``"membership"`` (:func:`membership_survival_table` with the column names given).
    with_features : join :func:`src.features.customer.customer_features` as of the landmark.
    time_origin : ``"start"``: time is measured from the customer's start (first booking or
        membership start) and the landmark age is a late entry (``entry_days``), so models
        condition on the age reached; ``"landmark"``: time is measured from the landmark
        (``age_days = 0``, no late entry; put tenure among the covariates). For lapse churn
        the landmark scale fits better, because when a lapse can be declared depends on
        the recency at the landmark, not on the age.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``: ``entry_days`` = ``age_days`` (days from the time origin, the
        first booking or membership start, to the landmark; with ``time_origin="landmark"``
        no ``entry_days`` and ``age_days = 0``), ``duration_days`` (days from the time origin
        to the churn event or to ``end_date``), ``event`` (1: churned in
        ``(landmark, end_date]``), the start date, then the features.
    """
    landmark = calendar_day(landmark_date)

    def table_at(date: pd.Timestamp) -> pd.DataFrame:
        if definition == "lapse":
            return lapse_survival_table(
                _table(tables, "bookings"), cutoff_date=date, gap_days=gap_days
            )
        if definition == "membership":
            customers = _table(tables, "customers")
            if customers is None:
                raise ValueError("membership churn needs the customers table")
            return membership_survival_table(
                customers, cutoff_date=date, start_col=start_col, cancel_col=cancel_col,
                member_col=member_col,
            )
        raise ValueError(f"definition must be 'lapse' or 'membership', not {definition!r}")

    at = table_at(landmark)
    alive = at.loc[at[EVENT_COL] == 0]
    entry = alive[AGE_COL].to_numpy(dtype=np.float64)
    origin_col = "first_booking_date" if definition == "lapse" else "start_date"
    frame = pd.DataFrame(index=alive.index)
    frame[ENTRY_COL] = entry
    frame[AGE_COL] = entry
    if end_date is None:
        frame[DURATION_COL] = entry
        frame[EVENT_COL] = 0
    else:
        end = calendar_day(end_date)
        if end <= landmark:
            raise ValueError("end_date must be after landmark_date")
        later = table_at(end).reindex(alive.index)
        origin = alive[origin_col].to_numpy(dtype="datetime64[ns]")
        later_origin = later[origin_col].to_numpy(dtype="datetime64[ns]")
        event = later[EVENT_COL].fillna(0).to_numpy(dtype=np.int64)
        # event date on the calendar, re-expressed from the landmark's time origin
        event_date = later_origin + (later[DURATION_COL].to_numpy() * _DAY).astype(
            "timedelta64[ns]"
        )
        follow = (np.datetime64(end.to_datetime64()) - origin) / _DAY
        dur = np.where(event == 1, (event_date - origin) / _DAY, follow)
        frame[DURATION_COL] = dur.astype(np.float64)
        frame[EVENT_COL] = event
    frame = frame[[DURATION_COL, EVENT_COL, ENTRY_COL, AGE_COL]]
    if time_origin == "landmark":
        frame[DURATION_COL] = frame[DURATION_COL] - frame[ENTRY_COL]
        frame[AGE_COL] = 0.0
        frame = frame.drop(columns=[ENTRY_COL])
    elif time_origin != "start":
        raise ValueError(f"time_origin must be 'start' or 'landmark', not {time_origin!r}")
    frame[origin_col] = alive[origin_col]
    if with_features:
        source = tables if isinstance(tables, Mapping) else {
            name: _table(tables, name) for name in ("bookings", "customers", "interactions", "feedback")
            if _table(tables, name) is not None}
        feats = features_at(source, landmark)  # from the run's feature cache when it has one
        feats = feats.drop(columns=[c for c in frame.columns if c in feats.columns])
        frame = frame.join(feats, how="left")
    frame.attrs.update(
        definition=definition,
        landmark_date=str(landmark.date()),
        end_date=None if end_date is None else str(calendar_day(end_date).date()),
        gap_days=int(gap_days),
        time_origin=time_origin,
    )
    return frame


def time_split(
    tables: Any,
    *,
    train_cutoff,
    test_cutoff,
    train_window_days: int | None = None,
    definition: Literal["lapse", "membership"] = "lapse",
    gap_days: int = 365,
    start_col: str = "signup_date",
    cancel_col: str = "membership_cancel_date",
    member_col: str = "loyalty_member",
    with_features: bool = True,
    time_origin: Literal["start", "landmark"] = "start",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test landmark frames for a time-based holdout.

    The model is fitted as of ``train_cutoff`` (using no row after it) and evaluated on what
    happened afterwards:

    - train: customers alive at ``train_cutoff - train_window_days``, features then, churn in
      ``(train_cutoff - train_window_days, train_cutoff]``;
    - test: customers alive at ``train_cutoff``, features then, churn in
      ``(train_cutoff, test_cutoff]``.

    Parameters
    ----------
    tables : mapping (or object with attributes) of contract tables.
    train_cutoff, test_cutoff : date-like, ``train_cutoff < test_cutoff``.
    train_window_days : follow-up of the training landmark (days); default the test window
        ``test_cutoff - train_cutoff``, so both frames look equally far ahead.
    definition, gap_days, start_col, cancel_col, member_col, with_features, time_origin :
        see :func:`landmark_frame`.

    Returns
    -------
    (train_df, test_df) : two :func:`landmark_frame` outputs.
    """
    train_end = calendar_day(train_cutoff)
    test_end = calendar_day(test_cutoff)
    if test_end <= train_end:
        raise ValueError("test_cutoff must be after train_cutoff")
    window = train_window_days or int((test_end - train_end).days)
    kw = dict(
        definition=definition, gap_days=gap_days, start_col=start_col, cancel_col=cancel_col,
        member_col=member_col, with_features=with_features, time_origin=time_origin,
    )
    train = landmark_frame(
        tables, landmark_date=train_end - pd.Timedelta(days=window), end_date=train_end, **kw
    )
    test = landmark_frame(tables, landmark_date=train_end, end_date=test_end, **kw)
    return train, test


def lifetime_table(tables: Any, *, cutoff_date, definition: Literal["lapse", "membership"] = "lapse",
                   gap_days: int = 365, start_col: str = "signup_date",
                   cancel_col: str = "membership_cancel_date", member_col: str = "loyalty_member",
                   group_cols: Sequence[str] = ()) -> pd.DataFrame:
    """One (duration, event) row per customer under the chosen churn definition, with the
    customer attributes in ``group_cols`` joined (those present), for Kaplan-Meier views.

    Parameters
    ----------
    tables : mapping with ``bookings`` and (for membership churn or groups) ``customers``.
    cutoff_date : end of observation; nothing after it is used.
    definition : ``"lapse"`` (inactivity gap of ``gap_days``) or ``"membership"`` (explicit
        cancellation date).
    group_cols : customer columns to split curves by, e.g. customer_type, acquisition_channel.
        A group must be known when each lifetime starts: a snapshot column of the extraction
        day (``member_tier``, consent, region: :func:`src.data.contract.snapshot_columns`)
        describes how the lifetime *ended* (a lapsed customer's tier has fallen), so curves by
        it are circular; such columns are left out and named in ``attrs["snapshot_groups"]``.
        A snapshot export's own attributes (:func:`src.features.cache.attribute_columns`,
        e.g. a subscription's contract) are its only description of each member: they are
        used at a cut-off on their as-of date (descriptive curves, as lifelines users draw
        them) and left out, named there too, at an earlier cut-off.
    """
    if definition == "lapse":
        table = lapse_survival_table(_table(tables, "bookings"), cutoff_date=cutoff_date, gap_days=gap_days)
    else:
        customers = _table(tables, "customers")
        if customers is None:
            raise ValueError("membership churn needs the customers table")
        table = membership_survival_table(customers, cutoff_date=cutoff_date, start_col=start_col,
                                          cancel_col=cancel_col, member_col=member_col)
    customers = _table(tables, "customers")
    snapshots = set(snapshot_columns()["customers"])
    if isinstance(tables, Mapping):
        snapshots |= set(attribute_columns(tables, cutoff_date)[1])
    cols = [c for c in group_cols if customers is not None and c in customers.columns
            and c not in snapshots]
    if cols:
        table = table.join(customers.set_index("customer_id")[cols], how="left")
    table.attrs["snapshot_groups"] = [c for c in group_cols if c in snapshots]
    return table
