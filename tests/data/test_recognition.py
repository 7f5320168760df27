"""Sniffing, whole-file evidence and role recognition (``src.data.sniff``,
``src.data.recognition``) on small generated exports of several shapes."""

from __future__ import annotations

import gzip
import random
from datetime import date
from pathlib import Path

import pytest

from src.data.errors import DataSourceError
from src.data.recognition.profile import profile_columns
from src.data.recognition.roles import quote
from src.data.recognition.tables import parse_status_values, recognise_files
from src.data.sniff import sniff_file


def _rows(seed: int = 1, n: int = 300, n_customers: int = 60) -> list[tuple]:
    """(customer, year, month, day, amount) rows of one year of bookings."""
    rng = random.Random(seed)
    return [(f"K{rng.randrange(n_customers):03d}", 2023, rng.randrange(1, 13),
             rng.randrange(1, 28), round(rng.uniform(5, 500), 2)) for _ in range(n)]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _only(rec):
    assert not rec.open, [(f, o.role, o.reason) for f, o in rec.open]
    assert len(rec.tables) == 1
    return rec.tables[0]


def test_semicolon_decimal_comma_day_first_german_headers(tmp_path):
    rows = _rows()
    f = _write(tmp_path / "eu.csv", "Kundennr;Buchungsdatum;Betrag\n" + "".join(
        f"{c};{d:02d}.{m:02d}.{y};{str(a).replace('.', ',')}\n" for c, y, m, d, a in rows))
    sn = sniff_file(f)
    assert (sn.delimiter, sn.names) == (";", ["Kundennr", "Buchungsdatum", "Betrag"])
    t = _only(recognise_files([f]))
    assert t.shape == "transaction_log" and t.table == "bookings"
    assert t.mapping.columns == {"customer_id": "Kundennr", "booking_date": "Buchungsdatum",
                                 "amount": "Betrag"}
    assert (t.mapping.date_format, t.mapping.decimal) == ("%d.%m.%Y", ",")
    amount = t.evidence.column("Betrag")
    assert amount.kind == "decimal" and amount.decimal == ","
    assert amount.maximum == pytest.approx(max(a for *_, a in rows))


def test_gbk_chinese_headers_and_chinese_dates(tmp_path):
    rows = _rows(2)
    f = _write(tmp_path / "zh.csv", "客户编号,下单日期,金额,城市\n" + "".join(
        f"{c},{y}年{m}月{d}日,{a},北京\n" for c, y, m, d, a in rows), encoding="gbk")
    assert sniff_file(f).encoding == "gbk"
    t = _only(recognise_files([f]))
    assert t.mapping.columns == {"customer_id": "客户编号", "booking_date": "下单日期",
                                 "amount": "金额"}
    assert t.mapping.date_format == "%Y年%m月%d日"
    col = t.evidence.column("下单日期")
    assert (col.first_date, col.last_date) == (
        str(min(date(y, m, d) for _, y, m, d, _ in rows)),
        str(max(date(y, m, d) for _, y, m, d, _ in rows)))


def test_latin1_gzip_is_decoded_whole(tmp_path):
    f = _write(tmp_path / "orders.csv.gz", "customer_id,order_date,amount,city\n" + "".join(
        f"{c},{y}-{m:02d}-{d:02d},{a},Zürich\n" for c, y, m, d, a in _rows(3)),
        encoding="latin-1")
    sn = sniff_file(f)
    assert (sn.encoding, sn.compression) == ("latin-1", "gz")
    ev = profile_columns(sn)
    assert ev.column("city").levels == (("Zürich", 300),)


def test_truncated_gzip_is_refused_naming_the_file(tmp_path):
    whole = gzip.compress(("customer_id,order_date,amount\n" + "".join(
        f"{c},{y}-{m:02d}-{d:02d},{a}\n" for c, y, m, d, a in _rows(4))).encode())
    f = tmp_path / "cut.csv.gz"
    f.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataSourceError, match=r"cut\.csv\.gz.*truncated or corrupt"):
        recognise_files([f])


def test_header_only_file_is_refused(tmp_path):
    f = _write(tmp_path / "empty.csv", "customer_id,order_date,amount\n")
    with pytest.raises(DataSourceError, match="has a header and no data rows"):
        recognise_files([f])


