"""HTML reports of a run: each executed notebook rendered without its code, and the run's front
page, ``index.html``, a one-page summary people read.

The front page (:func:`front_page`), in English or Chinese (``report.language``; every label
from :mod:`src.page.page_text`):

- the run's status and duration; a failed run shows where it failed and why, and that
  nothing was published;
- the headline KPIs against their targets and the last run (``data/kpis.csv`` of
  ``07_kpis``; without it, a sentence that the job has no KPI step);
- the campaign lists: treated and control sizes from the export manifest, and who each list
  holds and why (a sentence for the default actions, else the rule's condition);
- the measured results of earlier lists (booking rate, ``data/campaign_results.csv`` of
  ``06_campaign_results``), when there are any;
- the top churn drivers (``tables/03_churn_survival/churn_drivers.csv``);
- the champion decision and its checks;
- data-quality counts and the warnings about the input;
- links to every notebook report, every export, ``manifest.json`` and ``params.yaml``.

Every section reads its own file and says so when it cannot: the page is always written.
Inline CSS only: no script, no external resource. One coherent page, so its sections stay
in one module (a little over 600 lines) beside the notebook rendering.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
from nbconvert import HTMLExporter

from src.decisioning.actions import DEFAULT_ACTION_RULES, default_action_rules
from src.fileio import write_text_atomic
from src.layout import RunLayout
from src.page.page_text import (
    ACTION_TEXT,
    LANGUAGES,
    driver_text,
    duration_text,
    kpi_change,
    kpi_value,
    labels,
    when_text,
)
from src.params.schema import KPI_NAMES
from src.vocabulary import VOCABULARIES

__all__ = ["front_page", "render_notebook_html", "render_reports"]

#: the notebook that writes the KPIs, and the one that writes the churn drivers
KPI_STEP = "07_kpis"
#: churn drivers and campaign results shown at most
TOP_DRIVERS = 5
TOP_RESULTS = 8

#: the condition of every default action, under its name in every vocabulary
_DEFAULT_WHEN = {vocab.action_name(r["action"]): r["when"]
                 for vocab in VOCABULARIES.values() for r in DEFAULT_ACTION_RULES}

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#1f2933;font:14px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif}
header{background:#fff;padding:16px 28px 12px;border-bottom:5px solid #829ab1}
header.succeeded{border-color:#2f9e44}header.failed{border-color:#e03131}
h1{font-size:21px;margin:0 0 2px}h2{font-size:15px;margin:0 0 8px;color:#102a43}
.meta{margin:0;color:#52606d}.meta b{color:#1f2933}
header.succeeded #run-status b{color:#2b8a3e}header.failed #run-status b{color:#c92a2a}
main{display:grid;grid-template-columns:minmax(0,1.5fr) minmax(0,1fr);gap:16px;
padding:0 28px 16px;max-width:1500px}.wide{padding:16px 28px 0;max-width:1500px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:10px 14px;
margin-bottom:16px}
.failbox{margin:16px 28px 0;background:#fff5f5;border:1px solid #ffa8a8;border-radius:6px;
padding:10px 14px}.failbox h2{color:#c92a2a}.failbox p{margin:4px 0}
table{border-collapse:collapse;width:100%}
th,td{padding:4px 7px;text-align:left;vertical-align:top;border-bottom:1px solid #edf0f3}
th{font-size:12px;font-weight:600;color:#627d98;border-bottom:1px solid #d9e2ec;
white-space:nowrap}
.num,#notebooks td:nth-child(3),#notebooks td:nth-child(4){text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;border-bottom:none}
small,.note{color:#627d98;font-size:12px}.note{margin:6px 0 0}
.good{color:#2b8a3e}.bad{color:#c92a2a}.muted{color:#829ab1}
.badge{display:inline-block;padding:0 8px;border-radius:9px;font-size:12px;font-weight:600;
white-space:nowrap}.badge.good{background:#ebfbee}.badge.bad{background:#fff5f5}
.badge.muted{background:#f0f4f8}
code{font-size:12px;background:#f0f4f8;padding:0 3px;border-radius:3px;white-space:nowrap}
td.who code,#champion code{white-space:normal;overflow-wrap:anywhere}.nw{white-space:nowrap}
ul{margin:4px 0;padding-left:18px}ul.files{list-style:none;padding:0}
ul.files li{display:inline-block;margin:0 12px 2px 0}
a{color:#1c64b8;text-decoration:none}a:hover{text-decoration:underline}
"""


