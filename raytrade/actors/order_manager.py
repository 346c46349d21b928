"""OrderManager: the order state machine, idempotent submissions, cancel and replace, routing to
the broker and recording fills; host of the risk and compliance gates, which decide on every order
in this process; the hub that forwards committed fills and marks to the portfolio actor.

A submission goes: validate -> compliance and risk gates -> ``order_accepted`` committed
-> broker -> ``fill`` events committed -> answer. With an in-process broker (the paper broker,
``Broker.in_process``) the acceptance and the fills it gets at once are one commit: validate ->
checks -> broker -> ``order_accepted`` and ``fill`` events committed together -> answer; if that
commit fails the broker withdraws the order and it is refused STORE_UNAVAILABLE. An order is
acknowledged (the method returns) only after what the answer reports is committed. Fail closed: if
the store or the broker cannot be reached, or a gate fails to decide, the order is rejected with
STORE_UNAVAILABLE, BROKER_UNAVAILABLE, RISK_UNAVAILABLE or COMPLIANCE_UNAVAILABLE and nothing
half-written stays.

Idempotency: a client order id seen before returns the first order's current view (never a
second order or fill), also while the first submission is still in flight; an id another principal
used is refused DUPLICATE_ORDER_ID (nobody sees another key's order).

Unknown outcomes: the store settles a commit whose reply was lost before it answers (see
:mod:`raytrade.storage.postgres`); when it cannot (the database stays out of reach past
``store_resolve_s``), the log may hold events this process did not apply. The order manager then
ends its process: Ray restarts it and it rebuilds from the log, the one truth, before it answers
anything (callers in flight get an actor error, a 503, and resubmit the same client order id,
which returns the order if it was committed). Replay reports records the state machine refuses
(``OrderBook.anomalies``) instead of stopping.

Batches: each order of a ``submit_batch`` is answered on its own; an order that raises fails
alone (its exception is its answer), never its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from raytrade.actors.base import MARKS_SNAPSHOT, MIRROR_TYPES, ActorBase, CallBatcher, Note, note
from raytrade.actors.compliance import ComplianceGate
from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import Tally, metrics, tags
from raytrade.actors.risk import RiskGate
from raytrade.brokers.base import BrokerReply
from raytrade.brokers.paper import PaperBroker
from raytrade.compliance.calendar import session_date
from raytrade.core import checks
from raytrade.core.clock import utc_now
from raytrade.core.enums import AssetClass, EventType, OrderStatus, RejectReason, TimeInForce
from raytrade.core.errors import DomainError, OrderStateError, StoreError, StoreOutcomeUnknownError
from raytrade.core.events import Event
from raytrade.core.instruments import Instrument
from raytrade.core.market import Bar
from raytrade.core.orders import Fill, Order, new_client_order_id
from raytrade.execution.orders import OrderBook, Rejection
from raytrade.storage import AuditRecord, GroupCommitter

ORDER_TYPES = (EventType.ORDER_ACCEPTED, EventType.ORDER_REJECTED, EventType.FILL, EventType.ORDER_CANCEL_REQUESTED,
               EventType.ORDER_CANCELLED,
               EventType.ORDER_EXPIRED, EventType.ORDER_REPLACED, EventType.ENGINE_STARTED,
               EventType.ENGINE_STOPPED, EventType.STRATEGY_STARTED, EventType.STRATEGY_STOPPED)
MARKS_SAVE_S = 0.25
GATE_METHODS = {"risk": {"status", "halt", "resume", "update_limits", "ping", "ready"},
                "compliance": {"list_violations", "ping", "ready"}}
REQUEST_FIELDS = ("symbol", "side", "quantity", "order_type", "limit_price", "stop_price", "time_in_force",
                  "strategy")


UNKNOWN_OUTCOME_EXIT = 75  # the process's exit code when it restarts to settle an unknown commit


def _json_safe(value: Any) -> Any:
    """A client's raw field as something the log can hold (NaN, NUL characters and objects as text)."""
    if isinstance(value, str):
        return repr(value) if "\x00" in value else value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def _broker_code(reply: BrokerReply) -> RejectReason:
    """The reason code of a broker's refusal (BROKER_REJECTED unless the broker named one)."""
    try:
        return RejectReason(reply.code) if reply.code else RejectReason.BROKER_REJECTED
    except ValueError:
        return RejectReason.BROKER_REJECTED


