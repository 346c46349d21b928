"""Portfolio kernel throughput: 2,000 parameter sets x 20 assets x 8,313 bars on one core, against
a per-bar NumPy loop in the same run (the ratio is the figure; the machines are shared and noisy).

The book is the equal-weight strategy over the 20 bundled stocks with 2,000 gross exposures
(0.5 .. 1.5), rebalanced at every bar with costs: every asset of every set trades at every bar,
the kernel's heaviest case. ``run_grid`` is timed end to end (weights, kernel, metrics, in chunks);
the baseline is a loop over bars, vectorised over the 20 assets, for a sample of the sets,
extrapolated to the grid.

    python benchmarks/portfolio_kernel.py            # 2,000 sets (well under a minute here)
    python benchmarks/portfolio_kernel.py --sets 200 # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def numpy_loop(close, gross: float, comm: float, impact: float, capital: float = 100_000.0):
    """The baseline: one book, bar by bar, the 20 assets as NumPy vectors."""
    import numpy as np

    n_bars, n = close.shape
    cash, pos = capital, np.zeros(n)
    equity = np.empty(n_bars)
    target = None
    for t in range(n_bars):
        px = close[t]
        if target is not None:
            eq = cash + pos @ px
            goal = target * eq / px
            q = goal - pos
            fill = px * (1 + np.sign(q) * impact)
            cash -= q @ fill + np.abs(q) @ fill * comm
            pos = goal
        equity[t] = cash + pos @ px
        target = np.full(n, gross / n)
    return equity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=2000)
    parser.add_argument("--baseline-sets", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from raytrade.backtest import CostModel, run_grid
    from raytrade.backtest.portfolio import PortfolioSizing
    from raytrade.data import load_prices
    from raytrade.strategies import get_strategy

    close = load_prices()
    strategy = get_strategy("equal_weight")
    block = strategy.space.grid({"gross": {"start": 0.5, "stop": 1.5, "num": args.sets}})
    costs = CostModel(commission_bps=1.0, half_spread_bps=2.0, slippage_bps=1.0)
    sizing = PortfolioSizing(rebalance="every_bar", max_gross=2.0)  # no set is capped
    run_grid(strategy, close.iloc[:50], block.take(slice(0, 2)), costs=costs, sizing=sizing)  # JIT warm-up
    start = time.perf_counter()
    table = run_grid(strategy, close, block, costs=costs, sizing=sizing)
    kernel_s = time.perf_counter() - start

    c = close.to_numpy(np.float64)
    start = time.perf_counter()
    sample = np.linspace(0.5, 1.5, args.baseline_sets)
    for g in sample:
        eq = numpy_loop(c, float(g), 1e-4, 3e-4)
    loop_s = (time.perf_counter() - start) / args.baseline_sets * args.sets
    agree = abs(eq[-1] / 100_000.0 - 1 - table["total_return"].iloc[-1])
    cells = args.sets * c.shape[0] * c.shape[1]
    print(json.dumps({
        "sets": args.sets, "assets": c.shape[1], "bars": c.shape[0],
        "kernel_seconds": round(kernel_s, 2), "asset_bar_cells_per_second": round(cells / kernel_s),
        "numpy_loop_seconds_extrapolated": round(loop_s, 1), "speedup": round(loop_s / kernel_s, 1),
        "target": "<= 60 s for 2,000 sets x 20 assets x 8,313 bars on one core",
        "last_set_total_return_relative_diff_kernel_vs_loop": float(agree / (1 + table["total_return"].iloc[-1])),
    }, indent=2))


if __name__ == "__main__":
    main()
