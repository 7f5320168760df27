"""Features by customer partitions (the 10M path) equal the features of the whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.data.errors import DataSourceError
from src.data.synthetic import generate, generate_chunks_to_parquet
from src.features.partitioned import (
    contract_dtypes,
    partition_by_customer,
    partitioned_scoring_features,
)
from src.features.scoring import scoring_features

CUT = "2025-06-30"


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    out = tmp_path_factory.mktemp("chunks")
    folders = generate_chunks_to_parquet(out, 1_000, chunk_customers=400, seed=7,
                                         show_progress=False)
    return folders


def _whole(folders) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in ("customers", "bookings", "interactions", "feedback"):
        parts = [pd.read_parquet(f) for f in sorted(folders[name].glob("*.parquet"))]
        tables[name] = pd.concat(parts, ignore_index=True)
    return tables


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            frame[c] = frame[c].astype(object)
        elif str(frame[c].dtype) == "boolean":
            frame[c] = frame[c].astype("float32")
    return frame


def test_chunks_have_distinct_ids_and_follow_the_generator(chunks):
    whole = _whole(chunks)
    customers = whole["customers"]
    assert len(customers) == 1_000 and customers["customer_id"].is_unique
    assert whole["bookings"]["booking_id"].is_unique
    assert set(whole["bookings"]["customer_id"]) <= set(customers["customer_id"])
    assert sorted(p.name for p in chunks["customers"].glob("*.parquet")) == [
        "part-0000.parquet", "part-0001.parquet", "part-0002.parquet"]
    # chunk 0 is the plain generator with offset 0: the historical ids
    assert customers["customer_id"].iloc[0] == generate(5, seed=1).customers["customer_id"].iloc[0]
    assert customers["customer_id"].iloc[400] == "C0000401"


@pytest.mark.parametrize("n_parts", [1, 3])
def test_partitioned_features_equal_the_whole(chunks, tmp_path, n_parts):
    out = tmp_path / "features.parquet"
    info = partitioned_scoring_features(
        {name: chunks[name] for name in ("customers", "bookings", "interactions", "feedback")},
        CUT, out, n_parts=n_parts, show_progress=False, memory_limit="500MB", threads=1)
    got = _comparable(pd.read_parquet(out))
    expected = _comparable(scoring_features(_whole(chunks), CUT))
    assert info["parts"] == n_parts and info["rows"] == len(expected) > 800
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-6)
    assert not list(tmp_path.glob(".partitions-*"))  # the work folder is removed


def test_default_number_of_parts_and_missing_tables(chunks, tmp_path):
    out = tmp_path / "f.parquet"
    info = partitioned_scoring_features({"bookings": chunks["bookings"]}, CUT, out,
                                        customers_per_part=300, show_progress=False)
    assert info["parts"] == 4  # ceil(1,000 customers with bookings / 300)
    got = pd.read_parquet(out)
    known = scoring_features({"bookings": _whole(chunks)["bookings"]}, CUT)
    assert got["customer_id"].is_unique and len(got) == len(known)
    assert got["consent_email"].isna().all()  # no customers table: consent unknown


def test_partitions_keep_each_customer_whole(chunks, tmp_path):
    folders = partition_by_customer({"bookings": chunks["bookings"],
                                     "feedback": chunks["feedback"]}, tmp_path, 4, threads=1)
    seen: dict[str, int] = {}
    for part in range(4):
        for folder in folders.values():
            for f in (folder / f"_part={part}").glob("*.parquet"):
                for cid in pd.read_parquet(f)["customer_id"].unique():
                    assert seen.setdefault(cid, part) == part


def test_contract_dtypes_restore_the_loader_types(chunks):
    raw = pd.read_parquet(next(chunks["bookings"].glob("*.parquet")))
    plain = raw.astype({c: object for c in ("product", "status")}).astype({"nights": float})
    back = contract_dtypes("bookings", plain)
    assert isinstance(back["status"].dtype, pd.CategoricalDtype)
    assert str(back["nights"].dtype) == "Int64"
    np.testing.assert_array_equal(back["status"].astype(str), raw["status"].astype(str))


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataSourceError, match="nope"):
        partitioned_scoring_features({"bookings": tmp_path / "nope"}, CUT, tmp_path / "f.parquet")
    with pytest.raises(ValueError, match="parquet"):
        partitioned_scoring_features({"bookings": tmp_path}, CUT, tmp_path / "f.csv")
    with pytest.raises(ValueError, match="bookings"):
        partition_by_customer({"customers": tmp_path}, tmp_path / "o", 2)
