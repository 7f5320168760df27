"""The run's front page (``index.html``), in English and Chinese, as headless Chromium renders
it: status, lists with treated / control sizes, KPIs (or that there is no KPI step), campaign
results, drivers, the champion, a failed run, and a screenshot that is not blank."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from src.runner.page_text import ACTION_TEXT, LABELS, labels
from src.runner.report import render_reports

from src.decisioning.actions import DEFAULT_ACTION_RULES
from src.layout import RunLayout
from src.runner.publication import promotion_lines
from src.vocabulary import VOCABULARIES
from tests.browser import dump_dom, screenshot

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"{(\w*)}")


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def in_language(manifest: dict[str, Any], language: str) -> dict[str, Any]:
    out = copy.deepcopy(manifest)
    out.setdefault("params", {}).setdefault("report", {})["language"] = language
    return out


def open_page(run_dir: Path, manifest: dict[str, Any], png: Path | None = None
              ) -> BeautifulSoup:
    """Render the front page, load it in Chromium, and return the DOM as rendered."""
    index = render_reports(run_dir, manifest)
    if png is not None:
        screenshot(index, png)
    return BeautifulSoup(dump_dom(index), "html.parser")


def number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def section_text(dom: BeautifulSoup, anchor: str) -> str:
    found = dom.find(id=anchor)
    assert found is not None, f"no #{anchor} on the page"
    return " ".join(found.get_text(" ").split())


def assert_not_blank(png: Path) -> None:
    pixels = mpimg.imread(png)
    assert pixels.shape[:2] == (1800, 1280)
    grey = pixels[..., :3].mean(axis=2)
    assert float(grey.std()) > 0.03, "the screenshot is (almost) one colour"
    assert len(np.unique(np.round(grey, 2))) > 20, "the screenshot shows next to nothing"


@pytest.fixture(scope="module")
def run(demo_runs, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A copy of the session's demo run (the shared folder is never modified)."""
    source = Path(demo_runs(0)["run_dir"])
    target = tmp_path_factory.mktemp("front_page") / source.name
    shutil.copytree(source, target)
    return target, json.loads(RunLayout(target).manifest_file.read_text(encoding="utf-8"))


def export_lists(run_dir: Path) -> dict[str, dict[str, int]]:
    return json.loads((RunLayout(run_dir).exports_dir / "manifest.json")
                      .read_text(encoding="utf-8"))["lists"]


def assert_lists_as_exported(dom: BeautifulSoup, run_dir: Path) -> None:
    lists = export_lists(run_dir)
    assert lists, "the demo run exported no list"
    for action, counts in lists.items():
        row = dom.find("tr", attrs={"data-list": action})
        assert row is not None, f"list {action} not on the page"
        assert action in row.get_text()
        assert number(row.find("td", class_="treated").get_text()) == counts["listed"]
        assert number(row.find("td", class_="control").get_text()) == counts.get("control", 0)
        assert row.find("td", class_="who").get_text(strip=True), f"no who/why for {action}"


# ------------------------------------------------------------------------------------------
# the page of a real run
# ------------------------------------------------------------------------------------------
def test_english_page_of_a_demo_run(run, tmp_path: Path) -> None:
    run_dir, manifest = run
    png = tmp_path / "front_page.png"
    dom = open_page(run_dir, in_language(manifest, "en"), png)
    en = LABELS["en"]

    assert dom.find("html")["lang"] == "en"
    assert dom.find("h1").get_text(strip=True) == f"Run {manifest['run_id']}"
    assert section_text(dom, "run-status") == "status succeeded"
    assert dom.find(id="failure") is None
    assert_lists_as_exported(dom, run_dir)
    for action in export_lists(run_dir):  # the demo uses the default rules: plain sentences
        assert ACTION_TEXT["en"][action] in section_text(dom, "lists")
    # KPIs: the table of 07_kpis, or the sentence that the job has no KPI step
    if RunLayout(run_dir).kpis_file.exists():
        assert dom.find(id="kpis").find("tr", attrs={"data-kpi": True}) is not None
    else:
        assert en["kpi_none"] in section_text(dom, "kpis")
    drivers = dom.find(id="drivers").find_all("tr", attrs={"data-driver": True})
    assert 1 <= len(drivers) <= 5 and all("×" in d.get_text() for d in drivers)
    head = promotion_lines(manifest)[0].removeprefix("champion: ")
    assert head in section_text(dom, "champion")
    rows = manifest["rows"]
    for table, counts in rows.items():
        row = dom.find("tr", attrs={"data-table": table})
        assert f"{counts['kept']:,}" in row.get_text()
    # a link to every notebook report, every export and the records, each to a real file
    links = {a["href"]: a.get_text(strip=True) for a in dom.find_all("a")}
    for entry in manifest["notebooks"]:
        assert links[f"{entry['name']}.html"] == entry["name"]
    for name in RunLayout(run_dir).exported_files():
        assert links[f"exports/{name}"] == name
    assert {"manifest.json", "params.yaml"} <= set(links)
    assert all((run_dir / href).exists() for href in links)
    for heading in ("kpis_heading", "lists_heading", "drivers_heading", "champion_heading",
                    "dq_heading", "notebooks_heading", "files_heading"):
        assert en[heading] in [h.get_text(strip=True) for h in dom.find_all("h2")]
    assert_not_blank(png)


