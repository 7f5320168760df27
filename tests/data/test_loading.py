"""Tests of src.data.loading: reading CSV/Parquet/SQL, mapping onto the contract, errors."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pydantic import ValidationError

from src.data.errors import DataSourceError, DataValidationError
from src.data.loading import (
    DataSourceConfig,
    LoadedData,
    TableSource,
    file_sha256,
    load_tables,
    read_source,
)
from src.data.validation import REJECT_COLUMNS
from tests.helpers import require_shared

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDNOW_DIR = PROJECT_ROOT.parent / "shared" / "data" / "cdnow"
CDNOW_SAMPLE = CDNOW_DIR / "cdnow_sample.csv"
CDNOW_MASTER = CDNOW_DIR / "cdnow_master.csv.gz"
AS_OF = "2024-06-30"


def bookings_frame(n: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "booking_id": [f"B{i:03d}" for i in range(1, n + 1)],
            "customer_id": [f"00{i % 4}" for i in range(1, n + 1)],
            "booking_date": [f"2024-01-{i:02d}" for i in range(1, n + 1)],
            "nights": [str(1 + i % 3) for i in range(n)],
            "product": (["hotel", "tour", "flight"] * n)[:n],
            "amount": [f"{50 + 10 * i}.25" for i in range(n)],
            "status": (["completed", "completed", "cancelled"] * n)[:n],
        }
    )


def write_csv(path: Path, df: pd.DataFrame, **kwargs) -> Path:
    df.to_csv(path, index=False, **kwargs)
    return path


def config(tables: dict, **kwargs) -> DataSourceConfig:
    return DataSourceConfig.model_validate({"tables": tables, "as_of_date": AS_OF, **kwargs})


def load(tmp_path: Path, tables: dict, **kwargs) -> LoadedData:
    return load_tables(config(tables, **kwargs), tmp_path)


# --------------------------------------------------------------------------------------------
# params
# --------------------------------------------------------------------------------------------
def test_a_typo_in_params_is_an_error_naming_the_key():
    with pytest.raises(ValidationError) as err:
        DataSourceConfig.model_validate(
            {"tables": {"bookings": {"path": "b.csv", "delimeter": ";"}}}
        )
    assert "delimeter" in str(err.value)
    with pytest.raises(ValidationError) as err:
        DataSourceConfig.model_validate(
            {"tables": {"bookings": {"path": "b.csv"}}, "max_reject": 0.5}
        )
    assert "max_reject" in str(err.value)
    with pytest.raises(ValidationError) as err:
        DataSourceConfig.model_validate({"tables": {"booking": {"path": "b.csv"}}})
    assert "booking" in str(err.value)


def test_mapping_onto_a_column_the_contract_lacks_is_an_error_with_suggestion():
    with pytest.raises(ValidationError) as err:
        DataSourceConfig.model_validate(
            {"tables": {"bookings": {"path": "b.csv", "columns": {"custmer_id": "id"}}}}
        )
    assert "tables.bookings.columns.custmer_id" in str(err.value)
    assert "did you mean 'customer_id'" in str(err.value)


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "b.csv", "url": "sqlite:///x.db", "table": "t"},
        {"url": "sqlite:///x.db"},
        {"path": "b.csv", "query": "select 1"},
        {"path": "b.csv", "encoding": "utf-9"},
        {"path": "b.csv", "delimiter": ";;"},
    ],
)
def test_inconsistent_table_source_is_refused(spec):
    with pytest.raises(ValidationError):
        TableSource.model_validate(spec)


def test_bookings_are_mandatory_and_tab_delimiter_spellings_work():
    with pytest.raises(ValidationError, match="tables.bookings is required"):
        DataSourceConfig.model_validate({"tables": {"interactions": {"path": "i.csv"}}})
    # snapshot data: a customers table alone is enough
    assert list(DataSourceConfig.model_validate({"tables": {"customers": {"path": "c.csv"}}})
                .tables) == ["customers"]
    assert TableSource(path="b.tsv", delimiter="\\t").delimiter == "\t"
    assert TableSource(path="b.tsv", delimiter="tab").delimiter == "\t"
    assert TableSource(path="b.csv", values={"member_tier": {1: "gold", "Y": True}}).values == {
        "member_tier": {"1": "gold", "Y": "true"}
    }


# --------------------------------------------------------------------------------------------
# fatal source problems, one test per case
# --------------------------------------------------------------------------------------------
def test_missing_file_names_the_file_and_similar_names(tmp_path):
    write_csv(tmp_path / "bookings_2024.csv", bookings_frame())
    with pytest.raises(DataSourceError) as err:
        load(tmp_path, {"bookings": {"path": "bookings_2023.csv"}})
    text = str(err.value)
    assert "bookings_2023.csv" in text and "bookings_2024.csv" in text
    assert "tables.bookings.path" in text


def test_empty_file_is_fatal(tmp_path):
    (tmp_path / "bookings.csv").write_bytes(b"")
    with pytest.raises(DataSourceError, match="empty") as err:
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    assert err.value.file.endswith("bookings.csv")


def test_header_without_rows_is_fatal_for_bookings_but_fine_for_feedback(tmp_path):
    (tmp_path / "bookings.csv").write_text("booking_id,customer_id,booking_date,amount\n")
    with pytest.raises(DataSourceError, match="no data rows"):
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    write_csv(tmp_path / "b.csv", bookings_frame())
    (tmp_path / "feedback.csv").write_text("customer_id,date,csat\n")
    data = load(tmp_path, {"bookings": {"path": "b.csv"}, "feedback": {"path": "feedback.csv"}})
    assert data.tables["feedback"].empty
    assert list(data.tables["feedback"].columns) == ["customer_id", "date", "csat"]


def test_wrong_delimiter_says_which_delimiter_to_set(tmp_path):
    write_csv(tmp_path / "bookings.csv", bookings_frame(), sep=";")
    with pytest.raises(DataSourceError) as err:
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    text = str(err.value)
    assert "looks like ';'-delimited; set delimiter: ';'" in text
    assert "bookings.csv" in text
    data = load(tmp_path, {"bookings": {"path": "bookings.csv", "delimiter": ";"}})
    assert len(data.tables["bookings"]) == 12


def test_wrong_delimiter_with_decimal_commas_is_still_recognised(tmp_path):
    df = bookings_frame().assign(amount=lambda d: d["amount"].str.replace(".", ",", regex=False))
    write_csv(tmp_path / "bookings.csv", df, sep=";")
    with pytest.raises(DataSourceError, match="set delimiter: ';'"):
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})


def test_gbk_file_reads_with_gbk_and_fails_clearly_without(tmp_path):
    customers = pd.DataFrame(
        {
            "customer_id": ["001", "002", "003"],
            "name": ["张伟", "王芳", "李娜"],
            "home_region": ["北京", "上海", "广州"],
            "signup_date": ["2023-01-05"] * 3,
        }
    )
    write_csv(tmp_path / "customers.csv", customers, encoding="gbk")
    bookings = bookings_frame().assign(customer_id=lambda d: ["001", "002", "003"] * 4)
    write_csv(tmp_path / "bookings.csv", bookings)
    tables = {"customers": {"path": "customers.csv"}, "bookings": {"path": "bookings.csv"}}
    with pytest.raises(DataSourceError) as err:
        load(tmp_path, tables)
    text = str(err.value)
    assert "customers.csv" in text and "utf-8" in text
    header = "customer_id,name,home_region,signup_date\n001,".encode("gbk")
    assert f"byte offset {len(header)}" in text
    assert "encoding: gbk" in text
    tables["customers"]["encoding"] = "gbk"
    data = load(tmp_path, tables)
    assert data.tables["customers"]["name"].tolist() == ["张伟", "王芳", "李娜"]
    assert data.tables["customers"]["home_region"].tolist() == ["北京", "上海", "广州"]


def test_utf8_bom_header_is_handled(tmp_path):
    write_csv(tmp_path / "bookings.csv", bookings_frame(), encoding="utf-8-sig")
    data = load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    assert data.tables["bookings"]["booking_id"].iloc[0] == "B001"


def test_missing_mandatory_column_names_expected_column_and_nearest_names(tmp_path):
    df = bookings_frame().rename(columns={"amount": "amount_paid", "customer_id": "CustomerID"})
    write_csv(tmp_path / "orders.csv", df)
    with pytest.raises(DataValidationError) as err:
        load(
            tmp_path, {"bookings": {"path": "orders.csv", "columns": {"customer_id": "CustomerID"}}}
        )
    e = err.value
    assert (e.table, e.column) == ("bookings", "amount")
    text = str(e)
    assert "orders.csv" in text
    assert "mandatory column 'amount' not found: expected source column 'amount'" in text
    assert "nearest names: amount_paid" in text
    assert "CustomerID" in text and "booking_date" in text  # the columns the file has
    with pytest.raises(DataValidationError) as err:
        load(tmp_path, {"bookings": {"path": "orders.csv", "columns": {"amount": "amount_payed"}}})
    text = str(err.value)
    assert "expected source column 'customer_id'" in text  # all missing columns are named
    assert "expected source column 'amount_payed'" in text


def test_explicitly_mapped_optional_column_that_is_absent_is_an_error(tmp_path):
    write_csv(tmp_path / "b.csv", bookings_frame())
    with pytest.raises(
        DataValidationError, match="'channel' not found: expected source column 'sales_channel'"
    ):
        load(tmp_path, {"bookings": {"path": "b.csv", "columns": {"channel": "sales_channel"}}})


def test_column_of_text_amounts_is_fatal_with_examples(tmp_path):
    df = bookings_frame().assign(amount=["cash"] * 6 + ["card"] * 6)
    write_csv(tmp_path / "bookings.csv", df)
    with pytest.raises(DataValidationError) as err:
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    e = err.value
    assert e.column == "amount" and e.file.endswith("bookings.csv")
    assert "cash" in str(e) and "row_number" in str(e)


def test_too_many_rejects_is_fatal_naming_the_top_reasons(tmp_path):
    df = bookings_frame(10)
    df.loc[:2, "booking_date"] = "2031-01-01"
    write_csv(tmp_path / "bookings.csv", df)
    with pytest.raises(DataValidationError) as err:
        load(tmp_path, {"bookings": {"path": "bookings.csv"}})
    e = err.value
    text = str(e)
    assert "3 of 10 rows (30%) rejected" in text
    assert "booking_date: date in the future (3 rows)" in text
    assert "max_reject_share" in text and "bookings.csv" in text
    assert list(e.rejects["row_number"]) == [1, 2, 3]
    data = load(tmp_path, {"bookings": {"path": "bookings.csv"}}, max_reject_share=0.3)
    assert data.report.set_index("table").loc["bookings", "rows_rejected"] == 3


def test_unknown_format_and_unreadable_parquet(tmp_path):
    (tmp_path / "bookings.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataSourceError, match="format: csv or parquet"):
        load(tmp_path, {"bookings": {"path": "bookings.xlsx"}})
    write_csv(tmp_path / "bookings.parquet", bookings_frame())
    with pytest.raises(DataSourceError, match="cannot read bookings.parquet as Parquet"):
        load(tmp_path, {"bookings": {"path": "bookings.parquet"}})


def test_sql_errors_name_the_database_and_what_to_fix(tmp_path):
    with sqlite3.connect(tmp_path / "crm.db") as con:
        bookings_frame().to_sql("bookings", con, index=False)
    with pytest.raises(DataSourceError, match="table 'booking' not found") as err:
        load(tmp_path, {"bookings": {"url": "sqlite:///crm.db", "table": "booking"}})
    assert "one of: bookings" in str(err.value)
    with pytest.raises(DataSourceError, match="the query failed") as err:
        load(tmp_path, {"bookings": {"url": "sqlite:///crm.db", "query": "SELEC * FROM bookings"}})
    assert "crm.db" in str(err.value)
    with pytest.raises(DataSourceError, match="SQLite database not found"):
        load(tmp_path, {"bookings": {"url": "sqlite:///missing.db", "table": "bookings"}})
    assert not (tmp_path / "missing.db").exists()
    duck = tmp_path / "crm.duckdb"
    with duckdb.connect(str(duck)) as con:
        con.execute("CREATE TABLE bookings AS SELECT 1 AS x")
    with pytest.raises(DataSourceError, match="the query failed"):
        load(
            tmp_path,
            {"bookings": {"url": "duckdb:///crm.duckdb", "query": "SELECT nope FROM bookings"}},
        )
    with pytest.raises(DataSourceError, match="table 'orders' not found"):
        load(tmp_path, {"bookings": {"url": "duckdb:///crm.duckdb", "table": "orders"}})


# --------------------------------------------------------------------------------------------
# formats give identical frames
# --------------------------------------------------------------------------------------------
def test_csv_parquet_sqlite_and_duckdb_give_identical_frames(tmp_path):
    text = bookings_frame()
    write_csv(tmp_path / "bookings.csv", text)
    typed = text.assign(
        booking_date=pd.to_datetime(text["booking_date"]),
        nights=text["nights"].astype(int),
        amount=text["amount"].astype(float),
    )
    typed.to_parquet(tmp_path / "bookings.parquet")
    with sqlite3.connect(tmp_path / "crm.db") as con:
        text.to_sql("bookings", con, index=False)
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.register("typed_view", typed)
        con.execute(
            "CREATE TABLE bookings AS SELECT booking_id, customer_id, "
            "CAST(booking_date AS DATE) AS booking_date, nights, product, "
            "CAST(amount AS DECIMAL(12, 2)) AS amount, status FROM typed_view"
        )
    sources = {
        "csv": {"path": "bookings.csv"},
        "parquet": {"path": "bookings.parquet"},
        "sqlite": {"url": "sqlite:///crm.db", "table": "bookings"},
        "sqlite query": {"url": "sqlite:///crm.db", "query": "SELECT * FROM bookings"},
        "duckdb": {"url": "duckdb:///crm.duckdb", "table": "bookings"},
    }
    loaded = {name: load(tmp_path, {"bookings": spec}) for name, spec in sources.items()}
    reference = loaded["csv"].tables["bookings"]
    assert len(reference) == 12 and reference["customer_id"].iloc[0] == "001"
    for name, data in loaded.items():
        assert data.rejects.empty, name
        for table in ("bookings", "customers"):
            pd.testing.assert_frame_equal(
                data.tables[table], loaded["csv"].tables[table], obj=f"{name} {table}"
            )
    assert loaded["sqlite"].sources["bookings"]["sha256"] is None
    assert loaded["sqlite"].sources["bookings"]["url"].endswith("crm.db")


def test_parquet_datetimes_pass_through_without_time_zone(tmp_path):
    df = pd.DataFrame(
        {
            "customer_id": ["1", "2"],
            "booking_date": pd.to_datetime(["2024-03-05 23:30", "2024-03-06 10:00"]).tz_localize(
                "Asia/Shanghai"
            ),
            "amount": [10.0, 20.0],
        }
    )
    df.to_parquet(tmp_path / "b.parquet")
    data = load(tmp_path, {"bookings": {"path": "b.parquet"}})
    dates = data.tables["bookings"]["booking_date"]
    assert dates.dtype == "datetime64[ns]"
    assert dates.tolist() == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")]


# --------------------------------------------------------------------------------------------
# mapping a plain transaction log
# --------------------------------------------------------------------------------------------
def test_transaction_log_maps_through_columns_alone(tmp_path):
    log = pd.DataFrame(
        {
            "cust": ["7", "7", "9", "7", "9"],
            "when": ["03/01/2024", "03/01/2024", "15/01/2024", "01/02/2024", "02/02/2024 14:05"],
            "paid": ["10.00", "10.00", "5.50", "7.25", "1,200.00"],
            "store": ["A", "A", "B", "A", "B"],
        }
    )
    write_csv(tmp_path / "log.csv", log)
    spec = {
        "path": "log.csv",
        "columns": {"customer_id": "cust", "booking_date": "when", "amount": "paid"},
        "dayfirst": True,
    }
    data = load(tmp_path, {"bookings": spec})
    b = data.tables["bookings"]
    assert data.rejects.empty
    assert b["booking_id"].tolist() == ["7-1", "7-2", "9-3", "7-4", "9-5"]  # repeats are kept
    assert b["status"].astype(str).tolist() == ["completed"] * 5
    assert (
        b["booking_date"].tolist()
        == pd.to_datetime(
            ["2024-01-03", "2024-01-03", "2024-01-15", "2024-02-01", "2024-02-02"]
        ).tolist()
    )
    assert b["amount"].sum() == pytest.approx(1232.75)
    c = data.tables["customers"]
    assert c.to_dict("list") == {
        "customer_id": ["7", "9"],
        "signup_date": [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-15")],
    }
    assert data.sources["bookings"]["synthesised"] == ["booking_id"]
    assert data.sources["bookings"]["defaults"] == {"status": "completed"}
    assert data.sources["bookings"]["unused_columns"] == ["store"]
    assert "interactions" not in data.tables and list(data.tables) == ["customers", "bookings"]
    assert read_source(TableSource(**spec), "bookings", tmp_path).columns.tolist() == [
        "customer_id",
        "booking_date",
        "amount",
        "status",
    ]


def test_values_and_defaults_map_source_conventions(tmp_path):
    df = bookings_frame(6).assign(status=["OK", "OK", "Refunded", "OK", "Storno", None])
    df.loc[2, "amount"] = "-60.25"
    write_csv(tmp_path / "b.csv", df)
    spec = {
        "path": "b.csv",
        "values": {"status": {"OK": "completed", "Refunded": "cancelled", "Storno": "cancelled"}},
        "defaults": {"currency": "USD", "status": "confirmed"},
    }
    data = load(tmp_path, {"bookings": spec})
    b = data.tables["bookings"]
    assert data.rejects.empty
    assert b["status"].astype(str).tolist() == [
        "completed",
        "completed",
        "cancelled",
        "completed",
        "cancelled",
        "confirmed",
    ]
    assert b["amount"].iloc[2] == -60.25
    assert b["currency"].astype(str).unique().tolist() == ["USD"]
    assert b["currency"].dtype == "category"


def test_bookings_of_unknown_or_rejected_customers_are_rejected(tmp_path):
    customers = pd.DataFrame(
        {"customer_id": ["001", "002"], "signup_date": ["2023-01-01", "later"]}
    )
    customers = pd.concat(
        [
            customers,
            pd.DataFrame({"customer_id": [f"x{i}" for i in range(8)], "signup_date": "2023-02-02"}),
        ]
    )
    write_csv(tmp_path / "customers.csv", customers)
    write_csv(tmp_path / "bookings.csv", bookings_frame(12))  # customers 000..003
    fb = pd.DataFrame(
        {"customer_id": ["001", "003"], "date": ["2024-02-01"] * 2, "csat": ["5", "4"]}
    )
    write_csv(tmp_path / "feedback.csv", fb)
    data = load(
        tmp_path,
        {
            "customers": {"path": "customers.csv"},
            "bookings": {"path": "bookings.csv"},
            "feedback": {"path": "feedback.csv"},
        },
        max_reject_share=0.9,
    )
    assert data.tables["customers"]["customer_id"].tolist()[:1] == ["001"]
    assert set(data.tables["bookings"]["customer_id"]) == {"001"}
    rej = data.rejects.set_index(["table", "row_number"])
    assert rej.loc[("customers", 2), "reason"] == "unparseable date"
    assert rej.loc[("bookings", 2), "value"] == "002"  # its customers row was rejected
    assert rej.loc[("bookings", 3), "reason"].startswith("customer_id not in customers table")
    assert rej.loc[("feedback", 2), "value"] == "003"
    assert data.tables["feedback"]["customer_id"].tolist() == ["001"]


# --------------------------------------------------------------------------------------------
# report, rejects file, provenance
# --------------------------------------------------------------------------------------------
def test_report_reconciles_and_rejects_file_is_excel_friendly(tmp_path):
    df = bookings_frame(12)
    df.loc[3, "amount"] = "abc"
    df.loc[5, "booking_date"] = "2024-13-01"
    df.loc[7, "booking_id"] = "B001"
    df["note"] = "备注"
    write_csv(tmp_path / "bookings.csv", df)
    inter = pd.DataFrame(
        {
            "customer_id": ["001", "002"],
            "timestamp": ["2024-01-01 10:00", "2024-01-02"],
            "kind": ["opened", "shouted"],
        }
    )
    write_csv(tmp_path / "inter.csv", inter)
    data = load(
        tmp_path,
        {"bookings": {"path": "bookings.csv"}, "interactions": {"path": "inter.csv"}},
        max_reject_share=0.5,
    )
    report = data.report.set_index("table")
    assert (report["rows_in"] == report["rows_kept"] + report["rows_rejected"]).all()
    assert report.loc["bookings", ["rows_in", "rows_kept", "rows_rejected"]].tolist() == [12, 9, 3]
    assert report.loc["interactions", "rows_rejected"] == 1
    assert "amount: unparseable number (1)" in report.loc["bookings", "top_reasons"]
    for table, kept in data.tables.items():
        assert len(kept) == report.loc[table, "rows_kept"]
    out = data.write_rejects(tmp_path / "out" / "rejects.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == REJECT_COLUMNS
    assert [(r["table"], r["row_number"]) for r in rows] == [
        ("bookings", "4"),
        ("bookings", "6"),
        ("bookings", "8"),
        ("interactions", "2"),
    ]
    assert rows[2]["reason"].startswith("duplicate booking_id (first at row 1, invoice lines? ")
    assert "tables.bookings.group_lines: true" in rows[2]["reason"]
    record = json.loads(rows[0]["record"])
    assert record["amount"] == "abc" and record["note"] == "备注"
    assert rows[0]["source"] == str(tmp_path / "bookings.csv")
    assert not list(out.parent.glob(".*tmp"))


def test_sources_record_file_hashes_and_rows(tmp_path):
    (tmp_path / "data").mkdir()
    path = write_csv(tmp_path / "data" / "bookings.csv", bookings_frame())
    data = load(tmp_path, {"bookings": {"path": "data/bookings.csv"}})  # relative to base_dir
    src = data.sources["bookings"]
    assert src["sha256"] == file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert src["rows"] == 12 and Path(src["path"]) == path.resolve()
    assert data.sources["customers"] == {
        "derived_from": "bookings", "sha256": None, "rows": 4, "attributes": []
    }


def test_cdnow_sample_maps_through_params_only():
    require_shared("cdnow", "cdnow_sample.csv")
    cfg = DataSourceConfig.model_validate(
        {
            "tables": {
                "bookings": {
                    "path": "../shared/data/cdnow/cdnow_sample.csv",
                    "columns": {
                        "customer_id": "master_customer_id",
                        "booking_date": "date",
                        "amount": "dollar_value",
                    },
                    "date_format": "%Y%m%d",
                }
            }
        }
    )
    data = load_tables(cfg, PROJECT_ROOT)
    bookings = data.tables["bookings"]
    assert len(bookings) == 6919
    assert len(data.tables["customers"]) == 2357
    assert bookings["amount"].sum() == pytest.approx(244091.94, abs=0.005)
    assert data.rejects.empty
    assert bookings["booking_date"].min() == pd.Timestamp("1997-01-01")
    assert bookings["booking_date"].max() == pd.Timestamp("1998-06-30")
    assert bookings["customer_id"].iloc[0] == "00004"  # leading zeros kept
    assert data.tables["customers"]["signup_date"].max() <= pd.Timestamp("1997-03-31")


def test_cdnow_master_reads_gzipped_csv_and_keeps_duplicate_lines():
    require_shared("cdnow", "cdnow_master.csv.gz")
    cfg = DataSourceConfig.model_validate(
        {
            "tables": {
                "bookings": {
                    "path": str(CDNOW_MASTER),
                    "columns": {"booking_date": "date", "amount": "dollar_value"},
                    "date_format": "%Y%m%d",
                }
            }
        }
    )
    data = load_tables(cfg, PROJECT_ROOT)
    bookings = data.tables["bookings"]
    assert len(bookings) == 69659 and data.rejects.empty
    assert len(data.tables["customers"]) == 23570
    assert bookings["amount"].sum() == pytest.approx(2500315.63, abs=0.005)
    assert (bookings["amount"] == 0).sum() == 80
    assert data.sources["bookings"]["sha256"] == (
        "ef599ab2ca23833136880e4db7c5f2182a539bfa9ec00d5c30c8b633e68b7b14"
    )


def test_customer_defaults_reach_the_customers_table_derived_from_bookings(tmp_path: Path) -> None:
    """A transaction log has no customers table: its consent is set by data.source
    customer_defaults (typed by the contract), and refused next to a given customers table."""
    (tmp_path / "b.csv").write_text("cust,day,amt\nA,2024-01-02,10\nA,2024-02-02,5\nB,2024-03-01,7\n")
    src = {"path": str(tmp_path / "b.csv"),
           "columns": {"customer_id": "cust", "booking_date": "day", "amount": "amt"}}
    cfg = DataSourceConfig.model_validate({"as_of_date": "2024-12-31", "tables": {"bookings": src},
                                           "customer_defaults": {"consent_email": "yes"}})
    customers = load_tables(cfg, tmp_path).tables["customers"]
    assert customers.set_index("customer_id")["consent_email"].to_dict() == {"A": True, "B": True}
    assert str(customers["consent_email"].dtype) == "boolean"
    with pytest.raises(ValueError, match="tables.customers.defaults"):
        DataSourceConfig.model_validate({"tables": {"bookings": src, "customers": {
                                             "path": src["path"], "columns": {"customer_id": "cust"}}},
                                         "customer_defaults": {"consent_email": True}})
    with pytest.raises(ValueError, match="consent_email"):
        DataSourceConfig.model_validate({"tables": {"bookings": src},
                                         "customer_defaults": {"consent_emial": True}})
