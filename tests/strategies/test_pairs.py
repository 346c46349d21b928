"""Engle-Granger on synthetic pairs (seeded, labelled) with a known answer, and on bundled stocks."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.stattools import coint

from raytrade.core.errors import DataError
from raytrade.data import load_prices
from raytrade.strategies.pairs import engle_granger


def test_a_synthetic_cointegrated_pair_is_found_with_its_hedge_ratio() -> None:
    rng = np.random.default_rng(11)
    b = np.cumsum(rng.normal(0, 0.01, 2000)) + 4.0          # a random walk (synthetic)
    spread = np.zeros(2000)
    for t in range(1, 2000):                                # a stationary AR(1) spread
        spread[t] = 0.9 * spread[t - 1] + rng.normal(0, 0.005)
    a = 0.3 + 1.5 * b + spread
    eg = engle_granger(a, b)
    assert eg.pvalue < 0.01 and eg.beta == pytest.approx(1.5, abs=0.02) and eg.intercept == pytest.approx(0.3, abs=0.1)
    t, p, _ = coint(a, b)  # statsmodels' defaults, called directly
    assert (eg.tstat, eg.pvalue) == (pytest.approx(t), pytest.approx(p))
    walk = np.cumsum(rng.normal(0, 0.01, 2000))             # independent: no cointegration
    assert engle_granger(walk, b).pvalue > 0.05


def test_on_bundled_stocks_and_bad_input() -> None:
    px = np.log(load_prices(["KO", "PEP"], start="2010-01-01"))
    eg = engle_granger(px["KO"].to_numpy(), px["PEP"].to_numpy())
    assert 0 <= eg.pvalue <= 1 and np.isfinite(eg.beta)
    with pytest.raises(DataError, match="aligned"):
        engle_granger(np.ones(40), np.ones(41))
    with pytest.raises(DataError, match="observation 3"):
        engle_granger(np.r_[np.ones(3), np.nan, np.ones(40)], np.ones(44))
