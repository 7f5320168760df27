"""Data protection: no planted PII (names, emails, phone numbers of the synthetic customers)
appears in anything a demo run leaves behind outside ``exports/``: executed notebooks, HTML
reports, manifest, params, logs, logged tables, metrics, saved models, and every artifact in
the MLflow store (listed and downloaded through MLflow, whatever the artifact location)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from src.data.contract import TABLES

pytestmark = pytest.mark.slow

DEMO_CUSTOMERS = 400  # tests/conftest.py makes the shared demo runs with this many customers
#: the run's data: the raw input and the clean tables hold PII by design; exports are PII
#: allowed by params. Everything else is scanned.
NOT_SCANNED = {"input", "data", "exports", "exports.withdrawn"}


def planted_pii(run_dir: Path) -> set[str]:
    """Names, emails and phone numbers (as written and as bare digits) of the synthetic
    customers, minus any string that also occurs as an ordinary (non-PII) value."""
    customers = pd.read_parquet(run_dir / "input" / "customers.parquet")
    pii = [c for c in TABLES["customers"].pii_columns if c in customers.columns]
    assert {"name", "email", "phone"} <= set(pii)
    needles: set[str] = set()
    for col in pii:
        values = customers[col].dropna().astype(str)
        needles |= set(values)
        if col == "phone":
            needles |= {re.sub(r"\D", "", v)[-11:] for v in values}
    ordinary = set()
    for name in ("customers", "bookings"):
        table = pd.read_parquet(run_dir / "input" / f"{name}.parquet")
        for col in table.columns.difference(pii):
            if table[col].dtype == object or str(table[col].dtype) in {"string", "category"}:
                ordinary |= set(table[col].dropna().astype(str))
    return {n for n in needles - ordinary if len(n) >= 2}


def needle_pattern(needles: set[str]) -> re.Pattern[str]:
    """One regex matching any needle, the longest at each position, as the alternation of the
    needles longest first would; built as a trie (``Ann|Anna`` -> ``Ann(?:a)?``) so a position
    costs a walk down one branch instead of a try of each of the ~1,500 needles (the plain
    alternation took ~20 s over the ~9 MB a demo run leaves behind, the trie ~0.5 s)."""
    trie: dict[str, dict] = {}
    for needle in needles:
        node = trie
        for ch in needle:
            node = node.setdefault(ch, {})
        node[""] = {}  # a needle ends here

    def branch(node: dict[str, dict]) -> str:
        arms = [re.escape(ch) + branch(child) for ch, child in sorted(node.items()) if ch]
        if not arms:
            return ""
        body = arms[0] if len(arms) == 1 else "(?:" + "|".join(arms) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(branch(trie))


def scanned_text(path: Path) -> str:
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        return "\n".join(df.astype(str).stack().tolist() + [str(c) for c in df.columns])
    return path.read_bytes().decode("utf-8", errors="ignore")


def files_to_scan(run: dict[str, Any], download_to: Path) -> list[Path]:
    run_dir = run["run_dir"]
    files = [p for p in run_dir.rglob("*")
             if p.is_file() and p.relative_to(run_dir).parts[0] not in NOT_SCANNED]
    logs = run_dir.parents[1] / "logs"
    files += [p for p in logs.rglob("*") if p.is_file()] if logs.exists() else []
    client = MlflowClient(run["uri"])
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    mlflow_runs = client.search_runs([manifest["mlflow"]["experiment_id"]])
    assert len(mlflow_runs) == 1 + len(manifest["notebooks"])
    for r in mlflow_runs:
        target = download_to / r.info.run_id
        target.mkdir(parents=True)
        client.download_artifacts(r.info.run_id, "", str(target))
        files += [p for p in target.rglob("*") if p.is_file()]
        # params, tags and metric names are stored too
        files_text = json.dumps({"params": r.data.params, "tags": r.data.tags,
                                 "metrics": sorted(r.data.metrics)}, ensure_ascii=False)
        (target / "run_data.json").write_text(files_text, encoding="utf-8")
        files.append(target / "run_data.json")
    return files


def test_no_planted_pii_outside_exports(demo_runs,
                                        tmp_path: Path) -> None:
    run = demo_runs(0)
    needles = planted_pii(run["run_dir"])
    assert len(needles) > 2 * DEMO_CUSTOMERS
    pattern = needle_pattern(needles)
    files = files_to_scan(run, tmp_path)
    kinds = {p.suffix for p in files}
    assert {".ipynb", ".html", ".json", ".yaml", ".csv", ".log", ".png"} <= kinds, kinds
    leaks = {}
    for path in files:
        found = sorted(set(pattern.findall(scanned_text(path))))
        if found:
            leaks[str(path)] = found[:5]
    assert not leaks, f"planted PII found in {len(leaks)} files: {leaks}"


def test_the_scan_finds_pii_where_it_is(demo_runs) -> None:
    """The scanner is not blind: the clean customers table it skips does hold the PII."""
    run = demo_runs(0)
    needles = planted_pii(run["run_dir"])
    text = scanned_text(run["run_dir"] / "data" / "customers.parquet")
    assert sum(n in text for n in needles) > DEMO_CUSTOMERS
    # the scan's pattern finds them, exactly as the plain alternation of the needles (longest
    # first) does
    found = needle_pattern(needles).findall(text)
    plain = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    assert found == plain.findall(text)
    assert len(set(found)) > DEMO_CUSTOMERS
