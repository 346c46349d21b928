"""Overfitting statistics against published examples and hand computation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from raytrade.analytics.overfitting import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    is_overfit,
    overfitting_ratio,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    psr_of_returns,
    walk_forward_efficiency,
)
from raytrade.core.errors import DomainError


def test_expected_max_factor_for_100_trials():
    # (1 - g) Phi^-1(0.99) + g Phi^-1(1 - 1/(100 e)) = 2.5306... (unit variance)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(2.5306028932016846, rel=1e-12)
    assert expected_max_sharpe(1, 4.0) == 0.0


def test_psr_published_example():
    # Bailey and Lopez de Prado, "The Sharpe Ratio Efficient Frontier" (2012): annualised SR 1.585
    # from 24 monthly returns, skewness -2.448, kurtosis 10.164 -> PSR(0) = 0.9132
    psr = probabilistic_sharpe_ratio(1.585 / math.sqrt(12), 0.0, 24, -2.448, 10.164)
    assert psr == pytest.approx(0.91323430688486018, rel=1e-10)


def test_dsr_published_example():
    # Bailey and Lopez de Prado, "The Deflated Sharpe Ratio" (2014): annualised SR 2.5 over
    # T = 1250 daily returns, N = 100 trials, V[SR_n] = 0.5 annualised, skew -3, kurtosis 10,
    # 250 days a year -> DSR = 0.9004
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.90039683444939034, rel=1e-10)


def test_dsr_from_returns_matches_the_formula():
    rng = np.random.default_rng(3)
    trials = rng.normal(0.0005, 0.01, size=(1000, 50))
    sharpes = trials.mean(axis=0) / trials.std(axis=0, ddof=1)
    best = int(np.argmax(sharpes))
    out = deflated_sharpe_ratio(trials[:, best], sharpes)
    r = trials[:, best]
    m = r.mean()
    skew = np.mean((r - m) ** 3) / np.mean((r - m) ** 2) ** 1.5
    kurt = np.mean((r - m) ** 4) / np.mean((r - m) ** 2) ** 2
    sr0 = expected_max_sharpe(50, sharpes.var(ddof=1))
    assert out.sr_benchmark == pytest.approx(sr0)
    assert out.skew == pytest.approx(skew) and out.kurtosis == pytest.approx(kurt)
    assert out.probability == pytest.approx(probabilistic_sharpe_ratio(sharpes[best], sr0, 1000, skew, kurt))
    # the best of 50 noise trials is not significant once deflated, though its plain PSR looks good
    assert out.probability < psr_of_returns(r).probability


def _pbo_by_hand(returns: np.ndarray, n_blocks: int) -> float:
    blocks = np.array_split(np.arange(len(returns)), n_blocks)
    logits = []
    for combo in itertools.combinations(range(n_blocks), n_blocks // 2):
        is_rows = np.concatenate([blocks[i] for i in combo])
        oos_rows = np.concatenate([blocks[i] for i in range(n_blocks) if i not in combo])
        def sr(x):
            return x.mean(axis=0) / x.std(axis=0, ddof=1)
        is_sr, oos_sr = sr(returns[is_rows]), sr(returns[oos_rows])
        n_star = int(np.argmax(is_sr))
        rank = 1 + sum(oos_sr[j] < oos_sr[n_star] for j in range(returns.shape[1]))
        w = rank / (returns.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
    return float(np.mean(np.array(logits) <= 0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pbo_equals_a_direct_implementation(seed):
    rng = np.random.default_rng(seed)
    returns = rng.normal(0, 0.01, size=(120, 7)) + rng.normal(0, 0.002, size=7)
    assert pbo_cscv(returns, n_blocks=6).pbo == pytest.approx(_pbo_by_hand(returns, 6))


def test_pbo_of_a_dominant_trial_is_zero_and_of_an_anti_persistent_grid_is_one():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, size=(400, 10))
    noise[:, 3] += 0.01  # one trial is better in every block
    assert pbo_cscv(noise, n_blocks=8).pbo == 0.0
    # each trial shines in exactly one half and is the worst in the other
    t = np.arange(400)
    base = rng.normal(0, 0.001, size=(400, 2))
    flip = np.column_stack([np.where((t // 50) % 2 == 0, 0.01, -0.01), np.where((t // 50) % 2 == 0, -0.01, 0.01)])
    result = pbo_cscv(base + flip, n_blocks=8)
    assert 0.0 < result.pbo <= 1.0
    assert len(result.logits) == math.comb(8, 4)


def test_pbo_of_pure_noise_is_near_one_half():
    rng = np.random.default_rng(7)
    result = pbo_cscv(rng.normal(0, 0.01, size=(1600, 50)), n_blocks=16)
    assert 0.3 < result.pbo < 0.7
    assert len(result.logits) == 12870


def test_pbo_refuses_bad_shapes():
    with pytest.raises(DomainError, match="even"):
        pbo_cscv(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(DomainError, match="N >= 2"):
        pbo_cscv(np.zeros((100, 1)))
    with pytest.raises(DomainError, match="rows"):
        pbo_cscv(np.zeros((10, 3)), n_blocks=16)
    with pytest.raises(DomainError, match="at least 2 observations"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0)
    with pytest.raises(DomainError, match="n_trials"):
        expected_max_sharpe(0, 0.01)


def test_ratio_efficiency_and_flags():
    assert overfitting_ratio(2.1, 1.2) == pytest.approx(1.75)
    assert not is_overfit(1.75)
    assert overfitting_ratio(1.0, -0.2) == math.inf and is_overfit(math.inf)
    assert math.isnan(overfitting_ratio(-0.5, 0.3)) and not is_overfit(math.nan)
    assert walk_forward_efficiency(0.06, 0.12) == pytest.approx(0.5)
    assert math.isnan(walk_forward_efficiency(0.06, -0.01))


def test_moments_are_scipys_population_skew_and_raw_kurtosis() -> None:
    from scipy import stats

    from raytrade.analytics.overfitting import moments

    r = np.random.default_rng(3).standard_t(4, size=2_000) * 0.01
    sr, skew, kurt = moments(r)
    assert sr == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert skew == pytest.approx(stats.skew(r), rel=1e-10)
    assert kurt == pytest.approx(stats.kurtosis(r, fisher=False), rel=1e-10)
    assert all(math.isnan(v) for v in moments(np.full(10, 0.01))[1:])


def test_sharpe_of_constant_returns_is_nan_even_when_the_float_std_is_not_zero():
    from raytrade.analytics.overfitting import sharpe_per_period

    r = np.column_stack([np.full(252, 0.1), np.full(252, 0.0), [0.01, -0.01] * 126])
    assert np.full(252, 0.1).std(ddof=1) > 0  # the rounding residue this guards against
    sr = sharpe_per_period(r)
    assert np.isnan(sr[0]) and np.isnan(sr[1]) and sr[2] == pytest.approx(0.0, abs=1e-12)
