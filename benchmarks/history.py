"""The benchmark history: every recorded run appended to ``benchmarks/history.jsonl`` with its
commit, date, machine and load average, and a comparison of the newest run with the last one
before it that measured the same cases.

    python benchmarks/history.py append records.jsonl      # what benchmarks/run.py --history does
    python benchmarks/history.py compare                   # newest run vs the one before (make bench-compare)
    python benchmarks/history.py compare --new records.jsonl   # a run not yet appended vs the newest
    python benchmarks/history.py readme                    # rewrite benchmarks/README.md's tables (make bench-readme)

A run's header (commit, date, machine, load average) is taken when the run starts:
``benchmarks/run.py --records PATH`` keeps it beside the records (:func:`header_path`) and
``append`` records that one, so the load average is the machine's before the benchmarks loaded
it, also when several run.py calls fill one records file (make bench-quick).

The comparison looks at each peer's ratio first (peer wall time over ours, both measured in the
same run, so the machine's speed cancels out), absolute wall seconds second, as airspeed
velocity does for numpy and pandas; a figure more than :data:`WORSE` worse is flagged. Ratios
are the figure to trust across machines; absolute times only on the same machine.

``readme`` rewrites the part of ``benchmarks/README.md`` between :data:`BEGIN` and :data:`END`
from the history: the newest figure of each case with its run, and before/after tables of the
runs labelled ``before...`` and ``after...`` (``append --label``); the prose around it is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, machine_line, read_records  # noqa: E402

sys.path.insert(0, str(PROJECT_ROOT))  # src, as every benchmark script imports it

HISTORY = Path(__file__).resolve().parent / "history.jsonl"
README = Path(__file__).resolve().parent / "README.md"
BEGIN = "<!-- generated from history.jsonl: do not edit by hand -->"
END = "<!-- end generated -->"
WORSE = 0.20
"""A figure this much worse than in the last run that measured it is flagged."""
OURS = "ours"

Key = tuple[str, str, int, str]
Run = tuple[dict[str, Any], list[dict[str, Any]]]
"""One run of the history: its header and its records."""


def _commit() -> str:
    from src.runner.provenance import git_commit

    return git_commit()["commit"] or "unknown"


def run_header(label: str = "") -> dict[str, Any]:
    """What identifies a run: commit, UTC time, machine and load average, all taken now (call
    it when the run starts: :func:`start_run`)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"commit": _commit(), "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_line(), "load_average": load, "label": label}


def header_path(records: Path) -> Path:
    """Where the header of the run filling a records file is kept: ``x.jsonl`` -> ``x.run.json``."""
    return records.with_name(f"{records.stem}.run.json")


def start_run(records: Path, *, fresh: bool = True) -> dict[str, Any]:
    """The header of the run that fills ``records``, kept beside it for ``append``.

    Taken now when the records file is started (``fresh``) or has no header yet; when more
    records are added to a started file (``run.py --append``), the header kept at its start.
    """
    path = header_path(records)
    if not fresh and path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    header = run_header()
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    return header


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


def runs(path: Path = HISTORY) -> list[Run]:
    """The runs of the history in order: (header, records)."""
    out: list[Run] = []
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


def _figure(v: float, unit: str) -> str:
    return f"{v:.1f}x" if unit == "x" else (f"{v:.3f}" if v < 1 else f"{v:.2f}")


def _load(header: dict[str, Any]) -> str:
    load = header.get("load_average")
    return "–" if load is None else f"{load:.2f}"


def _rows_table(rows: list[dict[str, Any]], now: str = "now") -> list[str]:
    lines = [f"| figure | benchmark | case | customers | before | {now} | change | |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['benchmark']} | {r['case']} | {r['customers']:,} | "
                     f"{_figure(r['before'], r['unit'])} | {_figure(r['now'], r['unit'])} | "
                     f"{r['change']:+.0%} | {'WORSE' if r['flag'] else ''} |")
    if not rows:
        lines.append("| (no figure measured in both runs) | | | | | | | |")
    return lines


def compare_table(rows: list[dict[str, Any]], before: dict[str, Any],
                  now: dict[str, Any]) -> str:
    """The comparison as markdown, with the two runs named."""
    return "\n".join([f"before: {before['commit']} at {before['at']} (load {_load(before)})",
                      f"now:    {now['commit']} at {now['at']} (load {_load(now)})", "",
                      *_rows_table(rows)])


def _last_measuring(history: list[Run], new: list[dict[str, Any]]) -> Run | None:
    keys = {_key(r) for r in new}
    for header, records in reversed(history):
        if keys & {_key(r) for r in records}:
            return header, records
    return None


def latest(history: list[Run]) -> list[tuple[dict[str, Any], dict[str, Any], float | None]]:
    """The newest measured record of each case and implementation: (its run's header, the
    record, the peer's wall time over ours in that run or None), ordered as run.py's combined
    table (benchmark, case, customers, ours first). A case that did not run (``wall_s`` null,
    e.g. a peer not installed) keeps the last figure measured."""
    newest: dict[Key, tuple[dict[str, Any], dict[str, Any], float | None]] = {}
    for header, records in history:
        ratios = _ratios(records)
        for r in records:
            if r["wall_s"] is not None:
                newest[_key(r)] = (header, r, ratios.get(_key(r)))
    order = sorted(newest, key=lambda k: (k[0], k[1].casefold(), k[2], k[3] != OURS,
                                          k[3].casefold()))
    return [newest[k] for k in order]


