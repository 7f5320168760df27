"""The product's Kaplan-Meier and Cox (the functions the full-history analysis and notebook 03
use, column names as arguments) reproduce lifelines on the IBM telco churn data
(``../shared/data/telco_churn``; reference figures in its SOURCE.md, lifelines 0.30.3).

The data set must be beside the project: without it these tests fail, they do not skip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.models.churn import cox_regression, km_survival_at
from src.paths import PROJECT_ROOT

TELCO = PROJECT_ROOT.parent / "shared" / "data" / "telco_churn" / "telco_churn.csv.gz"


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    assert TELCO.exists(), f"{TELCO} is missing: the shared reference data sets must be beside the project"
    df = pd.read_csv(TELCO)
    df["churned"] = (df["churn"] == "Yes").astype(int)  # duration: tenure in months
    assert len(df) == 7043 and df["churned"].sum() == 1869
    return df


def test_kaplan_meier_matches_lifelines(telco):
    s = km_survival_at(telco, [1, 12, 24, 36, 48, 60, 72], duration_col="tenure",
                       event_col="churned")
    reference = {1: 0.9460, 12: 0.8432, 24: 0.7887, 36: 0.7485, 48: 0.7088, 60: 0.6644,
                 72: 0.5928}
    for t, value in reference.items():
        assert s.loc[t, "survival"] == pytest.approx(value, abs=0.002), t
    assert (s["lower_95"] < s["survival"]).all() and (s["survival"] < s["upper_95"]).all()
    # by contract (SOURCE.md): S(12) / S(24) / S(72)
    by_contract = {"Month-to-month": (0.7031, 0.5859, 0.1290), "One year": (0.9908, 0.9783, 0.5681),
                   "Two year": (1.0, 1.0, 0.9357)}
    for contract, values in by_contract.items():
        part = telco.loc[telco["contract"] == contract]
        got = km_survival_at(part, [12, 24, 72], duration_col="tenure", event_col="churned")
        np.testing.assert_allclose(got["survival"], values, atol=0.002, err_msg=contract)


def test_cox_matches_lifelines_with_the_largest_group_as_reference(telco):
    data = telco.loc[telco["tenure"] > 0]
    assert len(data) == 7032
    model = cox_regression(data, ["contract", "monthly_charges"], duration_col="tenure",
                           event_col="churned")
    s = model.summary
    # the largest contract group (3,875 month-to-month customers) is the baseline
    assert set(model.encoder_.spec_["reference"].dropna()) == {"Month-to-month"}
    reference = {"contract=One year": (-2.1899, 0.0836), "contract=Two year": (-4.2220, 0.1569),
                 "monthly_charges": (0.0002, 0.0009)}
    for name, (coef, se) in reference.items():
        assert s.loc[name, "coef"] == pytest.approx(coef, abs=0.01), name  # measured: < 1e-4
        assert s.loc[name, "se(coef)"] == pytest.approx(se, abs=0.001), name
    assert model.fitter_.log_likelihood_ == pytest.approx(-14343.542, abs=0.01)
    assert model.concordance_index_ == pytest.approx(0.7534, abs=0.0005)
