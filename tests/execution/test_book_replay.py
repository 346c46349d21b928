"""A book's target weights replayed through the trading core (the engine's decisions, the paper
broker) equal the portfolio kernel: same fills, same equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raytrade.backtest.costs import CostModel
from raytrade.backtest.portfolio import PortfolioSizing, run_portfolio_kernel
from raytrade.core.errors import ConfigError
from raytrade.execution.simulate import replay_weights
from raytrade.execution.targets import BookTargetTrader

DATES = pd.bdate_range("2021-01-04", periods=80, tz="UTC")
DATES = DATES[~DATES.isin(pd.to_datetime(["2021-01-18", "2021-02-15"], utc=True))][:60]  # XNYS holidays out


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)     # synthetic, seeded prices and weight rows
    n = draw(st.integers(2, 4))
    close = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(DATES), n)), axis=0))
    rows = rng.uniform(-0.5, 0.6, (len(DATES), n)) * (rng.random((len(DATES), n)) < 0.8)
    hold = rng.random(len(DATES)) < 0.8
    for t in range(1, len(DATES)):
        if hold[t]:
            rows[t] = rows[t - 1]
    costs = CostModel(commission_bps=draw(st.sampled_from([0.0, 5.0])), half_spread_bps=draw(st.sampled_from([0.0, 2.0])),
                      commission_per_share=draw(st.sampled_from([0.0, 0.005])))
    sizing = PortfolioSizing(rebalance=draw(st.sampled_from(["on_change", "every_bar", "calendar"])),
                             calendar="week", max_gross=draw(st.sampled_from([1.0, 1.5])),
                             whole_shares=draw(st.booleans()), lot_size=draw(st.sampled_from([1.0, 10.0])))
    return close, rows, costs, sizing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_core_replays_a_book_as_the_portfolio_kernel_runs_it(case) -> None:
    close, rows, costs, sizing = case
    frame = pd.DataFrame(close, index=DATES, columns=[f"S{j}" for j in range(close.shape[1])])
    kernel = run_portfolio_kernel(rows[:, None, :], close, costs=costs, sizing=sizing, index=DATES,
                                  initial_capital=100_000.0)
    sim = replay_weights(frame, rows, costs=costs, sizing=sizing, initial_capital=100_000.0)
    assert sim.rejected == 0
    shares = kernel.shares[:, 0, :]  # type: ignore[index]
    traded = int((np.diff(np.vstack([np.zeros(close.shape[1]), shares]), axis=0) != 0).sum())
    assert len(sim.fills) == traded > 0
    if sizing.whole_shares:
        np.testing.assert_allclose(sim.equity, kernel.equity[:, 0], rtol=1e-9, atol=0)
    else:   # the core trades multiples of 1e-8 shares: equity agrees to that rounding
        bound = len(sim.fills) * 1e-8 * close.max() * 1.01 + 1e-9 * 100_000
        assert np.abs(sim.equity - kernel.equity[:, 0]).max() <= bound


def test_threshold_rebalancing_stays_in_backtests() -> None:
    with pytest.raises(ConfigError, match="threshold is for portfolio backtests"):
        BookTargetTrader(["A", "B"], PortfolioSizing(rebalance="threshold"))


@pytest.mark.parametrize("name, params", [
    ("residual_reversion", {"horizon": 5, "beta_lookback": 40, "holding": 5, "factor": 1}),
    ("equal_weight", {"gross": 0.9}),
])
def test_the_engines_runner_trades_a_portfolio_strategy_as_its_backtest(name, params) -> None:
    """The engine's strategy runner (its plain core) fed the bars one by one, fills taken at each
    close without costs, holds the positions the backtest holds on the same data from the same bar."""
    from raytrade.backtest import backtest
    from raytrade.data import load_prices
    from raytrade.execution.runner import StrategyRunnerCore, parse_runner_spec
    from raytrade.strategies import get_strategy

    close = load_prices(["KO", "PEP", "XOM", "CVX", "JPM", "BAC"], start="2019-01-01").iloc[:160]
    spec = parse_runner_spec({"name": "book", "strategy": name, "params": params, "symbols": list(close.columns),
                              "sizing": {"whole_shares": False}, "capital": 100_000.0, "allow_short": True})
    runner = StrategyRunnerCore(spec, CostModel())
    positions: dict[str, float] = {}
    cash_flow = 0.0
    held = []
    for at, row in close.iterrows():
        closes = row.to_dict()
        for o in runner.on_bar(at.to_pydatetime(), closes, positions, cash_flow):
            positions[o.symbol] = positions.get(o.symbol, 0.0) + o.quantity
            cash_flow -= o.quantity * closes[o.symbol]
        held.append([positions.get(s, 0.0) for s in close.columns])
    result = backtest(get_strategy(name, allow_short=True), params, close)
    np.testing.assert_allclose(np.array(held), result.shares.to_numpy(), rtol=1e-9, atol=1e-9)
    assert (np.abs(np.array(held)) > 0).any()
    snap = runner.snapshot()   # a restart resumes the book's schedule from the same first bar
    again = StrategyRunnerCore(spec, CostModel())
    assert again.restore(snap) and len(again.history["KO"]) == len(close)


def test_a_runner_refuses_a_book_it_cannot_size() -> None:
    from raytrade.execution.runner import parse_runner_spec

    with pytest.raises(ConfigError, match="weights are its sizing"):
        parse_runner_spec({"name": "b", "strategy": "equal_weight", "symbols": ["KO", "PEP"],
                           "sizing": {"mode": "vol_target"}})
    with pytest.raises(ConfigError, match="allow_short"):
        parse_runner_spec({"name": "b", "strategy": "pairs", "symbols": ["KO", "PEP"]})


def test_the_engines_runner_sizes_by_kelly_as_its_backtest() -> None:
    """Kelly sizing in the engine's runner (its plain core fed bar by bar, fills at each close, no
    costs) holds the positions the backtest's kernel holds with the same Kelly sizing: the scale read
    from the returns the strategy's own signals earned over the lookback, with the same function."""
    from raytrade.backtest import Sizing, backtest
    from raytrade.data import load_prices
    from raytrade.execution.runner import StrategyRunnerCore, parse_runner_spec
    from raytrade.strategies import get_strategy

    close = load_prices(["MSFT"], start="2015-01-01").iloc[:400]
    sizing = {"mode": "kelly", "fraction": 0.5, "kelly_lookback": 60, "max_leverage": 1.5, "whole_shares": False}
    params = {"fast": 10, "slow": 30}
    spec = parse_runner_spec({"name": "k", "strategy": "ma_crossover", "params": params, "symbols": ["MSFT"],
                              "sizing": sizing, "capital": 100_000.0, "allow_short": True})
    runner = StrategyRunnerCore(spec, CostModel())
    assert runner.keep >= 30 + 60
    positions: dict[str, float] = {}
    cash_flow = 0.0
    held = []
    for at, row in close.iterrows():
        closes = row.to_dict()
        for o in runner.on_bar(at.to_pydatetime(), closes, positions, cash_flow):
            positions[o.symbol] = positions.get(o.symbol, 0.0) + o.quantity
            cash_flow -= o.quantity * closes[o.symbol]
        held.append(positions.get("MSFT", 0.0))
    result = backtest(get_strategy("ma_crossover", allow_short=True), params, close, sizing=Sizing(**sizing))
    np.testing.assert_allclose(held, result.shares["MSFT"].to_numpy(), rtol=1e-9, atol=1e-9)
    sizes = {round(abs(h) * p / 100_000, 2) for h, p in zip(held, close["MSFT"], strict=True) if h}
    assert len(sizes) > 3   # the Kelly fraction moves with the signal's record, not a fixed size