@dataclass(frozen=True)
class _Page:
    """What every section of the front page reads."""

    layout: RunLayout
    manifest: dict[str, Any]
    language: str
    text: dict[str, str]

    def t(self, key: str, **values: Any) -> str:
        """The label ``key`` in the page's language, filled in and HTML-escaped."""
        return html.escape(self.text[key].format(**values) if values else self.text[key])

    def head(self, *keys: str) -> str:
        """A table's header row of these labels (``key#``: a numeric, right-aligned column)."""
        return "<tr>" + "".join(f'<th class="num">{self.t(k[:-1])}</th>' if k.endswith("#")
                                else f"<th>{self.t(k)}</th>" for k in keys) + "</tr>"


def render_notebook_html(notebook: Path, *, show_code: bool = False) -> Path:
    """Render an executed notebook to ``<same name>.html`` (code cells hidden by default)."""
    exporter = HTMLExporter(exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text_atomic(notebook.with_suffix(".html"), body)


def render_reports(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Render every executed notebook of the run (unless its report is newer than it) and
    write the front page ``index.html`` (:func:`front_page`); returns the front page."""
    layout = RunLayout(run_dir)
    reports = {}
    for entry in manifest["notebooks"]:
        nb = layout.notebook_file(entry["name"])
        if nb.exists():
            report = nb.with_suffix(".html")
            if not report.exists() or report.stat().st_mtime_ns < nb.stat().st_mtime_ns:
                render_notebook_html(nb)
            reports[entry["name"]] = report.name
    return write_text_atomic(layout.index_file, front_page(run_dir, manifest, reports))


def front_page(run_dir: Path, manifest: dict[str, Any], reports: Mapping[str, str]) -> str:
    """The HTML of a run's front page.

    Parameters
    ----------
    run_dir : the run folder (its data, tables and exports are read, nothing is written).
    manifest : the run's manifest, final status set.
    reports : notebook name -> its HTML report's file name in the run folder (notebooks
        without a report are listed without a link).
    """
    params = manifest.get("params") or {}
    language = str((params.get("report") or {}).get("language") or "en")
    language = language if language in LANGUAGES else "en"
    page = _Page(RunLayout(run_dir), manifest, language, labels(language))
    results = _section(page, "campaign-results", "results_heading", _campaign_results)
    drivers = _section(page, "drivers", "drivers_heading", _drivers)
    # two columns of about the same height: the drivers go where there is room
    kpis = _section(page, "kpis", "kpis_heading", _kpis)  # full width: a wide table
    left = [_section(page, "lists", "lists_heading", _lists), results or drivers]
    right = [_section(page, "champion", "champion_heading", _champion),
             drivers if results else "",
             _section(page, "data-quality", "dq_heading", _data_quality),
             _section(page, "notebooks", "notebooks_heading", lambda p: _notebooks(p, reports)),
             _section(page, "files", "files_heading", _files)]
    title = page.t("run", run_id=manifest["run_id"])
    return (f'<!doctype html><html lang="{"zh-CN" if language == "zh" else "en"}"><head>'
            f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            f"{_header(page, title)}{_failure(page)}"
            f'<div class="wide">{kpis}</div>'
            f'<main><div class="col">{"".join(left)}</div>'
            f'<div class="col">{"".join(right)}</div></main></body></html>')


# ------------------------------------------------------------------------------------------
# header and failure
# ------------------------------------------------------------------------------------------
def _header(page: _Page, title: str) -> str:
    m = page.manifest
    status = str(m.get("status"))
    parts = [f"{page.t('job')} <b>{html.escape(str(m.get('job')))}</b>",
             f'<span id="run-status">{page.t("status")} <b>'
             f"{html.escape(_status_word(page, status))}</b></span>"]
    if m.get("started_at"):
        parts.append(f"{page.t('started')} {html.escape(when_text(str(m['started_at'])))}")
    if m.get("duration_seconds") is not None:
        parts.append(f"{page.t('took')} "
                     f"{html.escape(duration_text(float(m['duration_seconds']), page.language))}")
    try:
        cutoff = page.layout.read_inputs_record().get("cutoff_date")
    except (OSError, ValueError):
        cutoff = None
    cutoff = cutoff or ((m.get("params") or {}).get("data") or {}).get("cutoff_date")
    if cutoff:
        parts.append(f"{page.t('cutoff')} {html.escape(str(cutoff))}")
    meta = ("，" if page.language == "zh" else ", ").join(parts)
    return (f'<header class="{html.escape(status)}"><h1>{title}</h1>'
            f'<p class="meta">{meta}</p></header>')


def _failure(page: _Page) -> str:
    m = page.manifest
    err = m.get("error")
    if m.get("status") != "failed" and not err:
        return ""
    lines = []
    if err:
        where = html.escape(str(err.get("notebook") or ""))
        if where and err.get("cell") is not None:
            where = page.t("failed_where", notebook=err["notebook"], cell=err["cell"])
        what = ": ".join(html.escape(str(err[k])) for k in ("exception", "message")
                         if err.get(k))
        lines.append(f"<p>{f'<b>{where}</b>: ' if where else ''}{what}</p>")
    lines.append(f"<p>{page.t('failed_nothing')}</p>")
    return (f'<div class="failbox" id="failure"><h2>{page.t("failed_heading")}</h2>'
            f'{"".join(lines)}</div>')


def _section(page: _Page, anchor: str, heading: str,
             body: Callable[[_Page], str | None]) -> str:
    """A section of the page; ``body`` returns its HTML (None: no section). A file it
    cannot read is said in the section instead."""
    try:
        content = body(page)
    except (OSError, ValueError, KeyError, TypeError, AttributeError,
            pd.errors.ParserError) as exc:
        error = page.t("report_error", error=f"{type(exc).__name__}: {exc}")
        content = f'<p class="bad">{error}</p>'
    if content is None:
        return ""
    return f'<section id="{anchor}"><h2>{page.t(heading)}</h2>{content}</section>'


# ------------------------------------------------------------------------------------------
# KPIs
# ------------------------------------------------------------------------------------------
def _kpis(page: _Page) -> str:
    path = page.layout.kpis_file
    if not path.exists():
        step = next((e for e in page.manifest.get("notebooks") or [] if e.get("name") == KPI_STEP),
                    None)
        if step is None:
            return f'<p class="note" id="no-kpi-step">{page.t("kpi_none")}</p>'
        return (f'<p class="note" id="no-kpi-step">'
                f'{page.t("kpi_not_written", status=_status_word(page, step.get("status")))}</p>')
    table = pd.read_csv(path)
    if "month" in table.columns:  # the latest month of each KPI
        table = table.sort_values("month", kind="stable").groupby("kpi", sort=False).tail(1)
    order = {k: i for i, k in enumerate(KPI_NAMES)}
    table = table.sort_values("kpi", key=lambda s: s.map(lambda k: order.get(k, len(order))))
    months = sorted({str(m)[:7] for m in table.get("month", pd.Series(dtype=object))
                     if _present(m)})
    head = page.head("kpi_col", "kpi_now#", "kpi_last#", "kpi_change#", "kpi_expected#",
                     "kpi_target", "kpi_status")
    rows = "".join(_kpi_row(page, r, len(months) > 1) for r in table.to_dict("records"))
    note = (f'<p class="note">{page.t("kpi_month", month=months[0])}</p>'
            if len(months) == 1 else "")
    return f"{note}<table>{head}{rows}</table>"


def _kpi_row(page: _Page, r: dict[str, Any], with_month: bool) -> str:
    kpi = str(r.get("kpi"))
    better_up = _truthy(r.get("greater_is_better"), KPI_NAMES.get(kpi, True))
    cur, last = _float(r.get("current")), _float(r.get("last_run"))
    name = page.t(f"kpi_{kpi}") if f"kpi_{kpi}" in page.text else html.escape(kpi)
    if with_month and _present(r.get("month")):
        name += f" <small>{html.escape(str(r['month'])[:7])}</small>"
    change, was = "", f'<span class="muted">{page.t("kpi_first")}</span>'
    if math.isfinite(cur) and math.isfinite(last):
        was = html.escape(kpi_value(kpi, last))
        shown = kpi_change(kpi, cur, last, page.language)
        moved = any(ch in "123456789" for ch in shown)  # not a change once rounded: neutral
        cls = "muted" if not moved else "good" if (cur > last) == better_up else "bad"
        arrow = "" if not moved else "▲ " if cur > last else "▼ "
        change = f'<span class="{cls}">{arrow}{html.escape(shown)}</span>'
    target, expected = _float(r.get("target")), _float(r.get("expected_now"))
    goal = (page.t("kpi_by", value=kpi_value(kpi, target), date=_text(r.get("target_date")))
            if math.isfinite(target) else "")
    status = str(r.get("status") or "no target")
    key = "kpi_" + status.replace(" ", "_")
    cls = {"on track": "good", "behind": "bad"}.get(status, "muted")
    word = page.t(key) if key in page.text else html.escape(status)
    return (f'<tr data-kpi="{html.escape(kpi)}"><td class="nw">{name}</td>'
            f'<td class="num"><b>{html.escape(kpi_value(kpi, cur))}</b></td>'
            f'<td class="num">{was}</td><td class="num">{change}</td>'
            f'<td class="num">{html.escape(kpi_value(kpi, expected)) if goal else ""}</td>'
            f'<td class="nw">{goal}</td><td><span class="badge {cls}">{word}</span></td></tr>')


# ------------------------------------------------------------------------------------------
# lists and their results
# ------------------------------------------------------------------------------------------
def _lists(page: _Page) -> str:
    path = page.layout.exports_manifest_file
    if not path.exists():
        failed = page.manifest.get("status") == "failed" or page.manifest.get("exports_withdrawn")
        return f'<p class="note">{page.t("lists_failed" if failed else "lists_none")}</p>'
    lists = (page.layout.read_json(path) or {}).get("lists") or {}
    if not lists:
        return f'<p class="note">{page.t("lists_none")}</p>'
    rules = _action_rules(page.manifest)
    head = page.head("lists_list", "lists_who", "lists_treated#", "lists_control#")
    rows, treated_all, control_all = [], 0, 0
    for action, counts in lists.items():
        treated, control = int(counts.get("listed") or 0), int(counts.get("control") or 0)
        treated_all, control_all = treated_all + treated, control_all + control
        left = [page.t(f"left_{k}", n=f"{int(counts[k]):,}") for k in
                ("suppressed", "no_consent", "over_cap") if int(counts.get(k) or 0) > 0]
        left_out = (f'<br><small class="left-out">{page.t("lists_left_out")}: '
                    f'{", ".join(left)}</small>' if left else "")
        rows.append(f'<tr data-list="{html.escape(action)}"><td><code>{html.escape(action)}'
                    f'</code></td><td class="who">{_who(page, action, rules)}{left_out}</td>'
                    f'<td class="num treated">{treated:,}</td>'
                    f'<td class="num control">{control:,}</td></tr>')
    total = (f'<tr class="total"><td>{page.t("lists_total")}</td><td></td>'
             f'<td class="num">{treated_all:,}</td><td class="num">{control_all:,}</td></tr>')
    return (f"<table>{head}{''.join(rows)}{total}</table>"
            f'<p class="note">{page.t("lists_note")}</p>')


def _action_rules(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's action rules: its params', else the defaults of its vocabulary."""
    params = manifest.get("params") or {}
    rules = (params.get("scoring") or {}).get("action_rules")
    if rules:
        return list(rules)
    try:
        return default_action_rules(params.get("vocabulary") or "travel")
    except ValueError:
        return default_action_rules("travel")


def _who(page: _Page, action: str, rules: list[dict[str, Any]]) -> str:
    """Who a list holds and why: the sentence of a default action whose rule is the default
    one, else the rule's condition."""
    rule = next((r for r in rules if r.get("action") == action), None)
    sentence = ACTION_TEXT[page.language].get(action)
    default = _DEFAULT_WHEN.get(action)
    if sentence and (rule is None or " ".join(str(rule.get("when")).split()) ==
                     " ".join(str(default).split())):
        return html.escape(sentence)
    if rule is not None:
        return f"{page.t('rule')}: <code>{html.escape(str(rule.get('when')))}</code>"
    return ""


def _campaign_results(page: _Page) -> str | None:
    path = page.layout.campaign_results_file
    if not path.exists():
        return None
    table = pd.read_csv(path)
    table = table[table["metric"] == "booking_rate"]
    if table.empty:
        return f'<p class="note">{page.t("results_none")}</p>'
    rank = {"raised": 0, "lowered": 1, "no measurable effect": 2}  # measured effects first
    table = table.assign(_rank=table["verdict"].map(lambda v: rank.get(str(v), 3)))
    table = table.sort_values(["cutoff_date", "_rank", "list"], ascending=[False, True, True])
    table = table.head(TOP_RESULTS)
    one = table["cutoff_date"].nunique() == 1 and table["window_end"].nunique() == 1
    head = page.head("results_list", *([] if one else ["results_published"]), "results_n#",
                     "results_uplift#", "results_verdict")
    rows = []
    for r in table.to_dict("records"):
        low, high = _float(r.get("ci_low")), _float(r.get("ci_high"))
        cls = "good" if low > 0 else "bad" if high < 0 else "muted"
        up = _float(r.get("uplift"))
        uplift = page.t("points", value=f"{100 * up:+.1f}") if math.isfinite(up) else "–"
        interval = (f" <small>({100 * low:+.1f} … {100 * high:+.1f})</small>"
                    if math.isfinite(low) and math.isfinite(high) else "")
        planted = _float(r.get("planted_uplift"))  # synthetic data: the effect put in
        if math.isfinite(planted):
            interval += (' <small class="planted">'
                         + page.t("results_planted", value=f"{100 * planted:+.1f}") + "</small>")
        verdict = str(r.get("verdict"))
        key = "verdict_too_small" if verdict.startswith("too small") else \
            "verdict_" + verdict.replace(" ", "_")
        word = page.t(key) if key in page.text else html.escape(verdict)
        published = "" if one else f'<td class="nw">{html.escape(_text(r["cutoff_date"]))}</td>'
        rows.append(f'<tr data-result="{html.escape(str(r.get("list")))}">'
                    f"<td><code>{html.escape(str(r.get('list')))}</code></td>{published}"
                    f'<td class="num">{_count(r.get("n_treated"))} / '
                    f'{_count(r.get("n_control"))}</td>'
                    f'<td class="num {cls}">{uplift}{interval}</td>'
                    f'<td title="{html.escape(verdict)}"><span class="{cls}">{word}</span></td>'
                    "</tr>")
    first = table.iloc[0]
    window = page.t("results_window", published=_text(first["cutoff_date"]),
                    until=_text(first["window_end"]))
    note = f'<p class="note">{window}</p>' if one else ""
    return f"{note}<table>{head}{''.join(rows)}</table>"


# ------------------------------------------------------------------------------------------
# churn drivers
# ------------------------------------------------------------------------------------------
def _drivers(page: _Page) -> str | None:
    path = page.layout.churn_drivers_file
    if not path.exists():
        return None
    table = pd.read_csv(path)
    table = table[pd.to_numeric(table["hazard_ratio"], errors="coerce").gt(0)]
    if table.empty:
        return f'<p class="note">{page.t("drivers_none")}</p>'
    p = pd.to_numeric(table["p"], errors="coerce").fillna(1.0)
    table = table.assign(_weak=p >= 0.05, _size=-table["hazard_ratio"].map(
        lambda hr: abs(math.log(float(hr)))))
    table = table.sort_values(["_weak", "_size"], kind="stable").head(TOP_DRIVERS)
    head = page.head("drivers_what", "drivers_risk#", "drivers_p#")
    rows = []
    for r in table.to_dict("records"):
        hr = float(r["hazard_ratio"])
        low, high = _float(r.get("lower_95")), _float(r.get("upper_95"))
        interval = (f" <small>({low:.2f}–{high:.2f})</small>"
                    if math.isfinite(low) and math.isfinite(high) else "")
        pv = _float(r.get("p"))
        p_text = "–" if not math.isfinite(pv) else "<0.001" if pv < 0.001 else f"{pv:.3f}"
        strong = ' style="font-weight:600"' if pv < 0.05 else ""
        rows.append(f'<tr data-driver="{html.escape(str(r["covariate"]))}">'
                    f"<td>{html.escape(_driver_what(page, r))}</td>"
                    f'<td class="num {"bad" if hr > 1 else "good"}">×{hr:.2f}{interval}</td>'
                    f'<td class="num"{strong}>{p_text}</td></tr>')
    return (f"<table>{head}{''.join(rows)}</table>"
            f'<p class="note">{page.t("drivers_note")}</p>')


def _driver_what(page: _Page, r: dict[str, Any]) -> str:
    """What changes, in business words: the English sentence's first half, else the
    covariate worded from the page's labels (:func:`src.page.page_text.driver_text`)."""
    description = r.get("description")
    if page.language == "en" and isinstance(description, str) and description:
        what = description.split(" multiplies the churn hazard by ")[0]
        return what[:1].upper() + what[1:]
    return driver_text(str(r["covariate"]), str(r.get("source") or r["covariate"]),
                       _float(r.get("per")), page.language)


# ------------------------------------------------------------------------------------------
# champion, data quality, notebooks, files
# ------------------------------------------------------------------------------------------
def _champion(page: _Page) -> str | None:
    p = page.manifest.get("promotion")
    if not p:
        return None
    model = page.text["champion_model"].format(name=p.get("name"), version=p.get("version"))
    before = p.get("champion_before")
    was = (page.text["champion_version"].format(version=before) if before
           else page.text["champion_unset"])
    decision = str(p.get("decision"))
    key = f"champion_{decision}" if f"champion_{decision}" in page.text else "champion_unjudged"
    alias = f"@{p.get('alias') or 'champion'}"
    cls = {"promoted": "good", "rejected": "bad", "rolled_back": "bad"}.get(decision, "muted")
    lines = [html.escape(str(r)) for r in p.get("reasons") or []]
    if page.manifest.get("status") == "failed":
        lines.append(page.t("lists_failed"))
    elif page.language == "en" and p.get("lists_note"):
        lines.append(html.escape(str(p["lists_note"])))
    elif p.get("lists_model"):
        lm = p["lists_model"]
        lines.append(page.t("champion_lists_from", model=page.text["champion_model"].format(
            name=lm.get("name"), version=lm.get("version"))))
    items = "".join(f"<li>{line}</li>" for line in lines)
    checks = ""
    if p.get("checks"):  # the champion's column only when there was one to compare with
        versus = any(_present(c.get("champion")) for c in p["checks"])
        head = page.head("champion_check", "champion_candidate#", "champion_threshold#",
                         *(["champion_champion#"] if versus else []), "champion_passed")
        rows = "".join(
            f"<tr><td><code>{html.escape(str(c.get('metric')))}</code></td>"
            f'<td class="num">{_short(c.get("candidate"))}</td>'
            f'<td class="num">{_short(c.get("threshold"))}</td>'
            + (f'<td class="num">{_short(c.get("champion"))}</td>' if versus else "") +
            f'<td class="{"good" if c.get("passed") else "bad"}" title="'
            f'{html.escape(str(c.get("reason") or ""))}">{"✓" if c.get("passed") else "✗"}</td>'
            "</tr>" for c in p["checks"])
        checks = f"<table>{head}{rows}</table>"
    head_line = html.escape(page.text[key].format(model=model, alias=alias, was=was))
    return (f'<p><b class="{cls}">{head_line}</b></p>'
            f'{f"<ul>{items}</ul>" if items else ""}{checks}')


def _data_quality(page: _Page) -> str:
    m = page.manifest
    rows = m.get("rows") or {}
    report = {r.get("table"): r for r in m.get("load_report") or [] if isinstance(r, dict)}
    warnings = m.get("warnings") or []
    out = []
    if rows:
        def extra(key: str) -> bool:
            return any(int(_float(r.get(key)) or 0) > 0 for r in report.values()
                       if math.isfinite(_float(r.get(key))))

        cols = [("dq_read", "rows_read")] + [(label, key) for label, key in (
            ("dq_filtered", "rows_filtered"), ("dq_merged", "lines_grouped")) if extra(key)]
        head = page.head("dq_table", *(f"{label}#" for label, _ in cols), "dq_kept#",
                         "dq_rejected#")
        body = []
        for table, counts in rows.items():
            rep = report.get(table, {})
            name = (page.t(f"table_{table}") if f"table_{table}" in page.text
                    else html.escape(str(table)))
            read = [rep.get(key, counts.get("in") if key == "rows_read" else None)
                    for _, key in cols]
            rejected = int(counts.get("rejected") or 0)
            reasons = html.escape(_text(rep.get("top_reasons")))
            body.append(f'<tr data-table="{html.escape(str(table))}"><td>{name}</td>'
                        + "".join(f'<td class="num">{_count(v)}</td>' for v in read)
                        + f'<td class="num">{_count(counts.get("kept"))}</td>'
                        f'<td class="num{" bad" if rejected else ""}" title="{reasons}">'
                        f"{rejected:,}</td></tr>")
        out.append(f"<table>{head}{''.join(body)}</table>")
        if page.layout.rejects_file.exists() and any(
                int(c.get("rejected") or 0) for c in rows.values()):
            out.append(f'<p class="note"><a href="{page.layout.rejects_file.name}">'
                       f'{page.t("dq_rejects_file")}</a></p>')
    else:
        out.append(f'<p class="note">{page.t("dq_none")}</p>')
    if warnings:
        items = "".join(
            f"<li>{html.escape(str(w.get('table')))}: {html.escape(str(w.get('message')))}; "
            f"{page.t('warning_fix')}: <code>{html.escape(str(w.get('fix')))}</code></li>"
            for w in warnings)
        out.append(f'<h3 style="font-size:13px;margin:10px 0 2px">'
                   f'{page.t("warnings_heading")}</h3><ul id="warnings">{items}</ul>')
    return "".join(out)


def _notebooks(page: _Page, reports: Mapping[str, str]) -> str:
    head = page.head("nb_notebook", "nb_status", "nb_seconds", "nb_peak")
    rows = []
    for entry in page.manifest.get("notebooks") or []:
        name = html.escape(entry["name"])
        link = (f'<a href="{html.escape(reports[entry["name"]])}">{name}</a>'
                if entry["name"] in reports else name)
        state = _status_word(page, entry.get("status"))
        if entry.get("reason"):
            state += ("：" if page.language == "zh" else ": ") + str(entry["reason"])
        cls = {"failed": "bad", "skipped": "muted"}.get(str(entry.get("status")), "")
        secs, peak = entry.get("seconds"), entry.get("peak_rss_mb")
        rows.append(f'<tr><td>{link}</td><td class="{cls}">{html.escape(state)}</td>'
                    f"<td>{'' if secs is None else f'{secs:.1f}'}</td>"
                    f"<td>{'' if peak is None else f'{peak:.0f}'}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _files(page: _Page) -> str:
    exports = "".join(f'<li><a href="exports/{html.escape(name)}">{html.escape(name)}</a></li>'
                      for name in page.layout.exported_files()) or f"<li>{page.t('none')}</li>"
    withdrawn = page.manifest.get("exports_withdrawn")
    if withdrawn:
        exports += f'<li class="bad">{page.t("withdrawn", files=", ".join(withdrawn))}</li>'
    records = [page.layout.manifest_file.name, page.layout.params_file.name]
    if page.layout.log_file.exists():
        records.append(page.layout.log_file.name)
    record_items = "".join(f'<li><a href="{name}">{name}</a></li>' for name in records)
    return (f"<p><b>{page.t('files_exports')}</b></p><ul class=\"files\">{exports}</ul>"
            f"<p><b>{page.t('files_records')}</b></p><ul class=\"files\">{record_items}</ul>")


# ------------------------------------------------------------------------------------------
# numbers and words for people
# ------------------------------------------------------------------------------------------
def _status_word(page: _Page, status: Any) -> str:
    key = f"status_{status}"
    return page.text[key] if key in page.text else str(status)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    return str(value) if _present(value) else ""


def _count(value: Any) -> str:
    v = _float(value)
    return f"{v:,.0f}" if math.isfinite(v) else ""


def _short(value: Any) -> str:
    """A check's value: three significant digits, thousands separated."""
    v = _float(value)
    if not math.isfinite(v):
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _truthy(value: Any, default: bool) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return default if not _present(value) else bool(value)
