"""Business KPIs by month, by group and against targets (``07_kpis``).

Six KPIs (:data:`src.params.schema.KPI_NAMES`), each at an *as-of date* ``d``:

- **active_customers** (customers): customers *active* at ``d``: a purchase dated in
  ``(d - active_days, d]``; ``active_days`` is the job's lapse gap (``churn.gap_days``).
- **repeat_rate** (share, 0-1): among the customers active at ``d``, the share of *repeat
  customers* (purchases on two or more distinct days on/before ``d``).
- **churn_rate** (share per month, 0-1): of the customers *at risk* of lapse churn at the
  start of the month (as of the previous month's last day: a completed booking in the last
  ``active_days``), the share *lapsed* at ``d`` (their last completed booking is now
  ``active_days`` or more behind): the event the churn model predicts. Lapse only, also for
  membership jobs:
  a membership cancellation by itself does not count here (the survival model of
  ``03_churn_survival`` is where membership churn is measured).
- **nps** (points, -100..100): % promoters (9-10) minus % detractors (0-6) of the feedback
  dated in the trailing 12 months ending at ``d``; NaN ("no feedback") without responses.
- **csat** (score 1-5): mean ``csat`` of the same trailing 12 months; NaN without responses.
- **revenue_per_active** (currency per customer): the ``amount`` of the purchases dated in
  the trailing 12 months, over the active customers at ``d``; NaN with no active customer.

*Purchase*, *active*, *at risk*, *lapsed* and *repeat customer* are the words of
:mod:`src.features.definitions`, the same the churn model, the scorer, the campaign results
and the backtest use: a purchase at ``d`` is booked on/before ``d`` and neither cancelled
nor a no-show as known at ``d`` (a trip cancelled later still counted at ``d``). The
trailing 12 months ending at a month's last day are that month and the 11 before it; ending
at another day, the 12 calendar months before it.

Point in time: the value of a month uses only rows dated on/before its as-of date, and no
as-of date is after the run's cut-off. The months are the last ``months`` calendar months
ending with the cut-off's month, each as of its last day, except the cut-off's month, which
is as of the cut-off itself (a partial month when the cut-off is not a month's last day:
its churn rate covers the days from the 1st to the cut-off).

By group: the same KPIs as of the cut-off for the customers of each group of the run's
scored table (``value_tier``, ``segment``: groups known at the cut-off), not per month.

Targets (``kpis.targets``, :func:`parse_target`): ``"+20% by 2027-12"`` is relative to the
baseline (baseline + 20 % of its absolute value, so "+" is up also for a negative NPS),
``"+0.5 by 2027-12"`` an absolute change from the baseline, ``"0.45 by 2027-12"`` a level; a
month means its last day. The value expected now lies on the straight line from (baseline
cut-off, baseline value) to (target date, target value), held at the baseline before the
baseline's cut-off and at the target after the target date; a KPI is ``on track`` when it is
at least as good as that (by :data:`~src.params.schema.KPI_NAMES` direction), else
``behind``; ``no target`` without a target, ``no data`` when the current value, the target
or the expected value is unknown (NaN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from src.features.definitions import (
    BookingStates,
    as_timestamp,
    is_active,
    is_at_risk,
    is_repeat,
)
from src.params.schema import KPI_NAMES, KPI_TARGET_PATTERN

__all__ = ["GROUP_COLUMNS", "HEADLINE_COLUMNS", "KPI_UNITS", "KpiSnapshot", "current_values",
           "expected_value", "kpi_as_of_dates", "kpi_metrics", "kpi_status", "kpi_table",
           "kpis_by_group", "monthly_kpis", "parse_target"]

#: the columns of the headline table (``data/kpis.csv``), in this order
HEADLINE_COLUMNS: tuple[str, ...] = (
    "kpi", "month", "current", "last_run", "last_run_id", "baseline", "baseline_run", "target",
    "target_date", "expected_now", "status", "greater_is_better")

#: the unit of each KPI (axis labels, the terminal table)
KPI_UNITS: dict[str, str] = {
    "repeat_rate": "share of active customers", "churn_rate": "share lapsed in the month",
    "nps": "points (-100..100)", "csat": "mean score (1-5)", "active_customers": "customers",
    "revenue_per_active": "currency per active customer"}

#: the KPI columns of :func:`kpis_by_group` (after ``by``, ``group``, ``month``, ``customers``)
GROUP_COLUMNS: tuple[str, ...] = tuple(KPI_NAMES)

#: NPS promoters score at least this, detractors at most ``_DETRACTOR_MAX`` (0-10 scale)
_PROMOTER_MIN, _DETRACTOR_MAX = 9, 6
_TRAILING_MONTHS = 12
_ON_TRACK, _BEHIND, _NO_TARGET, _NO_DATA = "on track", "behind", "no target", "no data"

#: a calendar date: ``datetime.date``, ISO text or ``pandas.Timestamp``
DateLike = date | str | pd.Timestamp


@dataclass(frozen=True)
class KpiSnapshot:
    """The KPI values of one run at its cut-off.

    Attributes
    ----------
    run_id : the run's id.
    cutoff_date : the run's cut-off (calendar date): the as-of date of the values.
    values : KPI name -> value (units of :data:`KPI_UNITS`; NaN or absent: unknown).
    """

    run_id: str
    cutoff_date: date
    values: Mapping[str, float] = field(default_factory=dict)

    def value(self, kpi: str) -> float:
        """The value of ``kpi`` (NaN when unknown)."""
        v = self.values.get(kpi)
        return float("nan") if v is None or pd.isna(v) else float(v)


# ---- monthly KPIs ------------------------------------------------------------------------
def kpi_as_of_dates(cutoff: DateLike, months: int) -> pd.DatetimeIndex:
    """The as-of dates of the last ``months`` calendar months ending with the cut-off's month:
    each month's last day, the cut-off itself for its own month. Shape (months,)."""
    if months < 1:
        raise ValueError(f"months must be at least 1; got {months}")
    cut = as_timestamp(cutoff).normalize()
    ends = pd.date_range(end=cut.to_period("M").end_time.normalize(), periods=months, freq="ME")
    return pd.DatetimeIndex([*ends[:-1], cut])


