"""Monte Carlo: reproducible by seed whatever the chunking, and the resampling schemes behave."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.backtest.montecarlo import (
    CHUNK_PATHS,
    Method,
    chunk_plan,
    simulate,
    simulate_chunk,
    trade_returns,
)
from raytrade.core.errors import DomainError


def test_chunk_plan_is_fixed_size():
    plan = chunk_plan(2500, seed=1)
    assert [n for n, _ in plan] == [CHUNK_PATHS, CHUNK_PATHS, 500]
    with pytest.raises(DomainError):
        chunk_plan(0, 1)


@pytest.mark.parametrize("method", list(Method))
def test_same_seed_same_summary(method):
    r = np.random.default_rng(0).normal(0.0004, 0.01, 500)
    a = simulate(r, 1500, method=method, seed=3)
    b = simulate(r, 1500, method=method, seed=3)
    assert a == b
    assert simulate(r, 1500, method=method, seed=4) != a or method is Method.RESHUFFLE


def test_chunks_in_any_order_give_the_same_paths():
    r = np.random.default_rng(1).normal(0, 0.01, 300)
    plan = chunk_plan(2500, seed=9)
    forward = [simulate_chunk(r, n, ss, method=Method.IID) for n, ss in plan]
    backward = [simulate_chunk(r, n, ss, method=Method.IID) for n, ss in reversed(plan)][::-1]
    for f, b in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(f.final, b.final)


def test_one_path_by_hand():
    r = np.array([0.10, -0.05, 0.02])
    out = simulate_chunk(r, 1, np.random.SeedSequence(0), method=Method.RESHUFFLE)
    # any order: the product is the same; the drawdown depends on the order
    assert out.final[0] == pytest.approx(1.10 * 0.95 * 1.02)
    assert out.max_drawdown[0] <= 0


def test_reshuffle_keeps_final_equity_and_changes_drawdowns():
    r = np.random.default_rng(2).normal(0.001, 0.02, 200)
    s = simulate(r, 2000, method=Method.RESHUFFLE, seed=1)
    assert s["final_equity"]["p1"] == pytest.approx(s["final_equity"]["p99"])
    assert s["max_drawdown"]["p1"] < s["max_drawdown"]["p99"]


def test_iid_mean_and_stationary_blocks_keep_autocorrelation():
    rng = np.random.default_rng(5)
    n = 3000
    # AR(1) returns with strong autocorrelation
    e = rng.normal(0, 0.01, n)
    r = np.empty(n)
    r[0] = e[0]
    for t in range(1, n):
        r[t] = 0.6 * r[t - 1] + e[t]
    iid = simulate_chunk(r, 400, np.random.SeedSequence(1), method=Method.IID, keep_curves=400)
    blocks = simulate_chunk(r, 400, np.random.SeedSequence(1), method=Method.STATIONARY, mean_block=50,
                            keep_curves=400)

    def lag1(curves):
        rets = curves[:, 1:] / curves[:, :-1] - 1
        return np.mean([np.corrcoef(x[1:], x[:-1])[0, 1] for x in rets])

    assert abs(lag1(iid.curves)) < 0.05
    assert lag1(blocks.curves) > 0.45
    # i.i.d. log growth is unbiased: mean of log final equity matches the history's
    assert np.mean(np.log(iid.final)) == pytest.approx(np.sum(np.log1p(r)), abs=4 * np.std(np.log(iid.final)) / 20)


def test_probabilities_by_construction():
    r = np.full(100, -0.001)
    s = simulate(r, 200, method=Method.IID, seed=0, drawdown_threshold=0.05)
    assert s["probability_of_loss"] == 1.0
    assert s["probability_drawdown_beyond"] == 1.0  # 0.999^100 - 1 = -9.5%


def test_bad_input():
    with pytest.raises(DomainError, match="finite"):
        simulate(np.array([0.1, np.nan, 0.2]), 10)
    with pytest.raises(DomainError, match="mean_block"):
        simulate(np.array([0.1, 0.2, 0.3]), 10, mean_block=0.5)


def test_trade_returns_by_hand():
    equity = np.array([[50.0, 50.0], [55.0, 50.0], [60.0, 50.0], [60.0, 45.0], [60.0, 45.0]])
    shares = np.array([[0, 0], [1, 0], [1, 2], [0, 2], [0, 0]], dtype=float)
    # sleeve 0: trip over bars 1-2: 60 - 50 = +10 on 100 -> +0.10, closes at bar 2
    # sleeve 1: trip over bars 2-3: 45 - 50 = -5 on 110 (portfolio at bar 1) -> closes at bar 3
    np.testing.assert_allclose(trade_returns(equity, shares), [0.10, -5 / 105])
