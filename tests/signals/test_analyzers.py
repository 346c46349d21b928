"""Analyzers against hand computation and reference loops; regimes on the bundled S&P 500."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from raytrade.core import DataError
from raytrade.data import load_factor_etfs, load_index_close, load_prices
from raytrade.signals import (
    MarketRegime,
    RegimeDetector,
    factor_betas,
    mean_reversion,
    momentum,
    roll_spread,
    rsi,
    volatility,
)

IDX = pd.date_range("2020-01-01", periods=8, freq="D", tz="UTC")


def frame(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"X": values}, index=IDX[: len(values)])


def test_rsi_equals_wilders_loop() -> None:
    prices = [44.0, 44.3, 44.1, 44.6, 45.2, 45.0, 45.5, 46.0]
    got = rsi(frame(prices), window=3)["X"].to_numpy()
    gains = [max(b - a, 0) for a, b in itertools.pairwise(prices)]
    losses = [max(a - b, 0) for a, b in itertools.pairwise(prices)]
    g, lo = gains[0], losses[0]  # Wilder's recursion seeded like ewm(adjust=False): first value
    expected = [math.nan]
    for i in range(1, len(prices)):
        if i > 1:
            g = g + (gains[i - 1] - g) / 3
            lo = lo + (losses[i - 1] - lo) / 3
        expected.append(100 - 100 / (1 + g / lo) if i >= 3 else math.nan)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_momentum_features_by_hand_and_score_bounded() -> None:
    c = load_prices(["AAPL", "KO"], start="2010-01-01", end="2014-12-31")
    m = momentum(c)
    t = 300
    assert m.features["ret_21"].iat[t, 0] == pytest.approx(math.log(c.iat[t, 0] / c.iat[t - 21, 0]))
    sma = c.iloc[:, 1].rolling(50).mean()
    assert m.features["ma_slope"].iat[t, 1] == pytest.approx((sma.iat[t] - sma.iat[t - 20]) / c.iat[t, 1])
    s = m.score.to_numpy()
    assert np.nanmin(s) >= -1 and np.nanmax(s) <= 1 and np.isnan(s[:126]).all() and not np.isnan(s[126:]).any()


def test_no_feature_reads_the_future() -> None:
    c = load_prices(["KO", "JPM"], start="2015-01-01", end="2016-12-31")
    cut = 400
    changed = c.copy()
    changed.iloc[cut + 1:] *= np.random.default_rng(7).uniform(0.5, 1.5, size=changed.iloc[cut + 1:].shape)
    etfs = load_factor_etfs()
    for analyze in (momentum, mean_reversion, volatility, lambda p: factor_betas(p, etfs)):
        a, b = analyze(c), analyze(changed)
        for name in a.features:
            pd.testing.assert_frame_equal(a.features[name].iloc[: cut + 1], b.features[name].iloc[: cut + 1])
        pd.testing.assert_frame_equal(a.score.iloc[: cut + 1], b.score.iloc[: cut + 1])


def test_mean_reversion_by_hand_and_half_life_of_a_known_process() -> None:
    values = [10.0, 11.0, 9.0, 10.0, 12.0]
    a = mean_reversion(frame(values), window=5, k=2.0)
    mean, std = np.mean(values), np.std(values, ddof=1)
    assert a.features["zscore"].iat[4, 0] == pytest.approx((12 - mean) / std)
    assert a.features["pct_b"].iat[4, 0] == pytest.approx((12 - (mean - 2 * std)) / (4 * std))
    assert a.score.iat[4, 0] == pytest.approx(-math.tanh((12 - mean) / std / 2))
    # Synthetic (seeded, labelled): log price an AR(1) around 0 with phi = 0.9; dp = (phi - 1) p +
    # noise, so the half-life is -ln 2 / (phi - 1) = 6.93 bars.
    rng = np.random.default_rng(3)
    p = np.zeros(3000)
    for i in range(1, len(p)):
        p[i] = 0.9 * p[i - 1] + rng.normal(0, 0.01)
    synthetic = pd.DataFrame({"SYN": np.exp(p)}, index=pd.date_range("2000-01-01", periods=len(p), tz="UTC"))
    hl = mean_reversion(synthetic).features["half_life"]["SYN"].dropna()
    assert hl.median() == pytest.approx(-math.log(2) / (0.9 - 1), rel=0.25)
    # a random walk does not revert: its half-life sits at the cap (10 x 126 bars) much of the time
    walk = pd.DataFrame({"SYN": np.exp(np.cumsum(rng.normal(0, 0.01, 3000)))}, index=synthetic.index)
    hl_walk = mean_reversion(walk).features["half_life"]["SYN"]
    assert hl_walk.iloc[:126].isna().all() and hl_walk.iloc[126:].notna().all() and hl_walk.max() == 1260


def test_volatility_by_hand() -> None:
    close = frame([100.0, 102.0, 101.0, 103.0])
    high = frame([101.0, 103.0, 102.5, 104.0])
    low = frame([99.0, 100.5, 100.0, 101.0])
    v = volatility(close, high, low, window=3, regime_window=4)
    r = np.diff(np.log([100.0, 102.0, 101.0, 103.0]))
    assert v.features["vol_cc"].iat[3, 0] == pytest.approx(np.std(r, ddof=1) * math.sqrt(252))
    hl = np.log(np.array([103.0, 102.5, 104.0]) / np.array([100.5, 100.0, 101.0])) ** 2
    assert v.features["vol_parkinson"].iat[3, 0] == pytest.approx(math.sqrt(hl.mean() / (4 * math.log(2))) * math.sqrt(252))


def test_bad_prices_are_named() -> None:
    with pytest.raises(DataError, match=r"column 'X', row 2"):
        momentum(frame([1.0, 2.0, float("nan"), 3.0]))
    with pytest.raises(DataError, match="finite and > 0"):
        volatility(frame([1.0, -2.0]))


def test_regimes_on_the_bundled_sp500() -> None:
    regimes = RegimeDetector().detect(load_index_close())

    def share(period: str | slice, regime: MarketRegime) -> float:
        return float((regimes.loc[period] == regime.value).mean())

    assert share("2008-10", MarketRegime.CRISIS) >= 0.9
    assert share(slice("2020-03-12", "2020-03-31"), MarketRegime.CRISIS) == 1.0
    assert share("2020-03", MarketRegime.CRISIS) >= 0.5
    assert share("2017", MarketRegime.LOW_VOLATILITY) >= 0.9
    assert set(regimes.dropna().unique()) == {r.value for r in MarketRegime}
    assert regimes.iloc[:62].isna().all()


def test_factor_betas_by_hand_on_the_bundled_etfs() -> None:
    c = load_prices(["AAPL", "KO"], start="2015-01-01", end="2018-12-31")
    f = load_factor_etfs(start="2015-01-01", end="2018-12-31")
    a = factor_betas(c, f)
    t = 500
    r = np.log(c["KO"]).diff().iloc[t - 125:t + 1].to_numpy()
    x = np.log(f["USMV"]).diff().reindex(c.index).iloc[t - 125:t + 1].to_numpy()
    assert a.features["beta_usmv"]["KO"].iat[t] == pytest.approx(np.polyfit(x, r, 1)[0], rel=1e-9)
    assert a.features["quality"]["AAPL"].iat[t] == a.features["beta_qual"]["AAPL"].iat[t]
    assert a.features["momentum_12_1"]["KO"].iat[t] == pytest.approx(math.log(c["KO"].iat[t - 21] / c["KO"].iat[t - 252]))
    assert a.score.iat[t, 0] == pytest.approx(math.tanh(a.features["beta_mtum"].iat[t, 0]
                                                        - a.features["beta_usmv"].iat[t, 0]))
    assert 0.4 < a.features["beta_usmv"]["KO"].iloc[300:].median() < 1.5   # a staple loads on min-vol


def test_roll_spread_recovers_a_known_bid_ask_bounce() -> None:
    rng = np.random.default_rng(11)   # synthetic, seeded: a constant mid and trades at bid or ask at random
    side = rng.choice([-1.0, 1.0], 4000)
    prices = pd.DataFrame({"X": 100 * (1 + side * 0.0010)}, index=pd.date_range("2000-01-01", periods=4000, tz="UTC"))
    est = roll_spread(prices, window=3990)["X"].iat[-1]
    assert est == pytest.approx(20.0, rel=0.1)          # a 20 bps spread (bid 99.90, ask 100.10)
    d = np.diff(np.log(prices["X"].to_numpy()))[-64:]
    by_hand = 2 * math.sqrt(max(0.0, -np.cov(d[1:], d[:-1], ddof=1)[0, 1])) * 1e4
    assert roll_spread(prices, window=63)["X"].iat[-1] == pytest.approx(by_hand)
    trend = pd.DataFrame({"X": np.exp(np.cumsum(np.full(100, 0.01)))}, index=prices.index[:100])
    assert roll_spread(trend, window=20)["X"].iloc[-1] == pytest.approx(0.0, abs=1e-6)   # no bounce: 0, not NaN
