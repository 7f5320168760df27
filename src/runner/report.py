"""HTML reports of a run: each executed notebook rendered without its code, and an index (status,
notebooks, the champion decision and where the lists came from, the exports)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from src.fileio import write_text_atomic
from src.layout import RunLayout
from src.runner.publication import promotion_lines


def render_notebook_html(notebook: Path, *, show_code: bool = False) -> Path:
    """Render an executed notebook to ``<same name>.html`` (code cells hidden by default)."""
    exporter = HTMLExporter(exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text_atomic(notebook.with_suffix(".html"), body)


def render_reports(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Render every executed notebook of the run and write ``index.html`` linking them,
    the exports and the manifest."""
    rows = []
    for entry in manifest["notebooks"]:
        nb = RunLayout(run_dir).notebook_file(entry['name'])
        link = html.escape(entry["name"])
        if nb.exists():
            render_notebook_html(nb)
            link = f'<a href="{html.escape(nb.with_suffix(".html").name)}">{link}</a>'
        secs, peak = entry.get("seconds"), entry.get("peak_rss_mb")
        state = entry["status"] + (f": {entry['reason']}" if entry.get("reason") else "")
        rows.append(f"<tr><td>{link}</td><td>{html.escape(state)}</td>"
                    f"<td>{'' if secs is None else f'{secs:.1f}'}</td>"
                    f"<td>{'' if peak is None else f'{peak:.0f}'}</td></tr>")
    folder = RunLayout(run_dir).exports_dir
    exports = (sorted(p for p in folder.glob("*") if not p.name.startswith("."))
               if folder.exists() else [])
    export_items = "".join(f'<li><a href="exports/{html.escape(p.name)}">{html.escape(p.name)}</a></li>'
                           for p in exports) or "<li>none</li>"
    if manifest.get("exports_withdrawn"):
        export_items += ("<li>withdrawn because the run failed (not published): "
                         + html.escape(", ".join(manifest["exports_withdrawn"])) + "</li>")
    champion = promotion_lines(manifest)
    champion_html = ""
    if champion:
        items = "".join(f"<li>{html.escape(line.strip().removeprefix('- '))}</li>"
                        for line in champion[1:])
        champion_html = (f"<h2>Champion decision</h2><p>{html.escape(champion[0])}</p>"
                         + (f"<ul>{items}</ul>" if items else ""))
    err = manifest.get("error")
    err_html = ""
    if err:
        err_html = (f"<h2>Failure</h2><p><b>{html.escape(str(err.get('notebook')))}</b>, cell "
                    f"{html.escape(str(err.get('cell')))}: {html.escape(str(err.get('exception')))}: "
                    f"{html.escape(str(err.get('message')))}</p>")
    secs = manifest.get("duration_seconds")
    duration_html = "" if secs is None else f", took {float(secs):.0f} s"
    warnings = manifest.get("warnings") or []
    warnings_html = "" if not warnings else (
        "<h2>Warnings about the input</h2><ul>" + "".join(
            f"<li>{html.escape(str(w.get('table')))}: {html.escape(str(w.get('message')))}; "
            f"fix: <code>{html.escape(str(w.get('fix')))}</code></li>" for w in warnings)
        + "</ul>")
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Run {html.escape(manifest['run_id'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 12px;text-align:left}}</style>
</head><body><h1>Run {html.escape(manifest['run_id'])}</h1>
<p>job <b>{html.escape(manifest['job'])}</b>, status <b>{html.escape(str(manifest.get('status')))}</b>,
started {html.escape(str(manifest.get('started_at')))}{duration_html}</p>{err_html}
{warnings_html}
{champion_html}
<h2>Notebooks</h2><table><tr><th>notebook</th><th>status</th><th>seconds</th><th>peak MB</th></tr>{''.join(rows)}</table>
<h2>Exports</h2><ul>{export_items}</ul>
<p><a href="manifest.json">manifest.json</a> · <a href="params.yaml">params.yaml</a></p>
</body></html>"""
    return write_text_atomic(RunLayout(run_dir).index_file, page)
