"""A parameter grid over many symbols as Ray tasks: prices go to the object store once, each task
scores one (symbol, chunk of parameter sets) with the vectorised kernel."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import ray

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.backtest.runner import run_grid
from raytrade.strategies.base import is_portfolio
from raytrade.strategies.registry import get_strategy
from raytrade.strategies.space import ParamBlock


@ray.remote(num_cpus=1, max_retries=2)
def _score_chunk(close: pd.DataFrame, open_: pd.DataFrame | None, symbol: str, strategy_name: str,
                 allow_short: bool, block: dict[str, np.ndarray], offset: int, costs: CostModel,
                 sizing: Sizing, initial_capital: float) -> pd.DataFrame:
    strategy = get_strategy(strategy_name, allow_short=allow_short)
    params = ParamBlock(block)
    if is_portfolio(strategy):  # one book over every symbol
        table = run_grid(strategy, close, params, open_=open_, costs=costs, sizing=sizing,
                         initial_capital=initial_capital)
        table["param_id"] += offset
        return table
    table = run_grid(strategy, close[[symbol]], params, open_=None if open_ is None else open_[[symbol]],
                     costs=costs, sizing=sizing, initial_capital=initial_capital)
    table["param_id"] += offset
    return table


def grid_search(
    strategy_name: str,
    close: pd.DataFrame,
    block: ParamBlock,
    *,
    open_: pd.DataFrame | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    initial_capital: float = 100_000.0,
    sets_per_task: int = 2048,
    allow_short: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every set of ``block`` on every symbol of ``close`` on the connected Ray cluster.

    Returns the rows of :func:`raytrade.backtest.run_grid` for all symbols (one ``PORTFOLIO`` row
    per set for a portfolio strategy), ordered by symbol then ``param_id``: the same table as a single-process run, whatever the number of workers.
    ``on_progress(done, total)`` is called as tasks finish.
    """
    close_ref = ray.put(close)
    open_ref = ray.put(open_)
    costs = costs or CostModel()
    sizing = sizing or Sizing()
    portfolio = is_portfolio(get_strategy(strategy_name, allow_short=allow_short))
    symbols = ["PORTFOLIO"] if portfolio else list(close.columns)
    pending = [
        _score_chunk.remote(close_ref, open_ref, sym, strategy_name, allow_short, chunk.columns, offset,
                            costs, sizing, initial_capital)
        for sym in symbols
        for offset, chunk in block.chunks(sets_per_task)
    ]
    total, parts = len(pending), []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        parts.extend(ray.get(done))
        if on_progress is not None:
            on_progress(total - len(pending), total)
    order = {s: i for i, s in enumerate(symbols)}
    table = pd.concat(parts, ignore_index=True)
    table["_o"] = table["symbol"].map(order)
    return table.sort_values(["_o", "param_id"]).drop(columns="_o").reset_index(drop=True)