def test_chinese_page_of_a_demo_run(run, tmp_path: Path) -> None:
    run_dir, manifest = run
    png = tmp_path / "front_page_zh.png"
    dom = open_page(run_dir, in_language(manifest, "zh"), png)
    zh, en = LABELS["zh"], LABELS["en"]

    assert dom.find("html")["lang"] == "zh-CN"
    assert section_text(dom, "run-status") == "状态 成功"
    assert_lists_as_exported(dom, run_dir)
    for action in export_lists(run_dir):
        assert ACTION_TEXT["zh"][action] in section_text(dom, "lists")
    if not RunLayout(run_dir).kpis_file.exists():
        assert zh["kpi_none"] in section_text(dom, "kpis")
    # every heading and column name in Chinese; no English heading left anywhere
    headings = [h.get_text(strip=True) for h in dom.find_all(["h1", "h2", "h3", "th"])]
    assert all(CJK.search(h) for h in headings), [h for h in headings if not CJK.search(h)]
    text = dom.body.get_text(" ")
    left = [en[k] for k in en if k.endswith("_heading") and en[k] in text]
    assert not left, f"English headings on the Chinese page: {left}"
    for key in ("kpis_heading", "lists_heading", "drivers_heading", "champion_heading",
                "dq_heading", "files_heading"):
        assert zh[key] in [h.get_text(strip=True) for h in dom.find_all("h2")]
    # the drivers worded in Chinese from their structure, not the English sentence
    drivers = section_text(dom, "drivers")
    assert "multiplies the churn hazard" not in drivers and "×" in drivers
    assert_not_blank(png)


def test_kpis_and_campaign_results_sections(run, tmp_path: Path) -> None:
    """With ``data/kpis.csv`` (07_kpis) and ``data/campaign_results.csv`` (06) in the run."""
    source, manifest = run
    run_dir = tmp_path / source.name
    shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns("*.parquet", "figures"))
    layout = RunLayout(run_dir)
    pd.DataFrame([
        {"kpi": "repeat_rate", "month": "2025-12", "current": 0.412, "last_run": 0.398,
         "last_run_id": "r0", "baseline": 0.39, "baseline_run": "r0", "target": 0.45,
         "target_date": "2027-12-31", "expected_now": 0.405, "status": "on track",
         "greater_is_better": True},
        {"kpi": "churn_rate", "month": "2025-12", "current": 0.031, "last_run": 0.027,
         "last_run_id": "r0", "baseline": 0.03, "baseline_run": "r0", "target": 0.025,
         "target_date": "2027-12-31", "expected_now": 0.028, "status": "behind",
         "greater_is_better": False},
        {"kpi": "active_customers", "month": "2025-12", "current": 12345.0,
         "last_run": float("nan"), "last_run_id": None, "baseline": 12345.0,
         "baseline_run": "r1", "target": float("nan"), "target_date": None,
         "expected_now": float("nan"), "status": "no target", "greater_is_better": True},
    ]).to_csv(layout.kpis_file, index=False)
    pd.DataFrame([
        {"publication_run": "r0", "cutoff_date": "2025-06-30", "list": "win_back_call",
         "window_end": "2025-12-31", "metric": "booking_rate", "n_treated": 1200,
         "n_control": 130, "treated": 0.21, "control": 0.15, "uplift": 0.06,
         "ci_low": 0.012, "ci_high": 0.108, "verdict": "raised", "planted_uplift": 0.05},
        {"publication_run": "r0", "cutoff_date": "2025-06-30", "list": "nurture",
         "window_end": "2025-12-31", "metric": "retention", "n_treated": 3000,
         "n_control": 300, "treated": 0.8, "control": 0.79, "uplift": 0.01,
         "ci_low": -0.02, "ci_high": 0.04, "verdict": "no measurable effect",
         "planted_uplift": 0.0},
    ]).to_csv(layout.campaign_results_file, index=False)

    dom = open_page(run_dir, in_language(manifest, "en"))
    def cells(kpi: str) -> list[str]:
        row = dom.find("tr", attrs={"data-kpi": kpi})
        return [" ".join(td.get_text(" ").split()) for td in row.find_all("td")]

    # KPI, now, last run, change, expected now, target, status
    assert cells("repeat_rate") == ["repeat rate", "41.2%", "39.8%", "▲ +1.4 pts", "40.5%",
                                    "45.0% by 2027-12-31", "on track"]
    churn = dom.find("tr", attrs={"data-kpi": "churn_rate"})
    assert churn.find("span", class_="bad") is not None  # up is worse for churn
    assert cells("churn_rate")[3] == "▲ +0.4 pts" and cells("churn_rate")[-1] == "behind"
    assert cells("active_customers") == ["active customers", "12,345", "first run", "", "",
                                         "", "no target"]
    assert "month 2025-12" in section_text(dom, "kpis")
    results = dom.find(id="campaign-results")
    assert [r["data-result"] for r in results.find_all("tr", attrs={"data-result": True})] \
        == ["win_back_call"]  # booking rate only
    row = " ".join(results.find("tr", attrs={"data-result": True}).get_text(" ").split())
    assert "+6.0 pts" in row and "(+1.2 … +10.8)" in row and "1,200 / 130" in row
    assert "raised bookings" in row
    assert "Lists published 2025-06-30; bookings counted until 2025-12-31." in \
        section_text(dom, "campaign-results")

    dom = open_page(run_dir, in_language(manifest, "zh"))
    assert "按计划" in section_text(dom, "kpis") and "复购率" in section_text(dom, "kpis")
    assert "提升了预订" in section_text(dom, "campaign-results")


