"""``crm``: the command line of the lab.

    crm run demo                     run a job (params/demo.yaml) end to end
    crm init shop orders.csv         profile data files and write params/shop.yaml (every guess
                                     commented; --force overwrites, --out elsewhere)
    crm generate --customers 100000  write the synthetic travel data set as Parquet
    crm features --bookings b/ --customers c/ --cutoff 2025-12-31 --output f.parquet
                                     scoring features of tables too large for memory, by parts
    crm score --input f.parquet --output scored.parquet   score with the champion scorer
    crm export <run_id>              write a run's marketing lists into its exports/ folder
    crm runs                         recent runs with status, duration and key metrics
    crm show <run_id>                print a run's manifest
    crm kpis [demo] [--run RUN_ID]   the KPIs against their targets of a job's latest run with
                                     KPIs (07_kpis; default job: the latest run's)
    crm ui                           open the MLflow UI on the project's tracking store
    crm schedule add demo --cron "0 3 * * 1"   run a job from cron (also: remove, list)

Each subcommand imports its part of the stack when it runs, so ``crm --help`` and ``crm runs``
start without loading pandas, MLflow and the models; this is the top of the stack (nothing
imports it), so these lazy imports cannot hide an import cycle.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from src.layout import RunLayout, run_manifest_files
from src.paths import runs_dir


def _cmd_run(args: argparse.Namespace) -> int:
    from src.params import ParamsError
    from src.runner.lock import JobLockedError
    from src.runner.run import EXIT_BAD_INPUT, EXIT_LOCKED, run_job

    overrides: dict[str, object] = {}
    for item in args.set or []:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            print(f"error: --set {item!r}: write --set KEY=VALUE, the dotted key, '=' and the "
                  f"value (e.g. --set churn.gap_days=365)", file=sys.stderr)
            return EXIT_BAD_INPUT
        import yaml

        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            print(f"error: --set {item!r}: the value is not YAML ({exc.problem})", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        result = run_job(args.job, overrides=overrides, resume=args.resume, quiet=args.quiet)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except JobLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    return result.exit_code


def _cmd_init(args: argparse.Namespace) -> int:
    from datetime import date

    from src.commands.init_job import init_job
    from src.data.errors import DataError

    given = {key: value for key, value in vars(args).items()
             if key.startswith("role_") and value is not None}
    given = {key.removeprefix("role_"): value for key, value in given.items()}
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
        result = init_job(args.name, args.files, out=args.out, force=args.force, as_of_date=as_of,
                          given=given)
    except (FileExistsError, FileNotFoundError, ValueError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not result.ok:
        print(f"error: {result.path.name} is not ready: " + "; ".join(result.problems)
              + (f"\n  settle it with: {result.command}" if result.command else ""),
              file=sys.stderr)
    return 0 if result.ok else 2


def _init_role_flags() -> list[tuple[str, str, str]]:
    """(role, flag, plain words) of the ``crm init`` flags that settle a role."""
    from src.data.recognition.role_names import ROLES

    return [(role, flag, what) for role, (what, flag) in ROLES.items()]


def _cmd_generate(args: argparse.Namespace) -> int:
    from src.data.synthetic import generate_chunks_to_parquet, generate_to_parquet

    if args.chunk_customers:
        paths = generate_chunks_to_parquet(Path(args.out), args.customers, seed=args.seed,
                                           chunk_customers=args.chunk_customers,
                                           show_progress=not args.quiet)
    else:
        paths = generate_to_parquet(Path(args.out), n_customers=args.customers, seed=args.seed,
                                    show_progress=not args.quiet)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from src.features.partitioned import partitioned_scoring_features
    from src.features.scoring import FeatureSettings

    sources = {name: getattr(args, name) for name in ("bookings", "customers", "interactions",
                                                      "feedback") if getattr(args, name)}
    settings = FeatureSettings(churn_definition=args.churn_definition,
                               churn_gap_days=args.churn_gap_days,
                               time_unit_days=args.time_unit_days)
    from src.data.errors import DataError

    try:
        res = partitioned_scoring_features(
            sources, args.cutoff, args.output, n_parts=args.parts,
            customers_per_part=args.customers_per_part, settings=settings,
            memory_limit=args.memory_limit, show_progress=not args.quiet)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{res['rows']} customers in {res['parts']} parts: partition "
          f"{res['partition_seconds']:.1f} s, features {res['feature_seconds']:.1f} s "
          f"-> {res['output']}")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from src.features.scoring import MissingColumnsError
    from src.runner.tracking import connect
    from src.serving.batch import score_file
    from src.serving.registry import UnknownModelError

    connect(args.tracking_uri, "tourism-crm")
    try:
        res = score_file(args.model, args.input, args.output, table=args.table,
                         batch_size=args.batch_size, show_progress=not args.quiet)
    except (UnknownModelError, MissingColumnsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"scored {res['rows']} customers with {res['model_uri']} (version {res['version']}) "
          f"in {res['seconds']:.1f} s ({res['rows_per_second']:,.0f}/s) -> {res['output']}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from src.data.errors import DataError
    from src.export.marketing import ReconciliationError, export_run
    from src.features.attributes import TierRule
    from src.features.cache import run_tables
    from src.params import ParamsError, load_params
    from src.params.schema import ExportParams
    from src.runner.tracking import connect

    run_dir = Path(args.run) if Path(args.run).is_dir() else runs_dir() / args.run
    if not run_dir.is_dir():
        print(f"error: no run {args.run!r} in {runs_dir()}", file=sys.stderr)
        return 2
    layout = RunLayout(run_dir)
    manifest_file = layout.manifest_file
    status = json.loads(manifest_file.read_text(encoding="utf-8")).get("status") if manifest_file.exists() else None
    if status != "succeeded":
        print(f"error: run {run_dir.name} has status {status!r}; only a succeeded run is exported "
              "(resume it first: crm run <job> --resume <run_id>)", file=sys.stderr)
        return 2
    params = ExportParams()
    options: dict = {"vocabulary": "travel"}
    if layout.params_file.exists():
        job = load_params(layout.params_file)
        params = getattr(job, "export", None) or params
        options = {"vocabulary": job.vocabulary, "campaigns": job.campaigns, "seed": job.seed,
                   "language": job.report.language,
                   "tables": run_tables(layout, cache_features=False,
                                        tier_rule=TierRule.from_params(job.data.tier_rule))}
    if layout.params_file.exists():  # lists from the champion need the run's MLflow store
        connect(job.mlflow.tracking_uri, job.mlflow.experiment)
    try:
        manifest = export_run(run_dir, params, **options)
    except (FileNotFoundError, ReconciliationError, ValueError, ParamsError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if manifest.folder is None:
        print(f"no lists published for run {run_dir.name}: {manifest.get('withheld') or 'withheld'}")
        return 0
    for name, r in manifest["lists"].items():
        print(f"{name:<24} {r['listed']:>8} customers, {r.get('control', 0):>6} held back as control")
    print(f"exports: {manifest.folder}")
    return 0


def _manifests(limit: int) -> list[dict]:
    out = []
    for path in run_manifest_files(runs_dir())[::-1][:limit]:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            out.append({"run_id": path.parent.name, "status": "unreadable manifest"})
    return out


def _cmd_runs(args: argparse.Namespace) -> int:
    rows = _manifests(args.limit)
    if not rows:
        print(f"no runs in {runs_dir()}")
        return 0
    print(f"{'run_id':<40} {'status':<10} {'seconds':>8}  key metrics")
    for m in rows:
        metrics = []
        for vals in (m.get("metrics") or {}).values():
            for k, v in list(vals.items())[:2]:
                metrics.append(f"{k}={v:.4g}")
        secs = m.get("duration_seconds")
        print(f"{m.get('run_id', ''):<40} {m.get('status', ''):<10} "
              f"{'' if secs is None else f'{secs:8.1f}'}  {', '.join(metrics[:4])}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    path = RunLayout(runs_dir() / args.run_id).manifest_file
    if not path.exists():
        print(f"error: no run {args.run_id!r} in {runs_dir()}", file=sys.stderr)
        return 2
    print(path.read_text(encoding="utf-8"))
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    """``crm rollback <job>``: the job's champion back to the version it replaced."""
    from mlflow.tracking import MlflowClient

    from src.params import ParamsError, load_params
    from src.runner.tracking import resolve_tracking_uri
    from src.serving.champion import RollbackError, rollback_by_hand
    from src.serving.registry import scorer_model_name

    uri, name, alias = resolve_tracking_uri(args.tracking_uri), args.job, "champion"
    try:  # a job's scorer (params/<job>.yaml), else a registered model's own name
        job = load_params(args.job)
        uri = resolve_tracking_uri(args.tracking_uri or job.mlflow.tracking_uri)
        promotion = job.scoring.promotion
        name, alias = scorer_model_name(job.job, promotion), promotion.alias
    except ParamsError:
        pass
    try:
        done = rollback_by_hand(name, to=args.to, reason=args.reason, alias=alias,
                                client=MlflowClient(tracking_uri=uri))
    except RollbackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(done.message())
    return 0


