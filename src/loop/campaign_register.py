"""The campaign register: every published list member, with arm and scores, across runs.

Each published run adds one Parquet file, ``<register>/<job>/<cut-off>__<run_id>.parquet``,
holding both arms of every list it exported (run id, job, list, customer id, arm, cut-off,
the scores of the day, the time it was published): the register is append-only, one file
per publication, so a crash never leaves it half written and nothing is lost. The folder is
a Parquet data set that pandas, DuckDB or Spark read in one call.

A job re-run for a cut-off it already published (e.g. after fixing a mapping) supersedes the
earlier publication of that cut-off: :func:`read_register` keeps, per job and cut-off, the
newest publication only (the older file stays, for the record).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from src.fileio import atomic_write
from src.params.schema import CampaignParams
from src.paths import outputs_dir, resolve

__all__ = ["REGISTER_COLUMNS", "append_publication", "due_publications", "read_register",
           "register_dir"]

#: the columns every register file starts with (the scores of the day follow)
REGISTER_COLUMNS = ["job", "run_id", "published_at", "list", "customer_id", "arm", "cutoff_date"]


def register_dir(campaigns: CampaignParams) -> Path:
    """The register folder: ``campaigns.register_dir`` (relative: from the project root),
    else ``<outputs>/campaigns/register``."""
    if campaigns.register_dir:
        return resolve(campaigns.register_dir)
    return outputs_dir() / "campaigns" / "register"


def append_publication(folder: Path, assignments: pd.DataFrame, *, job: str, run_id: str,
                       published_at: str) -> Path | None:
    """Add one run's list members (:attr:`~src.layout.RunLayout.campaign_assignments_file`)
    to the register.

    Parameters
    ----------
    folder : the register folder (:func:`register_dir`).
    assignments : one row per list member: ``list``, ``customer_id``, ``arm``,
        ``cutoff_date`` and the scores of the day.
    job, run_id : the publishing job and run.
    published_at : ISO time of the publication.

    Returns
    -------
    Path or None : the file written (None when the run listed nobody).
    """
    if assignments.empty:
        return None
    cutoff = str(assignments["cutoff_date"].iloc[0])[:10]
    frame = assignments.drop(columns=[c for c in ("job", "run_id", "published_at")
                                      if c in assignments.columns])
    frame.insert(0, "published_at", published_at)
    frame.insert(0, "run_id", run_id)
    frame.insert(0, "job", job)
    frame["cutoff_date"] = frame["cutoff_date"].astype(str).str[:10]
    frame = frame[REGISTER_COLUMNS + [c for c in frame.columns if c not in REGISTER_COLUMNS]]
    path = folder / job / f"{cutoff}__{run_id}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def read_register(folder: Path, job: str | None = None) -> pd.DataFrame:
    """The register's current publications (of ``job``; None: every job): per job and
    cut-off, the newest publication only. Empty (with :data:`REGISTER_COLUMNS`) when there
    is none."""
    files = sorted((folder / job).glob("*.parquet") if job else folder.glob("*/*.parquet"))
    if not files:
        return pd.DataFrame(columns=REGISTER_COLUMNS)
    frames = [pd.read_parquet(f) for f in files]
    register = pd.concat(frames, ignore_index=True)
    runs = (register[["job", "cutoff_date", "run_id", "published_at"]].drop_duplicates()
            .sort_values(["job", "cutoff_date", "published_at", "run_id"]))
    newest = runs.groupby(["job", "cutoff_date"], sort=False).tail(1)
    keep = register["run_id"].isin(newest["run_id"])
    return register.loc[keep].reset_index(drop=True)


def due_publications(register: pd.DataFrame, cutoff: date, measure_days: int) -> pd.DataFrame:
    """The publications whose measurement window has passed by ``cutoff``.

    Returns
    -------
    DataFrame : one row per publication: ``job``, ``run_id``, ``cutoff_date`` (date),
        ``window_end`` (date: cut-off + ``measure_days``), oldest first; a publication is due
        when ``window_end <= cutoff``.
    """
    if register.empty:
        return pd.DataFrame(columns=["job", "run_id", "cutoff_date", "window_end"])
    pubs = register[[c for c in ("job", "run_id", "cutoff_date")
                     if c in register.columns]].drop_duplicates().copy()
    pubs["cutoff_date"] = pubs["cutoff_date"].map(lambda v: date.fromisoformat(str(v)[:10]))
    pubs["window_end"] = pubs["cutoff_date"] + timedelta(days=int(measure_days))
    due = pubs.loc[pubs["window_end"] <= cutoff]
    return due.sort_values(["cutoff_date", "run_id"]).reset_index(drop=True)
