"""The benchmark history: runs appended with their header, the newest compared with the last
one that measured the same cases, ratios to a peer first, a figure 20 % worse flagged."""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
_spec = importlib.util.spec_from_file_location("bench_history_under_test", BENCH / "history.py")
history = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(history)


def _rec(impl: str, wall: float | None, case: str = "BG/NBD fit") -> dict:
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


def _header(commit: str, at: str, label: str = "", load: float = 0.4) -> dict:
    return {"commit": commit, "at": at, "machine": "Linux, 2 CPUs, 23.5 GB RAM, python 3.11.7",
            "load_average": load, "label": label}


def test_benchmarks_readme_is_what_history_py_readme_writes_from_the_history() -> None:
    text = history.README.read_bytes().decode("utf-8")  # bytes: a line ending counts too
    expected = history.render_readme(text, history.runs(history.HISTORY))
    if expected != text:
        diff = "".join(difflib.unified_diff(text.splitlines(keepends=True),
                                            expected.splitlines(keepends=True),
                                            "benchmarks/README.md", "history.py readme", n=1))
        pytest.fail("the generated tables of benchmarks/README.md differ from what "
                    "benchmarks/history.jsonl gives: run `make bench-readme` (edit the prose "
                    f"around the markers, never the tables between them)\n{diff[:4000]}")


def test_readme_command_writes_the_tables_and_keeps_the_prose_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.append_run([_rec("ours", 0.5), _rec("lifetimes", 10.0)], path,
                       header=_header("aaa", "2026-11-25T10:00:00Z"))
    readme = tmp_path / "README.md"
    prose = "# Benchmarks\r\n\r\nprose written on Windows\r\n"  # no newline translation
    readme.write_bytes(f"{prose}{history.BEGIN}\nold\n{history.END}\r\nafter\r\n".encode())
    assert history.main(["readme", "--history", str(path), "--readme", str(readme)]) == 0
    expected = (f"{prose}{history.BEGIN}\n{history.generated_tables(history.runs(path))}\n"
                f"{history.END}\r\nafter\r\n")
    assert readme.read_bytes() == expected.encode()
    assert history.main(["readme", "--history", str(path), "--readme", str(readme)]) == 0
    assert readme.read_bytes() == expected.encode()  # up to date: the same bytes again


def test_render_readme_replaces_only_what_is_between_the_markers() -> None:
    run = [(_header("aaa", "2026-11-25T10:00:00Z"), [_rec("ours", 0.5), _rec("lifetimes", 10.0)])]
    head = "# Benchmarks\n\nProse before, | with a pipe.\n\n"
    tail = "\n\n## By hand\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    out = history.render_readme(f"{head}{history.BEGIN}\nstale table\n{history.END}{tail}", run)
    assert out == f"{head}{history.BEGIN}\n{history.generated_tables(run)}\n{history.END}{tail}"
    assert "stale table" not in out and "| `aaa` | 2026-11-25 10:00 |" in out
    assert history.render_readme(out, run) == out
    empty = history.render_readme(f"{history.BEGIN}\n{history.END}", [])
    assert empty == f"{history.BEGIN}\n(no runs in benchmarks/history.jsonl yet: make bench)\n{history.END}"


@pytest.mark.parametrize("text", [
    "prose without markers\n",
    f"only the start\n{history.BEGIN}\ntable\n",
    f"only the end\ntable\n{history.END}\n",
    f"{history.BEGIN}\na\n{history.END}\n{history.BEGIN}\nb\n{history.END}\n",
    f"{history.BEGIN}\n{history.BEGIN}\na\n{history.END}\n",
    f"{history.END}\ntable\n{history.BEGIN}\n",
], ids=["missing", "no end", "no begin", "doubled", "begin twice", "out of order"])
def test_render_readme_refuses_markers_missing_doubled_or_out_of_order(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(history.BEGIN)) as raised:
        history.render_readme(text, [])
    assert history.END in str(raised.value)


