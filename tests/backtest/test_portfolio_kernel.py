"""The portfolio kernel against the per-bar reference loop, and an equal-weight book by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.analytics.metrics import performance_metrics
from raytrade.backtest.costs import CostModel
from raytrade.backtest.kernel import STAT_FIELDS
from raytrade.backtest.portfolio import (
    CalendarPeriod,
    PortfolioRebalance,
    PortfolioSizing,
    calendar_due,
    run_portfolio_kernel,
)
from raytrade.core.errors import BacktestError
from raytrade.data.loaders import load_dataset
from tests.backtest.reference import reference_portfolio


def _random_case(seed: int, n_bars: int = 90, n_sets: int = 4, n_assets: int = 5, shorts: bool = True):
    """Synthetic (seeded) prices and weight rows that hold for a few bars, then jump."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, n_assets)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, close.shape))
    w = np.zeros((n_bars, n_sets, n_assets))
    row = np.zeros((n_sets, n_assets))
    for t in range(n_bars):
        change = rng.random(n_sets) < 0.15
        new = rng.uniform(-0.6 if shorts else 0.0, 0.7, (n_sets, n_assets)) * (rng.random((n_sets, n_assets)) < 0.7)
        row = np.where(change[:, None], new, row)
        w[t] = row
    return close, open_, w


CASES = [
    dict(rebalance="on_change"),
    dict(rebalance="every_bar", max_gross=1.5),
    dict(rebalance="threshold", threshold=0.03, max_gross=2.0),
    dict(rebalance="calendar"),
    dict(rebalance="on_change", whole_shares=True, lot=10.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c["rebalance"] + ("_whole" if "whole_shares" in c else "") for c in CASES])
