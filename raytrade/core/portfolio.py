"""Positions and portfolio snapshots.

A position's ``quantity`` is signed (+ long, - short). ``avg_cost`` is the average entry price per
share of the open quantity, commissions included (average-cost method). P&L in currency units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from raytrade.core import checks
from raytrade.core.clock import ensure_utc
from raytrade.core.errors import DomainError
from raytrade.core.orders import Fill


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized_pnl: float = 0.0

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "quantity", checks.finite(self.quantity, "quantity"))
        object.__setattr__(self, "avg_cost", checks.non_negative(self.avg_cost, "avg_cost"))
        object.__setattr__(self, "realized_pnl", checks.finite(self.realized_pnl, "realized_pnl"))

    def unrealized_pnl(self, mark: float) -> float:
        return self.quantity * (checks.positive(mark, "mark") - self.avg_cost)

    def market_value(self, mark: float) -> float:
        return self.quantity * checks.positive(mark, "mark")

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``.

        Increasing fills move ``avg_cost`` to the quantity-weighted mean, the commission added to
        the cost; reducing fills realise (price - avg_cost) x closed quantity (sign-aware) minus the
        commission; a fill through zero closes the old side and opens the rest at the fill price.
        """
        q, dq = self.quantity, fill.signed_quantity
        if math.isclose(q, 0.0, abs_tol=1e-12) or (q > 0) == (dq > 0):
            new_q = q + dq
            cost = abs(q) * self.avg_cost + abs(dq) * fill.price + fill.commission
            return replace(self, quantity=new_q, avg_cost=cost / abs(new_q))
        closed = min(abs(q), abs(dq))
        direction = 1.0 if q > 0 else -1.0
        realized = direction * closed * (fill.price - self.avg_cost) - fill.commission
        new_q = q + dq
        if math.isclose(new_q, 0.0, abs_tol=1e-12):
            return replace(self, quantity=0.0, avg_cost=0.0, realized_pnl=self.realized_pnl + realized)
        avg = self.avg_cost if (new_q > 0) == (q > 0) else fill.price
        return replace(self, quantity=new_q, avg_cost=avg, realized_pnl=self.realized_pnl + realized)


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """Portfolio state at ``timestamp``; ``marks`` are the prices used for valuation."""

    timestamp: datetime
    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))
        object.__setattr__(self, "cash", checks.finite(self.cash, "cash"))
        missing = [s for s, p in self.positions.items() if p.quantity != 0 and s not in self.marks]
        if missing:
            raise DomainError(f"no mark price for open positions: {', '.join(sorted(missing))}")

    @property
    def gross_exposure(self) -> float:
        return sum(abs(p.market_value(self.marks[s])) for s, p in self.positions.items() if p.quantity)

    @property
    def net_exposure(self) -> float:
        return sum(p.market_value(self.marks[s]) for s, p in self.positions.items() if p.quantity)

    @property
    def equity(self) -> float:
        return self.cash + self.net_exposure

    @property
    def gross_leverage(self) -> float:
        """Gross exposure / equity (inf when equity <= 0 and exposure > 0)."""
        eq = self.equity
        return self.gross_exposure / eq if eq > 0 else (math.inf if self.gross_exposure else 0.0)

    @property
    def net_leverage(self) -> float:
        eq = self.equity
        return self.net_exposure / eq if eq > 0 else (math.inf if self.net_exposure else 0.0)
