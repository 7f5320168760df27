"""Customer attributes as they were at a cut-off, never as the extraction day saw them.

A customers table is a snapshot of the extraction day. Attributes that can change are
point-in-time only when they can be rebuilt for the date:

- **membership** (``loyalty_member``) from the sign-up and cancellation dates: a member at a
  cut-off signed up on/before it and had not cancelled by then; ``membership_cancelled`` (1/0)
  says whether a member had cancelled by the cut-off. Without the dates the flag is a snapshot.
- **tier** (``member_tier``) recomputed from the completed trips as of the date by the job's
  tier rule (:class:`TierRule`, ``data.tier_rule``): trips ever and trips ended in the trailing
  window decide the level. Without a rule the tier is a snapshot.

A snapshot column is used only at cut-offs on/after the snapshot date (the data's as-of
date); at an earlier cut-off (a landmark, a holdout's training date) it is left out, and
``attrs["snapshot_excluded"]`` names it. Attributes fixed at sign-up (``customer_type``,
``acquisition_channel``) are copied as they are. Units: days for the window, counts of trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["POINT_IN_TIME_COLUMNS", "TierLevel", "TierRule", "point_in_time_attributes",
           "recent_trip_counts", "tier_from_counts"]

#: the attribute columns this module writes, in this order (both feature engines)
POINT_IN_TIME_COLUMNS: tuple[str, ...] = ("loyalty_member", "membership_cancelled", "member_tier")


@dataclass(frozen=True)
class TierLevel:
    """One tier: reached with at least ``min_trips_ever`` completed trips in all and
    ``min_trips_recent`` ending in the rule's trailing window."""

    tier: str
    min_trips_ever: int = 0
    min_trips_recent: int = 0


@dataclass(frozen=True)
class TierRule:
    """How a loyalty programme sets tiers from completed trips.

    Parameters
    ----------
    window_days : the trailing window (days) of the recent-trip count, ending at the date.
    levels : tiers from lowest to highest; a customer gets the highest level whose minimums
        are both met, else ``base_tier``.
    base_tier : the tier without any level met (e.g. ``regular``).
    """

    window_days: int
    levels: tuple[TierLevel, ...]
    base_tier: str = "regular"

    @classmethod
    def from_params(cls, params) -> TierRule | None:
        """From the job's ``data.tier_rule`` section (None -> None)."""
        if params is None:
            return None
        return cls(window_days=int(params.window_days), base_tier=params.base_tier,
                   levels=tuple(TierLevel(lv.tier, lv.min_trips_ever, lv.min_trips_recent)
                                for lv in params.levels))


def tier_from_counts(ever: np.ndarray, recent: np.ndarray, rule: TierRule) -> pd.Categorical:
    """Tier per customer from completed-trip counts (ever, and in the trailing window)."""
    names = [rule.base_tier, *[lv.tier for lv in rule.levels]]
    code = np.zeros(len(ever), dtype=np.int64)
    for j, lv in enumerate(rule.levels, start=1):
        code[(ever >= lv.min_trips_ever) & (recent >= lv.min_trips_recent)] = j
    order = list(dict.fromkeys(names))  # the rule's order: base tier, then each level up
    return pd.Categorical(np.asarray(names, dtype=object)[code], categories=order)


def _day(s: pd.Series) -> pd.Series:
    return s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s)


def point_in_time_attributes(
    frame: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    customers: pd.DataFrame | None,
    trips_ever: np.ndarray | None = None,
    trips_recent: np.ndarray | None = None,
    snapshot_date: pd.Timestamp | None = None,
    tier_rule: TierRule | None = None,
) -> pd.DataFrame:
    """Add the point-in-time attributes (:data:`POINT_IN_TIME_COLUMNS`) to a feature frame.

    Parameters
    ----------
    frame : customer features at ``cutoff``, index ``customer_id``; modified and returned.
    cutoff : the cut-off (time-zone naive).
    customers : the contract customers table (``customer_id``; ``loyalty_member``,
        ``signup_date``, ``membership_cancel_date``, ``member_tier`` when present) or None.
    trips_ever, trips_recent : completed trips per row of ``frame`` as of the cut-off, in all
        and ended in the tier rule's window (needed with ``tier_rule``).
    snapshot_date : the date the customers table describes (the data's as-of date); None:
        unknown, so snapshot columns are never used.
    tier_rule : recompute ``member_tier`` as of the cut-off (None: the tier is a snapshot).

    Returns
    -------
    pandas.DataFrame : ``frame`` with ``loyalty_member`` (boolean), ``membership_cancelled``
    (float 1/0; NaN without membership dates) and ``member_tier`` (category) where they can be
    known at the cut-off; ``attrs["snapshot_excluded"]`` lists the columns left out.
    """
    excluded: list[str] = []
    frame["membership_cancelled"] = np.nan  # set below when membership dates allow
    snapshot_ok = snapshot_date is not None and cutoff >= pd.Timestamp(snapshot_date)
    ids = frame.index
    attrs = (customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
             if customers is not None else pd.DataFrame(index=pd.Index([], name="customer_id")))
    if "loyalty_member" in attrs.columns:
        enrolled = attrs["loyalty_member"].astype("boolean").reindex(ids)
        dated = "signup_date" in attrs.columns or "membership_cancel_date" in attrs.columns
        if dated:
            started = (_day(attrs["signup_date"]).reindex(ids) <= cutoff
                       if "signup_date" in attrs.columns else pd.Series(True, index=ids))
            cancel = (_day(attrs["membership_cancel_date"]).reindex(ids)
                      if "membership_cancel_date" in attrs.columns
                      else pd.Series(pd.NaT, index=ids))
            gone = (cancel <= cutoff).fillna(False)
            member = enrolled & started.astype("boolean") & ~gone.astype("boolean")
            frame["loyalty_member"] = member.array
            frame["membership_cancelled"] = (
                (enrolled & gone.astype("boolean")).astype("Float64").to_numpy(
                    dtype=float, na_value=np.nan)
                if "membership_cancel_date" in attrs.columns else np.nan)
        elif snapshot_ok:
            frame["loyalty_member"] = enrolled.array
            frame["membership_cancelled"] = np.nan
        else:
            excluded.append("loyalty_member")
    if tier_rule is not None:
        if trips_ever is None or trips_recent is None:
            raise ValueError("a tier rule needs the completed-trip counts (trips_ever, trips_recent)")
        frame["member_tier"] = tier_from_counts(np.asarray(trips_ever), np.asarray(trips_recent),
                                                tier_rule)
    elif "member_tier" in attrs.columns:
        if snapshot_ok:
            s = attrs["member_tier"].reindex(ids)
            frame["member_tier"] = (s if isinstance(s.dtype, pd.CategoricalDtype)
                                    else s.astype("category")).values
        else:
            excluded.append("member_tier")
    frame.attrs["snapshot_excluded"] = excluded
    return frame


def recent_trip_counts(trip_end: pd.Series, codes: np.ndarray, n: int, cutoff: pd.Timestamp,
                       window_days: int) -> np.ndarray:
    """Completed trips per customer code that ended in ``(cutoff - window_days, cutoff]``."""
    recent = (trip_end > cutoff - pd.Timedelta(days=window_days)).to_numpy()
    return np.bincount(codes[recent], minlength=n)

