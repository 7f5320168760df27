"""DuckDB customer features over Parquet equal the pandas ones: synthetic data, edge cases,
part files, the engine dispatcher, a small memory limit and the benchmark script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from src.data.synthetic import generate, generate_to_parquet
from src.features import cache
from src.features import duckdb_features as ddf
from src.features.cache import build_customer_features
from src.features.customer import customer_features
from src.features.duckdb_features import customer_features_duckdb

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("bookings", "customers", "interactions", "feedback")
CUTOFF = "2023-12-31"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_tables(tables: dict[str, pd.DataFrame], folder: Path,
                 date_type: pa.DataType | None = None) -> dict[str, Path]:
    """Write each table as ``<folder>/<name>.parquet``; ``date_type`` re-types the date
    columns (pandas writes ``timestamp[ns]``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in tables.items():
        table = pa.Table.from_pandas(df, preserve_index=False)
        if date_type is not None:
            for i, field in enumerate(table.schema):
                if pa.types.is_timestamp(field.type):
                    table = table.set_column(i, field.name,
                                             pc.cast(table.column(i), date_type, safe=False))
        paths[name] = folder / f"{name}.parquet"
        pq.write_table(table, paths[name])
    return paths


def pandas_reference(paths: dict[str, Path], cutoff) -> pd.DataFrame:
    """``customer_features`` on the whole Parquet tables read by pandas."""
    t = {name: pd.read_parquet(p) for name, p in paths.items()}
    return customer_features(t["bookings"], cutoff, customers=t.get("customers"),
                             interactions=t.get("interactions"), feedback=t.get("feedback"))


def duckdb_result(paths: dict, cutoff, **kw) -> pd.DataFrame:
    return customer_features_duckdb(paths["bookings"], cutoff, customers=paths.get("customers"),
                                    interactions=paths.get("interactions"),
                                    feedback=paths.get("feedback"), threads=1, **kw)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected, rtol=1e-6)
    assert got.attrs == expected.attrs


# --------------------------------------------------------------------------------------------
# synthetic data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict[str, Path]:
    paths = generate_to_parquet(tmp_path_factory.mktemp("synthetic"), 3000, seed=11)
    return {name: paths[name] for name in TABLES}


@pytest.mark.parametrize("cutoff", ["2023-06-30", "2025-12-31"])  # mid-history, extraction day
def test_synthetic_data_equals_pandas(synthetic, cutoff) -> None:
    expected = pandas_reference(synthetic, cutoff)
    assert len(expected) > 500 and expected["n_bookings"].sum() > 1000
    assert_same(duckdb_result(synthetic, cutoff), expected)


def test_synthetic_bookings_in_part_files(synthetic, tmp_path) -> None:
    bookings = pq.read_table(synthetic["bookings"])
    cuts = [0, 1000, 1001, 7000, bookings.num_rows]  # includes a one-row part
    parts = []
    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        parts.append(tmp_path / f"part-{i:03d}.parquet")
        pq.write_table(bookings.slice(lo, hi - lo), parts[-1])
    expected = pandas_reference(synthetic, "2025-12-31")
    for source in (parts, str(tmp_path / "part-*.parquet")):
        assert_same(duckdb_result({**synthetic, "bookings": source}, "2025-12-31"), expected)


# --------------------------------------------------------------------------------------------
# hand-made edge cases
# --------------------------------------------------------------------------------------------


