"""The roles ``crm init`` recognises, in plain words, and the flag that settles each.

Kept apart from :mod:`src.data.recognition.roles` (which reads the data) so that the command
line can list the flags without loading pandas or DuckDB.
"""

from __future__ import annotations

__all__ = ["ROLES"]

ROLES: dict[str, tuple[str, str]] = {
    "customer_id": ("customer key (who the customer is)", "--customer-id"),
    "booking_id": ("booking key (rows that share it are lines of one booking)", "--booking-id"),
    "booking_date": ("booking date", "--date"),
    "travel_start": ("trip start date", "--travel-start"),
    "amount": ("amount paid per row (money)", "--amount"),
    "quantity": ("quantity per line", "--quantity"),
    "unit_price": ("unit price per line", "--unit-price"),
    "status": ("booking status (completed / cancelled / no-show)", "--status"),
    "activity": ("activity count (a row with 0 is not a booking)", "--activity"),
    "member_tier": ("loyalty tier", "--tier"),
    "signup_date": ("membership start date", "--signup"),
    "membership_cancel_date": ("membership cancellation date", "--cancel"),
    "tenure": ("tenure (time as a customer)", "--tenure"),
    "churn_flag": ("churned yes/no", "--churned"),
    "consent_email": ("email consent", "--consent"),
}
"""role -> (plain words, ``crm init`` flag)."""
