"""The per-run customer-feature cache: same answers, computed once, never for other tables."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from src.data.inputs import FEATURE_CACHE_DIR, load_clean_tables
from src.data.synthetic import generate
from src.features import customer as cf
from src.features.customer import (
    FeatureCache,
    activate_feature_cache,
    customer_features,
    data_fingerprint,
    feature_cache,
)

CUT = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def tables():
    return generate(1_500, seed=5).tables()


def _write_run(tables, run_dir):
    """The clean tables of a run folder, as the data step writes them; returns data/."""
    data = run_dir / "data"
    data.mkdir()
    for name, df in tables.items():
        df.to_parquet(data / f"{name}.parquet", index=False)
    return data


def _features(t, cutoff=CUT):
    return customer_features(t["bookings"], cutoff, customers=t.get("customers"),
                             interactions=t.get("interactions"), feedback=t.get("feedback"))


def test_cached_features_equal_fresh_ones_and_are_computed_once(tables, tmp_path):
    fresh = _features(tables)
    cache = FeatureCache(tmp_path, tables, "abc")
    with feature_cache(cache):
        first = _features(tables)
        second = _features(tables)
        _features(tables, CUT - pd.Timedelta(days=365))
    assert (cache.misses, cache.hits) == (2, 1)
    assert len(list(tmp_path.glob("customer_features_*_abc.parquet"))) == 2
    for got in (first, second):
        pd.testing.assert_frame_equal(got, fresh)
        assert got.attrs == fresh.attrs
    assert cf._ACTIVE_CACHE is None  # the block restored the previous state


def test_other_tables_are_never_served_from_the_cache(tables, tmp_path):
    cache = FeatureCache(tmp_path, tables, "abc")
    changed = dict(tables, bookings=tables["bookings"].iloc[: len(tables["bookings"]) // 2])
    with feature_cache(cache):
        _features(tables)
        half = _features(changed)  # same cut-off, other bookings: computed, not read
        no_feedback = _features({k: v for k, v in tables.items() if k != "feedback"})
    assert (cache.misses, cache.hits) == (1, 0)
    pd.testing.assert_frame_equal(half, _features(changed))
    assert "csat_mean" not in no_feedback.columns


def test_fingerprint_changes_with_the_data(tmp_path):
    f = tmp_path / "bookings.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(f)
    before = data_fingerprint([f])
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(f)
    os.utime(f, ns=(1, 1))
    assert data_fingerprint([f]) != before


def test_load_clean_tables_shares_features_across_loads(tables, tmp_path):
    """Two notebooks of one run (two loads of the same files) compute a cut-off once."""
    data = _write_run(tables, tmp_path)
    try:
        first = load_clean_tables(tmp_path)
        a = _features(first)
        assert cf._ACTIVE_CACHE.misses == 1
        second = load_clean_tables(tmp_path)  # e.g. the next notebook's kernel
        b = _features(second)
        assert cf._ACTIVE_CACHE.hits == 1
        pd.testing.assert_frame_equal(a, b)
        assert len(list((data / FEATURE_CACHE_DIR).glob("*.parquet"))) == 1
        plain = load_clean_tables(tmp_path, cache_features=False)
        assert cf._ACTIVE_CACHE is None
        pd.testing.assert_frame_equal(_features(plain), a)
    finally:
        activate_feature_cache(None)


def test_load_clean_tables_leaves_personal_data_out_unless_asked(tables, tmp_path):
    _write_run(tables, tmp_path)
    try:
        plain = load_clean_tables(tmp_path)
        assert not {"name", "email", "phone"} & set(plain["customers"].columns)
        assert "comment" not in plain["feedback"].columns
        assert "consent_email" in plain["customers"].columns and "csat" in plain["feedback"].columns
        full = load_clean_tables(tmp_path, with_pii=True)
        assert {"name", "email", "phone"} <= set(full["customers"].columns)
    finally:
        activate_feature_cache(None)


@pytest.mark.parametrize("engine,threshold,used", [("duckdb", 20_000_000, "duckdb"),
                                                   ("auto", 10, "duckdb"),
                                                   ("auto", 20_000_000, "pandas")])
def test_the_job_engine_choice_computes_features_out_of_core(tables, tmp_path, engine, threshold,
                                                             used):
    """With data.features_engine the cache computes a cut-off with DuckDB over the run's
    Parquet files; the features equal the pandas ones."""
    import json

    data = _write_run(tables, tmp_path)
    (data / "inputs.json").write_text(json.dumps(
        {"features": {"engine": engine, "duckdb_min_bookings": threshold}}), encoding="utf-8")
    try:
        loaded = load_clean_tables(tmp_path)
        got = _features(loaded)
        assert set(cf._ACTIVE_CACHE.engine_used.values()) == {used}
    finally:
        activate_feature_cache(None)
    pd.testing.assert_frame_equal(got, _features(tables), rtol=1e-9)


def test_duckdb_engine_needs_sources(tables, tmp_path):
    with pytest.raises(ValueError, match="sources"):
        FeatureCache(tmp_path, tables, "x", engine="duckdb")
    with pytest.raises(ValueError, match="engine"):
        FeatureCache(tmp_path, tables, "x", engine="spark")
