"""The benchmark history: runs appended with their header, the newest compared with the last
one that measured the same cases, ratios to a peer first, a figure 20 % worse flagged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from src.paths import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
_spec = importlib.util.spec_from_file_location("bench_history_under_test", BENCH / "history.py")
history = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(history)


def _rec(impl: str, wall: float, case: str = "BG/NBD fit") -> dict:
    return {"benchmark": "btyd", "case": case, "customers": 1_000_000, "implementation": impl,
            "wall_s": wall, "peak_rss_mb": 300.0, "notes": ""}


def test_runs_are_appended_with_their_header_and_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.append_run([_rec("ours", 0.44), _rec("lifetimes", 10.1)], path,
                       header={"commit": "aaa", "at": "2026-11-25T10:00:00Z", "load_average": 0.4})
    history.append_run([_rec("ours", 0.55)], path,
                       header={"commit": "bbb", "at": "2026-12-07T10:00:00Z", "load_average": 0.5})
    runs = history.runs(path)
    assert [h["commit"] for h, _ in runs] == ["aaa", "bbb"]
    assert [len(r) for _, r in runs] == [2, 1] and runs[0][1][1]["wall_s"] == 10.1


def test_a_ratio_that_fell_and_a_time_that_rose_are_flagged() -> None:
    before = [_rec("ours", 0.44), _rec("lifetimes", 10.1), _rec("ours", 0.28, "score")]
    now = [_rec("ours", 0.55), _rec("lifetimes", 8.2), _rec("ours", 0.30, "score")]
    rows = {(r["figure"], r["case"]): r for r in history.compare(now, before)}
    ratio = rows[("lifetimes / ours", "BG/NBD fit")]
    assert round(ratio["before"], 2) == 22.95 and round(ratio["now"], 2) == 14.91
    assert ratio["flag"] and round(ratio["change"], 2) == -0.35
    assert rows[("ours, wall s", "BG/NBD fit")]["flag"]          # +25 %
    assert not rows[("ours, wall s", "score")]["flag"]           # +7 %: within 20 %
    table = history.compare_table(list(rows.values()), {"commit": "aaa", "at": "x"},
                                  {"commit": "bbb", "at": "y"})
    assert "| lifetimes / ours | btyd | BG/NBD fit | 1,000,000 | 23.0x | 14.9x | -35% | WORSE |" in table
