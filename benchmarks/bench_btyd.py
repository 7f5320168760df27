"""BG/NBD + Gamma-Gamma: fit and scoring speed, memory and agreement against the peers.

Compares, on the same simulated customers (BG/NBD histories in whole days, Gamma-Gamma spend):

- ``floor``: one evaluation of the BG/NBD log-likelihood over all customers (no compression,
  value only): what any maximum-likelihood fit pays per optimiser iteration at least;
- ``ours``: :mod:`src.models.btyd` (fit BG/NBD and Gamma-Gamma, then score P(alive),
  expected purchases in the next 365 days and a 12 x 30-day CLV at 1 % per period);
- ``lifetimes`` (0.11.3, archived): ``BetaGeoFitter`` / ``GammaGammaFitter``, same scoring;
- ``pymc-marketing``: ``BetaGeoModel`` / ``GammaGammaModel`` fitted by MAP with flat priors
  (``HalfFlat``, so MAP = maximum likelihood), same scoring.

Each case runs in its own subprocess with a wall-time and a memory limit, so a peer that
hangs, overflows or runs out of memory is reported as such and the run goes on. Peers are
benchmark-only dependencies (``pip install -e '.[bench]'`` or a throwaway venv passed with
``--peer-python``); a missing one is reported as "not installed".

Usage::

    .venv/bin/python benchmarks/bench_btyd.py                       # 100k and 1M customers
    .venv/bin/python benchmarks/bench_btyd.py --sizes 2000 --cases floor ours   # smoke run
    .venv/bin/python benchmarks/bench_btyd.py --peer-python <peers-venv>/bin/python
    .venv/bin/python benchmarks/bench_btyd.py --records out.jsonl   # also JSON lines

Prints a markdown table: wall seconds (fit, score), peak resident memory, optimiser
iterations, agreement with our estimates and scores. With ``--records PATH`` also appends
JSON lines (see _common.py): the floor, and for each implementation "BG/NBD fit" and
"BG/NBD+GG fit+score"; a case that did not run has ``wall_s`` null and its status in ``notes``.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when loaded by path
from _common import (  # noqa: E402
    PROJECT_ROOT,
    add_records_argument,
    peak_rss_self_mb,
    record,
    write_records,
)

CASES = ("floor", "ours", "lifetimes", "pymc-marketing")
TRUE_BGNBD = {"r": 0.6, "alpha": 120.0, "a": 0.8, "b": 2.5}  # days: ~1.8 purchases a year
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 300.0}  # mean spend 600
HORIZON_DAYS = 365.0
CLV_PERIODS, CLV_PERIOD_DAYS, CLV_DISCOUNT = 12, 30.0, 0.01
NOT_INSTALLED = 3


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def make_data(n: int, seed: int, path: Path) -> None:
    """Simulate n customers (days) and save frequency, recency, T, monetary_value to npz."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from src.models.btyd import simulate_bgnbd, simulate_gamma_gamma

    rng = np.random.default_rng(seed)
    T = rng.integers(1, 3 * 365 + 1, n).astype(np.float64)  # whole days, up to 3 years
    d = simulate_bgnbd(T, **TRUE_BGNBD, seed=rng)
    recency = np.floor(d["recency"].to_numpy())  # purchase days are whole days
    spend = simulate_gamma_gamma(d["frequency"], **TRUE_GG, seed=rng)
    np.savez(path, frequency=d["frequency"].to_numpy(), recency=recency, T=T,
             monetary_value=np.round(spend, 2))


