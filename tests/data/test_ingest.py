"""Tests of src.data.ingest through load_tables: expressions, where, group_lines, attributes,
in-memory DuckDB queries, the load report's reconciliation, partial dates; and the real Online
Retail II and Telco exports mapped through params alone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from src.data.coercion import R_PARTIAL_DATE, parse_dates
from src.data.errors import DataValidationError
from src.data.ingest import needs_duckdb, split_conditions
from src.data.loading import DataSourceConfig, LoadedData, TableSource, load_tables, read_source
from tests.helpers import require_shared

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2024-06-30"
LINES = """Invoice,Cust,Date,Qty,Unit Price,Country
1001,00001,2024-01-05 10:00,2,5.00,UK
1001,00001,2024-01-04 09:00,1,3.50,
C1002,00002,2024-01-06,-1,5.00,FR
1003,00002,2024-01-07,4,2.25,FR
1004,,2024-01-08,1,9.99,DE
1005,00003,2024-01-09,0,1.00,UK
1006,00003,2024-01-10,3,1.00,UK
1006,00003,2024-01-09,1,1.00,UK
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load(tmp_path: Path, tables: dict, **kwargs) -> LoadedData:
    cfg = DataSourceConfig.model_validate({"tables": tables, "as_of_date": AS_OF, **kwargs})
    return load_tables(cfg, tmp_path)


def lines_source(**extra) -> dict:
    return {
        "path": "lines.csv",
        "columns": {"customer_id": "Cust", "booking_id": "Invoice", "booking_date": "Date",
                    "amount": 'Qty * "Unit Price"'},
        **extra,
    }


def assert_reconciles(data: LoadedData) -> None:
    r = data.report
    assert (r["rows_read"] == r["rows_filtered"] + r["lines_grouped"] + r["rows_kept"]
            + r["rows_rejected"]).all()
    assert (r["rows_in"] == r["rows_kept"] + r["rows_rejected"]).all()


