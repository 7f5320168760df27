"""Marketing export: consent, suppression, PII hashing, BOM CSV, atomic publication,
manifest and reconciliation; the run's champion decision says whose lists are published."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from src.export.marketing import (
    ReconciliationError,
    export_marketing,
    export_run,
    hash_email,
    hash_phone,
    normalize_phone,
)
from src.layout import RunLayout
from src.params.schema import ExportParams

ACTIONS = ["vip_care", "win_back_call", "nurture", "do_not_contact"]


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture()
def data():
    rng = np.random.default_rng(7)
    n = 400
    ids = [f"C{i:04d}" for i in range(n)]
    channel = rng.choice(["email", "sms", "phone"], n)
    consent = {ch: rng.random(n) < 0.7 for ch in ("email", "sms", "phone")}
    action = rng.choice(ACTIONS[:3], n)
    none = rng.random(n) < 0.1
    channel = np.where(none, "none", channel)
    action = np.where(none, "do_not_contact", action)
    scored = pd.DataFrame({
        "customer_id": ids, "cutoff_date": "2025-12-31",
        "recommended_action": action, "preferred_channel": channel,
        "segment": "beach families", "value_tier": "major", "lifecycle_stage": "active",
        "churn_prob_365d": rng.random(n), "p_alive": rng.random(n), "clv": rng.gamma(2, 500, n),
        "expected_next_booking_date": "2026-05-01", "suggested_destination_type": "city",
        "suggested_product": "tour", "member_tier": "gold",
        **{f"consent_{ch}": c.astype(float) for ch, c in consent.items()},
    })
    customers = pd.DataFrame({
        "customer_id": ids,
        "name": ["王小明" if i % 2 else "Anna Smith" for i in range(n)],
        "email": [f" User{i}@Example.COM " for i in range(n)],
        "phone": [f"+86 138-{i:04d} 8000" for i in range(n)],
    })
    return scored, customers


def test_normalized_hashes():
    assert hash_email(pd.Series([" Test@Example.COM "])).iloc[0] == _sha("test@example.com")
    assert normalize_phone(pd.Series(["+86 138-0013 8000", "0086 13800138000"])).tolist() == [
        "8613800138000", "8613800138000"]
    assert hash_phone(pd.Series(["+86 (138) 0013-8000"])).iloc[0] == _sha("8613800138000")
    assert hash_email(pd.Series([None, "  "])).isna().all()


def test_consent_and_suppression_are_enforced(data, tmp_path):
    scored, customers = data
    sup = tmp_path / "suppress.csv"
    pd.DataFrame({"customer_id": ["C0001", "C0002", None],
                  "email_sha256": [None, None, _sha("user3@example.com")]}).to_csv(sup, index=False)
    p = ExportParams(suppression_file=str(sup), pii_columns=["email", "phone"])
    m = export_marketing(scored, tmp_path / "run", p, customers=customers, run_id="r1")
    listed = []
    for f in m["files"]:
        if f["list"] is None or f["format"] != "parquet":
            continue
        df = pd.read_parquet(m.folder / f["file"])
        listed.append(df)
        for ch in df["channel"].unique():
            ids = df.loc[df["channel"] == ch, "customer_id"]
            consent = scored.set_index("customer_id").loc[ids, f"consent_{ch}"]
            assert (consent == 1).all(), f"{f['list']}: no consent on {ch}"
        assert set(df["recommended_action"]) == {f["list"]}
        # hashed PII only
        assert {"email_sha256", "phone_sha256"} <= set(df.columns)
        assert "email" not in df.columns and "phone" not in df.columns
    listed = pd.concat(listed)
    assert not listed["customer_id"].isin(["C0001", "C0002", "C0003"]).any()
    assert "none" not in set(listed["channel"])
    assert "list_do_not_contact.csv" not in {f["file"] for f in m["files"]}
    row = listed.set_index("customer_id").iloc[0]
    i = int(row.name[1:])
    assert row["email_sha256"] == _sha(f"user{i}@example.com")
    assert m["reconciliation"]["suppressed"] >= 3


def test_csv_has_bom_and_chinese_names_survive(data, tmp_path):
    scored, customers = data
    p = ExportParams(pii_columns=["name"], pii_mode="plain", formats=["csv"])
    m = export_marketing(scored, tmp_path / "run", p, customers=customers)
    path = m.folder / "list_nurture.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert "王小明" in set(back["name"])
    assert "email" not in back.columns


def test_hashed_names_are_refused():
    with pytest.raises(ValueError, match="name"):
        ExportParams(pii_columns=["name"], pii_mode="hashed")


def test_columns_sort_and_caps(data, tmp_path):
    scored, _ = data
    p = ExportParams(columns=["customer_id", "clv", "channel"], sort_by=["clv"],
                     max_rows={"nurture": 10}, default_max_rows=50)
    m = export_marketing(scored, tmp_path / "run", p)
    nurture = pd.read_parquet(m.folder / "list_nurture.parquet")
    assert list(nurture.columns) == ["customer_id", "clv", "channel"]
    assert len(nurture) == 10 and nurture["clv"].is_monotonic_decreasing
    assert m["lists"]["nurture"]["listed"] == 10
    assert m["lists"]["vip_care"]["listed"] <= 50
    for r in m["lists"].values():
        assert r["listed"] + r["suppressed"] + r["no_consent"] + r["over_cap"] == \
            r["customers_with_action"]


def test_manifest_counts_and_checksums(data, tmp_path):
    scored, _ = data
    rejected = pd.DataFrame({"customer_id": ["X1", "X2"], "reason": ["signed up after the "
                                                                    "cut-off"] * 2})
    m = export_marketing(scored, tmp_path / "run", rejected=rejected, run_id="run-1",
                         model={"name": "tourism_crm_scorer", "version": "3"})
    on_disk = json.loads((m.folder / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["run_id"] == "run-1" and on_disk["model"]["version"] == "3"
    rec = on_disk["reconciliation"]
    assert rec["customers_in"] == len(scored) + 2 == rec["scored"] + rec["rejected"]
    assert sum(rec["actions"].values()) == len(scored)
    assert rec["every_scored_customer_has_one_action"]
    for f in on_disk["files"]:
        data_bytes = (m.folder / f["file"]).read_bytes()
        assert hashlib.sha256(data_bytes).hexdigest() == f["sha256"]
    full = pd.read_parquet(m.folder / "scored_customers.parquet")
    assert len(full) == len(scored)


def test_duplicates_or_missing_actions_do_not_reconcile(data, tmp_path):
    scored, _ = data
    dup = pd.concat([scored, scored.head(1)], ignore_index=True)
    with pytest.raises(ReconciliationError, match="more than once"):
        export_marketing(dup, tmp_path / "run")
    no_action = scored.copy()
    no_action.loc[0, "recommended_action"] = None
    with pytest.raises(ReconciliationError, match="without an action"):
        export_marketing(no_action, tmp_path / "run")
    assert not (tmp_path / "run" / "exports").exists()


def test_interrupted_export_leaves_nothing_partial(data, tmp_path):
    scored, _ = data
    run = tmp_path / "run"
    first = export_marketing(scored, run, run_id="first")
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    changed = scored.assign(clv=scored["clv"] * 2)
    with pytest.raises(OSError, match="simulated interruption"):
        export_marketing(changed, run, run_id="second", _fail_after_files=3)
    # the published folder is the first export, byte for byte; no staging or temp files
    after = {p.name: p.read_bytes() for p in (run / "exports").iterdir()}
    assert after == before
    # beside the exports only the first export's control-group record (data/)
    assert sorted(p.name for p in run.iterdir()) == ["data", "exports"]
    assert [p.name for p in (run / "data").iterdir()] == ["campaign_assignments.parquet"]
    assert not any(p.name.startswith(".") for p in (run / "exports").iterdir())
    # and from scratch: an interruption publishes no folder at all
    with pytest.raises(OSError):
        export_marketing(scored, tmp_path / "fresh", _fail_after_files=1)
    assert list((tmp_path / "fresh").iterdir()) == []


def test_export_run_follows_the_champion_decision(data, tmp_path):
    """The candidate passed (or was not judged): its lists; rejected with ``on_reject:
    skip``: nothing is published and the result says why. (Lists from the champion are
    tested with a registered model in tests/serving/test_registry.py.)"""
    scored, customers = data
    layout = RunLayout(tmp_path / "run")
    layout.write_frame(layout.scored_file, scored, index=False)
    layout.write_tables({"customers": customers})
    passed = {"name": "demo_scorer", "version": "4", "decision": "pending",
              "lists_from": "candidate", "lists_note": "lists from candidate version 4"}
    layout.write_json(layout.scorer_record_file, passed)
    result = export_run(layout)
    assert result["published"] and result["lists_from"] == "candidate"
    assert result.folder == layout.exports_dir and result["model"]["version"] == "4"
    assert result.headline.endswith("customers; lists from candidate version 4")
    assert result.headline.startswith(f"{len(result['lists'])} lists, ")

    rejected = {**passed, "decision": "rejected", "lists_from": "none", "lists_model": None,
                "lists_note": "the gates rejected candidate version 5: no lists published "
                              "(scoring.promotion.on_reject: skip)"}
    run2 = RunLayout(tmp_path / "run2")
    run2.write_frame(run2.scored_file, scored, index=False)
    run2.write_json(run2.scorer_record_file, rejected)
    result = export_run(run2)
    assert result["published"] is False and result.folder is None and result["lists"] == {}
    assert result.headline == f"no lists published: {rejected['lists_note']}"
    assert not run2.exports_dir.exists()


def test_a_data_dictionary_is_published_beside_the_lists(data, tmp_path):
    """``columns.md``: one line per column of the scored table and of the lists, meaning and
    unit, listed in the manifest with its checksum."""
    scored, customers = data
    result = export_marketing(scored, tmp_path, ExportParams(), customers=customers)
    text = (result.folder / "columns.md").read_text(encoding="utf-8")
    for col in [*scored.columns, "channel"]:
        assert f"| `{col}` |" in text, col
    assert "probability (0-1) of churning within 365 days" in text
    assert "(see the list parameters)" not in text
    assert any(f["file"] == "columns.md" and len(f["sha256"]) == 64 for f in result["files"])


INJECTIONS = ['=HYPERLINK("http://evil","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
              "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def test_no_list_cell_is_a_formula_a_spreadsheet_would_evaluate(data, tmp_path):
    """OWASP CSV injection: names and ids starting with = + - @ tab or CR are exported as text
    (prefixed with '), in every CSV of the export; the Parquet files keep the raw values."""
    scored, customers = data
    k = len(INJECTIONS)
    bad_ids = {f"C{i:04d}": inj for i, inj in enumerate(INJECTIONS)}
    scored = scored.copy()
    scored["customer_id"] = scored["customer_id"].replace(bad_ids)
    scored["segment"] = pd.Categorical(["=cmd()" if i % 2 else "beach families"
                                        for i in range(len(scored))])
    customers = customers.assign(customer_id=customers["customer_id"].replace(bad_ids))
    customers.loc[k:2 * k - 1, "name"] = INJECTIONS
    scored.loc[:k - 1, ["recommended_action", "preferred_channel", "consent_email"]] = [
        "nurture", "email", 1.0]
    p = ExportParams(pii_columns=["name"], pii_mode="plain", formats=["csv", "parquet"])
    m = export_marketing(scored, tmp_path / "run", p, customers=customers)
    csvs = sorted(m.folder.glob("*.csv"))
    assert csvs
    seen = 0
    for path in csvs:
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for col in back.columns:
            cells = back[col]
            assert not cells.str.startswith(("=", "+", "-", "@", "\t", "\r")).any(), (
                path.name, col, cells[cells.str.startswith(("=", "+", "-", "@"))].head())
            seen += int(cells.str.startswith("'").sum())
    assert seen >= k  # the ids at least, written as text
    raw = pd.concat([pd.read_parquet(m.folder / f["file"]) for f in m["files"]
                     if f["format"] == "parquet" and f["list"] == "nurture"])
    assert set(INJECTIONS) & set(raw["customer_id"])  # Parquet keeps the raw values
