"""The WebSocket /ws with a real client (the `websockets` package), fed through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from raytrade.serve import Role
from tests.serve.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def ws_url(api: Api, role: Role | None = Role.VIEWER, **params: str) -> str:
    query = {"token": api.tokens[role][0]} if role else {}
    query.update(params)
    return api.base.replace("http://", "ws://") + "/ws?" + "&".join(f"{k}={v}" for k, v in query.items())


async def receive_until(ws: Any, wanted: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len([m for m in got if m["type"] not in ("heartbeat", "subscribed")]) < wanted:
            got.append(json.loads(await ws.recv()))
    return got


def test_events_of_a_filled_order_arrive_in_order(api: Api) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(api, events="order_update,trade_update,position_update",
                                             symbols="KO")) as ws:
            first = json.loads(await ws.recv())
            assert first == {"type": "subscribed", "events": ["order_update", "position_update", "trade_update"],
                             "symbols": ["KO"], "seq": 1}
            await asyncio.sleep(0.3)  # the replica's bus subscription is live
            r = await asyncio.to_thread(api, "POST", "/api/orders", Role.TRADER,
                                        json={"symbol": "KO", "side": "buy", "quantity": 3, "client_order_id": "ws-1"})
            assert r.status_code == 201
            await asyncio.to_thread(api, "POST", "/api/orders", Role.TRADER,
                                    json={"symbol": "JPM", "side": "buy", "quantity": 1})  # filtered out
            return await receive_until(ws, 3)

    msgs = [m for m in asyncio.run(scenario()) if m["type"] != "heartbeat"]
    events = [m for m in msgs if m["type"] != "subscribed"]
    assert [m["type"] for m in events[:3]] == ["order_update", "trade_update", "position_update"]
    assert events[0]["data"]["type"] == "order_accepted" and events[0]["data"]["payload"]["order"]["client_order_id"] == "ws-1"
    assert events[1]["data"]["payload"]["fill"]["quantity"] == 3.0
    assert events[2]["data"]["position"]["symbol"] == "KO"
    assert events[0]["sequence"] < events[1]["sequence"] <= events[2]["sequence"]
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the connection's own counter has no gaps


def test_heartbeats_and_authentication(api: Api) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], int, int, int]:
        async with websockets.connect(ws_url(api)) as ws:
            msgs = [json.loads(await ws.recv()) for _ in range(3)]
        codes = []
        for url in (ws_url(api, None), ws_url(api, None, token="rtk_000000000000.not-a-real-secret-at-all"),
                    ws_url(api, events="nonsense")):
            async with websockets.connect(url) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                codes.append(closed.value.rcvd.code)
        return msgs, *codes

    msgs, no_key, bad_key, bad_filter = asyncio.run(scenario())
    assert [m["type"] for m in msgs] == ["subscribed", "heartbeat", "heartbeat"]
    assert (no_key, bad_key, bad_filter) == (4401, 4401, 4400)


def test_a_slow_client_is_closed_not_buffered(api: Api) -> None:
    from raytrade.storage import EventBus, RedisCache
    from tests.serve.conftest import REDIS_URL

    async def scenario() -> int:
        async with websockets.connect(ws_url(api, events="order_update", symbols="AAPL"), max_queue=1) as ws:
            await ws.recv()
            await asyncio.sleep(0.3)
            # A burst on the bus (what the engine publishes) much faster than one client takes it;
            # the client reads nothing meanwhile. Its queue holds 20 in this deployment.
            cache = RedisCache(REDIS_URL, prefix=f"raytrade:{api.cfg.name}:")
            bus = EventBus(cache)
            for i in range(2000):
                await bus.publish({"type": "order_accepted", "sequence": 10**6 + i,
                                   "payload": {"order": {"symbol": "AAPL", "client_order_id": f"burst-{i}"}}})
            await cache.close()
            try:
                async with asyncio.timeout(30):
                    while True:
                        await ws.recv()
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else -1
        return 0

    assert asyncio.run(scenario()) == 4008


def test_without_redis_events_come_from_the_store_tail(api: Api, tmp_path: Any) -> None:
    import uuid

    import ray
    from ray import serve

    from raytrade.actors import EngineConfig, TradingEngine
    from raytrade.serve import ApiConfig, build
    from tests.serve.conftest import OPEN, make_key

    cfg = EngineConfig(redis_url=None, name=f"laptop{uuid.uuid4().hex[:6]}", equities=("KO",), clock="market",
                       store_url=f"sqlite:///{tmp_path / 'events.sqlite'}", broker={"participation_rate": None},
                       risk={"max_symbol_weight": 0.5})
    engine = TradingEngine(cfg)
    engine.start()
    try:
        ray.get(engine.orders.on_bars.remote([{"symbol": "KO", "timestamp": OPEN.isoformat(), "open": 50.0,
                                               "high": 50.0, "low": 50.0, "close": 50.0, "volume": 1e6}]))
        serve.run(build(ApiConfig(engine=cfg)), name="laptop", route_prefix="/laptop")
        token, _ = make_key(cfg, Role.TRADER)
        base = api.base + "/laptop"

        async def scenario() -> list[dict[str, Any]]:
            url = base.replace("http://", "ws://") + f"/ws?token={token}&events=order_update,trade_update,position_update"
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "subscribed"
                await asyncio.sleep(0.5)
                import httpx

                async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                    r = await c.post("/api/orders", json={"symbol": "KO", "side": "buy", "quantity": 2})
                    assert r.status_code == 201, r.text
                return await receive_until(ws, 3)

        events = [m for m in asyncio.run(scenario()) if m["type"] not in ("heartbeat", "subscribed")]
        assert [m["type"] for m in events[:3]] == ["order_update", "trade_update", "position_update"]
    finally:
        serve.delete("laptop")
        engine.shutdown()


def test_a_redis_cut_under_a_subscribed_client_loses_no_event(api: Api, tmp_path: Any) -> None:
    """Redis (behind a proxy this test owns) is refused while a client is subscribed, then comes
    back: the client gets every order's update, before, during and after, each once, in order."""
    import uuid

    import httpx
    import ray
    from ray import serve

    from raytrade.actors import EngineConfig, TradingEngine
    from raytrade.serve import ApiConfig, build
    from tests.faults import FaultProxy
    from tests.serve.conftest import OPEN, make_key

    proxy = FaultProxy("127.0.0.1", 6379)
    cfg = EngineConfig(redis_url=f"redis://127.0.0.1:{proxy.port}/0", name=f"cut{uuid.uuid4().hex[:6]}",
                       equities=("KO",), clock="market", store_url=f"sqlite:///{tmp_path / 'events.sqlite'}",
                       broker={"participation_rate": None}, risk={"max_symbol_weight": 0.5})
    engine = TradingEngine(cfg)
    engine.start()
    try:
        ray.get(engine.orders.on_bars.remote([{"symbol": "KO", "timestamp": OPEN.isoformat(), "open": 50.0,
                                               "high": 50.0, "low": 50.0, "close": 50.0, "volume": 1e6}]))
        serve.run(build(ApiConfig(engine=cfg, ws_heartbeat_s=0.5)), name="cut", route_prefix="/cut")
        token, _ = make_key(cfg, Role.TRADER)
        base = api.base + "/cut"

        async def scenario() -> list[dict[str, Any]]:
            url = base.replace("http://", "ws://") + f"/ws?token={token}&events=order_update"
            async with websockets.connect(url) as ws, httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
                assert json.loads(await ws.recv())["type"] == "subscribed"
                await asyncio.sleep(0.5)
                got: list[dict[str, Any]] = []

                async def order(cid: str) -> None:
                    r = await c.post("/api/orders", json={"symbol": "KO", "side": "buy", "quantity": 1,
                                                          "client_order_id": cid})
                    assert r.status_code == 201, r.text

                await order("before")
                got += await receive_until(ws, 1)
                await asyncio.to_thread(proxy.set, "refuse")
                for i in range(3):
                    await order(f"during-{i}")
                got += await receive_until(ws, 3, timeout=30)
                await asyncio.to_thread(proxy.set, "pass")
                await asyncio.sleep(3.0)          # the feed is back on Redis by now
                await order("after")
                got += await receive_until(ws, 1, timeout=30)
                return got

        events = [m for m in asyncio.run(scenario()) if m["type"] == "order_update"]
        cids = [m["data"]["payload"]["order"]["client_order_id"] for m in events]
        assert cids == ["before", "during-0", "during-1", "during-2", "after"]
        assert [m["sequence"] for m in events] == sorted({m["sequence"] for m in events})
    finally:
        proxy.set("pass")
        serve.delete("cut")
        engine.shutdown()
        proxy.close()
