"""The Broker interface the order manager routes to (paper now, Interactive Brokers later).

A broker receives validated, risk- and compliance-approved orders. ``submit`` returns the fills
that happened at once (a paper broker filling against the current price); fills that happen later
(resting limit orders, an exchange's asynchronous executions) are collected with
:meth:`take_fills`. Fill ids are stable: the same execution reported twice carries the same
``fill_id``, so the order manager can apply fills idempotently after a restart.

An in-process broker (``in_process``: the paper broker) is part of the engine's own state: telling
it of an order has no effect outside the process, and what it answers at once is a pure function of
the order manager's state. The order manager commits such an order's acceptance together with the
fills it got at once, in one transaction, and calls :meth:`Broker.withdraw` when that commit fails
(the order is then refused as if never sent). An external broker (Interactive Brokers) gets an
order only after its acceptance is committed.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from raytrade.core.instruments import Instrument
from raytrade.core.orders import Fill, Order


@dataclass(frozen=True, slots=True)
class BrokerReply:
    accepted: bool
    detail: str = ""
    fills: tuple[Fill, ...] = field(default_factory=tuple)
    cancelled_remainder: bool = False  # an IOC order's unfilled rest was cancelled
    code: str | None = None  # a RejectReason value for a refusal that is not BROKER_REJECTED (e.g. NO_MARKET_PRICE)


class Broker(abc.ABC):
    name: str = "broker"
    in_process: ClassVar[bool] = False

    async def connect(self) -> None:
        """Open the session (nothing for a paper broker)."""
        return None

    async def close(self) -> None:
        """Close the session."""
        return None

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise BrokerUnavailableError unless the broker answers."""

    @abc.abstractmethod
    async def submit(self, order: Order, instrument: Instrument) -> BrokerReply: ...

    @abc.abstractmethod
    async def cancel(self, client_order_id: str) -> bool:
        """Cancel a working order; False when the broker holds nothing to cancel."""

    @abc.abstractmethod
    async def replace(self, order: Order) -> bool:
        """Change a working order's quantity or limit (same client order id)."""

    @abc.abstractmethod
    async def restore(self, order: Order, instrument: Instrument, filled_quantity: float, fills_reported: int) -> None:
        """After a restart of the order manager: re-attach a working order the log says is open
        (a paper broker re-creates it; a real broker reconciles with its own open orders)."""

    def withdraw(self, client_order_id: str, fills: Sequence[Fill]) -> None:
        """Forget an order submitted a moment ago whose acceptance could not be committed, with
        the ``fills`` its submission returned, as if it had never been sent (in-process brokers)."""
        raise TypeError(f"the {self.name} broker sends orders out of the process: it cannot take one back")

    @abc.abstractmethod
    def take_fills(self) -> list[Fill]:
        """Fills since the last call that were not returned by ``submit``."""
