"""CallBatcher (coalescing calls to an actor method) with a plain coroutine standing in for the
remote call: what goes in each batch, in what order, and when."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from raytrade.actors.base import CallBatcher


class Recorder:
    """A batch "actor method": records each batch, answers after ``delay_s``."""

    def __init__(self, delay_s: float = 0.01, fail_on: Any = None) -> None:
        self.batches: list[list[Any]] = []
        self.active = 0
        self.max_active = 0
        self.delay_s = delay_s
        self.fail_on = fail_on

    async def send(self, items: list[Any]) -> list[Any]:
        self.batches.append(list(items))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail_on in items:
                raise RuntimeError(f"batch with {self.fail_on!r} failed")
            return [f"done:{i}" for i in items]
        finally:
            self.active -= 1


async def test_calls_made_while_a_batch_is_in_flight_go_together_in_order() -> None:
    rec = Recorder()
    b = CallBatcher(rec.send)
    first = b.submit(0)
    await asyncio.sleep(0.002)  # the first batch is in flight
    rest = [b.submit(i) for i in range(1, 6)]
    assert await asyncio.gather(first, *rest) == [f"done:{i}" for i in range(6)]
    assert rec.batches == [[0], [1, 2, 3, 4, 5]] and rec.max_active == 1 and b.batches == 2


async def test_max_batch_splits_and_max_inflight_overlaps() -> None:
    rec = Recorder()
    b = CallBatcher(rec.send, max_batch=3, max_inflight=2)
    futs = [b.submit(i) for i in range(7)]
    assert await asyncio.gather(*futs) == [f"done:{i}" for i in range(7)]
    assert [x for batch in rec.batches for x in batch] == list(range(7))
    assert all(len(batch) <= 3 for batch in rec.batches) and rec.max_active == 2


async def test_a_submit_right_after_a_batch_finished_is_still_sent() -> None:
    """Regression: a finished task that had not yet left the in-flight set swallowed the next item."""
    rec = Recorder(delay_s=0.0)
    b = CallBatcher(rec.send, max_inflight=2)
    for i in range(50):
        assert await asyncio.wait_for(b.submit(i), 1.0) == f"done:{i}"


async def test_a_failed_batch_fails_its_callers_only() -> None:
    rec = Recorder(fail_on=1)
    b = CallBatcher(rec.send)
    first = b.submit(0)
    await asyncio.sleep(0.002)
    bad, also_bad = b.submit(1), b.submit(2)
    await asyncio.sleep(0.002)
    assert await first == "done:0"
    for fut in (bad, also_bad):
        with pytest.raises(RuntimeError, match="failed"):
            await fut
    assert await b.submit(3) == "done:3"
