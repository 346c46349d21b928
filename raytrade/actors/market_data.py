"""MarketDataActor: feeds the engine prices from a :class:`~raytrade.data.feeds.BarFeed`.

Each moment's bars go to the order manager (``on_bars``: marks, resting orders fill, the session
clock moves) and, as quotes, to the cache (``quote:<SYMBOL>``: Redis when configured, in-process
otherwise), ``bars_per_second`` moments per second of wall time. The actor holds no state of its
own: after a restart it asks the order manager for the market time it last saw and continues with
the first moment after it, so time never runs backwards in the log.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from raytrade.actors.config import EngineConfig
from raytrade.data.feeds import open_feed

QUOTE_TTL_S = 60.0


class MarketDataActor:
    def __init__(self, config: EngineConfig) -> None:
        from raytrade.storage import RedisCache

        if config.market_data is None:
            raise ValueError("the engine config has no market_data")
        self.config = config
        self.feed_config = config.market_data
        self.cache = RedisCache(config.resolved_redis_url(), prefix=f"raytrade:{config.name}:")
        self.sent = 0
        self.exhausted = False
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._start: asyncio.Future[None] | None = None
        self._orders: Any = None
        self._feed: Any = None
        import ray

        # Ray re-runs __init__ after a restart and nobody else calls ready() then: start ourselves
        # (the call runs once __init__ has returned).
        ray.get_runtime_context().current_actor.ready.remote()

    async def ready(self) -> dict[str, Any]:
        """Start the feed (once per process; concurrent callers share the start); report it."""
        import os

        if self._start is None:
            self._start = asyncio.ensure_future(self._begin())
        await asyncio.shield(self._start)
        return {"pid": os.getpid(), "restarted": False, "rebuilt_events": 0, **self.status()}

    async def _begin(self) -> None:
        feed = open_feed(self.feed_config, list(self.config.instrument_map()))
        self._orders = self._orders_handle()
        stats = await self._orders.stats.remote()
        feed.seek(_parse(stats.get("market_now")))
        self._feed = feed
        self._task = asyncio.create_task(self._run(feed))

    async def history(self, symbols: list[str], n: int) -> dict[str, list[tuple[str, float]]]:
        """The last ``n`` moments sent, per symbol: (ISO time, close), oldest first (what a
        strategy runner warms up on)."""
        await self.ready()
        return self._feed.history(symbols, n) if self._feed is not None else {}

    async def ping(self) -> bool:
        return self.error is None

    def status(self) -> dict[str, Any]:
        return {"sent": self.sent, "exhausted": self.exhausted, "error": self.error,
                "bars_per_second": self.feed_config.bars_per_second, "source": self.feed_config.source}

    def _orders_handle(self) -> Any:
        import ray

        return ray.get_actor(self.config.actor_name("orders"))

    async def _run(self, feed: Any) -> None:
        pace = self.feed_config.bars_per_second
        started, n = time.monotonic(), 0
        while True:
            bars = feed.next_bars()
            if not bars:
                self.exhausted = True
                print(f"raytrade market data {self.config.name}: the {self.feed_config.source} data is exhausted "
                      f"after {self.sent} moments; the last marks stay", file=sys.stderr, flush=True)
                return
            payload = [{"symbol": b.symbol, "timestamp": b.timestamp.isoformat(), "open": b.open, "high": b.high,
                        "low": b.low, "close": b.close, "volume": b.volume} for b in bars]
            while True:
                try:
                    await self._orders.on_bars.remote(payload)
                    break
                except Exception as exc:  # the order manager restarting, or its store down: wait, resend
                    self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    await asyncio.sleep(0.5)
                    self._orders = self._orders_handle()
            self.error = None
            self.sent += 1
            for b in bars:
                await self.cache.set(f"quote:{b.symbol}", {"symbol": b.symbol, "price": b.close,
                                                           "timestamp": b.timestamp.isoformat()}, QUOTE_TTL_S)
            n += 1
            if pace > 0:
                delay = n / pace - (time.monotonic() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)


def _parse(text: str | None) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text) if text else None