def _cmd_kpis(args: argparse.Namespace) -> int:
    from src.commands.kpi_report import format_kpi_table, kpi_runs, read_kpi_table
    from src.runner.history import job_runs, run_named

    if args.run:
        run = run_named(args.run)
        if run is None:
            print(f"error: no run {args.run!r} in {runs_dir()}", file=sys.stderr)
            return 2
        job = str(run.manifest.get("job") or "?")
    else:
        job = args.job
        if job and job.endswith((".yaml", ".yml")) and Path(job).is_file():
            import yaml

            job = str((yaml.safe_load(Path(job).read_text(encoding="utf-8")) or {}).get("job"))
        if not job:
            job = next((m["job"] for m in _manifests(1_000) if m.get("job")), None)
        if not job:
            print(f"error: no runs in {runs_dir()}: run a job with 07_kpis among its notebooks "
                  "first (crm run <job>)", file=sys.stderr)
            return 2
        runs = kpi_runs(job)
        run = runs[-1] if runs else None
        if run is None:
            if not job_runs(job, status=None):
                print(f"error: no run of job {job!r} in {runs_dir()}: run `crm run {job}` with "
                      "07_kpis among its notebooks", file=sys.stderr)
            else:
                print(f"error: no succeeded run of job {job!r} has KPIs (data/kpis.csv): add "
                      f"07_kpis to the notebooks of params/{job}.yaml and run `crm run {job}`",
                      file=sys.stderr)
            return 2
    if not run.layout.kpis_file.exists():
        print(f"error: run {run.run_id} has no KPIs ({run.layout.kpis_file}): 07_kpis did not "
              f"run in it; run `crm run {job}` with 07_kpis among its notebooks",
              file=sys.stderr)
        return 2
    print(f"KPIs of job {job}, run {run.run_id} (cut-off {run.cutoff_date}, {run.status})")
    print(format_kpi_table(read_kpi_table(run.layout.kpis_file)))
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from src.runner.tracking import resolve_tracking_uri, sqlite_artifact_root

    uri = resolve_tracking_uri(None)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--port", str(args.port)]
    artifacts = sqlite_artifact_root(uri)
    if artifacts:
        cmd += ["--default-artifact-root", artifacts]
    print(" ".join(cmd))
    return subprocess.call(cmd)


