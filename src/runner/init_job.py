"""``crm init <name> <file>...``: a first job file for data the lab has never seen.

:func:`plan_job` profiles each file and recognises its shape (:mod:`src.data.profile`), then
decides what a job needs: the table mappings, the extraction date (``as_of_date``), the
notebooks, the vocabulary, the consent, and the churn and loyalty windows sized from the data:

- **lapse churn** (transaction data): ``gap_days`` is the 85th percentile of the days between
  a customer's consecutive purchase days, rounded to 30 days; ``holdout_days`` and
  ``train_window_days`` are a third of the span (at most 365), so the training landmark, its
  follow-up and the holdout fit in the data and both windows can see a lapse (the gap is
  capped at the window); churn horizons lie within the holdout, scoring horizons within the
  span;
- **loyalty**: the calibration holdout is the churn holdout, the CLV horizon half the span (at
  most 365), the repeat-booking horizon the holdout (its training cut-off, two horizons
  back, stays inside the data), weeks as the time unit from 18 months of data on;
- **membership churn** (a member table or a tenure snapshot): the customers table alone, the
  full-history analysis from the membership start, covariates from the snapshot attributes.

Every decision is a :class:`Guess` with its reason: :func:`render_yaml` writes each reason
as a comment above its key and :func:`init_job` prints each one, then validates the written
file with :func:`src.params.files.load_params`. Nothing is guessed silently.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from src.data.profile import ShapeRecognition, profile_file, recognise
from src.params.files import ParamsError, load_params
from src.paths import PARAMS_DIR, PROJECT_ROOT

__all__ = ["Guess", "InitResult", "JobPlan", "init_job", "plan_job", "render_yaml"]

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
                    "type", "product", "region")
_COVARIATE_NAMES = "(?:" + "|".join(_COVARIATE_WORDS) + ")"
_MAX_CATEGORIES = 10
_COMMENT = object()
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
    recognitions : one :class:`~src.data.profile.ShapeRecognition` per file.
    guesses : dotted key -> :class:`Guess`.
    confirm : what the user should confirm, one sentence each.
    """

    name: str
    recognitions: list[ShapeRecognition]
    guesses: dict[str, Guess] = field(default_factory=dict)
    confirm: list[str] = field(default_factory=list)

    def set(self, key: str, value: Any, reason: str = "") -> None:
        self.guesses[key] = Guess(key, value, reason)

    def note(self, key: str, reason: str) -> None:
        """A comment with no key of its own, written where ``key`` would be."""
        self.guesses[key] = Guess(key, _COMMENT, reason)

    def value(self, key: str, default: Any = None) -> Any:
        g = self.guesses.get(key)
        return default if g is None or g.value is _COMMENT else g.value

    def tree(self) -> dict[str, Any]:
        """The params as nested dicts (comment-only guesses left out)."""
        out: dict[str, Any] = {}
        for g in self.guesses.values():
            if g.value is _COMMENT:
                continue
            node = out
            *parents, leaf = g.key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = g.value
        return out


@dataclass
class InitResult:
    """What :func:`init_job` did: the file written, the plan, and validation problems."""

    path: Path
    plan: JobPlan
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------------------------
# sizing
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


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), PROJECT_ROOT)
    except ValueError:  # another drive
        return str(path.resolve())


def _vocabulary(recs: Sequence[ShapeRecognition]) -> tuple[str, str]:
    names = [c.key for r in recs for c in r.profile.columns]
    travel = [n for n in names if re.search(r"(?:trip|travel|destination|hotel|flight|nights|"
                                            r"stay|departure|arrival|tour|airline)", n)]
    if travel:
        return "travel", f"travel words in the columns: {', '.join(travel[:4])}"
    if any(r.shape in ("member_table", "tenure_snapshot") for r in recs):
        return "subscription", "members / subscribers with a start and a cancellation"
    return "retail", "purchases of goods (no travel columns)"


