"""The replay feed: session stamps from the exchange calendar, time order, seeking, bad configs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.core.errors import ConfigError
from raytrade.data.feeds import CloseReplay, FeedConfig, open_feed, session_stamps


def test_stamps_are_a_minute_before_the_close_early_on_half_days() -> None:
    days = pd.DatetimeIndex(["2019-11-27", "2019-11-29", "2019-12-02"], tz="UTC")
    # 16:00 New York is 21:00 UTC in winter; the day after Thanksgiving closes at 13:00 (18:00 UTC)
    assert [t.isoformat() for t in session_stamps(days)] == [
        "2019-11-27T20:59:00+00:00", "2019-11-29T17:59:00+00:00", "2019-12-02T20:59:00+00:00"]
    with pytest.raises(ConfigError, match="2019-11-28 is not an XNYS session"):
        session_stamps(pd.DatetimeIndex(["2019-11-28"], tz="UTC"))


def test_replay_hands_out_moments_in_order_and_seeks_strictly_after() -> None:
    closes = pd.DataFrame({"KO": [50.0, 51.0, np.nan, 52.0], "PEP": [100.0, 101.0, 102.0, 103.0]},
                          index=pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"], tz="UTC"))
    feed = CloseReplay(closes)
    first = feed.next_bars()
    assert [(b.symbol, b.close, b.open, b.volume) for b in first] == [("KO", 50.0, 50.0, 0.0), ("PEP", 100.0, 100.0, 0.0)]
    feed.next_bars()
    third = feed.next_bars()
    assert [b.symbol for b in third] == ["PEP"]            # KO had no close that day
    assert third[0].timestamp > first[0].timestamp
    feed.seek(first[0].timestamp)                         # a restart after the first moment
    assert feed.next_bars()[0].close == 51.0
    feed.seek(datetime(2030, 1, 1, tzinfo=UTC))
    assert feed.next_bars() == []
    feed.seek(None)
    assert feed.next_bars()[0].close == 50.0


def test_open_feed_picks_the_engines_symbols_and_refuses_what_it_cannot_feed(tmp_path: Path) -> None:
    feed = open_feed(FeedConfig(start="2015-01-02"), ["KO", "NOPE", "AAPL"])
    assert feed.symbols == ["KO", "AAPL"]
    assert feed.next_bars()[0].timestamp.date().isoformat() == "2015-01-02"
    with pytest.raises(ConfigError, match="'ZZZ' is not in the bundled data"):
        open_feed(FeedConfig(symbols=("ZZZ",)), ["KO"])
    with pytest.raises(ConfigError, match="has none of the engine's instruments"):
        open_feed(FeedConfig(), ["NOPE"])
    with pytest.raises(ConfigError, match="needs a file"):
        open_feed(FeedConfig(source="csv"), ["KO"])
    csv = tmp_path / "closes.csv"
    csv.write_text("timestamp,KO\n2024-03-04,50.5\n2024-03-05,51.5\n")
    user = open_feed(FeedConfig(source="csv", path=csv), ["KO"])
    assert [b.close for b in user.next_bars()] == [50.5] and len(user) == 2


def test_the_crypto_feed_replays_5_minute_bars_around_the_clock() -> None:
    feed = open_feed(FeedConfig(source="crypto", start="2018-01-13"), ["ETH-BTC", "XMR-BTC", "KO"])
    assert feed.symbols == ["ETH-BTC", "XMR-BTC"]
    first = feed.next_bars()
    assert first[0].timestamp == datetime(2018, 1, 13, 0, 5, tzinfo=UTC)  # a Saturday: bar end of 00:00
    assert [b.symbol for b in first] == ["ETH-BTC", "XMR-BTC"]
    times = [first[0].timestamp] + [feed.next_bars()[0].timestamp for _ in range(300)]
    assert all((b - a).total_seconds() == 300 for a, b in itertools.pairwise(times))
    with pytest.raises(ConfigError, match="'BTC-USD' is not in the crypto data"):
        open_feed(FeedConfig(source="crypto", symbols=("BTC-USD",)), ["ETH-BTC"])


def test_history_gives_the_last_moments_handed_out() -> None:
    closes = pd.DataFrame({"KO": [50.0, 51.0, np.nan, 52.0], "PEP": [100.0, 101.0, 102.0, 103.0]},
                          index=pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"], tz="UTC"))
    feed = CloseReplay(closes)
    assert feed.history(["KO"], 5) == {"KO": []}
    for _ in range(3):
        feed.next_bars()
    h = feed.history(["KO", "PEP", "XOM"], 2)
    assert h == {"KO": [("2024-03-05T20:59:00+00:00", 51.0)],
                 "PEP": [("2024-03-05T20:59:00+00:00", 101.0), ("2024-03-06T20:59:00+00:00", 102.0)]}
