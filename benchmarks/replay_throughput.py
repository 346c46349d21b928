"""Replay throughput: symbol-bars per second through the trading core in process, with a strategy
trading, against the vectorised kernel on the same data in the same run, and the same replay
through the engine's actors (order manager, portfolio, SQLite store) on a slice.

    python benchmarks/replay_throughput.py [--symbols 20] [--bars 8313] [--actor-bars 300] [--repeat 3]

The strategy is the 10/50-day moving-average crossover, long and short, fixed fraction 1.0, whole
shares, 20 bps commission and 3 bps impact: on the 20 bundled stocks from 1985 it places about
4,400 orders. The in-process row runs :func:`raytrade.execution.simulate.replay_targets` (every
order through validation, compliance, risk, the paper broker, the blotter and the book; every
event appended to the in-memory log and applied). The kernel row runs the same signals through
:func:`raytrade.backtest.kernel.run_kernel` (one column per symbol). The actor row replays the
first ``--actor-bars`` bars through :func:`raytrade.actors.replay.run_paper` with a local Ray.
Figures are the best of ``--repeat`` runs (the machines are shared); one-time costs (the exchange
calendar, numba compilation) are paid before timing.

Target: >= 100,000 symbol-bars per second per core through the core in process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from _timing import best

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.backtest.kernel import run_kernel, sizing_scale
from raytrade.data.loaders import load_prices
from raytrade.execution.simulate import replay_targets
from raytrade.strategies.registry import get_strategy

COSTS = CostModel(commission_bps=20.0, half_spread_bps=2.0, slippage_bps=1.0)
SIZING = Sizing(whole_shares=True)
PARAMS = {"fast": 10, "slow": 50}




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--bars", type=int, default=8313)
    ap.add_argument("--actor-bars", type=int, default=300, help="bars replayed through the actors (0: skip)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    close = load_prices().iloc[: args.bars, : args.symbols].ffill().bfill()
    c = close.to_numpy(np.float64)
    strategy = get_strategy("ma_crossover")
    block = strategy.space.block(PARAMS)
    sig = np.column_stack([strategy.signals(strategy.prepare(c[:, j], block), block)[:, 0] for j in range(c.shape[1])])
    scale = sizing_scale(c, SIZING)
    n = c.size

    replay_targets(close.iloc[:60], sig[:60], scale[:60], costs=COSTS, sizing=SIZING)  # calendar, imports
    run_kernel(sig[:60], c[:60], costs=COSTS, sizing=SIZING)                            # numba compilation
    result = replay_targets(close, sig, scale, costs=COSTS, sizing=SIZING)
    t_core = best(lambda: replay_targets(close, sig, scale, costs=COSTS, sizing=SIZING), args.repeat)
    t_kernel = best(lambda: run_kernel(sig, c, costs=COSTS, sizing=SIZING), args.repeat)

    print(f"data: {c.shape[1]} symbols x {c.shape[0]} daily bars = {n:,} symbol-bars; "
          f"{len(result.fills):,} fills through the core")
    print(f"{'row':<44}{'seconds':>10}{'symbol-bars/s':>16}{'vs kernel':>11}")
    print(f"{'vectorised kernel (baseline)':<44}{t_kernel:>10.3f}{n / t_kernel:>16,.0f}{1.0:>11.2f}")
    print(f"{'trading core in process (strategy trading)':<44}{t_core:>10.3f}{n / t_core:>16,.0f}"
          f"{t_kernel / t_core:>11.4f}")

    if args.actor_bars:
        import ray

        from raytrade.actors.replay import PaperConfig, run_paper

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="raytrade")
        with TemporaryDirectory() as tmp:
            symbols = [str(s) for s in close.columns]
            cfg = PaperConfig.model_validate({
                "name": "bench", "data": {"dataset": "us_equities_20", "symbols": symbols,
                                          "end": str(close.index[args.actor_bars - 1].date())},
                "strategy": {"name": "ma_crossover", "params": PARAMS}, "costs": COSTS.model_dump(),
                "sizing": SIZING.model_dump(mode="json"), "output_dir": str(Path(tmp)),
                "engine": {"risk": {"max_symbol_weight": 10, "max_sector_weight": 10, "max_gross_leverage": 100,
                                    "max_daily_loss": 1, "max_orders_per_second": 1e9}}})
            t0 = time.perf_counter()
            run = run_paper(cfg)
            t_actor = time.perf_counter() - t0
        m = args.actor_bars * c.shape[1]
        print(f"{'engine actors (run_paper, SQLite), first ' + str(args.actor_bars) + ' bars':<44}{t_actor:>10.3f}"
              f"{m / t_actor:>16,.0f}{(t_kernel / n) / (t_actor / m):>11.5f}")
        print(f"actor replay: {run.parity['trades_replay']} fills (backtest {run.parity['trades_backtest']}), "
              f"trades equal to the backtest: {run.parity['trades_equal']}"
              + (" (by design not: the replay trades one cash account, the backtest one sleeve per symbol)"
                 if run.parity["one_account"] else ""))
        ray.shutdown()


if __name__ == "__main__":
    main()