def edge_tables() -> dict[str, pd.DataFrame]:
    """A small company with every edge case the rules name (cut-off 2023-12-31)."""
    rows = [
        # id, customer, booked, travel_start, nights, product, dest, channel, party, amount, status
        ("b0", "a", "2023-01-01", "2023-01-10", 2, "hotel", "city", "app", 1, 100.0, "completed"),
        ("b1", "a", "2023-01-01", "2023-01-11", 3, "flight", "city", "app", 1, 200.0, "completed"),
        ("b2", "a", "2023-03-01 15:30", "2023-03-05", 1, "hotel", "beach", "web", 2, -50.0,
         "completed"),
        ("b3", "b", "2023-02-01", "2023-02-10", 4, "package", "nature", "store", 4, 1000.0,
         "completed"),
        ("b4", "c", "2023-01-05", "2023-01-06", 0, "tour", "culture", "ota", 2, 0.0, "completed"),
        ("b5", "c", "2023-06-01", "2023-12-30", 5, "hotel", "city", "app", 1, 300.0, "confirmed"),
        ("b6", "d", "2023-05-01", "2023-05-10", 2, "hotel", "city", "app", 1, 80.0, "cancelled"),
        ("b7", "d", "2023-07-01", "2023-07-10", 2, "tour", "city", "app", 1, 90.0, "cancelled"),
        ("b8", "e", "2024-02-01", "2024-03-01", 1, "hotel", "city", "app", 1, 50.0, "completed"),
        ("b9", "g", "2023-04-01", "2023-04-02", 1, "tour", "nature", "web", 2, 70.0, "no_show"),
        ("b10", "h", "2023-08-01", "2023-08-05", 3, "cruise", None, "kiosk", 2, 500.0,
         "completed"),
        ("b11", "h", "2023-08-01", "2023-09-05", 3, "zeppelin", "space", "app", 3, 700.0,
         "completed"),
        ("b12", "i", "2023-09-01", "2023-09-03", None, "hotel", "city", None, None, np.nan,
         "completed"),
        ("b13", "j", "2023-02-01", "2023-02-03", 2, None, "beach", "app", 2, 120.0, None),
        ("b14", "j", "2023-10-01", None, 2, "hotel", "beach", "app", 2, 130.0, "confirmed"),
        ("b15", "k", "2023-11-01", None, None, "ticket", "city", "web", 1, 40.0, "completed"),
        ("b16", "a", "2024-01-05", "2024-01-06", 1, "ticket", "city", "app", 1, 1e6,
         "completed"),
    ]
    cols = ["booking_id", "customer_id", "booking_date", "travel_start", "nights", "product",
            "destination_type", "channel", "party_size", "amount", "status"]
    bookings = pd.DataFrame(rows, columns=cols)
    for col in ("booking_date", "travel_start"):
        bookings[col] = pd.to_datetime(bookings[col], format="ISO8601")
    bookings["nights"] = bookings["nights"].astype("float64")
    bookings["product"] = bookings["product"].astype("category")
    bookings["status"] = pd.Categorical(bookings["status"],
                                        categories=["completed", "confirmed", "cancelled",
                                                    "no_show", "refunded"])
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "n", "a", "g", "h", "late"],
        "signup_date": pd.to_datetime(["2022-01-01", "2022-01-01", "2022-05-01", "2022-01-01",
                                       "2024-01-20", "2023-10-01", "2022-01-01", "2022-01-01",
                                       None, "2024-06-01"]),
        "member_tier": pd.Categorical(["gold", "regular", "silver", "regular", "regular", "gold",
                                       "platinum", None, "gold", "gold"],
                                      categories=["regular", "silver", "gold", "platinum",
                                                  "diamond"]),
        "customer_type": ["individual"] * 6 + ["corporate", "individual", None, "corporate"],
        "acquisition_channel": ["web", "app", "web", "store", "web", "app", "web", "ota", "app",
                                "partner"],
        "loyalty_member": [True, False, True, False, None, True, False, None, True, True],
    })
    interactions = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "m", "c", "c"],
        "timestamp": pd.to_datetime(["2023-05-01 10:00", "2023-12-31 23:00", "2024-01-02 00:00",
                                     "2023-07-01 00:00", "2023-03-03 08:00", "2023-04-04 00:00",
                                     "2023-04-05 00:00"]),
        "kind": ["complaint", "complaint", "complaint", "opened", "inquiry", "complaint",
                 "complaint"],
        "complaint_category": ["price", None, "service", None, None, "weather", "price"],
    })
    feedback = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "p", "h", "c"],
        "booking_id": ["b1", "b0", None, None, None, "b3", None, "b11", "b4"],
        "date": pd.to_datetime(["2023-01-15", "2023-01-20", "2023-01-02", "2023-02-20",
                                "2023-02-20", "2023-02-19", "2023-05-05", "2023-09-10",
                                "2024-02-01"]),
        "csat": [2.0, 5.0, 1.0, 3.0, 1.0, np.nan, 4.0, 5.0, 2.0],
        "nps": [6, 9, 0, 7, 2, 8, 10, 9, 1],
    })
    return {"bookings": bookings, "customers": customers, "interactions": interactions,
            "feedback": feedback}


def _drop(table: str, *cols: str):
    def f(t):
        t[table] = t[table].drop(columns=list(cols))
    return f