def test_year_and_month_columns_become_make_date(tmp_path):
    f = _write(tmp_path / "monthly.csv", "client_id,year,month,sales\n" + "".join(
        f"{c},{y},{m},{a}\n" for c, y, m, d, a in _rows(5)))
    t = _only(recognise_files([f]))
    assert t.mapping.columns["booking_date"] == \
        'make_date(CAST("year" AS INTEGER), CAST("month" AS INTEGER), 1)'
    assert t.mapping.columns["amount"] == "sales"
    assert any("1st of their month" in c for c in t.confirm)


def test_ambiguous_day_month_is_left_open_until_a_format_is_given(tmp_path):
    f = _write(tmp_path / "amb.csv", "customer_id,purchase_date,amount\n" + "".join(
        f"{c},{min(d, 12):02d}/{m:02d}/{y},{a}\n" for c, y, m, d, a in _rows(6)))
    rec = recognise_files([f])
    [(name, role)] = rec.open
    assert (name, role.role) == ("amb.csv", "booking_date")
    assert "day-first and month-first" in role.reason
    assert "booking_date" not in rec.tables[0].mapping.columns
    t = _only(recognise_files([f], given={"date_format": "%d/%m/%Y"}))
    assert (t.mapping.columns["booking_date"], t.mapping.date_format) == \
        ("purchase_date", "%d/%m/%Y")


def test_compact_number_dates(tmp_path):
    f = _write(tmp_path / "log.csv", "customer_id,date,number_of_items,dollar_value\n" + "".join(
        f"{c},{y}{m:02d}{d:02d},{1 + i % 4},{a}\n" for i, (c, y, m, d, a)
        in enumerate(_rows(7))))
    t = _only(recognise_files([f]))
    assert t.mapping.columns == {"customer_id": "customer_id", "booking_date": "date",
                                 "amount": "dollar_value"}
    assert t.mapping.date_format == "%Y%m%d"


def test_invoice_lines_credit_notes_and_missing_customers(tmp_path):
    rng = random.Random(8)
    lines = ["Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID"]
    for inv in range(200):
        cancel = inv % 10 == 0
        for _ in range(rng.randrange(1, 4)):
            q = rng.randrange(1, 6)
            lines.append(f"{'C' if cancel else ''}{5000 + inv},S{rng.randrange(30)},"
                         f"{-q if cancel else q},2024-{1 + inv % 12:02d}-{1 + inv % 27:02d} "
                         f"10:00:00,{rng.choice(['1.25', '2.5', '0.0', '4.95'])},"
                         f"{'' if inv % 17 == 0 else 12000 + rng.randrange(40)}")
    f = _write(tmp_path / "lines.csv", "\n".join(lines) + "\n")
    t = _only(recognise_files([f]))
    m = t.mapping
    assert t.shape == "invoice_lines"
    assert {k: m.columns[k] for k in ("customer_id", "booking_id", "booking_date", "amount")} \
        == {"customer_id": "Customer ID", "booking_id": "Invoice",
            "booking_date": "InvoiceDate", "amount": "Quantity * Price"}
    assert m.where == ['"Customer ID" IS NOT NULL', "Invoice NOT LIKE 'C%'", "Quantity > 0",
                       "Price > 0"]
    assert m.group_lines is True


def test_member_table_with_the_programmes_own_tiers(tmp_path):
    rng = random.Random(9)
    rows = ["member_no,joined_on,cancelled_on,Loyalty Card,Lifetime Value"]
    spend = {"Star": 100, "Nova": 300, "Aurora": 900}
    for i in range(90):
        tier = rng.choice(list(spend))
        rows.append(f"M{i:03d},2022-{1 + i % 12:02d}-10,{'2023-05-01' if i % 3 == 0 else ''},"
                    f"{tier},{spend[tier] + rng.uniform(0, 50):.2f}")
    f = _write(tmp_path / "members.csv", "\n".join(rows) + "\n")
    t = _only(recognise_files([f]))
    assert (t.shape, t.table) == ("member_table", "customers")
    assert t.mapping.columns["signup_date"] == "joined_on"
    assert t.mapping.columns["membership_cancel_date"] == "cancelled_on"
    assert t.mapping.columns["member_tier"] == "Loyalty Card"
    # the programme's own words, lowest first, ordered by the mean value of each tier
    assert t.mapping.vocabulary["member_tier"] == ["Star", "Nova", "Aurora"]
    assert "Lifetime Value" in t.mapping.reasons["vocabulary.member_tier"]


