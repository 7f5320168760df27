"""The export holds back a control group per list: never in the list files, recorded with the
scores of the day, counted in the manifest; CSVs rounded for people, Parquet exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.export import marketing
from src.export.files import csv_ready
from src.export.language import csv_headers
from src.export.marketing import export_marketing, export_run
from src.features.cache import FeatureTables
from src.layout import RunLayout
from src.params.schema import CampaignParams, ExportParams


@pytest.fixture()
def scored():
    rng = np.random.default_rng(3)
    n = 1200
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)], "cutoff_date": "2025-09-30",
        "recommended_action": rng.choice(["win_back_call", "nurture", "vip_care"], n),
        "preferred_channel": "email", "consent_email": 1.0,
        "value_tier": rng.choice(["most_valuable", "major", "ordinary", "small"], n,
                                 p=[0.1, 0.2, 0.3, 0.4]),
        "churn_prob_365d": rng.random(n), "p_alive": rng.random(n),
        "clv": rng.gamma(2, 500, n), "expected_bookings": rng.gamma(1, 0.5, n),
    })


def test_controls_are_held_back_stratified_and_recorded(scored, tmp_path):
    campaigns = CampaignParams(control_share=0.1, control_shares={"win_back_call": 0.5})
    m = export_marketing(scored, tmp_path, ExportParams(), campaigns=campaigns, seed=7,
                         run_id="r1")
    assign = pd.read_parquet(RunLayout(tmp_path).campaign_assignments_file)
    for name, counts in m["lists"].items():
        members = assign[assign["list"] == name]
        sent = pd.read_parquet(m.folder / f"list_{name}.parquet")
        control = set(members.loc[members["arm"] == "control", "customer_id"])
        assert set(sent["customer_id"]) == set(members.loc[members["arm"] == "treated",
                                                           "customer_id"])
        assert not control & set(sent["customer_id"])  # controls are never sent
        assert counts["listed"] == len(sent) and counts["control"] == len(control)
        share = campaigns.share_for(name)
        for _tier, part in members.groupby("value_tier"):  # exact share in every tier
            assert (part["arm"] == "control").sum() == round(share * len(part))
        assert counts["listed"] + counts["control"] + counts["suppressed"] + \
            counts["no_consent"] + counts["over_cap"] == counts["customers_with_action"]
    # the scores of the day travel with the arms
    merged = assign.merge(scored, on="customer_id", suffixes=("", "_scored"))
    assert np.allclose(merged["clv"], merged["clv_scored"])
    assert {"list", "customer_id", "arm", "cutoff_date", "churn_prob_365d",
            "p_alive"} <= set(assign.columns)
    assert m["control_groups"]["control"] == (assign["arm"] == "control").sum()
    assert not any("assignments" in f["file"] for f in m["files"])


def test_same_run_same_arms_and_no_campaigns_no_controls(scored, tmp_path):
    c = CampaignParams(control_share=0.2)
    export_marketing(scored, tmp_path / "a", ExportParams(), campaigns=c, seed=7)
    export_marketing(scored.sample(frac=1, random_state=1), tmp_path / "b", ExportParams(),
                     campaigns=c, seed=7)
    a = pd.read_parquet(RunLayout(tmp_path / "a").campaign_assignments_file)
    b = pd.read_parquet(RunLayout(tmp_path / "b").campaign_assignments_file)
    key = ["list", "customer_id", "arm"]
    pd.testing.assert_frame_equal(a[key].sort_values(key).reset_index(drop=True),
                                  b[key].sort_values(key).reset_index(drop=True))
    m = export_marketing(scored, tmp_path / "c", ExportParams())
    assert all(r["control"] == 0 for r in m["lists"].values())


def test_csv_is_rounded_for_people_and_parquet_keeps_precision(scored, tmp_path):
    m = export_marketing(scored, tmp_path, ExportParams(), run_id="r1")
    csv = pd.read_csv(m.folder / "list_nurture.csv", encoding="utf-8-sig")
    exact = pd.read_parquet(m.folder / "list_nurture.parquet")
    assert (csv["churn_prob_365d"].round(3) == csv["churn_prob_365d"]).all()
    assert (csv["clv"].round(2) == csv["clv"]).all()
    assert np.allclose(csv["clv"], exact["clv"], atol=0.005)
    assert (exact["clv"].round(2) != exact["clv"]).any()
    frame = pd.DataFrame({"when": pd.to_datetime(["2025-01-02", None]),
                          "stamp": pd.to_datetime(["2025-01-02 10:30", "2025-01-03 00:00"]),
                          "n": [2.0, np.nan], "expected_days_to_next_booking": [12.345, 1.0]})
    out = csv_ready(frame)
    assert out["when"].tolist() == ["2025-01-02", None]  # dates as dates
    assert out["stamp"].dtype.kind == "M"  # a time of day is kept
    assert str(out["n"].dtype) == "Int64"  # whole numbers without '.0'
    assert out["expected_days_to_next_booking"].tolist() == [12.3, 1.0]


def test_export_run_gives_chinese_csv_headers_and_keeps_parquet_names(scored, tmp_path):
    """``report.language: zh`` through the path notebook 05 and ``crm export`` take."""
    layout = RunLayout(tmp_path / "run")
    layout.write_frame(layout.scored_file, scored, index=False)
    m = export_run(layout, ExportParams(), campaigns=CampaignParams(), seed=3, language="zh")
    csv = pd.read_csv(m.folder / "list_nurture.csv", encoding="utf-8-sig")
    parquet = pd.read_parquet(m.folder / "list_nurture.parquet")
    zh = csv_headers(list(parquet.columns), "zh")
    assert list(csv.columns) == [zh[c] for c in parquet.columns]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c) for c in csv.columns), csv.columns
    assert "customer_id" in parquet.columns
    assert m["lists"]["nurture"]["control"] > 0  # the job's control groups on this path too


def test_champion_lists_score_the_tables_as_the_notebooks_read_them(scored, tmp_path,
                                                                      monkeypatch):
    """``on_reject: champion``: the champion scores the run's tables with the data's as-of
    date (snapshot columns such as member_tier usable at it), or the tables the notebook
    passes (its tier rule too), never the bare tables (member_tier was left out and 05
    failed)."""
    layout = RunLayout(tmp_path / "run")
    customers = pd.DataFrame({"customer_id": scored["customer_id"], "member_tier": "gold"})
    layout.write_tables({"customers": customers})
    layout.write_json(layout.inputs_file, {"sources": {}, "as_of_date": "2025-09-30"})
    layout.write_json(layout.scorer_record_file, {
        "lists_from": "champion", "lists_model": {"name": "m", "version": "1"},
        "cutoff_date": "2025-09-30"})
    seen = []

    def champion_scores(name, version, tables, cutoff):
        seen.append(tables)
        return scored

    monkeypatch.setattr(marketing, "score_with_version", champion_scores)
    export_run(layout, ExportParams())
    assert isinstance(seen[0], FeatureTables)
    assert seen[0].snapshot_date == pd.Timestamp("2025-09-30")
    given = FeatureTables({"customers": customers})
    export_run(layout, ExportParams(), tables=given)
    assert seen[1] is given
