"""Churn on a short history (12-24 months): the defaults' failure is bad input naming the data
span, the ``churn.*`` keys and values that fit; those values work; a job without usable
covariates falls back to Kaplan-Meier with a note; ``km`` is a kind of ``churn.models``."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from src.data.errors import InsufficientDataError
from src.data.synthetic import generate
from src.models.churn import ChurnModel
from src.models.churn.model import NoUsableCovariatesError
from src.models.churn.workflow import check_history, fitting_windows, select_and_fit
from src.params import load_params
from src.params.schema import ChurnParams

CUTOFF = "2025-12-31"


@pytest.fixture(scope="module")
def short_history() -> dict[str, pd.DataFrame]:
    """18 months of a small synthetic company."""
    d = generate(600, seed=3, start_date="2024-07-01", extraction_date=CUTOFF)
    return {"bookings": d.bookings, "customers": d.customers}


def fitting_params(tables: dict[str, pd.DataFrame], **changes) -> ChurnParams:
    w = fitting_windows(tables["bookings"], CUTOFF)
    return ChurnParams(gap_days=w["gap_days"], holdout_days=w["holdout_days"],
                       train_window_days=w["train_window_days"], penalizers=[0.1], **changes)


def test_defaults_on_18_months_name_the_span_the_keys_and_values_that_fit(short_history) -> None:
    with pytest.raises(InsufficientDataError) as info:
        select_and_fit(short_history, ChurnParams(), CUTOFF)
    msg = str(info.value)
    w = fitting_windows(short_history["bookings"], CUTOFF)
    assert w["span_days"] < 365 + 365
    assert w["first"] in msg and w["last"] in msg and f"{w['span_days']} days" in msg
    for key in ("churn.gap_days", "churn.holdout_days", "churn.train_window_days"):
        assert key in msg
    suggested = {k: int(v) for k, v in re.findall(r"(churn\.\w+): (\d+)", msg)}
    assert suggested == {"churn.gap_days": w["gap_days"], "churn.holdout_days": w["holdout_days"],
                         "churn.train_window_days": w["train_window_days"]}
    # the gap follows the booking rhythm, the windows fit beside it in the span
    assert w["gap_days"] >= w["gap_quantile_days"]
    assert w["gap_days"] + w["holdout_days"] <= w["span_days"]
    assert w["holdout_days"] + w["train_window_days"] < w["span_days"]


def test_the_suggested_values_fit_a_model(short_history) -> None:
    params = fitting_params(short_history, models=["coxph", "km"])
    check_history(short_history, params, CUTOFF)  # no error
    selection = select_and_fit(short_history, params, CUTOFF)
    assert selection.train["event"].sum() > 0 and selection.recent["event"].sum() > 0
    assert selection.best in {"coxph", "km"} and not selection.notes
    assert selection.metrics["churn_km_fallback"] == 0.0


def test_no_usable_covariates_falls_back_to_km_with_a_note(short_history) -> None:
    params = fitting_params(short_history, models=["coxph", "weibull_aft"], covariates=[])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selection = select_and_fit(short_history, params, CUTOFF)
    assert selection.best == "km" and selection.model.kind == "km"
    [note] = selection.notes
    assert "Kaplan-Meier" in note and "churn.models" in note
    assert any(note == str(w.message) for w in caught)
    assert selection.metrics["churn_km_fallback"] == 1.0


def test_km_is_a_kind_of_churn_models_and_scores_conditional_on_age(short_history) -> None:
    selection = select_and_fit(short_history, fitting_params(short_history, models=["km"],
                                                             time_origin="start"), CUTOFF)
    assert selection.best == "km" and not selection.notes
    assert selection.metrics["churn_km_fallback"] == 0.0  # chosen, not a fallback
    model = selection.model
    ages = pd.DataFrame({"age_days": [0.0, 100.0, 300.0]})
    scores = model.predict(ages)
    probs = scores.filter(like="churn_prob_").to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    assert (np.diff(probs, axis=1) >= 0).all()  # non-decreasing in the horizon
    # conditional on the time at risk: 1 - S(age + h) / S(age) from the KM curve
    h = int(model.horizons_days[0])
    surv = model.fitter_.survival_function_at_times([100.0, 100.0 + h]).to_numpy()
    assert scores.iloc[1, 0] == pytest.approx(1 - surv[1] / surv[0], abs=1e-6)


def test_a_frame_without_events_is_insufficient_data() -> None:
    df = pd.DataFrame({"duration_days": [10.0, 20.0, 30.0], "event": [0, 0, 0],
                       "x": [1.0, 2.0, 3.0]})
    with pytest.raises(InsufficientDataError, match="no events"):
        ChurnModel("coxph").fit(df)


def test_constant_covariates_raise_no_usable_covariates_naming_km() -> None:
    df = pd.DataFrame({"duration_days": [10.0, 20.0, 30.0, 40.0], "event": [1, 0, 1, 1],
                       "x": [1.0, 1.0, 1.0, 1.0]})
    with pytest.raises(NoUsableCovariatesError, match="no usable covariates") as info:
        ChurnModel("coxph").fit(df)
    assert isinstance(info.value, InsufficientDataError) and "km" in str(info.value)


def test_churn_models_accepts_km_only_among_known_kinds() -> None:
    assert ChurnParams(models=["km"]).models == ["km"]
    with pytest.raises(ValueError):
        ChurnParams(models=["kaplan"])


def test_the_demo_company_at_300_customers_selects_a_churn_model() -> None:
    """The demo job's company at 300 customers: an unpenalized Cox fit on one of the
    penalizer's cross-validation folds stepped to non-finite coefficients and lifelines'
    concordance raised "NaNs detected in inputs" (notebook 03 failed, exit code 3). The
    Newton iteration keeps its last finite step, so the selection runs through."""
    params = load_params("demo")
    tables = generate(300, seed=params.data.synthetic.seed).tables()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        selection = select_and_fit(tables, params.churn, pd.Timestamp(params.cutoff()),
                                   seed=params.seed)
    assert selection.model.kind in params.churn.models
    assert np.isfinite(selection.model.concordance_index_) or selection.model.kind == "km"
