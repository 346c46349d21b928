"""Walk-forward windows, scoring and assembly (pure, no Ray)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from raytrade.backtest import CostModel, Sizing, evaluate_sleeves
from raytrade.backtest.walkforward import (
    Inputs,
    make_windows,
    pbo_sample,
    plan_chunks,
    plan_tasks,
    resolve_objective,
    run_local,
    summarize,
)
from raytrade.core.errors import ConfigError
from raytrade.data import load_prices
from raytrade.strategies import get_strategy


def test_rolling_windows_tile_the_test_periods():
    windows = make_windows(1000, window=400, train_fraction=0.75)
    assert [(w.train_start, w.train_end, w.test_end) for w in windows] == [
        (0, 300, 400), (100, 400, 500), (200, 500, 600), (300, 600, 700), (400, 700, 800),
        (500, 800, 900), (600, 900, 1000)]
    for a, b in itertools.pairwise(windows):
        assert b.test_start == a.test_end


def test_anchored_windows_grow_from_the_start():
    windows = make_windows(1000, window=400, anchored=True, step=200)
    assert [(w.train_start, w.train_end, w.test_end) for w in windows] == [(0, 300, 400), (0, 500, 600), (0, 700, 800),
                                                                           (0, 900, 1000)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 2000}, "walkforward.window: 2000 bars is longer than the data"),
        ({"window": 400, "train_fraction": 1.0}, "walkforward.train_fraction"),
        ({"window": 400, "train_fraction": 0.0}, "walkforward.train_fraction"),
        ({"window": 400, "step": 50}, "walkforward.step: 50 is shorter than the test length 100"),
        ({"window": 24}, "need >= 20"),
    ],
)
def test_bad_windows(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_windows(1000, **kwargs)


def test_chunk_plan_bounds():
    # small work per set: bounded by parallelism (two trials per CPU overall)
    assert plan_chunks(1000, 1, 1e3, 2) == 250
    # huge work per set: bounded by ~3 s per trial
    assert plan_chunks(1000, 50, 1e9, 2) == 1
    tasks = plan_tasks(10, make_windows(1000, window=400), 1000, 3, 1, chunk_size=4)
    assert [(t.window, t.offset, t.size) for t in tasks[:4]] == [(-1, 0, 4), (-1, 4, 4), (-1, 8, 2), (0, 0, 4)]
    assert tasks[0].window == -1 and len(tasks) == 8 * 3


def test_objective_resolution():
    assert resolve_objective("sortino")({"sortino": np.array([1.0])})[0] == 1.0
    fn = resolve_objective("numpy:negative")
    assert fn(np.array([1.0]))[0] == -1.0
    with pytest.raises(ConfigError, match="unknown objective 'alpha'"):
        resolve_objective("alpha")
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_objective("no_such_module:f")


def test_pbo_sample_is_even_and_bounded():
    assert pbo_sample(10, 500).tolist() == list(range(10))
    s = pbo_sample(14751, 500)
    assert len(s) == 500 and s[0] == 0 and s[-1] == 14750


def _setup(symbols=("KO", "XOM", "MSFT")):
    close = load_prices(list(symbols), start="2000-01-01")
    strategy = get_strategy("ma_crossover", allow_short=False)
    block = strategy.space.grid({"fast": [5, 10, 20, 40], "slow": [60, 120, 200]})
    inputs = Inputs(close.to_numpy(), None, CostModel(commission_bps=1, half_spread_bps=2), Sizing(), 100_000.0,
                    strategy.warmup(block))
    return close, strategy, block, inputs


def test_result_does_not_depend_on_chunking():
    close, strategy, block, inputs = _setup()
    windows = make_windows(len(close), window=1500)
    a = summarize(run_local(strategy, inputs, block, windows, resolve_objective("sharpe"), chunk_size=1), block,
                  pbo_blocks=8)
    b = summarize(run_local(strategy, inputs, block, windows, resolve_objective("sharpe"), chunk_size=5), block,
                  pbo_blocks=8)
    assert a == b


def test_window_best_is_the_argmax_of_a_direct_evaluation():
    close, strategy, block, inputs = _setup()
    windows = make_windows(len(close), window=1500)
    result = run_local(strategy, inputs, block, windows, resolve_objective("sharpe"))
    from raytrade.analytics import performance_metrics

    for w in result.windows:
        eq = evaluate_sleeves(strategy, inputs.close, block, w.window.train_start, w.window.train_end,
                              costs=inputs.costs, warmup=inputs.warmup).equity
        sharpe = performance_metrics(eq)["sharpe"]
        assert w.best == int(np.nanargmax(sharpe))
        oos = evaluate_sleeves(strategy, inputs.close, block.take(slice(w.best, w.best + 1)), w.window.test_start,
                               w.window.test_end, costs=inputs.costs, warmup=inputs.warmup).equity
        assert w.oos_metrics["sharpe"] == pytest.approx(performance_metrics(oos)["sharpe"][0], rel=1e-12)
    n_test = sum(w.window.test_end - w.window.test_start for w in result.windows)
    assert len(result.oos_returns) == n_test


def test_summary_fields_and_flags():
    close, strategy, block, inputs = _setup()
    windows = make_windows(len(close), window=1500)
    s = summarize(run_local(strategy, inputs, block, windows, resolve_objective("sharpe")), block, pbo_blocks=8)
    assert s["n_trials"] == len(block) == s["dsr"]["n_trials"]
    assert 0.0 <= s["pbo"]["pbo"] <= 1.0 and s["pbo"]["combinations"] == 70
    assert 0.0 <= s["dsr"]["probability"] <= 1.0
    assert s["overfit"] == (s["overfitting_ratio"] > 2.0)
    assert len(s["windows"]) == len(windows)
    assert set(s["parameter_stability"]) == {"fast", "slow", "_sets"}