def test_latest_keeps_each_case_newest_figure_and_its_ratio_in_the_same_run(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.append_run([_rec("ours", 0.5), _rec("lifetimes", 10.0), _rec("ours", 0.3, "score")],
                       path, header=_header("aaa", "2026-11-25T10:00:00Z", load=0.4))
    history.append_run([_rec("ours", 0.4), _rec("lifetimes", None), _rec("pymc-marketing", 12.0)],
                       path, header=_header("bbb", "2026-12-01T10:00:00Z", load=0.9))
    history.append_run([_rec("ours", 0.25, "score")], path,
                       header=_header("ccc", "2026-12-07T10:00:00Z", load=1.2))
    runs = history.runs(path)
    got = [(h["commit"], r["case"], r["implementation"], r["wall_s"],
            None if ratio is None else round(ratio, 6)) for h, r, ratio in history.latest(runs)]
    assert got == [("bbb", "BG/NBD fit", "ours", 0.4, None),
                   # lifetimes did not run in bbb: its figure and ratio of aaa (10 / 0.5, not / 0.4)
                   ("aaa", "BG/NBD fit", "lifetimes", 10.0, 20.0),
                   ("bbb", "BG/NBD fit", "pymc-marketing", 12.0, 30.0),
                   ("ccc", "score", "ours", 0.25, None)]
    table = history.generated_tables(runs)
    assert ("| btyd | BG/NBD fit | 1,000,000 | lifetimes | 10.00 | 300 | 20.0x | `aaa` | "
            "2026-11-25 10:00 | 0.40 |  |") in table
    assert ("| btyd | BG/NBD fit | 1,000,000 | ours | 0.400 | 300 | – | `bbb` | "
            "2026-12-01 10:00 | 0.90 |  |") in table
    assert "| btyd | score | 1,000,000 | ours | 0.250 | 300 | – | `ccc` |" in table
    assert "| btyd | score | 1,000,000 | ours | 0.300 |" not in table
    assert "### Before and after" not in table  # no labelled pair


def test_an_after_run_is_paired_with_the_last_earlier_before_run_of_its_cases(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    fit = [_rec("ours", 0.5), _rec("lifetimes", 10.0)]
    history.append_run(fit, path, header=_header("b1", "2026-12-07T10:00:00Z", "before: 34 evaluations"))
    history.append_run([_rec("ours", 0.3, "score")], path,   # a later before, of another case
                       header=_header("b2", "2026-12-07T10:10:00Z", "Before: scoring"))
    history.append_run([_rec("ours", 0.45), _rec("lifetimes", 10.0)], path,   # unlabelled
                       header=_header("q1", "2026-12-07T10:20:00Z", "quick"))
    history.append_run([_rec("ours", 0.4), _rec("lifetimes", 10.0)], path,
                       header=_header("a1", "2026-12-07T10:30:00Z", "after: 25 evaluations", 0.7))
    history.append_run(fit, path,   # a before after the after run: not its pair
                       header=_header("b3", "2026-12-07T10:40:00Z", "before: the next change"))
    history.append_run([_rec("ours", 0.35, "score")], path,   # pairs with b2, of its case
                       header=_header("a2", "2026-12-07T10:50:00Z", "after (scoring)"))
    runs = history.runs(path)
    pairs = history.before_after(runs)
    assert [(b[0]["commit"], a[0]["commit"]) for b, a in pairs] == [("b2", "a2"), ("b1", "a1")]
    assert pairs[1][0][1] == fit

    table = history.generated_tables(runs)
    part = table.split("### Before and after", 1)[1]
    assert ("- before: `b1`, 2026-12-07 10:00 UTC, load 0.40: before: 34 evaluations\n"
            "- after: `a1`, 2026-12-07 10:30 UTC, load 0.70: after: 25 evaluations") in part
    assert "| lifetimes / ours | btyd | BG/NBD fit | 1,000,000 | 20.0x | 25.0x | +25% |  |" in part
    assert "| ours, wall s | btyd | BG/NBD fit | 1,000,000 | 0.500 | 0.400 | -20% |  |" in part
    assert "| ours, wall s | btyd | score | 1,000,000 | 0.300 | 0.350 | +17% |  |" in part
    assert "`q1`" not in part and "`b3`" not in part and "0.450" not in part
    assert part.index("`a2`") < part.index("`a1`")  # newest pair first


def test_start_run_keeps_the_header_taken_when_the_records_file_was_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load = [1.5]
    monkeypatch.setattr(history.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    monkeypatch.setattr(history, "_commit", lambda: "abc1234")
    records = tmp_path / "quick.jsonl"
    assert history.header_path(records) == tmp_path / "quick.run.json"

    first = history.start_run(records)
    assert first["load_average"] == 1.5 and first["commit"] == "abc1234"
    assert json.loads((tmp_path / "quick.run.json").read_text(encoding="utf-8")) == first
    load[0] = 3.0   # the benchmarks loaded the machine
    assert history.start_run(records, fresh=False) == first
    assert json.loads((tmp_path / "quick.run.json").read_text(encoding="utf-8")) == first
    assert history.start_run(tmp_path / "other.jsonl", fresh=False)["load_average"] == 3.0
    assert (tmp_path / "other.run.json").exists()   # not started yet: taken now and kept
    assert history.start_run(records)["load_average"] == 3.0   # a fresh start: taken again
    assert json.loads((tmp_path / "quick.run.json").read_text(encoding="utf-8"))["load_average"] == 3.0


def test_append_records_the_header_kept_at_the_start_of_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    load = [0.2]
    monkeypatch.setattr(history.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    monkeypatch.setattr(history, "_commit", lambda: "abc1234")
    records, path = tmp_path / "quick.jsonl", tmp_path / "history.jsonl"
    started = history.start_run(records)
    records.write_text("".join(json.dumps(r) + "\n" for r in [_rec("ours", 0.3), _rec("lifetimes", 7.5)]),
                       encoding="utf-8")
    load[0] = 1.9   # what the machine shows once the benchmarks ran
    assert history.main(["append", str(records), "--history", str(path), "--label", "quick"]) == 0
    (header, recs), = history.runs(path)
    assert header == {**started, "label": "quick"} and header["load_average"] == 0.2
    assert [r["wall_s"] for r in recs] == [0.3, 7.5]
    assert "no run header" not in capsys.readouterr().out

    unstarted = tmp_path / "by-hand.jsonl"   # no header kept: taken now, and said so
    unstarted.write_text(json.dumps(_rec("ours", 0.31)) + "\n", encoding="utf-8")
    assert history.main(["append", str(unstarted), "--history", str(path)]) == 0
    assert history.runs(path)[-1][0]["load_average"] == 1.9
    assert "no run header at" in capsys.readouterr().out