def _rss_mb() -> float:
    """Current resident memory of this process (MB)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


# ------------------------------------------------------------------------------------------
# cases (run inside a subprocess)
# ------------------------------------------------------------------------------------------
def case_floor(d: dict) -> dict:
    sys.path.insert(0, str(PROJECT_ROOT))
    from src.models.btyd import bgnbd_log_likelihood

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        float(bgnbd_log_likelihood(*TRUE_BGNBD.values(), d["frequency"], d["recency"],
                                   d["T"]).sum())
        times.append(time.perf_counter() - t0)
    return {"eval_s": min(times), "eval_median_s": float(np.median(times))}


def case_ours(d: dict) -> dict:
    sys.path.insert(0, str(PROJECT_ROOT))
    from src.models.btyd import BGNBD, GammaGamma, customer_lifetime_value
    from src.models.btyd.bgnbd import Histories, bgnbd_objective

    f, r, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
    t0 = time.perf_counter()
    bg = BGNBD().fit(f, r, T)
    t1 = time.perf_counter()
    gg = GammaGamma().fit(f, m)
    t2 = time.perf_counter()
    p_alive = bg.conditional_probability_alive(f, r, T)
    expected = bg.conditional_expected_number_of_purchases_up_to_time(HORIZON_DAYS, f, r, T)
    clv = customer_lifetime_value(bg, gg, f, r, T, m, horizon_periods=CLV_PERIODS,
                                  period_length=CLV_PERIOD_DAYS,
                                  discount_rate_per_period=CLV_DISCOUNT)
    t3 = time.perf_counter()
    # cost of one compressed likelihood+gradient evaluation, for the record
    h = Histories.compress(f, r, T, None)
    obj = bgnbd_objective(h)
    u = np.log(list(bg.params_.values()))
    evals = []
    for _ in range(5):
        s = time.perf_counter()
        obj.fun(u)
        evals.append(time.perf_counter() - s)
    return {
        "bg_fit_s": t1 - t0, "gg_fit_s": t2 - t1, "fit_s": t2 - t0, "score_s": t3 - t2,
        "bg_iter": bg.n_iter_, "bg_fun_evals": bg.n_fun_evals_, "gg_iter": gg.n_iter_,
        "n_unique_histories": bg.n_unique_histories_,
        "compressed_eval_s": min(evals),
        "params": {**bg.params_, **gg.params_},
        "log_likelihood": bg.log_likelihood_,
        "scores": {"p_alive": p_alive, "expected": expected, "clv": clv},
    }


def case_lifetimes(d: dict) -> dict:
    try:
        import lifetimes
        import lifetimes.fitters as lf
    except ImportError:
        sys.exit(NOT_INSTALLED)
    import pandas as pd

    nits: list[int] = []
    real_minimize = lf.minimize

    def counting_minimize(*args, **kwargs):
        out = real_minimize(*args, **kwargs)
        nits.append(int(getattr(out, "nit", -1)))
        return out

    lf.minimize = counting_minimize
    f, r, T = pd.Series(d["frequency"]), pd.Series(d["recency"]), pd.Series(d["T"])
    m = pd.Series(d["monetary_value"])
    t0 = time.perf_counter()
    bg = lifetimes.BetaGeoFitter().fit(f, r, T)
    t1 = time.perf_counter()
    rep = f > 0
    gg = lifetimes.GammaGammaFitter().fit(f[rep], m[rep])
    t2 = time.perf_counter()
    p_alive = np.asarray(bg.conditional_probability_alive(f, r, T), dtype=float)
    expected = np.asarray(bg.conditional_expected_number_of_purchases_up_to_time(
        HORIZON_DAYS, f, r, T), dtype=float)
    clv = np.asarray(gg.customer_lifetime_value(bg, f, r, T, m, time=CLV_PERIODS,
                                                discount_rate=CLV_DISCOUNT, freq="D"),
                     dtype=float)
    t3 = time.perf_counter()
    return {
        "bg_fit_s": t1 - t0, "gg_fit_s": t2 - t1, "fit_s": t2 - t0, "score_s": t3 - t2,
        "bg_iter": nits[0] if nits else None, "gg_iter": nits[1] if len(nits) > 1 else None,
        "params": {**{k: float(v) for k, v in bg.params_.items()},
                   **{k: float(v) for k, v in gg.params_.items()}},
        "scores": {"p_alive": p_alive, "expected": expected, "clv": clv},
    }


def case_pymc_marketing(d: dict) -> dict:
    try:
        from pymc_extras.prior import Prior
        from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
    except ImportError:
        sys.exit(NOT_INSTALLED)
    import pandas as pd

    n = len(d["frequency"])
    df = pd.DataFrame({"customer_id": np.arange(n), "frequency": d["frequency"],
                       "recency": d["recency"], "T": d["T"],
                       "monetary_value": d["monetary_value"]})
    flat = {k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")}
    bg_it: list[int] = []
    gg_it: list[int] = []
    t0 = time.perf_counter()
    bg = BetaGeoModel(model_config=flat)
    bg.fit(data=df[["customer_id", "frequency", "recency", "T"]], method="map",
           progressbar=False, callback=lambda *a: bg_it.append(1))
    t1 = time.perf_counter()
    rep = df[df["frequency"] > 0]
    gg = GammaGammaModel()  # HalfFlat priors on p, q, v by default
    gg.fit(data=rep[["customer_id", "frequency", "monetary_value"]], method="map",
           progressbar=False, callback=lambda *a: gg_it.append(1))
    t2 = time.perf_counter()
    p_alive = np.asarray(bg.expected_probability_alive(data=df), dtype=float).squeeze()
    expected = np.asarray(bg.expected_purchases(data=df, future_t=HORIZON_DAYS),
                          dtype=float).squeeze()
    clv = np.asarray(gg.expected_customer_lifetime_value(
        transaction_model=bg, data=df, future_t=CLV_PERIODS, discount_rate=CLV_DISCOUNT,
        time_unit="D"), dtype=float).squeeze()
    t3 = time.perf_counter()
    params = {k: float(np.asarray(bg.idata.posterior[k]).squeeze())
              for k in ("r", "alpha", "a", "b")}
    params.update({k: float(np.asarray(gg.idata.posterior[k]).squeeze())
                   for k in ("p", "q", "v")})
    return {
        "bg_fit_s": t1 - t0, "gg_fit_s": t2 - t1, "fit_s": t2 - t0, "score_s": t3 - t2,
        "bg_iter": len(bg_it), "gg_iter": len(gg_it), "params": params,
        "scores": {"p_alive": p_alive, "expected": expected, "clv": clv},
    }


CASE_FUNCS = {"floor": case_floor, "ours": case_ours, "lifetimes": case_lifetimes,
              "pymc-marketing": case_pymc_marketing}


CASE_IMPORTS = {"floor": ["src.models.btyd"], "ours": ["src.models.btyd"],
                "lifetimes": ["lifetimes"], "pymc-marketing": ["pymc_marketing.clv"]}


def run_case(name: str, data_path: Path, out_path: Path, repeat: int = 1) -> None:
    """Subprocess entry point: load the data, run one case, write JSON (+ scores npz).

    The case's libraries are imported before the baseline memory is taken, so "over
    baseline" is the memory the fit and scoring themselves need. With ``repeat`` > 1 the
    case runs that many times in the process and every timing (``*_s``) is the fastest run's
    (as ``timeit`` does): a sub-second fit timed once varies by ~15 % between processes, a
    peer's multi-second one much less; every implementation gets the same repeats.
    """
    import importlib
    import warnings

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(PROJECT_ROOT))
    for module in CASE_IMPORTS[name]:
        try:
            importlib.import_module(module)
        except ImportError:
            sys.exit(NOT_INSTALLED)
    with np.load(data_path) as z:
        d = {k: z[k] for k in z.files}
    baseline = _rss_mb()
    res = CASE_FUNCS[name](d)
    for _ in range(repeat - 1):
        again = CASE_FUNCS[name](d)
        for k, v in again.items():
            if k.endswith("_s") and isinstance(v, float) and v < res.get(k, float("inf")):
                res[k] = v
    res["repeat"] = repeat
    res["peak_rss_mb"] = peak_rss_self_mb()
    res["peak_over_baseline_mb"] = res["peak_rss_mb"] - baseline
    scores = res.pop("scores", None)
    if scores is not None:
        np.savez(out_path.with_suffix(".npz"), **scores)
    out_path.write_text(json.dumps(res))


# ------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------
def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB), from /proc; NaN if unavailable."""
    total = 0.0
    try:
        pids = [pid]
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        for p in pids:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return total if total else float("nan")
    return total


