"""Customer features benchmark: pandas (read Parquet + customer_features) vs DuckDB over Parquet.

    python benchmarks/bench_features.py                          # 100k and 1M customers
    python benchmarks/bench_features.py --sizes 2000             # smoke test
    python benchmarks/bench_features.py --memory-limit 1GB       # DuckDB memory limit

For each size the synthetic data (src.data.synthetic) are generated once, in their own
subprocess, into a temporary folder as Parquet. Each engine then runs in a fresh subprocess
through src.features.cache.build_customer_features: ``pandas`` reads the used
columns of the four tables into pandas and calls customer_features; ``duckdb`` aggregates
inside DuckDB and fetches only the one-row-per-customer result. Reported per case: wall
seconds of read + compute (imports excluded), peak RSS of the process, and the largest
absolute difference from the pandas result over a sample of customers (every k-th row, at
most 20,000; datetimes in days; a differing index, NaN pattern or category counts as inf).
Prints one markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import PROJECT_ROOT, peak_rss_self_mb  # noqa: E402
from _common import markdown_table as _markdown_table  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)
ENGINES = ("pandas", "duckdb")
TABLES = ("bookings", "customers", "interactions", "feedback")
SAMPLE_ROWS = 20_000


def _generate(n_customers: int, seed: int, folder: Path) -> dict:
    """Child: generate the synthetic tables as Parquet into ``folder``."""
    from src.data.synthetic import generate_to_parquet

    t0 = time.perf_counter()
    generate_to_parquet(folder, n_customers, seed=seed)
    return {"generate_s": time.perf_counter() - t0}


def _features(engine: str, folder: Path, cutoff: str, memory_limit: str, sample_out: Path) -> dict:
    """Child: features with one engine; writes a sample of rows to ``sample_out``."""
    from src.features.cache import build_customer_features
    from src.features.duckdb_features import parquet_num_rows

    paths = {name: folder / f"{name}.parquet" for name in TABLES}
    kwargs = {"memory_limit": memory_limit} if engine == "duckdb" else {}
    rss0 = peak_rss_self_mb()
    t0 = time.perf_counter()
    features = build_customer_features(paths, cutoff, engine=engine, **kwargs)
    wall = time.perf_counter() - t0
    peak = peak_rss_self_mb()
    step = max(1, len(features) // SAMPLE_ROWS)
    features.iloc[::step].to_pickle(sample_out)
    return {"customers": len(features), "bookings": parquet_num_rows(paths["bookings"]),
            "engine": engine, "wall_s": wall, "peak_rss_mb": peak, "import_rss_mb": rss0}


def _max_abs_diff(got, expected) -> float:
    """Largest absolute difference over the common sample (inf on any structural mismatch)."""
    import numpy as np
    import pandas as pd

    if not got.index.equals(expected.index) or list(got.columns) != list(expected.columns):
        return float("inf")
    worst = 0.0
    for col in expected.columns:
        a, b = got[col], expected[col]
        if a.dtype != b.dtype:
            return float("inf")
        if isinstance(b.dtype, pd.CategoricalDtype) or str(b.dtype) == "boolean":
            if not a.astype(object).equals(b.astype(object)):
                return float("inf")
            continue
        if pd.api.types.is_datetime64_any_dtype(b):
            x = (a - pd.Timestamp(0)) / pd.Timedelta(days=1)
            y = (b - pd.Timestamp(0)) / pd.Timedelta(days=1)
        else:
            x, y = a, b
        x, y = x.to_numpy(dtype=np.float64), y.to_numpy(dtype=np.float64)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        ok = ~np.isnan(x)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]))))
    return worst


def _run_child(args: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"features benchmark child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_size(n_customers: int, seed: int, cutoff: str, memory_limit: str) -> list[dict]:
    """Generate once, then one subprocess per engine; rows of the table for this size."""
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        folder = Path(tmp) / "data"
        _run_child(["--generate", str(n_customers), "--seed", str(seed), "--folder", str(folder)])
        samples = {}
        for engine in ENGINES:
            sample = Path(tmp) / f"{engine}.pkl"
            rows.append(_run_child(["--child", engine, "--folder", str(folder), "--cutoff",
                                    cutoff, "--memory-limit", memory_limit,
                                    "--sample-out", str(sample)]))
            samples[engine] = pd.read_pickle(sample)
        for row in rows:
            row["max_abs_diff"] = _max_abs_diff(samples[row["engine"]], samples["pandas"])
    return rows


def markdown_table(rows: list[dict]) -> str:
    """Format the measurements as a markdown table."""
    cols = [("customers", "customers", "{:,}"), ("bookings", "bookings", "{:,}"),
            ("engine", "engine", "{}"), ("wall_s", "wall s", "{:.2f}"),
            ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
            ("max_abs_diff", "max abs diff vs pandas", "{:.3g}")]
    return _markdown_table(rows, cols, text_cols=("engine",))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="numbers of customers (default: 100000 1000000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoff", default="2025-12-31",
                        help="feature cut-off date (default: the generator's extraction date)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--records", type=Path, help="append JSON-lines records here (run.py)")
    args = parser.parse_args(argv)
    if args.generate is not None:
        print(json.dumps(_generate(args.generate, args.seed, args.folder)))
        return 0
    if args.child is not None:
        print(json.dumps(_features(args.child, args.folder, args.cutoff, args.memory_limit,
                                   args.sample_out)))
        return 0
    rows = []
    for n in args.sizes:
        rows.extend(run_size(n, args.seed, args.cutoff, args.memory_limit))
    print("## Customer features: pandas vs DuckDB over Parquet "
          "(src.features.duckdb_features)\n")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; one subprocess per case; "
          f"cut-off {args.cutoff}; DuckDB memory_limit {args.memory_limit}\n")
    print(markdown_table(rows))
    if args.records:
        with open(args.records, "a", encoding="utf-8") as fh:
            for r in rows:  # pandas is the job's default path: "ours"; DuckDB is compared to it
                fh.write(json.dumps({
                    "benchmark": "features", "case": "customer features", "customers": r["customers"],
                    "implementation": "ours" if r["engine"] == "pandas" else "duckdb (out of core)",
                    "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                    "notes": f"{r['bookings']} bookings; max abs diff {r['max_abs_diff']:.3g}"}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
