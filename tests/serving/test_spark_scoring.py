"""The registered scorer on Spark (``mlflow.pyfunc.spark_udf``) gives the pandas scores.

pyspark is an optional extra (``pip install pyspark``) and needs Java (17); without either the
test is skipped and says which is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import pytest

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (optional extra: pip install pyspark)",
                allow_module_level=True)
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not available (pyspark needs a JDK, e.g. openjdk-17)",
                allow_module_level=True)

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from src.data.synthetic import generate  # noqa: E402
from src.decisioning.scoring import build_scorer  # noqa: E402
from src.features.customer import customer_features  # noqa: E402
from src.features.scoring import scoring_features  # noqa: E402
from src.layout import RunLayout  # noqa: E402
from src.models.segmentation import BehaviouralSegmenter, SegmentationModel  # noqa: E402
from src.params import load_params  # noqa: E402
from src.serving.batch import spark_score  # noqa: E402
from src.serving.pyfunc import log_project_model  # noqa: E402

CUTOFF = pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # Python workers run the interpreter of this test (else `python3` from PATH)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("crm-scoring-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


def test_spark_udf_scores_equal_pandas_scores(spark, tmp_path):
    tables = generate(500, seed=11).tables()
    run = RunLayout(tmp_path / "run")
    f = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                          interactions=tables["interactions"], feedback=tables["feedback"])
    run.save_model("segmentation", SegmentationModel(
        clusters=BehaviouralSegmenter(k_range=(3, 3), sample_size=1000)).fit(f))
    params = load_params("demo", {"churn.models": ["coxph"], "churn.penalizers": [0.01]})
    scorer = build_scorer(run, tables, params)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("spark-test")
    with mlflow.start_run():
        info = log_project_model(scorer, "scorer", scorer.example_)

    features = scorer.model_input(scoring_features(tables, CUTOFF, scorer.feature_settings_))
    want = scorer.predict(features)

    sdf = spark.createDataFrame(features.astype(object).where(features.notna(), None))
    got = spark_score(spark, info.model_uri, sdf).toPandas()
    got = got.set_index("customer_id").loc[want["customer_id"]].reset_index()
    assert list(got.columns) == list(want.columns)
    for col in want.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_float_dtype(b.dtype):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9,
                                       atol=1e-12, equal_nan=True, err_msg=col)
        else:
            assert (a.astype(object).where(a.notna(), None).tolist()
                    == b.astype(object).where(b.notna(), None).tolist()), col
