"""Next best action per customer, preferred contact channel, and what to offer next.

Actions come from ordered ``{"action": <name>, "when": <expression>}`` rules kept in params and
are evaluated by the project's one first-match rule evaluator
(:func:`src.decisioning.lifecycle.first_match`, with its safe expression checker): the first rule
whose condition holds gives the action, and the last default rule (``"True"``) makes sure
every customer gets exactly one. Expressions may use any column of the scored frame (the
scoring features plus the model outputs: ``value_tier``, ``stage``, ``churn_prob_365d``,
``p_alive``, ``clv``, ``contactable``, ...).

Default rules (:data:`DEFAULT_ACTION_RULES`)
--------------------------------------------
``do_not_contact``
    no consent on any contact channel (``contactable == 0``).
``service_recovery``
    a complaint in the last 90 days: fix the service first, no promotion.
``member_win_back``
    a loyalty member who cancelled: a win-back offer, never nurture, VIP care or upsell.
``win_back_call``
    high value (most valuable / major tier) and lapsed, or churn probability within 365 days
    >= 0.5.
``vip_care``
    most valuable tier and churn probability within 365 days < 0.3 (VIP care / upgrade).
``second_trip_offer``
    active one-time customer (one booking day) with good satisfaction (CSAT >= 4 or NPS >= 9).
``reactivation``
    lapsed or at-risk lifecycle stage.
``nurture``
    everyone else.

The names are the lists' names (``list_<action>``). :func:`default_action_rules` gives this
rule set worded in a vocabulary (:mod:`src.vocabulary`): ``second_trip_offer`` is
``second_order_offer`` in ``retail`` and ``renewal_offer`` in ``subscription``; rules in the
params keep the names they give.

Destination / product suggestion
--------------------------------
:class:`ItemAssociation` fits item-to-item association on completed bookings (items:
destination types and products, one basket per customer): support, confidence
``P(j | i)`` and lift ``P(j | i) / P(j)``. A customer is suggested, per item kind, the item
they have not booked yet with the highest lift from any item they have booked (the most
popular item when they have booked nothing of that kind's neighbours).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from src.decisioning.lifecycle import first_match, validate_stage_rules
from src.features.definitions import completed_bookings
from src.vocabulary import Vocabulary
from src.vocabulary import vocabulary as vocabulary_named

__all__ = [
    "DEFAULT_ACTION_RULES",
    "DEFAULT_ITEM_COLUMNS",
    "ItemAssociation",
    "NO_CHANNEL",
    "default_action_rules",
    "next_best_action",
    "preferred_channel",
    "validate_action_rules",
]

DEFAULT_ACTION_RULES: list[dict[str, str]] = [
    {"action": "do_not_contact", "when": "contactable == 0"},
    {"action": "service_recovery", "when": "days_since_last_complaint <= 90"},
    {"action": "member_win_back", "when": "churn_status == 'cancelled'"},
    {"action": "win_back_call",
     "when": "value_tier in ['most_valuable', 'major'] and "
             "(churn_status == 'lapsed' or churn_prob_365d >= 0.5)"},
    {"action": "vip_care", "when": "value_tier == 'most_valuable' and churn_prob_365d < 0.3"},
    {"action": "second_trip_offer",
     "when": "churn_status == 'active' and n_bookings >= 1 and frequency == 0 and "
             "(csat_mean >= 4 or nps_mean >= 9)"},
    {"action": "reactivation", "when": "stage in ['lapsed', 'at_risk']"},
    {"action": "nurture", "when": "True"},
]
"""Ordered next-best-action rules, first match wins (days, probabilities, tiers); the
``travel`` wording of :func:`default_action_rules`."""

NO_CHANNEL = "none"
"""Preferred channel of a customer without consent on any contact channel."""

DEFAULT_ITEM_COLUMNS: dict[str, str] = {"destination_type": "dest_", "product": "product_"}
"""Bookings column -> customer-feature prefix of its shares (``dest_beach``, ...)."""


def default_action_rules(vocabulary: str | Vocabulary = "travel") -> list[dict[str, str]]:
    """:data:`DEFAULT_ACTION_RULES` with the action (list) names of ``vocabulary`` (a
    :mod:`src.vocabulary` name or :class:`~src.vocabulary.Vocabulary`): what a
    job without ``scoring.action_rules`` uses. A new list, the conditions unchanged."""
    vocab = vocabulary_named(vocabulary)
    return [{**r, "action": vocab.action_name(r["action"])} for r in DEFAULT_ACTION_RULES]


def validate_action_rules(rules: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Check action rules (``{"action", "when"}``) against the available columns.

    Raises
    ------
    src.decisioning.lifecycle.RuleError
        A rule is malformed, unsafe or uses a column that does not exist; names the rule.
    """
    validate_stage_rules(rules, columns, key="action")


