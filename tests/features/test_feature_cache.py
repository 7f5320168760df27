"""The per-run customer-feature cache: same answers, computed once, never for other tables,
carried by the tables it serves (no module state)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from src.data.synthetic import generate
from src.features.cache import (
    FeatureCache,
    FeatureTables,
    data_fingerprint,
    features_at,
    run_tables,
)
from src.features.customer import customer_features
from src.layout import RunLayout

CUT = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def tables():
    return generate(1_500, seed=5).tables()


def _write_run(tables, run_dir) -> RunLayout:
    """The clean tables of a run folder, as the data step writes them."""
    layout = RunLayout(run_dir)
    layout.write_tables(tables)
    return layout


def _fresh(t, cutoff=CUT):
    return customer_features(t["bookings"], cutoff, customers=t.get("customers"),
                             interactions=t.get("interactions"), feedback=t.get("feedback"))


def test_cached_features_equal_fresh_ones_and_are_computed_once(tables, tmp_path):
    fresh = _fresh(tables)
    cache = FeatureCache(tmp_path, tables, "abc")
    carried = FeatureTables(tables, cache)
    first = features_at(carried, CUT)
    second = features_at(carried, CUT)
    features_at(carried, CUT - pd.Timedelta(days=365))
    assert (cache.misses, cache.hits) == (2, 1)
    assert len(list(tmp_path.glob("customer_features_*_abc.parquet"))) == 2
    for got in (first, second):
        pd.testing.assert_frame_equal(got, fresh)
        assert got.attrs == fresh.attrs


def test_plain_tables_never_touch_a_cache(tables, tmp_path):
    """A plain dict computes; the same frames in FeatureTables without a cache compute too."""
    pd.testing.assert_frame_equal(features_at(dict(tables), CUT), _fresh(tables))
    pd.testing.assert_frame_equal(features_at(FeatureTables(tables), CUT), _fresh(tables))
    assert not list(tmp_path.iterdir())


def test_other_tables_are_never_served_from_the_cache(tables, tmp_path):
    cache = FeatureCache(tmp_path, tables, "abc")
    features_at(FeatureTables(tables, cache), CUT)
    changed = dict(tables, bookings=tables["bookings"].iloc[: len(tables["bookings"]) // 2])
    half = features_at(FeatureTables(changed, cache), CUT)  # same cut-off, other bookings
    no_feedback = features_at(FeatureTables(
        {k: v for k, v in tables.items() if k != "feedback"}, cache), CUT)
    assert (cache.misses, cache.hits) == (1, 0)
    pd.testing.assert_frame_equal(half, _fresh(changed))
    assert "csat_mean" not in no_feedback.columns


def test_fingerprint_changes_with_the_data(tmp_path):
    f = tmp_path / "bookings.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(f)
    before = data_fingerprint([f])
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(f)
    os.utime(f, ns=(1, 1))
    assert data_fingerprint([f]) != before


def test_run_tables_share_features_across_loads(tables, tmp_path):
    """Two notebooks of one run (two loads of the same files) compute a cut-off once."""
    layout = _write_run(tables, tmp_path)
    first = run_tables(layout)
    a = features_at(first, CUT)
    assert first.cache.misses == 1
    second = run_tables(layout)  # e.g. the next notebook's kernel
    b = features_at(second, CUT)
    assert (second.cache.hits, second.cache.misses) == (1, 0)
    pd.testing.assert_frame_equal(a, b)
    assert len(list(layout.feature_cache_dir.glob("*.parquet"))) == 1
    plain = run_tables(layout, cache_features=False)
    assert plain.cache is None
    pd.testing.assert_frame_equal(features_at(plain, CUT), a)


def test_run_tables_can_keep_the_cache_elsewhere(tables, tmp_path):
    """An interactive notebook reads another run's tables and keeps the cache in its own
    scratch folder: the source run is not written to."""
    layout = _write_run(tables, tmp_path / "run")
    before = sorted(p.name for p in layout.data_dir.iterdir())
    loaded = run_tables(layout, cache_dir=tmp_path / "scratch" / "cache")
    features_at(loaded, CUT)
    assert sorted(p.name for p in layout.data_dir.iterdir()) == before
    assert len(list((tmp_path / "scratch" / "cache").glob("*.parquet"))) == 1


def test_new_data_never_meets_old_features(tables, tmp_path):
    layout = _write_run(tables, tmp_path)
    features_at(run_tables(layout), CUT)
    smaller = dict(tables, bookings=tables["bookings"].iloc[:500])
    layout.write_tables(smaller)  # the data step again: the cache of the old data is dropped
    got = features_at(run_tables(layout), CUT)
    pd.testing.assert_frame_equal(got, _fresh(layout.read_tables()))


def test_run_tables_leave_personal_data_out_unless_asked(tables, tmp_path):
    layout = _write_run(tables, tmp_path)
    plain = run_tables(layout)
    assert not {"name", "email", "phone"} & set(plain["customers"].columns)
    assert "comment" not in plain["feedback"].columns
    assert "consent_email" in plain["customers"].columns and "csat" in plain["feedback"].columns
    full = run_tables(layout, with_pii=True)
    assert {"name", "email", "phone"} <= set(full["customers"].columns)


@pytest.mark.parametrize("engine,threshold,used", [("duckdb", 20_000_000, "duckdb"),
                                                   ("auto", 10, "duckdb"),
                                                   ("auto", 20_000_000, "pandas")])
def test_the_job_engine_choice_computes_features_out_of_core(tables, tmp_path, engine, threshold,
                                                             used):
    """With data.features_engine the cache computes a cut-off with DuckDB over the run's
    Parquet files; the features equal the pandas ones."""
    layout = _write_run(tables, tmp_path)
    layout.inputs_file.write_text(json.dumps(
        {"features": {"engine": engine, "duckdb_min_bookings": threshold}}), encoding="utf-8")
    loaded = run_tables(layout)
    got = features_at(loaded, CUT)
    assert set(loaded.cache.engine_used.values()) == {used}
    pd.testing.assert_frame_equal(got, _fresh(tables), rtol=1e-9)


def test_duckdb_engine_needs_sources(tables, tmp_path):
    with pytest.raises(ValueError, match="sources"):
        FeatureCache(tmp_path, tables, "x", engine="duckdb")
    with pytest.raises(ValueError, match="engine"):
        FeatureCache(tmp_path, tables, "x", engine="spark")
