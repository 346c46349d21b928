"""Kelly sizing in the kernel: the scale against the rule written bar by bar and against
raytrade.risk.kelly; the kernel with it against the reference loop; real data; refusals."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from raytrade.backtest import (
    CostModel,
    Sizing,
    SizingMode,
    backtest,
    run_grid,
    run_kernel,
    sizing_scale,
)
from raytrade.core.errors import ConfigError
from raytrade.data import load_prices
from raytrade.risk.kelly import kelly_continuous
from raytrade.strategies import get_strategy
from tests.backtest.reference import reference_backtest, reference_kelly_scale
from tests.backtest.test_kernel import _random_case


@pytest.mark.parametrize("seed", range(6))
def test_the_scale_is_the_rule_and_the_kelly_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    close, _, signal, col_asset = _random_case(rng, 150, 5, False)
    sizing = Sizing(mode=SizingMode.KELLY, fraction=[1.0, 0.5][seed % 2], kelly_lookback=[10, 30][seed % 3 == 0],
                    max_leverage=[1.0, 3.0][seed % 2])
    scale = sizing_scale(close, sizing, signal, col_asset)
    assert scale.shape == signal.shape
    for k in range(signal.shape[1]):
        a = col_asset[k]
        ref = reference_kelly_scale(list(signal[:, k]), list(close[:, a]), lookback=sizing.kelly_lookback,
                                    fraction=sizing.fraction, cap=sizing.max_leverage)
        np.testing.assert_allclose(scale[:, k], ref, rtol=1e-7, atol=1e-9)
        u = signal[:-1, k] * (close[1:, a] / close[:-1, a] - 1.0)
        n = sizing.kelly_lookback
        for t in range(n, len(close), 17):  # the same figure as risk.kelly's, where it is positive
            if u[t - n:t].var() == 0:      # a flat signal all window long: no bet, scale 0
                assert scale[t, k] == 0
                continue
            f = kelly_continuous(u[t - n:t], fraction=sizing.fraction, cap=sizing.max_leverage)
            assert scale[t, k] == pytest.approx(max(f, 0.0), rel=1e-7, abs=1e-9)
    assert (scale[: sizing.kelly_lookback] == 0).all() and scale.max() > 0


@pytest.mark.parametrize("seed", range(6))
def test_the_kernel_with_kelly_equals_the_reference_loop(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    close, open_, signal, col_asset = _random_case(rng, 160, 6, seed % 2 == 0)
    costs = CostModel(commission_bps=rng.uniform(0, 5), half_spread_bps=rng.uniform(0, 5))
    sizing = Sizing(mode=SizingMode.KELLY, fraction=0.5, kelly_lookback=20, max_leverage=2.0)
    out = run_kernel(signal, close, open_=open_, col_asset=col_asset, costs=costs, sizing=sizing,
                     initial_capital=10_000.0)
    for k in range(signal.shape[1]):
        a = col_asset[k]
        scale = reference_kelly_scale(list(signal[:, k]), list(close[:, a]), lookback=20, fraction=0.5, cap=2.0)
        ref = reference_backtest(list(signal[:, k]), list(close[:, a]), None if open_ is None else list(open_[:, a]),
                                 scale, initial_capital=10_000.0, commission_bps=costs.commission_bps,
                                 half_spread_bps=costs.half_spread_bps)
        np.testing.assert_allclose(out.equity[:, k], ref.equity, rtol=1e-7)
        np.testing.assert_allclose(out.shares[:, k], ref.shares, rtol=1e-7, atol=1e-9)


def test_kelly_on_real_data_in_a_backtest_and_a_grid() -> None:
    close = load_prices(["KO", "XOM"], start="2000-01-01", end="2012-12-31")
    ma = get_strategy("ma_crossover")
    sizing = Sizing(mode="kelly", fraction=0.5, kelly_lookback=252, max_leverage=2.0)
    res = backtest(ma, {"fast": 20, "slow": 100}, close, sizing=sizing)
    assert (res.shares.iloc[:253] == 0).all().all()          # no history, no size
    assert res.shares.to_numpy().max() > 0 and (res.shares.to_numpy() >= 0).all()
    grid = run_grid(ma, close, ma.space.grid({"fast": [10, 20], "slow": [100]}), sizing=sizing)
    row = grid[(grid["symbol"] == "KO") & (grid["fast"] == 20)].iloc[0]
    single = backtest(ma, {"fast": 20, "slow": 100}, close[["KO"]], sizing=sizing, initial_capital=100_000.0)
    assert row["total_return"] == pytest.approx(single.metrics.loc["KO", "total_return"], rel=1e-9)


def test_kelly_refusals() -> None:
    with pytest.raises(ValidationError, match="Kelly multiplier"):
        Sizing(mode="kelly", fraction=1.5)
    with pytest.raises(ConfigError, match="reads the strategy's own signals: pass them"):
        sizing_scale(np.ones((5, 1)), Sizing(mode="kelly"))


def test_a_walk_forward_window_sized_by_kelly_reads_only_its_past() -> None:
    """evaluate_sleeves (a walk-forward trial's unit) with Kelly: a set's figures do not depend on
    the chunk it is scored in, and the scale reads the signals' history before the window."""
    from raytrade.backtest import evaluate_sleeves

    close = load_prices(["KO", "XOM"], start="2000-01-01", end="2010-12-31").to_numpy()
    ma = get_strategy("ma_crossover")
    block = ma.space.grid({"fast": [10, 20, 30], "slow": [100]})
    sizing = Sizing(mode="kelly", fraction=0.5, kelly_lookback=120, max_leverage=1.5)
    whole = evaluate_sleeves(ma, close, block, 1000, 1500, sizing=sizing, warmup=100)
    part = evaluate_sleeves(ma, close, block.take(slice(1, 2)), 1000, 1500, sizing=sizing, warmup=100)
    np.testing.assert_allclose(part.equity[:, 0], whole.equity[:, 1], rtol=1e-12)
    assert whole.equity[0, 0] == pytest.approx(100_000.0)
    assert np.ptp(whole.equity[:, 1]) > 0   # sized from the first bar of the window (history before it)
