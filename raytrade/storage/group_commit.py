"""Group commit: many concurrent appenders, one transaction per batch.

Each caller of :meth:`GroupCommitter.append` waits until the transaction holding its events has
committed, then gets its own records back. When the store cannot be reached, or the outcome of the
commit is unknown, every caller of the batch gets that error. When the database refuses the batch
for what it holds (a record it cannot store), nothing of it was written, and each caller's events
are tried again on their own: only the caller whose record was refused fails, never its
neighbours. Under load the batch grows by itself (while one commit waits for the
disk the next callers queue up), which is what keeps the commit rate, not the order rate, the
limit. Callers' events stay contiguous and in call order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from raytrade.core.errors import StoreOutcomeUnknownError, StoreUnavailableError
from raytrade.core.events import Event
from raytrade.storage.base import AuditRecord, EventStore


class GroupCommitter:
    def __init__(self, store: EventStore, *, max_batch: int = 512) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[Sequence[Event], asyncio.Future[list[AuditRecord]]]] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

    async def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        """Append ``events`` in the next batch; return once it is committed."""
        if not events:
            return []
        fut: asyncio.Future[list[AuditRecord]] = asyncio.get_running_loop().create_future()
        self._queue.append((events, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flusher())
        return await fut

    async def _flusher(self) -> None:
        while self._queue:
            batch: list[tuple[Sequence[Event], asyncio.Future[list[AuditRecord]]]] = []
            n = 0
            while self._queue and (not batch or n + len(self._queue[0][0]) <= self.max_batch):
                item = self._queue.pop(0)
                batch.append(item)
                n += len(item[0])
            flat = [e for events, _ in batch for e in events]
            try:
                records = await self.store.append(flat)
            except (StoreUnavailableError, StoreOutcomeUnknownError) as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            except Exception as exc:
                if len(batch) == 1:
                    if not batch[0][1].done():
                        batch[0][1].set_exception(exc)
                    continue
                await self._one_by_one(batch)
                continue
            self.commits += 1
            i = 0
            for events, fut in batch:
                if not fut.done():
                    fut.set_result(records[i:i + len(events)])
                i += len(events)

    async def _one_by_one(self, batch: list[tuple[Sequence[Event], asyncio.Future[list[AuditRecord]]]]) -> None:
        """Each caller's events in a commit of their own, in call order (a refused batch)."""
        for events, fut in batch:
            try:
                records = await self.store.append(events)
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
                continue
            self.commits += 1
            if not fut.done():
                fut.set_result(records)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
