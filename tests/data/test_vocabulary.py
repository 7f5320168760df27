"""The company's own vocabularies (issue 21): tiers, products and channels are the company's
words. A job that declares none takes the levels found in the data; a declared vocabulary
sets the order (tiers lowest first) and rejects other values with a ready-to-paste YAML line;
the contract keeps only the meanings the models need (booking statuses)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from src.data.contract import TABLES
from src.data.errors import DataValidationError
from src.data.loading import DataSourceConfig, load_tables

AS_OF = "2024-06-30"
TIERS = ["Star", "Nova", "Aurora"]


def _files(folder: Path, tiers: list[str]) -> tuple[Path, Path]:
    n = 30
    customers = pd.DataFrame({"customer_id": [f"M{i:02d}" for i in range(n)],
                              "signup_date": "2023-01-01",
                              "member_tier": [tiers[i % len(tiers)] for i in range(n)]})
    bookings = pd.DataFrame({"customer_id": [f"M{i % n:02d}" for i in range(2 * n)],
                             "booking_date": [f"2024-0{1 + i % 5}-1{i % 9}" for i in range(2 * n)],
                             "amount": [f"{10 + i}.50" for i in range(2 * n)],
                             "channel": [["Hotline", "App"][i % 2] for i in range(2 * n)]})
    c, b = folder / "members.csv", folder / "bookings.csv"
    customers.to_csv(c, index=False)
    bookings.to_csv(b, index=False)
    return c, b


def _load(folder: Path, customers: dict, bookings: dict | None = None, **kw):
    c, b = _files(folder, kw.pop("tiers", TIERS))
    return load_tables(DataSourceConfig.model_validate({
        "tables": {"customers": {"path": str(c), **customers},
                   "bookings": {"path": str(b), **(bookings or {})}},
        "as_of_date": AS_OF, **kw}), folder)


def test_the_contract_holds_no_companys_vocabulary():
    for table, col in [("customers", "member_tier"), ("customers", "customer_type"),
                       ("bookings", "product"), ("bookings", "channel")]:
        assert TABLES[table].column(col).allowed is None, (table, col)
    assert set(TABLES["bookings"].column("status").allowed) == {
        "completed", "confirmed", "cancelled", "no_show"}


def test_a_job_without_vocabulary_takes_the_levels_found(tmp_path):
    loaded = _load(tmp_path, {})
    tiers = loaded.tables["customers"]["member_tier"]
    assert set(tiers.cat.categories) == set(TIERS)
    assert len(loaded.rejects) == 0
    assert set(loaded.tables["bookings"]["channel"].cat.categories) == {"Hotline", "App"}


def test_a_declared_vocabulary_orders_the_tiers_and_matches_case_and_blanks(tmp_path):
    loaded = _load(tmp_path, {"vocabulary": {"member_tier": ["star", "NOVA ", "Aurora"]}})
    tiers = loaded.tables["customers"]["member_tier"]
    assert list(tiers.cat.categories) == ["star", "NOVA", "Aurora"]  # the declared spelling
    assert tiers.value_counts().to_dict() == {"star": 10, "NOVA": 10, "Aurora": 10}


def test_values_outside_the_vocabulary_are_rejected_with_a_yaml_line(tmp_path):
    with pytest.raises(DataValidationError) as exc:
        _load(tmp_path, {"vocabulary": {"member_tier": ["Star", "Nova"]}},
              max_reject_share=0.2)
    err = exc.value
    assert err.table == "customers" and err.column == "member_tier"
    assert "value not in the job's vocabulary" in str(err)
    assert "tables.customers.vocabulary.member_tier: [Star, Nova, Aurora]" in err.hint
    # below the share the rows are rejected, each with the reason and the key
    loaded = _load(tmp_path, {"vocabulary": {"member_tier": ["Star", "Nova"]}},
                   max_reject_share=0.5)
    rej = loaded.rejects[loaded.rejects["table"] == "customers"]
    assert len(rej) == 10 and set(rej["value"].astype(str)) == {"Aurora"}
    assert rej["reason"].str.contains("tables.customers.vocabulary.member_tier").all()


def test_meaning_columns_cannot_be_given_a_vocabulary(tmp_path):
    with pytest.raises((ValidationError, DataValidationError, ValueError),
                       match="status"):
        _load(tmp_path, {}, {"vocabulary": {"status": ["Offen", "Storno"]}})
