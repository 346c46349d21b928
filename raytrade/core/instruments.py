"""Tradable instruments: equities, options and crypto pairs.

Prices are in ``currency`` units per share/coin; ``tick_size`` is the smallest price increment,
``lot_size`` the smallest tradable quantity step (1 share for US equities, fractional for crypto).
Options carry a ``multiplier`` (100 for US equity options): notional = price x quantity x multiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from raytrade.core import checks
from raytrade.core.enums import AssetClass, OptionRight
from raytrade.core.errors import DomainError


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    asset_class: AssetClass = AssetClass.EQUITY
    venue: str = "XNYS"
    currency: str = "USD"
    sector: str | None = None
    tick_size: float = 0.01
    lot_size: float = 1.0
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "asset_class", checks.member(AssetClass, self.asset_class, "asset_class"))
        checks.identifier(self.venue, "venue")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isupper()):
            raise DomainError(f"currency must be a 3-letter ISO code like 'USD', got {self.currency!r}")
        object.__setattr__(self, "tick_size", checks.positive(self.tick_size, "tick_size"))
        object.__setattr__(self, "lot_size", checks.positive(self.lot_size, "lot_size"))
        object.__setattr__(self, "multiplier", checks.positive(self.multiplier, "multiplier"))

    def is_lot_multiple(self, quantity: float) -> bool:
        """True when ``quantity`` is a whole number of lots, at least one (within float rounding:
        1e-9 of a lot, or 4e-15 of the lot count (a few float steps) when that is larger, as a large quantity in small
        lots, 2737.04391981 BTC in lots of 1e-8, carries the rounding of its decimal digits);
        False for a quantity so large that the lot count is not a finite float."""
        lots = quantity / self.lot_size
        if not math.isfinite(lots):
            return False
        whole = round(lots)
        return whole >= 1 and math.isclose(lots, whole, rel_tol=4e-15, abs_tol=1e-9)

    def round_price(self, price: float) -> float:
        """``price`` rounded to the nearest tick (DomainError when ``price / tick`` is not a
        finite float)."""
        ticks = price / self.tick_size
        if not math.isfinite(ticks):
            raise DomainError(f"price {price!r} is out of range for the tick {self.tick_size:g}")
        return round(round(ticks) * self.tick_size, 10)


def equity(symbol: str, *, sector: str | None = None, venue: str = "XNYS") -> Instrument:
    """A US-listed common stock: tick 0.01, lot 1 share."""
    return Instrument(symbol, AssetClass.EQUITY, venue=venue, sector=sector)


def crypto(symbol: str, *, venue: str = "CRYPTO", lot_size: float = 1e-8, tick_size: float = 0.01) -> Instrument:
    """A crypto pair quoted in USD, trading 24/7; fractional lots (1e-8 by default)."""
    return Instrument(symbol, AssetClass.CRYPTO, venue=venue, lot_size=lot_size, tick_size=tick_size)


@dataclass(frozen=True, slots=True)
class OptionContract(Instrument):
    underlying: str = ""
    strike: float = 0.0
    expiry: date | None = None
    right: OptionRight = OptionRight.CALL

    def __post_init__(self) -> None:
        Instrument.__post_init__(self)
        if self.asset_class is not AssetClass.OPTION:
            raise DomainError(f"OptionContract {self.symbol}: asset_class must be 'option'")
        checks.identifier(self.underlying, "underlying")
        object.__setattr__(self, "strike", checks.positive(self.strike, "strike"))
        if not isinstance(self.expiry, date):
            raise DomainError(f"OptionContract {self.symbol}: expiry must be a date, got {self.expiry!r}")
        object.__setattr__(self, "right", checks.member(OptionRight, self.right, "right"))


def option(underlying: str, expiry: date, strike: float, right: OptionRight | str) -> OptionContract:
    """A US equity option (multiplier 100) with an OCC-style symbol, e.g. ``AAPL  230120C00150000``."""
    r = checks.member(OptionRight, right, "right")
    k = checks.positive(strike, "strike")
    occ = f"{underlying:<6}{expiry:%y%m%d}{'C' if r is OptionRight.CALL else 'P'}{round(k * 1000):08d}"
    return OptionContract(
        occ, AssetClass.OPTION, venue="OPRA", multiplier=100.0, underlying=underlying,
        strike=k, expiry=expiry, right=r,
    )
