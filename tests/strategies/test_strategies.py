"""The reference strategies, their parameter spaces and the declared grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from raytrade.core.errors import ConfigError
from raytrade.data import load_prices
from raytrade.strategies import (
    BollingerMeanReversion,
    MovingAverageCrossover,
    TimeSeriesMomentum,
    get_strategy,
    rolling_mean,
    rolling_std,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "strategies"


def _one(strategy, close, **params):
    block = strategy.space.block(params)
    return strategy.signals(strategy.prepare(close, block), block)[:, 0]


def test_rolling_helpers_match_pandas():
    close = load_prices(["KO"]).iloc[:500, 0]
    np.testing.assert_allclose(rolling_mean(close.to_numpy(), 20), close.rolling(20).mean(), rtol=1e-10)
    np.testing.assert_allclose(rolling_std(close.to_numpy(), 20), close.rolling(20).std(), rtol=1e-8)


def test_ma_crossover_matches_pandas_on_real_data():
    close = load_prices(["MSFT"]).iloc[:, 0]
    sig = _one(MovingAverageCrossover(allow_short=True), close.to_numpy(), fast=10, slow=50)
    fast, slow = close.rolling(10).mean(), close.rolling(50).mean()
    expected = np.where(fast > slow, 1, np.where(fast < slow, -1, 0))
    diff = (fast - slow).abs().to_numpy()
    clear = ~np.isnan(diff) & (diff > 1e-9)  # away from exact ties, where rounding may decide
    assert (sig[clear] == expected[clear]).all()
    assert (sig[:49] == 0).all()


def test_long_only_never_shorts():
    close = load_prices(["GE"]).iloc[:, 0].to_numpy()
    assert _one(MovingAverageCrossover(allow_short=False), close, fast=5, slow=20).min() == 0
    assert _one(TimeSeriesMomentum(allow_short=False), close, lookback=60).min() == 0
    assert _one(BollingerMeanReversion(allow_short=False), close, window=20, entry_z=1.5).min() == 0


def test_momentum_by_hand():
    close = np.array([10.0, 11.0, 12.0, 11.0, 10.0, 10.0, 12.0])
    sig = _one(TimeSeriesMomentum(allow_short=True), close, lookback=2)
    # bar t compares close[t] with close[t-2]
    assert sig.tolist() == [0, 0, 1, 0, -1, -1, 1]
    skip = _one(TimeSeriesMomentum(allow_short=True), close, lookback=3, skip=1)
    # bar t compares close[t-1] with close[t-3]
    assert skip.tolist() == [0, 0, 0, 1, 0, -1, -1]


def test_bollinger_state_machine_by_hand():
    close = np.array([10.0, 10.2, 9.8, 10.0, 10.1, 9.0, 9.5, 10.0, 11.5, 10.3, 10.0])
    sig = _one(BollingerMeanReversion(allow_short=True), close, window=3, entry_z=1.0, exit_z=0.0)
    z = (close - rolling_mean(close, 3)) / rolling_std(close, 3)
    state, expected = 0, []
    for x in z:
        if np.isnan(x):
            state = 0
        elif state == 0:
            state = 1 if x <= -1 else (-1 if x >= 1 else 0)
        elif (state == 1 and x >= 0) or (state == -1 and x <= 0):
            state = 0
        expected.append(state)
    assert sig.tolist() == expected
    assert 1 in expected and -1 in expected


def test_grid_of_the_benchmark_has_14751_sets():
    space = MovingAverageCrossover.space
    grid = space.grid({"fast": {"start": 2, "stop": 100}, "slow": {"start": 3, "stop": 200}})
    assert len(grid) == 14_751
    assert (grid["fast"] < grid["slow"]).all()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_declared_grids_expand(path):
    spec = yaml.safe_load(path.read_text())
    strategy = get_strategy(spec["strategy"])
    assert len(strategy.space.grid(spec["grid"])) > 1


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"fast": [5], "slow": [3]}, "empty after the constraint fast < slow"),
        ({"fast": [5], "slow": [10], "speed": [1]}, "unknown parameter 'speed'"),
        ({"fast": [2.5], "slow": [10]}, "grid.fast: expected an integer"),
        ({"fast": [0], "slow": [10]}, r"grid.fast: 0 is outside \[1, 5000\]"),
        ({"fast": {"start": 5, "stop": 2}, "slow": [10]}, "stop 2 is below start 5"),
        ({"slow": [10]}, "missing parameter 'fast'"),
        ({"fast": [], "slow": [10]}, "grid.fast: no values"),
    ],
)
def test_bad_grids_name_the_field(grid, message):
    with pytest.raises(ConfigError, match=message):
        MovingAverageCrossover.space.grid(grid)


def test_unknown_strategy():
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        get_strategy("nope")


def test_signals_are_bounded_on_every_bundled_stock():
    prices = load_prices()
    for strategy, params in ((MovingAverageCrossover(allow_short=True), {"fast": 20, "slow": 100}),
                             (TimeSeriesMomentum(allow_short=True), {"lookback": 252, "skip": 21}),
                             (BollingerMeanReversion(allow_short=True), {"window": 20, "entry_z": 2.0, "exit_z": 0.5})):
        for sym in prices.columns:
            sig = _one(strategy, prices[sym].to_numpy(), **params)
            assert np.isfinite(sig).all() and np.abs(sig).max() <= 1
            assert isinstance(pd.Series(sig).value_counts(), pd.Series)


def test_a_users_own_strategy_runs_by_module_and_class_in_a_backtest_config() -> None:
    from raytrade.backtest.config import BacktestConfig
    from raytrade.backtest.runner import backtest
    from raytrade.core.errors import ConfigError
    from raytrade.data import load_prices
    from raytrade.strategies.registry import get_strategy

    name = "tests.strategies.user_strategy:PriceAboveMean"
    cfg = BacktestConfig.model_validate({"name": "user", "data": {"dataset": "us_equities_20", "symbols": ["KO"]},
                                         "strategy": {"name": name, "params": {"window": 50}, "allow_short": False}})
    strategy = cfg.strategy.build()
    assert strategy.name == "price_above_mean" and strategy.allow_short is False  # type: ignore[attr-defined]
    result = backtest(strategy, {"window": 50}, load_prices(["KO"], start="2015-01-01"))
    assert len(result.fills) > 10 and len(result.trades) >= len(result.fills) // 2 - 1
    with pytest.raises(ConfigError, match="unknown parameter 'fast'"):
        BacktestConfig.model_validate({"name": "u", "data": {"dataset": "us_equities_20"},
                                       "strategy": {"name": name, "params": {"fast": 1}}})
    with pytest.raises(ConfigError, match="NotAStrategy does not follow the Strategy protocol: it lacks "
                                          r"signals \(or weights, for a portfolio strategy\), warmup, space"):
        get_strategy("tests.strategies.user_strategy:NotAStrategy")
    with pytest.raises(ConfigError, match="has no class 'Missing'"):
        get_strategy("tests.strategies.user_strategy:Missing")


def test_a_users_strategy_is_found_on_ray_workers(ray_session: dict) -> None:
    """Walk-forward trials and the engine's runners import the class on Ray workers."""
    import ray

    @ray.remote
    def name_on_a_worker() -> str:
        from raytrade.strategies.registry import get_strategy

        return get_strategy("tests.strategies.user_strategy:PriceAboveMean").name

    assert ray.get(name_on_a_worker.remote()) == "price_above_mean"
