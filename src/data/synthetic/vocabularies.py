"""The demo travel company's own vocabularies: its tiers, traveller kinds, products,
destination types and booking channels.

These are one company's words, not the data contract's: another company's export brings its
own (declared in its job as ``data.source.tables.<table>.vocabulary``, or taken from the
data), and the contract (:mod:`src.data.contract`) fixes only the meanings the models need
(booking statuses, contact channels, interaction kinds, complaint causes). The synthetic
generator draws from these lists, in this order.
"""

from __future__ import annotations

__all__ = ["BOOKING_CHANNELS", "CUSTOMER_KINDS", "DESTINATION_TYPES", "MEMBER_TIERS",
           "PRODUCTS"]

MEMBER_TIERS: tuple[str, ...] = ("regular", "silver", "gold", "platinum", "diamond")
"""Loyalty tiers, lowest first (the demo job's ``data.tier_rule`` rebuilds them by date)."""
CUSTOMER_KINDS: tuple[str, ...] = ("individual", "corporate")
PRODUCTS: tuple[str, ...] = ("hotel", "flight", "package", "tour", "ticket", "business_travel")
DESTINATION_TYPES: tuple[str, ...] = ("nature", "culture", "beach", "city")
BOOKING_CHANNELS: tuple[str, ...] = ("app", "web", "call_center", "ota", "store")
