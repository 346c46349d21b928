"""Market data records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from raytrade.core import checks
from raytrade.core.clock import ensure_utc
from raytrade.core.errors import DomainError


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``timestamp`` is the bar's close time in UTC, prices in the quote currency."""

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))
        for name in ("open", "high", "low", "close"):
            object.__setattr__(self, name, checks.positive(getattr(self, name), f"bar {self.symbol} {name}"))
        object.__setattr__(self, "volume", checks.non_negative(self.volume, f"bar {self.symbol} volume"))
        if self.high < self.low:
            raise DomainError(f"bar {self.symbol} at {self.timestamp}: high {self.high} < low {self.low}")
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise DomainError(
                f"bar {self.symbol} at {self.timestamp}: open {self.open} and close {self.close} "
                f"must lie within [low {self.low}, high {self.high}]"
            )


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book; ``bid`` <= ``ask``, sizes in shares/coins."""

    symbol: str
    timestamp: datetime
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))
        object.__setattr__(self, "bid", checks.positive(self.bid, f"quote {self.symbol} bid"))
        object.__setattr__(self, "ask", checks.positive(self.ask, f"quote {self.symbol} ask"))
        object.__setattr__(self, "bid_size", checks.non_negative(self.bid_size, "bid_size"))
        object.__setattr__(self, "ask_size", checks.non_negative(self.ask_size, "ask_size"))
        if self.bid > self.ask:
            raise DomainError(f"quote {self.symbol}: bid {self.bid} above ask {self.ask} (crossed)")

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def half_spread_bps(self) -> float:
        """Half the quoted spread in basis points of the mid."""
        return 0.5 * (self.ask - self.bid) / self.mid * 1e4
