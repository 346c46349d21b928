"""Round trips from fills (the kernel's rule 7, written again from its statement), by hand and
against the kernel's own trip tallies; the result's stats() and plot() beside buy and hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest import CostModel, backtest
from raytrade.backtest.trades import round_trips
from raytrade.data import load_prices
from raytrade.strategies import get_strategy


def test_a_flip_by_hand() -> None:
    t = pd.to_datetime(["2024-01-02", "2024-01-05", "2024-01-09", "2024-01-10"], utc=True)
    fills = pd.DataFrame({"timestamp": t, "symbol": "X", "side": ["buy", "sell", "buy", "buy"],
                          "quantity": [10.0, 15.0, 5.0, 3.0], "price": [100.0, 110.0, 105.0, 104.0],
                          "commission": [1.0, 1.5, 0.5, 0.3]})
    trips = round_trips(fills)
    # long 10: -1,000 - 1 + 1,100 - 1.0 (10/15 of the flip's 1.5) = 98; short 5: +550 - 0.5 - 525 - 0.5 = 24
    assert trips["direction"].tolist() == ["long", "short", "long"]
    assert trips["pnl"].iloc[:2].tolist() == pytest.approx([98.0, 24.0])
    assert trips["return"].iloc[:2].tolist() == pytest.approx([98.0 / 1000.0, 24.0 / 550.0])
    assert trips["exit_price"].iloc[:2].tolist() == [110.0, 105.0]
    assert trips["duration"].iloc[0] == pd.Timedelta(days=3)
    assert bool(trips["open"].iloc[2]) and np.isnan(trips["pnl"].iloc[2]) and trips["quantity"].iloc[2] == 3.0


@pytest.mark.parametrize("symbols", [["GE"], ["KO", "XOM", "AMD"]])
def test_the_trips_agree_with_the_kernels_tallies(symbols: list[str]) -> None:
    close = load_prices(symbols, start="2000-01-01", end="2012-12-31")
    costs = CostModel(commission_bps=5, commission_per_share=0.01, half_spread_bps=3)
    res = backtest(get_strategy("ma_crossover", allow_short=True), {"fast": 10, "slow": 40}, close, costs=costs)
    trips = res.trades
    done = trips[~trips["open"]]
    port = res.metrics.loc["PORTFOLIO"]
    assert len(done) == port["round_trips"] > 20
    assert (done["pnl"] > 0).mean() == pytest.approx(port["win_rate"], abs=1e-12)
    gross = done.loc[done["pnl"] > 0, "pnl"].sum() / -done.loc[done["pnl"] < 0, "pnl"].sum()
    assert gross == pytest.approx(port["profit_factor"], rel=1e-9)
    assert set(trips["direction"]) == {"long", "short"}


def test_stats_and_plot_beside_buy_and_hold() -> None:
    close = load_prices(["KO", "PEP"], start="2010-01-01", end="2015-12-31")
    res = backtest(get_strategy("ma_crossover"), {"fast": 20, "slow": 100}, close)
    st = res.stats()
    bh = (close / close.iloc[0]).mean(axis=1)
    assert st.loc["total_return", "buy_and_hold"] == pytest.approx(bh.iloc[-1] - 1.0, rel=1e-12)
    assert st.loc["total_return", "strategy"] == pytest.approx(res.metrics.loc["PORTFOLIO", "total_return"])
    assert np.isnan(st.loc["round_trips", "buy_and_hold"]) and st.loc["round_trips", "strategy"] > 0
    fig = res.plot()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["strategy", "buy and hold", "entry", "exit"]
