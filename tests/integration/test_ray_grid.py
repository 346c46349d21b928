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
