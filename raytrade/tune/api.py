"""The research front doors under the names users look for: WalkForwardOptimizer,
MonteCarloSimulator and StressTestSuite. Each wraps the tested functions of raytrade.backtest and
runs on Ray when it is connected (``use_ray=True``) or in this process."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.backtest.montecarlo import Method, simulate
from raytrade.backtest.walkforward import (
    Inputs,
    WalkForwardResult,
    make_windows,
    oos_series,
    pbo_sample,
    plan_tasks,
    resolve_objective,
    run_local,
    summarize,
    windows_table,
)
from raytrade.core.calendars import bars_per_year, day_numbers
from raytrade.strategies.registry import get_strategy
from raytrade.tune.risk_jobs import StressSpec, stress_summary


class WalkForwardOutcome(tuple):
    """``(result, summary)`` as :meth:`WalkForwardOptimizer.run` always returned them, and the same
    as pandas objects dated by the data's index: ``windows`` (one row per window: dates, chosen
    parameters, in- and out-of-sample Sharpe and CAGR, overfitting ratio, efficiency),
    ``oos_returns`` (the stitched out-of-sample returns), ``parameters`` (each set's full-history
    metrics, one row per set)."""

    result: WalkForwardResult
    summary: dict
    windows: pd.DataFrame
    oos_returns: pd.Series
    parameters: pd.DataFrame

    def __new__(cls, result: WalkForwardResult, summary: dict, index: pd.DatetimeIndex,
                block_columns: dict[str, np.ndarray]) -> WalkForwardOutcome:
        out = super().__new__(cls, (result, summary))
        out.result, out.summary = result, summary
        out.windows = windows_table(summary, index)
        out.oos_returns = oos_series(result, index)
        out.parameters = pd.concat([pd.DataFrame(block_columns), pd.DataFrame(result.full_metrics)], axis=1)
        return out


@dataclass
class WalkForwardOptimizer:
    """Walk-forward optimisation of ``strategy`` over ``grid`` (see raytrade.backtest.walkforward).

    >>> wf = WalkForwardOptimizer("ma_crossover", {"fast": [10, 20], "slow": [50, 100]}, window=1260)
    >>> out = wf.run(load_prices(["KO", "PEP"]), use_ray=False)
    >>> out.windows, out.oos_returns, out.parameters    # DataFrames dated by the data
    >>> result, summary = out                             # the raw result and summary, as before
    """

    strategy: str
    grid: dict[str, Any]
    window: int = 2520
    train_fraction: float = 0.75
    step: int | None = None
    anchored: bool = False
    objective: str = "sharpe"
    allow_short: bool = False  # long only unless the config says otherwise
    costs: CostModel = field(default_factory=CostModel)
    sizing: Sizing = field(default_factory=Sizing)
    initial_capital: float = 100_000.0
    max_pbo_trials: int = 500
    pbo_blocks: int = 16

    def run(self, close: pd.DataFrame, *, use_ray: bool = True, cpus: int = 2,
            storage: Path | None = None) -> WalkForwardOutcome:
        """The walk-forward on daily closes (T x symbols), trading at the next close: a
        :class:`WalkForwardOutcome` (unpacks to ``(result, summary)``)."""
        strat = get_strategy(self.strategy, allow_short=self.allow_short)
        block = strat.space.grid(self.grid)
        windows = make_windows(len(close), window=self.window, train_fraction=self.train_fraction, step=self.step,
                               anchored=self.anchored)
        objective = resolve_objective(self.objective)
        inputs = Inputs(close.to_numpy(np.float64), None, self.costs, self.sizing, self.initial_capital,
                        strat.warmup(block), tuple(map(str, close.columns)), bars_per_year(close.index),
                        day_numbers(close.index))
        if use_ray:
            from raytrade.tune.walkforward import run_on_tune

            tasks = plan_tasks(len(block), windows, len(close), close.shape[1], cpus)
            result = run_on_tune(storage=storage or Path(tempfile.mkdtemp(prefix="raytrade-wf-")), inputs=inputs,
                                 block=block, tasks=tasks, windows=windows, strategy_name=self.strategy,
                                 allow_short=self.allow_short, objective=self.objective,
                                 sample_ids=pbo_sample(len(block), self.max_pbo_trials), max_concurrent=cpus,
                                 verbose=0)
        else:
            result = run_local(strat, inputs, block, windows, objective, max_pbo_trials=self.max_pbo_trials)
        summary = summarize(result, block, pbo_blocks=self.pbo_blocks, periods_per_year=inputs.periods_per_year)
        return WalkForwardOutcome(result, summary, pd.DatetimeIndex(close.index), block.columns)


@dataclass
class MonteCarloSimulator:
    """Bootstrap paths of a return series (see raytrade.backtest.montecarlo)."""

    paths: int = 1000
    method: Method = Method.STATIONARY
    seed: int = 0
    mean_block: float = 20.0
    horizon: int | None = None
    drawdown_threshold: float = 0.20

    def run(self, returns: np.ndarray | pd.Series, *, use_ray: bool = False) -> dict:
        r = np.asarray(returns, dtype=np.float64)
        kwargs = {"method": self.method, "seed": self.seed, "horizon": self.horizon, "mean_block": self.mean_block,
                  "drawdown_threshold": self.drawdown_threshold}
        if use_ray:
            from raytrade.tune.montecarlo import simulate_on_ray

            return simulate_on_ray(r, self.paths, **kwargs)
        return simulate(r, self.paths, **kwargs)


@dataclass
class StressTestSuite:
    """Historical replays and hypothetical shocks for one parameter set (see raytrade.backtest.stress)."""

    costs: CostModel = field(default_factory=CostModel)
    beta_lookback: int = 252

    def run(self, strategy: str, params: dict[str, Any], close: pd.DataFrame, *, allow_short: bool = False) -> dict:
        return stress_summary(get_strategy(strategy, allow_short=allow_short), params, close, self.costs,
                              StressSpec(beta_lookback=self.beta_lookback))
