"""Kelly fractions by hand and against a brute-force maximisation of the growth rate."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.core.errors import DataError
from raytrade.risk.kelly import kelly_continuous, kelly_discrete, kelly_from_trades


def test_discrete_by_hand_and_by_brute_force() -> None:
    assert kelly_discrete(0.6, 1.0) == pytest.approx(0.2)          # the textbook even-money coin
    assert kelly_discrete(0.5, 2.0) == pytest.approx(0.25)
    assert kelly_discrete(0.4, 1.0, cap=1.0) == pytest.approx(-0.2)  # the other side
    grid = np.linspace(0, 0.99, 9901)
    for p, b in ((0.6, 1.0), (0.55, 1.5), (0.3, 4.0)):
        growth = p * np.log1p(b * grid) + (1 - p) * np.log1p(-grid)  # expected log growth per bet
        assert kelly_discrete(p, b) == pytest.approx(grid[np.argmax(growth)], abs=1e-4)
    assert kelly_discrete(0.6, 1.0, fraction=0.5) == pytest.approx(0.1)
    assert kelly_from_trades(np.array([0.02, -0.01, 0.02, -0.01, 0.02])) == pytest.approx(0.6 - 0.4 / 2)


def test_continuous_by_hand_and_against_the_empirical_growth_maximum() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(0.0004, 0.01, 20_000)  # daily returns (synthetic, seeded)
    f = kelly_continuous(r, cap=10)
    assert f == pytest.approx(r.mean() / r.var(ddof=1))
    grid = np.linspace(0, 10, 2001)
    growth = np.log1p(np.outer(grid, r)).mean(axis=1)  # the history's realised log growth per period
    assert f == pytest.approx(grid[np.argmax(growth)], abs=0.15)
    assert kelly_continuous(r, cap=1.0) == 1.0 and kelly_continuous(r, fraction=0.5, cap=10) == pytest.approx(f / 2)
    assert kelly_continuous(r, risk_free=0.0001, cap=10) == pytest.approx((r.mean() - 0.0001) / r.var(ddof=1))
    assert kelly_continuous(r, target_vol=0.005, cap=10) == pytest.approx(f * 0.005 / r.std(ddof=1))
    with pytest.raises(DataError, match="no variance"):
        kelly_continuous(np.ones(10))
    with pytest.raises(DataError, match="winners and losers"):
        kelly_from_trades(np.array([0.1, 0.2]))
