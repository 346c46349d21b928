"""OrderManager: the I/O shell around the trading core (:class:`~raytrade.execution.core.TradingCore`):
it commits what the core decides, routes orders to the broker and turns the broker's reports into
log events through the core, notifies the portfolio actor and records metrics. The core holds the
order state machine, the risk limits and the compliance rules (the RiskActor and ComplianceActor
are their named front doors: their calls are answered here) and decides on every order in this
process.

A submission goes: the core decides (validation, compliance, risk) -> with an in-process broker
(the paper broker, ``Broker.in_process``) the broker takes the order at once and its acceptance,
the compliance findings and what the broker reported are one commit; if that commit fails the
broker withdraws the order and it is refused STORE_UNAVAILABLE. With a broker outside the process
the order is committed ``submitted`` first, then sent; the broker's reports arrive on its event
stream and are committed as they come. An order is acknowledged (the method returns) only after
what the answer reports is committed. Fail closed: if the store or the broker cannot be reached,
or a check fails to decide, the order is rejected with STORE_UNAVAILABLE, BROKER_UNAVAILABLE,
RISK_UNAVAILABLE or COMPLIANCE_UNAVAILABLE and nothing half-written stays.

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

Reconciliation: at every (re)start, after the rebuild, the broker's open orders and positions are
compared with the log's; each difference is committed as a ``broker_reconciled`` event and
counted in :meth:`OrderManager.stats` (the log stays the book: nothing is adopted silently).

Batches: each order of a ``submit_batch`` is answered on its own; an order that raises fails
alone (its exception is its answer), never its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import pandas as pd

from raytrade.actors.base import MARKS_SNAPSHOT, MIRROR_TYPES, ActorBase, CallBatcher, Note, note
from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import Tally, metrics, tags
from raytrade.analytics.book import (
    BOOK_TYPES,
    BookHistory,
    attribution_document,
    book_history,
    drawdown_document,
    tax_lots_document,
)
from raytrade.analytics.harvest import HarvestConfig, harvest_proposals
from raytrade.analytics.tca import TCA_TYPES, parents_from_events, tca_document
from raytrade.brokers import make_broker
from raytrade.core import checks
from raytrade.core.broker_events import FILL_EVENTS, Rejected
from raytrade.core.enums import EventType, OrderStatus, RejectReason
from raytrade.core.errors import DomainError, OrderStateError, StoreError, StoreOutcomeUnknownError
from raytrade.core.events import Event
from raytrade.core.market import Bar
from raytrade.core.orders import Order, new_client_order_id
from raytrade.core.portfolio import Portfolio
from raytrade.execution.core import CORE_TYPES, TradingCore, checked_amount
from raytrade.execution.orders import Rejection
from raytrade.execution.runner import parse_runner_spec
from raytrade.storage import AuditRecord, GroupCommitter

MARKS_SAVE_S = 0.25
TAPE_BARS = 20_000  # bars kept per symbol for the cost analysis's market benchmarks (about 3 MB each)
GATE_METHODS = {"risk": {"status", "halt", "resume", "update_limits", "ping", "ready"},
                "compliance": {"list_violations", "ping", "ready"}}
UNKNOWN_OUTCOME_EXIT = 75  # the process's exit code when it restarts to settle an unknown commit


class OrderManager(ActorBase):
    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.instruments = config.instrument_map()
        self.core = self._new_core()
        self.broker = make_broker(config.broker)
        self.committer: GroupCommitter | None = None
        self._inflight: dict[str, tuple[asyncio.Future[dict[str, Any]], str]] = {}  # cid -> (answer, principal)
        self._bar_meta: dict[str, tuple[str, float]] = {}  # symbol -> (time, volume) of its last bar
        self._tape: dict[str, deque[tuple[datetime, float, float]]] = {}  # symbol -> recent (time, close, volume)
        self._last_committed: tuple[int, str] | None = None  # (sequence, hash) of this process's newest commit
        self._checkpoints: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._figures: Any = None            # the last RiskFigures (raytrade.risk.live)
        self._figures_task: asyncio.Task[None] | None = None
        self._figures_due = asyncio.Event()  # set by a fill: recompute now rather than at the next tick
        self._marks_saved_at = 0.0
        self._unrecorded: list[Event] = []  # broker reports executed but not yet committed (retried first)
        self._portfolio: CallBatcher | None = None
        self.reconciliation: list[dict[str, Any]] = []
        self._runners: dict[str, Any] = {}  # strategy -> its runner actor's handle
        self._parents_lock = asyncio.Lock()
        self.counts: Counter[str] = Counter()
        self.tally = Tally()

    def _new_core(self) -> TradingCore:
        c = self.config
        return TradingCore(self.instruments, limits=c.risk, rules=c.compliance, calendar_venue=c.calendar_venue,
                           clock=c.clock)

    # --- start and rebuild -------------------------------------------------------------------

    async def rebuild(self) -> None:
        assert self.store is not None
        self.core = core = self._new_core()
        self.broker = make_broker(self.config.broker)
        records = await self.store.read(1, types=CORE_TYPES)
        for r in records:
            core.apply(r.event)
        self.rebuilt_events = len(records)
        if core.book.anomaly_count:
            print(f"raytrade order manager {self.config.name}: replay skipped {core.book.anomaly_count} record(s) "
                  f"the order state machine refuses, first: {core.book.anomalies[0]}", file=sys.stderr, flush=True)
        marks = await self.store.load_snapshot(MARKS_SNAPSHOT)
        if marks:
            core.mark(marks[1]["marks"])
            if marks[1].get("market_now"):
                core.market_now = datetime.fromisoformat(marks[1]["market_now"])
            self._bar_meta = {s: (t, v) for s, (t, v) in (marks[1].get("bars") or {}).items()}
        # The broker's market as of the saved marks: orders after a restart fill at the last
        # known price instead of being refused until the next bar.
        for sym, price in core.portfolio.marks.items():
            at, volume = self._bar_meta.get(sym, (None, None))
            self.broker.restore_market(sym, price, datetime.fromisoformat(at) if at else self.now(), volume)
        pending_cancel = []
        for m in core.book.open_orders():
            if m.status is OrderStatus.PENDING_CANCEL:
                pending_cancel.append(m)  # its cancel request is committed: finished below, never restored
                continue
            if m.exec_spec is not None:
                continue  # a parent lives here, not at the broker: its children do
            await self.broker.restore(m.order, self.instruments[m.order.symbol], m.filled_quantity, len(m.fill_ids))
        self.broker.restore_positions(core.positions())
        self.committer = GroupCommitter(self.store)
        metrics().risk_halt.set(float(core.risk.halted), tags(self.config.name))
        if self.config.audit_checkpoints and self._checkpoints is None:
            from raytrade.storage.checkpoint import audit_key

            self._checkpoints = asyncio.create_task(self._checkpointer(self.config.audit_checkpoints, audit_key()))
        if pending_cancel:
            await self._commit_apply([core.order_ref(EventType.ORDER_CANCELLED, m.client_order_id, m.order.symbol,
                                                     m.principal, "cancel completed after a restart")
                                      for m in pending_cancel])
        self.broker.take_events()  # what restoring reported is what the log already says
        await self._reconcile()
        if not self.broker.in_process and (self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._pump_reports())
        if self._figures_task is None or self._figures_task.done():
            self._figures_task = asyncio.create_task(self._risk_figures_loop())
        self._runners = {}
        for name in core.strategy_specs:
            if core.strategies.get(name):
                self._ensure_runner(name)  # found by name if it lives on; created again if not
        import ray

        ray.get_actor(self.config.actor_name("portfolio")).resync.remote()

    async def _reconcile(self) -> None:
        """Compare the broker's open orders and positions with the log's; commit each difference."""
        account = await self.broker.reconcile()
        log_positions = self.core.positions()
        log_open = {m.client_order_id: m.order.side.sign * m.remaining for m in self.core.book.open_orders()
                    if m.exec_spec is None}
        diffs: list[dict[str, Any]] = []
        for sym in sorted(set(log_positions) | set(account.positions)):
            a, b = log_positions.get(sym, 0.0), account.positions.get(sym, 0.0)
            if abs(a - b) > 1e-9:
                diffs.append({"kind": "position", "symbol": sym, "log": a, "broker": b})
        for cid in sorted(set(log_open) | set(account.open_orders)):
            a, b = log_open.get(cid, 0.0), account.open_orders.get(cid, 0.0)
            if abs(a - b) > 1e-9:
                diffs.append({"kind": "open_order", "client_order_id": cid, "log": a, "broker": b})
        self.reconciliation = diffs
        if diffs:
            await self._commit_apply([Event(EventType.BROKER_RECONCILED, "engine",
                                            f"the {self.broker.name} broker differs from the log", d, self.now())
                                      for d in diffs])
            print(f"raytrade order manager {self.config.name}: reconciliation with the {self.broker.name} broker "
                  f"found {len(diffs)} difference(s), first: {diffs[0]}", file=sys.stderr, flush=True)

    def portfolio(self) -> CallBatcher:
        """The ordered channel to the portfolio actor (:meth:`PortfolioMirror.step`)."""
        if self._portfolio is None:
            import ray

            actor = ray.get_actor(self.config.actor_name("portfolio"))
            self._portfolio = CallBatcher(lambda items: actor.step.remote(items))
        return self._portfolio

    def now(self) -> datetime:
        return self.core.now()

    # --- submissions -------------------------------------------------------------------------

    async def submit(self, request: dict[str, Any], principal: str) -> dict[str, Any]:
        """Submit an order (fields of :class:`~raytrade.core.orders.Order`); return its view."""
        await self.ensure_ready()
        cid = request.get("client_order_id") or new_client_order_id()
        if not isinstance(cid, str) or not cid.strip() or len(cid) > 64 or not cid.isprintable():
            return self._unrecorded_reject(repr(cid)[:64], principal, {}, RejectReason.INVALID_ORDER,
                                           "client_order_id must be a non-empty string of at most 64 printable "
                                           "characters")
        inflight = self._inflight.get(cid)
        owner = self.core.book.owner(cid) or (inflight[1] if inflight else None)
        if owner is not None and owner != principal:
            return self._unrecorded_reject(cid, principal, {}, RejectReason.DUPLICATE_ORDER_ID,
                                           f"client order id {cid!r} is taken by another principal's order")
        known = self.core.book.view(cid)
        if known is not None:
            self.counts["duplicate"] += 1
            return {**known, "duplicate": True}
        if inflight is not None:
            self.counts["duplicate"] += 1
            return {**await asyncio.shield(inflight[0]), "duplicate": True}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[cid] = (fut, principal)
        try:
            view = await self._submit(cid, request, principal)
            fut.set_result(view)
            return view
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: a duplicate waiting on it re-raises, nobody else must
            raise
        finally:
            del self._inflight[cid]

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
        was_halted = self.core.risk.halted
        v = self.core.submit(cid, request, principal, sent_out=not self.broker.in_process)
        if self.core.risk.halted != was_halted:
            metrics().risk_halt.set(float(self.core.risk.halted), tags(self.config.name))
        if v.order is None:
            assert v.code is not None
            self._count_rejection(v.code)
            try:
                await self._commit_apply(v.events)
            except StoreError as exc:
                return self._unrecorded_reject(cid, principal, v.raw, RejectReason.STORE_UNAVAILABLE,
                                               f"{v.detail}; and the refusal could not be recorded: {exc}")
            return self.core.book.view(cid) or self._unrecorded_reject(cid, principal, v.raw, v.code, v.detail)
        if not v.route:  # a parent order: accepted here, worked by its algorithm's children
            try:
                await self._commit_apply([*v.events, v.accept])  # type: ignore[list-item]
            except StoreError as exc:
                self._count_rejection(RejectReason.STORE_UNAVAILABLE)
                return self._unrecorded_reject(cid, principal, v.raw, RejectReason.STORE_UNAVAILABLE, str(exc))
            finally:
                self.core.release(v.order)
            self.counts["accepted"] += 1
            await self._work_parents()
            return self.core.book.get(cid).view()
        try:
            if self.broker.in_process:
                return await self._route_in_process(v.order, principal, v.raw, [*v.events, v.accept])
            return await self._route_out(v.order, principal, v.raw, [*v.events, v.accept])
        finally:
            self.core.release(v.order)

    async def _work_parents(self) -> None:
        """Send the children the working parents' algorithms ask for now, through the normal
        submission (idempotent: a child id asked for twice is one order)."""
        async with self._parents_lock:
            # one child per parent at most, each its own id: submitted together, they share a commit
            answers = await asyncio.gather(*[self.submit(request, principal)
                                             for request, principal in self.core.child_requests()],
                                           return_exceptions=True)
            for a in answers:  # a store outage: asked again at the next bar; anything else is a bug
                if isinstance(a, BaseException) and not isinstance(a, StoreError):
                    raise a

    async def _route_in_process(self, order: Order, principal: str, raw: dict[str, Any],
                                first: list[Event | None]) -> dict[str, Any]:
        """Broker first, then the acceptance and what the broker reported in one commit (the
        broker is the order manager's own state: nothing left the process before the commit)."""
        cid = order.client_order_id
        try:
            await asyncio.wait_for(self.broker.submit(order, self.instruments[order.symbol]),
                                   self.config.call_timeout_s)
            reports = self.broker.take_events(cid)
        except (TimeoutError, ConnectionError, OSError) as exc:
            reports = [Rejected(cid, self.now(), f"broker unreachable: {type(exc).__name__}",
                                RejectReason.BROKER_UNAVAILABLE.value)]
        after = self.core.from_broker(reports, (order, principal))
        for e in after:
            if e.type is EventType.ORDER_REJECTED:
                self._count_rejection(RejectReason(e.payload["code"]))
        pending, self._unrecorded = self._unrecorded, []
        try:
            records = await self._commit(pending + [e for e in first if e is not None] + after)
        except StoreError as exc:
            self._unrecorded = pending + self._unrecorded
            self.broker.withdraw(cid, [r.fill for r in reports if isinstance(r, FILL_EVENTS)])
            self._count_rejection(RejectReason.STORE_UNAVAILABLE)
            return self._unrecorded_reject(cid, principal, raw, RejectReason.STORE_UNAVAILABLE, str(exc))
        self.counts["accepted"] += 1
        self._apply_committed(records)
        return self.core.book.get(cid).view()

    async def _route_out(self, order: Order, principal: str, raw: dict[str, Any],
                         first: list[Event | None]) -> dict[str, Any]:
        """An external broker: ``order_submitted`` committed first, then the order is sent; the
        broker's reports follow on its stream (:meth:`_pump_reports`)."""
        cid = order.client_order_id
        try:
            await self._commit_apply([e for e in first if e is not None])
        except StoreError as exc:
            self._count_rejection(RejectReason.STORE_UNAVAILABLE)
            return self._unrecorded_reject(cid, principal, raw, RejectReason.STORE_UNAVAILABLE, str(exc))
        self.counts["accepted"] += 1
        try:
            await asyncio.wait_for(self.broker.submit(order, self.instruments[order.symbol]),
                                   self.config.call_timeout_s)
        except (TimeoutError, ConnectionError, OSError) as exc:
            # Not sent, or its answer lost: the stream settles it; a refusal names the cause.
            await self._commit_apply(self.core.from_broker([Rejected(
                cid, self.now(), f"broker unreachable: {type(exc).__name__}", RejectReason.BROKER_UNAVAILABLE.value)]))
        return self.core.book.get(cid).view()

    async def _pump_reports(self) -> None:
        """Commit an external broker's reports as they arrive (a failed commit keeps them for the next)."""
        async for report in self.broker.events():
            events = self.core.from_broker([report])
            if events or self._unrecorded:
                with contextlib.suppress(StoreError):
                    await self._record(events)

    def _count_rejection(self, code: RejectReason) -> None:
        self.counts[f"rejected:{code.value}"] += 1
        self.tally.inc(metrics().orders_rejected, tags(self.config.name, reason=code.value))

    def _unrecorded_reject(self, cid: str, principal: str, raw: dict[str, Any], code: RejectReason,
                           detail: str) -> dict[str, Any]:
        """A refusal that could not be (or need not be) logged: answered, never kept."""
        return Rejection(cid, principal, raw, code, detail, self.now()).view()

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

    async def _risk_figures_loop(self) -> None:
        """The book's risk figures (:mod:`raytrade.risk.live`), every ``risk_figures_s`` and soon
        after a fill, off the order path: a submission never waits for them, and a failure here is
        said on stderr and leaves the last figures (their age shows it)."""
        trigger = "start"
        while True:
            self._figures_due.clear()
            try:
                await self._compute_figures(trigger)
                if self.config.hedger is not None:
                    await self._hedge()
            except Exception as exc:  # a failure here must not end the loop: the figures' age shows it
                print(f"raytrade order manager {self.config.name}: risk figures failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
            try:
                await asyncio.wait_for(self._figures_due.wait(), timeout=self.config.risk_figures_s)
                trigger = "fill"
                await asyncio.sleep(0.2)   # let the fill's own work go first; a burst of fills is one computation
            except TimeoutError:
                trigger = "timer"

    async def _hedge(self) -> None:
        """The delta hedger (``hedger`` in the config): the stock orders that bring each optioned
        underlying's net delta (positions, and open orders as if filled) back to the target, sent
        through the normal order path as ``hedger`` with ids ``hedger-<symbol>-<figures' time>``
        (computed again for the same moment, the engine answers with the order already placed)."""
        import pandas as pd

        from raytrade.risk.hedging import delta_hedge_orders

        f, h = self._figures, self.config.hedger
        if f is None or h is None or not f.positions:
            return
        lots = {s: i.lot_size for s, i in self.instruments.items()}
        for order in delta_hedge_orders(pd.DataFrame(f.positions), f.equity, band=h.band, target=h.target,
                                        pending=self.core.open_quantities(), lots=lots):
            cid = f"hedger-{order.symbol}-{f.as_of:%Y%m%dT%H%M%S}"[:64]
            await self.submit({"client_order_id": cid, "symbol": order.symbol, "side": "buy" if order.quantity > 0
                               else "sell", "quantity": abs(order.quantity), "strategy": "hedger"}, "hedger")

    async def _compute_figures(self, trigger: str) -> None:
        """Copies of the book and the closes taken on the event loop, the figures computed in a
        thread (the loop goes on deciding orders meanwhile), then published."""
        from raytrade.risk.live import compute_figures, daily_closes

        book = Portfolio.from_state(self.core.portfolio.to_state())
        tape = {s: [(t, c) for t, c, _ in bars] for s, bars in self._tape.items()}
        now = self.now()

        def work() -> Any:
            return compute_figures(book, self.instruments, daily_closes(tape), as_of=now, trigger=trigger,
                                   lookback=self.config.risk_lookback)

        f = await asyncio.to_thread(work)
        self._figures = f
        self.core.risk.figures = f   # what the configured VaR and Greeks limits read (never computed on the order path)
        m, t = metrics(), tags(self.config.name)
        for horizon, value, tail in (("1d", f.var_1d, f.cvar_1d), ("10d", f.var_10d, f.cvar_10d)):
            if value is not None:
                m.risk_var.set(value, {**t, "horizon": horizon})
            if tail is not None:
                m.risk_cvar.set(tail, {**t, "horizon": horizon})
        for name in ("gross_leverage", "correlation_risk"):
            value = getattr(f, name)
            if value is not None:
                m.risk_figure.set(value, {**t, "figure": name})
        for name, value in f.greeks.items():
            m.risk_figure.set(value, {**t, "figure": name})
        m.risk_figures_time.set(time.time(), t)

    def _restart_from_log(self, exc: StoreOutcomeUnknownError) -> NoReturn:
        """The log may hold events this process has not applied: end the process so that Ray
        restarts it and it rebuilds from the log before it answers anyone (see the module)."""
        print(f"raytrade order manager {self.config.name}: restarting to rebuild from the log: {exc}",
              file=sys.stderr, flush=True)
        os._exit(UNKNOWN_OUTCOME_EXIT)

    async def _commit_apply(self, events: list[Event]) -> list[AuditRecord]:
        """Commit ``events`` and apply them (:meth:`_apply_committed`)."""
        if not events:
            return []
        records = await self._commit(events)
        self._apply_committed(records)
        return records

    async def _record(self, events: list[Event], marks: dict[str, float] | None = None) -> asyncio.Future[Any] | None:
        """Commit broker reports (after any kept from a failed commit) and apply them. A report
        the store cannot take yet is kept and retried first next time, never dropped: the broker
        has executed it."""
        pending, self._unrecorded = self._unrecorded + events, []
        try:
            records = await self._commit(pending)
        except StoreError:
            self._unrecorded = pending + self._unrecorded
            raise
        return self._apply_committed(records, marks)

    def _apply_committed(self, records: list[AuditRecord],
                         marks: dict[str, float] | None = None) -> asyncio.Future[Any] | None:
        """Apply committed records to the core, count them, and pass the fills, cash, session
        starts and ``marks`` on to the portfolio actor (:meth:`_notify`; its future is returned,
        or None when there was nothing to pass on; nobody needs to wait for it)."""
        m = metrics()
        for r in records:
            if r.event.type is EventType.FILL:
                self.counts["fills"] += 1
                self._figures_due.set()
                f = r.event.payload["fill"]
                self.tally.inc(m.trades, tags(self.config.name, symbol=f["symbol"]))
                mark = self.core.portfolio.marks.get(f["symbol"])
                if mark:
                    bps = (1.0 if f["side"] == "buy" else -1.0) * (f["price"] / mark - 1.0) * 1e4
                    m.order_slippage_bps.observe(abs(bps), tags(self.config.name, direction="adverse" if bps > 0
                                                                else "favourable"))
                self.core.apply(r.event)
                self._observe_parent(f["client_order_id"])
                continue
            self.core.apply(r.event)
        if marks:
            self.core.mark(marks)
        mirrored = [note(r) for r in records if r.event.type in MIRROR_TYPES]
        if not (mirrored or marks):
            return None
        return self._notify(marks or {}, mirrored)

    def _observe_parent(self, child_id: str) -> None:
        """When ``child_id``'s fill completed its parent: the parent's slippage against its
        arrival price (bps, + = paid more; commissions aside) into the shortfall histogram."""
        child = self.core.book.orders.get(child_id)
        parent = self.core.book.orders.get(child.parent_id) if child is not None and child.parent_id else None
        if parent is None or parent.status is not OrderStatus.FILLED or not parent.exec_spec:
            return
        arrival, avg = parent.exec_spec.get("arrival"), parent.avg_fill_price
        if arrival and avg:
            bps = parent.order.side.sign * (avg / arrival - 1.0) * 1e4
            metrics().execution_shortfall_bps.observe(abs(bps), tags(
                self.config.name, algorithm=parent.exec_spec["name"], direction="adverse" if bps > 0 else "favourable"))

    async def tca(self, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        """Transaction-cost analysis of the parent orders accepted in [start, end] (ISO times;
        open when None), from the log, against the bars this process has seen (the last
        ``TAPE_BARS`` per symbol since it started: the interval VWAP, participation and reversion
        of older parents are null): per parent, per algorithm and per venue
        (:mod:`raytrade.analytics.tca`)."""
        await self.ensure_ready()
        assert self.store is not None
        lo = datetime.fromisoformat(start) if start else None
        hi = datetime.fromisoformat(end) if end else None
        records = await self.store.read(types=TCA_TYPES)
        parents = [p for p in parents_from_events(r.event for r in records)
                   if (lo is None or p.start >= lo) and (hi is None or p.start <= hi)]
        return tca_document(parents, self._tape_frames(1))

    def _tape_frames(self, least: int) -> dict[str, pd.DataFrame]:
        """Each symbol's tape with at least ``least`` bars as a frame: price, volume by time."""
        return {sym: pd.DataFrame([(p, v) for _, p, v in tape], columns=["price", "volume"],
                                  index=pd.DatetimeIndex([t for t, _, _ in tape]))
                for sym, tape in self._tape.items() if len(tape) >= least}

    # --- the live book's analytics and tax lots ----------------------------------------------

    def _marks(self) -> dict[str, float]:
        return {s: p for s in self.instruments if (p := self.core.portfolio.price(s)) is not None}

    def _unit_marks(self) -> dict[str, float]:
        """The marks per unit of quantity, as the tax-lot ledger holds prices (x the multiplier)."""
        return {s: p * self.instruments[s].multiplier for s, p in self._marks().items()}

    async def _history(self) -> BookHistory:
        await self.ensure_ready()
        assert self.store is not None
        records = await self.store.read(types=BOOK_TYPES)
        return book_history((r.event for r in records), self._marks(), self.now(),
                            {s: i.multiplier for s, i in self.instruments.items()})

    async def attribution(self) -> dict[str, Any]:
        """P&L of the book by sector, strategy and symbol, rebuilt from the log at its session
        starts and the current marks (:func:`raytrade.analytics.book.attribution_document`)."""
        h = await self._history()
        return attribution_document(h, {s: i.sector for s, i in self.instruments.items()})

    async def drawdowns(self, threshold: float) -> dict[str, Any]:
        """The book's drawdown events beyond ``threshold`` (a fraction), from the log."""
        return drawdown_document(await self._history(), threshold)

    async def tax_lots(self, year: int | None = None) -> dict[str, Any]:
        """The account's tax lots: the compliance ledger (the one record of lots, fed every
        fill), valued at the current marks."""
        await self.ensure_ready()
        return tax_lots_document(self.core.compliance.ledger, self._unit_marks(), self.now(), year)

    async def tax_harvest(self, config: dict[str, Any]) -> dict[str, Any]:
        """Tax-loss harvesting proposals for the book now (:mod:`raytrade.analytics.harvest`):
        substitutes by the correlation of the bars this process has seen; symbols the harvester
        sold at a loss are locked (compliance) and symbols without a mark are left out."""
        await self.ensure_ready()
        cfg = HarvestConfig(**config)
        now = self.now()
        closes = {sym: f["price"] for sym, f in self._tape_frames(2).items()}
        returns = pd.DataFrame(closes).sort_index().ffill().pct_change().iloc[1:] if closes else None
        comp = self.core.compliance
        locked = {s for s, until in comp.locks.items() if now < until}
        props = harvest_proposals(comp.ledger, self._unit_marks(), now, cfg, returns=returns,
                                  sectors={s: i.sector for s, i in self.instruments.items() if i.sector} or None,
                                  locked=locked, skip_unpriced=True)
        return {"config": cfg.model_dump(), "harvest_strategy": comp.rules.harvest_strategy,
                "proposals": [p.to_dict() for p in props], "lines": [p.describe() for p in props]}

    def _notify(self, marks: dict[str, float], notes: list[Note]) -> asyncio.Future[Any]:
        """Send committed events and marks to the portfolio actor (batched, in order); the future
        resolves once the portfolio has applied them (the core has already)."""
        return self.portfolio().submit(("market", (marks, notes)))

    async def on_bars(self, bars: Sequence[dict[str, Any]], wait: bool = False) -> list[dict[str, Any]]:
        """New bars (``Bar`` fields; timestamps ISO): mark, fill working orders, return the fills.

        With ``wait`` the call returns only once the portfolio actor has applied the bar too (a
        replay reads the portfolio right after); the core always has.

        The first bar of a new session logs ``session_started`` with the marks before this bar,
        ahead of the bar's fills: the day's starting equity is the previous close's.
        """
        await self.ensure_ready()
        parsed = [Bar(b["symbol"], datetime.fromisoformat(b["timestamp"]) if isinstance(b["timestamp"], str)
                      else b["timestamp"], b["open"], b["high"], b["low"], b["close"], b.get("volume", 0.0))
                  for b in bars]
        self.core.note_volume(parsed)
        first, expire = self.core.on_bars(parsed)
        for cid in expire:
            await self.broker.cancel(cid)
            self.broker.take_events(cid)  # the expiry is the log's event above
        for bar in parsed:
            self.broker.on_bar(bar)
            self._bar_meta[bar.symbol] = (bar.timestamp.isoformat(), bar.volume)
            tape = self._tape.get(bar.symbol)
            if tape is None:
                tape = self._tape[bar.symbol] = deque(maxlen=TAPE_BARS)
            tape.append((bar.timestamp, bar.close, bar.volume))
        # The bars' fills; reports of submissions in flight are theirs to take.
        reports = self.broker.take_events(skip=self._inflight) if self.broker.in_process else []
        events = first + self.core.from_broker(reports)
        self.broker.take_fills()  # reported above; the broker's fill queue is not needed for bars
        applied = await self._record(events, marks={b.symbol: b.close for b in parsed})
        if self.core.parents:
            await self._work_parents()
        for name in [n for n in self._runners if self.core.strategies.get(n)]:
            self._runners[name].on_bars.remote(list(bars))  # after the commit: the runner trades on what is booked
        if wait and applied is not None:
            await applied
        if first or time.monotonic() - self._marks_saved_at >= MARKS_SAVE_S:
            await self._save_marks()
        return [e.payload["fill"] for e in events if e.type is EventType.FILL]

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
            "marks": dict(self.core.portfolio.marks), "bars": {s: list(m) for s, m in self._bar_meta.items()},
            "market_now": self.core.market_now.isoformat() if self.core.market_now else None})

    # --- cancel, replace, state --------------------------------------------------------------

    async def cancel(self, client_order_id: str, principal: str, owner: str | None = None) -> dict[str, Any]:
        """Cancel an open order: the request is committed first (``pending_cancel``), then the
        broker cancels, then what it reports (``order_cancelled``, or a fill that came first and
        is booked) is committed. A store that cannot take the request leaves the order working at
        the broker and as it was in the log (the caller gets the store's error: try again); a
        crash between the steps is finished at the restart. ``owner``: the principal the order
        must belong to (None: any; an admin)."""
        await self.ensure_ready()
        for child in self.core.children_of(client_order_id):  # a parent's children go first
            with contextlib.suppress(OrderStateError):
                await self.cancel(child, principal)
        requested = self.core.cancel_request(client_order_id, principal, owner)
        if requested is not None:
            await self._commit_apply([requested])
        await self.broker.cancel(client_order_id)
        if self.broker.in_process:
            await self._record(self.core.from_broker(self.broker.take_events(client_order_id)))
        return self.core.book.get(client_order_id).view()

    async def replace(self, client_order_id: str, principal: str, quantity: float | None = None,
                      limit_price: float | None = None, owner: str | None = None) -> dict[str, Any]:
        """Change an open order's quantity and/or limit price: committed, then sent (an external
        broker's confirmation arrives on its stream: ``pending_replace`` until then)."""
        await self.ensure_ready()
        new, event = self.core.replace_request(client_order_id, principal, quantity, limit_price,
                                               sent_out=not self.broker.in_process, owner=owner)
        await self._commit_apply([event])
        await self.broker.replace(new)
        if self.broker.in_process:
            await self._record(self.core.from_broker(self.broker.take_events(client_order_id)))
        return self.core.book.get(client_order_id).view()

    async def set_running(self, running: bool, principal: str, reason: str) -> bool:
        await self.ensure_ready()
        event = self.core.running_event(running, principal, reason)
        if event is not None:
            await self._commit_apply([event])
        return self.core.running

    async def set_strategy(self, strategy: str, running: bool, principal: str, reason: str,
                           spec: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start or stop one strategy: a stopped strategy's new orders are refused
        (STRATEGY_STOPPED). Logged first. With ``spec`` (a :class:`~raytrade.execution.runner.RunnerSpec`; its ``name`` is
        ``strategy``) a strategy runner runs it in the engine; stopping a strategy that has a
        runner stops the runner and cancels its open orders (a strategy without one keeps its
        open orders: cancel them if they must go)."""
        await self.ensure_ready()
        runner = None
        if spec is not None:
            runner = parse_runner_spec({**spec, "name": strategy})
            missing = [s for s in runner.symbols if s not in self.instruments]
            if missing:
                raise DomainError(f"strategy {strategy!r}: symbol {missing[0]!r} is not an instrument of this engine")
        event = self.core.strategy_event(strategy, running, principal, reason,
                                         runner.model_dump(mode="json") if runner else None)
        if event is not None:
            await self._commit_apply([event])
        if running and strategy in self.core.strategy_specs:
            self._ensure_runner(strategy)
        elif not running and strategy in self.core.strategy_specs:
            self._stop_runner(strategy)
            assert self.store is not None  # its saved state goes: a later start begins afresh
            await self.store.save_snapshot(f"runner:{strategy}", 0, {})
            for m in self.core.book.open_orders():
                if m.order.strategy == strategy:
                    with contextlib.suppress(OrderStateError):
                        await self.cancel(m.client_order_id, principal)
        # the runner (a new process, maybe still starting) is not waited for: the status shows it
        return (await self.strategy_status(runners=False))[strategy]

    def _ensure_runner(self, strategy: str) -> Any:
        """The strategy's runner actor, created (detached, restartable) when it does not exist."""
        import ray

        from raytrade.actors.strategy_runner import StrategyRunner, runner_actor_name
        from raytrade.cluster import NAMESPACE

        handle = self._runners.get(strategy)
        if handle is None:
            handle = ray.remote(StrategyRunner).options(
                name=runner_actor_name(self.config, strategy), namespace=NAMESPACE, get_if_exists=True,
                lifetime="detached", max_restarts=-1, max_task_retries=0, num_cpus=0).remote(self.config, strategy)
            self._runners[strategy] = handle
        return handle

    def _stop_runner(self, strategy: str) -> None:
        import ray

        from raytrade.actors.strategy_runner import runner_actor_name
        from raytrade.cluster import NAMESPACE

        self._runners.pop(strategy, None)
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(runner_actor_name(self.config, strategy), namespace=NAMESPACE), no_restart=True)

    async def runner_names(self) -> list[str]:
        """The strategies whose runner actors this order manager started (for a shutdown)."""
        await self.ensure_ready()
        return list(self._runners)

    async def update_strategy_params(self, strategy: str, params: dict[str, Any], principal: str,
                                     reason: str) -> dict[str, Any]:
        """Change a running strategy's parameters: validated by its parameter space, logged as
        ``parameter_changed`` (component ``strategy``), then given to its runner."""
        await self.ensure_ready()
        spec = self.core.strategy_specs.get(strategy)
        if spec is None:
            raise DomainError(f"strategy {strategy!r} has no runner: start it with a specification first")
        merged = dict(parse_runner_spec({**spec, "params": {**spec["params"], **params}}).params)
        await self._commit_apply([self.core.strategy_params_event(strategy, merged, principal, reason)])
        if self.core.strategies.get(strategy):
            # not waited for (a starting runner must not hold the answer up); a runner that misses it
            # reads the parameters from the log when it (re)starts
            self._ensure_runner(strategy).update_params.remote(merged)
        return (await self.strategy_status(runners=False))[strategy]

    async def strategy_status(self, runners: bool = True) -> dict[str, dict[str, Any]]:
        """Every strategy that was started, stopped or sent an order: running, its orders
        (accepted, still open, refused), its positions and P&L from its own fills (currency, at
        the latest marks: cash flow + positions x marks), and for one with a runner, the runner's
        parameters, last signal and target weights."""
        await self.ensure_ready()
        out = self.core.strategy_status()
        marks = self.core.portfolio.marks
        for name, row in out.items():
            b = self.core.strategy_books.get(name)
            row["positions"] = dict(b.positions) if b else {}
            mult = self.core.portfolio.multipliers
            row["pnl"] = (b.cash_flow + sum(q * marks.get(s, 0.0) * mult.get(s, 1.0) for s, q in b.positions.items())
                          if b else 0.0)
            if name in self.core.strategy_specs:
                row["spec"] = self.core.strategy_specs[name]
                handle = self._runners.get(name) if runners else None
                if handle is not None:
                    try:  # a runner that is (re)starting must not hold the answer up to the caller's timeout
                        row["runner"] = await asyncio.wait_for(handle.status.remote(), min(1.0, self.config.call_timeout_s / 4))
                    except Exception as exc:  # a restarting runner: say so, do not fail the status
                        cause = getattr(exc, "cause", None) or exc  # a remote error: its own message, no traceback
                        row["runner"] = {"error": f"{type(cause).__name__}: {str(cause).splitlines()[0][:200]}"}
        return out

    async def strategy_specs(self) -> dict[str, dict[str, Any]]:
        """What each strategy was last started with (for the runners to resume)."""
        await self.ensure_ready()
        return {k: v for k, v in self.core.strategy_specs.items() if self.core.strategies.get(k)}

    async def get_order(self, client_order_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The order's view; None when unknown or not placed by ``owner`` (when given)."""
        await self.ensure_ready()
        return self.core.book.view(client_order_id, owner)

    async def list_orders(self, status: str | None = None, symbol: str | None = None,
                          since: str | None = None, limit: int = 100, offset: int = 0,
                          owner: str | None = None, strategy: str | None = None) -> dict[str, Any]:
        """Orders newest first, filtered (:meth:`OrderBook.listing`); ``since`` is ISO 8601, UTC when
        it has no offset; ``owner``: only that principal's orders; ``total`` counts all matches."""
        await self.ensure_ready()
        after = None
        if since:
            t = datetime.fromisoformat(since)
            after = t.replace(tzinfo=UTC) if t.tzinfo is None else t
        return self.core.book.listing(checks.member(OrderStatus, status, "status") if status else None,
                                      symbol or None, after, limit, offset, owner)

    async def open_quantities(self) -> dict[str, float]:
        """Signed remaining quantity of the open orders per symbol."""
        await self.ensure_ready()
        return self.core.book.open_quantities()

    async def strategy_book(self, strategy: str) -> dict[str, Any]:
        """A strategy's own positions (signed quantity per symbol), the cash flow and number of
        its fills, and its open orders, from the log (what a strategy runner sizes from)."""
        await self.ensure_ready()
        b = self.core.strategy_books.get(strategy)
        return {**(b.to_dict() if b else {"positions": {}, "cash_flow": 0.0, "fills": 0}),
                "open_orders": [m.client_order_id for m in self.core.book.open_orders() if m.order.strategy == strategy]}

    async def broker_ping(self) -> str:
        """Raise unless the broker answers; return its name."""
        await self.ensure_ready()
        await self.broker.ping()
        return self.broker.name

    async def stats(self) -> dict[str, Any]:
        await self.ensure_ready()
        c = self.core
        return {"running": c.running, "counts": dict(self.counts), "open_orders": len(c.book.open_orders()),
                "market_now": c.market_now.isoformat() if c.market_now else None,
                "orders": len(c.book.orders), "rejections": len(c.book.rejections),
                "commits": self.committer.commits if self.committer else 0, "marks": dict(c.portfolio.marks),
                "unrecorded_fills": len(self._unrecorded), "replay_anomalies": c.book.anomaly_count,
                "reconciliation_differences": len(self.reconciliation), "broker": self.broker.name,
                "portfolio_calls": self._portfolio.batches if self._portfolio else 0}

    # --- risk and compliance (answered for their named actors) and cash ---------------------

    async def gate_call(self, role: str, method: str, *args: Any) -> Any:
        """What the RiskActor and ComplianceActor ask (``GATE_METHODS``)."""
        await self.ensure_ready()
        if method not in GATE_METHODS.get(role, ()):
            raise OrderStateError(f"the {role} gate has no method {method!r}")
        if method == "ping":
            return True
        if method == "ready":
            return {"pid": os.getpid(), "restarted": self._restarted(), "rebuilt_events": self.rebuilt_events}
        return await getattr(self, f"_{role}_{method}")(*args)

    async def _risk_status(self, open_quantities: dict[str, float] | None = None) -> dict[str, Any]:
        """The limits, their use and the halt state, and ``figures``: the book's last risk figures
        with their age in seconds (None before the first computation)."""
        metrics().risk_halt.set(float(self.core.risk.halted), tags(self.config.name))
        figures = self._figures.to_dict(datetime.now(UTC)) if self._figures is not None else None
        return {**self.core.risk_status(), "figures": figures}

    async def _risk_halt(self, principal: str, reason: str) -> dict[str, Any]:
        await self._commit_apply([self.core.halt_event(principal, reason)])
        return await self._risk_status()

    async def _risk_resume(self, principal: str, reason: str) -> dict[str, Any]:
        await self._commit_apply([Event(EventType.TRADING_RESUMED, principal, reason, {}, self.now())])
        return await self._risk_status()

    async def _risk_update_limits(self, limits: dict[str, Any], principal: str, reason: str) -> dict[str, Any]:
        await self._commit_apply([self.core.limits_event(limits, principal, reason)])
        return await self._risk_status()

    async def _compliance_list_violations(self, limit: int = 100) -> list[dict[str, Any]]:
        return [v.to_dict() for v in self.core.violations[-limit:]][::-1]

    async def deposit(self, amount: float, principal: str, reason: str) -> dict[str, Any]:
        """Add cash (negative: withdraw), committed to the log before it counts; return the
        book's summary once the portfolio actor has applied it."""
        await self.ensure_ready()
        event = Event(EventType.CASH_CHANGED, principal, reason, {"amount": checked_amount(amount)}, self.now())
        records = await self._commit([event])
        applied = self._apply_committed(records)
        if applied is not None:
            await applied
        return dict(self.core.portfolio.summary())
