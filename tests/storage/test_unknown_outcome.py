"""Appends whose outcome the network hides, against the real PostgreSQL through a fault proxy.

The faults are those a real link produces: the commit reaches the server and its reply is lost;
the link freezes with the INSERT still in it and thaws after the client gave up; the server stays
out of reach longer than the store waits. In every case the log holds each record once, the chain
verifies, and the store never says "nothing written" about rows that are there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from raytrade.core.enums import EventType
from raytrade.core.errors import StoreOutcomeUnknownError, StoreUnavailableError
from raytrade.core.events import Event
from raytrade.storage.postgres import PostgresEventStore
from tests.faults import FaultProxy
from tests.storage.conftest import PG_URL, pg_schema

pytestmark = [pytest.mark.integration]


def ev(i: int) -> Event:
    return Event(EventType.CASH_CHANGED, "test", f"deposit {i}", {"amount": float(i)})


@pytest.fixture
async def pair() -> AsyncIterator[tuple[FaultProxy, PostgresEventStore, PostgresEventStore]]:
    """A store behind the proxy (1 s timeouts) and a direct one on the same schema (the truth)."""
    proxy = FaultProxy("127.0.0.1", 5432)
    schema = pg_schema()
    via = PostgresEventStore(PG_URL.replace(":5432", f":{proxy.port}"), schema=schema, timeout_s=1.0,
                             resolve_timeout_s=20.0)
    direct = PostgresEventStore(PG_URL, schema=schema)
    await via.open()
    await direct.open()
    yield proxy, via, direct
    proxy.set("pass")
    await via.close()
    proxy.close()
    await direct.drop_schema()
    await direct.close()


async def until(predicate_coro, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await predicate_coro():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_commit_whose_reply_is_lost_is_reported_committed_once(pair) -> None:  # type: ignore[no-untyped-def]
    proxy, via, direct = pair
    await via.append([ev(0)])
    proxy.set("drop_replies")
    task = asyncio.create_task(via.append([ev(1), ev(2)]))

    async def committed() -> bool:
        return (await direct.head())[0] == 3

    await until(committed)            # the INSERT reached PostgreSQL and committed; its reply is lost
    await asyncio.sleep(1.5)          # past the command timeout: the store is resolving
    assert not task.done()            # nobody was told anything yet
    proxy.set("pass")
    records = await task
    assert [r.sequence for r in records] == [2, 3]
    log = await direct.read()
    assert [r.event.reason for r in log] == ["deposit 0", "deposit 1", "deposit 2"]
    assert (await direct.verify()).ok
    assert via.resolved_unknown == 1
    assert [r.sequence for r in await via.append([ev(3)])] == [4]


async def test_an_insert_frozen_in_the_link_lands_once_when_it_thaws(pair) -> None:  # type: ignore[no-untyped-def]
    proxy, via, direct = pair
    await via.append([ev(0)])
    proxy.set("freeze")
    task = asyncio.create_task(via.append([ev(1), ev(2)]))
    await asyncio.sleep(1.5)          # the client timed out with its INSERT still in the link
    assert (await direct.head())[0] == 1
    proxy.set("pass")                 # the old INSERT and the resend both reach the server now
    records = await task
    assert [r.sequence for r in records] == [2, 3]
    await asyncio.sleep(0.5)          # anything still in flight has landed or failed by now
    log = await direct.read()
    assert [r.event.reason for r in log] == ["deposit 0", "deposit 1", "deposit 2"]
    assert (await direct.verify()).ok


async def test_an_outage_past_the_deadline_is_unknown_never_nothing_written(pair) -> None:  # type: ignore[no-untyped-def]
    proxy, via, direct = pair
    via.resolve_timeout_s = 2.0
    await via.append([ev(0)])
    proxy.set("drop_replies")
    with pytest.raises(StoreOutcomeUnknownError) as info:
        await via.append([ev(1)])
    assert not isinstance(info.value, StoreUnavailableError)
    assert "may or may not be committed" in str(info.value)
    assert (await direct.head())[0] == 2    # it was committed: "nothing written" would have lied
    proxy.set("pass")
    assert [r.sequence for r in await via.append([ev(2)])] == [3]   # chained after the true head
    assert (await direct.verify()).ok


async def test_a_refused_connection_is_nothing_written(pair) -> None:  # type: ignore[no-untyped-def]
    proxy, via, direct = pair
    await via.append([ev(0)])
    proxy.set("refuse")
    await asyncio.sleep(0.1)              # the pool's connection is closed by now
    with pytest.raises(StoreUnavailableError):
        await via.append([ev(1)])
    assert (await direct.head())[0] == 1
    proxy.set("pass")
    assert [r.sequence for r in await via.append([ev(1)])] == [2]
    assert (await direct.verify()).ok