def _trailing_start(as_of: pd.Timestamp) -> pd.Timestamp:
    """The day before the trailing 12 months ending at ``as_of`` (the window is ``(start,
    as_of]``): 12 months back, kept on a month's last day when ``as_of`` is one."""
    start = as_of - pd.DateOffset(months=_TRAILING_MONTHS)
    if as_of.is_month_end:
        start = start + pd.offsets.MonthEnd(0)
    return start


def _month_before(as_of: pd.Timestamp) -> pd.Timestamp:
    """The last day of the month before ``as_of``'s month (the start of its month)."""
    return as_of.to_period("M").start_time - pd.Timedelta(days=1)


def _last_per_code(codes: np.ndarray, dates: np.ndarray, n: int) -> np.ndarray:
    """The latest of ``dates`` (datetime64[ns]) per customer code, NaT without one, shape (n,)."""
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, codes, dates.view(np.int64))
    return last.view("datetime64[ns]")


@dataclass(frozen=True)
class _State:
    """The customer words at one as-of date, per customer code, shape (n,) each: *active*,
    *at risk* of lapse churn, the number of purchase days and the trailing-12-month revenue
    (currency) of the purchases."""

    active: np.ndarray
    at_risk: np.ndarray
    purchase_days: np.ndarray
    revenue: np.ndarray

    def part(self, member: np.ndarray) -> _State:
        return _State(self.active[member], self.at_risk[member], self.purchase_days[member],
                      self.revenue[member])


