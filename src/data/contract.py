"""The data contract: the four tables a travel company has, their columns and types.

Every loader, validator, generator and model in the project speaks these column names.
Another company's export is mapped onto them by params (``data.tables.<table>.columns``),
never by code.

Only ``bookings`` with ``customer_id``, ``booking_date`` and ``amount`` is mandatory; every
other table and column is optional and the models say which inputs they did not have.

Units
-----
- dates: calendar dates (``datetime64[ns]``, no time zone); ``interactions.timestamp`` may
  carry a time of day.
- ``amount``: money in the data's own currency (``currency`` column), per booking, after
  refunds (may be zero or negative for a refunded booking; negative amounts are rejected
  unless ``status`` says the booking was refunded/cancelled).
- ``nights``: nights of stay; ``party_size``: travellers on the booking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["string", "date", "datetime", "int", "float", "bool", "category"]


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    Parameters
    ----------
    name : contract name of the column.
    kind : logical type; the loader coerces to it (``date`` -> ``datetime64[ns]`` normalised
        to midnight, ``category`` -> pandas ``category`` restricted to ``allowed`` when given).
    required : whether the table is unusable without it.
    allowed : the contract's meanings for a ``category`` column the models read (booking
        statuses, contact channels, ...); ``None``: the company's own levels (any value, or
        those its job declares under ``vocabulary``).
    pii : personal data: never logged to MLflow nor printed in notebooks.
    nullable : whether missing values are acceptable.
    snapshot : the value as of the extraction day, with no history: it may have been
        different at an earlier date, so nothing computed as of an earlier date reads it
        (the data-quality report lists these columns and how each is handled).
    max_length : for text (``string``, ``category``): the most characters a value may have;
        a longer one is a broken export or a hostile value, and its row is rejected with the
        reason. ``None``: :data:`TEXT_MAX_LENGTH`.
    """

    name: str
    kind: Kind
    required: bool = False
    allowed: tuple[str, ...] | None = None
    pii: bool = False
    nullable: bool = True
    description: str = ""
    snapshot: bool = False
    max_length: int | None = None

    @property
    def text_bound(self) -> int | None:
        """The character bound of a text column (None for numbers, dates, flags)."""
        if self.kind not in ("string", "category"):
            return None
        return self.max_length or TEXT_MAX_LENGTH


TEXT_MAX_LENGTH = 500
"""Characters a text value may have where its column names no bound (levels, places)."""
ID_MAX_LENGTH = 128
"""Characters of a customer or booking key (UUIDs are 36; composite keys stay well below)."""


@dataclass(frozen=True)
class Table:
    """A contract table: its name, key and columns."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = False
    doc: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


# The meanings the models need. A company's own words for them are mapped onto these by its
# job (``values``: e.g. {status: {Storno: cancelled}}); everything else (tiers, products,
# channels, destinations, customer kinds) is the company's own vocabulary, declared in its job
# (``vocabulary``) or taken from the data: see src/data/synthetic/vocabularies.py for the demo
# company's.
BOOKING_STATUSES: tuple[str, ...] = ("completed", "confirmed", "cancelled", "no_show")
"""``confirmed``: booked, trip not yet ended (counts as completed only once the trip ends)."""
CONTACT_CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "app_push", "social")
INTERACTION_KINDS: tuple[str, ...] = ("campaign_sent", "opened", "clicked", "inquiry", "complaint")
COMPLAINT_CATEGORIES: tuple[str, ...] = ("service", "product", "price", "competitor", "moved", "other")
"""Complaint causes the churn-cause analysis and the first-trip flags are defined on."""

CUSTOMERS = Table(
    name="customers",
    key=("customer_id",),
    doc="One row per customer.",
    columns=(
        Column("customer_id", "string", required=True, nullable=False, max_length=ID_MAX_LENGTH),
        Column("signup_date", "date"),
        Column("birth_year", "int"),
        Column("gender", "category"),
        Column("home_region", "category", snapshot=True),
        Column("member_tier", "category", snapshot=True,
               description="loyalty tier on the extraction day, in the company's words "
                           "(ordered lowest first by the job's vocabulary.member_tier; rebuilt "
                           "as of each date by data.tier_rule; without one, left out before "
                           "the extraction day)"),
        Column("customer_type", "category"),
        Column("acquisition_channel", "category"),
        Column("consent_email", "bool", snapshot=True,
               description="consent on the extraction day: decides who is contacted now"),
        Column("consent_sms", "bool", snapshot=True,
               description="consent on the extraction day: decides who is contacted now"),
        Column("consent_phone", "bool", snapshot=True,
               description="consent on the extraction day: decides who is contacted now"),
        Column("loyalty_member", "bool",
               description="enrolled in the loyalty programme (contractual churn applies)"),
        Column("membership_cancel_date", "date",
               description="loyalty-programme cancellation date (contractual churn); empty if member"),
        Column("name", "string", pii=True, max_length=200),
        Column("email", "string", pii=True, max_length=254),
        Column("phone", "string", pii=True, max_length=40),
    ),
)

BOOKINGS = Table(
    name="bookings",
    key=("booking_id",),
    required=True,
    doc="One row per booking (order). Completed only once the trip has ended.",
    columns=(
        Column("booking_id", "string", nullable=False, max_length=ID_MAX_LENGTH),
        Column("customer_id", "string", required=True, nullable=False, max_length=ID_MAX_LENGTH),
        Column("booking_date", "date", required=True, nullable=False),
        Column("travel_start", "date"),
        Column("nights", "int"),
        Column("product", "category"),
        Column("destination", "category"),
        Column("destination_type", "category"),
        Column("channel", "category"),
        Column("party_size", "int"),
        Column("amount", "float", required=True, nullable=False),
        Column("currency", "category"),
        Column("status", "category", allowed=BOOKING_STATUSES,
               description="status on the extraction day; as of an earlier date it counts "
                           "only once status_date (or the latest date it can have been set) "
                           "has passed"),
        Column("status_date", "date",
               description="the day the status was set (completion, cancellation, no-show): "
                           "the dated history that makes the status point-in-time"),
    ),
)

INTERACTIONS = Table(
    name="interactions",
    doc="Contacts between company and customer, including complaints.",
    columns=(
        Column("customer_id", "string", required=True, nullable=False, max_length=ID_MAX_LENGTH),
        Column("timestamp", "datetime", required=True, nullable=False),
        Column("channel", "category", allowed=CONTACT_CHANNELS),
        Column("kind", "category", required=True, allowed=INTERACTION_KINDS, nullable=False),
        Column("complaint_category", "category", allowed=COMPLAINT_CATEGORIES),
    ),
)

FEEDBACK = Table(
    name="feedback",
    doc="Post-trip surveys.",
    columns=(
        Column("customer_id", "string", required=True, nullable=False, max_length=ID_MAX_LENGTH),
        Column("booking_id", "string", max_length=ID_MAX_LENGTH),
        Column("date", "date", required=True, nullable=False),
        Column("csat", "int"),
        Column("nps", "int"),
        Column("comment", "string", pii=True, max_length=10_000),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, BOOKINGS, INTERACTIONS, FEEDBACK)}


def pii_columns() -> dict[str, list[str]]:
    """Personal-data columns per table (never logged, never printed)."""
    return {name: t.pii_columns for name, t in TABLES.items()}


def snapshot_columns() -> dict[str, list[str]]:
    """Columns per table that are snapshots of the extraction day (:attr:`Column.snapshot`)."""
    return {name: [c.name for c in t.columns if c.snapshot] for name, t in TABLES.items()}
