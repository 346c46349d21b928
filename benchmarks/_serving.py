"""Shared by the API benchmarks: an engine and the API on a fresh local Ray instance."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_api(redis_url: str | None, signals_app: str | None = None,
                port: int | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, {"viewer": token, "trader": token}) of an API over an engine trading AAPL, KO and
    JPM at 100 (SQLite store in a temporary folder; limits out of the way); the Ray instance is
    started here with 2 CPUs if none is. ``signals_app`` names a running SignalModel app. When
    Serve is already running, pass the HTTP ``port`` it was started with (a second
    ``serve.start`` cannot move it)."""
    import ray
    from ray import serve

    from raytrade import cluster
    from raytrade.actors import EngineConfig, TradingEngine
    from raytrade.serve import ApiConfig, Role, build, new_key
    from raytrade.storage import store_from_url

    cluster.connect(num_cpus=2)
    folder = Path(tempfile.mkdtemp())
    cfg = EngineConfig(name=f"load{uuid.uuid4().hex[:6]}", equities=("AAPL", "KO", "JPM"), clock="market",
                       store_url=f"sqlite:///{folder / 'events.sqlite'}", redis_url=redis_url,
                       broker={"participation_rate": None}, initial_cash=1e9,
                       risk={"max_orders_per_second": 1e6, "max_symbol_weight": 1, "max_sector_weight": 1})
    engine = TradingEngine(cfg)
    engine.start()
    now = datetime(2024, 3, 4, 15, 0, tzinfo=UTC).isoformat()
    ray.get(engine.orders.on_bars.remote([{"symbol": s, "timestamp": now, "open": 100.0, "high": 100.0, "low": 100.0,
                                           "close": 100.0, "volume": 1e9} for s in ("AAPL", "KO", "JPM")]))
    tokens: dict[str, str] = {}

    async def keys() -> None:
        async with store_from_url(cfg.store_url) as store:
            for role in (Role.VIEWER, Role.TRADER):
                token, event = new_key(f"load-{role.name.lower()}", role, "benchmark")
                await store.append([event])
                tokens[role.name.lower()] = token

    asyncio.run(keys())
    port = port or free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build(ApiConfig(engine=cfg, rate_per_s=1e6, burst=10**6, ws_queue=10_000, signals_app=signals_app)),
              name="load", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        serve.delete("load")
        engine.shutdown(clear_cache=True)
