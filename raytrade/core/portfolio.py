"""Positions and portfolio snapshots.

A position's ``quantity`` is signed (+ long, - short), in units of the instrument (shares, coins,
contracts). ``avg_cost`` is the average entry price per unit of the price's quote (a share, or the
share of a contract's underlying an option premium is quoted for) of the open quantity, commissions
included (average-cost method). ``multiplier`` is the instrument's (100 for US equity options,
1 otherwise): value = quantity x price x multiplier. P&L and cash in currency units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

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
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "multiplier", checks.positive(self.multiplier, "multiplier"))
        object.__setattr__(self, "quantity", checks.finite(self.quantity, "quantity"))
        object.__setattr__(self, "avg_cost", checks.non_negative(self.avg_cost, "avg_cost"))
        object.__setattr__(self, "realized_pnl", checks.finite(self.realized_pnl, "realized_pnl"))

    def unrealized_pnl(self, mark: float) -> float:
        return self.quantity * (checks.positive(mark, "mark") - self.avg_cost) * self.multiplier

    def market_value(self, mark: float) -> float:
        return self.quantity * checks.positive(mark, "mark") * self.multiplier

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``.

        Increasing fills move ``avg_cost`` to the quantity-weighted mean, the commission added to
        the cost (per unit of the quote: commission / multiplier); reducing fills realise
        (price - avg_cost) x closed quantity x multiplier (sign-aware) minus the commission; a
        fill through zero closes the old side and opens the rest at the fill price.
        """
        q, dq, m = self.quantity, fill.signed_quantity, self.multiplier
        if math.isclose(q, 0.0, abs_tol=1e-12) or (q > 0) == (dq > 0):
            new_q = q + dq
            cost = abs(q) * self.avg_cost + abs(dq) * fill.price + fill.commission / m
            return replace(self, quantity=new_q, avg_cost=cost / abs(new_q))
        closed = min(abs(q), abs(dq))
        direction = 1.0 if q > 0 else -1.0
        realized = direction * closed * (fill.price - self.avg_cost) * m - fill.commission
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


class Portfolio:
    """The mutable book behind the portfolio actor, the risk and compliance gates and the paper replay.

    Cash and P&L in the account currency; quantities signed. ``marks`` are the last prices seen
    (a fill sets its symbol's mark when none is known yet). Daily P&L is equity minus the equity
    at the start of the current day, where a day is whatever :meth:`roll_day` is called with (the
    engine passes the exchange session date; UTC dates otherwise).
    """

    def __init__(self, cash: float = 0.0, multipliers: Mapping[str, float] | None = None) -> None:
        self.cash = checks.finite(cash, "cash")
        # the instruments' contract multipliers (absent: 1), applied to every value and cash flow
        self.multipliers = {s: checks.positive(float(m), f"multiplier of {s}") for s, m in (multipliers or {}).items()
                            if m != 1.0}
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float] = {}
        self.day: date | None = None
        self.day_start_equity = self.cash
        # net exposure, cached until a mark or a fill changes it (a decision reads equity several
        # times; a replay many times a bar). Every change of marks or positions goes through here.
        self._version = 0
        self._net: tuple[int, float] = (-1, 0.0)

    def deposit(self, amount: float) -> None:
        """Add (or, negative, withdraw) cash; it does not count as P&L of the day."""
        amount = checks.finite(amount, "amount")
        self.cash += amount
        self.day_start_equity += amount

    def apply_fill(self, fill: Fill) -> float:
        """Apply ``fill``; return the P&L it realised (commission included)."""
        self._version += 1
        m = self.multipliers.get(fill.symbol, 1.0)
        pos = self.positions.get(fill.symbol) or Position(fill.symbol, multiplier=m)
        new = pos.apply(fill)
        self.positions[fill.symbol] = new
        self.cash += fill.cash_change(m)
        self.marks.setdefault(fill.symbol, fill.price)
        return new.realized_pnl - pos.realized_pnl

    def mark(self, symbol: str, price: float) -> None:
        self.marks[symbol] = checks.positive(price, f"mark of {symbol}")
        self._version += 1

    def mark_checked(self, marks: dict[str, float]) -> None:
        """Many marks at once, already checked finite and > 0 by the caller (a replay checks its
        whole price array once)."""
        self.marks.update(marks)
        self._version += 1

    def roll_day(self, day: date) -> None:
        """Start a new day: the current equity becomes the day's starting equity."""
        if day != self.day:
            self.day = day
            self.day_start_equity = self.equity

    def quantity(self, symbol: str) -> float:
        p = self.positions.get(symbol)
        return p.quantity if p else 0.0

    def price(self, symbol: str) -> float | None:
        return self.marks.get(symbol)

    def market_value(self, symbol: str) -> float:
        p = self.positions.get(symbol)
        return p.quantity * self.marks[symbol] * p.multiplier if p and p.quantity else 0.0

    @property
    def net_exposure(self) -> float:
        if self._net[0] == self._version:
            return self._net[1]
        m = self.marks
        net = sum(p.quantity * m[s] * p.multiplier for s, p in self.positions.items() if p.quantity)
        self._net = (self._version, net)
        return net

    @property
    def gross_exposure(self) -> float:
        m = self.marks
        return sum(abs(p.quantity * m[s] * p.multiplier) for s, p in self.positions.items() if p.quantity)

    @property
    def equity(self) -> float:
        return self.cash + self.net_exposure

    @property
    def daily_pnl(self) -> float:
        return self.equity - self.day_start_equity

    @property
    def realized_pnl(self) -> float:
        return sum(p.realized_pnl for p in self.positions.values())

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl(self.marks[s]) for s, p in self.positions.items() if p.quantity)

    def snapshot(self, timestamp: datetime) -> PortfolioSnapshot:
        return PortfolioSnapshot(timestamp, self.cash, dict(self.positions),
                                 {s: m for s, m in self.marks.items() if s in self.positions})

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (for snapshots); :meth:`from_state` restores it exactly."""
        return {"cash": self.cash, "day": self.day.isoformat() if self.day else None,
                "day_start_equity": self.day_start_equity, "marks": dict(self.marks),
                "multipliers": dict(self.multipliers),
                # the multiplier only where it is not 1: a stock book's state reads as it always has
                "positions": {s: [p.quantity, p.avg_cost, p.realized_pnl, *([p.multiplier] if p.multiplier != 1.0
                                                                             else [])]
                              for s, p in self.positions.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Portfolio:
        """The portfolio of :meth:`to_state` (a state written before multipliers reads as all 1)."""
        p = cls(state["cash"], state.get("multipliers"))
        p.day = date.fromisoformat(state["day"]) if state.get("day") else None
        p.day_start_equity = state["day_start_equity"]
        p.marks = {s: float(m) for s, m in state["marks"].items()}
        p.positions = {s: Position(s, *row) for s, row in state["positions"].items()}
        p._version += 1
        return p

    def summary(self) -> dict[str, Any]:
        """Headline figures (currency units; leverage as a multiple of equity, None when equity <= 0)."""
        eq = self.equity
        return {"cash": self.cash, "equity": eq, "gross_exposure": self.gross_exposure,
                "net_exposure": self.net_exposure,
                "gross_leverage": self.gross_exposure / eq if eq > 0 else None,
                "net_leverage": self.net_exposure / eq if eq > 0 else None,
                "realized_pnl": self.realized_pnl, "unrealized_pnl": self.unrealized_pnl,
                "daily_pnl": self.daily_pnl}