def launch(name: str, python: str, data_path: Path, out_path: Path, timeout_s: float,
           mem_limit_mb: float, repeat: int = 1) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--run-case", name,
           "--data", str(data_path), "--out", str(out_path), "--repeat", str(repeat)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(PROJECT_ROOT))
    status, max_seen = "ok", 0.0
    while proc.poll() is None:
        time.sleep(0.2)
        rss = _tree_rss_mb(proc.pid)
        if rss == rss:
            max_seen = max(max_seen, rss)
        if rss > mem_limit_mb:
            proc.kill()
            status = f"killed: memory > {mem_limit_mb / 1024:.0f} GB"
        elif time.perf_counter() - t0 > timeout_s:
            proc.kill()
            status = f"killed: timeout > {timeout_s:.0f} s"
    _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if status == "ok" and proc.returncode == NOT_INSTALLED:
        status = "not installed"
    elif status == "ok" and proc.returncode != 0:
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        status = "error: " + (last[-1][:120] if last else f"exit {proc.returncode}")
    res = {"case": name, "status": status, "process_wall_s": wall, "max_tree_rss_mb": max_seen}
    if status == "ok":
        res.update(json.loads(out_path.read_text()))
        npz = out_path.with_suffix(".npz")
        if npz.exists():
            res["scores_path"] = str(npz)
    return res