@dataclass(frozen=True)
class _Bookings:
    """Bookings read once (:class:`~src.features.definitions.BookingStates`) with their
    customer code, booking day and amount (currency), shape (n_bookings,) each, and one row
    per purchase day (a customer's bookings of one day: a purchase day while any of them is
    a purchase), ``day_*``; ``n``: number of customer codes."""

    states: BookingStates
    codes: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray
    day_codes: np.ndarray
    day_dates: np.ndarray
    day_void_from: np.ndarray
    n: int

    @classmethod
    def of(cls, bookings: pd.DataFrame, customers: pd.Index | None = None) -> _Bookings:
        ids = bookings["customer_id"].astype(str)
        if customers is None:
            codes, uniques = pd.factorize(ids)
            n = len(uniques)
        else:
            codes, n = customers.get_indexer(ids), len(customers)
        keep = codes >= 0
        b = bookings.loc[keep]
        codes = codes[keep]
        states = BookingStates(b)
        dates = states.booked_day
        amounts = pd.to_numeric(b["amount"], errors="coerce").fillna(0.0).to_numpy(float)
        # the day from which a booking is no purchase (cancelled / no-show known): per
        # (customer, day) the latest of them, so a day counts while any booking of it does
        never = np.datetime64("2262-04-11", "ns")
        until = np.where(states.void_final, states.known, never)
        order = np.lexsort((until, dates, codes))
        c, d, u = codes[order], dates[order], until[order]
        last = np.r_[(c[1:] != c[:-1]) | (d[1:] != d[:-1]), True] if len(c) else np.zeros(0, bool)
        return cls(states, codes, dates, amounts, c[last], d[last], u[last], n)

    def state(self, as_of: pd.Timestamp, active_days: int) -> _State:
        """The customer words at ``as_of`` (:mod:`src.features.definitions`)."""
        counted = self.states.purchase(as_of)
        d = np.datetime64(as_of, "ns")
        day_counted = (self.day_dates <= d) & (self.day_void_from > d)
        done = self.states.completed(as_of)
        window = counted & (self.dates > np.datetime64(_trailing_start(as_of), "ns"))
        return _State(
            active=is_active(_last_per_code(self.day_codes[day_counted],
                                            self.day_dates[day_counted], self.n),
                             as_of, active_days),
            at_risk=is_at_risk(_last_per_code(self.codes[done], self.dates[done], self.n),
                               as_of, active_days),
            purchase_days=np.bincount(self.day_codes[day_counted], minlength=self.n),
            revenue=np.bincount(self.codes[window], weights=self.amounts[window],
                                minlength=self.n))


