"""Backtest grid throughput: the vectorised kernel against a plain pandas loop, in the same run.

The moving-average crossover grid fast 2..100 x slow 3..200 (fast < slow: 14,751 sets) on all 20
bundled stocks (8,313 daily bars each) = 295,020 backtests, in ONE process on ONE core, with costs.
The baseline is a straightforward per-parameter-set pandas loop (rolling means, shift, cumprod)
over a sample of the grid. Each measurement runs in its own subprocess so that its peak RSS is its
own; the kernel is also run on a 1,000-set grid to show peak memory does not grow with the grid.

    python benchmarks/backtest_grid.py            # full grid (about a minute here)
    python benchmarks/backtest_grid.py --quick    # 2,000 sets, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

GRID = {"fast": {"start": 2, "stop": 100}, "slow": {"start": 3, "stop": 200}}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_kernel(n_sets: int) -> dict:
    from raytrade.backtest import CostModel, run_grid
    from raytrade.data import load_prices
    from raytrade.strategies import get_strategy

    close = load_prices()
    strategy = get_strategy("ma_crossover")
    block = strategy.space.grid(GRID)
    if n_sets < len(block):
        block = block.take(slice(0, n_sets))
    costs = CostModel(commission_bps=1.0, half_spread_bps=2.0, slippage_bps=1.0)
    run_grid(strategy, close.iloc[:, :1], block.take(slice(0, 300)), costs=costs)  # JIT warm-up
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    table = run_grid(strategy, close, block, costs=costs)
    seconds = time.perf_counter() - start
    return {"method": f"kernel, {len(block):,} sets", "backtests": len(table), "seconds": seconds,
            "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
            "best_sharpe": float(table["sharpe"].max()),
            "table_mib": table.memory_usage(deep=True).sum() / 2**20}


def measure_pandas(n_sets: int) -> dict:
    import numpy as np

    from raytrade.data import load_prices
    from raytrade.strategies import get_strategy

    close = load_prices()
    block = get_strategy("ma_crossover").space.grid(GRID)
    rng = np.random.default_rng(0)
    sample = block.take(np.sort(rng.choice(len(block), size=n_sets, replace=False)))
    cost = (1.0 + 2.0 + 1.0) / 1e4
    start = time.perf_counter()
    sharpes = []
    for sym in close.columns:
        px = close[sym]
        rets = px.pct_change().fillna(0.0)
        for fast, slow in zip(sample["fast"], sample["slow"], strict=True):
            f, s = px.rolling(int(fast)).mean(), px.rolling(int(slow)).mean()
            signal = (f > s).astype(float) - (f < s).astype(float)
            position = signal.shift(1).fillna(0.0)
            strat = position * rets - cost * position.diff().abs().fillna(0.0)
            equity = (1.0 + strat).cumprod()
            sharpes.append(strat.mean() / strat.std() * np.sqrt(252))
            _ = (equity / equity.cummax() - 1.0).min()
    seconds = time.perf_counter() - start
    return {"method": f"pandas loop, {n_sets} sampled sets", "backtests": n_sets * close.shape[1],
            "seconds": seconds, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": float("nan"),
            "best_sharpe": float(np.nanmax(sharpes))}


def child(mode: str, n: int) -> None:
    result = measure_kernel(n) if mode == "kernel" else measure_pandas(n)
    print(json.dumps(result))


def run_child(mode: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 sets instead of the full 14,751")
    parser.add_argument("--pandas-sets", type=int, default=25, help="grid sets sampled for the pandas loop")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    full = 2000 if args.quick else 14_751
    rows = [run_child("pandas", args.pandas_sets), run_child("kernel", 1000), run_child("kernel", full)]
    base = rows[0]["backtests"] / rows[0]["seconds"]
    print(f"MA crossover grid on 20 bundled stocks x 8,313 bars, one process, one core (pid {os.getpid()})")
    print(f"{'method':32s} {'backtests':>10s} {'seconds':>8s} {'bt/s/core':>10s} {'x pandas':>9s} "
          f"{'peak RSS MiB':>13s}")
    for r in rows:
        rate = r["backtests"] / r["seconds"]
        print(f"{r['method']:32s} {r['backtests']:>10,} {r['seconds']:>8.2f} {rate:>10,.0f} {rate / base:>9.0f} "
              f"{r['peak_rss_mib']:>13.0f}")
    k1, kf = rows[1], rows[2]
    growth = kf["peak_rss_mib"] - k1["peak_rss_mib"]
    table_growth = kf["table_mib"] - k1["table_mib"]
    print(f"peak RSS growth from 1,000 to {full:,} sets: {growth:+.0f} MiB, of which the result table "
          f"(one row per backtest) is {table_growth:+.0f} MiB; the chunked computation itself is bounded "
          f"(limit 2 GiB)")
    print("target: >= 20,000 parameter-set x asset backtests per second per core")


if __name__ == "__main__":
    main()
