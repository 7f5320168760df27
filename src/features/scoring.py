"""The scorer's input: one flat feature table per customer as of a cut-off.

:func:`scoring_features` (``tables -> features``) is the first of the two scoring steps that
every entry point shares (the notebook, ``crm features``/``crm score``, Spark): the customer
features, booking gaps, the BTYD summary (``btyd_*``, in the CLV model's time unit), the
churn state (``churn_at_risk``, ``age_days``), consent and engagement per contact channel
and the days since the last complaint, plus ``customer_id`` and ``cutoff_date`` (ISO
string). The second step, :meth:`src.decisioning.scoring.CustomerScorer.predict`, turns it into
scores. Units: days for every ``*_days`` column, the data's currency for money.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from src.features.cache import features_at
from src.features.customer import booking_gaps
from src.features.definitions import is_at_risk
from src.features.rfm_summary import summary_at
from src.features.survival import AGE_COL, lapse_survival_table, membership_survival_table

if TYPE_CHECKING:
    from src.params.schema import JobParams

__all__ = ["FeatureSettings", "MissingColumnsError", "churn_state", "contact_features",
           "scoring_features"]

_ENGAGED_KINDS = ("opened", "clicked", "inquiry")


class MissingColumnsError(KeyError):
    """The input lacks columns the scorer needs; ``missing`` names them."""

    def __init__(self, missing: Sequence[str], where: str = "scorer input"):
        self.missing = list(missing)
        super().__init__(
            f"{where} lacks {len(self.missing)} column(s) the scorer needs: {self.missing}. "
            "Build the input with src.decisioning.scoring.scoring_features (or map the columns).")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass
class FeatureSettings:
    """How :func:`scoring_features` builds the feature table.

    churn_definition, churn_gap_days, churn_time_origin : as in
        :func:`src.models.churn.landmark_frame` (``gap_days`` in days).
    time_unit_days : BTYD time unit (days) of the CLV model.
    contact_channels : channels with consent columns in ``customers``.
    start_col, cancel_col, member_col : membership-churn columns of ``customers``.
    """

    churn_definition: Literal["lapse", "membership"] = "lapse"
    churn_gap_days: int = 365
    churn_time_origin: Literal["start", "landmark"] = "landmark"
    time_unit_days: float = 1.0
    contact_channels: tuple[str, ...] = ("email", "sms", "phone")
    start_col: str = "signup_date"
    cancel_col: str = "membership_cancel_date"
    member_col: str = "loyalty_member"

    @classmethod
    def from_params(cls, params: JobParams) -> FeatureSettings:
        """The job's settings: churn definition from ``churn:``, the BTYD time unit from
        ``loyalty:``, the contact channels from ``scoring:``."""
        cp = params.churn
        return cls(churn_definition=cp.definition, churn_gap_days=cp.gap_days,
                   churn_time_origin=cp.time_origin, time_unit_days=params.loyalty.time_unit_days,
                   contact_channels=tuple(params.scoring.contact_channels),
                   start_col=cp.start_col, cancel_col=cp.cancel_col, member_col=cp.member_col)


def churn_state(tables: Mapping[str, pd.DataFrame], cutoff: pd.Timestamp,
                 s: FeatureSettings) -> pd.DataFrame:
    """``churn_at_risk`` (1 at risk now, 0 churned now, NaN not covered) and ``age_days``.

    Lapse churn: *at risk* (:func:`src.features.definitions.is_at_risk`: the last completed
    booking less than ``churn_gap_days`` old; a customer won back after an earlier lapse is
    at risk again); membership churn: a member who has not cancelled."""
    if s.churn_definition == "lapse":
        at = lapse_survival_table(tables["bookings"], cutoff_date=cutoff, gap_days=s.churn_gap_days)
    else:
        customers = tables.get("customers")
        if customers is None:
            return pd.DataFrame(columns=["churn_at_risk", AGE_COL], dtype=float)
        at = membership_survival_table(customers, cutoff_date=cutoff, start_col=s.start_col,
                                       cancel_col=s.cancel_col, member_col=s.member_col)
    out = pd.DataFrame(index=at.index)
    if s.churn_definition == "lapse":
        # at risk = not lapsed *now*: a customer won back after an old lapse is at risk again
        out["churn_at_risk"] = is_at_risk(at["last_booking_date"].to_numpy(), cutoff,
                                           s.churn_gap_days).astype(float)
    else:
        out["churn_at_risk"] = (at["event"].to_numpy() == 0).astype(float)
    age = at[AGE_COL].to_numpy(dtype=float)
    out[AGE_COL] = age if s.churn_time_origin == "start" else np.zeros(len(at))
    return out


def contact_features(ids: pd.Index, tables: Mapping[str, pd.DataFrame], cutoff: pd.Timestamp,
                      channels: Sequence[str]) -> pd.DataFrame:
    """Consent and engagement per channel and the days since the last complaint (days).

    Consent is a snapshot of the extraction day with no history: it is read when the
    customers table describes the cut-off (the tables' ``snapshot_date`` on/before it, or no
    snapshot date given: scoring *now*), and is NaN at an earlier cut-off (a backtest).
    """
    out = pd.DataFrame(index=ids)
    customers = tables.get("customers")
    snapshot_date = getattr(tables, "snapshot_date", None)
    if snapshot_date is not None and cutoff < pd.Timestamp(snapshot_date):
        customers = None  # consent of a later day: unknown at this cut-off
    for ch in channels:
        col = f"consent_{ch}"
        if customers is not None and col in customers.columns:
            c = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")[col]
            out[col] = pd.to_numeric(c.astype("Float64"), errors="coerce").reindex(ids).to_numpy(
                dtype=float, na_value=np.nan)
        else:
            out[col] = np.nan
    inter = tables.get("interactions")
    if inter is None:
        for ch in channels:
            out[f"engaged_{ch}"] = np.nan
        out["days_since_last_complaint"] = np.nan
        return out
    ts = pd.to_datetime(inter["timestamp"])
    inter = inter.loc[(ts < cutoff.normalize() + pd.Timedelta(days=1)).to_numpy()]
    kind = inter["kind"].astype(object)
    if "channel" in inter.columns:
        eng = inter.loc[kind.isin(_ENGAGED_KINDS).to_numpy()]
        counts = pd.crosstab(eng["customer_id"], eng["channel"].astype(object))
    else:
        counts = pd.DataFrame()
    for ch in channels:
        s = counts[ch] if ch in counts.columns else pd.Series(dtype=float)
        out[f"engaged_{ch}"] = s.reindex(ids).fillna(0).to_numpy(dtype=float)
    comp = inter.loc[(kind == "complaint").to_numpy()]
    last = pd.to_datetime(comp["timestamp"]).groupby(comp["customer_id"].to_numpy()).max()
    days = (cutoff - last.dt.normalize()) / pd.Timedelta(days=1)
    out["days_since_last_complaint"] = days.reindex(ids).to_numpy(dtype=float)
    return out


def scoring_features(tables: Mapping[str, pd.DataFrame], cutoff_date: Any,
                     settings: FeatureSettings | None = None) -> pd.DataFrame:
    """The one flat feature table the scorer reads, one row per customer known at the cut-off.

    Parameters
    ----------
    tables : contract tables (``bookings`` required; ``customers``, ``interactions``,
        ``feedback`` optional).
    cutoff_date : date-like; only rows dated on/before it are used.
    settings : :class:`FeatureSettings` (churn definition, BTYD time unit, channels).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``cutoff_date`` (ISO string), the
        :func:`~src.features.customer.customer_features` columns, ``max_gap_days`` /
        ``last_gap_days`` (days), ``btyd_frequency`` / ``btyd_recency`` / ``btyd_T`` (model
        time units) and ``btyd_monetary_value`` (currency; NaN without a purchase),
        ``churn_at_risk`` (1 alive, 0 already churned, NaN not covered by the churn
        definition) and ``age_days`` (days at risk at the cut-off on the churn model's time
        scale), ``consent_<channel>`` (1/0/NaN), ``engaged_<channel>`` (opened, clicked or
        inquiry interactions on the channel) and ``days_since_last_complaint`` (days).
        ``attrs["missing_inputs"]`` names absent inputs.
    """
    s = settings or FeatureSettings()
    cutoff = pd.Timestamp(cutoff_date).normalize()
    bookings = tables["bookings"]
    f = features_at(tables, cutoff)  # from the run's feature cache when the tables carry one
    missing = list(f.attrs.get("missing_inputs", []))
    f = f.join(booking_gaps(bookings, cutoff), how="left")
    summary = summary_at(bookings, cutoff, time_unit_days=s.time_unit_days)
    btyd = summary[[c for c in ("frequency", "recency", "T", "monetary_value")
                    if c in summary.columns]].add_prefix("btyd_")
    f = f.join(btyd, how="left")
    if "btyd_monetary_value" not in f.columns:
        f["btyd_monetary_value"] = np.nan
    f = f.join(churn_state(tables, cutoff, s), how="left")
    f = f.join(contact_features(f.index, tables, cutoff, s.contact_channels), how="left")
    f = f.drop(columns=["first_booking_date", "last_booking_date"])  # dates: recency/tenure
    f.insert(0, "cutoff_date", str(cutoff.date()))
    out = f.reset_index()
    out.attrs["missing_inputs"] = missing
    out.attrs["cutoff_date"] = str(cutoff.date())
    return out
