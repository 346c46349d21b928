"""The bundled real datasets load validated, with their known properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.core.errors import DataError
from raytrade.data import (
    DATASETS,
    find_symbol,
    frame_digest,
    list_datasets,
    load_dataset,
    load_factor_etfs,
    load_fama_french,
    load_index_close,
    load_ohlcv,
    load_prices,
    load_sectors,
    load_symbol,
    sector_of,
    verify_bundled,
)

SYMBOLS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]


def test_checksums_match():
    assert len(verify_bundled()) == 12  # 7 daily files and 5 crypto ones


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_is_clean(name):
    frame = load_dataset(name)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame.dtypes == np.float64).all()
    assert np.isfinite(frame.to_numpy()).all()


def test_twenty_stocks():
    prices = load_prices()
    assert list(prices.columns) == SYMBOLS
    assert prices.shape == (8313, 20)
    assert prices.index[0] == pd.Timestamp("1990-01-02", tz="UTC")
    assert prices.index[-1] == pd.Timestamp("2022-12-28", tz="UTC")
    assert (prices["AAPL"] < 1).any()  # early adjusted closes below $1
    assert load_index_close().index.equals(prices.index)


def test_slices_are_inclusive_and_validated():
    part = load_prices(["JPM"], start="2008-09-01", end="2009-03-31")
    assert part.index[0] >= pd.Timestamp("2008-09-01", tz="UTC")
    assert part.index[-1] <= pd.Timestamp("2009-03-31", tz="UTC")
    with pytest.raises(DataError, match="unknown symbol 'TSLA'"):
        load_prices(["TSLA"])
    with pytest.raises(DataError, match="is after end"):
        load_prices(start="2010-01-01", end="2009-01-01")
    with pytest.raises(DataError, match="no rows between"):
        load_prices(start="2030-01-01")


def test_copies_are_independent():
    a = load_prices()
    a.iloc[0, 0] = -1
    assert load_prices().iloc[0, 0] > 0


def test_ohlcv_factors_and_fama_french():
    spx = load_ohlcv("sp500")
    assert list(spx.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert len(spx) == 5031
    assert (spx["high"] >= spx["low"]).all()
    assert len(load_ohlcv("nasdaq")) == 5031
    assert list(load_factor_etfs().columns) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    ff = load_fama_french()
    assert ff.index[0] == pd.Timestamp("1926-07-31", tz="UTC")
    assert ff.loc["1926-07-31", "mkt_rf"].item() == pytest.approx(0.0296)


def test_real_crash_is_in_the_data():
    jpm = load_prices(["JPM"], start="2008-09-01", end="2009-03-31")["JPM"]
    assert jpm.min() / jpm.iloc[0] < 0.5


def test_sectors_and_catalog():
    sectors = load_sectors()
    assert sorted(sectors.index) == sorted(SYMBOLS)
    assert sector_of("XOM") == "Energy"
    assert sector_of("SYN000") is None
    assert find_symbol("msft") == ("us_equities_20", "MSFT")
    assert find_symbol("SP500") == ("sp500_ohlcv", None)
    assert find_symbol("USMV") == ("factor_etfs", "USMV")
    assert list(load_symbol("KO").columns) == ["close"]
    with pytest.raises(DataError, match="unknown symbol"):
        find_symbol("ZZZZ")
    names = {d.name for d in list_datasets()}
    assert names == set(DATASETS)


def test_digest_changes_with_one_value():
    a = load_prices(["KO"])
    b = a.copy()
    b.iloc[100, 0] += 0.001
    assert frame_digest(a) == frame_digest(load_prices(["KO"]))
    assert frame_digest(a) != frame_digest(b)


def test_the_crypto_bars_and_trades_load_with_their_real_gaps_and_hashes() -> None:
    from raytrade.data import verify_bundled
    from raytrade.data.loaders import load_crypto, load_crypto_trades, load_dataset

    assert {"eth_btc_5m.csv.gz", "xrp_eth_trades.csv.gz"} <= set(verify_bundled())
    close = load_crypto()
    assert list(close.columns) == ["ETH-BTC", "LTC-BTC", "XMR-BTC"] and len(close) == 5760
    assert close.index[0].isoformat() == "2018-01-10T04:55:00+00:00" and str(close.index.tz) == "UTC"
    assert close["XMR-BTC"].isna().sum() == 2 and close[["ETH-BTC", "LTC-BTC"]].notna().all().all()
    assert (close.index.to_series().diff().dropna() == pd.Timedelta(minutes=5)).all()  # 24/7, weekends too
    assert close.index.day_of_week.isin([5, 6]).sum() > 1000
    assert close["ETH-BTC"].iloc[0] == 0.0994766 and load_crypto(["LTC-BTC"], "volume").iloc[0, 0] == 1615.447709
    assert len(load_dataset("crypto_alt_btc_1m")) == 13681
    trades = load_crypto_trades()
    assert len(trades) == 12477 and set(trades["side"]) == {"buy", "sell"} and trades.index.is_monotonic_increasing
    assert trades.iloc[0].to_dict() == {"id": 13519807, "side": "sell", "price": 0.00141342, "amount": 23.0}
    with pytest.raises(DataError, match="unknown crypto pair 'BTC-USD'"):
        load_crypto(["BTC-USD"])
