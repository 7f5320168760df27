"""Survival churn benchmark: landmark frames, Cox PH / Weibull AFT fit, scoring at fixed horizons.

    python benchmarks/bench_churn.py --sizes 100000 1000000
    python benchmarks/bench_churn.py --sizes 2000 --records out.jsonl

Each size runs in its own process: synthetic customers (src.data.synthetic), the time split
of the churn notebook (lapse churn, landmark time origin), our Cox PH (vectorised, checked
against lifelines in the tests) and lifelines' WeibullAFTFitter through ChurnModel, lifelines'
own CoxPHFitter on the same frame as the peer, and scoring every training-frame customer at
180 / 365 days plus remaining lifetime (no survival curves materialised). Prints a markdown
table: seconds per step and the peak RSS of the process; with ``--records PATH`` also appends
one JSON line per step and size (see _common.py), lifelines' Cox fit as the peer of ours.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import (  # noqa: E402
    ChildFailedError,
    add_records_argument,
    peak_rss_self_mb,
    record,
    run_child,
    write_records,
)

COVARIATES = ["recency_days", "tenure_days", "frequency", "monetary_mean", "complaints_service",
              "complaints_product", "complaints_price", "csat_mean", "product_flight", "dest_beach",
              "channel_app", "customer_type"]


def child(n: int, seed: int) -> dict:
    warnings.filterwarnings("ignore")
    from lifelines import CoxPHFitter

    from src.data.synthetic import generate
    from src.models.churn import ChurnModel, time_split

    out: dict = {"customers": n}
    t = time.perf_counter()
    tables = generate(n, seed=seed).tables()
    out["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    train, test = time_split(tables, train_cutoff="2024-12-31", test_cutoff="2025-12-31",
                             train_window_days=365, time_origin="landmark")
    out["split_s"] = time.perf_counter() - t
    out["train_rows"] = len(train)
    for kind in ("coxph", "weibull_aft"):
        model = ChurnModel(kind=kind, covariates=COVARIATES, penalizers=(0.0, 0.01), seed=0)
        t = time.perf_counter()
        model.fit(train)
        out[f"{kind}_fit_s"] = time.perf_counter() - t
        t = time.perf_counter()
        model.predict_churn_probability(test, [180, 365])
        model.predict_remaining_lifetime(test)
        out[f"{kind}_score_s"] = time.perf_counter() - t
        out["score_rows"] = len(test)
    # peer: lifelines' CoxPHFitter on the same encoded design (no late entry: landmark origin)
    enc = model.encoder_.transform(train) if hasattr(model, "encoder_") else None
    if enc is not None:
        design = enc.assign(duration_days=train["duration_days"].to_numpy(), event=train["event"].to_numpy())
        t = time.perf_counter()
        CoxPHFitter(penalizer=0.01).fit(design, duration_col="duration_days", event_col="event")
        out["lifelines_coxph_fit_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = peak_rss_self_mb()
    return out


def records(row: dict) -> list[dict]:
    """One record per step of one size (the schema of _common.py); steps share the peak RSS."""
    n, peak = row["customers"], row["peak_rss_mb"]
    train, test = f"{row['train_rows']:,} training rows", f"{row['score_rows']:,} rows"
    steps = [("landmark split", "ours", "split_s", ""),
             ("Cox fit", "ours", "coxph_fit_s",
              f"{train}; penalizer search (2 x 3 folds) + PH test"),
             ("Cox fit", "lifelines", "lifelines_coxph_fit_s", f"{train}; one CoxPHFitter fit"),
             ("Weibull AFT fit", "ours", "weibull_aft_fit_s", f"{train}; via lifelines"),
             ("Cox score", "ours", "coxph_score_s", f"{test} at 180/365 days + lifetime"),
             ("Weibull AFT score", "ours", "weibull_aft_score_s",
              f"{test} at 180/365 days + lifetime")]
    return [record("churn", case, n, row[key], peak, implementation=impl, notes=notes)
            for case, impl, key, notes in steps if key in row]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=42)
    add_records_argument(ap)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.seed)))
        return 0
    cols = ["customers", "train_rows", "score_rows", "generate_s", "split_s", "coxph_fit_s",
            "lifelines_coxph_fit_s", "weibull_aft_fit_s", "coxph_score_s", "weibull_aft_score_s",
            "peak_rss_mb"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    failed = False
    for n in args.sizes:
        try:
            row = run_child([sys.executable, __file__, "--child", str(n), "--seed", str(args.seed)])
        except ChildFailedError as exc:
            failed = True
            print(f"| {n} | failed: {exc.last_line} |", flush=True)
            continue
        print("| " + " | ".join(f"{row.get(c, float('nan')):.2f}" if isinstance(row.get(c), float)
                                else str(row.get(c, "")) for c in cols) + " |", flush=True)
        write_records(args.records, records(row))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
