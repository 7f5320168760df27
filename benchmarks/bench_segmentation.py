"""Benchmark of customer features + segmentation (src/features/customer.py,
src/models/segmentation.py) on the synthetic data at 100k and 1M customers.

Each size runs in a fresh subprocess (peak resident memory of that size alone). Reports the
time of the feature table, of ``SegmentationModel.fit`` (k chosen by silhouette over
``--k-range``; the clustering fits on a 50k sub-sample, then assigns everybody), of
``predict`` on all customers, the recovery of the planted personas (adjusted Rand index and
purity among customers with a completed booking) and, optionally, the bootstrap-halves
stability. Prints a markdown table; with ``--records PATH`` also appends one JSON line per
step and size (see _common.py).

Usage::

    python benchmarks/bench_segmentation.py                       # 100k and 1M customers
    python benchmarks/bench_segmentation.py --sizes 5000 --stability 1   # smoke test
    python benchmarks/bench_segmentation.py --records out.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import add_records_argument, peak_rss_self_mb, record, run_child, write_records  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)


def _child(n: int, seed: int, k_range: tuple[int, int], stability_pairs: int) -> dict:
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from src.data.synthetic import generate
    from src.features.customer import customer_features
    from src.models.segmentation import BehaviouralSegmenter, SegmentationModel

    data = generate(n, seed=seed)
    t0 = time.perf_counter()
    features = customer_features(data.bookings, data.planted.get("extraction_date", "2025-12-31"),
                                 customers=data.customers, interactions=data.interactions,
                                 feedback=data.feedback)
    features_s = time.perf_counter() - t0
    persona = (data.truth.set_index("customer_id")["persona"].reindex(features.index)
               .astype(str).to_numpy())
    n_bookings = len(data.bookings)
    del data
    t0 = time.perf_counter()
    model = SegmentationModel(clusters=BehaviouralSegmenter(k_range=k_range, seed=seed))
    model.fit(features)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(features)
    predict_s = time.perf_counter() - t0
    active = pred["cluster"].to_numpy() >= 0
    clusters = pred["cluster"].to_numpy()[active]
    out = {
        "customers": n,
        "bookings": n_bookings,
        "features_s": features_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "k": model.clusters_.k_,
        "ari": adjusted_rand_score(persona[active], clusters),
        "purity": float(pd.crosstab(clusters, persona[active]).max(axis=1).sum() / active.sum()),
    }
    if stability_pairs:
        t0 = time.perf_counter()
        out["stability_ari"] = model.clusters_.stability(features, n_pairs=stability_pairs)
        out["stability_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = peak_rss_self_mb()
    return out


def records(rows: list[dict], k_range: tuple[int, int]) -> list[dict]:
    """One record per step and size (the schema of _common.py); steps share the peak RSS."""
    out = []
    for r in rows:
        steps = [("customer features", r["features_s"], f"{r['bookings']:,} bookings"),
                 ("segmentation fit", r["fit_s"],
                  f"k = {r['k']} by silhouette over {k_range[0]}..{k_range[1]}"),
                 ("segmentation predict", r["predict_s"], "")]
        if "stability_s" in r:
            steps.append(("segmentation stability", r["stability_s"],
                          f"ARI {r['stability_ari']:.3f}"))
        out += [record("segmentation", case, r["customers"], wall, r["peak_rss_mb"], notes=notes)
                for case, wall, notes in steps]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k-range", type=int, nargs=2, default=(3, 10))
    ap.add_argument("--stability", type=int, default=1, help="bootstrap-half pairs (0: skip)")
    add_records_argument(ap)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = _child(args.child, args.seed, tuple(args.k_range), args.stability)
        print(json.dumps(res))
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--seed", str(args.seed),
               "--k-range", *map(str, args.k_range), "--stability", str(args.stability)]
        rows.append(run_child(cmd))
    cols = ["customers", "bookings", "features_s", "fit_s", "predict_s", "k", "ari", "purity",
            "stability_ari", "stability_s", "peak_rss_mb"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:,.3f}" if isinstance(r.get(c), float) and c in ("ari", "purity",
                 "stability_ari") else f"{r[c]:,.1f}" if isinstance(r.get(c), float)
                 else f"{r[c]:,}" if c in r else "-" for c in cols]
        print("| " + " | ".join(cells) + " |")
    write_records(args.records, records(rows, tuple(args.k_range)))


if __name__ == "__main__":
    main()
