"""Walk-forward scaling: the demo job in one plain process, and on Ray Tune with 1 and 2 CPUs.

Each measurement runs in its own subprocess (its own Ray instance), on configs/research/
walkforward_ma.yaml (14,751 sets x 20 stocks x 10 windows + the full history) without its Monte
Carlo and stress parts, which are measured separately below. Wall time is the job alone; Ray's
start-up is printed apart (a cluster is normally already up). The three runs must write the same
summary.json, which the table checks.

    python benchmarks/walkforward_scaling.py           # the full demo grid (~4 minutes here)
    python benchmarks/walkforward_scaling.py --quick   # every 4th fast and slow value
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "research" / "walkforward_ma.yaml"


def load_config(quick: bool):
    from raytrade.configfile import load_yaml
    from raytrade.tune.walkforward_job import WalkForwardConfig

    cfg = load_yaml(CONFIG, WalkForwardConfig)
    update: dict = {"montecarlo": None, "stress": None, "output_dir": Path(tempfile.mkdtemp())}
    if quick:
        update["strategy"] = cfg.strategy.model_copy(update={"grid": {
            "fast": {"start": 2, "stop": 100, "step": 4}, "slow": {"start": 3, "stop": 200, "step": 4}}})
    return cfg.model_copy(update=update)


def child(mode: str, cpus: int, quick: bool) -> None:
    cfg = load_config(quick)
    init = 0.0
    if mode == "ray":
        from raytrade.cluster import connect

        t0 = time.perf_counter()
        connect(num_cpus=cpus, include_dashboard=False)
        init = time.perf_counter() - t0
    from raytrade.tune.walkforward_job import run_walkforward_job

    t0 = time.perf_counter()
    run = run_walkforward_job(cfg, cpus=cpus, use_ray=mode == "ray", verbose=0)
    seconds = time.perf_counter() - t0
    manifest = json.loads((run.folder / "manifest.json").read_text())
    digest = hashlib.sha256((run.folder / "summary.json").read_bytes()).hexdigest()[:16]
    evaluations = manifest["parameter_sets"] * (manifest["windows"] + 1)
    print(json.dumps({"mode": mode, "cpus": cpus, "seconds": seconds, "init": init, "evaluations": evaluations,
                      "trials": manifest["trials"], "summary": digest}))


def montecarlo_rates(paths: int) -> list[tuple[str, float]]:
    import numpy as np

    from raytrade.backtest.montecarlo import simulate
    from raytrade.data import load_prices

    close = load_prices().iloc[-2521:]
    r = (close.pct_change().iloc[1:] @ np.full(20, 1 / 20)).to_numpy()  # 20 assets x 2,520 days
    simulate(r, 100)
    out = []
    for method in ("iid", "stationary"):
        t0 = time.perf_counter()
        simulate(r, paths, method=method, seed=1, fan_paths=0)
        out.append((f"in process, {method}", paths / (time.perf_counter() - t0)))
    from raytrade.cluster import connect
    from raytrade.tune.montecarlo import simulate_on_ray

    connect(num_cpus=2, include_dashboard=False)
    simulate_on_ray(r, 2000)
    t0 = time.perf_counter()
    simulate_on_ray(r, paths, seed=1, fan_paths=0)
    out.append(("Ray, 2 CPUs, stationary", paths / (time.perf_counter() - t0)))
    return out


def run_child(*args: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--paths", type=int, default=20_000, help="Monte Carlo paths to time")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2] == "1")
        return
    q = "1" if args.quick else "0"
    rows = [run_child("plain", "1", q), run_child("ray", "1", q), run_child("ray", "2", q)]
    plain, one, two = rows
    print(f"walk-forward of {CONFIG.name}{' (quick grid)' if args.quick else ''}: "
          f"{plain['evaluations']:,} parameter-set evaluations (sets x (windows + full history)), 20 stocks each")
    print(f"{'run':22s} {'trials':>7s} {'seconds':>8s} {'evals/s':>9s} {'speed-up':>9s} {'Ray init s':>11s}  summary")
    for r, name in ((plain, "plain process"), (one, "Ray Tune, 1 CPU"), (two, "Ray Tune, 2 CPUs")):
        print(f"{name:22s} {r['trials']:>7} {r['seconds']:>8.1f} {r['evaluations'] / r['seconds']:>9,.0f} "
              f"{one['seconds'] / r['seconds']:>8.2f}x {r['init']:>11.1f}  {r['summary']}")
    print(f"speed-up 2 CPUs vs 1 CPU: {one['seconds'] / two['seconds']:.2f}x (target >= 1.7x)")
    print(f"Ray overhead, 1 CPU vs plain process: {one['seconds'] / plain['seconds'] - 1:+.1%} (target < 15%)")
    print(f"identical summaries: {plain['summary'] == one['summary'] == two['summary']}")
    print(f"\nMonte Carlo, 20 assets x 2,520 days, {args.paths:,} paths")
    for name, rate in montecarlo_rates(args.paths):
        print(f"{name:28s} {rate:>10,.0f} paths/s")


if __name__ == "__main__":
    main()
