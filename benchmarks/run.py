"""Run every benchmark script in this folder and print their tables.

    python benchmarks/run.py                    # default sizes of each script (100k and 1M)
    python benchmarks/run.py --sizes 2000       # tiny: the smoke test uses this
    python benchmarks/run.py --only btyd

Each ``bench_<name>.py`` is a script with ``--sizes`` that prints a markdown table; each runs
its cases in subprocesses and reports wall seconds and peak memory. Timings are never asserted
in tests; the latest tables are kept in benchmarks/README.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main(argv: list[str] | None = None) -> int:
    found = scripts()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", help="customers per case (default: each script's)")
    ap.add_argument("--only", nargs="+", choices=sorted(found), help="run only these benchmarks")
    args = ap.parse_args(argv)
    print(f"# benchmarks on {platform.platform()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}\n", flush=True)
    failed = []
    for name, path in found.items():
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, str(path)] + (["--sizes", *map(str, args.sizes)] if args.sizes else [])
        print(f"## {name}\n", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd)
        print(f"\n({name}: {time.perf_counter() - t0:.1f} s, exit code {code})\n", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
