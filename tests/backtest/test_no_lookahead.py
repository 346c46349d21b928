"""Property: changing prices after bar t never changes any signal or position up to bar t."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrade.backtest import CostModel, Sizing, SizingMode, run_kernel, sizing_scale
from raytrade.strategies import get_strategy

PARAMS = {
    "ma_crossover": lambda d: {"fast": d.draw(st.integers(1, 8)), "slow": d.draw(st.integers(9, 20))},
    "ts_momentum": lambda d: {"lookback": d.draw(st.integers(2, 20)), "skip": d.draw(st.integers(0, 1))},
    "bollinger_reversion": lambda d: {"window": d.draw(st.integers(2, 15)),
                                      "entry_z": d.draw(st.floats(0.5, 2.0)), "exit_z": d.draw(st.floats(-0.5, 0.4))},
    "crypto_trend": lambda d: {"entry": d.draw(st.integers(3, 15)), "exit": d.draw(st.integers(2, 3))},
}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    name = data.draw(st.sampled_from(sorted(PARAMS)))
    strategy = get_strategy(name, allow_short=True)
    params = PARAMS[name](data)
    n = data.draw(st.integers(25, 60))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n)) if data.draw(st.booleans()) else None
    t = data.draw(st.integers(0, n - 2))
    changed_close = close.copy()
    changed_close[t + 1:] *= np.exp(rng.normal(0, 0.1, n - t - 1))
    changed_open = None
    if open_ is not None:
        changed_open = open_.copy()
        changed_open[t + 1:] *= np.exp(rng.normal(0, 0.1, n - t - 1))
    sizing = data.draw(st.sampled_from([Sizing(), Sizing(mode=SizingMode.VOL_TARGET, vol_lookback=5),
                                        Sizing(whole_shares=True)]))
    costs = CostModel(commission_bps=1, half_spread_bps=2)

    def run(c, o):
        block = strategy.space.block(params)
        sig = strategy.signals(strategy.prepare(c, block), block)
        assert sizing_scale(c[:, None], sizing).shape == (n, 1)
        out = run_kernel(sig, c, open_=o, costs=costs, sizing=sizing, initial_capital=1e4)
        return sig[:, 0], out.shares[:, 0], out.equity[:, 0]

    sig_a, sh_a, eq_a = run(close, open_)
    sig_b, sh_b, eq_b = run(changed_close, changed_open)
    np.testing.assert_array_equal(sig_a[: t + 1], sig_b[: t + 1])
    np.testing.assert_array_equal(sh_a[: t + 1], sh_b[: t + 1])
    np.testing.assert_array_equal(eq_a[: t + 1], eq_b[: t + 1])


PORTFOLIO_PARAMS = {
    "equal_weight": lambda d: {"gross": d.draw(st.floats(0.2, 1.5))},
    "pairs": lambda d: {"formation": 60, "reselect": d.draw(st.integers(5, 30)), "lookback": d.draw(st.integers(10, 30)),
                        "kalman": d.draw(st.integers(0, 1)), "fdr": 0.5, "max_pairs": d.draw(st.integers(1, 3))},
    "residual_reversion": lambda d: {"horizon": d.draw(st.integers(1, 10)), "beta_lookback": d.draw(st.integers(20, 40)),
                                     "holding": d.draw(st.integers(1, 7)), "factor": 0},
    "momentum_divergence": lambda d: {"lookback": d.draw(st.integers(2, 30)), "holding": d.draw(st.integers(1, 10)),
                                      "fraction": d.draw(st.sampled_from([0.25, 0.5])), "group": 0},
}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_portfolio_strategies_do_not_look_ahead(data):
    """The same property for portfolio strategies: weights and the book up to bar t ignore later prices
    (synthetic, seeded prices; two of the assets share a random walk so that pairs get selected)."""
    from raytrade.backtest.portfolio import PortfolioSizing, run_portfolio_kernel
    from raytrade.backtest.portfolio_runner import portfolio_weights

    name = data.draw(st.sampled_from(sorted(PORTFOLIO_PARAMS)))
    strategy = get_strategy(name, allow_short=True)
    block = strategy.space.block(PORTFOLIO_PARAMS[name](data))
    n = data.draw(st.integers(70, 120))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    common = np.cumsum(rng.normal(0, 0.02, n))
    logs = np.column_stack([common + rng.normal(0, 0.01, n), common * 1.2 + rng.normal(0, 0.01, n),
                            np.cumsum(rng.normal(0, 0.02, n)), np.cumsum(rng.normal(0, 0.02, n))])
    close = 50 * np.exp(logs)
    t = data.draw(st.integers(0, n - 2))
    changed = close.copy()
    changed[t + 1:] *= np.exp(rng.normal(0, 0.1, (n - t - 1, close.shape[1])))
    sizing = PortfolioSizing(rebalance=data.draw(st.sampled_from(["on_change", "every_bar", "threshold"])))

    def run(c):
        w = portfolio_weights(strategy, c, block)
        out = run_portfolio_kernel(w, c, costs=CostModel(commission_bps=1, half_spread_bps=2), sizing=sizing,
                                   initial_capital=1e4)
        return w, out.shares, out.equity

    for a, b in zip(run(close), run(changed), strict=True):
        np.testing.assert_array_equal(a[: t + 1], b[: t + 1])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_options_overlays_do_not_look_ahead(data):
    """Covered calls and cash-secured puts: the sleeves' equity, stock and written options up to bar
    t ignore later prices (the payout at an expiry after t is not known before it)."""
    import pandas as pd

    from raytrade.backtest.overlays import backtest_overlay

    name = data.draw(st.sampled_from(["covered_call", "cash_secured_put"]))
    strategy = get_strategy(name)
    params = {"delta": data.draw(st.floats(0.1, 0.6)), "days_to_expiry": data.draw(st.integers(7, 40)),
              "vol_lookback": data.draw(st.integers(5, 20)), "vol_premium": data.draw(st.floats(0.0, 0.1))}
    n = data.draw(st.integers(40, 120))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    index = pd.bdate_range("2020-01-01", periods=n, tz="UTC")
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, 2)), axis=0)), index=index, columns=["A", "B"])
    t = data.draw(st.integers(0, n - 2))
    changed = close.copy()
    changed.iloc[t + 1:] *= np.exp(rng.normal(0, 0.1, (n - t - 1, 2)))
    a, b = (backtest_overlay(strategy, params, c, initial_capital=1e4) for c in (close, changed))
    for x, y in ((a.equity, b.equity), (a.shares, b.shares), (a.signals, b.signals)):
        np.testing.assert_array_equal(x.to_numpy()[: t + 1], y.to_numpy()[: t + 1])


@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_the_ensemble_book_does_not_look_ahead(data):
    """The ensemble long-short book re-fits its models as it walks: its weights up to bar t ignore
    later prices (synthetic, seeded prices; small fits, so the property costs seconds)."""
    from raytrade.backtest.portfolio_runner import portfolio_weights

    strategy = get_strategy("ensemble_long_short", allow_short=True)
    block = strategy.space.block({"quantile": 0.25, "hold": data.draw(st.integers(1, 5)), "refit": 15,
                                  "train_bars": 63, "horizon": data.draw(st.integers(1, 5))})
    n = 380
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n, 4)), axis=0))
    t = data.draw(st.integers(strategy.warmup(block), n - 2))
    changed = close.copy()
    changed[t + 1:] *= np.exp(rng.normal(0, 0.1, (n - t - 1, 4)))
    wa, wb = portfolio_weights(strategy, close, block), portfolio_weights(strategy, changed, block)
    assert np.abs(wa[strategy.warmup(block):]).sum() > 0       # the book trades
    np.testing.assert_array_equal(wa[: t + 1], wb[: t + 1])
