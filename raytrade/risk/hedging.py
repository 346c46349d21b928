"""Hedging: the minimum-variance hedge by correlation, delta hedging of a written option within a
band or on a schedule, and the gamma-neutral pair of trades.

Conventions. Returns are simple daily returns. A hedge ratio ``h`` is currency of the hedge
instrument per currency of the exposure hedged, to be sold (a book long 1,000,000 with h = 0.8
sells 800,000 of the hedge); the variance it removes is the squared correlation. Option prices and
Greeks are Black-Scholes-Merton (:mod:`raytrade.risk.options`); time in calendar days / 365.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raytrade.core.calendars import day_numbers
from raytrade.core.errors import DomainError
from raytrade.risk.options import bs_greeks


@dataclass(frozen=True, slots=True)
class HedgeChoice:
    """``table``: one row per candidate (correlation, hedge ratio, variance removed, the residual
    volatility a year), best first; ``best``: the candidate with the largest |correlation|."""

    table: pd.DataFrame
    best: str

    @property
    def ratio(self) -> float:
        return float(self.table.loc[self.best, "hedge_ratio"])


def min_variance_hedge(exposure: pd.Series, candidates: pd.DataFrame, *, lookback: int | None = None,
                       periods_per_year: float = 252.0) -> HedgeChoice:
    """The hedge of ``exposure`` (daily returns of a position or a book) among ``candidates``
    (daily returns, one column each) over their common dates (the last ``lookback`` of them):
    h = cov(exposure, hedge) / var(hedge), variance removed = correlation^2, residual volatility
    = std(exposure - h x hedge) x sqrt(periods_per_year). DomainError with fewer than 20 common
    dates, or a candidate that never moves."""
    joined = pd.concat([exposure.rename("__exposure"), candidates], axis=1, join="inner").dropna()
    if lookback is not None:
        joined = joined.iloc[-lookback:]
    if len(joined) < 20:
        raise DomainError(f"{len(joined)} common dates between the exposure and the candidates: at least 20 needed")
    x = joined.pop("__exposure").to_numpy(np.float64)
    rows = {}
    for name in joined.columns:
        y = joined[name].to_numpy(np.float64)
        var = float(np.var(y, ddof=1))
        if var <= 0:
            raise DomainError(f"hedge candidate {name} does not move over the {len(y)} dates")
        cov = float(np.cov(x, y, ddof=1)[0, 1])
        h = cov / var
        corr = cov / math.sqrt(var * float(np.var(x, ddof=1)))
        rows[name] = {"correlation": corr, "hedge_ratio": h, "variance_removed": corr * corr,
                      "residual_volatility": float(np.std(x - h * y, ddof=1)) * math.sqrt(periods_per_year)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table.reindex(table["correlation"].abs().sort_values(ascending=False).index)
    return HedgeChoice(table, str(table.index[0]))


def gamma_neutral(delta: float, gamma: float, hedge_delta: float, hedge_gamma: float) -> tuple[float, float]:
    """The (options, shares) to trade so that a book of ``delta`` (shares) and ``gamma`` (shares per
    1 of S) becomes delta- and gamma-neutral with a second option of ``hedge_delta`` and
    ``hedge_gamma`` a unit (per share of its underlying, x its multiplier when per contract):
    options = -gamma / hedge_gamma, then shares = -(delta + options x hedge_delta)."""
    if hedge_gamma == 0 or not math.isfinite(hedge_gamma):
        raise DomainError("the hedge option has no gamma: it cannot neutralise the book's")
    n = -gamma / hedge_gamma
    return n, -(delta + n * hedge_delta)


@dataclass(frozen=True, slots=True)
class HedgeRun:
    """One delta-hedged written option: ``path`` per bar (spot, option value, delta, shares held,
    cash, the book's value); ``error``: the book's value at expiry (premium received, hedge P&L and
    the payout: 0 for a perfect hedge), in currency; ``rebalances``: hedge trades."""

    path: pd.DataFrame
    error: float
    rebalances: int
    premium: float


def delta_hedge(close: pd.Series, *, strike: float, expiry: pd.Timestamp, sigma: float, rate: float = 0.0,
                right: str = "call", quantity: float = 100.0, every: int = 1, band: float | None = None) -> HedgeRun:
    """Write ``quantity`` (shares' worth) of a European option at the first close of ``close``
    for its Black-Scholes value at ``sigma`` and hedge it with the stock until ``expiry`` (the last
    bar at or before it): at every ``every``-th bar, or, with ``band``, whenever the hedge is more
    than ``band`` x ``quantity`` shares away from the option's delta, buy or sell stock to hold
    delta x quantity shares (the option's delta at that close, ``sigma``, the time left). Cash
    earns ``rate`` (continuously, calendar days). At expiry the option pays its intrinsic value and
    the book is its value: premium + hedge P&L + interest - payout. No costs. With the pricing
    volatility equal to the realised one the error shrinks as the hedge is rebalanced more often.
    """
    if not isinstance(close.index, pd.DatetimeIndex):
        raise DomainError("close must be a Series with a DatetimeIndex")
    if every < 1:
        raise DomainError(f"every must be >= 1 bar, got {every}")
    end = close.index.searchsorted(expiry, side="right")
    c = close.iloc[:end].to_numpy(np.float64)
    if len(c) < 2:
        raise DomainError(f"fewer than 2 bars from {close.index[0]} to the expiry {expiry}")
    if not (np.isfinite(c) & (c > 0)).all():
        raise DomainError("close must be finite and > 0 up to the expiry")
    days = day_numbers(close.index[:end])
    exp_day = int(day_numbers(pd.DatetimeIndex([expiry]))[0])
    T = np.maximum(exp_day - days, 0) / 365.0
    g = bs_greeks(c, strike, T, rate, 0.0, sigma, right)
    value, delta = np.asarray(g["price"]) * quantity, np.asarray(g["delta"]) * quantity
    value[-1] = quantity * (max(c[-1] - strike, 0.0) if right == "call" else max(strike - c[-1], 0.0))
    premium = float(value[0])
    shares = np.zeros(len(c))
    cash = np.zeros(len(c))
    held, money, trades = 0.0, premium, 0
    for t in range(len(c)):
        if t:
            money *= math.exp(rate * (days[t] - days[t - 1]) / 365.0)
        due = t < len(c) - 1 and (abs(delta[t] - held) > band * quantity if band is not None else t % every == 0)
        if due and delta[t] != held:
            money -= (delta[t] - held) * c[t]
            held = float(delta[t])
            trades += 1
        shares[t], cash[t] = held, money
    book = cash + shares * c - value
    path = pd.DataFrame({"spot": c, "option_value": value, "delta": delta, "shares": shares, "cash": cash,
                         "book": book}, index=close.index[:end])
    return HedgeRun(path, float(book[-1]), trades, premium)


def hedging_error_study(close: pd.Series, *, intervals: tuple[int, ...] = (1, 2, 5, 10, 21), days_to_expiry: int = 30,
                        moneyness: float = 1.0, vol_window: int = 21, rate: float = 0.0) -> pd.DataFrame:
    """Delta-hedged written calls rolled back to back over ``close`` (one written at the close of
    each expiry, strike ``moneyness`` x spot, ``days_to_expiry`` calendar days), each priced at the
    realised volatility of its own life (hindsight, so that the volatility is right on average and
    what is left is the discreteness of the hedge and the jumps), hedged every n bars for each n of
    ``intervals``. One row per interval: options, mean and standard deviation of the error as a
    fraction of the premium, and of the error over the option's notional (spot x quantity)."""
    idx = close.index
    days = day_numbers(idx)
    starts = [0]
    while True:
        nxt = int(np.searchsorted(days, days[starts[-1]] + days_to_expiry, side="left"))
        if nxt >= len(close) - 1:
            break
        starts.append(nxt)
    rows = []
    for n in intervals:
        errs, notional = [], []
        for s in starts[:-1]:
            e = int(np.searchsorted(days, days[s] + days_to_expiry, side="left"))
            life = close.iloc[s:e + 1]
            r = np.diff(np.log(life.to_numpy(np.float64)))
            sigma = float(np.std(r, ddof=1) * math.sqrt(252)) if len(r) >= 2 else float("nan")
            if not math.isfinite(sigma) or sigma <= 0:
                continue
            run = delta_hedge(life, strike=moneyness * float(life.iloc[0]), expiry=idx[e], sigma=sigma, rate=rate,
                              every=n)
            errs.append(run.error / run.premium)
            notional.append(run.error / (100.0 * float(life.iloc[0])))
        rows.append({"every": n, "options": len(errs), "mean_error_of_premium": float(np.mean(errs)),
                     "std_error_of_premium": float(np.std(errs, ddof=1)),
                     "std_error_of_notional": float(np.std(notional, ddof=1))})
    return pd.DataFrame(rows).set_index("every")



@dataclass(frozen=True, slots=True)
class HedgeOrder:
    """A hedge the book needs: ``quantity`` (signed shares) of ``symbol`` and why."""

    symbol: str
    quantity: float
    net_delta: float
    spot: float


def delta_hedge_orders(deltas: pd.DataFrame, equity: float, *, band: float, target: float = 0.0,
                       pending: Mapping[str, float] | None = None,
                       lots: Mapping[str, float] | None = None) -> list[HedgeOrder]:
    """The stock trades that bring each optioned underlying's net delta back to ``target`` shares.

    ``deltas``: the book Greeks' per-position rows (:func:`raytrade.risk.greeks.book_greeks`:
    symbol, underlying, delta in shares, spot); ``pending``: signed shares of open orders, which
    count as if filled (a hedge already sent is not sent again). Only underlyings with an option
    position are hedged (a stock held alone is the book's choice, not a hedge's); one is when |net delta -
    target| x spot > ``band`` x equity. The quantity is rounded toward zero to the underlying's lot
    (``lots``, default 1 share); nothing below one lot is sent."""
    if equity <= 0 or deltas.empty:
        return []
    out = []
    optioned = deltas[deltas["symbol"] != deltas["underlying"]]
    for under in sorted(set(optioned["underlying"])):
        rows = deltas[deltas["underlying"] == under]
        net, spot = float(rows["delta"].sum()) + float((pending or {}).get(under, 0.0)), float(rows["spot"].iloc[0])
        gap = target - net
        if abs(gap) * spot <= band * equity:
            continue
        lot = float((lots or {}).get(under, 1.0))
        q = math.copysign(math.floor(abs(gap) / lot + 1e-9) * lot, gap)
        if q:
            out.append(HedgeOrder(under, q, net, spot))
    return out