def test_failed_run_page_says_failed(tmp_path: Path) -> None:
    manifest = {
        "run_id": "20260101-080000-demo-dead", "job": "demo", "status": "failed",
        "started_at": "2026-01-01T08:00:00+00:00", "duration_seconds": 125.0,
        "notebooks": [
            {"name": "01_data_quality", "status": "succeeded", "seconds": 7.1},
            {"name": "05_score_export", "status": "failed"},
            {"name": "07_kpis", "status": "skipped"},
        ],
        "error": {"notebook": "05_score_export", "cell": 12, "exception": "ValueError",
                  "message": "no customer is contactable <check consent>"},
        "exports_withdrawn": ["list_vip_care.csv"],
        "rows": {"customers": {"in": 10, "kept": 9, "rejected": 1}},
        "params": {"report": {"language": "en"}},
    }
    png = tmp_path / "failed.png"
    dom = open_page(tmp_path, manifest, png)
    assert section_text(dom, "run-status") == "status failed"
    failure = section_text(dom, "failure")
    assert "The run failed" in failure and "05_score_export, cell 12" in failure
    assert "ValueError: no customer is contactable <check consent>" in failure
    assert "took 2 min 5 s" in " ".join(dom.find("p", class_="meta").get_text(" ").split())
    assert LABELS["en"]["lists_failed"] in section_text(dom, "lists")
    assert "list_vip_care.csv" in section_text(dom, "files")
    assert "withdrawn" in section_text(dom, "files")
    assert LABELS["en"]["kpi_not_written"].format(status="skipped") in section_text(dom, "kpis")
    assert_not_blank(png)

    dom = open_page(tmp_path, in_language(manifest, "zh"))
    assert section_text(dom, "run-status") == "状态 失败"
    assert LABELS["zh"]["failed_heading"] in section_text(dom, "failure")


def test_a_file_that_cannot_be_read_never_stops_the_page(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    layout.data_dir.mkdir()
    layout.kpis_file.write_text("kpi,current\nrepeat_rate,0.4\n", encoding="utf-8")  # no status
    layout.campaign_results_file.write_text('"broken\n', encoding="utf-8")
    layout.exports_dir.mkdir()
    (layout.exports_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    manifest = {"run_id": "r1", "job": "demo", "status": "succeeded", "notebooks": [],
                "params": {"report": {"language": "zh"}}}
    dom = open_page(tmp_path, manifest)
    assert "复购率" in section_text(dom, "kpis")
    assert LABELS["zh"]["report_error"].split("（")[0] in section_text(dom, "lists")
    assert section_text(dom, "run-status") == "状态 成功"


# ------------------------------------------------------------------------------------------
# the words
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", [LABELS, ACTION_TEXT], ids=["labels", "actions"])
def test_every_label_exists_in_both_languages(table: dict[str, dict[str, str]]) -> None:
    assert set(table) == {"en", "zh"}
    assert set(table["en"]) == set(table["zh"])
    for key, text in table["en"].items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(
            table["zh"][key])), key
        assert text.strip() and table["zh"][key].strip(), key


def test_every_default_action_of_every_vocabulary_has_a_sentence() -> None:
    names = {v.action_name(r["action"]) for v in VOCABULARIES.values()
             for r in DEFAULT_ACTION_RULES}
    assert names <= set(ACTION_TEXT["en"])


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="en"):
        labels("fr")
