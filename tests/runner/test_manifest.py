"""The typed run manifest: one declaration of its keys, and the one writer refuses others."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from src.runner.manifest import MANIFEST_KEYS, NOTEBOOK_KEYS, manifest_problems, write_manifest


def test_declared_keys_are_written_and_read_back(tmp_path: Path) -> None:
    manifest = {"run_id": "r1", "job": "demo", "status": "succeeded", "exit_code": 0,
                "notebooks": [{"name": "01_data_quality", "status": "succeeded", "seconds": 1.5}]}
    write_manifest(tmp_path / "manifest.json", manifest)
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8")) == manifest


@pytest.mark.parametrize("manifest, word", [
    ({"run_id": "r1", "stauts": "failed"}, "manifest key 'stauts'"),
    ({"run_id": "r1", "notebooks": [{"name": "02_segmentation", "secs": 1.0}]},
     "notebook entry key 'secs' (02_segmentation)"),
])
def test_an_undeclared_key_is_refused_and_nothing_is_written(tmp_path: Path, manifest: dict,
                                                              word: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"run_id": "old"}', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(word)):
        write_manifest(path, manifest)
    assert json.loads(path.read_text(encoding="utf-8")) == {"run_id": "old"}


def test_the_runner_writes_only_declared_keys(demo_runs) -> None:
    """A real run's manifest (the session's shared demo run) holds declared keys only, and
    the keys every reader relies on."""
    run = demo_runs(0)
    manifest = json.loads((run["run_dir"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest_problems(manifest) == []
    assert {"run_id", "job", "status", "params", "notebooks", "inputs", "rows", "metrics",
            "exit_code", "duration_seconds"} <= set(manifest) <= MANIFEST_KEYS
    assert all(set(e) <= NOTEBOOK_KEYS for e in manifest["notebooks"])
