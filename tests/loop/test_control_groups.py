"""Control groups: exact shares per stratum, reproducible, independent of the row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.loop.control_groups import assign_control


def _list(n: int = 1000) -> tuple[pd.Series, pd.Series]:
    ids = pd.Series([f"C{i:05d}" for i in range(n)])
    tiers = pd.Series(np.where(np.arange(n) % 10 == 0, "most_valuable",
                               np.where(np.arange(n) % 3 == 0, "major", "ordinary")))
    return ids, tiers


def test_each_stratum_holds_back_its_share():
    ids, tiers = _list()
    held = assign_control(ids, 0.2, seed=7, key="win_back|2025-09-30", strata=tiers)
    for tier, n in tiers.value_counts().items():
        assert held[tiers.to_numpy() == tier].sum() == round(0.2 * n)


def test_same_seed_same_arms_whatever_the_row_order():
    ids, tiers = _list()
    first = assign_control(ids, 0.1, seed=7, key="k", strata=tiers)
    order = np.random.default_rng(0).permutation(len(ids))
    again = assign_control(ids.iloc[order].reset_index(drop=True), 0.1, seed=7, key="k",
                           strata=tiers.iloc[order].reset_index(drop=True))
    assert set(ids[first]) == set(ids.iloc[order].reset_index(drop=True)[again])


def test_other_list_or_seed_draws_other_controls():
    ids, tiers = _list()
    a = set(ids[assign_control(ids, 0.1, seed=7, key="a", strata=tiers)])
    b = set(ids[assign_control(ids, 0.1, seed=7, key="b", strata=tiers)])
    c = set(ids[assign_control(ids, 0.1, seed=8, key="a", strata=tiers)])
    assert a != b and a != c
    # independent draws of 10 %: the overlap is near 10 % of 100, far from 100
    assert len(a & b) < 30


def test_missing_stratum_and_zero_share():
    ids = pd.Series(["a", "b", "c", "d"])
    tiers = pd.Series(["x", None, None, "x"])
    held = assign_control(ids, 0.5, seed=1, key="k", strata=tiers)
    assert held[[0, 3]].sum() == 1 and held[[1, 2]].sum() == 1
    assert not assign_control(ids, 0.0, seed=1, key="k").any()
    with pytest.raises(ValueError, match="control share"):
        assign_control(ids, 1.0, seed=1, key="k")
