"""The README's troubleshooting table lists every case of the fault catalogue."""

from __future__ import annotations

from src.paths import PROJECT_ROOT
from tests.faults.catalogue import BAD_FILES, BAD_FILES_23


def test_every_catalogued_fault_has_its_row_in_the_readme() -> None:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Troubleshooting", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines()
            if line.startswith("| `")}
    missing = sorted((set(BAD_FILES) | set(BAD_FILES_23)) - rows)
    assert not missing, f"add a row to the README's troubleshooting table for {missing}"