def next_best_action(scored: pd.DataFrame,
                     rules: Sequence[dict[str, Any]] = DEFAULT_ACTION_RULES,
                     default: str = "nurture") -> pd.Series:
    """Recommended action per customer: the first rule whose condition holds.

    Parameters
    ----------
    scored : one row per customer with every column the rules use, shape (n, ...).
    rules : ordered ``{"action": str, "when": str}`` rules.
    default : action of customers no rule matched (only possible without a catch-all rule),
        so that every customer gets exactly one action.

    Returns
    -------
    pandas.Series of str, index of ``scored``, name ``recommended_action``.
    """
    hit = first_match(scored, rules, key="action")
    out = hit.astype(object).where(hit.notna(), default)
    return out.rename("recommended_action")


def preferred_channel(features: pd.DataFrame, channels: Sequence[str] = ("email", "sms", "phone")
                      ) -> pd.Series:
    """Preferred contact channel: the consented channel the customer engages with most.

    Parameters
    ----------
    features : one row per customer with ``consent_<channel>`` (1/0/NaN or bool; missing
        counts as no consent) and optionally ``engaged_<channel>`` (opened/clicked/inquiry
        interactions on that channel, counts).
    channels : contact channels in order of preference for ties.

    Returns
    -------
    pandas.Series of str, index of ``features``, name ``preferred_channel``: a channel name,
    or :data:`NO_CHANNEL` when no channel has consent.
    """
    n = len(features)
    score = np.full((n, len(channels)), -np.inf)
    for j, ch in enumerate(channels):
        consent = _flag(features, f"consent_{ch}")
        eng = (pd.to_numeric(features[f"engaged_{ch}"], errors="coerce").fillna(0).to_numpy(float)
               if f"engaged_{ch}" in features.columns else np.zeros(n))
        # engagement first; ties broken by the channel order (small decreasing bonus)
        score[:, j] = np.where(consent, eng + (len(channels) - j) * 1e-6, -np.inf)
    best = np.argmax(score, axis=1) if len(channels) else np.zeros(n, dtype=int)
    names = np.asarray(list(channels) + [NO_CHANNEL], dtype=object)
    none = ~np.isfinite(score).any(axis=1) if len(channels) else np.ones(n, dtype=bool)
    return pd.Series(np.where(none, names[-1], names[best]), index=features.index,
                     name="preferred_channel", dtype=object)


