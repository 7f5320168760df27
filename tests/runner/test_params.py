"""Job params are validated before anything runs; errors name the file and the key."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from src.layout import RunLayout
from src.params import ParamsError, flatten, load_params
from src.params.moved import DeprecatedParamsWarning
from src.params.schema import ChurnParams, JobParams, ScoringParams
from src.paths import PARAMS_DIR

DEMO = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict | str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("job", sorted(p.stem for p in PARAMS_DIR.glob("*.yaml")))
def test_every_shipped_job_file_validates(job: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedParamsWarning)  # no moved key in our files
        params = load_params(job)
    assert params.job == job
    assert params.notebooks


def test_unknown_top_level_key_names_key_file_and_suggestion(tmp_path: Path) -> None:
    data = dict(DEMO, data_qualty={"max_reject_share": 0.1})
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, data))
    msg = str(err.value)
    assert "job.yaml" in msg and "data_qualty" in msg and "did you mean 'data_quality'" in msg


def test_unknown_nested_key(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    data["data"]["synthetic"]["n_customer"] = 10
    with pytest.raises(ParamsError, match=r"data\.synthetic\.n_customer.*did you mean 'n_customers'"):
        load_params(write(tmp_path, data))


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    data["data"]["synthetic"]["n_customers"] = "many"
    with pytest.raises(ParamsError, match=r"data\.synthetic\.n_customers.*'many'"):
        load_params(write(tmp_path, data))


def test_negative_retries_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    data["run"]["retries"] = -1
    with pytest.raises(ParamsError, match=r"run\.retries"):
        load_params(write(tmp_path, data))


def test_exactly_one_data_source(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    data["data"]["source"] = {"tables": {"bookings": {"path": "x.csv"}}}
    with pytest.raises(ParamsError, match="exactly one of 'synthetic' or 'source'"):
        load_params(write(tmp_path, data))


def test_unknown_notebook(tmp_path: Path) -> None:
    data = dict(DEMO, notebooks=["01_data_quality", "99_nope"])
    with pytest.raises(ParamsError, match="99_nope"):
        load_params(write(tmp_path, data))


def test_missing_file_lists_jobs(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="file not found.*demo"):
        load_params("no_such_job")


def test_not_yaml_and_not_mapping(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "job: [unclosed"))
    with pytest.raises(ParamsError, match="mapping"):
        load_params(write(tmp_path, "- a\n- b\n"))


def test_overrides_are_validated_too(tmp_path: Path) -> None:
    params = load_params("demo", {"data.synthetic.n_customers": 123})
    assert params.data.synthetic.n_customers == 123
    with pytest.raises(ParamsError, match="n_customers"):
        load_params("demo", {"data.synthetic.n_customers": -5})


def test_flatten_gives_dotted_strings() -> None:
    flat = flatten(load_params("demo"))
    assert flat["data.synthetic.n_customers"] == str(DEMO["data"]["synthetic"]["n_customers"])
    assert all(isinstance(v, str) for v in flat.values())


def test_closing_the_loop_keys_are_checked() -> None:
    """Replay dates, control shares, planted effects and KPI targets name what is wrong."""
    cases = {
        "data.cutoff_dates": (["2025-12-31", "2025-09-30"], "distinct and ascending"),
        "campaigns.control_shares": ({"win_back_call": 1.0}, "control_shares"),
        "data.synthetic.campaign_effects": ({"win_back_call": 1.5}, "campaign_effects"),
        "kpis.targets": ({"repeat_rate": "20% by 2027-12"}, "needs its sign"),
    }
    for key, (value, said) in cases.items():
        with pytest.raises(ParamsError, match=said):
            load_params("demo_loop", {key: value})
    with pytest.raises(ParamsError, match="not both"):
        load_params("demo_loop", {"data.cutoff_date": "2025-12-31"})
    with pytest.raises(ParamsError, match="unknown KPI"):
        load_params("demo", {"kpis.targets": {"happiness": "+1 by 2027-12"}})
    loop = load_params("demo_loop")
    assert loop.campaigns.share_for("win_back_call") == 0.5
    assert loop.campaigns.share_for("nurture") == 0.1


@pytest.mark.parametrize("override, needles", [
    ({"data.source.tables.booking.path": "x.csv"},    # a misspelt table name under data.source
     ["key 'data.source.tables.booking': not an allowed name here", "'bookings'",
      "(from --set data.source.tables.booking.path='x.csv')"]),
    ({"churn.gap_days": "abc"}, ["key 'churn.gap_days'", "(got 'abc')",
                                 "(from --set churn.gap_days='abc')"]),
    ({"job.x": 1}, ["--set job.x=1: 'job' holds a value ('cdnow'), not keys"]),
])
def test_a_set_problem_names_the_set_argument_and_the_full_dotted_key(override: dict,
                                                                       needles: list[str]) -> None:
    with pytest.raises(ParamsError) as err:
        load_params("cdnow", override)
    header, *lines = str(err.value).splitlines()
    assert header.endswith(f"with --set {next(iter(override))}={next(iter(override.values()))!r}:")
    for needle in needles:
        assert needle in "\n".join(lines), str(err.value)


def test_a_file_problem_is_not_blamed_on_a_set(tmp_path: Path) -> None:
    data = dict(DEMO, churn={**DEMO.get("churn", {}), "gap_dayz": 3})
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, data), {"data.synthetic.n_customers": 300})
    assert "unknown key 'churn.gap_dayz'" in str(err.value)
    assert "(from --set" not in str(err.value)


@pytest.mark.parametrize("item", ["churn.gap_days", "=3"])
def test_a_set_without_key_and_equals_is_its_own_message(item: str,
                                                          capsys: pytest.CaptureFixture) -> None:
    from src.cli import main

    assert main(["run", "demo", "--set", item]) == 2
    err = capsys.readouterr().err
    assert f"--set {item!r}: write --set KEY=VALUE" in err and "got None" not in err


# ---- one churn-horizon setting (issue 22 item 2) -------------------------------------------
def _without_churn_horizons() -> dict:
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    data["churn"].pop("horizons_days")
    return data


def test_churn_horizons_are_the_one_setting() -> None:
    """``scoring.horizons_days`` is gone: one key names the evaluated and exported horizons."""
    assert "horizons_days" not in ScoringParams.model_fields
    assert ChurnParams().horizons_days == [90, 180, 365]  # the exported columns of before


@pytest.mark.parametrize("churn_horizons", [None, [30, 120]])
def test_the_former_scoring_horizons_key_is_moved_with_a_warning(
        tmp_path: Path, churn_horizons: list[int] | None) -> None:
    """Equal to churn.horizons_days, or churn's unset: the value moves there, said loudly."""
    data = _without_churn_horizons()
    if churn_horizons is not None:
        data["churn"]["horizons_days"] = churn_horizons
    data["scoring"]["horizons_days"] = [30, 120]
    with pytest.warns(DeprecatedParamsWarning,
                      match=r"scoring\.horizons_days is deprecated.*churn\.horizons_days: "
                            r"\[30, 120\] is used"):
        params = load_params(write(tmp_path, data))
    assert params.churn.horizons_days == [30, 120]
    assert "horizons_days" not in params.scoring.model_dump()
    # shown by default: a FutureWarning, not a DeprecationWarning Python hides
    assert issubclass(DeprecatedParamsWarning, FutureWarning)


