"""What a broker tells the engine, typed: its events, what it can do, and what it holds.

A broker answers ``submit``, ``cancel`` and ``replace`` with an acknowledgement and reports
everything else as a stream of :class:`BrokerEvent` (in the order it happened at the broker):

- :class:`Accepted`: the broker took the order (it is working there);
- :class:`Rejected`: the broker refused it (``code``: a RejectReason value where one applies);
- :class:`PartiallyFilled` / :class:`Filled`: an execution (the last one that completes the order
  is ``Filled``), carrying the :class:`~raytrade.core.orders.Fill` with a stable ``fill_id``;
- :class:`Cancelled`: the order's rest is no longer working (a cancel, an IOC remainder, an expiry);
- :class:`CancelRejected`: a cancel or replace request the broker refused (the order works on);
- :class:`Replaced`: a replace took effect (new quantity and/or limit price).

:class:`BrokerCapabilities` says what a broker accepts, apart from the connection;
:class:`BrokerAccount` is what :meth:`~raytrade.brokers.base.Broker.reconcile` returns: the broker's
open orders, positions and cash, which the engine compares with its log at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from raytrade.core.enums import OrderType, TimeInForce
from raytrade.core.instruments import Instrument
from raytrade.core.orders import Fill, Order


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    client_order_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Accepted(BrokerEvent):
    pass


@dataclass(frozen=True, slots=True)
class Rejected(BrokerEvent):
    detail: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class PartiallyFilled(BrokerEvent):
    fill: Fill


@dataclass(frozen=True, slots=True)
class Filled(BrokerEvent):
    fill: Fill


@dataclass(frozen=True, slots=True)
class Cancelled(BrokerEvent):
    detail: str = "cancelled at the broker"


@dataclass(frozen=True, slots=True)
class CancelRejected(BrokerEvent):
    detail: str


@dataclass(frozen=True, slots=True)
class Replaced(BrokerEvent):
    quantity: float
    limit_price: float | None


FILL_EVENTS = (PartiallyFilled, Filled)


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    """What a broker accepts: order types, times in force, fractional quantities. Lot and tick
    rules are the instrument's (:class:`~raytrade.core.instruments.Instrument`), checked here too."""

    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    time_in_force: frozenset[TimeInForce] = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC,
                                                        TimeInForce.FOK})
    fractional: bool = False

    def refusal(self, order: Order, instrument: Instrument) -> str | None:
        """Why this broker cannot take ``order`` (None: it can)."""
        if order.order_type not in self.order_types:
            return (f"the broker does not support {order.order_type.value} orders "
                    f"(it takes {', '.join(sorted(t.value for t in self.order_types))})")
        if order.time_in_force not in self.time_in_force:
            return (f"the broker does not support time in force {order.time_in_force.value} "
                    f"(it takes {', '.join(sorted(t.value for t in self.time_in_force))})")
        if not instrument.is_lot_multiple(order.quantity):
            return f"quantity {order.quantity:g} is not a multiple of the lot size {instrument.lot_size:g}"
        if not self.fractional and instrument.lot_size >= 1 and order.quantity != int(order.quantity):
            return f"the broker does not take fractional quantities, got {order.quantity:g}"
        return None


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """The broker's view: ``open_orders`` client order id -> signed remaining quantity (+ buy),
    ``positions`` symbol -> signed quantity (zero positions left out), ``cash`` in account
    currency (None: the broker does not report cash, as the paper broker does not)."""

    open_orders: dict[str, float] = field(default_factory=dict)
    positions: dict[str, float] = field(default_factory=dict)
    cash: float | None = None
