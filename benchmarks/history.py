"""The benchmark history: every recorded run appended to ``benchmarks/history.jsonl`` with its
commit, date, machine and load average, and a comparison of the newest run with the last one
before it that measured the same cases.

    python benchmarks/history.py append records.jsonl      # what benchmarks/run.py --history does
    python benchmarks/history.py compare                   # newest run vs the one before (make bench-compare)
    python benchmarks/history.py compare --new records.jsonl   # a run not yet appended vs the newest

The comparison looks at each peer's ratio first (peer wall time over ours, both measured in the
same run, so the machine's speed cancels out), absolute wall seconds second, as airspeed
velocity does for numpy and pandas; a figure more than :data:`WORSE` worse is flagged. Ratios
are the figure to trust across machines; absolute times only on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, machine_line, read_records  # noqa: E402

sys.path.insert(0, str(PROJECT_ROOT))  # src, as every benchmark script imports it

HISTORY = Path(__file__).resolve().parent / "history.jsonl"
WORSE = 0.20
"""A figure this much worse than in the last run that measured it is flagged."""
OURS = "ours"

Key = tuple[str, str, int, str]


def _commit() -> str:
    from src.runner.provenance import git_commit

    return git_commit()["commit"] or "unknown"


def run_header(label: str = "") -> dict[str, Any]:
    """What identifies a run: commit, UTC time, machine, load average at the start."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"commit": _commit(), "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_line(), "load_average": load, "label": label}


def append_run(records: Iterable[dict[str, Any]], path: Path = HISTORY, *,
               header: dict[str, Any] | None = None) -> int:
    """Append one run's records to the history, each line ``{"run": header, **record}``;
    returns the number of lines written."""
    header = header or run_header()
    lines = [json.dumps({"run": header, **r}) for r in records]
    if lines:
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return len(lines)


def runs(path: Path = HISTORY) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The runs of the history in order: (header, records)."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for line in read_records(path):
        header = line.pop("run")
        if not out or out[-1][0] != header:
            out.append((header, []))
        out[-1][1].append(line)
    return out


def _key(r: dict[str, Any]) -> Key:
    return (r["benchmark"], r["case"], int(r["customers"]), r["implementation"])


def _ratios(records: list[dict[str, Any]]) -> dict[Key, float]:
    """Peer wall time over ours in the same run, by the peer's key."""
    ours = {k[:3]: r["wall_s"] for r in records if (k := _key(r))[3] == OURS and r["wall_s"]}
    return {k: r["wall_s"] / ours[k[:3]] for r in records
            if (k := _key(r))[3] != OURS and r["wall_s"] and k[:3] in ours}


def compare(new: list[dict[str, Any]], old: list[dict[str, Any]],
            worse: float = WORSE) -> list[dict[str, Any]]:
    """Rows of the comparison: each peer ratio, then each of our wall times, measured in both.

    A ratio is worse when it fell (ours got slower against the peer), a time when it rose;
    ``flag`` is set beyond ``worse`` (a share)."""
    rows = []
    new_r, old_r = _ratios(new), _ratios(old)
    for k in sorted(set(new_r) & set(old_r)):
        change = new_r[k] / old_r[k] - 1.0
        rows.append({"figure": f"{k[3]} / ours", "benchmark": k[0], "case": k[1],
                     "customers": k[2], "before": old_r[k], "now": new_r[k], "change": change,
                     "flag": change < -worse, "unit": "x"})
    old_t = {_key(r): r["wall_s"] for r in old if r["wall_s"]}
    for r in new:
        k = _key(r)
        if k[3] != OURS or not r["wall_s"] or k not in old_t:
            continue
        change = r["wall_s"] / old_t[k] - 1.0
        rows.append({"figure": "ours, wall s", "benchmark": k[0], "case": k[1],
                     "customers": k[2], "before": old_t[k], "now": r["wall_s"],
                     "change": change, "flag": change > worse, "unit": "s"})
    return rows


def compare_table(rows: list[dict[str, Any]], before: dict[str, Any],
                  now: dict[str, Any]) -> str:
    """The comparison as markdown, with the two runs named."""
    def fmt(v: float, unit: str) -> str:
        return f"{v:.1f}x" if unit == "x" else (f"{v:.3f}" if v < 1 else f"{v:.2f}")

    lines = [f"before: {before['commit']} at {before['at']} (load {before.get('load_average')})",
             f"now:    {now['commit']} at {now['at']} (load {now.get('load_average')})", "",
             "| figure | benchmark | case | customers | before | now | change | |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['benchmark']} | {r['case']} | {r['customers']:,} | "
                     f"{fmt(r['before'], r['unit'])} | {fmt(r['now'], r['unit'])} | "
                     f"{r['change']:+.0%} | {'WORSE' if r['flag'] else ''} |")
    if not rows:
        lines.append("| (no figure measured in both runs) | | | | | | | |")
    return "\n".join(lines)


def _last_measuring(history: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                    new: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    keys = {_key(r) for r in new}
    for header, records in reversed(history):
        if keys & {_key(r) for r in records}:
            return header, records
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("append", help="append a records file (benchmarks/run.py --records) as one run")
    a.add_argument("records", type=Path)
    a.add_argument("--label", default="")
    a.add_argument("--history", type=Path, default=HISTORY)
    c = sub.add_parser("compare", help="the newest run against the last one before it")
    c.add_argument("--new", type=Path, help="a records file not yet in the history")
    c.add_argument("--history", type=Path, default=HISTORY)
    args = ap.parse_args(argv)
    if args.command == "append":
        n = append_run(read_records(args.records), args.history, header=run_header(args.label))
        print(f"{n} records appended to {args.history}")
        return 0
    history = runs(args.history)
    if args.new is not None:
        now, new = run_header("not yet appended"), read_records(args.new)
    elif history:
        now, new = history.pop()
    else:
        print(f"no runs in {args.history}; run make bench first")
        return 1
    found = _last_measuring(history, new)
    if found is None:
        print(f"no earlier run in {args.history} measured these cases")
        return 1
    rows = compare(new, found[1])
    print(compare_table(rows, found[0], now))
    flagged = [r for r in rows if r["flag"]]
    if flagged:
        print(f"\n{len(flagged)} figure(s) more than {WORSE:.0%} worse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
