"""Transaction-cost analysis of one parent order's execution.

Conventions: ``side`` +1 for a buy, -1 for a sell; prices in currency per share; a cost is positive
when it hurt the trader (a buy paid more); basis points are of the benchmark price named.

Given the parent's intended quantity X, its decision price P_d (when the decision was made), the
arrival price P_a (the mid when the parent reached the market), its fills (q_i at p_i, commission
c_i), the price P_end at the end of the horizon and the market's bars or trade prints over it:

- average price p = sum q_i p_i / sum q_i; filled F = sum q_i; fill rate F / X;
- slippage against arrival: side (p / P_a - 1) x 1e4 bps;
- interval VWAP: sum over the bars (or prints) in [start, end] of price x volume / sum volume;
  slippage against it: side (p / VWAP - 1) x 1e4 bps;
- participation: F / the market volume in [start, end];
- implementation shortfall (Perold 1988) in currency, split:
  delay = side F (P_a - P_d); trading (impact) = side sum q_i (p_i - P_a);
  opportunity = side (X - F) (P_end - P_d); fees = sum c_i; total = their sum, and in bps of
  X P_d;
- post-trade reversion: -side (P_after / P_end - 1) x 1e4 bps, where P_after is the price a given
  time after the end: positive when the price came back after the trading (a sign of temporary
  impact).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from raytrade.core.errors import DataError


@dataclass(frozen=True, slots=True)
class ExecFill:
    time: datetime
    quantity: float
    price: float
    commission: float = 0.0


@dataclass(frozen=True, slots=True)
class TCAResult:
    filled: float
    fill_rate: float
    avg_price: float
    slippage_vs_arrival_bps: float
    interval_vwap: float | None
    slippage_vs_vwap_bps: float | None
    participation: float | None
    delay_cost: float
    trading_cost: float
    opportunity_cost: float
    fees: float
    shortfall: float
    shortfall_bps: float
    reversion_bps: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interval_vwap(market: pd.DataFrame, start: datetime, end: datetime) -> tuple[float | None, float]:
    """(VWAP, volume) of ``market`` (a frame indexed by time with ``price`` and ``volume`` columns:
    bar closes and volumes, or trade prints and amounts) over [start, end]; (None, 0) when no volume."""
    if not {"price", "volume"} <= set(market.columns):
        raise DataError("the market frame needs price and volume columns", source="tca")
    m = market.loc[(market.index >= pd.Timestamp(start)) & (market.index <= pd.Timestamp(end))]
    vol = float(m["volume"].sum())
    if vol <= 0:
        return None, 0.0
    return float((m["price"] * m["volume"]).sum() / vol), vol


def analyse(side: int, quantity: float, decision_price: float, arrival_price: float, fills: Sequence[ExecFill],
            end_price: float, *, start: datetime, end: datetime, market: pd.DataFrame | None = None,
            price_after: float | None = None) -> TCAResult:
    """The figures of the module docstring for one parent."""
    if side not in (1, -1):
        raise DataError(f"side must be +1 (buy) or -1 (sell), got {side!r}", source="tca")
    for name, v in (("quantity", quantity), ("decision_price", decision_price), ("arrival_price", arrival_price),
                    ("end_price", end_price)):
        if not (math.isfinite(v) and v > 0):
            raise DataError(f"{name} must be finite and > 0, got {v!r}", source="tca")
    filled = sum(f.quantity for f in fills)
    if filled > quantity * (1 + 1e-12):
        raise DataError(f"fills of {filled:g} exceed the parent's {quantity:g}", source="tca")
    avg = sum(f.quantity * f.price for f in fills) / filled if filled else math.nan
    vwap, volume = interval_vwap(market, start, end) if market is not None else (None, 0.0)
    delay = side * filled * (arrival_price - decision_price)
    trading = side * sum(f.quantity * (f.price - arrival_price) for f in fills)
    opportunity = side * (quantity - filled) * (end_price - decision_price)
    fees = sum(f.commission for f in fills)
    total = delay + trading + opportunity + fees
    return TCAResult(
        filled=filled, fill_rate=filled / quantity, avg_price=avg,
        slippage_vs_arrival_bps=side * (avg / arrival_price - 1) * 1e4 if filled else math.nan,
        interval_vwap=vwap,
        slippage_vs_vwap_bps=side * (avg / vwap - 1) * 1e4 if (vwap and filled) else None,
        participation=filled / volume if volume > 0 else None,
        delay_cost=delay, trading_cost=trading, opportunity_cost=opportunity, fees=fees, shortfall=total,
        shortfall_bps=total / (quantity * decision_price) * 1e4,
        reversion_bps=-side * (price_after / end_price - 1) * 1e4 if price_after is not None else None)
