"""The research front doors give the same numbers as the functions they wrap."""

from __future__ import annotations

import numpy as np

from raytrade.backtest.montecarlo import simulate
from raytrade.data import load_prices
from raytrade.tune import MonteCarloSimulator, StressTestSuite, WalkForwardOptimizer


def test_walkforward_optimizer_local():
    close = load_prices(["KO", "PEP", "XOM"], start="2005-01-01")
    wf = WalkForwardOptimizer("ts_momentum", {"lookback": [21, 63, 126, 252]}, window=1000, max_pbo_trials=4,
                              pbo_blocks=8)
    out = wf.run(close, use_ray=False)
    result, summary = out
    assert len(summary["windows"]) == len(result.windows) > 3
    assert summary["n_trials"] == 4
    assert {w["params"]["lookback"] for w in summary["windows"]} <= {21, 63, 126, 252}
    # the same as pandas objects, dated: one row per window, the stitched returns on their bars
    w = out.windows
    assert len(w) == len(summary["windows"]) and w["lookback"].tolist() == [x["params"]["lookback"]
                                                                            for x in summary["windows"]]
    assert w["test_from"].iloc[0] == close.index[summary["windows"][0]["train_end"]].date()
    assert out.oos_returns.index[0] == close.index[result.oos_start] and len(out.oos_returns) == len(result.oos_returns)
    assert list(out.parameters["lookback"]) == [21, 63, 126, 252] and "sharpe" in out.parameters


def test_monte_carlo_simulator_matches_simulate():
    r = np.random.default_rng(0).normal(0.0005, 0.01, 600)
    assert MonteCarloSimulator(paths=300, seed=2).run(r) == simulate(r, 300, seed=2)


def test_stress_suite_on_bundled_stocks():
    out = StressTestSuite().run("ma_crossover", {"fast": 50, "slow": 200}, load_prices(["JPM", "BAC"]),
                                allow_short=False)
    names = [r["scenario"] for r in out["historical"]]
    assert "financial crisis" in names and len(out["hypothetical"]) == 4
