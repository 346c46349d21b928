"""Statistical-arbitrage books by hand on tiny markets, and their neutrality on the bundled stocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest import backtest
from raytrade.backtest.portfolio_runner import portfolio_weights
from raytrade.core.errors import ConfigError
from raytrade.data import load_prices
from raytrade.data.loaders import load_sectors
from raytrade.strategies import get_strategy
from raytrade.strategies.stat_arb import MomentumDivergence, ResidualReversion, rolling_beta


def test_residual_reversion_by_hand_against_the_sector():
    # KO and PEP are one sector (staples), XOM and CVX another (energy): bar 2's 2-bar log returns
    logs = np.log(np.array([[10.0, 20.0, 30.0, 40.0],
                            [10.5, 20.0, 30.0, 40.0],
                            [11.0, 19.0, 33.0, 40.0]]))
    strat = ResidualReversion(allow_short=True, symbols=["KO", "PEP", "XOM", "CVX"])
    block = strat.space.block({"horizon": 2, "holding": 1, "factor": 1, "beta_lookback": 20})
    w = portfolio_weights(strat, np.exp(logs), block)[:, 0]
    r = logs[2] - logs[0]
    e = np.array([r[0] - (r[0] + r[1]) / 2, r[1] - (r[0] + r[1]) / 2, r[2] - (r[2] + r[3]) / 2,
                  r[3] - (r[2] + r[3]) / 2])
    np.testing.assert_allclose(w[2], -e / np.abs(e).sum(), rtol=1e-12)
    assert (w[:2] == 0).all() and w[2, 0] < 0 < w[2, 1] and w[2, 2] < 0 < w[2, 3]   # short the winner of each sector


def test_residual_reversion_against_the_market_beta():
    rng = np.random.default_rng(1)   # synthetic (seeded): 5 stocks with betas 0.5 .. 1.5 on one market
    m = rng.normal(0, 0.01, 300)
    betas = np.array([0.5, 0.75, 1.0, 1.25, 1.5])
    r = m[:, None] * betas + rng.normal(0, 0.005, (300, 5))
    close = 100 * np.exp(np.cumsum(r, axis=0))
    strat = ResidualReversion(allow_short=True)
    block = strat.space.block({"horizon": 3, "beta_lookback": 100, "holding": 1, "factor": 0})
    w = portfolio_weights(strat, close, block)[:, 0]
    logc = np.log(close)
    t = 250
    dr = np.diff(logc, axis=0)                       # the regression the strategy runs, by np.polyfit
    mkt = dr.mean(axis=1)
    beta = np.array([np.polyfit(mkt[t - 100: t], dr[t - 100: t, i], 1)[0] for i in range(5)])
    ret = logc[t] - logc[t - 3]
    e = ret - beta * ret.mean()
    np.testing.assert_allclose(w[t], -(e - e.mean()) / np.abs(e - e.mean()).sum(), rtol=1e-9)
    np.testing.assert_allclose(rolling_beta(np.vstack([np.zeros((1, 5)), dr]), np.r_[0, mkt], 100)[t], beta,
                               rtol=1e-9)


def test_momentum_divergence_by_hand():
    # one group of 4 over a 2-bar lookback, a third of the members (1) on each side
    up = np.log(np.array([[10.0, 10.0, 10.0, 10.0], [10.0, 10.0, 10.0, 10.0], [10.1, 10.5, 11.0, 12.0]]))
    strat = MomentumDivergence(allow_short=True)
    block = strat.space.block({"lookback": 2, "holding": 1, "fraction": 0.25, "group": 0})
    w = portfolio_weights(strat, np.exp(up), block)[:, 0]
    np.testing.assert_allclose(w[2], [0.5, 0, 0, -0.5])      # rising: long the laggard, short the leader
    down = up.copy()
    down[2] = np.log([9.9, 9.5, 9.0, 8.0])
    w = portfolio_weights(strat, np.exp(down), block)[:, 0]
    np.testing.assert_allclose(w[2], [0.5, 0, 0, -0.5])      # falling: long the leader (9.9), short the laggard (8.0)
    down[2] = np.log([8.0, 9.0, 9.5, 9.9])
    w = portfolio_weights(strat, np.exp(down), block)[:, 0]
    np.testing.assert_allclose(w[2], [-0.5, 0, 0, 0.5])


@pytest.mark.parametrize("name, params", [("residual_reversion", {}), ("residual_reversion", {"factor": 1}),
                                          ("momentum_divergence", {}), ("momentum_divergence", {"group": 0})])
def test_books_on_the_bundled_stocks_are_neutral_and_held_between_rebalances(name, params):
    close = load_prices(start="2015-01-01")
    result = backtest(get_strategy(name, allow_short=True), params, close)
    w = result.signals.to_numpy()
    live = np.abs(w).sum(axis=1) > 0
    assert live.mean() > 0.9
    np.testing.assert_allclose(w[live].sum(axis=1), 0.0, atol=1e-12)       # dollar neutral
    np.testing.assert_allclose(np.abs(w[live]).sum(axis=1), 1.0, rtol=1e-12)  # gross 1
    changes = (np.abs(np.diff(w, axis=0)) > 0).any(axis=1).sum()
    holding = params.get("holding", 5 if name == "residual_reversion" else 21)
    assert changes <= len(w) / holding + 2
    if params.get("factor") == 1 or (name == "momentum_divergence" and params.get("group", 1) == 1):
        sectors = load_sectors()["gics_sector"]
        by_sector = pd.DataFrame(w[live], columns=close.columns).T.groupby(sectors).sum()
        np.testing.assert_allclose(by_sector.to_numpy(), 0.0, atol=1e-12)  # sector neutral


def test_sector_grouping_names_what_it_lacks():
    strat = ResidualReversion(allow_short=True)
    block = strat.space.block({"factor": 1})
    with pytest.raises(ConfigError, match="needs the symbols"):
        portfolio_weights(strat, np.full((30, 2), 10.0), block)
    with pytest.raises(ConfigError, match="no sector known for 'BTC'"):
        portfolio_weights(strat, np.full((30, 2), 10.0), block, ["KO", "BTC"])
