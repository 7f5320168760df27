"""Planted campaign effects: what an earlier list did to the synthetic company's customers.

The synthetic world is generated without any campaign. To check that ``06_campaign_results``
measures uplift correctly, a job can plant an effect per list
(``data.synthetic.campaign_effects``): every *treated* customer of an earlier publication
of that list books one extra trip, with probability ``q``, at a uniformly drawn day of the
publication's measurement window ``(cut-off, cut-off + measure_days]``. Control customers
are never touched, so the world of the controls is the world without the campaign.

Because the generator knows each customer's outcome without the campaign, the planted
uplift of a list is exact, not a guess: on the booking rate (share of customers with a
booking in the window) it is ``q`` times the share of the list's customers (both arms:
the arms are a random split of the same list) who made no booking in the window without
the campaign; on revenue per customer it is ``q`` times the mean amount of the extra
booking a member would make (their latest booking's amount; the drawn amount has that
mean).
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = ["PLANTED_COLUMNS", "plant_campaign_effects"]

#: the planted-effects table, one row per (publication, list)
PLANTED_COLUMNS = ["run_id", "cutoff_date", "window_end", "list", "effect_probability",
                   "members", "treated", "baseline_booking_rate", "planted_uplift",
                   "planted_revenue_uplift", "extra_bookings"]

_AMOUNT_SIGMA = 0.2  # log-normal spread of the extra booking's amount around the latest one


def _window_bookers(bookings: pd.DataFrame, start: date, end: date) -> set[str]:
    """Customers with a non-cancelled booking dated in ``(start, end]``."""
    day = pd.to_datetime(bookings["booking_date"]).dt.normalize()
    live = bookings["status"].astype(str) != "cancelled"
    hit = live & (day > pd.Timestamp(start)) & (day <= pd.Timestamp(end))
    return set(bookings.loc[hit, "customer_id"].astype(str))


def plant_campaign_effects(
    bookings: pd.DataFrame,
    assignments: pd.DataFrame,
    effects: dict[str, float],
    *,
    measure_days: int,
    extraction_date: date,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the extra bookings of the treated customers of earlier publications.

    Parameters
    ----------
    bookings : the generated ``bookings`` table (contract columns).
    assignments : the register rows of the earlier publications: ``run_id``, ``list``,
        ``customer_id``, ``arm`` (``treated`` / ``control``), ``cutoff_date``.
    effects : list (action name) -> probability ``q`` in [0, 1] that a treated customer
        books an extra trip in the window; lists not named have no effect.
    measure_days : the measurement window after each publication's cut-off (days).
    extraction_date : the last day of the data; windows are cut there.
    seed : the job's seed (with the publication and list, seeds the draws).

    Returns
    -------
    bookings : the table with the extra bookings appended (ids ``BC<9 digits>``), sorted by
        booking date.
    planted : one row per (publication, list), :data:`PLANTED_COLUMNS`.
    """
    if assignments.empty:
        return bookings, pd.DataFrame(columns=PLANTED_COLUMNS)
    latest = (bookings.sort_values("booking_date", kind="stable")
              .drop_duplicates("customer_id", keep="last").set_index("customer_id"))
    extra_rows: list[pd.DataFrame] = []
    planted: list[dict] = []
    pubs = assignments[["run_id", "cutoff_date"]].drop_duplicates().sort_values("cutoff_date")
    for run_id, cutoff in pubs.itertuples(index=False):
        start = date.fromisoformat(str(cutoff)[:10])
        end = min(start + timedelta(days=int(measure_days)), extraction_date)
        if end <= start:
            continue
        booked = _window_bookers(bookings, start, end)  # without the campaign
        pub = assignments[(assignments["run_id"] == run_id)]
        for name, members in pub.groupby("list", sort=True):
            q = float(effects.get(str(name), 0.0))
            ids = members["customer_id"].astype(str).to_numpy()
            treated = ids[(members["arm"] == "treated").to_numpy()]
            no_booking = ~np.isin(ids, list(booked))
            last_amount = latest["amount"].reindex(ids).astype(float).fillna(0.0).to_numpy()
            row = {"run_id": run_id, "cutoff_date": str(start), "window_end": str(end),
                   "list": str(name), "effect_probability": q, "members": len(ids),
                   "treated": len(treated),
                   "baseline_booking_rate": float(1 - no_booking.mean()) if len(ids) else np.nan,
                   "planted_uplift": float(q * no_booking.mean()) if len(ids) else np.nan,
                   "planted_revenue_uplift": float(q * last_amount.mean()) if len(ids) else np.nan,
                   "extra_bookings": 0}
            if q > 0 and len(treated):
                rng = np.random.default_rng([seed & 0xFFFFFFFF, start.toordinal(),
                                             zlib.crc32(str(name).encode("utf-8"))])
                takers = treated[rng.random(len(treated)) < q]
                takers = takers[np.isin(takers, latest.index.astype(str))]
                if len(takers):
                    extra_rows.append(_extra_bookings(latest, takers, start, end, rng))
                    row["extra_bookings"] = len(takers)
            planted.append(row)
    if not extra_rows:
        return bookings, pd.DataFrame(planted, columns=PLANTED_COLUMNS)
    extra = pd.concat(extra_rows, ignore_index=True)
    extra["booking_id"] = [f"BC{i:09d}" for i in range(1, len(extra) + 1)]
    extra["completed_by"] = extra["travel_start"] + pd.to_timedelta(extra["nights"], unit="D")
    done = extra["completed_by"] <= pd.Timestamp(extraction_date)
    extra["status"] = np.where(done, "completed", "confirmed")
    if "status_date" in bookings.columns:
        extra["status_date"] = extra["completed_by"].where(done, extra["booking_date"])
    extra = extra.drop(columns="completed_by")[[c for c in bookings.columns if c in extra.columns]]
    out = pd.concat([bookings, extra.astype({c: bookings[c].dtype for c in extra.columns
                                             if isinstance(bookings[c].dtype, pd.CategoricalDtype)
                                             and c != "status"})],
                    ignore_index=True)
    if isinstance(bookings["status"].dtype, pd.CategoricalDtype):
        out["status"] = pd.Categorical(out["status"].astype(str),
                                       categories=bookings["status"].cat.categories)
    out = out.sort_values("booking_date", kind="stable").reset_index(drop=True)
    return out, pd.DataFrame(planted, columns=PLANTED_COLUMNS)


def _extra_bookings(latest: pd.DataFrame, takers: np.ndarray, start: date, end: date,
                    rng: np.random.Generator) -> pd.DataFrame:
    """One extra booking per taker, like their latest one: same product, destination,
    channel and party; amount log-normal around the latest amount (mean preserved); booked on
    a uniform day of ``(start, end]``, travelling 7-60 days later."""
    base = latest.loc[takers].reset_index()
    span = (end - start).days
    day = pd.Timestamp(start) + pd.to_timedelta(rng.integers(1, span + 1, len(takers)), unit="D")
    factor = np.exp(rng.normal(-_AMOUNT_SIGMA ** 2 / 2, _AMOUNT_SIGMA, len(takers)))
    out = base.copy()
    out["booking_date"] = day
    out["travel_start"] = day + pd.to_timedelta(rng.integers(7, 61, len(takers)), unit="D")
    out["amount"] = np.round(base["amount"].astype(float).to_numpy() * factor, 2)
    return out