def _plan_lapse(plan: JobPlan, rec: ShapeRecognition) -> None:
    span = rec.span_days
    if span < 90:
        raise ValueError(f"{rec.profile.path.name}: the dates span {span} days; churn and CLV "
                         "windows need at least 90")
    holdout = min(365, _floor30(span / 3))
    q85 = rec.gap_days.get(0.85)
    gap = holdout if q85 is None else min(_round30(q85), holdout)
    gap_why = (f"85th percentile of the {rec.n_repeat_customers:,} repeat customers' gaps "
               f"between purchase days ({q85:.0f} days; median {rec.gap_days[0.5]:.0f}) "
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
    plan.set("churn.horizons_days", hs, "within the holdout, so each horizon is evaluated")
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
    plan.set("loyalty.previous_cutoff", rec.last_date - timedelta(days=holdout),
             "lifecycle transitions from one holdout before the cut-off (inside the data)")
    plan.set("loyalty.repeat_model.horizon_days", holdout, "repeat-purchase horizon; its "
             "training cut-off lies two horizons back, inside the data")


def _plan_membership(plan: JobPlan, rec: ShapeRecognition, with_bookings: bool) -> None:
    for key in ("churn.gap_days", "churn.time_origin"):  # lapse settings of the bookings
        plan.guesses.pop(key, None)
    span = (rec.span_days if rec.shape == "member_table" else
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
    prof = {c.key: c for c in rec.profile.columns}
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


def _value_column(rec: ShapeRecognition) -> str | None:
    prof = {c.key: c for c in rec.profile.columns}
    money = [a for a in rec.mapping.attributes if a in prof and prof[a].kind == "float"
             and re.search(r"(?:charge|fee|price|amount|revenue|value|spend|mrr|arpu|premium)",
                           a)]
    recurring = [a for a in money if re.search(r"(?:monthly|mrr|arpu|recurring|per_month)", a)]
    return (recurring or [a for a in money if "total" not in a] or money or [None])[0]


def _table_guesses(plan: JobPlan, rec: ShapeRecognition) -> None:
    m = rec.mapping
    base = f"data.source.tables.{m.table}"
    p = rec.profile
    plan.set(f"{base}.path", _rel(p.path), rec.shape_reason)
    if p.encoding not in ("utf-8", "utf-8-sig"):
        plan.set(f"{base}.encoding", p.encoding, "the text did not decode as UTF-8")
    if p.delimiter != ",":
        plan.set(f"{base}.delimiter", "tab" if p.delimiter == "\t" else p.delimiter,
                 "DuckDB's sniffer")
    for section in ("columns", "defaults"):
        for k, v in getattr(m, section).items():
            plan.set(f"{base}.{section}.{k}", v, m.reasons.get(f"{section}.{k}", ""))
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
    if m.dayfirst:
        plan.set(f"{base}.dayfirst", True, m.reasons.get("dayfirst", ""))
    plan.confirm.extend(rec.confirm)


def plan_job(name: str, files: Sequence[str | Path], as_of_date: date | None = None) -> JobPlan:
    """Profile ``files``, recognise their shapes and decide every key of the job.

    Parameters
    ----------
    name : job name.
    files : one file per contract table (a transaction file, a customers file, or both).
    as_of_date : extraction date; default: the last date in the data, or for data without
        dates a month named in a ``SOURCE.md`` beside the file, or today (flagged).

    Returns
    -------
    :class:`JobPlan`.

    Raises
    ------
    ValueError
        A file's shape is not recognised, two files map onto the same table, or the data
        span too few days to size the windows.
    """
    profiles = [profile_file(f) for f in files]
    as_of, as_of_why = as_of_date, "given with --as-of"
    recs = [recognise(p, as_of) for p in profiles]
    if as_of is None:
        last = [r.last_date for r in recs if r.last_date is not None]
        if last:
            as_of, as_of_why = max(last), "the last date in the data"
        else:
            found = next((s for p in profiles if (s := _source_as_of(p.path))), None)
            as_of, as_of_why = found if found else (date.today(), "today")
            as_of_why = (f"ASSUMED: the file has no dates; {as_of_why} — confirm the "
                         "extraction date (--as-of)")
        # a tenure snapshot's dates are expressions over the extraction date
        recs = [recognise(r.profile, as_of) if r.shape == "tenure_snapshot" else r
                for r in recs]
    tables = [r.mapping.table for r in recs]
    if len(set(tables)) != len(tables):
        raise ValueError(f"two files map onto the same table: {tables}; give one file per "
                         "table (bookings, customers)")
    plan = JobPlan(name, recs)
    vocabulary, vocab_why = _vocabulary(recs)
    bookings = next((r for r in recs if r.mapping.table == "bookings"), None)
    customers = next((r for r in recs if r.mapping.table == "customers"), None)
    plan.set("job", name)
    kinds = " + ".join(r.shape.replace("_", " ") for r in recs)
    plan.set("description", f"{kinds} from {', '.join(p.path.name for p in profiles)} "
             "(written by crm init: confirm the commented guesses)")
    plan.set("vocabulary", vocabulary, vocab_why)
    notebooks = TRANSACTION_NOTEBOOKS if bookings is not None else MEMBERSHIP_NOTEBOOKS
    plan.set("notebooks", notebooks, "bookings: every notebook" if bookings is not None else
             "no bookings: no loyalty / CLV notebook (BG/NBD needs purchases)")
    plan.set("data.source.as_of_date", as_of, as_of_why)
    if "ASSUMED" in as_of_why:
        plan.confirm.append(f"as_of_date {as_of}: {as_of_why}")
    for rec in recs:
        _table_guesses(plan, rec)
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
        _plan_lapse(plan, bookings)
    if customers is not None and customers.shape in ("member_table", "tenure_snapshot"):
        _plan_membership(plan, customers, with_bookings=bookings is not None)
    value_col = _value_column(customers) if bookings is None and customers else None
    if value_col:
        plan.set("segmentation.tiers.value_col", value_col, "no bookings: value tiers by the "
                 "recurring charge")
    span = (bookings or customers).span_days or int((customers.max_tenure or 0) * 30.44)
    scoring = [h for h in (90, 180, 365) if h <= span] or [_floor30(span)]
    plan.set("scoring.horizons_days", scoring, f"churn probabilities within the {span}-day span")
    if 365 not in scoring and plan.value("scoring.action_rules") is not None:
        h = scoring[-1]
        for key in ("scoring.action_rules", "loyalty.stage_rules"):
            g = plan.guesses.get(key)
            if g is not None:
                g.value = [{**r, "when": r["when"].replace("churn_prob_365d", f"churn_prob_{h}d")}
                           for r in g.value]
                g.reason += f"; churn_prob_{h}d: the longest horizon within the data"
    elif 365 not in scoring:
        h = scoring[-1]
        plan.set("scoring.action_rules", [
            {"action": "do_not_contact", "when": "contactable == 0"},
            {"action": "member_win_back", "when": "churn_status == 'cancelled'"},
            {"action": "win_back_call", "when": "value_tier in ['most_valuable', 'major'] and "
             f"(churn_status == 'lapsed' or churn_prob_{h}d >= 0.5)"},
            {"action": "reactivation", "when": "stage in ['lapsed', 'at_risk']"},
            {"action": "nurture", "when": "True"}],
            f"the default rules read churn_prob_365d; this data has {h}-day horizons")
    return plan


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_ ./-]*")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, date)):
        return value.isoformat() if isinstance(value, date) else repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text == text.strip() and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(lines: list[str], indent: int, text: str) -> None:
    if text:
        for line in textwrap.wrap(text, width=max(40, 96 - indent - 2), break_on_hyphens=False,
                                  break_long_words=False):
            lines.append(" " * indent + "# " + line)


def _render(lines: list[str], node: dict[str, Any], path: str, plan: JobPlan, indent: int) -> None:
    for g in plan.guesses.values():  # comment-only guesses open their section
        if g.value is _COMMENT and g.key.rpartition(".")[0] == path:
            _comment(lines, indent, g.reason)
    for key, value in node.items():
        dotted = f"{path}.{key}" if path else key
        g = plan.guesses.get(dotted)
        _comment(lines, indent, g.reason if g else "")
        pad = " " * indent
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            _render(lines, value, dotted, plan, indent + 2)
        elif isinstance(value, list) and (any(isinstance(v, dict) for v in value)
                                          or len(_flow(value)) > 80):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  - {_flow(v)}" for v in value)
        else:
            lines.append(f"{pad}{key}: {_flow(value)}")


def render_yaml(plan: JobPlan) -> str:
    """The job file: every guess's reason as a comment above its key."""
    lines = [f"# Job {plan.name!r}, written by `crm init` from "
             + ", ".join(r.profile.path.name for r in plan.recognitions) + ".",
             "# Every value below was guessed from the data; the comment above each key says "
             "why.", "# Keys marked ASSUMED are not in the data: confirm or change them."]
    if plan.confirm:
        lines.append("# To confirm:")
        lines.extend(f"#   - {c}" for c in plan.confirm)
    _render(lines, plan.tree(), "", plan, 0)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# crm init
# --------------------------------------------------------------------------------------------
def _describe(plan: JobPlan, echo: Callable[[str], None]) -> None:
    for rec in plan.recognitions:
        p = rec.profile
        echo(f"{p.path.name}: {p.encoding}, delimiter {p.delimiter!r}, "
             f"{'header' if p.header else 'no header'}, {p.n_rows:,} rows, "
             f"{len(p.columns)} columns")
        echo(f"  shape: {rec.shape_reason}")
        mapped = set(rec.mapping.columns.values()) | set(rec.mapping.attributes.values())
        exprs = " ".join(rec.mapping.columns.values())
        unused = [c for c in p.names if c not in mapped
                  and not re.search(r"(?<![\w])" + re.escape(c) + r"(?![\w])", exprs)]
        if unused:
            echo(f"  not used (map them by hand if they matter): {', '.join(unused)}")
        if rec.first_date is not None:
            echo(f"  kept {rec.n_kept:,} rows, {rec.n_customers:,} customers, "
                 f"{rec.first_date} to {rec.last_date} ({rec.span_days} days)")
        if rec.max_tenure is not None:
            echo(f"  {rec.n_customers:,} customers, tenure up to {rec.max_tenure:g} "
                 f"{rec.tenure_unit}s, {rec.churn_share:.1%} churned")
    echo("guessed (each is a comment in the file):")
    for g in plan.guesses.values():
        if g.key in ("job", "description") or not g.reason:
            continue  # attributes: listed by their section's note
        if g.value is _COMMENT:
            echo(f"  {g.key.rpartition('.')[0]}: {g.reason}")
        else:
            echo(f"  {g.key} = {_flow(g.value)}  <- {g.reason}")
    if plan.confirm:
        echo("please confirm:")
        for c in plan.confirm:
            echo(f"  - {c}")


def init_job(name: str, files: Sequence[str | Path], *, out: str | Path | None = None,
             force: bool = False, as_of_date: date | None = None,
             echo: Callable[[str], None] = print) -> InitResult:
    """Write ``params/<name>.yaml`` (or ``out``) for ``files``, print what was recognised.

    Parameters
    ----------
    name : job name.
    files : the data files (see :func:`plan_job`).
    out : where to write (default ``params/<name>.yaml``).
    force : overwrite an existing file.
    as_of_date : extraction date (default: guessed, see :func:`plan_job`).
    echo : where the lines go (``print``).

    Returns
    -------
    :class:`InitResult`; ``problems`` lists what :func:`load_params` refused (the file is
    written anyway, so it can be fixed by hand).

    Raises
    ------
    FileExistsError
        ``out`` exists and ``force`` is false.
    FileNotFoundError
        A data file is missing.
    ValueError
        See :func:`plan_job`.
    """
    path = Path(out) if out is not None else PARAMS_DIR / f"{name}.yaml"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    missing = [str(f) for f in files if not Path(f).exists()]
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    plan = plan_job(name, files, as_of_date=as_of_date)
    _describe(plan, echo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_yaml(plan), encoding="utf-8")
    try:
        load_params(path.resolve())
        problems: list[str] = []
    except ParamsError as exc:
        problems = exc.problems
    if problems:
        echo(f"wrote {path}, but it does not validate yet:")
        for p in problems:
            echo(f"  - {p}")
    else:
        echo(f"wrote {path} (validated); run it with: crm run {_run_arg(path, name)}")
    return InitResult(path=path, plan=plan, problems=problems)


def _run_arg(path: Path, name: str) -> str:
    return name if path.resolve() == (PARAMS_DIR / f"{name}.yaml").resolve() else str(path)

