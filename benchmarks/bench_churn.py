"""Survival churn benchmark: landmark frames, Cox PH / Weibull AFT fit, scoring at fixed horizons.

    python benchmarks/bench_churn.py --sizes 100000 1000000

Each size runs in its own process: synthetic customers (src.data.synthetic), the time split
of the churn notebook (lapse churn, landmark time origin), our Cox PH (vectorised, checked
against lifelines in the tests) and lifelines' WeibullAFTFitter through ChurnModel, lifelines'
own CoxPHFitter on the same frame as the peer, and scoring every training-frame customer at
180 / 365 days plus remaining lifetime (no survival curves materialised). Prints a markdown
table: seconds per step and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

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
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=42)
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
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--child", str(n), "--seed", str(args.seed)],
                              capture_output=True, text=True)
        if proc.returncode:
            print(f"| {n} | failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode} |")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print("| " + " | ".join(f"{row.get(c, float('nan')):.2f}" if isinstance(row.get(c), float)
                                else str(row.get(c, "")) for c in cols) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
