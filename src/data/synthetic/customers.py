"""The customers of the synthetic data: attributes, PII and member tiers.

:func:`customers_table` draws the contract ``customers`` table (signup date, birth year,
gender, home region, acquisition channel, consents, names with unique e-mails and phone
numbers) from each customer's persona; :func:`tier_codes` and :func:`assign_member_tiers`
derive the member tier from the completed trips ending in a trailing window of
:data:`~src.data.synthetic.planted.TIER_WINDOW_DAYS` days. Dates are integer days since the
generator's start date until they become ``datetime64[ns]`` columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.data.synthetic.planted import (
    ACQUISITION_CHANNELS,
    GENDER_PROBS,
    GENDERS,
    HOME_REGIONS,
    TIER_THRESHOLDS,
    TIER_WINDOW_DAYS,
    Persona,
)
from src.data.synthetic.sampling import (
    days_to_datetime,
    draw_categorical,
    persona_values,
    prob_matrix,
)
from src.data.synthetic.vocabularies import CUSTOMER_KINDS, MEMBER_TIERS

__all__ = [
    "assign_member_tiers",
    "customers_table",
    "tier_codes",
]

# Names (PII) -------------------------------------------------------------------------------

_CN_SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
)
_CN_GIVEN: tuple[tuple[str, str], ...] = (
    ("芳", "fang"), ("伟", "wei"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"),
    ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂英", "guiying"), ("晨", "chen"),
    ("雪", "xue"), ("浩然", "haoran"), ("子涵", "zihan"), ("欣怡", "xinyi"), ("宇轩", "yuxuan"),
    ("梓萱", "zixuan"), ("俊杰", "junjie"), ("佳怡", "jiayi"), ("建国", "jianguo"),
    ("海燕", "haiyan"),
)
_WESTERN_FIRST: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Thomas", "Jessica", "Daniel",
    "Sarah", "Oliver", "Emma", "Lucas", "Sophie", "Henry", "Charlotte",
)
_WESTERN_LAST: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Thompson", "White", "Clark", "Lewis", "Walker",
    "Hall", "Young", "King", "Wright", "Scott", "Green",
)
_CN_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com")
_WESTERN_EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com")
_CN_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                       "151", "152", "158", "159", "166", "177", "180", "181", "186", "187",
                       "188", "189", "199")
_CHINESE_NAME_SHARE = {"china": 0.97, "greater_china": 0.85, "overseas": 0.15}


def customers_table(
    rng: np.random.Generator,
    start: np.datetime64,
    persona: np.ndarray,
    personas: list[Persona],
    acq_day: np.ndarray,
    customer_ids: np.ndarray,
    member: np.ndarray,
    membership_cancel_date: np.ndarray,
    tier: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """The contract ``customers`` table of the customers drawn so far.

    ``signup_date`` is the first booking day or (40 %) 1-180 days before it; birth year,
    region, acquisition channel, consents from the persona; names, e-mails and phones from the
    region (:func:`_pii`).

    Parameters
    ----------
    start : the start date (day 0).
    persona : (n,) persona index of each customer (into ``personas``).
    acq_day : (n,) first booking day, integer days since ``start``.
    customer_ids : (n,) customer ids.
    member : (n,) bool, loyalty-programme member.
    membership_cancel_date : (n,) cancellation date (NaT: none by the extraction date).
    tier : (n,) member tier index into ``MEMBER_TIERS`` (:func:`tier_codes`).

    Returns
    -------
    customers : the table, one row per customer.
    signup_day : (n,) signup day, integer days since ``start``.
    consent : ``consent_email`` / ``consent_sms`` / ``consent_phone`` -> (n,) bool.
    """
    n = customer_ids.shape[0]
    pre = rng.random(n) < 0.4
    signup_day = acq_day - np.where(pre, rng.integers(1, 181, n), 0)
    by_lo, by_hi = (np.array([p.birth_year_range[i] for p in personas]) for i in (0, 1))
    birth_year = rng.integers(by_lo[persona], by_hi[persona] + 1).astype(np.int16)
    region = draw_categorical(rng, persona, prob_matrix("region_probs", personas))
    acq_channel = draw_categorical(rng, persona,
                                   prob_matrix("acquisition_channel_probs", personas))
    gender = draw_categorical(rng, np.zeros(n, dtype=np.int8), np.array([GENDER_PROBS]))
    consent = {c: rng.random(n) < persona_values(c, personas)[persona]
               for c in ("consent_email", "consent_sms", "consent_phone")}
    names, emails, phones = _pii(rng, n, region)
    ctype = np.array([CUSTOMER_KINDS.index(p.customer_type) for p in personas])[persona]
    customers = pd.DataFrame({
        "customer_id": customer_ids,
        "signup_date": days_to_datetime(start, signup_day),
        "birth_year": birth_year,
        "gender": pd.Categorical.from_codes(gender, categories=list(GENDERS)),
        "home_region": pd.Categorical.from_codes(region, categories=list(HOME_REGIONS)),
        "member_tier": pd.Categorical.from_codes(tier, categories=list(MEMBER_TIERS)),
        "customer_type": pd.Categorical.from_codes(ctype, categories=list(CUSTOMER_KINDS)),
        "acquisition_channel": pd.Categorical.from_codes(acq_channel,
                                                         categories=list(ACQUISITION_CHANNELS)),
        "consent_email": consent["consent_email"],
        "consent_sms": consent["consent_sms"],
        "consent_phone": consent["consent_phone"],
        "loyalty_member": member,
        "membership_cancel_date": membership_cancel_date.astype("datetime64[ns]"),
        "name": names,
        "email": emails,
        "phone": phones,
    })
    return customers, signup_day, consent


def _pii(
    rng: np.random.Generator, n: int, region: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names (Chinese characters or Western), unique e-mails and unique phone numbers."""
    greater_china = HOME_REGIONS.index("Hong Kong/Macao/Taiwan")
    overseas = HOME_REGIONS.index("Overseas")
    share_cn = np.full(n, _CHINESE_NAME_SHARE["china"])
    share_cn[region == greater_china] = _CHINESE_NAME_SHARE["greater_china"]
    share_cn[region == overseas] = _CHINESE_NAME_SHARE["overseas"]
    chinese = rng.random(n) < share_cn
    # unique 8-digit suffix per customer: affine bijection of the customer index mod 1e8
    mod = 10**8
    mult, shift = 48_271_003, int(rng.integers(0, mod))
    suffix_num = (np.arange(n, dtype=np.int64) * mult + shift) % mod
    suffix = np.strings.zfill(suffix_num.astype(str), 8)

    sn = rng.integers(0, len(_CN_SURNAMES), n)
    gn = rng.integers(0, len(_CN_GIVEN), n)
    wf = rng.integers(0, len(_WESTERN_FIRST), n)
    wl = rng.integers(0, len(_WESTERN_LAST), n)
    cn_sur = np.array([s for s, _ in _CN_SURNAMES])
    cn_sur_py = np.array([py for _, py in _CN_SURNAMES])
    cn_giv = np.array([s for s, _ in _CN_GIVEN])
    cn_giv_py = np.array([py for _, py in _CN_GIVEN])
    w_first = np.array(_WESTERN_FIRST)
    w_last = np.array(_WESTERN_LAST)
    name = np.where(chinese, np.strings.add(cn_sur[sn], cn_giv[gn]),
                    np.strings.add(np.strings.add(w_first[wf], " "), w_last[wl]))
    handle = np.where(chinese, np.strings.add(cn_sur_py[sn], cn_giv_py[gn]),
                      np.strings.lower(np.strings.add(np.strings.add(w_first[wf], "."),
                                                      w_last[wl])))
    cn_dom = np.array(_CN_EMAIL_DOMAINS)[rng.integers(0, len(_CN_EMAIL_DOMAINS), n)]
    w_dom = np.array(_WESTERN_EMAIL_DOMAINS)[rng.integers(0, len(_WESTERN_EMAIL_DOMAINS), n)]
    domain = np.where(chinese, cn_dom, w_dom)
    email = np.strings.add(np.strings.add(np.strings.add(handle, suffix), "@"), domain)
    # phones: country code by region; the unique 8-digit suffix makes them unique
    cn_prefix = np.array(_CN_MOBILE_PREFIXES)[rng.integers(0, len(_CN_MOBILE_PREFIXES), n)]
    cn_phone = np.strings.add(np.strings.add("+86 ", cn_prefix), suffix)
    hk_phone = np.strings.add("+852 ", suffix)
    uk = rng.random(n) < 0.5
    os_phone = np.where(uk, np.strings.add("+44 79", suffix), np.strings.add("+61 4", suffix))
    phone = np.where(region == overseas, os_phone,
                     np.where(region == greater_china, hk_phone, cn_phone))
    return name.astype(object), email.astype(object), phone.astype(object)


