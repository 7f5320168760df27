"""Benchmark of the synthetic travel-data generator (src/data/synthetic.py).

Each size runs in a fresh subprocess, so the peak resident memory reported is that of one
generation alone (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child). Prints a
markdown table; with ``--records PATH`` also appends one JSON line per case (see _common.py).

Usage::

    python benchmarks/bench_generator.py                    # 100k and 1M customers
    python benchmarks/bench_generator.py --sizes 2000       # smoke test
    python benchmarks/bench_generator.py --write-parquet    # also time write_parquet
    python benchmarks/bench_generator.py --records out.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import (  # noqa: E402
    add_records_argument,
    peak_rss_self_mb,
    record,
    run_child,
    write_records,
)
from _common import markdown_table as _markdown_table  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)


def _child(n_customers: int, seed: int, write_parquet: bool) -> dict:
    """Run one generation in this process and return its measurements."""
    from src.data.synthetic import generate
    from src.data.synthetic import write_parquet as write

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    data = generate(n_customers, seed=seed)
    gen_s = time.perf_counter() - t0
    gen_cpu = time.process_time() - cpu0
    out = {
        "customers": len(data.customers),
        "bookings": len(data.bookings),
        "interactions": len(data.interactions),
        "feedback": len(data.feedback),
        "generate_s": gen_s,
        "generate_cpu_s": gen_cpu,
        "frames_mb": sum(df.memory_usage(deep=True).sum()
                         for df in (*data.tables().values(), data.truth)) / 2**20,
    }
    if write_parquet:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            paths = write(data, tmp)
            out["write_s"] = time.perf_counter() - t0
            out["parquet_mb"] = sum(p.stat().st_size for p in paths.values()) / 2**20
    out["peak_rss_mb"] = peak_rss_self_mb()
    return out


def run_size(n_customers: int, seed: int = 0, write_parquet: bool = False) -> dict:
    """Run one size in a subprocess; return the child's measurements plus wall time."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n_customers),
           "--seed", str(seed)]
    if write_parquet:
        cmd.append("--write-parquet")
    return run_child(cmd)


def records(rows: list[dict]) -> list[dict]:
    """One record per measured step and size (the schema of _common.py)."""
    out = []
    for r in rows:
        notes = f"{r['bookings']:,} bookings"
        out.append(record("generator", "generate", r["customers"], r["generate_s"],
                          r["peak_rss_mb"], notes=notes))
        if "write_s" in r:
            out.append(record("generator", "write parquet", r["customers"], r["write_s"],
                              r["peak_rss_mb"], notes=f"{r['parquet_mb']:.0f} MiB"))
    return out


def markdown_table(rows: list[dict]) -> str:
    """Format the measurements as a markdown table."""
    cols = [("customers", "customers", "{:,}"), ("bookings", "bookings", "{:,}"),
            ("interactions", "interactions", "{:,}"), ("feedback", "feedback", "{:,}"),
            ("generate_s", "generate (s)", "{:.2f}"), ("generate_cpu_s", "CPU (s)", "{:.2f}"),
            ("write_s", "write parquet (s)", "{:.2f}"), ("parquet_mb", "parquet (MiB)", "{:.0f}"),
            ("frames_mb", "DataFrames (MiB)", "{:.0f}"), ("peak_rss_mb", "peak RSS (MiB)",
                                                         "{:.0f}")]
    return _markdown_table(rows, cols)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="numbers of customers (default: 100000 1000000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-parquet", action="store_true",
                        help="also time write_parquet into a temporary folder")
    add_records_argument(parser)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.child, args.seed, args.write_parquet)))
        return 0
    rows = [run_size(n, args.seed, args.write_parquet) for n in args.sizes]
    print("## Synthetic generator (src.data.synthetic.generate)\n")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; one subprocess per size\n")
    print(markdown_table(rows))
    write_records(args.records, records(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
