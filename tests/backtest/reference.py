"""The plain per-bar event loop the kernel must equal: one column, one bar, one order at a time.

Written from the rules in raytrade/backtest/kernel.py's docstring, independently of the kernel:
orders are objects placed at a bar's close and filled at the next bar; round trips are tracked
as lists of fills.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class RefFill:
    bar: int
    quantity: float  # signed
    ref: float
    price: float
    commission: float


@dataclass
class RefColumn:
    equity: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    fills: list[RefFill] = field(default_factory=list)
    trips: list[float] = field(default_factory=list)  # P&L of each closed round trip


def reference_backtest(
    signal: list[float],
    close: list[float],
    open_: list[float] | None,
    scale: list[float],
    *,
    initial_capital: float,
    commission_bps: float = 0.0,
    commission_per_share: float = 0.0,
    half_spread_bps: float = 0.0,
    slippage_bps: float = 0.0,
    whole_shares: bool = False,
    lot_size: float = 1.0,
    every_bar: bool = False,
    volume: list[float] | None = None,
    impact: dict | None = None,
) -> RefColumn:
    """``impact`` (with ``volume``): {kind: power_law | square_root, eta, beta, gamma, y, lookback}:
    a fill of q shares executed at bar t also pays, per share, a fraction of ref equal to
    eta s p^beta + gamma s p / 2 (power law) or y s sqrt(p) (square root), p = |q| / A (1 if A is
    0), where A is the mean volume of the `lookback` bars ending at t - 1 (fewer at the start) and
    s the sample standard deviation of the last `lookback` close-to-close returns ending at t - 1
    (0 with fewer than two); the share count is sized without it."""
    col = RefColumn()
    cash = initial_capital
    shares = 0.0
    order: float | None = None  # target weight waiting for the next bar
    last_signal = 0.0
    last_sized = True
    trip_fills: list[tuple[float, float]] = []  # (quantity, cash flow) of the open trip
    impact_f = (half_spread_bps + slippage_bps) / 1e4
    for t in range(len(close)):
        if order is not None:
            ref = open_[t] if open_ is not None else close[t]
            equity_now = cash + shares * ref
            w = order
            order = None
            budget = equity_now
            if shares != 0 and w != 0 and (shares > 0) != (w > 0):
                # a reversal: flatten first, then size from the cash that is left
                exit_px = ref * (1 - impact_f) if shares > 0 else ref * (1 + impact_f)
                budget = cash + shares * exit_px - abs(shares) * (exit_px * commission_bps / 1e4 + commission_per_share)
            if equity_now <= 0 or w == 0 or budget <= 0:
                target = 0.0
            else:
                entry_px = ref * (1 + impact_f) if w > 0 else ref * (1 - impact_f)
                # one share and its commission must fit |w| of the budget
                per_share = entry_px + entry_px * commission_bps / 1e4 + commission_per_share
                count = abs(w) * budget / per_share
                if whole_shares:
                    count = math.floor(count / lot_size) * lot_size
                target = math.copysign(count, w)
            q = target - shares
            # rule 4: a change within 1e-12 of the larger of the two counts is residue, not a fill
            if abs(q) > 1e-12 * max(abs(target), abs(shares)):
                extra = 0.0
                if impact is not None:
                    extra = _size_impact(abs(q), t - 1, close, volume, impact)
                price = ref * (1 + impact_f + extra) if q > 0 else ref * (1 - impact_f - extra)
                commission = abs(q) * price * commission_bps / 1e4 + abs(q) * commission_per_share
                flow = -q * price - commission
                col.fills.append(RefFill(t, q, ref, price, commission))
                old = shares
                cash += flow
                shares = target
                flips = old != 0 and (target == 0 or (target > 0) != (old > 0))
                if flips:
                    part = abs(old) / abs(q)
                    trip_fills.append((-old, part * flow))
                    col.trips.append(sum(f for _, f in trip_fills))
                    trip_fills = [(target, (1 - part) * flow)] if target != 0 else []
                else:
                    trip_fills.append((q, flow))
        col.equity.append(cash + shares * close[t])
        col.shares.append(shares)
        s = signal[t]
        if every_bar or s != last_signal or (not last_sized and scale[t] > 0):
            order = s * scale[t]
            last_sized = scale[t] > 0 or s == 0
        last_signal = s
    return col


def _size_impact(q: float, t: int, close: list[float], volume: list[float] | None, model: dict) -> float:
    assert volume is not None
    n = model["lookback"]
    vols = volume[max(0, t - n + 1): t + 1]
    adv = sum(vols) / len(vols)
    rets = [close[i] / close[i - 1] - 1 for i in range(max(1, t - n + 1), t + 1)]
    s = statistics.stdev(rets) if len(rets) >= 2 else 0.0
    if s <= 0:
        return 0.0
    p = q / adv if adv > 0 else 1.0
    if model["kind"] == "square_root":
        return model["y"] * s * math.sqrt(p)
    return model["eta"] * s * p ** model["beta"] + model["gamma"] * s * p / 2


def reference_kelly_scale(signal: list[float], close: list[float], *, lookback: int, fraction: float,
                          cap: float) -> list[float]:
    """The ``kelly`` sizing rule of raytrade.backtest.costs.Sizing, bar by bar, from its statement:
    u_s = signal[s-1] x (close[s] / close[s-1] - 1); at bar t >= lookback the last ``lookback``
    of them (s = t-lookback+1..t) give mean m and sample variance v; scale = min(cap, max(0,
    fraction x m / v)), 0 when v is 0 and before ``lookback`` returns exist."""
    out = [0.0] * len(close)
    u = [0.0] + [signal[s - 1] * (close[s] / close[s - 1] - 1.0) for s in range(1, len(close))]
    for t in range(lookback, len(close)):
        window = u[t - lookback + 1:t + 1]
        v = statistics.variance(window)
        out[t] = 0.0 if v <= 1e-18 else min(cap, max(0.0, fraction * statistics.fmean(window) / v))
    return out


@dataclass
class RefBook:
    """One multi-asset book of the portfolio reference loop."""

    equity: list[float] = field(default_factory=list)
    shares: list[list[float]] = field(default_factory=list)
    fills: list[tuple[int, int, RefFill]] = field(default_factory=list)  # (bar, asset, fill)
    trips: list[float] = field(default_factory=list)
    turnover: float = 0.0
    costs: float = 0.0
    exposure_bars: int = 0


def reference_portfolio(
    weights: list[list[float]],
    close: list[list[float]],
    open_: list[list[float]] | None,
    *,
    initial_capital: float,
    rebalance: str = "on_change",
    period_start: list[bool] | None = None,
    threshold: float = 0.05,
    max_gross: float = 1.0,
    commission_bps: float = 0.0,
    commission_per_share: float = 0.0,
    spread_bps: float = 0.0,
    whole_shares: bool = False,
    lot: float = 1.0,
) -> RefBook:
    """One book over N assets, bar by bar, from the rules of raytrade/backtest/portfolio.py's
    docstring: ``weights[t][n]`` the target row at bar t's close; an order list placed at a close
    and filled at the next bar's reference price; round trips kept per asset as lists of cash
    flows."""
    n_bars, n_assets = len(close), len(close[0])
    book = RefBook()
    cash = initial_capital
    held = [0.0] * n_assets
    orders: list[float] | None = None  # the capped target row waiting for the next bar
    previous_row = [0.0] * n_assets
    open_trip: list[list[float] | None] = [None] * n_assets  # cash flows of each asset's open trip
    for t in range(n_bars):
        ref = open_[t] if open_ is not None else close[t]
        if orders is not None:
            row, orders = orders, None
            equity = cash + sum(h * r for h, r in zip(held, ref, strict=True))
            for n in range(n_assets):
                want = row[n] * equity / ref[n] if equity > 0 else 0.0
                if whole_shares and want != 0:
                    want = math.copysign(math.floor(abs(want) / lot) * lot, want)
                q = want - held[n]
                if abs(q) <= 1e-12 * max(abs(want), abs(held[n])):   # residue, not a fill (rule 3)
                    continue
                side = 1 if q > 0 else -1
                price = ref[n] * (1 + side * spread_bps / 1e4)
                fee = abs(q) * price * commission_bps / 1e4 + abs(q) * commission_per_share
                flow = -q * price - fee
                cash += flow
                book.fills.append((t, n, RefFill(t, q, ref[n], price, fee)))
                book.costs += fee + abs(q) * abs(price - ref[n])
                if equity > 0:
                    book.turnover += abs(q) * price / equity
                before = held[n]
                held[n] = want
                if before == 0:  # opens from flat
                    open_trip[n] = [flow]
                elif want == 0 or (want > 0) != (before > 0):  # closes (a flip closes and reopens)
                    share_closed = abs(before) / abs(q)
                    trip = open_trip[n]
                    assert trip is not None
                    book.trips.append(sum(trip) + share_closed * flow)
                    open_trip[n] = None if want == 0 else [(1 - share_closed) * flow]
                else:
                    trip = open_trip[n]
                    assert trip is not None
                    trip.append(flow)
        equity = cash + sum(h * c for h, c in zip(held, close[t], strict=True))
        book.equity.append(equity)
        book.shares.append(list(held))
        if any(h != 0 for h in held):
            book.exposure_bars += 1
        row = list(weights[t])
        gross = sum(abs(x) for x in row)
        capped = [x * max_gross / gross for x in row] if gross > max_gross else row
        if rebalance == "every_bar":
            decide = True
        elif rebalance == "on_change":
            decide = row != previous_row
        elif rebalance == "calendar":
            assert period_start is not None
            decide = period_start[t]
        else:  # threshold: drift of a current weight from its target
            if equity <= 0:
                decide = any(h != 0 for h in held)
            else:
                decide = any(abs(held[n] * close[t][n] / equity - capped[n]) > threshold for n in range(n_assets))
        if decide:
            orders = capped
        previous_row = row
    return book
