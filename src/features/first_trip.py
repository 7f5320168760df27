"""The first-trip table: one row per customer with the features of its first trip (the first
booking, its survey and complaints, the customer's signup attributes; days, currency, counts)
and whether a second purchase followed within ``horizon_days`` days of the first booking, as
of a cut-off date. Built from the purchases of :mod:`src.features.definitions` (bookings not
cancelled / no-show as known at the cut-off, one calendar day per ``booking_date``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from src.data.contract import COMPLAINT_CATEGORIES
from src.features.definitions import as_days, calendar_day, purchases, trip_end

__all__ = [
    "CATEGORICAL_FEATURES",
    "FLAG_FEATURES",
    "LABEL",
    "LOW_CSAT_MAX",
    "NUMERIC_FEATURES",
    "booking_order",
    "first_trip_table",
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
"""Categorical first-trip features (str, NaN when unknown; those the inputs allow);
:class:`~src.models.repeat_booking.RepeatBookingModel` one-hot encodes them."""

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
"""Numeric first-trip features (float64, NaN allowed; those the inputs allow);
:class:`~src.models.repeat_booking.RepeatBookingModel` passes them through as numbers."""

FLAG_FEATURES: tuple[str, ...] = (
    *(f"first_trip_complaint_{c}" for c in COMPLAINT_CATEGORIES),
    "first_trip_low_csat",
)
"""0/1 first-trip flags (float64; those the inputs allow): a complaint of each contract
category about the first trip, and a first-trip survey with ``csat <= LOW_CSAT_MAX``. The
baseline covariates of the full-history churn analysis
(:func:`src.models.churn.analysis.full_history_analysis`); not repeat-booking features."""

LOW_CSAT_MAX: int = 2
"""A first-trip ``csat`` (1-5) at or below this value is low satisfaction (the bottom two
boxes)."""

LABEL = "repeat_booking"
"""Label column of :func:`first_trip_table`: 1.0 / 0.0, NaN while the window is open."""

_DAY = pd.Timedelta(days=1)


def _table(tables: Mapping[str, pd.DataFrame | None], name: str) -> pd.DataFrame | None:
    t = tables.get(name)
    return t if isinstance(t, pd.DataFrame) else None


def _trip_end(rows: pd.DataFrame) -> pd.Series:
    """:func:`~src.features.definitions.trip_end` as a calendar day."""
    return trip_end(rows).dt.normalize()


def booking_order(rows: pd.DataFrame) -> np.ndarray:
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
    complaint_attribution: Literal["window", "last_trip"] = "window",
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
    complaint_attribution : ``"window"``: every complaint in the first-trip window is about
        the first trip (no other booking is read: what the repeat-booking features need, since
        a later trip tells of the label); ``"last_trip"``: a complaint is about the trip that
        ended most recently on/before its day (the first trip when none has ended yet), so
        one logged after another trip ended more recently than the first is not a first-trip
        complaint. Without a booking link on
        complaints, a complaint 8 days after the first trip and 2 days after the second is
        about the second; the full-history churn analysis, whose covariates are as of the
        end of the window, uses ``"last_trip"``.

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
    The outcome columns must never be used as features
    (:class:`~src.models.repeat_booking.RepeatBookingModel` reads only the feature columns).
    The exact definitions (all times in days):

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
        complaints logged from the first booking date to ``feedback_window_days`` after the
        trip ended (with ``complaint_attribution="last_trip"``: and about the first trip, the
        trip that ended most recently before the complaint): ``first_trip_complaints`` count,
        ``first_trip_complaint_category`` of the earliest one (``"none"`` without), the 0/1
        flags ``first_trip_complaint_<category>`` of :data:`FLAG_FEATURES`;
        ``first_trip_low_csat`` (1 when the first-trip survey has ``csat <= LOW_CSAT_MAX``,
        0 otherwise, also without a survey); customer attributes fixed at signup (``customer_type``,
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
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    cutoff = calendar_day(cutoff_date)
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
    rows = rows.iloc[booking_order(rows)]
    rows["_end"] = _trip_end(rows).to_numpy()
    rows["_row"] = np.arange(len(rows))
    first = rows.drop_duplicates("customer_id", keep="first").set_index("customer_id")
    first = first.loc[(first["_end"] <= cutoff).to_numpy()]
    if first_trip_from is not None:
        first = first.loc[(first["booking_date"] >= calendar_day(first_trip_from)).to_numpy()]
    if first_trip_to is not None:
        first = first.loc[(first["booking_date"] <= calendar_day(first_trip_to)).to_numpy()]
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
        start = as_days(first["travel_start"])
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
        if "csat" in feedback.columns:
            out["first_trip_low_csat"] = (out["first_trip_csat"] <= LOW_CSAT_MAX).astype(float)
    interactions = _table(tables, "interactions")
    if interactions is None:
        missing.append("interactions")
    else:
        if complaint_attribution not in ("window", "last_trip"):
            raise ValueError("complaint_attribution must be 'window' or 'last_trip', not "
                             f"{complaint_attribution!r}")
        comp = _first_trip_complaints(interactions, first, window_end, cutoff,
                                      rows if complaint_attribution == "last_trip" else None)
        out["first_trip_complaints"] = comp.groupby("customer_id").size().reindex(ids).fillna(
            0).astype(float)
        if "complaint_category" in interactions.columns:
            earliest = comp.drop_duplicates("customer_id").set_index("customer_id")
            cat = earliest["complaint_category"].astype(object).fillna("unknown").reindex(ids)
            out["first_trip_complaint_category"] = _as_str(cat).where(
                out["first_trip_complaints"] > 0, "none")
            cats = comp["complaint_category"].astype(object)
            for c in COMPLAINT_CATEGORIES:
                out[f"first_trip_complaint_{c}"] = out.index.isin(
                    comp.loc[(cats == c).to_numpy(), "customer_id"]).astype(float)
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
                (first["booking_date"] - as_days(attrs["signup_date"])) / _DAY).astype(float)
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
    fb = fb.assign(_date=as_days(fb["date"]))
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
        start = as_days(first["travel_start"]).fillna(first["booking_date"])
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
                           window_end: pd.Series, cutoff: pd.Timestamp,
                           rows: pd.DataFrame | None) -> pd.DataFrame:
    """The complaints about the first trip (rows of ``interactions``, earliest first, with
    ``customer_id`` and ``complaint_category`` when present): logged from the first booking
    day to ``window_end`` and on/before the cut-off, and, given ``rows`` (the purchases with
    their trip end ``_end``), about the first trip: no other trip ended on/before the complaint
    day later than the first one did (or while the first was not over)."""
    comp = interactions.loc[(interactions["kind"].astype(object) == "complaint").to_numpy()]
    comp = comp.loc[comp["customer_id"].isin(first.index)]
    ts = pd.to_datetime(comp["timestamp"])
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    day = ts.dt.normalize()
    lo = first["booking_date"].reindex(comp["customer_id"]).to_numpy()
    hi = window_end.reindex(comp["customer_id"]).to_numpy()
    keep = (day.to_numpy() >= lo) & (day.to_numpy() <= hi) & (day <= cutoff).to_numpy()
    cols = [c for c in ("customer_id", "complaint_category") if c in comp.columns]
    comp = comp.loc[keep, cols].assign(_ts=ts[keep].to_numpy(), _day=day[keep].to_numpy(),
                                       customer_id=comp["customer_id"].to_numpy(dtype=object)[keep])
    # the latest end of another trip on/before the complaint day: after the first trip's
    # end, the complaint is about that later trip
    if rows is None:
        return comp.sort_values(["_ts"], kind="stable")[cols + ["_ts"]]
    others = rows.loc[~rows["_row"].isin(first["_row"]).to_numpy(), ["customer_id", "_end"]]
    others = others.dropna().astype({"customer_id": object}).sort_values("_end", kind="stable")
    comp = comp.sort_values("_day", kind="stable")
    if len(comp) and len(others):
        comp = pd.merge_asof(comp, others.rename(columns={"_end": "_other_end"}),
                             left_on="_day", right_on="_other_end", by="customer_id",
                             direction="backward")
        first_end = first["_end"].reindex(comp["customer_id"]).to_numpy()
        other_end = comp["_other_end"].to_numpy()
        # another trip ended more recently than the first one (or the first is not over)
        later = comp["_other_end"].notna().to_numpy() & (
            (other_end > first_end) | (first_end > comp["_day"].to_numpy()))
        comp = comp.loc[~later]
    return comp.sort_values(["_ts"], kind="stable")[cols + ["_ts"]]
