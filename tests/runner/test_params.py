"""Job params are validated before anything runs; errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from src.params import ParamsError, flatten, load_params
from src.paths import PARAMS_DIR

DEMO = yaml.safe_load((PARAMS_DIR / "demo.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict | str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("job", sorted(p.stem for p in PARAMS_DIR.glob("*.yaml")))
def test_every_shipped_job_file_validates(job: str) -> None:
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
