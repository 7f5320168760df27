"""Chinese column headers of the exported CSV lists (``report.language: zh``)."""

from __future__ import annotations

import re

import pytest

from src.decisioning.scored_columns import output_schema
from src.export.language import csv_headers
from src.params.schema import DEFAULT_LIST_COLUMNS
from src.vocabulary import VOCABULARIES

CJK = re.compile(r"[\u4e00-\u9fff]")
LIST_ONLY = ["channel", "suppressed", "email_sha256", "phone_sha256", "name", "email", "phone"]


def scored_columns() -> list[str]:
    return list(output_schema([90, 365, 730], ["destination_type", "product"],
                              ["email", "sms", "phone"]))


def test_every_default_list_column_has_a_chinese_header() -> None:
    headers = csv_headers(DEFAULT_LIST_COLUMNS, "zh")
    assert list(headers) == DEFAULT_LIST_COLUMNS
    missing = [c for c, h in headers.items() if not CJK.search(h)]
    assert not missing, f"no Chinese header for {missing}"


def test_every_scored_and_list_column_has_a_distinct_chinese_header() -> None:
    columns = scored_columns() + LIST_ONLY
    headers = csv_headers(columns, "zh")
    assert [c for c, h in headers.items() if not CJK.search(h)] == []
    assert len(set(headers.values())) == len(columns)


def test_templates_and_vocabulary_names() -> None:
    renamed = [n for v in VOCABULARIES.values() for n in v.column_names.values()]
    headers = csv_headers(["churn_prob_180d", "consent_whatsapp", *renamed], "zh")
    assert headers["churn_prob_180d"] == "180 天内流失概率"
    assert CJK.search(headers["consent_whatsapp"]) and "whatsapp" in headers["consent_whatsapp"]
    assert headers["suggested_category"] == "推荐品类"
    assert headers["suggested_category_lift"] == "推荐品类提升度"
    assert headers["suggested_plan"] == "推荐套餐"


def test_english_is_the_names_and_unknown_columns_keep_theirs() -> None:
    columns = scored_columns() + LIST_ONLY + ["my_own_column"]
    assert csv_headers(columns, "en") == {c: c for c in columns}
    assert csv_headers(["my_own_column"], "zh") == {"my_own_column": "my_own_column"}


def test_two_columns_never_share_a_header() -> None:
    headers = csv_headers(["segment", "客群"], "zh")
    assert headers == {"segment": "客群", "客群": "客群（客群）"}


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="zh"):
        csv_headers(["customer_id"], "fr")
