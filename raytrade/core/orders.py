"""Orders and fills.

Quantities are always positive; the direction is in ``side``. Prices are per share/coin in the
instrument's currency. A limit order needs a finite positive ``limit_price``; a market order must
not have one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from raytrade.core import checks
from raytrade.core.clock import ensure_utc, utc_now
from raytrade.core.enums import OrderType, Side, TimeInForce
from raytrade.core.errors import DomainError

# Bounds of an order, far beyond any real one: they keep price x quantity and price / tick finite
# (an order of 1e306 would overflow both) and refuse a fat finger of that size by name.
MAX_QUANTITY = 1e12
MAX_PRICE = 1e9

def new_client_order_id() -> str:
    """A fresh client order id (32 hex characters)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Order:
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: str = field(default_factory=new_client_order_id)
    created_at: datetime = field(default_factory=utc_now)
    strategy: str | None = None  # the strategy that sent it (None: a manual order); stopped strategies are refused

    def __post_init__(self) -> None:
        checks.identifier(self.symbol, "symbol")
        checks.identifier(self.client_order_id, "client_order_id")
        if self.strategy is not None:
            checks.identifier(self.strategy, "strategy")
        object.__setattr__(self, "side", checks.member(Side, self.side, "side"))
        object.__setattr__(self, "order_type", checks.member(OrderType, self.order_type, "order_type"))
        object.__setattr__(self, "time_in_force", checks.member(TimeInForce, self.time_in_force, "time_in_force"))
        object.__setattr__(self, "quantity", checks.at_most(checks.positive(self.quantity, "quantity"),
                                                            MAX_QUANTITY, "quantity"))
        object.__setattr__(self, "created_at", ensure_utc(self.created_at, field="created_at"))
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        self._price_field("limit_price", needs_limit)
        self._price_field("stop_price", needs_stop)

    def _price_field(self, name: str, required: bool) -> None:
        value = getattr(self, name)
        if required and value is None:
            raise DomainError(f"{self.order_type.value} order needs {name}")
        if not required and value is not None:
            raise DomainError(f"{self.order_type.value} order must not have {name} (got {value!r})")
        if value is not None:
            object.__setattr__(self, name, checks.at_most(checks.positive(value, name), MAX_PRICE, name))

    @property
    def signed_quantity(self) -> float:
        """Quantity with the side's sign: + for buys, - for sells."""
        return self.side.sign * self.quantity

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (enums as their values, ``created_at`` as ISO 8601 UTC)."""
        return {"symbol": self.symbol, "side": self.side.value, "quantity": self.quantity,
                "order_type": self.order_type.value, "limit_price": self.limit_price,
                "stop_price": self.stop_price, "time_in_force": self.time_in_force.value,
                "client_order_id": self.client_order_id, "created_at": self.created_at.isoformat(),
                "strategy": self.strategy}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Order:
        """The inverse of :meth:`to_dict`; validates like the constructor."""
        return cls(d["symbol"], d["side"], d["quantity"], d.get("order_type", "market"), d.get("limit_price"),
                   d.get("stop_price"), d.get("time_in_force", "day"), d["client_order_id"],
                   _parse_time(d["created_at"]), d.get("strategy"))


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution of (part of) an order. ``commission`` is in currency units, >= 0."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    commission: float = 0.0
    timestamp: datetime = field(default_factory=utc_now)
    fill_id: str = field(default_factory=new_client_order_id)
    venue: str | None = None  # where it executed, when the broker routes (None: the broker's own)

    def __post_init__(self) -> None:
        checks.identifier(self.client_order_id, "client_order_id")
        if self.venue is not None:
            checks.identifier(self.venue, "venue")
        checks.identifier(self.symbol, "symbol")
        object.__setattr__(self, "side", checks.member(Side, self.side, "side"))
        object.__setattr__(self, "quantity", checks.positive(self.quantity, "fill quantity"))
        object.__setattr__(self, "price", checks.positive(self.price, "fill price"))
        object.__setattr__(self, "commission", checks.non_negative(self.commission, "commission"))
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))

    @property
    def signed_quantity(self) -> float:
        return self.side.sign * self.quantity

    @property
    def cash_flow(self) -> float:
        """Cash change of the fill of an instrument with multiplier 1: a buy pays price x quantity
        + commission (negative). For options use :meth:`cash_change` with the multiplier."""
        return self.cash_change(1.0)

    def cash_change(self, multiplier: float = 1.0) -> float:
        """Cash change of the fill: a buy pays price x quantity x multiplier + commission
        (negative); the multiplier is the instrument's (100 for US equity options)."""
        return -self.signed_quantity * self.price * multiplier - self.commission

    def to_dict(self) -> dict[str, Any]:
        out = {"client_order_id": self.client_order_id, "symbol": self.symbol, "side": self.side.value,
               "quantity": self.quantity, "price": self.price, "commission": self.commission,
               "timestamp": self.timestamp.isoformat(), "fill_id": self.fill_id}
        if self.venue is not None:  # absent, not null: fills written before venues hash as they did
            out["venue"] = self.venue
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        return cls(d["client_order_id"], d["symbol"], d["side"], d["quantity"], d["price"], d["commission"],
                   _parse_time(d["timestamp"]), d["fill_id"], d.get("venue"))


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise DomainError(f"timestamp must be ISO 8601, got {text!r}") from None
