"""A bad extract can no longer move the champion, and a bad champion goes back with one command
(issue 23).

The runs feed a bookings file through ``01_data_quality`` and a notebook that leaves what
notebook 05 leaves (a registered candidate that passed its gates, a list in ``exports/``), so
the runner's own end-of-run decision is what is tested, at the cost of two kernel starts.
The tests share one MLflow store (one SQLite migration for the module), each with its own
registered model names, and register tiny pyfunc models without inferring their
requirements (a subprocess of several seconds per version; nothing here reads them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from src.cli import main
from src.runner.run import EXIT_BAD_INPUT, EXIT_OK, run_job
from src.serving.champion import BEFORE_TAG, NO_CHAMPION
from src.serving.registry import settle_promotion
from tests.helpers import job_file
from tests.helpers import write_notebook as notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One outputs folder and one SQLite MLflow store for the module."""
    tmp = tmp_path_factory.mktemp("champion_guard")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_OUTPUT_DIR", str(tmp / "outputs"))
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield {"uri": uri, "client": MlflowClient(uri)}


@pytest.fixture
def store(shared_store: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The module's store, with this test's own folder (``tmp``) for its job and notebooks."""
    mlflow.set_tracking_uri(shared_store["uri"])
    return {**shared_store, "tmp": tmp_path}


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _register(client: MlflowClient, name: str, n: int) -> None:
    """``n`` versions of ``name`` (tiny pyfunc models) in the store."""
    experiment = client.create_experiment(f"{name}_exp")
    for _ in range(n):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(name="m", python_model=_Echo(), registered_model_name=name,
                                    pip_requirements=[])


def _pending(name: str, version: int, before: int | None) -> dict[str, Any]:
    """The scorer record notebook 05 leaves for a candidate that passed its gates."""
    return {"name": name, "version": str(version), "alias": "champion", "judged": True,
            "gates_passed": True, "decision": "pending", "promoted": False,
            "champion_before": None if before is None else str(before), "champion_after": None,
            "reasons": [], "lists_from": "candidate", "lists_note": f"lists from {version}"}


def _bookings(path: Path, n: int, negative: int) -> Path:
    rows = [f"B{i},C{i % 40},2024-{1 + i % 12:02d}-{1 + i % 27:02d},"
            f"{-30 if i < negative else 50 + i},completed,Paris\n" for i in range(n)]
    path.write_text("booking_id,customer_id,booking_date,amount,status,destination\n"
                    + "".join(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("negative, held", [(5, True), (1, False)])
def test_a_run_below_the_data_quality_bar_publishes_and_promotes_nothing(
        store: dict, negative: int, held: bool) -> None:
    """5 % negative amounts (rejected rows) is below the bar of 2 %: the reports are written,
    the list is withdrawn and the candidate is not promoted, exit 2 naming the share and the
    key; at 1 % the same run publishes and promotes."""
    d, client = store["tmp"], store["client"]
    name = f"guard_scorer_{negative}"  # the module's store: one model per case
    _register(client, name, 1)
    scored = notebook(d / "scored.ipynb", (
        "from pathlib import Path\nfrom src.layout import RunLayout\n"
        "layout = RunLayout(Path(run_dir))\n"
        f"layout.write_json(layout.scorer_record_file, {_pending(name, 1, None)!r})\n"
        "layout.exports_dir.mkdir(exist_ok=True)\n"
        "(layout.exports_dir / 'list_winback.csv').write_text('customer_id\\nC1\\n')"))
    data = {"source": {"tables": {"bookings": {"path": str(_bookings(d / "b.csv", 100, negative))}},
                       "as_of_date": "2025-01-01"}}
    result = run_job(job_file(d, ["01_data_quality", str(scored)], data), quiet=True)
    m = result.manifest
    assert m["rows"]["bookings"] == {"in": 100, "kept": 100 - negative, "rejected": negative}
    if not held:
        assert result.exit_code == EXIT_OK, m["error"]
        assert m["promotion"]["decision"] == "promoted"
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
        return
    assert result.exit_code == EXIT_BAD_INPUT
    assert m["error"]["exception"] == "DataQualityBelowBar"
    assert m["error"]["message"].startswith(
        "data quality below the job's bar: 5 of 100 bookings rows rejected (5.0%)")
    assert "data_quality.publish_max_reject_share = 2.0%" in m["error"]["message"]
    assert m["promotion"]["decision"] == "not_promoted" and not m["promotion"]["promoted"]
    assert not client.get_registered_model(name).aliases
    assert m["exports_withdrawn"] == ["list_winback.csv"]
    assert not (result.run_dir / "exports").exists()
    assert (result.run_dir / "rejects.csv").exists()  # the report people fix the file from


def test_a_bad_champion_goes_back_with_one_command(store: dict,
                                                   capsys: pytest.CaptureFixture) -> None:
    """Three promotions (none -> 1 -> 2 -> 3) by the runner's own settle step; each
    ``crm rollback`` goes one back and tags the version taken off, never back onto one taken
    off before; the last removes the alias; ``--to`` names a version; errors are exit 2."""
    client, uri = store["client"], store["uri"]
    _register(client, "bad_scorer", 3)
    for version, before in ((1, None), (2, 1), (3, 2)):
        settle_promotion(_pending("bad_scorer", version, before), run_succeeded=True,
                         client=client)
    assert client.get_model_version("bad_scorer", "1").tags[BEFORE_TAG] == NO_CHAMPION
    assert client.get_model_version("bad_scorer", "3").tags[BEFORE_TAG] == "2"

    def rollback(*extra: str) -> tuple[int, str]:
        code = main(["rollback", "bad_scorer", "--tracking-uri", uri, *extra])
        out = capsys.readouterr()
        return code, out.out + out.err

    def champion() -> str | None:
        version = client.get_registered_model("bad_scorer").aliases.get("champion")
        return None if version is None else str(version)

    code, text = rollback("--reason", "trained on a bad extract")
    assert code == 0 and champion() == "2", text
    assert "taken back from version 3 to version 2 (trained on a bad extract)" in text
    tags = client.get_model_version("bad_scorer", "3").tags
    assert tags["promotion.decision"] == "rolled_back"
    assert tags["promotion.reasons"] == "rolled back by hand: trained on a bad extract"
    assert rollback("--to", "3")[0] == 0 and champion() == "3"  # named: even a taken-back one
    assert client.get_model_version("bad_scorer", "3").tags["promotion.decision"] == "promoted"
    assert rollback()[0] == 0 and champion() == "1"  # 2 was taken off the alias by --to 3
    code, text = rollback()
    assert code == 0 and champion() is None and "unset (no champion before it)" in text
    code, text = rollback()
    assert code == 2 and "bad_scorer: no @champion to roll back" in text
    assert rollback("--to", "9")[0] == 2  # still no champion: nothing to take back


def test_a_version_promoted_before_the_tag_goes_back_to_the_last_promoted_one(
        store: dict) -> None:
    from src.serving.champion import rollback_by_hand

    client = store["client"]
    _register(client, "old_scorer", 3)
    for v in ("1", "3"):  # promoted by an older release: decision tags, no way-back tag
        client.set_model_version_tag("old_scorer", v, "promotion.decision", "promoted")
    client.set_model_version_tag("old_scorer", "2", "promotion.decision", "rejected")
    client.set_registered_model_alias("old_scorer", "champion", "3")
    done = rollback_by_hand("old_scorer", client=client)
    assert (done.taken_back, done.restored) == ("3", "1")
    assert str(client.get_model_version_by_alias("old_scorer", "champion").version) == "1"


@pytest.mark.parametrize("champion_data, compared", [
    ("same", True),                 # same definition (last week's file), clean extract
    ("other_mapping", False),       # the job's mapping changed since
    ("dirty_extract", False),       # the champion's extract had 6 % rejects, the bar is 2 %
])
def test_gates_compare_with_a_champion_fitted_on_comparable_data_only(
        store: dict, champion_data: str, compared: bool) -> None:
    """A champion with concordance 0.90 and a candidate with 0.75: within 0.02 of the champion
    fails when the champion is comparable; otherwise only the absolute 0.6 applies, and the
    decision says why the champion was no yardstick."""
    from src.params.schema import GateParams, PromotionParams
    from src.serving.champion import data_tags
    from src.serving.registry import judge_candidate

    client = store["client"]
    name = f"cmp_scorer_{champion_data}"  # the module's store: one model per case
    _register(client, name, 2)
    data = {"source": {"tables": {"bookings": {"path": "week_49.csv",
                                               "columns": {"customer_id": "Guest"}}}}}
    clean = {"bookings": {"in": 1000, "rejected": 5}}
    last_week = {"source": {"tables": {"bookings": {"path": "week_48.csv",  # paths move weekly
                                                    "columns": {"customer_id": "Guest"}}}}}
    champion_source = {"same": last_week, "dirty_extract": data, "other_mapping": {"source": {
        "tables": {"bookings": {"path": "week_48.csv", "columns": {"customer_id": "Email"}}}}}}
    champion_rows = {"bookings": {"in": 1000, "rejected": 60}} if champion_data == "dirty_extract" \
        else clean
    for version, tags in (("1", {**data_tags(champion_source[champion_data], champion_rows, 0.02),
                                 "metric.churn_concordance": "0.9"}),
                          ("2", {**data_tags({"source": {"tables": {"bookings": {
                              "path": "week_49.csv", "columns": {"customer_id": "Guest"}}}}},
                              clean, 0.02), "metric.churn_concordance": "0.75"})):
        for k, v in tags.items():
            client.set_model_version_tag(name, version, k, v)
    client.set_registered_model_alias(name, "champion", "1")
    params = PromotionParams(gates={"churn_concordance": GateParams(
        greater_is_better=True, threshold=0.6, max_worsening=0.02)})
    decision = judge_candidate(name, "2", params=params, client=client)
    assert decision.promoted is (not compared), decision.reasons
    assert decision.champion_version == "1"
    if compared:
        assert decision.comparison == "" and decision.reasons == [
            "churn_concordance: 0.75 is not >= 0.88"]
    else:
        why = ("another data definition" if champion_data == "other_mapping"
               else "6.0% of rows rejected, more than the 2.0%")
        assert why in decision.comparison and "version 1 is no yardstick" in decision.comparison
