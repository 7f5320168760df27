"""Before a resume: the earlier attempt of a run is kept, never overwritten.

``crm run <job> --resume <run_id>`` restarts a failed run at its first notebook that did not
succeed. What the earlier attempt did stays on record: its outcome in the manifest's
``attempts``, each unfinished notebook's entry in ``previous_attempts`` and its partial
notebook as ``<name>.attempt<k>.ipynb``.
"""

from __future__ import annotations

import os
from pathlib import Path

from src.layout import RunLayout
from src.runner.manifest import RunManifest

__all__ = ["archive_attempt"]


def archive_attempt(manifest: RunManifest, run_dir: Path) -> None:
    """Before a resume: keep the earlier attempt's outcome and its partial notebooks."""
    attempts = manifest.setdefault("attempts", [])
    number = len(attempts) + 1
    attempts.append({
        "attempt": number,
        "started_at": (manifest.get("resumed") or [manifest.get("started_at")])[-1],
        "finished_at": manifest.get("finished_at"),
        "status": manifest.get("status"),
        "exit_code": manifest.get("exit_code"),
        "error": manifest.get("error"),
        "notebooks": {n["name"]: n.get("status") for n in manifest["notebooks"]},
    })
    for entry in manifest["notebooks"]:
        if entry.get("status") == "succeeded":
            continue
        if entry.get("status") not in (None, "pending", "skipped"):
            previous = {k: v for k, v in entry.items() if k not in ("name", "previous_attempts")}
            previous["attempt"] = number
            nb = RunLayout(run_dir).notebook_file(entry['name'])
            if nb.exists():
                kept = nb.with_name(f"{entry['name']}.attempt{number}.ipynb")
                os.replace(nb, kept)
                nb.with_suffix(".html").unlink(missing_ok=True)
                previous["output"] = kept.name
            entry.setdefault("previous_attempts", []).append(previous)
        for key in ("error", "seconds", "attempts", "started_at", "finished_at", "peak_rss_mb"):
            entry.pop(key, None)
        entry["status"] = "pending"
