"""The Broker interface the order manager routes to (paper now, Interactive Brokers later).

A broker receives validated, risk- and compliance-approved orders. ``submit``, ``cancel`` and
``replace`` are answered by an acknowledgement; everything that happens to an order is reported as
a stream of typed events (:mod:`raytrade.core.broker_events`: accepted, rejected, partially filled,
filled, cancelled, cancel rejected, replaced), read with :meth:`Broker.events` (waits) or
:meth:`Broker.take_events` (what is there now). :meth:`Broker.reconcile` returns the broker's open
orders, positions and cash; :attr:`Broker.capabilities` what it accepts. Fill ids are stable: the
same execution reported twice carries the same ``fill_id``, so the order manager applies fills
idempotently after a restart. (``submit``'s reply also carries the fills of that moment and
:meth:`take_fills` the later ones: the paper broker's original interface, kept for its tests.)

An in-process broker (``in_process``: the paper broker) is part of the engine's own state: telling
it of an order has no effect outside the process, and what it answers at once is a pure function of
the order manager's state. The order manager commits such an order's acceptance together with the
fills it got at once, in one transaction, and calls :meth:`Broker.withdraw` when that commit fails
(the order is then refused as if never sent). An external broker (Interactive Brokers) gets an
order only after its acceptance is committed.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from raytrade.core.broker_events import BrokerAccount, BrokerCapabilities, BrokerEvent
from raytrade.core.instruments import Instrument
from raytrade.core.market import Bar
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
    capabilities: BrokerCapabilities = BrokerCapabilities()
    _stream: deque[BrokerEvent] | None = None
    _wake: asyncio.Event | None = None

    def _pending(self) -> deque[BrokerEvent]:
        if self._stream is None:
            self._stream = deque()
        return self._stream

    def emit(self, event: BrokerEvent) -> None:
        """Report ``event`` on the stream (brokers call this; the stream keeps their order)."""
        self._pending().append(event)
        if self._wake is not None:
            self._wake.set()

    def take_events(self, client_order_id: str | None = None, *,
                    skip: Collection[str] = ()) -> list[BrokerEvent]:
        """The events reported and not yet read, without waiting: only ``client_order_id``'s when
        given, none of the orders in ``skip``; the others stay for their reader. An in-process
        broker's events of a call are all there when the call returns, and concurrent calls each
        take their own."""
        buf = self._pending()
        if client_order_id is None and not skip:
            out = list(buf)
            buf.clear()
            return out
        out, rest = [], []
        for e in buf:
            mine = (client_order_id is None or e.client_order_id == client_order_id) and e.client_order_id not in skip
            (out if mine else rest).append(e)
        buf.clear()
        buf.extend(rest)
        return out

    async def events(self) -> AsyncIterator[BrokerEvent]:
        """The stream of events as they come (waits for the next one; one reader at a time;
        what :meth:`take_events` took is not repeated)."""
        while True:
            buf = self._pending()
            if buf:
                yield buf.popleft()
                continue
            if self._wake is None:
                self._wake = asyncio.Event()
            self._wake.clear()
            await self._wake.wait()

    @abc.abstractmethod
    async def reconcile(self) -> BrokerAccount:
        """The broker's open orders, positions and cash, as it sees them now."""

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

    def restore_market(self, symbol: str, last: float, ts: datetime, volume: float | None = None) -> None:
        """After a restart: the last known price (a simulated venue fills against it; a real
        broker has its own market and ignores this)."""
        return None

    def restore_positions(self, fills_by_symbol: dict[str, float]) -> None:
        """After a restart: the net quantities the log's fills moved (a simulated venue adds them
        to its holdings; a real broker knows its own)."""
        return None

    def on_bar(self, bar: Bar) -> list[Fill]:
        """A new bar (a simulated venue fills resting orders against it; a real broker ignores it)."""
        return []

    def withdraw(self, client_order_id: str, fills: Sequence[Fill]) -> None:
        """Forget an order submitted a moment ago whose acceptance could not be committed, with
        the ``fills`` its submission returned, as if it had never been sent (in-process brokers)."""
        raise TypeError(f"the {self.name} broker sends orders out of the process: it cannot take one back")

    @abc.abstractmethod
    def take_fills(self) -> list[Fill]:
        """Fills since the last call that were not returned by ``submit``."""