def test_tenure_snapshot(tmp_path):
    rows = ["customer_no,churn,tenure,contract,monthly_charges"]
    rows += [f"T{i:03d},{'Yes' if i % 3 == 0 else 'No'},{1 + i % 71},"
             f"{'One year' if i % 2 else 'Month-to-month'},{20 + i / 3:.2f}" for i in range(90)]
    f = _write(tmp_path / "subs.csv", "\n".join(rows) + "\n")
    t = _only(recognise_files([f], as_of_date=date(2020, 6, 30)))
    assert t.shape == "tenure_snapshot"
    assert t.mapping.columns["signup_date"] == "DATE '2020-06-30' - INTERVAL (tenure) MONTH"
    assert t.mapping.columns["membership_cancel_date"] == \
        "CASE WHEN churn = 'Yes' THEN DATE '2020-06-30' END"
    assert t.max_tenure == 71


def test_a_flag_is_never_taken_for_a_customer_key(tmp_path):
    """The hotel extract of issue 21: no guest id; a 0/1 'is_repeated_guest' column."""
    rng = random.Random(10)
    rows = ["hotel,is_canceled,arrival_date,adr,is_repeated_guest,total_of_special_requests"]
    rows += [f"{rng.choice(['City', 'Resort'])},{rng.randrange(2)},2016-{1 + i % 12:02d}-"
             f"{1 + i % 28:02d},{rng.uniform(40, 200):.2f},{int(rng.random() < 0.03)},"
             f"{rng.randrange(4)}" for i in range(500)]
    f = _write(tmp_path / "hotel.csv", "\n".join(rows) + "\n")
    rec = recognise_files([f])
    assert "customer_id" not in rec.tables[0].mapping.columns
    opened = {o.role: o for _, o in rec.open}
    assert opened["customer_id"].reason == "no column can be a customer key"
    assert opened["customer_id"].flag == "--customer-id"
    assert any("'is_repeated_guest': only 2 distinct values" in r
               for r in rec.refused["hotel.csv"]["customer_id"])


def test_a_file_of_nothing_recognisable_opens_every_role(tmp_path):
    rng = random.Random(11)
    f = _write(tmp_path / "x.csv", "a,b\n" + "".join(
        f"{rng.random():.6f},{rng.random():.6f}\n" for _ in range(50)))
    rec = recognise_files([f])
    assert {o.role for _, o in rec.open} == {"customer_id", "booking_date", "amount"}


def test_two_files_join_on_the_key_they_share(tmp_path):
    rows = _rows(12)
    members = sorted({c for c, *_ in rows})
    cust = _write(tmp_path / "members.csv", "Loyalty Number,Country\n" + "".join(
        f"{c},{'Canada' if i % 2 else 'France'}\n" for i, c in enumerate(members)))
    acts = _write(tmp_path / "activity.csv", "Loyalty Number,Year,Month,Total Spend\n" + "".join(
        f"{c},{y},{m},{a}\n" for c, y, m, d, a in rows))
    rec = recognise_files([acts, cust])
    assert not rec.open, rec.open
    assert [t.table for t in rec.tables] == ["bookings", "customers"]
    assert rec.tables[0].mapping.columns["customer_id"] == "Loyalty Number"
    assert rec.tables[1].mapping.columns["customer_id"] == "Loyalty Number"
    assert "Loyalty Number" in rec.join


def test_status_values_flag():
    assert parse_status_values("Storno=cancelled, Offen=confirmed") == \
        {"Storno": "cancelled", "Offen": "confirmed"}
    with pytest.raises(ValueError, match="write <level>=<meaning>"):
        parse_status_values("Storno=gone")


def test_quote_for_expressions():
    assert quote("Quantity") == "Quantity"
    assert quote("Customer ID") == '"Customer ID"'
    assert quote("year") == '"year"'
    assert quote('say "hi"') == '"say ""hi"""'
