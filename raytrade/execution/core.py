"""The trading core: every decision of the engine, as a plain class with no I/O and no Ray.

One core serves the engine's order manager (an I/O shell around it: it commits what the core
returns, talks to the broker, notifies the portfolio and records metrics), the in-process replay
(:mod:`raytrade.execution.replay`) and the tests. It takes commands and returns the events to
commit; it changes its state only when the committed events are applied to it
(:meth:`TradingCore.apply`), so a restart that replays the log rebuilds exactly the state the
decisions were made on. The one exception is what concurrent decisions must see before their
events are committed: the quantity of orders being decided or routed (:meth:`release`), the risk
rate limit's window and a daily-loss halt just triggered (the halt's event is among the returned).

What it holds: the order blotter (:class:`~raytrade.execution.orders.OrderBook`), the book
(:class:`~raytrade.core.portfolio.Portfolio` from fills, cash and session starts), the pre-trade
risk limits (:class:`~raytrade.risk.pretrade.PreTradeRisk`) and the compliance rules
(:class:`~raytrade.compliance.rules.ComplianceChecker`), the engine's running switch, the
strategies' switches and the current session. Time comes from an injected clock: the newest bar's
time in replay (``clock="market"``), the wall clock live.

A submission (:meth:`TradingCore.submit`): validate -> compliance (its violations are events) ->
risk (a daily-loss halt it triggers is an event) -> a :class:`Verdict` whose events end with the
rejection, or whose ``order`` is to be sent (the acceptance event is ``verdict.accept``). Broker
reports become log events through :meth:`TradingCore.from_broker`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from raytrade.compliance.calendar import session_date
from raytrade.compliance.rules import ComplianceChecker, ComplianceRules, Violation
from raytrade.core import checks, payloads
from raytrade.core.broker_events import (
    Accepted,
    BrokerEvent,
    Cancelled,
    CancelRejected,
    Filled,
    PartiallyFilled,
    Rejected,
    Replaced,
)
from raytrade.core.clock import utc_now
from raytrade.core.enums import (
    AssetClass,
    EventType,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
)
from raytrade.core.errors import ConfigError, DomainError, OrderStateError
from raytrade.core.events import Event
from raytrade.core.instruments import Instrument
from raytrade.core.market import Bar
from raytrade.core.orders import Fill, Order
from raytrade.core.portfolio import Portfolio
from raytrade.execution.algorithms import ExecutionAlgorithm, ParentSpec, make_algorithm
from raytrade.execution.orders import PENDING, OrderBook
from raytrade.risk.limits import RiskLimits
from raytrade.risk.pretrade import PreTradeRisk

REQUEST_FIELDS = ("symbol", "side", "quantity", "order_type", "limit_price", "stop_price", "time_in_force",
                  "strategy", "parent_id")
MAX_HORIZON_S = 7 * 86_400.0  # a parent's horizon: at most a week
# The event types the core's state is rebuilt from (what a restart reads).
CORE_TYPES = (EventType.ORDER_SUBMITTED, EventType.ORDER_ACCEPTED, EventType.ORDER_REJECTED, EventType.FILL,
              EventType.ORDER_CANCEL_REQUESTED, EventType.ORDER_REPLACE_REQUESTED, EventType.ORDER_CANCEL_REJECTED,
              EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED, EventType.ORDER_REPLACED,
              EventType.ENGINE_STARTED, EventType.ENGINE_STOPPED, EventType.STRATEGY_STARTED,
              EventType.STRATEGY_STOPPED, EventType.SESSION_STARTED, EventType.CASH_CHANGED,
              EventType.TRADING_HALTED, EventType.TRADING_RESUMED, EventType.PARAMETER_CHANGED,
              EventType.VIOLATION)


def json_safe(value: Any) -> Any:
    """A client's raw field as something the log can hold (NaN, NUL characters and objects as text)."""
    if isinstance(value, str):
        return repr(value) if "\x00" in value else value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


