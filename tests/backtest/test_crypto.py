"""Crypto around the clock: the 24/7 calendar and its annualisation in metrics and sizing, the real
gap in the XMR-BTC bars, and volatility-scaled sizing (base size x target / asset volatility)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest import Sizing, SizingMode, backtest, sizing_scale
from raytrade.core.calendars import bars_per_year, infer_calendar
from raytrade.core.errors import BacktestError, DataError
from raytrade.data.loaders import bar_gaps, load_crypto, load_dataset
from raytrade.strategies import get_strategy

FIVE_MIN_YEAR = 365 * 24 * 12  # 105,120 five-minute bars in a 24/7 year


def test_calendars_are_inferred_from_the_timestamps():
    assert infer_calendar(load_crypto().index) == ("CRYPTO", 5.0)
    assert bars_per_year(load_crypto().index) == FIVE_MIN_YEAR
    assert bars_per_year(load_dataset("us_equities_20").index) == 252
    daily_btc = pd.date_range("2021-01-01", periods=60, freq="D", tz="UTC")   # weekends included
    assert bars_per_year(daily_btc) == 365
    assert bars_per_year(load_dataset("crypto_alt_btc_1m").index) == 365 * 1440


def test_a_crypto_backtest_is_annualised_over_365_days_of_5_minute_bars():
    close = load_crypto(["ETH-BTC"])
    result = backtest(get_strategy("ts_momentum", allow_short=True), {"lookback": 48}, close)
    eq = result.equity["PORTFOLIO"].to_numpy()
    r = eq[1:] / eq[:-1] - 1
    port = result.metrics.loc["PORTFOLIO"]
    assert result.periods_per_year == FIVE_MIN_YEAR
    assert port["annual_volatility"] == pytest.approx(np.std(r, ddof=1) * math.sqrt(FIVE_MIN_YEAR), rel=1e-10)
    assert port["sharpe"] == pytest.approx(r.mean() / np.std(r, ddof=1) * math.sqrt(FIVE_MIN_YEAR), rel=1e-10)
    assert port["annual_return"] == pytest.approx((eq[-1] / eq[0]) ** (FIVE_MIN_YEAR / (len(eq) - 1)) - 1, rel=1e-10)
    stats = result.stats()   # buy and hold annualised the same way
    hold = result.buy_and_hold().to_numpy()
    hr = hold[1:] / hold[:-1] - 1
    assert stats.loc["annual_volatility", "buy_and_hold"] == pytest.approx(
        np.std(hr, ddof=1) * math.sqrt(FIVE_MIN_YEAR), rel=1e-10)


def test_volatility_scaled_size_is_base_times_target_over_asset_volatility():
    close = load_crypto(["LTC-BTC"])["LTC-BTC"].to_numpy()
    sizing = Sizing(mode=SizingMode.VOL_TARGET, fraction=1.0, vol_target=0.30, vol_lookback=288, max_leverage=3.0)
    scale = sizing_scale(close[:, None], sizing, periods_per_year=FIVE_MIN_YEAR)[:, 0]
    t = 4000
    r = close[t - 288: t + 1][1:] / close[t - 288: t + 1][:-1] - 1       # the last day of returns up to bar t
    sigma = np.std(r, ddof=1) * math.sqrt(FIVE_MIN_YEAR)
    assert scale[t] == pytest.approx(min(3.0, 1.0 * 0.30 / sigma), rel=1e-10)
    assert (scale[:288] == 0).all()
    half = Sizing(mode=SizingMode.VOL_TARGET, fraction=0.5, vol_target=0.30, vol_lookback=288, max_leverage=3.0)
    halved = sizing_scale(close[:, None], half, periods_per_year=FIVE_MIN_YEAR)[:, 0]
    warm = (scale > 0) & (scale < 3.0)
    assert warm.sum() > 5000
    np.testing.assert_allclose(halved[warm], 0.5 * scale[warm], rtol=1e-12)
    # the product's example: an asset at 45 % volatility against a 30 % target holds 2/3 of the base size
    rng = np.random.default_rng(0)   # synthetic (seeded): daily returns of exactly 45 % annual volatility
    r45 = rng.normal(0, 1, 400)
    r45 = (r45 - r45.mean()) / r45.std(ddof=1) * 0.45 / math.sqrt(365)
    c45 = 100 * np.cumprod(np.r_[1.0, 1 + r45])
    s45 = sizing_scale(c45[:, None], Sizing(mode=SizingMode.VOL_TARGET, vol_target=0.30, vol_lookback=400),
                       periods_per_year=365)[:, 0]
    assert s45[-1] == pytest.approx(0.30 / 0.45, rel=1e-12)


def test_the_real_gap_in_the_xmr_bars():
    xmr = load_dataset("crypto_xmr_btc_5m")
    holes = bar_gaps(xmr.index, "5min")
    assert holes["missing"].tolist() == [1, 1]
    assert [str(t) for t in holes["after"]] == ["2018-01-27 14:35:00+00:00", "2018-01-27 22:45:00+00:00"]
    assert bar_gaps(load_dataset("crypto_eth_btc_5m").index, "5min").empty
    side_by_side = load_crypto()
    with pytest.raises(BacktestError, match=r"XMR-BTC at 2018-01-27 14:40:00\+00:00 is nan"):
        backtest(get_strategy("ts_momentum"), {"lookback": 48}, side_by_side)
    dropped = load_crypto(gaps="drop")
    assert len(dropped) == len(side_by_side) - 2 and len(dropped.attrs["dropped"]) == 2
    result = backtest(get_strategy("ts_momentum"), {"lookback": 48}, dropped)
    assert np.isfinite(result.metrics.loc["PORTFOLIO", "sharpe"]) and result.periods_per_year == FIVE_MIN_YEAR
    # one pair alone runs straight across its gap: the return over it spans 15 minutes
    alone = backtest(get_strategy("ts_momentum"), {"lookback": 48}, xmr[["close"]].rename(columns={"close": "XMR"}))
    assert len(alone.equity) == 5758
    with pytest.raises(DataError, match="gaps must be nan or drop"):
        load_crypto(gaps="ffill")
