"""Ten million customers on one machine: generate, features by parts, `crm score`, Spark.

    python benchmarks/bench_score10m.py --sizes 10000000            # about half an hour
    python benchmarks/bench_score10m.py --sizes 2000 --spark        # the smoke size

The path a company with more customers than fit in pandas takes, each stage in its own
process (wall seconds and peak RSS per stage):

1. generate: the synthetic company in chunks of 1M customers (`crm generate --chunk-customers`),
   Parquet parts, memory of one chunk;
2. features: `crm features` — DuckDB splits every table by `hash(customer_id)` into parts of
   about 1M customers (out of core, spilling to disk), the scoring features of each part are
   computed by the same pandas code as the weekly job and appended to one Parquet file;
3. register: a scorer fitted on a 20k-customer company is logged and registered in a
   throw-away MLflow store and given the `champion` alias;
4. score: `crm score` (`score_file`): the feature file read in batches of 100k rows, scored by
   the registered pyfunc, written batch by batch — memory of one batch;
5. spark (with `--spark`): the same registered model on the same feature file through
   `mlflow.pyfunc.spark_udf` in Spark local mode (2 cores), written as Parquet.

Prints a markdown table; `--records PATH` appends JSON-lines records for benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
CUTOFF = "2025-12-31"
MODEL = "bench_scorer"
STAGES = ("generate", "features", "register", "score", "spark")


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _tracking(work: Path) -> str:
    return f"sqlite:///{(work / 'mlflow.db').as_posix()}"


def stage(name: str, n: int, work: Path, seed: int, batch: int) -> dict:
    """Run one stage in this process; returns its measurements."""
    warnings.filterwarnings("ignore")
    out: dict = {"stage": name}
    data, features, scored = work / "data", work / "features.parquet", work / "scored.parquet"
    t = time.perf_counter()
    if name == "generate":
        from src.data.synthetic import generate_chunks_to_parquet

        folders = generate_chunks_to_parquet(data, n, chunk_customers=min(n, 1_000_000), seed=seed,
                                             show_progress=False)
        import pyarrow.parquet as pq

        out["rows"] = sum(pq.ParquetFile(f).metadata.num_rows
                          for f in folders["bookings"].glob("*.parquet"))
        out["what"] = "bookings"
    elif name == "features":
        from src.features.partitioned import partitioned_scoring_features

        res = partitioned_scoring_features(
            {t_: data / t_ for t_ in ("customers", "bookings", "interactions", "feedback")},
            CUTOFF, features, customers_per_part=1_000_000, show_progress=False,
            work_dir=work)
        out.update(rows=res["rows"], what=f"customers, {res['parts']} parts",
                   partition_s=res["partition_seconds"])
    elif name == "register":
        import mlflow
        from mlflow import MlflowClient

        sys.path.insert(0, str(HERE))
        from bench_scoring import fitted_scorer

        from src.serving.pyfunc import log_project_model

        scorer = fitted_scorer()
        mlflow.set_tracking_uri(_tracking(work))
        mlflow.set_experiment("bench-10m")
        with mlflow.start_run():
            info = log_project_model(scorer, "scorer", scorer.example_,
                                     registered_model_name=MODEL)
        MlflowClient().set_registered_model_alias(MODEL, "champion", info.registered_model_version)
        out.update(rows=20_000, what="customers fitted")
    elif name == "score":
        import mlflow

        from src.serving.batch import score_file

        mlflow.set_tracking_uri(_tracking(work))
        res = score_file(f"{MODEL}@champion", str(features), scored, batch_size=batch,
                         show_progress=False)
        out.update(rows=res["rows"], what="customers scored")
    elif name == "spark":
        out.update(_spark(work, features))
    else:
        raise ValueError(f"unknown stage {name}")
    out["wall_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = _peak_mb()
    return out


def _spark(work: Path, features: Path) -> dict:
    import mlflow
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    from src.serving.batch import spark_score

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    mlflow.set_tracking_uri(_tracking(work))
    spark = (SparkSession.builder.master("local[2]").appName("crm-bench-10m")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    try:
        sdf = spark.read.parquet(str(features))
        sdf = sdf.select(*[F.col(f.name).cast("double").alias(f.name)
                           if isinstance(f.dataType, NumericType) else F.col(f.name)
                           for f in sdf.schema.fields])
        out_dir = work / "scored_spark"
        spark_score(spark, f"models:/{MODEL}@champion", sdf).write.mode("overwrite").parquet(
            str(out_dir))
        rows = spark.read.parquet(str(out_dir)).count()
    finally:
        spark.stop()
    return {"rows": rows, "what": "customers scored (local[2])"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=100_000)
    ap.add_argument("--spark", action="store_true", help="also score with Spark local mode")
    ap.add_argument("--work-dir", help="keep the data here (default: a temporary folder)")
    ap.add_argument("--records", help="append JSON-lines records here (benchmarks/run.py)")
    ap.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        print(json.dumps(stage(args.stage, args.n, Path(args.work_dir), args.seed, args.batch_size)))
        return 0
    stages = [s for s in STAGES if s != "spark" or args.spark]
    print("| customers | stage | rows | wall s | rows/s | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|")
    failed = False
    for n in args.sizes:
        work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench10m-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            for s in stages:
                cmd = [sys.executable, __file__, "--stage", s, "--n", str(n), "--work-dir", str(work),
                       "--seed", str(args.seed), "--batch-size", str(args.batch_size)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    failed = True
                    tail = proc.stderr.strip().splitlines()[-1:] or [str(proc.returncode)]
                    print(f"| {n:,} | {s} | failed: {tail[0][:200]} | | | |", flush=True)
                    break
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rate = row["rows"] / row["wall_s"] if row["wall_s"] > 0 else float("nan")
                print(f"| {n:,} | {s} | {row['rows']:,} {row['what']} | {row['wall_s']:.1f} | "
                      f"{rate:,.0f} | {row['peak_rss_mb']:,.0f} |", flush=True)
                if args.records:
                    with open(args.records, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({
                            "benchmark": "score10m", "case": s, "customers": n,
                            "implementation": "spark local[2]" if s == "spark" else "ours",
                            "wall_s": row["wall_s"], "peak_rss_mb": row["peak_rss_mb"],
                            "notes": f"{row['rows']} {row['what']}"}) + "\n")
        finally:
            if not args.work_dir:
                shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
