"""Market data sources for the engine, behind one small interface.

A :class:`BarFeed` hands out the bars of one moment at a time (``next_bars``), in time order, from
any time on (``seek``): the engine's market-data actor sends each batch to the order manager as
marks and quotes. Sources:

- ``bundled``: the adjusted daily closes of the 20 bundled US stocks, replayed from ``start``;
- ``csv``: a user's file of closes (a timestamp column and one column per symbol, the format of
  :func:`~raytrade.data.loaders.read_price_file`).

Daily closes are stamped one minute before their XNYS session's close (early on half days), so
the market is open at the bar's time and a market order placed then fills at that close. These
sources hold closes only: each bar has open = high = low = close and no volume (an engine fed by
them should not cap fills by a share of volume). Time never runs backwards: a feed restarted
after ``seek(t)`` starts with the first moment after ``t``.

A live source (a broker's market data) implements the same two methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.compliance.calendar import exchange_calendar
from raytrade.core.errors import ConfigError
from raytrade.core.market import Bar


class BarFeed(Protocol):
    def seek(self, after: datetime | None) -> None:
        """Continue with the first moment strictly after ``after`` (None: from the start)."""

    def history(self, symbols: list[str], n: int) -> dict[str, list[tuple[str, float]]]:
        """The last ``n`` moments handed out, per symbol: (ISO time, close), oldest first."""

    def next_bars(self) -> list[Bar]:
        """The bars of the next moment ([] once the data is exhausted)."""


class FeedConfig(BaseModel):
    """``market_data`` of an engine config: what feeds the engine prices, and how fast."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["bundled", "csv", "crypto"] = Field(
        "bundled", description="bundled: the 20 US stocks' daily closes, stamped a minute before each XNYS "
                               "close; crypto: the bundled 5-minute ETH-BTC, LTC-BTC and XMR-BTC bars, 24/7, "
                               "stamped at each bar's end; csv: a file of daily closes")
    path: Path | None = Field(None, description="the CSV of closes (source csv)")
    symbols: tuple[str, ...] = Field((), description="symbols to feed (default: the engine's instruments the "
                                                     "source has)")
    start: date | None = Field(None, description="first day replayed (default: the data's first)")
    bars_per_second: float = Field(1.0, ge=0, le=100_000, description="moments sent per second of wall time; "
                                                                      "0: as fast as the engine takes them")


def session_stamps(dates: pd.DatetimeIndex, venue: str = "XNYS") -> list[pd.Timestamp]:
    """One minute before each date's session close on ``venue`` (early on half days), UTC.
    ConfigError naming the first date that is not a session."""
    cal = exchange_calendar(venue)
    sessions = pd.DatetimeIndex(dates.tz_convert(None) if dates.tz is not None else dates).normalize()
    unknown = sessions[~sessions.isin(cal.sessions)]
    if len(unknown):
        raise ConfigError(f"data: {unknown[0].date()} is not an {venue} session; a replay needs exchange days")
    closes = pd.DatetimeIndex(cal.closes.reindex(sessions))
    if closes.tz is None:
        closes = closes.tz_localize("UTC")
    return [c - timedelta(minutes=1) for c in closes]


class CloseReplay:
    """A :class:`BarFeed` over a frame of daily closes (dates x symbols), stamped by
    :func:`session_stamps`; a symbol's missing close (NaN) is skipped at that moment."""

    def __init__(self, closes: pd.DataFrame, stamps: Sequence[datetime] | None = None) -> None:
        """``stamps``: the time of each row (default: :func:`session_stamps` of daily rows)."""
        if closes.empty:
            raise ConfigError("market data: no bars to replay")
        self.symbols = [str(s) for s in closes.columns]
        self._values = closes.to_numpy(dtype=float)
        self._stamps = (list(stamps) if stamps is not None
                        else [t.to_pydatetime() for t in session_stamps(pd.DatetimeIndex(closes.index))])
        if len(self._stamps) != len(self._values):
            raise ConfigError(f"market data: {len(self._stamps)} stamps for {len(self._values)} rows")
        self._i = 0

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def position(self) -> int:
        """Moments handed out so far."""
        return self._i

    def seek(self, after: datetime | None) -> None:
        self._i = 0 if after is None else int(pd.DatetimeIndex(self._stamps).searchsorted(after, side="right"))

    def history(self, symbols: list[str], n: int) -> dict[str, list[tuple[str, float]]]:
        """The last ``n`` moments handed out, per symbol: (ISO time, close), oldest first (a
        symbol's missing closes left out)."""
        cols = [self.symbols.index(s) for s in symbols if s in self.symbols]
        out: dict[str, list[tuple[str, float]]] = {self.symbols[j]: [] for j in cols}
        for i in range(max(0, self._i - n), self._i):
            t = self._stamps[i].isoformat()
            for j in cols:
                p = float(self._values[i, j])
                if p == p:
                    out[self.symbols[j]].append((t, p))
        return out

    def next_bars(self) -> list[Bar]:
        if self._i >= len(self._stamps):
            return []
        t, row = self._stamps[self._i], self._values[self._i]
        self._i += 1
        return [Bar(s, t, p, p, p, p, 0.0) for s, p in zip(self.symbols, row, strict=True) if p == p]


def open_feed(config: FeedConfig, instruments: list[str]) -> CloseReplay:
    """The feed ``config`` describes, for an engine trading ``instruments`` (ConfigError when the
    source has none of them or a named symbol is missing)."""
    from raytrade.data.loaders import load_crypto, load_prices, read_price_file

    if config.source == "csv":
        if config.path is None:
            raise ConfigError("market_data.path: the csv source needs a file of closes")
        frame = read_price_file(config.path)
    elif config.source == "crypto":
        frame = load_crypto()
    else:
        frame = load_prices()
    wanted = list(config.symbols) or [s for s in instruments if s in frame.columns]
    missing = [s for s in wanted if s not in frame.columns]
    if missing or not wanted:
        raise ConfigError(f"market_data.symbols: {missing[0]!r} is not in the {config.source} data"
                          if missing else f"market_data: the {config.source} data has none of the engine's "
                                          f"instruments ({', '.join(instruments) or 'none'})")
    frame = frame[wanted]
    if config.start is not None:
        frame = frame[frame.index >= pd.Timestamp(config.start, tz=frame.index.tz)]
    if config.source == "crypto":
        frame = frame.dropna(how="all")
        bar = pd.Timedelta(minutes=5)  # the bundled pairs' bar; a row is stamped at its bar's end
        return CloseReplay(frame, [(t + bar).to_pydatetime() for t in frame.index])
    return CloseReplay(frame)
