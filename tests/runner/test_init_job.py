"""``crm init`` on the three reference data sets: shape, mapping, windows, comments, no overwrite.

The files live in ``../shared/data``; without them these tests fail (``require_shared``).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from src.runner.init_job import CONSENT_ASSUMED, init_job

from src.cli import main
from src.params.files import load_params
from tests.helpers import require_shared

FILES = {
    "online_retail": ("online_retail_ii", "online_retail_ii_year_2009_2010.csv.gz"),
    "cdnow_master": ("cdnow", "cdnow_master.csv.gz"),
    "telco": ("telco_churn", "telco_churn.csv.gz"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """name -> (InitResult, printed lines, YAML text, parsed YAML), each file initialised once."""
    out = {}
    folder = tmp_path_factory.mktemp("init")
    for name, parts in FILES.items():
        lines: list[str] = []
        result = init_job(name, [require_shared(*parts)], out=folder / f"{name}.yaml",
                          echo=lines.append)
        text = result.path.read_text(encoding="utf-8")
        out[name] = (result, lines, text, yaml.safe_load(text))
    return out


def _source(doc, table):
    return doc["data"]["source"]["tables"][table]


def test_online_retail_is_invoice_lines(written):
    result, lines, text, doc = written["online_retail"]
    assert result.plan.recognitions[0].shape == "invoice_lines"
    b = _source(doc, "bookings")
    assert b["columns"] == {"customer_id": "Customer ID", "booking_id": "Invoice",
                            "booking_date": "InvoiceDate", "amount": "Quantity * Price"}
    assert b["where"] == ['"Customer ID" IS NOT NULL', "Invoice NOT LIKE 'C%'", "Quantity > 0",
                          "Price > 0"]
    assert b["group_lines"] is True
    assert doc["vocabulary"] == "retail"
    assert doc["data"]["source"]["as_of_date"] == date(2010, 12, 9)
    assert doc["notebooks"] == ["01_data_quality", "02_segmentation", "03_churn_survival",
                                "04_loyalty_clv", "05_score_export"]
    assert any(line.startswith("  table bookings, shape: invoice lines") for line in lines)


def test_cdnow_is_a_transaction_log(written):
    result, _, _, doc = written["cdnow_master"]
    assert result.plan.recognitions[0].shape == "transaction_log"
    b = _source(doc, "bookings")
    assert b["columns"] == {"customer_id": "customer_id", "booking_date": "date",
                            "amount": "dollar_value"}
    assert b["date_format"] == "%Y%m%d"
    assert "booking_id" not in b["columns"] and "group_lines" not in b
    assert doc["data"]["source"]["as_of_date"] == date(1998, 6, 30)
    assert doc["vocabulary"] == "retail"
    assert doc["loyalty"]["time_unit_days"] == 7


def test_telco_is_a_tenure_snapshot(written):
    result, lines, text, doc = written["telco"]
    assert result.plan.recognitions[0].shape == "tenure_snapshot"
    assert "bookings" not in doc["data"]["source"]["tables"]
    c = _source(doc, "customers")
    assert c["columns"] == {
        "customer_id": "customer_no",
        "signup_date": "DATE '2018-09-30' - INTERVAL (tenure) MONTH",
        "membership_cancel_date": "CASE WHEN churn = 'Yes' THEN DATE '2018-09-30' END",
        "loyalty_member": "true"}
    assert {"contract", "monthly_charges", "internet_service", "payment_method"} <= set(
        c["attributes"])
    assert c["defaults"] == {"consent_email": True}
    assert doc["churn"]["definition"] == "membership"
    assert {"contract", "monthly_charges"} <= set(doc["churn"]["covariates"])
    assert {"contract", "monthly_charges"} <= set(doc["churn"]["full_history_covariates"])
    assert doc["segmentation"]["tiers"]["value_col"] == "monthly_charges"
    assert doc["vocabulary"] == "subscription"
    assert doc["notebooks"] == ["01_data_quality", "02_segmentation", "03_churn_survival",
                                "05_score_export"]
    # no date in the file: the extraction date is a flagged guess, printed and commented
    assert doc["data"]["source"]["as_of_date"] == date(2018, 9, 30)
    assert "ASSUMED: the file has no dates" in text
    assert any("as_of_date 2018-09-30" in line for line in lines)


@pytest.mark.parametrize("name", ["online_retail", "cdnow_master"])
def test_lapse_windows_fit_in_the_span(written, name):
    result, _, _, doc = written[name]
    rec = result.plan.stats["bookings"]
    span = rec.span_days
    ch, lo = doc["churn"], doc["loyalty"]
    assert ch["definition"] == "lapse"
    assert ch["holdout_days"] <= span / 3 and ch["train_window_days"] <= span / 3
    # training landmark, its follow-up and the holdout lie inside the data
    assert ch["holdout_days"] + ch["train_window_days"] < span
    assert 30 <= ch["gap_days"] <= ch["holdout_days"]  # a lapse can be seen in each window
    assert rec.gap_days[0.8] - 30 <= ch["gap_days"] <= rec.gap_days[0.9] + 30
    # one horizon setting: evaluated within the holdout, exported within the span
    assert "horizons_days" not in doc.get("scoring", {})
    assert min(ch["horizons_days"]) < ch["holdout_days"] and max(ch["horizons_days"]) <= span
    assert {h for h in (90, 180, 365) if h <= span} <= set(ch["horizons_days"])
    assert lo["holdout_days"] <= span / 3 and lo["horizon_days"] <= span
    assert 2 * lo["repeat_model"]["horizon_days"] < span
    assert lo["min_history_days"] <= 30
    assert lo["previous_cutoff"] >= rec.first_date
    # churn events exist: some repeat customers' gaps exceed gap_days
    assert rec.gap_days[0.9] > ch["gap_days"] or rec.gap_days[0.85] > ch["gap_days"] - 30


@pytest.mark.parametrize("name", list(FILES))
def test_every_guess_is_commented_and_printed(written, name):
    result, lines, text, _ = written[name]
    printed = "\n".join(lines)
    comments = " ".join(ln.strip()[1:].strip() for ln in text.splitlines()
                        if ln.strip().startswith("#"))
    for g in result.plan.guesses.values():
        if g.key in ("job", "description") or not g.reason:
            continue
        if ".column_" in g.key or g.key.endswith(".columns_found"):
            # the profile of each column: in the file, not printed
            assert " ".join(g.reason.split()) in comments, g.key
            continue
        assert g.reason in printed, g.key
        assert " ".join(g.reason.split()) in comments, g.key
        if result.plan.value(g.key) is not None:  # comment-only guesses have no key
            assert f"  {g.key} = " in printed, g.key
    assert CONSENT_ASSUMED in comments
    assert CONSENT_ASSUMED in printed
    assert "wrote " in lines[-1]


@pytest.mark.parametrize("name", list(FILES))
def test_written_file_validates(written, name):
    result = written[name][0]
    assert result.ok, result.problems
    params = load_params(result.path)
    assert params.job == name
    assert params.cutoff() == result.plan.value("data.source.as_of_date")


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    data = require_shared(*FILES["telco"])
    out = tmp_path / "telco.yaml"
    out.write_text("job: mine\n", encoding="utf-8")
    assert main(["init", "telco", str(data), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "job: mine\n"
    with pytest.raises(FileExistsError):
        init_job("telco", [data], out=out, echo=lambda _: None)
    assert main(["init", "telco", str(data), "--out", str(out), "--force",
                 "--as-of", "2019-01-31"]) == 0
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["data"]["source"]["as_of_date"] == date(2019, 1, 31)
    assert "given with --as-of" in capsys.readouterr().out


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["init", "x", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def test_previous_cutoff_is_one_holdout_back(written):
    result, _, _, doc = written["online_retail"]
    rec = result.plan.stats["bookings"]
    assert doc["loyalty"]["previous_cutoff"] == rec.last_date - timedelta(
        days=doc["loyalty"]["holdout_days"])


def test_member_table_with_purchases(tmp_path):
    """Two files: members (start, cancellation) and their purchases -> membership churn with
    bookings, loyalty windows from the purchases, consent assumed on the customers table."""
    members = tmp_path / "members.csv"
    members.write_text("member_no,joined_on,cancelled_on,plan\n"
                       + "".join(f"M{i},2022-0{1 + i % 9}-10,{'2023-06-30' if i % 4 == 0 else ''},"
                                 f"{'gold' if i % 3 else 'basic'}\n" for i in range(40)),
                       encoding="utf-8")
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("member_no,purchase_date,amount\n"
                         + "".join(f"M{i},2023-{1 + (i * 7 + k) % 12:02d}-{1 + k:02d},{10 + k}\n"
                                   for i in range(40) for k in range(3)), encoding="utf-8")
    lines: list[str] = []
    result = init_job("club", [members, purchases], out=tmp_path / "club.yaml",
                      echo=lines.append)
    doc = yaml.safe_load(result.path.read_text(encoding="utf-8"))
    tables = doc["data"]["source"]["tables"]
    assert set(tables) == {"customers", "bookings"}
    assert tables["customers"]["columns"]["membership_cancel_date"] == "cancelled_on"
    assert tables["customers"]["defaults"] == {"consent_email": True}
    assert tables["bookings"]["columns"] == {"customer_id": "member_no",
                                             "booking_date": "purchase_date", "amount": "amount"}
    assert doc["churn"]["definition"] == "membership"
    assert "gap_days" not in doc["churn"]
    assert "04_loyalty_clv" in doc["notebooks"] and "loyalty" in doc
    assert "export" not in doc  # consent assumed: lists are not empty
    assert doc["vocabulary"] == "subscription"


def test_short_history_sizes_everything_inside_it(tmp_path):
    """200 days of purchases: windows, horizons and the action rules' horizon fit inside."""
    f = tmp_path / "shop.csv"
    start = date(2024, 1, 1)
    rows = [f"S{i},{(start + timedelta(days=(i * 13 + k * (20 + i % 40)) % 200)).isoformat()},"
            f"{5 + k}" for i in range(60) for k in range(4)]
    f.write_text("customer_id,order_date,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = init_job("shop", [f], out=tmp_path / "shop.yaml", echo=lambda _: None)
    assert result.ok, result.problems
    doc = yaml.safe_load(result.path.read_text(encoding="utf-8"))
    span = result.plan.stats["bookings"].span_days
    assert span < 365
    assert doc["churn"]["holdout_days"] + doc["churn"]["train_window_days"] < span
    horizons = doc["churn"]["horizons_days"]
    assert max(horizons) <= span and "horizons_days" not in doc["scoring"]
    rules = " ".join(r["when"] for r in doc["scoring"]["action_rules"])
    assert "churn_prob_365d" not in rules
    assert f"churn_prob_{max(horizons)}d" in rules


def test_a_surrogate_guest_key_is_flagged_for_confirmation(tmp_path):
    """A hotel extract whose only guest column is a profile composite (hotel|country|adults|
    segment): crm init asks to confirm the key, naming it, its parts and the key to change."""
    import itertools

    profiles = ["|".join(map(str, p)) for p in itertools.product(
        ["Resort Hotel", "City Hotel"], ["PRT", "GBR", "FRA", "ESP", "DEU"], [1, 2, 3],
        ["Transient", "Group", "Direct"])]
    rows = [f"R{i},{profiles[(i * 7) % len(profiles)]},{date(2022, 1, 1) + timedelta(days=i % 700)},"
            f"{80 + i % 300}.00,Check-Out\n" for i in range(4000)]
    file = tmp_path / "hotel.csv"
    file.write_text("reservation_id,guest_key,booking_date,adr_total,reservation_status\n"
                    + "".join(rows), encoding="utf-8")
    lines: list[str] = []
    init_job("hotel", [file], out=tmp_path / "hotel.yaml", echo=lines.append,
             given={"customer_id": "guest_key"})
    printed = "\n".join(lines)
    assert "please confirm" in printed, printed
    assert "the customer key 'guest_key' looks built from profile fields" in printed, printed
    assert "split at '|' into 4 parts" in printed and "columns.customer_id" in printed


def test_the_as_of_date_comes_from_the_bulk_and_future_rows_are_flagged(tmp_path):
    """Bookings 2022-2024 and 3 rows dated 2026-03-01 (a typo'd year, after the extraction):
    crm init takes the last date of the bulk as the as-of date, not the bad rows, and asks to
    confirm it naming the 3 future rows."""
    rows = [f"B{i},C{i % 700},{date(2022, 1, 1) + timedelta(days=i % 1095)},{50 + i % 90}.00\n"
            for i in range(5000)]
    rows += [f"F{i},C{i},2026-03-01,70.00\n" for i in range(3)]
    file = tmp_path / "orders.csv"
    file.write_text("booking_id,customer_id,booking_date,amount\n" + "".join(rows),
                    encoding="utf-8")
    lines: list[str] = []
    result = init_job("bulk", [file], out=tmp_path / "bulk.yaml", echo=lines.append)
    assert result.plan.value("data.source.as_of_date") == date(2024, 12, 30)
    printed = "\n".join(lines)
    assert "3 bookings dated later are future rows" in printed and "please confirm" in printed
