"""The published churn columns: the one place the exported ``churn_prob_<h>d`` are computed.

:func:`churn_scores` turns a fitted :class:`~src.models.churn.model.ChurnModel` and the
scorer's feature table (:func:`src.features.scoring.scoring_features`, one row per customer at
the cut-off) into the churn columns of the scored table. The scorer
(:meth:`src.decisioning.scoring.CustomerScorer.predict`: notebook 05, ``crm score``, Spark) calls it
for every customer it scores, and notebook 03 calls it to show what the scorer publishes, so
the two cannot disagree. The horizons are ``churn.horizons_days``, the one setting that also
names the horizons the churn model is evaluated at on the holdout.

What has already happened gets no probability: a customer whose lapse is established
(``churn_at_risk`` 0) or whose membership is cancelled (``membership_cancelled`` 1) has no
``churn_prob_<h>d`` and no remaining lifetime (0 days). Units: days for horizons and
lifetimes, probabilities in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from src.decisioning.scored_columns import churn_probability_columns
from src.models.churn.model import ChurnModel
from src.models.frames import numeric_values

__all__ = ["LIFETIME_COLUMNS", "churn_scores"]

#: remaining-lifetime columns (days) published beside the churn probabilities
LIFETIME_COLUMNS = ["expected_remaining_days", "median_remaining_days"]


def churn_scores(model: ChurnModel | None, features: pd.DataFrame,
                 horizons_days: Sequence[int], *, max_remaining_days: int = 3650
                 ) -> pd.DataFrame:
    """The churn columns the scorer publishes, one row per row of ``features``.

    Parameters
    ----------
    model : a fitted :class:`ChurnModel`, or None (no churn model: every value NaN).
    features : the scorer's feature table, shape (n, ...): ``churn_at_risk`` (1 at risk at
        the cut-off, 0 churned, NaN not covered by the churn definition),
        ``membership_cancelled`` (1 cancelled; optional), ``age_days`` (days at risk at the
        cut-off) and the model's covariates and strata.
    horizons_days : horizons h (days): ``churn.horizons_days``.
    max_remaining_days : cap of the expected remaining lifetime (days,
        ``scoring.max_remaining_days``).

    Returns
    -------
    pandas.DataFrame
        Index of ``features``; ``churn_prob_<h>d`` per horizon (probability of churning
        within h days of the cut-off given survival to it, :meth:`ChurnModel.
        predict_churn_probability`; NaN unless at risk, and for cancelled members) and
        :data:`LIFETIME_COLUMNS` (days, capped at ``max_remaining_days``; 0 once churned or
        cancelled).
    """
    hs = [int(h) for h in horizons_days]
    probs = churn_probability_columns(hs)
    out = pd.DataFrame(np.nan, index=features.index, columns=[*probs, *LIFETIME_COLUMNS])
    if model is None:
        return out
    state = numeric_values(features, "churn_at_risk")
    at_risk, churned = state == 1, state == 0
    cancelled = numeric_values(features, "membership_cancelled") == 1
    if at_risk.any():
        part = features.loc[at_risk]
        out.loc[at_risk, probs] = model.predict_churn_probability(part, hs).to_numpy()
        life = model.predict_remaining_lifetime(part, max_days=max_remaining_days)
        out.loc[at_risk, LIFETIME_COLUMNS] = life[LIFETIME_COLUMNS].to_numpy()
    # the event has happened: no probability for it, no lifetime left
    out.loc[churned | cancelled, LIFETIME_COLUMNS] = 0.0
    out.loc[cancelled, probs] = np.nan
    return out
