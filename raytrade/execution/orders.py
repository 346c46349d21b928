"""The order state machine and the order book it lives in.

States and the only transitions allowed (anything else raises OrderStateError)::

    new -> submitted | accepted | rejected
    submitted -> accepted | partially_filled | filled | pending_cancel | cancelled | expired | rejected
    accepted -> partially_filled | filled | pending_cancel | pending_replace | cancelled | expired | rejected
    partially_filled -> partially_filled | filled | pending_cancel | pending_replace | cancelled | expired
    pending_cancel -> pending_cancel (a partial fill) | accepted | partially_filled (cancel refused)
                      | filled | cancelled | expired | rejected
    pending_replace -> pending_replace (a partial fill) | accepted | partially_filled (replaced, or
                       the replace refused) | pending_cancel | filled | cancelled | expired | rejected

filled, cancelled, rejected and expired are terminal. ``submitted``: the engine accepted the order
and sent it to an external broker, which has not acknowledged it yet (an in-process broker answers
at once, so its orders go straight to ``accepted``). ``pending_cancel`` / ``pending_replace``: the
request is committed but the broker has not confirmed it; a fill that arrives meanwhile is booked
(the order stays pending, or is filled), never refused. A replace (new quantity and/or limit) is
allowed only on a working order, never below the quantity already filled.

The book is rebuilt from the event log by :meth:`OrderBook.apply_event`, which reads the typed
payloads of :mod:`raytrade.core.payloads`:

- ``order_submitted``: ``OrderAccepted`` (the order, sent to an external broker)
- ``order_accepted``: ``OrderAccepted`` (the principal is the event's; an order already
  ``submitted`` becomes ``accepted``: the broker acknowledged it)
- ``order_rejected``: ``OrderRejected`` (before acceptance, or by the broker after it)
- ``fill``: ``FillPayload``
- ``order_cancel_requested`` / ``order_replace_requested`` / ``order_cancelled`` /
  ``order_expired`` / ``order_cancel_rejected``: ``OrderRef``
- ``order_replaced``: ``OrderReplaced``

Parent and child orders: a parent (``exec`` in its acceptance) is worked by an execution algorithm
and never sent to a broker; its children (``parent`` in theirs) are. A child's fill is booked on
the child and on its parent (same fill id), so the parent's filled quantity, average price and
status follow its children. The open quantity of a symbol counts the parent's remaining quantity
and not its children's (they are part of it). A fill of a child whose parent is already closed
(cancelled) is booked on the child only.

Replay never stops at a record the state machine refuses (an order accepted twice, a fill for an
unknown order, a transition out of a terminal state): the log is what happened, so the book keeps
its state, skips the record and reports it in :attr:`OrderBook.anomalies` (the order manager
prints them at a rebuild and reports their count).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from raytrade.core import payloads
from raytrade.core.clock import utc_now
from raytrade.core.enums import EventType, OrderStatus, RejectReason
from raytrade.core.errors import DomainError, OrderStateError
from raytrade.core.events import Event
from raytrade.core.orders import Fill, Order

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.SUBMITTED, S.ACCEPTED, S.REJECTED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELLED, S.EXPIRED,
                            S.REJECTED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELLED, S.EXPIRED,
                           S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELLED,
                                   S.EXPIRED}),
    S.PENDING_CANCEL: frozenset({S.PENDING_CANCEL, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED,
                                 S.REJECTED}),
    S.PENDING_REPLACE: frozenset({S.PENDING_REPLACE, S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.FILLED,
                                  S.CANCELLED, S.EXPIRED, S.REJECTED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
PENDING = frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE})
QTY_EPS = 1e-9
MAX_ANOMALIES = 1000


@dataclass(slots=True)
class ManagedOrder:
    """An order and what happened to it. ``filled_quantity`` >= 0; ``avg_fill_price`` is the
    quantity-weighted mean fill price (None before the first fill)."""

    order: Order
    principal: str
    status: OrderStatus = S.NEW
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    reject_code: RejectReason | None = None
    reject_detail: str | None = None
    updated_at: datetime = field(default_factory=utc_now)
    fill_ids: list[str] = field(default_factory=list)
    parent_id: str | None = None          # a child order's parent (its quantity is the parent's)
    exec_spec: dict[str, Any] | None = None  # a parent's execution algorithm

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def remaining(self) -> float:
        return 0.0 if self.status in TERMINAL else max(self.order.quantity - self.filled_quantity, 0.0)

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL

    def transition(self, to: OrderStatus, at: datetime | None = None) -> None:
        if to not in TRANSITIONS[self.status]:
            raise OrderStateError(f"order {self.client_order_id}: cannot go from {self.status.value} to {to.value}")
        self.status = to
        self.updated_at = at or utc_now()

    def apply_fill(self, fill: Fill) -> None:
        """Add ``fill``; a fill already applied (same ``fill_id``) is ignored."""
        if fill.fill_id in self.fill_ids:
            return
        if fill.client_order_id != self.client_order_id or fill.symbol != self.order.symbol or fill.side != self.order.side:
            raise OrderStateError(f"fill {fill.fill_id} does not belong to order {self.client_order_id}")
        if fill.quantity > self.remaining + QTY_EPS:
            raise OrderStateError(f"order {self.client_order_id}: fill of {fill.quantity} exceeds the remaining "
                                  f"{self.remaining} (overfill refused)")
        new_filled = self.filled_quantity + fill.quantity
        prev_value = (self.avg_fill_price or 0.0) * self.filled_quantity
        done = math.isclose(new_filled, self.order.quantity, rel_tol=0.0, abs_tol=QTY_EPS)
        partial = self.status if self.status in PENDING else S.PARTIALLY_FILLED
        self.transition(S.FILLED if done else partial, fill.timestamp)
        self.avg_fill_price = (prev_value + fill.price * fill.quantity) / new_filled
        self.filled_quantity = self.order.quantity if done else new_filled
        self.fill_ids.append(fill.fill_id)

    @property
    def working_status(self) -> OrderStatus:
        """The state a pending request returns to: partially filled once anything filled."""
        return S.PARTIALLY_FILLED if self.filled_quantity > QTY_EPS else S.ACCEPTED

    def replace(self, quantity: float | None, limit_price: float | None) -> Order:
        """The order with a new quantity and/or limit price (validated like a new order)."""
        if not self.is_open or self.status is S.PENDING_CANCEL:
            raise OrderStateError(f"order {self.client_order_id} is {self.status.value}: nothing to replace")
        new = replace(self.order, quantity=self.order.quantity if quantity is None else quantity,
                      limit_price=self.order.limit_price if limit_price is None else limit_price)
        if new.quantity < self.filled_quantity - QTY_EPS:
            raise OrderStateError(f"order {self.client_order_id}: new quantity {new.quantity} is below the "
                                  f"{self.filled_quantity} already filled")
        return new

    def view(self) -> dict[str, Any]:
        """JSON-ready view for clients."""
        extra: dict[str, Any] = {}
        if self.parent_id is not None:
            extra["parent_id"] = self.parent_id
        if self.exec_spec is not None:
            extra["exec_algorithm"] = self.exec_spec
        return {**self.order.to_dict(), **extra, "status": self.status.value, "principal": self.principal,
                "filled_quantity": self.filled_quantity, "remaining_quantity": self.remaining,
                "avg_fill_price": self.avg_fill_price,
                "reject_code": self.reject_code.value if self.reject_code else None,
                "reject_detail": self.reject_detail, "updated_at": self.updated_at.isoformat()}


@dataclass(slots=True)
class Rejection:
    """An order refused before it could be built or accepted (its request may be malformed)."""

    client_order_id: str
    principal: str
    request: dict[str, Any]
    code: RejectReason
    detail: str
    at: datetime

    # What a listing reads of any entry of the book, named as on ManagedOrder.
    status = S.REJECTED

    @property
    def updated_at(self) -> datetime:
        return self.at

    def view(self) -> dict[str, Any]:
        return {**self.request, "client_order_id": self.client_order_id, "status": OrderStatus.REJECTED.value,
                "principal": self.principal, "filled_quantity": 0.0, "remaining_quantity": 0.0,
                "avg_fill_price": None, "reject_code": self.code.value, "reject_detail": self.detail,
                "updated_at": self.at.isoformat()}


class OrderBook:
    """Every order the engine has seen, by client order id (accepted and rejected)."""

    def __init__(self) -> None:
        self.orders: dict[str, ManagedOrder] = {}
        self.rejections: dict[str, Rejection] = {}
        self._open: dict[str, ManagedOrder] = {}  # index: the book grows, the open orders do not
        # Signed remaining quantity and count of the open orders per symbol, kept as orders change:
        # the risk gate asks for it on every order, and summing thousands of resting orders each
        # time would cost more than the rest of the order's path. A symbol leaves when its last
        # open order closes, so float residue cannot outlive its orders.
        self._open_qty: dict[str, float] = {}
        self._open_count: dict[str, int] = {}
        self.anomalies: list[dict[str, Any]] = []  # records replay skipped (the newest MAX_ANOMALIES)
        self.anomaly_count = 0

    def __contains__(self, client_order_id: str) -> bool:
        return client_order_id in self.orders or client_order_id in self.rejections

    def view(self, client_order_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The order's (or rejection's) view; None when unknown, or placed by another principal
        than ``owner`` (when given): an order is not shown to whoever did not place it."""
        x: ManagedOrder | Rejection | None = self.orders.get(client_order_id) or self.rejections.get(client_order_id)
        if x is None or (owner is not None and x.principal != owner):
            return None
        return x.view()

    def owner(self, client_order_id: str) -> str | None:
        """The principal that placed the order (None: unknown id)."""
        x = self.orders.get(client_order_id) or self.rejections.get(client_order_id)
        return x.principal if x is not None else None

    def listing(self, status: OrderStatus | None = None, symbol: str | None = None,
                since: datetime | None = None, limit: int = 100, offset: int = 0,
                owner: str | None = None) -> dict[str, Any]:
        """Orders and rejections newest first by last update (ties: accepted orders in the order
        they were accepted, then rejections), filtered by ``status``, ``symbol``, updates at or
        after ``since`` (aware) and the principal that placed them (``owner``; None: anyone's);
        ``total`` counts every match. Only the page's views are built,
        and only its ``offset + limit`` newest are ranked, so a long book costs one pass."""
        if limit < 0 or offset < 0:
            raise OrderStateError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")

        def wanted(x: ManagedOrder | Rejection) -> bool:
            sym = x.request.get("symbol") if isinstance(x, Rejection) else x.order.symbol
            return ((status is None or x.status is status) and (symbol is None or sym == symbol)
                    and (since is None or x.updated_at >= since) and (owner is None or x.principal == owner))

        entries: list[ManagedOrder | Rejection] = [*self.orders.values(), *self.rejections.values()]
        matches = [x for x in entries if wanted(x)]
        # nlargest over (time, -position) keeps equal times in list order, as a stable sort would.
        ranked = heapq.nlargest(offset + limit, range(len(matches)),
                                key=lambda i: (matches[i].updated_at, -i))
        return {"total": len(matches), "offset": offset, "limit": limit,
                "orders": [matches[i].view() for i in ranked[offset:]]}

    def open_orders(self, symbol: str | None = None) -> list[ManagedOrder]:
        return [m for m in self._open.values() if symbol is None or m.order.symbol == symbol]

    def open_quantities(self) -> dict[str, float]:
        """Signed remaining quantity of the open orders (+ buys, - sells), per symbol that has any
        (a copy; kept up to date as orders change, not summed per call)."""
        return dict(self._open_qty)

    def open_quantity(self, symbol: str) -> float:
        """Signed quantity still to fill on ``symbol``'s open orders (+ buys, - sells)."""
        return self._open_qty.get(symbol, 0.0)

    def _track(self, m: ManagedOrder, before: float, opened: bool = False) -> None:
        """Account for a change of ``m``'s signed remaining quantity from ``before``; ``opened``
        when ``m`` has just joined the open orders. A closed order leaves the index."""
        sym = m.order.symbol
        if m.parent_id is not None:  # a child's quantity is its parent's: counted there, once
            if not m.is_open:
                self._open.pop(m.client_order_id, None)
            return
        if opened:
            self._open_count[sym] = self._open_count.get(sym, 0) + 1
        if m.is_open:
            self._open_qty[sym] = self._open_qty.get(sym, 0.0) + m.order.side.sign * m.remaining - before
            return
        self._open.pop(m.client_order_id, None)
        left = self._open_count[sym] - 1
        if left:
            self._open_count[sym] = left
            self._open_qty[sym] -= before
        else:
            del self._open_count[sym], self._open_qty[sym]

    def accept(self, order: Order, principal: str, at: datetime, status: OrderStatus = S.ACCEPTED,
               parent_id: str | None = None, exec_spec: dict[str, Any] | None = None) -> ManagedOrder:
        """Add ``order`` as ``accepted`` (or ``submitted``: sent to an external broker); a child
        names its ``parent_id`` (an open order of the book), a parent its ``exec_spec``."""
        if order.client_order_id in self.orders:
            raise OrderStateError(f"order {order.client_order_id} is already in the book: accepted once only")
        if parent_id is not None:
            parent = self.orders.get(parent_id)
            if parent is None or parent.exec_spec is None:
                raise OrderStateError(f"order {order.client_order_id}: its parent {parent_id!r} is not a parent order")
        m = ManagedOrder(order, principal, updated_at=at, parent_id=parent_id, exec_spec=exec_spec)
        m.transition(status, at)
        self.orders[order.client_order_id] = m
        self._open[order.client_order_id] = m
        self._track(m, 0.0, opened=True)
        return m

    def reject(self, client_order_id: str, principal: str, request: dict[str, Any], code: RejectReason,
               detail: str, at: datetime) -> Rejection:
        r = Rejection(client_order_id, principal, request, code, detail, at)
        self.rejections[client_order_id] = r
        return r

    def get(self, client_order_id: str) -> ManagedOrder:
        try:
            return self.orders[client_order_id]
        except KeyError:
            raise OrderStateError(f"unknown order {client_order_id!r}") from None

    def apply_event(self, event: Event) -> bool:
        """Replay one logged event into the book (events of other kinds are ignored). A record the
        state machine refuses is skipped and reported (:attr:`anomalies`); returns False then."""
        p = event.payload
        cid = p.get("client_order_id") or (p.get("fill") or {}).get("client_order_id") \
            or (p.get("order") or {}).get("client_order_id")
        m = self._open.get(cid) if isinstance(cid, str) else None
        before = m.order.side.sign * m.remaining if m is not None else 0.0
        try:
            self._apply(event)
        except (ValueError, KeyError, TypeError) as exc:  # DomainError and OrderStateError are ValueErrors
            self.anomaly_count += 1
            detail = str(exc) if isinstance(exc, DomainError) else f"malformed payload: {type(exc).__name__}: {exc}"
            self.anomalies.append({"sequence": event.sequence, "type": event.type.value, "client_order_id": cid,
                                   "detail": detail})
            del self.anomalies[:-MAX_ANOMALIES]
            return False
        finally:
            if m is not None:
                self._track(m, before)
        return True

    def _apply(self, event: Event) -> None:
        t, at, data = event.type, event.timestamp, event.data
        if isinstance(data, payloads.OrderAccepted):
            cid = data.order.client_order_id
            m = self.orders.get(cid)
            if t is EventType.ORDER_ACCEPTED and m is not None and m.status is S.SUBMITTED:
                m.transition(S.ACCEPTED, at)  # the broker acknowledged an order sent to it
            else:
                self.accept(data.order, event.principal, at, S.SUBMITTED if t is EventType.ORDER_SUBMITTED
                            else S.ACCEPTED, data.parent, data.exec)
        elif isinstance(data, payloads.OrderRejected):
            if data.client_order_id in self.orders:  # refused by the broker after acceptance
                m = self.orders[data.client_order_id]
                m.transition(S.REJECTED, at)
                m.reject_code, m.reject_detail = data.code, data.detail
            else:
                self.reject(data.client_order_id, event.principal, data.request, data.code, data.detail, at)
        elif isinstance(data, payloads.FillPayload):
            m = self.get(data.fill.client_order_id)
            m.apply_fill(data.fill)
            parent = self.orders.get(m.parent_id) if m.parent_id else None
            if parent is not None and parent.is_open:  # a child's fill fills its parent too
                before = parent.order.side.sign * parent.remaining
                parent.apply_fill(replace(data.fill, client_order_id=parent.client_order_id))
                self._track(parent, before)
        elif isinstance(data, payloads.OrderRef):
            m = self.get(data.client_order_id)
            if t is EventType.ORDER_CANCEL_REJECTED:
                if m.status in PENDING:  # the broker refused the cancel or replace: still working
                    m.transition(m.working_status, at)
            else:
                m.transition({EventType.ORDER_CANCEL_REQUESTED: S.PENDING_CANCEL,
                              EventType.ORDER_REPLACE_REQUESTED: S.PENDING_REPLACE,
                              EventType.ORDER_CANCELLED: S.CANCELLED, EventType.ORDER_EXPIRED: S.EXPIRED}[t], at)
        elif isinstance(data, payloads.OrderReplaced):
            m = self.get(data.client_order_id)
            m.order = m.replace(data.quantity, data.limit_price)
            if m.status is S.PENDING_REPLACE:  # the broker confirmed it
                m.transition(m.working_status, at)
            m.updated_at = at
