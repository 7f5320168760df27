"""The shared real files re-exported the way other companies' systems write them, and the
exports of issue 21, through ``crm init`` unedited (or with the one flag it names) and the
product's loader: the figures of their SOURCE.md files.

- Online Retail II from European Excel: semicolons, decimal commas, day-first dates, German /
  English shop headers (``Invoice;Item;Item description;Qty;Invoice date;Unit price;Customer
  no.;Country``).
- Online Retail II from a Chinese system: GBK, Chinese headers, dates as ``2009年12月1日``.
- CDNOW master with German headers and the date split into year, month and day columns.
- An airline loyalty programme (members + monthly flight activity joined by "Loyalty
  Number", tiers Star / Nova / Aurora, enrolment and cancellation as year + month columns,
  months without flights): generated here with its truth.
- A hotel extract without guest ids: refused, nothing written as ready.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from src.cli import main
from src.commands.init_job import init_job
from src.data.loading import DataSourceConfig, load_tables
from src.params.files import load_params
from src.paths import PROJECT_ROOT
from src.runner.run import EXIT_BAD_INPUT
from tests.helpers import require_shared
from tests.runner.refusals import refused_by_the_data_step

pytestmark = pytest.mark.slow

RETAIL = ("online_retail_ii", "online_retail_ii_year_2009_2010.csv.gz")
CDNOW = ("cdnow", "cdnow_master.csv.gz")


def _loaded(params_file: Path):
    params = load_params(params_file)
    return load_tables(DataSourceConfig.model_validate(params.data.source),
                       base_dir=PROJECT_ROOT)


def _init(name: str, files: list[Path], folder: Path, **given: str):
    lines: list[str] = []
    result = init_job(name, files, out=folder / f"{name}.yaml", echo=lines.append,
                      given=given or None)
    return result, "\n".join(lines)


@pytest.fixture(scope="module")
def retail() -> pd.DataFrame:
    return pd.read_csv(require_shared(*RETAIL), dtype=str, keep_default_na=False)


def _assert_retail_figures(params_file: Path) -> None:
    """SOURCE.md: 19,213 clean invoices, 4,312 customers, revenue 8,832,003.27."""
    bookings = _loaded(params_file).tables["bookings"]
    assert len(bookings) == 19_213
    assert bookings["customer_id"].nunique() == 4_312
    assert round(float(bookings["amount"].sum()), 2) == 8_832_003.27


def test_online_retail_from_european_excel(tmp_path, retail):
    iso = retail["InvoiceDate"]  # "2009-12-01 07:45:00": day-first by slicing, as strftime
    assert iso.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()  # would, 1 s sooner
    eu = pd.DataFrame({
        "Invoice": retail["Invoice"], "Item": retail["StockCode"],
        "Item description": retail["Description"], "Qty": retail["Quantity"],
        "Invoice date": (iso.str[8:10] + "." + iso.str[5:7] + "." + iso.str[:4] + " "
                         + iso.str[11:16]),  # "%d.%m.%Y %H:%M"
        "Unit price": retail["Price"].str.replace(".", ",", regex=False),
        "Customer no.": retail["Customer ID"], "Country": retail["Country"]})
    file = tmp_path / "Rechnungen.csv"
    eu.to_csv(file, sep=";", index=False, encoding="cp1252", errors="replace")
    result, printed = _init("eu_retail", [file], tmp_path)
    assert result.ok, result.problems
    assert "decimal comma" in printed
    cols = load_params(result.path).data.source["tables"]["bookings"]["columns"]
    assert cols["customer_id"] == "Customer no."
    assert cols["amount"] == 'Qty * "Unit price"'
    _assert_retail_figures(result.path)


def test_online_retail_from_a_chinese_system_in_gbk(tmp_path, retail):
    when = pd.to_datetime(retail["InvoiceDate"])
    zh = pd.DataFrame({
        "发票号": retail["Invoice"], "商品编码": retail["StockCode"],
        "商品描述": retail["Description"], "数量": retail["Quantity"],
        "开票时间": when.dt.year.astype(str) + "年" + when.dt.month.astype(str) + "月"
        + when.dt.day.astype(str) + "日",
        "单价": retail["Price"], "客户编号": retail["Customer ID"], "国家": retail["Country"]})
    file = tmp_path / "销售明细.csv.gz"
    with gzip.open(file, "wt", encoding="gbk", errors="replace", newline="",
                   compresslevel=1) as fh:  # the same text, written twice as fast
        zh.to_csv(fh, index=False)
    result, printed = _init("zh_retail", [file], tmp_path)
    assert result.ok, result.problems
    assert "gbk" in printed
    cols = load_params(result.path).data.source["tables"]["bookings"]["columns"]
    assert (cols["customer_id"], cols["booking_id"]) == ("客户编号", "发票号")
    _assert_retail_figures(result.path)


def test_cdnow_with_german_headers_and_split_dates(tmp_path):
    raw = pd.read_csv(require_shared(*CDNOW), dtype=str)
    de = pd.DataFrame({"Kundennummer": raw["customer_id"], "Jahr": raw["date"].str[:4],
                       "Monat": raw["date"].str[4:6].astype(int),
                       "Tag": raw["date"].str[6:].astype(int),
                       "Anzahl CDs": raw["number_of_cds"],
                       "Umsatz": raw["dollar_value"].str.replace(".", ",", regex=False)})
    file = tmp_path / "cdnow_de.csv"
    de.to_csv(file, sep=";", index=False)
    result, _ = _init("cdnow_de", [file], tmp_path)
    assert result.ok, result.problems
    cols = load_params(result.path).data.source["tables"]["bookings"]["columns"]
    assert cols["booking_date"].startswith("make_date(")
    bookings = _loaded(result.path).tables["bookings"]
    assert len(bookings) == 69_659                      # SOURCE.md
    assert bookings["customer_id"].nunique() == 23_570
    assert bookings["customer_id"].str.len().eq(5).all()  # leading zeros kept
    assert round(float(bookings["amount"].sum()), 2) == 2_500_315.63
    assert str(bookings["booking_date"].max().date()) == "1998-06-30"


def _airline(folder: Path, seed: int = 5) -> dict[str, object]:
    """Members + monthly flight activity shaped as the airline loyalty export of issue 21
    (no money column; the programme's points are the value it measures)."""
    rng = np.random.default_rng(seed)
    n = 400
    tiers = np.array(["Star", "Nova", "Aurora"])
    t = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    ids = rng.choice(np.arange(100_000, 999_999), size=n, replace=False)
    cancelled = rng.random(n) < 0.12
    members = pd.DataFrame({
        "Loyalty Number": ids, "Country": "Canada",
        "Province": rng.choice(["Ontario", "Quebec", "Alberta"], size=n),
        "Salary": rng.normal(70_000, 20_000, size=n).round(0),  # not what a tier is worth
        "Loyalty Card": tiers[t], "CLV": rng.lognormal(8 + 0.5 * t, 0.3).round(2),
        "Enrollment Year": rng.integers(2012, 2017, size=n),
        "Enrollment Month": rng.integers(1, 13, size=n),
        "Cancellation Year": np.where(cancelled, 2018, np.nan),   # written as 2018.0
        "Cancellation Month": np.where(cancelled, rng.integers(1, 13, size=n), np.nan)})
    rows = []
    for i in range(n):
        for year in (2017, 2018):
            for month in range(1, 13):
                k = int(rng.poisson(0.8 + 0.5 * t[i])) if rng.random() < 0.5 else 0
                rows.append((ids[i], year, month, k, k // 3, k + k // 3,
                             k * int(rng.integers(300, 2500)), round(k * rng.uniform(100, 300), 1),
                             0, 0))
    activity = pd.DataFrame(rows, columns=[
        "Loyalty Number", "Year", "Month", "Flights Booked", "Flights with Companions",
        "Total Flights", "Distance", "Points Accumulated", "Points Redeemed",
        "Dollar Cost Points Redeemed"])
    members.to_csv(folder / "Customer Loyalty History.csv", index=False)
    activity.to_csv(folder / "Customer Flight Activity.csv", index=False)
    flown = activity[activity["Total Flights"] > 0]
    return {"files": [folder / "Customer Loyalty History.csv",
                      folder / "Customer Flight Activity.csv"],
            "bookings": len(flown), "customers": flown["Loyalty Number"].nunique(),
            "points": round(float(flown["Points Accumulated"].sum()), 2),
            "cancelled": int(cancelled.sum())}


def test_airline_loyalty_programme_settles_with_the_one_flag_it_names(tmp_path, capsys):
    truth = _airline(tmp_path)
    files = [str(f) for f in truth["files"]]
    out = tmp_path / "airline.yaml"
    assert main(["init", "airline", *files, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "amount paid per row (money) is not settled" in err
    assert "'Points Accumulated'" in err and "--amount" in err
    assert "Dollar Cost Points Redeemed' (" not in err  # 0 on every row measures nothing
    assert "rename" not in err.lower()

    assert main(["init", "airline", *files, "--out", str(out), "--force",
                 "--amount", "Points Accumulated"]) == 0
    printed = capsys.readouterr().out
    assert "'Total Flights' = 0: a period without activity is not a booking" in printed
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    customers = doc["data"]["source"]["tables"]["customers"]
    assert customers["columns"]["customer_id"] == "Loyalty Number"
    assert customers["columns"]["member_tier"] == "Loyalty Card"
    assert customers["vocabulary"]["member_tier"] == ["Star", "Nova", "Aurora"]  # by CLV
    assert customers["columns"]["membership_cancel_date"].startswith("make_date(")
    loaded = _loaded(out)
    bookings, members = loaded.tables["bookings"], loaded.tables["customers"]
    assert len(bookings) == truth["bookings"]
    assert bookings["customer_id"].nunique() == truth["customers"]
    assert round(float(bookings["amount"].sum()), 2) == truth["points"]
    assert int(members["membership_cancel_date"].notna().sum()) == truth["cancelled"]
    assert list(members["member_tier"].cat.categories) == ["Star", "Nova", "Aurora"]


def _hotel(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 20_000
    hotel = pd.DataFrame({
        "hotel": rng.choice(["City Hotel", "Resort Hotel"], size=n),
        "is_canceled": rng.integers(0, 2, size=n),
        "arrival_date": pd.Timestamp("2016-01-01") + pd.to_timedelta(
            rng.integers(0, 700, size=n), unit="D"),
        "adr": rng.uniform(40, 250, size=n).round(2),
        "is_repeated_guest": (rng.random(n) < 0.03).astype(int),
        "total_of_special_requests": rng.integers(0, 5, size=n),
        "country": rng.choice(["PRT", "GBR", "FRA", "ESP", "DEU"], size=n)})
    file = folder / "hotel_bookings.csv"
    hotel.to_csv(file, index=False)
    return file


def test_hotel_extract_without_guest_ids_is_refused(tmp_path, capsys):
    file = _hotel(tmp_path)
    out = tmp_path / "hotel.yaml"
    assert main(["init", "hotel", str(file), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no column identifies the customer" in err
    assert "data-quality report" in err
    assert "is_repeated_guest" not in yaml.safe_load(out.read_text(encoding="utf-8")).get(
        "data", {}).get("source", {}).get("tables", {}).get("bookings", {}).get(
        "columns", {}).values()
    assert "NOT READY" in out.read_text(encoding="utf-8")


def test_a_flag_mapped_by_hand_as_the_customer_key_stops_the_run_before_any_notebook(tmp_path):
    """The hotel extract mapped by hand with the 0/1 flag as the customer: the data step (what
    ``01_data_quality`` calls) refuses it, so ``crm run`` exits 2 there, before any model
    notebook: no clean table is written for later notebooks and nothing is published. In
    process (:mod:`tests.runner.refusals`); a data-step refusal through ``crm run`` end to end
    is in tests/runner/test_faults.py."""
    file = _hotel(tmp_path)
    job = {"job": "hotel_by_hand", "notebooks": ["01_data_quality", "02_segmentation"],
           "data": {"cutoff_date": "2017-11-30", "source": {
               "as_of_date": "2017-11-30",
               "customer_defaults": {"consent_email": True},
               "tables": {"bookings": {"path": str(file), "columns": {
                   "customer_id": "is_repeated_guest", "booking_date": "arrival_date",
                   "amount": "adr"}}}}}}
    params_file = tmp_path / "hotel_by_hand.yaml"
    params_file.write_text(yaml.safe_dump(job), encoding="utf-8")
    code, error, layout = refused_by_the_data_step(params_file)
    assert code == EXIT_BAD_INPUT, error
    assert error["notebook"] == "01_data_quality"
    assert "'is_repeated_guest' holds only 2 distinct values" in error["message"]
    assert "--customer-id" in error["message"]
    assert not layout.data_dir.exists() or not list(layout.data_dir.glob("*.parquet"))