@pytest.mark.parametrize("use_open", [False, True])
def test_kernel_equals_reference_loop(case, use_open):
    close, open_, w = _random_case(7 + len(case))
    index = pd.date_range("2021-01-01", periods=len(close), freq="B", tz="UTC")
    costs = CostModel(commission_bps=5.0, commission_per_share=0.01, half_spread_bps=3.0, slippage_bps=2.0)
    sizing = PortfolioSizing(rebalance=case["rebalance"], calendar=CalendarPeriod.WEEK,
                             threshold=case.get("threshold", 0.05), max_gross=case.get("max_gross", 1.0),
                             whole_shares=case.get("whole_shares", False), lot_size=case.get("lot", 1.0))
    out = run_portfolio_kernel(w, close, open_=open_ if use_open else None, costs=costs, sizing=sizing,
                               index=index, initial_capital=100_000.0)
    starts = calendar_due(index, "week").tolist()
    for k in range(w.shape[1]):
        ref = reference_portfolio(w[:, k].tolist(), close.tolist(), open_.tolist() if use_open else None,
                                  initial_capital=100_000.0, rebalance=case["rebalance"], period_start=starts,
                                  threshold=sizing.threshold, max_gross=sizing.max_gross, commission_bps=5.0,
                                  commission_per_share=0.01, spread_bps=5.0, whole_shares=sizing.whole_shares,
                                  lot=sizing.lot_size)
        np.testing.assert_allclose(out.equity[:, k], ref.equity, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(out.shares[:, k], np.array(ref.shares), rtol=1e-12, atol=1e-9)
        stat = dict(zip(STAT_FIELDS, out.stats[k], strict=True))
        assert stat["fills"] == len(ref.fills) > 0
        assert stat["round_trips"] == len(ref.trips)
        assert stat["wins"] == sum(p > 0 for p in ref.trips)
        assert stat["gross_profit"] == pytest.approx(sum(p for p in ref.trips if p > 0), rel=1e-10)
        assert stat["gross_loss"] == pytest.approx(-sum(p for p in ref.trips if p <= 0), rel=1e-10)
        assert stat["turnover"] == pytest.approx(ref.turnover, rel=1e-10)
        assert stat["costs"] == pytest.approx(ref.costs, rel=1e-10)
        assert stat["exposure_bars"] == ref.exposure_bars


def test_shorts_and_the_leverage_cap_hold():
    close, _, w = _random_case(3, shorts=True)
    out = run_portfolio_kernel(w, close, sizing=PortfolioSizing(rebalance="every_bar", max_gross=1.0))
    gross = np.abs(out.shares * close[:, None, :]).sum(axis=2) / out.equity
    assert (out.shares < 0).any()
    # executed at the next bar's close, re-marked at that close: exactly the cap or below
    assert gross[1:].max() <= 1.0 + 1e-12


def test_equal_weight_of_the_twenty_stocks_matches_returns_by_hand():
    """An equal-weight book of the 20 bundled stocks from 2000, rebalanced daily at the close,
    no costs: from the first fill on, each bar's return is the mean of the 20 returns."""
    prices = load_dataset("us_equities_20").loc["2000-01-01":]
    c = prices.to_numpy(np.float64)
    n_bars, n = c.shape
    w = np.full((n_bars, 1, n), 1.0 / n)
    out = run_portfolio_kernel(w, c, sizing=PortfolioSizing(rebalance=PortfolioRebalance.EVERY_BAR),
                               initial_capital=1_000_000.0)
    # by hand: cash until the first fill at bar 1's close, then compound the cross-sectional mean
    r = c[1:] / c[:-1] - 1.0
    hand = np.empty(n_bars)
    hand[:2] = 1_000_000.0
    for t in range(2, n_bars):
        hand[t] = hand[t - 1] * (1.0 + r[t - 1].mean())
    np.testing.assert_allclose(out.equity[:, 0], hand, rtol=1e-11)
    ours = performance_metrics(out.equity)
    theirs = performance_metrics(hand[:, None])
    for key in ("total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "max_drawdown"):
        assert ours[key][0] == pytest.approx(theirs[key][0], rel=1e-9, abs=1e-12), key
    assert n_bars > 5000 and out.stats[0, STAT_FIELDS.index("fills")] == n * (n_bars - 1)


def test_calendar_due_marks_first_bar_of_each_month():
    index = pd.DatetimeIndex(["2021-01-29", "2021-02-01", "2021-02-02", "2021-03-01", "2021-03-31"], tz="UTC")
    assert calendar_due(index, "month").tolist() == [True, True, False, True, False]
    assert calendar_due(index, "quarter").tolist() == [True, False, False, False, False]


@pytest.mark.parametrize("mutate, message", [
    (lambda w, c: w.__setitem__((3, 0, 1), np.nan), "weight at bar 3, set 0, asset 1 is nan"),
    (lambda w, c: c.__setitem__((5, 2), -1.0), "close price at bar 5, asset 2 is -1.0"),
])
def test_bad_input_is_named(mutate, message):
    close, _, w = _random_case(1)
    mutate(w, close)
    with pytest.raises(BacktestError, match=message):
        run_portfolio_kernel(w, close)


def test_shape_and_calendar_mistakes_are_named():
    close, _, w = _random_case(1)
    with pytest.raises(BacktestError, match="weights must have shape"):
        run_portfolio_kernel(w[:, :, :3], close)
    with pytest.raises(BacktestError, match="needs the bars' timestamps"):
        run_portfolio_kernel(w, close, sizing=PortfolioSizing(rebalance="calendar"))


def test_a_config_sizing_rebalances_a_portfolio_monthly_and_a_per_asset_strategy_refuses_it():
    from raytrade.backtest import Sizing, backtest
    from raytrade.strategies import get_strategy

    close = load_dataset("us_equities_20").loc["2019-01-01":, ["KO", "PEP", "XOM"]]
    monthly = Sizing(rebalance="calendar", calendar="month")
    result = backtest(get_strategy("equal_weight"), {}, close, sizing=monthly)
    days = pd.DatetimeIndex(result.fills["timestamp"].unique())
    firsts = close.index[calendar_due(close.index, "month")]
    # each trade is the bar after the first bar of a month (decided at its close, filled next bar)
    expected = close.index[close.index.get_indexer(firsts) + 1]
    assert set(days) <= set(expected) and len(days) > 40
    drift = Sizing(rebalance="threshold", threshold=0.02)
    assert len(backtest(get_strategy("equal_weight"), {}, close, sizing=drift).fills) < 3 * len(result.fills)
    with pytest.raises(BacktestError, match="calendar applies to portfolio strategies"):
        backtest(get_strategy("ma_crossover"), {"fast": 5, "slow": 20}, close, sizing=monthly)


@pytest.mark.parametrize(("capital", "weight"), [(123_456.789, 0.25), (98_765.4321, 0.3)])
def test_a_rebalance_at_unchanged_prices_without_costs_is_no_trade(capital, weight):
    """Equal weights rebalanced every bar, no costs, one price move at bar 20 and none else: each
    asset fills twice (the entry, the rebalance after the move), not at every unchanged bar with
    float residue (these cases made 63 fills before rule 3 said otherwise); the reference agrees."""
    n_bars = 40
    close = np.tile(np.array([37.13, 101.7, 3.3]), (n_bars, 1))
    close[20:] *= np.array([1.01, 0.99, 1.02])
    w = np.full((n_bars, 1, 3), weight)
    out = run_portfolio_kernel(w, close, sizing=PortfolioSizing(rebalance="every_bar"), initial_capital=capital)
    assert out.stat("fills")[0] == 6
    ref = reference_portfolio(w[:, 0].tolist(), close.tolist(), None, rebalance="every_bar", initial_capital=capital)
    assert len(ref.fills) == 6
