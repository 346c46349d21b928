"""The catalogue: at least ten registered strategies, each with a grid config and a walk-forward
config in the comparison; the crypto trend and the ensemble book's rules by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from raytrade.strategies.registry import get_strategy, strategy_class, strategy_names

ROOT = Path(__file__).resolve().parents[2]
ISSUE_LIST = {"ma_crossover", "ts_momentum", "bollinger_reversion", "pairs", "residual_reversion",
              "momentum_divergence", "covered_call", "cash_secured_put", "crypto_trend", "ensemble_long_short"}


def test_the_catalogue_has_every_named_strategy_with_its_configs():
    names = strategy_names()
    assert len(names) >= 10 and set(names) >= ISSUE_LIST
    compare = yaml.safe_load((ROOT / "configs/research/compare.yaml").read_text())
    compared = {yaml.safe_load((ROOT / p).read_text())["strategy"]["name"] for p in compare["runs"]}
    for name in names:
        assert (ROOT / "configs/strategies" / f"{name}.yaml").exists(), name
        assert name in compared, name
        assert strategy_class(name).name == name


def _signals(strategy, close, **params):
    block = strategy.space.block(params)
    return strategy.signals(strategy.prepare(np.asarray(close, dtype=float), block), block)[:, 0]


def test_crypto_trend_breakout_by_hand():
    """entry 3, exit 2: long above the highest of the 3 closes before, out below the lowest of the
    2 before; short below the lowest of the 3 before (shorts allowed), out above the highest of 2."""
    close = [10, 11, 12, 13, 12.5, 12.8, 12.0, 11.0, 10.5, 10.0, 10.6, 11.0, 12.0]
    # bar:   0   1   2   3    4     5     6     7     8     9    10    11    12
    # bar 3: 13 > max(10, 11, 12)               -> long
    # bar 4: 12.5 >= min(12, 13) = 12            -> still long;  bar 5: 12.8 >= min(13, 12.5) -> long
    # bar 6: 12.0 < min(12.5, 12.8)              -> out; 12.0 < min(13, 12.5, 12.8)? yes -> short
    # bar 7..9 falling: short held (never above the highest of 2 before)
    # bar 10: 10.6 > max(10.5, 10.0)             -> out; 10.6 > max(11, 10.5, 10)? no -> flat
    # bar 11: 11.0 > max(10.5, 10, 10.6) = 10.6  -> long;  bar 12: 12 -> long
    sig = _signals(get_strategy("crypto_trend", allow_short=True), close, entry=3, exit=2)
    assert sig.tolist() == [0, 0, 0, 1, 1, 1, -1, -1, -1, -1, 0, 1, 1]
    long_only = _signals(get_strategy("crypto_trend"), close, entry=3, exit=2)
    assert long_only.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]


def test_channels_equal_pandas_rolling_extremes_of_the_bars_before():
    from raytrade.data.loaders import load_crypto
    from raytrade.strategies.trend import _channel

    c = load_crypto(gaps="drop")["ETH-BTC"].to_numpy()[:5000]
    hi, lo = _channel(c, 288)
    s = pd.Series(c)
    np.testing.assert_array_equal(hi, s.rolling(288).max().shift(1).to_numpy())
    np.testing.assert_array_equal(lo, s.rolling(288).min().shift(1).to_numpy())


def test_crypto_trend_with_volatility_sizing_on_real_bars():
    """On the bundled ETH-BTC 5-minute bars with the walk-forward config's sizing: each position is
    base size x 30 % / the asset's volatility, so the book's realised volatility is near the target."""
    from raytrade.backtest import CostModel, Sizing, SizingMode, backtest
    from raytrade.data.loaders import load_crypto

    close = load_crypto(gaps="drop")[["ETH-BTC"]]
    sizing = Sizing(mode=SizingMode.VOL_TARGET, fraction=1.0, vol_target=0.30, vol_lookback=288, max_leverage=2.0)
    res = backtest(get_strategy("crypto_trend", allow_short=True), {"entry": 288, "exit": 144}, close,
                   costs=CostModel(commission_bps=10, half_spread_bps=2), sizing=sizing)
    assert res.periods_per_year == pytest.approx(365 * 288)
    held = res.signals["ETH-BTC"] != 0
    r = res.equity["PORTFOLIO"].pct_change()[held.shift(1, fill_value=False)]
    realised = float(r.std() * np.sqrt(365 * 288))
    assert 0.15 < realised < 0.6 and len(res.trades) > 5


def test_ensemble_book_weights_by_hand():
    """From predictions (given, not fitted): every `hold` bars the top quantile long and the bottom
    short at 0.5 / k each; held in between; nothing before the first prediction."""
    strategy = get_strategy("ensemble_long_short", allow_short=True)
    block = strategy.space.block({"quantile": 0.25, "hold": 2, "refit": 252, "train_bars": 756, "horizon": 21})
    pred = np.array([[np.nan] * 4, [0.9, 0.1, 0.5, 0.3], [0.1, 0.9, 0.5, 0.3], [0.1, 0.9, 0.5, 0.3],
                     [0.2, 0.3, 0.8, 0.1]])
    w = strategy.weights({(252, 756, 21): pred}, block)[:, 0, :]
    expected = np.array([[0, 0, 0, 0], [0.5, -0.5, 0, 0], [0.5, -0.5, 0, 0], [-0.5, 0.5, 0, 0], [-0.5, 0.5, 0, 0]])
    np.testing.assert_array_equal(w, expected)
    big = strategy.space.block({"quantile": 0.5, "hold": 1, "refit": 252, "train_bars": 756, "horizon": 21})
    w2 = strategy.weights({(252, 756, 21): pred[1:2]}, big)[0, 0]
    np.testing.assert_allclose(w2, [0.25, -0.25, 0.25, -0.25])     # 2 a side: gross 1, net 0


def test_ensemble_refits_on_known_labels_only():
    """The fits start once train_bars labelled rows exist after the features' warm-up; no
    prediction before; the predictions are the blended signal in [-1, 1]."""
    from raytrade.signals.book import FEATURE_WARMUP, walk_forward_predictions

    rng = np.random.default_rng(5)
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.02, (400, 3)), axis=0))
    pred = walk_forward_predictions(close, refit=40, train_bars=63, horizon=5)
    first = FEATURE_WARMUP + 63 + 5 - 1
    assert np.isnan(pred[:first]).all() and np.isfinite(pred[first:]).all()
    assert np.abs(pred[first:]).max() <= 1
    assert get_strategy("ensemble_long_short", allow_short=True).warmup(
        get_strategy("ensemble_long_short", allow_short=True).space.block({"train_bars": 63, "horizon": 5})) == first


def test_the_ensemble_book_fits_each_refit_once_as_the_history_grows():
    """The engine's runner computes a book's weights on its whole history at every bar: the models
    fitted at refits it has seen are reused (kept by the data they saw), so a new bar fits nothing
    until the next refit, and the weights of the bars before are unchanged."""
    strategy = get_strategy("ensemble_long_short", allow_short=True)
    block = strategy.space.block({"refit": 30, "train_bars": 63, "horizon": 5, "hold": 1})
    rng = np.random.default_rng(9)
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.02, (420, 3)), axis=0))
    w = strategy.weights(strategy.prepare(close[:400], block), block)
    fits = len(strategy.fitted)
    assert fits == len(range(252 + 63 + 5 - 1, 400, 30))
    longer = strategy.weights(strategy.prepare(close[:401], block), block)
    assert len(strategy.fitted) == fits                          # bar 400 is no refit: nothing fitted
    np.testing.assert_array_equal(longer[:400], w)
    strategy.prepare(close[:420], block)
    assert len(strategy.fitted) == fits + 1                      # bar 409 is
