"""Profiling and shape recognition (``src.data.profile``) on small synthetic CSVs."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from src.data.profile import profile_file, quote_identifier, recognise


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    data = text.encode(encoding)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_semicolon_delimiter_and_decimal_text(tmp_path):
    f = _write(tmp_path / "orders.csv",
               "customer_id;order_date;amount\n"
               "A1;2024-01-05;12.5\nA2;2024-02-01;3\nA1;2024-03-25;7.1\nA3;2024-04-02;9\n")
    p = profile_file(f)
    assert p.delimiter == ";"
    assert p.header and p.n_rows == 4
    assert p.column("order_date").kind == "date"
    assert p.column("amount").kind == "float"
    rec = recognise(p)
    assert rec.shape == "transaction_log"
    assert rec.mapping.columns == {"customer_id": "customer_id", "booking_date": "order_date",
                                   "amount": "amount"}
    assert rec.mapping.date_format is None  # ISO dates need no format
    assert (rec.first_date, rec.last_date) == (date(2024, 1, 5), date(2024, 4, 2))
    assert rec.n_customers == 3 and rec.n_repeat_customers == 1
    assert rec.gap_days[0.5] == (date(2024, 3, 25) - date(2024, 1, 5)).days


def test_gbk_encoding(tmp_path):
    f = _write(tmp_path / "orders_gbk.csv",
               "customer_id,order_date,amount,city\n"
               "C1,2024-01-05,10.0,北京\nC2,2024-01-06,20.0,上海\nC1,2024-02-05,5.0,广州\n",
               encoding="gbk")
    p = profile_file(f)
    assert p.encoding == "gbk"
    assert set(p.sample["city"]) == {"北京", "上海", "广州"}
    assert recognise(p).n_kept == 3  # DuckDB read the transcoded file


def test_latin1_encoding_compressed(tmp_path):
    f = _write(tmp_path / "orders.csv.gz",
               "customer_id,order_date,amount,city\n"
               "C1,2024-01-05,10.0,Zürich\nC2,2024-01-06,20.0,Besançon\n", encoding="latin-1")
    p = profile_file(f)
    assert p.encoding == "latin-1"
    assert "Zürich" in set(p.sample["city"])


def test_year_and_month_columns_become_make_date(tmp_path):
    f = _write(tmp_path / "monthly.csv",
               "client_id,year,month,sales\n"
               "K1,2023,1,100\nK1,2023,4,80\nK2,2023,2,50\nK2,2024,1,70\n")
    rec = recognise(profile_file(f))
    assert rec.shape == "transaction_log"
    expr = rec.mapping.columns["booking_date"]
    assert expr == 'make_date(CAST("year" AS INTEGER), CAST("month" AS INTEGER), 1)'
    assert "ASSUMED" in rec.mapping.reasons["columns.booking_date"]
    assert rec.mapping.columns["amount"] == "sales"
    assert (rec.first_date, rec.last_date) == (date(2023, 1, 1), date(2024, 1, 1))
    assert any("1st of their month" in c for c in rec.confirm)


def test_day_first_dates_give_format_and_dayfirst(tmp_path):
    f = _write(tmp_path / "eu.csv",
               "customer_id,purchase_date,amount\n"
               "A,13/01/2024,1\nB,02/02/2024,2\nA,25/03/2024,3\n")
    p = profile_file(f)
    col = p.column("purchase_date")
    assert (col.kind, col.date_format, col.ambiguous_dayfirst) == ("date", "%d/%m/%Y", False)
    rec = recognise(p)
    assert rec.mapping.date_format == "%d/%m/%Y"
    assert rec.mapping.dayfirst is True
    assert (rec.first_date, rec.last_date) == (date(2024, 1, 13), date(2024, 3, 25))


def test_ambiguous_day_month_is_flagged(tmp_path):
    f = _write(tmp_path / "amb.csv",
               "customer_id,purchase_date,amount\nA,01/02/2024,1\nB,03/04/2024,2\n")
    rec = recognise(profile_file(f))
    assert rec.mapping.dayfirst is True
    assert "ASSUMED" in rec.mapping.reasons["dayfirst"]
    assert any("ambiguous" in c for c in rec.confirm)


def test_compact_number_dates(tmp_path):
    f = _write(tmp_path / "log.csv",
               "customer_id,date,number_of_items,dollar_value\n"
               "00001,19970101,1,11.77\n00002,19970112,5,77.00\n00001,19970305,2,20.00\n")
    rec = recognise(profile_file(f))
    assert rec.mapping.columns == {"customer_id": "customer_id", "booking_date": "date",
                                   "amount": "dollar_value"}
    assert rec.mapping.date_format == "%Y%m%d"
    assert rec.last_date == date(1997, 3, 5)


def test_invoice_lines(tmp_path):
    f = _write(tmp_path / "lines.csv",
               "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID\n"
               "1001,X,2,2024-01-02 10:00:00,1.5,17\n"
               "1001,Y,1,2024-01-02 10:00:00,4.0,17\n"
               "C1002,X,-2,2024-01-03 09:00:00,1.5,17\n"
               "1003,Z,3,2024-02-01 12:00:00,2.0,\n"
               "1004,X,1,2024-03-01 12:00:00,1.5,18\n"
               "1004,Z,2,2024-03-01 12:00:00,0.0,18\n")
    rec = recognise(profile_file(f))
    m = rec.mapping
    assert rec.shape == "invoice_lines"
    assert m.columns == {"customer_id": "Customer ID", "booking_id": "Invoice",
                         "booking_date": "InvoiceDate", "amount": "Quantity * Price"}
    assert m.where == ['"Customer ID" IS NOT NULL', "Invoice NOT LIKE 'C%'", "Quantity > 0",
                       "Price > 0"]
    assert m.group_lines is True
    assert rec.n_kept == 3 and rec.n_customers == 2


def test_member_table(tmp_path):
    f = _write(tmp_path / "members.csv",
               "member_no,joined_on,cancelled_on,plan\n"
               "M1,2022-01-10,,gold\nM2,2022-03-01,2023-05-01,basic\nM3,2023-01-15,,basic\n")
    rec = recognise(profile_file(f))
    assert rec.shape == "member_table"
    assert rec.mapping.table == "customers"
    assert rec.mapping.columns["signup_date"] == "joined_on"
    assert rec.mapping.columns["membership_cancel_date"] == "cancelled_on"
    assert rec.mapping.attributes == {"plan": "plan"}
    assert rec.churn_share == pytest.approx(1 / 3)


def test_tenure_snapshot(tmp_path):
    f = _write(tmp_path / "subs.csv",
               "customer_no,churn,tenure,contract,monthly_charges\n"
               "T1,No,10,Month-to-month,20.5\nT2,Yes,3,One year,70.0\nT3,No,40,Two year,55.25\n")
    rec = recognise(profile_file(f), as_of_date=date(2020, 6, 30))
    m = rec.mapping
    assert rec.shape == "tenure_snapshot"
    assert m.columns["signup_date"] == "DATE '2020-06-30' - INTERVAL (tenure) MONTH"
    assert m.columns["membership_cancel_date"] == \
        "CASE WHEN churn = 'Yes' THEN DATE '2020-06-30' END"
    assert m.columns["loyalty_member"] == "true"
    assert m.attributes == {"contract": "contract", "monthly_charges": "monthly_charges"}
    assert rec.max_tenure == 40 and rec.churn_share == pytest.approx(1 / 3)


def test_unrecognised_file_says_why(tmp_path):
    f = _write(tmp_path / "x.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match="no customer id column"):
        recognise(profile_file(f))


def test_quote_identifier():
    assert quote_identifier("Quantity") == "Quantity"
    assert quote_identifier("Customer ID") == '"Customer ID"'
    assert quote_identifier("year") == '"year"'