def before_after(history: list[Run]) -> list[tuple[Run, Run]]:
    """Pairs of labelled runs, newest first: each run labelled ``after...`` with the last run
    before it labelled ``before...`` that measured some of the same cases."""
    def labelled(header: dict[str, Any], word: str) -> bool:
        return str(header.get("label") or "").casefold().startswith(word)

    pairs = []
    for i, (header, records) in enumerate(history):
        if labelled(header, "after"):
            found = _last_measuring([r for r in history[:i] if labelled(r[0], "before")], records)
            if found is not None:
                pairs.append((found, (header, records)))
    return pairs[::-1]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _when(header: dict[str, Any]) -> str:
    return str(header["at"]).replace("T", " ").removesuffix("Z")[:16]


def _machine(header: dict[str, Any]) -> str:
    """The machine without the load average machine_line appends (it has its own column)."""
    return re.sub(r", load average [\d.]+$", "", str(header.get("machine", "")))


def generated_tables(history: list[Run]) -> str:
    """The generated part of benchmarks/README.md: the runs of the history, the newest figure
    of each case, and the before/after pairs."""
    if not history:
        return "(no runs in benchmarks/history.jsonl yet: make bench)"
    lines = ["### Runs in the history", "",
             "| commit | date (UTC) | label | cases | machine | load average at the start |",
             "|---|---|---|---:|---|---:|"]
    for header, records in history:
        lines.append(f"| `{header['commit']}` | {_when(header)} | "
                     f"{_cell(header.get('label') or '')} | {len(records)} | "
                     f"{_cell(_machine(header))} | {_load(header)} |")
    lines += ["", "### Newest figure of each case", "",
              "| benchmark | case | customers | implementation | wall s | peak MB | × vs ours "
              "| commit | date (UTC) | load | notes |",
              "|---|---|---:|---|---:|---:|---:|---|---|---:|---|"]
    for header, r, ratio in latest(history):
        peak = "–" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:,.0f}"
        lines.append(f"| {r['benchmark']} | {_cell(r['case'])} | {int(r['customers']):,} | "
                     f"{_cell(r['implementation'])} | {_figure(r['wall_s'], 's')} | {peak} | "
                     f"{'–' if ratio is None else _figure(ratio, 'x')} | `{header['commit']}` | "
                     f"{_when(header)} | {_load(header)} | {_cell(r.get('notes') or '')} |")
    lines += ["", "wall s: the measured step as its script times it; × vs ours: the peer's wall "
              "s over ours in the same run; load: the load average when that run started "
              "(machine in the runs table)."]
    pairs = before_after(history)
    if pairs:
        lines += ["", "### Before and after", ""]
    for (before, old), (after, new) in pairs:
        lines += [f"- before: `{before['commit']}`, {_when(before)} UTC, load {_load(before)}: "
                  f"{_cell(before.get('label'))}",
                  f"- after: `{after['commit']}`, {_when(after)} UTC, load {_load(after)}: "
                  f"{_cell(after.get('label'))}", "", *_rows_table(compare(new, old), "after"),
                  ""]
    if pairs:
        lines.pop()
    return "\n".join(lines)


def render_readme(text: str, history: list[Run]) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by the
    :func:`generated_tables` of ``history``; everything else is kept as it is.

    Raises
    ------
    ValueError : the markers are missing, repeated or out of order.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"benchmarks/README.md needs one line {BEGIN!r} and, after it, one "
                         f"line {END!r}: the generated tables go between them")
    head, rest = text.split(BEGIN)
    tail = rest.split(END)[1]
    return f"{head}{BEGIN}\n{generated_tables(history)}\n{END}{tail}"


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
    r = sub.add_parser("readme", help="rewrite the generated tables of benchmarks/README.md")
    r.add_argument("--history", type=Path, default=HISTORY)
    r.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    if args.command == "append":
        kept = header_path(args.records)
        if kept.exists():
            header = json.loads(kept.read_text(encoding="utf-8"))
        else:
            header = run_header()
            print(f"note: no run header at {kept} (benchmarks/run.py --records writes it when "
                  "the run starts); commit, date and load average are taken now")
        n = append_run(read_records(args.records), args.history,
                       header={**header, "label": args.label})
        print(f"{n} records appended to {args.history}")
        return 0
    history = runs(args.history)
    if args.command == "readme":
        text = args.readme.read_bytes().decode("utf-8")  # bytes: line endings kept as they are
        new_text = render_readme(text, history)
        if new_text != text:
            args.readme.write_bytes(new_text.encode("utf-8"))
        print(f"{args.readme}: {'rewritten' if new_text != text else 'up to date'} from "
              f"{len(history)} runs in {args.history}")
        return 0
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