@dataclass(slots=True)
class StrategyBook:
    """What one strategy's orders did: signed ``positions`` per symbol, the ``cash_flow`` of its
    fills (currency: sales in, purchases and commissions out, with the instrument's multiplier) and
    the number of ``fills``. Its equity at prices p is capital + cash_flow + sum(position x p x
    multiplier)."""

    positions: dict[str, float] = field(default_factory=dict)
    cash_flow: float = 0.0
    fills: int = 0

    def apply(self, fill: Fill, multiplier: float = 1.0) -> None:
        q = self.positions.get(fill.symbol, 0.0) + fill.signed_quantity
        if abs(q) < 1e-12:
            self.positions.pop(fill.symbol, None)
        else:
            self.positions[fill.symbol] = q
        self.cash_flow += fill.cash_change(multiplier)
        self.fills += 1

    def to_dict(self) -> dict[str, Any]:
        return {"positions": dict(self.positions), "cash_flow": self.cash_flow, "fills": self.fills}


@dataclass(slots=True)
class Verdict:
    """The core's answer to a submission. ``events`` come first in the commit (violations, a
    halt, and the rejection when refused); ``order`` is the order to send (None: refused, see
    ``code`` and ``detail``) and ``accept`` its acceptance event."""

    events: list[Event] = field(default_factory=list)
    order: Order | None = None
    accept: Event | None = None
    route: bool = True  # False for a parent order: its children go to the broker, not it
    code: RejectReason | None = None
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.order is not None


