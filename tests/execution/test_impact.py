"""Impact functions, spread estimators and the liquidity score by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raytrade.core.errors import ConfigError
from raytrade.execution.impact import (
    ImpactModel,
    corwin_schultz_spread,
    liquidity_score,
    participation_cap,
    roll_spread,
    square_root_impact,
)


def test_the_power_law_by_hand() -> None:
    m = ImpactModel()
    sigma = 0.02
    # 10% of ADV over half a day: rate 0.2 of the daily volume rate
    assert m.temporary(0.2, sigma) == pytest.approx(0.142 * 0.02 * 0.2**0.6)
    assert m.permanent(0.1, sigma) == pytest.approx(0.314 * 0.02 * 0.1)
    assert m.cost(100_000, 1_000_000, sigma, days=0.5) == pytest.approx(0.142 * 0.02 * 0.2**0.6 + 0.314 * 0.02 * 0.1 / 2)
    # 0.00284 x 0.2^0.6 = 10.81 bps temporary, plus half of 6.28 bps permanent
    assert m.cost(100_000, 1_000_000, sigma, days=0.5) * 1e4 == pytest.approx(13.95, abs=0.01)
    np.testing.assert_allclose(m.temporary(np.array([0.0, 0.01, 1.0]), sigma), [0.0, 0.142 * 0.02 * 0.01**0.6,
                                                                               0.142 * 0.02])
    with pytest.raises(ConfigError):
        m.cost(1, 0, sigma)


def test_the_square_root_law_by_hand() -> None:
    assert square_root_impact(40_000, 1_000_000, 0.015) == pytest.approx(0.015 * 0.2)  # 30 bps
    assert square_root_impact(40_000, 1_000_000, 0.015, y=0.5) == pytest.approx(0.0015)
    m = ImpactModel(kind="square_root")
    assert m.permanent(0.1, 0.02) == 0.0 and m.temporary(0.04, 0.02) == pytest.approx(0.02 * 0.2)


def test_roll_recovers_the_spread_of_a_pure_bid_ask_bounce() -> None:
    """Synthetic (seeded): a constant mid of 100 and trades at the bid or the ask at random; the
    log-return autocovariance of a bounce of half-spread h is -h^2/100^2 in the limit."""
    rng = np.random.default_rng(3)
    spread = 0.10  # dollars: 10 bps of 100
    prices = 100 + spread / 2 * rng.choice([-1.0, 1.0], size=200_000)
    assert roll_spread(prices) == pytest.approx(spread / 100, rel=0.02)
    assert roll_spread(np.linspace(100, 110, 50)) == 0.0  # a trend has no negative autocovariance


def test_corwin_schultz_by_hand_on_two_days() -> None:
    h, lo = np.array([101.0, 102.0]), np.array([99.0, 100.0])
    k = 3 - 2 * math.sqrt(2)
    beta = math.log(101 / 99) ** 2 + math.log(102 / 100) ** 2
    gamma = math.log(102 / 99) ** 2
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    want = max(2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha)), 0.0)
    assert corwin_schultz_spread(h, lo) == pytest.approx(want)
    # a wide daily range that does not move between days reads as spread
    assert corwin_schultz_spread(np.array([101.0, 101.0, 101.0]), np.array([99.0, 99.0, 99.0])) > 0.01
    with pytest.raises(ConfigError):
        corwin_schultz_spread(np.array([1.0]), np.array([2.0]))


def test_liquidity_score_and_the_participation_cap_it_sets() -> None:
    # 4 bps spread, 1% daily vol, 1% of ADV: c = 2 + 10 = 12 bps -> 1 / 2.2
    assert liquidity_score(0.0004, 0.01) == pytest.approx(1 / 2.2)
    # depth: $1M against $400M a day is q = 0.0025 -> c = 2 + 5 = 7 bps
    assert liquidity_score(0.0004, 0.01, adv_notional=4e8) == pytest.approx(1 / 1.7)
    assert liquidity_score(0.0, 0.0) == 1.0 and liquidity_score(0.05, 0.05) < 0.05
    assert participation_cap(1.0) == pytest.approx(0.25) and participation_cap(0.0) == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        liquidity_score(-0.1, 0.01)


def test_the_kernels_cost_is_the_temporary_plus_half_the_permanent_the_broker_pays() -> None:
    """One model, two callers: the backtest kernel's per-share cost (formulas.impact_cost) equals
    the temporary impact the paper broker charges plus half the permanent move it makes."""
    import numpy as np

    from raytrade.execution.impact import ImpactModel

    rng = np.random.default_rng(5)
    for _ in range(200):
        m = ImpactModel(kind=str(rng.choice(["power_law", "square_root"])), eta=rng.uniform(0, 1),
                        beta=rng.uniform(0.2, 1.5), gamma=rng.uniform(0, 1), y=rng.uniform(0, 2))
        q, adv, sigma = rng.uniform(1, 1e5), rng.uniform(1e3, 1e7), rng.uniform(1e-4, 0.05)
        expected = float(m.temporary(q / adv, sigma)) + float(m.permanent(q / adv, sigma)) / 2
        assert m.period_cost(q, adv, sigma) == pytest.approx(expected, rel=1e-12)
        assert m.cost(q, adv, sigma) == pytest.approx(expected, rel=1e-12)
