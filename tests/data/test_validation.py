"""Tests of src.data.validation: coercion, pandera schemas and the kept/rejected split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from src.data.contract import TABLES
from src.data.errors import DataValidationError
from src.data.validation import (
    CONTRACT_DTYPES,
    REJECT_COLUMNS,
    parse_dates,
    schema_for,
    validate_table,
)

AS_OF = "2024-06-30"


def bookings_frame(n: int = 10) -> pd.DataFrame:
    """A valid bookings table as a CSV gives it: every value text."""
    return pd.DataFrame(
        {
            "booking_id": [f"B{i}" for i in range(1, n + 1)],
            "customer_id": [f"C{i % 3}" for i in range(1, n + 1)],
            "booking_date": [f"2024-01-{i:02d}" for i in range(1, n + 1)],
            "travel_start": [f"2024-03-{i:02d}" for i in range(1, n + 1)],
            "nights": [str(i % 5) for i in range(1, n + 1)],
            "product": ["hotel", "flight", "package", "tour", "ticket"] * (n // 5)
            + ["hotel"] * (n % 5),
            "amount": [f"{100 + i}.50" for i in range(1, n + 1)],
            "status": ["completed"] * n,
        }
    )


def validate(df: pd.DataFrame, table: str = "bookings", **kwargs):
    kwargs.setdefault("as_of_date", AS_OF)
    return validate_table(df, table, "bookings.csv", **kwargs)


def only_reject(rejects: pd.DataFrame, row_number: int) -> pd.Series:
    assert list(rejects["row_number"]) == [row_number], rejects[["row_number", "reason"]]
    return rejects.iloc[0]


# --------------------------------------------------------------------------------------------
# schema_for
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", list(TABLES))
def test_schema_is_built_from_the_contract(table):
    schema = schema_for(table)
    spec = TABLES[table]
    assert list(schema.columns) == spec.column_names
    for col in spec.columns:
        column = schema.columns[col.name]
        assert column.required == col.required
        assert column.nullable == col.nullable
        assert str(column.dtype) == str(pa.Column(CONTRACT_DTYPES[col.kind]).dtype)
        assert column.unique == (spec.key == (col.name,))


def test_schema_checks_allowed_values_and_ranges_on_typed_frames():
    ok = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "csat": pd.array([1, 5], dtype="Int64"),
            "nps": pd.array([0, 10], dtype="Int64"),
        }
    )
    schema_for("feedback", as_of_date=AS_OF).validate(ok)
    bad = ok.assign(csat=pd.array([0, 6], dtype="Int64"))
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schema_for("feedback", as_of_date=AS_OF).validate(bad, lazy=True)
    assert set(err.value.failure_cases["index"]) == {0, 1}
    assert set(err.value.failure_cases["check"]) == {"out of range (1 to 5)"}


# --------------------------------------------------------------------------------------------
# kept rows
# --------------------------------------------------------------------------------------------
def test_valid_frame_is_kept_whole_with_contract_dtypes():
    df = bookings_frame()
    kept, rejects = validate(df)
    assert len(kept) == len(df) and rejects.empty
    assert list(rejects.columns) == REJECT_COLUMNS
    assert list(kept.columns) == [c for c in TABLES["bookings"].column_names if c in df.columns]
    for col in kept.columns:
        assert str(kept[col].dtype) == CONTRACT_DTYPES[TABLES["bookings"].column(col).kind], col
    assert list(kept["status"].cat.categories) == list(TABLES["bookings"].column("status").allowed)
    assert kept["amount"].tolist() == [100 + i + 0.5 for i in range(1, 11)]
    assert kept["booking_date"].iloc[0] == pd.Timestamp("2024-01-01")
    assert kept["nights"].tolist() == [i % 5 for i in range(1, 11)]
    schema_for("bookings", as_of_date=AS_OF).validate(kept)


def test_ids_and_categories_are_trimmed_and_normalised():
    df = bookings_frame(5)
    df.loc[0, "customer_id"] = "  C7 "
    df.loc[1, "status"] = "No Show"
    df.loc[2, "status"] = " CANCELLED"
    df.loc[3, "product"] = "  Business-Travel "
    kept, rejects = validate(df)
    assert rejects.empty
    assert kept["customer_id"].iloc[0] == "C7"
    # a contract meaning is normalised onto its spelling; a company word is kept as written
    assert kept["status"].iloc[1:3].tolist() == ["no_show", "cancelled"]
    assert kept["product"].iloc[3] == "Business-Travel"
    declared, rejects = validate(df, vocabulary={"product": [
        "business-travel", "hotel", "flight", "package", "tour", "ticket"]})
    assert rejects.empty and declared["product"].iloc[3] == "business-travel"


def test_amounts_with_currency_symbols_and_thousands_separators_are_numbers():
    df = bookings_frame(4)
    df["amount"] = ["$1,234.50", "12 €", "1,000", "7"]
    kept, rejects = validate(df)
    assert rejects.empty
    assert kept["amount"].tolist() == [1234.5, 12.0, 1000.0, 7.0]


def test_exact_duplicate_rows_without_booking_id_are_all_kept():
    df = bookings_frame(6).drop(columns="booking_id")
    df = pd.concat([df, df.iloc[[2, 2]]], ignore_index=True)
    kept, rejects = validate(df)
    assert rejects.empty and len(kept) == 8
    assert kept["booking_id"].is_unique
    # deterministic: customer id + 1-based source row
    assert kept["booking_id"].iloc[0] == f"{df['customer_id'].iloc[0]}-1"
    assert kept["booking_id"].iloc[7] == f"{df['customer_id'].iloc[7]}-8"
    again, _ = validate(df)
    pd.testing.assert_frame_equal(kept, again)


# --------------------------------------------------------------------------------------------
# row-level rejects, one test per case
# --------------------------------------------------------------------------------------------
def test_unparseable_date_is_rejected_with_reason():
    df = bookings_frame()
    df.loc[3, "booking_date"] = "31/31/2024"
    kept, rejects = validate(df)
    rej = only_reject(rejects, 4)
    assert (rej["column"], rej["value"], rej["reason"]) == (
        "booking_date",
        "31/31/2024",
        "unparseable date",
    )
    assert len(kept) == 9 and "B4" not in set(kept["booking_id"])


def test_unparseable_amount_is_rejected_with_reason():
    df = bookings_frame()
    df.loc[0, "amount"] = "twelve"
    _, rejects = validate(df)
    rej = only_reject(rejects, 1)
    assert (rej["column"], rej["value"], rej["reason"]) == (
        "amount",
        "twelve",
        "unparseable number",
    )


@pytest.mark.parametrize("column", ["customer_id", "booking_date", "amount", "booking_id"])
def test_missing_mandatory_value_is_rejected(column):
    df = bookings_frame()
    df.loc[5, column] = np.nan if column != "customer_id" else "   "
    _, rejects = validate(df)
    rej = only_reject(rejects, 6)
    assert (rej["column"], rej["reason"]) == (column, "missing mandatory value")


def test_negative_amount_is_rejected_unless_cancelled_or_kept_by_param():
    df = bookings_frame()
    df.loc[1, "amount"] = "-20"
    df.loc[2, ["amount", "status"]] = ["-30", "cancelled"]  # a refund
    _, rejects = validate(df)
    rej = only_reject(rejects, 2)
    assert rej["column"] == "amount" and rej["reason"].startswith("negative amount")
    kept, rejects = validate(df, negative_amounts="keep")
    assert rejects.empty and sorted(kept["amount"])[:2] == [-30.0, -20.0]


def test_negative_amount_without_status_column_is_rejected():
    df = bookings_frame().drop(columns="status")
    df.loc[0, "amount"] = "-1"
    _, rejects = validate(df)
    assert only_reject(rejects, 1)["reason"].startswith("negative amount")


def test_date_in_the_future_is_rejected_but_travel_start_may_be():
    df = bookings_frame()
    df.loc[7, "booking_date"] = "2024-07-01"
    df.loc[8, "travel_start"] = "2025-12-24"
    kept, rejects = validate(df)
    rej = only_reject(rejects, 8)
    assert (rej["column"], rej["reason"]) == (
        "booking_date",
        "date in the future (after 2024-06-30)",
    )
    assert pd.Timestamp("2025-12-24") in set(kept["travel_start"])
    _, rejects = validate(df, as_of_date="2024-07-01")
    assert rejects.empty


def test_duplicate_booking_id_keeps_the_first_and_names_its_row():
    df = bookings_frame()
    df.loc[[6, 8], "booking_id"] = "B3"
    kept, rejects = validate(df)
    assert list(rejects["row_number"]) == [7, 9]
    assert {r.split(",")[0] for r in rejects["reason"]} == {"duplicate booking_id (first at row 3"}
    assert all("group_lines: true" in r for r in rejects["reason"])
    assert (kept["booking_id"] == "B3").sum() == 1
    assert kept.loc[kept["booking_id"] == "B3", "amount"].item() == 103.5


def test_booking_of_unknown_customer_is_rejected_when_customers_are_known():
    df = bookings_frame()
    kept, rejects = validate(df, known_customer_ids=["C0", "C1"])
    assert set(rejects["value"]) == {"C2"}
    assert set(rejects["reason"]) == {
        "customer_id not in customers table (absent, or its row there was rejected)"
    }
    assert set(kept["customer_id"]) == {"C0", "C1"}
    assert len(kept) + len(rejects) == len(df)


def test_status_outside_the_contract_meanings_is_rejected():
    df = bookings_frame()
    df.loc[4, "status"] = "refunded"
    _, rejects = validate(df)
    rej = only_reject(rejects, 5)
    allowed = ", ".join(TABLES["bookings"].column("status").allowed)
    assert (rej["column"], rej["value"]) == ("status", "refunded")
    assert rej["reason"] == f"value not allowed (allowed: {allowed})"


def test_a_product_is_the_companys_word_unless_the_job_declares_a_vocabulary():
    df = bookings_frame()
    df.loc[4, "product"] = "cruise"
    kept, rejects = validate(df)
    assert rejects.empty and "cruise" in set(kept["product"])
    _, rejects = validate(df, vocabulary={"product": ["hotel", "flight", "package", "tour",
                                                      "ticket"]})
    rej = only_reject(rejects, 5)
    assert (rej["column"], rej["value"]) == ("product", "cruise")
    assert rej["reason"] == ("value not in the job's vocabulary (tables.bookings.vocabulary."
                             "product: hotel, flight, package, tour, ticket)")


def test_csat_and_nps_out_of_range_are_rejected():
    fb = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "booking_id": ["B1", "B2", "B3", "B4", None],
            "date": ["2024-03-01"] * 5,
            "csat": ["5", "6", "0", "3", "4.5"],
            "nps": ["10", "9", "5", "11", "7"],
        }
    )
    kept, rejects = validate(fb, "feedback")
    assert kept["customer_id"].tolist() == ["C1"]
    by_row = rejects.set_index("row_number")["reason"].to_dict()
    assert by_row == {
        2: "out of range (1 to 5)",
        3: "out of range (1 to 5)",
        4: "out of range (0 to 10)",
        5: "not a whole number",
    }


def test_several_problems_in_one_row_give_one_reject_listing_all():
    df = bookings_frame()
    df.loc[2, ["booking_date", "amount", "nights"]] = ["soon", "-5", "x"]
    _, rejects = validate(df)
    rej = only_reject(rejects, 3)
    assert rej["column"] == "booking_date; nights; amount"
    assert rej["value"] == "soon; x; -5"
    reasons = rej["reason"].split("; ")
    assert reasons[:2] == ["unparseable date", "unparseable number"]
    assert reasons[2].startswith("negative amount")


def test_reject_record_is_the_original_row_as_json():
    df = bookings_frame()
    df.loc[4, "amount"] = "n/a"
    raw = df.rename(columns={"amount": "Umsatz"}).assign(note="张三")
    _, rejects = validate(df, raw=raw)
    record = json.loads(rejects["record"].iloc[0])
    assert record == raw.iloc[4].to_dict()
    assert record["note"] == "张三" and "张三" in rejects["record"].iloc[0]


def test_row_numbers_follow_the_source_index():
    df = bookings_frame().iloc[5:]  # index 5..9 = source rows 6..10
    df.loc[7, "amount"] = "bad"
    _, rejects = validate(df)
    assert list(rejects["row_number"]) == [8]


def test_reconciliation_every_row_kept_or_rejected_once():
    df = bookings_frame(30)
    df.loc[[1, 4, 9, 20], "amount"] = ["x", "-1", "", "2"]
    df.loc[[4, 11], "booking_date"] = ["2030-01-01", "bad"]
    df.loc[25, "booking_id"] = "B1"
    kept, rejects = validate(df)
    assert len(kept) + len(rejects) == len(df)
    assert rejects["row_number"].is_unique
    assert set(rejects["row_number"]) == {2, 5, 10, 12, 26}
    assert set(kept["booking_id"]) | set(df.loc[rejects["row_number"] - 1, "booking_id"]) == set(
        df["booking_id"]
    )


# --------------------------------------------------------------------------------------------
# fatal column problems
# --------------------------------------------------------------------------------------------
def test_column_of_text_amounts_is_fatal_naming_file_column_and_rows():
    df = bookings_frame()
    df["amount"] = ["ten", "eleven", "a lot", "n/a"] + ["free"] * 6
    with pytest.raises(DataValidationError) as err:
        validate_table(
            df,
            "bookings",
            "exports/orders.csv",
            as_of_date=AS_OF,
            source_columns={"amount": "revenue"},
        )
    e = err.value
    assert (e.file, e.table, e.column) == ("exports/orders.csv", "bookings", "amount")
    assert e.rows["row_number"].tolist() == [1, 2, 3, 4, 5]
    text = str(e)
    for part in (
        "exports/orders.csv",
        "'amount' (source column 'revenue')",
        "10 of 10",
        "not numbers",
        "eleven",
        "columns.amount",
    ):
        assert part in text, (part, text)


def test_column_of_dates_in_another_order_is_fatal_with_date_format_hint():
    df = bookings_frame(12)
    df["booking_date"] = [f"{m:02d}/25/2023" for m in range(1, 13)]  # M/D/Y read day-first
    with pytest.raises(DataValidationError) as err:
        validate(df, dayfirst=True)
    assert err.value.column == "booking_date"
    assert "date_format" in str(err.value) and "dayfirst" in str(err.value)
    kept, rejects = validate(df, dayfirst=False)
    assert rejects.empty and kept["booking_date"].iloc[0] == pd.Timestamp("2023-01-25")


def test_a_few_bad_values_in_a_large_column_are_rows_not_fatal():
    df = bookings_frame(20)
    df.loc[:3, "amount"] = "bad"
    _, rejects = validate(df)
    assert list(rejects["row_number"]) == [1, 2, 3, 4]


def test_missing_mandatory_column_is_fatal():
    df = bookings_frame().drop(columns="amount")
    with pytest.raises(DataValidationError) as err:
        validate(df)
    assert err.value.column == "amount" and "bookings.csv" in str(err.value)


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        ("2024-03-05", False, "2024-03-05"),
        ("2024-03-05", True, "2024-03-05"),
        ("20240305", False, "2024-03-05"),
        ("2024-03-05 13:45", False, "2024-03-05 13:45"),
        ("2024-03-05T13:45:10.5", False, "2024-03-05 13:45:10.5"),
        ("05/03/2024", True, "2024-03-05"),
        ("03/05/2024", False, "2024-03-05"),
        ("5.3.24", True, "2024-03-05"),
        ("05-03-2024 08:30", True, "2024-03-05 08:30"),
        ("3/5/2024 3:45 PM", False, "2024-03-05 15:45"),
        ("2024/3/5", True, "2024-03-05"),
        ("5 March 2024", False, "2024-03-05"),
        ("Mar 5, 2024", True, "2024-03-05"),
        ("2024-03-05T23:30:00+08:00", False, "2024-03-05 23:30"),
        ("2024-03-05 23:30:00Z", False, "2024-03-05 23:30"),
    ],
)
def test_parse_dates_accepts_mixed_formats(text, dayfirst, expected):
    parsed = parse_dates(pd.Series([text]), dayfirst=dayfirst)
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["garbage", "2024-02-30", "13/13/2024", "12", "Mar 2024", "5 Mar"])
def test_parse_dates_refuses_what_it_cannot_read_unambiguously(text):
    assert parse_dates(pd.Series([text])).isna().all()


def test_parse_dates_of_a_mixed_column_with_several_offsets():
    s = pd.Series(
        ["2024-03-05T23:30:00+08:00", "2024-03-05T01:00:00-05:00", "2024-03-06", "20240307", None]
    )
    parsed = parse_dates(s)
    assert parsed.tolist()[:4] == [
        pd.Timestamp("2024-03-05 23:30"),
        pd.Timestamp("2024-03-05 01:00"),
        pd.Timestamp("2024-03-06"),
        pd.Timestamp("2024-03-07"),
    ]
    assert pd.isna(parsed.iloc[4])


def test_parse_dates_passes_datetimes_through_dropping_time_zones():
    aware = pd.Series(
        pd.to_datetime(["2024-03-05 23:30", "2024-03-06 01:00"]).tz_localize("Asia/Shanghai")
    )
    parsed = parse_dates(aware)
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.tolist() == [pd.Timestamp("2024-03-05 23:30"), pd.Timestamp("2024-03-06 01:00")]
    micro = pd.Series(np.array(["2024-03-05", "9999-12-31"], dtype="datetime64[us]"))
    parsed = parse_dates(micro)
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05") and pd.isna(parsed.iloc[1])


def test_date_format_is_strict_and_dates_are_normalised_to_midnight():
    df = bookings_frame(10)
    df["booking_date"] = [f"202401{i:02d}" for i in range(1, 11)]
    df.loc[9, "booking_date"] = "2024-01-10"
    df["travel_start"] = "20240301"
    kept, rejects = validate(df, date_format="%Y%m%d")
    assert only_reject(rejects, 10)["reason"] == "unparseable date"
    df2 = bookings_frame(3)
    df2["booking_date"] = ["2024-01-05 13:45:00", "2024-01-05T23:59", "20240105"]
    kept, rejects = validate(df2)
    assert rejects.empty and set(kept["booking_date"]) == {pd.Timestamp("2024-01-05")}


def test_interaction_timestamps_keep_their_time_and_may_fall_on_the_as_of_date():
    df = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2"],
            "timestamp": ["2024-06-30 22:15", "2024-07-01 00:05", "2024-06-01T08:00:00"],
            "channel": ["email", "sms", "app_push"],
            "kind": ["opened", "campaign_sent", "complaint"],
            "complaint_category": [None, None, "price"],
        }
    )
    kept, rejects = validate(df, "interactions")
    assert kept["timestamp"].tolist() == [
        pd.Timestamp("2024-06-30 22:15"),
        pd.Timestamp("2024-06-01 08:00"),
    ]
    assert only_reject(rejects, 2)["reason"] == "date in the future (after 2024-06-30)"


def test_customers_flags_years_and_tiers():
    df = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C1"],
            "signup_date": ["2020-01-01", "2021-05-06", "2022-01-01", "2023-01-01", "2020-01-01"],
            "birth_year": ["1980", "2030", "1975.0", "1990", "1980"],
            "member_tier": ["Gold", "silver", "bronze", "diamond", "gold"],
            "consent_email": ["yes", "N", "1", "maybe", "true"],
        }
    )
    kept, rejects = validate(df, "customers")
    assert kept["customer_id"].tolist() == ["C1", "C3"]  # bronze: a tier of this company
    assert kept["consent_email"].dtype == "boolean" and bool(kept["consent_email"].iloc[0])
    by_row = rejects.set_index("row_number")["reason"].to_dict()
    assert by_row[2] == "out of range (1900 to 2024)"
    assert 3 not in by_row
    assert by_row[4] == "unparseable true/false"
    assert by_row[5] == "duplicate customer_id (first at row 1)"


def test_text_of_categories_is_trimmed_per_level_and_clean_text_kept_as_is():
    """Categorical inputs (Parquet) are trimmed level by level, blanks become missing, and
    clean object text comes back as the very same values."""
    import numpy as np

    from src.data.coercion import as_text

    raw = pd.Series(pd.Categorical([" a", "a", "", None, "b "], categories=["", " a", "a", "b "]))
    cat = as_text(raw, as_category=True)
    assert list(cat.cat.categories) == ["a", "b"]
    assert cat.astype(object).where(cat.notna(), None).tolist() == ["a", "a", None, None, "b"]
    text = as_text(raw)
    assert text.dtype == object and text.isna().tolist() == [False, False, True, True, False]
    assert text.dropna().tolist() == ["a", "a", "b"]
    ids = pd.Series(np.array(["C1", "C2"], dtype=object))
    assert as_text(ids) is ids  # nothing to trim: no copy
    assert as_text(pd.Series(["C1 ", "C2"])).tolist() == ["C1", "C2"]


@pytest.mark.parametrize("column, bound", [("customer_id", 128), ("product", 500)])
def test_a_text_value_beyond_its_contract_bound_is_rejected_with_its_length(column: str,
                                                                          bound: int) -> None:
    """10,000-character ids and levels are a broken export or a hostile value: the row is
    rejected naming the length and the bound; the shown value is cut, the record kept whole."""
    df = bookings_frame()
    df.loc[2, column] = "x" * 10_000
    df.loc[5, column] = "y" * bound  # at the bound: kept
    kept, rejects = validate(df)
    rej = only_reject(rejects, 3)
    assert rej["column"] == column
    assert rej["reason"].startswith(f"10,000 characters, more than the {bound:,} a {column}")
    assert rej["value"].endswith("… (10,000 characters)") and len(rej["value"]) < 250
    assert len(json.loads(rej["record"])[column]) == 10_000
    assert len(kept) == 9 and ("y" * bound) in set(kept[column].astype(str))
