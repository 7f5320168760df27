"""``crm schedule``: tagged crontab lines, written through a fake crontab (never the real one)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from src.cli import main
from src.commands.schedule import (
    ScheduleError,
    add_schedule,
    crm_executable,
    list_schedules,
    remove_schedule,
    validate_cron,
)

FAKE_CRONTAB = '''
import sys
from pathlib import Path
table = Path(sys.argv[1])
if sys.argv[2] == "-l":
    if not table.exists():
        sys.stderr.write("no crontab for tester\\n")
        sys.exit(1)
    sys.stdout.write(table.read_text())
elif sys.argv[2] == "-":
    table.write_text(sys.stdin.read())
'''
OTHER_LINES = "MAILTO=ops@example.org\n# backups\n15 1 * * * /usr/local/bin/backup --all\n"


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake crontab program keeping its table in tmp_path, set through $CRM_CRONTAB."""
    script = tmp_path / "fake_crontab.py"
    script.write_text(FAKE_CRONTAB, encoding="utf-8")
    table = tmp_path / "table"
    monkeypatch.setenv("CRM_CRONTAB", shlex.join([sys.executable, str(script), str(table)]))
    monkeypatch.setenv("CRM_OUTPUT_DIR", str(tmp_path / "outputs"))
    return table


@pytest.mark.parametrize("expr", ["0 3 * * 1", "*/15 * * * *", "0 0 1,15 * *", "30 2 * jan-mar mon-fri",
                                  "0 22 * * 0-7/2", "@daily", "  5   4 * * sun "])
def test_valid_cron_expressions(expr: str) -> None:
    assert validate_cron(expr) == " ".join(expr.split())


@pytest.mark.parametrize(("expr", "says"), [
    ("0 3 * *", "has 4 fields"),
    ("0 3 * * 1 2", "has 6 fields"),
    ("60 3 * * 1", "minute ('60'): 60 is outside 0-59"),
    ("0 24 * * 1", "hour ('24'): 24 is outside 0-23"),
    ("0 3 0 * *", "day of month ('0'): 0 is outside 1-31"),
    ("0 3 * 13 *", "month ('13'): 13 is outside 1-12"),
    ("0 3 * * 8", "day of week ('8'): 8 is outside 0-7"),
    ("0 3 * * mon-xyz", "not a number"),
    ("*/0 * * * *", "step '0'"),
    ("0 5-2 * * *", "runs backwards"),
    ("0 3 * * 1-", "malformed"),
    ("@fortnightly", "unknown cron macro"),
])
def test_invalid_cron_expressions_name_the_field(expr: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(says)):
        validate_cron(expr)


def test_add_list_replace_remove_keep_other_lines(crontab: Path, tmp_path: Path) -> None:
    crontab.write_text(OTHER_LINES, encoding="utf-8")
    entry = add_schedule("demo", "0 3 * * 1")
    text = crontab.read_text(encoding="utf-8")
    assert text.startswith(OTHER_LINES) and text.endswith("\n")
    line = text.splitlines()[-1]
    assert line == entry.line and line.endswith("# crm-schedule:demo")
    assert line.startswith("0 3 * * 1 cd ")
    assert f"{crm_executable()} run demo --quiet" in line  # the project's .venv/bin/crm
    log = tmp_path / "outputs" / "logs" / "demo.log"
    assert f">> {log} 2>&1" in line and log.parent.is_dir()
    assert f"CRM_OUTPUT_DIR={tmp_path / 'outputs'}" in line
    assert [(e.job, e.cron) for e in list_schedules()] == [("demo", "0 3 * * 1")]

    add_schedule("demo", "30 4 * * *", log=tmp_path / "nightly.log")  # replaces, not duplicates
    entries = list_schedules()
    assert [(e.job, e.cron) for e in entries] == [("demo", "30 4 * * *")]
    assert f">> {tmp_path / 'nightly.log'} 2>&1" in entries[0].line

    assert remove_schedule("demo") is True
    assert crontab.read_text(encoding="utf-8") == OTHER_LINES
    assert remove_schedule("demo") is False


def test_first_schedule_on_an_empty_crontab(crontab: Path) -> None:
    assert not crontab.exists() and list_schedules() == []
    add_schedule("demo", "@weekly")
    assert [(e.job, e.cron) for e in list_schedules()] == [("demo", "@weekly")]
    assert remove_schedule("demo") and crontab.read_text(encoding="utf-8") == ""


def test_percent_signs_are_escaped_for_cron(crontab: Path, tmp_path: Path) -> None:
    entry = add_schedule("demo", "0 3 * * 1", log=tmp_path / "run-%Y.log")
    assert r"run-\%Y.log" in entry.line


def test_broken_job_or_cron_is_not_scheduled(crontab: Path, tmp_path: Path) -> None:
    crontab.write_text(OTHER_LINES, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("job: bad\nnotebooks: [01_data_quality]\ndata: {synthetic: {n_customer: 5}}\n",
                   encoding="utf-8")
    assert main(["schedule", "add", str(bad), "--cron", "0 3 * * 1"]) == 2
    assert main(["schedule", "add", "demo", "--cron", "0 3 * *"]) == 2
    assert main(["schedule", "add", "no_such_job", "--cron", "0 3 * * 1"]) == 2
    assert crontab.read_text(encoding="utf-8") == OTHER_LINES


def test_cli_add_list_remove(crontab: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["schedule", "list"]) == 0
    assert "no jobs scheduled" in capsys.readouterr().out
    assert main(["schedule", "add", "demo", "--cron", "0 3 * * 1"]) == 0
    assert "# crm-schedule:demo" in capsys.readouterr().out
    assert main(["schedule", "list"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["schedule", "remove", "demo"]) == 0
    assert main(["schedule", "remove", "demo"]) == 1
    assert "not scheduled" in capsys.readouterr().err


def test_failing_crontab_command_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_CRONTAB", str(tmp_path / "no-such-crontab"))
    with pytest.raises(ScheduleError, match="cannot run"):
        list_schedules()
