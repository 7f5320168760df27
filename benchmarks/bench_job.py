"""Whole-job benchmark: ``crm run`` of the scale job end to end, per notebook.

    python benchmarks/bench_job.py                          # 100k and 1M customers
    python benchmarks/bench_job.py --sizes 500              # smoke test
    python benchmarks/bench_job.py --params params/demo.yaml --records out.jsonl

For each size, runs ``crm run <params> --set data.synthetic.n_customers=N --quiet`` (the job
of ``params/scale_1m.yaml`` by default, only its size overridden) in its own process, with its
run folder (``CRM_OUTPUT_DIR``) and MLflow store (``MLFLOW_TRACKING_URI``, SQLite) in a
temporary folder, so benchmark runs leave nothing in the project. Then reads the run's
``manifest.json``: the job's duration and, per notebook, its seconds and the peak RSS of its
kernel. Prints a markdown table: total wall seconds (around ``crm run``), the manifest's
duration, the peak RSS (the largest over the notebooks) and one column of seconds per
notebook. With ``--records PATH`` also appends JSON lines (see _common.py): "whole job" and
one "job: <notebook>" per notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import (  # noqa: E402
    PROJECT_ROOT,
    add_records_argument,
    child_env,
    measure_process,
    record,
    write_records,
)

DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_PARAMS = PROJECT_ROOT / "params" / "scale_1m.yaml"


def run_size(n_customers: int, params: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run the job once at ``n_customers`` in a throw-away output folder and MLflow store.

    Returns
    -------
    dict with ``customers``, ``status`` (the manifest's, or why there is none), ``exit_code``,
    ``wall_s`` (around ``crm run``), ``duration_s`` (the manifest's), ``peak_rss_mb`` (the
    largest notebook peak) and ``notebooks``: a list of {name, status, seconds, peak_rss_mb}.
    """
    cmd = [sys.executable, "-m", "src.cli", "run", str(params),
           "--set", f"data.synthetic.n_customers={n_customers}", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp:
        env = child_env({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
                         "CRM_OUTPUT_DIR": f"{tmp}/outputs"})
        proc = measure_process(cmd, timeout, env=env)
        manifests = sorted(Path(tmp, "outputs", "runs").glob("*/manifest.json"))
        manifest = json.loads(manifests[-1].read_text(encoding="utf-8")) if manifests else {}
    notebooks = [{"name": nb["name"], "status": nb.get("status"), "seconds": nb.get("seconds"),
                  "peak_rss_mb": nb.get("peak_rss_mb")} for nb in manifest.get("notebooks", [])]
    peaks = [nb["peak_rss_mb"] for nb in notebooks if nb["peak_rss_mb"] is not None]
    if proc.returncode is None:
        status = f"timed out after {timeout:.0f} s"
    elif manifest:
        status = manifest.get("status") or "unknown"
    else:
        last = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        status = "no manifest: " + (last[-1][:160] if last else f"exit code {proc.returncode}")
    return {"customers": n_customers, "status": status, "exit_code": proc.returncode,
            "wall_s": proc.wall_s, "duration_s": manifest.get("duration_seconds"),
            "peak_rss_mb": max(peaks) if peaks else None, "notebooks": notebooks,
            "stderr_tail": proc.stderr[-2000:] if proc.returncode else ""}


def _cell(value: float | None, fmt: str = "{:.1f}") -> str:
    return "" if value is None else fmt.format(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One row per size; one seconds column per notebook (in the job's order)."""
    names: list[str] = []
    for r in rows:
        names += [nb["name"] for nb in r["notebooks"] if nb["name"] not in names]
    head = ["customers", "status", "total wall s", "job duration s (manifest)",
            "peak RSS MB (max over notebooks)", *(f"{name} s" for name in names)]
    lines = ["| " + " | ".join(head) + " |",
             "|---:|---|" + "---:|" * (len(head) - 2)]
    for r in rows:
        secs = {nb["name"]: nb["seconds"] for nb in r["notebooks"]}
        cells = [f"{r['customers']:,}", r["status"], _cell(r["wall_s"]), _cell(r["duration_s"]),
                 _cell(r["peak_rss_mb"], "{:,.0f}"), *(_cell(secs.get(name)) for name in names)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """"whole job" and one "job: <notebook>" record per size (the schema of _common.py)."""
    out = []
    for r in rows:
        ok = r["status"] == "succeeded"
        out.append(record("job", "whole job", r["customers"], r["wall_s"] if ok else None,
                          r["peak_rss_mb"], notes="" if ok else r["status"]))
        for nb in r["notebooks"]:
            out.append(record("job", f"job: {nb['name']}", r["customers"], nb["seconds"],
                              nb["peak_rss_mb"],
                              notes="" if nb["status"] == "succeeded" else str(nb["status"])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                    help="numbers of customers (default: 100000 1000000)")
    ap.add_argument("--params", type=Path, default=DEFAULT_PARAMS,
                    help="job params file (default: params/scale_1m.yaml)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per job run")
    add_records_argument(ap)
    args = ap.parse_args(argv)
    params = args.params.resolve()
    shown = params.relative_to(PROJECT_ROOT) if params.is_relative_to(PROJECT_ROOT) else params
    print(f"## Whole job: crm run {shown} --set data.synthetic.n_customers=N\n")
    print("One process per size; run folder and MLflow store in a temporary folder; peak RSS "
          "is each notebook's kernel high-water mark (manifest).\n", flush=True)
    rows = []
    for n in args.sizes:
        rows.append(run_size(n, params, args.timeout))
        print(f"  [{n:,}] {rows[-1]['status']} ({rows[-1]['wall_s']:.1f} s)", flush=True)
    print()
    print(markdown_table(rows))
    for r in rows:
        if r["stderr_tail"]:
            print(f"\n{r['customers']:,} customers, stderr (tail):\n{r['stderr_tail']}",
                  file=sys.stderr)
    write_records(args.records, records(rows))
    return 0 if all(r["status"] == "succeeded" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
