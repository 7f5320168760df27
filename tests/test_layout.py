"""The names and the reading/writing of a run folder (src.layout.RunLayout)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from src.data.contract import TABLES, pii_columns
from src.data.synthetic import generate
from src.layout import MODEL_PARTS, RunLayout


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """A tiny contract-shaped table set (200 synthetic customers)."""
    return generate(200, seed=1).tables()


def test_every_named_path_sits_where_the_docstring_says(tmp_path: Path) -> None:
    layout = RunLayout(str(tmp_path))  # a string root is taken as a path
    assert layout.root == tmp_path
    expected = {
        "params_file": "params.yaml",
        "manifest_file": "manifest.json",
        "log_file": "run.log",
        "index_file": "index.html",
        "rejects_file": "rejects.csv",
        "input_dir": "input",
        "truth_file": "input/truth.parquet",
        "data_dir": "data",
        "inputs_file": "data/inputs.json",
        "feature_cache_dir": "data/feature_cache",
        "features_file": "data/features.parquet",
        "segments_file": "data/segments.parquet",
        "clv_scores_file": "data/clv.parquet",
        "lifecycle_file": "data/lifecycle.parquet",
        "scored_file": "data/scored.parquet",
        "rejected_customers_file": "data/rejected_customers.parquet",
        "scorer_record_file": "data/scorer_model.json",
        "models_dir": "models",
        "metrics_dir": "metrics",
        "exports_dir": "exports",
        "withdrawn_exports_dir": "exports.withdrawn",
    }
    actual = {name: getattr(layout, name).relative_to(tmp_path).as_posix() for name in expected}
    assert actual == expected
    nb = "02_segmentation"
    assert layout.notebook_file(nb) == tmp_path / "02_segmentation.ipynb"
    assert layout.figures_dir(nb) == tmp_path / "figures" / nb
    assert layout.tables_dir(nb) == tmp_path / "tables" / nb
    assert layout.metrics_file(nb) == tmp_path / "metrics" / "02_segmentation.json"
    for name in TABLES:
        assert layout.table_file(name) == tmp_path / "data" / f"{name}.parquet"
    for part in MODEL_PARTS:
        assert layout.model_file(part) == tmp_path / "models" / f"{part}.joblib"
    assert list(tmp_path.iterdir()) == []  # naming creates nothing


def test_write_and_read_tables_round_trip_without_pii(tmp_path: Path,
                                                      tables: dict[str, pd.DataFrame]) -> None:
    layout = RunLayout(tmp_path / "run")
    assert not layout.has_data()
    layout.write_tables(tables)
    assert layout.has_data()
    assert set(layout.table_files()) == set(tables)
    assert not [p for p in layout.data_dir.iterdir() if p.name.endswith(".tmp")]

    pii = pii_columns()
    assert pii["customers"], "the contract marks personal columns of customers"
    read = layout.read_tables()
    assert set(read) == set(tables)
    for name, df in tables.items():
        assert not set(pii[name]) & set(read[name].columns), name
        kept = [c for c in df.columns if c not in pii[name]]
        pd.testing.assert_frame_equal(read[name], df[kept].reset_index(drop=True))

    full = layout.read_tables(with_pii=True)
    for name, df in tables.items():
        pd.testing.assert_frame_equal(full[name], df.reset_index(drop=True))


def test_write_tables_drops_the_feature_cache_of_older_data(tmp_path: Path,
                                                             tables: dict[str, pd.DataFrame]) -> None:
    layout = RunLayout(tmp_path)
    layout.feature_cache_dir.mkdir(parents=True)
    (layout.feature_cache_dir / "old.parquet").write_bytes(b"stale")
    layout.write_tables({"bookings": tables["bookings"]})
    assert not layout.feature_cache_dir.exists()
    assert set(layout.read_tables()) == {"bookings"}  # absent tables are absent


def test_read_tables_without_data_names_the_data_step(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="01_data_quality") as err:
        RunLayout(tmp_path).read_tables()
    assert str(tmp_path / "data") in str(err.value)


def test_write_and_read_frame(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    df = pd.DataFrame({"segment": ["a", "b"], "n": [1, 2]},
                      index=pd.Index(["c1", "c2"], name="customer_id"))
    assert layout.write_frame(layout.segments_file, df) == layout.segments_file
    pd.testing.assert_frame_equal(layout.read_frame(layout.segments_file), df)
    with pytest.raises(FileNotFoundError, match="written by 04_loyalty_clv") as err:
        layout.read_frame(layout.clv_scores_file, writer="04_loyalty_clv")
    assert "clv.parquet" in str(err.value)


def test_write_csv_is_atomic_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    df = pd.DataFrame({"list": ["win_back", "入会"], "uplift": [0.219, -0.01]})
    assert layout.write_csv(layout.campaign_results_file, df) == layout.campaign_results_file
    pd.testing.assert_frame_equal(pd.read_csv(layout.campaign_results_file), df)

    class Broken(pd.DataFrame):
        def to_csv(self, path, **kw):  # writes half a file, then fails
            Path(path).write_text("list,upl", encoding="utf-8")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        layout.write_csv(layout.campaign_results_file, Broken(df))
    pd.testing.assert_frame_equal(pd.read_csv(layout.campaign_results_file), df)
    assert [p.name for p in layout.campaign_results_file.parent.iterdir()] == [
        layout.campaign_results_file.name]  # no temporary file left behind


def test_write_and_read_json(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert layout.read_inputs_record() == {}
    layout.write_json(layout.inputs_file, {"rows": {"bookings": {"in": 3}}})
    assert layout.read_inputs_record() == {"rows": {"bookings": {"in": 3}}}


class TinyModel:
    """The persistence half of a project model: ``save(path)`` / ``Class.load(path)``."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights

    def save(self, path: str | Path) -> Path:
        Path(path).write_text(json.dumps(self.weights), encoding="utf-8")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> TinyModel:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


def test_save_and_load_model_round_trip(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert not layout.has_model("churn")
    path = layout.save_model("churn", TinyModel([0.5, -1.25]))
    assert path == layout.model_file("churn") and layout.has_model("churn")
    assert sorted(p.name for p in layout.models_dir.iterdir()) == ["churn.joblib"]
    loaded = layout.load_model("churn", TinyModel)
    assert isinstance(loaded, TinyModel) and loaded.weights == [0.5, -1.25]


def test_load_missing_model_names_the_part(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no fitted clv model"):
        RunLayout(tmp_path).load_model("clv", TinyModel)


@pytest.mark.parametrize("part", ["survival", "", "Churn"])
def test_model_file_rejects_an_unknown_part(tmp_path: Path, part: str) -> None:
    layout = RunLayout(tmp_path)
    with pytest.raises(ValueError, match="unknown model part"):
        layout.model_file(part)
    with pytest.raises(ValueError, match="unknown model part"):
        layout.save_model(part, TinyModel([1.0]))
    assert not layout.models_dir.exists()


def test_read_metrics_merges_notebooks_in_file_order(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert layout.read_metrics() == {}
    layout.write_json(layout.metrics_file("02_segmentation"), {"k": 4, "silhouette": 0.3})
    layout.write_json(layout.metrics_file("03_churn_survival"), {"c_index": 0.7, "k": 5})
    layout.metrics_dir.joinpath("04_broken.json").write_text("{not json", encoding="utf-8")
    assert layout.read_metrics() == {"k": 5, "silhouette": 0.3, "c_index": 0.7}