def _fmt(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def log_likelihood_gap(res: dict, ref: dict | None, data: dict) -> str:
    """BG/NBD log-likelihood at this implementation's estimates minus ours (<= 0: ours higher)."""
    if ref is None or "params" not in res or res is ref:
        return "–"
    from src.models.btyd import bgnbd_log_likelihood

    def ll(p):
        return bgnbd_log_likelihood(p["r"], p["alpha"], p["a"], p["b"], data["frequency"],
                                    data["recency"], data["T"]).sum()

    return f"{ll(res['params']) - ll(ref['params']):+.2e}"


def agreement(res: dict, ref: dict | None) -> tuple[str, str]:
    """Max relative parameter difference and max score differences against ours."""
    if ref is None or "params" not in res or res is ref:
        return "–", "–"
    keys = [k for k in ref["params"] if k in res["params"]]
    rel = max(abs(res["params"][k] / ref["params"][k] - 1) for k in keys)
    score = "–"
    if "scores_path" in res and "scores_path" in ref:
        a, b = np.load(res["scores_path"]), np.load(ref["scores_path"])
        pa = np.max(np.abs(a["p_alive"] - b["p_alive"]))
        ex = np.max(np.abs(a["expected"] - b["expected"]) / np.maximum(b["expected"], 1e-12))
        cl = np.max(np.abs(a["clv"] - b["clv"]) / np.maximum(b["clv"], 1e-12))
        score = f"{pa:.1e} / {ex:.1e} / {cl:.1e}"
    return f"{rel:.1e}", score


def print_table(size: int, results: list[dict], data: dict) -> None:
    ref = next((r for r in results if r["case"] == "ours" and r["status"] == "ok"), None)
    floor = next((r for r in results if r["case"] == "floor" and r["status"] == "ok"), None)
    print(f"\n### {size:,} customers\n")
    print("| implementation | status | BG/NBD fit s | Gamma-Gamma fit s | score s | total s "
          "| peak RSS MB (over baseline) | iterations BG / GG | max rel. param diff vs ours "
          "| BG/NBD log-lik. minus ours | max diff P(alive) / rel. E[X] / rel. CLV vs ours |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["status"] != "ok":
            print(f"| {r['case']} | {r['status']} | | | | | "
                  f"{_fmt(r.get('max_tree_rss_mb'), 0)} (max seen) | | | | |")
            continue
        if r["case"] == "floor":
            print(f"| floor: 1 log-likelihood evaluation, all rows | ok | "
                  f"{r['eval_s']:.3f} | | | | {_fmt(r['peak_rss_mb'], 0)} "
                  f"({_fmt(r['peak_over_baseline_mb'], 0)}) | 1 | | | |")
            continue
        p, s = agreement(r, ref)
        total = r["fit_s"] + r["score_s"]
        print(f"| {r['case']} | ok | {r['bg_fit_s']:.2f} | {r['gg_fit_s']:.2f} | "
              f"{r['score_s']:.2f} | {total:.2f} | {_fmt(r['peak_rss_mb'], 0)} "
              f"({_fmt(r['peak_over_baseline_mb'], 0)}) | {_fmt(r.get('bg_iter'))} / "
              f"{_fmt(r.get('gg_iter'))} | {p} | {log_likelihood_gap(r, ref, data)} | {s} |")
    if ref is not None:
        print(f"\nours: {ref['n_unique_histories']:,} distinct (x, t_x, T) histories; "
              f"{ref['bg_fun_evals']} likelihood+gradient evaluations in {ref['bg_iter']} "
              f"iterations (+8 for the Hessian); one compressed evaluation "
              f"{ref['compressed_eval_s'] * 1e3:.1f} ms.")
        if floor is not None:
            budget = floor["eval_s"] * ref["bg_iter"]
            print(f"floor x iterations = {floor['eval_s']:.3f} s x {ref['bg_iter']} = "
                  f"{budget:.2f} s; our BG/NBD fit = {ref['bg_fit_s']:.2f} s "
                  f"({ref['bg_fit_s'] / budget:.2f} x the floor budget).")
        lt = next((r for r in results if r["case"] == "lifetimes" and r["status"] == "ok"),
                  None)
        if lt is not None:
            print(f"lifetimes BG/NBD fit / ours = {lt['bg_fit_s'] / ref['bg_fit_s']:.1f} x; "
                  f"fit + score: {(lt['fit_s'] + lt['score_s']) / (ref['fit_s'] + ref['score_s']):.1f} x.")


def records(size: int, results: list[dict]) -> list[dict]:
    """Records of one size (the schema of _common.py): the floor, then per implementation
    the BG/NBD fit and fit + score of both models; cases that did not run have no time."""
    out = []
    for r in results:
        ok = r["status"] == "ok"
        peak = r.get("peak_rss_mb") if ok else None
        if r["case"] == "floor":
            out.append(record("btyd", "BG/NBD log-likelihood, 1 evaluation", size,
                              r["eval_s"] if ok else None, peak,
                              notes="floor of any fit, per iteration" if ok else r["status"]))
            continue
        how = "MAP, flat priors; " if r["case"] == "pymc-marketing" else ""
        notes = f"{how}{r.get('bg_iter')} iterations" if ok else r["status"]
        out.append(record("btyd", "BG/NBD fit", size, r["bg_fit_s"] if ok else None, peak,
                          implementation=r["case"], notes=notes))
        out.append(record("btyd", "BG/NBD+GG fit+score", size,
                          r["fit_s"] + r["score_s"] if ok else None, peak,
                          implementation=r["case"], notes=how.rstrip("; ") if ok else r["status"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    ap.add_argument("--peer-python", default=sys.executable,
                    help="interpreter with lifetimes / pymc-marketing installed")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per case")
    ap.add_argument("--mem-limit-gb", type=float, default=16.0, help="per case")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    add_records_argument(ap)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each case in its process; timings are the fastest run's")
    ap.add_argument("--run-case", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_case:
        run_case(args.run_case, args.data, args.out, args.repeat)
        return 0

    print(f"BG/NBD + Gamma-Gamma benchmark: true params {TRUE_BGNBD} (days), {TRUE_GG}; "
          f"scoring P(alive), E[X({HORIZON_DAYS:.0f} days)], CLV {CLV_PERIODS} x "
          f"{CLV_PERIOD_DAYS:.0f} days at {CLV_DISCOUNT:.0%}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}; each case the fastest of {args.repeat} "
          "runs in its process")
    all_results = {}
    with tempfile.TemporaryDirectory(prefix="bench_btyd_") as tmp:
        for size in args.sizes:
            data_path = Path(tmp) / f"data_{size}.npz"
            make_data(size, args.seed, data_path)
            results = []
            for name in args.cases:
                python = sys.executable if name in ("floor", "ours") else args.peer_python
                out = Path(tmp) / f"{name}_{size}.json"
                res = launch(name, python, data_path, out, args.timeout,
                             args.mem_limit_gb * 1024, args.repeat)
                results.append(res)
                print(f"  [{size:,}] {name}: {res['status']} ({res['process_wall_s']:.1f} s)",
                      flush=True)
            with np.load(data_path) as z:
                print_table(size, results, {k: z[k] for k in z.files})
            all_results[size] = results
            write_records(args.records, records(size, results))
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
