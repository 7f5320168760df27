"""Sampled fits vs full fits: do the models fitted on a stratified sample score as well?

    python benchmarks/bench_sampling.py                        # 100k customers
    python benchmarks/bench_sampling.py --sizes 2000           # smoke test
    python benchmarks/bench_sampling.py --records out.jsonl --churn-models coxph

Issue 8: where a model cannot fit on everyone within the time budget it fits on a sample
(a parameter) and scores everyone. For each size this script generates the synthetic company
(``src.data.synthetic.generate(n, seed)``, cut-off 2025-12-31) and fits every sampled model
twice on the same data with the same seeds, once on everyone and once on its sample, each fit
in its own child process:

- segmentation: ``BehaviouralSegmenter`` (k-means, k by silhouette over 3..8, as the job)
  on the customer features, ``sample_size=None`` vs ``--segmentation-sample`` customers
  (random sample; every customer is assigned). Compared: chosen k, silhouette of each fit's
  clusters on one common evaluation sample of customers (drawn independently of both fits,
  in each model's own scaled space), adjusted Rand index (ARI) between the two fits'
  assignments of every customer, and each fit's ARI / purity against the planted personas
  (``recovery_scores``).
- survival churn: ``ChurnModel(kind, sample_size=...)`` (sample stratified by event) on the
  job's landmark time split (lapse churn, train cut-off = cut-off - 365 days, landmark time
  origin, the default covariates of ``ChurnParams``), evaluated by ``evaluate_holdout``:
  concordance, integrated Brier score and 365-day calibration error.
- repeat booking: ``evaluate_time_split(..., sample_size=...)`` (sample stratified by
  outcome) with the job's cut-offs (train cut-off = cut-off - 2 x 365 days, test cut-off =
  cut-off): test ROC AUC and Brier score. ``evaluate_time_split`` also builds the first-trip
  tables and fits the BG/NBD baseline, so the fit itself is timed by refitting the same
  ``RepeatBookingModel`` (same settings and seed, checked to give the same predictions) on
  its training table.

Sample sizes shrink with tiny data: at most ``n // 4`` customers or rows (the churn and
repeat tables hold about a third of the customers, so at the smoke size the "sample" is most
of them: smaller ones leave a Cox fit with constant covariates); at 100k the defaults hold.

Each fit is measured in its child: wall seconds of the fit alone (not generation, features or
evaluation) and the process's peak RSS during the fit (Linux: the high-water mark is reset
just before the fit via ``/proc/self/clear_refs``, so it includes the data the process holds,
about the same for full and sampled; elsewhere the process peak so far). Prints a markdown
table of metrics (model | metric | full | sampled (n) | difference = sampled - full) and a
table of fit times; with ``--records PATH`` appends one JSON line per fit (see _common.py).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import (  # noqa: E402
    ChildFailedError,
    add_records_argument,
    child_env,
    peak_rss_self_mb,
    record,
    run_child,
    write_records,
)

CUTOFF = "2025-12-31"
K_RANGE = (3, 8)  # ClusterParams default and params/scale_1m.yaml
HORIZONS_DAYS = (180, 365)  # ChurnParams.horizons_days
CHURN_YEAR_DAYS = 365  # ChurnParams.holdout_days and train_window_days
REPEAT_HORIZON_DAYS = 365  # RepeatModelParams.horizon_days
SAMPLE_DIVISORS = {"segmentation": 4, "churn": 4, "repeat": 4}
"""Effective sample = min(requested, customers // divisor): small data keep a real sample."""


# --------------------------------------------------------------------------------------------
# child side: one fit per process
# --------------------------------------------------------------------------------------------
def _status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process from /proc/self/status (MB), None elsewhere."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux); False if not."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_mb("VmHWM") is not None


@contextlib.contextmanager
def measured_fit(out: dict[str, Any]) -> Iterator[None]:
    """Time the block and record the peak RSS during it in ``out`` (``fit_wall_s``,
    ``fit_peak_rss_mb``, ``rss_before_fit_mb``, ``peak_is_fit_only``)."""
    gc.collect()
    reset = _reset_peak_rss()
    out["rss_before_fit_mb"] = _status_mb("VmRSS")
    t0 = time.perf_counter()
    yield
    out["fit_wall_s"] = time.perf_counter() - t0
    out["fit_peak_rss_mb"] = _status_mb("VmHWM") if reset else peak_rss_self_mb()
    out["peak_is_fit_only"] = reset


def child_segmentation(n: int, seed: int, sample: int | None, eval_size: int,
                       labels_path: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import silhouette_score

    from src.data.synthetic import generate
    from src.features.customer import customer_features
    from src.models.segmentation import BehaviouralSegmenter, recovery_scores

    data = generate(n, seed=seed)
    features = customer_features(data.bookings, CUTOFF, customers=data.customers,
                                 interactions=data.interactions, feedback=data.feedback)
    persona = data.truth.set_index("customer_id")["persona"]
    del data
    out: dict[str, Any] = {}
    model = BehaviouralSegmenter(method="kmeans", k_range=K_RANGE, sample_size=sample, seed=seed)
    with measured_fit(out):
        model.fit(features)
    clusters = pd.Series(model.predict(features), index=features.index, name="cluster")
    clusters.to_frame().to_parquet(labels_path)
    # one evaluation sample for both fits: its own seed, drawn among customers with a booking
    active = np.flatnonzero(clusters.to_numpy() >= 0)
    rng = np.random.default_rng(seed + 1_000_003)
    rows = np.sort(rng.choice(active, size=min(eval_size, len(active)), replace=False))
    Z = model.transform(features.iloc[rows])
    labels = clusters.to_numpy()[rows]
    recovery = recovery_scores(clusters, persona)
    out.update(
        rows_available=int(len(active)), rows_fitted=int(min(sample or len(active), len(active))),
        k=int(model.k_),
        silhouette=float(silhouette_score(Z, labels)) if len(np.unique(labels)) > 1 else math.nan,
        silhouette_customers=int(len(rows)),
        persona_ari=recovery["ari"], persona_purity=recovery["purity"],
    )
    return out


def child_churn(kind: str, n: int, seed: int, sample: int | None) -> dict[str, Any]:
    import pandas as pd

    from src.data.synthetic import generate
    from src.models import churn
    from src.params.schema import ChurnParams

    cp = ChurnParams()
    tables = generate(n, seed=seed).tables()
    cutoff = pd.Timestamp(CUTOFF)
    train, test = churn.time_split(
        tables, train_cutoff=cutoff - pd.Timedelta(days=CHURN_YEAR_DAYS), test_cutoff=cutoff,
        train_window_days=CHURN_YEAR_DAYS, time_origin="landmark", definition=cp.definition,
        gap_days=cp.gap_days)
    del tables
    covariates = [c for c in cp.covariates if c in train.columns]
    model = churn.ChurnModel(kind=kind, covariates=covariates, penalizers=tuple(cp.penalizers),
                             sample_size=sample, seed=seed)
    out: dict[str, Any] = {}
    with measured_fit(out):
        model.fit(train)
    ev = churn.evaluate_holdout(model, train, test, horizons_days=list(HORIZONS_DAYS))
    metrics = ev["models"][kind]
    out.update(
        rows_available=int(model.n_input_), rows_fitted=int(model.n_fit_),
        events_fitted=int(model.n_events_), test_rows=int(len(test)),
        penalizer=float(model.penalizer_),
        concordance=metrics["concordance"],
        integrated_brier_score=metrics["integrated_brier_score"],
        **{f"calibration_error_{h}d": metrics.get(f"calibration_error_{h}d", math.nan)
           for h in HORIZONS_DAYS},
        dropped_horizons=list(ev["dropped_horizons"]),
    )
    return out


def child_repeat(n: int, seed: int, sample: int | None) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from src.data.synthetic import generate
    from src.models import repeat_booking
    from src.params.schema import RepeatModelParams

    rp = RepeatModelParams()
    tables = generate(n, seed=seed).tables()
    cutoff = pd.Timestamp(CUTOFF)
    t0 = time.perf_counter()
    ev = repeat_booking.evaluate_time_split(
        tables, train_cutoff=cutoff - pd.Timedelta(days=2 * rp.horizon_days), test_cutoff=cutoff,
        horizon_days=rp.horizon_days, seed=seed, max_iter=rp.max_iter, sample_size=sample)
    evaluate_s = time.perf_counter() - t0
    del tables
    fitted = ev["model"]
    # the fit alone, timed: the same model refitted on the same training table
    refit = repeat_booking.RepeatBookingModel(
        horizon_days=rp.horizon_days, seed=seed, max_iter=rp.max_iter, sample_size=sample)
    out: dict[str, Any] = {}
    with measured_fit(out):
        refit.fit(ev["train"])
    same = np.allclose(refit.predict_proba(ev["test"]), ev["predictions"]["p_repeat_model"])
    scores = ev["repeat_model_scores"]
    out.update(
        rows_available=int(fitted.n_labelled_), rows_fitted=int(fitted.n_train_),
        test_rows=int(len(ev["test"])), refit_matches=bool(same),
        evaluate_time_split_s=evaluate_s,
        roc_auc=scores["roc_auc"], brier=scores["brier"],
        mean_predicted=scores["mean_predicted"],
        base_rate_test=float(ev["metrics"]["base_rate_test"]),
    )
    return out


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--child`` entry: one fit (model, full or sampled) at one size."""
    warnings.filterwarnings("ignore")
    sample = args.sample or None
    if args.child == "segmentation":
        out = child_segmentation(args.n, args.seed, sample, args.silhouette_sample,
                                 Path(args.labels))
    elif args.child == "repeat":
        out = child_repeat(args.n, args.seed, sample)
    else:
        out = child_churn(args.child.removeprefix("churn_"), args.n, args.seed, sample)
    out["process_peak_rss_self_mb"] = peak_rss_self_mb()
    return out


# --------------------------------------------------------------------------------------------
# parent side: cases, comparison tables, records
# --------------------------------------------------------------------------------------------
MODEL_NAMES = {"segmentation": "segmentation", "churn_coxph": "churn coxph",
               "churn_weibull_aft": "churn weibull_aft", "repeat": "repeat model"}

METRICS: dict[str, list[tuple[str, str, str]]] = {
    # case -> (key, label, format)
    "segmentation": [("rows_fitted", "customers fitted", ",d"), ("k", "chosen k", "d"),
                     ("silhouette", "silhouette (common sample)", ".4f"),
                     ("persona_ari", "ARI vs planted personas", ".4f"),
                     ("persona_purity", "purity vs planted personas", ".4f")],
    "churn": [("rows_fitted", "rows fitted", ",d"), ("events_fitted", "events fitted", ",d"),
              ("penalizer", "penalizer chosen", "g"),
              ("concordance", "holdout concordance", ".4f"),
              ("integrated_brier_score", "integrated Brier score", ".4f"),
              *[(f"calibration_error_{h}d", f"calibration error {h} d", ".4f")
                for h in HORIZONS_DAYS]],
    "repeat": [("rows_fitted", "first trips fitted", ",d"), ("roc_auc", "test ROC AUC", ".4f"),
               ("brier", "test Brier score", ".4f"),
               ("mean_predicted", "mean predicted (test)", ".4f")],
}


def effective_sample(requested: int, n: int, case: str) -> int:
    """The sample size used at ``n`` customers: ``min(requested, n // divisor)``, at least 1."""
    return max(1, min(requested, n // SAMPLE_DIVISORS[case.split("_")[0]]))


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if spec.endswith("d"):
        return format(int(v), spec)
    return format(v, spec)


def _diff(full: Any, sampled: Any, spec: str) -> str:
    if full is None or sampled is None:
        return "–"
    d = sampled - full
    if isinstance(d, float) and math.isnan(d):
        return "–"
    if spec.endswith("d"):
        return f"{int(d):+,d}"
    return f"{d:+.4f}" if spec != "g" else f"{d:+g}"


def metric_rows(case: str, full: dict, sampled: dict) -> list[list[str]]:
    """Table rows ``model | metric | full | sampled | difference`` of one model."""
    name = MODEL_NAMES[case]
    rows = []
    for key, label, spec in METRICS[case.split("_")[0]]:
        f, s = full.get(key), sampled.get(key)
        rows.append([name, label, _fmt(f, spec), _fmt(s, spec), _diff(f, s, spec)])
    return rows


def assignment_agreement(full_path: Path, sampled_path: Path) -> dict[str, float]:
    """ARI between the two fits' clusters of every customer, and of those with a booking."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    both = pd.read_parquet(full_path).join(pd.read_parquet(sampled_path), how="inner",
                                           lsuffix="_full", rsuffix="_sampled")
    a, b = both["cluster_full"].to_numpy(), both["cluster_sampled"].to_numpy()
    active = (a >= 0) | (b >= 0)
    return {"ari_all": float(adjusted_rand_score(a, b)), "customers_all": int(len(a)),
            "ari_active": float(adjusted_rand_score(a[active], b[active])),
            "customers_active": int(active.sum())}


def notes_of(case: str, row: dict) -> str:
    """Short metrics summary of one fit, for the JSON record."""
    parts = [f"{row.get('rows_fitted', 0):,} of {row.get('rows_available', 0):,} rows fitted"]
    for key, label, spec in METRICS[case.split("_")[0]][1:]:
        parts.append(f"{label} {_fmt(row.get(key), spec)}")
    if case == "segmentation" and "ari_vs_full" in row:
        parts.append(f"ARI vs full-fit assignments {row['ari_vs_full']:.4f}")
    return "; ".join(parts)


def thread_env(threads: int) -> dict[str, str]:
    """Environment capping the OpenMP / BLAS threads of a child (nothing for 0)."""
    if threads <= 0:
        return {}
    return {v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS")}


def cases(churn_models: list[str]) -> list[str]:
    return ["segmentation", *[f"churn_{k}" for k in churn_models], "repeat"]


def run_size(n: int, args: argparse.Namespace, tmp: Path) -> tuple[dict, list[str]]:
    """Run every (model, full | sampled) child at ``n`` customers."""
    requested = {"segmentation": args.segmentation_sample, "churn": args.churn_sample,
                 "repeat": args.repeat_sample}
    results: dict[str, dict[str, dict]] = {}
    failures = []
    for case in cases(args.churn_models):
        sample = effective_sample(requested[case.split("_")[0]], n, case)
        results[case] = {}
        for variant, size in (("full", 0), ("sampled", sample)):
            labels = tmp / f"{n}_{case}_{variant}.parquet"
            cmd = [sys.executable, __file__, "--child", case, "--n", str(n), "--sample", str(size),
                   "--seed", str(args.seed), "--silhouette-sample", str(args.silhouette_sample),
                   "--labels", str(labels)]
            try:
                row = run_child(cmd, timeout=args.timeout, env=child_env(thread_env(args.threads)))
            except ChildFailedError as exc:
                failures.append(f"{MODEL_NAMES[case]} {variant} at {n:,}: {exc.last_line}")
                print(f"<!-- {failures[-1]} -->", file=sys.stderr, flush=True)
                continue
            row.update(sample_size=size, labels=str(labels))
            results[case][variant] = row
    seg = results.get("segmentation", {})
    if "full" in seg and "sampled" in seg:
        agree = assignment_agreement(Path(seg["full"]["labels"]), Path(seg["sampled"]["labels"]))
        seg["agreement"] = agree
        seg["sampled"]["ari_vs_full"] = agree["ari_all"]
    return results, failures


def print_tables(n: int, results: dict, threads: int) -> None:
    print(f"\n### {n:,} customers (seed-identical data; "
          f"{threads or 'default'} OpenMP/BLAS thread(s) per fit)\n")
    print("| model | metric | full | sampled (n) | difference |")
    print("|---|---|---:|---:|---:|")
    for case, res in results.items():
        if "full" not in res or "sampled" not in res:
            print(f"| {MODEL_NAMES[case]} | failed | | | |")
            continue
        for row in metric_rows(case, res["full"], res["sampled"]):
            print("| " + " | ".join(row) + " |")
        if case == "segmentation":
            a = res["agreement"]
            print(f"| segmentation | ARI full vs sampled, all {a['customers_all']:,} customers "
                  f"| 1 | {a['ari_all']:.4f} | {a['ari_all'] - 1:+.4f} |")
            print(f"| segmentation | ARI full vs sampled, {a['customers_active']:,} with a "
                  f"booking | 1 | {a['ari_active']:.4f} | {a['ari_active'] - 1:+.4f} |")
    print("\n| model | fit | rows fitted | fit wall s | peak RSS MB during fit | RSS before fit MB "
          "| child process wall s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, res in results.items():
        for variant in ("full", "sampled"):
            r = res.get(variant)
            if r is None:
                print(f"| {MODEL_NAMES[case]} | {variant} | failed | | | | |")
                continue
            label = "full" if variant == "full" else f"sampled {r['sample_size']:,}"
            print(f"| {MODEL_NAMES[case]} | {label} | {r['rows_fitted']:,} | {r['fit_wall_s']:.2f} "
                  f"| {_fmt(r['fit_peak_rss_mb'], '.0f')} | {_fmt(r['rss_before_fit_mb'], '.0f')} "
                  f"| {r['process_wall_s']:.1f} |")
    extra = [f"{MODEL_NAMES[c]} {v}: evaluate_time_split {r['evaluate_time_split_s']:.1f} s, "
             f"refit reproduces its predictions: {r['refit_matches']}"
             for c, res in results.items() if c == "repeat"
             for v, r in res.items() if v in ("full", "sampled")]
    extra += [f"{MODEL_NAMES[c]} {v}: horizons {r['dropped_horizons']} d dropped by "
              "evaluate_holdout (beyond the test follow-up), no calibration error there"
              for c, res in results.items() if c.startswith("churn")
              for v, r in res.items() if v in ("full", "sampled") and r.get("dropped_horizons")]
    if extra:
        print("\n" + ";\n".join(extra) + ".")
    print("\ndifference = sampled - full. Peak RSS during a fit includes the data the child "
          "holds (same for both fits); the fit's own share is peak minus RSS before the fit.",
          flush=True)


def records_of(n: int, results: dict) -> list[dict]:
    out = []
    for case, res in results.items():
        for variant in ("full", "sampled"):
            r = res.get(variant)
            if r is None:
                continue
            impl = "full" if variant == "full" else f"sampled {r['sample_size']}"
            out.append(record("sampling", f"{MODEL_NAMES[case]} fit", n, r["fit_wall_s"],
                              r["fit_peak_rss_mb"], implementation=impl,
                              notes=notes_of(case, r)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--seed", type=int, default=42, help="data and model seed (the job's)")
    ap.add_argument("--segmentation-sample", type=int, default=20_000, metavar="CUSTOMERS")
    ap.add_argument("--churn-sample", type=int, default=10_000, metavar="ROWS")
    ap.add_argument("--repeat-sample", type=int, default=10_000, metavar="FIRST_TRIPS")
    ap.add_argument("--churn-models", nargs="+", choices=["coxph", "weibull_aft"],
                    default=["coxph", "weibull_aft"])
    ap.add_argument("--silhouette-sample", type=int, default=10_000, metavar="CUSTOMERS",
                    help="common evaluation sample of the silhouette")
    ap.add_argument("--threads", type=int, default=1,
                    help="OpenMP/BLAS threads per child: 1 (default) keeps timings stable on "
                    "shared cores and small fits fast; 0 = the libraries' default (all cores)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child process")
    add_records_argument(ap)
    ap.add_argument("--child", choices=["segmentation", "churn_coxph", "churn_weibull_aft",
                                        "repeat"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--labels", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_case(args)))
        return 0
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_sampling_") as tmp:
        for n in args.sizes:
            results, failed = run_size(n, args, Path(tmp))
            failures += failed
            print_tables(n, results, args.threads)
            write_records(args.records, records_of(n, results))
    for f in failures:
        print(f"failed: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