def _absent(*tables: str):
    def f(t):
        for name in tables:
            del t[name]
    return f


def _all_cancelled(t):
    t["bookings"]["status"] = t["bookings"]["status"].cat.set_categories(["cancelled"])
    t["bookings"]["status"] = t["bookings"]["status"].fillna("cancelled")


def _attributes_as_plain_values(t):
    t["customers"]["member_tier"] = t["customers"]["member_tier"].astype(object)


VARIANTS = {
    "full": None,
    "no_status": _drop("bookings", "status"),
    "no_travel_start": _drop("bookings", "travel_start"),
    "no_nights": _drop("bookings", "nights"),
    "no_status_no_travel_dates": _drop("bookings", "status", "travel_start", "nights"),
    "no_optional_booking_columns": _drop("bookings", "booking_id", "status", "travel_start",
                                         "nights", "party_size", "product", "destination_type",
                                         "channel"),
    "survey_without_booking_id": _drop("feedback", "booking_id"),
    "bookings_without_booking_id": _drop("bookings", "booking_id"),
    "no_csat": _drop("feedback", "csat"),
    "no_nps": _drop("feedback", "nps"),
    "no_complaint_category": _drop("interactions", "complaint_category"),
    "customers_without_signup_and_tier": _drop("customers", "signup_date", "member_tier"),
    "attributes_as_plain_values": _attributes_as_plain_values,
    "only_bookings": _absent("customers", "interactions", "feedback"),
    "no_completed_booking_at_all": _all_cancelled,
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("cutoff", ["2023-01-01", CUTOFF, "2023-12-31 12:00", "2025-01-01"])
def test_edge_cases_equal_pandas(tmp_path, variant, cutoff) -> None:
    tables = edge_tables()
    if VARIANTS[variant] is not None:
        VARIANTS[variant](tables)
    paths = write_tables(tables, tmp_path)
    assert_same(duckdb_result(paths, cutoff), pandas_reference(paths, cutoff))


def test_edge_cases_are_exercised(tmp_path) -> None:
    """The full edge-case data produce the situations the equality tests are meant to cover."""
    paths = write_tables(edge_tables(), tmp_path)
    f = duckdb_result(paths, CUTOFF)
    # known: bookings, interaction only (m), signup only (n), survey only (p); not e, late
    assert list(f.index) == ["a", "b", "c", "d", "g", "h", "i", "j", "k", "m", "n", "p"]
    assert f.loc["d", "n_bookings"] == 0 and f.loc["d", "n_cancelled"] == 2
    assert np.isnan(f.loc["d", "recency_days"]) and f.loc["d", "monetary_total"] == 0
    # two bookings on one day: one repeat day; the first trip is the first row (b0)
    assert f.loc["a", "n_bookings"] == 3 and f.loc["a", "frequency"] == 1
    assert f.loc["a", "first_trip_csat"] == 5  # the survey linked to b0, not b1's
    assert f.loc["b", "first_trip_csat"] == 3  # unlinked surveys on one day: the first row
    assert f.loc["h", "product_cruise"] == 0.5 and f.loc["h", "product_zeppelin"] == 0.5
    products = list(f.columns[f.columns.str.startswith("product_")])  # the levels seen, sorted
    assert products == sorted(products) and {"product_cruise", "product_zeppelin"} <= set(
        products)
    assert f.loc["a", "complaints_weather"] == 0 and f.loc["c", "complaints_weather"] == 1
    # the tier is a snapshot of the extraction day: left out at this earlier cut-off ...
    assert "member_tier" not in f and f.attrs["snapshot_excluded"] == ["member_tier"]
    # ... and used when the customers table describes the cut-off itself
    f = duckdb_result(paths, CUTOFF, snapshot_date=CUTOFF)
    assert f.loc["a", "member_tier"] == "platinum"  # duplicated customers rows: the last
    assert pd.isna(f.loc["g", "member_tier"]) and f["loyalty_member"].dtype == "boolean"
    assert f["member_tier"].cat.categories.tolist() == ["regular", "silver", "gold",
                                                         "platinum", "diamond"]
    assert f.loc["i", "monetary_total"] == 0 and f.loc["i", "n_bookings"] == 1


@pytest.mark.parametrize("date_type", [pa.timestamp("us"), pa.timestamp("ms"), pa.date32()],
                         ids=str)
def test_date_and_timestamp_storage(tmp_path, date_type) -> None:
    paths = write_tables(edge_tables(), tmp_path, date_type)
    assert pq.read_schema(paths["bookings"]).field("booking_date").type == date_type
    for cutoff in (CUTOFF, "2023-03-01"):
        assert_same(duckdb_result(paths, cutoff), pandas_reference(paths, cutoff))


def test_edge_bookings_in_part_files(tmp_path) -> None:
    """The same-day tie of the first trip (b0 vs b1) falls across two part files."""
    tables = edge_tables()
    paths = write_tables(tables, tmp_path)
    bookings = tables["bookings"]
    parts = []
    for i, (lo, hi) in enumerate([(0, 1), (1, 9), (9, len(bookings))]):
        parts.append(tmp_path / "parts" / f"bookings-{i}.parquet")
        parts[-1].parent.mkdir(exist_ok=True)
        bookings.iloc[lo:hi].to_parquet(parts[-1], index=False)
    expected = pandas_reference(paths, CUTOFF)
    for source in (parts, str(tmp_path / "parts" / "bookings-*.parquet")):
        assert_same(duckdb_result({**paths, "bookings": source}, CUTOFF), expected)
    # the pandas engine of the dispatcher reads the parts as one table too
    assert_same(build_customer_features({**paths, "bookings": parts}, CUTOFF,
                                        engine="pandas"), expected)


def test_missing_mandatory_column_and_missing_file(tmp_path) -> None:
    tables = edge_tables()
    tables["bookings"] = tables["bookings"].drop(columns="amount")
    paths = write_tables(tables, tmp_path)
    with pytest.raises(ddf.DataValidationError, match="amount"):
        duckdb_result(paths, CUTOFF)
    with pytest.raises(ddf.DataSourceError, match="matches"):
        duckdb_result({"bookings": str(tmp_path / "nothing-*.parquet")}, CUTOFF)


# --------------------------------------------------------------------------------------------
# dispatcher, memory limit, benchmark script
# --------------------------------------------------------------------------------------------


def test_dispatcher_picks_engine_by_bookings_rows(tmp_path, monkeypatch) -> None:
    paths = write_tables(edge_tables(), tmp_path)
    calls: list[str] = []
    real_duckdb, real_pandas = cache.customer_features_duckdb, cache.customer_features
    monkeypatch.setattr(cache, "customer_features_duckdb",
                        lambda *a, **k: calls.append("duckdb") or real_duckdb(*a, **k))
    monkeypatch.setattr(cache, "customer_features",
                        lambda *a, **k: calls.append("pandas") or real_pandas(*a, **k))
    n_rows = len(edge_tables()["bookings"])
    assert ddf.parquet_num_rows(paths["bookings"]) == n_rows
    above = build_customer_features(paths, CUTOFF, auto_threshold_rows=n_rows - 1, threads=1,
                                    memory_limit="100MB")
    below = build_customer_features(paths, CUTOFF, auto_threshold_rows=n_rows)
    assert calls == ["duckdb", "pandas"]
    assert_same(above, below)
    assert_same(below, pandas_reference(paths, CUTOFF))
    # explicit engines; absent keys are absent tables
    only = {"bookings": paths["bookings"]}
    assert_same(build_customer_features(only, CUTOFF, engine="duckdb"),
                build_customer_features(only, CUTOFF, engine="pandas"))
    with pytest.raises(ValueError, match="unknown table"):
        build_customer_features({**paths, "orders": paths["bookings"]}, CUTOFF)


def test_runs_within_a_small_memory_limit(tmp_path) -> None:
    data = generate(100_000, seed=5)
    paths = {}
    for name in TABLES:
        paths[name] = tmp_path / f"{name}.parquet"
        getattr(data, name).to_parquet(paths[name], index=False)
    del data
    got = duckdb_result(paths, "2025-06-30", memory_limit="200MB",
                        temp_directory=tmp_path / "spill")
    assert_same(got, pandas_reference(paths, "2025-06-30"))


def test_benchmark_script_runs_tiny() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_features.py"),
                          "--sizes", "2000"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("| 2,000 |")]
    assert [line.split("|")[3].strip() for line in lines] == ["pandas", "duckdb"]
    assert "peak RSS" in out.stdout and "max abs diff" in out.stdout
