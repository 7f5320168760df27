"""The campaign register: one file per publication, a re-run supersedes, due windows."""

from __future__ import annotations

from datetime import date

import pandas as pd

from src.loop.campaign_register import append_publication, due_publications, read_register


def _members(cutoff: str, n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"list": ["win_back"] * n, "customer_id": [f"C{i}" for i in range(n)],
                         "arm": ["treated", "control"] * (n // 2), "cutoff_date": cutoff,
                         "clv": [1.5] * n})


def test_append_and_read_back(tmp_path):
    path = append_publication(tmp_path, _members("2025-09-30"), job="j", run_id="r1",
                              published_at="2025-10-01T00:00:00")
    assert path == tmp_path / "j" / "2025-09-30__r1.parquet"
    reg = read_register(tmp_path, "j")
    assert list(reg.columns[:7]) == ["job", "run_id", "published_at", "list", "customer_id",
                                     "arm", "cutoff_date"]
    assert len(reg) == 4 and set(reg["arm"]) == {"treated", "control"} and reg["clv"].eq(1.5).all()
    assert append_publication(tmp_path, _members("2025-09-30").iloc[:0], job="j", run_id="r0",
                              published_at="x") is None


def test_rerun_of_a_cutoff_supersedes_and_keeps_the_file(tmp_path):
    append_publication(tmp_path, _members("2025-09-30"), job="j", run_id="r1",
                       published_at="2025-10-01T00:00:00")
    append_publication(tmp_path, _members("2025-09-30", 6), job="j", run_id="r2",
                       published_at="2025-10-02T00:00:00")
    append_publication(tmp_path, _members("2025-12-31"), job="j", run_id="r3",
                       published_at="2026-01-01T00:00:00")
    append_publication(tmp_path, _members("2025-09-30"), job="other", run_id="o1",
                       published_at="2025-10-01T00:00:00")
    reg = read_register(tmp_path, "j")
    assert sorted(reg["run_id"].unique()) == ["r2", "r3"]
    assert len(list((tmp_path / "j").glob("*.parquet"))) == 3  # nothing deleted
    assert sorted(read_register(tmp_path)["job"].unique()) == ["j", "other"]
    assert read_register(tmp_path / "none", "j").empty


def test_due_only_once_the_window_has_passed():
    reg = pd.DataFrame({"job": "j", "run_id": ["a", "b"], "cutoff_date": ["2025-09-30",
                                                                          "2025-12-31"]})
    due = due_publications(reg, date(2025, 12, 29), 90)
    assert list(due["run_id"]) == ["a"] and due["window_end"].iloc[0] == date(2025, 12, 29)
    assert due_publications(reg, date(2025, 12, 28), 90).empty
