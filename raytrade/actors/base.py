"""What every engine actor shares: its store, lazy rebuild on (re)start, and the portfolio mirror.

Ray re-runs ``__init__`` when it restarts an actor, and ``__init__`` cannot await; so each actor
rebuilds its state from the event store on the first call after a start or restart
(:meth:`ActorBase.ensure_ready`), before it answers anything.

The portfolio, risk and compliance actors each hold a :class:`~raytrade.core.portfolio.Portfolio`
built from the same events (``fill`` and ``cash_changed``) by the same code. The order manager
tells them of new fills, session starts and marks after they are committed
(:meth:`PortfolioMirror.on_market`);
events are identified by sequence number, so an event both replayed at a restart and notified is
applied once, and :meth:`PortfolioMirror.resync` picks up events whose notification was lost when
the order manager died between commit and notification.

Marks (latest prices) are market data, not log events: the order manager saves them as the
``marks`` snapshot at most every :data:`~raytrade.actors.order_manager.MARKS_SAVE_S` seconds and at
each new session, and a restarted mirror starts from that snapshot until the next bar. The start of
each session is a ``session_started`` event carrying the marks at that moment, so the day's
starting equity (the base of the daily loss limit) is rebuilt exactly.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date
from typing import Any

from raytrade.actors.config import EngineConfig
from raytrade.core.enums import EventType
from raytrade.core.events import Event
from raytrade.core.orders import Fill
from raytrade.core.portfolio import Portfolio
from raytrade.storage import EventStore, RedisCache, store_from_url

MIRROR_TYPES = (EventType.FILL, EventType.CASH_CHANGED, EventType.SESSION_STARTED)
MARKS_SNAPSHOT = "marks"


class ActorBase:
    """Store handle and lazy rebuild. Subclasses implement :meth:`rebuild`."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.store: EventStore | None = None
        self.cache = RedisCache(config.resolved_redis_url(), prefix=f"raytrade:{config.name}:")
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self.started_at_pid = os.getpid()
        self.rebuilt_events = 0

    async def ensure_ready(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            if self.store is None:
                store = store_from_url(self.config.resolved_store_url(), schema=self.config.store_schema)
                await store.open()
                self.store = store
            await self.rebuild()
            self._ready = True

    async def rebuild(self) -> None:
        raise NotImplementedError

    async def ready(self) -> dict[str, Any]:
        """Rebuild if needed; report who this is (pid, restarts) for the engine and the tests."""
        await self.ensure_ready()
        import ray

        ctx = ray.get_runtime_context()
        return {"pid": os.getpid(), "restarted": ctx.was_current_actor_reconstructed,
                "rebuilt_events": self.rebuilt_events}

    async def ping(self) -> bool:
        await self.ensure_ready()
        return True


class PortfolioMirror(ActorBase):
    """An actor that keeps a Portfolio replayed from the log and fed by the order manager."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.book = Portfolio(0.0)
        self.rebuilt_upto = 0
        self._seen: set[int] = set()

    async def rebuild(self) -> None:
        assert self.store is not None
        self.book = Portfolio(0.0)
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
        if event.type is EventType.FILL:
            fill = Fill.from_dict(event.payload["fill"])
            realized = self.book.apply_fill(fill)
            self.on_fill(fill, realized)
        elif event.type is EventType.CASH_CHANGED:
            self.book.deposit(float(event.payload["amount"]))
        elif event.type is EventType.SESSION_STARTED:
            for sym, price in event.payload["marks"].items():
                self.book.mark(sym, price)
            self.book.roll_day(date.fromisoformat(event.payload["day"]))

    def on_fill(self, fill: Fill, realized: float) -> None:
        """Hook for subclasses (compliance remembers loss sales)."""

    def _apply_new(self, events: list[Event]) -> None:
        for e in events:
            seq = e.sequence
            assert seq is not None
            if seq <= self.rebuilt_upto or seq in self._seen:
                continue
            self._seen.add(seq)
            self.apply_event(e)

    async def on_market(self, marks: dict[str, float], events: list[Event]) -> None:
        """New committed events (fills, cash, session starts) in log order, then the latest marks."""
        await self.ensure_ready()
        self._apply_new(events)
        for sym, price in marks.items():
            self.book.mark(sym, price)

    async def resync(self) -> int:
        """Apply logged events this mirror has not seen (lost notifications); return how many."""
        await self.ensure_ready()
        assert self.store is not None
        before = len(self._seen)
        self._apply_new([r.event for r in await self.store.read(self.rebuilt_upto + 1, types=MIRROR_TYPES)])
        return len(self._seen) - before
