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


# ---- the fast test, selection, hedge ratios, the trading rule and the strategy ----------------

from itertools import combinations  # noqa: E402

from raytrade.backtest import backtest  # noqa: E402
from raytrade.backtest.portfolio_runner import portfolio_weights  # noqa: E402
from raytrade.core.errors import ConfigError  # noqa: E402
from raytrade.data.loaders import load_dataset  # noqa: E402
from raytrade.strategies.pairs import (  # noqa: E402
    PairsTrading,
    benjamini_hochberg,
    cointegration_pvalues,
    engle_granger_fast,
    kalman_hedge,
    pair_positions,
    pair_weights,
    rolling_hedge,
    select_pairs,
)


def _synthetic_pair(seed: int, n: int = 1500, beta: float = 1.5, phi: float = 0.9):
    """Synthetic (seeded): B a random walk in logs, A = 0.3 + beta B + an AR(1) spread."""
    rng = np.random.default_rng(seed)
    b = np.cumsum(rng.normal(0, 0.01, n)) + 4.0
    spread = np.zeros(n)
    for t in range(1, n):
        spread[t] = phi * spread[t - 1] + rng.normal(0, 0.005)
    return 0.3 + beta * b + spread, b


def test_the_fast_test_equals_coint_on_real_windows_of_every_length() -> None:
    logs = np.log(load_dataset("us_equities_20").to_numpy())
    for n in (30, 61, 252, 1000, 2520):
        for i, j in list(combinations(range(20), 2))[::37]:
            a, b = logs[-n:, i], logs[-n:, j]
            t, p, _ = coint(a, b, trend="c", method="aeg", autolag="aic")
            fast = engle_granger_fast(a, b)
            assert fast.tstat == pytest.approx(t, rel=1e-9) and fast.pvalue == pytest.approx(p, rel=1e-9, abs=1e-15)
    x = np.cumsum(np.random.default_rng(0).normal(size=100))
    assert engle_granger_fast(2 * x + 1, x).tstat == -np.inf  # collinear, as coint reports it
    # the batched form (windows up to BATCH_MAX_BARS) and its vectorised MacKinnon p-values
    from statsmodels.tsa.adfvalues import mackinnonp

    from raytrade.strategies.pairs import _mackinnon_p2

    grid = np.linspace(-12, 4, 801)
    np.testing.assert_array_equal(_mackinnon_p2(grid), [mackinnonp(t, regression="c", N=2) for t in grid])
    for n in (30, 252, 1000):
        window = logs[-n - 500: -500, :7]
        np.testing.assert_allclose(cointegration_pvalues(window)[1], cointegration_pvalues(window, fast=False)[1],
                                   rtol=1e-9, atol=1e-14)


def test_benjamini_hochberg_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04, 0.2 against i x 0.05 / 5 = 0.01, 0.02, 0.03, 0.04, 0.05
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005, 0.2]), 0.05).tolist() == [True, True, True, True,
                                                                                         False]
    # step-up: 0.028 > 2 x 0.0125 fails, but 0.03 <= 3 x 0.0125 passes, so all three are rejected
    assert benjamini_hochberg(np.array([0.001, 0.03, 0.028, 0.5]), 0.05).tolist() == [True, True, True, False]
    # none below its line; a NaN neither counts nor passes
    assert not benjamini_hochberg(np.array([0.02, 0.03, np.nan]), 0.01).any()
    assert benjamini_hochberg(np.array([0.02, np.nan]), 0.05).tolist() == [True, False]  # m = 1
    with pytest.raises(ConfigError, match="fdr"):
        benjamini_hochberg(np.array([0.1]), 1.5)


def test_selection_finds_the_planted_pair_and_controls_the_others() -> None:
    a, b = _synthetic_pair(3, n=600)
    rng = np.random.default_rng(4)
    walks = np.cumsum(rng.normal(0, 0.01, (600, 4)), axis=0) + 3.0   # synthetic, independent
    logs = np.column_stack([walks[:, :2], a, walks[:, 2:], b])
    chosen = select_pairs(logs, fdr=0.05, max_pairs=5)
    assert [(p.a, p.b) for p in chosen][:1] == [(2, 5)] and chosen[0].beta == pytest.approx(1.5, abs=0.05)
    pairs, pvalues = cointegration_pvalues(logs)
    assert len(pairs) == 15 and (2, 5) in pairs
    slow = cointegration_pvalues(logs, fast=False)[1]
    np.testing.assert_allclose(pvalues, slow, rtol=1e-9)