def tier_codes(
    cust: np.ndarray,
    trip_end_day: np.ndarray,
    counts: np.ndarray,
    n_customers: int,
    as_of_day: int,
    thresholds: dict[str, int],
    window_days: int,
) -> np.ndarray:
    """Tier index (into ``MEMBER_TIERS``) per customer from completed trips.

    Parameters
    ----------
    cust : (n_bookings,) customer index of each booking.
    trip_end_day : (n_bookings,) trip end, integer day.
    counts : (n_bookings,) bool, whether the booking is a real trip (not cancelled/no-show).
    as_of_day : the as-of date, integer day in the same origin; trips ending on it count.
    """
    done = counts & (trip_end_day <= as_of_day)
    ever = np.bincount(cust[done], minlength=n_customers)
    recent_mask = done & (trip_end_day > as_of_day - window_days)
    recent = np.bincount(cust[recent_mask], minlength=n_customers)
    code = np.zeros(n_customers, dtype=np.int8)
    code[ever >= thresholds["silver"]] = 1
    code[(ever >= thresholds["silver"]) & (recent >= thresholds["gold"])] = 2
    code[(code >= 2) & (recent >= thresholds["platinum"])] = 3
    code[(code >= 2) & (recent >= thresholds["diamond"])] = 4
    return code