def test_different_scoring_and_churn_horizons_are_refused(tmp_path: Path) -> None:
    """Both set and different: refused, naming both keys and which to keep, never a silent
    choice between them."""
    data = _without_churn_horizons()
    data["churn"]["horizons_days"] = [180, 365]
    data["scoring"]["horizons_days"] = [90, 180, 365]
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, data))
    msg = str(err.value)
    assert "key 'scoring.horizons_days'" in msg
    assert "scoring.horizons_days [90, 180, 365] and churn.horizons_days [180, 365] differ" in msg
    assert "Keep churn.horizons_days and delete scoring.horizons_days" in msg
    assert "churn.horizons_days: [90, 180, 365] keeps every horizon of both" in msg
    # a --set of the former key meets the job's churn.horizons_days the same way
    with pytest.raises(ParamsError, match=r"differ.*\(from --set scoring\.horizons_days=\[30\]\)"):
        load_params("demo", {"scoring.horizons_days": [30]})


def test_a_run_folder_written_before_the_move_still_loads(tmp_path: Path) -> None:
    """A run folder's params.yaml records what that run did (evaluated at churn, exported at
    scoring horizons): read as the union of both with a warning, not refused, so ``crm export``
    and ``--resume`` of an earlier run keep working; the same file as a job file is refused."""
    data = _without_churn_horizons()
    data["churn"]["horizons_days"] = [180, 365]
    data["scoring"]["horizons_days"] = [90, 180, 365]
    run = RunLayout(tmp_path / "runs" / "20260101-000000-demo-abcd")
    run.root.mkdir(parents=True)
    run.params_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ParamsError, match="differ"):  # no manifest: not a run folder
        load_params(run.params_file)
    run.manifest_file.write_text("{}", encoding="utf-8")
    with pytest.warns(DeprecatedParamsWarning, match=r"read as churn.horizons_days: \[90, 180, 365\]"):
        params = load_params(run.params_file)
    assert params.churn.horizons_days == [90, 180, 365]
    with pytest.raises(ParamsError, match="differ"):  # told it is a job file: refused
        load_params(run.params_file, saved_run=False)
    data["scoring"]["horizons_days"] = [30]
    run.params_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.warns(DeprecatedParamsWarning):
        assert load_params(run.params_file).churn.horizons_days == [30, 180, 365]


def test_the_move_works_on_sections_given_as_models() -> None:
    """Code building JobParams from section objects goes through the same rule."""
    base = {"job": "x", "notebooks": ["01_data_quality"], "data": {"synthetic": {}}}
    with pytest.warns(DeprecatedParamsWarning):
        moved = JobParams.model_validate({**base, "churn": ChurnParams(gap_days=200),
                                          "scoring": {"horizons_days": [60]}})
    assert moved.churn.horizons_days == [60] and moved.churn.gap_days == 200
    with pytest.raises(ValueError, match="differ"):
        JobParams.model_validate({**base, "churn": ChurnParams(horizons_days=[90]),
                                  "scoring": {"horizons_days": [60]}})