def _cmd_schedule(args: argparse.Namespace) -> int:
    from src.commands.schedule import ScheduleError, add_schedule, list_schedules, remove_schedule
    from src.params import ParamsError

    try:
        if args.action == "add":
            entry = add_schedule(args.job, args.cron, log=args.log)
            print(f"scheduled {entry.job} at '{entry.cron}':\n  {entry.line}")
        elif args.action == "remove":
            if not remove_schedule(args.job):
                print(f"error: job {args.job!r} is not scheduled", file=sys.stderr)
                return 1
            print(f"removed the schedule of {args.job}")
        else:
            entries = list_schedules()
            for e in entries:
                print(f"{e.job:<20} {e.cron:<20} {e.line}")
            if not entries:
                print("no jobs scheduled")
    except (ScheduleError, ParamsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description="Tourism CRM modeling lab")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a job: params/<job>.yaml or a path to a params file")
    p.add_argument("job")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a param by dotted key, e.g. --set data.synthetic.n_customers=500")
    p.add_argument("--resume", metavar="RUN_ID",
                   help="re-execute a failed run from its first unfinished notebook")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("init", help="profile data files and write a commented params/<name>.yaml")
    p.add_argument("name", help="job name: writes params/<name>.yaml")
    p.add_argument("files", nargs="+", help="CSV files (also .gz): a transaction file, a "
                   "customers file, or both")
    p.add_argument("--out", help="write here instead of params/<name>.yaml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--as-of", help="extraction date (ISO); default: the last date of the bulk "
                   "of the data")
    for role, flag, what in _init_role_flags():
        p.add_argument(flag, dest=f"role_{role}", metavar="COLUMN",
                       help=f"the {what}: a column name or a SQL expression over the columns "
                       "('none': the file has none)")
    p.add_argument("--date-format", dest="role_date_format", metavar="FORMAT",
                   help="how ambiguous or mixed dates are written, e.g. %%d/%%m/%%Y")
    p.add_argument("--status-values", dest="role_status_values", metavar="LEVEL=MEANING,...",
                   help="what each status level means, e.g. Storno=cancelled,Offen=confirmed")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("generate", help="write the synthetic travel data set as Parquet")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/synthetic")
    p.add_argument("--chunk-customers", type=int, default=None,
                   help="generate in chunks of this many customers into <out>/<table>/part-*.parquet "
                        "(memory of one chunk; for 10M customers)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("features", help="scoring features of large tables, computed by customer parts")
    p.add_argument("--bookings", required=True, help="Parquet file, folder of parts or glob")
    for name in ("customers", "interactions", "feedback"):
        p.add_argument(f"--{name}", help="Parquet file, folder of parts or glob (optional)")
    p.add_argument("--cutoff", required=True, help="cut-off date (ISO)")
    p.add_argument("--output", required=True, help="feature table (.parquet)")
    p.add_argument("--parts", type=int, default=None, help="number of parts (default: by size)")
    p.add_argument("--customers-per-part", type=int, default=1_000_000)
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit of the partitioning")
    p.add_argument("--churn-definition", choices=["lapse", "membership"], default="lapse")
    p.add_argument("--churn-gap-days", type=int, default=365)
    p.add_argument("--time-unit-days", type=float, default=1.0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_features)

    p = sub.add_parser("score", help="score a feature table with a registered scorer")
    p.add_argument("--model", required=True,
                   help="<name>@<alias>, <name>/<version> or <name> (its champion); a job's "
                        "scorer is registered as <job>_scorer (e.g. demo_scorer@champion)")
    p.add_argument("--input", required=True,
                   help="scoring features: .parquet/.csv file or a database URL (with --table)")
    p.add_argument("--table", help="table name when --input is a database URL")
    p.add_argument("--output", required=True, help="scored customers: .parquet or .csv")
    p.add_argument("--batch-size", type=int, default=100_000)
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: the project's)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("export", help="write a run's marketing lists into <run>/exports")
    p.add_argument("run", help="run id (outputs/runs/<run_id>) or a run folder")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("runs", help="list recent runs")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("show", help="print a run's manifest")
    p.add_argument("run_id")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("rollback", help="take a bad champion back: the job's @champion goes "
                                        "to the version it replaced (or --to VERSION)")
    p.add_argument("job", help="job name (its scorer) or a registered model name")
    p.add_argument("--to", metavar="VERSION", help="this version instead of the one replaced")
    p.add_argument("--reason", default="taken back by hand", help="kept on the version's tags")
    p.add_argument("--tracking-uri", help="MLflow store (default: the job's, else the project's)")
    p.set_defaults(func=_cmd_rollback)

    p = sub.add_parser("kpis", help="print the KPIs against their targets of a job's latest "
                                    "run with KPIs (07_kpis)")
    p.add_argument("job", nargs="?", help="job name (default: the job of the latest run)")
    p.add_argument("--run", metavar="RUN_ID", help="this run's KPIs instead")
    p.set_defaults(func=_cmd_kpis)

    p = sub.add_parser("ui", help="open the MLflow UI on the project's tracking store")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=_cmd_ui)

    p = sub.add_parser("schedule", help="run a job from cron: add, remove, list")
    ssub = p.add_subparsers(dest="action", required=True)
    a = ssub.add_parser("add", help="add (or replace) the job's crontab line")
    a.add_argument("job")
    a.add_argument("--cron", required=True, help='five fields, e.g. "0 3 * * 1" (Mondays 03:00)')
    a.add_argument("--log", help="log file (default: outputs/logs/<job>.log)")
    a = ssub.add_parser("remove", help="remove the job's crontab line")
    a.add_argument("job")
    ssub.add_parser("list", help="jobs scheduled by crm schedule")
    p.set_defaults(func=_cmd_schedule)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
