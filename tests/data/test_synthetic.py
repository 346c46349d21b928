"""Synthetic generators: seeded, labelled, and with the documented statistics."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.core.errors import DataError
from raytrade.data import (
    gbm_prices,
    intraday_bars,
    regime_switching_prices,
    u_shaped_volume_profile,
    validate_table,
)


def test_gbm_is_seeded_labelled_and_has_its_volatility():
    a = gbm_prices(20_000, 2, sigma=0.3, mu=0.0, seed=7)
    b = gbm_prices(20_000, 2, sigma=0.3, mu=0.0, seed=7)
    assert a.equals(b)
    assert a.attrs["synthetic"] is True
    assert all(c.startswith("SYN") for c in a.columns)
    vol = np.log(a).diff().std().to_numpy() * np.sqrt(252)
    assert vol == pytest.approx([0.3, 0.3], rel=0.03)
    assert not gbm_prices(100, seed=8).equals(gbm_prices(100, seed=7))


def test_gbm_correlation():
    a = gbm_prices(20_000, 2, correlation=0.6, seed=1)
    r = np.log(a).diff().dropna()
    assert r.corr().iloc[0, 1] == pytest.approx(0.6, abs=0.03)


def test_regime_switching_labels_and_volatility_per_regime():
    prices, regimes = regime_switching_prices(30_000, seed=3)
    assert prices.attrs["synthetic"] and regimes.attrs["synthetic"]
    r = np.log(prices.iloc[:, 0]).diff()
    bear = r[regimes == "bear"].std() * np.sqrt(252)
    bull = r[regimes == "bull"].std() * np.sqrt(252)
    assert bull == pytest.approx(0.12, rel=0.1)
    assert bear == pytest.approx(0.35, rel=0.1)


def test_regime_switching_refuses_bad_transitions():
    with pytest.raises(DataError, match="summing to 1"):
        regime_switching_prices(10, transitions=((0.5, 0.4), (0.1, 0.9)))


def test_u_shaped_profile():
    w = u_shaped_volume_profile(78)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] == pytest.approx(w[-1])
    assert w[0] / w[39] == pytest.approx(3.0, rel=0.05)
    assert w.argmin() in (38, 39)


def test_intraday_bars_are_valid_ohlcv_in_session_hours():
    bars = intraday_bars(3, bar_minutes=5, seed=2)
    assert bars.attrs["synthetic"] and bars.attrs["params"]["symbol"].startswith("SYN")
    assert len(bars) == 3 * 78
    validate_table(bars.reset_index(), source="synthetic", kind="ohlcv")
    local = bars.index.tz_convert("America/New_York")
    assert local.min().strftime("%H:%M") == "09:35" and local.max().strftime("%H:%M") == "16:00"
    per_bar = bars["volume"].to_numpy().reshape(3, 78).mean(axis=0)
    assert per_bar[:5].mean() > 2 * per_bar[35:43].mean()
