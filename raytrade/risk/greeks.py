"""Greeks of positions and of a book, with the contract multiplier applied.

Conventions (a position's figures are the option's Black-Scholes-Merton Greeks of
:mod:`raytrade.risk.options` x quantity x multiplier):

- ``delta``: underlying units (shares) the position moves like: d value / d S. A stock position's
  delta is its quantity; a long call of 100 shares at delta 0.5 has delta 50.
- ``dollar_delta``: delta x S, currency per 1.00 relative move of the underlying (x 0.01 for 1 %).
- ``gamma``: d delta / d S, shares per 1 currency of S; ``dollar_gamma``: gamma x S^2, so that
  the P&L of a relative move x is about dollar_delta x + dollar_gamma x^2 / 2.
- ``vega``: currency per 1.00 of volatility (/100 for a volatility point); ``theta``: currency per
  year of calendar time (/365 for a day; usually negative for a long option); ``rho``: currency per
  1.00 of rate.

Time to expiry is calendar days / 365 from ``as_of`` to the expiry date; an option past its expiry
is refused by name (it should have been settled). Each option's volatility is implied from its
market price when one is given and a volatility can be pinned down from it, otherwise the one
given for its underlying (configured, or realised: the caller says which); the output states the
source per position. Book totals add dollar delta, dollar gamma, vega, theta and rho (currency
figures, comparable across underlyings); share deltas add up per underlying only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from raytrade.core.errors import DomainError
from raytrade.core.instruments import Instrument, OptionContract
from raytrade.risk.options import bs_greeks, implied_vol

COLUMNS = ("symbol", "underlying", "quantity", "multiplier", "spot", "volatility", "vol_source", "delta",
           "dollar_delta", "gamma", "dollar_gamma", "vega", "theta", "rho")
TOTALS = ("dollar_delta", "dollar_gamma", "vega", "theta", "rho")


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """``positions``: one row per position (:data:`COLUMNS`); ``by_underlying``: the rows summed per
    underlying (share delta and gamma included); ``total``: the book's currency Greeks."""

    positions: pd.DataFrame
    by_underlying: pd.DataFrame
    total: dict[str, float]


def book_greeks(positions: Mapping[str, float], instruments: Mapping[str, Instrument], spots: Mapping[str, float], *,
                as_of: date, volatility: Mapping[str, float] | None = None, vol_source: str = "configured",
                option_prices: Mapping[str, float] | None = None, rate: float = 0.0,
                dividend_yield: Mapping[str, float] | None = None) -> BookGreeks:
    """The Greeks of ``positions`` (symbol -> signed quantity, in units of the instrument).

    ``spots``: the underlying prices (by the underlying's symbol; a stock's own mark); ``volatility``
    by underlying (a fraction a year), named by ``vol_source`` in the output; ``option_prices``:
    options' market prices (a share) to imply their volatility from; ``rate`` and
    ``dividend_yield`` (by underlying) continuously compounded, fractions a year. DomainError
    naming the symbol for an unknown instrument, a missing spot or volatility, or an expired option.
    """
    vols, prices, divs = dict(volatility or {}), dict(option_prices or {}), dict(dividend_yield or {})
    rows = []
    for sym, qty in positions.items():
        if qty == 0:
            continue
        inst = instruments.get(sym)
        if inst is None:
            raise DomainError(f"{sym}: no instrument to compute Greeks for")
        under = inst.underlying if isinstance(inst, OptionContract) else sym
        spot = spots.get(under)
        if spot is None or not np.isfinite(spot) or spot <= 0:
            raise DomainError(f"{sym}: no price for its underlying {under}")
        m = inst.multiplier
        if not isinstance(inst, OptionContract):
            rows.append({"symbol": sym, "underlying": under, "quantity": qty, "multiplier": m, "spot": spot,
                         "volatility": np.nan, "vol_source": "", "delta": qty * m, "dollar_delta": qty * m * spot,
                         "gamma": 0.0, "dollar_gamma": 0.0, "vega": 0.0, "theta": 0.0, "rho": 0.0})
            continue
        assert inst.expiry is not None
        days = (inst.expiry - as_of).days
        if days < 0:
            raise DomainError(f"{sym}: expired on {inst.expiry} (as of {as_of}): settle it before its Greeks are asked")
        T, q, right = days / 365.0, divs.get(under, 0.0), inst.right.value
        sigma, source = vols.get(under), vol_source
        if sym in prices and T > 0:
            try:
                sigma, source = float(implied_vol(prices[sym], spot, inst.strike, T, rate, q, right)), "implied"
            except DomainError as exc:   # a stale or off-market price: fall back, and say why
                source = f"{vol_source} (no implied volatility: {exc})"
        if sigma is None:
            raise DomainError(f"{sym}: no volatility for {under} (give one, or the option's price)")
        g = bs_greeks(spot, inst.strike, T, rate, q, sigma, right)
        scale = qty * m
        delta, gamma = float(g["delta"]) * scale, float(g["gamma"]) * scale
        rows.append({"symbol": sym, "underlying": under, "quantity": qty, "multiplier": m, "spot": spot,
                     "volatility": sigma, "vol_source": source, "delta": delta, "dollar_delta": delta * spot,
                     "gamma": gamma, "dollar_gamma": gamma * spot * spot, "vega": float(g["vega"]) * scale,
                     "theta": float(g["theta"]) * scale, "rho": float(g["rho"]) * scale})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    sums = ["delta", "gamma", *TOTALS]
    by = table.groupby("underlying", sort=True)[sums].sum() if len(table) else pd.DataFrame(columns=sums)
    total = {k: float(table[k].sum()) if len(table) else 0.0 for k in TOTALS}
    return BookGreeks(table, by, total)
