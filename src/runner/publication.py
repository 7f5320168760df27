"""What a run publishes, decided at its end: its exports are kept or withdrawn, and the champion
alias of its scorer moves or stays.

Notebook ``05_score_export`` registers the run's scorer and judges it
(:func:`src.serving.registry.publish_scorer`), writing the decision to the run's scorer record
(:attr:`src.layout.RunLayout.scorer_record_file`): ``pending`` (passed the gates) or
``rejected``. Nothing moves there. The runner settles it once every notebook has run
(:func:`settle_champion`): a pending candidate of a run that succeeded becomes the champion; a
run that failed anywhere, before or after notebook 05, promotes nothing and says so. If the
run's own records then cannot be written, the promotion is rolled back
(:func:`rollback_champion`). The record is rewritten with the final decision and the manifest
holds it under ``promotion``, so the terminal summary, ``index.html`` and ``crm show`` say
whether the candidate was promoted, rejected (with the gates' reasons) or not promoted because
the run failed, and where the lists came from.

A published run's list members, both arms with the scores of the day, are added to the
campaign register (:func:`record_campaigns`, :mod:`src.loop.campaign_register`); a failed
run adds nothing, so the register only holds lists that went out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from src.layout import RunLayout
from src.loop.campaign_register import append_publication, register_dir
from src.params.schema import CampaignParams, DataQualityParams
from src.runner.manifest import RunManifest
from src.serving.registry import rollback_promotion, settle_promotion

__all__ = ["data_quality_hold", "promotion_lines", "record_campaigns", "unrecord_campaigns", "restore_exports", "rollback_champion",
           "settle_champion", "withdraw_exports"]

#: the record's keys the manifest keeps under ``promotion``
_MANIFEST_KEYS = ("name", "version", "alias", "decision", "promoted", "gates_passed",
                  "champion_before", "champion_after", "reasons", "on_reject", "lists_from",
                  "lists_model", "lists_note", "fit_problems", "checks", "comparison")


def record_campaigns(run_dir: Path, manifest: RunManifest, published_at: str) -> None:
    """Add a published run's list members (both arms) to the campaign register; the manifest
    gets ``campaigns``: the register file and the treated / control counts per list. A run
    that exported nothing (or withheld its lists) adds nothing."""
    layout = RunLayout(run_dir)
    if not layout.campaign_assignments_file.exists() or not layout.exports_dir.is_dir():
        return
    assignments = pd.read_parquet(layout.campaign_assignments_file)
    campaigns = CampaignParams.model_validate((manifest.get("params") or {}).get("campaigns") or {})
    folder = register_dir(campaigns)
    path = append_publication(folder, assignments, job=str(manifest["job"]),
                              run_id=str(manifest["run_id"]), published_at=published_at)
    counts = (assignments.groupby(["list", "arm"]).size().unstack(fill_value=0)
              if not assignments.empty else pd.DataFrame())
    manifest["campaigns"] = {
        "register": str(folder),
        "file": None if path is None else str(path),
        "lists": {str(k): {"treated": int(row.get("treated", 0)),
                           "control": int(row.get("control", 0))}
                  for k, row in counts.iterrows()},
    }


def unrecord_campaigns(manifest: RunManifest) -> None:
    """Take a run's publication back out of the register (the run failed after recording it:
    its lists are withdrawn, so they never went out)."""
    entry = manifest.get("campaigns") or {}
    if entry.get("file"):
        Path(entry["file"]).unlink(missing_ok=True)
        entry["file"] = None
        entry["withdrawn"] = True


def withdraw_exports(run_dir: Path, manifest: RunManifest) -> None:
    """A failed run publishes nothing: move whatever its notebooks wrote to ``exports/``
    (complete lists of earlier steps, temp files of an interrupted write) aside to
    ``exports.withdrawn/``; the manifest names what was withdrawn."""
    folder = RunLayout(run_dir).exports_dir
    if not folder.exists():
        return
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if not names:
        shutil.rmtree(folder, ignore_errors=True)
        return
    target = RunLayout(run_dir).withdrawn_exports_dir
    if target.exists():
        shutil.rmtree(target)
    os.replace(folder, target)
    manifest["exports_withdrawn"] = names


def restore_exports(run_dir: Path, manifest: RunManifest) -> None:
    """Before a resume: the lists an earlier attempt's finished notebooks exported and its
    failure withdrew are the run's own again (they are withdrawn anew if the resumed run
    fails; a notebook that runs again rewrites its exports). Temp files of an interrupted
    write are dropped."""
    layout = RunLayout(run_dir)
    source = layout.withdrawn_exports_dir
    if not source.exists() or layout.exports_dir.exists():
        return
    for tmp in [p for p in source.rglob(".*") if p.is_file()]:
        tmp.unlink()
    os.replace(source, layout.exports_dir)
    manifest["exports_restored"] = [n for n in manifest.pop("exports_withdrawn", [])
                                    if not Path(n).name.startswith(".")]


def data_quality_hold(manifest: RunManifest) -> str | None:
    """Why a run whose notebooks succeeded must still publish nothing, or None.

    Any table with a larger share of rejected rows (``manifest["rows"]``) than the job's
    ``data_quality.publish_max_reject_share`` holds the run: its lists stay unpublished and
    its candidate is not promoted."""
    quality = DataQualityParams.model_validate(
        (manifest.get("params") or {}).get("data_quality") or {})
    bar = quality.publish_max_reject_share
    worse = [f"{r.get('rejected', 0):,} of {r['in']:,} {table} rows rejected "
             f"({r.get('rejected', 0) / r['in']:.1%})"
             for table, r in (manifest.get("rows") or {}).items()
             if r.get("in") and r.get("rejected", 0) / r["in"] > bar]
    if not worse:
        return None
    return ("data quality below the job's bar: " + "; ".join(worse) + f", more than "
            f"data_quality.publish_max_reject_share = {bar:.1%}. The reports are written; no "
            "list is published and the champion does not move. Fix the rows rejects.csv "
            "names in the source, or raise the bar in the job if such rows are expected")


def _record_to_manifest(layout: RunLayout, manifest: RunManifest,
                        record: dict[str, Any]) -> None:
    layout.write_json(layout.scorer_record_file, record)
    manifest["promotion"] = {k: record.get(k) for k in _MANIFEST_KEYS}


def settle_champion(run_dir: Path, manifest: RunManifest, *, succeeded: bool,
                    failure: str | None, client: MlflowClient) -> dict[str, Any] | None:
    """The champion decision at the end of a run (a run without a scorer record has none).

    ``succeeded``: every notebook succeeded; a candidate that passed the gates is then
    promoted (:func:`src.serving.registry.settle_promotion`), otherwise it is not, with
    ``failure`` in the reason. The final decision goes to the scorer record, the manifest
    (``promotion``) and the MLflow parent run.

    Raises
    ------
    MlflowException (or any store error) : the alias could not be moved; nothing moved.
    """
    layout = RunLayout(run_dir)
    if not layout.scorer_record_file.exists():
        return None
    record = layout.read_json(layout.scorer_record_file)
    parent = (manifest.get("mlflow") or {}).get("parent_run_id")
    record = settle_promotion(record, run_succeeded=succeeded, failure=failure,
                              log_to=[parent], client=client)
    _record_to_manifest(layout, manifest, record)
    return record


def rollback_champion(run_dir: Path, manifest: RunManifest, reason: str,
                      client: MlflowClient) -> None:
    """Put the alias back where it was before the run, if this run moved it."""
    layout = RunLayout(run_dir)
    if not (manifest.get("promotion") or {}).get("promoted") or \
            not layout.scorer_record_file.exists():
        return
    parent = (manifest.get("mlflow") or {}).get("parent_run_id")
    record = rollback_promotion(layout.read_json(layout.scorer_record_file), reason,
                                log_to=[parent], client=client)
    manifest["promotion"] = {k: record.get(k) for k in _MANIFEST_KEYS}
    try:
        layout.write_json(layout.scorer_record_file, record)
    except OSError:  # the disk that failed the run: the manifest in memory says it
        pass


def promotion_lines(manifest: RunManifest) -> list[str]:
    """The champion decision in a few words for the run summary (empty without one)."""
    p = manifest.get("promotion")
    if not p:
        return []
    model = f"{p['name']} version {p['version']}"
    alias = f"@{p.get('alias') or 'champion'}"
    before = p.get("champion_before")
    was = f"version {before}" if before else "unset"
    decision = p.get("decision")
    if decision == "promoted":
        head = f"champion: {model} is now {alias} (was {was})"
    elif decision == "rejected":
        head = f"champion: {model} rejected by the gates; {alias} stays {was}"
    elif decision == "not_promoted":
        head = f"champion: {model} not promoted; {alias} stays {was}"
    elif decision == "rolled_back":
        head = f"champion: {model} promoted, then rolled back; {alias} is {was} again"
    elif decision == "pending":
        head = f"champion: {model} passed the gates; not promoted yet (the run did not finish)"
    else:
        head = f"champion: {model} registered, not judged"
    lines = [head, *(f"  - {r}" for r in p.get("reasons") or [])]
    if p.get("comparison"):
        lines.append(f"  compared with thresholds only: {p['comparison']}")
    if manifest.get("status") == "failed":
        lines.append("  no lists published (the run failed)")
    elif p.get("lists_note"):
        lines.append(f"  {p['lists_note']}")
    return lines