def _flag(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Boolean array of a 1/0/bool column; missing column or value -> False."""
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    s = frame[col]
    if s.dtype == object:
        s = s.map(lambda v: v in (True, 1, 1.0, "true", "True", "1"))
    return pd.to_numeric(s, errors="coerce").fillna(0).to_numpy(dtype=float) > 0


class ItemAssociation:
    """Item-to-item association on booking baskets (one basket per customer).

    Parameters
    ----------
    item_columns : bookings column -> customer-feature prefix (``{"destination_type":
        "dest_", "product": "product_"}``); each column's values are items of one kind.
    min_support : items booked by a smaller share of customers are never suggested.

    Attributes
    ----------
    items_ : list[str] -- ``"<column>=<value>"``.
    kinds_ : list[str] -- the bookings column of each item.
    support_ : pandas.Series -- share of customers who booked the item.
    confidence_ : pandas.DataFrame -- ``P(column item | row item)`` (items x items).
    lift_ : pandas.DataFrame -- confidence / support of the column item.
    n_customers_ : int -- baskets in the fit.
    """

    def __init__(self, item_columns: Mapping[str, str] | None = None, min_support: float = 0.01):
        self.item_columns = item_columns
        self.min_support = min_support

    def fit(self, bookings: pd.DataFrame, cutoff_date: Any) -> ItemAssociation:
        """Fit on the completed bookings up to ``cutoff_date`` (contract ``bookings``)."""
        cols = dict(self.item_columns or DEFAULT_ITEM_COLUMNS)
        done = completed_bookings(bookings, cutoff_date)
        cols = {c: p for c, p in cols.items() if c in done.columns}
        if not cols:
            raise ValueError(f"ItemAssociation: bookings have none of the item columns "
                             f"{list(self.item_columns or DEFAULT_ITEM_COLUMNS)}")
        parts = []
        for col in cols:
            v = done[col]
            ok = v.notna().to_numpy()
            parts.append(pd.DataFrame({"customer_id": done["customer_id"].to_numpy()[ok],
                                       "item": col + "=" + v.astype(str).to_numpy()[ok]}))
        pairs = pd.concat(parts, ignore_index=True).drop_duplicates()
        ci, cust = pd.factorize(pairs["customer_id"].to_numpy(), sort=True)
        ii, items = pd.factorize(pairs["item"].to_numpy(), sort=True)
        cust, items = np.asarray(cust), np.asarray(items)
        basket = np.zeros((len(cust), len(items)), dtype=np.float64)
        basket[ci, ii] = 1.0
        n = max(len(cust), 1)
        co = basket.T @ basket / n  # P(i and j)
        support = np.diag(co).copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            conf = np.where(support[:, None] > 0, co / support[:, None], 0.0)
            lift = np.where(support[None, :] > 0, conf / support[None, :], 0.0)
        self.items_ = [str(i) for i in items]
        self.kinds_ = [i.split("=", 1)[0] for i in self.items_]
        self.prefixes_ = cols
        self.support_ = pd.Series(support, index=self.items_, name="support")
        self.confidence_ = pd.DataFrame(conf, index=self.items_, columns=self.items_)
        self.lift_ = pd.DataFrame(lift, index=self.items_, columns=self.items_)
        self.n_customers_ = len(cust)
        return self

    def feature_column(self, item: str) -> str:
        """Customer-feature column telling whether a customer booked ``item`` (share > 0)."""
        kind, value = item.split("=", 1)
        return f"{self.prefixes_[kind]}{value}"

    @property
    def input_columns_(self) -> list[str]:
        """Feature columns :meth:`suggest` reads."""
        return [self.feature_column(i) for i in self.items_]

    def rules(self, min_lift: float = 1.0) -> pd.DataFrame:
        """Association rules ``antecedent -> consequent`` (different items) with support,
        confidence and lift, sorted by lift (largest first)."""
        if not hasattr(self, "lift_"):
            raise RuntimeError("ItemAssociation is not fitted; call fit first")
        tab = (self.lift_.rename_axis("antecedent").rename_axis("consequent", axis=1)
               .stack().rename("lift").reset_index())
        tab["confidence"] = self.confidence_.to_numpy().ravel()
        tab["support_consequent"] = tab["consequent"].map(self.support_)
        tab = tab[(tab["antecedent"] != tab["consequent"]) & (tab["lift"] >= min_lift)]
        return tab.sort_values("lift", ascending=False).reset_index(drop=True)

    def suggest(self, features: pd.DataFrame) -> pd.DataFrame:
        """Best not-yet-booked item of each kind per customer.

        Parameters
        ----------
        features : one row per customer with the share columns of the items
            (:attr:`input_columns_`; a share > 0 means the customer booked the item).

        Returns
        -------
        pandas.DataFrame, index of ``features``: per item kind ``suggested_<kind>`` (the
        item value, None when every item of that kind was booked) and
        ``suggested_<kind>_lift`` (the best lift from a booked item; NaN for customers
        without a booked item, who are suggested the most popular item).
        """
        if not hasattr(self, "lift_"):
            raise RuntimeError("ItemAssociation is not fitted; call fit first")
        n = len(features)
        booked = np.zeros((n, len(self.items_)), dtype=bool)
        for j, item in enumerate(self.items_):
            col = self.feature_column(item)
            if col in features.columns:
                booked[:, j] = pd.to_numeric(features[col], errors="coerce").fillna(0).to_numpy() > 0
        lift = self.lift_.to_numpy()
        support = self.support_.to_numpy()
        # best lift from any booked item to each candidate item: (n, items)
        best = np.full((n, len(self.items_)), -np.inf)
        for i in range(len(self.items_)):
            rows = booked[:, i]
            if rows.any():
                best[rows] = np.maximum(best[rows], lift[i][None, :])
        has_any = booked.any(axis=1)
        out = pd.DataFrame(index=features.index)
        values = np.asarray([i.split("=", 1)[1] for i in self.items_], dtype=object)
        for kind in self.prefixes_:
            cols = np.flatnonzero((np.asarray(self.kinds_) == kind) & (support >= self.min_support))
            if not len(cols):
                out[f"suggested_{kind}"] = None
                out[f"suggested_{kind}_lift"] = np.nan
                continue
            # candidates: not booked; score = best lift, or the support for customers with no
            # booked item (popularity); ties -> more popular item
            score = np.where(has_any[:, None], best[:, cols], 0.0) + support[cols][None, :] * 1e-9
            score = np.where(booked[:, cols], -np.inf, score)
            k = np.argmax(score, axis=1)
            top = score[np.arange(n), k]
            out[f"suggested_{kind}"] = np.where(np.isfinite(top), values[cols][k], None)
            out[f"suggested_{kind}_lift"] = np.where(np.isfinite(top) & has_any,
                                                     best[np.arange(n), cols[k]], np.nan)
        return out
