"""Redis as a cache and an event bus, never as a source of truth.

:class:`RedisCache` (``RAYTRADE_REDIS_URL``): get/set with TTL, delete, flush by prefix, over one
connection pool; values are JSON. Every key lives under ``prefix`` so several engines (or test
runs) share one Redis. When Redis cannot be reached the cache falls back to an in-process dict
(same API, same TTLs), logs one line, counts the fallback and keeps working; it tries Redis again
every ``retry_s`` seconds and logs when Redis is back. Nothing is lost: what the cache holds is
derived from the event store.

:class:`EventBus` publishes engine events (JSON) on ``<prefix>events`` for the API's WebSocket
fan-out; with Redis down it still delivers to subscribers in the same process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("raytrade.cache")
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class RedisCache:
    """Cache with Redis when reachable, in-process otherwise (``url=None``: in-process only)."""

    def __init__(self, url: str | None, *, prefix: str = "raytrade:", retry_s: float = 5.0,
                 timeout_s: float = 0.5) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_s = retry_s
        self._redis: aioredis.Redis | None = (
            aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                    max_connections=32) if url else None)
        self._memory: dict[str, tuple[str, float | None]] = {}
        self._down_since: float | None = None
        self.fallbacks = 0  # operations served in-process because Redis was down

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None and self._down_since is None else "memory"

    @property
    def degraded(self) -> bool:
        """True while a configured Redis is unreachable."""
        return self._down_since is not None

    def status(self) -> dict[str, Any]:
        return {"backend": self.backend, "configured": self._redis is not None, "degraded": self.degraded,
                "fallbacks": self.fallbacks}

    def pubsub(self) -> Any:
        """A new pub/sub of the Redis client (the caller subscribes, reads and closes it)."""
        if self._redis is None:
            raise RuntimeError("no Redis is configured")
        return self._redis.pubsub()

    def _use_redis(self) -> bool:
        if self._redis is None:
            return False
        return self._down_since is None or time.monotonic() - self._down_since >= self.retry_s

    def _went_down(self, exc: BaseException) -> None:
        self.fallbacks += 1
        if self._down_since is None:
            log.warning("Redis unreachable (%s): cache falls back to in-process memory", type(exc).__name__)
        self._down_since = time.monotonic()

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.warning("Redis reachable again: cache back on Redis")
            self._down_since = None

    async def _call(self, op: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """(True, result) from Redis, or (False, None) when it is down (and the fallback applies)."""
        if not self._use_redis():
            if self._redis is not None:  # configured but down; with no Redis at all nothing falls back
                self.fallbacks += 1
            return False, None
        assert self._redis is not None
        try:
            result = await getattr(self._redis, op)(*args, **kwargs)
        except _DOWN as exc:
            self._went_down(exc)
            return False, None
        self._came_back()
        return True, result

    async def get(self, key: str) -> Any | None:
        raw = await self.get_json(key)
        return None if raw is None else json.loads(raw)

    async def get_json(self, key: str) -> bytes | None:
        """The stored JSON text, not parsed (what an HTTP answer can send as it is)."""
        k = self.prefix + key
        ok, raw = await self._call("get", k)
        if not ok:
            item = self._memory.get(k)
            if item is None or (item[1] is not None and item[1] <= time.monotonic()):
                self._memory.pop(k, None)
                return None
            raw = item[0]
        return raw.encode() if isinstance(raw, str) else raw

    async def set(self, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable) for ``ttl_seconds`` (None: until deleted)."""
        k, raw = self.prefix + key, json.dumps(value, allow_nan=False)
        ms = None if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        ok, _ = await self._call("set", k, raw, px=ms)
        if not ok:
            self._memory[k] = (raw, None if ttl_seconds is None else time.monotonic() + ttl_seconds)

    async def delete(self, key: str) -> None:
        k = self.prefix + key
        await self._call("delete", k)
        self._memory.pop(k, None)

    async def flush(self, prefix: str = "") -> int:
        """Delete every key under ``self.prefix + prefix``; return how many were removed."""
        pattern = self.prefix + prefix
        n = sum(1 for k in list(self._memory) if k.startswith(pattern))
        self._memory = {k: v for k, v in self._memory.items() if not k.startswith(pattern)}
        if self._use_redis():
            assert self._redis is not None
            try:
                keys = [k async for k in self._redis.scan_iter(match=_glob_escape(pattern) + "*", count=500)]
                if keys:
                    n += await self._redis.delete(*keys)
                self._came_back()
            except _DOWN as exc:
                self._went_down(exc)
        return n

    async def ping(self) -> float:
        """Round trip to Redis in seconds; raises ConnectionError when it is down or not configured."""
        if self._redis is None:
            raise ConnectionError("no Redis configured (RAYTRADE_REDIS_URL)")
        t = time.perf_counter()
        try:
            await self._redis.ping()
        except _DOWN as exc:
            self._went_down(exc)
            raise ConnectionError(f"Redis unreachable: {type(exc).__name__}") from None
        self._came_back()
        return time.perf_counter() - t

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class EventBus:
    """Publish engine events to Redis pub/sub; subscribe to them (all replicas see every event)."""

    def __init__(self, cache: RedisCache, channel: str = "events") -> None:
        self.cache = cache
        self.channel = cache.prefix + channel
        self._local: list[asyncio.Queue[dict[str, Any]]] = []

    async def publish(self, message: dict[str, Any]) -> int:
        """Send ``message``; return how many Redis subscribers got it (local ones always do)."""
        raw = json.dumps(message, allow_nan=False)
        ok, receivers = await self.cache._call("publish", self.channel, raw)
        if not ok:
            for q in self._local:
                q.put_nowait(message)
        return int(receivers or 0)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Messages as they come (Redis when configured, else this process's publishes)."""
        redis = self.cache._redis
        if redis is None:
            q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self._local.append(q)
            try:
                while True:
                    yield await q.get()
            finally:
                self._local.remove(q)
            return
        pubsub = redis.pubsub()
        await pubsub.subscribe(self.channel)
        try:
            async for msg in pubsub.listen():
                if msg.get("type") == "message":
                    yield json.loads(msg["data"])
        finally:
            await pubsub.unsubscribe(self.channel)
            await pubsub.aclose()
