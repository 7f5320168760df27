"""Property test of the validator: corrupt random cells of a valid bookings table and check
that every row is kept or rejected exactly once, that exactly the corrupted rows are rejected,
and that kept rows are valid and carry the values that were written."""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data.contract import BOOKING_STATUSES
from src.data.synthetic.vocabularies import BOOKING_CHANNELS, PRODUCTS
from src.data.validation import schema_for, validate_table

AS_OF = pd.Timestamp("2024-12-31")

# ways of writing a valid date (read with dayfirst=True)
DATE_FORMATS = (
    lambda d, t: d.strftime("%Y-%m-%d"),
    lambda d, t: d.strftime("%Y%m%d"),
    lambda d, t: d.strftime("%d/%m/%Y"),
    lambda d, t: d.strftime("%d.%m.%Y"),
    lambda d, t: datetime.combine(d, t).strftime("%Y-%m-%d %H:%M"),
    lambda d, t: datetime.combine(d, t).strftime("%Y-%m-%dT%H:%M:%S"),
    lambda d, t: datetime.combine(d, t).strftime("%d/%m/%Y %H:%M"),
    lambda d, t: d.strftime("%d %b %Y"),
)
# ways of writing a valid amount (in cents)
AMOUNT_FORMATS = (
    lambda c: f"{c / 100:.2f}",
    lambda c: f"{c / 100:,.2f}",
    lambda c: f"${c / 100:.2f}",
    lambda c: f" {c / 100:.2f} ",
)
VOCABULARY = {"product": list(PRODUCTS), "channel": list(BOOKING_CHANNELS)}
# ways of writing a valid category value
CASE_FORMATS = (str, str.upper, str.title, lambda v: f" {v} ")


@st.composite
def booking_row(draw, i: int):
    day = draw(st.dates(date(2015, 1, 1), AS_OF.date()))
    at = draw(st.times(time(0, 0), time(23, 59)).map(lambda t: t.replace(second=0, microsecond=0)))
    status = draw(st.sampled_from(BOOKING_STATUSES))
    cents = draw(st.integers(0, 500_000))
    if status == "cancelled" and draw(st.booleans()):
        cents = -cents  # a refund
    truth = {
        "booking_id": f"B{i}",
        "customer_id": f"C{draw(st.integers(0, 5))}",
        "booking_date": pd.Timestamp(day),
        "nights": draw(st.one_of(st.none(), st.integers(0, 30))),
        "product": draw(st.one_of(st.none(), st.sampled_from(PRODUCTS))),
        "channel": draw(st.sampled_from(BOOKING_CHANNELS)),
        "party_size": draw(st.integers(1, 9)),
        "amount": cents / 100,
        "status": status,
    }
    case = draw(st.sampled_from(CASE_FORMATS))
    text = {
        "booking_id": truth["booking_id"],
        "customer_id": draw(st.sampled_from(CASE_FORMATS[::3]))(truth["customer_id"]),
        "booking_date": draw(st.sampled_from(DATE_FORMATS))(day, at),
        "nights": "" if truth["nights"] is None else str(truth["nights"]),
        "product": "" if truth["product"] is None else case(truth["product"]),
        "channel": case(truth["channel"]),
        "party_size": str(truth["party_size"]),
        "amount": draw(st.sampled_from(AMOUNT_FORMATS))(cents),
        "status": case(status),
    }
    return truth, text


CORRUPTIONS = {
    "amount_text": {"amount": "abc"},
    "amount_blank": {"amount": ""},
    "amount_negative": {"amount": "-12.50", "status": "completed"},
    "amount_infinite": {"amount": "inf"},
    "date_garbage": {"booking_date": "not a date"},
    "date_impossible": {"booking_date": "2024-02-30"},
    "date_future": {"booking_date": "2031-05-05"},
    "date_blank": {"booking_date": " "},
    "customer_blank": {"customer_id": ""},
    "booking_id_blank": {"booking_id": ""},
    "status_bad": {"status": "lost"},
    "product_bad": {"product": "spaceship"},
    "channel_bad": {"channel": "pigeon"},
    "nights_negative": {"nights": "-1"},
    "nights_fraction": {"nights": "2.5"},
    "party_zero": {"party_size": "0"},
    "booking_id_dup": None,  # copy the booking_id of an earlier row
}


@st.composite
def corrupted_bookings(draw):
    n = draw(st.integers(10, 30))
    rows = [draw(booking_row(i)) for i in range(n)]
    truth = pd.DataFrame([r[0] for r in rows])
    text = pd.DataFrame([r[1] for r in rows])
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.sampled_from(sorted(CORRUPTIONS))),
            max_size=n // 3,
        )
    )
    invalid: set[int] = set()
    dup_targets: set[int] = set()
    for row, kind in cells:
        if kind == "booking_id_dup":
            if row == 0:
                continue
            source = draw(st.integers(0, row - 1))
            text.loc[row, "booking_id"] = text.loc[source, "booking_id"]
            dup_targets.add(row)
        else:
            for col, value in CORRUPTIONS[kind].items():
                text.loc[row, col] = value
            invalid.add(row)
    ids = text["booking_id"].str.strip().replace("", np.nan)
    later_duplicates = set(np.flatnonzero(ids.notna() & ids.duplicated(keep="first")))
    assert later_duplicates <= dup_targets  # only rows we corrupted can be later duplicates
    # a copy of an id that was blanked before is a blank id: invalid too
    blank = set(np.flatnonzero(ids.isna()))
    return truth, text, invalid | later_duplicates | blank


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_bookings())
def test_every_row_is_kept_or_rejected_exactly_once(case):
    truth, text, invalid = case
    n = len(text)
    kept, rejects = validate_table(
        text, "bookings", "bookings.csv", as_of_date=AS_OF, dayfirst=True,
        vocabulary=VOCABULARY,  # the demo company's words, declared as a job declares them
    )

    # every row exactly once
    assert len(kept) + len(rejects) == n
    assert rejects["row_number"].is_unique
    rejected = set(rejects["row_number"] - 1)
    assert rejected <= set(range(n))
    # exactly the corrupted rows are rejected: valid rows never are
    assert rejected == invalid
    assert (rejects["reason"].str.len() > 0).all()

    # kept rows are valid and hold what was written
    schema_for("bookings", as_of_date=AS_OF).validate(kept)
    valid_pos = [i for i in range(n) if i not in rejected]
    expect = truth.iloc[valid_pos].reset_index(drop=True)
    assert kept["booking_id"].tolist() == text["booking_id"].iloc[valid_pos].str.strip().tolist()
    assert kept["customer_id"].tolist() == expect["customer_id"].tolist()
    assert kept["booking_date"].tolist() == expect["booking_date"].tolist()
    np.testing.assert_allclose(
        kept["amount"].to_numpy(), expect["amount"].to_numpy(), rtol=0, atol=1e-9
    )
    for col in ("status", "channel", "product"):
        got = kept[col].astype(object).where(kept[col].notna(), None).tolist()
        assert got == expect[col].tolist(), col
    assert kept["nights"].astype(object).where(kept["nights"].notna(), None).tolist() == [
        None if pd.isna(v) else int(v) for v in expect["nights"]
    ]
    assert kept["party_size"].tolist() == expect["party_size"].tolist()