class OrderManager(ActorBase):
    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.instruments = config.instrument_map()
        crypto = config.calendar_venue == "CRYPTO"
        self.calendar = Instrument("CALENDAR", AssetClass.CRYPTO if crypto else AssetClass.EQUITY,
                                   venue=config.calendar_venue)
        self.book = OrderBook()
        self.broker = PaperBroker(config.broker)
        self.running = True
        self.strategies: dict[str, bool] = {}  # started (True) or stopped (False), as last logged
        self.committer: GroupCommitter | None = None
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._inflight_owner: dict[str, str] = {}
        self._reserved: defaultdict[str, float] = defaultdict(float)
        self._market_now: datetime | None = None
        self._marks: dict[str, float] = {}
        self._bar_meta: dict[str, tuple[str, float]] = {}  # symbol -> (time, volume) of its last bar
        self._last_committed: tuple[int, str] | None = None  # (sequence, hash) of this process's newest commit
        self._checkpoints: asyncio.Task[None] | None = None
        self._day: str | None = None
        self._marks_saved_at = 0.0
        self._unrecorded: list[Fill] = []
        self.risk = RiskGate(config)
        self.compliance = ComplianceGate(config)
        self._portfolio: CallBatcher | None = None
        self.counts: Counter[str] = Counter()
        self.tally = Tally()

    # --- start and rebuild -------------------------------------------------------------------

    async def rebuild(self) -> None:
        assert self.store is not None
        self.book = OrderBook()
        self.broker = PaperBroker(self.config.broker)
        self.running = True
        self.strategies = {}
        records = await self.store.read(1, types=(*ORDER_TYPES, EventType.SESSION_STARTED))
        for r in records:
            if r.event.type is EventType.SESSION_STARTED:
                self._day = r.event.payload["day"]
            elif r.event.type is EventType.ENGINE_STARTED:
                self.running = True
            elif r.event.type is EventType.ENGINE_STOPPED:
                self.running = False
            elif r.event.type in (EventType.STRATEGY_STARTED, EventType.STRATEGY_STOPPED):
                self.strategies[r.event.payload["strategy"]] = r.event.type is EventType.STRATEGY_STARTED
            else:
                self.book.apply_event(r.event)
        self.rebuilt_events = len(records)
        if self.book.anomaly_count:
            print(f"raytrade order manager {self.config.name}: replay skipped {self.book.anomaly_count} record(s) "
                  f"the order state machine refuses, first: {self.book.anomalies[0]}", file=sys.stderr, flush=True)
        marks = await self.store.load_snapshot(MARKS_SNAPSHOT)
        if marks:
            self._marks = dict(marks[1]["marks"])
            if marks[1].get("market_now"):
                self._market_now = datetime.fromisoformat(marks[1]["market_now"])
            self._bar_meta = {s: (t, v) for s, (t, v) in (marks[1].get("bars") or {}).items()}
        # The broker's market as of the saved marks: orders after a restart fill at the last
        # known price instead of being refused until the next bar.
        for sym, price in self._marks.items():
            at, volume = self._bar_meta.get(sym, (None, None))
            self.broker.restore_market(sym, price, datetime.fromisoformat(at) if at else self.now(), volume)
        pending_cancel = []
        for m in self.book.open_orders():
            if m.status is OrderStatus.PENDING_CANCEL:
                pending_cancel.append(m)  # its cancel request is committed: finished below, never restored
                continue
            await self.broker.restore(m.order, self.instruments[m.order.symbol], m.filled_quantity, len(m.fill_ids))
        self.committer = GroupCommitter(self.store)
        for gate in (self.risk, self.compliance):  # made with this process; rebuilt from the log here
            gate.store = self.store
            await gate.ensure_ready()
        if self.config.audit_checkpoints and self._checkpoints is None:
            from raytrade.storage.checkpoint import audit_key

            self._checkpoints = asyncio.create_task(self._checkpointer(self.config.audit_checkpoints, audit_key()))
        if pending_cancel:
            events = [self._cancelled(m.client_order_id, m.order.symbol, m.principal, "cancel completed after a restart")
                      for m in pending_cancel]
            for r in await self._commit(events):
                self.book.apply_event(r.event)
        import ray

        ray.get_actor(self.config.actor_name("portfolio")).resync.remote()

    def portfolio(self) -> CallBatcher:
        """The ordered channel to the portfolio actor (:meth:`PortfolioMirror.step`)."""
        if self._portfolio is None:
            import ray

            actor = ray.get_actor(self.config.actor_name("portfolio"))
            self._portfolio = CallBatcher(lambda items: actor.step.remote(items))
        return self._portfolio

    def now(self) -> datetime:
        return self._market_now if self.config.clock == "market" and self._market_now else utc_now()

    # --- submissions -------------------------------------------------------------------------

    async def submit(self, request: dict[str, Any], principal: str) -> dict[str, Any]:
        """Submit an order (fields of :class:`~raytrade.core.orders.Order`); return its view."""
        await self.ensure_ready()
        cid = request.get("client_order_id") or new_client_order_id()
        if not isinstance(cid, str) or not cid.strip() or len(cid) > 64 or not cid.isprintable():
            return self._unrecorded_reject(repr(cid)[:64], principal, {}, RejectReason.INVALID_ORDER,
                                           "client_order_id must be a non-empty string of at most 64 printable "
                                           "characters")
        owner = self.book.owner(cid) or self._inflight_owner.get(cid)
        if owner is not None and owner != principal:
            return self._unrecorded_reject(cid, principal, {}, RejectReason.DUPLICATE_ORDER_ID,
                                           f"client order id {cid!r} is taken by another principal's order")
        known = self.book.view(cid)
        if known is not None:
            self.counts["duplicate"] += 1
            return {**known, "duplicate": True}
        if cid in self._inflight:
            self.counts["duplicate"] += 1
            return {**await asyncio.shield(self._inflight[cid]), "duplicate": True}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[cid] = fut
        self._inflight_owner[cid] = principal
        try:
            view = await self._submit(cid, request, principal)
            fut.set_result(view)
            return view
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: a duplicate waiting on it re-raises, nobody else must
            raise
        finally:
            del self._inflight[cid], self._inflight_owner[cid]

    async def submit_batch(self, items: Sequence[tuple[dict[str, Any], str]]) -> list[dict[str, Any] | Exception]:
        """Submit several ``(request, principal)`` orders concurrently in one Ray call (what
        :class:`~raytrade.actors.client.OrderClient` sends); one answer per item, in order: the
        order's view, or the exception its submission raised (that order's alone)."""
        out = await asyncio.gather(*[self.submit(r, p) for r, p in items], return_exceptions=True)
        for x in out:
            if isinstance(x, BaseException) and not isinstance(x, Exception):
                raise x  # cancellation and exits are the process's, not an order's
        return list(out)  # type: ignore[arg-type]

    async def _submit(self, cid: str, request: dict[str, Any], principal: str) -> dict[str, Any]:
        self.counts["submitted"] += 1
        self.tally.inc(metrics().orders_submitted, tags(self.config.name))
        raw = {k: _json_safe(request.get(k)) for k in REQUEST_FIELDS if k in request}
        reason = request.get("reason") or "order submitted"
        if not isinstance(reason, str) or "\x00" in reason or len(reason) > 200:
            return await self._reject(cid, principal, raw, RejectReason.INVALID_ORDER,
                                      "reason must be text of at most 200 characters without NUL characters")
        if not self.running:
            return await self._reject(cid, principal, raw, RejectReason.ENGINE_STOPPED,
                                      "the engine is stopped; start it to accept orders")
        built = self._build(cid, request)
        if isinstance(built, tuple):
            return await self._reject(cid, principal, raw, *built)
        order = built
        if order.strategy is not None and not self.strategies.get(order.strategy, True):
            return await self._reject(cid, principal, raw, RejectReason.STRATEGY_STOPPED,
                                      f"strategy {order.strategy!r} is stopped; start it to accept its orders")
        now = self.now()
        sym, dq = order.symbol, order.signed_quantity
        open_q = self.book.open_quantities()
        for s, q in self._reserved.items():
            open_q[s] = open_q.get(s, 0.0) + q
        self._reserved[sym] += dq  # concurrent submissions see this one while it is checked
        try:
            verdict = await self._checks(order, open_q, now)
        finally:
            self._reserved[sym] -= dq
            if abs(self._reserved[sym]) < 1e-12:
                del self._reserved[sym]
        if verdict is not None:
            return await self._reject(cid, principal, raw, *verdict)
        accepted = Event(EventType.ORDER_ACCEPTED, principal, reason, {"order": order.to_dict()}, now)
        if self.broker.in_process:
            return await self._route_in_process(order, principal, raw, accepted)
        try:
            await self._commit([accepted])
        except StoreError as exc:
            self._count_rejection(RejectReason.STORE_UNAVAILABLE)
            return self._unrecorded_reject(cid, principal, raw, RejectReason.STORE_UNAVAILABLE, str(exc))
        managed = self.book.accept(order, principal, now)
        self.counts["accepted"] += 1
        try:
            reply = await asyncio.wait_for(self.broker.submit(order, self.instruments[sym]),
                                           self.config.call_timeout_s)
        except (TimeoutError, ConnectionError, OSError) as exc:
            await self._broker_rejects(managed.client_order_id, principal, RejectReason.BROKER_UNAVAILABLE,
                                       f"broker unreachable: {type(exc).__name__}")
            return managed.view()
        if not reply.accepted:
            await self._broker_rejects(cid, principal, _broker_code(reply), reply.detail)
            return managed.view()
        extra = [self._ioc_cancel(cid, sym, principal, now)] if reply.cancelled_remainder else []
        # A store failure here keeps the fills for the next batch; the view shows what is committed.
        with contextlib.suppress(StoreError):
            await self._record_fills(list(reply.fills), extra)
        return managed.view()

    async def _route_in_process(self, order: Order, principal: str, raw: dict[str, Any],
                                accepted: Event) -> dict[str, Any]:
        """Broker first, then the acceptance and what the broker answered in one commit (the
        broker is the order manager's own state: nothing left the process before the commit)."""
        cid, now = order.client_order_id, accepted.timestamp
        refusal: tuple[RejectReason, str] | None = None
        fills: tuple[Fill, ...] = ()
        try:
            reply = await asyncio.wait_for(self.broker.submit(order, self.instruments[order.symbol]),
                                           self.config.call_timeout_s)
        except (TimeoutError, ConnectionError, OSError) as exc:
            refusal = RejectReason.BROKER_UNAVAILABLE, f"broker unreachable: {type(exc).__name__}"
        else:
            fills = reply.fills
            if not reply.accepted:
                refusal = _broker_code(reply), reply.detail
        if refusal is not None:
            after = [self._broker_rejection(cid, order.symbol, principal, *refusal)]
        else:
            after = [self._fill_event(f, principal) for f in fills]
            if reply.cancelled_remainder:
                after.append(self._ioc_cancel(cid, order.symbol, principal, now))
        pending, self._unrecorded = self._unrecorded, []
        try:
            records = await self._commit([self._fill_event(f) for f in pending] + [accepted] + after)
        except StoreError as exc:
            self._unrecorded = pending + self._unrecorded
            self.broker.withdraw(cid, fills)
            self._count_rejection(RejectReason.STORE_UNAVAILABLE)
            return self._unrecorded_reject(cid, principal, raw, RejectReason.STORE_UNAVAILABLE, str(exc))
        self.counts["accepted"] += 1
        self._apply_committed(records)
        return self.book.get(cid).view()

    def _build(self, cid: str, req: dict[str, Any]) -> Order | tuple[RejectReason, str]:
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
                          cid, self.now(), req.get("strategy"))
        except DomainError as exc:
            return RejectReason.INVALID_ORDER, str(exc)
        if not inst.is_lot_multiple(order.quantity):
            return RejectReason.NOT_LOT_MULTIPLE, f"quantity {qty:g} is not a multiple of the lot size {inst.lot_size:g}"
        if order.limit_price is not None and abs(inst.round_price(order.limit_price) - order.limit_price) > 1e-9:
            return RejectReason.INVALID_PRICE, f"limit price {order.limit_price:g} is not on the tick {inst.tick_size:g}"
        return order

    async def _checks(self, order: Order, open_q: dict[str, float], now: datetime) -> tuple[RejectReason, str] | None:
        """Both gates decide (each records what it must: violations, a halt); the first refusal
        (compliance first) or None. A gate that fails to decide refuses the order."""
        answers = []
        for code, decide in ((RejectReason.COMPLIANCE_UNAVAILABLE, lambda: self.compliance.decide(order, now)),
                             (RejectReason.RISK_UNAVAILABLE, lambda: self.risk.decide(order, open_q, now))):
            try:
                answers.append(await decide())
            except Exception as exc:  # fail closed, whatever went wrong
                return code, f"{code.value.split('_')[0].lower()} check failed: {type(exc).__name__}: {exc}"
        for a in answers:
            if not a["ok"]:
                return RejectReason(a["code"]), a["detail"]
        return None

    async def _reject(self, cid: str, principal: str, raw: dict[str, Any], code: RejectReason,
                      detail: str) -> dict[str, Any]:
        """Record a refusal (committed before the answer) and return its view."""
        now = self.now()
        self._count_rejection(code)
        event = Event(EventType.ORDER_REJECTED, principal, detail,
                      {"client_order_id": cid, "request": raw, "code": code.value, "detail": detail}, now)
        try:
            await self._commit([event])
        except StoreError as exc:
            return self._unrecorded_reject(cid, principal, raw, RejectReason.STORE_UNAVAILABLE,
                                           f"{detail}; and the refusal could not be recorded: {exc}")
        return self.book.reject(cid, principal, raw, code, detail, now).view()

    def _count_rejection(self, code: RejectReason) -> None:
        self.counts[f"rejected:{code.value}"] += 1
        self.tally.inc(metrics().orders_rejected, tags(self.config.name, reason=code.value))

    def _unrecorded_reject(self, cid: str, principal: str, raw: dict[str, Any], code: RejectReason,
                           detail: str) -> dict[str, Any]:
        """A refusal that could not be (or need not be) logged: answered, never kept."""
        return Rejection(cid, principal, raw, code, detail, self.now()).view()

    async def _broker_rejects(self, cid: str, principal: str, code: RejectReason, detail: str) -> None:
        event = self._broker_rejection(cid, self.book.get(cid).order.symbol, principal, code, detail)
        await self._commit([event])
        self.book.apply_event(event)

    def _broker_rejection(self, cid: str, symbol: str, principal: str, code: RejectReason, detail: str) -> Event:
        """An accepted order the broker refused (or could not be reached for)."""
        self._count_rejection(code)
        return Event(EventType.ORDER_REJECTED, principal, detail,
                     {"client_order_id": cid, "request": {"symbol": symbol}, "code": code.value, "detail": detail},
                     self.now())

    @staticmethod
    def _ioc_cancel(cid: str, symbol: str, principal: str, at: datetime) -> Event:
        """The cancellation of an immediate-or-cancel order's unfilled rest."""
        return Event(EventType.ORDER_CANCELLED, principal, "immediate-or-cancel remainder",
                     {"client_order_id": cid, "symbol": symbol}, at)

    def _fill_event(self, fill: Fill, principal: str | None = None) -> Event:
        """A fill as its log event; the acting principal is its order's (``principal`` for an
        order not in the book yet)."""
        who = principal if principal is not None else self.book.get(fill.client_order_id).principal
        return Event(EventType.FILL, who, "fill", {"fill": fill.to_dict()}, fill.timestamp)

    # --- fills and market data ---------------------------------------------------------------

    async def _commit(self, events: list[Event]) -> list[AuditRecord]:
        """Append durably, then publish the records on the event bus (in the background: Redis is
        a fan-out, and an answer never waits for it)."""
        assert self.committer is not None
        try:
            records = await self.committer.append(events)
        except StoreOutcomeUnknownError as exc:
            self._restart_from_log(exc)
        if records and (self._last_committed is None or records[-1].sequence > self._last_committed[0]):
            self._last_committed = (records[-1].sequence, records[-1].hash)
        self.publish([r.to_json() for r in records])
        return records

    async def _checkpointer(self, path: str, key: bytes) -> None:
        """Every ``audit_checkpoint_s``: sign this process's newest commit (sequence and hash) and
        append it to the checkpoint file. Only records this process wrote are signed, so a record
        appended by anyone else after them stays unattested until this process commits after it."""
        from raytrade.storage.checkpoint import CheckpointFile, sign

        out, signed = CheckpointFile(path), None
        while True:
            await asyncio.sleep(self.config.audit_checkpoint_s)
            if self._last_committed is not None and self._last_committed != signed:
                signed = self._last_committed
                try:
                    await asyncio.to_thread(out.append, sign(key, *signed))
                except OSError as exc:
                    print(f"raytrade order manager {self.config.name}: cannot write the checkpoint file: {exc}",
                          file=sys.stderr, flush=True)

    def _restart_from_log(self, exc: StoreOutcomeUnknownError) -> NoReturn:
        """The log may hold events this process has not applied: end the process so that Ray
        restarts it and it rebuilds from the log before it answers anyone (see the module)."""
        print(f"raytrade order manager {self.config.name}: restarting to rebuild from the log: {exc}",
              file=sys.stderr, flush=True)
        os._exit(UNKNOWN_OUTCOME_EXIT)

    async def _record_fills(self, fills: list[Fill], extra: list[Event] | None = None,
                            marks: dict[str, float] | None = None,
                            first: list[Event] | None = None) -> asyncio.Future[Any] | None:
        """Commit ``first`` events, fills and ``extra`` events in one batch, apply them to the
        book and the gates, and notify the portfolio (:meth:`_apply_committed`).

        A fill the store cannot take yet is kept and retried before the next submission's fills,
        never dropped: the broker has executed it.
        """
        pending, self._unrecorded = self._unrecorded + fills, []
        events = [self._fill_event(f) for f in pending]
        try:
            records = await self._commit((first or []) + events + (extra or []))
        except StoreError:
            self._unrecorded = pending + self._unrecorded
            raise
        return self._apply_committed(records, marks)

    def _apply_committed(self, records: list[AuditRecord],
                         marks: dict[str, float] | None = None) -> asyncio.Future[Any] | None:
        """Apply committed records to the book, count them, and pass the fills, session starts
        and ``marks`` on (:meth:`_notify`; the portfolio's future is returned, or None when there
        was nothing to pass on; nobody needs to wait for it)."""
        m = metrics()
        for r in records:
            if r.event.type is EventType.FILL:
                self.counts["fills"] += 1
                f = r.event.payload["fill"]
                self.tally.inc(m.trades, tags(self.config.name, symbol=f["symbol"]))
                mark = self._marks.get(f["symbol"])
                if mark:
                    bps = (1.0 if f["side"] == "buy" else -1.0) * (f["price"] / mark - 1.0) * 1e4
                    m.order_slippage_bps.observe(abs(bps), tags(self.config.name, direction="adverse" if bps > 0
                                                                else "favourable"))
            self.book.apply_event(r.event)
        mirrored = [note(r) for r in records if r.event.type in MIRROR_TYPES]
        if not (mirrored or marks):
            return None
        return self._notify(marks or {}, mirrored)

    def _notify(self, marks: dict[str, float], notes: list[Note]) -> asyncio.Future[Any]:
        """Apply committed events and marks to the gates now (the next decision sees them) and
        send them to the portfolio actor (batched, in order); the future resolves once the
        portfolio has applied them."""
        for gate in (self.risk, self.compliance):
            gate.apply_market(marks, notes)
        return self.portfolio().submit(("market", (marks, notes)))

    async def on_bars(self, bars: Sequence[dict[str, Any]], wait: bool = False) -> list[dict[str, Any]]:
        """New bars (``Bar`` fields; timestamps ISO): mark, fill working orders, return the fills.

        With ``wait`` the call returns only once the portfolio actor has applied the bar too (a
        replay reads the portfolio right after); the gates always have.

        The first bar of a new session logs ``session_started`` with the marks before this bar,
        ahead of the bar's fills: the day's starting equity is the previous close's.
        """
        await self.ensure_ready()
        parsed = [Bar(b["symbol"], datetime.fromisoformat(b["timestamp"]) if isinstance(b["timestamp"], str)
                      else b["timestamp"], b["open"], b["high"], b["low"], b["close"], b.get("volume", 0.0))
                  for b in bars]
        if parsed:
            self._market_now = max(b.timestamp for b in parsed)
        day = session_date(self.calendar, self.now()).isoformat()
        first: list[Event] = []
        if day != self._day:
            first.append(Event(EventType.SESSION_STARTED, "engine", "new trading session",
                               {"day": day, "marks": dict(self._marks)}, self.now()))
            self._day = day
            first.extend(await self._expire_day_orders(day))
        fills: list[Fill] = []
        for bar in parsed:
            fills.extend(self.broker.on_bar(bar))
            self._marks[bar.symbol] = bar.close
            self._bar_meta[bar.symbol] = (bar.timestamp.isoformat(), bar.volume)
        self.broker.take_fills()  # returned above; the broker's queue is not needed for bars
        applied = await self._record_fills(fills, first=first, marks={b.symbol: b.close for b in parsed})
        if wait and applied is not None:
            await applied
        if first or time.monotonic() - self._marks_saved_at >= MARKS_SAVE_S:
            await self._save_marks()
        return [f.to_dict() for f in fills]

    async def _expire_day_orders(self, day: str) -> list[Event]:
        """Day orders of earlier sessions still open when a new session starts: cancelled at the
        broker and logged as expired (before the new bar can fill them)."""
        out = []
        for m in self.book.open_orders():
            if (m.order.time_in_force is TimeInForce.DAY
                    and session_date(self.calendar, m.order.created_at).isoformat() < day):
                await self.broker.cancel(m.client_order_id)
                out.append(Event(EventType.ORDER_EXPIRED, m.principal, "day order expired at the end of its session",
                                 {"client_order_id": m.client_order_id, "symbol": m.order.symbol}, self.now()))
        return out

    async def sync(self) -> None:
        """Return once the portfolio actor has applied every notification sent before this call
        (one call in flight at a time on its channel, applied in order)."""
        await self.ensure_ready()
        await self._notify({}, [])

    async def _save_marks(self) -> None:
        assert self.store is not None
        self._marks_saved_at = time.monotonic()
        head = (await self.store.head())[0]
        await self.store.save_snapshot(MARKS_SNAPSHOT, head, {
            "marks": dict(self._marks), "bars": {s: list(m) for s, m in self._bar_meta.items()},
            "market_now": self._market_now.isoformat() if self._market_now else None})

    # --- cancel, replace, state --------------------------------------------------------------

    async def cancel(self, client_order_id: str, principal: str, owner: str | None = None) -> dict[str, Any]:
        """Cancel an open order: the request is committed first (``pending_cancel``), then the
        broker cancels, then ``order_cancelled`` is committed. A store that cannot take the
        request leaves the order working at the broker and as it was in the log (the caller gets
        the store's error: try again); a crash between the steps is finished at the restart.
        ``owner``: the principal the order must belong to (None: any; an admin)."""
        await self.ensure_ready()
        m = self.book.get(client_order_id)
        if owner is not None and m.principal != owner:
            raise OrderStateError(f"unknown order {client_order_id!r}")
        if not m.is_open:
            raise OrderStateError(f"order {client_order_id} is {m.status.value}: it cannot be cancelled")
        if m.status is not OrderStatus.PENDING_CANCEL:
            requested = Event(EventType.ORDER_CANCEL_REQUESTED, principal, "cancel requested",
                              {"client_order_id": client_order_id, "symbol": m.order.symbol}, self.now())
            await self._commit([requested])
            self.book.apply_event(requested)
        await self.broker.cancel(client_order_id)
        if m.is_open:  # a fill may have completed it meanwhile (booked, not refused)
            event = self._cancelled(client_order_id, m.order.symbol, principal, "cancelled at the broker")
            await self._commit([event])
            self.book.apply_event(event)
        return m.view()

    def _cancelled(self, cid: str, symbol: str, principal: str, reason: str) -> Event:
        return Event(EventType.ORDER_CANCELLED, principal, reason, {"client_order_id": cid, "symbol": symbol},
                     self.now())

    async def replace(self, client_order_id: str, principal: str, quantity: float | None = None,
                      limit_price: float | None = None) -> dict[str, Any]:
        await self.ensure_ready()
        m = self.book.get(client_order_id)
        new = m.replace(quantity, limit_price)
        inst = self.instruments[new.symbol]
        if not inst.is_lot_multiple(new.quantity):
            raise DomainError(f"quantity {new.quantity:g} is not a multiple of the lot size {inst.lot_size:g}")
        event = Event(EventType.ORDER_REPLACED, principal, "replace requested",
                      {"client_order_id": client_order_id, "symbol": new.symbol, "quantity": new.quantity,
                       "limit_price": new.limit_price},
                      self.now())
        await self._commit([event])
        self.book.apply_event(event)
        await self.broker.replace(new)
        return m.view()

    async def set_running(self, running: bool, principal: str, reason: str) -> bool:
        await self.ensure_ready()
        if running != self.running:
            t = EventType.ENGINE_STARTED if running else EventType.ENGINE_STOPPED
            await self._commit([Event(t, principal, reason, {})])
            self.running = running
        return self.running

    async def set_strategy(self, strategy: str, running: bool, principal: str, reason: str) -> dict[str, Any]:
        """Start or stop one strategy: a stopped strategy's new orders are refused
        (STRATEGY_STOPPED); its open orders stay (cancel them if they must go). Logged first."""
        await self.ensure_ready()
        if not isinstance(strategy, str) or not strategy.strip() or strategy != strategy.strip() or len(strategy) > 64:
            raise DomainError(f"strategy must be a name of 1 to 64 characters without surrounding spaces, "
                              f"got {strategy!r}")
        if self.strategies.get(strategy) != running:
            t = EventType.STRATEGY_STARTED if running else EventType.STRATEGY_STOPPED
            await self._commit([Event(t, principal, reason, {"strategy": strategy})])
            self.strategies[strategy] = running
        return (await self.strategy_status())[strategy]

    async def strategy_status(self) -> dict[str, dict[str, Any]]:
        """Every strategy that was started, stopped or sent an order: running, and its orders
        (accepted, still open, refused)."""
        await self.ensure_ready()
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

    async def get_order(self, client_order_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The order's view; None when unknown or not placed by ``owner`` (when given)."""
        await self.ensure_ready()
        return self.book.view(client_order_id, owner)

    async def list_orders(self, status: str | None = None, symbol: str | None = None,
                          since: str | None = None, limit: int = 100, offset: int = 0,
                          owner: str | None = None) -> dict[str, Any]:
        """Orders newest first, filtered (:meth:`OrderBook.listing`); ``since`` is ISO 8601, UTC when
        it has no offset; ``owner``: only that principal's orders; ``total`` counts all matches."""
        await self.ensure_ready()
        after = None
        if since:
            t = datetime.fromisoformat(since)
            after = t.replace(tzinfo=UTC) if t.tzinfo is None else t
        return self.book.listing(checks.member(OrderStatus, status, "status") if status else None,
                                 symbol or None, after, limit, offset, owner)

    async def open_quantities(self) -> dict[str, float]:
        """Signed remaining quantity of the open orders per symbol."""
        await self.ensure_ready()
        return self.book.open_quantities()

    async def broker_ping(self) -> str:
        """Raise unless the broker answers; return its name."""
        await self.ensure_ready()
        await self.broker.ping()
        return self.broker.name

    async def stats(self) -> dict[str, Any]:
        await self.ensure_ready()
        return {"running": self.running, "counts": dict(self.counts), "open_orders": len(self.book.open_orders()),
                "market_now": self._market_now.isoformat() if self._market_now else None,
                "orders": len(self.book.orders), "rejections": len(self.book.rejections),
                "commits": self.committer.commits if self.committer else 0, "marks": dict(self._marks),
                "unrecorded_fills": len(self._unrecorded), "replay_anomalies": self.book.anomaly_count,
                "portfolio_calls": self._portfolio.batches if self._portfolio else 0}

    # --- the gates and cash ------------------------------------------------------------------

    async def gate_call(self, role: str, method: str, *args: Any) -> Any:
        """What the RiskActor and ComplianceActor ask of their gate (``GATE_METHODS``)."""
        await self.ensure_ready()
        if method not in GATE_METHODS.get(role, ()):
            raise OrderStateError(f"the {role} gate has no method {method!r}")
        return await getattr(self.risk if role == "risk" else self.compliance, method)(*args)

    async def deposit(self, amount: float, principal: str, reason: str) -> dict[str, Any]:
        """Add cash (negative: withdraw), committed to the log before it counts; return the
        portfolio's summary once the portfolio actor has applied it."""
        await self.ensure_ready()
        if not math.isfinite(amount):
            raise DomainError(f"a deposit must be a finite amount, got {amount!r}")
        records = await self._commit([Event(EventType.CASH_CHANGED, principal, reason, {"amount": float(amount)})])
        applied = self._apply_committed(records)
        if applied is not None:
            await applied
        return dict(self.risk.book.summary())
