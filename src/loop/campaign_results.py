"""What the published lists did: treated against control, per list, with an interval.

For every earlier publication in the campaign register whose measurement window
``(cut-off, cut-off + measure_days]`` has passed by this run's cut-off, each list's two
arms are compared on three outcomes, each per customer of the arm:

- ``booking_rate``: share with at least one *purchase* dated in the window (booked, neither
  cancelled nor a no-show as known at this run's cut-off);
- ``revenue_per_customer``: amount of those purchases (currency; 0 for customers without one);
- ``retention``: share *retained* at the window's end: *active* (a purchase in the last
  ``gap_days`` up to the window's end) and not a *cancelled member* by then
  (``membership_cancel_date`` when the customers table has it).

The words are those of :mod:`src.features.definitions`, as the KPIs and the backtest count
them.

The uplift is the treated mean minus the control mean; its interval is the normal
approximation with the two arms' sample variances (Welch), at ``confidence``. A list whose
interval holds 0 shows *no measurable effect*, said plainly; arms smaller than
``min_arm_size`` are *too small to measure*. Only bookings dated up to this run's cut-off
are read (the window ends before it).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import norm

from src.features.definitions import as_days, cancelled_members, is_retained, purchase_mask
from src.loop.campaign_register import due_publications

__all__ = ["RESULT_COLUMNS", "campaign_results", "headline_metrics", "measure_publication",
           "verdict_lines"]

RESULT_COLUMNS = ["publication_run", "cutoff_date", "list", "window_end", "metric",
                  "n_treated", "n_control", "treated", "control", "uplift", "ci_low",
                  "ci_high", "verdict", "planted_uplift"]

#: outcome -> column of the planted-effects table (synthetic data) with its planted uplift
_PLANTED = {"booking_rate": "planted_uplift", "revenue_per_customer": "planted_revenue_uplift"}


def _outcomes(ids: pd.Series, bookings: pd.DataFrame, customers: pd.DataFrame | None, *,
              start: date, end: date, gap_days: int, as_of: date | None) -> pd.DataFrame:
    """Per customer (index: customer id): booked, revenue and retained over the window, in
    the words of :mod:`src.features.definitions` with the statuses known at ``as_of``."""
    known_at = pd.Timestamp(as_of if as_of is not None else pd.Timestamp.max.normalize())
    b = bookings.loc[purchase_mask(bookings, known_at), ["customer_id", "booking_date", "amount"]]
    b = b.assign(customer_id=b["customer_id"].astype(str), booking_date=as_days(b["booking_date"]))
    b = b[b["customer_id"].isin(set(ids))]
    b = b[b["booking_date"] <= pd.Timestamp(end)]
    in_window = (b["booking_date"] > pd.Timestamp(start)).to_numpy()
    index = pd.Index(ids.unique(), name="customer_id")
    out = pd.DataFrame(index=index)
    out["booking_rate"] = index.isin(b.loc[in_window, "customer_id"]).astype(float)
    out["revenue_per_customer"] = (b.loc[in_window].groupby("customer_id")["amount"].sum()
                                   .reindex(index).fillna(0.0).astype(float))
    last = b.groupby("customer_id")["booking_date"].max().reindex(index)
    retained = is_retained(last.to_numpy(dtype="datetime64[ns]"),
                           cancelled_members(customers, index, end), end, gap_days)
    out["retention"] = retained.astype(float)
    return out


def _compare(treated: np.ndarray, control: np.ndarray, z: float, min_arm_size: int
             ) -> dict[str, float | str]:
    n1, n0 = len(treated), len(control)
    m1 = float(treated.mean()) if n1 else np.nan
    m0 = float(control.mean()) if n0 else np.nan
    se = (np.sqrt(treated.var(ddof=1) / n1 + control.var(ddof=1) / n0)
          if n1 > 1 and n0 > 1 else np.nan)
    uplift = m1 - m0
    low, high = uplift - z * se, uplift + z * se
    if min(n1, n0) < min_arm_size:
        verdict = (f"too small to measure ({n1} treated, {n0} control; at least "
                   f"{min_arm_size} each: campaigns.min_arm_size)")
    elif low > 0:
        verdict = "raised"
    elif high < 0:
        verdict = "lowered"
    else:
        verdict = "no measurable effect"
    return {"n_treated": n1, "n_control": n0, "treated": m1, "control": m0, "uplift": uplift,
            "ci_low": low, "ci_high": high, "verdict": verdict}


def measure_publication(members: pd.DataFrame, bookings: pd.DataFrame,
                        customers: pd.DataFrame | None, *, cutoff_date: date, window_end: date,
                        gap_days: int, confidence: float = 0.95, min_arm_size: int = 30,
                        planted: pd.DataFrame | None = None,
                        as_of: date | None = None) -> pd.DataFrame:
    """Treated vs control of one publication's lists.

    Parameters
    ----------
    members : the publication's register rows: ``run_id``, ``list``, ``customer_id``,
        ``arm`` (``treated`` / ``control``).
    bookings : the contract bookings (``customer_id``, ``booking_date``, ``amount``,
        ``status``), known at this run's cut-off.
    customers : the contract customers (for ``membership_cancel_date``), or None.
    cutoff_date, window_end : the publication's cut-off and the end of its window (dates).
    gap_days : the churn gap (days) that makes a customer lapsed (``churn.gap_days``).
    confidence : level of the intervals.
    min_arm_size : smaller arms are reported as too small to measure.
    planted : synthetic data only: the planted effects (``run_id``, ``list``,
        ``planted_uplift``, ``planted_revenue_uplift``), else None.
    as_of : the date whose knowledge of the statuses is used (this run's cut-off: a booking
        cancelled after it is still a purchase); None: the statuses as recorded.

    Returns
    -------
    DataFrame : :data:`RESULT_COLUMNS`, one row per list and outcome.
    """
    z = float(norm.ppf(0.5 + confidence / 2))
    outcome = _outcomes(members["customer_id"].astype(str), bookings, customers,
                        start=cutoff_date, end=window_end, gap_days=gap_days, as_of=as_of)
    run_id = str(members["run_id"].iloc[0]) if len(members) else ""
    rows = []
    for name, part in members.groupby("list", sort=True):
        arm = part.set_index(part["customer_id"].astype(str))["arm"]
        for metric in ("booking_rate", "revenue_per_customer", "retention"):
            values = outcome[metric]
            res = _compare(values.reindex(arm.index[arm == "treated"]).to_numpy(),
                           values.reindex(arm.index[arm == "control"]).to_numpy(), z,
                           min_arm_size)
            plant = np.nan
            if planted is not None and metric in _PLANTED and not planted.empty:
                hit = planted[(planted["run_id"].astype(str) == run_id)
                              & (planted["list"].astype(str) == str(name))]
                if len(hit):
                    plant = float(hit[_PLANTED[metric]].iloc[0])
            rows.append({"publication_run": run_id, "cutoff_date": str(cutoff_date),
                         "list": str(name), "window_end": str(window_end), "metric": metric,
                         **res, "planted_uplift": plant})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def campaign_results(register: pd.DataFrame, bookings: pd.DataFrame,
                     customers: pd.DataFrame | None, *, cutoff: date, measure_days: int,
                     gap_days: int, confidence: float = 0.95, min_arm_size: int = 30,
                     planted: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every due publication of the register measured (:func:`measure_publication`), oldest
    first; empty (:data:`RESULT_COLUMNS`) when none is due. Bookings after ``cutoff`` are
    never read."""
    due = due_publications(register, cutoff, measure_days)
    known = bookings[pd.to_datetime(bookings["booking_date"]).dt.normalize()
                     <= pd.Timestamp(cutoff)]
    parts = [measure_publication(register[register["run_id"] == pub.run_id], known, customers,
                                 cutoff_date=pub.cutoff_date, window_end=pub.window_end,
                                 gap_days=gap_days, confidence=confidence,
                                 min_arm_size=min_arm_size, planted=planted, as_of=cutoff)
             for pub in due.itertuples(index=False)]
    parts = [p for p in parts if not p.empty]
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame(columns=RESULT_COLUMNS))


