"""RedisCache and EventBus against a real Redis; fallback to memory and recovery against a Redis
server this test starts and stops itself."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from raytrade.storage import EventBus, RedisCache

REDIS_URL = "redis://127.0.0.1:6379/0"


def prefix() -> str:
    return f"rt_test_{uuid.uuid4().hex[:10]}:"


async def test_get_set_ttl_delete_flush_on_redis() -> None:
    c = RedisCache(REDIS_URL, prefix=prefix())
    try:
        await c.set("quote:AAPL", {"bid": 1.5, "ask": 1.6})
        await c.set("short", [1, 2], ttl_seconds=0.2)
        await c.set("other:x", 1)
        assert await c.get("quote:AAPL") == {"bid": 1.5, "ask": 1.6}
        assert await c.get_json("quote:AAPL") == b'{"bid": 1.5, "ask": 1.6}' and await c.get_json("none") is None
        assert c.backend == "redis" and not c.degraded
        await asyncio.sleep(0.35)
        assert await c.get("short") is None
        await c.delete("other:x")
        assert await c.get("other:x") is None
        await c.set("quote:MSFT", 2)
        assert await c.flush("quote:") == 2
        assert await c.get("quote:AAPL") is None
        assert await c.ping() > 0
    finally:
        await c.flush()
        await c.close()


async def test_in_process_cache_without_redis() -> None:
    c = RedisCache(None)
    await c.set("k", {"v": 1}, ttl_seconds=0.1)
    assert await c.get("k") == {"v": 1} and c.backend == "memory" and not c.degraded
    assert await c.get_json("k") == b'{"v": 1}'
    await asyncio.sleep(0.15)
    assert await c.get("k") is None
    with pytest.raises(ConnectionError, match="no Redis configured"):
        await c.ping()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis() -> Iterator[tuple[int, list[subprocess.Popen]]]:
    port = free_port()
    procs: list[subprocess.Popen] = []
    yield port, procs
    for p in procs:
        p.kill()
        p.wait()


def start_redis(port: int, procs: list[subprocess.Popen]) -> subprocess.Popen:
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return p
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


async def test_redis_down_falls_back_and_comes_back_by_itself(own_redis: tuple[int, list[subprocess.Popen]]) -> None:
    port, procs = own_redis
    server = start_redis(port, procs)
    c = RedisCache(f"redis://127.0.0.1:{port}/0", prefix=prefix(), retry_s=0.2)
    await c.set("a", 1)
    assert c.backend == "redis"
    server.kill()
    server.wait()
    await c.set("b", 2)                      # Redis gone: served in process, nothing raised
    assert c.degraded and c.backend == "memory" and c.fallbacks >= 1
    assert await c.get("b") == 2
    start_redis(port, procs)
    await asyncio.sleep(0.3)
    await c.set("c", 3)                      # retried after retry_s: back on Redis
    assert not c.degraded and c.backend == "redis"
    assert await c.get("c") == 3
    await c.close()


async def test_event_bus_fans_out_through_redis() -> None:
    p = prefix()
    publisher, listener = RedisCache(REDIS_URL, prefix=p), RedisCache(REDIS_URL, prefix=p)
    bus_out, bus_in = EventBus(publisher), EventBus(listener)
    got: list[dict] = []

    async def listen() -> None:
        async for msg in bus_in.subscribe():
            got.append(msg)
            if len(got) == 3:
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    for i in range(3):
        await bus_out.publish({"sequence": i + 1, "type": "fill"})
    await asyncio.wait_for(task, 5)
    assert [m["sequence"] for m in got] == [1, 2, 3]
    await publisher.close()
    await listener.close()


async def test_event_bus_without_redis_delivers_in_process() -> None:
    bus = EventBus(RedisCache(None))
    it = bus.subscribe()
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0)
    await bus.publish({"sequence": 1})
    assert (await asyncio.wait_for(first, 2)) == {"sequence": 1}
    await it.aclose()
