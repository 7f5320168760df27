"""Scoring benchmark: the one scorer over many customers, in batches.

    python benchmarks/bench_scoring.py --sizes 100000 1000000

Each size runs in its own process. The scorer's parts (segmentation, churn, CLV) are fitted
once on a 20k-customer synthetic company (fitting is measured by the other benchmarks); then a
synthetic company of N customers is generated, its scoring features are built
(`scoring_features`, one flat row per customer) and scored by `CustomerScorer.predict`
in batches of 100k rows, as `crm score` does; then the marketing export (every campaign list
plus the full scored table, CSV with BOM and Parquet, consent enforced, e-mail and phone as
SHA-256 hashes). Prints a markdown table: seconds per step, customers per second, and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings

CUTOFF = "2025-12-31"


def fitted_scorer():
    from src.data.synthetic import generate
    from src.decisioning.scoring import CustomerScorer
    from src.features.customer import customer_features
    from src.features.rfm_summary import summary_at
    from src.models.btyd.clv import CLVModel
    from src.models.churn import ChurnModel, landmark_frame
    from src.models.segmentation import SegmentationModel

    tables = generate(20_000, seed=1).tables()
    feats = customer_features(tables["bookings"], CUTOFF, customers=tables["customers"],
                              interactions=tables["interactions"], feedback=tables["feedback"])
    seg = SegmentationModel().fit(feats)
    train = landmark_frame(tables, landmark_date="2024-12-31", end_date=CUTOFF, time_origin="landmark")
    churn = ChurnModel(kind="coxph", covariates=["recency_days", "frequency", "monetary_mean",
                                                 "complaints_total", "customer_type"],
                       penalizers=(0.01,), seed=0).fit(train)
    clv = CLVModel().fit(summary_at(tables["bookings"], CUTOFF))
    return CustomerScorer(seg, churn, clv).fit(tables, CUTOFF)


def child(n: int, seed: int, batch: int) -> dict:
    warnings.filterwarnings("ignore")
    import pandas as pd

    from src.data.synthetic import generate
    from src.export.marketing import export_marketing
    from src.features.scoring import scoring_features
    from src.params.schema import ExportParams

    out: dict = {"customers": n}
    t = time.perf_counter()
    scorer = fitted_scorer()
    out["fit_parts_20k_s"] = time.perf_counter() - t
    t = time.perf_counter()
    tables = generate(n, seed=seed).tables()
    out["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    features = scoring_features(tables, CUTOFF, scorer.feature_settings_)
    out["features_s"] = time.perf_counter() - t
    customers = tables["customers"]
    del tables
    t = time.perf_counter()
    parts = [scorer.predict(features.iloc[start:start + batch])
             for start in range(0, len(features), batch)]
    scored = pd.concat(parts, ignore_index=True)
    out["score_s"] = time.perf_counter() - t
    out["scored_rows"] = len(scored)
    out["customers_per_s"] = len(scored) / max(out["score_s"], 1e-9)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        export_marketing(scored, tmp, ExportParams(pii_columns=["email", "phone"], pii_mode="hashed"),
                         customers=customers, run_id="bench")
        out["export_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=100_000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--records", help="append JSON-lines records here (benchmarks/run.py)")
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.seed, args.batch_size)))
        return 0
    cols = ["customers", "scored_rows", "fit_parts_20k_s", "generate_s", "features_s", "score_s",
            "customers_per_s", "export_s", "peak_rss_mb"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    failed = False
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--child", str(n), "--seed", str(args.seed),
                               "--batch-size", str(args.batch_size)], capture_output=True, text=True)
        if proc.returncode:
            failed = True
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
            print(f"| {n} | failed: {tail} |")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print("| " + " | ".join(f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c])
                                for c in cols) + " |", flush=True)
        if args.records:
            with open(args.records, "a", encoding="utf-8") as fh:
                for case, key in (("scoring features", "features_s"), ("score (batches)", "score_s"),
                                  ("export lists", "export_s")):
                    fh.write(json.dumps({"benchmark": "scoring", "case": case, "customers": n,
                                         "implementation": "ours", "wall_s": row[key],
                                         "peak_rss_mb": row["peak_rss_mb"],
                                         "notes": "peak RSS of the whole process"}) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
