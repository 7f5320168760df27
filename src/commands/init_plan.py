"""What ``crm init`` decides for a job: the mappings, the extraction date, the windows.

:func:`plan_job` recognises the files (:func:`src.data.recognition.tables.recognise_files`),
then, when every role is settled, **loads them through the product's own loader**
(:func:`src.data.loading.load_tables`, the code ``crm run`` uses) to measure what a run will
see: kept bookings, customers, the date span, the gaps between a customer's purchase days.
So a mapping that the loader would refuse is found at ``crm init``, and every number below is
the number the run will have:

- **as-of date**: the last date of the bulk of the bookings (dates beyond the 99.9th
  percentile by more than :data:`FUTURE_GAP_DAYS`, or after today, are flagged as future
  rows, never taken as the extraction date), or a date given with ``--as-of``;
- **lapse churn** (transactions): ``gap_days`` is the 85th percentile of the days between
  a customer's consecutive purchase days, rounded to 30 days; ``holdout_days`` and
  ``train_window_days`` are a third of the span (at most 365), so the training landmark, its
  follow-up and the holdout fit in the data;
- **churn horizons** (``churn.horizons_days``, one setting for the holdout evaluation and
  the exported ``churn_prob_<h>d``): those within the holdout, evaluated on it, and the spans
  of 90, 180 and 365 days within the data, exported (beyond the holdout: not evaluated);
- **loyalty**: the calibration holdout is the churn holdout, the CLV horizon half the span (at
  most 365), the repeat-booking horizon the holdout, weeks as the time unit from 18 months of
  data on;
- **membership churn** (a member table or a tenure snapshot): the customers table alone, the
  full-history analysis from the membership start, covariates from the snapshot attributes.

Every decision is a :class:`Guess` with its reason; roles the data did not settle are kept in
:attr:`JobPlan.open`, and no window is sized until they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from src.commands.init_load import (
    FUTURE_GAP_DAYS,
    TableStats,
    source_entry,
    table_stats,
    trial_load,
)
from src.data.errors import DataError
from src.data.recognition.names import normalise
from src.data.recognition.roles import OpenRole
from src.data.recognition.tables import Recognition, TableRecognition, recognise_files, remap

__all__ = ["COMMENT", "CONSENT_ASSUMED", "FUTURE_GAP_DAYS", "Guess", "JobPlan", "TableStats",
           "plan_job"]

TRANSACTION_NOTEBOOKS = ["01_data_quality", "02_segmentation", "03_churn_survival",
                         "04_loyalty_clv", "05_score_export"]
MEMBERSHIP_NOTEBOOKS = ["01_data_quality", "02_segmentation", "03_churn_survival",
                        "05_score_export"]
CONSENT_ASSUMED = ("ASSUMED: every customer may be contacted by email — set false or map a "
                   "consent column")
MEMBERSHIP_STAGE_RULES = [
    {"stage": "cancelled", "when": "membership_cancelled == 1"},
    {"stage": "new", "when": "age_days < 365"},
    {"stage": "at_risk", "when": "churn_prob_365d >= 0.5"},
    {"stage": "loyal", "when": "age_days >= 1461 and churn_prob_365d < 0.1"},
    {"stage": "active", "when": "True"},
]
MEMBERSHIP_ACTION_RULES = [
    {"action": "do_not_contact", "when": "contactable == 0"},
    {"action": "member_win_back", "when": "churn_status == 'cancelled'"},
    {"action": "retention_call",
     "when": "value_tier in ['most_valuable', 'major'] and churn_prob_365d >= 0.2"},
    {"action": "loyalty_thanks", "when": "stage == 'loyal'"},
    {"action": "nurture", "when": "True"},
]
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_COVARIATE_WORDS = ("contract", "plan", "tier", "payment", "internet", "channel", "segment",
                    "type", "product", "region", "card")
_COVARIATE_NAMES = "(?:" + "|".join(_COVARIATE_WORDS) + ")"
_MAX_CATEGORIES = 10
_TRAVEL = re.compile(r"(?:trip|travel|destination|hotel|flight|nights|stay|departure|arrival|"
                     r"tour|airline|passenger|room|航班|酒店|旅|出行|reise|flug|voyage|vol|"
                     r"viaje|vuelo|viagem|voo)")
COMMENT = object()
"""Value of a :class:`Guess` that is a comment only (no key is written)."""


@dataclass
class Guess:
    """One decision of ``crm init``: dotted params key, value, and why."""

    key: str
    value: Any
    reason: str = ""


@dataclass
class JobPlan:
    """Everything ``crm init`` decided for a job, in the order the YAML is written.

    Attributes
    ----------
    name : the job name (``params/<name>.yaml``).
    recognition : the files' tables, roles and mappings.
    guesses : dotted key -> :class:`Guess`.
    confirm : what the user should confirm, one sentence each.
    stats : table -> :class:`TableStats` (empty while a role is open).
    open : (file name, open role) the data did not settle.
    problem : what the trial load refused (the loader's message), if anything.
    """

    name: str
    recognition: Recognition
    guesses: dict[str, Guess] = field(default_factory=dict)
    confirm: list[str] = field(default_factory=list)
    stats: dict[str, TableStats] = field(default_factory=dict)
    open: list[tuple[str, OpenRole]] = field(default_factory=list)
    problem: str | None = None

    @property
    def recognitions(self) -> list[TableRecognition]:
        return self.recognition.tables

    def set(self, key: str, value: Any, reason: str = "") -> None:
        self.guesses[key] = Guess(key, value, reason)

    def note(self, key: str, reason: str) -> None:
        """A comment with no key of its own, written where ``key`` would be."""
        self.guesses[key] = Guess(key, COMMENT, reason)

    def value(self, key: str, default: Any = None) -> Any:
        g = self.guesses.get(key)
        return default if g is None or g.value is COMMENT else g.value

    def tree(self) -> dict[str, Any]:
        """The params as nested dicts (comment-only guesses left out)."""
        out: dict[str, Any] = {}
        for g in self.guesses.values():
            if g.value is COMMENT:
                continue
            node = out
            *parents, leaf = g.key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = g.value
        return out


# --------------------------------------------------------------------------------------------
# sizing helpers
# --------------------------------------------------------------------------------------------
def _round30(days: float, minimum: int = 30) -> int:
    return max(minimum, int(round(days / 30.0)) * 30)


def _floor30(days: float, minimum: int = 30) -> int:
    return max(minimum, int(days // 30) * 30)


def _source_as_of(path: Path) -> tuple[date, str] | None:
    """The last day of a 'Month YYYY' named in a SOURCE.md / README beside the file."""
    for doc in ("SOURCE.md", "README.md", "README.txt"):
        f = path.parent / doc
        if not f.exists():
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"(" + "|".join(_MONTHS) + r")\s+(\d{4})", text, re.IGNORECASE)
        if m:
            month, year = _MONTHS.index(m.group(1).lower()) + 1, int(m.group(2))
            nxt = date(year + month // 12, month % 12 + 1, 1)
            line = next(ln for ln in text.splitlines() if m.group(0) in ln).strip()
            return nxt - timedelta(days=1), f"{doc} says: {line[:120]!r}"
    return None


def _vocabulary(recs: Sequence[TableRecognition]) -> tuple[str, str]:
    words = [normalise(c.name) for r in recs for c in r.evidence.columns]
    travel = [w for w in words if _TRAVEL.search(w)]
    if travel:
        return "travel", f"travel words in the columns: {', '.join(travel[:4])}"
    if any(r.shape in ("member_table", "tenure_snapshot") for r in recs):
        return "subscription", "members / subscribers with a start and a cancellation"
    return "retail", "purchases of goods (no travel columns)"


# --------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------
def plan_job(name: str, files: Sequence[str | Path], as_of_date: date | None = None,
             given: dict[str, str] | None = None) -> JobPlan:
    """Recognise ``files``, load them through the product's loader and decide every key.

    Parameters
    ----------
    name : job name.
    files : the export files (a transaction file, a customers file, or both).
    as_of_date : extraction date; default: the last date of the bulk of the bookings, or
        for data without dates a month named in a ``SOURCE.md`` beside the file, or today
        (flagged).
    given : role -> column or expression settled by the user (``crm init --customer-id``).

    Returns
    -------
    :class:`JobPlan`; with open roles (``plan.open``) or a refused trial load
    (``plan.problem``) it holds the mappings found so far and no windows.
    """
    rec = recognise_files(list(files), given, as_of_date)
    plan = JobPlan(name, rec)
    plan.open = list(rec.open)
    tables = [r.table for r in rec.tables]
    if len(set(tables)) != len(tables) and not plan.open:
        plan.problem = (f"two files map onto the same table ({', '.join(tables)}) and no key "
                        "joins them: give one file per table (bookings, customers)")
    if plan.open or plan.problem:
        _table_guesses(plan, as_of_date)
        return plan
    as_of, as_of_why = as_of_date, "given with --as-of"
    bookings = rec.table("bookings")
    customers = rec.table("customers")
    if as_of is None and bookings is None and customers is not None and \
            customers.shape == "tenure_snapshot":
        found = next((s for r in rec.tables if (s := _source_as_of(r.path))), None)
        as_of, as_of_why = found if found else (date.today(), "today")
        as_of_why = (f"ASSUMED: the file has no dates; {as_of_why} — confirm the extraction "
                     "date (--as-of)")
        remap(customers, as_of)
    defaults = {"consent_email": True}
    try:
        loaded = trial_load(rec.tables, as_of, defaults)
    except DataError as exc:
        plan.problem = str(exc)
        _table_guesses(plan, as_of)
        return plan
    plan.stats, bulk, bulk_why = table_stats(loaded, rec.tables, as_of)
    plan.confirm.extend(f"{w['message']}; {w['fix']}" for w in loaded.warnings
                        if w["code"] in ("composite_key", "busy_customers"))
    if as_of is None:
        as_of, as_of_why = bulk, bulk_why
        if plan.stats.get("bookings") and plan.stats["bookings"].n_future:
            plan.confirm.append(f"as_of_date {as_of}: {bulk_why}")
    if as_of is None:
        as_of, as_of_why = date.today(), "ASSUMED: no dates in the data; today"
    _job_guesses(plan, as_of, as_of_why)
    return plan


def _job_guesses(plan: JobPlan, as_of: date, as_of_why: str) -> None:
    rec = plan.recognition
    bookings, customers = rec.table("bookings"), rec.table("customers")
    vocabulary, vocab_why = _vocabulary(rec.tables)
    plan.set("job", plan.name)
    kinds = " + ".join(r.shape.replace("_", " ") for r in rec.tables)
    plan.set("description", f"{kinds} from {', '.join(r.path.name for r in rec.tables)} "
             "(written by crm init: confirm the commented guesses)")
    plan.set("vocabulary", vocabulary, vocab_why)
    notebooks = TRANSACTION_NOTEBOOKS if bookings is not None else MEMBERSHIP_NOTEBOOKS
    plan.set("notebooks", notebooks, "bookings: every notebook" if bookings is not None else
             "no bookings: no loyalty / CLV notebook (BG/NBD needs purchases)")
    plan.set("data.source.as_of_date", as_of, as_of_why)
    if "ASSUMED" in as_of_why:
        plan.confirm.append(f"as_of_date {as_of}: {as_of_why}")
    _table_guesses(plan, as_of)
    if rec.join:
        plan.note("data.source.tables.join", f"the files join on the customer key: {rec.join}")
    if customers is not None and "consent_email" not in customers.mapping.columns:
        plan.set("data.source.tables.customers.defaults.consent_email", True, CONSENT_ASSUMED)
        plan.confirm.append("consent: " + CONSENT_ASSUMED)
    elif customers is None:
        plan.set("data.source.customer_defaults.consent_email", True,
                 "the file has no consent column; the customers table is derived from the "
                 "bookings. " + CONSENT_ASSUMED)
        plan.confirm.append("consent: " + CONSENT_ASSUMED)
    plan.set("data.cutoff_date", as_of, "analysis cut-off = as_of_date")
    if bookings is not None:
        _plan_lapse(plan, plan.stats["bookings"])
    if customers is not None and customers.shape in ("member_table", "tenure_snapshot"):
        _plan_membership(plan, customers, plan.stats.get("customers"),
                         with_bookings=bookings is not None)
    value_col = _value_column(customers) if bookings is None and customers else None
    if value_col:
        plan.set("segmentation.tiers.value_col", value_col, "no bookings: value tiers by the "
                 "recurring charge")
    span = _span(plan, bookings, customers)
    _short_history_rules(plan, _churn_horizons(plan, span, holdout_evaluated=bookings is not None))


def _churn_horizons(plan: JobPlan, span: int, holdout_evaluated: bool) -> list[int]:
    """``churn.horizons_days``, the one horizon setting: the horizons the churn plan chose
    (:func:`_plan_lapse`, :func:`_plan_membership`: within the holdout, or the tenure years)
    joined with the churn-probability spans of 90, 180 and 365 days within the data, which the
    scorer exports as ``churn_prob_<h>d``. With a holdout (bookings), a horizon at or beyond
    its end is exported but not evaluated (notebook 03 says so). Returns the horizons (days)."""
    spans = [h for h in (90, 180, 365) if h <= span] or [_floor30(span)]
    chosen = plan.guesses.get("churn.horizons_days")
    horizons = sorted({*(chosen.value if chosen else []), *spans})
    why = (f"{chosen.reason}; " if chosen else "") + (
        f"with the churn probabilities exported within the {span}-day span ({spans})")
    holdout = plan.value("churn.holdout_days")
    late = [h for h in horizons if holdout_evaluated and holdout and h >= holdout]
    if late:
        why += (f"; {late} lie at or beyond the end of the {holdout}-day holdout: exported, "
                "not evaluated on it")
    plan.set("churn.horizons_days", horizons, why)
    return horizons


def _span(plan: JobPlan, bookings: TableRecognition | None,
          customers: TableRecognition | None) -> int:
    if bookings is not None:
        return plan.stats["bookings"].span_days
    st = plan.stats.get("customers")
    if customers is not None and customers.shape == "tenure_snapshot":
        return int((customers.max_tenure or 0) * (30.44 if customers.tenure_unit == "month"
                                                  else 1))
    return st.span_days if st else 0


def _short_history_rules(plan: JobPlan, horizons: list[int]) -> None:
    """The default rules read churn_prob_365d: on shorter data, the longest horizon
    (``horizons``: ``churn.horizons_days`` ascending, days)."""
    if 365 in horizons:
        return
    h = horizons[-1]
    if plan.value("scoring.action_rules") is not None:
        for key in ("scoring.action_rules", "loyalty.stage_rules"):
            g = plan.guesses.get(key)
            if g is not None:
                g.value = [{**r, "when": r["when"].replace("churn_prob_365d", f"churn_prob_{h}d")}
                           for r in g.value]
                g.reason += f"; churn_prob_{h}d: the longest horizon within the data"
        return
    plan.set("scoring.action_rules", [
        {"action": "do_not_contact", "when": "contactable == 0"},
        {"action": "member_win_back", "when": "churn_status == 'cancelled'"},
        {"action": "win_back_call", "when": "value_tier in ['most_valuable', 'major'] and "
         f"(churn_status == 'lapsed' or churn_prob_{h}d >= 0.5)"},
        {"action": "reactivation", "when": "stage in ['lapsed', 'at_risk']"},
        {"action": "nurture", "when": "True"}],
        f"the default rules read churn_prob_365d; this data has {h}-day horizons")


def _table_guesses(plan: JobPlan, as_of: date | None) -> None:
    for rec in plan.recognition.tables:
        m = rec.mapping
        base = f"data.source.tables.{m.table}"
        entry = source_entry(rec)
        plan.set(f"{base}.path", entry["path"], rec.shape_reason)
        ev = rec.evidence
        plan.note(f"{base}.columns_found", f"{rec.path.name}: {ev.n_rows:,} rows, "
                  f"{len(ev.columns)} columns, {ev.sniffed.encoding}, delimiter "
                  f"{ev.sniffed.delimiter!r}" + (", decimal comma" if m.decimal else ""))
        for i, c in enumerate(ev.columns):
            plan.note(f"{base}.column_{i}", f"column {c.name!r}: {c.describe()}")
        if "encoding" in entry:
            plan.set(f"{base}.encoding", entry["encoding"], "the text did not decode as UTF-8")
        if "delimiter" in entry:
            plan.set(f"{base}.delimiter", entry["delimiter"], "the separator that splits every "
                     "line into the same number of fields")
        if m.decimal:
            plan.set(f"{base}.decimal", m.decimal, m.reasons.get("decimal", ""))
        for section in ("columns", "defaults"):
            for k, v in getattr(m, section).items():
                plan.set(f"{base}.{section}.{k}", v, m.reasons.get(f"{section}.{k}", ""))
        for k, v in m.values.items():
            plan.set(f"{base}.values.{k}", v, m.reasons.get(f"values.{k}", ""))
        for k, v in m.vocabulary.items():
            plan.set(f"{base}.vocabulary.{k}", v, m.reasons.get(f"vocabulary.{k}", ""))
        if m.attributes:
            plan.note(f"{base}.attributes.note", "the other columns, kept as snapshots of the "
                      "as-of date (not contract columns): " + ", ".join(m.attributes))
            for k, v in m.attributes.items():
                plan.set(f"{base}.attributes.{k}", v)
        if m.where:
            plan.set(f"{base}.where", list(m.where), m.reasons.get("where", ""))
        if m.group_lines:
            plan.set(f"{base}.group_lines", True, m.reasons.get("group_lines", ""))
        if m.date_format:
            plan.set(f"{base}.date_format", m.date_format, m.reasons.get("date_format", ""))
        plan.confirm.extend(rec.confirm)


def _plan_lapse(plan: JobPlan, st: TableStats) -> None:
    span = st.span_days
    if span < 90:
        plan.problem = (f"the booking dates span {span} days ({st.first_date} to "
                        f"{st.last_date}); churn and CLV windows need at least 90")
        return
    holdout = min(365, _floor30(span / 3))
    q85 = st.gap_days.get(0.85)
    gap = holdout if q85 is None else min(_round30(q85), holdout)
    gap_why = (f"85th percentile of the {st.n_repeat_customers:,} repeat customers' gaps "
               f"between purchase days ({q85:.0f} days; median {st.gap_days[0.5]:.0f}) "
               "rounded to 30" if q85 is not None else "no repeat customers: the holdout")
    if q85 is not None and _round30(q85) > holdout:
        gap_why += f", capped at the holdout {holdout} so lapses can be seen in it"
    plan.set("churn.definition", "lapse", "transaction data, no cancellation dates: a "
             "customer has churned after gap_days without a purchase")
    plan.set("churn.gap_days", gap, gap_why)
    plan.set("churn.holdout_days", holdout, f"a third of the {span}-day span (at most 365), "
             "rounded down to 30: training landmark + follow-up + holdout fit in the data")
    plan.set("churn.train_window_days", holdout, "follow-up of the training landmark = holdout")
    hs = sorted({h for h in (90, 180, 365) if h <= holdout} | {holdout})
    plan.set("churn.horizons_days", hs, "within the holdout, for its evaluation")
    plan.set("churn.time_origin", "landmark", "lapse churn depends on the recency at the "
             "landmark, not the age")
    unit = 7 if span >= 540 else 1
    plan.set("loyalty.time_unit_days", unit, "weeks (as the CDNOW benchmark) from 18 months of "
             "data on" if unit == 7 else "days: less than 18 months of data")
    plan.set("loyalty.holdout_days", holdout, "calibration ends holdout_days before the "
             "cut-off (= churn holdout)")
    plan.set("loyalty.horizon_days", min(365, _floor30(span / 2)),
             "CLV / expected purchases horizon: half the span, at most 365 days")
    plan.set("loyalty.min_history_days", 14, "customers first seen less than 2 weeks before "
             "the cut-off are flagged insufficient_history")
    plan.set("loyalty.previous_cutoff", st.last_date - timedelta(days=holdout),
             "lifecycle transitions from one holdout before the cut-off (inside the data)")
    plan.set("loyalty.repeat_model.horizon_days", holdout, "repeat-purchase horizon; its "
             "training cut-off lies two horizons back, inside the data")


def _plan_membership(plan: JobPlan, rec: TableRecognition, st: TableStats | None,
                     with_bookings: bool) -> None:
    for key in ("churn.gap_days", "churn.time_origin"):  # lapse settings of the bookings
        plan.guesses.pop(key, None)
    span = (st.span_days if rec.shape == "member_table" and st else
            int((rec.max_tenure or 0) * (30.44 if rec.tenure_unit == "month" else 1)))
    holdout = min(365, _floor30(max(span, 90) / 3))
    plan.set("churn.definition", "membership", "explicit cancellations: a member churns on "
             "membership_cancel_date")
    plan.set("churn.holdout_days", holdout, f"a third of the {span}-day history (at most 365)")
    plan.set("churn.train_window_days", holdout, "follow-up of the training landmark = holdout")
    if rec.shape == "tenure_snapshot" and rec.tenure_unit == "month":
        months = [1] + list(range(12, int(rec.max_tenure or 12) + 1, 12))
        plan.set("churn.horizons_days", [round(m * 30.4375) for m in months],
                 f"tenure is in whole months: these read as {months} months (the survival "
                 "curve at each year of tenure)")
    else:
        plan.set("churn.horizons_days", [h for h in (90, 180, 365) if h <= holdout]
                 or [holdout], "within the holdout")
    if with_bookings:
        return  # the default covariates: booking behaviour and the first trip
    plan.set("churn.full_history_origin", "start", "no bookings: lifetimes run from the "
             "membership start (signup_date)")
    attrs = rec.mapping.attributes
    prof = {a: rec.evidence.column(src) for a, src in attrs.items()
            if src in rec.evidence.names}
    value_col = _value_column(rec)
    categorical = sorted(
        (a for a in attrs if a in prof and prof[a].kind in ("text", "bool")
         and 2 <= prof[a].n_distinct <= _MAX_CATEGORIES and re.search(_COVARIATE_NAMES, a)),
        key=lambda a: next(i for i, w in enumerate(_COVARIATE_WORDS) if w in a))
    covariates = categorical[:1] + ([value_col] if value_col else [])
    if covariates:
        why = ("the attribute that best describes the customer's plan" + (
            f" and the recurring charge {value_col!r}" if value_col else "")
            + "; add others from: " + ", ".join(a for a in attrs if a not in covariates)
            + " (all are values of the as-of date)")
        plan.set("churn.covariates", covariates, why)
        plan.set("churn.full_history_covariates", covariates, "the same attributes")
    plan.set("churn.time_origin", "start", "the membership model scores conditional on the "
             "tenure reached")
    if categorical:
        plan.set("churn.km_groups", categorical[:3], "Kaplan-Meier curves by plan attributes")
    plan.set("loyalty.clv_method", "survival", "no purchases for BG/NBD: CLV = recurring "
             "value x discounted survival of the churn model")
    plan.set("loyalty.stage_rules", MEMBERSHIP_STAGE_RULES, "no BG/NBD (no p_alive): stages "
             "from the cancellation, the age and the churn probability")
    plan.set("scoring.contact_channels", ["email"], "only email consent is assumed")
    plan.set("scoring.action_rules", MEMBERSHIP_ACTION_RULES, "rules over what a "
             "customers-only job scores (no bookings, complaints or surveys)")
    plan.set("scoring.promotion.gates", {
        "churn_concordance": {"greater_is_better": True, "threshold": 0.6},
        "churn_fit_problems": {"greater_is_better": False, "threshold": 0.0}},
        "no purchases, no BG/NBD holdout: the churn gates only")
    if rec.shape == "tenure_snapshot":
        plan.confirm.append("every cancellation is dated on the extraction day (the snapshot "
                            "has no dates): the landmark holdout sees them all at its end")


def _value_column(rec: TableRecognition | None) -> str | None:
    if rec is None:
        return None
    attrs = rec.mapping.attributes
    money = [a for a, src in attrs.items() if src in rec.evidence.names
             and rec.evidence.column(src).kind == "decimal"
             and re.search(r"(?:charge|fee|price|amount|revenue|value|spend|mrr|arpu|premium)",
                           a)]
    recurring = [a for a in money if re.search(r"(?:monthly|mrr|arpu|recurring|per_month)", a)]
    return (recurring or [a for a in money if "total" not in a] or money or [None])[0]