# --------------------------------------------------------------------------------------------
# expressions, where, group_lines
# --------------------------------------------------------------------------------------------
def test_expressions_compute_columns_and_text_columns_keep_leading_zeros(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    data = load(tmp_path, {"bookings": lines_source(where="Cust IS NOT NULL")},
                max_reject_share=0.9, negative_amounts="keep")
    b = data.tables["bookings"]
    assert b["customer_id"].iloc[0] == "00001"  # read as text, not as the number 1
    assert b["amount"].tolist()[:2] == [10.0, -5.0]  # row 2 repeats invoice 1001: rejected
    assert "C1002" in set(b["booking_id"])  # a letter-prefixed id is no type error
    assert data.sources["bookings"]["engine"] == "duckdb"
    assert data.sources["bookings"]["columns"]["amount"] == 'Qty * "Unit Price"'
    assert_reconciles(data)


def test_where_counts_the_rows_each_condition_removes(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    data = load(tmp_path, {"bookings": lines_source(
        where=["Cust IS NOT NULL AND Invoice NOT LIKE 'C%'", "Qty > 0"])},
        max_reject_share=0.5)
    row = data.report.set_index("table").loc["bookings"]
    assert row["rows_read"] == 8 and row["rows_filtered"] == 3
    assert row["filtered_by"] == (
        "Cust IS NOT NULL (1); Invoice NOT LIKE 'C%' (1); Qty > 0 (1)"
    )
    assert row["amount_read"] == pytest.approx(10 + 3.5 - 5 + 9 + 9.99 + 0 + 3 + 1)
    assert row["rows_kept"] == 3 and row["rows_rejected"] == 2  # repeated 1001 and 1006 lines
    assert row["amount_kept"] == pytest.approx(10 + 9 + 3)
    assert_reconciles(data)


def test_split_conditions_respects_parentheses_quotes_and_between():
    assert split_conditions(["a > 1 AND (b = 2 AND c = 3) and d = 'x AND y'"]) == [
        "a > 1", "(b = 2 AND c = 3)", "d = 'x AND y'"]
    assert split_conditions(["q BETWEEN 1 AND 5 AND p > 0", "brand = 'A'"]) == [
        "q BETWEEN 1 AND 5", "p > 0", "brand = 'A'"]
    assert split_conditions(['"Grand Total" > 0']) == ['"Grand Total" > 0']


def test_group_lines_sums_amounts_takes_the_earliest_date_and_counts_lines(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    data = load(tmp_path, {"bookings": lines_source(
        where=["Cust IS NOT NULL", "Invoice NOT LIKE 'C%'", "Qty > 0"], group_lines=True)})
    b = data.tables["bookings"].set_index("booking_id")
    assert b.loc["1001", "amount"] == pytest.approx(13.5)
    assert b.loc["1001", "booking_date"] == pd.Timestamp("2024-01-04")
    assert b.loc["1006", "amount"] == pytest.approx(4.0)
    assert b.loc["1006", "booking_date"] == pd.Timestamp("2024-01-09")
    row = data.report.set_index("table").loc["bookings"]
    assert row["lines_grouped"] == 2 and row["rows_kept"] == 3 and row["rows_rejected"] == 0
    assert data.sources["bookings"]["group_lines"] is True
    assert_reconciles(data)


def test_group_lines_rejects_name_the_first_line_and_its_source_record(tmp_path):
    text = LINES.replace("1006,00003,2024-01-10", "1006,00003,2031-01-10")
    write(tmp_path, "lines.csv", text)
    data = load(tmp_path, {"bookings": lines_source(where="Cust IS NOT NULL",
                                                      group_lines=True)},
                max_reject_share=0.9, negative_amounts="keep")
    rej = data.rejects.set_index("row_number")
    # the 1006 lines start at data row 7; its earliest date (2024-01-09) is fine, but row 3
    # (C1002) has a negative amount that is kept; nothing else is wrong
    assert data.rejects.empty or 7 not in rej.index
    text = LINES.replace("1006,00003,2024-01-10", "1006,00003,2031-01-10").replace(
        "1006,00003,2024-01-09", "1006,00003,2031-01-09")
    write(tmp_path, "lines.csv", text)
    data = load(tmp_path, {"bookings": lines_source(where="Cust IS NOT NULL",
                                                      group_lines=True)},
                max_reject_share=0.9, negative_amounts="keep")
    rej = data.rejects.set_index("row_number")
    assert rej.loc[7, "reason"].startswith("date in the future")
    assert json.loads(rej.loc[7, "record"])["Invoice"] == "1006"
    assert json.loads(rej.loc[7, "record"])["Date"] == "2031-01-10"


def test_group_lines_needs_booking_id(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    source = lines_source(group_lines=True)
    del source["columns"]["booking_id"]
    with pytest.raises(DataValidationError, match="tables.bookings.columns.booking_id"):
        load(tmp_path, {"bookings": source})
    with pytest.raises(ValueError, match="only bookings have lines"):
        DataSourceConfig.model_validate(
            {"tables": {"customers": {"path": "c.csv", "group_lines": True}}})


def test_a_failing_expression_names_its_params_key(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    source = lines_source()
    source["columns"]["amount"] = "Qty * Prize"
    with pytest.raises(DataValidationError) as err:
        load(tmp_path, {"bookings": source})
    assert "tables.bookings.columns.amount" in str(err.value)
    assert "Unit Price" in str(err.value)  # the source's columns are listed
    with pytest.raises(DataValidationError, match="tables.bookings.where"):
        load(tmp_path, {"bookings": lines_source(where="Qty +")})


def test_read_source_and_needs_duckdb(tmp_path):
    write(tmp_path, "lines.csv", LINES)
    src = TableSource.model_validate(lines_source(where="Qty > 0"))
    mapped = read_source(src, "bookings", tmp_path)
    assert len(mapped) == 6 and list(mapped.index) == [0, 1, 3, 4, 6, 7]
    header = ["Invoice", "Cust", "Date", "Qty", "Unit Price", "Country"]
    assert needs_duckdb(src, header)
    plain = TableSource(path="x.csv", columns={"customer_id": "Cust", "amount": "Unit Price"})
    assert not needs_duckdb(plain, header)


# --------------------------------------------------------------------------------------------
# customers: attributes, customers-only sources
# --------------------------------------------------------------------------------------------
CUSTOMERS = """id,joined_y,joined_m,plan,fee,state
001,2020,3,gold,12.5,active
002,2021,11,basic,7,left
003,2019,1,basic,,active
"""


def test_attributes_are_extra_customer_columns_and_customers_alone_load(tmp_path):
    write(tmp_path, "customers.csv", CUSTOMERS)
    data = load(tmp_path, {"customers": {
        "path": "customers.csv",
        "columns": {"customer_id": "id", "signup_date": "make_date(joined_y, joined_m, 1)",
                    "loyalty_member": "true"},
        "attributes": {"plan": "plan", "fee": "fee", "left": "state = 'left'"},
    }})
    assert "bookings" not in data.tables and list(data.tables) == ["customers"]
    c = data.tables["customers"]
    assert c["customer_id"].tolist() == ["001", "002", "003"]
    assert c["signup_date"].tolist() == [pd.Timestamp("2020-03-01"), pd.Timestamp("2021-11-01"),
                                         pd.Timestamp("2019-01-01")]
    assert isinstance(c["plan"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_float_dtype(c["fee"]) and c["fee"].isna().sum() == 1
    assert c["left"].tolist() == [False, True, False]
    assert data.sources["customers"]["attributes"] == ["plan", "fee", "left"]
    assert_reconciles(data)


def test_attribute_names_must_not_be_contract_columns():
    with pytest.raises(ValueError, match="attributes.gender"):
        DataSourceConfig.model_validate({"tables": {"customers": {
            "path": "c.csv", "attributes": {"gender": "sex"}}}})
    with pytest.raises(ValueError, match="only customers have attributes"):
        DataSourceConfig.model_validate({"tables": {"bookings": {
            "path": "b.csv", "attributes": {"x": "y"}}}})


def test_attributes_of_rejected_customers_are_dropped_with_them(tmp_path):
    write(tmp_path, "customers.csv", CUSTOMERS.replace("002,2021", ",2021"))
    data = load(tmp_path, {"customers": {
        "path": "customers.csv", "columns": {"customer_id": "id"},
        "attributes": {"plan": "plan"}}}, max_reject_share=0.5)
    c = data.tables["customers"]
    assert c["customer_id"].tolist() == ["001", "003"]
    assert c["plan"].astype(str).tolist() == ["gold", "basic"]


# --------------------------------------------------------------------------------------------
# in-memory DuckDB, encodings
# --------------------------------------------------------------------------------------------
def test_memory_duckdb_query_reads_files_relative_to_base_dir(tmp_path):
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports", "lines.csv", LINES)
    data = load(tmp_path, {"bookings": {
        "url": "duckdb:///:memory:",
        "query": "SELECT * FROM read_csv('exports/lines.csv', types={'Cust': 'VARCHAR'}) "
                 "WHERE Cust IS NOT NULL",
        "columns": {"customer_id": "Cust", "booking_date": "Date",
                    "amount": 'Qty * "Unit Price"'},
    }}, negative_amounts="keep")
    b = data.tables["bookings"]
    assert len(b) == 7 and b["customer_id"].iloc[0] == "00001"
    assert data.sources["bookings"]["url"].startswith("duckdb://")


def test_gbk_file_goes_through_duckdb_after_conversion(tmp_path):
    text = "订单号,客户,日期,数量,单价\nA1,c1,2024-01-02,2,10\nA2,c2,2024-01-03,1,5\n"
    write(tmp_path, "orders.csv", text, encoding="gbk")
    data = load(tmp_path, {"bookings": {
        "path": "orders.csv", "encoding": "gbk",
        "columns": {"booking_id": "订单号", "customer_id": "客户", "booking_date": "日期",
                    "amount": "数量 * 单价"}}})
    assert data.tables["bookings"]["amount"].tolist() == [20.0, 5.0]


# --------------------------------------------------------------------------------------------
# partial dates are rejected, not read as the first day
# --------------------------------------------------------------------------------------------
def test_a_year_or_year_month_is_not_a_date():
    parsed = parse_dates(pd.Series(["2016", "2016-05", "May", "05/2016", "2016-05-03"]))
    assert parsed.isna().tolist() == [True, True, True, True, False]
    assert parse_dates(pd.Series([19970101])).iloc[0] == pd.Timestamp("1997-01-01")
    assert parse_dates(pd.Series(["2016"]), date_format="%Y").iloc[0] == pd.Timestamp("2016")


def test_partial_dates_are_rejected_naming_the_fix(tmp_path):
    write(tmp_path, "customers.csv", "id,since\n1,2016\n2,2017-03-04\n3,2018-02-01\n")
    data = load(tmp_path, {"customers": {"path": "customers.csv",
                                         "columns": {"customer_id": "id",
                                                     "signup_date": "since"}}},
                max_reject_share=0.5)
    rej = data.rejects.iloc[0]
    assert rej["reason"] == R_PARTIAL_DATE and rej["value"] == "2016"
    assert "date_format" in rej["reason"] and "make_date" in rej["reason"]
    assert "not a full date (1)" in data.report["top_reasons"].iloc[0]


# --------------------------------------------------------------------------------------------
# the real exports, mapped through params alone
# --------------------------------------------------------------------------------------------
OR_COLUMNS = {"customer_id": "Customer ID", "booking_id": "Invoice",
              "booking_date": "InvoiceDate", "amount": "Quantity * Price"}


def test_online_retail_invoice_lines_load_into_the_published_figures():
    path = require_shared("online_retail_ii", "online_retail_ii_year_2009_2010.csv.gz")
    cfg = DataSourceConfig.model_validate({"as_of_date": "2010-12-10", "tables": {"bookings": {
        "path": str(path), "columns": OR_COLUMNS, "group_lines": True,
        "where": ['"Customer ID" IS NOT NULL', "Invoice NOT LIKE 'C%'", "Quantity > 0",
                  "Price > 0"]}}})
    data = load_tables(cfg, PROJECT_ROOT)
    b = data.tables["bookings"]
    assert len(b) == 19_213 and len(data.tables["customers"]) == 4_312
    assert round(b["amount"].sum(), 2) == 8_832_003.27
    row = data.report.set_index("table").loc["bookings"]
    assert row["rows_read"] == 525_461 and row["rows_rejected"] == 0
    assert row["rows_filtered"] + row["lines_grouped"] == 525_461 - 19_213
    assert row["lines_grouped"] == 407_664 - 19_213
    assert row["amount_read"] == pytest.approx(9_539_484.63, abs=0.01)
    assert_reconciles(data)
    assert not {w["code"] for w in data.warnings} & {"invoice_lines", "negative_amounts",
                                                     "cancellation_ids"}


def test_online_retail_wrong_first_attempt_names_group_lines():
    path = require_shared("online_retail_ii", "online_retail_ii_year_2009_2010.csv.gz")
    cfg = DataSourceConfig.model_validate({"as_of_date": "2010-12-10", "tables": {"bookings": {
        "path": str(path), "columns": OR_COLUMNS}}})
    with pytest.raises(DataValidationError) as err:
        load_tables(cfg, PROJECT_ROOT)
    assert "tables.bookings.group_lines: true" in err.value.hint
    assert "data_quality.max_reject_share" in err.value.hint


def test_telco_snapshot_loads_customers_only_with_expressions():
    path = require_shared("telco_churn", "telco_churn.csv.gz")
    cfg = DataSourceConfig.model_validate({"as_of_date": "2018-09-30", "tables": {"customers": {
        "path": str(path),
        "columns": {
            "customer_id": "customer_no",
            "signup_date": "DATE '2018-09-30' - INTERVAL (tenure) MONTH",
            "membership_cancel_date": "CASE WHEN churn = 'Yes' THEN DATE '2018-09-30' END",
            "loyalty_member": "true",
        },
        "attributes": {"contract": "contract", "monthly_charges": "monthly_charges"},
    }}})
    data = load_tables(cfg, PROJECT_ROOT)
    c = data.tables["customers"]
    assert list(data.tables) == ["customers"] and data.rejects.empty
    assert len(c) == 7_043 and c["membership_cancel_date"].notna().sum() == 1_869
    assert c["loyalty_member"].all()
    assert c.loc[0, "customer_id"] == "T00001"
    assert c["signup_date"].min() == pd.Timestamp("2012-09-30")  # tenure 72 months
    assert c["contract"].value_counts()["Month-to-month"] == 3_875
    assert pd.api.types.is_float_dtype(c["monthly_charges"])
    assert data.sources["customers"]["attributes"] == ["contract", "monthly_charges"]
    assert_reconciles(data)


def test_a_late_value_the_sniffer_did_not_foresee_is_not_a_crash(tmp_path):
    rows = "".join(f"{i},c{i % 7},2024-01-01,{i % 5 + 1},2.5\n" for i in range(30_000))
    write(tmp_path, "late.csv", "inv,cust,day,qty,price\n" + rows + "30000,c1,2024-01-01,abc,2\n")
    source = {"path": "late.csv", "columns": {
        "booking_id": "inv", "customer_id": "cust", "booking_date": "day",
        "amount": "qty * price"}}
    with pytest.raises(DataValidationError, match="tables.bookings.columns.amount"):
        load(tmp_path, {"bookings": source})  # the whole file sniffed: qty is text
    source["columns"]["amount"] = "TRY_CAST(qty AS DOUBLE) * price"
    data = load(tmp_path, {"bookings": source})
    assert len(data.tables["bookings"]) == 30_000
    rej = data.rejects.iloc[0]
    assert rej["row_number"] == 30_001 and rej["reason"] == "missing mandatory value"
    assert json.loads(rej["record"])["qty"] == "abc"


def test_where_and_expressions_work_on_parquet_and_sqlite_sources(tmp_path):
    frame = pd.read_csv(write(tmp_path, "lines.csv", LINES), dtype={"Cust": str})
    frame.to_parquet(tmp_path / "lines.parquet")
    with sqlite3.connect(tmp_path / "shop.db") as con:
        frame.to_sql("lines", con, index=False)
    for spec in ({"path": "lines.parquet"}, {"url": "sqlite:///shop.db", "table": "lines"}):
        source = {**lines_source(where=["Cust IS NOT NULL", "Qty > 0"], group_lines=True),
                  **spec}
        if "url" in spec:
            del source["path"]
        data = load(tmp_path, {"bookings": source})
        b = data.tables["bookings"].set_index("booking_id")
        assert b.loc["1001", "amount"] == pytest.approx(13.5), spec
        assert b.loc["1001", "booking_date"] == pd.Timestamp("2024-01-04"), spec
        assert len(b) == 3, spec  # 1001, 1003, 1006; C1002 has Qty -1
        assert_reconciles(data)