def _feedback_arrays(feedback: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feedback dates (datetime64[ns]), NPS (0-10) and CSAT (1-5) as floats (NaN: not
    answered), shape (n_feedback,) each; empty without a feedback table."""
    if feedback is None or not len(feedback):
        empty = np.array([], dtype=float)
        return np.array([], dtype="datetime64[ns]"), empty, empty
    dates = pd.to_datetime(feedback["date"]).dt.normalize().to_numpy("datetime64[ns]")

    def score(col: str) -> np.ndarray:
        if col not in feedback.columns:
            return np.full(len(feedback), np.nan)
        return pd.to_numeric(feedback[col], errors="coerce").to_numpy(float)

    return dates, score("nps"), score("csat")


def _feedback_kpis(dates: np.ndarray, nps: np.ndarray, csat: np.ndarray,
                   as_of: pd.Timestamp) -> dict[str, float]:
    """NPS (points), CSAT (1-5) and their response counts over the trailing 12 months."""
    window = (dates > np.datetime64(_trailing_start(as_of), "ns")) & \
        (dates <= np.datetime64(as_of, "ns"))
    n_scores = nps[window][~np.isnan(nps[window])]
    c_scores = csat[window][~np.isnan(csat[window])]
    return {
        "nps": (100.0 * (np.mean(n_scores >= _PROMOTER_MIN) - np.mean(n_scores <= _DETRACTOR_MAX))
                if len(n_scores) else float("nan")),
        "csat": float(np.mean(c_scores)) if len(c_scores) else float("nan"),
        "nps_responses": int(len(n_scores)), "csat_responses": int(len(c_scores))}


def _share(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def _booking_kpis(before: _State, now: _State) -> dict[str, float]:
    """The booking KPIs of one as-of date from the words at the start of its month
    (``before``) and at the date (``now``)."""
    n_active = int(now.active.sum())
    lapsed = int((before.at_risk & ~now.at_risk).sum())
    revenue_12m = float(now.revenue.sum())
    return {"active_customers": n_active,
            "repeat_rate": _share(is_repeat(now.purchase_days[now.active]).sum(), n_active),
            "churn_rate": _share(lapsed, before.at_risk.sum()),
            "revenue_per_active": _share(revenue_12m, n_active),
            "at_risk_at_start": int(before.at_risk.sum()), "lapsed": lapsed,
            "revenue_12m": revenue_12m}


def monthly_kpis(bookings: pd.DataFrame, feedback: pd.DataFrame | None = None, *,
                 cutoff: DateLike, active_days: int, months: int = 24) -> pd.DataFrame:
    """The KPIs of each of the last ``months`` months up to the cut-off, point in time.

    Parameters
    ----------
    bookings : contract bookings (``customer_id``, ``booking_date``, ``amount``; ``status``,
        ``status_date``, ``travel_start``, ``nights`` when present), shape (n_bookings, ...).
    feedback : contract feedback (``date``; ``nps`` 0-10 and ``csat`` 1-5 when present), or
        None: NPS and CSAT are NaN ("no feedback").
    cutoff : the run's cut-off (date-like); no row after it is read.
    active_days : days without a purchase after which a customer is no longer active
        (the job's ``churn.gap_days``).
    months : months of history (the cut-off's month included).

    Returns
    -------
    pandas.DataFrame, shape (months, 15), one row per month, oldest first: ``month``
    (``YYYY-MM``), ``as_of`` (the month's last day, the cut-off for the last month),
    ``complete`` (False for a partial last month), the six KPIs (units in the module
    docstring) and ``at_risk_at_start``, ``lapsed`` (customers), ``revenue_12m`` (currency),
    ``nps_responses``, ``csat_responses`` (responses in the trailing 12 months).
    """
    if active_days < 1:
        raise ValueError(f"active_days must be at least 1; got {active_days}")
    as_of = kpi_as_of_dates(cutoff, months)
    data = _Bookings.of(bookings)
    fb = _feedback_arrays(feedback)
    before = data.state(_month_before(as_of[0]), active_days)
    rows = []
    for d in as_of:
        now = data.state(d, active_days)
        rows.append({"month": f"{d:%Y-%m}", "as_of": d, "complete": bool(d.is_month_end),
                     **_booking_kpis(before, now), **_feedback_kpis(*fb, d)})
        before = now
    cols = ["month", "as_of", "complete", *KPI_NAMES, "at_risk_at_start", "lapsed",
            "revenue_12m", "nps_responses", "csat_responses"]
    return pd.DataFrame(rows, columns=cols)


def current_values(monthly: pd.DataFrame) -> dict[str, float]:
    """The KPI values of the last row of :func:`monthly_kpis` (the cut-off), by KPI name."""
    if monthly.empty:
        return {k: float("nan") for k in KPI_NAMES}
    last = monthly.iloc[-1]
    return {k: float(last[k]) for k in KPI_NAMES}


def kpis_by_group(bookings: pd.DataFrame, feedback: pd.DataFrame | None, groups: pd.DataFrame,
                  *, by: Sequence[str], cutoff: DateLike, active_days: int) -> pd.DataFrame:
    """The KPIs as of the cut-off for each group of customers (value tier, segment, ...).

    Parameters
    ----------
    bookings, feedback : as for :func:`monthly_kpis`.
    groups : one row per customer: ``customer_id`` and the ``by`` columns (the run's scored
        table: groups known at the cut-off); customers absent from it are in no group.
    by : the grouping columns of ``groups``, each broken down on its own.
    cutoff, active_days : as for :func:`monthly_kpis`.

    Returns
    -------
    pandas.DataFrame, one row per (``by``, ``group``): ``customers`` (in the group),
    the six KPIs as of the cut-off (the churn rate over the cut-off's month). Missing group
    labels are left out.
    """
    missing = [c for c in ["customer_id", *by] if c not in groups.columns]
    if missing:
        raise KeyError(f"the groups table has no column {missing}; it has {list(groups.columns)}")
    as_of = kpi_as_of_dates(cutoff, 1)[0]
    table = (groups.assign(customer_id=groups["customer_id"].astype(str))
             .drop_duplicates("customer_id", keep="last").set_index("customer_id"))
    customers = table.index
    data = _Bookings.of(bookings, customers)
    before = data.state(_month_before(as_of), active_days)
    now = data.state(as_of, active_days)
    fb_codes = (customers.get_indexer(feedback["customer_id"].astype(str))
                if feedback is not None and len(feedback) else np.array([], dtype=int))
    fb_dates, fb_nps, fb_csat = _feedback_arrays(feedback)
    rows = []
    for col in by:
        labels = table[col].astype(object)
        for name in sorted(labels.dropna().unique(), key=str):
            member = (labels == name).to_numpy()
            fb = np.zeros(len(fb_codes), dtype=bool)
            fb[fb_codes >= 0] = member[fb_codes[fb_codes >= 0]]
            values = {**_booking_kpis(before.part(member), now.part(member)),
                      **_feedback_kpis(fb_dates[fb], fb_nps[fb], fb_csat[fb], as_of)}
            rows.append({"by": col, "group": str(name), "month": f"{as_of:%Y-%m}",
                         "customers": int(member.sum()), **{k: values[k] for k in KPI_NAMES}})
    return pd.DataFrame(rows, columns=["by", "group", "month", "customers", *GROUP_COLUMNS])


# ---- targets -----------------------------------------------------------------------------
def parse_target(text: str, baseline: float) -> tuple[float, date]:
    """The target value and date of a ``kpis.targets`` entry.

    Parameters
    ----------
    text : ``"+20% by 2027-12"`` (relative: baseline + 20 % of ``|baseline|``), ``"+0.5 by
        2027-12"`` (absolute change: a signed number), ``"0.45 by 2027-12"`` (a level: no
        sign); the date ``YYYY-MM`` (its last day) or ``YYYY-MM-DD``.
    baseline : the KPI's baseline value (NaN: relative and absolute targets are NaN).

    Returns
    -------
    (target_value, target_date) : in the KPI's unit, and a calendar date.

    Raises
    ------
    ValueError
        When the text does not read as one of the three forms, the date is not a calendar
        date, or a percentage has no sign (``"20%"``: a change or a level?).
    """
    match = re.match(KPI_TARGET_PATTERN, str(text))
    if match is None:
        raise ValueError(f"KPI target {text!r} does not read as '<+N%|+N|N> by YYYY-MM[-DD]' "
                         "(e.g. '+20% by 2027-12', '-0.02 by 2027-06', '0.45 by 2027-12-31')")
    number, percent, when = match.groups()
    try:
        target_date = (pd.Period(when, "M").end_time.date() if len(when) == 7
                       else date.fromisoformat(when))
    except ValueError as exc:
        raise ValueError(f"KPI target {text!r}: {when!r} is not a calendar month or date") from exc
    signed = number[0] in "+-"
    value = float(number)
    if percent and not signed:
        raise ValueError(f"KPI target {text!r}: a percentage is a change relative to the "
                         f"baseline and needs its sign ('+{number}%' or '-{number}%'); a level "
                         f"is a plain number ('{value / 100:g}' for a share)")
    if percent:
        return baseline + abs(baseline) * value / 100.0, target_date
    if signed:
        return baseline + value, target_date
    return value, target_date


def expected_value(baseline: float, baseline_date: date, target: float, target_date: date,
                   as_of: date) -> float:
    """The value on the straight path from (``baseline_date``, ``baseline``) to
    (``target_date``, ``target``) at ``as_of`` (KPI units; dates are calendar dates): the
    baseline before the baseline date, the target from the target date on."""
    if as_of >= target_date or target_date <= baseline_date:
        return float(target)
    if as_of <= baseline_date:
        return float(baseline)
    share = (as_of - baseline_date).days / (target_date - baseline_date).days
    return float(baseline + share * (target - baseline))


def kpi_status(current: float, expected: float, greater_is_better: bool) -> str:
    """``on track`` when ``current`` is at least as good as ``expected`` (by direction; a
    relative tolerance of 1e-9 for rounding), ``behind`` otherwise, ``no data`` when either
    is NaN."""
    if pd.isna(current) or pd.isna(expected):
        return _NO_DATA
    slack = 1e-9 * max(1.0, abs(expected))
    ok = current >= expected - slack if greater_is_better else current <= expected + slack
    return _ON_TRACK if ok else _BEHIND


def kpi_table(current: KpiSnapshot, last_run: KpiSnapshot | None, baseline: KpiSnapshot,
              targets: Mapping[str, str]) -> pd.DataFrame:
    """The headline table: one row per KPI against the last run, the baseline and its target.

    Parameters
    ----------
    current : this run's KPIs at its cut-off.
    last_run : the job's previous run with KPIs (None: none).
    baseline : the baseline run's KPIs (this run's own when it is the baseline).
    targets : KPI -> target text (:func:`parse_target`); KPIs without one: ``no target``.

    Returns
    -------
    pandas.DataFrame, shape (6, 12), columns :data:`HEADLINE_COLUMNS`: ``month`` the
    cut-off's month (``YYYY-MM``), values in the KPI's unit (:data:`KPI_UNITS`),
    ``target_date`` ISO date text (None without a target), ``status`` ``on track`` /
    ``behind`` / ``no target`` / ``no data``.
    """
    unknown = sorted(set(targets) - set(KPI_NAMES))
    if unknown:
        raise ValueError(f"targets for unknown KPIs {unknown}; known: {list(KPI_NAMES)}")
    rows = []
    for kpi, greater_is_better in KPI_NAMES.items():
        base = baseline.value(kpi)
        target, target_date, expected, status = float("nan"), None, float("nan"), _NO_TARGET
        if targets.get(kpi):
            target, when = parse_target(targets[kpi], base)
            target_date = when.isoformat()
            if not math.isnan(base) and not math.isnan(target):
                expected = expected_value(base, baseline.cutoff_date, target, when,
                                          current.cutoff_date)
            status = kpi_status(current.value(kpi), expected, greater_is_better)
        rows.append({
            "kpi": kpi, "month": f"{current.cutoff_date:%Y-%m}", "current": current.value(kpi),
            "last_run": last_run.value(kpi) if last_run else float("nan"),
            "last_run_id": last_run.run_id if last_run else None,
            "baseline": base, "baseline_run": baseline.run_id, "target": target,
            "target_date": target_date, "expected_now": expected, "status": status,
            "greater_is_better": greater_is_better})
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def kpi_metrics(table: pd.DataFrame) -> dict[str, float]:
    """MLflow metrics of a headline table: ``kpi.<name>`` (current), and for KPIs with a
    judged target ``kpi.<name>.target_now`` (expected now) and ``kpi.<name>.on_track``
    (1 / 0). NaN values are left for the logger to skip."""
    out: dict[str, float] = {}
    for row in table.itertuples(index=False):
        out[f"kpi.{row.kpi}"] = float(row.current)
        if row.status in (_ON_TRACK, _BEHIND):
            out[f"kpi.{row.kpi}.target_now"] = float(row.expected_now)
            out[f"kpi.{row.kpi}.on_track"] = float(row.status == _ON_TRACK)
    return out
