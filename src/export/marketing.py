"""Marketing export: one file per campaign list plus the full scored table, published atomically.

:func:`export_marketing` is the one exporter (notebook ``05_score_export`` and ``crm export``):

- **Lists**: one list per recommended action (``params.campaign_actions``; default every
  action except ``do_not_contact``), columns, sort order and a size cap per list from params;
  each row's ``channel`` is the customer's preferred contact channel.
- **Consent**: a customer is in a list only with consent on that list row's channel
  (``consent_<channel> == 1``); customers in the suppression file (customer ids and/or
  e-mail SHA-256 hashes, or plain e-mails hashed here) are in no list.
- **PII**: the scored table holds none; lists get ``name`` / ``email`` / ``phone`` only when
  ``params.pii_columns`` allows, either plain or as normalized SHA-256 (``email_sha256``:
  trimmed lower-case e-mail; ``phone_sha256``: digits only with the country code, a leading
  ``00`` dropped) for ad-platform matching.
- **Control groups**: each list holds back a random, seeded, tier-stratified share of its
  customers (``campaigns.control_share`` / ``control_shares``,
  :func:`src.loop.control_groups.assign_control`); the list file holds the treated arm
  only; both arms, with the scores of the day, go to ``data/campaign_assignments.parquet``
  (outside ``exports/``: controls are never sent), which the runner appends to the campaign
  register when the run is published.
- **Formats**: CSV in UTF-8 *with BOM* (Excel then shows Chinese names correctly), numbers
  rounded for people (probabilities 3 decimals, money 2, days 1;
  :func:`src.export.files.csv_ready`), dates as
  ``YYYY-MM-DD``, headers in the job's ``report.language``; Parquet keeps full precision and
  the column names.
- **Atomic**: every file is written to a temporary name and renamed; the whole set is built
  in a staging folder and renamed to ``<run_dir>/exports`` only when everything, including
  the manifest and the reconciliation checks, succeeded. An interrupted export leaves no
  partial file and no half-published folder.
- **Champion decision**: :func:`export_run` publishes the lists the run's scorer record
  says: the candidate's, the champion's (candidate rejected, ``on_reject: champion``) or
  none (rejected, ``on_reject: skip``).
- **Manifest** (``manifest.json``): rows per list, SHA-256 and size per file, model name and
  version, run ids, and the reconciliation: customers in = scored + rejected; every scored
  customer has exactly one action; per action, listed + no consent + suppressed + over the
  cap = customers with that action; listed (treated) + control = the capped list.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.data.errors import InsufficientDataError
from src.decisioning.scored_columns import data_dictionary
from src.decisioning.scoring import unscored_customers
from src.export.files import write_table
from src.export.language import csv_headers
from src.features.cache import run_tables
from src.fileio import atomic_write, file_sha256
from src.layout import EXPORTS_MANIFEST, RunLayout
from src.loop.control_groups import ARM_CONTROL, ARM_TREATED, assign_control
from src.params import ParamsError
from src.params.schema import DEFAULT_LIST_COLUMNS, CampaignParams, ExportParams
from src.paths import PROJECT_ROOT
from src.serving.registry import score_with_version
from src.vocabulary import Vocabulary
from src.vocabulary import vocabulary as vocabulary_named

__all__ = [
    "ExportResult",
    "ReconciliationError",
    "export_marketing",
    "export_run",
    "hash_email",
    "hash_phone",
    "list_columns",
    "load_suppression",
    "normalize_email",
    "normalize_phone",
]

_PII = ("name", "email", "phone")


class ReconciliationError(RuntimeError):
    """Counts do not reconcile (customers lost or duplicated); nothing was published."""


# --------------------------------------------------------------------------------------------
# PII normalisation and hashing
# --------------------------------------------------------------------------------------------
def normalize_email(email: pd.Series) -> pd.Series:
    """Trimmed, lower-cased e-mail; empty -> missing."""
    s = email.astype("string").str.strip().str.lower()
    return s.where(s.str.len() > 0)


def normalize_phone(phone: pd.Series) -> pd.Series:
    """Digits only with the country code (``+86 138-0013 8000`` -> ``8613800138000``; a
    leading international ``00`` is dropped); empty -> missing."""
    s = phone.astype("string").str.replace(r"\D", "", regex=True).str.replace(r"^00", "",
                                                                               regex=True)
    return s.where(s.str.len() > 0)


def _sha256(values: pd.Series) -> pd.Series:
    return values.map(lambda v: hashlib.sha256(v.encode("utf-8")).hexdigest()
                      if isinstance(v, str) else None).astype(object)


def hash_email(email: pd.Series) -> pd.Series:
    """SHA-256 hex of the normalized e-mail (None where missing)."""
    return _sha256(normalize_email(email).astype(object).where(lambda s: s.notna(), None))


def hash_phone(phone: pd.Series) -> pd.Series:
    """SHA-256 hex of the normalized phone number (None where missing)."""
    return _sha256(normalize_phone(phone).astype(object).where(lambda s: s.notna(), None))


def load_suppression(path: str | Path) -> tuple[set[str], set[str]]:
    """Suppressed customer ids and e-mail hashes from a CSV file.

    The file has a header with any of ``customer_id``, ``email`` (hashed here after
    normalisation), ``email_sha256``; a headerless one-column file is read as customer ids.
    """
    path = Path(path)
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    cols = {c.strip().lower() for c in df.columns}
    if not cols & {"customer_id", "email", "email_sha256"}:
        df = pd.read_csv(path, dtype=str, header=None, names=["customer_id"],
                         encoding="utf-8-sig")
    df.columns = [c.strip().lower() for c in df.columns]
    ids = set(df["customer_id"].dropna().str.strip()) if "customer_id" in df.columns else set()
    hashes: set[str] = set()
    if "email_sha256" in df.columns:
        hashes |= set(df["email_sha256"].dropna().str.strip().str.lower())
    if "email" in df.columns:
        hashes |= {h for h in hash_email(df["email"]) if h}
    return ids, hashes


#: scored columns recorded with each list member in the campaign assignments (the scores of
#: the day, for the register and the back-test)
ASSIGNMENT_COLUMNS = [
    "value_tier", "segment", "lifecycle_stage", "churn_status", "recommended_action", "channel",
    "churn_prob_90d", "churn_prob_180d", "churn_prob_365d", "p_alive", "expected_bookings",
    "clv", "clv_horizon_days", "expected_avg_booking_value", "avg_booking_value", "n_bookings",
]

# --------------------------------------------------------------------------------------------
# the export
# --------------------------------------------------------------------------------------------
class ExportResult(dict):
    """The manifest (a dict) of an export; ``folder`` is where it was published (None when
    the lists were withheld: ``published`` False, ``withheld`` says why)."""

    folder: Path | None

    @property
    def headline(self) -> str:
        """One line: how many lists and customers were published, from which model, or why
        nothing was."""
        if self.get("published") is False:
            return f"no lists published: {self.get('withheld')}"
        lists = self.get("lists") or {}
        model = self.get("model") or {}
        source = model.get("lists_note") or (
            f"model {model.get('name')} version {model.get('version')}" if model else "")
        return (f"{len(lists)} lists, {sum(r['listed'] for r in lists.values())} customers"
                + (f"; {source}" if source else ""))


def list_columns(params: ExportParams, available: Sequence[str]) -> list[str]:
    """The columns of every list: ``export.columns`` when given (strict), else the default
    list columns (:data:`~src.params.schema.DEFAULT_LIST_COLUMNS`) among ``available``.

    Parameters
    ----------
    params : the ``export:`` params.
    available : the columns the run produces (scored columns and ``channel``).

    Raises
    ------
    ParamsError : an explicit ``export.columns`` names a column not in ``available``; the
        message lists the available ones.
    """
    have = list(dict.fromkeys(available))
    if params.columns is None:
        return [c for c in DEFAULT_LIST_COLUMNS if c in have]
    absent = [c for c in params.columns if c not in have]
    if absent:
        raise ParamsError("export.columns", [
            f"export.columns names {absent}, which this run does not produce; available: "
            f"{have} (or remove export.columns to get the default columns the run has)"])
    return list(params.columns)


def _empty_lists_reason(action: pd.Series, channel: np.ndarray, consent: np.ndarray,
                        suppressed: np.ndarray, scored: pd.DataFrame) -> str:
    """Why no customer is on any list: counts by action, consent per channel, suppression."""
    by_action = {str(k): int(v) for k, v in action.astype(str).value_counts().items()}
    consents = {c: int((pd.to_numeric(scored[c], errors="coerce").fillna(0) > 0).sum())
                for c in scored.columns if c.startswith("consent_")}
    return (f"every campaign list is empty: {len(scored)} customers scored, by action "
            f"{by_action}; customers with consent per channel {consents or 'no consent_* column'}; "
            f"with a consented preferred channel {int(consent.sum())}; suppressed "
            f"{int(suppressed.sum())}. If the company may contact them, map the consent columns "
            "(data.source.tables.customers.columns.consent_email, ...) or set "
            "data.source.tables.customers.defaults.consent_email: true; to publish empty lists "
            "anyway set export.allow_empty: true")


def _slug(action: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-]+", "_", action).strip("_") or "unnamed"


def _pii_frame(customers: pd.DataFrame | None, ids: pd.Series, p: ExportParams) -> pd.DataFrame:
    out = pd.DataFrame(index=ids.index)
    if not p.pii_columns:
        return out
    if customers is None:
        raise ValueError(f"export.pii_columns {p.pii_columns} need the customers table")
    absent = [c for c in p.pii_columns if c not in customers.columns]
    if absent:
        raise ValueError(f"export.pii_columns: the customers table has no {absent}")
    c = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    for col in p.pii_columns:
        values = c[col].reindex(ids.to_numpy())
        values.index = ids.index
        if p.pii_mode == "plain":
            out[col] = values.astype(object).where(values.notna(), None)
        else:
            out[f"{col}_sha256"] = (hash_email if col == "email" else hash_phone)(values)
    return out


def _assignments(capped: pd.DataFrame, held: np.ndarray, action: str, cutoff: str | None
                 ) -> pd.DataFrame:
    """One list's members: list, customer, arm, cut-off and the scores of the day (the run
    id is added when the register records the publication)."""
    out = pd.DataFrame({
        "list": pd.Series([action] * len(capped), dtype=object),
        "customer_id": capped["customer_id"].astype(str).to_numpy(),
        "arm": np.where(held, ARM_CONTROL, ARM_TREATED).astype(object),
        "cutoff_date": pd.Series([cutoff] * len(capped), dtype=object),
    })
    for col in ASSIGNMENT_COLUMNS:
        if col in capped.columns:
            values = capped[col].to_numpy()
            out[col] = values.astype(object) if values.dtype == object else values
    return out


def export_marketing(
    scored: pd.DataFrame,
    run_dir: str | Path,
    params: ExportParams | None = None,
    *,
    customers: pd.DataFrame | None = None,
    rejected: pd.DataFrame | None = None,
    model: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    base_dir: str | Path | None = None,
    folder_name: str = "exports",
    vocabulary: str | Vocabulary = "travel",
    campaigns: CampaignParams | None = None,
    seed: int = 42,
    csv_headers: Mapping[str, str] | None = None,
    _fail_after_files: int | None = None,
) -> ExportResult:
    """Write the campaign lists, the full scored table and the manifest into
    ``<run_dir>/exports/`` atomically.

    Parameters
    ----------
    scored : :meth:`CustomerScorer.predict` output, one row per customer.
    run_dir : the run folder.
    params : :class:`ExportParams`.
    customers : contract ``customers`` table (PII, e-mail for the suppression hashes).
    rejected : customers not scored, with ``customer_id`` and ``reason`` (e.g. unknown at
        the cut-off, rejected by the validator); counted in the reconciliation.
    model : ``{"name": ..., "version": ...}`` of the scorer, for the manifest.
    run_id : the run's id (and MLflow run id, if any, under ``model``).
    base_dir : folder for a relative ``suppression_file`` (default: the project root).
    vocabulary : the job's vocabulary (:mod:`src.vocabulary`): the files show its
        column names (``suggested_category`` for ``suggested_destination_type`` in
        ``retail``; ``params.columns`` names the scored columns) and ``columns.md`` its words.
    campaigns : control groups (:class:`CampaignParams`): each list's control share, the
        stratifying column and the seed (default the job's ``seed``); None: no control group
        (every listed customer is in the file).
    seed : the job's seed (used when ``campaigns.seed`` is not set).
    csv_headers : column name in the files -> header of the CSV files (e.g. Chinese headers,
        :func:`src.export.language.csv_headers`); Parquet keeps the names.
    _fail_after_files : testing hook: raise after writing this many files (simulates an
        interruption).

    Returns
    -------
    ExportResult : the manifest; ``.folder`` is the published folder.

    Raises
    ------
    ReconciliationError : counts do not reconcile; nothing is published.
    ParamsError : an explicit ``export.columns`` names a column the scored table lacks.
    InsufficientDataError : every list is empty (no consent, everyone suppressed or
        ``do_not_contact``) and ``export.allow_empty`` is false; nothing is published.
    """
    p = params or ExportParams()
    shown = vocabulary_named(vocabulary).column_names  # scored column -> name in the files
    run_dir = Path(run_dir)
    final = run_dir / folder_name
    staging = run_dir / f".{folder_name}.staging-{uuid.uuid4().hex[:8]}"
    rejected = rejected if rejected is not None else pd.DataFrame(columns=["customer_id",
                                                                           "reason"])
    # ---- reconciliation of the input ------------------------------------------------------
    ids = scored["customer_id"].astype(str)
    problems = []
    if ids.duplicated().any():
        problems.append(f"{int(ids.duplicated().sum())} customers scored more than once")
    action = scored["recommended_action"]
    if action.isna().any():
        problems.append(f"{int(action.isna().sum())} scored customers without an action")
    both = set(ids) & set(rejected["customer_id"].astype(str))
    if both:
        problems.append(f"{len(both)} customers both scored and rejected")
    if problems:
        raise ReconciliationError("; ".join(problems) + ": nothing was exported")

    # ---- suppression and consent ------------------------------------------------------------
    sup_ids: set[str] = set()
    sup_hashes: set[str] = set()
    if p.suppression_file:
        path = Path(p.suppression_file)
        path = path if path.is_absolute() else Path(base_dir or PROJECT_ROOT) / path
        sup_ids, sup_hashes = load_suppression(path)
    suppressed = ids.isin(sup_ids).to_numpy()
    if sup_hashes:
        if customers is None or "email" not in customers.columns:
            raise ValueError("the suppression file lists e-mail hashes: the customers table "
                             "with an email column is needed to apply it")
        emails = customers.drop_duplicates("customer_id", keep="last").set_index(
            "customer_id")["email"].reindex(ids.to_numpy())
        suppressed |= hash_email(emails.reset_index(drop=True)).isin(sup_hashes).to_numpy()
    channel = scored["preferred_channel"].astype(object).to_numpy()
    consent = np.zeros(len(scored), dtype=bool)
    for ch in pd.unique(channel):
        col = f"consent_{ch}"
        if isinstance(ch, str) and col in scored.columns:
            rows = channel == ch
            consent[rows] = pd.to_numeric(scored.loc[rows, col], errors="coerce").fillna(0) \
                .to_numpy() > 0

    actions = [a for a in pd.unique(action.astype(str))]
    wanted = p.campaign_actions if p.campaign_actions is not None else [
        a for a in actions if a != "do_not_contact"]
    table = scored.copy()
    table.insert(1, "channel", channel)
    table["suppressed"] = suppressed
    pii = _pii_frame(customers, ids, p)
    columns_of_lists = list_columns(p, table.columns)
    lists: dict[str, dict[str, int]] = {}
    cutoff = str(scored["cutoff_date"].iloc[0]) if len(scored) else None
    draw_seed = seed if campaigns is None or campaigns.seed is None else campaigns.seed
    arms: list[pd.DataFrame] = []
    staging.mkdir(parents=True)
    written = 0
    try:
        files: list[dict[str, Any]] = []
        for act in wanted:
            in_action = (action.astype(str) == act).to_numpy()
            eligible = in_action & ~suppressed & consent
            part = pd.concat([table.loc[eligible], pii.loc[eligible]], axis=1)
            sort = [c for c in p.sort_by if c in part.columns]
            if sort:
                part = part.sort_values(sort, ascending=p.ascending, kind="stable",
                                        na_position="last")
            cap = p.max_rows.get(act, p.default_max_rows)
            capped = part.head(cap) if cap is not None else part
            share = campaigns.share_for(act) if campaigns is not None else 0.0
            strata_col = campaigns.stratify_by if campaigns is not None else None
            held = assign_control(
                capped["customer_id"], share, seed=draw_seed, key=f"{act}|{cutoff}",
                strata=capped[strata_col] if strata_col in capped.columns else None)
            sent = capped.loc[~held]
            arms.append(_assignments(capped, held, act, cutoff))
            cols = columns_of_lists + list(pii.columns)
            for f in write_table(sent[cols].rename(columns=shown), staging,
                                  f"list_{_slug(act)}", p.formats, csv_headers):
                files.append({**f, "list": act})
                written += 1
                if _fail_after_files is not None and written >= _fail_after_files:
                    raise OSError("simulated interruption during the export")
            lists[act] = {
                "customers_with_action": int(in_action.sum()),
                "listed": len(sent),
                "control": int(held.sum()),
                "suppressed": int((in_action & suppressed).sum()),
                "no_consent": int((in_action & ~suppressed & ~consent).sum()),
                "over_cap": len(part) - len(capped),
            }
            r = lists[act]
            if r["listed"] + r["control"] + r["suppressed"] + r["no_consent"] + \
                    r["over_cap"] != r["customers_with_action"]:
                raise ReconciliationError(f"list {act!r} does not reconcile: {r}")
        if not p.allow_empty and sum(r["listed"] for r in lists.values()) == 0:
            raise InsufficientDataError(_empty_lists_reason(action, channel, consent,
                                                            suppressed, scored))
        if p.full_table:
            for f in write_table(table.rename(columns=shown), staging, "scored_customers",
                                  p.formats, csv_headers):
                files.append({**f, "list": None})
                written += 1
                if _fail_after_files is not None and written >= _fail_after_files:
                    raise OSError("simulated interruption during the export")
        # the data dictionary beside the lists: one line per column, meaning and unit
        columns = list(dict.fromkeys([*table.columns, *columns_of_lists]))
        atomic_write(staging / "columns.md", lambda q: q.write_text(
            data_dictionary(columns, vocabulary), encoding="utf-8"))
        files.append({"file": "columns.md", "format": "markdown", "rows": len(columns),
                      "bytes": (staging / "columns.md").stat().st_size,
                      "sha256": file_sha256(staging / "columns.md"), "list": None})
        counts = action.astype(str).value_counts()
        recon = {
            "customers_in": len(ids) + len(rejected),
            "scored": len(ids),
            "rejected": len(rejected),
            "rejected_by_reason": {str(k): int(v) for k, v in
                                   rejected["reason"].value_counts().items()}
            if "reason" in rejected.columns else {},
            "actions": {str(k): int(v) for k, v in counts.items()},
            "every_scored_customer_has_one_action": bool(counts.sum() == len(ids)),
            "suppressed": int(suppressed.sum()),
        }
        if recon["customers_in"] != recon["scored"] + recon["rejected"] or \
                not recon["every_scored_customer_has_one_action"]:
            raise ReconciliationError(f"counts do not reconcile: {recon}")
        assignments = (pd.concat(arms, ignore_index=True) if arms
                       else _assignments(table.iloc[:0], np.zeros(0, bool), "", cutoff))
        manifest = ExportResult(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            run_id=run_id, model=dict(model or {}),
            cutoff_date=cutoff,
            lists=lists, files=files, reconciliation=recon,
            params=p.model_dump(mode="json"),
            control_groups={
                "params": None if campaigns is None else campaigns.model_dump(mode="json"),
                "seed": draw_seed,
                "treated": int((assignments["arm"] == ARM_TREATED).sum()),
                "control": int((assignments["arm"] == ARM_CONTROL).sum()),
                "assignments_file": str(RunLayout(run_dir).campaign_assignments_file
                                        .relative_to(run_dir)),
            },
        )
        atomic_write(staging / EXPORTS_MANIFEST, lambda q: q.write_text(
            json.dumps(manifest, indent=2, default=str, ensure_ascii=False), encoding="utf-8"))
        # publish: the old folder (a re-run) is moved aside first, then replaced
        old = None
        if final.exists():
            old = run_dir / f".{folder_name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        # both arms beside (never inside) the exports: controls are recorded, not sent
        target = RunLayout(run_dir).campaign_assignments_file
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda q: assignments.to_parquet(q, index=False))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest.folder = final
    return manifest


def export_run(run: RunLayout | str | Path, params: ExportParams | None = None, *,
               customers_from: RunLayout | None = None,
               vocabulary: str | Vocabulary = "travel",
               campaigns: CampaignParams | None = None, seed: int = 42,
               language: str = "en",
               tables: Mapping[str, pd.DataFrame] | None = None) -> ExportResult:
    """Export a run's scored customers (what ``crm export`` and notebook 05 call), as the
    run's champion decision says.

    Reads the registered scorer's record of ``run`` (:attr:`RunLayout.scorer_record_file`,
    written by :func:`src.serving.registry.publish_scorer`) and follows its ``lists_from``:

    - ``candidate`` (the gates passed, or an unjudged interactive session; also a run without
      a record): the scorer's output (:attr:`RunLayout.scored_file`) and the customers not
      scored (``customer_id``, ``reason``);
    - ``champion`` (the gates rejected the candidate, ``on_reject: champion``): this run's
      customers scored by the champion's registered model
      (:func:`src.serving.registry.score_with_version`) from ``tables``: the run's
      contract tables as its notebooks read them (:func:`src.features.cache.run_tables`, with
      the data's as-of date and the job's tier rule; default: read from ``customers_from``
      with both, the tier rule then unknown);
    - ``none`` (rejected, ``on_reject: skip``): nothing is published; the result says why
      (``published`` False, ``withheld``) and has no lists.

    The ``customers`` table (PII, suppression e-mails) comes from ``customers_from`` (default
    ``run`` itself: an interactive notebook passes the run it read); then
    :func:`export_marketing` into the run's ``exports/``, worded in ``vocabulary`` (the job's
    ``vocabulary``), with the control groups of ``campaigns`` (the job's ``campaigns:``
    section and ``seed``) and the CSV headers of ``language`` (the job's
    ``report.language``).
    """
    layout = run if isinstance(run, RunLayout) else RunLayout(Path(run))
    source = customers_from or layout
    model = (layout.read_json(layout.scorer_record_file)
             if layout.scorer_record_file.exists() else {})
    lists_from = model.get("lists_from", "candidate")
    if lists_from == "none":
        withheld = ExportResult(published=False, withheld=model.get("lists_note", ""),
                                run_id=layout.root.name, model=model, lists={}, files=[],
                                reconciliation=None)
        withheld.folder = None
        return withheld
    if lists_from == "champion":
        tables = tables if tables is not None else run_tables(source, cache_features=False)
        lists_model = model["lists_model"]
        scored = score_with_version(lists_model["name"], lists_model["version"], tables,
                                    model["cutoff_date"])
        rejected = unscored_customers(tables, scored)
    else:
        scored = layout.read_frame(layout.scored_file, writer="the scoring step (05_score_export)")
        rejected = (pd.read_parquet(layout.rejected_customers_file)
                    if layout.rejected_customers_file.exists() else None)
    customers = (pd.read_parquet(source.table_file("customers"))
                 if source.table_file("customers").exists() else None)
    shown = vocabulary_named(vocabulary).column_names
    file_columns = [shown.get(c, c) for c in [*scored.columns, "channel", "email_sha256",
                                               "phone_sha256", *_PII]]
    result = export_marketing(scored, layout.root, params, customers=customers,
                              vocabulary=vocabulary, campaigns=campaigns, seed=seed,
                              csv_headers=csv_headers(file_columns, language),
                              rejected=rejected, model=model, run_id=layout.root.name)
    result.update(published=True, lists_from=lists_from)
    return result