def assign_member_tiers(
    bookings: pd.DataFrame,
    as_of: str | pd.Timestamp | np.datetime64,
    thresholds: dict[str, int] = TIER_THRESHOLDS,
    *,
    customer_ids: pd.Index | np.ndarray | list[str] | None = None,
    window_days: int = TIER_WINDOW_DAYS,
) -> pd.Series:
    """Member tier of each customer as of a date, from the trips completed by then.

    A trip counts when its status is neither ``cancelled`` nor ``no_show`` and it ended
    (``travel_start + nights``; ``booking_date`` when ``travel_start`` is missing) on or before
    ``as_of``. Tiers: no trip ever -> ``regular``; ``>= thresholds["silver"]`` ever but fewer
    than ``thresholds["gold"]`` ending in the trailing ``window_days`` -> ``silver``; then
    ``gold`` / ``platinum`` / ``diamond`` by the number of trips that ended in the window
    ``(as_of - window_days, as_of]``.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``; optionally
        ``travel_start``, ``nights``, ``status``).
    as_of : the as-of date (day resolution).
    thresholds : see :data:`TIER_THRESHOLDS`.
    customer_ids : customers to report (default: those in ``bookings``); customers without
        bookings are ``regular``.
    window_days : trailing window in days.

    Returns
    -------
    pd.Series
        Categorical (``MEMBER_TIERS``) tier indexed by ``customer_id``.
    """
    as_of_day = pd.Timestamp(as_of).normalize()
    codes, uniques = pd.factorize(bookings["customer_id"], sort=False)
    if customer_ids is not None:
        index = pd.Index(customer_ids, name="customer_id")
    else:
        index = pd.Index(uniques, name="customer_id")
    start = pd.to_datetime(bookings["booking_date"])
    if "travel_start" in bookings:
        start = pd.to_datetime(bookings["travel_start"]).fillna(start)
    nights = bookings["nights"].fillna(0) if "nights" in bookings else 0
    trip_end = start + pd.to_timedelta(np.asarray(nights, dtype=float), unit="D")
    trip_end_day = ((trip_end - as_of_day) // pd.Timedelta(days=1)).to_numpy()
    valid = np.ones(len(bookings), dtype=bool)
    if "status" in bookings:
        valid = ~bookings["status"].isin(["cancelled", "no_show"]).to_numpy()
    tier = tier_codes(codes, trip_end_day, valid, len(uniques), 0, thresholds, window_days)
    per_booked = pd.Series(pd.Categorical.from_codes(tier, categories=list(MEMBER_TIERS)),
                           index=pd.Index(uniques, name="customer_id"))
    out = per_booked.reindex(index)
    return out.fillna("regular").astype(pd.CategoricalDtype(list(MEMBER_TIERS)))
