"""Survival-based churn: who is leaving, how soon, and why.

Two churn definitions build one ``(duration_days, event)`` row per customer, Kaplan-Meier,
Cox PH and Weibull AFT models (lifelines) score every customer's churn probability within
fixed horizons and their remaining lifetime, conditional on having survived so far, and a
time-based holdout compares the models with a Kaplan-Meier-only baseline (scikit-survival
metrics). All durations, ages, horizons and lifetimes are in days.

Modules, each depending only on those above it: :mod:`~src.features.survival`
(survival tables, landmark frames, time split), :mod:`~src.models.churn.km`
(Kaplan-Meier summaries), :mod:`~src.models.churn.encoding` (covariate encoding),
:mod:`~src.models.churn.cox` (the Cox engine), :mod:`~src.models.churn.drivers`
(hazard ratios in business words), :mod:`~src.models.churn.model`
(:class:`ChurnModel`), :mod:`~src.models.churn.evaluation` (time-based holdout),
:mod:`~src.models.churn.workflow` (:func:`select_and_fit`, the landmark models that score),
:mod:`~src.models.churn.analysis` (:func:`full_history_analysis`, the descriptive Cox of
membership data from the start, printed lifelines-style). The published churn columns (the one
place the scorer's exported ``churn_prob_<h>d`` are computed) are
:func:`src.decisioning.churn_scores.churn_scores`.

Decisions
---------
- **Lapse (non-contractual) churn is dated when it becomes observable.** A customer lapses at
  the last completed booking before the first inactivity gap longer than ``gap_days``; the
  lapse is *established* ``gap_days`` later. ``duration_days`` runs from the first booking to
  that moment (``lifetime_days`` keeps first booking -> last booking before the gap). Only
  then is censoring at ``cutoff - first booking`` valid (every censored customer's event
  lies after the censoring time) and can a customer alive at a landmark have an event after
  it; timing the event at the last booking would credit censored customers with up to
  ``gap_days`` of survival they may not have had. The two times differ by the constant
  ``gap_days``.
- **Landmark frames.** Covariates measured at a cut-off describe customers alive at that
  cut-off; for lapsed customers they would be measured after the event (recency encodes
  the outcome). :func:`landmark_frame` therefore keeps the customers alive at a landmark
  date, with features as of the landmark and the outcome after it, and :func:`time_split`
  builds a training landmark and a test landmark from data before and after the training
  cut-off. Time runs either from the customer's start with the landmark age as late entry
  (``entry_days``; predictions are ``P(churn within h | alive at age)``), or from the
  landmark itself (``time_origin="landmark"``), which fits lapse churn better: when a
  lapse can be declared depends on the recency at the landmark, not on the age.
- **Cox fitted here, lifelines around it.** lifelines' Cox handles late entry with a loop
  over event times (minutes at 100k rows) and its Breslow baseline and Schoenfeld
  residuals ignore late entry. :class:`~src.models.churn.cox.CoxPH` maximises the same
  partial likelihood (Breslow ties, lifelines' ridge convention, strata) vectorised,
  and matches lifelines' coefficients and standard errors to 1e-5 (tests). The
  proportional-hazards test is lifelines'
  :func:`~lifelines.statistics.proportional_hazard_test` (the one ``check_assumptions``
  prints) fed with late-entry-correct scaled Schoenfeld residuals.
  Kaplan-Meier, Weibull AFT, concordance, log-rank and median CIs are lifelines'.
- **Scoring never builds survival curves per customer.** Cox and Kaplan-Meier scores look
  up a step-function cumulative hazard per stratum (``searchsorted``), Weibull scores use
  closed forms; only the restricted mean of the remaining lifetime under Cox/KM sums over a
  bounded day grid, chunked. Beyond the longest follow-up, Cox/KM hazards continue at their
  average over the last year (lifelines' flat curve would make long-lived customers
  immortal).
"""

from src.features.survival import (
    AGE_COL,
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    landmark_frame,
    lapse_survival_table,
    lifetime_table,
    membership_survival_table,
    survival_frame,
    time_split,
)
from src.models.churn.analysis import (
    FullHistoryAnalysis,
    churn_causes,
    cox_regression,
    full_history_analysis,
    full_history_frame,
)
from src.models.churn.encoding import CovariateEncoder
from src.models.churn.evaluation import best_model, evaluate_holdout, survival_at_horizons
from src.models.churn.km import kaplan_meier_curves, km_by_group, km_survival_at
from src.models.churn.model import ChurnModel, Kind
from src.models.churn.workflow import (
    ChurnSelection,
    at_risk_frame,
    select_and_fit,
    survival_columns,
)

__all__ = [
    "AGE_COL",
    "DURATION_COL",
    "ENTRY_COL",
    "EVENT_COL",
    "ChurnModel",
    "ChurnSelection",
    "at_risk_frame",
    "CovariateEncoder",
    "FullHistoryAnalysis",
    "Kind",
    "best_model",
    "churn_causes",
    "cox_regression",
    "evaluate_holdout",
    "full_history_analysis",
    "full_history_frame",
    "kaplan_meier_curves",
    "km_by_group",
    "km_survival_at",
    "landmark_frame",
    "lapse_survival_table",
    "lifetime_table",
    "membership_survival_table",
    "select_and_fit",
    "survival_at_horizons",
    "survival_columns",
    "survival_frame",
    "time_split",
]
