"""A running engine and REST API (Serve, real HTTP) shared by the API tests of this folder."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from raytrade.actors import EngineConfig, TradingEngine
from raytrade.serve import ApiConfig, Role, build, new_key
from raytrade.storage import store_from_url

OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _append(cfg: EngineConfig, events: list[Any]) -> None:
    async with store_from_url(cfg.store_url, schema=cfg.store_schema) as store:
        await store.append(events)


def make_key(cfg: EngineConfig, role: Role, rate_per_s: float | None = None) -> tuple[str, str]:
    token, event = new_key(f"test-{role.name.lower()}", role, "test", rate_per_s=rate_per_s)
    asyncio.run(_append(cfg, [event]))
    return token, event.payload["key_id"]


class Api:
    def __init__(self, base: str, engine: TradingEngine, cfg: EngineConfig) -> None:
        self.base, self.engine, self.cfg = base, engine, cfg
        self.client = httpx.Client(base_url=base, timeout=30)
        self.tokens = {role: make_key(cfg, role) for role in Role}

    def __call__(self, method: str, path: str, role: Role | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role][0]}"
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture(scope="package")
def api(ray_session: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One engine (SQLite store, real Redis for the event bus) and its API, for the whole folder."""
    from ray import serve

    folder: Path = tmp_path_factory.mktemp("api")
    cfg = EngineConfig(name=f"api{uuid.uuid4().hex[:8]}", equities=("AAPL", "KO", "JPM"), clock="market",
                       store_url=f"sqlite:///{folder / 'events.sqlite'}", broker={"participation_rate": None},
                       redis_url=REDIS_URL,
                       risk={"max_symbol_weight": 0.2, "max_orders_per_second": 1000})
    engine = TradingEngine(cfg)
    engine.start()
    ray.get(engine.orders.on_bars.remote([
        {"symbol": s, "timestamp": OPEN.isoformat(), "open": p, "high": p, "low": p, "close": p, "volume": 1e6}
        for s, p in (("AAPL", 100.0), ("KO", 50.0), ("JPM", 80.0))]))
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build(ApiConfig(engine=cfg, rate_per_s=5, burst=30, ws_heartbeat_s=0.5, ws_queue=20)),
              name="api-test", route_prefix="/")
    a = Api(f"http://127.0.0.1:{port}", engine, cfg)
    yield a
    a.client.close()
    serve.shutdown()
    engine.shutdown(clear_cache=True)


