"""Tests of src.data.shapes: the shape warnings of a load, the data span, header-only helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from src.data.errors import DataValidationError
from src.data.loading import DataSourceConfig, LoadedData, TableSource, load_tables
from src.data.shapes import (
    KEY_FEW_VALUES_ROWS,
    KEY_MIN_ROWS,
    ShapeWarning,
    customer_key_problem,
    data_span_days,
    mapped_columns,
    shape_warnings,
    source_header,
)

AS_OF = "2024-06-30"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, tables: dict, **kwargs) -> LoadedData:
    cfg = DataSourceConfig.model_validate({"tables": tables, "as_of_date": AS_OF, **kwargs})
    return load_tables(cfg, tmp_path)


def codes(data: LoadedData) -> dict[str, dict]:
    return {w["code"]: w for w in data.warnings}


def test_repeated_booking_ids_suggest_group_lines(tmp_path):
    write(tmp_path, "b.csv", "inv,cust,day,total\n1,a,2024-01-01,5\n1,a,2024-01-01,3\n"
                             "2,b,2024-01-02,4\n3,b,2024-01-03,4\n4,c,2024-01-04,1\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
        "booking_id": "inv", "customer_id": "cust", "booking_date": "day", "amount": "total"}}})
    w = codes(data)["invoice_lines"]
    assert w["count"] == 1 and "tables.bookings.group_lines: true" in w["fix"]
    assert "group_lines: true" in data.rejects["reason"].iloc[0]
    assert [w.code for w in shape_warnings(data)] == ["invoice_lines", "no_consent"]
    json.dumps(data.warnings)  # JSON-friendly
    # when repeats alone exceed the tolerated share, the load is refused naming the fix
    with pytest.raises(DataValidationError) as err:
        load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
            "booking_id": "inv", "customer_id": "cust", "booking_date": "day",
            "amount": "total"}}}, max_reject_share=0.1)
    assert "group_lines: true" in err.value.hint and err.value.column == "booking_id"


def test_negative_amounts_suggest_a_where_or_keep(tmp_path):
    write(tmp_path, "b.csv", "cust,day,Line Total\na,2024-01-01,5\na,2024-01-02,-3\n"
                             "b,2024-01-02,4\nb,2024-01-03,4\nc,2024-01-04,1\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
        "customer_id": "cust", "booking_date": "day", "amount": "Line Total"}}})
    w = codes(data)["negative_amounts"]
    assert w["count"] == 1
    assert "tables.bookings.where: '\"Line Total\" > 0'" in w["fix"]
    assert "negative_amounts: keep" in w["fix"]
    kept = load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
        "customer_id": "cust", "booking_date": "day", "amount": "Line Total"}}},
        negative_amounts="keep")
    assert codes(kept)["negative_amounts"]["count"] == 1


def test_unit_price_mapped_as_amount_suggests_quantity_times_price(tmp_path):
    write(tmp_path, "b.csv", "cust,day,Menge,Preis\na,2024-01-01,2,5\nb,2024-01-02,1,4\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
        "customer_id": "cust", "booking_date": "day", "amount": "Preis"}}})
    assert codes(data)["unit_price_amount"]["fix"] == (
        'set tables.bookings.columns.amount: "Menge * Preis"')
    write(tmp_path, "c.csv", "cust,day,数量,单价\na,2024-01-01,2,5\n")
    data = load(tmp_path, {"bookings": {"path": "c.csv", "columns": {
        "customer_id": "cust", "booking_date": "day", "amount": "单价"}}})
    assert "数量 * 单价" in codes(data)["unit_price_amount"]["fix"]


def test_customers_without_consent_columns_are_flagged(tmp_path):
    write(tmp_path, "b.csv", "customer_id,booking_date,amount\na,2024-01-01,5\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv"}})
    w = codes(data)["no_consent"]
    assert w["table"] == "customers" and "do_not_contact" in w["message"]
    assert "tables.customers.defaults.consent_email: true" in w["fix"]
    write(tmp_path, "c.csv", "customer_id,consent_email\na,yes\n")
    data = load(tmp_path, {"customers": {"path": "c.csv"}, "bookings": {"path": "b.csv"}})
    assert "no_consent" not in codes(data)


def test_cancellation_invoice_ids_suggest_a_where(tmp_path):
    rows = "".join(f"{i},c{i % 3},2024-01-{i:02d},5\n" for i in range(10, 28))
    write(tmp_path, "b.csv", "Invoice,cust,day,total\n" + rows + "C99,c1,2024-01-05,5\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv", "columns": {
        "booking_id": "Invoice", "customer_id": "cust", "booking_date": "day",
        "amount": "total"}}})
    w = codes(data)["cancellation_ids"]
    assert w["count"] == 1 and "where: \"Invoice NOT LIKE 'C%'\"" in w["fix"]


def test_shape_warnings_on_tables_alone_and_data_span():
    bookings = pd.DataFrame({"booking_id": ["1", "2"], "customer_id": ["a", "b"],
                             "booking_date": pd.to_datetime(["2024-01-01", "2024-03-01"]),
                             "amount": [5.0, -1.0]})
    found = shape_warnings({"bookings": bookings})
    assert [w.code for w in found] == ["negative_amounts"]
    assert isinstance(found[0], ShapeWarning) and found[0].to_dict()["count"] == 1
    assert data_span_days({"bookings": bookings}) == 60
    assert data_span_days({"customers": pd.DataFrame({"customer_id": ["a"]})}) is None


def test_source_header_and_mapped_columns_read_the_header_only(tmp_path):
    write(tmp_path, "b.csv", "Invoice,Customer ID,Date,Qty,Price,Segment\n1,a,2024-01-01,1,2,x\n")
    src = TableSource(path="b.csv", columns={
        "booking_id": "Invoice", "customer_id": "Customer ID", "booking_date": "Date",
        "amount": "Qty * Price"}, defaults={"currency": "EUR"})
    assert source_header(src, "bookings", tmp_path) == [
        "Invoice", "Customer ID", "Date", "Qty", "Price", "Segment"]
    assert mapped_columns(src, "bookings", tmp_path) == {
        "booking_id", "customer_id", "booking_date", "amount", "currency", "status"}
    cust = TableSource(path="b.csv", columns={"customer_id": "Customer ID"},
                       attributes={"segment": "Segment"})
    assert mapped_columns(cust, "customers", tmp_path) == {"customer_id", "segment"}


def _ids(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": values})


@pytest.mark.parametrize("values, needle", [
    (["0", "1"] * 3, "a flag"),                                   # a 0/1 flag, even on 6 rows
    (["yes", "no", "Yes"] * 400, "a flag"),
    (["C1"] * KEY_FEW_VALUES_ROWS, "a constant or a flag"),       # one value over 10 rows
    (["Rome"] * 300 + [f"C{i}" for i in range(KEY_MIN_ROWS)], "a group, a category"),
    ([f"B{i}" for i in range(KEY_MIN_ROWS)], "a row or booking number"),
])
def test_a_customer_key_that_cannot_name_customers_is_refused_with_why(values: list[str],
                                                                        needle: str) -> None:
    message = customer_key_problem(_ids(values), "Guest flag")
    assert message is not None and needle in message and "'Guest flag'" in message


@pytest.mark.parametrize("values", [
    ["C1", "C1"],                                                 # one customer, two bookings
    ["C1", "C2", "C1", "C3"] * 2,                                 # below the row floors
    [f"C{i % 700}" for i in range(KEY_MIN_ROWS + 500)],           # many customers, some repeat
    ["Rome"] * 150 + [f"C{i % 500}" for i in range(KEY_MIN_ROWS)],  # top value 13 %
])
def test_a_customer_key_that_names_customers_passes(values: list[str]) -> None:
    assert customer_key_problem(_ids(values)) is None


def _bookings_of(ids: list[str], days: int = 730) -> pd.DataFrame:
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(
        [i * days // len(ids) for i in range(len(ids))], unit="D")
    return pd.DataFrame({"customer_id": ids, "booking_date": dates, "amount": 100.0,
                         "booking_id": [f"B{i}" for i in range(len(ids))]})


def test_a_customer_key_built_from_profile_fields_is_warned() -> None:
    """A hotel's surrogate: hotel|country|adults|children|segment, 2 x 6 x 3 x 2 x 4 profiles;
    a UUID or a prefixed number (as many values per part as customers) is not warned."""
    import itertools
    import uuid

    profiles = ["|".join(map(str, p)) for p in itertools.product(
        ["Resort Hotel", "City Hotel"], ["PRT", "GBR", "FRA", "ESP", "DEU", "ITA"], [1, 2, 3],
        [0, 1], ["Transient", "Group", "Contract", "Direct"])]
    ids = [profiles[i % len(profiles)] for i in range(3000)]
    [w] = [w for w in shape_warnings({"bookings": _bookings_of(ids)}) if w.code == "composite_key"]
    assert "split at '|' into 5 parts" in w.message and "tables.bookings.columns.customer_id" in w.fix
    for fine in ([str(uuid.UUID(int=i * 7919 + 1)) for i in range(300)] * 3,
                 [f"CUST-2024-{i % 900:05d}" for i in range(3000)]):
        assert "composite_key" not in {w.code for w in shape_warnings(
            {"bookings": _bookings_of(fine)})}


def test_customers_booking_more_than_weekly_are_warned() -> None:
    """Two 'customers' with 400 bookings each over two years (agencies) beside 1,000 travellers
    with two each: warned with the share; the travellers alone are not."""
    travellers = [f"C{i}" for i in range(1000)] * 2
    [w] = [w for w in shape_warnings({"bookings": _bookings_of(travellers + ["AG1", "AG2"] * 400)})
           if w.code == "busy_customers"]
    assert w.message.startswith("2 customers hold 29% of the bookings") and w.count == 800
    assert "busy_customers" not in {w.code for w in shape_warnings(
        {"bookings": _bookings_of(travellers)})}
