"""What every engine actor shares: its store, lazy rebuild on (re)start, and the portfolio mirror.

Ray re-runs ``__init__`` when it restarts an actor, and ``__init__`` cannot await; so each actor
rebuilds its state from the event store on the first call after a start or restart
(:meth:`ActorBase.ensure_ready`), before it answers anything.

The portfolio actor holds a :class:`~raytrade.core.portfolio.Portfolio` built from the log's
``fill``, ``cash_changed`` and ``session_started`` events (:class:`PortfolioMirror`); the order
manager's trading core holds its own, built by the same Portfolio code from the same events, and
decides every order against it in process (a decision costs a function call, not two Ray round
trips: ``benchmarks/engine_throughput.py``). The order manager sends committed fills, session
starts and marks to the portfolio actor on one ordered channel (:meth:`PortfolioMirror.step`). The
RiskActor and ComplianceActor are named front doors (:class:`GateFront`): halts, limits and
violations are asked of them and answered by the order manager. Events are identified
by sequence number, so an event both replayed at a restart and notified is applied once, and
:meth:`PortfolioMirror.resync` picks up events whose notification was lost when the order manager
died between commit and notification.

Marks (latest prices) are market data, not log events: the order manager saves them as the
``marks`` snapshot at most every :data:`~raytrade.actors.order_manager.MARKS_SAVE_S` seconds and at
each new session, and a restarted mirror starts from that snapshot until the next bar. The start of
each session is a ``session_started`` event carrying the marks at that moment, so the day's
starting equity (the base of the daily loss limit) is rebuilt exactly.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from datetime import date
from typing import Any, ClassVar

from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import metrics, tags
from raytrade.core.enums import EventType
from raytrade.core.errors import ClusterError, DomainError
from raytrade.core.events import Event
from raytrade.core.orders import Fill
from raytrade.core.portfolio import Portfolio
from raytrade.storage import AuditRecord, EventBus, EventStore, RedisCache

# What the order manager sends the mirrors for each committed event: (sequence, type, payload).
# Plain tuples pickle several times faster than Event objects, and notifications are the hot path.
Note = tuple[int, str, dict[str, Any]]
MIRROR_TYPES = (EventType.FILL, EventType.CASH_CHANGED, EventType.SESSION_STARTED)
MARKS_SNAPSHOT = "marks"
FRONT_WAIT_S = 60.0


def note(record: AuditRecord) -> Note:
    return (record.sequence, record.event.type.value, record.event.payload)


class ActorBase:
    """Store handle and lazy rebuild. Subclasses implement :meth:`rebuild`."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.store: EventStore | None = None
        self.cache = RedisCache(config.resolved_redis_url(), prefix=f"raytrade:{config.name}:")
        self.bus = EventBus(self.cache)
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self.started_at_pid = os.getpid()
        self.rebuilt_events = 0

    def publish(self, messages: list[dict[str, Any]]) -> None:
        """Send messages (committed records as ``AuditRecord.to_json()``, or derived updates) on
        the event bus, in order, in the background: Redis is a fan-out and nobody waits for it.
        Without Redis there is nobody to send to (an actor has no in-process subscribers; the API
        follows the store's tail), so nothing is queued."""
        if self.cache.url is None:
            return
        for m in messages:
            self._outbox.put_nowait(m)
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_loop())

    async def _publish_loop(self) -> None:
        while not self._outbox.empty():
            await self.bus.publish(self._outbox.get_nowait())

    async def append(self, events: list[Event]) -> list[AuditRecord]:
        """Append to the store (committed when this returns), then publish the records."""
        assert self.store is not None
        records = await self.store.append(events)
        self.publish([r.to_json() for r in records])
        return records

    async def ensure_ready(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            if self.store is None:
                store = self.config.open_store()
                await store.open()
                self.store = store
            await self.rebuild()
            self._ready = True
            if self._restarted():
                metrics().actor_restarts.inc(1, tags(self.config.name, actor=type(self).__name__))

    async def rebuild(self) -> None:
        raise NotImplementedError

    async def ready(self) -> dict[str, Any]:
        """Rebuild if needed; report who this is (pid, restarts) for the engine and the tests."""
        await self.ensure_ready()
        return {"pid": os.getpid(), "restarted": self._restarted(), "rebuilt_events": self.rebuilt_events}

    @staticmethod
    def _restarted() -> bool:
        import ray

        with warnings.catch_warnings():  # Ray 2.60 warns about its own use of a deprecated actor_id
            warnings.simplefilter("ignore", DeprecationWarning)
            return bool(ray.get_runtime_context().was_current_actor_reconstructed)

    async def ping(self) -> bool:
        await self.ensure_ready()
        return True


class PortfolioMirror(ActorBase):
    """An actor that keeps a Portfolio replayed from the log and fed by the order manager."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.multipliers = {s: i.multiplier for s, i in config.instrument_map().items()}
        self.book = Portfolio(0.0, self.multipliers)
        self.rebuilt_upto = 0
        self._seen: set[int] = set()

    async def rebuild(self) -> None:
        assert self.store is not None
        self.book = Portfolio(0.0, self.multipliers)
        records = await self.store.read(1, types=MIRROR_TYPES + self.extra_types())
        for r in records:
            self.apply_event(r.event)
        self.rebuilt_events = len(records)
        self.rebuilt_upto = (await self.store.head())[0]
        self._seen = set()
        marks = await self.store.load_snapshot(MARKS_SNAPSHOT)
        for sym, price in (marks[1]["marks"] if marks else {}).items():
            self.book.mark(sym, price)

    def extra_types(self) -> tuple[EventType, ...]:
        """Further event types the subclass replays in :meth:`apply_event`."""
        return ()

    def apply_event(self, event: Event) -> None:
        self.apply(event.type, event.payload)

    def apply(self, type_: EventType, payload: dict[str, Any]) -> None:
        """Apply one logged event (given by type and payload) to the mirror's state."""
        if type_ is EventType.FILL:
            fill = Fill.from_dict(payload["fill"])
            realized = self.book.apply_fill(fill)
            self.on_fill(fill, realized)
        elif type_ is EventType.CASH_CHANGED:
            self.book.deposit(float(payload["amount"]))
        elif type_ is EventType.SESSION_STARTED:
            for sym, price in payload["marks"].items():
                self.book.mark(sym, price)
            self.book.roll_day(date.fromisoformat(payload["day"]))

    def on_fill(self, fill: Fill, realized: float) -> None:
        """Hook for subclasses (compliance remembers loss sales)."""

    def _apply_new(self, notes: list[Note]) -> None:
        for seq, type_, payload in notes:
            if seq <= self.rebuilt_upto or seq in self._seen:
                continue
            self._seen.add(seq)
            self.apply(EventType(type_), payload)

    def apply_market(self, marks: dict[str, float], notes: list[Note]) -> None:
        """New committed events (fills, cash, session starts) in log order, then the latest marks
        (the mirror is ready: rebuilt from the log)."""
        self._apply_new(notes)
        for sym, price in marks.items():
            self.book.mark(sym, price)

    async def on_market(self, marks: dict[str, float], notes: list[Note]) -> None:
        await self.ensure_ready()
        self.apply_market(marks, notes)

    async def step(self, items: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """The order manager's ordered channel to this actor: each item ``("market", (marks,
        notes))`` applies committed events and marks (:meth:`on_market`), in call order."""
        out: list[Any] = []
        for kind, args in items:
            if kind != "market":
                raise DomainError(f"unknown step item kind {kind!r}: expected 'market'")
            await self.on_market(*args)
            out.append(None)
        return out

    async def resync(self) -> int:
        """Apply logged events this mirror has not seen (lost notifications); return how many."""
        await self.ensure_ready()
        assert self.store is not None
        before = len(self._seen)
        self._apply_new([note(r) for r in await self.store.read(self.rebuilt_upto + 1, types=MIRROR_TYPES)])
        return len(self._seen) - before


class GateFront:
    """The named actor in front of what the order manager's trading core holds (``RiskActor`` for
    the risk limits, ``ComplianceActor`` for the compliance rules): it holds no state, so killing
    or restarting it loses nothing; each call is answered by the order manager's gate, errors
    included (a domain error arrives as itself). While the order manager restarts, a call waits
    for it, up to ``FRONT_WAIT_S``, then fails with ClusterError."""

    role: ClassVar[str]

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._orders: Any = None

    async def call(self, method: str, *args: Any) -> Any:
        import ray

        deadline = time.monotonic() + FRONT_WAIT_S
        while True:
            try:
                if self._orders is None:
                    self._orders = ray.get_actor(self.config.actor_name("orders"))
                return await self._orders.gate_call.remote(self.role, method, *args)
            except ray.exceptions.RayTaskError as exc:
                raise exc.cause from None
            except (ValueError, ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"the order manager behind the {self.role} actor did not answer for "
                                       f"{FRONT_WAIT_S:g} s: {type(exc).__name__}") from None
                await asyncio.sleep(0.1)

    async def ready(self) -> dict[str, Any]:
        """The gate's rebuild report (in the order manager), with this front's own pid."""
        return {**await self.call("ready"), "pid": os.getpid(), "restarted": ActorBase._restarted()}

    async def ping(self) -> bool:
        return bool(await self.call("ping"))


class CallBatcher:
    """Coalesce concurrent calls to one actor method into batch calls.

    ``send(items)`` starts one remote call for a list of items and returns its ObjectRef, which
    resolves to one result per item, in order. While ``max_inflight`` batches are in flight, new
    calls queue and go together in the next one: under load a handful of Ray calls carry hundreds
    of requests, and with no load each call goes alone at once. With the default of one batch in
    flight, items reach the actor in call order and each batch is applied before the next is sent,
    so an actor that applies a batch in order sees calls in order; more in flight trades that order
    for latency (use it only where the items are independent).
    """

    def __init__(self, send: Any, max_batch: int = 256, max_inflight: int = 1) -> None:
        self._send = send
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0

    def submit(self, item: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        self._tasks = {t for t in self._tasks if not t.done()}  # a done task may not have left yet
        if len(self._tasks) < self.max_inflight:
            self._tasks.add(asyncio.create_task(self._run()))
        return fut

    async def _run(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # one more turn of the loop: callers woken together join this batch
            if not self._queue:
                return
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            self.batches += 1
            try:
                results = await self._send([item for item, _ in batch])
            except BaseException as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                        fut.exception()  # marked retrieved: a caller that gave up must not warn
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
