"""One model API, checked over every model class (the common tests of scikit-learn and
lifelines, in small): ``__init__`` only stores its arguments, ``fit`` returns ``self`` and sets
fitted attributes ending in ``_``, predicting before ``fit`` raises scikit-learn's
``NotFittedError``, ``summary`` is a property holding a DataFrame and ``print_summary()``
prints it, ``save`` / ``load`` (joblib, the one format) round-trips to identical predictions
on a fresh frame, and the four parts a run logs to MLflow go through the one pyfunc with a
signature and predict the same after reloading."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from src.data.synthetic import generate
from src.decisioning.scoring import CustomerScorer, build_scorer
from src.features.customer import customer_features
from src.features.first_trip import first_trip_table
from src.features.rfm_summary import summary_at
from src.features.scoring import FeatureSettings, scoring_features
from src.layout import RunLayout
from src.models.base import ProjectModel
from src.models.btyd import BGNBD, GammaGamma
from src.models.btyd.clv import CLVModel
from src.models.churn import ChurnModel, landmark_frame
from src.models.frames import to_plain_dtypes
from src.models.repeat_booking import RepeatBookingModel
from src.models.segmentation import BehaviouralSegmenter, RFMScorer, SegmentationModel, ValueTiers
from src.params import load_params
from src.serving.pyfunc import ProjectModelPyfunc, log_project_model

CUTOFF = pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    tables = generate(900, seed=21).tables()
    feats = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                              interactions=tables["interactions"], feedback=tables["feedback"])
    summary = summary_at(tables["bookings"], CUTOFF)
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    return {
        "tables": tables, "features": feats, "summary": summary, "repeat": repeat,
        "train": landmark_frame(tables, landmark_date="2024-12-31", end_date=CUTOFF,
                                time_origin="landmark"),
        "current": landmark_frame(tables, landmark_date=CUTOFF, time_origin="landmark"),
        "first_trips": first_trip_table(tables, cutoff_date=CUTOFF, horizon_days=365),
    }


@dataclass
class Case:
    """How to make, fit and ask one model class."""

    make: Callable[[], Any]
    fit: Callable[[Any, dict], Any]
    predict: Callable[[Any, dict], Any]


def _scorer_fit(model: CustomerScorer, d: dict) -> CustomerScorer:
    return model.fit(d["tables"], CUTOFF)


CASES: dict[str, Case] = {
    "RFMScorer": Case(RFMScorer, lambda m, d: m.fit(d["features"]),
                      lambda m, d: m.predict(d["features"])),
    "ValueTiers": Case(ValueTiers, lambda m, d: m.fit(d["features"]),
                       lambda m, d: m.transform(d["features"])),
    "BehaviouralSegmenter": Case(lambda: BehaviouralSegmenter(k_range=(3, 3), sample_size=500),
                                 lambda m, d: m.fit(d["features"]),
                                 lambda m, d: m.predict(d["features"])),
    "SegmentationModel": Case(
        lambda: SegmentationModel(clusters=BehaviouralSegmenter(k_range=(3, 3), sample_size=500)),
        lambda m, d: m.fit(d["features"]), lambda m, d: m.predict(d["features"])),
    "ChurnModel": Case(lambda: ChurnModel(kind="coxph", covariates=["recency_days", "frequency",
                                                                     "monetary_mean"],
                                          penalizers=(0.01,), horizons_days=(90, 365)),
                       lambda m, d: m.fit(d["train"]), lambda m, d: m.predict(d["current"])),
    "BGNBD": Case(BGNBD, lambda m, d: m.fit_summary(d["summary"]),
                  lambda m, d: m.conditional_probability_alive(
                      d["summary"]["frequency"], d["summary"]["recency"], d["summary"]["T"])),
    "GammaGamma": Case(GammaGamma, lambda m, d: m.fit(d["repeat"]["frequency"],
                                                      d["repeat"]["monetary_value"]),
                       lambda m, d: m.conditional_expected_average_profit(
                           d["repeat"]["frequency"], d["repeat"]["monetary_value"])),
    "CLVModel": Case(CLVModel, lambda m, d: m.fit(d["summary"]),
                     lambda m, d: m.predict(d["summary"])),
    "RepeatBookingModel": Case(lambda: RepeatBookingModel(max_iter=50),
                               lambda m, d: m.fit(d["first_trips"]),
                               lambda m, d: m.predict_proba(d["first_trips"])),
}


def _scorer_case(d: dict) -> Case:
    parts = (SegmentationModel(clusters=BehaviouralSegmenter(k_range=(3, 3), sample_size=500))
             .fit(d["features"]),
             CASES["ChurnModel"].fit(CASES["ChurnModel"].make(), d),
             CLVModel().fit(d["summary"]))
    feats = scoring_features(d["tables"], CUTOFF)
    return Case(lambda: CustomerScorer(*parts), _scorer_fit, lambda m, _: m.predict(feats))


def _case(name: str, d: dict) -> Case:
    return _scorer_case(d) if name == "CustomerScorer" else CASES[name]


def _equal(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


NAMES = [*CASES, "CustomerScorer"]


def test_every_model_class_is_covered():
    """A new model class must join the contract: every ProjectModel subclass is listed."""
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    concrete = {c.__name__ for c in subclasses(ProjectModel) if not inspect.isabstract(c)
                and c.__module__.startswith("src.")} - {"LogParamMLE"}
    assert concrete <= set(NAMES), f"not in the contract test: {concrete - set(NAMES)}"


@pytest.mark.parametrize("name", NAMES)
def test_init_stores_and_fit_returns_self(name, data):
    case = _case(name, data)
    model = case.make()
    assert isinstance(model, ProjectModel)
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")], \
        "__init__ must only store its arguments"
    assert not model.is_fitted()
    assert case.fit(model, data) is model
    assert model.is_fitted()
    assert [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]


@pytest.mark.parametrize("name", NAMES)
def test_predicting_before_fit_raises_sklearns_not_fitted_error(name, data):
    case = _case(name, data)
    with pytest.raises(NotFittedError, match="not fitted"):
        case.predict(case.make(), data)
    with pytest.raises(NotFittedError):
        _ = case.make().summary


@pytest.mark.parametrize("name", NAMES)
def test_summary_is_a_property_and_print_summary_prints(name, data, capsys):
    case = _case(name, data)
    model = case.fit(case.make(), data)
    assert isinstance(inspect.getattr_static(type(model), "summary"), property)
    assert isinstance(model.summary, pd.DataFrame) and len(model.summary) > 0
    model.print_summary()
    assert type(model).__name__ in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_predicts_the_same(name, data, tmp_path):
    case = _case(name, data)
    model = case.fit(case.make(), data)
    path = model.save(tmp_path / f"{name}.joblib")
    again = type(model).load(path)
    assert type(again) is type(model)
    _equal(case.predict(again, data), case.predict(model, data))
    other = next(n for n in NAMES if n != name and n != "CustomerScorer")
    with pytest.raises(TypeError, match=f"not a {other}"):
        CASES[other].make().__class__.load(path)


def test_run_layout_saves_and_loads_the_parts(data, tmp_path):
    layout = RunLayout(tmp_path)
    churn = CASES["ChurnModel"].fit(CASES["ChurnModel"].make(), data)
    layout.save_model("churn", churn)
    _equal(layout.load_model("churn", ChurnModel).predict(data["current"]),
           churn.predict(data["current"]))


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    experiment = mlflow.create_experiment("contract", artifact_location=(tmp / "art").as_uri())
    yield experiment
    mlflow.set_tracking_uri(None)


@pytest.mark.parametrize("name,example", [("SegmentationModel", "features"),
                                          ("ChurnModel", "current"), ("CLVModel", "summary"),
                                          ("CustomerScorer", None)])
def test_the_one_pyfunc_logs_with_a_signature_and_reloads(name, example, data, tracking):
    case = _case(name, data)
    model = case.fit(case.make(), data)
    frame = (scoring_features(data["tables"], CUTOFF, FeatureSettings()) if example is None
             else data[example])
    with mlflow.start_run(experiment_id=tracking):
        info = log_project_model(model, name, frame)
    assert info.signature is not None and info.signature.inputs.input_names()
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert isinstance(loaded.unwrap_python_model(), ProjectModelPyfunc)
    rows = frame.head(40)
    shape = getattr(model, "model_input", None)
    got = loaded.predict(shape(rows) if shape else to_plain_dtypes(rows, ints_as_float=True))
    want = model.predict(rows)
    want = want.reset_index() if want.index.name else want
    for col in [c for c in want.columns if pd.api.types.is_float_dtype(want[c])][:4]:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float),
                                   rtol=1e-9, equal_nan=True)
    assert len(got) == len(rows)


def test_build_scorer_with_every_part_in_the_run_refits_nothing(data, tmp_path):
    """The scorer takes the run's fitted parts as they are (no private refits)."""
    layout = RunLayout(tmp_path)
    parts = {"segmentation": CASES["SegmentationModel"], "churn": CASES["ChurnModel"],
             "clv": CASES["CLVModel"]}
    fitted = {k: c.fit(c.make(), data) for k, c in parts.items()}
    for k, m in fitted.items():
        layout.save_model(k, m)
    scorer = build_scorer(layout, data["tables"], load_params("demo"))
    assert all("of the run" in n for n in scorer.notes_[:3])
    _equal(scorer.churn.predict(data["current"]), fitted["churn"].predict(data["current"]))
