"""Run every benchmark script in this folder, print their tables and one combined table.

    python benchmarks/run.py                    # default sizes of each script (100k and 1M)
    python benchmarks/run.py --sizes 2000       # tiny: the smoke tests use this
    python benchmarks/run.py --only btyd job
    python benchmarks/run.py --records results.jsonl    # keep the records (default: a temp file)
    python benchmarks/run.py --skip score10m --peer-python /path/to/peers/bin/python \
        --records results.jsonl --append              # after bench_score10m.py --records results.jsonl

Each ``bench_<name>.py`` is a script with ``--sizes`` that prints a markdown table; each runs
its cases in subprocesses and reports wall seconds and peak memory. A script that accepts
``--records PATH`` (its source mentions ``--records``) is given the records file and appends
one JSON line per measured case (schema in ``_common.py``); after every script has run, the
records are printed as one combined table with the ratio of each peer's wall time to ours. A
script without that option still runs, and the output says it is missing from the combined
table. Timings are never asserted in tests. With ``--history`` the records are appended to
benchmarks/history.jsonl under the run's header, taken when the run starts (``--records`` keeps
it beside the records file for ``history.py append``); benchmarks/README.md's tables are
generated from that history (``history.py readme``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import PROJECT_ROOT, machine_line, read_records  # noqa: E402
from history import append_run, run_header, start_run  # noqa: E402

HERE = Path(__file__).resolve().parent
OURS = "ours"


def scripts() -> dict[str, Path]:
    """The benchmark scripts of this folder by name (``bench_<name>.py``)."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def accepts_records(path: Path) -> bool:
    """Whether a script takes ``--records PATH`` (its source mentions the option)."""
    return "--records" in path.read_text(encoding="utf-8")


def _seconds(v: float | None) -> str:
    if v is None:
        return "–"
    if v < 0.001:
        return f"{v:.1e}"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:,.0f}"


def combined_table(records: list[dict[str, Any]]) -> str:
    """One markdown table of all records: a row per (benchmark, case, customers,
    implementation), ours first in each group, with each peer's wall time over ours.

    Groups are sorted by benchmark, case and customers; "× vs ours" is "–" for ours itself,
    when ours is absent from the group, or when either time is missing.
    """
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["benchmark"], r["case"], r["customers"])].append(r)
    lines = ["| benchmark | case | customers | implementation | wall s | peak MB | × vs ours "
             "| notes |", "|---|---|---:|---|---:|---:|---:|---|"]
    for key in sorted(groups, key=lambda k: (k[0], k[1].casefold(), k[2])):
        rows = sorted(groups[key], key=lambda r: (r["implementation"] != OURS,
                                                  r["implementation"].casefold()))
        ours = next((r["wall_s"] for r in rows if r["implementation"] == OURS and r["wall_s"]),
                    None)
        for r in rows:
            ratio = "–"
            if r["implementation"] != OURS and ours and r["wall_s"] is not None:
                ratio = f"{r['wall_s'] / ours:.2f}×"
            peak = "–" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:,.0f}"
            lines.append(f"| {r['benchmark']} | {r['case']} | {r['customers']:,} | "
                         f"{r['implementation']} | {_seconds(r['wall_s'])} | {peak} | {ratio} | "
                         f"{r.get('notes') or ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    found = scripts()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", help="customers per case (default: each script's)")
    ap.add_argument("--only", nargs="+", choices=sorted(found), help="run only these benchmarks")
    ap.add_argument("--records", type=Path, metavar="PATH",
                    help="keep the JSON-lines records of this run here (overwritten; "
                         "default: a new temporary file)")
    ap.add_argument("--append", action="store_true",
                    help="add to the --records file instead of overwriting it (e.g. after a "
                         "separate 10M scoring run), the combined table shows both")
    ap.add_argument("--peer-python", metavar="PYTHON",
                    help="interpreter of a virtualenv with the peer libraries (lifetimes, "
                         "pymc-marketing), for the scripts that take --peer-python")
    ap.add_argument("--skip", nargs="+", choices=sorted(found), default=[],
                    help="run every benchmark but these")
    ap.add_argument("--history", type=Path, metavar="PATH",
                    help="append this run's records, with its commit, date, machine and load "
                         "average, to the history file (benchmarks/history.jsonl: make bench)")
    args = ap.parse_args(argv)
    if args.records:
        records_path = args.records.resolve()
        fresh = not (args.append and records_path.exists())
        if fresh:
            records_path.write_text("", encoding="utf-8")
        # commit, date and load average before any benchmark ran, kept beside the records for
        # history.py append (with --append: those of the run that started the file)
        header = start_run(records_path, fresh=fresh)
    else:
        with tempfile.NamedTemporaryFile(prefix="bench-records-", suffix=".jsonl",
                                         delete=False) as f:
            records_path = Path(f.name)
        header = run_header()  # the load average at the start
    print(f"# benchmarks on {machine_line()}\n", flush=True)
    failed, without_records = [], []
    for name, path in found.items():
        if (args.only and name not in args.only) or name in args.skip:
            continue
        cmd = [sys.executable, str(path)] + (["--sizes", *map(str, args.sizes)] if args.sizes else [])
        if args.peer_python and "--peer-python" in path.read_text(encoding="utf-8"):
            cmd += ["--peer-python", args.peer_python]
        if accepts_records(path):
            cmd += ["--records", str(records_path)]
        else:
            without_records.append(name)
        print(f"## {name}\n", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd, cwd=PROJECT_ROOT)
        print(f"\n({name}: {time.perf_counter() - t0:.1f} s, exit code {code})\n", flush=True)
        if code:
            failed.append(name)

    print("## combined\n")
    records = read_records(records_path)
    print(combined_table(records) if records else "(no records)")
    print("\nwall s: the measured step as its script times it (\"whole job\": around the "
          "whole crm run process); peak MB: peak RSS of the process that ran the case (steps "
          "run in one process share it); × vs ours: peer wall s / ours wall s.")
    for name in without_records:
        print(f"note: {name} has no --records option; its table above is not in the combined "
              "table.")
    print(f"records: {records_path}", flush=True)
    if args.history and records:
        n = append_run(records, args.history, header=header)
        print(f"history: {n} records appended to {args.history} (make bench-compare)")
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
