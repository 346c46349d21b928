"""The grid search on Ray gives exactly the single-process table."""

from __future__ import annotations

import pandas as pd
import pytest

from raytrade.backtest import CostModel, run_grid
from raytrade.data import load_prices
from raytrade.strategies import get_strategy
from raytrade.tune import grid_search


@pytest.mark.integration
def test_ray_grid_equals_local_grid(ray_session):
    close = load_prices(["AAPL", "JNJ", "RRC"], start="2005-01-01")
    strategy = get_strategy("ma_crossover")
    block = strategy.space.grid({"fast": {"start": 2, "stop": 30, "step": 4}, "slow": [40, 80, 120]})
    costs = CostModel(commission_bps=1.0, slippage_bps=2.0)
    seen: list[tuple[int, int]] = []
    remote = grid_search("ma_crossover", close, block, costs=costs, sets_per_task=5,
                         on_progress=lambda d, t: seen.append((d, t)))
    local = run_grid(strategy, close, block, costs=costs)
    pd.testing.assert_frame_equal(remote, local)
    assert seen[-1][0] == seen[-1][1] == 3 * -(-len(block) // 5)


@pytest.mark.integration
def test_cluster_connect_is_idempotent_and_namespaced(ray_session):
    from raytrade import cluster

    assert ray_session["namespace"] == "raytrade"
    again = cluster.connect()
    assert again["cpus"] == ray_session["cpus"] == 2
    assert cluster.runtime_env({"env_vars": {"X": "1"}})["env_vars"]["NUMBA_NUM_THREADS"] == "1"


@pytest.mark.integration
def test_a_portfolio_strategy_grid_on_ray_and_its_job(ray_session, tmp_path):
    """A portfolio strategy's grid is one book per set over all symbols, on Ray as in one process;
    the grid job sets it against an equal-weight book held."""
    from raytrade.configfile import parse_model
    from raytrade.tune.grid_job import GridConfig, run_grid_job

    close = load_prices(["KO", "PEP", "XOM", "CVX"], start="2010-01-01")
    strategy = get_strategy("pairs", allow_short=True)
    block = strategy.space.grid({"entry_z": [1.5, 2.0], "lookback": [40, 60], "fdr": [0.2]})
    remote = grid_search("pairs", close, block, sets_per_task=3, allow_short=True)
    local = run_grid(strategy, close, block)
    pd.testing.assert_frame_equal(remote, local)
    assert list(remote["symbol"].unique()) == ["PORTFOLIO"] and len(remote) == 4
    config = parse_model({"name": "ew", "data": {"dataset": "us_equities_20", "symbols": ["KO", "PEP", "XOM"],
                                                 "start": "2015-01-01"},
                          "strategy": {"name": "equal_weight", "grid": {"gross": [0.5, 1.0]}},
                          "output_dir": str(tmp_path)}, GridConfig, "test")
    run = run_grid_job(config)
    assert list(run.best.index) == ["PORTFOLIO"] and run.best.loc["PORTFOLIO", "gross"] in (0.5, 1.0)
    assert abs(run.best.loc["PORTFOLIO", "hold_annual_return"]) > 0
