"""Run reports: atomic writes, notebooks rendered to HTML, the index of a run."""

from __future__ import annotations

import base64
import os
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from src.page.report import render_notebook_html, render_reports, write_text_atomic

# a 1x1 PNG, as a notebook's display_data output carries it
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()
CODE = "answer = 6 * 7\nprint(f'the answer is {answer}')"


class _Links(HTMLParser):
    """The href of every <a> of a page and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data):
        if self._href is not None:
            self.links[self._href] = self.links.get(self._href, "") + data

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None


class _Text(HTMLParser):
    """The visible text of a page (without style and script)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @classmethod
    def of(cls, page: str) -> str:
        parser = cls()
        parser.feed(page)
        return "".join(parser.parts)


def _links(page: str) -> dict[str, str]:
    parser = _Links()
    parser.feed(page)
    return parser.links


def executed_notebook(path: Path, heading: str = "Loyalty results") -> Path:
    """A small notebook as papermill leaves it: markdown, a code cell with its outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {heading}"))
    cell = nbformat.v4.new_code_cell(CODE, execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="the answer is 42\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "'p_alive=0.731'"},
                               execution_count=1),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------------------------------
# write_text_atomic
# ------------------------------------------------------------------------------------------
def test_write_text_atomic_writes_and_replaces_without_leftovers(tmp_path):
    target = tmp_path / "index.html"
    assert write_text_atomic(target, "first é") == target
    assert target.read_text(encoding="utf-8") == "first é"
    write_text_atomic(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temp file left


def test_write_text_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    target.write_text("old", encoding="utf-8")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


# ------------------------------------------------------------------------------------------
# render_notebook_html
# ------------------------------------------------------------------------------------------
def test_render_notebook_html_shows_outputs_not_code(tmp_path):
    nb = executed_notebook(tmp_path / "04_loyalty_clv.ipynb")
    out = render_notebook_html(nb)
    assert out == tmp_path / "04_loyalty_clv.html"
    page = out.read_text(encoding="utf-8")
    assert "Loyalty results" in page
    assert "the answer is 42" in page
    assert "p_alive=0.731" in page
    assert f"data:image/png;base64,{PNG}" in page
    text = "".join(_Text.of(page).split())  # highlighted source is split into spans
    assert "answer=6*7" not in text and "print(f" not in text  # code hidden by default
    assert "theansweris42" in text
    assert "In[1]" not in text and "Out[1]" not in text  # no prompts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["04_loyalty_clv.html",
                                                          "04_loyalty_clv.ipynb"]


def test_render_notebook_html_with_code(tmp_path):
    nb = executed_notebook(tmp_path / "nb.ipynb")
    page = render_notebook_html(nb, show_code=True).read_text(encoding="utf-8")
    assert "the answer is 42" in page
    text = "".join(_Text.of(page).split())
    assert "answer=6*7" in text and "print(f'theansweris{answer}')" in text
    assert "In[1]" not in text and "Out[1]" not in text  # prompts stay hidden


# ------------------------------------------------------------------------------------------
# render_reports
# ------------------------------------------------------------------------------------------
def _manifest(**extra) -> dict:
    return {
        "run_id": "20240601-120000-demo",
        "job": "demo",
        "status": "failed",
        "started_at": "2024-06-01T12:00:00",
        "notebooks": [
            {"name": "01_data_quality", "status": "ok", "seconds": 12.34, "peak_rss_mb": 210.6},
            {"name": "04_loyalty_clv", "status": "ok", "seconds": 3.0},
            {"name": "05_score_export", "status": "failed"},
            {"name": "06_not_run", "status": "skipped"},
        ],
        **extra,
    }


def test_render_reports_links_every_notebook_report(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("01_data_quality", "04_loyalty_clv", "05_score_export"):
        executed_notebook(run / f"{name}.ipynb", heading=f"Report of {name}")
    (run / "exports").mkdir()
    (run / "exports" / "win_back.csv").write_text("customer_id\n1\n", encoding="utf-8")
    (run / "exports" / ".partial.tmp").write_text("", encoding="utf-8")
    manifest = _manifest(error={"notebook": "05_score_export", "cell": 7,
                                "exception": "ValueError", "message": "bad <threshold>"},
                         exports_withdrawn=["vip.csv"])

    index = render_reports(run, manifest)

    assert index == run / "index.html"
    page = index.read_text(encoding="utf-8")
    links = _links(page)
    for name in ("01_data_quality", "04_loyalty_clv", "05_score_export"):
        assert links[f"{name}.html"] == name
        report = (run / f"{name}.html").read_text(encoding="utf-8")
        assert f"Report of {name}" in report and "the answer is 42" in report
    # a notebook that was not executed is listed, without a link
    assert "06_not_run" in page and "06_not_run.html" not in links
    assert not (run / "06_not_run.html").exists()
    # exports (hidden files left out), the withdrawn ones, the records
    assert links["exports/win_back.csv"] == "win_back.csv"
    assert not any(".partial" in href for href in links)
    assert "withdrawn" in page and "vip.csv" in page
    assert {"manifest.json", "params.yaml"} <= set(links)
    # rows: seconds with one decimal, peak memory in whole MB, blanks when unknown
    assert "<td>12.3</td><td>211</td>" in page
    assert "<td>3.0</td><td></td>" in page
    # the failure, escaped
    assert "bad &lt;threshold&gt;" in page and "bad <threshold>" not in page
    assert "Run 20240601-120000-demo" in page and "failed" in page


def test_render_reports_without_exports_or_error(tmp_path):
    manifest = _manifest(status="ok")
    manifest["notebooks"] = [{"name": "01_data_quality", "status": "ok"}]
    page = render_reports(tmp_path, manifest).read_text(encoding="utf-8")
    assert "<li>none</li>" in page
    assert "Failure" not in page
    assert "01_data_quality.html" not in _links(page)  # no executed notebook in the folder
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