class TradingCore:
    """The engine's decisions and the state they are made on (see the module)."""

    def __init__(self, instruments: Mapping[str, Instrument], *, limits: RiskLimits | None = None,
                 rules: ComplianceRules | None = None, calendar_venue: str = "XNYS",
                 clock: Literal["wall", "market"] = "market", now: Callable[[], datetime] = utc_now) -> None:
        self.instruments = dict(instruments)
        self.calendar = Instrument("CALENDAR", AssetClass.CRYPTO if calendar_venue == "CRYPTO" else AssetClass.EQUITY,
                                   venue=calendar_venue)
        self.clock = clock
        self._wall = now
        self.base_limits = limits or RiskLimits()
        self.rules = rules or ComplianceRules()
        self.sectors = {s: i.sector for s, i in self.instruments.items()}
        self.book = OrderBook()
        self.portfolio = Portfolio(0.0, {s: i.multiplier for s, i in self.instruments.items()})
        self.risk = PreTradeRisk(self.base_limits, self.sectors)
        self.compliance = ComplianceChecker(self.rules)
        self.violations: list[Violation] = []
        self.running = True
        self.strategies: dict[str, bool] = {}  # started (True) or stopped (False), as last logged
        self.strategy_specs: dict[str, dict[str, Any]] = {}  # what a runner runs, as last started
        self.strategy_books: dict[str, StrategyBook] = {}  # per strategy tag: what its orders' fills did
        self.day: str | None = None
        self.market_now: datetime | None = None
        self.parents: dict[str, ExecutionAlgorithm] = {}  # working parent orders' algorithms, by client order id
        self.children: dict[str, int] = {}  # children decided per parent (accepted or refused): the next id
        self.kids: dict[str, list[str]] = {}  # a parent's accepted children's ids, in order
        self.volume: dict[str, float] = {}  # market volume seen per symbol (what POV follows)
        self._reserved: defaultdict[str, float] = defaultdict(float)

    # --- time --------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The newest bar's time with the market clock (the wall clock before the first bar)."""
        return self.market_now if self.clock == "market" and self.market_now else self._wall()

    # --- submissions -------------------------------------------------------------------------

    def submit(self, cid: str, request: Mapping[str, Any], principal: str, *, sent_out: bool = False) -> Verdict:
        """Decide on a request (fields of :class:`~raytrade.core.orders.Order`, plus ``reason``).
        An accepted order's quantity counts as open for later decisions until :meth:`release`.
        ``sent_out``: the broker is outside the process; the acceptance is then ``order_submitted``."""
        raw = {k: json_safe(request.get(k)) for k in REQUEST_FIELDS if k in request}
        reason = request.get("reason") or "order submitted"
        v = Verdict(raw=raw)
        if not isinstance(reason, str) or "\x00" in reason or len(reason) > 200:
            return self._refuse(v, cid, principal, RejectReason.INVALID_ORDER,
                                "reason must be text of at most 200 characters without NUL characters")
        if not self.running:
            return self._refuse(v, cid, principal, RejectReason.ENGINE_STOPPED,
                                "the engine is stopped; start it to accept orders")
        built = self.build(cid, request)
        if isinstance(built, tuple):
            return self._refuse(v, cid, principal, *built)
        order = built
        if order.strategy is not None and not self.strategies.get(order.strategy, True):
            return self._refuse(v, cid, principal, RejectReason.STRATEGY_STOPPED,
                                f"strategy {order.strategy!r} is stopped; start it to accept its orders")
        now = self.now()
        parent_id = request.get("parent_id")
        if parent_id is not None:
            return self._child(v, order, str(parent_id), principal, reason, now, sent_out)
        exec_spec = None
        if request.get("exec_algorithm") is not None:
            spec = self._exec_spec(order, request, now)
            if isinstance(spec, str):
                return self._refuse(v, cid, principal, RejectReason.INVALID_ORDER, spec)
            exec_spec = spec
        open_q = self.open_quantities()
        try:
            c = self.compliance.check(order, self.instruments[order.symbol], now, self.portfolio.price(order.symbol),
                                      self.portfolio.quantity(order.symbol) + open_q.get(order.symbol, 0.0))
        except Exception as exc:  # fail closed, whatever went wrong
            return self._refuse(v, cid, principal, RejectReason.COMPLIANCE_UNAVAILABLE,
                                f"compliance check failed: {type(exc).__name__}: {exc}")
        v.events.extend(Event(EventType.VIOLATION, "compliance", x.detail, x.to_dict(), now) for x in c.violations)
        if not c.ok:
            assert c.code is not None
            return self._refuse(v, cid, principal, c.code, c.detail)
        was = self.risk.halted
        try:
            d = self.risk.check(order, self.portfolio, open_q, now, self.instruments[order.symbol].multiplier)
        except Exception as exc:
            return self._refuse(v, cid, principal, RejectReason.RISK_UNAVAILABLE,
                                f"risk check failed: {type(exc).__name__}: {exc}")
        if self.risk.halted and not was:
            assert self.risk.halt_code is not None
            v.events.append(Event(EventType.TRADING_HALTED, "risk", "daily loss limit breached",
                                  {"code": self.risk.halt_code.value, "detail": self.risk.halt_detail}, now))
        if not d.ok:
            assert d.code is not None
            return self._refuse(v, cid, principal, d.code, d.detail)
        v.order = order
        if exec_spec is not None:  # a parent: accepted here, worked by its algorithm, never sent itself
            v.route = False
            v.accept = Event(EventType.ORDER_ACCEPTED, principal, reason, {"order": order.to_dict(), "exec": exec_spec},
                             now, typed=payloads.OrderAccepted(order, None, exec_spec))
        else:
            v.accept = Event(EventType.ORDER_SUBMITTED if sent_out else EventType.ORDER_ACCEPTED, principal, reason,
                             {"order": order.to_dict()}, now, typed=payloads.OrderAccepted(order))
        self._reserved[order.symbol] += order.signed_quantity
        return v

    def _multiplier(self, symbol: str) -> float:
        i = self.instruments.get(symbol)
        return i.multiplier if i is not None else 1.0

    def _exec_spec(self, order: Order, request: Mapping[str, Any], now: datetime) -> dict[str, Any] | str:
        """A parent's algorithm spec {name, params, urgency, start, end} checked by building the
        algorithm, or why it cannot be one."""
        ea = request.get("exec_algorithm")
        if not isinstance(ea, Mapping) or not isinstance(ea.get("name"), str):
            return "exec_algorithm must be an object with a name (and params)"
        if order.order_type is not OrderType.MARKET:
            return "a parent order with an execution algorithm must be a market order (its children are)"
        try:
            urgency = float(request.get("urgency", 0.5))
            horizon = float(request.get("horizon_s", 3600.0))
        except (TypeError, ValueError):
            return "urgency and horizon_s must be numbers"
        if not 0 < horizon <= MAX_HORIZON_S:
            return f"horizon_s must be in (0, {MAX_HORIZON_S:g}], got {horizon:g}"
        spec = {"name": ea["name"], "params": dict(ea.get("params") or {}), "urgency": urgency,
                "start": now.isoformat(), "end": (now + timedelta(seconds=horizon)).isoformat()}
        arrival = self.portfolio.marks.get(order.symbol)
        if arrival:  # the benchmark of the parent's cost analysis (raytrade.analytics.tca)
            spec["arrival"] = arrival
        try:
            self._algorithm(order, spec)
        except (ConfigError, DomainError) as exc:
            return str(exc)
        return spec

    def _algorithm(self, order: Order, spec: Mapping[str, Any]) -> ExecutionAlgorithm:
        parent = ParentSpec(order.quantity, self.instruments[order.symbol].lot_size,
                            datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"]),
                            float(spec["urgency"]))
        return make_algorithm(spec["name"], parent, dict(spec["params"]))

    def _child(self, v: Verdict, order: Order, parent_id: str, principal: str, reason: str, now: datetime,
               sent_out: bool) -> Verdict:
        """A child of a working parent: only the cheap checks (its parent passed compliance and
        risk for the whole quantity, and reserves it)."""
        parent = self.book.orders.get(parent_id)
        if parent is None or parent.exec_spec is None or not parent.is_open or parent.status is OrderStatus.PENDING_CANCEL:
            return self._refuse(v, order.client_order_id, principal, RejectReason.INVALID_ORDER,
                                f"parent {parent_id!r} is not a working parent order")
        if (order.symbol, order.side) != (parent.order.symbol, parent.order.side):
            return self._refuse(v, order.client_order_id, principal, RejectReason.INVALID_ORDER,
                                "a child trades its parent's symbol on its parent's side")
        v.order = order
        payload = {"order": order.to_dict(), "parent": parent_id}
        v.accept = Event(EventType.ORDER_SUBMITTED if sent_out else EventType.ORDER_ACCEPTED, principal, reason, payload,
                         now, typed=payloads.OrderAccepted(order, parent_id))
        return v

    def release(self, order: Order) -> None:
        """The decided order is committed (now in the book) or abandoned: stop reserving it."""
        if order.symbol not in self._reserved:
            return  # a child: it never reserved (its parent does)
        sym = order.symbol
        self._reserved[sym] -= order.signed_quantity
        if abs(self._reserved[sym]) < 1e-12:
            del self._reserved[sym]

    def open_quantities(self) -> dict[str, float]:
        """Signed remaining quantity per symbol of the open orders and of those being decided or routed."""
        out = self.book.open_quantities()
        for s, q in self._reserved.items():
            out[s] = out.get(s, 0.0) + q
        return out

    def _refuse(self, v: Verdict, cid: str, principal: str, code: RejectReason, detail: str) -> Verdict:
        v.code, v.detail = code, detail
        v.events.append(self.rejection(cid, principal, v.raw, code, detail))
        return v

    def rejection(self, cid: str, principal: str, raw: dict[str, Any], code: RejectReason, detail: str) -> Event:
        return Event(EventType.ORDER_REJECTED, principal, detail,
                     {"client_order_id": cid, "request": raw, "code": code.value, "detail": detail}, self.now())

    def build(self, cid: str, req: Mapping[str, Any]) -> Order | tuple[RejectReason, str]:
        """The order a request describes, or why it cannot be one (a reason code and a sentence)."""
        try:
            if isinstance(req.get("quantity"), bool):
                raise TypeError("a boolean is not a quantity")
            qty = float(req.get("quantity"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return RejectReason.INVALID_QUANTITY, f"quantity must be a number, got {req.get('quantity')!r}"
        if not math.isfinite(qty) or qty <= 0:
            return RejectReason.INVALID_QUANTITY, f"quantity must be finite and > 0, got {req.get('quantity')!r}"
        for name in ("limit_price", "stop_price"):
            v = req.get(name)
            if v is not None:
                try:
                    ok = not isinstance(v, bool) and math.isfinite(float(v)) and float(v) > 0
                except (TypeError, ValueError):
                    ok = False
                if not ok:
                    return RejectReason.INVALID_PRICE, f"{name} must be a finite number > 0, got {v!r}"
        sym = req.get("symbol")
        inst = self.instruments.get(sym) if isinstance(sym, str) else None
        if inst is None:
            return RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {sym!r}: not an instrument of this engine"
        try:
            order = Order(sym, req.get("side"), qty, req.get("order_type") or "market",  # type: ignore[arg-type]
                          req.get("limit_price"), req.get("stop_price"), req.get("time_in_force") or "day",
                          cid, self.now(), req.get("strategy"))  # type: ignore[arg-type]
        except DomainError as exc:
            return RejectReason.INVALID_ORDER, str(exc)
        if not inst.is_lot_multiple(order.quantity):
            return RejectReason.NOT_LOT_MULTIPLE, f"quantity {qty:g} is not a multiple of the lot size {inst.lot_size:g}"
        if order.limit_price is not None and abs(inst.round_price(order.limit_price) - order.limit_price) > 1e-9:
            return RejectReason.INVALID_PRICE, f"limit price {order.limit_price:g} is not on the tick {inst.tick_size:g}"
        return order

    # --- broker reports ----------------------------------------------------------------------

    def from_broker(self, reports: Sequence[BrokerEvent], submitting: tuple[Order, str] | None = None) -> list[Event]:
        """The log events for what the broker reported, in its order. ``submitting``: an order
        (and its principal) whose acceptance is committed in the same batch, not yet in the book.
        Reports that change nothing (an acknowledgement of an order already accepted, a replace
        already applied, a cancel of a closed order) give no event."""
        out: list[Event] = []
        closed: set[str] = set()
        for r in reports:
            cid = r.client_order_id
            m = self.book.orders.get(cid)
            if m is not None:
                order, principal, status = m.order, m.principal, m.status
            elif submitting is not None and submitting[0].client_order_id == cid:
                order, principal, status = submitting[0], submitting[1], OrderStatus.ACCEPTED
            else:
                continue  # not an order of this engine (reconciliation reports those)
            if isinstance(r, PartiallyFilled | Filled):
                out.append(self.fill_event(r.fill, principal))
            elif cid in closed:
                continue
            elif isinstance(r, Accepted):
                if status is OrderStatus.SUBMITTED:
                    out.append(Event(EventType.ORDER_ACCEPTED, principal, "acknowledged by the broker",
                                     {"order": order.to_dict()}, r.timestamp))
            elif isinstance(r, Rejected):
                closed.add(cid)
                code = _reject_code(r.code)
                out.append(Event(EventType.ORDER_REJECTED, principal, r.detail,
                                 {"client_order_id": cid, "request": {"symbol": order.symbol}, "code": code.value,
                                  "detail": r.detail}, self.now()))
            elif isinstance(r, Cancelled):
                if status not in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED,
                                  OrderStatus.REJECTED):
                    closed.add(cid)
                    out.append(self.order_ref(EventType.ORDER_CANCELLED, cid, order.symbol, principal, r.detail))
            elif isinstance(r, CancelRejected):
                if status in PENDING:
                    out.append(self.order_ref(EventType.ORDER_CANCEL_REJECTED, cid, order.symbol, principal, r.detail))
            elif isinstance(r, Replaced) and status is OrderStatus.PENDING_REPLACE:
                out.append(Event(EventType.ORDER_REPLACED, principal, "replaced at the broker",
                                 {"client_order_id": cid, "symbol": order.symbol, "quantity": r.quantity,
                                  "limit_price": r.limit_price}, self.now()))
        return out

    def fill_event(self, fill: Fill, principal: str) -> Event:
        return Event(EventType.FILL, principal, "fill", {"fill": fill.to_dict()}, fill.timestamp,
                     typed=payloads.FillPayload(fill))

    def order_ref(self, type_: EventType, cid: str, symbol: str, principal: str, reason: str) -> Event:
        return Event(type_, principal, reason, {"client_order_id": cid, "symbol": symbol}, self.now())

    # --- cancel, replace, switches -----------------------------------------------------------

    def cancel_request(self, cid: str, principal: str, owner: str | None = None) -> Event | None:
        """The ``order_cancel_requested`` event for an open order (None: already requested).
        ``owner``: the principal the order must belong to (None: any). Raises OrderStateError."""
        m = self.book.get(cid)
        if owner is not None and m.principal != owner:
            raise OrderStateError(f"unknown order {cid!r}")
        if not m.is_open:
            raise OrderStateError(f"order {cid} is {m.status.value}: it cannot be cancelled")
        if m.status is OrderStatus.PENDING_CANCEL:
            return None
        return self.order_ref(EventType.ORDER_CANCEL_REQUESTED, cid, m.order.symbol, principal, "cancel requested")

    def replace_request(self, cid: str, principal: str, quantity: float | None, limit_price: float | None,
                        *, sent_out: bool = False, owner: str | None = None) -> tuple[Order, Event]:
        """The replaced order and its event: ``order_replaced`` (an in-process broker replaces at
        once) or ``order_replace_requested`` (``sent_out``: the broker confirms later)."""
        m = self.book.get(cid)
        if owner is not None and m.principal != owner:
            raise OrderStateError(f"unknown order {cid!r}")
        if m.status is OrderStatus.PENDING_REPLACE:
            raise OrderStateError(f"order {cid} has a replace pending at the broker: wait for its answer")
        new = m.replace(quantity, limit_price)
        inst = self.instruments[new.symbol]
        if not inst.is_lot_multiple(new.quantity):
            raise DomainError(f"quantity {new.quantity:g} is not a multiple of the lot size {inst.lot_size:g}")
        if new.limit_price is not None and abs(inst.round_price(new.limit_price) - new.limit_price) > 1e-9:
            raise DomainError(f"limit price {new.limit_price:g} is not on the tick {inst.tick_size:g}")
        if sent_out:
            return new, self.order_ref(EventType.ORDER_REPLACE_REQUESTED, cid, new.symbol, principal,
                                       "replace requested")
        return new, Event(EventType.ORDER_REPLACED, principal, "replace requested",
                          {"client_order_id": cid, "symbol": new.symbol, "quantity": new.quantity,
                           "limit_price": new.limit_price}, self.now())

    def running_event(self, running: bool, principal: str, reason: str) -> Event | None:
        if running == self.running:
            return None
        return Event(EventType.ENGINE_STARTED if running else EventType.ENGINE_STOPPED, principal, reason, {},
                     self.now())

    def strategy_event(self, strategy: str, running: bool, principal: str, reason: str,
                       spec: dict[str, Any] | None = None) -> Event | None:
        """The event that starts or stops ``strategy`` (None: it is already so and no new ``spec``)."""
        if not isinstance(strategy, str) or not strategy.strip() or strategy != strategy.strip() or len(strategy) > 64:
            raise DomainError(f"strategy must be a name of 1 to 64 characters without surrounding spaces, "
                              f"got {strategy!r}")
        if self.strategies.get(strategy) == running and (spec is None or self.strategy_specs.get(strategy) == spec):
            return None
        payload: dict[str, Any] = {"strategy": strategy} if spec is None else {"strategy": strategy, "spec": spec}
        return Event(EventType.STRATEGY_STARTED if running else EventType.STRATEGY_STOPPED, principal, reason,
                     payload, self.now())

    def strategy_params_event(self, strategy: str, params: dict[str, Any], principal: str, reason: str) -> Event:
        """``parameter_changed`` for a running strategy's parameters (the caller validated them
        against its parameter space)."""
        if strategy not in self.strategy_specs:
            raise DomainError(f"strategy {strategy!r} was not started with a runner: it has no parameters here")
        return Event(EventType.PARAMETER_CHANGED, principal, reason,
                     {"component": "strategy", "strategy": strategy, "params": params}, self.now())

    def halt_event(self, principal: str, reason: str) -> Event:
        detail = f"trading halted by {principal}: {reason}"
        return Event(EventType.TRADING_HALTED, principal, reason,
                     {"code": RejectReason.TRADING_HALTED.value, "detail": detail}, self.now())

    def limits_event(self, limits: Mapping[str, Any], principal: str, reason: str) -> Event:
        """``parameter_changed`` for the risk limits with ``limits`` changed (validated first)."""
        new = self.risk.limits.updated(limits)
        return Event(EventType.PARAMETER_CHANGED, principal, reason, {"component": "risk", "limits": new.model_dump(mode="json")},
                     self.now())

    # --- market data -------------------------------------------------------------------------

    def on_bars(self, bars: Sequence[Bar]) -> tuple[list[Event], list[str]]:
        """New bars move the market clock. Returns the events to commit before the bars' fills (a
        new session's start with the marks before these bars, and the day orders of earlier
        sessions expired) and the client order ids the broker must cancel (those day orders)."""
        return self.on_time(max(b.timestamp for b in bars) if bars else None)

    def on_time(self, newest: datetime | None) -> tuple[list[Event], list[str]]:
        """:meth:`on_bars` given the newest bar's time (None: no bar, the clock stays)."""
        if newest is not None and (self.market_now is None or newest > self.market_now):
            self.market_now = newest
        day = session_date(self.calendar, self.now()).isoformat()
        if day == self.day:
            return [], []
        events = [Event(EventType.SESSION_STARTED, "engine", "new trading session",
                        {"day": day, "marks": dict(self.portfolio.marks)}, self.now())]
        expire = [m for m in self.book.open_orders()
                  if m.order.time_in_force is TimeInForce.DAY
                  and session_date(self.calendar, m.order.created_at).isoformat() < day]
        events += [Event(EventType.ORDER_EXPIRED, m.principal, "day order expired at the end of its session",
                         {"client_order_id": m.client_order_id, "symbol": m.order.symbol}, self.now())
                   for m in expire]
        self.day = day  # the session start is committed with the bar's fills; a failed commit repeats it harmlessly
        return events, [m.client_order_id for m in expire]

    def mark(self, marks: Mapping[str, float]) -> None:
        for sym, price in marks.items():
            self.portfolio.mark(sym, price)

    def mark_checked(self, marks: dict[str, float]) -> None:
        """:meth:`mark` for prices the caller has checked finite and > 0."""
        self.portfolio.mark_checked(marks)

    # --- committed events --------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Apply one committed (or replayed) event; False when the blotter refused it (replay goes
        on and reports it: :attr:`OrderBook.anomalies`)."""
        t = event.type
        if t in _BOOK_TYPES:
            fill = None
            if t is EventType.FILL:
                data = event.data
                assert isinstance(data, payloads.FillPayload)
                fill = data.fill
                m = self.book.orders.get(fill.client_order_id)
                if m is not None and fill.fill_id in m.fill_ids:
                    return True  # applied before (the same execution reported twice): once only
            ok = self.book.apply_event(event)
            if ok and t in (EventType.ORDER_ACCEPTED, EventType.ORDER_REJECTED):
                self._note_parent(event)
            if ok and fill is not None:
                self.portfolio.apply_fill(fill)
                tag = self.book.get(fill.client_order_id).order.strategy
                self.compliance.on_fill(fill, tag, self._multiplier(fill.symbol))
                if tag is not None:
                    self.strategy_books.setdefault(tag, StrategyBook()).apply(fill, self._multiplier(fill.symbol))
            return ok
        if t is EventType.SESSION_STARTED:  # the hot path of a replay: read without the schema's checks
            p = event.payload
            self.mark_checked(p["marks"])  # the book's own marks, checked when they were set
            self.portfolio.roll_day(date.fromisoformat(p["day"]))
            self.day = p["day"]
            return True
        data = event.data
        if isinstance(data, payloads.CashChanged):
            self.portfolio.deposit(data.amount)
        elif t is EventType.ENGINE_STARTED or t is EventType.ENGINE_STOPPED:
            self.running = t is EventType.ENGINE_STARTED
        elif isinstance(data, payloads.StrategyChanged):
            self.strategies[data.strategy] = t is EventType.STRATEGY_STARTED
            if data.spec is not None:
                self.strategy_specs[data.strategy] = data.spec
        elif isinstance(data, payloads.TradingHalted):
            self.risk.halt(data.code, data.detail)
        elif t is EventType.TRADING_RESUMED:
            self.risk.resume(self.portfolio)
        elif isinstance(data, payloads.ParameterChanged) and data.component == "strategy":
            spec = self.strategy_specs.get(data.values["strategy"])
            if spec is not None:
                spec["params"] = data.values["params"]
        elif isinstance(data, payloads.ParameterChanged) and data.component == "risk":
            self.risk.set_limits(RiskLimits.model_validate(data.values["limits"]))
        elif isinstance(data, payloads.ViolationPayload):
            self.violations.append(Violation.from_dict(data.to_payload()))
        return True

    def _note_parent(self, event: Event) -> None:
        """Keep the algorithm of an accepted parent, and count a parent's decided children."""
        data = event.data
        if isinstance(data, payloads.OrderAccepted):
            if data.exec is not None:
                self.parents[data.order.client_order_id] = self._algorithm(data.order, data.exec)
                self.children.setdefault(data.order.client_order_id, 0)
            elif data.parent is not None:
                self.children[data.parent] = self.children.get(data.parent, 0) + 1
                self.kids.setdefault(data.parent, []).append(data.order.client_order_id)
        elif isinstance(data, payloads.OrderRejected):
            parent = data.request.get("parent_id")
            if isinstance(parent, str) and parent in self.children and data.client_order_id not in self.book.orders:
                self.children[parent] += 1

    def note_volume(self, bars: Sequence[Bar]) -> None:
        """Market volume of new bars (what a POV parent follows)."""
        for b in bars:
            self.volume[b.symbol] = self.volume.get(b.symbol, 0.0) + b.volume

    def child_requests(self) -> list[tuple[dict[str, Any], str]]:
        """The children the working parents' algorithms ask for now: (request, principal) each, a
        market order for the whole lots between the algorithm's target and what the parent's
        children hold (their quantity, or what they filled once closed). Child ids are
        ``<parent>-c<n>``, n counting the parent's decided children, so a restart asks again for
        the same ids. A parent whose algorithm is done is left to its children."""
        now = self.now()
        out = []
        for pid, algo in list(self.parents.items()):
            parent = self.book.orders.get(pid)
            if parent is None or not parent.is_open or parent.status is OrderStatus.PENDING_CANCEL:
                del self.parents[pid]
                continue
            kids = [self.book.orders[c] for c in self.kids.get(pid, ())]
            held = sum(m.order.quantity if m.is_open or m.status is OrderStatus.FILLED else m.filled_quantity
                       for m in kids)
            lot = self.instruments[parent.order.symbol].lot_size
            want = algo.target(now, self.volume.get(parent.order.symbol, 0.0)) - held
            lots = math.floor(want / lot + 1e-9)
            if lots < 1:
                continue
            n = self.children.get(pid, 0) + 1
            out.append(({"symbol": parent.order.symbol, "side": parent.order.side.value, "quantity": lots * lot,
                         "client_order_id": f"{pid}-c{n}", "parent_id": pid, "strategy": parent.order.strategy,
                         "time_in_force": parent.order.time_in_force.value,
                         "reason": f"{parent.exec_spec['name'] if parent.exec_spec else 'algo'} child {n} of {pid}"},
                        parent.principal))
        return out

    def children_of(self, parent_id: str) -> list[str]:
        """The open children of a parent (what a cancel of the parent cancels first)."""
        return [c for c in self.kids.get(parent_id, ()) if self.book.orders[c].is_open]

    # --- views -------------------------------------------------------------------------------

    def strategy_status(self) -> dict[str, dict[str, Any]]:
        """Every strategy that was started, stopped or sent an order: running, and its orders
        (accepted, still open, refused)."""
        out: dict[str, dict[str, Any]] = {}

        def row(name: str) -> dict[str, Any]:
            return out.setdefault(name, {"running": self.strategies.get(name, True), "orders": 0, "open_orders": 0,
                                         "rejected": 0})

        for name in self.strategies:
            row(name)
        for m in self.book.orders.values():
            if m.order.strategy is not None:
                r = row(m.order.strategy)
                r["orders"] += 1
                r["open_orders"] += int(m.is_open)
        for rejection in self.book.rejections.values():
            if isinstance(rejection.request.get("strategy"), str):
                row(rejection.request["strategy"])["rejected"] += 1
        return out

    def risk_status(self) -> dict[str, Any]:
        """Limits, their current use and the halt state."""
        return self.risk.usage(self.portfolio, self.book.open_quantities())

    def positions(self) -> dict[str, float]:
        """Signed quantity per symbol the log's fills hold (zero positions left out)."""
        return {s: p.quantity for s, p in self.portfolio.positions.items() if abs(p.quantity) > 1e-12}

    def session_day(self, at: datetime) -> str:
        return session_date(self.calendar, at).isoformat()


_BOOK_TYPES = frozenset({EventType.ORDER_SUBMITTED, EventType.ORDER_ACCEPTED, EventType.ORDER_REJECTED, EventType.FILL,
                         EventType.ORDER_CANCEL_REQUESTED, EventType.ORDER_REPLACE_REQUESTED,
                         EventType.ORDER_CANCEL_REJECTED, EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED,
                         EventType.ORDER_REPLACED})


def _reject_code(code: str | None) -> RejectReason:
    """The reason code of a broker's refusal (BROKER_REJECTED unless the broker named one)."""
    try:
        return RejectReason(code) if code else RejectReason.BROKER_REJECTED
    except ValueError:
        return RejectReason.BROKER_REJECTED


def checked_amount(amount: float) -> float:
    """A deposit or withdrawal amount (finite; DomainError otherwise)."""
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        raise DomainError(f"a deposit must be a finite amount, got {amount!r}")
    return float(checks.finite(amount, "amount"))
