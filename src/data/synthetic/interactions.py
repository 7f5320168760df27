"""The interactions and feedback of the synthetic data: complaints, marketing, surveys.

:func:`interactions_table` builds the contract ``interactions`` table (complaints logged
after trips, e-mail / SMS / app-push campaigns with opens and clicks, inquiries; timestamps to
the second) and :func:`feedback_table` the ``feedback`` table (survey answers dated 1-14 days
after the trip ended, ``csat`` 1-5, ``nps`` 0-10, some free-text comments). Days are integer
days since the generator's start date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.data.contract import (
    COMPLAINT_CATEGORIES,
    CONTACT_CHANNELS,
    INTERACTION_KINDS,
)
from src.data.synthetic.sampling import days_to_datetime, draw_categorical
from src.data.synthetic.vocabularies import BOOKING_CHANNELS

__all__ = [
    "COMMENT_RATE",
    "feedback_table",
    "interactions_table",
]

_COMMENTS_GOOD = ("服务很好，下次还会再来", "酒店干净，位置方便", "Great trip, smooth check-in",
                  "导游非常专业", "Everything as described", "性价比很高")
_COMMENTS_BAD = ("退款太慢", "房间和图片不符", "Room was not as advertised", "导游态度差",
                 "Flight was rescheduled without notice", "客服电话一直打不通")
COMMENT_RATE: float = 0.25
"""Share of survey answers with a free-text comment."""


def interactions_table(
    rng: np.random.Generator,
    n: int,
    customer_ids: np.ndarray,
    signup_day: np.ndarray,
    start: np.datetime64,
    end_day: int,
    consent: dict[str, np.ndarray],
    preferred_channel: np.ndarray,
    comp_cust: np.ndarray,
    comp_cat: np.ndarray,
    comp_day: np.ndarray,
) -> pd.DataFrame:
    """Complaints (after trips) plus light marketing traffic and inquiries.

    Marketing per customer: e-mail campaigns ~ Poisson(1.2) if e-mail consent, SMS ~
    Poisson(0.4) if SMS consent, app pushes ~ Poisson(0.3) for app-first customers; opened
    with probability 0.35 (e-mail, app push), clicked with probability 0.3 once opened;
    inquiries ~ Poisson(0.25). Average ~2-4 rows per customer.
    """
    sec_per_day = 86_400
    ch = {c: i for i, c in enumerate(CONTACT_CHANNELS)}
    kind = {c: i for i, c in enumerate(INTERACTION_KINDS)}
    first_day = np.maximum(signup_day, 0)
    span = (end_day + 1 - first_day).astype(float)  # days available, >= 1

    parts_cust, parts_ts, parts_ch, parts_kind, parts_cat = [], [], [], [], []

    def add(cust: np.ndarray, ts: np.ndarray, channel: np.ndarray | int, kind_: int,
            cat: np.ndarray | int = -1) -> None:
        ok = ts < (end_day + 1) * sec_per_day
        parts_cust.append(cust[ok])
        parts_ts.append(ts[ok])
        parts_ch.append(np.broadcast_to(np.asarray(channel, dtype=np.int8), ts.shape)[ok])
        parts_kind.append(np.full(int(ok.sum()), kind_, dtype=np.int8))
        parts_cat.append(np.broadcast_to(np.asarray(cat, dtype=np.int8), ts.shape)[ok])

    # complaints: day after the trip + time of day
    comp_ts = comp_day.astype(np.int64) * sec_per_day + rng.integers(8 * 3600, 22 * 3600,
                                                                    comp_cust.size)
    comp_ch = draw_categorical(rng, np.zeros(comp_cust.size, dtype=np.int8),
                                np.array([[0.3, 0.0, 0.45, 0.1, 0.15]]))
    add(comp_cust.astype(np.int32), comp_ts, comp_ch, kind["complaint"], comp_cat)

    app_first = preferred_channel == BOOKING_CHANNELS.index("app")
    for channel, rate, who in (("email", 1.2, consent["consent_email"]),
                               ("sms", 0.4, consent["consent_sms"]),
                               ("app_push", 0.3, app_first)):
        cnt = rng.poisson(rate, n) * who
        cust = np.repeat(np.arange(n, dtype=np.int32), cnt)
        ts = ((first_day[cust] + rng.random(cust.size) * span[cust]) * sec_per_day).astype(
            np.int64)
        add(cust, ts, ch[channel], kind["campaign_sent"])
        if channel != "sms":
            opened = rng.random(cust.size) < 0.35
            o_cust = cust[opened]
            o_ts = ts[opened] + rng.exponential(6 * 3600, o_cust.size).astype(np.int64)
            add(o_cust, o_ts, ch[channel], kind["opened"])
            clicked = rng.random(o_cust.size) < 0.3
            c_ts = o_ts[clicked] + rng.exponential(600, int(clicked.sum())).astype(np.int64)
            add(o_cust[clicked], c_ts, ch[channel], kind["clicked"])
    cnt = rng.poisson(0.25, n)
    cust = np.repeat(np.arange(n, dtype=np.int32), cnt)
    ts = ((first_day[cust] + rng.random(cust.size) * span[cust]) * sec_per_day).astype(np.int64)
    inq_ch = np.array([ch["phone"], ch["email"], ch["social"]])[
        draw_categorical(rng, np.zeros(cust.size, dtype=np.int8), np.array([[0.5, 0.25, 0.25]]))]
    add(cust, ts, inq_ch, kind["inquiry"])

    cust = np.concatenate(parts_cust)
    ts = np.concatenate(parts_ts)
    order = np.lexsort((cust, ts))
    cat = np.concatenate(parts_cat)[order]
    return pd.DataFrame({
        "customer_id": customer_ids[cust[order]],
        "timestamp": (start.astype("datetime64[s]") + ts[order].astype("timedelta64[s]")
                      ).astype("datetime64[ns]"),
        "channel": pd.Categorical.from_codes(np.concatenate(parts_ch)[order],
                                             categories=list(CONTACT_CHANNELS)),
        "kind": pd.Categorical.from_codes(np.concatenate(parts_kind)[order],
                                          categories=list(INTERACTION_KINDS)),
        "complaint_category": pd.Categorical.from_codes(cat,
                                                        categories=list(COMPLAINT_CATEGORIES)),
    })


def feedback_table(
    rng: np.random.Generator,
    start: np.datetime64,
    end_day: int,
    customer_ids: np.ndarray,
    process_booking_ids: np.ndarray,
    b_cust: np.ndarray,
    trip_end: np.ndarray,
    has_fb: np.ndarray,
    fb_day: np.ndarray,
    csat: np.ndarray,
    nps: np.ndarray,
) -> pd.DataFrame:
    """Survey answers of the process bookings, in date order.

    A booking gets a row when it was chosen for a survey (``has_fb``) and both the trip and
    the answer fall on or before ``end_day``; a share :data:`COMMENT_RATE` carry a comment,
    positive when ``csat >= 4``.

    Parameters
    ----------
    start : the start date (day 0).
    end_day : the extraction day, days since ``start``.
    customer_ids : (n,) customer ids.
    process_booking_ids, b_cust, trip_end, has_fb, fb_day, csat, nps : (m,) per process
        booking: booking id, customer index, trip end day, survey chosen, answer day, csat and
        nps.
    """
    fb_ok = has_fb & (fb_day <= end_day) & (trip_end <= end_day)
    fb_idx = np.flatnonzero(fb_ok)
    comment = np.full(fb_idx.size, None, dtype=object)
    with_comment = rng.random(fb_idx.size) < COMMENT_RATE
    good = csat[fb_idx] >= 4
    pick_good = np.asarray(_COMMENTS_GOOD, dtype=object)[rng.integers(0, len(_COMMENTS_GOOD),
                                                                      fb_idx.size)]
    pick_bad = np.asarray(_COMMENTS_BAD, dtype=object)[rng.integers(0, len(_COMMENTS_BAD),
                                                                    fb_idx.size)]
    comment[with_comment & good] = pick_good[with_comment & good]
    comment[with_comment & ~good] = pick_bad[with_comment & ~good]
    fo = np.lexsort((b_cust[fb_idx], fb_day[fb_idx]))
    fb_idx, comment = fb_idx[fo], comment[fo]
    return pd.DataFrame({
        "customer_id": customer_ids[b_cust[fb_idx]],
        "booking_id": process_booking_ids[fb_idx],
        "date": days_to_datetime(start, fb_day[fb_idx]),
        "csat": csat[fb_idx],
        "nps": nps[fb_idx],
        "comment": comment,
    })