def test_rolling_hedge_by_window_regression() -> None:
    a, b = _synthetic_pair(5, n=200)
    alpha, beta, z = rolling_hedge(a, b, 50)
    for t in (49, 120, 199):
        slope, icpt = np.polyfit(b[t - 49: t + 1], a[t - 49: t + 1], 1)
        resid = a[t - 49: t + 1] - icpt - slope * b[t - 49: t + 1]
        assert beta[t] == pytest.approx(slope, rel=1e-8) and alpha[t] == pytest.approx(icpt, rel=1e-8, abs=1e-10)
        assert z[t] == pytest.approx(resid[-1] / np.sqrt(resid @ resid / 48), rel=1e-7)
    assert np.isnan(beta[:49]).all()


def test_kalman_hedge_tracks_the_true_ratio_without_reading_ahead() -> None:
    a, b = _synthetic_pair(6, n=1500)
    _, beta, z = kalman_hedge(a, b)
    assert abs(np.nanmedian(beta[-500:]) - 1.5) < 0.1
    a2 = a.copy()
    a2[1000:] += 0.5
    _, beta2, z2 = kalman_hedge(a2, b)
    np.testing.assert_array_equal(beta[:1001], beta2[:1001])   # the estimate at t is made before seeing t
    np.testing.assert_array_equal(z[:1000], z2[:1000])


def test_entry_exit_and_stop_on_a_hand_built_spread() -> None:
    nan = np.nan
    z = np.array([nan, 0.0, 1.0, 2.5, 1.5, 0.1, -2.1, -3.5, -2.5, -1.0, -2.2, nan, 2.1, 3.4, 2.0, 0.3, 0.2])
    expected = [0, 0, 0, -1, -1, 0, 1, 0, 0, 0, 1, 0, -1, 0, 0, 0, 0]
    #  2.5 > 2 enters short; 0.1 <= 0.2 exits; -2.1 enters long; -3.5 stops out; -2.5 does not
    #  re-enter (not back inside 2 yet); -1.0 re-arms; -2.2 enters; NaN closes; 2.1 enters short;
    #  3.4 stops; 2.0 is not > 2 so stays flat (re-armed: 2.0 is not < 2 either, so still not)
    assert pair_positions(z, 2.0, 0.2, 3.0).tolist() == expected
    # beyond the stop at first sight: no entry there, but no stop either, so 2.5 enters
    assert pair_positions(np.array([3.5, 2.5]), 2.0, 0.2, 3.0).tolist() == [0, -1]
    wa, wb = pair_weights(np.array([0.0, 1.0, 1.0, -1.0, 0.0]), np.array([9.0, 2.0, 5.0, 0.5, 1.0]), 0.5)
    # beta held from each entry: 2.0 for the long trade, 0.5 for the short one
    np.testing.assert_allclose(wa, [0, 0.5 / 3, 0.5 / 3, -0.5 / 1.5, 0])
    np.testing.assert_allclose(wb, [0, -1.0 / 3, -1.0 / 3, 0.25 / 1.5, 0])


def test_the_strategy_trades_the_planted_pair_as_a_neutral_book() -> None:
    import pandas as pd

    a, b = _synthetic_pair(8, n=900)
    rng = np.random.default_rng(9)
    walk = np.cumsum(rng.normal(0, 0.01, 900)) + 3.0
    index = pd.date_range("2015-01-01", periods=900, freq="B", tz="UTC")
    close = pd.DataFrame(np.exp(np.column_stack([a, b, walk])), index=index, columns=["A", "B", "W"])
    strat = PairsTrading(allow_short=True)
    params = {"formation": 250, "reselect": 125, "max_pairs": 1}
    block = strat.space.block(params)
    w = portfolio_weights(strat, close.to_numpy(), block)[:, 0]
    assert (w[:249] == 0).all() and (w[:, 2] == 0).all()         # nothing before formation; W never cointegrated
    held = w[:, 0] != 0
    assert held.any() and (np.sign(w[held, 0]) == -np.sign(w[held, 1])).all()
    np.testing.assert_allclose(np.abs(w[held]).sum(axis=1), 1.0)  # the pair's gross, 1 / max_pairs
    result = backtest(strat, params, close)
    assert result.metrics.loc["PORTFOLIO", "round_trips"] > 5 and result.metrics.loc["PORTFOLIO", "total_return"] > 0
    with pytest.raises(ConfigError, match="allow_short"):
        backtest(PairsTrading(), params, close)


def test_selection_on_ray_tasks_equals_one_process(ray_session) -> None:
    from raytrade.tune.pairs import pvalues_on_ray, select_pairs_on_ray

    logs = np.log(load_dataset("us_equities_20").to_numpy()[-252:, :8])   # 28 pairs, the last year
    pairs, local = cointegration_pvalues(logs, fast=False)
    ray_pairs, remote = pvalues_on_ray(logs, tasks=3, fast=False)
    assert ray_pairs == pairs and np.array_equal(local, remote)
    assert select_pairs_on_ray(logs, fdr=0.2, tasks=2) == select_pairs(logs, fdr=0.2, fast=False)