def headline_metrics(results: pd.DataFrame) -> dict[str, float]:
    """MLflow metrics of the newest measured publication per list: ``campaign.<list>.uplift``
    and its interval ``_ci_low`` / ``_ci_high`` (booking rate), ``planted_uplift`` when
    planted, ``revenue_uplift`` and ``retention_uplift``, the arm sizes."""
    out: dict[str, float] = {}
    if results.empty:
        return out
    newest = results.sort_values("cutoff_date").groupby(["list", "metric"]).tail(1)
    for r in newest.itertuples(index=False):
        key = f"campaign.{r.list}"
        if r.metric == "booking_rate":
            out.update({f"{key}.uplift": r.uplift, f"{key}.uplift_ci_low": r.ci_low,
                        f"{key}.uplift_ci_high": r.ci_high, f"{key}.n_treated": r.n_treated,
                        f"{key}.n_control": r.n_control})
            if r.planted_uplift == r.planted_uplift:
                out[f"{key}.planted_uplift"] = r.planted_uplift
        elif r.metric == "revenue_per_customer":
            out[f"{key}.revenue_uplift"] = r.uplift
        else:
            out[f"{key}.retention_uplift"] = r.uplift
    return out


def verdict_lines(results: pd.DataFrame) -> list[str]:
    """One plain sentence per measured list (booking rate): the uplift in points with its
    interval and what it means."""
    lines = []
    for r in results[results["metric"] == "booking_rate"].itertuples(index=False):
        head = (f"{r.list} (published {r.cutoff_date}, window to {r.window_end}): booking rate "
                f"{r.treated:.1%} treated vs {r.control:.1%} control, uplift "
                f"{100 * r.uplift:+.1f} points (interval {100 * r.ci_low:+.1f} to "
                f"{100 * r.ci_high:+.1f})")
        meaning = {"raised": "the list raised bookings",
                   "lowered": "the list LOWERED bookings",
                   "no measurable effect": "NO MEASURABLE EFFECT: the interval holds 0"}
        lines.append(f"{head}: {meaning.get(r.verdict, r.verdict)}")
    return lines
